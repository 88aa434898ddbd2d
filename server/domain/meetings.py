"""A group's meeting as one object: scheduling, the agenda members lead, papers, replies
with the needs a member chose to give, the live meeting in the group's room, attendance,
outcomes and actions, then the minutes (draft, comments, approved and locked, dated
corrections).

Writes ``(tx, user, ...)`` check permission inside their transaction and emit the room's
events (``meeting.*``, ``attendance.marked``); reads ``(conn, user, ...)`` give outsiders
the same NotFound as a meeting that does not exist. The catch-up pack is in ``meeting_pack``.
"""

from __future__ import annotations

from typing import Any

from server.domain import audit, names
from server.domain.accounts import Access, User, access, access_by_id
from server.domain.discussions import FORMER_MEMBER
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.storage import Conn, Row, Tx

DAY = 86_400_000
PAPERS_BEFORE = 7 * DAY  # papers go out a week before, unless the chair says otherwise

MODES = {
    "in_person": "In person",
    "online": "Online",
    "hybrid": "In person and online",
    "phone": "By phone",
}
KINDS = {
    "information": "for information",
    "discussion": "for discussion",
    "decision": "for decision",
}
ATTENDING = {
    "in_person": "in person",
    "online": "online",
    "phone": "by phone",
    "cant_come": "can't come",
}
FORMATS = {
    "screen": "on screen",
    "large_print": "large print",
    "easy_read": "easy read",
    "post": "by post",
}
SUPPORTS = {
    "support_person": "a support person",
    "no_time_pressure": "no time pressure",
    "bsl": "a BSL interpreter",
}
OUTCOMES = {
    "decided": "Decided",
    "discussed": "Discussed",
    "noted": "Noted",
    "deferred": "Deferred",
}
ATTEND_MODES = {"online": "online", "in_room": "in the room", "phone": "on the phone"}

_MEETING_COLUMNS = (
    "m.id, m.group_id, m.title, m.starts_at, m.mode, m.place, m.step_free, m.hearing_loop,"
    " m.parking, m.join_online, m.join_phone, m.papers_due, m.published_at, m.started_at,"
    " m.current_item, m.item_at, m.ended_at, m.approved_by, m.approved_at, m.created_at,"
    " a.name AS approved_by_name"
)
_ITEM_COLUMNS = (
    "i.id, i.meeting_id, i.title, i.summary, i.kind, i.status, i.decline_reason, i.position,"
    " i.proposed_by, i.idea_id, i.opened_at, i.closed_at, i.outcome, i.outcome_note,"
    " i.created_at, u.name AS proposer_name, u.erased_at AS proposer_erased"
)


# --- who may do what -------------------------------------------------------------------


def can_run(user: User, acc: Access) -> bool:
    """Chairs and facilitators of the group (and the site admin) run its meetings."""
    return acc.can_moderate or user.is_admin


def _require_runner(user: User, acc: Access) -> None:
    if not can_run(user, acc):
        raise Forbidden("Only the group's chair or facilitator can do that.")


def _require_member(acc: Access) -> None:
    """Replies and views come from members of the group (an admin looking in is not one)."""
    if acc.role is None:
        raise Forbidden("Only members of the group can do that.")


def _meeting_row(conn: Conn, meeting_id: int) -> Row | None:
    return conn.one(
        f"SELECT {_MEETING_COLUMNS} FROM meetings m LEFT JOIN users a ON a.id = m.approved_by"
        " WHERE m.id = ?",
        (meeting_id,),
    )


def meeting_for(conn: Conn, user: User, meeting_id: int) -> tuple[Row, Access]:
    """The meeting and the user's standing in its group; outsiders learn nothing."""
    row = _meeting_row(conn, meeting_id)
    acc = access_by_id(conn, user, row["group_id"]) if row is not None else None
    if row is None or acc is None:
        raise NotFound("There is no such meeting.")
    return row, acc


