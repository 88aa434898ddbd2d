"""What pages and ``meeting.get`` show of meetings: a group's meetings, one meeting with its
agenda (and, for the chair, the needs checklist and the register), the live bar, and the
catch-up pack.

Poll results come only through ``polls.get_poll`` and ideas through ``ideas.get_idea``, so
anonymity, result visibility and small-number suppression are the polls module's own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from server.domain import discussions, ideas, names, polls
from server.domain.accounts import Access, User, access
from server.domain.meetings import (
    ATTEND_MODES,
    ATTENDING,
    FORMATS,
    KINDS,
    MODES,
    OUTCOMES,
    SUPPORTS,
    can_run,
    item_for,
    meeting_for,
    person,
)
from server.domain.suppression import DEFAULT_THRESHOLD
from server.errors import NotFound
from server.storage import Conn, Row


def meeting_dict(row: Row) -> dict[str, Any]:
    data = dict(row)
    data["mode_words"] = MODES[row["mode"]]
    data["state"] = (
        "approved"
        if row["approved_at"] is not None
        else "ended"
        if row["ended_at"] is not None
        else "running"
        if row["started_at"] is not None
        else "upcoming"
    )
    data["access_facts"] = [
        words
        for flag, words in (
            ("step_free", "Step-free access"),
            ("hearing_loop", "Hearing loop"),
            ("parking", "Parking"),
        )
        if row[flag]
    ]
    return data


def _items(conn: Conn, meeting_id: int) -> list[Row]:
    return conn.execute(
        "SELECT i.id, i.meeting_id, i.title, i.summary, i.kind, i.status, i.decline_reason,"
        " i.position, i.proposed_by, i.idea_id, i.opened_at, i.closed_at, i.outcome,"
        " i.outcome_note, i.created_at, u.name AS proposer_name, u.erased_at AS proposer_erased,"
        " (SELECT count(*) FROM agenda_supporters s WHERE s.item_id = i.id) AS supporters"
        " FROM agenda_items i LEFT JOIN users u ON u.id = i.proposed_by"
        " WHERE i.meeting_id = ? ORDER BY i.status != 'accepted', i.position, i.id",
        (meeting_id,),
    ).fetchall()


def _papers(conn: Conn, item_id: int, due: int | None) -> list[dict[str, Any]]:
    return [
        {**dict(r), "late": due is not None and r["added_at"] > due}
        for r in conn.execute(
            "SELECT id, title, body, added_at FROM meeting_papers WHERE item_id = ? ORDER BY id",
            (item_id,),
        )
    ]


def _views(conn: Conn, item_id: int) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "body": r["body"],
            "created_at": r["created_at"],
            "author": person(r["user_id"], r["name"], r["erased_at"]),
        }
        for r in conn.execute(
            "SELECT v.id, v.body, v.created_at, v.user_id, u.name, u.erased_at"
            " FROM meeting_views v LEFT JOIN users u ON u.id = v.user_id"
            " WHERE v.item_id = ? ORDER BY v.id",
            (item_id,),
        )
    ]


def _actions(conn: Conn, where: str, params: tuple[Any, ...], now: int) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "what": r["what"],
            "due_at": r["due_at"],
            "done_at": r["done_at"],
            "overdue": r["done_at"] is None and r["due_at"] < now,
            "owner": None if r["owner_id"] is None else person(r["owner_id"], r["name"], r["gone"]),
            "item": r["item_id"],
            "item_title": r["item_title"],
            "meeting": r["meeting_id"],
            "meeting_title": r["meeting_title"],
            "meeting_at": r["starts_at"],
        }
        for r in conn.execute(
            "SELECT a.id, a.what, a.due_at, a.done_at, a.owner_id, u.name, u.erased_at AS gone,"
            " a.item_id, i.title AS item_title, i.meeting_id, m.title AS meeting_title,"
            " m.starts_at FROM meeting_actions a JOIN agenda_items i ON i.id = a.item_id"
            " JOIN meetings m ON m.id = i.meeting_id LEFT JOIN users u ON u.id = a.owner_id"
            f" WHERE {where} ORDER BY a.due_at, a.id",
            params,
        )
    ]


def overdue_actions(
    conn: Conn, group_id: int, now: int, before: int | None = None
) -> list[dict[str, Any]]:
    """Actions of the group's earlier meetings not done by their due date: they come back
    on the next meeting's agenda and on the group page."""
    where = "m.group_id = ? AND a.done_at IS NULL AND a.due_at < ?"
    params: tuple[Any, ...] = (group_id, now)
    if before is not None:
        where += " AND m.starts_at < ?"
        params = (*params, before)
    return _actions(conn, where, params, now)


