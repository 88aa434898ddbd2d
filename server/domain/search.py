"""Search across what a member may read: thread titles, messages, polls, ideas, meetings
and agenda items, in their groups only (admins: all), never a staff-only post they may
not read (``discussions.sees_staff_only``), never a hidden or deleted one.

The domain decides who may see what and cleans what was typed into plain words; the
storage engine's full-text index does the finding and ranking (``Conn.search``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.domain import names
from server.domain.accounts import Access, User
from server.domain.discussions import FORMER_MEMBER, sees_staff_only
from server.domain.names import Namer
from server.errors import BadRequest
from server.storage import Conn, Row
from server.storage.search import SearchHit, SearchRequest

MAX_QUERY = 200  # characters
MAX_WORDS = 12
PAGE_SIZE = 20
MAX_PAGE = 100
LOCAL = ZoneInfo("Europe/London")  # dates typed by members are days in England
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Filters:
    """What the member typed and chose, as given (shown again on the form)."""

    q: str = ""
    group: str = ""  # a group's slug, or "" for all their groups
    person: int | None = None
    date_from: str = ""  # YYYY-MM-DD
    date_to: str = ""
    page: int = 1


def words(q: str) -> tuple[str, ...]:
    """The words of a query: letters and digits only, so nothing typed is search syntax
    (``"``, ``AND OR``, ``*`` are just characters to drop or words to find)."""
    seen: list[str] = []
    for w in _WORD.findall(q.lower()):
        w = w.strip("_")
        if w and w not in seen:
            seen.append(w)
    return tuple(seen)


def readable_groups(conn: Conn, user: User) -> list[Access]:
    """The groups this member may read (every group for an admin), by name."""
    if user.is_admin:  # every group: the one read that goes through them all
        rows = conn.execute(
            "SELECT g.id, r.slug, g.name, g.kind, m.role, r.id AS room_id FROM groups g"
            " JOIN rooms r ON r.group_id = g.id AND r.kind = 'main'"
            " LEFT JOIN memberships m ON m.group_id = g.id AND m.user_id = ?"
            " ORDER BY g.name, g.id",
            (user.id,),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT g.id, r.slug, g.name, g.kind, m.role, r.id AS room_id FROM memberships m"
            " JOIN groups g ON g.id = m.group_id"
            " JOIN rooms r ON r.group_id = g.id AND r.kind = 'main'"
            " WHERE m.user_id = ? ORDER BY g.name, g.id",
            (user.id,),
        ).fetchall()
    return [Access(r["id"], r["slug"], r["name"], r["kind"], r["role"], r["room_id"]) for r in rows]


def person_name(row: Row, n: Namer, id_key: str = "uid", name_key: str = "name") -> str:
    """A person's name as this viewer is shown it in the row's group (``names.namer``: the
    group name, with who it is for staff). The one place search reads a name."""
    if row["erased_at"] is not None or row[name_key] is None:
        return FORMER_MEMBER
    return n.label(int(row[id_key]), str(row[name_key]))


def namers(conn: Conn, user: User, groups: list[Access]) -> dict[int, Namer]:
    """Each group's names as this member is shown them, read once per search."""
    return {g.group_id: names.namer(conn, g.group_id, user, g) for g in groups}


def people(
    conn: Conn, user: User, groups: list[Access], shown: dict[int, Namer] | None = None
) -> list[dict[str, Any]]:
    """Whom the person filter offers: the current members of the groups searched, each as
    this member is shown them. A member who uses a group name is offered under it, with
    that group's alias id (one entry per such group), never under their real name or id
    there; staff facilitators and admins see who it is ("Blue Heron (Margaret Smith)")."""
    if not groups:
        return []
    shown = shown if shown is not None else namers(conn, user, groups)
    by_id = {g.group_id: g for g in groups}
    ids = list(by_id)
    rows = conn.execute(
        "SELECT DISTINCT m.group_id, u.id, u.name FROM memberships m"
        " JOIN users u ON u.id = m.user_id"
        f" WHERE m.group_id IN ({','.join('?' * len(ids))}) AND u.erased_at IS NULL",
        ids,
    ).fetchall()
    offered: dict[int, str] = {}
    for r in rows:
        n, uid = shown[r["group_id"]], int(r["id"])
        if uid in n.names:
            label = n.label(uid, str(r["name"]))
            offered[n.public_id(uid)] = f"{label}, in {by_id[r['group_id']].name}"
        else:
            offered[uid] = str(r["name"])
    listed = sorted(offered.items(), key=lambda item: (item[1].lower(), item[0]))
    return [{"id": pid, "name": label} for pid, label in listed]


def author_scope(
    user: User, chosen: list[Access], shown: dict[int, Namer], person: int | None
) -> tuple[int | None, list[Access]]:
    """The real author and the groups to look in for the person filter. An alias finds
    that member's posts in its own group only; a real id finds none of their posts in a
    group where they use a group name, unless this member may know who it is (staff
    facilitators, admins, the member themselves), so no search links the two names."""
    if person is None:
        return None, chosen
    if person >= names.ALIAS_BASE:
        for g in chosen:
            uid = shown[g.group_id].real_of(person)
            if uid != person:
                return uid, [g]
        return person, []
    kept = [
        g
        for g in chosen
        if person not in shown[g.group_id].names or shown[g.group_id].staff or person == user.id
    ]
    return person, kept


def _day(text: str, field: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            "Please give the date as year, month and day, like 2026-03-14.", field=field
        ) from None


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=LOCAL).timestamp() * 1000)