def _item_row(conn: Conn, item_id: int) -> Row | None:
    return conn.one(
        f"SELECT {_ITEM_COLUMNS} FROM agenda_items i LEFT JOIN users u ON u.id = i.proposed_by"
        " WHERE i.id = ?",
        (item_id,),
    )


def item_for(conn: Conn, user: User, item_id: int) -> tuple[Row, Row, Access]:
    item = _item_row(conn, item_id)
    if item is None:
        raise NotFound("There is no such agenda item.")
    meeting, acc = meeting_for(conn, user, item["meeting_id"])
    return item, meeting, acc


def _not_locked(meeting: Row) -> None:
    if meeting["approved_at"] is not None:
        raise Conflict(
            "The minutes of this meeting have been approved and locked, so nothing more can"
            " be added. The chair can add a dated correction note."
        )


def _not_ended(meeting: Row) -> None:
    if meeting["ended_at"] is not None:
        raise Conflict("This meeting has ended.")


def _is_member(conn: Conn, group_id: int, user_id: int) -> bool:
    return (
        conn.one(
            "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.group_id = ? AND m.user_id = ? AND u.erased_at IS NULL",
            (group_id, user_id),
        )
        is not None
    )


def person(user_id: int | None, name: str | None, erased: Any) -> dict[str, Any]:
    if user_id is None or erased:
        return {"id": None, "name": FORMER_MEMBER}
    return {"id": user_id, "name": name}


def _choice(value: str, allowed: dict[str, str], what: str, field: str) -> str:
    if value not in allowed:
        raise BadRequest(f"Please choose {what}.", field=field)
    return value


def _summary(row: Row) -> dict[str, Any]:
    """A meeting in events and lists: enough to say what, when and how."""
    return {
        "id": row["id"],
        "title": row["title"],
        "starts_at": row["starts_at"],
        "mode": row["mode"],
        "started": row["started_at"] is not None,
        "ended": row["ended_at"] is not None,
    }


def _emit_changed(tx: Tx, acc: Access, meeting_id: int, what: str) -> None:
    """The agenda or the meeting's details changed: clients showing it read it again."""
    tx.emit(acc.room_id, acc.slug, "meeting.updated", {"meeting": meeting_id, "what": what})


# --- scheduling ------------------------------------------------------------------------


def schedule(
    tx: Tx,
    user: User,
    room: str,
    title: str,
    starts_at: int,
    mode: str,
    *,
    place: str = "",
    step_free: bool = False,
    hearing_loop: bool = False,
    parking: bool = False,
    join_online: str = "",
    join_phone: str = "",
    papers_due: int | None = None,
) -> dict[str, Any]:
    """A chair or facilitator schedules a meeting of their group, in the future."""
    acc = access(tx, user, room)
    _require_runner(user, acc)
    if not title.strip():
        raise BadRequest("Please give the meeting a title.", field="title")
    _choice(mode, MODES, "how the meeting is held", "mode")
    if starts_at <= tx.now:
        raise BadRequest(
            "That date and time has already passed. Please choose a time in the future.",
            field="date",
        )
    if papers_due is None:
        papers_due = max(tx.now, starts_at - PAPERS_BEFORE)
    if papers_due > starts_at:
        raise BadRequest("Papers must go out before the meeting starts.", field="papers_due")
    if mode in ("in_person", "hybrid") and not place.strip():
        raise BadRequest("Please say where the meeting is held.", field="place")
    meeting_id: int = tx.value(
        "INSERT INTO meetings(group_id, title, starts_at, mode, place, step_free, hearing_loop,"
        " parking, join_online, join_phone, papers_due, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            acc.group_id,
            title.strip(),
            starts_at,
            mode,
            place.strip(),
            int(step_free),
            int(hearing_loop),
            int(parking),
            join_online.strip(),
            join_phone.strip(),
            papers_due,
            user.id,
            tx.now,
        ),
    )
    row = _meeting_row(tx, meeting_id)
    assert row is not None
    tx.emit(acc.room_id, acc.slug, "meeting.scheduled", _summary(row))
    return {"meeting": {"id": meeting_id}}


