"""Protocol handlers for polls and ideas: validate (done by protocol) → write → reply."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from server.domain import ideas, polls
from server.errors import NotJoined
from server.realtime.connection import Connection, Handler


def joined(conn: Connection, room: str) -> None:
    """Room writes need a prior join, as for threads (a non-member still gets forbidden)."""
    if room not in conn.rooms:
        raise NotJoined(f"Join the room '{room[:64]}' first.")


def _counted(conn: Connection, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the voters an open anonymous poll needs before its counts are shown."""
    return partial(fn, threshold=conn.services.settings.privacy_threshold)


async def poll_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    polls.check_results(args.get("results", "live"))  # an unknown word first, as ever
    joined(conn, args["room"])
    return await conn.services.db.write(
        _counted(conn, polls.create_poll), conn.user, args["room"], args["question"],
        args["options"], args["kind"], args.get("anonymous", False),
        args.get("results", "live"))


async def poll_vote(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        _counted(conn, polls.vote), conn.user, args["poll"], args["choices"])


async def poll_vote_for(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        _counted(conn, polls.vote_for), conn.user, args["poll"], args["member"],
        args["choices"])


async def poll_count(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        _counted(conn, polls.count_in_room), conn.user, args["poll"], args["counts"])


async def poll_close(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(polls.close, conn.user, args["poll"])


async def poll_get(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(
        _counted(conn, polls.get_poll), conn.user, args["poll"])


async def poll_list(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(
        _counted(conn, polls.list_polls), conn.user, args["room"])


async def idea_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    return await conn.services.db.write(
        ideas.create_idea, conn.user, args["room"], args["title"], args["body"], args["cid"])


async def idea_support(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(ideas.support, conn.user, args["idea"], True)


async def idea_unsupport(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(ideas.support, conn.user, args["idea"], False)


async def idea_status(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        ideas.set_status, conn.user, args["idea"], args["status"], args.get("note", ""))


async def idea_merge(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(ideas.merge, conn.user, args["idea"], args["into"])


async def idea_get(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(ideas.get_idea, conn.user, args["idea"])


async def idea_list(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(
        ideas.list_ideas, conn.user, args["room"], args.get("sort", "support"),
        args.get("status"))


POLL_IDEA_OPERATIONS: dict[str, Handler] = {
    "poll.create": poll_create,
    "poll.vote": poll_vote,
    "poll.vote_for": poll_vote_for,
    "poll.count": poll_count,
    "poll.close": poll_close,
    "poll.get": poll_get,
    "poll.list": poll_list,
    "idea.create": idea_create,
    "idea.support": idea_support,
    "idea.unsupport": idea_unsupport,
    "idea.status": idea_status,
    "idea.merge": idea_merge,
    "idea.get": idea_get,
    "idea.list": idea_list,
}
