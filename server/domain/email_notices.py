"""The few emails that cannot wait, each one a member's own setting (email_prefs): a reply
in a thread they started or wrote in, a reminder the day before a meeting of their group.

They are found from the database by the scheduler (server/scheduler.py), not sent from
the action that caused them: a cursor over new messages kept in ``scheduler_cursors`` and
moved in the same transaction as the emails it queues, and each email's outbox
``dedupe_key`` (one per member and thing), so a crash or a second process never sends one
twice and a restart sends what was missed. Posting a message stays as fast as it was.

Every email carries a fresh unsubscribe token (RFC 8058) for its own list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.domain import email_prefs, names, outbox
from server.domain.accounts import User
from server.domain.discussions import FORMER_MEMBER
from server.storage import Conn, Row, Tx

EXCERPT = 300  # characters of a reply shown in its email
REMIND_BEFORE_MS = 24 * 3_600_000
REPLY_BATCH = 500


def local_time(ms: int, zone: str) -> str:
    """ "Tuesday 14 May 2024 at 10:30am" in the member's time zone."""
    at = datetime.fromtimestamp(ms / 1000, ZoneInfo(zone))
    hour = at.strftime("%I").lstrip("0") or "12"
    return f"{at:%A} {at.day} {at:%B %Y} at {hour}:{at:%M}{at.strftime('%p').lower()}"


def cursor(conn: Conn, name: str) -> int | None:
    row = conn.one("SELECT value FROM scheduler_cursors WHERE name = ?", (name,))
    return None if row is None else int(row["value"])


