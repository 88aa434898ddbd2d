"""The WebSocket endpoint: thin glue between the ASGI socket and a Connection."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket

from server.auth import websocket_user
from server.protocol.codec import SUBPROTOCOLS
from server.realtime.connection import Connection
from server.realtime.ops.table import OPERATIONS, PIPELINED
from server.services import Services


async def websocket_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    offered = ws.scope.get("subprotocols") or []
    chosen = next((p for p in offered if p in SUBPROTOCOLS), None)
    if chosen is None:
        await ws.send_denial_response(
            PlainTextResponse(
                "Offer the WebSocket subprotocol cfn.v1.msgpack or cfn.v1.json.", status_code=400
            )
        )
        return
    if services.closing:
        await ws.send_denial_response(
            PlainTextResponse("The server is restarting. Try again in a moment.", status_code=503)
        )
        return
    user = await websocket_user(ws, services)
    if user is None:
        await ws.send_denial_response(
            PlainTextResponse("Log in first, or send a valid API token.", status_code=403)
        )
        return
    settings = services.settings
    mine = sum(1 for c in services.connections if c.user_id == user.id)
    if (
        len(services.connections) >= settings.max_connections
        or mine >= settings.max_connections_per_user
    ):
        await ws.send_denial_response(
            PlainTextResponse(
                "Too many connections are open. Close another tab and try again.", status_code=429
            )
        )
        return
    conn = Connection(ws, services, user, chosen, OPERATIONS, PIPELINED)
    services.connections.add(conn)  # counted before any await, so a burst cannot overshoot
    try:
        await ws.accept(subprotocol=chosen)
        await conn.run()
    finally:
        services.connections.discard(conn)
