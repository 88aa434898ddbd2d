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
