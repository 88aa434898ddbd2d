"""Changes to who may see what, as the access watcher reads them.

Triggers (storage/migrations) add a row to ``access_changes`` whenever a membership, a
role (site or group), a session or a token changes; the watcher (realtime/watcher.py)
polls these rows and re-checks the open connections of the members named, so revoked
access ends at once.
"""

from __future__ import annotations

import contextlib

from server.domain import accounts, discussions
from server.errors import CFNError
from server.storage import Conn, Tx

KEEP_MS = 3_600_000  # an hour: older rows have long been acted on


def prune_changes(tx: Tx) -> None:
    """Forget changes old enough that every watcher has acted on them."""
    tx.execute("DELETE FROM access_changes WHERE at < ?", (tx.now - KEEP_MS,))


def latest_change(conn: Conn) -> int:
    """The newest change id (0: none): a watcher starting now looks only after it."""
    latest: int = conn.value("SELECT coalesce(max(id), 0) FROM access_changes")
    return latest


def changed_users(conn: Conn, after: int) -> tuple[int, set[int]]:
    """The newest change id and the members whose access changed since ``after``."""
    rows = conn.execute("SELECT id, user_id FROM access_changes WHERE id > ?", (after,)).fetchall()
    return (max((r[0] for r in rows), default=after), {r[1] for r in rows})


def rooms_allowed(conn: Conn, user_id: int, rooms: list[str]) -> dict[str, bool]:
    """Which of these rooms the member may still be in (none if the account is gone), each
    with whether they may now read its staff-only posts (a role taken away ends that too)."""
    row = conn.one("SELECT id, email, name, role FROM users WHERE id = ?", (user_id,))
    if row is None:
        return {}
    user = accounts.User(row[0], row[1], row[2], row[3])
    allowed: dict[str, bool] = {}
    for room in rooms:
        with contextlib.suppress(CFNError):
            acc = accounts.access(conn, user, room)
            allowed[room] = discussions.sees_staff_only(user, acc)
    return allowed
