"""Following and inbox ops: follow.set, follow.level, inbox.get, inbox.read. Thin: arguments
-> one domain call -> reply; the rules are in domain/following.py and domain/inbox.py.
A member's follows and read marks are theirs alone, so these emit no room event."""

from __future__ import annotations

from typing import Any

from server.domain import following, inbox
from server.realtime.connection import Connection, Handler


async def follow_set(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        following.set_follow,
        conn.user,
        args["room"],
        args["kind"],
        args["id"],
        args.get("on", True),
    )


async def follow_level(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(following.set_level, conn.user, args["room"], args["level"])


def _inbox(db_conn: Any, user: Any) -> dict[str, Any]:
    found = inbox.entries(db_conn, user)
    return {"entries": [inbox.entry_dict(e) for e in found], "unread": len(found)}


async def inbox_get(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(_inbox, conn.user)


def _read(tx: Any, user: Any, key: str | None) -> dict[str, Any]:
    if key is None:
        inbox.mark_all_read(tx, user)
    else:
        inbox.mark_read(tx, user, key)
    return {"read": key if key is not None else "all"}


async def inbox_read(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(_read, conn.user, args.get("key"))


OPERATIONS: dict[str, Handler] = {
    "follow.set": follow_set,
    "follow.level": follow_level,
    "inbox.get": inbox_get,
    "inbox.read": inbox_read,
}

PIPELINED = frozenset({"follow.set", "follow.level", "inbox.read"})
