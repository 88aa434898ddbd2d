"""Idea boards over the wire (both subprotocols): create, support, statuses, merge."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain import audit
from tests.harness import Client, Running

ROOM = "north"


@pytest.fixture
async def people(server: Running) -> dict[str, Any]:
    server.member(ROOM, "cora@cfn.example", "chair")
    server.member(ROOM, "fay@cfn.example", "facilitator")
    server.member(ROOM, "bob@cfn.example")
    server.member(ROOM, "dan@cfn.example")
    server.user("sue@cfn.example", role="staff")
    server.member(ROOM, "sue@cfn.example")
    server.user("ann@cfn.example", role="admin")
    server.user("carol@cfn.example")
    return {}


async def joined(clients: Any, who: str) -> Client:
    client = await clients(f"{who}@cfn.example")
    await client.call("join", room=ROOM)
    return client


async def new_idea(
    client: Client, title: str = "Signpost frequent callers", cid: str = "i1"
) -> int:
    made = await client.call(
        "idea.create",
        room=ROOM,
        title=title,
        body="Point frequent callers to peer support.",
        cid=cid,
    )
    return made["idea"]["id"]


async def test_an_idea_is_created_with_its_own_thread_and_a_retry_creates_nothing(
    server: Running, people: Any, clients: Any
) -> None:
    bob, dan = await joined(clients, "bob"), await joined(clients, "dan")
    made = await bob.call("idea.create", room=ROOM, title="Peer support", body="Why not?", cid="x")
    ev = await dan.event("idea.created")
    assert ev["data"]["id"] == made["idea"]["id"] and ev["data"]["status"] == "proposed"
    assert ev["data"]["author"]["name"] == "Bob" and ev["data"]["thread"] is not None
    again = await bob.call("idea.create", room=ROOM, title="Peer support", body="Why not?", cid="x")
    assert again == made  # the same reply, thread included, for a client that reconnected
    assert server.db.execute("SELECT count(*) FROM ideas").fetchone()[0] == 1
    # the idea's discussion is a real thread: members reply there
    thread = ev["data"]["thread"]
    await dan.call("message.post", room=ROOM, thread=thread, body="Yes please", cid="r1")
    history = await bob.call("history", room=ROOM, thread=thread)
    assert [m["body"] for m in history["messages"]] == ["Why not?", "Yes please"]


async def test_support_is_one_per_member_and_can_be_withdrawn(
    server: Running, people: Any, clients: Any
) -> None:
    bob, dan = await joined(clients, "bob"), await joined(clients, "dan")
    idea = await new_idea(bob)
    assert (await dan.call("idea.support", idea=idea))["count"] == 1
    assert (await dan.event("idea.supporters", idea=idea))["data"]["count"] == 1
    assert (await dan.call("idea.support", idea=idea))["count"] == 1  # twice counts once
    assert (await bob.call("idea.support", idea=idea))["count"] == 2
    assert [
        e["data"]["count"]
        for e in await bob.stored_events(ROOM, 5)
        if e["type"] == "idea.supporters"
    ] == [1, 2]  # no event for the repeat
    assert (await dan.call("idea.unsupport", idea=idea))["count"] == 1
    assert [
        e["data"]["count"]
        for e in await bob.stored_events(ROOM, 6)
        if e["type"] == "idea.supporters"
    ][-1] == 1
    listed = (await dan.call("idea.list", room=ROOM))["ideas"]
    assert listed[0]["supporters"] == 1 and listed[0]["supported"] is False


async def test_statuses_move_along_with_notes_and_a_timeline(
    server: Running, people: Any, clients: Any
) -> None:
    cora, bob = await joined(clients, "cora"), await joined(clients, "bob")
    idea = await new_idea(bob)
    for status in ("discussing", "adopted", "in_progress", "done"):
        await cora.call("idea.status", idea=idea, status=status, note=f"now {status}")
        ev = await bob.event("idea.status", idea=idea)
        assert ev["data"]["status"] == status and ev["data"]["note"] == f"now {status}"
        assert ev["data"]["by"]["name"] == "Cora"
    got = (await bob.call("idea.get", idea=idea))["idea"]
    assert [t["status"] for t in got["timeline"]] == [
        "proposed",
        "discussing",
        "adopted",
        "in_progress",
        "done",
    ]
    assert got["status"] == "done"
    assert any(e["action"] == "idea.status" for e in audit.entries(server.db))


async def test_not_taken_forward_needs_a_reason(server: Running, people: Any, clients: Any) -> None:
    cora, bob = await joined(clients, "cora"), await joined(clients, "bob")
    idea = await new_idea(bob)
    assert await cora.error("idea.status", idea=idea, status="not_taken_forward") == "bad_request"
    assert (
        await cora.error("idea.status", idea=idea, status="not_taken_forward", note="   ")
        == "bad_request"
    )
    assert await cora.error("idea.status", idea=idea, status="shelved", note="x") == "bad_request"
    await cora.call(
        "idea.status",
        idea=idea,
        status="not_taken_forward",
        note="Already covered by the 111 service.",
    )
    got = (await bob.call("idea.get", idea=idea))["idea"]
    assert got["status"] == "not_taken_forward"
    assert got["timeline"][-1]["note"] == "Already covered by the 111 service."


@pytest.mark.parametrize(
    "who,allowed", [("cora", True), ("fay", True), ("sue", True), ("ann", True), ("bob", False)]
)
async def test_only_chairs_facilitators_staff_and_admins_set_status_and_merge(
    server: Running, people: Any, clients: Any, who: str, allowed: bool
) -> None:
    dan = await joined(clients, "dan")
    first, second = await new_idea(dan, "A", "a"), await new_idea(dan, "B", "b")
    actor = await joined(clients, who)
    if allowed:
        await actor.call("idea.status", idea=first, status="discussing")
        await actor.call("idea.merge", idea=second, into=first)
    else:
        assert await actor.error("idea.status", idea=first, status="adopted") == "forbidden"
        assert await actor.error("idea.merge", idea=second, into=first) == "forbidden"
        assert (
            server.db.execute("SELECT status FROM ideas WHERE id = ?", (first,)).fetchone()[0]
            == "proposed"
        )
        await actor.call("idea.support", idea=first)  # members do support ideas


async def test_merging_carries_supporters_over_without_counting_anyone_twice(
    server: Running, people: Any, clients: Any
) -> None:
    cora, bob, dan, fay = [await joined(clients, w) for w in ("cora", "bob", "dan", "fay")]
    kept, dup = await new_idea(bob, "Peer support", "k"), await new_idea(dan, "Peers", "d")
    await bob.call("idea.support", idea=kept)
    await dan.call("idea.support", idea=kept)
    await dan.call("idea.support", idea=dup)
    await fay.call("idea.support", idea=dup)
    await dan.call(
        "message.post",
        room=ROOM,
        body="Same as the other one?",
        cid="m",
        thread=(await dan.call("idea.get", idea=dup))["idea"]["thread"],
    )
    merged = await cora.call("idea.merge", idea=dup, into=kept)
    assert merged["count"] == 3  # bob, dan, fay: dan once
    ev = await bob.event("idea.merged", idea=dup)
    assert ev["data"]["into"] == kept
    assert (await bob.event("idea.supporters", idea=kept, count=3))["seq"] > ev["seq"]
    got = (await bob.call("idea.get", idea=dup))["idea"]
    assert got["merged_into"] == kept and got["merged_title"] == "Peer support"
    thread = await bob.call("history", room=ROOM, thread=got["thread"])
    assert thread["messages"][-1]["body"] == "Same as the other one?"
    board = (await bob.call("idea.list", room=ROOM))["ideas"]
    assert [i["id"] for i in board] == [kept]
    assert await bob.error("idea.support", idea=dup) == "conflict"
    assert await cora.error("idea.merge", idea=kept, into=kept) == "bad_request"
    assert await cora.error("idea.merge", idea=kept, into=dup) == "conflict"


async def test_board_sorts_by_support_newest_and_status_and_filters(
    server: Running, people: Any, clients: Any
) -> None:
    cora, bob, dan = [await joined(clients, w) for w in ("cora", "bob", "dan")]
    ids = [await new_idea(bob, t, t) for t in ("A", "B", "C")]
    await dan.call("idea.support", idea=ids[0])
    await bob.call("idea.support", idea=ids[0])
    await dan.call("idea.support", idea=ids[1])
    await cora.call("idea.status", idea=ids[2], status="adopted")

    async def order(**kw: Any) -> list[int]:
        return [i["id"] for i in (await dan.call("idea.list", room=ROOM, **kw))["ideas"]]

    assert await order(sort="support") == [ids[0], ids[1], ids[2]]
    assert await order(sort="newest") == [ids[2], ids[1], ids[0]]
    assert await order(sort="status") == [ids[1], ids[0], ids[2]]
    assert await order(status="adopted") == [ids[2]]
    assert await dan.error("idea.list", room=ROOM, sort="random") == "bad_request"


async def test_outsiders_cannot_see_or_touch_a_groups_ideas(
    server: Running, people: Any, clients: Any
) -> None:
    bob = await joined(clients, "bob")
    idea = await new_idea(bob)
    carol = await clients("carol@cfn.example")
    assert await carol.error("idea.support", idea=idea) == "not_found"
    assert await carol.error("idea.get", idea=idea) == "not_found"
    assert await carol.error("idea.list", room=ROOM) == "forbidden"
    assert await carol.error("idea.create", room=ROOM, title="t", body="b", cid="c") == "not_joined"
    assert server.db.execute("SELECT count(*) FROM idea_supporters").fetchone()[0] == 0


def test_demo_has_an_open_poll_and_ideas_at_different_statuses_with_notes(
    tmp_path: Any,
) -> None:
    from server.cli.demo import load_demo
    from server.storage.engine import open_sync
    from tests import pg

    conn = open_sync(pg.target(tmp_path / "demo.db"))
    load_demo(conn)
    open_polls = conn.execute(
        "SELECT question FROM polls p JOIN groups g ON g.id = p.group_id"
        " WHERE p.closed_at IS NULL AND g.slug = 'north-yorkshire'"
    ).fetchall()
    assert any("next meeting" in r[0] for r in open_polls)
    statuses = {r[0] for r in conn.execute("SELECT status FROM ideas")}
    assert {"proposed", "discussing", "in_progress", "done", "not_taken_forward"} <= statuses
    notes = [r[0] for r in conn.execute("SELECT note FROM idea_status_log WHERE note != ''")]
    assert any("peer-support" in n or "peer support" in n for n in notes)
    conn.close()


def test_demo_history_is_spread_over_the_past_weeks(tmp_path: Any) -> None:
    """Threads, replies and idea steps happen on different days, all in the past, in order."""
    import time

    from server.cli.demo import load_demo
    from server.storage.engine import open_sync
    from tests import pg

    conn = open_sync(pg.target(tmp_path / "demo.db"))
    load_demo(conn)
    now, day = time.time() * 1000, 86_400_000
    last = [r[0] for r in conn.execute("SELECT last_activity_at FROM threads")]
    assert len({int(t // day) for t in last}) == len(last), "each thread on its own day"
    for (idea,) in conn.execute("SELECT id FROM ideas"):
        steps = [
            r[0] for r in conn.execute("SELECT at FROM idea_status_log WHERE idea_id = ?", (idea,))
        ]
        assert len({int(t // day) for t in steps}) == len(steps), "a timeline over days"
    every = [r[0] for r in conn.execute("SELECT at FROM events ORDER BY room_id, seq")]
    for (room_id,) in conn.execute("SELECT id FROM rooms"):
        times = [
            r[0]
            for r in conn.execute(
                "SELECT at FROM events WHERE room_id = ? ORDER BY seq", (room_id,)
            )
        ]
        assert times == sorted(times), "each room's history reads in order"
    assert max(every) < now
    assert now - min(every) > 21 * day and now - max(every) < 7 * day
    before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    load_demo(conn)  # a second run on the same database changes nothing
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == before
    conn.close()