# --- the agenda ------------------------------------------------------------------------


def propose_item(
    tx: Tx,
    user: User,
    meeting_id: int,
    title: str,
    summary: str,
    kind: str,
    idea_id: int | None = None,
) -> dict[str, Any]:
    """Any member proposes an item (an idea sent from the board keeps its link)."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_member(acc)
    if meeting["started_at"] is not None:
        raise Conflict("This meeting has started, so its agenda is set. Propose it for the next.")
    if not title.strip():
        raise BadRequest("Please give the item a title.", field="title")
    if not summary.strip():
        raise BadRequest("Please say in a sentence or two what the item is about.", field="summary")
    _choice(kind, KINDS, "whether the item is for information, discussion or decision", "kind")
    item_id: int = tx.value(
        "INSERT INTO agenda_items(meeting_id, title, summary, kind, proposed_by, idea_id,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (meeting_id, title.strip(), summary.strip(), kind, user.id, idea_id, tx.now),
    )
    _emit_changed(tx, acc, meeting_id, "agenda")
    return {"item": {"id": item_id}}


def idea_to_meeting(tx: Tx, user: User, idea_id: int) -> dict[str, Any]:
    """Send an idea from the board to the group's next meeting as a proposed item."""
    idea = tx.one("SELECT id, group_id, title, body FROM ideas WHERE id = ?", (idea_id,))
    acc = access_by_id(tx, user, idea["group_id"]) if idea is not None else None
    if idea is None or acc is None:
        raise NotFound("There is no such idea.")
    meeting = tx.one(
        "SELECT id FROM meetings WHERE group_id = ? AND started_at IS NULL AND starts_at > ?"
        " ORDER BY starts_at LIMIT 1",
        (acc.group_id, tx.now),
    )
    if meeting is None:
        raise Conflict("No meeting of this group is coming up yet, so there is nowhere to send it.")
    if tx.one(
        "SELECT 1 FROM agenda_items WHERE meeting_id = ? AND idea_id = ?",
        (meeting["id"], idea_id),
    ):
        raise Conflict("This idea is already on the next meeting's agenda.")
    made = propose_item(
        tx, user, meeting["id"], idea["title"], idea["body"][:2000], "discussion", idea_id
    )
    return {"meeting": {"id": meeting["id"]}, **made}


def support_item(tx: Tx, user: User, item_id: int, on: bool = True) -> dict[str, Any]:
    item, meeting, acc = item_for(tx, user, item_id)
    _require_member(acc)
    if meeting["started_at"] is not None or item["status"] == "declined":
        raise Conflict("Support can only be given to items before the meeting.")
    if on:
        tx.execute(
            "INSERT INTO agenda_supporters(item_id, user_id, at) VALUES (?, ?, ?)"
            " ON CONFLICT(item_id, user_id) DO NOTHING",
            (item_id, user.id, tx.now),
        )
    else:
        tx.execute(
            "DELETE FROM agenda_supporters WHERE item_id = ? AND user_id = ?", (item_id, user.id)
        )
    _emit_changed(tx, acc, meeting["id"], "agenda")
    return {"supporters": _supporters(tx, item_id)}


def _supporters(conn: Conn, item_id: int) -> int:
    count: int = conn.value("SELECT count(*) FROM agenda_supporters WHERE item_id = ?", (item_id,))
    return count


