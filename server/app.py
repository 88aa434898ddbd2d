"""The app factory: one route table, resources owned by the lifespan, errors handled once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import CFNError, NotFound, TooLarge
from server.mail.sender import Sender
from server.pubsub.backplane import Backplane
from server.pubsub.backplane.memory import InProcessBackplane
from server.pubsub.hub import Hub
from server.realtime.endpoint import websocket_endpoint
from server.realtime.watcher import watch
from server.scheduler import Scheduler
from server.services import Services
from server.settings import Settings
from server.storage.engine import backup_file, open_store
from server.web.error_pages import error_page_for
from server.web.pages import account as account_pages
from server.web.pages import admin as admin_pages
from server.web.pages import email as email_pages
from server.web.pages import inbox as inbox_pages
from server.web.pages import inclusion as inclusion_pages
from server.web.pages import meetings as meeting_pages
from server.web.pages import messages as message_pages
from server.web.pages import moderation as moderation_pages
from server.web.pages import names as names_pages
from server.web.pages import polls as poll_pages
from server.web.pages import profile as profile_pages
from server.web.pages import rooms as room_pages
from server.web.pages import search as search_pages
from server.web.pages import session as session_pages
from server.web.pages import status as status_pages
from server.web.templating import build_templates

log = logging.getLogger("cfn.app")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

PAGE_MODULES = (
    room_pages,
    session_pages,
    poll_pages,
    message_pages,
    meeting_pages,
    status_pages,
    account_pages,
    profile_pages,
    admin_pages,
    moderation_pages,
    inclusion_pages,
    inbox_pages,
    names_pages,
    search_pages,
    email_pages,
)
"""Each page module declares its routes (``routes()``); the route table is theirs, in order."""

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        b" connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
        b" frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the hardening headers to every HTTP response (pure ASGI, so WebSockets pass)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses request bodies over their route's limit with 413 before they are read whole:
    a declared Content-Length is checked up front, a chunked body as its bytes stream in.

    The refusal is raised from ``receive``, so the handler's usual error page answers it and
    nothing of the request is acted on; uvicorn discards the rest as it arrives."""

    def __init__(
        self, app: ASGIApp, default: int, per_prefix: dict[str, int] | None = None
    ) -> None:
        self.app, self.default = app, default
        self.per_prefix = per_prefix or {}  # uploads, when they come, get their own limit

    def limit_for(self, path: str) -> int:
        return next(
            (n for prefix, n in self.per_prefix.items() if path.startswith(prefix)), self.default
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        received = 0
        refusal = TooLarge(
            f"That is too much to send at once (at most {limit // 1024} KiB)."
            " Please shorten it and try again."
        )

        async def limited_receive() -> Message:
            nonlocal received
            if not declared.isdigit() or int(declared) > limit:
                raise refusal
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise refusal
            return message

        await self.app(scope, limited_receive, send)


def backplane_for(settings: Settings) -> Backplane:
    """Redis when CFN_REDIS_URL names one (several processes), else this process alone."""
    if settings.redis_url:
        from server.pubsub.backplane.redis import RedisBackplane  # only when configured

        return RedisBackplane(
            settings.redis_url, settings.presence_ttl, settings.backplane_delay_ms
        )
    return InProcessBackplane()


def create_app(settings: Settings) -> Starlette:
    """A server for one database; its resources open and close with the lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await open_store(settings.db, settings.synchronous, settings.group_commit)
        hub = Hub(backplane_for(settings), db)
        db.on_commit(hub.committed)
        await hub.start()
        await hub.backplane.start()
        sender = Sender(db, settings)
        app.state.services = Services(
            settings=settings,
            db=db,
            hub=hub,
            wake_mail=sender.wake,
            backup=lambda target: asyncio.to_thread(backup_file, settings.db, target),
        )
        watcher = asyncio.create_task(watch(app.state.services), name="cfn-access-watcher")
        mailer = asyncio.create_task(sender.run(), name="cfn-outbox-sender")
        scheduler = Scheduler(db, hub.backplane, settings, sender.wake)  # retention, email
        jobs = asyncio.create_task(scheduler.run(), name="cfn-scheduler")
        try:
            yield
        finally:
            for task in (watcher, mailer, jobs):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            hub.closing = True
            await app.state.services.shutdown_connections()
            await hub.backplane.close()
            await hub.close()
            await db.close()

    routes = [
        WebSocketRoute("/ws", websocket_endpoint),
        *(route for module in PAGE_MODULES for route in module.routes()),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            CFNError: _error_page,
            HTTPException: _http_error_page,
            Exception: _crash_page,
        },
    )
    app.state.templates = build_templates(
        {
            **poll_pages.template_globals(),
            **meeting_pages.template_globals(),
            **search_pages.template_globals(),
        }
    )
    app.add_middleware(BodyLimit, default=settings.max_form)
    app.add_middleware(SecurityHeaders)
    return app


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CFNError)
    return await error_page_for(request, exc.status, exc.message)


async def _http_error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await error_page_for(request, 404, NotFound.default_message)
    return await error_page_for(request, exc.status_code, "That request could not be handled.")


async def _crash_page(request: Request, exc: Exception) -> Response:
    log.error("page %s failed", request.url.path, exc_info=exc)
    return await error_page_for(request, 500, CFNError.default_message)
