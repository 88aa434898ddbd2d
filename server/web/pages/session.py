"""Logging in and out, the member's home page (their groups), and the health check.

Every form carries a CSRF token; the login form's lives in its own cookie."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.auth import SESSION_COOKIE
from server.domain import accounts, inbox, meeting_pack, reads
from server.domain.accounts import Session
from server.storage import Conn, Tx
from server.web.guards import check_csrf, current_session, member_page, services_of
from server.web.templating import page
from server.web.throttle import for_app as login_throttle
from server.web.throttle import hash_gate

LOGIN_CSRF_COOKIE = "cfn_login_csrf"


def secure_cookies(request: Request) -> bool:
    """Cookies get ``Secure`` when members reach us over https: the public origin says so,
    or the request came over https (directly, or as a trusted proxy's X-Forwarded-Proto)."""
    origin = services_of(request).settings.origin
    return origin.lower().startswith("https://") or request.url.scheme == "https"


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


async def login_form(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse("/", status_code=303)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        csrf=token,
        email="",
        error=None,
        next=_safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/login",
    )
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form, request.cookies.get(LOGIN_CSRF_COOKIE))
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1000]
    next_url = _safe_next(str(form.get("next", "/")))
    services = services_of(request)
    throttle = login_throttle(request.app.state)
    address = request.client.host if request.client else ""
    response: Response
    if (wait := throttle.begin(email, address)) > 0:  # refused before any hashing
        response = page(
            request,
            "login.html",
            status=429,
            csrf=request.cookies.get(LOGIN_CSRF_COOKIE),
            email=email,
            next=next_url,
            error=f"Too many tries. Please wait {math.ceil(wait)} seconds, then try again.",
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = None
    try:
        if email:  # the slow hash check runs on its own thread, a core at a time, in turn
            found, stored = await services.db.read(accounts.password_record, email)
            async with hash_gate(request.app.state).slot(address):
                if await asyncio.to_thread(accounts.password_matches, stored, password):
                    user = found
    finally:
        if user is None:
            throttle.failed(email, address)
        else:
            throttle.succeeded(email, address)
    if user is None:
        return page(
            request,
            "login.html",
            status=400,
            csrf=request.cookies.get(LOGIN_CSRF_COOKIE),
            email=email,
            next=next_url,
            error="That email and password do not match our records. Please try again.",
        )
    old = request.cookies.get(SESSION_COOKIE)
    token, _ = await services.db.write(
        _rotate_session,
        user.id,
        old,
        services.settings.session_days,
        request.headers.get("user-agent", ""),
    )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=services.settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _rotate_session(
    tx: Tx, user_id: int, old: str | None, days: int, user_agent: str = ""
) -> tuple[str, str]:
    """A fresh session id at every login; any session the browser held before ends."""
    if old:
        accounts.end_session(tx, old)
    return accounts.create_session(tx, user_id, days, user_agent)


async def logout(request: Request) -> Response:
    found = await current_session(request)
    form = await request.form()
    if found is not None:
        await check_csrf(request, form, found.csrf)
        await services_of(request).db.write(
            accounts.end_session, request.cookies.get(SESSION_COOKIE, "")
        )
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@member_page
async def home(request: Request, found: Session) -> Response:
    groups = await services_of(request).db.read(_groups_with_unread, found.user)
    response = page(request, "home.html", title="My groups", groups=groups)
    response.headers["cache-control"] = "no-store"
    return response


def _groups_with_unread(conn: Conn, user: accounts.User) -> list[dict[str, Any]]:
    """My groups, each with the messages by others since my last visit."""
    groups: list[dict[str, Any]] = list(accounts.user_groups(conn, user))
    ids = accounts.group_ids(conn)
    counts = reads.unread_counts(conn, user, [ids[g["slug"]] for g in groups])
    news = inbox.counts_by_group(conn, user)  # polls, ideas and meeting news too
    now = int(time.time() * 1000)
    for g in groups:
        g["unread"] = counts[ids[g["slug"]]]
        g["news"] = news.get(ids[g["slug"]], {})
        g["next_meeting"] = meeting_pack.next_meeting(conn, ids[g["slug"]], now)
    return groups


async def health(request: Request) -> Response:
    services = services_of(request)
    await services.db.read(accounts.ping)
    return Response("ok\n", media_type="text/plain")


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, name="home"),
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/healthz", health, name="health"),
    ]
