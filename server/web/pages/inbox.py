"""The inbox page ("What's new for you"), its "mark read" forms, the follow / unfollow
button on thread, poll and idea pages, and each group's level ("everything", "only what I
follow", "nothing").

Every form is a plain POST that comes back with a sentence saying what changed; listing
the inbox marks nothing read. With JavaScript, static/inbox.js refetches this page when
something happens in one of the member's rooms and announces the change.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import following, inbox
from server.domain.accounts import Session, User
from server.errors import BadRequest
from server.storage import Conn
from server.web.forms import whole_number
from server.web.guards import member_form, member_page, no_store, services_of
from server.web.templating import page

KIND_WORDS = {
    "replies": "Replies",
    "thread": "New thread",
    "poll": "Poll",
    "idea": "Idea",
    "meeting": "Meeting",
}
DONE = {
    "read": "That entry is marked read.",
    "all": "Everything is marked read.",
    "level": "Your choice for that group is saved.",
}


def _inbox_page(conn: Conn, user: User) -> dict[str, Any]:
    """The entries grouped by group, the group with the newest activity first, and the
    member's groups with their levels: one snapshot."""
    found = inbox.entries(conn, user)
    groups: dict[int, dict[str, Any]] = {}
    for e in found:  # newest first, so each group's first entry is its newest
        g = groups.setdefault(
            e.group_id, {"slug": e.group_slug, "name": e.group_name, "entries": []}
        )
        g["entries"].append(e)
    return {
        "groups": list(groups.values()),
        "total": len(found),
        "levels": following.member_groups(conn, user),
    }


@member_page
async def inbox_page(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(_inbox_page, found.user)
    return no_store(
        page(
            request,
            "inbox.html",
            title="What's new for you",
            **data,
            kind_words=KIND_WORDS,
            level_labels=following.LEVEL_LABELS,
            done=DONE.get(request.query_params.get("done", "")),
            csrf=found.csrf,
        )
    )


def _back(form: FormData, slug: str | None, default: str) -> str:
    """Where a form goes back to: the page it was on, if that is a page of this site's
    inbox or of the same group (never another site)."""
    target = str(form.get("back", ""))
    allowed = target == "/inbox" or (
        slug is not None and (target == f"/g/{slug}" or target.startswith(f"/g/{slug}/"))
    )
    if allowed and "//" not in target and "\\" not in target:
        return target.split("#")[0]
    return default


def _done(target: str, what: str, anchor: str = "") -> Response:
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}done={what}{anchor}", status_code=303)


@member_form(again="/inbox", name="inbox")
async def mark_read(request: Request, found: Session, form: FormData) -> Response:
    key = str(form.get("key", ""))[:80]
    await services_of(request).db.write(inbox.mark_read, found.user, key)
    return _done("/inbox", "read", "#inbox-status")


@member_form(again="/inbox", name="inbox")
async def mark_all_read(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(inbox.mark_all_read, found.user)
    return _done("/inbox", "all", "#inbox-status")


@member_form
async def follow(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    kind = str(form.get("kind", ""))
    if kind not in following.KINDS:
        raise BadRequest("That cannot be followed.")
    item = whole_number(form.get("id"), "That cannot be followed.")
    on = form.get("on") == "1"
    await services_of(request).db.write(following.set_follow, found.user, slug, kind, item, on)
    # its own word, not "done", which the thread, poll and idea pages use for their own news
    target = _back(form, slug, f"/g/{slug}")
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(
        f"{target}{joiner}follow={'on' if on else 'off'}#follow", status_code=303
    )


@member_form(again="/inbox", name="level-{slug}")
async def set_level(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    value = str(form.get("level", ""))
    await services_of(request).db.write(following.set_level, found.user, slug, value)
    return _done(_back(form, slug, "/inbox"), "level", "#levels")


def routes() -> list[BaseRoute]:
    return [
        Route("/inbox", inbox_page, methods=["GET"], name="inbox"),
        Route("/inbox/read", mark_read, methods=["POST"], name="inbox_read"),
        Route("/inbox/read-all", mark_all_read, methods=["POST"], name="inbox_read_all"),
        Route("/g/{slug}/follow", follow, methods=["POST"], name="follow"),
        Route("/g/{slug}/level", set_level, methods=["POST"], name="follow_level"),
    ]
