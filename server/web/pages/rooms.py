"""Group pages: the room (thread list), each thread's paginated history, and their forms.

Every page here works without JavaScript; static/room.js makes them live over the
WebSocket. Outsiders (not a member, or no such group or thread) always get the same 404.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import discussions, following, meeting_pack, moderation, names, reads
from server.domain.accounts import Access, Session, User, access
from server.errors import Forbidden, NotFound
from server.storage import Conn
from server.web.forms import form_cid, path_ids, text_field, whole_number
from server.web.guards import (
    check_csrf,
    current_session,
    member_form,
    member_page,
    no_store,
    outsider_safe,
    refresh_badge,
    services_of,
)
from server.web.templating import page

PAGE_SIZE = 30  # messages per history page: light enough for an old phone
THREADS_PER_PAGE = 30


def _member_access(conn: Conn, user: User, slug: str) -> Access:
    return outsider_safe(access, conn, user, slug)


LAST_PAGE = 1_000_000  # beyond any thread: the page shown is its last


def _page_number(request: Request) -> int | None:
    """``?page=`` if given: a whole number (a plain 400 otherwise), at least 1."""
    raw = request.query_params.get("page")
    if raw is None or raw == "":
        return None
    number = whole_number(raw, "The page number must be a whole number, such as 2.")
    return min(max(number, 1), LAST_PAGE)


def _live_context(request: Request, found: Session, acc: Access) -> dict[str, Any]:
    """What the JavaScript client needs to resume exactly after what the page shows."""
    services = services_of(request)
    return {
        "group": acc,
        "epoch": services.db.epoch,
        "max_body": services.settings.max_body,
        "max_title": services.settings.max_title,
        "privacy_threshold": services.settings.privacy_threshold,
        "csrf": found.csrf,
        "form_cid": secrets.token_urlsafe(12),
    }


# --- reads ----------------------------------------------------------------------------------


def _room_read(
    conn: Conn, user: User, slug: str, page_no: int | None, mine: bool = False
) -> dict[str, Any]:
    acc = outsider_safe(access, conn, user, slug)
    data = discussions.thread_list(conn, user, acc, page_no, THREADS_PER_PAGE, mine)
    now = int(time.time() * 1000)  # the meeting bar: the live one, else the next
    return {
        **data,
        **meeting_pack.group_page_extras(conn, user, acc, now),
        "me": names.own(conn, acc.group_id, user),
    }


def _thread_read(
    conn: Conn, user: User, slug: str, thread_id: int, page_no: int | None
) -> dict[str, Any]:
    """One page of a thread, the member's previous mark, and the room's seq: one snapshot."""
    acc = outsider_safe(access, conn, user, slug)
    data = discussions.thread_page(conn, user, acc, thread_id, page_no, PAGE_SIZE)
    now = int(time.time() * 1000)  # the meeting bar follows members into threads
    return {
        **data,
        **meeting_pack.group_page_extras(conn, user, acc, now),
        **moderation.thread_extras(conn, user, acc),
        "me": names.own(conn, acc.group_id, user),
        "own_note": names.OWN_NOTE,
    }


def _permalink_page(conn: Conn, user: User, slug: str, thread_id: int, message_id: int) -> int:
    acc = outsider_safe(access, conn, user, slug)
    return discussions.permalink_page(conn, user, acc, thread_id, message_id, PAGE_SIZE)


# --- pages ----------------------------------------------------------------------------------


@member_page
async def room(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    db = services_of(request).db
    data = await db.read(
        _room_read, found.user, slug, _page_number(request), request.query_params.get("mine") == "1"
    )
    acc: Access = data["acc"]
    await db.write(reads.visit_room, found.user, acc.group_id)
    level = await db.read(following.level, found.user, acc.group_id)
    return no_store(
        page(
            request,
            "room.html",
            title=acc.name,
            section="discussion",
            level={"slug": acc.slug, "name": acc.name, "level": level} if acc.role else None,
            level_labels=following.LEVEL_LABELS,
            done=DONE_WORDS.get(request.query_params.get("done", "")),
            **data,
            **_live_context(request, found, acc),
        )
    )


@member_page(marks_read=True)
async def thread(request: Request, found: Session) -> Response:
    slug, (thread_id,) = request.path_params["slug"], path_ids(request, "thread")
    db = services_of(request).db
    # a reply shown again after a mistake is on the last page, where the reply form is
    page_no = LAST_PAGE if getattr(request.state, "form_error", None) else _page_number(request)
    data = await db.read(_thread_read, found.user, slug, thread_id, page_no)
    acc: Access = data["acc"]
    if data["messages"]:
        await db.write(
            reads.move_mark, found.user, acc.group_id, thread_id, data["messages"][-1]["id"]
        )
    followed = await db.read(following.is_following, found.user, "thread", thread_id)
    await refresh_badge(request, found)  # this thread is read now
    return no_store(
        page(
            request,
            "thread.html",
            title=data["thread"]["title"],
            section="discussion",
            following=followed,
            **data,
            done=DONE_WORDS.get(request.query_params.get("done", "")),
            **_live_context(request, found, acc),
        )
    )


@member_page
async def permalink(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    thread_id, message_id = path_ids(request, "thread", "message")
    page_no = await services_of(request).db.read(
        _permalink_page, found.user, slug, thread_id, message_id
    )
    done = request.query_params.get("done", "")
    note = f"&done={done}" if done in DONE_WORDS else ""
    return RedirectResponse(
        f"/g/{slug}/t/{thread_id}?page={page_no}{note}#m{message_id}", status_code=303
    )


# What the thread page says, as a status message, after a no-JavaScript change.
DONE_WORDS = {
    "removed": "The message has been removed.",
    "reported": "Thank you. Your report has gone to the chair and facilitators.",
    "hidden": "The post is hidden. Its author has been told why.",
    "changed": "Your changes have been saved.",
    "read": "Every thread in this group is now marked as read.",
}


# --- forms (the no-JavaScript path; the live client sends the same over the socket) ---------


@member_form(again="/g/{slug}", name="new-thread")
async def new_thread(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    settings = services_of(request).settings
    title = text_field(form, "title", "title", settings.max_title).strip()
    body = text_field(form, "body", "message", settings.max_body)
    staff_only = form.get("staff_only") == "1"
    try:
        result = await services_of(request).db.write(
            discussions.create_thread, found.user, slug, title, body, form_cid(form), staff_only
        )
    except Forbidden:
        raise NotFound() from None
    return RedirectResponse(f"/g/{slug}/t/{result['thread']['id']}", status_code=303)


@member_form(again="/g/{slug}/t/{thread}", name="reply")
async def new_message(request: Request, found: Session, form: FormData) -> Response:
    slug, (thread_id,) = request.path_params["slug"], path_ids(request, "thread")
    body = text_field(form, "body", "message", services_of(request).settings.max_body)
    staff_only = form.get("staff_only") == "1"
    try:
        result = await services_of(request).db.write(
            discussions.post_message, found.user, slug, thread_id, body, form_cid(form), staff_only
        )
    except (Forbidden, NotFound):
        raise NotFound() from None
    return RedirectResponse(f"/g/{slug}/t/{thread_id}/m/{result['message']['id']}", status_code=303)


@member_form
async def mark_all_read(request: Request, found: Session, form: FormData) -> Response:
    """The member says they have caught up: clear every "new" badge of the group."""
    slug = request.path_params["slug"]
    db = services_of(request).db
    acc = await db.read(_member_access, found.user, slug)
    await db.write(reads.read_all, found.user, acc.group_id)
    return RedirectResponse(f"/g/{slug}?done=read", status_code=303)


async def seen(request: Request) -> Response:
    """The live client saw messages arrive in a thread: move the member's read mark."""
    found = await current_session(request)
    if found is None:  # a beacon, not a page: no redirect to the login form
        return Response(status_code=401)
    form = await request.form()
    await check_csrf(request, form, found.csrf)
    said = "Say which thread and message were seen."
    thread_id = whole_number(form.get("thread"), said)
    message_id = whole_number(form.get("message"), said)
    db = services_of(request).db
    acc = await db.read(_member_access, found.user, request.path_params["slug"])
    await db.write(reads.seen, found.user, acc.group_id, thread_id, message_id)
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    return [
        Route("/g/{slug}", room, methods=["GET"], name="room"),
        Route("/g/{slug}/threads", new_thread, methods=["POST"], name="new_thread"),
        Route("/g/{slug}/seen", seen, methods=["POST"], name="seen"),
        Route("/g/{slug}/read", mark_all_read, methods=["POST"], name="mark_all_read"),
        Route("/g/{slug}/t/{thread:int}", thread, methods=["GET"], name="thread"),
        Route(
            "/g/{slug}/t/{thread:int}/messages", new_message, methods=["POST"], name="new_message"
        ),
        Route(
            "/g/{slug}/t/{thread:int}/m/{message:int}", permalink, methods=["GET"], name="permalink"
        ),
    ]