def search(conn: Conn, user: User, f: Filters) -> dict[str, Any]:
    """One page of results for the member, best first, each with what its link needs.

    Raises BadRequest(field=...) for an empty or over-long query or a bad filter, so the
    page shows the form again with one sentence next to the field."""
    groups = readable_groups(conn, user)
    shown = namers(conn, user, groups)
    base: dict[str, Any] = {"groups": groups, "people": people(conn, user, groups, shown)}
    if len(f.q) > MAX_QUERY:
        raise BadRequest(
            f"Please use fewer words: up to {MAX_QUERY} letters and spaces.", field="q"
        )
    found = words(f.q)
    if not found:
        raise BadRequest("Please type a word to look for.", field="q")
    if len(found) > MAX_WORDS:
        raise BadRequest(f"Please use at most {MAX_WORDS} words.", field="q")
    chosen = groups
    if f.group:
        chosen = [g for g in groups if g.slug == f.group]
        if not chosen:
            raise BadRequest("Please choose one of your groups.", field="group")
    since, until = _day(f.date_from, "date_from"), _day(f.date_to, "date_to")
    if since and until and until < since:
        raise BadRequest("The “To date” is before the “From date”.", field="date_to")
    if not 1 <= f.page <= MAX_PAGE:
        raise BadRequest(f"Please choose a page from 1 to {MAX_PAGE}.", field="page")
    author, chosen = author_scope(user, chosen, shown, f.person)
    if not chosen:
        return {**base, "results": [], "total": 0, "capped": False, "more": False}
    request = SearchRequest(
        words=found,
        groups=tuple(g.group_id for g in chosen),
        staff_groups=tuple(g.group_id for g in chosen if sees_staff_only(user, g)),
        me=user.id,
        author=author,
        since=_ms(since) if since else None,
        until=_ms(until + timedelta(days=1)) if until else None,
        limit=PAGE_SIZE,
        offset=(f.page - 1) * PAGE_SIZE,
    )
    result = conn.search(request)
    slugs = {g.group_id: g for g in groups}
    results = [
        r
        for r in (_place(conn, hit, slugs, shown, request.marks) for hit in result.hits)
        if r is not None
    ]
    return {
        **base,
        "results": results,
        "total": result.total,
        "capped": result.capped,
        "more": request.offset + PAGE_SIZE < result.total,
        "first": request.offset + 1,
    }


