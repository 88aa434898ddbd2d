"""A minimal WebSocket client as a bare asyncio Protocol, so the load generator stays lean.

On two cores a full client library would cost the generator more CPU per frame than the
server spends. This one counts frames without decoding them and decodes only what it times
(replies it waits for, sampled events). Client frames use an all-zero mask key: valid on
the wire and free to apply.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import struct
from collections.abc import Callable
from typing import Any

import msgpack

# msgpack of {"op": "event", ...} / {"op": "reply", ...}: map header, "op", then the name.
_KIND = slice(5, 10)
EVENT, REPLY = b"event", b"reply"

Sink = Callable[["WSClient", memoryview], None]


class HandshakeError(Exception):
    """The server refused the upgrade (status line given)."""


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\x00\x00\x00\x00" + payload


class WSClient(asyncio.Protocol):
    """One connection speaking cfn.v1.msgpack (or any binary subprotocol)."""

    def __init__(self, host: str, port: int, token: str | None, subprotocol: str) -> None:
        self.host, self.port, self.token, self.subprotocol = host, port, token, subprotocol
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._buf = bytearray()
        self._upgraded = False
        self._refs = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events = 0  # event frames received (not decoded)
        self.on_event: Sink | None = None  # called with the raw payload of each event

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is duck-typed
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {self.subprotocol}\r\n{auth}\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")]).decode("latin-1")
            del buf[: end + 4]
            if " 101 " not in status:
                self.opened.set_exception(HandshakeError(status))
                assert self.transport is not None
                self.transport.close()
                return
            self._upgraded = True
            self.opened.set_result(None)
        self._parse()

    def _parse(self) -> None:
        buf = self._buf
        i, n = 0, len(buf)
        view = memoryview(buf)
        try:
            while n - i >= 2:
                b0, ln = buf[i], buf[i + 1] & 0x7F
                head = 2
                if ln == 126:
                    if n - i < 4:
                        break
                    ln, head = (buf[i + 2] << 8) | buf[i + 3], 4
                elif ln == 127:
                    if n - i < 10:
                        break
                    ln, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
                end = i + head + ln
                if end > n:
                    break
                opcode = b0 & 0x0F
                if opcode == 0x2 or opcode == 0x1:
                    self._message(view[i + head : end])
                elif opcode == 0x9:  # ping: answer with the same payload
                    self._write(_frame(bytes(view[i + head : end]), 0xA))
                elif opcode == 0x8:
                    code = (buf[i + head] << 8 | buf[i + head + 1]) if ln >= 2 else 1005
                    if not self.closed.done():
                        self.closed.set_result(code)
                i = end
        finally:
            view.release()
        if i:
            del buf[:i]

    def _message(self, payload: memoryview) -> None:
        if payload[_KIND] == EVENT:
            self.events += 1
            if self.on_event is not None:
                self.on_event(self, payload)
            return
        msg = msgpack.unpackb(payload, raw=False)
        fut = self._waiting.pop(msg.get("ref"), None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(1006)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost"))
        self._waiting.clear()

    # --- commands ----------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send(self, op: str, **args: Any) -> asyncio.Future[dict[str, Any]]:
        """Send a command; the future gets the decoded reply frame."""
        ref = next(self._refs)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = fut
        self._write(_frame(msgpack.packb({"op": op, "ref": ref, **args}, use_bin_type=True)))
        return fut

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send and return the reply's data; a refusal raises RuntimeError."""
        reply = await self.send(op, **args)
        if not reply.get("ok"):
            raise RuntimeError(f"{op}: {reply.get('error')}")
        return reply.get("data") or {}

    def close(self) -> None:
        self._write(_frame(struct.pack("!H", 1000), 0x8))
        if self.transport is not None:
            self.transport.close()


async def connect(
    host: str, port: int, token: str | None, subprotocol: str = "cfn.v1.msgpack"
) -> WSClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: WSClient(host, port, token, subprotocol), host, port
    )
    await client.opened
    return client
