"""Running the app under uvicorn, with a shutdown that closes sockets with 1001 first."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from server.transport import fence


class Server(uvicorn.Server):
    """uvicorn's server, but on shutdown our connections close with 1001 (going away)
    after their in-flight writes commit, before uvicorn would close them with 1012."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):
            server.close()
        services = getattr(self.app.state, "services", None)
        if services is not None:
            await services.shutdown_connections()
        await self._finish_closing_handshakes()
        await super().shutdown(sockets)

    async def _finish_closing_handshakes(self) -> None:
        """Wait (up to 2 s) for peers to echo our 1001 before uvicorn drops what is left:
        closing a socket with unread input resets it, and a busy client would see 1006."""
        for _ in range(100):
            if not any(
                getattr(c, "close_sent", False) and not c.transport.is_closing()
                for c in self.server_state.connections
            ):
                return
            await asyncio.sleep(0.02)


def trusted_proxies(settings: Settings) -> list[str]:
    """The proxy addresses from CFN_TRUSTED_PROXIES (comma separated; empty: none)."""
    return [a.strip() for a in settings.trusted_proxies.split(",") if a.strip()]


def protocols(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``ws`` and ``http`` options: our protocol subclasses (the fast path), or with
    CFN_WS_FAST_PATH=0 uvicorn's stock ones, for a uvicorn whose internals have moved.

    The subclasses are imported only for the fast path: importing them is what would fail
    on such a uvicorn. Stock HTTP is h11, whose own size limit on a request's head keeps a
    huge header from being read into memory (answered 400 rather than 431)."""
    fence.check(fence.SERVER)
    if not settings.ws_fast_path:
        return {
            "ws": "websockets-sansio",
            "http": "h11",
            "h11_max_incomplete_event_size": settings.max_header,
        }
    fence.check(fence.FAST_PATH, fence.STOCK)
    from server.transport.handshake import protocol_with_timeout
    from server.transport.wsproto import CoalescingWebSocketProtocol

    return {
        "ws": CoalescingWebSocketProtocol,  # websockets-sansio, writes coalesced per loop turn
        "http": protocol_with_timeout(settings.handshake_timeout, settings.max_header),
    }


def make_server(settings: Settings, *, log_level: str = "info") -> Server:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        **protocols(settings),
        ws_max_size=settings.max_frame,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_timeout,
        ws_per_message_deflate=False,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=15,
        server_header=False,
        # X-Forwarded-Proto/For are believed only from CFN_TRUSTED_PROXIES: uvicorn then sets
        # the request's scheme (Secure cookies) and client address (login throttle) from them.
        proxy_headers=bool(trusted_proxies(settings)),
        forwarded_allow_ips=trusted_proxies(settings) or None,
    )
    return Server(config, app)


def bound_port(server: Server) -> int:
    """The port actually bound (useful with port 0)."""
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port
