"""The member's name in a group over the socket: ``name.set`` {room, name} (empty clears),
the same domain function as the page /g/{slug}/name."""

from __future__ import annotations

from typing import Any

from server.domain import names
from server.realtime.connection import Connection, Handler


async def name_set(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    you = await conn.services.db.write(names.choose, conn.user, args["room"], args["name"])
    return {"room": args["room"], "you": you}


OPERATIONS: dict[str, Handler] = {"name.set": name_set}

PIPELINED = frozenset(OPERATIONS)
