"""Moderation ops: message.report, message.hide, message.restore, message.review and
report.dismiss. Thin: arguments -> one domain write -> reply; the rules are in
domain/moderation.py."""

from __future__ import annotations

from typing import Any

from server.domain import moderation
from server.realtime.connection import Connection, Handler


async def message_report(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        moderation.report_message,
        conn.user,
        args["message"],
        args["reason"],
        args.get("note", ""),
    )


async def message_hide(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        moderation.hide_message, conn.user, args["message"], args["reason"]
    )


async def message_restore(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(moderation.restore_message, conn.user, args["message"])


async def message_review(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        moderation.ask_review, conn.user, args["message"], args.get("note", "")
    )


async def report_dismiss(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(moderation.dismiss_report, conn.user, args["report"])


OPERATIONS: dict[str, Handler] = {
    "message.report": message_report,
    "message.hide": message_hide,
    "message.restore": message_restore,
    "message.review": message_review,
    "report.dismiss": report_dismiss,
}

PIPELINED = frozenset(OPERATIONS)  # all writes
