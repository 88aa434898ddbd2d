"""uvicorn's sans-I/O WebSocket protocol, with writes coalesced per turn of the event loop.

Profiling the fan-out showed most of the server's time inside ``transport.write``: one
send() system call per frame per subscriber. When a group commit publishes several events,
each connection's send task writes them one after another in the same turn of the loop;
gathering those writes and sending them once at the end of the turn sends the same bytes
with a fraction of the system calls. A lone frame waits only until the loop's next turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from server.transport.preframed import PREFRAMED

# Pending bytes that are written at once rather than at the next turn: the real transport
# must see a big burst (a long replay) while it happens, so that its pause_writing() holds
# the sender back instead of the whole burst piling up here unseen.
COALESCE_BYTES = 64 * 1024


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

    def write_eof(self) -> None:
        self.flush()  # the close frame goes out before the FIN
        if not self._transport.is_closing() and self._transport.can_write_eof():
            self._transport.write_eof()

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
        # ASGI extensions are dicts: ours holds the writer (see server/transport/preframed.py).
        self.scope.setdefault("extensions", {})[PREFRAMED] = {"send": self.send_preframed}
        await super().run_asgi()
        # The app is done with this socket. A peer that stopped reading (the 4008 case) never
        # takes the bytes still buffered, and asyncio's close() waits for them forever,
        # holding the buffer; after a grace period, drop it.
        self.loop.call_later(self.close_timeout, self._abort_if_stuck)

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # A refused upgrade (400, 403, 429, 503) is complete once its response is out;
            # uvicorn would otherwise log "returned without completing handshake" at ERROR.
            self.handshake_complete = True

    def handle_parser_exception(self) -> None:
        """A frame we refuse (too big: 1009; bad UTF-8: 1007) while the client may still be
        sending it. Closing the socket now, with its bytes unread, resets the connection and
        the client sees 1006; so send the close frame, shut our side (FIN), and read and
        discard until the client closes too (or close_timeout passes)."""
        if self.close_sent:
            return  # later data after our close: websockets discards it
        assert self.conn.close_sent is not None
        code, reason = self.conn.close_sent.code, self.conn.close_sent.reason
        self.logger.info(
            '%s - "WebSocket /ws" closed %d: %s',
            self.client[0] if self.client else "-",
            code,
            reason,
        )
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.write_eof()
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.close_timer is None:
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            try:
                data.decode()
            except UnicodeDecodeError:  # a client fault, not ours: one line, no traceback
                self.frames = []
                self.conn.fail(1007, "Invalid UTF-8 in a text frame.")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()

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
