"""Flow control and the server's life: the 4008 slow-consumer close, restart, shutdown 1001."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed

from tests.harness import Client, Running, connect

ALICE, BOB, SLOW = "alice@cfn.example", "bob@cfn.example", "slow@cfn.example"


def small_socket(port: int) -> socket.socket:
    """A connected client socket with a tiny receive buffer, so a reader that stops reading
    makes the server's writes back up after a few frames instead of a few megabytes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def shrink_server_side_buffer(running: Running, client_sock: socket.socket) -> None:
    """Give the server's end of that connection a small fixed send buffer too: Linux would
    otherwise grow it to megabytes on loopback, and the test would need that much data."""
    port = client_sock.getsockname()[1]
    for proto in running.server.server_state.connections:  # type: ignore[union-attr]
        peer = proto.transport.get_extra_info("peername")
        if peer and peer[1] == port:
            sock = proto.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)
            return
    raise AssertionError("the server's end of the slow connection was not found")


async def read_until_closed(client: Client) -> None:
    try:
        while True:
            await client._read_one(20)
    except ConnectionClosed:
        return


async def pump(client: Client, arrivals: dict[int, float]) -> None:
    """Read everything as it comes (a fast client), noting when each stored event arrived."""
    try:
        while True:
            msg = await client._read_one(60)
            if msg["op"] == "event" and msg["seq"] is not None:
                arrivals[msg["seq"]] = time.monotonic()
    except (ConnectionClosed, TimeoutError):
        return


