"""Threads and messages: the writes that emit room events, and the reads behind history.

Write functions run inside one group-commit transaction (``Tx``); they check permission
there too, so the check and the change cannot drift apart.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from server.domain import audit
from server.domain.accounts import Access, User, access, access_by_id
from server.errors import Conflict, Forbidden, NotFound
from server.storage.sqlite.database import Tx, pack, unpack

FORMER_MEMBER = "Former member"

_MESSAGE_COLUMNS = (
    "m.id, m.thread_id, m.author_id, m.body, m.cid, m.seq, m.created_at, m.edited_at,"
    " m.deleted_at, u.name AS author_name, u.erased_at AS author_erased"
)


def message_data(row: sqlite3.Row) -> dict[str, Any]:
    """The shape of a message in events and history (PROTOCOL §4 message.created)."""
    deleted = row["deleted_at"] is not None
    erased = row["author_id"] is None or row["author_erased"] is not None
    data: dict[str, Any] = {
        "id": row["id"],
        "thread": row["thread_id"],
        "author": {"id": None if erased else row["author_id"],
                   "name": FORMER_MEMBER if erased else row["author_name"]},
        "body": "" if deleted else row["body"],
        "cid": row["cid"],
        "created_at": row["created_at"],
    }
    if row["edited_at"] is not None:
        data["edited_at"] = row["edited_at"]
    if deleted:
        data["deleted"] = True
    return data


def _author(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name}


def _existing_by_cid(tx: Tx, group_id: int, user: User, cid: str) -> sqlite3.Row | None:
    return tx.one(
        "SELECT id, thread_id, seq FROM messages WHERE group_id = ? AND author_id = ? AND cid = ?",
        (group_id, user.id, cid),
    )


def _insert_message(tx: Tx, acc: Access, user: User, thread_id: int, body: str, cid: str,
                    ) -> tuple[int, int]:
    cur = tx.execute(
        "INSERT INTO messages(group_id, thread_id, author_id, body, cid, seq, created_at)"
        " VALUES (?, ?, ?, ?, ?, 0, ?)",
        (acc.group_id, thread_id, user.id, body, cid, tx.now),
    )
    message_id = cur.lastrowid
    event = tx.emit(acc.room_id, acc.slug, "message.created", {
        "id": message_id, "thread": thread_id, "author": _author(user), "body": body,
        "cid": cid, "created_at": tx.now,
    })
    tx.execute("UPDATE messages SET seq = ? WHERE id = ?", (event.seq, message_id))
    tx.execute(
        "UPDATE threads SET last_activity_at = ?, message_count = message_count + 1"
        " WHERE id = ?", (tx.now, thread_id),
    )
    return message_id, event.seq


def create_thread(tx: Tx, user: User, room: str, title: str, body: str, cid: str,
                  ) -> dict[str, Any]:
    acc = access(tx.conn, user, room)
    existing = _existing_by_cid(tx, acc.group_id, user, cid)
    if existing is not None:  # a retry: the original ids, nothing new
        return {"thread": {"id": existing["thread_id"]}, "message": {"id": existing["id"]}}
    cur = tx.execute(
        "INSERT INTO threads(group_id, title, author_id, created_at, last_activity_at)"
        " VALUES (?, ?, ?, ?, ?)", (acc.group_id, title, user.id, tx.now, tx.now),
    )
    thread_id = cur.lastrowid
    tx.emit(acc.room_id, acc.slug, "thread.created", {
        "id": thread_id, "title": title, "author": _author(user), "created_at": tx.now,
    })
    message_id, _ = _insert_message(tx, acc, user, thread_id, body, cid)
    return {"thread": {"id": thread_id}, "message": {"id": message_id}}


def post_message(tx: Tx, user: User, room: str, thread_id: int, body: str, cid: str,
                 ) -> dict[str, Any]:
    acc = access(tx.conn, user, room)
    existing = _existing_by_cid(tx, acc.group_id, user, cid)
    if existing is not None:
        return {"message": {"id": existing["id"], "seq": existing["seq"]}}
    if tx.one("SELECT 1 FROM threads WHERE id = ? AND group_id = ?",
              (thread_id, acc.group_id)) is None:
        raise NotFound("There is no such thread in this room.")
    message_id, seq = _insert_message(tx, acc, user, thread_id, body, cid)
    return {"message": {"id": message_id, "seq": seq}}


def _message_for_change(tx: Tx, user: User, message_id: int) -> tuple[sqlite3.Row, Access]:
    row = tx.one("SELECT id, group_id, thread_id, author_id, deleted_at FROM messages"
                 " WHERE id = ?", (message_id,))
    acc = access_by_id(tx.conn, user, row["group_id"]) if row is not None else None
    if row is None or acc is None:  # outsiders learn nothing about other groups' messages
        raise NotFound("There is no such message.")
    if row["deleted_at"] is not None:
        raise Conflict("That message has been deleted.")
    return row, acc


def edit_message(tx: Tx, user: User, message_id: int, body: str) -> dict[str, Any]:
    row, acc = _message_for_change(tx, user, message_id)
    if row["author_id"] != user.id:
        raise Forbidden("Only the person who wrote a message can edit it.")
    tx.execute("UPDATE messages SET body = ?, edited_at = ? WHERE id = ?",
               (body, tx.now, message_id))
    tx.emit(acc.room_id, acc.slug, "message.edited", {
        "id": message_id, "thread": row["thread_id"], "body": body, "edited_at": tx.now,
    })
    return {}


def delete_message(tx: Tx, user: User, message_id: int) -> dict[str, Any]:
    row, acc = _message_for_change(tx, user, message_id)
    if not (row["author_id"] == user.id or acc.can_moderate or user.is_admin):
        raise Forbidden("Only the author, the chair, a facilitator or an admin can delete this.")
    tx.execute("UPDATE messages SET deleted_at = ?, body = '' WHERE id = ?",
               (tx.now, message_id))
    _scrub_stored_text(tx, acc.room_id, message_id)
    if row["author_id"] != user.id:
        audit.record(tx, user.id, "message.removed", group_id=acc.group_id,
                     subject=f"message {message_id}", thread=row["thread_id"])
    tx.emit(acc.room_id, acc.slug, "message.deleted", {
        "id": message_id, "thread": row["thread_id"], "deleted_at": tx.now,
    })
    return {"moderated": row["author_id"] != user.id}


def _scrub_stored_text(tx: Tx, room_id: int, message_id: int) -> None:
    """A deleted message's text leaves the event log too (its creation and every edit), so
    replays do not bring it back."""
    seq = tx.one("SELECT seq FROM messages WHERE id = ?", (message_id,))[0]
    for at_seq, type_, stored in tx.execute(
        "SELECT seq, type, data FROM events WHERE room_id = ? AND seq >= ?"
        " AND type IN ('message.created', 'message.edited')", (room_id, seq),
    ).fetchall():
        data = unpack(stored)
        if data.get("id") != message_id or (type_ == "message.created" and at_seq != seq):
            continue
        data["body"], data["deleted"] = "", True
        tx.execute("UPDATE events SET data = ? WHERE room_id = ? AND seq = ?",
                   (pack(data), room_id, at_seq))


# --- reads --------------------------------------------------------------------------------


def history(conn: sqlite3.Connection, user: User, room: str, thread_id: int | None,
            before: int | None, limit: int) -> dict[str, Any]:
    """One page of messages, oldest first; ``more`` says whether older ones exist."""
    acc = access(conn, user, room)
    where, params = ["m.group_id = ?"], [acc.group_id]
    if thread_id is not None:
        if conn.execute("SELECT 1 FROM threads WHERE id = ? AND group_id = ?",
                        (thread_id, acc.group_id)).fetchone() is None:
            raise NotFound("There is no such thread in this room.")
        where, params = ["m.thread_id = ?"], [thread_id]
    if before is not None:
        where.append("m.id < ?")
        params.append(before)
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id"
        f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?", (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    return {"messages": [message_data(r) for r in reversed(rows[:limit])], "more": more}


def room_state(conn: sqlite3.Connection, user: User, room: str) -> tuple[Access, int]:
    """Access check plus the room's latest seq, read in one snapshot."""
    acc = access(conn, user, room)
    return acc, room_seq(conn, acc)


def room_seq(conn: sqlite3.Connection, acc: Access) -> int:
    """The room's latest seq in this snapshot: a live client resumes after it."""
    row = conn.execute("SELECT last_seq FROM rooms WHERE id = ?", (acc.room_id,)).fetchone()
    return int(row[0])


def events_after(conn: sqlite3.Connection, room_id: int, since: int, upto: int,
                 ) -> list[tuple[int, str, int, dict[str, Any]]]:
    """Stored events with since < seq <= upto, in order: what a resuming client missed."""
    rows = conn.execute(
        "SELECT seq, type, at, data FROM events WHERE room_id = ? AND seq > ? AND seq <= ?"
        " ORDER BY seq", (room_id, since, upto),
    ).fetchall()
    return [(r[0], r[1], r[2], unpack(r[3])) for r in rows]
