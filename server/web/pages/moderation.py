"""Moderation pages: report a post, hide or restore it, the review queue, the ground rules
and a member's private notices. Every one works without JavaScript and calls the same
domain functions as the socket's ops (domain/moderation.py)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import discussions, moderation
from server.domain.accounts import Session, User, access
from server.errors import Forbidden
from server.storage import Conn
from server.web.forms import path_ids
from server.web.guards import member_form, member_page, no_store, outsider_safe, services_of
from server.web.templating import page

_MESSAGE = "/g/{slug}/t/{thread}/m/{message}"


def _message_read(
    conn: Conn, user: User, slug: str, thread_id: int, message_id: int
) -> dict[str, Any]:
    acc = outsider_safe(access, conn, user, slug)
    data = discussions.message_in_thread(conn, acc, thread_id, message_id, user)
    data["may_hide"] = moderation.may_moderate(user, acc)
    return data


async def _load(request: Request, found: Session) -> dict[str, Any]:
    thread_id, message_id = path_ids(request, "thread", "message")
    return await services_of(request).db.read(
        _message_read, found.user, request.path_params["slug"], thread_id, message_id
    )


def _back(data: dict[str, Any]) -> str:
    m = data["message"]
    return f"/g/{data['acc'].slug}/t/{m['thread']}/m/{m['id']}"


def _show(request: Request, found: Session, template: str, title: str, **data: Any) -> Response:
    return no_store(
        page(
            request,
            template,
            title=title,
            group=data.get("acc"),
            section="discussion",
            csrf=found.csrf,
            **data,
        )
    )


@member_page
async def report_form(request: Request, found: Session) -> Response:
    data = await _load(request, found)
    return _show(
        request,
        found,
        "moderation_report.html",
        "Report this post",
        back=_back(data),
        reasons=moderation.REPORT_REASONS,
        **data,
    )


@member_form(again=_MESSAGE + "/report", name="report")
async def report(request: Request, found: Session, form: FormData) -> Response:
    data = await _load(request, found)
    await services_of(request).db.write(
        moderation.report_message,
        found.user,
        data["message"]["id"],
        str(form.get("reason", "")),
        str(form.get("note", "")),
    )
    return RedirectResponse(_back(data) + "?done=reported", status_code=303)


@member_page
async def hide_form(request: Request, found: Session) -> Response:
    data = await _load(request, found)
    if not data["may_hide"]:
        raise Forbidden("Only the group's chair, a facilitator or an admin can hide a post.")
    return _show(
        request,
        found,
        "moderation_hide.html",
        "Hide this post",
        back=_back(data),
        reasons=moderation.HIDE_REASONS,
        **data,
    )


@member_form(again=_MESSAGE + "/hide", name="hide")
async def hide(request: Request, found: Session, form: FormData) -> Response:
    data = await _load(request, found)
    await services_of(request).db.write(
        moderation.hide_message, found.user, data["message"]["id"], str(form.get("reason", ""))
    )
    return RedirectResponse(_back(data) + "?done=hidden", status_code=303)


@member_form
async def restore(request: Request, found: Session, _form: FormData) -> Response:
    data = await _load(request, found)
    await services_of(request).db.write(
        moderation.restore_message, found.user, data["message"]["id"]
    )
    return RedirectResponse(f"/g/{data['acc'].slug}/review?done=restored", status_code=303)


QUEUE_DONE = {
    "restored": "The post is shown again.",
    "dismissed": "The report is closed. The post stays as it is.",
}


@member_page
async def review_queue(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        moderation.review_queue, found.user, request.path_params["slug"]
    )
    return _show(
        request,
        found,
        "moderation_queue.html",
        "Reports to look at",
        done=QUEUE_DONE.get(request.query_params.get("done", "")),
        reasons=moderation.HIDE_REASONS,
        **data,
    )


@member_form
async def dismiss(request: Request, found: Session, _form: FormData) -> Response:
    (report_id,) = path_ids(request, "report")
    await services_of(request).db.write(moderation.dismiss_report, found.user, report_id)
    return RedirectResponse(
        f"/g/{request.path_params['slug']}/review?done=dismissed", status_code=303
    )


@member_page
async def rules(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        moderation.ground_rules, found.user, request.path_params["slug"]
    )
    saved = request.query_params.get("done") == "saved"
    return _show(request, found, "moderation_rules.html", "Ground rules", saved=saved, **data)


@member_form(again="/g/{slug}/rules", name="rules")
async def save_rules(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    await services_of(request).db.write(
        moderation.set_ground_rules, found.user, slug, str(form.get("rules", ""))
    )
    return RedirectResponse(f"/g/{slug}/rules?done=saved", status_code=303)


@member_page
async def notices(request: Request, found: Session) -> Response:
    db = services_of(request).db
    items = await db.read(moderation.notices, found.user)
    await db.write(moderation.mark_notices_read, found.user)
    done = request.query_params.get("done") == "asked"
    return no_store(
        page(
            request,
            "moderation_notices.html",
            title="Notes for you",
            notices=items,
            done=done,
            csrf=found.csrf,
        )
    )


@member_form(again="/notices", name="review")
async def ask_review(request: Request, found: Session, form: FormData) -> Response:
    (message_id,) = path_ids(request, "message")
    await services_of(request).db.write(
        moderation.ask_review, found.user, message_id, str(form.get("note", ""))
    )
    return RedirectResponse("/notices?done=asked", status_code=303)


def routes() -> list[BaseRoute]:
    base = "/g/{slug}/t/{thread:int}/m/{message:int}"
    return [
        Route(base + "/report", report_form, methods=["GET"], name="message_report_form"),
        Route(base + "/report", report, methods=["POST"], name="message_report"),
        Route(base + "/hide", hide_form, methods=["GET"], name="message_hide_form"),
        Route(base + "/hide", hide, methods=["POST"], name="message_hide"),
        Route(base + "/restore", restore, methods=["POST"], name="message_restore"),
        Route("/g/{slug}/review", review_queue, methods=["GET"], name="review_queue"),
        Route("/g/{slug}/review/{report:int}/dismiss", dismiss, methods=["POST"], name="dismiss"),
        Route("/g/{slug}/rules", rules, methods=["GET"], name="ground_rules"),
        Route("/g/{slug}/rules", save_rules, methods=["POST"], name="ground_rules_save"),
        Route("/notices", notices, methods=["GET"], name="notices"),
        Route("/notices/{message:int}/review", ask_review, methods=["POST"], name="ask_review"),
    ]
