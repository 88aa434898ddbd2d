"""The server's edges as an outsider or a broken client meets them, against the real
``python -m server serve`` process, its log read back to prove refusals leave no traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.harness import JSON, MSGPACK, Client, Running
from tests.serverproc import ServerProcess

ALICE = "alice@cfn.example"


@pytest.fixture
async def proc(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, str]]:
    """The server as its own process; alice (chair of north) and her API token."""
    db_path = tmp_path / "edges.db"
    arrange = Running(db_path)
    arrange.member("north", ALICE, "chair")
    token = arrange.token(ALICE)
    arrange.close()
    server = ServerProcess(db_path)
    await server.start()
    yield server, token
    server.stop()


def log_of(server: ServerProcess) -> str:
    return server.log_path.read_text(errors="replace")


def assert_no_traceback(server: ServerProcess) -> None:
    log = log_of(server)
    assert "Traceback" not in log and "ERROR" not in log, log


async def next_reply(client: Client) -> dict:
    while True:
        msg = await client._read_one(10)
        if msg.get("op") == "reply":
            return msg


# --- item 15: text that cannot be stored ------------------------------------------------------


async def test_a_lone_surrogate_over_a_live_json_socket_is_bad_request_and_logs_nothing(
        proc: tuple[ServerProcess, str]) -> None:
    server, token = proc
    client = await server.connect(token, JSON)
    await client.call("join", room="north")
    for op, args in [("thread.create", {"title": "x\udcff", "body": "b", "cid": "s1"}),
                     ("idea.create", {"title": "t", "body": "x\udcff", "cid": "s2"}),
                     ("join", {"room": "north\udcff"})]:
        frame = json.dumps({"op": op, "ref": 9, "room": "north", **args})
        await client.send_raw(frame)
        reply = await next_reply(client)
        assert reply["ref"] == 9 and reply["error"]["code"] == "bad_request", reply
    assert await client.call("ping") == {}
    await client.close()
    assert_no_traceback(server)


async def test_invalid_utf8_over_a_live_msgpack_socket_is_bad_request_with_its_ref(
        proc: tuple[ServerProcess, str]) -> None:
    import msgpack

    server, token = proc
    client = await server.connect(token, MSGPACK)
    packed = msgpack.packb({"op": "thread.create", "ref": 8, "room": "north", "title": "zqzq",
                            "body": "b", "cid": "m1"})
    await client.send_raw(packed.replace(b"zqzq", b"z\xff\xfez"))
    reply = await next_reply(client)
    assert reply["ref"] == 8 and reply["error"]["code"] == "bad_request", reply
    assert await client.call("ping") == {}
    await client.close()
    assert_no_traceback(server)


# --- item 18: close codes and log noise ---------------------------------------------------------


async def test_an_oversize_frame_closes_with_1009_every_time(
        proc: tuple[ServerProcess, str]) -> None:
    server, token = proc
    codes, resets = [], 0
    for i in range(30):
        client = await server.connect(token, JSON if i % 2 else MSGPACK)
        with pytest.raises(ConnectionClosed) as closed:  # while sending, or reading after
            await client.send_raw(client.encode({"op": "ping", "ref": 1, "pad": "x" * 4_000_000}))
            for _ in range(10):
                await client._read_one(10)
        codes.append(client.ws.close_code)
        resets += isinstance(closed.value.__cause__, ConnectionResetError)
    assert resets == 0, f"{resets} of 30 connections were reset, not closed"
    assert codes == [1009] * 30, codes
    assert_no_traceback(server)


async def test_a_refused_upgrade_logs_one_info_line_not_an_error(
        proc: tuple[ServerProcess, str]) -> None:
    server, token = proc
    with pytest.raises(InvalidStatus) as no_subprotocol:
        await websockets.connect(server.url, additional_headers={
            "Authorization": f"Bearer {token}"}, open_timeout=10)
    with pytest.raises(InvalidStatus) as bad_token:
        await websockets.connect(server.url, subprotocols=[JSON],  # type: ignore[list-item]
                                 additional_headers={"Authorization": "Bearer nope"})
    assert no_subprotocol.value.response.status_code == 400
    assert bad_token.value.response.status_code == 403
    await asyncio.sleep(0.3)
    log = log_of(server)
    assert_no_traceback(server)
    assert "without completing handshake" not in log
    assert log.count('"WebSocket /ws" 400') == 1 and log.count('"WebSocket /ws" 403') == 1, log


async def test_a_text_frame_with_invalid_utf8_closes_with_1007_and_logs_no_traceback(
        proc: tuple[ServerProcess, str]) -> None:
    server, token = proc
    client = await server.connect(token, JSON)
    # websockets' client will not send invalid UTF-8 as text: write the frame by hand.
    payload = b'{"op":"ping","ref":1,"x":"\xff"}'
    frame = bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload  # masked, zero key
    client.ws.transport.write(frame)
    with pytest.raises(ConnectionClosed):
        await client._read_one(10)
    assert client.ws.close_code == 1007
    await asyncio.sleep(0.3)
    assert_no_traceback(server)
    assert "Invalid UTF-8" in log_of(server)  # one plain line says what happened
