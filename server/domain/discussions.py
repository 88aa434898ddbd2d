"""Threads and messages: the writes that emit room events, and the reads behind history.

Write functions run inside one group-commit transaction (``Tx``); they check permission
there too, so the check and the change cannot drift apart.
"""

from __future__ import annotations

import math
from typing import Any

from server.domain import audit, following, meeting_links, names, reads
from server.domain.accounts import Access, User, access, access_by_id
from server.errors import Conflict, Forbidden, NotFound
from server.storage import Conn, Row, Tx, pack, unpack
from server.storage.events import stored_after

FORMER_MEMBER = "Former member"

MESSAGE_COLUMNS = (
    "m.id, m.thread_id, m.author_id, m.body, m.cid, m.seq, m.created_at, m.edited_at,"
    " m.deleted_at, m.staff_only, m.hidden_at, m.hidden_reason, m.hidden_role,"
    " u.name AS author_name, u.erased_at AS author_erased"
)

# Who may read a staff-only post: its author, the group's facilitators who are site
# staff, and admins (``sees_staff_only``). In SQL, as a condition on ``m``.
# In a staff-only thread its author reads every reply too (the staff's answers to them).
VISIBLE = (
    "(m.staff_only = 0 OR ? = 1 OR ? IN (m.author_id, (SELECT st.author_id FROM threads st"
    " WHERE st.id = m.thread_id AND st.staff_only = 1)))"
)
# The same for a thread ``t`` (named parameters :me and :sees).
_THREAD_VISIBLE = "(t.staff_only = 0 OR t.author_id = :me OR :sees = 1)"


def seen_by(user: User, acc: Access) -> tuple[int, int]:
    """The parameters of ``VISIBLE``: every query that reads messages for a member uses both."""
    return int(sees_staff_only(user, acc)), user.id


HIDERS = {"chair": "the chair", "facilitator": "a facilitator", "admin": "an admin"}


def sees_staff_only(user: User, acc: Access) -> bool:
    """Staff-only posts are for the group's staff facilitators and admins (and the author)."""
    return user.is_admin or (user.is_staff and acc.role == "facilitator")


def visible(data: dict[str, Any], user_id: int, sees_staff: bool) -> bool:
    """Whether an event about a message may reach this member: every event about a
    staff-only message carries ``staff_only`` and its author's id."""
    if not data.get("staff_only") or sees_staff:
        return True
    author = data.get("author_id")
    if author is None and isinstance(data.get("author"), dict):
        author = names.real_id(data["author"])
    return user_id in (author, data.get("thread_author_id")) and user_id is not None


def message_data(row: Row, namer: names.Namer | None = None) -> dict[str, Any]:
    """The shape of a message in events and history (PROTOCOL §4 message.created); with a
    ``namer``, its author as that viewer may see them (a group name, docs/protocol.md)."""
    deleted = row["deleted_at"] is not None
    erased = row["author_id"] is None or row["author_erased"] is not None
    author: dict[str, Any] = {
        "id": None if erased else row["author_id"],
        "name": FORMER_MEMBER if erased else row["author_name"],
    }
    if namer is not None and not erased:
        author = namer.ident(row["author_id"], row["author_name"])
    data: dict[str, Any] = {
        "id": row["id"],
        "thread": row["thread_id"],
        "author": author,
        "body": "" if deleted else row["body"],
        "cid": row["cid"],
        "created_at": row["created_at"],
    }
    if row["edited_at"] is not None:
        data["edited_at"] = row["edited_at"]
    if deleted:
        data["deleted"] = True
    if row["staff_only"]:
        data["staff_only"] = True
    if row["hidden_at"] is not None and not deleted:
        data["hidden"] = {
            "reason": row["hidden_reason"],
            "by": HIDERS.get(row["hidden_role"], "the chair"),
        }
    return data


