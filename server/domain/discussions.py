"""Threads and messages: the writes that emit room events, and the reads behind history.

Write functions run inside one group-commit transaction (``Tx``); they check permission
there too, so the check and the change cannot drift apart.
"""

from __future__ import annotations

import math
from typing import Any

from server.domain import audit, meeting_links, reads
from server.domain.accounts import Access, User, access, access_by_id
from server.errors import Conflict, Forbidden, NotFound
from server.storage import Conn, Row, Tx, pack, unpack
from server.storage.events import stored_after

FORMER_MEMBER = "Former member"

_MESSAGE_COLUMNS = (
    "m.id, m.thread_id, m.author_id, m.body, m.cid, m.seq, m.created_at, m.edited_at,"
    " m.deleted_at, u.name AS author_name, u.erased_at AS author_erased"
)


def message_data(row: Row) -> dict[str, Any]:
    """The shape of a message in events and history (PROTOCOL §4 message.created)."""
    deleted = row["deleted_at"] is not None
    erased = row["author_id"] is None or row["author_erased"] is not None
    data: dict[str, Any] = {
        "id": row["id"],
        "thread": row["thread_id"],
        "author": {
            "id": None if erased else row["author_id"],
            "name": FORMER_MEMBER if erased else row["author_name"],
        },
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


def _existing_by_cid(tx: Tx, group_id: int, user: User, cid: str) -> Row | None:
    return tx.one(
        "SELECT id, thread_id, seq FROM messages WHERE group_id = ? AND author_id = ? AND cid = ?",
        (group_id, user.id, cid),
    )


def _insert_message(
    tx: Tx,
    acc: Access,
    user: User,
    thread_id: int,
    body: str,
    cid: str,
) -> tuple[int, int]:
    message_id: int = tx.value(
        "INSERT INTO messages(group_id, thread_id, author_id, body, cid, seq, created_at)"
        " VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING id",
        (acc.group_id, thread_id, user.id, body, cid, tx.now),
    )
    data: dict[str, Any] = {
        "id": message_id,
        "thread": thread_id,
        "author": _author(user),
        "body": body,
        "cid": cid,
        "created_at": tx.now,
    }
    item = meeting_links.tag_message(tx, acc.group_id, message_id)  # during a meeting item
    if item is not None:
        data["item"] = item
    event = tx.emit(acc.room_id, acc.slug, "message.created", data)
    assert event.seq is not None  # a stored event always has its seq
    tx.execute("UPDATE messages SET seq = ? WHERE id = ?", (event.seq, message_id))
    tx.execute(
        "UPDATE threads SET last_activity_at = ?, message_count = message_count + 1 WHERE id = ?",
        (tx.now, thread_id),
    )
    return message_id, event.seq


def create_thread(
    tx: Tx,
    user: User,
    room: str,
    title: str,
    body: str,
    cid: str,
) -> dict[str, Any]:
    acc = access(tx, user, room)
    existing = _existing_by_cid(tx, acc.group_id, user, cid)
    if existing is not None:  # a retry: the original ids, nothing new
        return {"thread": {"id": existing["thread_id"]}, "message": {"id": existing["id"]}}
    thread_id: int = tx.value(
        "INSERT INTO threads(group_id, title, author_id, created_at, last_activity_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (acc.group_id, title, user.id, tx.now, tx.now),
    )
    tx.emit(
        acc.room_id,
        acc.slug,
        "thread.created",
        {
            "id": thread_id,
            "title": title,
            "author": _author(user),
            "created_at": tx.now,
        },
    )
    message_id, _ = _insert_message(tx, acc, user, thread_id, body, cid)
    return {"thread": {"id": thread_id}, "message": {"id": message_id}}


def post_message(
    tx: Tx,
    user: User,
    room: str,
    thread_id: int,
    body: str,
    cid: str,
) -> dict[str, Any]:
    acc = access(tx, user, room)
    existing = _existing_by_cid(tx, acc.group_id, user, cid)
    if existing is not None:
        return {"message": {"id": existing["id"], "seq": existing["seq"]}}
    if (
        tx.one("SELECT 1 FROM threads WHERE id = ? AND group_id = ?", (thread_id, acc.group_id))
        is None
    ):
        raise NotFound("There is no such thread in this room.")
    message_id, seq = _insert_message(tx, acc, user, thread_id, body, cid)
    return {"message": {"id": message_id, "seq": seq}}


def _message_for_change(tx: Tx, user: User, message_id: int) -> tuple[Row, Access]:
    row = tx.one(
        "SELECT id, group_id, thread_id, author_id, deleted_at FROM messages WHERE id = ?",
        (message_id,),
    )
    acc = access_by_id(tx, user, row["group_id"]) if row is not None else None
    if row is None or acc is None:  # outsiders learn nothing about other groups' messages
        raise NotFound("There is no such message.")
    if row["deleted_at"] is not None:
        raise Conflict("That message has been deleted.")
    return row, acc


def edit_message(tx: Tx, user: User, message_id: int, body: str) -> dict[str, Any]:
    row, acc = _message_for_change(tx, user, message_id)
    if row["author_id"] != user.id:
        raise Forbidden("Only the person who wrote a message can edit it.")
    tx.execute(
        "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?", (body, tx.now, message_id)
    )
    tx.emit(
        acc.room_id,
        acc.slug,
        "message.edited",
        {
            "id": message_id,
            "thread": row["thread_id"],
            "body": body,
            "edited_at": tx.now,
        },
    )
    return {}


def delete_message(tx: Tx, user: User, message_id: int) -> dict[str, Any]:
    row, acc = _message_for_change(tx, user, message_id)
    if not (row["author_id"] == user.id or acc.can_moderate or user.is_admin):
        raise Forbidden("Only the author, the chair, a facilitator or an admin can delete this.")
    tx.execute("UPDATE messages SET deleted_at = ?, body = '' WHERE id = ?", (tx.now, message_id))
    _scrub_stored_text(tx, acc.room_id, message_id)
    if row["author_id"] != user.id:
        audit.record(
            tx,
            user.id,
            "message.removed",
            group_id=acc.group_id,
            subject=f"message {message_id}",
            thread=row["thread_id"],
        )
    tx.emit(
        acc.room_id,
        acc.slug,
        "message.deleted",
        {
            "id": message_id,
            "thread": row["thread_id"],
            "deleted_at": tx.now,
        },
    )
    return {"moderated": row["author_id"] != user.id}


def _scrub_stored_text(tx: Tx, room_id: int, message_id: int) -> None:
    """A deleted message's text leaves the event log too (its creation and every edit), so
    replays do not bring it back."""
    seq = tx.value("SELECT seq FROM messages WHERE id = ?", (message_id,))
    for at_seq, type_, stored in tx.execute(
        "SELECT seq, type, data FROM events WHERE room_id = ? AND seq >= ?"
        " AND type IN ('message.created', 'message.edited')",
        (room_id, seq),
    ).fetchall():
        data = unpack(stored)
        if data.get("id") != message_id or (type_ == "message.created" and at_seq != seq):
            continue
        data["body"], data["deleted"] = "", True
        tx.execute(
            "UPDATE events SET data = ? WHERE room_id = ? AND seq = ?",
            (pack(data), room_id, at_seq),
        )


# --- reads --------------------------------------------------------------------------------


def history(
    conn: Conn, user: User, room: str, thread_id: int | None, before: int | None, limit: int
) -> dict[str, Any]:
    """One page of messages, oldest first; ``more`` says whether older ones exist."""
    acc = access(conn, user, room)
    where, params = ["m.group_id = ?"], [acc.group_id]
    if thread_id is not None:
        if (
            conn.execute(
                "SELECT 1 FROM threads WHERE id = ? AND group_id = ?", (thread_id, acc.group_id)
            ).fetchone()
            is None
        ):
            raise NotFound("There is no such thread in this room.")
        where, params = ["m.thread_id = ?"], [thread_id]
    if before is not None:
        where.append("m.id < ?")
        params.append(before)
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id"
        f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    return {"messages": [message_data(r) for r in reversed(rows[:limit])], "more": more}


def room_state(conn: Conn, user: User, room: str) -> tuple[Access, int]:
    """Access check plus the room's latest seq, read in one snapshot."""
    acc = access(conn, user, room)
    return acc, room_seq(conn, acc)


def room_seq(conn: Conn, acc: Access) -> int:
    """The room's latest seq in this snapshot: a live client resumes after it."""
    return int(conn.value("SELECT last_seq FROM rooms WHERE id = ?", (acc.room_id,)))


def events_after(
    conn: Conn,
    room_id: int,
    since: int,
    upto: int,
) -> list[tuple[int, str, int, dict[str, Any]]]:
    """Stored events with since < seq <= upto, in order: what a resuming client missed."""
    return stored_after(conn, room_id, since, upto)


# --- the pages' reads ---------------------------------------------------------------------

# "Only mine": threads the member started or wrote in, so Yusuf can follow his own.
_MINE = (
    " AND (t.author_id = :me OR EXISTS (SELECT 1 FROM messages mm"
    " WHERE mm.thread_id = t.id AND mm.author_id = :me))"
)


def thread_list(
    conn: Conn, user: User, acc: Access, page_no: int | None, per_page: int, mine: bool = False
) -> dict[str, Any]:
    """One page of a room's threads, most recently active first, each with its unread
    badge; ``mine`` keeps only threads the member started or wrote in."""
    only = _MINE if mine else ""
    total: int = conn.value(
        f"SELECT count(*) FROM threads t WHERE t.group_id = :g{only}",
        {"g": acc.group_id, "me": user.id},
    )
    pages = max(1, math.ceil(total / per_page))
    current = min(page_no or 1, pages)
    rows = conn.execute(
        "SELECT t.id, t.title, t.created_at, t.last_activity_at, t.message_count,"
        " coalesce(u.name, :former) AS author, t.author_id,"
        # Only reading the thread itself (or "mark all read") clears its badge, so the
        # badge agrees with the thread's own "new since your last visit" marker.
        " (SELECT count(*) FROM messages m WHERE m.thread_id = t.id"
        "   AND m.id > coalesce(r.last_read, 0) AND m.deleted_at IS NULL"
        "   AND coalesce(m.author_id, 0) != :me) AS unread"
        " FROM threads t LEFT JOIN users u ON u.id = t.author_id AND u.erased_at IS NULL"
        " LEFT JOIN reads r ON r.user_id = :me AND r.group_id = t.group_id AND r.thread_id = t.id"
        f" WHERE t.group_id = :g{only} ORDER BY t.last_activity_at DESC, t.id DESC"
        " LIMIT :limit OFFSET :offset",
        {
            "former": FORMER_MEMBER,
            "me": user.id,
            "g": acc.group_id,
            "limit": per_page,
            "offset": (current - 1) * per_page,
        },
    ).fetchall()
    seq = room_seq(conn, acc)
    return {
        "acc": acc,
        "threads": [dict(r) for r in rows],
        "page": current,
        "pages": pages,
        "seq": seq,
        "mine": mine,
    }


def thread_header(conn: Conn, acc: Access, thread_id: int) -> Row:
    """A thread of this group (title, author, count); the plain NotFound otherwise."""
    row = conn.one(
        "SELECT t.id, t.title, t.created_at, t.message_count, coalesce(u.name, ?) AS author"
        " FROM threads t LEFT JOIN users u ON u.id = t.author_id AND u.erased_at IS NULL"
        " WHERE t.id = ? AND t.group_id = ?",
        (FORMER_MEMBER, thread_id, acc.group_id),
    )
    if row is None:
        raise NotFound()
    return row


def position(conn: Conn, thread_id: int, message_id: int) -> int:
    """How many messages of the thread come before this one."""
    before: int = conn.value(
        "SELECT count(*) FROM messages WHERE thread_id = ? AND id < ?", (thread_id, message_id)
    )
    return before


def thread_page(
    conn: Conn, user: User, acc: Access, thread_id: int, page_no: int | None, per_page: int
) -> dict[str, Any]:
    """One page of a thread (by default the one with the first message new to the member,
    else the last), the member's previous mark, and the room's seq: one snapshot."""
    thread = thread_header(conn, acc, thread_id)
    total: int = conn.value("SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,))
    pages = max(1, math.ceil(total / per_page))
    baseline = reads.mark(conn, user, acc.group_id, thread_id)
    first_new: int | None = conn.value(
        "SELECT min(id) FROM messages WHERE thread_id = ? AND id > ? AND deleted_at IS NULL"
        " AND coalesce(author_id, 0) != ?",
        (thread_id, baseline, user.id),
    )
    if page_no is None:
        page_no = (
            position(conn, thread_id, first_new) // per_page + 1 if first_new is not None else pages
        )
    current = min(page_no, pages)
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages m"
        " LEFT JOIN users u ON u.id = m.author_id"
        " WHERE m.thread_id = ? ORDER BY m.id LIMIT ? OFFSET ?",
        (thread_id, per_page, (current - 1) * per_page),
    ).fetchall()
    seq = room_seq(conn, acc)
    return {
        "acc": acc,
        "thread": dict(thread),
        "messages": [message_data(r) for r in rows],
        "page": current,
        "pages": pages,
        "first_new": first_new,
        "seq": seq,
        "total": total,
    }


def permalink_page(conn: Conn, acc: Access, thread_id: int, message_id: int, per_page: int) -> int:
    """The page of the thread that holds this message; the plain NotFound if none does."""
    thread_header(conn, acc, thread_id)
    if (
        conn.one("SELECT 1 FROM messages WHERE id = ? AND thread_id = ?", (message_id, thread_id))
        is None
    ):
        raise NotFound()
    return position(conn, thread_id, message_id) // per_page + 1


def message_in_thread(
    conn: Conn,
    acc: Access,
    thread_id: int,
    message_id: int,
) -> dict[str, Any]:
    """One message of one of this group's threads, with the thread; plain NotFound if not."""
    thread = thread_header(conn, acc, thread_id)
    row = conn.one(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages m"
        " LEFT JOIN users u ON u.id = m.author_id WHERE m.id = ? AND m.thread_id = ?",
        (message_id, thread_id),
    )
    if row is None:
        raise NotFound()
    return {
        "acc": acc,
        "thread": dict(thread),
        "message": message_data(row),
        "author_id": row["author_id"],
    }
