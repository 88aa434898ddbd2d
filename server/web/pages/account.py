"""The pages a link in an email opens, and "Forgot your password?": nobody is logged in yet.

Each form carries a CSRF token from its own cookie (as the login form does). A link that
cannot be used (already used, expired, replaced) gets a clear page saying what to do
next. "Forgot your password?" answers the same whether or not the address has an
account, and is throttled per address asked about and per client. New passwords are
hashed on a thread, a CPU core at a time, like the login's checks.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import secrets
import time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.auth import SESSION_COOKIE, own_origin
from server.domain import accounts, people
from server.domain.people import PASSWORD_RULE, LinkProblem
from server.errors import BadRequest, CFNError, Conflict
from server.web.forms import FormError
from server.web.guards import check_csrf, current_session, no_store, services_of
from server.web.pages.session import secure_cookies
from server.web.templating import page
from server.web.throttle import LoginThrottle, hash_gate

FORM_CSRF_COOKIE = "cfn_form_csrf"
LINK_STATUS = {"used": 410, "expired": 410, "unknown": 404}


def origin_of(request: Request) -> str:
    """The origin links in emails point at: CFN_ORIGIN, else the one the request came to."""
    return own_origin(request, services_of(request))


def reset_throttle(request: Request) -> LoginThrottle:
    """Reset requests: three per address asked about and nine per client, then waits that
    double from a minute (made on first use, kept on app.state)."""
    state = request.app.state
    throttle = getattr(state, "reset_throttle", None)
    if throttle is None:
        throttle = LoginThrottle(free_per_account=2, free_per_address=8, first_delay=60.0)
        state.reset_throttle = throttle
    return throttle


def _form_csrf(request: Request) -> str:
    return request.cookies.get(FORM_CSRF_COOKIE) or secrets.token_urlsafe(24)


def _with_csrf_cookie(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        FORM_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return no_store(response)


async def check_form_csrf(request: Request, form: FormData) -> None:
    """The form's own cookie token; a logged-in visitor's session token is as good."""
    found = getattr(request.state, "session", None)
    sent = form.get("csrf", "")
    if found is not None and isinstance(sent, str) and hmac.compare_digest(sent, found.csrf):
        return
    await check_csrf(request, form, request.cookies.get(FORM_CSRF_COOKIE))


def _mistake(request: Request, form_name: str, exc: CFNError, form: FormData) -> None:
    """The mistake for the page to show next to its field, with what was typed (never the
    passwords: they are typed again)."""
    request.state.form_error = FormError(
        form=form_name,
        field=exc.field,
        message=exc.message,
        values={
            k: [v for v in form.getlist(k) if isinstance(v, str)]
            for k in form
            if k not in ("csrf", "password", "again")
        },
        status=exc.status,
    )


async def new_password(request: Request, form: FormData) -> str:
    """The new password from a form (typed twice), hashed off the event loop."""
    password, again = str(form.get("password", "")), str(form.get("again", ""))
    if (problem := people.password_problem(password)) is not None:
        raise BadRequest(problem, field="password")
    if password != again:
        raise BadRequest("The two passwords are different. Please type them again.", "again")
    address = request.client.host if request.client else ""
    async with hash_gate(request.app.state).slot(address):
        return await asyncio.to_thread(accounts.hash_password, password)


def _log_in(request: Request, response: Response, token: str) -> Response:
    days = services_of(request).settings.session_days
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


def link_problem_page(request: Request, problem: LinkProblem) -> Response:
    return no_store(
        page(
            request,
            "link_problem.html",
            status=LINK_STATUS[problem.reason],
            title={"used": "This link has been used", "expired": "This link has expired"}.get(
                problem.reason, "This link does not work"
            ),
            problem=problem,
        )
    )


async def _check(request: Request, purpose: str) -> people.Link | Response:
    token = request.path_params["token"]
    try:
        return await services_of(request).db.read(
            people.check_link, purpose, token, int(time.time() * 1000)
        )
    except LinkProblem as problem:
        return link_problem_page(request, problem)


# --- forgot password ----------------------------------------------------------------------


async def forgot_form(request: Request) -> Response:
    await current_session(request)
    token = _form_csrf(request)
    response = page(request, "forgot.html", title="Forgot your password?", csrf=token, email="")
    return _with_csrf_cookie(request, response, token)


async def forgot(request: Request) -> Response:
    await current_session(request)
    form = await request.form()
    await check_form_csrf(request, form)
    csrf = request.cookies.get(FORM_CSRF_COOKIE)
    email = str(form.get("email", ""))[:320].strip()
    if "@" not in email:
        _mistake(
            request,
            "forgot",
            BadRequest("Please write your email address, such as name@example.org.", "email"),
            form,
        )
        return page(request, "forgot.html", title="Forgot your password?", csrf=csrf, email=email)
    throttle = reset_throttle(request)
    address = request.client.host if request.client else ""
    if (wait := throttle.begin(email, address)) > 0:
        response = page(
            request,
            "error.html",
            status=429,
            title="Please wait",
            message=f"We have just sent a link, if that address has an account. Please check"
            f" your email, or wait {math.ceil(wait / 60)} minute(s) and ask again.",
            error_status=429,
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    throttle.failed(email, address)  # every request uses up the allowance
    services = services_of(request)
    await services.db.write(people.request_reset, email, origin_of(request))
    services.wake_mail()
    return no_store(page(request, "forgot_sent.html", title="Check your email", email=email))


# --- reset --------------------------------------------------------------------------------


async def reset_form(request: Request) -> Response:
    await current_session(request)
    link = await _check(request, "reset")
    if isinstance(link, Response):
        return link
    token = _form_csrf(request)
    response = page(
        request, "reset.html", title="Choose a new password", csrf=token, rule=PASSWORD_RULE
    )
    return _with_csrf_cookie(request, response, token)


async def reset(request: Request) -> Response:
    await current_session(request)
    form = await request.form()
    await check_form_csrf(request, form)
    services = services_of(request)
    try:
        await _still_usable(request, "reset")
        hashed = await new_password(request, form)
        _, token = await services.db.write(
            people.complete_reset,
            request.path_params["token"],
            hashed,
            services.settings.session_days,
            request.headers.get("user-agent", ""),
        )
    except LinkProblem as problem:
        return link_problem_page(request, problem)
    except BadRequest as exc:
        _mistake(request, "reset", exc, form)
        return page(
            request,
            "reset.html",
            title="Choose a new password",
            csrf=request.cookies.get(FORM_CSRF_COOKIE),
            rule=PASSWORD_RULE,
        )
    return _log_in(request, RedirectResponse("/profile/sessions?reset=1", status_code=303), token)


async def _still_usable(request: Request, purpose: str) -> None:
    """Before the slow hash: a used or expired link is said at once."""
    await services_of(request).db.read(
        people.check_link, purpose, request.path_params["token"], int(time.time() * 1000)
    )


# --- invitation ---------------------------------------------------------------------------


async def invite_form(request: Request) -> Response:
    await current_session(request)
    link = await _check(request, "invite")
    if isinstance(link, Response):
        return link
    return _invite_page(request, link, _form_csrf(request), set_cookie=True)


def _invite_page(
    request: Request, link: people.Link, csrf: str | None, set_cookie: bool = False
) -> Response:
    context: dict[str, Any] = {
        "title": f"Join {link.group_name}",
        "link": link,
        "role_words": people.ROLE_WORDS.get(link.group_role or "member", "a member"),
        "csrf": csrf,
        "rule": PASSWORD_RULE,
    }
    response = page(request, "invite_accept.html", **context)
    if set_cookie and csrf:
        return _with_csrf_cookie(request, response, csrf)
    return no_store(response)


async def accept_invite(request: Request) -> Response:
    await current_session(request)
    form = await request.form()
    await check_form_csrf(request, form)
    services = services_of(request)
    token = request.path_params["token"]
    link = await _check(request, "invite")
    if isinstance(link, Response):
        return link
    try:
        name = str(form.get("name", ""))
        if not name.strip():
            raise BadRequest("Please write the name you would like others to see.", "name")
        hashed = await new_password(request, form)
        _, session_token = await services.db.write(
            people.accept_invite,
            token,
            name,
            hashed,
            services.settings.session_days,
            request.headers.get("user-agent", ""),
        )
    except LinkProblem as problem:
        return link_problem_page(request, problem)
    except (BadRequest, Conflict) as exc:
        _mistake(request, "invite", exc, form)
        return _invite_page(request, link, request.cookies.get(FORM_CSRF_COOKIE))
    slug = await services.db.read(people.group_of_link, link)
    return _log_in(request, RedirectResponse(f"/g/{slug}", status_code=303), session_token)


# --- email change -------------------------------------------------------------------------


async def email_confirm_form(request: Request) -> Response:
    """A button, not the change itself: mail scanners open links, people press buttons."""
    await current_session(request)
    link = await _check(request, "email")
    if isinstance(link, Response):
        return link
    token = _form_csrf(request)
    response = page(
        request, "email_confirm.html", title="Confirm your new email", csrf=token, link=link
    )
    return _with_csrf_cookie(request, response, token)


async def email_confirm(request: Request) -> Response:
    await current_session(request)
    form = await request.form()
    await check_form_csrf(request, form)
    services = services_of(request)
    try:
        email = await services.db.write(people.confirm_email_change, request.path_params["token"])
    except LinkProblem as problem:
        return link_problem_page(request, problem)
    services.wake_mail()
    return no_store(
        page(request, "email_confirmed.html", title="Your email address is changed", email=email)
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/forgot", forgot_form, methods=["GET"], name="forgot"),
        Route("/forgot", forgot, methods=["POST"]),
        Route("/reset/{token}", reset_form, methods=["GET"], name="reset"),
        Route("/reset/{token}", reset, methods=["POST"]),
        Route("/invite/{token}", invite_form, methods=["GET"], name="invite"),
        Route("/invite/{token}", accept_invite, methods=["POST"]),
        Route("/email/confirm/{token}", email_confirm_form, methods=["GET"]),
        Route("/email/confirm/{token}", email_confirm, methods=["POST"]),
    ]
