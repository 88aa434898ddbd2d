"""Meetings over the wire: scheduling, the agenda members lead, replies and needs, the live
meeting in the group's room, attendance, outcomes and actions, and the minutes' lock."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.domain import privacy
from server.storage.engine import write_sync
from tests.harness import Client, Running, connect

ROOM = "north"
HOUR = 3_600_000
DAY = 24 * HOUR


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
async def people(server: Running) -> AsyncIterator[dict[str, Client]]:
    """north: cora (chair), fay (facilitator), bob and dan (members); south has sid (chair);
    carol is in no group. Each is connected and has joined their room."""
    server.member(ROOM, "cora@cfn.example", "chair")
    server.member(ROOM, "fay@cfn.example", "facilitator")
    server.member(ROOM, "bob@cfn.example")
    server.member(ROOM, "dan@cfn.example")
    server.member("south", "sid@cfn.example", "chair")
    server.user("carol@cfn.example")
    found: dict[str, Client] = {}
    for name in ("cora", "fay", "bob", "dan", "sid", "carol"):
        found[name] = await connect(server, server.token(f"{name}@cfn.example"))
    for name in ("cora", "fay", "bob", "dan"):
        await found[name].call("join", room=ROOM)
    await found["sid"].call("join", room="south")
    yield found
    for c in found.values():
        await c.close()


async def schedule(chair: Client, room: str = ROOM, **extra: Any) -> int:
    made = await chair.call(
        "meeting.create",
        room=room,
        title="Autumn meeting",
        starts_at=now_ms() + 3 * DAY,
        mode="hybrid",
        place="Thirsk community hall",
        step_free=True,
        hearing_loop=True,
        join_online="https://meet.example/north",
        join_phone="0800 000 0000",
        **extra,
    )
    return int(made["meeting"]["id"])


async def agenda_of_three(people: dict[str, Client], meeting: int) -> list[int]:
    items = []
    for title, kind in (
        ("Welcome and apologies", "information"),
        ("Falls response times", "decision"),
        ("Visit to the control room", "discussion"),
    ):
        made = await people["bob"].call(
            "meeting.propose", meeting=meeting, title=title, summary=f"About {title}.", kind=kind
        )
        items.append(made["item"]["id"])
        await people["cora"].call("meeting.decide", item=made["item"]["id"], decision="accept")
    return items


def count(server: Running, sql: str, *params: Any) -> int:
    return int(server.db.execute(sql, params).fetchone()[0])


async def test_a_chair_schedules_a_meeting_and_members_see_it_in_the_list(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    event = await people["bob"].event("meeting.scheduled", id=meeting)
    assert event["data"]["mode"] == "hybrid"
    listed = await people["bob"].call("meeting.list", room=ROOM)
    assert [m["id"] for m in listed["coming"]] == [meeting]
    got = (await people["dan"].call("meeting.get", meeting=meeting))["meeting"]
    assert got["meeting"]["access_facts"] == ["Step-free access", "Hearing loop"]
    assert got["meeting"]["papers_due"] < got["meeting"]["starts_at"]


async def test_a_meeting_in_the_past_is_refused_and_nothing_is_stored(
    server: Running, people: dict[str, Client]
) -> None:
    reply = await people["cora"].reply(
        await people["cora"].send(
            "meeting.create", room=ROOM, title="Too late", starts_at=now_ms() - HOUR, mode="online"
        )
    )
    assert reply["error"]["code"] == "bad_request"
    assert "already passed" in reply["error"]["message"]
    assert count(server, "SELECT count(*) FROM meetings") == 0


async def test_only_chairs_and_facilitators_schedule_and_outsiders_learn_nothing(
    server: Running, people: dict[str, Client]
) -> None:
    args = {"room": ROOM, "title": "Mine", "starts_at": now_ms() + DAY, "mode": "online"}
    assert await people["bob"].error("meeting.create", **args) == "forbidden"
    meeting = await schedule(people["fay"])
    assert await people["carol"].error("meeting.get", meeting=meeting) == "not_found"
    assert await people["sid"].error("meeting.get", meeting=meeting) == "not_found"
    assert await people["sid"].error("meeting.list", room=ROOM) == "forbidden"


async def test_members_propose_and_support_items_and_a_declined_item_tells_its_proposer_why(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    assert (
        await people["bob"].error(
            "meeting.propose", meeting=meeting, title="Parking", summary="s", kind="whenever"
        )
        == "bad_request"
    )
    one = (
        await people["bob"].call(
            "meeting.propose",
            meeting=meeting,
            title="Hospital parking",
            summary="Parking costs at hospitals.",
            kind="discussion",
        )
    )["item"]["id"]
    await people["dan"].call("meeting.support", item=one)
    await people["dan"].call("meeting.support", item=one)  # twice counts once
    assert count(server, "SELECT count(*) FROM agenda_supporters WHERE item_id = ?", one) == 1
    # a decline needs a reason
    assert (
        await people["cora"].error("meeting.decide", item=one, decision="decline") == "bad_request"
    )
    assert await people["bob"].error("meeting.decide", item=one, decision="accept") == "forbidden"
    await people["cora"].call(
        "meeting.decide", item=one, decision="decline", reason="This is for the trust board."
    )
    mine = (await people["bob"].call("meeting.get", meeting=meeting))["meeting"]
    assert [(i["title"], i["decline_reason"]) for i in mine["declined"]] == [
        ("Hospital parking", "This is for the trust board.")
    ]
    others = (await people["dan"].call("meeting.get", meeting=meeting))["meeting"]
    assert others["declined"] == []


async def test_the_chair_orders_the_agenda_and_publishes_it(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    items = await agenda_of_three(people, meeting)
    await people["cora"].call("meeting.move", item=items[2], position=1)
    got = (await people["bob"].call("meeting.get", meeting=meeting))["meeting"]
    assert [i["id"] for i in got["agenda"]] == [items[2], items[0], items[1]]
    assert [i["number"] for i in got["agenda"]] == [1, 2, 3]
    assert await people["cora"].error("meeting.move", item=items[0], position=9) == "bad_request"
    await people["cora"].call("meeting.publish", meeting=meeting)
    assert (await people["bob"].call("meeting.get", meeting=meeting))["meeting"]["meeting"][
        "published_at"
    ]


async def test_an_item_cannot_be_proposed_to_another_groups_meeting(
    server: Running, people: dict[str, Client]
) -> None:
    theirs = await schedule(people["sid"], room="south")
    reply = await people["bob"].error(
        "meeting.propose", meeting=theirs, title="Ours", summary="s", kind="information"
    )
    assert reply == "not_found"
    assert count(server, "SELECT count(*) FROM agenda_items") == 0


async def test_an_idea_from_the_board_goes_to_the_next_meeting_keeping_its_link(
    server: Running, people: dict[str, Client]
) -> None:
    idea = (
        await people["bob"].call(
            "idea.create", room=ROOM, title="Peer support", body="Signpost callers.", cid="i1"
        )
    )["idea"]["id"]
    assert await people["bob"].error("meeting.from_idea", idea=idea) == "conflict"  # none yet
    meeting = await schedule(people["cora"])
    sent = await people["bob"].call("meeting.from_idea", idea=idea)
    assert sent["meeting"]["id"] == meeting
    row = server.db.execute(
        "SELECT idea_id, status, title FROM agenda_items WHERE id = ?", (sent["item"]["id"],)
    ).fetchone()
    assert tuple(row) == (idea, "proposed", "Peer support")
    assert await people["bob"].error("meeting.from_idea", idea=idea) == "conflict"  # once


async def test_replies_keep_only_the_needs_given_and_the_chair_sees_the_checklist(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    items = await agenda_of_three(people, meeting)
    await people["bob"].call(
        "meeting.reply", meeting=meeting, attending="online", papers_format="post"
    )
    await people["dan"].call(
        "meeting.reply",
        meeting=meeting,
        attending="cant_come",
        papers_format="large_print",
        support=["bsl", "no_time_pressure"],
    )
    await people["fay"].call("meeting.reply", meeting=meeting, attending="in_person")
    assert (
        await people["bob"].error("meeting.reply", meeting=meeting, attending="maybe")
        == "bad_request"
    )
    assert (
        await people["bob"].error(
            "meeting.reply", meeting=meeting, attending="online", support=["taxi"]
        )
        == "bad_request"
    )
    stored = server.db.execute(
        "SELECT attending, papers_format, support FROM meeting_replies WHERE user_id ="
        " (SELECT id FROM users WHERE email = 'fay@cfn.example')"
    ).fetchone()
    assert tuple(stored) == ("in_person", None, "")  # nothing asked of her that she did not give
    # a paper added after the papers date is late
    server.db.execute("UPDATE meetings SET papers_due = ? WHERE id = ?", (now_ms() - HOUR, meeting))
    server.db.commit()
    await people["cora"].call("meeting.paper", item=items[1], title="Figures", body="Times.")
    chair = (await people["cora"].call("meeting.get", meeting=meeting))["meeting"]
    check = chair["checklist"]
    assert check["formats"] == [["large print", ["Dan"]], ["by post", ["Bob"]]]
    assert check["support"] == [["no time pressure", ["Dan"]], ["a BSL interpreter", ["Dan"]]]
    assert [p["title"] for p in check["late_papers"]] == ["Figures"]
    member = (await people["bob"].call("meeting.get", meeting=meeting))["meeting"]
    assert "checklist" not in member and "register" not in member
    assert member["my_reply"]["papers_format"] == "post"


async def test_a_live_meeting_runs_item_by_item_in_the_room_and_tags_what_is_posted(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    items = await agenda_of_three(people, meeting)
    await people["dan"].call("meeting.view", item=items[1], body="Please ask about rural times.")
    thread = (
        await people["bob"].call("thread.create", room=ROOM, title="Before", body="x", cid="t0")
    )["thread"]["id"]
    await people["bob"].drain()
    started = await people["cora"].call("meeting.start", meeting=meeting)
    assert started["item"]["number"] == 1
    ev = await people["bob"].event("meeting.started", id=meeting)
    assert ev["seq"] is not None
    first = await people["bob"].event("meeting.item", meeting=meeting)
    assert first["data"]["item"]["title"] == "Welcome and apologies"
    assert first["data"]["total"] == 3
    posted = await people["bob"].call(
        "message.post", room=ROOM, thread=thread, body="Hello all", cid="m1"
    )
    await people["cora"].call("meeting.next", meeting=meeting)
    second = await people["dan"].event("meeting.item", meeting=meeting, total=3)
    while second["data"]["item"]["number"] != 2:
        second = await people["dan"].event("meeting.item", meeting=meeting)
    assert second["data"]["item"]["kind_words"] == "for decision"
    assert second["data"]["item"]["views"] == 1
    # the chair sees the views sent in when the item opens
    chair = (await people["cora"].call("meeting.get", meeting=meeting))["meeting"]
    assert [v["body"] for v in chair["views_now"]] == ["Please ask about rural times."]
    assert (await people["bob"].call("meeting.get", meeting=meeting))["meeting"]["views_now"] == []
    poll = (
        await people["cora"].call(
            "poll.create", room=ROOM, question="Agree?", options=["Yes", "No"], kind="single"
        )
    )["poll"]["id"]
    idea = (
        await people["bob"].call(
            "idea.create", room=ROOM, title="Rural targets", body="b", cid="i2"
        )
    )["idea"]["id"]
    later = await people["bob"].call(
        "message.post", room=ROOM, thread=thread, body="On item 2", cid="m2"
    )
    tagged = server.db.execute(
        "SELECT message_id, item_id FROM meeting_item_messages ORDER BY message_id"
    ).fetchall()
    assert (posted["message"]["id"], items[0]) in [tuple(r) for r in tagged]
    assert (later["message"]["id"], items[1]) in [tuple(r) for r in tagged]
    assert tuple(
        server.db.execute("SELECT poll_id, item_id FROM meeting_item_polls").fetchone()
    ) == (
        poll,
        items[1],
    )
    assert tuple(
        server.db.execute("SELECT idea_id, item_id FROM meeting_item_ideas").fetchone()
    ) == (
        idea,
        items[1],
    )
    await people["cora"].call("meeting.next", meeting=meeting)
    # past the last item: a clear refusal, and the meeting stays on its last item
    reply = await people["cora"].reply(await people["cora"].send("meeting.next", meeting=meeting))
    assert reply["error"]["code"] == "conflict"
    assert "last item" in reply["error"]["message"]
    assert count(server, "SELECT current_item FROM meetings WHERE id = ?", meeting) == items[2]
    assert await people["bob"].error("meeting.next", meeting=meeting) == "forbidden"
    await people["cora"].call("meeting.end", meeting=meeting)
    await people["bob"].event("meeting.ended", id=meeting)


async def test_online_joins_are_recorded_and_facilitator_marks_are_audited(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    await agenda_of_three(people, meeting)
    await people["dan"].close()  # dan is not in the room when the meeting starts
    await people["cora"].call("meeting.start", meeting=meeting)
    here = server.db.execute(
        "SELECT u.name FROM meeting_attendance a JOIN users u ON u.id = a.user_id"
        " WHERE a.meeting_id = ? ORDER BY u.name",
        (meeting,),
    ).fetchall()
    assert [r[0] for r in here] == ["Bob", "Cora", "Fay"]  # in the room at the start
    late = await connect(server, server.token("dan@cfn.example"))
    await late.call("join", room=ROOM)
    marked = await people["cora"].event("attendance.marked", meeting=meeting, mode="online")
    while marked["data"]["member"]["name"] != "Dan":
        marked = await people["cora"].event("attendance.marked", meeting=meeting, mode="online")
    await late.call("join", room=ROOM)  # joining again changes nothing
    await late.close()
    rows = server.db.execute(
        "SELECT a.mode, a.joined_at FROM meeting_attendance a JOIN users u ON u.id = a.user_id"
        " WHERE a.meeting_id = ? AND u.name = 'Dan'",
        (meeting,),
    ).fetchall()
    assert [r[0] for r in rows] == ["online"] and rows[0][1] > 0
    bob_id = count(server, "SELECT id FROM users WHERE email = 'bob@cfn.example'")
    await people["fay"].call(
        "attendance.mark", meeting=meeting, member=bob_id, mode="in_room", came_in_person=True
    )
    audit_rows = server.db.execute(
        "SELECT action, subject, detail FROM audit_log WHERE action LIKE 'attendance.%' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in audit_rows] == ["attendance.online"] * 4 + ["attendance.mark"]
    assert json.loads(audit_rows[-1][2]) == {
        "came_in_person": True,
        "meeting": meeting,
        "mode": "in_room",
    }
    carol_id = count(server, "SELECT id FROM users WHERE email = 'carol@cfn.example'")
    reply = await people["fay"].reply(
        await people["fay"].send("attendance.mark", meeting=meeting, member=carol_id, mode="phone")
    )
    assert reply["error"]["code"] == "bad_request"
    assert "not a member" in reply["error"]["message"]
    assert count(server, "SELECT count(*) FROM meeting_attendance") == 4
    assert count(server, "SELECT count(*) FROM audit_log WHERE action = 'attendance.mark'") == 1
    assert (
        await people["bob"].error("attendance.mark", meeting=meeting, member=bob_id, mode="phone")
        == "forbidden"
    )


async def test_minutes_take_comments_until_approved_then_only_dated_corrections(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    items = await agenda_of_three(people, meeting)
    await people["cora"].call("meeting.start", meeting=meeting)
    await people["cora"].call("meeting.outcome", item=items[0], outcome="noted", note="Fine.")
    bob_id = count(server, "SELECT id FROM users WHERE email = 'bob@cfn.example'")
    await people["cora"].call(
        "meeting.action", item=items[0], what="Write to the trust", owner=bob_id, due_at=now_ms()
    )
    assert (
        await people["cora"].error(
            "meeting.action", item=items[0], what="x", owner=99999, due_at=now_ms()
        )
        == "bad_request"
    )
    assert await people["cora"].error("minutes.approve", meeting=meeting) == "conflict"  # running
    await people["cora"].call("meeting.end", meeting=meeting)
    await people["dan"].call("minutes.comment", meeting=meeting, body="Item 1 was longer.")
    other = await schedule(people["cora"])
    other_item = (
        await people["bob"].call(
            "meeting.propose", meeting=other, title="Next", summary="s", kind="information"
        )
    )["item"]["id"]
    assert (
        await people["dan"].error(
            "minutes.comment", meeting=meeting, body="wrong item", item=other_item
        )
        == "bad_request"
    )
    assert await people["bob"].error("minutes.approve", meeting=meeting) == "forbidden"
    await people["cora"].call("minutes.approve", meeting=meeting)
    reply = await people["dan"].reply(
        await people["dan"].send("minutes.comment", meeting=meeting, body="Too late")
    )
    assert reply["error"]["code"] == "conflict"
    assert "locked" in reply["error"]["message"]
    assert count(server, "SELECT count(*) FROM minutes_notes") == 1
    assert (
        await people["cora"].error("meeting.outcome", item=items[1], outcome="decided")
        == "conflict"
    )
    await people["cora"].call("minutes.correct", meeting=meeting, body="Dan's name was misspelt.")
    kinds = [r[0] for r in server.db.execute("SELECT kind FROM minutes_notes ORDER BY id")]
    assert kinds == ["comment", "correction"]


async def test_actions_not_done_by_their_date_come_back_on_the_next_agenda(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    items = await agenda_of_three(people, meeting)
    await people["cora"].call("meeting.start", meeting=meeting)
    await people["cora"].call(
        "meeting.action", item=items[1], what="Ask for rural figures", due_at=now_ms() - HOUR
    )
    done = (
        await people["cora"].call(
            "meeting.action", item=items[1], what="Send thanks", due_at=now_ms() - HOUR
        )
    )["action"]["id"]
    await people["cora"].call("meeting.end", meeting=meeting)
    await people["cora"].call("meeting.action_done", action=done)
    # the meeting was in the past, for the next one to come after it
    server.db.execute("UPDATE meetings SET starts_at = ? WHERE id = ?", (now_ms() - DAY, meeting))
    server.db.commit()
    following = await schedule(people["cora"])
    got = (await people["bob"].call("meeting.get", meeting=following))["meeting"]
    assert [a["what"] for a in got["carried_actions"]] == ["Ask for rural figures"]
    assert await people["bob"].error("meeting.action_done", action=done) == "forbidden"


async def test_a_members_replies_and_needs_are_exported_and_erased_with_them(
    server: Running, people: dict[str, Client]
) -> None:
    meeting = await schedule(people["cora"])
    await people["dan"].call(
        "meeting.reply",
        meeting=meeting,
        attending="phone",
        papers_format="easy_read",
        support=["support_person"],
    )
    exported = privacy.export_user(server.db, "dan@cfn.example")
    assert [
        (r["attending"], r["papers_format"], r["support"]) for r in exported["meeting_replies"]
    ] == [("phone", "easy_read", "support_person")]
    counts = write_sync(server.db, privacy.erase_user, "dan@cfn.example")
    assert counts["meeting_replies"] == 1
    assert count(server, "SELECT count(*) FROM meeting_replies") == 0
