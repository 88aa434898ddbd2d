"""CFN_WS_FAST_PATH=0: the key flows on uvicorn's stock WebSocket and HTTP protocols, with
none of server/transport/'s protocol subclasses and the connection's plain ASGI sends.

This is the fallback for a uvicorn upgrade whose internals moved, so it must keep working
on every run, not only on the day it is needed (docs/reliability.md lists what differs)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from server.settings import Settings
from server.transport.preframed import PREFRAMED
from tests.harness import JSON, MSGPACK, Client, Running, connect
from tests.serverproc import ServerProcess
from tests.test_ws_flow import read_until_closed, shrink_server_side_buffer, small_socket

ALICE, BOB, SLOW = "alice@cfn.example", "bob@cfn.example", "slow@cfn.example"


async def stock(start_server: Callable, **settings: object) -> Running:
    running: Running = await start_server(ws_fast_path=0, **settings)
    assert running.server is not None
    assert running.server.config.ws == "websockets-sansio"
    assert running.server.config.http == "h11"
    return running


def assert_stock_protocols(running: Running) -> None:
    """Every socket the server holds is served by uvicorn's own classes, not ours."""
    assert running.server is not None
    protocols = running.server.server_state.connections
    assert protocols
    for proto in protocols:
        assert type(proto).__module__.startswith("uvicorn.protocols."), type(proto)
    for conn in running.services.connections:  # so the connection sends plain ASGI messages
        assert PREFRAMED not in conn.ws.scope.get("extensions", {})


def test_the_environment_variable_turns_the_fast_path_off() -> None:
    assert Settings.from_env({}).ws_fast_path == 1
    assert Settings.from_env({"CFN_WS_FAST_PATH": "0"}).ws_fast_path == 0
    with pytest.raises(ValueError, match="CFN_WS_FAST_PATH must be 0 or 1"):
        Settings.from_env({"CFN_WS_FAST_PATH": "2"})


@pytest.mark.parametrize("sp", [JSON, MSGPACK], ids=["json", "msgpack"])
async def test_hello_join_post_fan_out_and_resume(start_server: Callable, sp: str) -> None:
    running = await stock(start_server)
    running.member("north", ALICE)
    running.member("north", BOB)
    alice = await connect(running, running.token(ALICE), sp)
    bob = await connect(running, running.token(BOB), sp)
    try:
        assert_stock_protocols(running)
        hello = await alice.call("hello", client="test")
        assert hello["user"]["name"] == "Alice" and hello["groups"][0]["slug"] == "north"
        await alice.call("join", room="north")
        joined = await bob.call("join", room="north")
        thread = (
            await alice.call("thread.create", room="north", title="T", body="first", cid="t")
        )["thread"]["id"]
        await alice.call("message.post", room="north", thread=thread, body="second", cid="m1")
        seen = await bob.stored_events("north", 3)  # fan-out to the second client
        assert [e["seq"] for e in seen] == [1, 2, 3]  # thread, its first message, the post
        assert seen[2]["data"]["body"] == "second"
        await bob.close()

        for i in range(3):  # missed while bob was away
            await alice.call(
                "message.post", room="north", thread=thread, body=f"missed {i}", cid=f"x{i}"
            )
        bob = await connect(running, running.token(BOB), sp)
        resumed = await bob.call("join", room="north", since=3, epoch=joined["epoch"])
        assert resumed["recovered"] is True and resumed["seq"] == 6
        replay = await bob.stored_events("north", 3)
        assert [e["seq"] for e in replay] == [4, 5, 6]
        assert [e["data"]["body"] for e in replay] == [f"missed {i}" for i in range(3)]
    finally:
        await alice.close()
        await bob.close()


async def test_a_frame_over_the_size_limit_closes_with_1009(start_server: Callable) -> None:
    running = await stock(start_server)
    running.member("north", ALICE)
    alice = await connect(running, running.token(ALICE), JSON)
    await alice.call("join", room="north")
    await alice.send_raw('{"op":"ping","ref":1,"pad":"' + "x" * 70_000 + '"}')
    with pytest.raises(ConnectionClosed):
        for _ in range(10):
            await alice._read_one(10)
    assert alice.ws.close_code == 1009


async def test_a_client_that_stops_reading_is_closed_with_4008(start_server: Callable) -> None:
    running = await stock(start_server, send_queue=20)
    for email in (ALICE, BOB, SLOW):
        running.member("north", email)
    alice = await connect(running, running.token(ALICE), JSON)
    slow_sock = small_socket(running.port)
    slow = await connect(running, running.token(SLOW), JSON, sock=slow_sock, max_queue=2)
    shrink_server_side_buffer(running, slow_sock)
    await alice.call("join", room="north")
    await slow.call("join", room="north")
    thread = (await alice.call("thread.create", room="north", title="Big", body="start", cid="t"))[
        "thread"
    ]["id"]
    for i in range(120):  # slow reads none of this
        await alice.call(
            "message.post", room="north", thread=thread, body=f"{i} {'x' * 8_000}", cid=f"m{i}"
        )
    for _ in range(500):
        if all(c.close_code == 4008 for c in running.services.connections if c.user_name == "Slow"):
            break
        await asyncio.sleep(0.02)
    await read_until_closed(slow)
    assert slow.ws.close_code == 4008
    got = [e["seq"] for e in slow.events if e["seq"] is not None]
    assert got == list(range(1, len(got) + 1)) and len(got) < 2 + 120
    await alice.call("ping")  # the room went on
    await alice.close()


async def test_shutdown_closes_with_1001(start_server: Callable) -> None:
    running = await stock(start_server)
    running.member("north", ALICE)
    alice = await connect(running, running.token(ALICE), JSON)
    await alice.call("join", room="north")
    await running.stop()
    await read_until_closed(alice)
    assert alice.ws.close_code == 1001


async def test_the_real_command_line_with_the_variable_set_serves_and_closes_with_1001(
    tmp_path: Path,
) -> None:
    proc = ServerProcess(tmp_path / "cfn.db", CFN_WS_FAST_PATH="0")
    running = Running(proc.db_path)  # only to arrange data in the same file
    running.member("north", ALICE)
    token = running.token(ALICE)
    await proc.start()
    try:
        alice: Client = await proc.connect(token, JSON)
        await alice.call("join", room="north")
        await asyncio.to_thread(proc.stop)  # SIGINT, as an admin's Ctrl-C or systemd would
        await read_until_closed(alice)
        assert alice.ws.close_code == 1001
    finally:
        proc.kill()
        running.close()
