"""Group pages: the room (thread list), each thread's paginated history, and their forms.

Every page here works without JavaScript; static/room.js makes them live over the
WebSocket. Outsiders (not a member, or no such group or thread) always get the same 404.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import discussions, reads
from server.domain.accounts import Access, Session, User, access
from server.errors import Forbidden, NotFound
from server.web.forms import form_cid, path_ids, text_field, whole_number
from server.web.guards import (
    check_csrf,
    current_session,
    member_form,
    member_page,
    no_store,
    outsider_safe,
    services_of,
)
from server.web.templating import page

PAGE_SIZE = 30  # messages per history page: light enough for an old phone
THREADS_PER_PAGE = 30


def _member_access(conn: sqlite3.Connection, user: User, slug: str) -> Access:
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
    return {"group": acc, "epoch": services.db.epoch,
            "max_body": services.settings.max_body, "max_title": services.settings.max_title,
            "privacy_threshold": services.settings.privacy_threshold, "csrf": found.csrf,
            "form_cid": secrets.token_urlsafe(12)}


# --- reads ----------------------------------------------------------------------------------


# "Only mine": threads the member started or wrote in, so Yusuf can follow his own.
_MINE = (" AND (t.author_id = :me OR EXISTS (SELECT 1 FROM messages mm"
         " WHERE mm.thread_id = t.id AND mm.author_id = :me))")


def _room_read(conn: sqlite3.Connection, user: User, slug: str, page_no: int | None,
               mine: bool = False) -> dict[str, Any]:
    acc = outsider_safe(access, conn, user, slug)
    only = _MINE if mine else ""
    total = conn.execute(f"SELECT count(*) FROM threads t WHERE t.group_id = :g{only}",
                         {"g": acc.group_id, "me": user.id}).fetchone()[0]
    pages = max(1, math.ceil(total / THREADS_PER_PAGE))
    current = min(page_no or 1, pages)
    rows = conn.execute(
        "SELECT t.id, t.title, t.created_at, t.last_activity_at, t.message_count,"
        " coalesce(u.name, :former) AS author, t.author_id,"
        # Only reading the thread itself (or "mark all read") clears its badge, so the
        # badge agrees with the thread's own "new since your last visit" marker.
        " (SELECT count(*) FROM messages m WHERE m.thread_id = t.id"
        "   AND m.id > coalesce(r.last_read, 0) AND m.deleted_at IS NULL"
        "   AND coalesce(m.author_id, 0) != :me) AS unread"
        " FROM threads t LEFT JOIN users u ON u.id = t.author_id AND u.erased_at IS NULL"
        " LEFT JOIN reads r ON r.user_id = :me AND r.group_id = t.group_id AND r.thread_id = t.id"
        f" WHERE t.group_id = :g{only} ORDER BY t.last_activity_at DESC, t.id DESC"
        " LIMIT :limit OFFSET :offset",
        {"former": discussions.FORMER_MEMBER, "me": user.id,
         "g": acc.group_id, "limit": THREADS_PER_PAGE,
         "offset": (current - 1) * THREADS_PER_PAGE},
    ).fetchall()
    seq = discussions.room_seq(conn, acc)
    return {"acc": acc, "threads": [dict(r) for r in rows], "page": current, "pages": pages,
            "seq": seq, "mine": mine}


def thread_row(conn: sqlite3.Connection, acc: Access, thread_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT t.id, t.title, t.created_at, t.message_count, coalesce(u.name, ?) AS author"
        " FROM threads t LEFT JOIN users u ON u.id = t.author_id AND u.erased_at IS NULL"
        " WHERE t.id = ? AND t.group_id = ?",
        (discussions.FORMER_MEMBER, thread_id, acc.group_id),
    ).fetchone()
    if row is None:
        raise NotFound()
    return row


def _position(conn: sqlite3.Connection, thread_id: int, message_id: int) -> int:
    """How many messages of the thread come before this one."""
    before: int = conn.execute("SELECT count(*) FROM messages WHERE thread_id = ? AND id < ?",
                               (thread_id, message_id)).fetchone()[0]
    return before


def _thread_read(conn: sqlite3.Connection, user: User, slug: str, thread_id: int,
                 page_no: int | None) -> dict[str, Any]:
    """One page of a thread, the member's previous mark, and the room's seq: one snapshot."""
    acc = outsider_safe(access, conn, user, slug)
    thread = thread_row(conn, acc, thread_id)
    total = conn.execute("SELECT count(*) FROM messages WHERE thread_id = ?",
                         (thread_id,)).fetchone()[0]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    baseline = reads.mark(conn, user, acc.group_id, thread_id)
    first_new = conn.execute(
        "SELECT min(id) FROM messages WHERE thread_id = ? AND id > ? AND deleted_at IS NULL"
        " AND coalesce(author_id, 0) != ?", (thread_id, baseline, user.id),
    ).fetchone()[0]
    if page_no is None:
        page_no = (_position(conn, thread_id, first_new) // PAGE_SIZE + 1
                   if first_new is not None else pages)
    current = min(page_no, pages)
    rows = conn.execute(
        f"SELECT {discussions._MESSAGE_COLUMNS} FROM messages m"
        " LEFT JOIN users u ON u.id = m.author_id"
        " WHERE m.thread_id = ? ORDER BY m.id LIMIT ? OFFSET ?",
        (thread_id, PAGE_SIZE, (current - 1) * PAGE_SIZE),
    ).fetchall()
    seq = discussions.room_seq(conn, acc)
    return {"acc": acc, "thread": dict(thread), "messages": [discussions.message_data(r)
            for r in rows], "page": current, "pages": pages, "first_new": first_new,
            "seq": seq, "total": total}


def _permalink_page(conn: sqlite3.Connection, user: User, slug: str, thread_id: int,
                    message_id: int) -> int:
    acc = outsider_safe(access, conn, user, slug)
    thread_row(conn, acc, thread_id)
    if conn.execute("SELECT 1 FROM messages WHERE id = ? AND thread_id = ?",
                    (message_id, thread_id)).fetchone() is None:
        raise NotFound()
    return _position(conn, thread_id, message_id) // PAGE_SIZE + 1


# --- pages ----------------------------------------------------------------------------------


@member_page
async def room(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    db = services_of(request).db
    data = await db.read(_room_read, found.user, slug, _page_number(request),
                         request.query_params.get("mine") == "1")
    acc: Access = data["acc"]
    await db.write(reads.visit_room, found.user, acc.group_id)
    return no_store(page(request, "room.html", title=acc.name, section="discussion",
                          done=DONE_WORDS.get(request.query_params.get("done", "")),
                          **data, **_live_context(request, found, acc)))


@member_page
async def thread(request: Request, found: Session) -> Response:
    slug, (thread_id,) = request.path_params["slug"], path_ids(request, "thread")
    db = services_of(request).db
    # a reply shown again after a mistake is on the last page, where the reply form is
    page_no = LAST_PAGE if getattr(request.state, "form_error", None) else _page_number(request)
    data = await db.read(_thread_read, found.user, slug, thread_id, page_no)
    acc: Access = data["acc"]
    if data["messages"]:
        await db.write(reads.move_mark, found.user, acc.group_id, thread_id,
                       data["messages"][-1]["id"])
    return no_store(page(request, "thread.html", title=data["thread"]["title"],
                          section="discussion", **data,
                          done=DONE_WORDS.get(request.query_params.get("done", "")),
                          **_live_context(request, found, acc)))


@member_page
async def permalink(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    thread_id, message_id = path_ids(request, "thread", "message")
    page_no = await services_of(request).db.read(_permalink_page, found.user, slug, thread_id,
                                                 message_id)
    done = request.query_params.get("done", "")
    note = f"&done={done}" if done in DONE_WORDS else ""
    return RedirectResponse(f"/g/{slug}/t/{thread_id}?page={page_no}{note}#m{message_id}",
                            status_code=303)


# What the thread page says, as a status message, after a no-JavaScript change.
DONE_WORDS = {"removed": "The message has been removed.",
              "changed": "Your changes have been saved.",
              "read": "Every thread in this group is now marked as read."}


# --- forms (the no-JavaScript path; the live client sends the same over the socket) ---------


@member_form(again="/g/{slug}", name="new-thread")
async def new_thread(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    settings = services_of(request).settings
    title = text_field(form, "title", "title", settings.max_title).strip()
    body = text_field(form, "body", "message", settings.max_body)
    try:
        result = await services_of(request).db.write(
            discussions.create_thread, found.user, slug, title, body, form_cid(form))
    except Forbidden:
        raise NotFound() from None
    return RedirectResponse(f"/g/{slug}/t/{result['thread']['id']}", status_code=303)


@member_form(again="/g/{slug}/t/{thread}", name="reply")
async def new_message(request: Request, found: Session, form: FormData) -> Response:
    slug, (thread_id,) = request.path_params["slug"], path_ids(request, "thread")
    body = text_field(form, "body", "message", services_of(request).settings.max_body)
    try:
        result = await services_of(request).db.write(
            discussions.post_message, found.user, slug, thread_id, body, form_cid(form))
    except (Forbidden, NotFound):
        raise NotFound() from None
    return RedirectResponse(f"/g/{slug}/t/{thread_id}/m/{result['message']['id']}",
                            status_code=303)


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
        Route("/g/{slug}/t/{thread:int}/messages", new_message, methods=["POST"],
              name="new_message"),
        Route("/g/{slug}/t/{thread:int}/m/{message:int}", permalink, methods=["GET"],
              name="permalink"),
    ]