def decide_item(
    tx: Tx, user: User, item_id: int, decision: str, reason: str = ""
) -> dict[str, Any]:
    """The chair accepts an item (it goes to the end of the agenda) or declines it with a
    reason its proposer will see."""
    item, meeting, acc = item_for(tx, user, item_id)
    _require_runner(user, acc)
    if meeting["started_at"] is not None:
        raise Conflict("This meeting has started, so its agenda is set.")
    if decision == "accept":
        last: int = tx.value(
            "SELECT coalesce(max(position), 0) FROM agenda_items"
            " WHERE meeting_id = ? AND status = 'accepted'",
            (meeting["id"],),
        )
        tx.execute(
            "UPDATE agenda_items SET status = 'accepted', decline_reason = '', position = ?"
            " WHERE id = ?",
            (item["position"] if item["status"] == "accepted" else last + 1, item_id),
        )
    elif decision == "decline":
        if not reason.strip():
            raise BadRequest(
                "Please give a reason: the member who proposed it will see it.", field="reason"
            )
        tx.execute(
            "UPDATE agenda_items SET status = 'declined', decline_reason = ?, position = 0"
            " WHERE id = ?",
            (reason.strip(), item_id),
        )
        _renumber(tx, meeting["id"])
    else:
        raise BadRequest("Please choose to accept or decline the item.", field="decision")
    _emit_changed(tx, acc, meeting["id"], "agenda")
    return {}


def _renumber(tx: Tx, meeting_id: int, order: list[int] | None = None) -> None:
    """Accepted items numbered 1, 2, 3 … in their order (or in ``order``)."""
    if order is None:
        order = [
            r[0]
            for r in tx.execute(
                "SELECT id FROM agenda_items WHERE meeting_id = ? AND status = 'accepted'"
                " ORDER BY position, id",
                (meeting_id,),
            ).fetchall()
        ]
    tx.executemany(
        "UPDATE agenda_items SET position = ? WHERE id = ?",
        [(n, item_id) for n, item_id in enumerate(order, start=1)],
    )


def move_item(tx: Tx, user: User, item_id: int, position: int) -> dict[str, Any]:
    """Put an accepted item at ``position`` (1 is first) on the agenda."""
    item, meeting, acc = item_for(tx, user, item_id)
    _require_runner(user, acc)
    if meeting["started_at"] is not None:
        raise Conflict("This meeting has started, so its agenda is set.")
    if item["status"] != "accepted":
        raise BadRequest("Accept the item before placing it on the agenda.", field="position")
    order = [
        r[0]
        for r in tx.execute(
            "SELECT id FROM agenda_items WHERE meeting_id = ? AND status = 'accepted'"
            " AND id != ? ORDER BY position, id",
            (meeting["id"], item_id),
        ).fetchall()
    ]
    if not 1 <= position <= len(order) + 1:
        raise BadRequest(
            f"Choose a place from 1 to {len(order) + 1} on the agenda.", field="position"
        )
    order.insert(position - 1, item_id)
    _renumber(tx, meeting["id"], order)
    _emit_changed(tx, acc, meeting["id"], "agenda")
    return {}


def publish_agenda(tx: Tx, user: User, meeting_id: int) -> dict[str, Any]:
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    _not_ended(meeting)
    if not _accepted(tx, meeting_id):
        raise Conflict("Accept at least one item before publishing the agenda.")
    tx.execute("UPDATE meetings SET published_at = ? WHERE id = ?", (tx.now, meeting_id))
    _emit_changed(tx, acc, meeting_id, "published")
    return {}


def _accepted(conn: Conn, meeting_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM agenda_items WHERE meeting_id = ? AND status = 'accepted'"
            " ORDER BY position, id",
            (meeting_id,),
        ).fetchall()
    ]


def add_paper(tx: Tx, user: User, item_id: int, title: str, body: str) -> dict[str, Any]:
    """A paper (text) for an item; one added after the papers date is shown as late."""
    item, meeting, acc = item_for(tx, user, item_id)
    _require_runner(user, acc)
    _not_locked(meeting)
    if not title.strip():
        raise BadRequest("Please give the paper a title.", field="paper_title")
    if not body.strip():
        raise BadRequest("Please write or paste the paper's text.", field="paper_body")
    paper_id: int = tx.value(
        "INSERT INTO meeting_papers(item_id, title, body, added_by, added_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (item_id, title.strip(), body, user.id, tx.now),
    )
    _emit_changed(tx, acc, meeting["id"], "papers")
    return {"paper": {"id": paper_id}}


# --- replies and views in advance ------------------------------------------------------


