"""The operation table: each protocol op as a short handler, validate → write → reply.

Arguments arrive already checked by ``protocol.validate``. Handlers hold no business rules
of their own: those live in the domain modules, inside the write's transaction.
"""

from __future__ import annotations

from typing import Any

from server import __version__
from server.domain import accounts, discussions
from server.errors import NotJoined
from server.protocol.codec import Event
from server.realtime.connection import AfterReply, Connection, Handler
from server.realtime.ops.polls import POLL_IDEA_OPERATIONS


def _joined(conn: Connection, room: str) -> None:
    """Room writes need a prior join; a non-member still gets forbidden (from the write)."""
    if room not in conn.rooms:
        raise NotJoined(f"Join the room '{room[:64]}' first.")


async def hello(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    conn.client = args.get("client", "")
    s = conn.services.settings
    groups = await conn.services.db.read(accounts.user_groups, conn.user)
    return {
        "user": {"id": conn.user.id, "name": conn.user.name, "role": conn.user.role},
        "server": __version__,
        "limits": {"max_frame": s.max_frame, "max_body": s.max_body, "max_title": s.max_title,
                   "rate_limit": s.rate_limit},
        "groups": [{"slug": g["slug"], "name": g["name"], "role": g["role"]} for g in groups],
    }


async def join(conn: Connection, args: dict[str, Any]) -> AfterReply:
    room, since, epoch = args["room"], args.get("since"), args.get("epoch")
    db, settings = conn.services.db, conn.services.settings
    acc = await db.read(accounts.access, conn.user, room)  # before subscribing: no leaks
    conn.open_room(room)  # subscribed before the seq is read: nothing falls between
    try:
        # Access again, in the seq's snapshot: a removal committed while we subscribed is
        # either seen here or seen by the access watcher, which now finds this room joined.
        acc, seq = await db.read(discussions.room_state, conn.user, room)
        replay: list[Event] = []
        recovered = False
        if (since is not None and (epoch is None or epoch == db.epoch) and since <= seq
                and seq - since <= settings.replay_limit):
            rows = await db.read(discussions.events_after, acc.room_id, since, seq)
            replay = [Event(room, s, t, at, data) for s, t, at, data in rows]
            recovered = True
    except BaseException:
        conn.leave_room(room)
        raise
    return AfterReply(
        {"room": room, "seq": seq, "epoch": db.epoch, "recovered": recovered},
        lambda: conn.go_live(room, since if recovered else seq, replay),
    )


async def leave(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    _joined(conn, args["room"])
    conn.leave_room(args["room"])
    return {}


async def history(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(
        discussions.history, conn.user, args["room"], args.get("thread"), args.get("before"),
        args.get("limit", 50),
    )


async def thread_create(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    _joined(conn, args["room"])
    return await conn.services.db.write(
        discussions.create_thread, conn.user, args["room"], args["title"], args["body"],
        args["cid"],
    )


async def message_post(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    _joined(conn, args["room"])
    return await conn.services.db.write(
        discussions.post_message, conn.user, args["room"], args["thread"], args["body"],
        args["cid"],
    )


async def message_edit(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.write(
        discussions.edit_message, conn.user, args["message"], args["body"])


async def message_delete(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    await conn.services.db.write(discussions.delete_message, conn.user, args["message"])
    return {}


async def presence(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    _joined(conn, args["room"])
    return {"members": conn.services.hub.online(args["room"])}


async def typing(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Ephemeral "is writing" signal for the room (seq null, never stored)."""
    _joined(conn, args["room"])
    data: dict[str, Any] = {"id": conn.user.id, "name": conn.user.name}
    if args.get("thread") is not None:
        data["thread"] = args["thread"]
    conn.services.hub.ephemeral(args["room"], "typing", data)
    return {}


async def ping(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return {}


OPERATIONS: dict[str, Handler] = {
    "hello": hello,
    "join": join,
    "leave": leave,
    "history": history,
    "thread.create": thread_create,
    "message.post": message_post,
    "message.edit": message_edit,
    "message.delete": message_delete,
    "presence": presence,
    "typing": typing,
    "ping": ping,
    **POLL_IDEA_OPERATIONS,
}

# Writes: their replies wait on the group commit, so a connection keeps reading meanwhile.
PIPELINED = frozenset({
    "thread.create", "message.post", "message.edit", "message.delete", "poll.create",
    "poll.vote", "poll.close", "poll.count", "poll.vote_for", "idea.create", "idea.support",
    "idea.unsupport", "idea.status", "idea.merge",
})
