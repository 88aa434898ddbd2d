"""Live polls: create, vote (online, on someone's behalf, or a show of hands), close, read.

Every write recounts the stored votes in its own transaction, so the counts an event or a
reply carries always equal what is stored. Results are shown according to the poll's
``results`` setting, and an anonymous poll never links a member to a choice: its events,
replies and pages carry counts only, and its member-choice rows are deleted when it closes.
While an anonymous poll is open, its counts are shown only once enough members have voted
(``server.suppression``): before that a member could tell how the first few voted.
"""

from __future__ import annotations

import json
from typing import Any

from server.domain import audit, meeting_links, names, suppression
from server.domain.accounts import Access, User, access, access_by_id, require_staff_or_moderator
from server.domain.suppression import DEFAULT_THRESHOLD
from server.errors import BadRequest, NotFound, PollClosed
from server.storage import Conn, Row, Tx, pack, unpack

SOURCES = ("online", "on_behalf", "in_room")
# When a poll's counts are shown: as they come in, to each member once they have voted,
# or only when the poll closes.
POLL_RESULTS = ("live", "after_vote", "closed")

_POLL_COLUMNS = (
    "p.id, p.group_id, p.question, p.options, p.kind, p.anonymous, p.results, p.created_by,"
    " p.created_at, p.room_counts, p.closed_at, p.closed_by, p.final, p.closes_at,"
    " u.name AS creator_name"
)


def _poll_row(conn: Conn, poll_id: int) -> Row | None:
    return conn.execute(
        f"SELECT {_POLL_COLUMNS} FROM polls p LEFT JOIN users u ON u.id = p.created_by"
        " WHERE p.id = ?",
        (poll_id,),
    ).fetchone()


def _poll_for(conn: Conn, user: User, poll_id: int) -> tuple[Row, Access]:
    """The poll and the user's standing in its group; outsiders learn nothing (not_found)."""
    row = _poll_row(conn, poll_id)
    acc = access_by_id(conn, user, row["group_id"]) if row is not None else None
    if row is None or acc is None:
        raise NotFound("There is no such poll.")
    return row, acc


def _check_choices(row: Row, choices: list[int]) -> list[int]:
    options = json.loads(row["options"])
    if any(c >= len(options) for c in choices):
        raise BadRequest(
            f"Each choice must be an option number from 0 to {len(options) - 1}.", field="choice"
        )
    unique = sorted(set(choices))
    if len(unique) != len(choices):
        raise BadRequest("Each option can be chosen only once.", field="choice")
    if row["kind"] == "single" and len(unique) != 1:
        raise BadRequest("This poll takes exactly one choice.", field="choice")
    if not unique:
        raise BadRequest("Choose at least one option.", field="choice")
    return unique


# --- counting -----------------------------------------------------------------------------


def breakdown(conn: Conn, row: Row) -> dict[str, Any]:
    """Counts per option by source, their totals and the number of members who voted."""
    if row["final"] is not None:  # closed: the counts frozen at close
        final: dict[str, Any] = json.loads(row["final"])
        return final
    n = len(json.loads(row["options"]))
    online, on_behalf = [0] * n, [0] * n
    for choice, behalf, count in conn.execute(
        "SELECT v.choice, w.entered_by IS NOT NULL, count(*) FROM poll_votes v"
        " JOIN poll_voters w ON w.poll_id = v.poll_id AND w.user_id = v.user_id"
        " WHERE v.poll_id = ? GROUP BY v.choice, w.entered_by IS NOT NULL",
        (row["id"],),
    ):
        # Anonymous polls fold phoned-in votes into the online ones: shown apart, one
        # phoned-in vote plus the audit trail's "entered for X" would reveal X's choice.
        (on_behalf if behalf and not row["anonymous"] else online)[choice] += count
    in_room = json.loads(row["room_counts"]) if row["room_counts"] else [0] * n
    voters, behalf_voters = conn.execute(
        "SELECT count(*), count(entered_by) FROM poll_voters WHERE poll_id = ?",
        (row["id"],),
    ).fetchall()[0]
    return {
        "counts": [a + b + c for a, b, c in zip(online, on_behalf, in_room, strict=True)],
        "voters": voters,
        "online": online,
        "on_behalf": on_behalf,
        "in_room": in_room,
        "online_voters": voters if row["anonymous"] else voters - behalf_voters,
        "on_behalf_voters": 0 if row["anonymous"] else behalf_voters,
    }


def _has_voted(conn: Conn, poll_id: int, user: User) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM poll_voters WHERE poll_id = ? AND user_id = ?", (poll_id, user.id)
        ).fetchone()
        is not None
    )