def reply(
    tx: Tx,
    user: User,
    meeting_id: int,
    attending: str,
    papers_format: str | None = None,
    support: list[str] | None = None,
    listed: bool = False,
) -> dict[str, Any]:
    """A member says how they will come and, only if they want to, how they want papers
    and what support they need. Nothing else is asked."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_member(acc)
    _not_ended(meeting)
    _choice(attending, ATTENDING, "how you will come, or that you can't come", "attending")
    if papers_format is not None:
        _choice(papers_format, FORMATS, "a way to get the papers", "papers_format")
    chosen = sorted(set(support or []))
    for s in chosen:
        _choice(s, SUPPORTS, "support from the list", "support")
    tx.execute(
        "INSERT INTO meeting_replies(meeting_id, user_id, attending, papers_format, support,"
        " listed, replied_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(meeting_id, user_id) DO UPDATE SET attending = excluded.attending,"
        " papers_format = excluded.papers_format, support = excluded.support,"
        " listed = excluded.listed, replied_at = excluded.replied_at",
        (meeting_id, user.id, attending, papers_format, ",".join(chosen), int(listed), tx.now),
    )
    _emit_changed(tx, acc, meeting_id, "replies")  # counts only: needs never go in events
    return {}


def add_view(tx: Tx, user: User, item_id: int, body: str) -> dict[str, Any]:
    """A member who can't come adds their view on an item before the meeting; the chair
    sees it when the item opens."""
    item, meeting, acc = item_for(tx, user, item_id)
    _require_member(acc)
    if meeting["started_at"] is not None:
        raise Conflict(
            "The meeting has started, so views in advance are closed. You can write in the"
            " room, or comment on the minutes afterwards."
        )
    if item["status"] == "declined":
        raise Conflict("This item was declined, so it will not be discussed.")
    if not body.strip():
        raise BadRequest("Please write your view first.", field="body")
    view_id: int = tx.value(
        "INSERT INTO meeting_views(item_id, user_id, body, created_at) VALUES (?, ?, ?, ?)"
        " RETURNING id",
        (item_id, user.id, body.strip(), tx.now),
    )
    _emit_changed(tx, acc, meeting["id"], "views")
    return {"view": {"id": view_id}}


# --- the live meeting ------------------------------------------------------------------


def _item_event(tx: Tx, meeting_id: int, item_id: int | None) -> dict[str, Any]:
    """What every client shows in the bar: "Item 3 of 6: title — for decision"."""
    order = _accepted(tx, meeting_id)
    data: dict[str, Any] = {"meeting": meeting_id, "total": len(order), "at": tx.now}
    if item_id is not None:
        item = _item_row(tx, item_id)
        assert item is not None
        data["item"] = {
            "id": item_id,
            "number": order.index(item_id) + 1,
            "title": item["title"],
            "kind": item["kind"],
            "kind_words": KINDS[item["kind"]],
            "views": int(
                tx.value("SELECT count(*) FROM meeting_views WHERE item_id = ?", (item_id,))
            ),
        }
    return data


def _running(meeting: Row) -> None:
    if meeting["started_at"] is None:
        raise Conflict("This meeting has not started yet.")
    _not_ended(meeting)


def start(tx: Tx, user: User, meeting_id: int) -> dict[str, Any]:
    """The chair starts the meeting: the first item opens in the group's room."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    if meeting["started_at"] is not None:
        raise Conflict("This meeting has already started.")
    if tx.one(
        "SELECT 1 FROM meetings WHERE group_id = ? AND started_at IS NOT NULL AND ended_at IS NULL",
        (acc.group_id,),
    ):
        raise Conflict("Another meeting of this group is running. End it first.")
    order = _accepted(tx, meeting_id)
    if not order:
        raise Conflict("Accept at least one agenda item before starting the meeting.")
    first = order[0]
    tx.execute(
        "UPDATE meetings SET started_at = ?, current_item = ?, item_at = ? WHERE id = ?",
        (tx.now, first, tx.now, meeting_id),
    )
    tx.execute("UPDATE agenda_items SET opened_at = ? WHERE id = ?", (tx.now, first))
    tx.emit(
        acc.room_id,
        acc.slug,
        "meeting.started",
        {**_summary(meeting), "started": True, "started_at": tx.now},
    )
    data = _item_event(tx, meeting_id, first)
    tx.emit(acc.room_id, acc.slug, "meeting.item", data)
    return {"item": data["item"], "room": acc.slug}


