"""The transactional outbox: an email is a row written inside the transaction of the action
that causes it, so an email exists exactly when its action committed.

The sender task (server/mail/sender.py) claims due rows (``claim_due`` marks them
``sending`` with a lease), sends them, and marks each ``sent``, or ``pending`` again with
a later attempt, or ``failed`` with the reason. A crash while a row is ``sending`` leaves
it to be claimed again once its lease runs out; the message it builds then carries the
same Message-ID, so the resend is the same message, not a second one.

``enqueue`` is general on purpose (digests and reminders use it too): a kind, an address,
a user, a subject, a template and its JSON context, and a dedupe key that makes a second
enqueue of the same thing a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.storage import Conn, Row, Tx

STATUSES = ("pending", "sending", "sent", "failed")


@dataclass(frozen=True)
class Mail:
    """One outbox row as the sender needs it."""

    id: int
    kind: str
    to_address: str
    subject: str
    template: str
    context: dict[str, Any]
    created_at: int
    attempts: int


def _mail(row: Row) -> Mail:
    return Mail(
        row["id"],
        row["kind"],
        row["to_address"],
        row["subject"],
        row["template"],
        json.loads(row["context"]),
        row["created_at"],
        row["attempts"],
    )


def enqueue(
    tx: Tx,
    kind: str,
    to_address: str,
    user_id: int | None,
    subject: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str | None = None,
) -> int | None:
    """Queue one email in this transaction; None when ``dedupe_key`` was queued before."""
    row = tx.one(
        "INSERT INTO outbox(kind, to_address, user_id, subject, template, context,"
        " dedupe_key, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(dedupe_key) DO NOTHING RETURNING id",
        (
            kind,
            to_address,
            user_id,
            subject,
            template,
            json.dumps(context, sort_keys=True),
            dedupe_key,
            tx.now,
            tx.now,
        ),
    )
    return None if row is None else int(row[0])


def next_due(conn: Conn) -> int | None:
    """When the next row falls due (ms), or None when nothing waits: the sender's poll."""
    at: int | None = conn.value(
        "SELECT min(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END)"
        " FROM outbox WHERE status IN ('pending', 'sending')"
    )
    return at


def claim_due(tx: Tx, lease_ms: int, limit: int = 20) -> list[Mail]:
    """Mark the due rows ``sending`` until ``now + lease_ms`` and return them: pending rows
    whose time has come, and rows left ``sending`` by a crash whose lease ran out."""
    rows = tx.execute(
        "UPDATE outbox SET status = 'sending', lease_until = ?, attempts = attempts + 1"
        " WHERE id IN (SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= ?)"
        " OR (status = 'sending' AND lease_until <= ?) ORDER BY id LIMIT ?)"
        " RETURNING id, kind, to_address, subject, template, context, created_at, attempts",
        (tx.now + lease_ms, tx.now, tx.now, limit),
    ).fetchall()
    return sorted((_mail(r) for r in rows), key=lambda m: m.id)


def mark_sent(tx: Tx, mail_id: int) -> None:
    """Delivered: the link it carried is no longer kept."""
    tx.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL, context = '{}',"
        " last_error = NULL WHERE id = ?",
        (tx.now, mail_id),
    )


def mark_retry(tx: Tx, mail_id: int, error: str, delay_ms: int, give_up_ms: int) -> bool:
    """A temporary failure: try again after ``delay_ms``, unless that would be later than
    ``give_up_ms`` after the email was queued; then it is given up. True if it will retry."""
    row = tx.one("SELECT created_at FROM outbox WHERE id = ?", (mail_id,))
    if row is None:
        return False
    if tx.now + delay_ms - row["created_at"] > give_up_ms:
        mark_failed(tx, mail_id, f"Gave up after repeated temporary failures: {error}")
        return False
    tx.execute(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?, lease_until = NULL,"
        " last_error = ? WHERE id = ?",
        (tx.now + delay_ms, error[:500], mail_id),
    )
    return True


def mark_failed(tx: Tx, mail_id: int, error: str) -> None:
    """Given up for good, with the reason; the link it carried is not kept."""
    tx.execute(
        "UPDATE outbox SET status = 'failed', lease_until = NULL, context = '{}',"
        " last_error = ? WHERE id = ?",
        (error[:500], mail_id),
    )


def recent(conn: Conn, limit: int = 100) -> list[dict[str, Any]]:
    """The newest emails with their state, for the admin's email page (no context)."""
    rows = conn.execute(
        "SELECT id, kind, to_address, subject, status, attempts, last_error, created_at,"
        " sent_at FROM outbox ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [dict(r) for r in rows]
