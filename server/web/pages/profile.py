"""The member's own profile: name, email (confirmed by a link to the new address),
password, text size, meeting papers and support needs, their data, closing the account,
and where they are logged in.

Each form is its own small POST that comes back to /profile with a sentence saying what
changed; a mistake shows the page again with what was typed (``member_form(again=…)``).
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.auth import SESSION_COOKIE
from server.domain import accounts, names, people, privacy
from server.domain.accounts import Session
from server.errors import BadRequest
from server.web.guards import member_form, member_page, no_store, services_of
from server.web.pages.account import new_password, origin_of
from server.web.templating import page
from server.web.throttle import hash_gate

SAVED = {
    "name": "Your name is saved.",
    "email": "We have sent a link to the new address: your email changes when you open it."
    " (If another account already uses that address, no link is sent.)",
    "password": "Your new password is saved. You have been logged out everywhere else.",
    "text": "Your text size is saved.",
    "needs": "Your meeting papers and support needs are saved.",
}


@member_page
async def profile(request: Request, found: Session) -> Response:
    db = services_of(request).db
    data = await db.read(people.profile, found.user)
    group_names = await db.read(names.my_names, found.user)
    saved = SAVED.get(request.query_params.get("saved", ""))
    return no_store(
        page(
            request,
            "profile.html",
            title="My profile",
            me=data,
            group_names=group_names,
            saved=saved,
            papers=people.PAPERS,
            support=people.SUPPORT,
            sizes=people.TEXT_SIZES,
            rule=people.PASSWORD_RULE,
            csrf=found.csrf,
        )
    )


def _saved(what: str) -> Response:
    return RedirectResponse(f"/profile?saved={what}#saved", status_code=303)


@member_form(again="/profile", name="name")
async def save_name(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(people.rename, found.user, str(form.get("name", "")))
    return _saved("name")


@member_form(again="/profile", name="email")
async def save_email(request: Request, found: Session, form: FormData) -> Response:
    services = services_of(request)
    await services.db.write(
        people.request_email_change, found.user, str(form.get("new_email", "")), origin_of(request)
    )
    services.wake_mail()
    return _saved("email")


@member_form(again="/profile", name="password")
async def save_password(request: Request, found: Session, form: FormData) -> Response:
    services = services_of(request)
    current = str(form.get("current", ""))[:1000]
    _, stored = await services.db.read(accounts.password_record, found.user.email)
    address = request.client.host if request.client else ""
    async with hash_gate(request.app.state).slot(address):
        matches = await asyncio.to_thread(accounts.password_matches, stored, current)
    if not matches:
        raise BadRequest(
            "That is not your current password. Please type it again.", field="current"
        )
    hashed = await new_password(request, form)
    await services.db.write(
        people.change_password, found.user, hashed, request.cookies.get(SESSION_COOKIE, "")
    )
    return _saved("password")


@member_form(again="/profile", name="text")
async def save_text_size(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(
        people.set_text_size, found.user, str(form.get("text_size", ""))
    )
    return _saved("text")


@member_form(again="/profile", name="needs")
async def save_needs(request: Request, found: Session, form: FormData) -> Response:
    support = {str(v) for v in form.getlist("support")}
    await services_of(request).db.write(
        people.set_needs,
        found.user,
        str(form.get("papers", "")),
        support,
        str(form.get("other", "")),
    )
    return _saved("needs")


@member_page
async def my_data(request: Request, found: Session) -> Response:
    """Everything held about me, as a JSON file (the same export an admin makes)."""
    text = await services_of(request).db.read(privacy.export_json, found.user.email)
    return no_store(
        Response(
            text + "\n",
            media_type="application/json",
            headers={"content-disposition": 'attachment; filename="my-critical-friends-data.json"'},
        )
    )


@member_page
async def close_form(request: Request, found: Session) -> Response:
    return no_store(page(request, "profile_close.html", title="Close my account?", csrf=found.csrf))


@member_form
async def close(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(privacy.erase_user, found.user.email, found.user.id)
    request.state.session = None
    response = page(request, "profile_closed.html", title="Your account is closed")
    response.delete_cookie(SESSION_COOKIE)
    return no_store(response)


@member_page
async def sessions(request: Request, found: Session) -> Response:
    listed = await services_of(request).db.read(
        people.sessions_of, found.user, request.cookies.get(SESSION_COOKIE, "")
    )
    notice = {
        "1": "Your new password is saved. You have been logged out everywhere else.",
    }.get(request.query_params.get("reset", ""))
    if request.query_params.get("ended"):
        notice = "You have been logged out everywhere else."
    return no_store(
        page(
            request,
            "profile_sessions.html",
            title="Where I am logged in",
            sessions=listed,
            notice=notice,
            csrf=found.csrf,
        )
    )


@member_form
async def end_others(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(
        people.end_other_sessions, found.user, request.cookies.get(SESSION_COOKIE, "")
    )
    return RedirectResponse("/profile/sessions?ended=1", status_code=303)


@member_form
async def end_all(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(people.end_all_sessions, found.user)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/profile", profile, methods=["GET"], name="profile"),
        Route("/profile/name", save_name, methods=["POST"]),
        Route("/profile/email", save_email, methods=["POST"]),
        Route("/profile/password", save_password, methods=["POST"]),
        Route("/profile/text-size", save_text_size, methods=["POST"]),
        Route("/profile/needs", save_needs, methods=["POST"]),
        Route("/profile/my-data", my_data, methods=["GET"]),
        Route("/profile/close", close_form, methods=["GET"]),
        Route("/profile/close", close, methods=["POST"]),
        Route("/profile/sessions", sessions, methods=["GET"]),
        Route("/profile/sessions/others", end_others, methods=["POST"]),
        Route("/profile/sessions/all", end_all, methods=["POST"]),
    ]
