"""Server-rendered pages: log in, log out, home (group pages are in server/pages.py).

Every form carries a CSRF token."""

from __future__ import annotations

import asyncio
import functools
import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route

from server.auth import SESSION_COOKIE, session
from server.domain import accounts, reads
from server.domain.accounts import Session
from server.errors import BadRequest, CFNError, Conflict, Forbidden, NotFound, PollClosed, TooLarge
from server.services import Services
from server.storage import Conn
from server.web.render import markdown
from server.web.throttle import for_app as login_throttle
from server.web.throttle import hash_gate

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
LOGIN_CSRF_COOKIE = "cfn_login_csrf"

templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["markdown"] = markdown
LOCAL_TIME = ZoneInfo("Europe/London")  # the network's members are in England


def when(ms: int) -> str:
    """A moment in plain words, UK time: "Thu 26 Nov 2026, 14:05"."""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(LOCAL_TIME)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def iso(ms: int) -> str:
    """A moment for <time datetime>."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


templates.filters["when"] = when
templates.filters["iso"] = iso


def services_of(request: Request) -> Services:
    return request.app.state.services


def outsider_safe(fn: Any, *args: Any) -> Any:
    """Run a read; any "not yours" or "not there" becomes the one plain 404, so a page never
    tells an outsider that a group, thread, poll or idea exists."""
    try:
        return fn(*args)
    except (Forbidden, NotFound):
        raise NotFound() from None


def no_store(response: Response) -> Response:
    """Members' pages must not linger in shared caches or after logging out."""
    response.headers["cache-control"] = "no-store"
    return response


MAX_NUMBER_DIGITS = 18  # fits SQLite's 64-bit integers with room to spare


def whole_number(value: Any, message: str, field: str | None = None) -> int:
    """The one way a number from a URL or a form is read: ASCII digits only (``str.isdigit``
    takes '²' and '٣', which ``int`` then refuses), anything else a plain 400 naming the field."""
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_NUMBER_DIGITS:
        raise BadRequest(message, field=field)
    return int(text)


FORM_MISTAKES = (BadRequest, TooLarge, Conflict, PollClosed)
"""Errors that mean "change what you typed": the form is shown again, never an error page."""


@dataclass
class FormError:
    """One mistake on one form of a page, with everything that was typed into that form."""

    form: str  # which form on the page, e.g. "new-thread" or "vote-12"
    field: str | None  # the field to change; None for the form as a whole
    message: str
    values: dict[str, list[str]]
    status: int = 400

    @property
    def anchor(self) -> str:
        """The id of the sentence next to the field (the error summary links to it)."""
        return f"{self.form}-{self.field or 'form'}-error"

    def on(self, form: str, field: str | None = None) -> bool:
        return self.form == form and self.field == field

    def typed(self, form: str, name: str, default: Any = "") -> Any:
        """What was typed into a field of this form, else the page's usual value."""
        if self.form != form:
            return default
        return self.values.get(name, [""])[0]

    def chosen(self, form: str, name: str, value: Any, default: bool = False) -> bool:
        """Whether a radio, checkbox or option was chosen when the form was sent."""
        if self.form != form:
            return default
        return str(value) in self.values.get(name, [])


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("session", getattr(request.state, "session", None))
    form_error = context.setdefault("form_error", getattr(request.state, "form_error", None))
    if form_error is not None and status == 200:
        status = form_error.status
    html = templates.get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error in plain words, inside the usual header so "My groups" and "Log out" stay."""
    titles = {400: "Please check what you sent", 403: "Sorry, that cannot be done",
              404: "Page not found", 413: "That was too much to send", 429: "Please wait",
              500: "Something went wrong"}
    return page(request, "error.html", status=status, title=titles.get(status, "Sorry"),
                message=message, error_status=status, form_error=None)


async def error_page_for(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page, after finding who is asking when the route never did (no route
    matched, or the failure came first); a broken session lookup only drops the header."""
    if not hasattr(request.state, "session"):
        try:
            await current_session(request)
        except Exception:  # the page must still answer: an anonymous header is enough
            request.state.session = None
    return error_page(request, status, message)


async def current_session(request: Request) -> Session | None:
    found = await session(request, services_of(request))
    request.state.session = found
    return found


async def require_session(request: Request) -> Session | RedirectResponse:
    found = await current_session(request)
    if found is None:
        return RedirectResponse("/login?next=" + request.url.path, status_code=303)
    return found


