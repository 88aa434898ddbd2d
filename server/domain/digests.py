"""The summary email ("digest"): what is unread for a member and new since their last one,
never sent when nothing is (a member who reads everything in the app gets none).

Its content is the inbox's (``inbox.entries``: follows, each group's level, access,
staff-only and hidden posts already applied), grouped by group. A group marked "no
message text" (email_prefs) is summed up in counts only: "3 new messages in Renal
transport". A closed poll's result is added only as the member may see it on the website,
and for an anonymous poll only from the suppression threshold (the email may be forwarded).

When: daily and weekly (Mondays) after ``digest_hour`` in the member's own time zone;
"after each meeting" once a meeting of one of their groups has ended (its pack is ready).
Each period has a key; it is stored with the member (``last_period``) in the same
transaction as the outbox row, whose ``dedupe_key`` is the member and the key, so a period
goes once whatever crashes or however many processes look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.domain import email_notices, email_prefs, inbox, polls
from server.domain.accounts import User
from server.domain.suppression import DEFAULT_THRESHOLD, counts_shown
from server.errors import CFNError
from server.storage import Conn, Tx

DAY_MS = 86_400_000
MEETING_LOOKBACK_MS = 7 * DAY_MS  # a meeting digest is for a meeting that ended this week
MOST = 60  # entries in one digest; the rest are on the website
HEADINGS = {
    "daily": "Your daily summary",
    "weekly": "Your weekly summary",
    "meeting": "Your summary after the meeting",
}


@dataclass(frozen=True)
class Due:
    """One member's digest that has fallen due: the period's key and where it starts."""

    user_id: int
    email: str
    name: str
    role: str
    frequency: str
    period: str
    since: int  # ms: activity after this goes in
    meeting: str | None = None


def period_start(now_ms: int, zone: str, hour: int, weekly: bool) -> datetime:
    """The latest daily (or Monday) ``hour`` o'clock, local time, at or before now."""
    tz = ZoneInfo(zone)
    now = datetime.fromtimestamp(now_ms / 1000, tz)
    start = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    if weekly:
        start -= timedelta(days=start.weekday())
    return start  # wall-clock arithmetic: its UTC offset is the one of that day (summer time)


def due(conn: Conn, now_ms: int, hour: int) -> list[Due]:
    """Every member whose digest for the current period has not been dealt with."""
    rows = conn.execute(
        "SELECT e.user_id, e.digest, e.time_zone, e.last_digest_at, e.last_period, u.email,"
        " u.name, u.role FROM email_prefs e JOIN users u ON u.id = e.user_id"
        " WHERE e.digest IN ('daily', 'weekly', 'meeting') AND u.erased_at IS NULL"
        " AND u.suspended_at IS NULL ORDER BY e.user_id"
    ).fetchall()
    out = []
    for r in rows:
        who = (r["user_id"], r["email"], r["name"], r["role"], r["digest"])
        if r["digest"] == "meeting":
            after = r["last_digest_at"] or now_ms - MEETING_LOOKBACK_MS
            ended = conn.one(
                "SELECT m.id, m.title FROM meetings m JOIN memberships gm"
                " ON gm.group_id = m.group_id AND gm.user_id = ?"
                " WHERE m.ended_at IS NOT NULL AND m.ended_at > ? AND m.ended_at <= ?"
                " ORDER BY m.ended_at DESC LIMIT 1",
                (r["user_id"], max(after, now_ms - MEETING_LOOKBACK_MS), now_ms),
            )
            if ended is None or r["last_period"] == f"meeting:{ended['id']}":
                continue
            out.append(Due(*who, f"meeting:{ended['id']}", after, ended["title"]))
            continue
        weekly = r["digest"] == "weekly"
        start = period_start(now_ms, r["time_zone"], hour, weekly)
        key = f"{r['digest']}:{start.date().isoformat()}"
        if r["last_period"] == key:
            continue
        length = (7 if weekly else 1) * DAY_MS
        start_ms = int(start.timestamp() * 1000)
        since = r["last_digest_at"] or start_ms - length
        out.append(Due(*who, key, since))
    return out