def next_item(tx: Tx, user: User, meeting_id: int) -> dict[str, Any]:
    """Close the open item and open the next; past the last item there is nothing to open."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    _running(meeting)
    order = _accepted(tx, meeting_id)
    current = meeting["current_item"]
    at = order.index(current) if current in order else -1
    if at + 1 >= len(order):
        raise Conflict("This is the last item on the agenda. End the meeting instead.")
    following = order[at + 1]
    tx.execute("UPDATE agenda_items SET closed_at = ? WHERE id = ?", (tx.now, current))
    tx.execute("UPDATE agenda_items SET opened_at = ? WHERE id = ?", (tx.now, following))
    tx.execute(
        "UPDATE meetings SET current_item = ?, item_at = ? WHERE id = ?",
        (following, tx.now, meeting_id),
    )
    data = _item_event(tx, meeting_id, following)
    tx.emit(acc.room_id, acc.slug, "meeting.item", data)
    return {"item": data["item"]}


def end(tx: Tx, user: User, meeting_id: int) -> dict[str, Any]:
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    _running(meeting)
    tx.execute(
        "UPDATE agenda_items SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        (tx.now, meeting["current_item"]),
    )
    tx.execute(
        "UPDATE meetings SET ended_at = ?, current_item = NULL WHERE id = ?", (tx.now, meeting_id)
    )
    tx.emit(
        acc.room_id,
        acc.slug,
        "meeting.ended",
        {**_summary(meeting), "ended": True, "ended_at": tx.now},
    )
    return {}


def set_outcome(tx: Tx, user: User, item_id: int, outcome: str, note: str = "") -> dict[str, Any]:
    """The item's outcome line: decided, discussed, noted or deferred, with a note."""
    item, meeting, acc = item_for(tx, user, item_id)
    _require_runner(user, acc)
    _not_locked(meeting)
    if meeting["started_at"] is None or item["status"] != "accepted":
        raise Conflict("An outcome is written during or after the meeting, for an agenda item.")
    _choice(outcome, OUTCOMES, "an outcome", "outcome")
    tx.execute(
        "UPDATE agenda_items SET outcome = ?, outcome_note = ? WHERE id = ?",
        (outcome, note.strip(), item_id),
    )
    _emit_changed(tx, acc, meeting["id"], "outcome")
    return {}


def add_action(
    tx: Tx, user: User, item_id: int, what: str, owner_id: int | None, due_at: int
) -> dict[str, Any]:
    """An action from an item: what, who (a member of the group, or nobody named yet), by when."""
    item, meeting, acc = item_for(tx, user, item_id)
    _require_runner(user, acc)
    _not_locked(meeting)
    if item["status"] != "accepted":
        raise Conflict("Actions belong to items on the agenda.")
    if not what.strip():
        raise BadRequest("Please say what is to be done.", field="what")
    if owner_id is not None:  # the id the register showed (domain/names.py)
        owner_id = names.namer(tx, acc.group_id, None).real_of(owner_id)
    if owner_id is not None and not _is_member(tx, acc.group_id, owner_id):
        raise BadRequest("That person is not a member of this group.", field="owner")
    action_id: int = tx.value(
        "INSERT INTO meeting_actions(item_id, what, owner_id, due_at, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (item_id, what.strip(), owner_id, due_at, user.id, tx.now),
    )
    _emit_changed(tx, acc, meeting["id"], "actions")
    return {"action": {"id": action_id}}


