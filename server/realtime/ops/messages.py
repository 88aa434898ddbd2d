"""Thread and message ops: thread.create, message.post, message.edit, message.delete."""

from __future__ import annotations

from typing import Any

from server.domain import discussions, moderation
from server.realtime.connection import Connection, Handler
from server.realtime.ops.common import joined


async def thread_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    return await conn.services.db.write(
        discussions.create_thread,
        conn.user,
        args["room"],
        args["title"],
        args["body"],
        args["cid"],
        args.get("staff_only", False),
    )


async def message_post(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    return await conn.services.db.write(
        discussions.post_message,
        conn.user,
        args["room"],
        args["thread"],
        args["body"],
        args["cid"],
        args.get("staff_only", False),
    )


async def message_edit(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        discussions.edit_message, conn.user, args["message"], args["body"]
    )


async def message_delete(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    await conn.services.db.write(moderation.remove_message, conn.user, args["message"])
    return {}


OPERATIONS: dict[str, Handler] = {
    "thread.create": thread_create,
    "message.post": message_post,
    "message.edit": message_edit,
    "message.delete": message_delete,
}

PIPELINED = frozenset(OPERATIONS)  # all writes
