"""Meeting pages: a group's meetings (and the form to schedule one), one meeting with its
agenda and the member's reply, the chair's "run the meeting" page, and the catch-up pack.

Every page works without JavaScript: forms post here and redirect back (303) with a
message, or show the same page again with what was typed and one sentence next to the
field. static/meeting.js only makes the room's meeting bar live. Outsiders get the plain 404.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock_time
from functools import partial
from typing import Any, TypeVar

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import inbox, meeting_pack, meetings
from server.domain.accounts import Session, User, access
from server.errors import BadRequest, Forbidden, NotFound
from server.storage import Conn
from server.web.forms import path_ids, text_field, whole_number
from server.web.guards import (
    member_form,
    member_page,
    no_store,
    outsider_safe,
    refresh_badge,
    services_of,
)
from server.web.templating import LOCAL_TIME, page

T = TypeVar("T")

DONE_WORDS = {
    "scheduled": "The meeting is scheduled. Members can now propose agenda items.",
    "proposed": "Thank you: your item is proposed. The chair will look at it.",
    "supported": "Your support is counted.",
    "unsupported": "Your support is taken back.",
    "decided": "The agenda is updated.",
    "moved": "The agenda order is updated.",
    "published": "The agenda is published.",
    "paper": "The paper is added.",
    "replied": "Thank you: your reply is saved. You can change it at any time.",
    "view": "Thank you: your view is saved. The chair will see it when the item opens.",
    "started": "The meeting has started.",
    "next": "The next item is open.",
    "ended": "The meeting has ended. The catch-up pack is now a draft for comment.",
    "outcome": "The outcome is saved.",
    "action": "The action is added.",
    "action_done": "The action is marked done.",
    "marked": "Attendance is saved.",
    "commented": "Thank you: your comment is added to the minutes.",
    "approved": "The minutes are approved and locked.",
    "corrected": "The correction is added.",
    "sent": "The idea is sent to the next meeting as a proposed item.",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def long_when(ms: int | None, with_year: bool = False) -> str:
    """A meeting's time the way people say it, UK time: "Thursday 14 January, 2pm"."""
    if not ms:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(LOCAL_TIME)
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    suffix = "am" if moment.hour < 12 else "pm"
    year = f" {moment.year}" if with_year or moment.year != datetime.now(LOCAL_TIME).year else ""
    return f"{moment:%A} {moment.day} {moment:%B}{year}, {hour}{minutes}{suffix}"


def day_only(ms: int | None) -> str:
    """A due date: "Thursday 14 January"."""
    if not ms:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(LOCAL_TIME)
    year = f" {moment.year}" if moment.year != datetime.now(LOCAL_TIME).year else ""
    return f"{moment:%A} {moment.day} {moment:%B}{year}"


def local_moment(day: str, at: str, field: str = "date") -> int:
    """A date (YYYY-MM-DD) and a time (HH:MM) typed in UK local time, as UTC ms."""
    try:
        parsed_day = date.fromisoformat(day.strip())
    except ValueError:
        raise BadRequest("Please give the date as day, month and year.", field=field) from None
    try:
        parsed_at = clock_time.fromisoformat(at.strip() or "00:00")
    except ValueError:
        raise BadRequest(
            "Please give the time as hours and minutes, such as 14:00.", field="time"
        ) from None
    moment = datetime.combine(parsed_day, parsed_at, tzinfo=LOCAL_TIME)
    return int(moment.timestamp() * 1000)


def form_day(ms: int | None) -> str:
    """A stored moment as a date field's value, UK time."""
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(LOCAL_TIME).date().isoformat()


def template_globals() -> dict[str, Callable[..., Any]]:
    return {"long_when": long_when, "day_only": day_only, "form_day": form_day}


def _words() -> dict[str, Any]:
    return {
        "MODES": meetings.MODES,
        "KINDS": meetings.KINDS,
        "ATTENDING": meetings.ATTENDING,
        "FORMATS": meetings.FORMATS,
        "SUPPORTS": meetings.SUPPORTS,
        "OUTCOMES": meetings.OUTCOMES,
        "ATTEND_MODES": meetings.ATTEND_MODES,
    }


def _context(request: Request, found: Session) -> dict[str, Any]:
    s = services_of(request).settings
    return {
        "csrf": found.csrf,
        "max_title": s.max_title,
        "max_body": s.max_body,
        "form_cid": secrets.token_urlsafe(12),
        "done": DONE_WORDS.get(request.query_params.get("done", "")),
        "now": now_ms(),
        "section": "meetings",
        **_words(),
    }


# --- reads -----------------------------------------------------------------------------


def _list_read(conn: Conn, user: User, slug: str, now: int) -> dict[str, Any]:
    found = outsider_safe(meeting_pack.group_meetings, conn, user, slug, now)
    return {**found, "group": found["acc"]}


