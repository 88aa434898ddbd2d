"""A handshake timeout: a socket that has not sent a complete request in time is closed.

uvicorn times out idle keep-alive connections only after a first response, so a client
that opens a socket and then says nothing (or trickles headers, slowloris-style) would
hold it for ever. This protocol closes such sockets after ``handshake_timeout`` seconds.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HandshakeTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with a deadline for the first request's headers."""

    handshake_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._handshake_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.handshake_timeout, self._handshake_expired)

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        upgraded = self.transport.get_protocol() is not self
        if self.cycle is None and not upgraded and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        super().connection_lost(exc)


def protocol_with_timeout(seconds: float) -> type[HandshakeTimeoutProtocol]:
    """The protocol class uvicorn should use, with this server's timeout."""
    return type("HandshakeTimeout", (HandshakeTimeoutProtocol,), {"handshake_timeout": seconds})
