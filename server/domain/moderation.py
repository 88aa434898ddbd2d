"""Reports, the review queue, reversible hiding, and each group's ground rules.

Any member may report a post (a reason from a short list, and words if they like). The
group's chairs and facilitators (and admins) see the reports, with who made them, and
hide the post with a reason, restore it, or dismiss the report. A hidden post shows
"Hidden by the chair: <reason>" in place of its words to everyone; the words themselves
wait in ``hidden_messages`` (read only here, for moderators) so hiding can be undone, and
leave the message row and its stored events meanwhile, just as a deletion's do. The author
is told privately (a notice) and can ask for the post to be looked at again. Removing a
post for good stays with admins (discussions.delete_message) and is audited.
"""

from __future__ import annotations

from typing import Any

from server.domain import audit, names
from server.domain.accounts import Access, User, access
from server.domain.discussions import (
    FORMER_MEMBER,
    HIDERS,
    audience,
    delete_message,
    message_for_change,
    scrub_stored_text,
)
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.storage import Conn, Row, Tx

REPORT_REASONS = {
    "personal": "personal details",
    "unkind": "unkind or offensive",
    "untrue": "untrue or misleading",
    "spam": "advertising or spam",
    "other": "something else",
}
HIDE_REASONS = {
    "personal": "personal details",
    "rules": "against the ground rules",
    "unkind": "unkind or offensive",
    "untrue": "untrue or misleading",
    "spam": "advertising or spam",
    "other": "not right for this discussion",
}
MAX_NOTE = 1000
MAX_RULES = 5000


def may_moderate(user: User, acc: Access) -> bool:
    """The group's chairs and facilitators, and site admins."""
    return acc.can_moderate or user.is_admin


def _require_moderator(user: User, acc: Access) -> None:
    if not may_moderate(user, acc):
        raise Forbidden("Only the group's chair, a facilitator or an admin can do that.")


def _note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise BadRequest(f"Please keep this to {MAX_NOTE} characters.", field="note")
    return note


def _hider_role(user: User, acc: Access) -> str:
    if acc.role in ("chair", "facilitator"):
        return acc.role
    return "admin"


def hidden_notice(reason: str | None, role: str | None) -> str:
    """What everyone sees in place of a hidden post."""
    return f"Hidden by {HIDERS.get(role or '', 'the chair')}: {reason or 'no reason given'}"


# --- reports ------------------------------------------------------------------------------


def report_message(
    tx: Tx, user: User, message_id: int, reason: str, note: str = ""
) -> dict[str, Any]:
    """A member flags a post; the author is never told who."""
    row, acc = message_for_change(tx, user, message_id)
    if row["deleted_at"] is not None:
        raise Conflict("That message has been deleted.")
    if row["author_id"] == user.id:
        raise BadRequest(
            "This is your own post: you can change or remove it instead of reporting it."
        )
    if reason not in REPORT_REASONS:
        raise BadRequest("Please choose a reason from the list.", field="reason")
    note = _note(note)
    if tx.one(
        "SELECT 1 FROM reports WHERE message_id = ? AND reporter_id = ? AND kind = 'report'"
        " AND resolved_at IS NULL",
        (message_id, user.id),
    ):
        raise Conflict(
            "You have already reported this post. A chair or facilitator will look at it."
        )
    report_id: int = tx.value(
        "INSERT INTO reports(message_id, group_id, reporter_id, kind, reason, note, created_at)"
        " VALUES (?, ?, ?, 'report', ?, ?, ?) RETURNING id",
        (message_id, acc.group_id, user.id, reason, note, tx.now),
    )
    return {"report": {"id": report_id}}