def _author(tx: Conn, group_id: int, user: User) -> dict[str, Any]:
    """The author as an event stores them: their group name if they chose one."""
    return names.namer(tx, group_id, None).stored(user.id, user.name)


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
    staff_only: bool = False,
) -> tuple[int, int]:
    message_id: int = tx.value(
        "INSERT INTO messages(group_id, thread_id, author_id, body, cid, seq, created_at,"
        " staff_only) VALUES (?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
        (acc.group_id, thread_id, user.id, body, cid, tx.now, int(staff_only)),
    )
    data: dict[str, Any] = {
        "id": message_id,
        "thread": thread_id,
        "author": _author(tx, acc.group_id, user),
        "body": body,
        "cid": cid,
        "created_at": tx.now,
    }
    item = meeting_links.tag_message(tx, acc.group_id, message_id)  # during a meeting item
    if item is not None:
        data["item"] = item
    if staff_only:
        data["staff_only"] = True
        owner = tx.one(
            "SELECT author_id FROM threads WHERE id = ? AND staff_only = 1", (thread_id,)
        )
        if owner is not None and owner["author_id"] is not None:
            data["thread_author_id"] = owner["author_id"]
    event = tx.emit(acc.room_id, acc.slug, "message.created", data)
    # The ground rules are shown until a member's first post in the group.
    tx.execute(
        "INSERT INTO ground_rules_seen(user_id, group_id, seen_at) VALUES (?, ?, ?)"
        " ON CONFLICT(user_id, group_id) DO NOTHING",
        (user.id, acc.group_id, tx.now),
    )
    assert event.seq is not None  # a stored event always has its seq
    tx.execute("UPDATE messages SET seq = ? WHERE id = ?", (event.seq, message_id))
    # A staff-only reply does not bring the thread up the list nor change its "last
    # message" for everyone (its count is adjusted per reader in ``thread_list``); in a
    # staff-only thread every post is staff-only, so there it does.
    tx.execute(
        "UPDATE threads SET message_count = message_count + 1,"
        " last_activity_at = CASE WHEN ? = 0 OR staff_only = 1 THEN ? ELSE last_activity_at END"
        " WHERE id = ?",
        (int(staff_only), tx.now, thread_id),
    )
    return message_id, event.seq


def create_thread(
    tx: Tx,
    user: User,
    room: str,
    title: str,
    body: str,
    cid: str,
    staff_only: bool = False,
) -> dict[str, Any]:
    """A new thread and its first post; a staff-only first post makes the whole thread
    (title included) staff-only, and so every reply in it."""
    acc = access(tx, user, room)
    existing = _existing_by_cid(tx, acc.group_id, user, cid)
    if existing is not None:  # a retry: the original ids, nothing new
        return {"thread": {"id": existing["thread_id"]}, "message": {"id": existing["id"]}}
    thread_id: int = tx.value(
        "INSERT INTO threads(group_id, title, author_id, created_at, last_activity_at,"
        " staff_only) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (acc.group_id, title, user.id, tx.now, tx.now, int(staff_only)),
    )
    data: dict[str, Any] = {
        "id": thread_id,
        "title": title,
        "author": _author(tx, acc.group_id, user),
        "created_at": tx.now,
    }
    if staff_only:
        data["staff_only"] = True
    tx.emit(acc.room_id, acc.slug, "thread.created", data)
    message_id, _ = _insert_message(tx, acc, user, thread_id, body, cid, staff_only)
    following.took_part(tx, user, acc.group_id, thread_id)
    return {"thread": {"id": thread_id}, "message": {"id": message_id}}


def post_message(
    tx: Tx,
    user: User,
    room: str,
    thread_id: int,
    body: str,
    cid: str,
    staff_only: bool = False,
) -> dict[str, Any]:
    acc = access(tx, user, room)
    existing = _existing_by_cid(tx, acc.group_id, user, cid)
    if existing is not None:
        return {"message": {"id": existing["id"], "seq": existing["seq"]}}
    thread = tx.one(
        "SELECT author_id, staff_only FROM threads WHERE id = ? AND group_id = ?",
        (thread_id, acc.group_id),
    )
    if thread is None or not _may_see_thread(thread, user, acc):
        raise NotFound("There is no such thread in this room.")
    staff_only = staff_only or bool(thread["staff_only"])
    message_id, seq = _insert_message(tx, acc, user, thread_id, body, cid, staff_only)
    following.took_part(tx, user, acc.group_id, thread_id)
    return {"message": {"id": message_id, "seq": seq}}