def action_done(tx: Tx, user: User, action_id: int, done: bool = True) -> dict[str, Any]:
    """Its owner, the chair or the facilitator marks an action done (or not done after all)."""
    row = tx.one(
        "SELECT a.id, a.owner_id, i.meeting_id FROM meeting_actions a"
        " JOIN agenda_items i ON i.id = a.item_id WHERE a.id = ?",
        (action_id,),
    )
    if row is None:
        raise NotFound("There is no such action.")
    meeting, acc = meeting_for(tx, user, row["meeting_id"])
    if not (can_run(user, acc) or row["owner_id"] == user.id):
        raise Forbidden("Only the person it is for, the chair or the facilitator can do that.")
    tx.execute(
        "UPDATE meeting_actions SET done_at = ? WHERE id = ?", (tx.now if done else None, action_id)
    )
    _emit_changed(tx, acc, meeting["id"], "actions")
    return {}


# --- attendance ------------------------------------------------------------------------


def _attendance_event(tx: Tx, acc: Access, meeting_id: int, member: Row, mode: str | None) -> None:
    tx.emit(
        acc.room_id,
        acc.slug,
        "attendance.marked",
        names.stored_event(
            tx,
            acc.group_id,
            {
                "meeting": meeting_id,
                "member": {"id": member["id"], "name": member["name"]},
                "mode": mode,
                "at": tx.now,
            },
        ),
    )


def running_meeting(conn: Conn, group_id: int) -> int | None:
    """The group's meeting running now, if any (a cheap check before a join is recorded)."""
    row = conn.one(
        "SELECT id FROM meetings WHERE group_id = ? AND started_at IS NOT NULL"
        " AND ended_at IS NULL",
        (group_id,),
    )
    return None if row is None else int(row[0])


def _online(tx: Tx, acc: Access, meeting_id: int, user_id: int) -> bool:
    """Record a member of the group as there online from now, once; audited and announced."""
    member = tx.one(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.group_id = ? AND m.user_id = ? AND u.erased_at IS NULL",
        (acc.group_id, user_id),
    )
    if member is None:
        return False
    added = tx.execute(
        "INSERT INTO meeting_attendance(meeting_id, user_id, mode, joined_at)"
        " VALUES (?, ?, 'online', ?) ON CONFLICT(meeting_id, user_id) DO NOTHING",
        (meeting_id, user_id, tx.now),
    ).rowcount
    if not added:
        return False
    audit.record(
        tx,
        user_id,
        "attendance.online",
        group_id=acc.group_id,
        subject=f"user {user_id}",
        meeting=meeting_id,
    )
    _attendance_event(tx, acc, meeting_id, member, "online")
    return True


def note_online_join(tx: Tx, user: User, room: str) -> bool:
    """A member who joins the group's room during its meeting is recorded as there online,
    with the time; the first join counts, later ones change nothing."""
    acc = access(tx, user, room)
    meeting_id = running_meeting(tx, acc.group_id)
    if meeting_id is None or acc.role is None:
        return False
    return _online(tx, acc, meeting_id, user.id)