async def test_a_client_that_stops_reading_is_closed_with_4008_and_loses_nothing_on_resume(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server(send_queue=20)
    for email in (ALICE, BOB, SLOW):
        running.member("north", email)
    alice = await connect(running, running.token(ALICE), subprotocol)
    bob = await connect(running, running.token(BOB), subprotocol)
    slow_sock = small_socket(running.port)
    slow = await connect(running, running.token(SLOW), subprotocol, sock=slow_sock, max_queue=2)
    shrink_server_side_buffer(running, slow_sock)
    readers: list[asyncio.Task[None]] = []
    try:
        await alice.call("join", room="north")
        await bob.call("join", room="north")
        joined = await slow.call("join", room="north")
        thread = (
            await alice.call("thread.create", room="north", title="Big", body="start", cid="t")
        )["thread"]["id"]
        # From here ``slow`` never reads until the server gives up on it; the others read
        # everything as it comes.
        alice_seen = {e["seq"]: 0.0 for e in alice.events if e["seq"] is not None}
        bob_seen: dict[int, float] = {}
        readers = [
            asyncio.create_task(pump(alice, alice_seen)),
            asyncio.create_task(pump(bob, bob_seen)),
        ]
        count, body = 120, "x" * 8_000
        final = 2 + count
        sent_at: dict[str, float] = {}
        for i in range(count):
            sent_at[f"m{i}"] = time.monotonic()
            await alice.send(
                "message.post", room="north", thread=thread, body=f"{i} {body}", cid=f"m{i}"
            )
            if i % 4 == 3:
                await asyncio.sleep(0.01)  # a lively room, not one giant burst
        for _ in range(1_000):  # up to 20 s
            if len(bob_seen) >= final and len(alice.replies) >= count:
                break
            await asyncio.sleep(0.02)
        assert sorted(bob_seen) == list(range(1, final + 1)), "bob received everything"
        assert sorted(alice_seen) == list(range(1, final + 1))
        assert len(alice.replies) == count and all(r["ok"] for r in alice.replies.values())
        # Promptly: each post reached bob soon after it was sent, whatever slow did.
        by_cid = {e["data"]["cid"]: e["seq"] for e in bob.events if e["type"] == "message.created"}
        lags = [bob_seen[by_cid[cid]] - t for cid, t in sent_at.items()]
        assert max(lags) < 3.0, f"the room slowed down: worst delay {max(lags):.2f}s"

        # The server cut the slow reader off with 4008 (it may still be finishing the close).
        slow_conns = [c for c in running.services.connections if c.user_name == "Slow"]
        assert all(c.close_code == 4008 for c in slow_conns)

        # Reading again, it gets what was already on the wire, then the 4008 close.
        await read_until_closed(slow)
        assert slow.ws.close_code == 4008
        got = [e["seq"] for e in slow.events if e["seq"] is not None]
        assert got == list(range(1, len(got) + 1)), "what it did get has no gap"
        assert len(got) < final, "it was cut off before the end"

        # It resumes with join since and loses nothing.
        last = got[-1] if got else 0
        again = await connect(running, running.token(SLOW), subprotocol)
        try:
            resumed = await again.call("join", room="north", since=last, epoch=joined["epoch"])
            assert resumed["recovered"] is True and resumed["seq"] == final
            rest = await again.stored_events("north", final - last, timeout=20)
            assert [e["seq"] for e in rest] == list(range(last + 1, final + 1))
            assert rest[-1]["data"]["body"].startswith(f"{count - 1} ")
        finally:
            await again.close()
    finally:
        for c in (alice, bob, slow):
            await c.close()
        for task in readers:
            await task


# --- restart and shutdown -----------------------------------------------------------------


async def test_everything_is_still_there_after_a_restart(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server()
    running.member("north", ALICE)
    token = running.token(ALICE)
    alice = await connect(running, token, subprotocol)
    joined = await alice.call("join", room="north")
    made = await alice.call("thread.create", room="north", title="Kept", body="first", cid="t")
    thread = made["thread"]["id"]
    for i in range(5):
        await alice.call("message.post", room="north", thread=thread, body=f"m{i}", cid=f"c{i}")
    await alice.call("message.edit", message=made["message"]["id"], body="first, edited")
    before = await alice.call("history", room="north")
    await alice.close()

    await running.restart()

    alice = await connect(running, token, subprotocol)
    try:
        after = await alice.call("history", room="north")
        assert after == before and len(after["messages"]) == 6
        resumed = await alice.call("join", room="north", since=0, epoch=joined["epoch"])
        assert resumed["recovered"] is True and resumed["seq"] == 8
        assert resumed["epoch"] == joined["epoch"], "a restart is not a restore"
        replay = await alice.stored_events("north", 8)
        assert [e["seq"] for e in replay] == list(range(1, 9))
        assert replay[-1]["type"] == "message.edited"
        again = await alice.call("message.post", room="north", thread=thread, body="m0", cid="c0")
        assert again["message"]["seq"] == 3, "cid memory survives a restart"
        posted = await alice.call(
            "message.post", room="north", thread=thread, body="new", cid="new"
        )
        assert posted["message"]["seq"] == 9, "seq continues where it stopped"
    finally:
        await alice.close()


async def _post_until_closed(client: Client, thread: int, tag: str) -> list[int]:
    """Pipeline posts until the server closes the line; return the ids it acknowledged."""
    acked: list[int] = []
    sent = 0

    async def reader() -> None:
        try:
            while True:
                msg = await client._read_one(30)
                if msg["op"] == "reply" and msg["ok"] and "message" in msg["data"]:
                    acked.append(msg["data"]["message"]["id"])
        except ConnectionClosed:
            return

    task = asyncio.create_task(reader())
    try:
        while not task.done() and sent < 2_000:
            await client.send(
                "message.post",
                room="north",
                thread=thread,
                body=f"{tag} {sent}",
                cid=f"{tag}-{sent}",
            )
            sent += 1
            if sent % 10 == 0:
                await asyncio.sleep(0.005)
    except ConnectionClosed:
        pass
    await task
    return acked


async def test_shutdown_commits_in_flight_writes_then_closes_with_1001(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server()
    emails = [f"p{i}@cfn.example" for i in range(3)]
    for email in emails:
        running.member("north", email)
    posters = [await connect(running, running.token(e), subprotocol) for e in emails]
    for p in posters:
        await p.call("join", room="north")
    thread = (await posters[0].call("thread.create", room="north", title="T", body="B", cid="t"))[
        "thread"
    ]["id"]
    work = [
        asyncio.create_task(_post_until_closed(p, thread, f"p{i}")) for i, p in enumerate(posters)
    ]
    await asyncio.sleep(0.3)  # writes are streaming in
    await running.stop()
    acked = await asyncio.gather(*work)
    assert all(p.ws.close_code == 1001 for p in posters), [p.ws.close_code for p in posters]
    assert all(len(a) >= 1 for a in acked), "writes were in flight when the server stopped"
    running.close()
    stored = {r[0] for r in running.db.execute("SELECT id FROM messages")}
    for ids in acked:
        assert set(ids) <= stored, "every acknowledged post was committed"
    seqs = [r[0] for r in running.db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_new_connections_are_turned_away_while_shutting_down(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server()
    running.member("north", ALICE)
    alice = await connect(running, running.token(ALICE), subprotocol)
    await alice.call("join", room="north")
    running.services.closing = True  # what shutdown sets first
    try:
        await connect(running, running.token(ALICE), subprotocol)
    except Exception as e:  # refused before accept
        status: Any = getattr(getattr(e, "response", None), "status_code", None)
        assert status == 503
    else:
        raise AssertionError("a connection was accepted during shutdown")
    finally:
        running.services.closing = False
        await alice.close()


# --- keepalive ---------------------------------------------------------------------------


async def _raw_upgrade(
    running: Running,
    token: str,
    subprotocol: str,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-made WebSocket handshake whose client will never answer a ping."""
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def test_the_server_pings_and_drops_a_peer_that_never_answers(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server(ping_interval=0.2, ping_timeout=0.3)
    token = running.token(ALICE)
    answering = await connect(running, token, subprotocol)  # websockets answers pings
    reader, writer = await _raw_upgrade(running, token, subprotocol)
    try:
        received = b""
        started = time.monotonic()
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), 5)
            if not chunk:
                break
            received += chunk
        assert time.monotonic() - started < 4, "the silent peer was dropped in time"
        assert received[:1] == b"\x89", "the first thing it got was a ping frame"
        assert await answering.call("ping") == {}, "a peer that answers stays connected"
    finally:
        writer.close()
        await answering.close()
