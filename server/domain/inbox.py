"""The inbox: everything unread that matters to one member now, across their groups.

Read by the inbox page, the header's badge, home's per-group counts and the email digests.
Listing marks nothing read: only ``mark_read`` / ``mark_all_read`` and opening the place do
(a thread's mark is its read mark in ``reads``; polls, ideas and meetings are marked in
``inbox_reads`` up to a time, so later news about them shows again).

What counts, per group and its level (``following``): with "nothing", nothing; otherwise
new threads the member has not opened, replies in the threads they follow (with
"everything": in every thread they have opened), open polls they have not voted in and
followed polls that closed, status changes of ideas they proposed, support or follow (with
the note), and meeting news (agenda published, papers out, catch-up pack ready). Only what
happened after they joined the group counts. Staff-only posts count only for those who
may read them (``discussions.VISIBLE``); hidden and deleted posts never appear.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from server.domain import following, reads
from server.domain.accounts import User
from server.domain.ideas import STATUS_LABELS
from server.errors import BadRequest, NotFound
from server.storage import Conn, Row, Tx

KINDS = ("replies", "thread", "poll", "idea", "meeting")
COUNT_CAP = 100  # "100 or more new messages": counting further would cost time, tell nothing
EXCERPT = 140
ALL = 10_000  # "mark all read" and the badge look this far


@dataclass(frozen=True)
class Entry:
    group_id: int
    group_slug: str
    group_name: str
    kind: str  # "replies" | "thread" | "poll" | "idea" | "meeting"
    key: str  # stable identity for marking read: "thread:12", "poll:7", "idea:3", "meeting:2"
    title: str  # thread title / poll question / idea title / meeting title
    detail: str  # plain words: "3 new replies", "Now: Adopted. Note: …", "Agenda published"
    url: str  # site path of the exact place (thread + #message anchor, poll, idea, meeting)
    at: int  # unix seconds of the newest activity in the entry
    count: int  # new messages for "replies"/"thread", else 1
    excerpt: str | None  # short plain text of the newest message when there is one


def _plain(body: str) -> str:
    """One short line of a message's text, for a glance (the page escapes it)."""
    text = " ".join(body.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def _messages(n: int, new_thread: bool) -> str:
    many = f"{COUNT_CAP} or more" if n >= COUNT_CAP else str(n)
    if new_thread:
        return "New thread, 1 message" if n == 1 else f"New thread, {many} messages"
    return "1 new reply" if n == 1 else f"{many} new replies"


def _groups(conn: Conn, user: User, group_ids: list[int] | None) -> list[Row]:
    """The member's groups (not archived) with their role, level and the time they joined."""
    rows = conn.execute(
        "SELECT g.id, g.slug, g.name, m.role, m.joined_at, coalesce(l.level, ?) AS level"
        " FROM memberships m JOIN groups g ON g.id = m.group_id"
        " LEFT JOIN follow_levels l ON l.user_id = m.user_id AND l.group_id = g.id"
        " WHERE m.user_id = ? AND g.archived_at IS NULL ORDER BY g.id",
        (following.DEFAULT_LEVEL, user.id),
    ).fetchall()
    wanted = None if group_ids is None else set(group_ids)
    return [r for r in rows if wanted is None or r["id"] in wanted]


def _sees_staff(user: User, role: str) -> bool:
    """``discussions.sees_staff_only`` for a membership row."""
    return user.is_admin or (user.is_staff and role == "facilitator")


# The threads of one group that can matter to the member (never opened, followed, or all
# of them with "everything"), newest activity first: one range of ``threads_by_activity``.
_CANDIDATES = (
    "SELECT t.id, t.title, t.staff_only, t.author_id, t.last_activity_at,"
    " coalesce(r.last_read, 0) AS mark, f.following FROM threads t"
    " LEFT JOIN reads r ON r.user_id = :me AND r.group_id = t.group_id AND r.thread_id = t.id"
    " LEFT JOIN follows f ON f.user_id = :me AND f.kind = 'thread' AND f.item_id = t.id"
    " WHERE t.group_id = :g AND t.last_activity_at > :floor"
    " AND (t.staff_only = 0 OR t.author_id = :me OR :sees = 1)"
    " AND coalesce(f.following, 1) = 1"
    " AND (f.following = 1 OR :all = 1 OR (r.last_read IS NULL"
    "   AND coalesce(t.author_id, 0) != :me))"
    " ORDER BY t.last_activity_at DESC, t.id DESC LIMIT :limit"
)
# A candidate ``c``'s messages the member has not read: after its mark and the floor, by
# others, not hidden or deleted, and visible to them (``discussions.VISIBLE``, with the
# thread's own staff-only flag and author at hand). Every column is in ``messages_unread``.
_UNREAD = (
    " FROM messages m WHERE m.thread_id = c.id AND m.id > c.mark AND m.created_at > :floor"
    " AND m.deleted_at IS NULL AND m.hidden_at IS NULL AND coalesce(m.author_id, 0) != :me"
    " AND (m.staff_only = 0 OR :sees = 1 OR m.author_id = :me"
    "   OR (c.staff_only = 1 AND c.author_id = :me))"
)
# Per candidate, in the same statement: the first unread, the newest, and how many
# (counted up to COUNT_CAP), each a short range of the covering index; then the newest's
# text. Candidates with nothing unread drop out at the join. MATERIALIZED keeps each
# subquery evaluated once per thread (SQLite would otherwise repeat one per reference).
_THREADS = (
    f"WITH c AS MATERIALIZED ({_CANDIDATES}),"
    " u AS MATERIALIZED (SELECT c.id, c.title, c.mark, c.following, c.last_activity_at,"
    f" (SELECT m.id{_UNREAD} ORDER BY m.id LIMIT 1) AS first,"
    f" (SELECT m.id{_UNREAD} ORDER BY m.id DESC LIMIT 1) AS newest,"
    f" (SELECT count(*) FROM (SELECT m.id{_UNREAD} ORDER BY m.id LIMIT {COUNT_CAP}) k) AS n"
    " FROM c)"
    " SELECT u.id, u.title, u.mark, u.following, u.first, u.n, nm.body, nm.created_at FROM u"
    " JOIN messages nm ON nm.id = u.newest ORDER BY u.last_activity_at DESC, u.id DESC"
)
# The badge only needs how many candidates have anything unread.
_THREADS_UNREAD = f"WITH c AS MATERIALIZED ({_CANDIDATES}) SELECT count(*) FROM c WHERE EXISTS"
_THREADS_UNREAD += f" (SELECT 1{_UNREAD})"


def _thread_params(user: User, g: Row, floor: int, limit: int) -> dict[str, Any]:
    return {
        "me": user.id,
        "g": g["id"],
        "floor": floor,
        "sees": int(_sees_staff(user, g["role"])),
        "all": int(g["level"] == "everything"),
        "limit": limit,
    }


def _threads(conn: Conn, user: User, g: Row, floor: int, limit: int) -> list[Entry]:
    """One statement for the whole group, however many threads it has."""
    rows = conn.execute(_THREADS, _thread_params(user, g, floor, limit)).fetchall()
    found: list[Entry] = []
    for t in rows:
        new_thread = t["mark"] == 0 and t["following"] != 1
        found.append(
            Entry(
                g["id"],
                g["slug"],
                g["name"],
                "thread" if new_thread else "replies",
                f"thread:{t['id']}",
                t["title"],
                _messages(t["n"], new_thread),
                f"/g/{g['slug']}/t/{t['id']}#m{t['first']}",
                t["created_at"] // 1000,
                t["n"],
                _plain(t["body"]),
            )
        )
    return found


def _polls(conn: Conn, user: User, g: Row, floor: int) -> list[Entry]:
    rows = conn.execute(
        "SELECT p.id, p.question, p.created_at, p.closed_at, p.created_by, f.following,"
        " coalesce(ir.read_at, 0) AS read_at,"
        " (SELECT count(*) FROM poll_voters v WHERE v.poll_id = p.id AND v.user_id = :me) AS voted"
        " FROM polls p"
        " LEFT JOIN follows f ON f.user_id = :me AND f.kind = 'poll' AND f.item_id = p.id"
        " LEFT JOIN inbox_reads ir ON ir.user_id = :me AND ir.key = 'poll:' || p.id"
        " WHERE p.group_id = :g AND (p.closed_at IS NULL OR p.closed_at > :floor)"
        " AND coalesce(f.following, 1) = 1 ORDER BY p.id DESC",
        {"me": user.id, "g": g["id"], "floor": floor},
    ).fetchall()
    found: list[Entry] = []
    for p in rows:
        if p["closed_at"] is None:
            if (
                p["voted"]
                or p["created_by"] == user.id
                or p["created_at"] <= max(floor, p["read_at"])
            ):
                continue
            at, detail = p["created_at"], "Open, and you have not voted yet"
        elif p["following"] == 1 and p["closed_at"] > p["read_at"]:
            at, detail = p["closed_at"], "Closed: see the result"
        else:
            continue
        found.append(
            Entry(
                g["id"],
                g["slug"],
                g["name"],
                "poll",
                f"poll:{p['id']}",
                p["question"],
                detail,
                f"/g/{g['slug']}/polls/{p['id']}",
                at // 1000,
                1,
                None,
            )
        )
    return found


def _ideas(conn: Conn, user: User, g: Row, floor: int) -> list[Entry]:
    rows = conn.execute(
        "SELECT i.id, i.title, l.status, l.note, l.at FROM ideas i"
        " JOIN idea_status_log l ON l.id = (SELECT max(x.id) FROM idea_status_log x"
        "   WHERE x.idea_id = i.id)"
        " LEFT JOIN follows f ON f.user_id = :me AND f.kind = 'idea' AND f.item_id = i.id"
        " LEFT JOIN inbox_reads ir ON ir.user_id = :me AND ir.key = 'idea:' || i.id"
        " WHERE i.group_id = :g AND l.at > :floor AND l.at > coalesce(ir.read_at, 0)"
        " AND coalesce(l.by_id, 0) != :me"
        # The first row of the timeline is the idea being proposed, not a change.
        " AND l.id > (SELECT min(y.id) FROM idea_status_log y WHERE y.idea_id = i.id)"
        " AND coalesce(f.following, CASE WHEN :all = 1 OR i.author_id = :me OR EXISTS"
        "   (SELECT 1 FROM idea_supporters s WHERE s.idea_id = i.id AND s.user_id = :me)"
        "   THEN 1 ELSE 0 END) = 1"
        " ORDER BY l.at DESC",
        {"me": user.id, "g": g["id"], "floor": floor, "all": int(g["level"] == "everything")},
    ).fetchall()
    found: list[Entry] = []
    for i in rows:
        detail = f"Now: {STATUS_LABELS.get(i['status'], i['status'])}."
        if i["note"]:
            detail += f" Note: {i['note']}"
        found.append(
            Entry(
                g["id"],
                g["slug"],
                g["name"],
                "idea",
                f"idea:{i['id']}",
                i["title"],
                detail,
                f"/g/{g['slug']}/ideas/{i['id']}",
                i["at"] // 1000,
                1,
                None,
            )
        )
    return found


def _meetings(conn: Conn, user: User, g: Row, floor: int, now: int) -> list[Entry]:
    rows = conn.execute(
        "SELECT m.id, m.title, m.published_at, m.papers_due, m.ended_at,"
        " coalesce(ir.read_at, 0) AS read_at,"
        " (SELECT min(p.added_at) FROM meeting_papers p JOIN agenda_items a ON a.id = p.item_id"
        "   WHERE a.meeting_id = m.id AND a.status = 'accepted') AS papers_at"
        " FROM meetings m"
        " LEFT JOIN inbox_reads ir ON ir.user_id = ? AND ir.key = 'meeting:' || m.id"
        " WHERE m.group_id = ? AND m.published_at IS NOT NULL",
        (user.id, g["id"]),
    ).fetchall()
    found: list[Entry] = []
    base = f"/g/{g['slug']}/meetings"
    for m in rows:
        news: list[tuple[int, str, str]] = [
            (m["published_at"], "Agenda published", f"{base}/{m['id']}")
        ]
        if m["papers_at"] is not None:
            out = max(m["papers_at"], m["papers_due"] or 0, m["published_at"])
            if out <= now:
                news.append((out, "Papers out", f"{base}/{m['id']}"))
        if m["ended_at"] is not None:
            news.append((m["ended_at"], "Catch-up pack ready", f"{base}/{m['id']}/pack"))
        news = [n for n in news if n[0] > floor and n[0] > m["read_at"]]
        if not news:
            continue
        at, detail, url = max(news)
        found.append(
            Entry(
                g["id"],
                g["slug"],
                g["name"],
                "meeting",
                f"meeting:{m['id']}",
                m["title"],
                detail,
                url,
                at // 1000,
                1,
                None,
            )
        )
    return found


def entries(
    conn: Conn,
    user: User,
    *,
    since: int | None = None,
    group_ids: list[int] | None = None,
    limit: int = 200,
    now: int | None = None,
) -> list[Entry]:
    """Everything unread that matters to this member now (respecting follows, each group's
    level everything/followed/nothing, access, staff-only and hidden posts), newest first;
    with ``since`` (unix seconds): only activity after that time (a digest lists what is
    unread AND new since the last digest). ``now`` (unix ms) is for tests."""
    now_ms = int(time.time() * 1000) if now is None else now
    found: list[Entry] = []
    for g in _groups(conn, user, group_ids):
        if g["level"] == "nothing":
            continue
        floor = max(g["joined_at"] - 1, since * 1000 if since is not None else 0)
        found += _threads(conn, user, g, floor, limit)
        found += _polls(conn, user, g, floor)
        found += _ideas(conn, user, g, floor)
        found += _meetings(conn, user, g, floor, now_ms)
    found.sort(key=lambda e: (e.at, e.key), reverse=True)
    return found[:limit]


def unread_total(conn: Conn, user: User, *, now: int | None = None) -> int:
    """How many entries the inbox holds now: the number on the header's badge, on every
    member page. ``len(entries(conn, user, limit=ALL))``, but a thread only has to show that
    something in it is unread (one index probe), not its first, newest and count."""
    now_ms = int(time.time() * 1000) if now is None else now
    total = 0
    for g in _groups(conn, user, None):
        if g["level"] == "nothing":
            continue
        floor = g["joined_at"] - 1
        threads: int = conn.value(_THREADS_UNREAD, _thread_params(user, g, floor, ALL))
        total += threads + len(_polls(conn, user, g, floor))
        total += len(_ideas(conn, user, g, floor)) + len(_meetings(conn, user, g, floor, now_ms))
    return min(total, ALL)


def counts_by_group(conn: Conn, user: User) -> dict[int, dict[str, int]]:
    """Home's per-group counts: new messages, and polls, ideas and meeting news."""
    counts: dict[int, dict[str, int]] = {}
    for e in entries(conn, user, limit=ALL):
        c = counts.setdefault(e.group_id, {"messages": 0, "polls": 0, "ideas": 0, "meetings": 0})
        if e.kind in ("replies", "thread"):
            c["messages"] += e.count
        else:
            c[e.kind + "s"] += 1
    return counts


def _parse(key: str) -> tuple[str, int]:
    kind, _, ident = key.partition(":")
    if kind not in ("thread", "poll", "idea", "meeting") or not ident.isdigit():
        raise BadRequest("That is not an entry of the inbox.", field="key")
    return kind, int(ident)


_TABLES = {"thread": "threads", "poll": "polls", "idea": "ideas", "meeting": "meetings"}


def mark_read(tx: Tx, user: User, key: str) -> None:
    """Mark one entry read: a thread up to its latest message, anything else up to now.
    An entry of a group the member is not in is the plain NotFound."""
    kind, item_id = _parse(key)
    row = tx.one(
        f"SELECT x.group_id, ms.role{', x.staff_only, x.author_id' if kind == 'thread' else ''}"
        f" FROM {_TABLES[kind]} x JOIN memberships ms ON ms.group_id = x.group_id"
        " AND ms.user_id = ? WHERE x.id = ?",
        (user.id, item_id),
    )
    if row is None:
        raise NotFound()
    if kind == "thread":
        if row["staff_only"] and row["author_id"] != user.id and not _sees_staff(user, row["role"]):
            raise NotFound()
        latest: int = tx.value(
            "SELECT coalesce(max(id), 0) FROM messages WHERE thread_id = ?", (item_id,)
        )
        reads.move_mark(tx, user, row["group_id"], item_id, latest)
        return
    tx.execute(
        "INSERT INTO inbox_reads(user_id, key, read_at) VALUES (?, ?, ?)"
        " ON CONFLICT(user_id, key) DO UPDATE SET read_at = CASE WHEN excluded.read_at >"
        " inbox_reads.read_at THEN excluded.read_at ELSE inbox_reads.read_at END",
        (user.id, f"{kind}:{item_id}", tx.now),
    )


def mark_all_read(tx: Tx, user: User) -> None:
    """ "Mark all read": every entry the inbox holds now."""
    for e in entries(tx, user, limit=ALL, now=tx.now):
        mark_read(tx, user, e.key)


def entry_dict(e: Entry) -> dict[str, Any]:
    """An entry as plain data (the JSON the inbox's live script reads)."""
    return {
        "group": {"id": e.group_id, "slug": e.group_slug, "name": e.group_name},
        "kind": e.kind,
        "key": e.key,
        "title": e.title,
        "detail": e.detail,
        "url": e.url,
        "at": e.at,
        "count": e.count,
        "excerpt": e.excerpt,
    }


def opened(tx: Tx, user: User, kind: str, item_id: int) -> bool:
    """A member opened a poll, idea or meeting page: its entry is read. Returns whether
    they follow it (the page's follow button); a thread's mark moves on the thread page."""
    if kind in ("poll", "idea", "meeting"):
        try:
            mark_read(tx, user, f"{kind}:{item_id}")
        except NotFound:  # an admin reading a group they are not in has no inbox there
            pass
    return kind in following.KINDS and following.is_following(tx, user, kind, item_id)