def ask_review(tx: Tx, user: User, message_id: int, note: str = "") -> dict[str, Any]:
    """The author of a hidden post asks for it to be looked at again."""
    row, acc = message_for_change(tx, user, message_id)
    if row["author_id"] != user.id:
        raise Forbidden("Only the person who wrote a post can ask for it to be looked at again.")
    if row["hidden_at"] is None:
        raise Conflict("This post is not hidden.")
    note = _note(note)
    if tx.one(
        "SELECT 1 FROM reports WHERE message_id = ? AND reporter_id = ? AND kind = 'review'"
        " AND resolved_at IS NULL",
        (message_id, user.id),
    ):
        raise Conflict("You have already asked. A chair or facilitator will look at it again.")
    report_id: int = tx.value(
        "INSERT INTO reports(message_id, group_id, reporter_id, kind, reason, note, created_at)"
        " VALUES (?, ?, ?, 'review', 'review', ?, ?) RETURNING id",
        (message_id, acc.group_id, user.id, note, tx.now),
    )
    return {"report": {"id": report_id}}


def _resolve(tx: Tx, user: User, message_id: int, outcome: str) -> int:
    return tx.execute(
        "UPDATE reports SET resolved_at = ?, resolved_by = ?, outcome = ?"
        " WHERE message_id = ? AND resolved_at IS NULL",
        (tx.now, user.id, outcome, message_id),
    ).rowcount


def _tell(tx: Tx, user_id: int | None, acc: Access, message_id: int, body: str) -> None:
    if user_id is None:
        return
    tx.execute(
        "INSERT INTO notices(user_id, group_id, message_id, body, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (user_id, acc.group_id, message_id, body, tx.now),
    )


# --- hiding -------------------------------------------------------------------------------


def hide_message(tx: Tx, user: User, message_id: int, reason: str) -> dict[str, Any]:
    """Hide a post with a reason: reversible; its words leave everything members can read."""
    row, acc = message_for_change(tx, user, message_id)
    _require_moderator(user, acc)
    if row["deleted_at"] is not None:
        raise Conflict("That message has been deleted.")
    if row["hidden_at"] is not None:
        raise Conflict("That message is already hidden.")
    if reason not in HIDE_REASONS:
        raise BadRequest("Please choose a reason from the list.", field="reason")
    words, role = HIDE_REASONS[reason], _hider_role(user, acc)
    tx.execute(
        "INSERT INTO hidden_messages(message_id, body, hidden_by, hidden_at) VALUES (?, ?, ?, ?)",
        (message_id, row["body"], user.id, tx.now),
    )
    tx.execute(
        "UPDATE messages SET body = '', hidden_at = ?, hidden_reason = ?, hidden_role = ?"
        " WHERE id = ?",
        (tx.now, words, role, message_id),
    )
    hidden = {"reason": words, "by": HIDERS[role]}
    scrub_stored_text(tx, acc.room_id, message_id, "hidden", hidden)
    _resolve(tx, user, message_id, "hidden")
    if row["author_id"] != user.id:
        _tell(
            tx,
            row["author_id"],
            acc,
            message_id,
            f"Your post in {acc.name} was hidden by {HIDERS[role]} ({words}). You can ask for"
            " it to be looked at again.",
        )
    audit.record(
        tx,
        user.id,
        "message.hidden",
        group_id=acc.group_id,
        subject=f"message {message_id}",
        reason=reason,
    )
    # The contract's own event, so a client written only against PROTOCOL.md takes the
    # words off the screen too; `hidden` tells ours to show the notice instead.
    tx.emit(
        acc.room_id,
        acc.slug,
        "message.deleted",
        audience(
            row,
            {"id": message_id, "thread": row["thread_id"], "deleted_at": tx.now, "hidden": hidden},
        ),
    )
    return {"hidden": hidden}


def remove_message(tx: Tx, user: User, message_id: int) -> dict[str, Any]:
    """The contract's `message.delete`: the author or an admin removes for good; the group's
    chair or a facilitator, whom PROTOCOL.md also allows, hides it instead (reversible)."""
    row, acc = message_for_change(tx, user, message_id)
    if row["author_id"] != user.id and not user.is_admin and may_moderate(user, acc):
        hide_message(tx, user, message_id, "other")
        return {"moderated": True}
    return delete_message(tx, user, message_id)