def set_cursor(tx: Tx, name: str, value: int) -> None:
    tx.execute(
        "INSERT INTO scheduler_cursors(name, value) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def queue(
    tx: Tx,
    user_id: int,
    address: str,
    list_name: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str,
    origin: str,
) -> int | None:
    """One email with its own unsubscribe link; None when it was queued before."""
    if tx.one("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)) is not None:
        return None
    token = email_prefs.new_token(tx, user_id, list_name)
    full = {
        **context,
        "origin": origin,
        "settings_link": f"{origin}/me/email",
        "unsubscribe": f"{origin}/unsubscribe/{token}",
    }
    return outbox.enqueue(tx, list_name, address, user_id, subject, template, full, dedupe_key)


def _sees_staff(role: str, group_role: str | None) -> bool:
    """discussions.sees_staff_only, from the columns a query already has."""
    return role == "admin" or (role in ("staff", "admin") and group_role == "facilitator")


def _may_read(msg: Row, who: Row) -> bool:
    """The same rule as discussions.VISIBLE for one reader."""
    if msg["hidden_at"] is not None or msg["deleted_at"] is not None:
        return False
    if not msg["staff_only"] and not msg["thread_staff_only"]:
        return True
    if _sees_staff(who["role"], who["group_role"]) or who["id"] == msg["author_id"]:
        return True
    # a staff-only thread's author reads it; the author of an open thread does not read
    # a staff-only reply in it
    return bool(msg["thread_staff_only"]) and who["id"] == msg["thread_author_id"]


def replies_due(tx: Tx, origin: str) -> int:
    """Queue a reply email for each new message to the earlier writers of its thread who
    asked for them. On the first run the cursor starts at the newest message: no flood."""
    last = cursor(tx, "reply_message_id")
    if last is None:
        set_cursor(
            tx, "reply_message_id", int(tx.value("SELECT coalesce(max(id), 0) FROM messages"))
        )
        return 0
    msgs = tx.execute(
        "SELECT m.id, m.thread_id, m.group_id, m.author_id, m.body, m.staff_only, m.hidden_at,"
        " m.deleted_at, t.title, t.staff_only AS thread_staff_only,"
        " t.author_id AS thread_author_id, g.slug, g.name AS group_name,"
        " u.name AS author_name, u.erased_at AS author_erased"
        " FROM messages m JOIN threads t ON t.id = m.thread_id JOIN groups g ON g.id = m.group_id"
        " LEFT JOIN users u ON u.id = m.author_id WHERE m.id > ? ORDER BY m.id LIMIT ?",
        (last, REPLY_BATCH),
    ).fetchall()
    no_text = email_prefs.no_text_groups(tx)
    namers: dict[int, names.Namer] = {}
    queued = 0
    for m in msgs:
        readers = tx.execute(
            "SELECT DISTINCT u.id, u.email, u.name, u.role, gm.role AS group_role"
            " FROM messages p JOIN users u ON u.id = p.author_id"
            " JOIN email_prefs e ON e.user_id = u.id AND e.on_reply = 1"
            " JOIN memberships gm ON gm.group_id = p.group_id AND gm.user_id = u.id"
            " WHERE p.thread_id = ? AND p.id < ? AND p.deleted_at IS NULL"
            " AND u.id <> ? AND u.erased_at IS NULL AND u.suspended_at IS NULL",
            (m["thread_id"], m["id"], m["author_id"] or 0),
        ).fetchall()
        for who in readers:
            if not _may_read(m, who):
                continue
            quiet = m["group_id"] in no_text
            if m["author_erased"] or m["author_id"] is None:
                author = FORMER_MEMBER
            else:  # the name this reader is shown in the group (names.namer's one rule)
                if m["group_id"] not in namers:
                    namers[m["group_id"]] = names.namer(tx, m["group_id"], None)
                reader = User(who["id"], who["email"], who["name"], who["role"])
                shown = namers[m["group_id"]].seen_by(reader, who["group_role"])
                author = shown.label(m["author_id"], str(m["author_name"]))
            body = " ".join(str(m["body"]).split())
            context = {
                "name": who["name"],
                "author": author,
                "thread": m["title"],
                "group": m["group_name"],
                "no_text": quiet,
                "excerpt": "" if quiet else body[:EXCERPT] + ("…" if len(body) > EXCERPT else ""),
                "link": f"{origin}/g/{m['slug']}/t/{m['thread_id']}#m{m['id']}",
            }
            subject = (
                f"A new reply in {m['group_name']}"
                if quiet
                else f"{author} replied in “{m['title']}”"
            )
            if queue(
                tx,
                who["id"],
                who["email"],
                "reply",
                subject,
                "reply",
                context,
                f"reply:{who['id']}:{m['id']}",
                origin,
            ):
                queued += 1
    if msgs:
        set_cursor(tx, "reply_message_id", int(msgs[-1]["id"]))
    return queued


def meeting_reminders_due(tx: Tx, origin: str) -> int:
    """A reminder to each member who wants one, once, when a published meeting of their
    group is less than a day away (and has not started)."""
    meetings = tx.execute(
        "SELECT m.id, m.title, m.starts_at, m.mode, m.place, m.join_online, m.join_phone,"
        " g.slug, g.name AS group_name, m.group_id FROM meetings m"
        " JOIN groups g ON g.id = m.group_id"
        " WHERE m.published_at IS NOT NULL AND m.started_at IS NULL AND m.ended_at IS NULL"
        " AND m.starts_at > ? AND m.starts_at <= ?",
        (tx.now, tx.now + REMIND_BEFORE_MS),
    ).fetchall()
    queued = 0
    for mt in meetings:
        people = tx.execute(
            "SELECT u.id, u.email, u.name, e.time_zone FROM memberships gm"
            " JOIN users u ON u.id = gm.user_id"
            " JOIN email_prefs e ON e.user_id = u.id AND e.on_meeting = 1"
            " WHERE gm.group_id = ? AND u.erased_at IS NULL AND u.suspended_at IS NULL",
            (mt["group_id"],),
        ).fetchall()
        for who in people:
            when = local_time(mt["starts_at"], who["time_zone"])
            context = {
                "name": who["name"],
                "title": mt["title"],
                "group": mt["group_name"],
                "when": when,
                "place": mt["place"] if mt["mode"] in ("in_person", "hybrid") else "",
                "join_online": mt["join_online"],
                "join_phone": mt["join_phone"],
                "link": f"{origin}/g/{mt['slug']}/meetings/{mt['id']}",
            }
            if queue(
                tx,
                who["id"],
                who["email"],
                "meeting",
                f"Reminder: {mt['title']}, {when}",
                "meeting_reminder",
                context,
                f"meeting-reminder:{who['id']}:{mt['id']}",
                origin,
            ):
                queued += 1
    return queued


def poll_closing_due(tx: Tx, origin: str) -> int:
    """Once per member and poll: an open poll of their group closes within a day and they
    have not voted. Nothing about the results, so an email never shows more than the poll
    page would; in a "no message text" group not even the question."""
    due = tx.execute(
        "SELECT p.id, p.question, p.closes_at, p.group_id, g.slug, g.name AS group_name"
        " FROM polls p JOIN groups g ON g.id = p.group_id"
        " WHERE p.closes_at IS NOT NULL AND p.closed_at IS NULL"
        " AND p.closes_at > ? AND p.closes_at <= ? AND g.archived_at IS NULL"
        " ORDER BY p.closes_at, p.id",
        (tx.now, tx.now + REMIND_BEFORE_MS),
    ).fetchall()
    no_text = email_prefs.no_text_groups(tx)
    queued = 0
    for p in due:
        people = tx.execute(
            "SELECT u.id, u.email, u.name, e.time_zone FROM memberships gm"
            " JOIN users u ON u.id = gm.user_id"
            " JOIN email_prefs e ON e.user_id = u.id AND e.on_poll = 1"
            " WHERE gm.group_id = ? AND u.erased_at IS NULL AND u.suspended_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM poll_voters v WHERE v.poll_id = ?"
            " AND v.user_id = u.id)",
            (p["group_id"], p["id"]),
        ).fetchall()
        quiet = p["group_id"] in no_text
        for who in people:
            when = local_time(p["closes_at"], who["time_zone"])
            context = {
                "name": who["name"],
                "group": p["group_name"],
                "question": "" if quiet else p["question"],
                "when": when,
                "link": f"{origin}/g/{p['slug']}/polls/{p['id']}",
            }
            subject = (
                f"A poll in {p['group_name']} closes soon"
                if quiet
                else f"Closes soon: “{p['question']}”"
            )
            if queue(
                tx,
                who["id"],
                who["email"],
                "poll",
                subject,
                "poll_closing",
                context,
                f"poll-closing:{who['id']}:{p['id']}",
                origin,
            ):
                queued += 1
    return queued