# What each kind of result needs for its line and its link. Each query re-checks that the
# row may still be shown (a message neither deleted nor hidden), whatever the index holds.
_PLACES = {
    "message": (
        "SELECT m.id, m.group_id, m.thread_id, m.created_at AS at, t.title AS heading,"
        " u.id AS uid, u.name, u.erased_at FROM messages m"
        " JOIN threads t ON t.id = m.thread_id LEFT JOIN users u ON u.id = m.author_id"
        " WHERE m.id = ? AND m.deleted_at IS NULL AND m.hidden_at IS NULL"
    ),
    "thread": (
        "SELECT t.id, t.group_id, t.id AS thread_id, t.created_at AS at, t.title AS heading,"
        " u.id AS uid, u.name, u.erased_at FROM threads t"
        " LEFT JOIN users u ON u.id = t.author_id WHERE t.id = ?"
    ),
    "poll": (
        "SELECT p.id, p.group_id, p.created_at AS at, p.question AS heading, u.id AS uid,"
        " u.name, u.erased_at FROM polls p LEFT JOIN users u ON u.id = p.created_by"
        " WHERE p.id = ?"
    ),
    "idea": (
        "SELECT i.id, i.group_id, i.created_at AS at, i.title AS heading, u.id AS uid,"
        " u.name, u.erased_at FROM ideas i LEFT JOIN users u ON u.id = i.author_id"
        " WHERE i.id = ?"
    ),
    "meeting": (
        "SELECT m.id, m.group_id, m.starts_at AS at, m.title AS heading, u.id AS uid,"
        " u.name, u.erased_at FROM meetings m LEFT JOIN users u ON u.id = m.created_by"
        " WHERE m.id = ?"
    ),
    "agenda": (
        "SELECT a.id, m.group_id, a.meeting_id, a.created_at AS at, m.title AS heading,"
        " u.id AS uid, u.name, u.erased_at FROM agenda_items a"
        " JOIN meetings m ON m.id = a.meeting_id LEFT JOIN users u ON u.id = a.proposed_by"
        " WHERE a.id = ?"
    ),
}


def _place(
    conn: Conn,
    hit: SearchHit,
    groups: dict[int, Access],
    shown: dict[int, Namer],
    marks: tuple[str, str],
) -> dict[str, Any] | None:
    row = conn.one(_PLACES[hit.kind], (hit.ref_id,))
    if row is None or row["group_id"] not in groups:
        return None
    g = groups[row["group_id"]]
    out: dict[str, Any] = {
        "kind": hit.kind,
        "id": hit.ref_id,
        "slug": g.slug,
        "group": g.name,
        "heading": row["heading"],
        "title": hit.title,
        "snippet": hit.snippet,
        "author": person_name(row, shown[row["group_id"]]),
        "at": row["at"],
        "score": hit.score,
        "marks": marks,
    }
    if "thread_id" in row.keys():
        out["thread"] = row["thread_id"]
    if "meeting_id" in row.keys():
        out["meeting"] = row["meeting_id"]
    return out


def spans(text: str, marks: tuple[str, str]) -> tuple[str, list[list[int]]]:
    """Text without the engine's markers, and where the matching words are in it (start,
    end offsets), for clients that draw their own highlighting (the WebSocket op)."""
    start, end = marks
    plain: list[str] = []
    found: list[list[int]] = []
    at, opened = 0, None
    for part in re.split(f"({re.escape(start)}|{re.escape(end)})", text):
        if part == start:
            opened = at if opened is None else opened
        elif part == end:
            if opened is not None:
                found.append([opened, at])
                opened = None
        else:
            plain.append(part)
            at += len(part)
    if opened is not None:
        found.append([opened, at])
    return "".join(plain), found


def search_for_client(conn: Conn, user: User, f: Filters) -> dict[str, Any]:
    """The ``search`` op's reply: the page's results, as plain text with highlight spans."""
    found = search(conn, user, f)
    results = []
    for r in found["results"]:
        title, title_marks = spans(r["title"] or r["heading"], r["marks"])
        snippet, snippet_marks = spans(r["snippet"], r["marks"])
        item = {
            "kind": r["kind"],
            "id": r["id"],
            "room": r["slug"],
            "heading": r["heading"],
            "title": title,
            "title_marks": title_marks if r["title"] else [],
            "snippet": snippet,
            "snippet_marks": snippet_marks,
            "author": r["author"],
            "at": r["at"],
        }
        for key in ("thread", "meeting"):
            if key in r:
                item[key] = r[key]
        results.append(item)
    return {
        "results": results,
        "total": found["total"],
        "capped": found["capped"],
        "more": found["more"],
    }
