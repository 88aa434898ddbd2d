"""Resource limits: connections per member and in total, silent sockets; each answered
with a clear status or close, and the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.harness import Running, connect


async def _refused_status(running: Running, token: str) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as info:
        await connect(running, token)
    return info.value.response.status_code, info.value.response.body or b""


async def test_connections_beyond_the_per_member_limit_get_429_before_accept(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(max_connections_per_user=3)
    token = running.token("alice@cfn.example")
    held = [await connect(running, token) for _ in range(3)]
    status, body = await _refused_status(running, token)
    assert status == 429 and b"Too many connections" in body
    other = await connect(running, running.token("bob@cfn.example"))  # others unaffected
    assert await other.call("ping") == {}
    await held.pop().close()
    await asyncio.sleep(0.2)
    again = await connect(running, token)  # a freed slot can be used again
    assert await again.call("ping") == {}
    for c in [*held, other, again]:
        await c.close()


async def test_connections_beyond_the_server_total_get_429_and_the_rest_keep_working(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(max_connections=4)
    held = [await connect(running, running.token(f"user{n}@cfn.example")) for n in range(4)]
    for n in range(3):
        status, _ = await _refused_status(running, running.token(f"late{n}@cfn.example"))
        assert status == 429
    assert [await c.call("ping") for c in held] == [{}] * 4
    for c in held:
        await c.close()


async def _closed_within(port: int, send: bytes, seconds: float) -> bool:
    """Open a raw socket, send ``send`` (maybe nothing), and see if the server hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if send:
        writer.write(send)
        await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(1000), seconds)
        return data == b""
    except TimeoutError:
        return False
    finally:
        writer.close()


async def test_a_silent_socket_is_closed_after_the_handshake_timeout(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(handshake_timeout=0.5)
    assert await _closed_within(running.port, b"", 3)


async def test_a_socket_trickling_headers_is_closed_after_the_handshake_timeout(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(handshake_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
    loop = asyncio.get_running_loop()
    started = loop.time()
    closed = False
    for _ in range(30):  # one header line every 0.1 s, never finishing the request
        try:
            writer.write(b"X-Slow: yes\r\n")
            await writer.drain()
            if await asyncio.wait_for(reader.read(1000), 0.1) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except ConnectionError:
            closed = True
            break
    writer.close()
    assert closed and loop.time() - started < 2.5


async def test_many_silent_sockets_do_not_stop_real_clients(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(handshake_timeout=1.0)
    silent = [await asyncio.open_connection("127.0.0.1", running.port) for _ in range(200)]
    client = await connect(running, running.token("alice@cfn.example"))
    assert await client.call("ping") == {}
    await asyncio.sleep(1.5)
    closed = 0
    for reader, writer in silent:
        try:
            closed += await asyncio.wait_for(reader.read(10), 2) == b""
        except (TimeoutError, ConnectionError):
            pass
        writer.close()
    assert closed == 200
    assert await client.call("ping") == {}
    await client.close()


async def test_a_normal_page_request_is_not_cut_by_the_handshake_timeout(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(handshake_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    response = await asyncio.wait_for(reader.read(1000), 3)
    assert response.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_a_burst_of_simultaneous_handshakes_cannot_exceed_the_per_member_limit(
    start_server: Callable[..., Any],
) -> None:
    running = await start_server(max_connections_per_user=3)
    token = running.token("alice@cfn.example")
    results = await asyncio.gather(
        *(connect(running, token) for _ in range(12)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InvalidStatus)]
    assert len(accepted) == 3 and len(refused) == 9
    assert all(r.response.status_code == 429 for r in refused)
    for c in accepted:
        await c.close()
