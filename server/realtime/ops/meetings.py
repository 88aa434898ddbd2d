"""Meeting ops: schedule, the agenda, papers, replies and views, the live meeting (start,
next item, end), outcomes and actions, attendance, and the minutes. Thin: arguments in,
one domain call, its reply out; who may do what is decided inside the write."""

from __future__ import annotations

import time
from typing import Any

from server.domain import meeting_pack, meetings
from server.realtime.connection import Connection, Handler
from server.realtime.ops.common import joined


def _now() -> int:
    return int(time.time() * 1000)


async def meeting_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    extra = {
        k: args[k]
        for k in (
            "place",
            "step_free",
            "hearing_loop",
            "parking",
            "join_online",
            "join_phone",
            "papers_due",
        )
        if k in args
    }

    def write(tx: Any) -> dict[str, Any]:
        return meetings.schedule(
            tx, conn.user, args["room"], args["title"], args["starts_at"], args["mode"], **extra
        )

    return await conn.services.db.write(write)


async def meeting_get(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    db = conn.services.db
    view = await db.read(meeting_pack.meeting_view, conn.user, args["meeting"], _now())
    view["views_now"] = await db.read(meeting_pack.item_views_now, conn.user, args["meeting"])
    return {"meeting": view}


async def meeting_list(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    found = await conn.services.db.read(
        meeting_pack.group_meetings, conn.user, args["room"], _now()
    )
    return {"coming": found["coming"], "past": found["past"]}


async def meeting_start(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Start, then record as there online the members already in the group's room."""
    db = conn.services.db
    started: dict[str, Any] = await db.write(meetings.start, conn.user, args["meeting"])
    here = [m["id"] for m in conn.services.hub.online(started["room"])]
    await db.write(meetings.note_present, conn.user, args["meeting"], here)
    return started


def _write(fn: Any, *names: str, **defaults: Any) -> Handler:
    """A handler that calls one domain write with the user and these arguments in order
    (an optional argument left out takes its default)."""

    async def handler(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
        values = [args.get(n, defaults.get(n)) for n in names]
        result: dict[str, Any] = await conn.services.db.write(fn, conn.user, *values)
        return result

    handler.__name__ = handler.__qualname__ = fn.__name__
    return handler


OPERATIONS: dict[str, Handler] = {
    "meeting.create": meeting_create,
    "meeting.get": meeting_get,
    "meeting.list": meeting_list,
    "meeting.propose": _write(meetings.propose_item, "meeting", "title", "summary", "kind"),
    "meeting.support": _write(meetings.support_item, "item", "on", on=True),
    "meeting.decide": _write(meetings.decide_item, "item", "decision", "reason", reason=""),
    "meeting.move": _write(meetings.move_item, "item", "position"),
    "meeting.publish": _write(meetings.publish_agenda, "meeting"),
    "meeting.from_idea": _write(meetings.idea_to_meeting, "idea"),
    "meeting.paper": _write(meetings.add_paper, "item", "title", "body"),
    "meeting.reply": _write(
        meetings.reply, "meeting", "attending", "papers_format", "support", "listed", listed=False
    ),
    "meeting.view": _write(meetings.add_view, "item", "body"),
    "meeting.start": meeting_start,
    "meeting.next": _write(meetings.next_item, "meeting"),
    "meeting.end": _write(meetings.end, "meeting"),
    "meeting.outcome": _write(meetings.set_outcome, "item", "outcome", "note", note=""),
    "meeting.action": _write(meetings.add_action, "item", "what", "owner", "due_at"),
    "meeting.action_done": _write(meetings.action_done, "action", "done", done=True),
    "attendance.mark": _write(
        meetings.mark_attendance,
        "meeting",
        "member",
        "mode",
        "came_in_person",
        came_in_person=False,
    ),
    "minutes.comment": _write(meetings.comment, "meeting", "body", "item"),
    "minutes.approve": _write(meetings.approve, "meeting"),
    "minutes.correct": _write(meetings.correct, "meeting", "body"),
}

PIPELINED = frozenset(op for op in OPERATIONS if op not in ("meeting.get", "meeting.list"))
