"""Following: which threads, polls and ideas a member follows, and how much each group tells
them (its level).

As in Zulip's followed topics: starting or replying to a thread follows it, and a member can
follow or unfollow any thread, poll or idea by hand. A deliberate unfollow is kept (a row
with ``following = 0``), so replying again later does not quietly follow it once more.
An idea's author and supporters follow it without a row, unless they unfollowed it.

Levels, per group: "everything" (every thread with something new), "followed" (the default:
what I follow, plus new threads, open polls, meeting news and changes to my ideas) and
"nothing" (the group stays out of the inbox and the digests).
"""

from __future__ import annotations

from typing import Any

from server.domain.accounts import User, access
from server.errors import BadRequest, NotFound
from server.storage import Conn, Tx

KINDS = ("thread", "poll", "idea")
LEVELS = ("everything", "followed", "nothing")
DEFAULT_LEVEL = "followed"
LEVEL_LABELS = {
    "everything": "Everything new in this group",
    "followed": "Only what I follow (new threads, polls, meetings and my ideas still show)",
    "nothing": "Nothing from this group",
}
_TABLES = {"thread": "threads", "poll": "polls", "idea": "ideas"}


def took_part(tx: Tx, user: User, group_id: int, thread_id: int) -> None:
    """Starting or replying to a thread follows it, unless the member chose to unfollow it.
    (Read marks stay as they are: a reply sent without opening the thread leaves what came
    before it unread, as home counts it.)"""
    tx.execute(
        "INSERT INTO follows(user_id, kind, item_id, group_id, following, at)"
        " VALUES (?, 'thread', ?, ?, 1, ?) ON CONFLICT(user_id, kind, item_id) DO NOTHING",
        (user.id, thread_id, group_id, tx.now),
    )


def _item_group(conn: Conn, user: User, room: str, kind: str, item_id: int) -> int:
    """The group of a thread, poll or idea of this room that the member may see; the plain
    NotFound otherwise (a staff-only thread does not exist for other members)."""
    if kind not in KINDS:
        raise BadRequest("'kind' must be one of: " + ", ".join(KINDS) + ".", field="kind")
    acc = access(conn, user, room)
    row = conn.one(
        f"SELECT group_id FROM {_TABLES[kind]} WHERE id = ? AND group_id = ?",
        (item_id, acc.group_id),
    )
    if row is None:
        raise NotFound()
    if kind == "thread":
        thread = conn.one("SELECT author_id, staff_only FROM threads WHERE id = ?", (item_id,))
        assert thread is not None
        sees = user.is_admin or (user.is_staff and acc.role == "facilitator")
        if thread["staff_only"] and thread["author_id"] != user.id and not sees:
            raise NotFound()
    return acc.group_id


def set_follow(tx: Tx, user: User, room: str, kind: str, item_id: int, on: bool) -> dict[str, Any]:
    """Follow or unfollow one thread, poll or idea by hand; repeats change nothing."""
    group_id = _item_group(tx, user, room, kind, item_id)
    tx.execute(
        "INSERT INTO follows(user_id, kind, item_id, group_id, following, at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, kind, item_id) DO UPDATE SET"
        " following = excluded.following, at = excluded.at",
        (user.id, kind, item_id, group_id, int(on), tx.now),
    )
    return {"kind": kind, "id": item_id, "following": on}


def is_following(conn: Conn, user: User, kind: str, item_id: int) -> bool:
    """Whether the follow button shows "Unfollow": a row, or for an idea its author and
    supporters (who follow it without a row) unless they unfollowed it."""
    row = conn.one(
        "SELECT following FROM follows WHERE user_id = ? AND kind = ? AND item_id = ?",
        (user.id, kind, item_id),
    )
    if row is not None:
        return bool(row["following"])
    if kind == "idea":
        mine = conn.one(
            "SELECT 1 FROM ideas i WHERE i.id = ? AND (i.author_id = ? OR EXISTS (SELECT 1"
            " FROM idea_supporters s WHERE s.idea_id = i.id AND s.user_id = ?))",
            (item_id, user.id, user.id),
        )
        return mine is not None
    return False


def level(conn: Conn, user: User, group_id: int) -> str:
    """This member's level for one group ("followed" unless they chose another)."""
    row = conn.one(
        "SELECT level FROM follow_levels WHERE user_id = ? AND group_id = ?", (user.id, group_id)
    )
    return str(row["level"]) if row is not None else DEFAULT_LEVEL


def levels(conn: Conn, user: User) -> dict[int, str]:
    """Every level the member set, by group id (groups missing here are "followed")."""
    rows = conn.execute(
        "SELECT group_id, level FROM follow_levels WHERE user_id = ?", (user.id,)
    ).fetchall()
    return {r["group_id"]: r["level"] for r in rows}


def set_level(tx: Tx, user: User, room: str, value: str) -> dict[str, Any]:
    """Choose how much one group tells this member; a word outside LEVELS changes nothing."""
    if value not in LEVELS:
        raise BadRequest("Please choose one of the three choices.", field="level")
    acc = access(tx, user, room)
    if acc.role is None:  # an admin who is not a member has no inbox for the group
        raise BadRequest("Only members of the group can choose this.", field="level")
    tx.execute(
        "INSERT INTO follow_levels(user_id, group_id, level, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(user_id, group_id) DO UPDATE SET level = excluded.level, at = excluded.at",
        (user.id, acc.group_id, value, tx.now),
    )
    return {"room": acc.slug, "level": value}


def member_groups(conn: Conn, user: User) -> list[dict[str, Any]]:
    """The groups the member belongs to, each with their level: the inbox's settings form."""
    rows = conn.execute(
        "SELECT g.id, g.slug, g.name, coalesce(l.level, ?) AS level FROM memberships m"
        " JOIN groups g ON g.id = m.group_id"
        " LEFT JOIN follow_levels l ON l.user_id = m.user_id AND l.group_id = g.id"
        " WHERE m.user_id = ? AND g.archived_at IS NULL ORDER BY g.name",
        (DEFAULT_LEVEL, user.id),
    ).fetchall()
    return [dict(r) for r in rows]