def _shown(conn: Conn, user: User, acc: Access, data: dict[str, Any]) -> dict[str, Any]:
    """A meeting read with its members as this viewer may see them (domain/names.py): the
    people in it, and the flat ids and names of who proposed an item or approved minutes."""
    n = names.namer(conn, acc.group_id, user, acc)
    shown: dict[str, Any] = names.show(n, data)
    for key in ("agenda", "proposed", "declined"):
        for item in shown.get(key) or []:
            if item.get("proposed_by") is not None:
                item["proposed_by"] = n.public_id(int(item["proposed_by"]))
            item.pop("proposer_name", None)
    meetings = [shown.get("meeting"), *(shown.get("coming") or []), *(shown.get("past") or [])]
    for m in meetings:
        if isinstance(m, dict) and m.get("approved_by") is not None:
            real = int(m["approved_by"])
            m["approved_by_name"] = n.label(real, str(m.get("approved_by_name") or ""))
            m["approved_by"] = n.public_id(real)
    return shown


def _item_dict(row: Row, order: list[int], due: int | None, conn: Conn) -> dict[str, Any]:
    data = dict(row)
    data["kind_words"] = KINDS[row["kind"]]
    data["number"] = order.index(row["id"]) + 1 if row["id"] in order else None
    data["proposer"] = person(row["proposed_by"], row["proposer_name"], row["proposer_erased"])
    data["outcome_words"] = OUTCOMES.get(row["outcome"] or "", "")
    data["papers"] = _papers(conn, row["id"], due)
    return data


def _running_item(meeting: Row, order: list[int], items: dict[int, dict[str, Any]]) -> Any:
    if meeting["started_at"] is None or meeting["ended_at"] is not None:
        return None
    current = meeting["current_item"]
    if current not in items:
        return None
    return {
        "meeting": meeting["id"],
        "title": meeting["title"],
        "started_at": meeting["started_at"],
        "item_at": meeting["item_at"],
        "total": len(order),
        "item": {
            "id": current,
            "number": items[current]["number"],
            "title": items[current]["title"],
            "kind": items[current]["kind"],
            "kind_words": items[current]["kind_words"],
        },
    }


def _reply_of(conn: Conn, meeting_id: int, user: User) -> dict[str, Any] | None:
    row = conn.one(
        "SELECT attending, papers_format, support, listed, replied_at FROM meeting_replies"
        " WHERE meeting_id = ? AND user_id = ?",
        (meeting_id, user.id),
    )
    if row is None:
        return None
    return {**dict(row), "support": [s for s in row["support"].split(",") if s]}


def checklist(conn: Conn, meeting_id: int, due: int | None, n: names.Namer) -> dict[str, Any]:
    """For the chair: replies by how people come, papers by format and support asked for
    (counts and who, since she arranges them), and which papers were late."""
    rows = conn.execute(
        "SELECT r.attending, r.papers_format, r.support, u.id, u.name FROM meeting_replies r"
        " JOIN users u ON u.id = r.user_id WHERE r.meeting_id = ? AND u.erased_at IS NULL"
        " ORDER BY u.name",
        (meeting_id,),
    ).fetchall()
    attending = Counter(r["attending"] for r in rows)
    formats: dict[str, list[str]] = {}
    support: dict[str, list[str]] = {}
    for r in rows:
        if r["papers_format"]:
            formats.setdefault(r["papers_format"], []).append(n.label(r["id"], r["name"]))
        for s in filter(None, r["support"].split(",")):
            support.setdefault(s, []).append(n.label(r["id"], r["name"]))
    late = [
        {"title": r["title"], "item": r["item_title"], "added_at": r["added_at"]}
        for r in conn.execute(
            "SELECT p.title, p.added_at, i.title AS item_title FROM meeting_papers p"
            " JOIN agenda_items i ON i.id = p.item_id WHERE i.meeting_id = ? AND p.added_at > ?"
            " ORDER BY p.id",
            (meeting_id, due if due is not None else 2**62),
        )
    ]
    return {
        "replies": len(rows),
        "attending": [(ATTENDING[k], attending[k]) for k in ATTENDING if attending[k]],
        "formats": [(FORMATS[k], formats[k]) for k in FORMATS if k in formats],
        "support": [(SUPPORTS[k], support[k]) for k in SUPPORTS if k in support],
        "late_papers": late,
    }