def restore_message(tx: Tx, user: User, message_id: int) -> dict[str, Any]:
    """Undo a hiding: the words come back for everyone."""
    row, acc = message_for_change(tx, user, message_id)
    _require_moderator(user, acc)
    if row["hidden_at"] is None or row["deleted_at"] is not None:
        raise Conflict("That message is not hidden.")
    body: str = tx.value("SELECT body FROM hidden_messages WHERE message_id = ?", (message_id,))
    tx.execute(
        "UPDATE messages SET body = ?, hidden_at = NULL, hidden_reason = NULL,"
        " hidden_role = NULL WHERE id = ?",
        (body, message_id),
    )
    tx.execute("DELETE FROM hidden_messages WHERE message_id = ?", (message_id,))
    _resolve(tx, user, message_id, "restored")
    if row["author_id"] != user.id:
        _tell(tx, row["author_id"], acc, message_id, f"Your post in {acc.name} is shown again.")
    audit.record(
        tx, user.id, "message.restored", group_id=acc.group_id, subject=f"message {message_id}"
    )
    tx.emit(
        acc.room_id,
        acc.slug,
        "message.restored",
        audience(row, {"id": message_id, "thread": row["thread_id"], "body": body}),
    )
    return {}


def dismiss_report(tx: Tx, user: User, report_id: int) -> dict[str, Any]:
    """The post is fine: the report leaves the queue, the post stays as it is."""
    row = tx.one("SELECT message_id, resolved_at FROM reports WHERE id = ?", (report_id,))
    if row is None:
        raise NotFound("There is no such report.")
    _, acc = message_for_change(tx, user, row["message_id"])
    _require_moderator(user, acc)
    if row["resolved_at"] is not None:
        raise Conflict("That report has already been dealt with.")
    tx.execute(
        "UPDATE reports SET resolved_at = ?, resolved_by = ?, outcome = 'dismissed' WHERE id = ?",
        (tx.now, user.id, report_id),
    )
    audit.record(
        tx, user.id, "report.dismissed", group_id=acc.group_id, subject=f"report {report_id}"
    )
    return {}


# --- reads --------------------------------------------------------------------------------


def _name(row: Row, prefix: str, n: names.Namer) -> str:
    """Who reported or wrote, as this moderator may see them: a chair sees group names,
    staff facilitators and admins who it is (domain/names.py)."""
    if row[f"{prefix}_id"] is None or row[f"{prefix}_erased"] is not None:
        return FORMER_MEMBER
    return n.label(int(row[f"{prefix}_id"]), str(row[f"{prefix}_name"]))


def review_queue(conn: Conn, user: User, slug: str) -> dict[str, Any]:
    """Open reports and review requests of a group, oldest first, with who made them and
    the post's words (the kept original if it is hidden): moderators only."""
    acc = access(conn, user, slug)
    _require_moderator(user, acc)
    rows = conn.execute(
        "SELECT r.id, r.kind, r.reason, r.note, r.created_at, r.message_id, m.thread_id,"
        " m.hidden_at, m.hidden_reason, m.staff_only, coalesce(h.body, m.body) AS body,"
        " r.reporter_id, ru.name AS reporter_name, ru.erased_at AS reporter_erased,"
        " m.author_id, au.name AS author_name, au.erased_at AS author_erased"
        " FROM reports r JOIN messages m ON m.id = r.message_id"
        " LEFT JOIN hidden_messages h ON h.message_id = m.id"
        " LEFT JOIN users ru ON ru.id = r.reporter_id"
        " LEFT JOIN users au ON au.id = m.author_id"
        " WHERE r.group_id = ? AND r.resolved_at IS NULL AND m.deleted_at IS NULL"
        " ORDER BY r.id",
        (acc.group_id,),
    ).fetchall()
    n = names.namer(conn, acc.group_id, user, acc)
    reports = [
        {
            "id": r["id"],
            "kind": r["kind"],
            "reason": REPORT_REASONS.get(r["reason"], "asked to look again"),
            "note": r["note"],
            "created_at": r["created_at"],
            "message": r["message_id"],
            "thread": r["thread_id"],
            "hidden": r["hidden_at"] is not None,
            "hidden_reason": r["hidden_reason"],
            "staff_only": bool(r["staff_only"]),
            "body": r["body"],
            "reporter": _name(r, "reporter", n),
            "author": _name(r, "author", n),
        }
        for r in rows
    ]
    return {"acc": acc, "reports": reports}


