"""Several real ``serve`` processes on one database and one Redis, clients spread across
them, no sticky sessions: every committed event reaches every subscriber once, in seq
order, whatever dies; the hub's counters say which path each event took.

The database is SQLite shared by the processes on the first pass and one PostgreSQL
database on the ``CFN_TEST_DB=postgres`` pass: each test runs once per pass, on each engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests import pg
from tests.cluster import Cluster, Node
from tests.harness import Client

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed (.ci/run does)"
)


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, nodes: int = 2, **env: str) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path, nodes, **env)
    try:
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()


async def joined(node: Node, who: dict[str, Any], **args: Any) -> tuple[Client, dict[str, Any]]:
    # Unbounded receive queue: a listener the test reads only at the end must not stall
    # its connection (pongs queue behind events) while the load runs.
    client = await node.connect(who["token"], who["subprotocol"], max_queue=None)
    reply = await client.call("join", room=who["room"], **args)
    return client, reply


def seqs(client: Client, room: str) -> list[int]:
    return [e["seq"] for e in client.events if e["room"] == room and e["seq"] is not None]


async def post(client: Client, who: dict[str, Any], cid: str) -> dict[str, Any]:
    return await client.call(
        "message.post", room=who["room"], thread=who["thread"], body=f"post {cid}", cid=cid
    )


def stored_tail(c: Cluster, room: str) -> int:
    with contextlib.closing(pg.direct(c.db)) as db:
        row = db.execute("SELECT last_seq FROM rooms WHERE slug = ?", (room,)).fetchone()
    return int(row[0])


async def until(check: Any, timeout: float, what: str) -> float:  # noqa: ASYNC109
    """Poll ``check()`` until true; returns the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_posts_on_one_process_reach_subscribers_on_the_others_once_each_in_order(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, 3) as c:
        people = c.arrange(rooms=1, people=3)
        await c.start()
        poster, *listeners = [(await joined(c.nodes[i], people[i]))[0] for i in range(3)]
        base = stored_tail(c, "room-0")
        for i in range(20):
            await post(poster, people[0], f"p{i}")
        for client in listeners:
            await client.stored_events("room-0", 20, timeout=10)
            await client.drain(0.3)
            assert seqs(client, "room-0") == list(range(base + 1, base + 21))
        sender, receivers = c.nodes[0].delivery(), [c.nodes[i].delivery() for i in (1, 2)]
        assert sender["delivery"].get("local", 0) >= 20
        for got in receivers:
            assert got["delivery"].get("backplane", 0) >= 20, got  # over Redis, not the tail
            assert got["backplane"]["connected"] is True


async def test_crossing_publishes_from_three_processes_still_leave_no_gap(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, 3, CFN_BACKPLANE_DELAY_MS="200") as c:
        people = c.arrange(rooms=1, people=6)
        await c.start()
        clients = [(await joined(c.nodes[i % 3], p))[0] for i, p in enumerate(people)]
        base = stored_tail(c, "room-0")

        async def burst(n: int) -> None:
            for i in range(8):
                await post(clients[n], people[n], f"x{n}-{i}")

        await asyncio.gather(*(burst(n) for n in range(6)))
        total = stored_tail(c, "room-0") - base
        assert total == 48
        for client in clients:
            await client.stored_events("room-0", total, timeout=15)
            await client.drain(0.3)
            assert seqs(client, "room-0") == list(range(base + 1, base + 1 + total))
        filled = sum(n.delivery()["delivery"].get("gap_fill", 0) for n in c.nodes)
        assert filled > 0, "the injected delay should have made publishes cross"


