"""Poll ops: create, vote, vote_for, count, close, get, list."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from server.domain import polls
from server.realtime.connection import Connection, Handler
from server.realtime.ops.common import joined


def _counted(conn: Connection, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the voters an open anonymous poll needs before its counts are shown."""
    return partial(fn, threshold=conn.services.settings.privacy_threshold)


async def poll_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    polls.check_results(args.get("results", "live"))  # an unknown word first, as ever
    joined(conn, args["room"])
    return await conn.services.db.write(
        partial(_counted(conn, polls.create_poll), closes_at=args.get("closes_at")),
        conn.user,
        args["room"],
        args["question"],
        args["options"],
        args["kind"],
        args.get("anonymous", False),
        args.get("results", "live"),
    )


async def poll_vote(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        _counted(conn, polls.vote), conn.user, args["poll"], args["choices"]
    )


async def poll_vote_for(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        _counted(conn, polls.vote_for), conn.user, args["poll"], args["member"], args["choices"]
    )


async def poll_count(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        _counted(conn, polls.count_in_room), conn.user, args["poll"], args["counts"]
    )


async def poll_close(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(polls.close, conn.user, args["poll"])


async def poll_get(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(_counted(conn, polls.get_poll), conn.user, args["poll"])


async def poll_list(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(_counted(conn, polls.list_polls), conn.user, args["room"])


OPERATIONS: dict[str, Handler] = {
    "poll.create": poll_create,
    "poll.vote": poll_vote,
    "poll.vote_for": poll_vote_for,
    "poll.count": poll_count,
    "poll.close": poll_close,
    "poll.get": poll_get,
    "poll.list": poll_list,
}

PIPELINED = frozenset({"poll.create", "poll.vote", "poll.vote_for", "poll.count", "poll.close"})
