"""The member's name in one group (a pseudonym): see it, set it, change it, clear it.

Works without JavaScript; the rules are domain/names.py's, a mistake shows the same form
again with what was typed and one sentence next to the field."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import names
from server.domain.accounts import Access, Session, User
from server.domain.people import MAX_NAME
from server.errors import Forbidden, NotFound
from server.storage import Conn
from server.web.guards import member_form, member_page, no_store, outsider_safe, services_of
from server.web.templating import page

DONE = {
    "set": "Saved. Other members of this group now see this name.",
    "cleared": "Cleared. Other members of this group now see your full name.",
}


def _read(conn: Conn, user: User, slug: str) -> tuple[Access, str | None]:
    return outsider_safe(names.group_name, conn, user, slug)


@member_page
async def group_name_page(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    acc, current = await services_of(request).db.read(_read, found.user, slug)
    return no_store(
        page(
            request,
            "group_name.html",
            title="Your name in this group",
            section="name",
            group=acc,
            current=current,
            max_name=MAX_NAME,
            csrf=found.csrf,
            done=DONE.get(request.query_params.get("done", "")),
        )
    )


@member_form(again="/g/{slug}/name", name="group-name")
async def set_group_name(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    try:
        await services_of(request).db.write(
            names.set_name, found.user, slug, str(form.get("name", ""))
        )
    except Forbidden:
        raise NotFound() from None
    return RedirectResponse(f"/g/{slug}/name?done=set", status_code=303)


@member_form
async def clear_group_name(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    try:
        await services_of(request).db.write(names.clear_name, found.user, slug)
    except Forbidden:
        raise NotFound() from None
    return RedirectResponse(f"/g/{slug}/name?done=cleared", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/g/{slug}/name", group_name_page, methods=["GET"], name="group_name"),
        Route("/g/{slug}/name", set_group_name, methods=["POST"], name="set_group_name"),
        Route("/g/{slug}/name/clear", clear_group_name, methods=["POST"], name="clear_group_name"),
    ]
