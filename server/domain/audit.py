"""The audit trail: one row per admin or facilitator action, written in the action's own
transaction so the record and the change commit together."""

from __future__ import annotations

import json
from typing import Any

from server.storage import Conn, Tx


def record(
    tx: Tx,
    actor_id: int | None,
    action: str,
    *,
    group_id: int | None = None,
    subject: str | None = None,
    **detail: Any,
) -> None:
    tx.execute(
        "INSERT INTO audit_log(at, actor_id, action, group_id, subject, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (tx.now, actor_id, action, group_id, subject, json.dumps(detail, sort_keys=True)),
    )


def entries(conn: Conn, limit: int = 1000) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT a.id, a.at, a.action, a.subject, a.detail, u.name AS actor, g.slug AS room"
        " FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id"
        " LEFT JOIN groups g ON g.id = a.group_id ORDER BY a.id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def search(
    conn: Conn,
    person: str = "",
    action: str = "",
    since: int | None = None,
    until: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Entries newest first, filtered: ``person`` (part of a name or email) as the one who
    acted or the one acted on, ``action`` (its start, such as "user." or "member.role"),
    and times in ms (``since`` inclusive, ``until`` exclusive)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if person.strip():
        pattern = "%" + person.strip().lower() + "%"
        where.append(
            "(lower(coalesce(u.name, '')) LIKE ? OR lower(coalesce(u.email, '')) LIKE ?"
            " OR lower(coalesce(s.name, '')) LIKE ? OR lower(coalesce(s.email, '')) LIKE ?)"
        )
        params += [pattern] * 4
    if action.strip():
        where.append("a.action LIKE ?")
        params.append(action.strip().replace("%", "") + "%")
    if since is not None:
        where.append("a.at >= ?")
        params.append(since)
    if until is not None:
        where.append("a.at < ?")
        params.append(until)
    rows = conn.execute(
        "SELECT a.id, a.at, a.action, a.subject, a.detail, u.name AS actor, g.slug AS room,"
        " s.name AS subject_name FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id"
        " LEFT JOIN groups g ON g.id = a.group_id"
        " LEFT JOIN users s ON a.subject = 'user ' || s.id"
        " WHERE " + " AND ".join(where) + " ORDER BY a.id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def actions(conn: Conn) -> list[str]:
    """Every action name in the log, for the filter's choices."""
    return [r[0] for r in conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]