def register(conn: Conn, group_id: int, meeting_id: int, n: names.Namer) -> list[dict[str, Any]]:
    """Every member of the group with their reply and their mark, for the facilitator (by
    the names the group knows them by; the form posts the shown id back)."""
    rows = [
        {
            "id": r["id"],
            "name": r["name"],
            "attending": r["attending"],
            "mode": r["mode"],
            "joined_at": r["joined_at"],
            "came_in_person": bool(r["came_in_person"]),
        }
        for r in conn.execute(
            "SELECT u.id, u.name, r.attending, a.mode, a.joined_at, a.came_in_person"
            " FROM memberships ms JOIN users u ON u.id = ms.user_id"
            " LEFT JOIN meeting_replies r ON r.meeting_id = :m AND r.user_id = u.id"
            " LEFT JOIN meeting_attendance a ON a.meeting_id = :m AND a.user_id = u.id"
            " WHERE ms.group_id = :g AND u.erased_at IS NULL ORDER BY u.name",
            {"m": meeting_id, "g": group_id},
        )
    ]
    return sorted(names.shown_rows(n, rows), key=lambda r: str(r["name"]).lower())


def meeting_view(conn: Conn, user: User, meeting_id: int, now: int) -> dict[str, Any]:
    """One meeting as this member may see it (meeting.get and the meeting page)."""
    row, acc = meeting_for(conn, user, meeting_id)
    return _meeting_view(conn, user, row, acc, now)


def _meeting_view(conn: Conn, user: User, row: Row, acc: Access, now: int) -> dict[str, Any]:
    meeting_id = row["id"]
    runner = can_run(user, acc)
    rows = _items(conn, meeting_id)
    order = [r["id"] for r in rows if r["status"] == "accepted"]
    supported = {
        r[0]
        for r in conn.execute(
            "SELECT s.item_id FROM agenda_supporters s JOIN agenda_items i ON i.id = s.item_id"
            " WHERE i.meeting_id = ? AND s.user_id = ?",
            (meeting_id, user.id),
        )
    }
    items = {r["id"]: _item_dict(r, order, row["papers_due"], conn) for r in rows}
    for item in items.values():
        item["supported"] = item["id"] in supported
        # Views sent in advance: the chair sees them all; a member sees their own.
        views = _views(conn, item["id"])
        item["views"] = views if runner else [v for v in views if v["author"]["id"] == user.id]
        item["view_count"] = len(views)
    declined = [
        i
        for i in items.values()
        if i["status"] == "declined" and (runner or i["proposed_by"] == user.id)
    ]
    data: dict[str, Any] = {
        "meeting": meeting_dict(row),
        "room": acc.slug,
        "can_run": runner,
        "is_member": acc.role is not None,
        "agenda": [items[i] for i in order],
        "proposed": [i for i in items.values() if i["status"] == "proposed"],
        "declined": declined,
        "live": _running_item(row, order, items),
        "my_reply": _reply_of(conn, meeting_id, user),
        "carried_actions": (
            overdue_actions(conn, acc.group_id, now, row["starts_at"])
            if row["started_at"] is None
            else []
        ),
        "actions": _actions(conn, "i.meeting_id = ?", (meeting_id,), now),
    }
    if runner:
        n = names.namer(conn, acc.group_id, user, acc)
        data["checklist"] = checklist(conn, meeting_id, row["papers_due"], n)
        data["register"] = register(conn, acc.group_id, meeting_id, n)
    return _shown(conn, user, acc, data)


def _meeting_rows(conn: Conn, where: str, params: tuple[Any, ...]) -> list[Row]:
    return conn.execute(
        "SELECT m.id, m.group_id, m.title, m.starts_at, m.mode, m.place, m.step_free,"
        " m.hearing_loop, m.parking, m.join_online, m.join_phone, m.papers_due, m.published_at,"
        " m.started_at, m.current_item, m.item_at, m.ended_at, m.approved_by, m.approved_at,"
        " m.created_at, a.name AS approved_by_name FROM meetings m"
        f" LEFT JOIN users a ON a.id = m.approved_by WHERE {where}",
        params,
    ).fetchall()


