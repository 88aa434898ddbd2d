"""Removing and editing a message from the web pages: one question per screen, no JavaScript.

A chair or facilitator removes a post that breaks the ground rules; an author removes or
edits their own. Each is a confirm page (GET) and a CSRF-checked form (POST) that calls the
same domain functions as the socket's message.delete / message.edit, so the live room sees
the change at once.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import discussions
from server.domain.accounts import Access, Session, User, access
from server.errors import Forbidden
from server.storage import Conn
from server.web.forms import path_ids, text_field
from server.web.guards import member_form, member_page, no_store, outsider_safe, services_of
from server.web.templating import page


def may_remove(acc: Access, user: User, author_id: int | None) -> bool:
    """Who the pages offer "Remove" to: the same people discussions.delete_message allows
    (the author, or an admin; chairs and facilitators hide instead)."""
    return author_id == user.id or user.is_admin


def _message_read(
    conn: Conn, user: User, slug: str, thread_id: int, message_id: int
) -> dict[str, Any]:
    acc = outsider_safe(access, conn, user, slug)
    return discussions.message_in_thread(conn, acc, thread_id, message_id, user)


async def _load(request: Request, found: Session) -> dict[str, Any]:
    slug = request.path_params["slug"]
    thread_id, message_id = path_ids(request, "thread", "message")
    return await services_of(request).db.read(
        _message_read, found.user, slug, thread_id, message_id
    )


def _back(data: dict[str, Any]) -> str:
    m = data["message"]
    return f"/g/{data['acc'].slug}/t/{m['thread']}/m/{m['id']}"


def _gone(data: dict[str, Any]) -> Response | None:
    """A message already removed: nothing to confirm, so back to where it was."""
    if data["message"].get("deleted"):
        return RedirectResponse(_back(data), status_code=303)
    return None


@member_page
async def remove_form(request: Request, found: Session) -> Response:
    data = await _load(request, found)
    if (gone := _gone(data)) is not None:
        return gone
    if not may_remove(data["acc"], found.user, data["author_id"]):
        raise Forbidden(
            "Only the person who wrote a message or an admin can remove it for good."
            " A chair or facilitator can hide it instead."
        )
    return no_store(
        page(
            request,
            "message_remove.html",
            title="Remove this message?",
            group=data["acc"],
            section="discussion",
            back=_back(data),
            mine=data["author_id"] == found.user.id,
            csrf=found.csrf,
            **data,
        )
    )


@member_form
async def remove(request: Request, found: Session, _form: FormData) -> Response:
    slug = request.path_params["slug"]
    thread_id, message_id = path_ids(request, "thread", "message")
    data = await services_of(request).db.read(
        _message_read, found.user, slug, thread_id, message_id
    )
    if _gone(data) is None:
        await services_of(request).db.write(discussions.delete_message, found.user, message_id)
    return RedirectResponse(_back(data) + "?done=removed", status_code=303)


@member_page
async def edit_form(request: Request, found: Session) -> Response:
    data = await _load(request, found)
    if (gone := _gone(data)) is not None:
        return gone
    if data["author_id"] != found.user.id:
        raise Forbidden("Only the person who wrote a message can change it.")
    return no_store(
        page(
            request,
            "message_edit.html",
            title="Change your message",
            group=data["acc"],
            section="discussion",
            back=_back(data),
            csrf=found.csrf,
            max_body=services_of(request).settings.max_body,
            **data,
        )
    )


@member_form(again="/g/{slug}/t/{thread}/m/{message}/edit", name="edit")
async def edit(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    thread_id, message_id = path_ids(request, "thread", "message")
    data = await services_of(request).db.read(
        _message_read, found.user, slug, thread_id, message_id
    )
    body = text_field(form, "body", "message", services_of(request).settings.max_body)
    await services_of(request).db.write(discussions.edit_message, found.user, message_id, body)
    return RedirectResponse(_back(data) + "?done=changed", status_code=303)


def routes() -> list[BaseRoute]:
    base = "/g/{slug}/t/{thread:int}/m/{message:int}"
    return [
        Route(base + "/remove", remove_form, methods=["GET"], name="message_remove_form"),
        Route(base + "/remove", remove, methods=["POST"], name="message_remove"),
        Route(base + "/edit", edit_form, methods=["GET"], name="message_edit_form"),
        Route(base + "/edit", edit, methods=["POST"], name="message_edit"),
    ]