def few_voters(row: Row, voters: int, threshold: int) -> bool:
    """An open anonymous poll with too few voters for its counts to hide any one of them."""
    return (
        bool(row["anonymous"])
        and row["closed_at"] is None
        and not suppression.counts_shown(voters, threshold)
    )


def results_visible(row: Row, voted: bool, voters: int, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Live: always; after_vote: once this member has voted; closed: only after close.
    An open anonymous poll shows no counts to anyone until ``threshold`` members voted."""
    if row["closed_at"] is not None:
        return True
    if few_voters(row, voters, threshold):
        return False
    return row["results"] == "live" or (row["results"] == "after_vote" and voted)


def _shown_to_all(row: Row, counted: dict[str, Any], threshold: int) -> bool:
    """Counts everyone in the room may see now: broadcasts and facilitators' replies."""
    return results_visible(row, False, counted["voters"], threshold)


TURNOUT = "poll.turnout"  # a tally without counts (an extension event)


def _tally_data(row: Row, counted: dict[str, Any], threshold: int) -> dict[str, Any]:
    """What a broadcast tally carries: counts only when all may see them, else the turnout."""
    data: dict[str, Any] = {"poll": row["id"], "voters": counted["voters"]}
    if _shown_to_all(row, counted, threshold):
        data.update(counted)
    return data


def _emit_tally(tx: Tx, acc: Access, row: Row, threshold: int) -> dict[str, Any]:
    """``poll.tally`` when everyone may see the counts; else ``poll.turnout`` {poll, voters}:
    a client written to PROTOCOL.md reads ``counts`` in every tally, so none goes without."""
    counted = breakdown(tx, row)
    data = _tally_data(row, counted, threshold)
    tx.emit(acc.room_id, acc.slug, "poll.tally" if "counts" in data else TURNOUT, data)
    return counted


# --- writes -------------------------------------------------------------------------------


def check_results(results: str) -> str:
    """A results setting this server knows; bad_request for any other word."""
    if results not in POLL_RESULTS:
        raise BadRequest("'results' must be 'live', 'after_vote' or 'closed'.")
    return results


MAX_OPEN_MS = 366 * 86_400_000  # a closing time more than a year ahead is surely a typing slip


def check_closes_at(tx: Tx, closes_at: int | None) -> None:
    """A closing time must be ahead of now and within a year; bad_request otherwise."""
    if closes_at is None:
        return
    if closes_at <= tx.now:
        raise BadRequest(
            "That closing time has already passed. Please choose a later date or time.",
            field="closes_at",
        )
    if closes_at > tx.now + MAX_OPEN_MS:
        raise BadRequest(
            "A poll can stay open for a year at most. Please choose an earlier date.",
            field="closes_at",
        )


def create_poll(
    tx: Tx,
    user: User,
    room: str,
    question: str,
    options: list[str],
    kind: str,
    anonymous: bool = False,
    results: str = "live",
    *,
    closes_at: int | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Open a poll; with ``closes_at`` (Unix ms, in the future) the scheduler closes it
    then (``close_due``) and may email members who have not voted the day before."""
    check_results(results)
    acc = access(tx, user, room)
    require_staff_or_moderator(user, acc)
    if len({o.casefold() for o in options}) != len(options):
        raise BadRequest("Each answer must be different.", field="options")
    check_closes_at(tx, closes_at)
    poll_id: int = tx.value(
        "INSERT INTO polls(group_id, question, options, kind, anonymous, results, created_by,"
        " created_at, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            acc.group_id,
            question,
            json.dumps(options),
            kind,
            int(anonymous),
            results,
            user.id,
            tx.now,
            closes_at,
        ),
    )
    meeting_links.tag_poll(tx, acc.group_id, poll_id)  # opened during a meeting item
    row = _poll_row(tx, poll_id)
    assert row is not None
    audit.record(
        tx,
        user.id,
        "poll.create",
        group_id=acc.group_id,
        subject=f"poll {poll_id}",
        question=question,
    )
    counted = breakdown(tx, row)
    tx.emit(
        acc.room_id,
        acc.slug,
        "poll.created",
        names.stored_event(
            tx,
            acc.group_id,
            poll_data(
                row, counted, visible=_shown_to_all(row, counted, threshold), threshold=threshold
            ),
        ),
    )
    return {"poll": {"id": poll_id}}


def _store_vote(
    tx: Tx, row: Row, member_id: int, choices: list[int], entered_by: int | None
) -> None:
    """Replace the member's vote: one member, one vote."""
    # Claim the open poll as closing does: a close in another process holds this row until
    # it commits, and then this vote finds the poll closed, rather than leaving a
    # member-choice row behind after an anonymous poll forgot who chose what.
    if not tx.execute(
        "UPDATE polls SET closed_at = NULL WHERE id = ? AND closed_at IS NULL", (row["id"],)
    ).rowcount:
        raise PollClosed("This poll has closed, so it takes no more votes.")
    tx.execute("DELETE FROM poll_votes WHERE poll_id = ? AND user_id = ?", (row["id"], member_id))
    tx.execute(
        "INSERT INTO poll_voters(poll_id, user_id, entered_by, voted_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(poll_id, user_id) DO UPDATE SET entered_by = excluded.entered_by,"
        " voted_at = excluded.voted_at",
        (row["id"], member_id, entered_by, tx.now),
    )
    tx.executemany(
        "INSERT INTO poll_votes(poll_id, user_id, choice) VALUES (?, ?, ?)",
        [(row["id"], member_id, c) for c in choices],
    )


def _open_poll(tx: Tx, user: User, poll_id: int) -> tuple[Row, Access]:
    row, acc = _poll_for(tx, user, poll_id)
    if row["closed_at"] is not None:
        raise PollClosed("This poll has closed, so it takes no more votes.")
    return row, acc


def vote(
    tx: Tx, user: User, poll_id: int, choices: list[int], *, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    row, acc = _open_poll(tx, user, poll_id)
    chosen = _check_choices(row, choices)
    _store_vote(tx, row, user.id, chosen, None)
    counted = _emit_tally(tx, acc, row, threshold)
    reply: dict[str, Any] = {"poll": poll_id, "voted": True, "voters": counted["voters"]}
    if results_visible(row, True, counted["voters"], threshold):
        reply.update(counted)
    return reply


def vote_for(
    tx: Tx,
    user: User,
    poll_id: int,
    member_id: int,
    choices: list[int],
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """A facilitator records the vote of a named member who phoned in (audited)."""
    row, acc = _open_poll(tx, user, poll_id)
    require_staff_or_moderator(user, acc)
    member_id = names.namer(tx, acc.group_id, None).real_of(member_id)  # the id a page showed
    member = tx.one(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.group_id = ? AND m.user_id = ? AND u.erased_at IS NULL",
        (acc.group_id, member_id),
    )
    if member is None:
        raise NotFound("That person is not a member of this group.")
    chosen = _check_choices(row, choices)
    _store_vote(tx, row, member_id, chosen, user.id)
    detail: dict[str, Any] = {"member": member_id, "member_name": member["name"]}
    if not row["anonymous"]:
        detail["choices"] = chosen
    audit.record(
        tx, user.id, "poll.vote_for", group_id=acc.group_id, subject=f"poll {poll_id}", **detail
    )
    counted = _emit_tally(tx, acc, row, threshold)
    reply: dict[str, Any] = {"poll": poll_id, "voters": counted["voters"]}
    if _shown_to_all(row, counted, threshold):
        reply.update(counted)
    return reply


def count_in_room(
    tx: Tx, user: User, poll_id: int, counts: list[int], *, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """A facilitator enters a show of hands: one count per option, replacing the last one."""
    row, acc = _open_poll(tx, user, poll_id)
    require_staff_or_moderator(user, acc)
    n = len(json.loads(row["options"]))
    if len(counts) != n:
        raise BadRequest(f"Give one count for each of the {n} options.")
    if any(c > 100_000 for c in counts):
        raise BadRequest("That count is too large for a show of hands.", field="counts")
    previous = json.loads(row["room_counts"]) if row["room_counts"] else [0] * n
    tx.execute("UPDATE polls SET room_counts = ? WHERE id = ?", (json.dumps(counts), poll_id))
    audit.record(
        tx,
        user.id,
        "poll.count",
        group_id=acc.group_id,
        subject=f"poll {poll_id}",
        in_room=counts,
        previous=previous,
    )
    now = _poll_row(tx, poll_id)
    assert now is not None
    counted = _emit_tally(tx, acc, now, threshold)
    reply: dict[str, Any] = {"poll": poll_id, "voters": counted["voters"]}
    if _shown_to_all(now, counted, threshold):
        reply.update(counted)
    return reply


def _forget_who_chose_what(tx: Tx, row: Row) -> None:
    """An anonymous poll closes: keep the counts and who took part, nothing that links them.

    Besides the member-choice rows, the times would link them too (a voter's voted_at
    matches the stored tally whose counts moved then), so every voter's time becomes the
    close time and the poll's stored tallies keep only their turnout.
    """
    # overwrite the rows, not just unlink them
    tx.erase_rows("DELETE FROM poll_votes WHERE poll_id = ?", (row["id"],))
    tx.execute("UPDATE poll_voters SET voted_at = ? WHERE poll_id = ?", (tx.now, row["id"]))
    for room_id, seq, data in tx.execute(
        "SELECT e.room_id, e.seq, e.data FROM events e JOIN rooms r ON r.id = e.room_id"
        " WHERE r.group_id = ? AND e.type = 'poll.tally' AND e.at >= ?",
        (row["group_id"], row["created_at"]),
    ).fetchall():
        tally = unpack(data)
        if tally.get("poll") == row["id"] and "counts" in tally:
            tx.execute(
                "UPDATE events SET type = ?, data = ? WHERE room_id = ? AND seq = ?",
                (
                    TURNOUT,
                    pack({"poll": row["id"], "voters": tally.get("voters", 0)}),
                    room_id,
                    seq,
                ),
            )


def close(tx: Tx, user: User, poll_id: int) -> dict[str, Any]:
    """Freeze the counts; for an anonymous poll, forget who chose what (keep who took part)."""
    row, acc = _open_poll(tx, user, poll_id)
    require_staff_or_moderator(user, acc)
    return _close(tx, row, acc, user.id)


def _close(tx: Tx, row: Row, acc: Access, by: int | None) -> dict[str, Any]:
    """What closing does, whether a facilitator asks or the closing time comes (``by``
    None): the same event, the same forgetting."""
    poll_id = row["id"]
    # Claim the close first: a close in another process (the scheduler's, a facilitator's)
    # holds this row until it commits, and then this finds the poll closed, rather than
    # closing it again with counts read before that close forgot who chose what.
    if not tx.execute(
        "UPDATE polls SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL",
        (tx.now, by, poll_id),
    ).rowcount:
        raise PollClosed("This poll has already closed.")
    counted = breakdown(tx, row)
    tx.execute("UPDATE polls SET final = ? WHERE id = ?", (json.dumps(counted), poll_id))
    if row["anonymous"]:
        _forget_who_chose_what(tx, row)
    audit.record(
        tx,
        by,
        "poll.close",
        group_id=acc.group_id,
        subject=f"poll {poll_id}",
        counts=counted["counts"],
        voters=counted["voters"],
        **({} if by is not None else {"at_closing_time": True}),
    )
    tx.emit(acc.room_id, acc.slug, "poll.closed", {"poll": poll_id, **counted, "closed_at": tx.now})
    return {"poll": poll_id, **counted}


def close_due(tx: Tx) -> list[int]:
    """Close every open poll whose closing time has come (the scheduler's job). Run again,
    it finds nothing: a closed poll is never closed twice."""
    due = tx.execute(
        "SELECT p.id FROM polls p WHERE p.closes_at IS NOT NULL AND p.closes_at <= ?"
        " AND p.closed_at IS NULL ORDER BY p.closes_at, p.id",
        (tx.now,),
    ).fetchall()
    closed = []
    for (poll_id,) in due:
        row = _poll_row(tx, poll_id)
        room = tx.one(
            "SELECT g.id, r.slug, g.name, g.kind, r.id AS room_id FROM groups g"
            " JOIN rooms r ON r.group_id = g.id AND r.kind = 'main' WHERE g.id = ?",
            (row["group_id"],) if row is not None else (0,),
        )
        if row is None or room is None:  # pragma: no cover (a poll always has its group)
            continue
        acc = Access(room["id"], room["slug"], room["name"], room["kind"], None, room["room_id"])
        try:
            _close(tx, row, acc, None)
        except PollClosed:  # a facilitator closed it meanwhile, in another process
            continue
        closed.append(poll_id)
    return closed


# --- reads --------------------------------------------------------------------------------


def poll_data(
    row: Row,
    counted: dict[str, Any],
    *,
    visible: bool,
    voted: bool | None = None,
    named: list[dict[str, Any]] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """A poll as events and reads show it; counts only when this reader may see them.
    An anonymous poll also says from how many voters its counts are shown while open."""
    data: dict[str, Any] = {
        "id": row["id"],
        "poll": row["id"],
        "question": row["question"],
        "options": json.loads(row["options"]),
        "kind": row["kind"],
        "anonymous": bool(row["anonymous"]),
        "results": row["results"],
        "created_by": {"id": row["created_by"], "name": row["creator_name"]},
        "created_at": row["created_at"],
        "closed": row["closed_at"] is not None,
        "closed_at": row["closed_at"],
        "closes_at": row["closes_at"],
        "voters": counted["voters"],
        "results_visible": visible,
    }
    if row["anonymous"]:
        data["privacy_threshold"] = threshold
    if visible:
        data.update(counted)
    if voted is not None:
        data["voted"] = voted
    if named is not None:
        data["named"] = named
    return data


def _named_votes(conn: Conn, row: Row) -> list[dict[str, Any]]:
    """Who chose what, for a named poll only (anonymous polls never call this)."""
    assert not row["anonymous"]
    people: dict[int, dict[str, Any]] = {}
    for r in conn.execute(
        "SELECT w.user_id, u.name, u.erased_at, w.entered_by, e.name AS entered_by_name,"
        " v.choice FROM poll_voters w JOIN users u ON u.id = w.user_id"
        " LEFT JOIN users e ON e.id = w.entered_by"
        " JOIN poll_votes v ON v.poll_id = w.poll_id AND v.user_id = w.user_id"
        " WHERE w.poll_id = ? ORDER BY u.name, w.user_id, v.choice",
        (row["id"],),
    ):
        person = people.setdefault(
            r["user_id"],
            {
                "member": {
                    "id": None if r["erased_at"] else r["user_id"],
                    "name": "Former member" if r["erased_at"] else r["name"],
                },
                "choices": [],
                "entered_by": (
                    None
                    if r["entered_by"] is None
                    else {"id": r["entered_by"], "name": r["entered_by_name"]}
                ),
            },
        )
        person["choices"].append(r["choice"])
    return list(people.values())


def view(
    conn: Conn, user: User, row: Row, acc: Access, *, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """One poll as this user may see it, its members by the group's names (domain/names)."""
    voted = _has_voted(conn, row["id"], user)
    counted = breakdown(conn, row)
    visible = results_visible(row, voted, counted["voters"], threshold)
    named = _named_votes(conn, row) if visible and not row["anonymous"] else None
    data = poll_data(row, counted, visible=visible, voted=voted, named=named, threshold=threshold)
    shown: dict[str, Any] = names.show(names.namer(conn, acc.group_id, user, acc), data)
    if "named" in shown:  # by the names shown, so the order gives no real name away
        shown["named"].sort(key=lambda v: str(v["member"]["name"]).lower())
    return shown


def get_poll(
    conn: Conn, user: User, poll_id: int, *, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    row, acc = _poll_for(conn, user, poll_id)
    return {"poll": view(conn, user, row, acc, threshold=threshold)}


def list_polls(
    conn: Conn, user: User, room: str, *, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """A group's polls, open ones first, newest first."""
    acc = access(conn, user, room)
    return {"polls": group_polls(conn, user, acc, threshold=threshold)}


def group_polls(
    conn: Conn, user: User, acc: Access, *, threshold: int = DEFAULT_THRESHOLD
) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {_POLL_COLUMNS} FROM polls p LEFT JOIN users u ON u.id = p.created_by"
        " WHERE p.group_id = ? ORDER BY p.closed_at IS NOT NULL, p.id DESC",
        (acc.group_id,),
    ).fetchall()
    return [view(conn, user, r, acc, threshold=threshold) for r in rows]


def poll_in_group(
    conn: Conn, user: User, room: str, poll_id: int, *, threshold: int = DEFAULT_THRESHOLD
) -> tuple[Access, dict[str, Any]]:
    """For pages: the poll only if it belongs to that group, else not_found."""
    acc = access(conn, user, room)
    row = _poll_row(conn, poll_id)
    if row is None or row["group_id"] != acc.group_id:
        raise NotFound("There is no such poll.")
    return acc, view(conn, user, row, acc, threshold=threshold)


def room_counts(conn: Conn, user: User, poll_id: int) -> list[int]:
    """The show of hands as last entered, for the facilitator's form to show and correct:
    she entered them, so she sees them whatever members may see (else a correction of one
    box would save the others as 0)."""
    row, acc = _poll_for(conn, user, poll_id)
    require_staff_or_moderator(user, acc)
    n = len(json.loads(row["options"]))
    return json.loads(row["room_counts"]) if row["room_counts"] else [0] * n


def group_members(conn: Conn, user: User, room: str) -> list[dict[str, Any]]:
    """Members a facilitator can record a vote for, by name."""
    acc = access(conn, user, room)
    require_staff_or_moderator(user, acc)
    rows = [
        dict(r)
        for r in conn.execute(
            "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.group_id = ? AND u.erased_at IS NULL ORDER BY u.name",
            (acc.group_id,),
        )
    ]
    shown = names.shown_rows(names.namer(conn, acc.group_id, user, acc), rows)
    return sorted(shown, key=lambda r: str(r["name"]).lower())
