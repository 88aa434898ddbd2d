"""Data rights (UK GDPR): export everything held about a member; erase their personal data.

Erasure keeps the group's discussion readable: the member's account row stays as a
pseudonym (so their messages, ideas and votes still count and read in order) but loses
name, email, password, sessions, tokens and memberships; pages, history and replays show
"Former member". Their message bodies are kept, as part of the group's record (the
privacy notice says so); a member who wants particular messages gone deletes them, or
asks an admin to, before erasure. Other people's words that mention them are not changed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from server.domain import audit, email_prefs
from server.domain.accounts import require_user
from server.domain.discussions import FORMER_MEMBER
from server.errors import NotFound
from server.storage import Conn, Tx, pack, unpack

# Columns never exported: secrets stored as hashes are of no use to the member and would
# only widen the leak if the export file went astray.
_SECRET_COLUMNS = {"password_hash", "token_hash", "csrf", "secret"}
# Keys in event data and audit details that name a person by a plain string.
_PERSON_KEYS = {"by", "author_name", "name", "voter", "member_name", "actor"}


def _rows(conn: Conn, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


def export_user(conn: Conn, email: str) -> dict[str, Any]:
    """Everything held about one member, as plain JSON-ready data."""
    user = require_user(conn, email)
    uid = user.id
    account = conn.execute(
        "SELECT id, email, name, role, created_at, password_hash IS NOT NULL"
        " AS has_password FROM users WHERE id = ?",
        (uid,),
    ).fetchall()[0]
    out: dict[str, Any] = {
        "exported_at": int(time.time() * 1000),
        "about": "Everything the Critical Friends hub holds about this member. Times are "
        "Unix milliseconds. Passwords, tokens and session ids are stored only as "
        "one-way hashes and are not included.",
        "account": {**dict(account), "has_password": bool(account["has_password"])},
        "memberships": _rows(
            conn,
            "SELECT g.slug AS room, g.name AS group_name, m.role,"
            " m.joined_at FROM memberships m JOIN groups g ON g.id = m.group_id"
            " WHERE m.user_id = ? ORDER BY g.slug",
            (uid,),
        ),
        "sessions": _rows(
            conn,
            "SELECT created_at, expires_at FROM sessions WHERE user_id = ? ORDER BY created_at",
            (uid,),
        ),
        "api_tokens": _rows(
            conn,
            "SELECT id, created_at, revoked_at FROM api_tokens WHERE user_id = ? ORDER BY id",
            (uid,),
        ),
        "threads_started": _rows(
            conn,
            "SELECT t.id, g.slug AS room, t.title, t.created_at"
            " FROM threads t JOIN groups g ON g.id = t.group_id"
            " WHERE t.author_id = ? ORDER BY t.id",
            (uid,),
        ),
        "messages": _rows(
            conn,
            "SELECT m.id, g.slug AS room, m.thread_id AS thread, m.body,"
            " m.created_at, m.edited_at, m.deleted_at FROM messages m"
            " JOIN groups g ON g.id = m.group_id WHERE m.author_id = ?"
            " ORDER BY m.id",
            (uid,),
        ),
        "audit": [
            {**r, "detail": json.loads(r["detail"])}
            for r in _rows(
                conn,
                "SELECT a.id, a.at, a.action, g.slug AS room, a.subject, a.detail,"
                " CASE WHEN a.actor_id = ? THEN 1 ELSE 0 END AS by_them"
                " FROM audit_log a LEFT JOIN groups g ON g.id = a.group_id"
                " WHERE a.actor_id = ? OR a.subject = ? ORDER BY a.id",
                (uid, uid, f"user {uid}"),
            )
        ],
    }
    tables = conn.tables()
    if "poll_votes" in tables:
        # One member, one vote; an anonymous poll never reveals the choice, not even here.
        out["poll_choices"] = _rows(
            conn,
            "SELECT v.poll_id AS poll, p.question, v.choice FROM poll_votes v"
            " JOIN polls p ON p.id = v.poll_id WHERE v.user_id = ? AND p.anonymous = 0"
            " ORDER BY v.poll_id, v.choice",
            (uid,),
        )
    if "poll_voters" in tables:
        # Polls they took part in, or entered a vote in for someone who phoned. An anonymous
        # poll's vote time is left out: it matches the live tally whose counts moved then.
        out["poll_voters"] = _rows(
            conn,
            "SELECT w.poll_id, w.user_id, w.entered_by, CASE WHEN p.anonymous <> 0 THEN NULL"
            " ELSE w.voted_at END AS voted_at FROM poll_voters w JOIN polls p ON p.id ="
            " w.poll_id WHERE w.user_id = ? OR w.entered_by = ? ORDER BY w.poll_id, w.user_id",
            (uid, uid),
        )
    if "outbox" in tables:
        # The emails sent to them, without the links they carried (emptied once sent).
        out["emails"] = _rows(
            conn,
            "SELECT kind, subject, status, created_at, sent_at FROM outbox"
            " WHERE user_id = ? OR to_address = ? ORDER BY id",
            (uid, user.email),
        )
        out["links"] = _rows(
            conn,
            "SELECT purpose, created_at, expires_at, used_at, withdrawn_at FROM account_tokens"
            " WHERE user_id = ? OR email = ? ORDER BY id",
            (uid, user.email),
        )
    covered = {
        "outbox",
        "account_tokens",
        "users",
        "memberships",
        "sessions",
        "api_tokens",
        "threads",
        "messages",
        "poll_votes",
        "poll_voters",
        "audit_log",
        "email_prefs",
        "email_unsubscribe",
    }
    out["email"] = email_prefs.export(conn, uid)
    # Every table column that refers to users(id), found from the schema itself, so a table
    # added later is exported too without anyone remembering to list it here.
    for table, columns in conn.columns_referencing("users").items():
        if table in covered:
            continue
        where = " OR ".join(f'"{c}" = ?' for c in columns)
        rows = _rows(conn, f'SELECT * FROM "{table}" WHERE {where}', tuple(uid for _ in columns))
        out[table] = [
            {k: v for k, v in r.items() if k not in _SECRET_COLUMNS and not isinstance(v, bytes)}
            for r in rows
        ]
    return out


def export_json(conn: Conn, email: str) -> str:
    return json.dumps(export_user(conn, email), indent=2, ensure_ascii=False, sort_keys=True)


def scrub(value: Any, uid: int, name: str) -> Any:
    """``value`` with every reference to the person (id + name) replaced by Former member."""
    if isinstance(value, dict):
        real = value.get("_real")  # a group name's stored identity (domain/names.py)
        if isinstance(real, dict) and real.get("id") == uid:
            return {"id": None, "name": FORMER_MEMBER}
        if (
            value.get("id") == uid
            and value.get("name") == name
            and set(value) <= {"id", "name", "role"}
        ):
            return {"id": None, "name": FORMER_MEMBER}
        return {
            k: (FORMER_MEMBER if k in _PERSON_KEYS and v == name else scrub(v, uid, name))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, uid, name) for v in value]
    return value


def erase_user(tx: Tx, email: str, actor_id: int | None = None) -> dict[str, int]:
    """Remove a member's personal data; their contributions stay, shown as Former member."""
    row = tx.one(
        "SELECT id, name FROM users WHERE email = ? AND erased_at IS NULL", (email.strip(),)
    )
    if row is None:
        raise NotFound(f"There is no user with the email {email}.")
    uid, name = row["id"], row["name"]
    counts = {
        "sessions": tx.execute("DELETE FROM sessions WHERE user_id = ?", (uid,)).rowcount,
        "api_tokens": tx.execute("DELETE FROM api_tokens WHERE user_id = ?", (uid,)).rowcount,
        "memberships": tx.execute("DELETE FROM memberships WHERE user_id = ?", (uid,)).rowcount,
    }
    tables = tx.tables()
    if "reads" in tables:
        tx.execute("DELETE FROM reads WHERE user_id = ?", (uid,))  # what they read, and when
    if "meeting_replies" in tx.tables():
        # how they came and the needs they gave (papers format, support): theirs alone
        counts["meeting_replies"] = tx.execute(
            "DELETE FROM meeting_replies WHERE user_id = ?", (uid,)
        ).rowcount
    if "member_needs" in tables:  # support needs are health details: overwritten, not unlinked
        tx.erase_rows("DELETE FROM member_needs WHERE user_id = ?", (uid,))
        email = tx.value("SELECT email FROM users WHERE id = ?", (uid,))
        tx.erase_rows("DELETE FROM outbox WHERE user_id = ? OR to_address = ?", (uid, email))
        tx.erase_rows("DELETE FROM account_tokens WHERE user_id = ? OR email = ?", (uid, email))
    # "About you" answers and display names: personal data with no place in the record.
    counts["email_settings"] = email_prefs.erase(tx, uid)  # settings and unsubscribe links
    counts["about_you"] = tx.execute("DELETE FROM about_you WHERE user_id = ?", (uid,)).rowcount
    tx.execute("DELETE FROM display_names WHERE user_id = ?", (uid,))
    # What they followed, how much each group told them, what they marked read: theirs alone
    # (exported above with every other table that refers to them).
    counts["follows"] = tx.execute("DELETE FROM follows WHERE user_id = ?", (uid,)).rowcount
    tx.execute("DELETE FROM follow_levels WHERE user_id = ?", (uid,))
    tx.execute("DELETE FROM inbox_reads WHERE user_id = ?", (uid,))
    tx.execute(
        "UPDATE users SET name = ?, email = ?, password_hash = NULL, erased_at = ? WHERE id = ?",
        (FORMER_MEMBER, f"erased-{uid}@erased.invalid", tx.now, uid),
    )
    # Stored events carry the author's name (msgpack); rewrite those that contain it, so a
    # replay after erasure never brings the name back.
    needle = name.encode()
    scrubbed = 0
    for ev in tx.rows_containing("events", "data", needle, ("room_id", "seq", "data")):
        data = unpack(ev["data"])
        clean = scrub(data, uid, name)
        if clean != data:
            tx.execute(
                "UPDATE events SET data = ? WHERE room_id = ? AND seq = ?",
                (pack(clean), ev["room_id"], ev["seq"]),
            )
            scrubbed += 1
    for entry in tx.rows_containing("audit_log", "detail", name, ("id", "detail")):
        detail = json.loads(entry["detail"])
        clean = scrub(detail, uid, name)
        if clean != detail:
            tx.execute(
                "UPDATE audit_log SET detail = ? WHERE id = ?",
                (json.dumps(clean, sort_keys=True), entry["id"]),
            )
    counts["events_scrubbed"] = scrubbed
    audit.record(tx, actor_id, "user.erased", subject=f"user {uid}", **counts)
    return counts
