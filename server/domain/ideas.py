"""Idea boards: members propose and support ideas; chairs and staff move them along.

Each idea owns a discussion thread (created with it) and a status timeline, which is what
the "You said, we did" page reads. Merging a duplicate moves its supporters to the kept
idea without counting anyone twice, and leaves the duplicate readable with a link.
"""

from __future__ import annotations

from typing import Any

from server.domain import audit, discussions, meeting_links, names
from server.domain.accounts import Access, User, access, access_by_id, require_staff_or_moderator
from server.errors import BadRequest, Conflict, NotFound
from server.storage import Conn, Row, Tx

IDEA_STATUSES = ("proposed", "discussing", "adopted", "in_progress", "done", "not_taken_forward")
STATUS_LABELS = {
    "proposed": "Proposed",
    "discussing": "Being discussed",
    "adopted": "Adopted",
    "in_progress": "In progress",
    "done": "Done",
    "not_taken_forward": "Not taken forward",
}
# Statuses that close the loop: what "You said, we did" lists.
REPORTED = ("adopted", "in_progress", "done", "not_taken_forward")
SORTS = ("support", "newest", "status")

_IDEA_COLUMNS = (
    "i.id, i.group_id, i.title, i.body, i.author_id, i.cid, i.status, i.thread_id,"
    " i.merged_into, i.created_at, i.status_at, u.name AS author_name,"
    " u.erased_at AS author_erased, k.title AS merged_title,"
    " (SELECT count(*) FROM idea_supporters s WHERE s.idea_id = i.id) AS supporters"
)
_IDEA_FROM = (
    " FROM ideas i LEFT JOIN users u ON u.id = i.author_id"
    " LEFT JOIN ideas k ON k.id = i.merged_into"
)


def _person(user_id: int | None, name: str | None, erased: Any) -> dict[str, Any]:
    if user_id is None or erased is not None:
        return {"id": None, "name": discussions.FORMER_MEMBER}
    return {"id": user_id, "name": name}


def idea_data(row: Row) -> dict[str, Any]:
    """The shape of an idea in events and reads."""
    return {
        "id": row["id"],
        "idea": row["id"],
        "title": row["title"],
        "body": row["body"],
        "author": _person(row["author_id"], row["author_name"], row["author_erased"]),
        "cid": row["cid"],
        "status": row["status"],
        "thread": row["thread_id"],
        "supporters": row["supporters"],
        "created_at": row["created_at"],
        "status_at": row["status_at"],
        "merged_into": row["merged_into"],
        "merged_title": row["merged_title"],
    }


def _idea_row(conn: Conn, idea_id: int) -> Row | None:
    return conn.execute(f"SELECT {_IDEA_COLUMNS}{_IDEA_FROM} WHERE i.id = ?", (idea_id,)).fetchone()


def _idea_for(conn: Conn, user: User, idea_id: int) -> tuple[Row, Access]:
    row = _idea_row(conn, idea_id)
    acc = access_by_id(conn, user, row["group_id"]) if row is not None else None
    if row is None or acc is None:  # outsiders learn nothing about other groups' ideas
        raise NotFound("There is no such idea.")
    return row, acc


def _supporters(conn: Conn, idea_id: int) -> int:
    count: int = conn.value("SELECT count(*) FROM idea_supporters WHERE idea_id = ?", (idea_id,))
    return count


# --- writes -------------------------------------------------------------------------------


def create_idea(
    tx: Tx,
    user: User,
    room: str,
    title: str,
    body: str,
    cid: str,
) -> dict[str, Any]:
    acc = access(tx, user, room)
    existing = tx.one(
        "SELECT id, thread_id FROM ideas WHERE group_id = ? AND author_id = ? AND cid = ?",
        (acc.group_id, user.id, cid),
    )
    if existing is not None:  # a retry: the original reply, nothing new
        return {"idea": {"id": existing["id"], "thread": existing["thread_id"]}}
    made = discussions.create_thread(tx, user, room, f"Idea: {title}"[:200], body, f"idea:{cid}")
    idea_id: int = tx.value(
        "INSERT INTO ideas(group_id, title, body, author_id, cid, status, thread_id, created_at,"
        " status_at) VALUES (?, ?, ?, ?, ?, 'proposed', ?, ?, ?) RETURNING id",
        (acc.group_id, title, body, user.id, cid, made["thread"]["id"], tx.now, tx.now),
    )
    tx.execute(
        "INSERT INTO idea_status_log(idea_id, status, note, by_id, at)"
        " VALUES (?, 'proposed', '', ?, ?)",
        (idea_id, user.id, tx.now),
    )
    meeting_links.tag_idea(tx, acc.group_id, idea_id)  # raised during a meeting item
    row = _idea_row(tx, idea_id)
    assert row is not None
    tx.emit(
        acc.room_id, acc.slug, "idea.created", names.stored_event(tx, acc.group_id, idea_data(row))
    )
    return {"idea": {"id": idea_id, "thread": made["thread"]["id"]}}