def group_meetings(conn: Conn, user: User, room: str, now: int) -> dict[str, Any]:
    """A group's meetings: running or coming up (soonest first), then past (latest first)."""
    acc = access(conn, user, room)
    rows = [meeting_dict(r) for r in _meeting_rows(conn, "m.group_id = ?", (acc.group_id,))]
    coming = sorted(
        (m for m in rows if m["ended_at"] is None and (m["started_at"] or m["starts_at"] >= now)),
        key=lambda m: m["starts_at"],
    )
    past = sorted((m for m in rows if m not in coming), key=lambda m: -m["starts_at"])
    data = {
        "acc": acc,
        "coming": coming,
        "past": past,
        "can_run": can_run(user, acc),
        "overdue": overdue_actions(conn, acc.group_id, now),
    }
    return _shown(conn, user, acc, data)


def next_meeting(conn: Conn, group_id: int, now: int) -> dict[str, Any] | None:
    """The meeting running now, else the next one: "Next meeting: Thursday 14 January, 2pm"."""
    rows = _meeting_rows(
        conn,
        "m.group_id = ? AND m.ended_at IS NULL AND (m.started_at IS NOT NULL OR m.starts_at >= ?)"
        " ORDER BY m.started_at IS NULL, m.starts_at LIMIT 1",
        (group_id, now),
    )
    return meeting_dict(rows[0]) if rows else None


def group_page_extras(conn: Conn, user: User, acc: Access, now: int) -> dict[str, Any]:
    """What the group's room page shows of meetings: the live bar (when one is running),
    the next meeting, and actions that are overdue."""
    upcoming = next_meeting(conn, acc.group_id, now)
    live = None
    if upcoming is not None and upcoming["state"] == "running":
        live = _meeting_view(conn, user, meeting_for(conn, user, upcoming["id"])[0], acc, now)[
            "live"
        ]
    data = {
        "next_meeting": upcoming,
        "live_meeting": live,
        "overdue_actions": overdue_actions(conn, acc.group_id, now),
        "can_run_meetings": can_run(user, acc),
    }
    return _shown(conn, user, acc, data)


def item_views_now(conn: Conn, user: User, meeting_id: int) -> list[dict[str, Any]]:
    """For the chair when an item opens: the views sent in about it."""
    row, acc = meeting_for(conn, user, meeting_id)
    if not can_run(user, acc) or row["current_item"] is None:
        return []
    shown: list[dict[str, Any]] = names.show(
        names.namer(conn, acc.group_id, user, acc), _views(conn, row["current_item"])
    )
    return shown


def item_in_meeting(conn: Conn, user: User, room: str, item_id: int) -> int:
    """The meeting an item belongs to, if that meeting is in this group (pages check)."""
    item, meeting, acc = item_for(conn, user, item_id)
    if acc.slug != room:
        raise NotFound()
    return int(meeting["id"])


# --- the catch-up pack -----------------------------------------------------------------


def _linked_messages(conn: Conn, user: User, acc: Access, item_id: int) -> list[dict[str, Any]]:
    """The discussion during an item as this reader may see it: a staff-only post only for
    those who may read it, a hidden one as its notice (discussions' own rules)."""
    n = names.namer(conn, acc.group_id, user, acc)
    return [
        discussions.message_data(r, n)
        for r in conn.execute(
            f"SELECT {discussions.MESSAGE_COLUMNS} FROM meeting_item_messages l"
            " JOIN messages m ON m.id = l.message_id LEFT JOIN users u ON u.id = m.author_id"
            f" WHERE l.item_id = ? AND {discussions.VISIBLE} ORDER BY m.id",
            (item_id, *discussions.seen_by(user, acc)),
        )
    ]


def _linked_ids(conn: Conn, table: str, column: str, item_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            f"SELECT {column} FROM {table} WHERE item_id = ? ORDER BY {column}", (item_id,)
        )
    ]


def _previous(conn: Conn, row: Row) -> Row | None:
    rows = _meeting_rows(
        conn,
        "m.group_id = ? AND m.starts_at < ? AND m.started_at IS NOT NULL"
        " ORDER BY m.starts_at DESC LIMIT 1",
        (row["group_id"], row["starts_at"]),
    )
    return rows[0] if rows else None


