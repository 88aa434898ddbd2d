"""Who is asking: a session cookie (browsers) or a bearer token (other clients)."""

from __future__ import annotations

import time

from starlette.requests import HTTPConnection

from server.domain import accounts
from server.domain.accounts import Session, User
from server.services import Services

SESSION_COOKIE = "cfn_session"


def own_origin(conn: HTTPConnection, services: Services) -> str:
    """The server's own origin as a browser would name it."""
    if services.settings.origin:
        return services.settings.origin.rstrip("/")
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{conn.headers.get('host', '')}"


async def session(conn: HTTPConnection, services: Services) -> Session | None:
    token = conn.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    return await services.db.read(accounts.session_for, token, int(time.time() * 1000))


async def websocket_user(conn: HTTPConnection, services: Services) -> User | None:
    """PROTOCOL §1: a bearer token, or the session cookie from our own origin."""
    header = conn.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
            return None
        return await services.db.read(accounts.user_for_token, token.strip())
    if conn.headers.get("origin") != own_origin(conn, services):
        return None
    found = await session(conn, services)
    return found.user if found is not None else None
