"""Crash safety: SIGKILL the server under load; nothing acknowledged is lost or doubled."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import websockets

from server.domain import accounts, discussions
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.harness import PASSWORD, SUBPROTOCOLS, Client
from tests.serverproc import ServerProcess

CLIENTS, ROOMS = 20, 4
LOAD_SECONDS = 2.0


def _arrange(db_path: Path) -> list[dict[str, Any]]:
    """Four rooms with one thread each; twenty members, five to a room, each with a token."""
    conn = open_sync(pg.target(db_path))
    people = []
    threads = {}
    for r in range(ROOMS):
        write_sync(conn, accounts.add_group, f"room-{r}", f"Room {r}")
    for i in range(CLIENTS):
        room = f"room-{i % ROOMS}"
        email = f"poster{i}@cfn.example"
        user = write_sync(conn, accounts.add_user, email, f"Poster {i}", "member", PASSWORD)
        write_sync(conn, accounts.add_member, room, email)
        if room not in threads:
            made = write_sync(
                conn, discussions.create_thread, user, room, "Load", "start", f"start-{room}"
            )
            threads[room] = made["thread"]["id"]
        people.append(
            {
                "email": email,
                "room": room,
                "thread": threads[room],
                "token": write_sync(conn, accounts.create_token, email),
                "subprotocol": SUBPROTOCOLS[i % 2],
            }
        )
    conn.close()
    return people


def _seqs(client: Client, room: str) -> list[int]:
    return [e["seq"] for e in client.events if e["room"] == room and e["seq"] is not None]


async def _post_until_killed(
    server: ServerProcess, who: dict[str, Any], n: int, acked: dict[str, int], state: dict[str, Any]
) -> None:
    client = await server.connect(who["token"], who["subprotocol"])
    state["client"] = client
    joined = await client.call("join", room=who["room"])
    state["start"], state["epoch"] = joined["seq"], joined["epoch"]
    i = 0
    with contextlib.suppress(websockets.ConnectionClosed, OSError, TimeoutError):
        while True:
            cid = f"p{n}-{i}"
            state["pending"] = cid
            data = await client.call(
                "message.post",
                room=who["room"],
                thread=who["thread"],
                body=f"message {cid}",
                cid=cid,
            )
            acked[cid] = data["message"]["id"]
            state["pending"] = None
            i += 1


async def test_sigkill_under_load_loses_no_acknowledged_post_and_resume_is_complete(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "crash.db"
    people = _arrange(db_path)
    server = ServerProcess(db_path)
    await server.start()
    acked: dict[str, int] = {}
    states: list[dict[str, Any]] = [{} for _ in people]
    try:
        tasks = [
            asyncio.create_task(_post_until_killed(server, who, n, acked, states[n]))
            for n, who in enumerate(people)
        ]
        await asyncio.sleep(LOAD_SECONDS)
        assert len(acked) > CLIENTS * 5, "the load did not get going"
        server.kill()  # SIGKILL: no shutdown, no flush, whatever was in flight
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        acked_at_kill = len(acked)

        await server.start()
        db = pg.direct(db_path)
        # Every room's event log runs 1..N with no gap, and rooms.last_seq agrees.
        for slug, last_seq in db.execute("SELECT slug, last_seq FROM rooms"):
            seqs = [
                r[0]
                for r in db.execute(
                    "SELECT e.seq FROM events e JOIN rooms r ON r.id = e.room_id"
                    " WHERE r.slug = ? ORDER BY e.seq",
                    (slug,),
                )
            ]
            assert seqs == list(range(1, last_seq + 1)), f"gap in {slug}"
        # Every acknowledged post is stored exactly once, with the id its reply gave.
        for cid, message_id in acked.items():
            rows = db.execute("SELECT id FROM messages WHERE cid = ?", (cid,)).fetchall()
            assert rows == [(message_id,)], cid

        # Every client resumes from the last seq it saw and ends with every event, once;
        # then retries the post it had in flight, which must not be stored twice.
        for n, who in enumerate(people):
            state, old = states[n], states[n]["client"]
            seen = _seqs(old, who["room"])
            assert seen == list(range(state["start"] + 1, state["start"] + 1 + len(seen)))
            since = seen[-1] if seen else state["start"]
            client = await server.connect(who["token"], who["subprotocol"])
            joined = await client.call("join", room=who["room"], since=since, epoch=state["epoch"])
            assert joined["recovered"] is True
            if joined["seq"] > since:
                await client.stored_events(who["room"], joined["seq"] - since)
            assert seen + _seqs(client, who["room"]) == list(
                range(state["start"] + 1, joined["seq"] + 1)
            )
            if state.get("pending"):
                cid = state["pending"]
                again = await client.call(
                    "message.post",
                    room=who["room"],
                    thread=who["thread"],
                    body=f"message {cid}",
                    cid=cid,
                )
                assert db.execute("SELECT id FROM messages WHERE cid = ?", (cid,)).fetchall() == [
                    (again["message"]["id"],)
                ]
            await client.close()
        assert acked_at_kill > 0
        print(
            f"\ncrash test: {acked_at_kill} acknowledged posts by {CLIENTS} clients in "
            f"{LOAD_SECONDS}s, SIGKILL, restart: none lost, none doubled, "
            f"{db.execute('SELECT sum(last_seq) FROM rooms').fetchone()[0]} events gap-free"
        )
        db.close()
    finally:
        server.stop()