MemberPage = Callable[[Request, Session], Awaitable[Response]]
MemberForm = Callable[[Request, Session, Any], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def member_page(handler: MemberPage) -> Endpoint:
    """A page for someone logged in; anyone else is sent to log in first, then back here."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        found = await require_session(request)
        if isinstance(found, Response):
            return found
        return await handler(request, found)

    return endpoint


@overload
def member_form(handler: MemberForm) -> Endpoint: ...


@overload
def member_form(*, again: str, name: str) -> Callable[[MemberForm], Endpoint]: ...


def member_form(handler: MemberForm | None = None, *, again: str | None = None,
                name: str = "form") -> Endpoint | Callable[[MemberForm], Endpoint]:
    """A form post from someone logged in, its CSRF token checked before anything else.

    With ``again`` (the form's page, e.g. "/g/{slug}/polls/{poll}", or a safe ``?back=`` page
    in the same group), a mistake shows that page again with the form as it was typed and
    the sentence saying what to change, instead of an error page. ``name`` tells the page
    which of its forms it was ("vote-{poll}")."""
    if handler is None:
        return lambda inner: member_form(inner, again=again or "", name=name)

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        found = await require_session(request)
        if isinstance(found, Response):
            return found
        form = await request.form()
        await check_csrf(request, form, found.csrf)
        try:
            return await handler(request, found, form)
        except FORM_MISTAKES as exc:
            if not again:
                raise
            return await show_form_again(request, exc, form, again, name)

    return endpoint


def safe_back(request: Request) -> str | None:
    """The ``?back=`` page a form came from, if it is a page of the same group."""
    target = request.query_params.get("back", "")
    slug = request.path_params.get("slug", "")
    if (target.startswith(f"/g/{slug}/") or target == f"/g/{slug}") and "//" not in target \
            and "\\" not in target:
        return target
    return None


async def show_form_again(request: Request, exc: CFNError, form: Any, again: str,
                          name: str) -> Response:
    """Render the page the form lives on, as a GET of that page would, with the mistake and
    every typed value in ``request.state.form_error`` for its template."""
    params = {k: str(v) for k, v in request.path_params.items()}
    request.state.form_error = FormError(
        form=name.format(**params), field=exc.field, message=exc.message,
        values={k: [v for v in form.getlist(k) if isinstance(v, str)]
                for k in form if k != "csrf"},
        status=exc.status)
    target = urlsplit(safe_back(request) or again.format(**params))
    scope = {**request.scope, "method": "GET", "path": target.path,
             "raw_path": target.path.encode(), "query_string": target.query.encode()}
    for route in request.app.router.routes:
        if isinstance(route, Route):
            match, child = route.matches(scope)
            if match == Match.FULL:
                return await route.endpoint(Request({**scope, **child}, request.receive))
    raise exc


async def check_csrf(request: Request, form: Any, expected: str | None) -> None:
    sent = form.get("csrf", "")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden("This form has expired. Please go back, reload the page and try again.")


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
    response = page(request, "login.html", csrf=token, email="", error=None,
                    next=_safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax",
                        secure=secure_cookies(request), path="/login")
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form, request.cookies.get(LOGIN_CSRF_COOKIE))
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1000]
    next_url = _safe_next(str(form.get("next", "/")))
    services = services_of(request)
    throttle = login_throttle(request.app.state)
    address = request.client.host if request.client else ""
    if (wait := throttle.begin(email, address)) > 0:  # refused before any hashing
        response = page(request, "login.html", status=429, csrf=request.cookies.get(
            LOGIN_CSRF_COOKIE), email=email, next=next_url,
            error=f"Too many tries. Please wait {math.ceil(wait)} seconds, then try again.")
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
        return page(request, "login.html", status=400, csrf=request.cookies.get(
            LOGIN_CSRF_COOKIE), email=email, next=next_url,
            error="That email and password do not match our records. Please try again.")
    old = request.cookies.get(SESSION_COOKIE)
    token, _ = await services.db.write(_rotate_session, user.id, old,
                                       services.settings.session_days)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=services.settings.session_days * 86400,
                        httponly=True, samesite="lax", secure=secure_cookies(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _rotate_session(tx: Any, user_id: int, old: str | None, days: int) -> tuple[str, str]:
    """A fresh session id at every login; any session the browser held before ends."""
    if old:
        accounts.end_session(tx, old)
    return accounts.create_session(tx, user_id, days)


async def logout(request: Request) -> Response:
    found = await current_session(request)
    form = await request.form()
    if found is not None:
        await check_csrf(request, form, found.csrf)
        await services_of(request).db.write(accounts.end_session,
                                             request.cookies.get(SESSION_COOKIE, ""))
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
    for g in groups:
        g["unread"] = counts[ids[g["slug"]]]
    return groups


async def health(request: Request) -> Response:
    services = services_of(request)
    await services.db.read(accounts.ping)
    return Response("ok\n", media_type="text/plain")


def routes() -> list[BaseRoute]:
    from server.web.pages import rooms as pages  # group pages build on the helpers above

    return [
        *pages.routes(),
        Route("/", home, name="home"),
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/healthz", health, name="health"),
    ]


