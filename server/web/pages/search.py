"""The search page (/search) and the header's search box: a GET form that works without
JavaScript. A query that cannot be searched shows the same form again with one sentence."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.domain import search as searching
from server.domain.accounts import Session
from server.errors import BadRequest
from server.web.forms import FORM_MISTAKES, MAX_NUMBER_DIGITS, FormError
from server.web.guards import member_page, no_store, services_of
from server.web.templating import page

FORM = "search"
KIND_WORDS = {
    "message": "Message",
    "thread": "Thread",
    "poll": "Poll",
    "idea": "Idea",
    "meeting": "Meeting",
    "agenda": "Agenda item",
}


def marked(text: str, marks: tuple[str, str]) -> Markup:
    """A snippet with its matching words in <mark>: every character of the stored text is
    escaped; only the engine's own markers become tags, balanced (a stray one is dropped,
    one left open is closed)."""
    out: list[str] = []
    inside = False
    start, end = marks
    for part in re.split(f"({re.escape(start)}|{re.escape(end)})", text):
        if part == start:
            if not inside:
                out.append("<mark>")
                inside = True
        elif part == end:
            if inside:
                out.append("</mark>")
                inside = False
        else:
            out.append(str(escape(part)))
    if inside:
        out.append("</mark>")
    return Markup("".join(out))


def place(result: dict[str, Any]) -> str:
    """The exact place a result is: a message in its thread (the permalink), an agenda
    item on its meeting's page."""
    g = f"/g/{result['slug']}"
    kind, ident = result["kind"], result["id"]
    if kind == "message":
        return f"{g}/t/{result['thread']}/m/{ident}"
    if kind == "thread":
        return f"{g}/t/{ident}"
    if kind == "poll":
        return f"{g}/polls/{ident}"
    if kind == "idea":
        return f"{g}/ideas/{ident}"
    if kind == "meeting":
        return f"{g}/meetings/{ident}"
    return f"{g}/meetings/{result['meeting']}#item-{ident}"


def _number(text: str, field: str, message: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_NUMBER_DIGITS:
        raise BadRequest(message, field=field)
    return int(text)


def _filters(params: dict[str, str]) -> searching.Filters:
    return searching.Filters(
        q=params.get("q", ""),
        group=params.get("group", "").strip(),
        person=_number(params.get("person", ""), "person", "Please choose a person from the list."),
        date_from=params.get("from", ""),
        date_to=params.get("to", ""),
        page=_number(params.get("page", ""), "page", "Please choose a page number.") or 1,
    )


_FIELDS = {"date_from": "from", "date_to": "to"}  # domain field -> the form's field name


@member_page
async def search_page(request: Request, found: Session) -> Response:
    params = {k: v[:400] for k, v in request.query_params.items()}
    db = services_of(request).db
    asked = "q" in request.query_params
    context: dict[str, Any] = {
        "title": "Search",
        "given": params,
        "typed_q": params.get("q", ""),
        "asked": asked,
    }
    status = 200
    try:
        if not asked:
            groups = await db.read(searching.readable_groups, found.user)
            people = await db.read(searching.people, found.user, groups)
            context.update(groups=groups, people=people, results=[])
        else:
            filters = _filters(params)
            context.update(await db.read(searching.search, found.user, filters))
            context["filters"] = filters
            context["page_no"] = filters.page
            context["next_url"] = _page_url(params, filters.page + 1)
            context["prev_url"] = _page_url(params, filters.page - 1) if filters.page > 1 else ""
    except FORM_MISTAKES as exc:
        field = _FIELDS.get(exc.field or "", exc.field)
        request.state.form_error = FormError(
            FORM, field, exc.message, {k: [v] for k, v in params.items()}, 400
        )
        groups = await db.read(searching.readable_groups, found.user)
        people = await db.read(searching.people, found.user, groups)
        context.update(groups=groups, people=people, results=[], asked=False)
        status = 400
    context["page_title"] = f"Search: {params.get('q', '')}" if context["asked"] else "Search"
    return no_store(page(request, "search.html", status=status, **context))


def _page_url(params: dict[str, str], number: int) -> str:
    kept = {k: v for k, v in params.items() if k in ("q", "group", "person", "from", "to") and v}
    return "/search?" + urlencode({**kept, "page": number})


def template_globals() -> dict[str, Any]:
    return {"search_marked": marked, "search_place": place, "search_kind": KIND_WORDS.get}


def routes() -> list[BaseRoute]:
    return [Route("/search", search_page, methods=["GET"], name="search")]