def _live_idea(tx: Tx, user: User, idea_id: int) -> tuple[Row, Access]:
    row, acc = _idea_for(tx, user, idea_id)
    if row["merged_into"] is not None:
        raise Conflict("This idea was merged into another one; please support that one.")
    return row, acc


def support(tx: Tx, user: User, idea_id: int, on: bool) -> dict[str, Any]:
    """Support (or withdraw support for) an idea: one per member, repeats change nothing."""
    row, acc = _live_idea(tx, user, idea_id)
    if on:
        cur = tx.execute(
            "INSERT INTO idea_supporters(idea_id, user_id, at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (idea_id, user.id, tx.now),
        )
    else:
        cur = tx.execute(
            "DELETE FROM idea_supporters WHERE idea_id = ? AND user_id = ?", (idea_id, user.id)
        )
    count = _supporters(tx, idea_id)
    if cur.rowcount:
        tx.emit(acc.room_id, acc.slug, "idea.supporters", {"idea": idea_id, "count": count})
    return {"idea": idea_id, "count": count, "supported": on}


def check_status(status: str) -> str:
    """An idea status this server knows; bad_request for any other word."""
    if status not in IDEA_STATUSES:
        raise BadRequest("'status' must be one of: " + ", ".join(IDEA_STATUSES) + ".")
    return status


def set_status(
    tx: Tx,
    user: User,
    idea_id: int,
    status: str,
    note: str = "",
) -> dict[str, Any]:
    check_status(status)  # first, as the wire protocol refused an unknown one before
    row, acc = _live_idea(tx, user, idea_id)
    require_staff_or_moderator(user, acc)
    note = (note or "").strip()
    if status == "not_taken_forward" and not note:
        raise BadRequest(
            "Say why the idea is not being taken forward: a note is needed.", field="note"
        )
    if status == row["status"] and not note:
        raise Conflict(f"The idea is already '{STATUS_LABELS[status]}'.")
    tx.execute("UPDATE ideas SET status = ?, status_at = ? WHERE id = ?", (status, tx.now, idea_id))
    tx.execute(
        "INSERT INTO idea_status_log(idea_id, status, note, by_id, at) VALUES (?, ?, ?, ?, ?)",
        (idea_id, status, note, user.id, tx.now),
    )
    audit.record(
        tx,
        user.id,
        "idea.status",
        group_id=acc.group_id,
        subject=f"idea {idea_id}",
        status=status,
        previous=row["status"],
    )
    tx.emit(
        acc.room_id,
        acc.slug,
        "idea.status",
        names.stored_event(
            tx,
            acc.group_id,
            {
                "idea": idea_id,
                "status": status,
                "note": note,
                "by": {"id": user.id, "name": user.name},
                "at": tx.now,
            },
        ),
    )
    return {"idea": idea_id, "status": status}


def merge(tx: Tx, user: User, idea_id: int, into_id: int) -> dict[str, Any]:
    """Merge a duplicate into the kept idea; supporters carry over, no one counted twice."""
    row, acc = _live_idea(tx, user, idea_id)
    require_staff_or_moderator(user, acc)
    if into_id == idea_id:
        raise BadRequest("An idea cannot be merged into itself.", field="into")
    kept = _idea_row(tx, into_id)
    if kept is None or kept["group_id"] != row["group_id"]:
        raise NotFound("There is no such idea in this group to merge into.")
    if kept["merged_into"] is not None:
        raise Conflict("That idea was itself merged; merge into the idea it points to.")
    tx.execute(
        "INSERT INTO idea_supporters(idea_id, user_id, at)"
        " SELECT ?, user_id, at FROM idea_supporters WHERE idea_id = ? ON CONFLICT DO NOTHING",
        (into_id, idea_id),
    )
    tx.execute(
        "UPDATE ideas SET merged_into = ?, status_at = ? WHERE id = ?", (into_id, tx.now, idea_id)
    )
    note = f"Merged into idea {into_id}: {kept['title']}"
    tx.execute(
        "INSERT INTO idea_status_log(idea_id, status, note, by_id, at) VALUES (?, ?, ?, ?, ?)",
        (idea_id, row["status"], note, user.id, tx.now),
    )
    audit.record(
        tx, user.id, "idea.merge", group_id=acc.group_id, subject=f"idea {idea_id}", into=into_id
    )
    count = _supporters(tx, into_id)
    tx.emit(
        acc.room_id,
        acc.slug,
        "idea.merged",
        names.stored_event(
            tx,
            acc.group_id,
            {"idea": idea_id, "into": into_id, "by": {"id": user.id, "name": user.name}},
        ),
    )
    tx.emit(acc.room_id, acc.slug, "idea.supporters", {"idea": into_id, "count": count})
    return {"idea": idea_id, "into": into_id, "count": count}


# --- reads --------------------------------------------------------------------------------