def _may_see_thread(thread: Row, user: User, acc: Access) -> bool:
    """A staff-only thread exists only for its author, the group's staff and admins."""
    return not thread["staff_only"] or thread["author_id"] == user.id or sees_staff_only(user, acc)


def message_for_change(tx: Conn, user: User, message_id: int) -> tuple[Row, Access]:
    """A message the user may see, with their standing in its group; the plain NotFound
    for another group's message or a staff-only one they may not read."""
    row = tx.one(
        "SELECT m.id, m.group_id, m.thread_id, m.author_id, m.deleted_at, m.staff_only,"
        " m.hidden_at, m.body, t.author_id AS thread_owner"
        " FROM messages m LEFT JOIN threads t ON t.id = m.thread_id AND t.staff_only = 1"
        " WHERE m.id = ?",
        (message_id,),
    )
    acc = access_by_id(tx, user, row["group_id"]) if row is not None else None
    if (
        row is None
        or acc is None  # outsiders learn nothing about other groups' messages
        or (
            row["staff_only"]
            and user.id not in (row["author_id"], row["thread_owner"])
            and not sees_staff_only(user, acc)
        )
    ):
        raise NotFound("There is no such message.")
    if row["deleted_at"] is not None:
        raise Conflict("That message has been deleted.")
    return row, acc


def edit_message(tx: Tx, user: User, message_id: int, body: str) -> dict[str, Any]:
    row, acc = message_for_change(tx, user, message_id)
    if row["author_id"] != user.id:
        raise Forbidden("Only the person who wrote a message can edit it.")
    if row["hidden_at"] is not None:
        raise Conflict(
            "This message is hidden, so it cannot be changed. You can ask for it to be"
            " looked at again from your notices."
        )
    tx.execute(
        "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?", (body, tx.now, message_id)
    )
    tx.emit(
        acc.room_id,
        acc.slug,
        "message.edited",
        audience(
            row,
            {
                "id": message_id,
                "thread": row["thread_id"],
                "body": body,
                "edited_at": tx.now,
            },
        ),
    )
    return {}


def audience(row: Row, data: dict[str, Any]) -> dict[str, Any]:
    """Mark an event about a staff-only message so only those who may read it get it."""
    if row["staff_only"]:
        data["staff_only"] = True
        data["author_id"] = row["author_id"]
        if "thread_owner" in row.keys() and row["thread_owner"] is not None:
            data["thread_author_id"] = row["thread_owner"]
    return data


def delete_message(tx: Tx, user: User, message_id: int) -> dict[str, Any]:
    row, acc = message_for_change(tx, user, message_id)
    # Chairs and facilitators hide a post (reversibly, domain/moderation.py); removing
    # someone else's post for good is for admins, and is audited.
    if not (row["author_id"] == user.id or user.is_admin):
        raise Forbidden(
            "Only the person who wrote it or an admin can remove a message for good."
            " A chair or facilitator can hide it instead."
        )
    tx.execute("UPDATE messages SET deleted_at = ?, body = '' WHERE id = ?", (tx.now, message_id))
    scrub_stored_text(tx, acc.room_id, message_id)
    if row["author_id"] != user.id:
        audit.record(
            tx,
            user.id,
            "message.removed",
            group_id=acc.group_id,
            subject=f"message {message_id}",
            thread=row["thread_id"],
        )
    tx.execute("DELETE FROM hidden_messages WHERE message_id = ?", (message_id,))
    tx.emit(
        acc.room_id,
        acc.slug,
        "message.deleted",
        audience(row, {"id": message_id, "thread": row["thread_id"], "deleted_at": tx.now}),
    )
    return {"moderated": row["author_id"] != user.id}