def note_present(tx: Tx, user: User, meeting_id: int, member_ids: list[int]) -> int:
    """When the chair starts the meeting, the members already in the room (the hub's
    presence) are recorded as there online; how many were added."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    if meeting["started_at"] is None or meeting["ended_at"] is not None:
        return 0
    return sum(_online(tx, acc, meeting_id, member) for member in member_ids)


def mark_attendance(
    tx: Tx,
    user: User,
    meeting_id: int,
    member_id: int,
    mode: str,
    came_in_person: bool = False,
) -> dict[str, Any]:
    """The facilitator ticks a member as there (in the room, on the phone or online), or
    takes the tick away ("absent"); every mark is audited."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    _not_locked(meeting)
    if meeting["started_at"] is None:
        raise Conflict("Attendance is marked once the meeting has started.")
    if mode != "absent":
        _choice(mode, ATTEND_MODES, "in the room, on the phone or online", "mode")
    member_id = names.namer(tx, acc.group_id, None).real_of(member_id)  # as the register showed
    member = tx.one(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.group_id = ? AND m.user_id = ? AND u.erased_at IS NULL",
        (acc.group_id, member_id),
    )
    if member is None:
        raise BadRequest("That person is not a member of this group.", field="member")
    if mode == "absent":
        tx.execute(
            "DELETE FROM meeting_attendance WHERE meeting_id = ? AND user_id = ?",
            (meeting_id, member_id),
        )
    else:
        tx.execute(
            "INSERT INTO meeting_attendance(meeting_id, user_id, mode, joined_at, marked_by,"
            " came_in_person) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(meeting_id, user_id)"
            " DO UPDATE SET mode = excluded.mode, marked_by = excluded.marked_by,"
            " came_in_person = excluded.came_in_person",
            (meeting_id, member_id, mode, tx.now, user.id, int(came_in_person)),
        )
    audit.record(
        tx,
        user.id,
        "attendance.mark",
        group_id=acc.group_id,
        subject=f"user {member_id}",
        meeting=meeting_id,
        mode=mode,
        came_in_person=bool(came_in_person) and mode != "absent",
    )
    _attendance_event(tx, acc, meeting_id, member, None if mode == "absent" else mode)
    return {}


# --- minutes ---------------------------------------------------------------------------


def comment(
    tx: Tx, user: User, meeting_id: int, body: str, item_id: int | None = None
) -> dict[str, Any]:
    """A comment on the draft minutes (or on one item of them), until the chair locks them."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_member(acc)
    _not_locked(meeting)
    if meeting["started_at"] is None:
        raise Conflict("The minutes open for comment once the meeting has started.")
    if item_id is not None and (
        tx.one(
            "SELECT 1 FROM agenda_items WHERE id = ? AND meeting_id = ? AND status = 'accepted'",
            (item_id, meeting_id),
        )
        is None
    ):
        raise BadRequest("That item is not on this meeting's agenda.", field="item")
    if not body.strip():
        raise BadRequest("Please write your comment first.", field="body")
    note_id: int = tx.value(
        "INSERT INTO minutes_notes(meeting_id, item_id, kind, user_id, body, created_at)"
        " VALUES (?, ?, 'comment', ?, ?, ?) RETURNING id",
        (meeting_id, item_id, user.id, body.strip(), tx.now),
    )
    _emit_changed(tx, acc, meeting_id, "minutes")
    return {"comment": {"id": note_id}}


def approve(tx: Tx, user: User, meeting_id: int) -> dict[str, Any]:
    """The chair approves the minutes: from now on they are locked."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    if meeting["ended_at"] is None:
        raise Conflict("The minutes can be approved once the meeting has ended.")
    _not_locked(meeting)
    tx.execute(
        "UPDATE meetings SET approved_by = ?, approved_at = ? WHERE id = ?",
        (user.id, tx.now, meeting_id),
    )
    audit.record(
        tx, user.id, "minutes.approve", group_id=acc.group_id, subject=f"meeting {meeting_id}"
    )
    _emit_changed(tx, acc, meeting_id, "approved")
    return {}


def correct(tx: Tx, user: User, meeting_id: int, body: str) -> dict[str, Any]:
    """After approval the minutes stay as they were; a correction is a dated note."""
    meeting, acc = meeting_for(tx, user, meeting_id)
    _require_runner(user, acc)
    if meeting["approved_at"] is None:
        raise Conflict("Corrections are added after the minutes are approved; comment instead.")
    if not body.strip():
        raise BadRequest("Please write the correction first.", field="body")
    note_id: int = tx.value(
        "INSERT INTO minutes_notes(meeting_id, kind, user_id, body, created_at)"
        " VALUES (?, 'correction', ?, ?, ?) RETURNING id",
        (meeting_id, user.id, body.strip(), tx.now),
    )
    audit.record(
        tx, user.id, "minutes.correct", group_id=acc.group_id, subject=f"meeting {meeting_id}"
    )
    _emit_changed(tx, acc, meeting_id, "minutes")
    return {"correction": {"id": note_id}}
