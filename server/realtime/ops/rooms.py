"""Room ops: hello, join (with its replay), leave, history, presence, typing, ping.

Arguments arrive already checked by ``protocol.schemas``. Handlers hold no business rules
of their own: access is decided by the domain modules they call.
"""

from __future__ import annotations

from typing import Any

from server import __version__
from server.domain import accounts, discussions, meetings, names
from server.protocol.codec import Event
from server.realtime.connection import AfterReply, Connection, Handler
from server.realtime.ops.common import joined


async def hello(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    conn.client = args.get("client", "")
    s = conn.services.settings
    groups = await conn.services.db.read(accounts.user_groups, conn.user)
    return {
        "user": {"id": conn.user.id, "name": conn.user.name, "role": conn.user.role},
        "server": __version__,
        "limits": {
            "max_frame": s.max_frame,
            "max_body": s.max_body,
            "max_title": s.max_title,
            "rate_limit": s.rate_limit,
        },
        "groups": [{"slug": g["slug"], "name": g["name"], "role": g["role"]} for g in groups],
    }


async def join(conn: Connection, args: dict[str, Any]) -> AfterReply:
    room, since, epoch = args["room"], args.get("since"), args.get("epoch")
    db, settings = conn.services.db, conn.services.settings
    acc = await db.read(accounts.access, conn.user, room)  # before subscribing: no leaks
    if await db.read(meetings.running_meeting, acc.group_id) is not None:
        # joining during the group's meeting records the member as there online, with the
        # time (before subscribing, so the joiner's reply seq already counts that event)
        await db.write(meetings.note_online_join, conn.user, room)
    who = await db.read(names.own, acc.group_id, conn.user)
    conn.open_room(room, who)  # subscribed before the seq is read: nothing falls between
    try:
        # Access again, in the seq's snapshot: a removal committed while we subscribed is
        # either seen here or seen by the access watcher, which now finds this room joined.
        acc, seq = await db.read(discussions.room_state, conn.user, room)
        conn.may_see_staff_only(room, discussions.sees_staff_only(conn.user, acc))
        replay: list[Event] = []
        recovered = False
        live_from: int = seq
        if (
            since is not None
            and (epoch is None or epoch == db.epoch)
            and since <= seq
            and seq - since <= settings.replay_limit
        ):
            rows = await db.events_after(acc.room_id, since, seq)
            rows = await db.read(names.refresh_events, acc.group_id, rows)
            replay = [Event(room, s, t, at, data) for s, t, at, data in rows]
            recovered = True
            live_from = since
    except BaseException:
        conn.leave_room(room)
        raise
    return AfterReply(
        {"room": room, "seq": seq, "epoch": db.epoch, "recovered": recovered, "you": who},
        lambda: conn.go_live(room, live_from, replay),
    )


async def leave(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    conn.leave_room(args["room"])
    return {}


async def history(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.db.read(
        discussions.history,
        conn.user,
        args["room"],
        args.get("thread"),
        args.get("before"),
        args.get("limit", 50),
    )


async def presence(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    joined(conn, args["room"])
    return {"members": conn.services.hub.online(args["room"])}


async def typing(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Ephemeral "is writing" signal for the room (seq null, never stored)."""
    joined(conn, args["room"])
    data: dict[str, Any] = dict(conn.rooms[args["room"]].who)
    if args.get("thread") is not None:
        marks = await conn.services.db.read(
            discussions.typing_audience, conn.user, args["room"], args["thread"]
        )
        data.update(thread=args["thread"], **marks)
    conn.services.hub.ephemeral(args["room"], "typing", data)
    return {}


async def ping(conn: Connection, args: dict[str, Any]) -> dict[str, Any]:
    return {}


OPERATIONS: dict[str, Handler] = {
    "hello": hello,
    "join": join,
    "leave": leave,
    "history": history,
    "presence": presence,
    "typing": typing,
    "ping": ping,
}

PIPELINED: frozenset[str] = frozenset()  # none of these writes to the database
