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
    proc: tuple[ServerProcess, str],
) -> None:
    server, token = proc
    client = await server.connect(token, JSON)
    await client.call("join", room="north")
    for op, args in [
        ("thread.create", {"title": "x\udcff", "body": "b", "cid": "s1"}),
        ("idea.create", {"title": "t", "body": "x\udcff", "cid": "s2"}),
        ("join", {"room": "north\udcff"}),
    ]:
        frame = json.dumps({"op": op, "ref": 9, "room": "north", **args})
        await client.send_raw(frame)
        reply = await next_reply(client)
        assert reply["ref"] == 9 and reply["error"]["code"] == "bad_request", reply
    assert await client.call("ping") == {}
    await client.close()
    assert_no_traceback(server)


async def test_invalid_utf8_over_a_live_msgpack_socket_is_bad_request_with_its_ref(
    proc: tuple[ServerProcess, str],
) -> None:
    import msgpack

    server, token = proc
    client = await server.connect(token, MSGPACK)
    packed = msgpack.packb(
        {
            "op": "thread.create",
            "ref": 8,
            "room": "north",
            "title": "zqzq",
            "body": "b",
            "cid": "m1",
        }
    )
    await client.send_raw(packed.replace(b"zqzq", b"z\xff\xfez"))
    reply = await next_reply(client)
    assert reply["ref"] == 8 and reply["error"]["code"] == "bad_request", reply
    assert await client.call("ping") == {}
    await client.close()
    assert_no_traceback(server)


# --- item 18: close codes and log noise ---------------------------------------------------------


async def test_an_oversize_frame_closes_with_1009_every_time(
    proc: tuple[ServerProcess, str],
) -> None:
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
    proc: tuple[ServerProcess, str],
) -> None:
    server, token = proc
    with pytest.raises(InvalidStatus) as no_subprotocol:
        await websockets.connect(
            server.url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
        )
    with pytest.raises(InvalidStatus) as bad_token:
        await websockets.connect(
            server.url,
            subprotocols=[JSON],  # type: ignore[list-item]
            additional_headers={"Authorization": "Bearer nope"},
        )
    assert no_subprotocol.value.response.status_code == 400
    assert bad_token.value.response.status_code == 403
    await asyncio.sleep(0.3)
    log = log_of(server)
    assert_no_traceback(server)
    assert "without completing handshake" not in log
    assert log.count('"WebSocket /ws" 400') == 1 and log.count('"WebSocket /ws" 403') == 1, log


async def test_a_text_frame_with_invalid_utf8_closes_with_1007_and_logs_no_traceback(
    proc: tuple[ServerProcess, str],
) -> None:
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


# --- item 16: request bodies and headers are capped before they are read whole -------------


def rss_mb(server: ServerProcess) -> float:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS"))) / 1024


async def raw_post(port: int, path: str, size: int, *, chunked: bool = False) -> bytes:
    """POST ``size`` bytes the way a hostile client would, reading the answer as it sends;
    returns the response's first bytes (the status line and headers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % size
    writer.write(
        b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded"
        b"\r\n%s\r\n\r\n" % (path.encode(), length)
    )

    async def pour() -> None:
        # 128 KiB fields: each within the form parser's own per-field limit, 512 of them
        chunks, sent = [b"a" * 65_536, b"a" * 65_532 + b"&f=a"], 0
        while sent < size:
            chunk = chunks[sent // 65_536 % 2]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
            sent += len(chunk)

    pouring = asyncio.create_task(pour())
    try:
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    finally:
        pouring.cancel()
        await asyncio.gather(pouring, return_exceptions=True)
        writer.close()
    return answer


async def test_huge_form_bodies_get_413_quickly_without_the_server_growing(
    proc: tuple[ServerProcess, str],
) -> None:
    server, _ = proc
    before = rss_mb(server)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.gather(
        *(raw_post(server.port, "/login", 64 << 20, chunked=i % 2) for i in range(4))
    )
    took = loop.time() - started
    grew = rss_mb(server) - before
    print(f"4 x 64 MiB posts: 413 in {took:.2f} s, server RSS grew {grew:.1f} MB")
    assert all(a.startswith(b"HTTP/1.1 413") for a in answers), answers
    assert took < 10 and grew < 25
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        page = await http.get("/login")  # ordinary pages still work
        assert page.status_code == 200
        big = await http.post("/login", data={"email": "a", "note": "x" * 70_000})
        assert big.status_code == 413 and "too much to send" in big.text
        small = await http.post("/login", data={"email": "a", "note": "x" * 60_000})
        assert small.status_code == 403  # read, then refused for its missing CSRF token
    assert_no_traceback(server)


async def test_a_huge_request_header_gets_431_and_ordinary_headers_pass(
    proc: tuple[ServerProcess, str],
) -> None:
    server, _ = proc
    before = rss_mb(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /login HTTP/1.1\r\nhost: x\r\nx-big: ")

    async def pour() -> None:
        for _ in range(256):  # 16 MiB
            writer.write(b"b" * 65_536)
            await writer.drain()

    pouring = asyncio.create_task(pour())
    try:
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    finally:
        pouring.cancel()
        await asyncio.gather(pouring, return_exceptions=True)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431"), answer
    assert rss_mb(server) - before < 10
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        page = await http.get("/login", headers={"x-fine": "c" * 8_000})
        assert page.status_code == 200
    assert_no_traceback(server)