def scrub_stored_text(
    tx: Tx, room_id: int, message_id: int, mark: str = "deleted", value: Any = True
) -> None:
    """A deleted (or hidden) message's text leaves the event log too (its creation and
    every edit), so replays do not bring it back."""
    seq = tx.value("SELECT seq FROM messages WHERE id = ?", (message_id,))
    for at_seq, type_, stored in tx.execute(
        "SELECT seq, type, data FROM events WHERE room_id = ? AND seq >= ?"
        " AND type IN ('message.created', 'message.edited')",
        (room_id, seq),
    ).fetchall():
        data = unpack(stored)
        if data.get("id") != message_id or (type_ == "message.created" and at_seq != seq):
            continue
        data["body"], data[mark] = "", value
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
        thread = conn.one(
            "SELECT author_id, staff_only FROM threads WHERE id = ? AND group_id = ?",
            (thread_id, acc.group_id),
        )
        if thread is None or not _may_see_thread(thread, user, acc):
            raise NotFound("There is no such thread in this room.")
        where, params = ["m.thread_id = ?"], [thread_id]
    if before is not None:
        where.append("m.id < ?")
        params.append(before)
    where.append(VISIBLE)
    params.extend(seen_by(user, acc))
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id"
        f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    n = names.namer(conn, acc.group_id, user, acc)
    return {"messages": [message_data(r, n) for r in reversed(rows[:limit])], "more": more}


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
    only = (_MINE if mine else "") + f" AND {_THREAD_VISIBLE}"
    sees = int(sees_staff_only(user, acc))
    total: int = conn.value(
        f"SELECT count(*) FROM threads t WHERE t.group_id = :g{only}",
        {"g": acc.group_id, "me": user.id, "sees": sees},
    )
    pages = max(1, math.ceil(total / per_page))
    current = min(page_no or 1, pages)
    rows = conn.execute(
        "SELECT t.id, t.title, t.created_at, t.last_activity_at, t.author_id, u.id AS named_id,"
        # Staff-only replies this reader may not see are not counted for them.
        " t.message_count - (SELECT count(*) FROM messages m WHERE m.thread_id = t.id"
        "   AND m.staff_only = 1 AND coalesce(m.author_id, 0) != :me AND :sees = 0"
        "   AND NOT (t.staff_only = 1 AND t.author_id = :me))"
        "   AS message_count,"
        " coalesce(u.name, :former) AS author,"
        # Only reading the thread itself (or "mark all read") clears its badge, so the
        # badge agrees with the thread's own "new since your last visit" marker.
        " (SELECT count(*) FROM messages m WHERE m.thread_id = t.id"
        "   AND m.id > coalesce(r.last_read, 0) AND m.deleted_at IS NULL"
        "   AND coalesce(m.author_id, 0) != :me"
        "   AND (m.staff_only = 0 OR m.author_id = :me OR :sees = 1"
        "     OR (t.staff_only = 1 AND t.author_id = :me))) AS unread"
        " FROM threads t LEFT JOIN users u ON u.id = t.author_id AND u.erased_at IS NULL"
        " LEFT JOIN reads r ON r.user_id = :me AND r.group_id = t.group_id AND r.thread_id = t.id"
        f" WHERE t.group_id = :g{only} ORDER BY t.last_activity_at DESC, t.id DESC"
        " LIMIT :limit OFFSET :offset",
        {
            "former": FORMER_MEMBER,
            "me": user.id,
            "sees": sees,
            "g": acc.group_id,
            "limit": per_page,
            "offset": (current - 1) * per_page,
        },
    ).fetchall()
    seq = room_seq(conn, acc)
    n = names.namer(conn, acc.group_id, user, acc)
    return {
        "acc": acc,
        "threads": [_named(dict(r), n) for r in rows],
        "page": current,
        "pages": pages,
        "seq": seq,
        "mine": mine,
    }


def _named(row: dict[str, Any], n: names.Namer) -> dict[str, Any]:
    """A thread row with its starter's name as this viewer may see it."""
    if row.pop("named_id", None) is not None:
        row["author"] = n.label(row["author_id"], row["author"])
    return row


def thread_header(conn: Conn, acc: Access, thread_id: int, user: User | None = None) -> Row:
    """A thread of this group (title, author, count) that ``user`` may see; the plain
    NotFound otherwise (a staff-only thread does not exist for other members)."""
    row = conn.one(
        "SELECT t.id, t.title, t.created_at, t.message_count, t.author_id, t.staff_only,"
        " u.id AS named_id, coalesce(u.name, ?) AS author"
        " FROM threads t LEFT JOIN users u ON u.id = t.author_id AND u.erased_at IS NULL"
        " WHERE t.id = ? AND t.group_id = ?",
        (FORMER_MEMBER, thread_id, acc.group_id),
    )
    if row is None or (user is not None and not _may_see_thread(row, user, acc)):
        raise NotFound()
    return row