async def test_sigkill_one_process_mid_load_loses_nothing_for_survivors_or_the_resumed(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, 3) as c:
        people = c.arrange(rooms=1, people=6)
        await c.start()
        sessions = [await joined(c.nodes[i % 3], p) for i, p in enumerate(people)]
        base = sessions[0][1]["seq"]
        epoch = sessions[0][1]["epoch"]
        acked: set[str] = set()
        stop = asyncio.Event()

        async def load(n: int) -> None:
            # Stopped by a flag, not by cancelling: a load that missed its cancellation
            # carried on posting until the resume was past the replay limit.
            client = sessions[n][0]
            with contextlib.suppress(websockets.ConnectionClosed, OSError, TimeoutError):
                i = 0
                while not stop.is_set():
                    await post(client, people[n], f"k{n}-{i}")
                    acked.add(f"k{n}-{i}")
                    i += 1
                    await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(load(n)) for n in range(6)]
        await asyncio.sleep(1.5)
        c.nodes[2].kill()  # clients 2 and 5 lose their process mid-load
        await asyncio.sleep(1.0)
        stop.set()
        async with asyncio.timeout(15):
            await asyncio.gather(*tasks)
        last = stored_tail(c, "room-0")
        assert last - base > 30, "the load did not get going"
        for n in (0, 1, 3, 4):  # survivors: every committed seq, once, in order
            client = sessions[n][0]
            await client.stored_events("room-0", last - base, timeout=10)
            await client.drain(0.3)
            assert seqs(client, "room-0") == list(range(base + 1, last + 1)), n
        for n in (2, 5):  # the killed process's clients resume on another, through the proxy
            seen = seqs(sessions[n][0], "room-0")
            assert seen == list(range(base + 1, base + 1 + len(seen)))
            since = seen[-1] if seen else base
            client, reply = await joined(c.nodes[0], people[n], since=since, epoch=epoch)
            assert (reply["recovered"], reply["seq"]) == (True, last), (since, reply)
            if reply["seq"] > since:
                await client.stored_events("room-0", reply["seq"] - since)
            assert seen + seqs(client, "room-0") == list(range(base + 1, reply["seq"] + 1))
        with contextlib.closing(pg.direct(c.db)) as db:
            stored = {r[0] for r in db.execute("SELECT cid FROM messages WHERE cid LIKE 'k%'")}
        assert acked <= stored  # nothing acknowledged was lost


async def test_sigkill_redis_mid_load_and_restart_heals_with_no_gap(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as c:
        people = c.arrange(rooms=1, people=2)
        await c.start()
        (poster, start), (listener, _) = [await joined(c.nodes[i], people[i]) for i in (0, 1)]
        base = start["seq"]

        async def load() -> None:
            for i in range(10_000):
                await post(poster, people[0], f"r{i}")
                await asyncio.sleep(0.02)

        task = asyncio.create_task(load())
        await asyncio.sleep(1.0)
        c.redis.kill()
        await asyncio.sleep(1.0)
        c.redis.start()  # the same port, empty: every subscription is gone
        restarted = time.monotonic()
        before = c.nodes[1].delivery()["backplane"].get("subscribed", 0)
        heal = await until(
            lambda: (
                c.nodes[1].delivery()["backplane"].get("subscribed", 0) > before
                and c.nodes[1].delivery()["backplane"]["connected"]
            ),
            15,
            "the listener never re-subscribed",
        )
        received = c.nodes[1].delivery()["backplane"].get("received", 0)
        await until(
            lambda: c.nodes[1].delivery()["backplane"].get("received", 0) > received,
            10,
            "live delivery over Redis did not come back",
        )
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.3)
        last = stored_tail(c, "room-0")
        await listener.stored_events("room-0", last - base, timeout=10)
        await listener.drain(0.3)
        assert seqs(listener, "room-0") == list(range(base + 1, last + 1))
        counts = c.nodes[1].delivery()["delivery"]
        assert counts.get("resyncs", 0) >= 2  # the first subscribe and the one after restart
        print(
            f"\nRedis SIGKILL + restart: healed {heal:.2f}s after the restart "
            f"({time.monotonic() - restarted:.2f}s to live delivery), {last - base} events"
        )


