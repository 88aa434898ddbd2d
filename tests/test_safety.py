"""Reports, reversible hiding and staff-only posts, over a real server and real sockets in
both subprotocols."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from server.domain import privacy
from server.storage import unpack
from tests.harness import Client, Running, connect

ALICE, BOB, CAROL = "alice@cfn.example", "bob@cfn.example", "carol@cfn.example"
NADIA, ADA, SID = "nadia@cfn.example", "ada@cfn.example", "sid@cfn.example"
SECRET = "My dialysis moved to Tuesdays"


async def _world(server: Running, clients: Callable[..., Any]) -> dict[str, Any]:
    """north: alice chair, bob member, nadia staff facilitator, sid member who is site
    staff; ada is a site admin; carol belongs to south only."""
    server.member("north", ALICE, "chair")
    server.member("north", BOB)
    server.user(NADIA, "Nadia", role="staff")
    server.member("north", NADIA, "facilitator")
    server.user(SID, "Sid", role="staff")
    server.member("north", SID)
    server.user(ADA, "Ada", role="admin")
    server.member("south", CAROL, "chair")
    people = {}
    for email in (ALICE, BOB, NADIA, SID, ADA, CAROL):
        people[email] = await clients(email)
    for email in (ALICE, BOB, NADIA, SID, ADA):
        await people[email].call("join", room="north")
    await people[CAROL].call("join", room="south")
    made = await people[BOB].call(
        "thread.create", room="north", title="Transport", body="Opening", cid="t"
    )
    return {"c": people, "thread": made["thread"]["id"], "first": made["message"]["id"]}


def _stored_text(server: Running) -> str:
    rows = server.db.execute("SELECT data FROM events").fetchall()
    return json.dumps([unpack(r[0]) for r in rows])


async def _quiet(client: Client) -> list[str]:
    await client.drain(0.3)
    return [e["type"] for e in client.events]


# --- staff-only posts ------------------------------------------------------------------


async def test_a_staff_only_post_reaches_only_its_author_staff_facilitators_and_admins(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c = w["c"]
    for client in c.values():
        await client.drain(0.2)
        client.events.clear()
    posted = await c[BOB].call(
        "message.post", room="north", thread=w["thread"], body=SECRET, cid="s", staff_only=True
    )
    mid = posted["message"]["id"]
    for email in (BOB, NADIA, ADA):
        ev = await c[email].event("message.created", id=mid)
        assert ev["data"]["body"] == SECRET and ev["data"]["staff_only"] is True
    # A chair, a plain member and a member who is site staff but not the group's
    # facilitator get nothing of it, live or by history.
    for email in (ALICE, SID):
        assert "message.created" not in await _quiet(c[email])
        # In its place a stand-in with the same seq and nothing else, so seq has no gap.
        stand_in = [e for e in c[email].events if e["type"] == "event.withheld"]
        assert [e["data"] for e in stand_in] == [{}], c[email].events
        assert SECRET not in json.dumps(c[email].events)
        history = await c[email].call("history", room="north", thread=w["thread"])
        assert [m["id"] for m in history["messages"]] == [w["first"]]
    seen = await c[NADIA].call("history", room="north", thread=w["thread"])
    assert [m["id"] for m in seen["messages"]] == [w["first"], mid]
    # An edit stays with the same few people.
    await c[BOB].call("message.edit", message=mid, body=SECRET + " now")
    assert (await c[NADIA].event("message.edited", id=mid))["data"]["body"] == SECRET + " now"
    assert "message.edited" not in await _quiet(c[ALICE])
    # Others cannot report, hide or edit what they may not see: it does not exist for them.
    assert await c[ALICE].error("message.hide", message=mid, reason="rules") == "not_found"
    assert await c[SID].error("message.report", message=mid, reason="spam") == "not_found"


async def test_a_staff_only_post_is_withheld_but_seq_stays_contiguous_live_and_in_replay(
    server: Running, clients: Callable[..., Any], subprotocol: str
) -> None:
    w = await _world(server, clients)
    c = w["c"]
    for client in c.values():
        await client.drain(0.2)
    posted = await c[BOB].call(
        "message.post", room="north", thread=w["thread"], body=SECRET, cid="s", staff_only=True
    )
    mid = posted["message"]["id"]
    await c[BOB].call("message.edit", message=mid, body=SECRET + "!")
    await c[BOB].call("message.post", room="north", thread=w["thread"], body="Open", cid="o")
    # Live: every member's stream of north rises by exactly one.
    for email in (ALICE, SID, NADIA):
        await c[email].event("message.created", body="Open")
        north = [e["seq"] for e in c[email].events if e["room"] == "north" and e["seq"]]
        assert len(north) >= 3 and north == list(range(north[0], north[-1] + 1)), email
    for email, sees in ((ALICE, False), (SID, False), (NADIA, True), (BOB, True)):
        late = await connect(server, server.token(email), subprotocol)
        joined = await late.call("join", room="north", since=0)
        assert joined["recovered"] is True
        got = await late.stored_events("north", joined["seq"])
        assert [e["seq"] for e in got] == list(range(1, joined["seq"] + 1)), email
        bodies = [e["data"].get("body") for e in got if e["type"] == "message.created"]
        assert ("Open" in bodies) and ((SECRET in bodies) is sees), (email, bodies)
        withheld = [e for e in got if e["type"] == "event.withheld"]
        assert [e["data"] for e in withheld] == ([] if sees else [{}, {}]), (email, withheld)
        assert (SECRET in json.dumps(got)) is sees
        await late.close()


async def test_a_staff_only_post_is_only_in_its_authors_data_export(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    await w["c"][BOB].call(
        "message.post", room="north", thread=w["thread"], body=SECRET, cid="s", staff_only=True
    )
    assert SECRET in privacy.export_json(server.db, BOB)
    for email in (ALICE, NADIA, SID):
        assert SECRET not in privacy.export_json(server.db, email)


# --- reports and hiding -----------------------------------------------------------------


async def test_reporting_refuses_your_own_post_and_a_second_report_and_changes_nothing(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c, mid = w["c"], w["first"]
    assert await c[BOB].error("message.report", message=mid, reason="unkind") == "bad_request"
    assert (await c[ALICE].call("message.report", message=mid, reason="unkind"))["report"]["id"]
    again = await c[ALICE].reply(await c[ALICE].send("message.report", message=mid, reason="spam"))
    assert again["error"]["code"] == "conflict"
    assert "already reported" in again["error"]["message"]
    assert await c[SID].error("message.report", message=mid, reason="nonsense") == "bad_request"
    assert await c[CAROL].error("message.report", message=mid, reason="spam") == "not_found"
    rows = server.db.execute("SELECT reporter_id, reason FROM reports").fetchall()
    assert len(rows) == 1 and rows[0]["reason"] == "unkind"


async def test_hiding_replaces_the_words_everywhere_and_restoring_brings_them_back(
    server: Running, clients: Callable[..., Any], subprotocol: str
) -> None:
    w = await _world(server, clients)
    c = w["c"]
    words = "Call me on 07700 900123"
    posted = await c[BOB].call(
        "message.post", room="north", thread=w["thread"], body=words, cid="p"
    )
    mid = posted["message"]["id"]
    await c[SID].call("message.report", message=mid, reason="personal")
    hidden = await c[ALICE].call("message.hide", message=mid, reason="personal")
    assert hidden["hidden"] == {"reason": "personal details", "by": "the chair"}
    # The contract's deletion event, so a PROTOCOL.md client takes the words away too.
    ev = await c[SID].event("message.deleted", id=mid)
    assert ev["data"]["hidden"]["reason"] == "personal details" and "body" not in ev["data"]
    page = await c[SID].call("history", room="north", thread=w["thread"])
    shown = next(m for m in page["messages"] if m["id"] == mid)
    assert shown["body"] == "" and shown["hidden"]["by"] == "the chair"
    assert words not in _stored_text(server)
    late = await connect(server, server.token(SID), subprotocol)
    await late.call("join", room="north", since=0)
    await late.drain(0.3)
    assert words not in json.dumps([e["data"] for e in late.events])
    await late.close()
    # The report left the queue; the author was told privately and may ask for a review.
    assert server.db.execute("SELECT outcome FROM reports").fetchone()[0] == "hidden"
    notice = server.db.execute("SELECT user_id, body FROM notices").fetchone()
    assert notice["body"].startswith("Your post in North was hidden by the chair")
    assert "Sid" not in notice["body"]
    assert (await c[BOB].call("message.review", message=mid, note="It is my own number"))["report"]
    assert await c[BOB].error("message.review", message=mid) == "conflict"
    assert await c[BOB].error("message.edit", message=mid, body="x") == "conflict"
    assert await c[ALICE].error("message.hide", message=mid, reason="rules") == "conflict"
    await c[NADIA].call("message.restore", message=mid)
    back = await c[SID].event("message.restored", id=mid)
    assert back["data"]["body"] == words
    page = await c[SID].call("history", room="north", thread=w["thread"])
    again = next(m for m in page["messages"] if m["id"] == mid)
    assert again["body"] == words and "hidden" not in again
    actions = [r[0] for r in server.db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["message.hidden", "message.restored"]


async def test_hiding_in_another_group_or_without_the_role_is_refused_and_changes_nothing(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c, mid = w["c"], w["first"]
    assert await c[CAROL].error("message.hide", message=mid, reason="rules") == "not_found"
    assert await c[SID].error("message.hide", message=mid, reason="rules") == "forbidden"
    assert await c[ALICE].error("message.hide", message=mid, reason="because") == "bad_request"
    assert await c[ALICE].error("message.restore", message=mid) == "conflict"
    row = server.db.execute("SELECT body, hidden_at FROM messages WHERE id = ?", (mid,)).fetchone()
    assert row["body"] == "Opening" and row["hidden_at"] is None


# op -> who may: (site role, group role) -> allowed. Everyone here can see north.
MATRIX = [
    ("member", "member"),
    ("staff", "member"),
    ("member", "chair"),
    ("staff", "facilitator"),
    ("admin", None),
    ("member", None),
]


@pytest.mark.parametrize(("site", "group"), MATRIX)
async def test_role_by_action_matrix_for_reports_hiding_and_staff_only_posts(
    server: Running, site: str, group: str | None
) -> None:
    server.member("north", BOB)
    email = f"{site}-{group}@cfn.example"
    server.user(email, role=site)
    if group is not None:
        server.member("north", email, group)
    author = await connect(server, server.token(BOB))
    await author.call("join", room="north")
    made = await author.call("thread.create", room="north", title="T", body="b", cid="t")
    thread, first = made["thread"]["id"], made["message"]["id"]
    staff = await author.call(
        "message.post", room="north", thread=thread, body="s", cid="s", staff_only=True
    )
    other = await author.call("message.post", room="north", thread=thread, body="o", cid="o")
    me = await connect(server, server.token(email))
    member = group is not None or site == "admin"
    moderator = group in ("chair", "facilitator") or site == "admin"
    sees_staff = site == "admin" or (site == "staff" and group == "facilitator")

    async def outcome(op: str, **args: Any) -> str:
        reply = await me.reply(await me.send(op, **args))
        return "ok" if reply["ok"] else reply["error"]["code"]

    got = {
        "join": await outcome("join", room="north"),
        "report": await outcome("message.report", message=first, reason="spam"),
        "hide": await outcome("message.hide", message=other["message"]["id"], reason="rules"),
        "see staff-only": await outcome(
            "message.report", message=staff["message"]["id"], reason="other"
        ),
        "delete": await outcome("message.delete", message=first),
    }
    allowed = {
        "join": member,
        "report": member,
        "hide": moderator,
        "see staff-only": sees_staff,
        "delete": moderator,  # an admin removes; a chair or facilitator hides instead
    }
    assert {k: v == "ok" for k, v in got.items()} == allowed, got
    await me.close()
    await author.close()


async def test_dismissing_a_report_keeps_the_post_and_empties_the_queue(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c, mid = w["c"], w["first"]
    report = (await c[SID].call("message.report", message=mid, reason="untrue"))["report"]["id"]
    assert await c[SID].error("report.dismiss", report=report) == "forbidden"
    assert await c[CAROL].error("report.dismiss", report=report) == "not_found"
    await c[ALICE].call("report.dismiss", report=report)
    assert await c[ALICE].error("report.dismiss", report=report) == "conflict"
    assert server.db.execute("SELECT outcome FROM reports").fetchone()[0] == "dismissed"
    # the reporter can report it again later, once the first report is closed
    assert await c[SID].call("message.report", message=mid, reason="untrue")


async def test_a_staff_only_thread_reaches_others_only_as_withheld_stand_ins(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c = w["c"]
    for client in c.values():
        await client.drain(0.2)
        client.events.clear()
    made = await c[BOB].call(
        "thread.create", room="north", title="Kidney clinic", body=SECRET, cid="k", staff_only=True
    )
    thread = made["thread"]["id"]
    assert (await c[NADIA].event("thread.created", id=thread))["data"]["staff_only"] is True
    await _quiet(c[ALICE])
    assert [e["type"] for e in c[ALICE].events] == ["event.withheld", "event.withheld"]
    assert "Kidney clinic" not in json.dumps(c[ALICE].events)
    assert await c[ALICE].error("history", room="north", thread=thread) == "not_found"
    assert (
        await c[ALICE].error("message.post", room="north", thread=thread, body="hi", cid="a")
        == "not_found"
    )
    reply = await c[NADIA].call("message.post", room="north", thread=thread, body="Seen", cid="n")
    ev = await c[BOB].event("message.created", id=reply["message"]["id"])
    assert ev["data"]["staff_only"] is True  # a reply in a staff-only thread is staff-only


async def test_typing_in_a_staff_only_thread_reaches_only_those_who_may_read_it(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c = w["c"]
    made = await c[BOB].call(
        "thread.create", room="north", title="Kidney clinic", body=SECRET, cid="k", staff_only=True
    )
    thread = made["thread"]["id"]
    for client in c.values():
        await client.drain(0.2)
        client.events.clear()
    await c[BOB].call("typing", room="north", thread=thread)
    assert (await c[NADIA].event("typing", thread=thread))["data"]["name"] == "Bob"
    await c[ADA].event("typing", thread=thread)
    assert "typing" not in await _quiet(c[ALICE])  # not even that the thread is active
    assert await c[ALICE].error("typing", room="north", thread=thread) == "not_found"
    await c[ALICE].call("typing", room="north", thread=w["thread"])  # an ordinary thread
    assert (await c[BOB].event("typing", thread=w["thread"]))["data"]["name"] == "Alice"


async def test_a_facilitator_made_a_member_stops_getting_staff_only_posts_while_connected(
    server: Running, clients: Callable[..., Any]
) -> None:
    w = await _world(server, clients)
    c = w["c"]
    server.member("north", NADIA, "member")  # the chair changes her role; she stays online
    for _ in range(40):  # the access watcher acts within a second or two
        if server.db.execute("SELECT count(*) FROM access_changes").fetchone()[0]:
            break
        await c[NADIA].drain(0.05)
    await c[NADIA].drain(1.5)
    c[NADIA].events.clear()
    posted = await c[BOB].call(
        "message.post", room="north", thread=w["thread"], body=SECRET, cid="s", staff_only=True
    )
    seq = posted["message"]["seq"]
    assert (await c[NADIA].event("event.withheld"))["seq"] == seq
    assert SECRET not in json.dumps(c[NADIA].events)
    assert (await c[ADA].event("message.created", id=posted["message"]["id"]))["data"]["body"]
