"""A member's email settings (/me/email) and the unsubscribe page an email's link opens.

The unsubscribe URL (``/unsubscribe/TOKEN``) needs no login: the token in it is the whole
permission, and it can only lower that member's email settings. A POST with the body
``List-Unsubscribe=One-Click`` is a mail program's RFC 8058 one-click request (no cookie,
no CSRF token: it stops the list that email came from and answers 200); a POST from the
page's own form carries ``choice`` and applies it. A GET changes nothing, so a mail
scanner that opens links cannot unsubscribe anyone.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import email_prefs
from server.domain.accounts import Session
from server.errors import BadRequest
from server.web.guards import member_form, member_page, no_store, services_of
from server.web.templating import page

SAVED = "Your email settings are saved."


@member_page
async def settings_page(request: Request, found: Session) -> Response:
    prefs = await services_of(request).db.read(email_prefs.prefs_of, found.user.id)
    saved = SAVED if request.query_params.get("saved") else None
    return no_store(
        page(
            request,
            "email_settings.html",
            title="Emails we send you",
            prefs=prefs,
            digests=email_prefs.DIGESTS,
            immediate=email_prefs.IMMEDIATE,
            zones=email_prefs.ZONES,
            saved=saved,
            csrf=found.csrf,
        )
    )


@member_form(again="/me/email", name="email")
async def save(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(
        email_prefs.save,
        found.user,
        str(form.get("digest", "")),
        form.get("on_reply") == "1",
        form.get("on_poll") == "1",
        form.get("on_meeting") == "1",
        str(form.get("time_zone", "")),
    )
    return RedirectResponse("/me/email?saved=1#saved", status_code=303)


async def _unsubscribe_form(request: Request, mistake: str | None = None) -> Response:
    token = request.path_params["token"]
    found = await services_of(request).db.read(email_prefs.token_owner, token)
    return no_store(
        page(
            request,
            "unsubscribe.html",
            status=400 if mistake else 200,
            title="Fewer emails",
            who=found,
            offers=[(k, email_prefs.CHOICES[k]) for k in email_prefs.offers(found)],
            mistake=mistake,
            done=None,
        )
    )


async def unsubscribe_page(request: Request) -> Response:
    return await _unsubscribe_form(request)


async def unsubscribe(request: Request) -> Response:
    """One click (RFC 8058) or a choice from the page; no session, the token is enough."""
    token = request.path_params["token"]
    form = await request.form()
    choice = form.get("choice")
    one_click = form.get("List-Unsubscribe") == "One-Click" and choice is None
    if not one_click and not isinstance(choice, str):
        return await _unsubscribe_form(request, "Please choose one of the options.")
    db = services_of(request).db
    try:
        prefs = await db.write(email_prefs.unsubscribe, token, None if one_click else choice)
    except BadRequest as exc:
        return await _unsubscribe_form(request, exc.message)
    found = await db.read(email_prefs.token_owner, token)
    return no_store(
        page(
            request,
            "unsubscribe.html",
            title="Email settings changed",
            who=found,
            offers=[],
            mistake=None,
            done=prefs,
            digests=email_prefs.DIGESTS,
        )
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/me/email", settings_page, methods=["GET"], name="email_settings"),
        Route("/me/email", save, methods=["POST"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"], name="unsubscribe"),
        Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
    ]