def timeline(conn: Conn, idea_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT l.status, l.note, l.at, l.by_id, u.name, u.erased_at FROM idea_status_log l"
        " LEFT JOIN users u ON u.id = l.by_id WHERE l.idea_id = ? ORDER BY l.id",
        (idea_id,),
    ).fetchall()
    return [
        {
            "status": r["status"],
            "label": STATUS_LABELS[r["status"]],
            "note": r["note"],
            "at": r["at"],
            "by": _person(r["by_id"], r["name"], r["erased_at"]),
        }
        for r in rows
    ]


def _supported_by(conn: Conn, user: User, idea_ids: list[int]) -> set[int]:
    if not idea_ids:
        return set()
    marks = ",".join("?" * len(idea_ids))
    return {
        r[0]
        for r in conn.execute(
            f"SELECT idea_id FROM idea_supporters WHERE user_id = ? AND idea_id IN ({marks})",
            (user.id, *idea_ids),
        )
    }


def group_ideas(
    conn: Conn, user: User, acc: Access, sort: str = "support", status: str | None = None
) -> list[dict[str, Any]]:
    """A group's board: merged duplicates left out; sorted by support, newest or status."""
    where = ["i.group_id = ?", "i.merged_into IS NULL"]
    params: list[int | str] = [acc.group_id]
    if status:
        if status not in IDEA_STATUSES:
            raise BadRequest("That is not an idea status.")
        where.append("i.status = ?")
        params.append(status)
    order = {
        "support": "supporters DESC, i.id DESC",
        "newest": "i.id DESC",
        "status": "CASE i.status "
        + " ".join(f"WHEN '{s}' THEN {n}" for n, s in enumerate(IDEA_STATUSES))
        + " END, i.id DESC",
    }.get(sort)
    if order is None:
        raise BadRequest("Sort must be 'support', 'newest' or 'status'.")
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS}{_IDEA_FROM} WHERE {' AND '.join(where)} ORDER BY {order}",
        params,
    ).fetchall()
    mine = _supported_by(conn, user, [r["id"] for r in rows])
    shown: list[dict[str, Any]] = names.show(
        names.namer(conn, acc.group_id, user, acc),
        [
            {
                **idea_data(r),
                "supported": r["id"] in mine,
                "status_label": STATUS_LABELS[r["status"]],
            }
            for r in rows
        ],
    )
    return shown


def list_ideas(
    conn: Conn, user: User, room: str, sort: str = "support", status: str | None = None
) -> dict[str, Any]:
    if status is not None:
        check_status(status)
    acc = access(conn, user, room)
    return {"ideas": group_ideas(conn, user, acc, sort, status)}


def get_idea(conn: Conn, user: User, idea_id: int) -> dict[str, Any]:
    row, acc = _idea_for(conn, user, idea_id)
    idea = {
        **idea_data(row),
        "room": acc.slug,
        "status_label": STATUS_LABELS[row["status"]],
        "supported": bool(_supported_by(conn, user, [idea_id])),
        "timeline": timeline(conn, idea_id),
    }
    return {"idea": names.show(names.namer(conn, acc.group_id, user, acc), idea)}


def idea_in_group(
    conn: Conn,
    user: User,
    room: str,
    idea_id: int,
) -> tuple[Access, dict[str, Any], list[dict[str, Any]]]:
    """For the idea page: the idea, its timeline and its discussion, if it is in that group."""
    acc = access(conn, user, room)
    row = _idea_row(conn, idea_id)
    if row is None or row["group_id"] != acc.group_id:
        raise NotFound("There is no such idea.")
    idea = get_idea(conn, user, idea_id)["idea"]
    messages: list[dict[str, Any]] = []
    if row["thread_id"] is not None:
        messages = discussions.history(conn, user, room, row["thread_id"], None, 200)["messages"]
    return acc, idea, messages


def you_said_we_did(conn: Conn, user: User) -> list[dict[str, Any]]:
    """Every idea, in every group this user can see, whose status closed the loop."""
    marks = ",".join("?" * len(REPORTED))
    if user.is_admin:
        scope, params = "", []
    else:
        scope = " AND i.group_id IN (SELECT group_id FROM memberships WHERE user_id = ?)"
        params = [user.id]
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS}, g.slug AS room, g.name AS group_name{_IDEA_FROM}"
        f" JOIN groups g ON g.id = i.group_id WHERE i.status IN ({marks})"
        f" AND i.merged_into IS NULL{scope} ORDER BY i.status_at DESC, i.id DESC",
        (*REPORTED, *params),
    ).fetchall()
    namers: dict[int, names.Namer] = {}
    out: list[dict[str, Any]] = []
    for r in rows:
        gid = int(r["group_id"])
        if gid not in namers:
            namers[gid] = names.namer(conn, gid, user, access_by_id(conn, user, gid))
        item = {
            **idea_data(r),
            "room": r["room"],
            "group_name": r["group_name"],
            "status_label": STATUS_LABELS[r["status"]],
            "timeline": timeline(conn, r["id"]),
        }
        out.append(names.show(namers[gid], item))
    return out
