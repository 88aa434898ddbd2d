"""Rooms over live connections: hello, join/leave, forbidden, seq order, resume, presence."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.harness import Client, ReplyError, Running, connect

ALICE, BOB, CAROL = "alice@cfn.example", "bob@cfn.example", "carol@cfn.example"


async def new_thread(client: Client, room: str, cid: str = "t1") -> int:
    made = await client.call("thread.create", room=room, title="Tea", body="Opening", cid=cid)
    return made["thread"]["id"]


async def post_many(client: Client, room: str, thread: int, count: int, tag: str) -> list[dict]:
    """Pipeline ``count`` posts, then collect every reply (all must succeed)."""
    refs = [
        await client.send(
            "message.post", room=room, thread=thread, body=f"{tag} {i}", cid=f"{tag}-{i}"
        )
        for i in range(count)
    ]
    replies = [await client.reply(ref, timeout=20) for ref in refs]
    assert all(r["ok"] for r in replies), replies
    return [r["data"]["message"] for r in replies]


# --- hello ------------------------------------------------------------------------------------


async def test_hello_describes_the_user_server_limits_and_groups(
    server: Running, room: str, clients: Callable
) -> None:
    server.group("renal", "Renal transport", "service")
    server.member("renal", ALICE, "facilitator")
    alice = await clients(ALICE)
    hello = await alice.call("hello", client="pytest 1.0")
    assert hello["user"] == {"id": server.user(ALICE).id, "name": "Alice", "role": "member"}
    assert isinstance(hello["server"], str) and hello["server"]
    assert hello["limits"]["max_frame"] == 65_536 and hello["limits"]["max_body"] == 10_000
    assert {(g["slug"], g["name"], g["role"]) for g in hello["groups"]} == {
        ("north", "North", "chair"),
        ("renal", "Renal transport", "facilitator"),
    }


async def test_hello_for_someone_in_no_group_lists_no_groups(
    server: Running, room: str, clients: Callable
) -> None:
    carol = await clients(CAROL)
    assert (await carol.call("hello"))["groups"] == []


async def test_ping_replies_with_empty_data(server: Running, clients: Callable) -> None:
    alice = await clients(ALICE)
    assert await alice.call("ping") == {}


# --- forbidden is the same for non-members and unknown rooms -----------------------------


async def test_non_members_and_unknown_rooms_get_the_same_forbidden(
    server: Running, room: str, clients: Callable
) -> None:
    carol = await clients(CAROL)
    answers = []
    for slug in (room, "no-such-room"):
        for op, args in (("join", {}), ("history", {})):
            reply = await carol.reply(await carol.send(op, room=slug, **args))
            assert reply["ok"] is False
            answers.append(reply["error"])
    assert all(a == answers[0] for a in answers) and answers[0]["code"] == "forbidden"
    assert "north" not in answers[0]["message"]
    assert carol.events == [], "nothing of the room reaches a non-member"


async def test_a_site_admin_who_is_not_a_member_may_join(
    server: Running, room: str, clients: Callable
) -> None:
    server.user("admin@cfn.example", "Ada", role="admin")
    admin = await clients("admin@cfn.example")
    assert (await admin.call("join", room=room))["room"] == room


async def test_site_staff_who_are_not_members_are_forbidden(
    server: Running, room: str, clients: Callable
) -> None:
    server.user("staff@cfn.example", "Sam", role="staff")
    staff = await clients("staff@cfn.example")
    assert await staff.error("join", room=room) == "forbidden"


# --- join, seq, and live events ------------------------------------------------------------


async def test_join_replies_room_seq_epoch_and_not_recovered(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    joined = await alice.call("join", room=room)
    assert joined == {
        "room": room,
        "seq": 0,
        "epoch": joined["epoch"],
        "recovered": False,
        "you": joined["you"],
    }
    assert isinstance(joined["epoch"], str) and joined["epoch"]
    await new_thread(alice, room)
    assert (await alice.call("join", room=room))["seq"] == 2


async def test_concurrent_posters_produce_every_seq_exactly_once(
    server: Running, room: str, clients: Callable
) -> None:
    emails = [f"p{i}@cfn.example" for i in range(4)]
    for email in emails:
        server.member(room, email)
    watcher = await clients(BOB)
    await watcher.call("join", room=room)
    posters = [await clients(e) for e in emails]
    for p in posters:
        await p.call("join", room=room)
    thread = await new_thread(posters[0], room)
    per = 25
    results = await asyncio.gather(
        *(post_many(p, room, thread, per, f"p{i}") for i, p in enumerate(posters))
    )
    total = 2 + per * len(posters)
    events = await watcher.stored_events(room, total, timeout=20)
    assert [e["seq"] for e in events] == list(range(1, total + 1))
    acked = sorted(m["seq"] for r in results for m in r)
    assert acked == list(range(3, total + 1)), "each reply's seq is its event's seq"
    stored = [
        r[0]
        for r in server.db.execute(
            "SELECT seq FROM events e JOIN rooms r ON r.id = e.room_id WHERE r.slug = ?"
            " ORDER BY seq",
            (room,),
        )
    ]
    assert stored == list(range(1, total + 1))


async def test_join_without_since_leaves_no_gap_between_reply_and_live_events(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    thread = await new_thread(alice, room)
    poster = asyncio.create_task(post_many(alice, room, thread, 80, "live"))
    await asyncio.sleep(0.01)
    joined = await bob.call("join", room=room)
    await poster
    final = 2 + 80
    live = [e for e in await _all_stored(bob, room, final - joined["seq"])]
    assert [e["seq"] for e in live] == list(range(joined["seq"] + 1, final + 1))


async def _all_stored(client: Client, room: str, count: int) -> list[dict[str, Any]]:
    if count == 0:
        await client.drain(0.2)
        return [e for e in client.events if e["seq"] is not None]
    events = await client.stored_events(room, count, timeout=20)
    await client.drain(0.2)
    extra = [e for e in client.events if e["seq"] is not None]
    assert len(extra) == count, "no duplicate or stray events"
    return events


async def test_events_arrive_in_both_subprotocols_with_the_same_content(
    server: Running, room: str, clients: Callable, subprotocol: str
) -> None:
    from tests.harness import JSON, MSGPACK

    other = MSGPACK if subprotocol == JSON else JSON
    alice, bob = await clients(ALICE), await clients(BOB, other)
    await alice.call("join", room=room)
    await bob.call("join", room=room)
    await new_thread(alice, room)
    a, b = await alice.stored_events(room, 2), await bob.stored_events(room, 2)
    assert a == b and a[1]["type"] == "message.created" and isinstance(a[1]["at"], int)
    assert a[1]["data"]["author"] == {"id": server.user(ALICE).id, "name": "Alice"}
    assert set(a[1]["data"]) >= {"id", "thread", "author", "body", "cid", "created_at"}


# --- resume ---------------------------------------------------------------------------------


async def test_resume_after_disconnect_replays_missed_events_without_gap_or_duplicate(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    joined = await bob.call("join", room=room)
    thread = await new_thread(alice, room)
    await post_many(alice, room, thread, 3, "before")
    seen = await bob.stored_events(room, 5)
    last = seen[-1]["seq"]
    await bob.close()
    await post_many(alice, room, thread, 10, "missed")
    bob2 = await clients(BOB)
    poster = asyncio.create_task(post_many(alice, room, thread, 20, "during"))
    resumed = await bob2.call("join", room=room, since=last, epoch=joined["epoch"])
    await poster
    assert resumed["recovered"] is True and resumed["epoch"] == joined["epoch"]
    final = 5 + 10 + 20
    events = await _all_stored(bob2, room, final - last)
    assert [e["seq"] for e in events] == list(range(last + 1, final + 1))
    bodies = [e["data"]["body"] for e in events if e["type"] == "message.created"]
    assert bodies[:10] == [f"missed {i}" for i in range(10)]


async def test_resume_since_the_current_seq_replays_nothing_but_recovers(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    joined = await alice.call("join", room=room)
    await new_thread(alice, room)
    await alice.stored_events(room, 2)
    alice.events.clear()
    again = await alice.call("join", room=room, since=2, epoch=joined["epoch"])
    assert again["recovered"] is True and again["seq"] == 2
    await alice.drain(0.2)
    assert alice.events == [], "a re-join replays nothing and does not flap presence"


async def test_resume_with_since_but_no_epoch_recovers(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    await new_thread(alice, room)
    resumed = await bob.call("join", room=room, since=1)
    assert resumed["recovered"] is True
    events = await _all_stored(bob, room, 1)
    assert [e["seq"] for e in events] == [2]


async def test_a_wrong_epoch_replies_not_recovered_and_replays_nothing(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    thread = await new_thread(alice, room)
    await post_many(alice, room, thread, 3, "x")
    resumed = await bob.call("join", room=room, since=1, epoch="restored-from-backup")
    assert resumed["recovered"] is False and resumed["seq"] == 5
    assert resumed["epoch"] != "restored-from-backup"
    await bob.drain(0.3)
    assert [e for e in bob.events if e["seq"] is not None] == []
    await alice.call("message.post", room=room, thread=thread, body="after", cid="after")
    live = await bob.stored_events(room, 1)
    assert [e["seq"] for e in live] == [6], "live events still follow"


async def test_since_beyond_the_replay_limit_replies_not_recovered(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server(replay_limit=5)
    running.member("north", ALICE)
    alice = await connect(running, running.token(ALICE), subprotocol)
    try:
        joined = await alice.call("join", room="north")
        thread = await new_thread(alice, "north")
        await post_many(alice, "north", thread, 6, "m")  # seq now 8
        await alice.stored_events("north", 8)
        alice.events.clear()
        far = await alice.call("join", room="north", since=2, epoch=joined["epoch"])
        assert far["recovered"] is False and far["seq"] == 8
        await alice.drain(0.2)
        assert alice.events == []
        near = await alice.call("join", room="north", since=3, epoch=joined["epoch"])
        assert near["recovered"] is True
        events = await _all_stored(alice, "north", 5)
        assert [e["seq"] for e in events] == [4, 5, 6, 7, 8]
    finally:
        await alice.close()


async def test_since_ahead_of_the_room_replies_not_recovered(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    joined = await alice.call("join", room=room)
    ahead = await alice.call("join", room=room, since=99, epoch=joined["epoch"])
    assert ahead["recovered"] is False and ahead["seq"] == 0


# --- leave, not_joined, presence, typing ------------------------------------------------------


async def test_room_writes_before_join_are_not_joined(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    assert (
        await alice.error("thread.create", room=room, title="T", body="B", cid="c") == "not_joined"
    )
    assert await alice.error("message.post", room=room, thread=1, body="B", cid="c") == "not_joined"
    assert await alice.error("presence", room=room) == "not_joined"
    assert await alice.error("typing", room=room) == "not_joined"
    assert await alice.error("leave", room=room) == "not_joined"
    assert server.db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


async def test_history_needs_membership_but_not_a_join(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    await new_thread(alice, room)
    page = await bob.call("history", room=room)
    assert [m["body"] for m in page["messages"]] == ["Opening"]


async def test_leave_stops_events_and_writes(server: Running, room: str, clients: Callable) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    await bob.call("join", room=room)
    thread = await new_thread(alice, room)
    await bob.stored_events(room, 2)
    assert await bob.call("leave", room=room) == {}
    bob.events.clear()
    await post_many(alice, room, thread, 3, "gone")
    await bob.drain(0.3)
    assert bob.events == []
    assert (
        await bob.error("message.post", room=room, thread=thread, body="x", cid="b") == "not_joined"
    )


async def test_presence_lists_who_is_online_and_announces_arrivals_and_departures(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    alice_id, bob_id = server.user(ALICE).id, server.user(BOB).id
    assert (await alice.call("presence", room=room))["members"] == [
        {"id": alice_id, "name": "Alice"}
    ]
    await bob.call("join", room=room)
    arrived = await alice.event("presence.join", id=bob_id)
    assert arrived["seq"] is None and arrived["room"] == room
    assert arrived["data"] == {"id": bob_id, "name": "Bob"}
    assert (await bob.call("presence", room=room))["members"] == [
        {"id": alice_id, "name": "Alice"},
        {"id": bob_id, "name": "Bob"},
    ]
    await bob.call("leave", room=room)
    left = await alice.event("presence.leave")
    assert left["seq"] is None and left["data"] == {"id": bob_id, "name": "Bob"}
    assert (await alice.call("presence", room=room))["members"] == [
        {"id": alice_id, "name": "Alice"}
    ]


async def test_disconnecting_announces_presence_leave(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    await bob.call("join", room=room)
    await alice.event("presence.join", id=server.user(BOB).id)
    await bob.close()
    left = await alice.event("presence.leave")
    assert left["data"]["id"] == server.user(BOB).id


async def test_two_tabs_of_one_member_count_once_in_presence(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob1, bob2 = await clients(ALICE), await clients(BOB), await clients(BOB)
    await alice.call("join", room=room)
    await bob1.call("join", room=room)
    await bob2.call("join", room=room)
    await bob1.close()
    await alice.drain(0.3)
    bob_id = server.user(BOB).id
    kinds = [e["type"] for e in alice.events if e["data"].get("id") == bob_id]
    assert kinds == ["presence.join"], "still online through the second tab"
    assert len((await alice.call("presence", room=room))["members"]) == 2


async def test_typing_sends_an_ephemeral_event_that_is_never_stored(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients(BOB)
    await alice.call("join", room=room)
    await bob.call("join", room=room)
    thread = await new_thread(alice, room)
    assert await alice.call("typing", room=room, thread=thread) == {}
    typing = await bob.event("typing")
    assert typing["seq"] is None and typing["room"] == room
    assert typing["data"] == {"id": server.user(ALICE).id, "name": "Alice", "thread": thread}
    stored = server.db.execute("SELECT count(*) FROM events WHERE type = 'typing'").fetchone()
    assert stored[0] == 0
    assert (await bob.call("join", room=room))["seq"] == 2, "typing takes no seq"


async def test_a_reply_error_is_raised_by_the_harness(
    server: Running, room: str, clients: Callable
) -> None:
    """Guards the harness: call() must surface failures, not hide them."""
    carol = await clients(CAROL)
    try:
        await carol.call("join", room=room)
    except ReplyError as e:
        assert e.code == "forbidden"
    else:
        raise AssertionError("join by a non-member succeeded")