def _since_last(conn: Conn, user: User, row: Row, now: int) -> dict[str, Any] | None:
    """What happened to what was said at the previous meeting: its ideas' statuses now
    (with the reason when not taken forward) and its actions, done or not."""
    prev = _previous(conn, row)
    if prev is None:
        return None
    idea_ids = sorted(
        {
            r[0]
            for r in conn.execute(
                "SELECT l.idea_id FROM meeting_item_ideas l JOIN agenda_items i ON i.id = l.item_id"
                " WHERE i.meeting_id = ? UNION SELECT idea_id FROM agenda_items"
                " WHERE meeting_id = ? AND idea_id IS NOT NULL",
                (prev["id"], prev["id"]),
            )
        }
    )
    found = [ideas.get_idea(conn, user, i)["idea"] for i in idea_ids]
    return {
        "meeting": meeting_dict(prev),
        "ideas": found,
        "actions": _actions(conn, "i.meeting_id = ?", (prev["id"],), now),
    }


def meeting_pack(
    conn: Conn,
    user: User,
    room: str,
    meeting_id: int,
    now: int,
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """The catch-up pack: one page with everything a member who missed the meeting needs."""
    acc = access(conn, user, room)
    row, found_acc = meeting_for(conn, user, meeting_id)
    if found_acc.group_id != acc.group_id:
        raise NotFound("There is no such meeting.")
    view = _meeting_view(conn, user, row, acc, now)
    for item in view["agenda"]:
        item["all_views"] = _views(conn, item["id"])  # the pack shows every view sent in
        item["messages"] = _linked_messages(conn, user, acc, item["id"])
        item["polls"] = [
            polls.get_poll(conn, user, p, threshold=threshold)["poll"]
            for p in _linked_ids(conn, "meeting_item_polls", "poll_id", item["id"])
        ]
        item["ideas"] = [
            ideas.get_idea(conn, user, i)["idea"]
            for i in _linked_ids(conn, "meeting_item_ideas", "idea_id", item["id"])
        ]
        item["actions"] = [a for a in view["actions"] if a["item"] == item["id"]]
    attendance = conn.execute(
        "SELECT a.mode, a.user_id, u.name, u.erased_at, coalesce(r.listed, 0) AS listed"
        " FROM meeting_attendance a JOIN users u ON u.id = a.user_id"
        " LEFT JOIN meeting_replies r ON r.meeting_id = a.meeting_id AND r.user_id = a.user_id"
        " WHERE a.meeting_id = ? ORDER BY u.name",
        (meeting_id,),
    ).fetchall()
    by_mode = Counter(r["mode"] for r in attendance)
    notes = [
        {
            "id": r["id"],
            "kind": r["kind"],
            "item": r["item_id"],
            "body": r["body"],
            "created_at": r["created_at"],
            "author": person(r["user_id"], r["name"], r["erased_at"]),
        }
        for r in conn.execute(
            "SELECT n.id, n.kind, n.item_id, n.body, n.created_at, n.user_id, u.name, u.erased_at"
            " FROM minutes_notes n LEFT JOIN users u ON u.id = n.user_id"
            " WHERE n.meeting_id = ? ORDER BY n.id",
            (meeting_id,),
        )
    ]
    open_polls = [p for item in view["agenda"] for p in item["polls"] if not p["closed"]]
    n = names.namer(conn, acc.group_id, user, acc)
    pack = {
        **view,
        "group": acc,
        "took_part": {
            "total": len(attendance),
            "by_mode": [(ATTEND_MODES[k], by_mode[k]) for k in ATTEND_MODES if by_mode[k]],
            "listed": sorted(
                (
                    n.label(r["user_id"], r["name"])
                    for r in attendance
                    if r["listed"] and not r["erased_at"]
                ),
                key=str.lower,
            ),
        },
        "apologies": int(
            conn.value(
                "SELECT count(*) FROM meeting_replies WHERE meeting_id = ?"
                " AND attending = 'cant_come'",
                (meeting_id,),
            )
        ),
        "comments": [n for n in notes if n["kind"] == "comment"],
        "corrections": [n for n in notes if n["kind"] == "correction"],
        "open_polls": open_polls,
        "since_last": _since_last(conn, user, row, now),
    }
    return _shown(conn, user, acc, pack)