def typing_audience(conn: Conn, user: User, room: str, thread_id: int) -> dict[str, Any]:
    """Who may hear that someone is writing in a thread: the marks `visible` reads, so a
    staff-only thread's activity reaches only those who may read it (NotFound otherwise)."""
    acc = access(conn, user, room)
    row = thread_header(conn, acc, thread_id, user)
    if row["staff_only"]:
        return {"staff_only": True, "thread_author_id": row["author_id"]}
    return {}


def position(conn: Conn, thread_id: int, message_id: int, seen: tuple[int, int]) -> int:
    """How many messages of the thread that this member may see come before this one."""
    before: int = conn.value(
        f"SELECT count(*) FROM messages m WHERE m.thread_id = ? AND m.id < ? AND {VISIBLE}",
        (thread_id, message_id, *seen),
    )
    return before


def thread_page(
    conn: Conn, user: User, acc: Access, thread_id: int, page_no: int | None, per_page: int
) -> dict[str, Any]:
    """One page of a thread (by default the one with the first message new to the member,
    else the last), the member's previous mark, and the room's seq: one snapshot."""
    thread = thread_header(conn, acc, thread_id, user)
    n = names.namer(conn, acc.group_id, user, acc)
    seen = seen_by(user, acc)
    total: int = conn.value(
        f"SELECT count(*) FROM messages m WHERE m.thread_id = ? AND {VISIBLE}", (thread_id, *seen)
    )
    pages = max(1, math.ceil(total / per_page))
    baseline = reads.mark(conn, user, acc.group_id, thread_id)
    first_new: int | None = conn.value(
        "SELECT min(m.id) FROM messages m WHERE m.thread_id = ? AND m.id > ?"
        f" AND m.deleted_at IS NULL AND coalesce(m.author_id, 0) != ? AND {VISIBLE}",
        (thread_id, baseline, user.id, *seen),
    )
    if page_no is None:
        page_no = (
            position(conn, thread_id, first_new, seen) // per_page + 1
            if first_new is not None
            else pages
        )
    current = min(page_no, pages)
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m"
        " LEFT JOIN users u ON u.id = m.author_id"
        f" WHERE m.thread_id = ? AND {VISIBLE} ORDER BY m.id LIMIT ? OFFSET ?",
        (thread_id, *seen, per_page, (current - 1) * per_page),
    ).fetchall()
    seq = room_seq(conn, acc)
    return {
        "acc": acc,
        "thread": _named(dict(thread), n),
        "messages": [message_data(r, n) for r in rows],
        "page": current,
        "pages": pages,
        "first_new": first_new,
        "seq": seq,
        "total": total,
    }


def permalink_page(
    conn: Conn, user: User, acc: Access, thread_id: int, message_id: int, per_page: int
) -> int:
    """The page of the thread that holds this message; the plain NotFound if none does."""
    thread_header(conn, acc, thread_id, user)
    seen = seen_by(user, acc)
    if (
        conn.one(
            f"SELECT 1 FROM messages m WHERE m.id = ? AND m.thread_id = ? AND {VISIBLE}",
            (message_id, thread_id, *seen),
        )
        is None
    ):
        raise NotFound()
    return position(conn, thread_id, message_id, seen) // per_page + 1


def message_in_thread(
    conn: Conn,
    acc: Access,
    thread_id: int,
    message_id: int,
    user: User | None = None,
) -> dict[str, Any]:
    """One message of one of this group's threads, with the thread; plain NotFound if not
    (or if it is a staff-only post ``user`` may not read)."""
    thread = thread_header(conn, acc, thread_id, user)
    seen = seen_by(user, acc) if user is not None else (1, 0)
    row = conn.one(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.author_id"
        f" WHERE m.id = ? AND m.thread_id = ? AND {VISIBLE}",
        (message_id, thread_id, *seen),
    )
    if row is None:
        raise NotFound()
    n = names.namer(conn, acc.group_id, user, acc)
    return {
        "acc": acc,
        "thread": _named(dict(thread), n),
        "message": message_data(row, n),
        "author_id": row["author_id"],
    }
