"""Idea ops: create, support and unsupport, status, merge, get, list."""

from __future__ import annotations

from typing import Any

from server.domain import ideas
from server.realtime.connection import Connection, Handler
from server.realtime.ops.common import joined


async def idea_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    return await conn.services.db.write(
        ideas.create_idea, conn.user, args["room"], args["title"], args["body"], args["cid"]
    )


async def idea_support(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(ideas.support, conn.user, args["idea"], True)


async def idea_unsupport(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(ideas.support, conn.user, args["idea"], False)


async def idea_status(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        ideas.set_status, conn.user, args["idea"], args["status"], args.get("note", "")
    )


async def idea_merge(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(ideas.merge, conn.user, args["idea"], args["into"])


async def idea_get(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(ideas.get_idea, conn.user, args["idea"])


async def idea_list(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(
        ideas.list_ideas, conn.user, args["room"], args.get("sort", "support"), args.get("status")
    )


OPERATIONS: dict[str, Handler] = {
    "idea.create": idea_create,
    "idea.support": idea_support,
    "idea.unsupport": idea_unsupport,
    "idea.status": idea_status,
    "idea.merge": idea_merge,
    "idea.get": idea_get,
    "idea.list": idea_list,
}

PIPELINED = frozenset(
    {"idea.create", "idea.support", "idea.unsupport", "idea.status", "idea.merge"}
)