def _meeting_read(
    conn: Conn, user: User, slug: str, meeting_id: int, now: int, threshold: int
) -> dict[str, Any]:
    """The meeting and its pack, if it is a meeting of this group."""
    acc = outsider_safe(access, conn, user, slug)
    data = outsider_safe(
        meeting_pack.meeting_pack, conn, user, slug, meeting_id, now, threshold=threshold
    )
    return {**data, "group": acc}


def _path(request: Request, *names: str) -> list[int]:
    return path_ids(request, *names)


async def _show(
    request: Request, found: Session, template: str, title: str, runners_only: bool = False
) -> Response:
    slug = request.path_params["slug"]
    (meeting_id,) = _path(request, "meeting")
    services = services_of(request)
    data = await services.db.read(
        _meeting_read,
        found.user,
        slug,
        meeting_id,
        now_ms(),
        services.settings.privacy_threshold,
    )
    if runners_only and not data["can_run"]:
        raise Forbidden("Only the group's chair or facilitator can run the meeting.")
    await services.db.write(inbox.opened, found.user, "meeting", meeting_id)  # read in the inbox
    await refresh_badge(request, found)
    return no_store(
        page(
            request,
            template,
            title=f"{title}{data['meeting']['title']}",
            **data,
            **_context(request, found),
        )
    )


@member_page
async def meetings_page(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _list_read, found.user, request.path_params["slug"], now_ms()
    )
    return no_store(
        page(
            request,
            "meetings.html",
            title=f"Meetings – {data['group'].name}",
            **data,
            **_context(request, found),
        )
    )


@member_page(marks_read=True)
async def meeting_page(request: Request, found: Session) -> Response:
    return await _show(request, found, "meeting.html", "")


@member_page(marks_read=True)
async def run_page(request: Request, found: Session) -> Response:
    """The chair's and facilitator's controls; other members are told plainly (403)."""
    return await _show(request, found, "meeting_run.html", "Run the meeting: ", runners_only=True)


@member_page(marks_read=True)
async def pack_page(request: Request, found: Session) -> Response:
    return await _show(request, found, "meeting_pack.html", "Catch-up pack: ")


# --- forms -----------------------------------------------------------------------------


def _group_check(
    conn: Conn, user: User, slug: str, meeting_id: int | None, item_id: int | None
) -> None:
    """The group (outsiders: 404), and that the meeting and item in the path are its."""
    outsider_safe(access, conn, user, slug)
    if item_id is not None:
        owner = outsider_safe(meeting_pack.item_in_meeting, conn, user, slug, item_id)
        if meeting_id is not None and owner != meeting_id:
            raise NotFound()
    if meeting_id is not None:
        row, acc = outsider_safe(meetings.meeting_for, conn, user, meeting_id)
        if acc.slug != slug:
            raise NotFound()