def open_report_count(conn: Conn, user: User, acc: Access) -> int:
    """How many reports wait in the group's queue (0 for those who cannot see it)."""
    if not may_moderate(user, acc):
        return 0
    count: int = conn.value(
        "SELECT count(*) FROM reports WHERE group_id = ? AND resolved_at IS NULL",
        (acc.group_id,),
    )
    return count


def notices(conn: Conn, user: User) -> list[dict[str, Any]]:
    """A member's private notices, newest first, with what they can still do."""
    rows = conn.execute(
        "SELECT n.id, n.body, n.created_at, n.read_at, n.message_id, m.thread_id,"
        " m.hidden_at, g.slug, g.name AS group_name,"
        " EXISTS (SELECT 1 FROM reports r WHERE r.message_id = n.message_id"
        "   AND r.kind = 'review' AND r.reporter_id = n.user_id AND r.resolved_at IS NULL)"
        "   AS review_asked"
        " FROM notices n LEFT JOIN messages m ON m.id = n.message_id"
        " LEFT JOIN groups g ON g.id = n.group_id"
        " WHERE n.user_id = ? ORDER BY n.id DESC LIMIT 100",
        (user.id,),
    ).fetchall()
    return [{**dict(r), "hidden": r["hidden_at"] is not None} for r in rows]


def mark_notices_read(tx: Tx, user: User) -> None:
    tx.execute(
        "UPDATE notices SET read_at = ? WHERE user_id = ? AND read_at IS NULL", (tx.now, user.id)
    )


def unread_notices(conn: Conn, user: User) -> int:
    count: int = conn.value(
        "SELECT count(*) FROM notices WHERE user_id = ? AND read_at IS NULL", (user.id,)
    )
    return count


# --- ground rules -------------------------------------------------------------------------


def ground_rules(conn: Conn, user: User, slug: str) -> dict[str, Any]:
    acc = access(conn, user, slug)
    rules: str = conn.value("SELECT ground_rules FROM groups WHERE id = ?", (acc.group_id,))
    return {"acc": acc, "rules": rules, "may_edit": may_moderate(user, acc)}


def set_ground_rules(tx: Tx, user: User, slug: str, rules: str) -> None:
    acc = access(tx, user, slug)
    _require_moderator(user, acc)
    rules = rules.strip()
    if len(rules) > MAX_RULES:
        raise BadRequest(f"Please keep the ground rules to {MAX_RULES} characters.", field="rules")
    tx.execute("UPDATE groups SET ground_rules = ? WHERE id = ?", (rules, acc.group_id))
    audit.record(tx, user.id, "group.ground_rules", group_id=acc.group_id)


def thread_extras(conn: Conn, user: User, acc: Access) -> dict[str, Any]:
    """What a thread page adds for safety: the ground rules before a first post, whether
    the member may hide posts or post for staff only, and the group's retention."""
    row = conn.one(
        "SELECT g.ground_rules, g.retention_months,"
        " EXISTS (SELECT 1 FROM ground_rules_seen s WHERE s.group_id = g.id AND s.user_id = ?)"
        " AS seen FROM groups g WHERE g.id = ?",
        (user.id, acc.group_id),
    )
    assert row is not None
    return {
        "first_post_rules": row["ground_rules"] if not row["seen"] else "",
        "may_hide": may_moderate(user, acc),
        "retention_months": row["retention_months"],
        "open_reports": open_report_count(conn, user, acc),
    }
