"""How far each member has read: per room (thread 0) and per thread.

A room visit moves the room mark (home's unread count starts again from zero); reading a
thread moves that thread's mark (its "new since your last visit" marker and its badge in
the thread list move on). Home counts a message as unread when it is newer than both marks
and someone else wrote it; a thread's badge looks at the thread's mark alone, so glancing
at the list does not clear it. "Mark all read" moves every mark of the group.
"""

from __future__ import annotations

from server.domain.accounts import User
from server.storage import Conn, Tx

ROOM = 0  # thread_id of a room-wide mark


def mark(conn: Conn, user: User, group_id: int, thread_id: int = ROOM) -> int:
    """The highest message id the member has seen (0: never)."""
    row = conn.execute(
        "SELECT last_read FROM reads WHERE user_id = ? AND group_id = ? AND thread_id = ?",
        (user.id, group_id, thread_id),
    ).fetchone()
    return row[0] if row is not None else 0


def move_mark(tx: Tx, user: User, group_id: int, thread_id: int, message_id: int) -> int:
    """Raise a mark to ``message_id`` (never lowers it); returns the mark before."""
    before = mark(tx, user, group_id, thread_id)
    tx.execute(
        "INSERT INTO reads(user_id, group_id, thread_id, last_read, seen_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, group_id, thread_id) DO UPDATE SET"
        " last_read = CASE WHEN excluded.last_read > reads.last_read THEN excluded.last_read"
        " ELSE reads.last_read END, seen_at = excluded.seen_at",
        (user.id, group_id, thread_id, message_id, tx.now),
    )
    return before


def visit_room(tx: Tx, user: User, group_id: int) -> int:
    """A room page was opened: everything in it so far is no longer "unread" on home."""
    latest: int = tx.value(
        "SELECT coalesce(max(id), 0) FROM messages WHERE group_id = ?", (group_id,)
    )
    return move_mark(tx, user, group_id, ROOM, latest)


def read_all(tx: Tx, user: User, group_id: int) -> None:
    """ "Mark all read": every thread's mark, and the room's, up to its latest message."""
    tx.execute(
        "INSERT INTO reads(user_id, group_id, thread_id, last_read, seen_at)"
        " SELECT ?, group_id, thread_id, max(id), ? FROM messages WHERE group_id = ?"
        " GROUP BY group_id, thread_id ON CONFLICT(user_id, group_id, thread_id) DO UPDATE SET"
        " last_read = CASE WHEN excluded.last_read > reads.last_read THEN excluded.last_read"
        " ELSE reads.last_read END, seen_at = excluded.seen_at",
        (user.id, tx.now, group_id),
    )
    visit_room(tx, user, group_id)


def seen(tx: Tx, user: User, group_id: int, thread_id: int, message_id: int) -> None:
    """The member saw a message arrive live in a thread: move the thread's and room's marks."""
    row = tx.one(
        "SELECT 1 FROM messages WHERE id = ? AND group_id = ? AND thread_id = ?",
        (message_id, group_id, thread_id),
    )
    if row is None:
        return
    move_mark(tx, user, group_id, thread_id, message_id)


def unread_counts(conn: Conn, user: User, group_ids: list[int]) -> dict[int, int]:
    """Messages by others, not deleted, newer than both the room's and the thread's mark."""
    counts: dict[int, int] = {}
    for group_id in group_ids:
        room_mark = mark(conn, user, group_id)
        counts[group_id] = conn.value(
            "SELECT count(*) FROM messages m LEFT JOIN reads r ON r.user_id = ?"
            " AND r.group_id = m.group_id AND r.thread_id = m.thread_id"
            " WHERE m.group_id = ? AND m.id > ? AND m.id > coalesce(r.last_read, 0)"
            " AND m.deleted_at IS NULL AND coalesce(m.author_id, 0) != ?"
            # Staff-only posts count only for the group's staff facilitators and admins.
            " AND (m.staff_only = 0 OR ? = 1 OR (? = 1 AND EXISTS (SELECT 1"
            "   FROM memberships ms WHERE ms.group_id = m.group_id AND ms.user_id = ?"
            "   AND ms.role = 'facilitator'))"
            # ...and, in a staff-only thread, for the member who started it.
            "   OR EXISTS (SELECT 1 FROM threads t WHERE t.id = m.thread_id"
            "   AND t.staff_only = 1 AND t.author_id = ?))",
            (
                user.id,
                group_id,
                room_mark,
                user.id,
                int(user.is_admin),
                int(user.is_staff),
                user.id,
                user.id,
            ),
        )
    return counts