async def _write(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """After the group check, one domain write; a NotFound inside is the plain 404."""
    db = services_of(request).db
    params = request.path_params
    await db.read(
        _group_check,
        request.state.session.user,
        params["slug"],
        params.get("meeting"),
        params.get("item"),
    )
    try:
        return await db.write(fn, *args)
    except NotFound:
        raise NotFound() from None


def _to(request: Request, where: str, done: str, anchor: str = "") -> Response:
    slug = request.path_params["slug"]
    meeting = request.path_params.get("meeting")
    base = f"/g/{slug}/meetings" + (f"/{meeting}" if meeting is not None else "")
    suffix = {"meeting": "", "run": "/run", "pack": "/pack", "list": ""}[where]
    if where == "list" and meeting is None:
        base = f"/g/{slug}/meetings"
    return RedirectResponse(f"{base}{suffix}?done={done}{anchor}", status_code=303)


def _short(form: FormData, name: str, limit: int = 200) -> str:
    value = str(form.get(name, ""))
    if len(value) > limit:
        raise BadRequest(f"That is too long: at most {limit} characters.", field=name)
    return value.strip()


def _box(form: FormData, name: str) -> bool:
    return form.get(name) == "yes"


@member_form(again="/g/{slug}/meetings", name="schedule")
async def schedule(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    title = text_field(form, "title", "title", services_of(request).settings.max_title)
    mode = str(form.get("mode", ""))
    starts_at = local_moment(str(form.get("date", "")), str(form.get("time", "")))
    papers = str(form.get("papers_due", "")).strip()
    papers_due = local_moment(papers, "17:00", "papers_due") if papers else None
    details = partial(
        meetings.schedule,
        place=_short(form, "place"),
        step_free=_box(form, "step_free"),
        hearing_loop=_box(form, "hearing_loop"),
        parking=_box(form, "parking"),
        join_online=_short(form, "join_online"),
        join_phone=_short(form, "join_phone"),
        papers_due=papers_due,
    )
    made = await _write(request, details, found.user, slug, title, starts_at, mode)
    return RedirectResponse(
        f"/g/{slug}/meetings/{made['meeting']['id']}?done=scheduled", status_code=303
    )


@member_form(again="/g/{slug}/meetings/{meeting}", name="propose")
async def propose(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    s = services_of(request).settings
    await _write(
        request,
        meetings.propose_item,
        found.user,
        meeting_id,
        text_field(form, "title", "title", s.max_title),
        text_field(form, "summary", "short summary", s.max_body),
        str(form.get("kind", "")),
    )
    return _to(request, "meeting", "proposed", "#proposed-heading")


@member_form(again="/g/{slug}/meetings/{meeting}", name="support-{item}")
async def support(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    on = form.get("on", "yes") == "yes"
    await _write(request, meetings.support_item, found.user, item_id, on)
    return _to(request, "meeting", "supported" if on else "unsupported", f"#item-{item_id}")


@member_form(again="/g/{slug}/meetings/{meeting}", name="decide-{item}")
async def decide(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    await _write(
        request,
        meetings.decide_item,
        found.user,
        item_id,
        str(form.get("decision", "")),
        _short(form, "reason", services_of(request).settings.max_body),
    )
    return _to(request, "meeting", "decided", f"#item-{item_id}")


@member_form(again="/g/{slug}/meetings/{meeting}", name="move-{item}")
async def move(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    position = whole_number(
        form.get("position", ""), "Please give the place as a number, such as 2.", "position"
    )
    await _write(request, meetings.move_item, found.user, item_id, max(position, 0))
    return _to(request, "meeting", "moved", "#agenda-heading")


@member_form(again="/g/{slug}/meetings/{meeting}", name="publish")
async def publish(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    await _write(request, meetings.publish_agenda, found.user, meeting_id)
    return _to(request, "meeting", "published", "#agenda-heading")


@member_form(again="/g/{slug}/meetings/{meeting}", name="paper-{item}")
async def add_paper(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    s = services_of(request).settings
    await _write(
        request,
        meetings.add_paper,
        found.user,
        item_id,
        text_field(form, "paper_title", "title for the paper", s.max_title),
        text_field(form, "paper_body", "paper", s.max_body),
    )
    return _to(request, "meeting", "paper", f"#item-{item_id}")


@member_form(again="/g/{slug}/meetings/{meeting}", name="reply")
async def reply(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    papers = str(form.get("papers_format", "")) or None
    support_chosen = [str(s) for s in form.getlist("support")]
    if not form.get("attending"):
        raise BadRequest("Please say how you will come, or that you can't come.", field="attending")
    await _write(
        request,
        meetings.reply,
        found.user,
        meeting_id,
        str(form.get("attending", "")),
        papers,
        support_chosen,
        _box(form, "listed"),
    )
    return _to(request, "meeting", "replied", "#reply-heading")


@member_form(again="/g/{slug}/meetings/{meeting}", name="view-{item}")
async def add_view(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    body = text_field(form, "body", "view", services_of(request).settings.max_body)
    await _write(request, meetings.add_view, found.user, item_id, body)
    return _to(request, "meeting", "view", f"#item-{item_id}")


@member_form(again="/g/{slug}/meetings/{meeting}/run", name="live")
async def start(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    started = await _write(request, meetings.start, found.user, meeting_id)
    services = services_of(request)  # those already in the room are there online
    here = [m["id"] for m in services.hub.online(started["room"])]
    await services.db.write(meetings.note_present, found.user, meeting_id, here)
    return _to(request, "run", "started")


@member_form(again="/g/{slug}/meetings/{meeting}/run", name="live")
async def next_item(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    await _write(request, meetings.next_item, found.user, meeting_id)
    return _to(request, "run", "next")


@member_form(again="/g/{slug}/meetings/{meeting}/run", name="live")
async def end(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    await _write(request, meetings.end, found.user, meeting_id)
    return _to(request, "run", "ended")


@member_form(again="/g/{slug}/meetings/{meeting}/run", name="outcome-{item}")
async def outcome(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    await _write(
        request,
        meetings.set_outcome,
        found.user,
        item_id,
        str(form.get("outcome", "")),
        _short(form, "note", services_of(request).settings.max_body),
    )
    return _to(request, "run", "outcome", f"#run-item-{item_id}")


@member_form(again="/g/{slug}/meetings/{meeting}/run", name="action-{item}")
async def add_action(request: Request, found: Session, form: FormData) -> Response:
    (item_id,) = _path(request, "item")
    what = text_field(form, "what", "action", services_of(request).settings.max_title)
    owner_raw = str(form.get("owner", "")).strip()
    owner = (
        whole_number(owner_raw, "Please choose who from the list.", "owner") if owner_raw else None
    )
    due = str(form.get("due", "")).strip()
    if not due:
        raise BadRequest("Please give the date it is due by.", field="due")
    due_at = local_moment(due, "23:59", "due")
    await _write(request, meetings.add_action, found.user, item_id, what, owner, due_at)
    return _to(request, "run", "action", f"#run-item-{item_id}")


@member_form
async def action_done(request: Request, found: Session, form: FormData) -> Response:
    (action_id,) = _path(request, "action")
    await _write(
        request, meetings.action_done, found.user, action_id, form.get("done", "yes") == "yes"
    )
    back = str(form.get("back", ""))
    slug = request.path_params["slug"]
    target = back if back.startswith(f"/g/{slug}/") and "//" not in back else f"/g/{slug}/meetings"
    return RedirectResponse(target.split("?")[0] + "?done=action_done", status_code=303)


@member_form(again="/g/{slug}/meetings/{meeting}/run", name="attendance-{member}")
async def mark(request: Request, found: Session, form: FormData) -> Response:
    meeting_id, member_id = _path(request, "meeting", "member")
    await _write(
        request,
        meetings.mark_attendance,
        found.user,
        meeting_id,
        member_id,
        str(form.get("mode", "")),
        _box(form, "came_in_person"),
    )
    return _to(request, "run", "marked", f"#person-{member_id}")


@member_form(again="/g/{slug}/meetings/{meeting}/pack", name="comment")
async def comment(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    body = text_field(form, "body", "comment", services_of(request).settings.max_body)
    raw_item = str(form.get("item", "")).strip()
    item = (
        whole_number(raw_item, "Please choose an item from the list.", "item") if raw_item else None
    )
    await _write(request, meetings.comment, found.user, meeting_id, body, item)
    return _to(request, "pack", "commented", "#comments-heading")


@member_form(again="/g/{slug}/meetings/{meeting}/pack", name="approve")
async def approve(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    await _write(request, meetings.approve, found.user, meeting_id)
    return _to(request, "pack", "approved")


@member_form(again="/g/{slug}/meetings/{meeting}/pack", name="correct")
async def correct(request: Request, found: Session, form: FormData) -> Response:
    (meeting_id,) = _path(request, "meeting")
    body = text_field(form, "body", "correction", services_of(request).settings.max_body)
    await _write(request, meetings.correct, found.user, meeting_id, body)
    return _to(request, "pack", "corrected", "#corrections-heading")


@member_form(again="/g/{slug}/ideas/{idea}", name="to-meeting")
async def idea_to_meeting(request: Request, found: Session, form: FormData) -> Response:
    (idea_id,) = _path(request, "idea")
    made = await _write(request, meetings.idea_to_meeting, found.user, idea_id)
    slug = request.path_params["slug"]
    return RedirectResponse(
        f"/g/{slug}/meetings/{made['meeting']['id']}?done=sent#proposed-heading", status_code=303
    )


def routes() -> list[BaseRoute]:
    m = "/g/{slug}/meetings/{meeting:int}"
    item = m + "/items/{item:int}"
    return [
        Route("/g/{slug}/meetings", meetings_page, methods=["GET"], name="meetings"),
        Route("/g/{slug}/meetings", schedule, methods=["POST"]),
        Route(m, meeting_page, methods=["GET"], name="meeting"),
        Route(m + "/run", run_page, methods=["GET"], name="meeting_run"),
        Route(m + "/pack", pack_page, methods=["GET"], name="meeting_pack"),
        Route(m + "/propose", propose, methods=["POST"]),
        Route(m + "/reply", reply, methods=["POST"]),
        Route(m + "/publish", publish, methods=["POST"]),
        Route(m + "/start", start, methods=["POST"]),
        Route(m + "/next", next_item, methods=["POST"]),
        Route(m + "/end", end, methods=["POST"]),
        Route(m + "/attendance/{member:int}", mark, methods=["POST"]),
        Route(m + "/comment", comment, methods=["POST"]),
        Route(m + "/approve", approve, methods=["POST"]),
        Route(m + "/correct", correct, methods=["POST"]),
        Route(item + "/support", support, methods=["POST"]),
        Route(item + "/decide", decide, methods=["POST"]),
        Route(item + "/move", move, methods=["POST"]),
        Route(item + "/paper", add_paper, methods=["POST"]),
        Route(item + "/view", add_view, methods=["POST"]),
        Route(item + "/outcome", outcome, methods=["POST"]),
        Route(item + "/action", add_action, methods=["POST"]),
        Route("/g/{slug}/actions/{action:int}/done", action_done, methods=["POST"]),
        Route("/g/{slug}/ideas/{idea:int}/to-meeting", idea_to_meeting, methods=["POST"]),
    ]
