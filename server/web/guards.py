"""Who may see a page or send a form: the session behind a request, logging in first,
the CSRF check, the one plain 404 for outsiders, and no caching of members' pages."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, overload

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth import session
from server.domain import inbox
from server.domain.accounts import Session
from server.errors import Forbidden, NotFound
from server.services import Services
from server.web.forms import FORM_MISTAKES, show_form_again

P = ParamSpec("P")
T = TypeVar("T")

MemberPage = Callable[[Request, Session], Awaitable[Response]]
MemberForm = Callable[[Request, Session, FormData], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def services_of(request: Request) -> Services:
    """The running app's resources (made in its lifespan)."""
    services: Services = request.app.state.services
    return services


def outsider_safe(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read; any "not yours" or "not there" becomes the one plain 404, so a page never
    tells an outsider that a group, thread, poll or idea exists."""
    try:
        return fn(*args, **kwargs)
    except (Forbidden, NotFound):
        raise NotFound() from None


def no_store(response: Response) -> Response:
    """Members' pages must not linger in shared caches or after logging out."""
    response.headers["cache-control"] = "no-store"
    return response


async def current_session(request: Request) -> Session | None:
    found = await session(request, services_of(request))
    request.state.session = found
    return found


async def require_session(request: Request) -> Session | RedirectResponse:
    found = await current_session(request)
    if found is None:
        return RedirectResponse("/login?next=" + request.url.path, status_code=303)
    return found


async def check_csrf(request: Request, form: FormData, expected: str | None) -> None:
    sent = form.get("csrf", "")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden("This form has expired. Please go back, reload the page and try again.")


async def refresh_badge(request: Request, found: Session) -> None:
    """Count the header's badge after the page has marked its entry read, so the badge does
    not still count it: the only count of a ``member_page(marks_read=True)`` request."""
    request.state.inbox_unread = await services_of(request).db.read(inbox.unread_total, found.user)


@overload
def member_page(handler: MemberPage) -> Endpoint: ...


@overload
def member_page(*, marks_read: bool) -> Callable[[MemberPage], Endpoint]: ...


def member_page(
    handler: MemberPage | None = None, *, marks_read: bool = False
) -> Endpoint | Callable[[MemberPage], Endpoint]:
    """A page for someone logged in; anyone else is sent to log in first, then back here.

    The header's "What's new" badge is counted once per request: here, before the page,
    unless the page marks something read (``marks_read``: the thread, poll, idea and
    meeting pages), which counts it with ``refresh_badge`` afterwards instead. The inbox
    page counts what it lists, in the same read."""

    def decorate(inner: MemberPage) -> Endpoint:
        @functools.wraps(inner)
        async def endpoint(request: Request) -> Response:
            found = await require_session(request)
            if isinstance(found, Response):
                return found
            if not marks_read and request.url.path != "/inbox":
                await refresh_badge(request, found)
            return await inner(request, found)

        return endpoint

    return decorate if handler is None else decorate(handler)


@overload
def member_form(handler: MemberForm) -> Endpoint: ...


@overload
def member_form(*, again: str, name: str) -> Callable[[MemberForm], Endpoint]: ...


def member_form(
    handler: MemberForm | None = None, *, again: str | None = None, name: str = "form"
) -> Endpoint | Callable[[MemberForm], Endpoint]:
    """A form post from someone logged in, its CSRF token checked before anything else.

    With ``again`` (the form's page, e.g. "/g/{slug}/polls/{poll}", or a safe ``?back=`` page
    in the same group), a mistake shows that page again with the form as it was typed and
    the sentence saying what to change, instead of an error page. ``name`` tells the page
    which of its forms it was ("vote-{poll}")."""

    def decorate(inner: MemberForm) -> Endpoint:
        @functools.wraps(inner)
        async def endpoint(request: Request) -> Response:
            found = await require_session(request)
            if isinstance(found, Response):
                return found
            form = await request.form()
            await check_csrf(request, form, found.csrf)
            try:
                return await inner(request, found, form)
            except FORM_MISTAKES as exc:
                if not again:
                    raise
                return await show_form_again(request, exc, form, again, name)

        return endpoint

    return decorate if handler is None else decorate(handler)