async def test_redis_down_five_seconds_delivery_continues_through_the_database(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, 2) as c:
        people = c.arrange(rooms=1, people=2)
        await c.start()
        (poster, start), (listener, _) = [await joined(c.nodes[i], people[i]) for i in (0, 1)]
        base = start["seq"]
        c.redis.kill()
        down = time.monotonic()
        worst = 0.0
        n = 0
        while time.monotonic() - down < 5:
            await post(poster, people[0], f"d{n}")  # the commit never waits on Redis
            posted = time.monotonic()
            n += 1
            await listener.stored_events("room-0", n, timeout=2.0)
            worst = max(worst, time.monotonic() - posted)
        assert worst <= 2.0
        counts = c.nodes[1].delivery()["delivery"]
        assert counts.get("tail", 0) + counts.get("resync", 0) >= n - 1, counts
        c.redis.start()
        await post(poster, people[0], "after")
        await listener.stored_events("room-0", n + 1, timeout=10)
        assert seqs(listener, "room-0") == list(range(base + 1, base + n + 2))
        print(f"\nRedis down 5 s: {n} posts, worst delivery through the database {worst:.2f}s")


async def test_presence_drops_a_dead_process_within_the_ttl_and_a_restart_causes_no_storm(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, 3) as c:
        people = c.arrange(rooms=1, people=3)
        await c.start()
        a, _ = await joined(c.nodes[0], people[0])
        b, _ = await joined(c.nodes[1], people[1])
        d, _ = await joined(c.nodes[2], people[2])
        await a.event("presence.join", timeout=5, id=people[1]["id"])
        await a.event("presence.join", timeout=5, id=people[2]["id"])
        names = {m["id"] for m in (await b.call("presence", room="room-0"))["members"]}
        assert names == {p["id"] for p in people}  # the union over three processes

        # A rolling restart of node 2: its member reconnects to node 1 at once.
        c.nodes[2].stop()
        with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
            await d.drain(1.0)
        await joined(c.nodes[1], people[2])
        await c.nodes[2].start()
        a.events.clear()
        await asyncio.sleep(4.5)  # longer than the TTL: the old process's keys lapse
        await a.drain(0.2)
        flaps = [e for e in a.events if e["type"].startswith("presence.")]
        assert flaps == [], flaps

        # A process that dies: its member leaves everyone else's view within the TTL.
        c.nodes[0].kill()
        killed = time.monotonic()
        left = await b.event("presence.leave", timeout=6, id=people[0]["id"])
        assert left["data"]["name"] == people[0]["name"]
        assert time.monotonic() - killed <= 3 + 1.5
        names = {m["id"] for m in (await b.call("presence", room="room-0"))["members"]}
        assert names == {people[1]["id"], people[2]["id"]}


def _restore(c: Cluster, copy: Path) -> None:
    """What an admin does: with every process stopped, put the backup in place (the SQLite
    file copied over the database, or the dump loaded into the database made again)."""
    if pg.wanted():
        pg.restore_in_place(c.db, copy)
        return
    for suffix in ("", "-wal", "-shm"):
        Path(c.db + suffix).unlink(missing_ok=True)
    shutil.copy(copy, c.db)


async def test_a_restore_changes_the_epoch_on_every_process(tmp_path: Path) -> None:
    from server.storage.engine import backup, open_sync

    async with cluster(tmp_path, 2) as c:
        people = c.arrange(rooms=1, people=2)
        await c.start()
        client, first = await joined(c.nodes[0], people[0])
        await post(client, people[0], "before")
        conn = open_sync(c.db)
        backup(conn, c.db, str(tmp_path / "copy.backup"))
        conn.close()
        await client.close()
        c.stop()
        _restore(c, tmp_path / "copy.backup")
        await c.start()
        for node in c.nodes:
            again, reply = await joined(node, people[1], since=first["seq"], epoch=first["epoch"])
            assert reply["epoch"] != first["epoch"]
            assert reply["recovered"] is False
            await again.close()
