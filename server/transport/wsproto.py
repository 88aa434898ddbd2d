"""uvicorn's sans-I/O WebSocket protocol, with writes coalesced per turn of the event loop.

Profiling the fan-out showed most of the server's time inside ``transport.write``: one
send() system call per frame per subscriber. When a group commit publishes several events,
each connection's send task writes them one after another in the same turn of the loop;
gathering those writes and sending them once at the end of the turn sends the same bytes
with a fraction of the system calls. A lone frame waits only until the loop's next turn.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

# Pending bytes that are written at once rather than at the next turn: the real transport
# must see a big burst (a long replay) while it happens, so that its pause_writing() holds
# the sender back instead of the whole burst piling up here unseen.
COALESCE_BYTES = 64 * 1024

# ASGI scope extension: an awaitable taking a whole server frame, already framed (see wire()).
PREFRAMED = "cfn.preframed"


def wire(payload: bytes | str) -> bytes:
    """A complete unmasked server-to-client WebSocket frame: binary for bytes, text for str.

    Server frames carry no mask, so the bytes are the same for every receiver: an event is
    framed once and written as is to each subscriber.
    """
    if isinstance(payload, str):
        data, first = payload.encode(), 0x81
    else:
        data, first = payload, 0x82
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + data


class CoalescingTransport:
    """Wraps a transport: ``write`` collects, the loop's next turn sends it all at once."""

    __slots__ = ("_transport", "_loop", "_pending", "_size", "_scheduled")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pending.append(data)
        self._size += len(data)
        if self._size >= COALESCE_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # a close frame written just before must still go out
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
    """The ``ws`` protocol class given to uvicorn (see server/serve.py).

    It also offers the app a way to write an already framed event (scope extension
    ``cfn.preframed``): the fan-out profile showed websockets' framing and the ASGI send
    layers costing a third of the server's time once the system calls were coalesced.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(self.transport, self.loop)  # type: ignore[assignment]

    async def run_asgi(self) -> None:
        extensions = self.scope.setdefault("extensions", {})  # type: ignore[typeddict-item]
        extensions[PREFRAMED] = self.send_preframed  # type: ignore[index]
        await super().run_asgi()
        # The app is done with this socket. A peer that stopped reading (the 4008 case) never
        # takes the bytes still buffered, and asyncio's close() waits for them forever,
        # holding the buffer; after a grace period, drop it.
        self.loop.call_later(self.close_timeout, self._abort_if_stuck)

    def _abort_if_stuck(self) -> None:
        if not self.disconnected:
            self.transport.abort()

    async def send_preframed(self, frame: bytes) -> None:
        """Write a frame made by wire(), under the same rules as an ASGI websocket.send."""
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if self.close_sent or not self.handshake_complete:
            return  # as uvicorn does: nothing goes out after our close frame
        if self.conn.state is not State.OPEN:
            raise ClientDisconnected()
        self.transport.write(frame)
