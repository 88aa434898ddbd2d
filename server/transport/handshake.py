"""A handshake timeout and a size limit for each request's head (request line + headers).

uvicorn times out idle keep-alive connections only after a first response, so a client
that opens a socket and then says nothing (or trickles headers, slowloris-style) would
hold it for ever. This protocol closes such sockets after ``handshake_timeout`` seconds.

httptools buffers a header whole before handing it over and has no size limit of its own,
so a 16 MiB header would be read into memory: this protocol counts a request's head as it
arrives and answers 431 once it passes ``max_header`` bytes, reading no more of it.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HandshakeTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with a deadline for the first request's headers."""

    handshake_timeout: float = 10.0
    max_header: int = 32_768

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_bytes: int | None = 0  # bytes of the current request's head; None: done
        self._refused = False
        super().connection_made(transport)
        self._handshake_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.handshake_timeout, self._handshake_expired
        )

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        upgraded = self.transport.get_protocol() is not self
        if self.cycle is None and not upgraded and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # a refused head: what is still arriving is dropped unread
        if self._head_bytes is None:
            super().data_received(data)
            return
        room = self.max_header - self._head_bytes
        self._head_bytes += len(data)
        if len(data) <= room:
            super().data_received(data)
            return
        # Feed only what fits; if the head is still not complete, it is too big.
        self._head_bytes -= len(data) - room
        super().data_received(data[:room])
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self._head_bytes is not None:
            self._refuse_head()
            return
        self.data_received(data[room:])

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # a kept-alive connection's next request starts its head

    def _refuse_head(self) -> None:
        """431, then close our side and drop the rest, so the client can read the answer
        (closing with its bytes unread would reset the connection instead)."""
        self._refused = True
        self.logger.info(
            "%s - request headers over %d bytes: 431",
            self.client[0] if self.client else "-",
            self.max_header,
        )
        body = b"Request headers too large.\n"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(self.handshake_timeout, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        super().connection_lost(exc)


def protocol_with_timeout(
    seconds: float,
    max_header: int = 32_768,
) -> type[HandshakeTimeoutProtocol]:
    """The protocol class uvicorn should use, with this server's timeout and head limit."""
    return type(
        "HandshakeTimeout",
        (HandshakeTimeoutProtocol,),
        {"handshake_timeout": seconds, "max_header": max_header},
    )
