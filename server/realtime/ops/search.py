"""The search op: the /search page's results for a live client, over the same domain read."""

from __future__ import annotations

from typing import Any

from server.domain import search
from server.realtime.connection import Connection, Handler


async def search_op(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    filters = search.Filters(
        q=args["q"],
        group=args.get("room", ""),
        person=args.get("person"),
        date_from=args.get("from", ""),
        date_to=args.get("to", ""),
        page=args.get("page", 1),
    )
    return await conn.services.db.read(search.search_for_client, conn.user, filters)


OPERATIONS: dict[str, Handler] = {"search": search_op}

PIPELINED: frozenset[str] = frozenset()
