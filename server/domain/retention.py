"""Retention per group: an admin sets how many months messages are kept; older messages
are deleted by a job the server runs every hour (and ``python -m server retention run``).

The job deletes the messages, empties their words from the stored events (so a replay
brings nothing back), and keeps polls and ideas (their results and outcomes are records
of the group, not messages). It is idempotent: it works from the messages' own times, so
running it twice, or after a restart, deletes nothing more than once.
"""

from __future__ import annotations

from typing import Any

from server.domain import audit
from server.domain.accounts import User
from server.domain.discussions import audience
from server.errors import BadRequest, Forbidden, NotFound
from server.storage import Conn, Tx, pack, unpack

MONTH_MS = 30 * 86_400_000  # a month, for retention: thirty days
_MESSAGE_EVENTS = ("message.created", "message.edited", "message.hidden", "message.restored")


def set_retention(tx: Tx, slug: str, months: int | None, actor_id: int | None = None) -> None:
    """Keep a group's messages for ``months`` (None: for ever). Zero or less is refused."""
    if months is not None and months < 1:
        raise BadRequest(
            "Messages must be kept for at least 1 month. Give a whole number of months,"
            " such as 24, or choose to keep them for ever.",
            field="months",
        )
    row = tx.one("SELECT id FROM groups WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"There is no group called {slug}.")
    tx.execute("UPDATE groups SET retention_months = ? WHERE id = ?", (months, row["id"]))
    audit.record(tx, actor_id, "group.retention", group_id=row["id"], subject=slug, months=months)


def set_retention_as(tx: Tx, user: User, slug: str, months: int | None) -> None:
    """The admin page's change: admins only, audited with who did it."""
    if not user.is_admin:
        raise Forbidden("Only an admin can change how long messages are kept.")
    set_retention(tx, slug, months, user.id)


def retention(conn: Conn) -> list[dict[str, Any]]:
    """Every group's retention, for the privacy notice and the admin."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT slug, name, retention_months FROM groups ORDER BY name"
        ).fetchall()
    ]


def run(tx: Tx) -> dict[str, int]:
    """Delete every message older than its group's retention; how many went, per group."""
    done: dict[str, int] = {}
    groups = tx.execute(
        "SELECT g.id, g.slug, g.retention_months, r.id AS room_id FROM groups g"
        " JOIN rooms r ON r.group_id = g.id AND r.kind = 'main'"
        " WHERE g.retention_months IS NOT NULL"
    ).fetchall()
    for g in groups:
        cutoff = tx.now - g["retention_months"] * MONTH_MS
        old = tx.execute(
            "SELECT m.id, m.thread_id, m.seq, m.staff_only, m.author_id, m.deleted_at,"
            " t.author_id AS thread_owner FROM messages m"
            " LEFT JOIN threads t ON t.id = m.thread_id AND t.staff_only = 1"
            " WHERE m.group_id = ? AND m.created_at < ?",
            (g["id"], cutoff),
        ).fetchall()
        if not old:
            continue
        ids = {r["id"] for r in old}
        _scrub_events(tx, g["room_id"], ids, min(r["seq"] for r in old))
        per_thread: dict[int, int] = {}
        for r in old:
            per_thread[r["thread_id"]] = per_thread.get(r["thread_id"], 0) + 1
        deleted = tx.erase_rows(
            "DELETE FROM messages WHERE group_id = ? AND created_at < ?", (g["id"], cutoff)
        )
        tx.executemany(
            "UPDATE threads SET message_count = CASE WHEN message_count > ? THEN message_count - ?"
            " ELSE 0 END WHERE id = ?",
            [(n, n, t) for t, n in per_thread.items()],
        )
        tx.execute(
            "INSERT INTO retention_runs(group_id, ran_at, cutoff, deleted) VALUES (?, ?, ?, ?)",
            (g["id"], tx.now, cutoff, deleted),
        )
        # Live screens take the words off too: the contract's deletion event for each.
        for r in old:
            if r["deleted_at"] is None:
                tx.emit(
                    g["room_id"],
                    g["slug"],
                    "message.deleted",
                    audience(
                        r,
                        {
                            "id": r["id"],
                            "thread": r["thread_id"],
                            "deleted_at": tx.now,
                            "retention": True,
                        },
                    ),
                )
        audit.record(
            tx, None, "retention.deleted", group_id=g["id"], subject=g["slug"], messages=deleted
        )
        done[g["slug"]] = deleted
    return done


def _scrub_events(tx: Tx, room_id: int, ids: set[int], from_seq: int) -> None:
    """The deleted messages' words leave the room's stored events too."""
    marks = ", ".join("?" for _ in _MESSAGE_EVENTS)
    for seq, stored in tx.execute(
        f"SELECT seq, data FROM events WHERE room_id = ? AND seq >= ? AND type IN ({marks})",
        (room_id, from_seq, *_MESSAGE_EVENTS),
    ).fetchall():
        data = unpack(stored)
        if data.get("id") not in ids:
            continue
        data["body"], data["deleted"] = "", True
        tx.execute(
            "UPDATE events SET data = ? WHERE room_id = ? AND seq = ?",
            (pack(data), room_id, seq),
        )