def _poll_result(conn: Conn, user: User, entry: inbox.Entry, threshold: int) -> str | None:
    """A closed poll's result in words, only as this member may see it; an anonymous
    poll's only from ``threshold`` voters (the network's ``privacy_threshold``)."""
    if entry.kind != "poll" or not entry.key.startswith("poll:"):
        return None
    try:
        poll_id = int(entry.key.split(":", 1)[1])
        poll = polls.get_poll(conn, user, poll_id, threshold=threshold)["poll"]
    except (CFNError, ValueError):
        return None
    if not poll["closed"] or not poll["results_visible"] or "counts" not in poll:
        return None
    if poll["anonymous"] and not counts_shown(poll["voters"], threshold):
        return None
    parts = [f"{opt}: {n}" for opt, n in zip(poll["options"], poll["counts"], strict=False)]
    return "Result: " + "; ".join(parts) + f" ({poll['voters']} voted)"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def content(
    conn: Conn,
    user: User,
    since_ms: int,
    origin: str,
    no_text: set[int] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> list[dict[str, Any]]:
    """The digest's groups, newest activity first; empty when nothing is new and unread.
    ``no_text``: the "no message text" groups, when a batch has already looked them up;
    ``threshold``: the suppression setting an anonymous poll's result waits for."""
    entries = inbox.entries(conn, user, since=since_ms // 1000, limit=MOST)  # seconds
    if no_text is None:
        no_text = email_prefs.no_text_groups(conn)
    groups: dict[int, dict[str, Any]] = {}
    for e in entries:
        g = groups.setdefault(
            e.group_id,
            {
                "name": e.group_name,
                "link": f"{origin}/g/{e.group_slug}",
                "no_text": e.group_id in no_text,
                "items": [],
                "messages": 0,
                "others": 0,
            },
        )
        if g["no_text"]:
            if e.kind in ("replies", "thread"):
                g["messages"] += e.count
            else:
                g["others"] += 1
            continue
        g["items"].append(
            {
                "title": e.title,
                "detail": e.detail,
                "link": origin + e.url,
                "excerpt": e.excerpt or "",
                "result": _poll_result(conn, user, e, threshold) or "",
            }
        )
    for g in groups.values():
        if g["no_text"]:
            words = []
            if g["messages"]:
                words.append(f"{_plural(g['messages'], 'new message', 'new messages')}")
            if g["others"]:
                words.append(_plural(g["others"], "other update", "other updates"))
            g["summary"] = " and ".join(words) + f" in {g['name']}"
    return list(groups.values())


@dataclass(frozen=True)
class Built:
    """One member's digest content, read before the write that records and queues it."""

    due: Due
    groups: list[dict[str, Any]]


def build_many(
    conn: Conn, dues: list[Due], origin: str, threshold: int = DEFAULT_THRESHOLD
) -> list[Built]:
    """The read half for a batch of members, in one read snapshot (``db.read``): the
    content, the costly part, is worked out without holding the writer, so members'
    posts are not kept waiting behind a round of digests; shared lookups once a batch."""
    no_text = email_prefs.no_text_groups(conn)
    return [
        Built(
            d,
            content(
                conn,
                User(d.user_id, d.email, d.name, d.role),
                d.since,
                origin,
                no_text,
                threshold,
            ),
        )
        for d in dues
    ]


def queue_built(tx: Tx, built: list[Built], origin: str) -> int:
    """The write half: for each member, record the period and queue its digest (none when
    nothing is new: the period is recorded all the same), skipping a period another round
    or process already dealt with; how many were queued."""
    queued = 0
    for b in built:
        d, groups = b.due, b.groups
        last = tx.value("SELECT last_period FROM email_prefs WHERE user_id = ?", (d.user_id,))
        if last == d.period:
            continue
        tx.execute(
            "UPDATE email_prefs SET last_period = ?,"
            " last_digest_at = CASE WHEN ? = 1 THEN ? ELSE last_digest_at END WHERE user_id = ?",
            (d.period, int(bool(groups)), tx.now, d.user_id),
        )
        if not groups:
            continue
        total = sum(len(g["items"]) + (1 if g["no_text"] else 0) for g in groups)
        heading = HEADINGS[d.frequency]
        context = {
            "name": d.name,
            "heading": heading,
            "meeting": d.meeting or "",
            "groups": groups,
            "inbox_link": f"{origin}/inbox",
        }
        subject = f"{heading}: {_plural(total, 'thing', 'things')} new for you"
        if (
            email_notices.queue(
                tx,
                d.user_id,
                d.email,
                "digest",
                subject,
                "digest",
                context,
                f"digest:{d.user_id}:{d.period}",
                origin,
            )
            is not None
        ):
            queued += 1
    return queued


BATCH = 50  # digests per read snapshot and per write transaction
