"""Admin actions that take access away or change roles, each written to the audit log.

They run in one transaction with their audit row. The running server notices them through
``access_changes`` (see server/watcher.py) even when the command line made them.
"""

from __future__ import annotations

from typing import Any

from server.domain import accounts, audit
from server.domain.accounts import hash_secret, require_user
from server.errors import BadRequest, Forbidden, NotFound
from server.storage import Conn, Tx


def revoke_token(tx: Tx, token: str, actor_id: int | None = None) -> int:
    """Revoke one API token given in full; returns its owner's id."""
    row = tx.one(
        "SELECT id, user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
        (hash_secret(token.strip()),),
    )
    if row is None:
        raise NotFound("No live token matches that: it may already be revoked.")
    tx.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (tx.now, row["id"]))
    audit.record(tx, actor_id, "token.revoked", subject=f"user {row['user_id']}", token=row["id"])
    owner: int = row["user_id"]
    return owner


def revoke_all_tokens(tx: Tx, email: str, actor_id: int | None = None) -> int:
    """Revoke every live API token of one member; returns how many."""
    user = require_user(tx, email)
    count = tx.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        (tx.now, user.id),
    ).rowcount
    audit.record(tx, actor_id, "token.revoked", subject=f"user {user.id}", all=True, count=count)
    return count


def add_user(
    tx: Tx, email: str, name: str, role: str, password: str | None, actor_id: int | None = None
) -> accounts.User:
    """Add a person; a staff or admin role granted at creation is audited like any other."""
    user = accounts.add_user(tx, email, name, role, password)
    audit.record(tx, actor_id, "user.added", subject=f"user {user.id}", role=role)
    return user


def set_member_role(
    tx: Tx,
    slug: str,
    email: str,
    role: str,
    actor_id: int | None = None,
) -> None:
    """Add a member to a group or change their role there (audited)."""
    accounts.add_member(tx, slug, email, role)
    group_id: int = tx.value("SELECT id FROM groups WHERE slug = ?", (slug,))
    user = require_user(tx, email)
    audit.record(
        tx, actor_id, "member.role", group_id=group_id, subject=f"user {user.id}", role=role
    )


def remove_member(tx: Tx, slug: str, email: str, actor_id: int | None = None) -> None:
    """Take a member out of a group; their live subscription to its room ends within a second."""
    group = tx.one("SELECT id FROM groups WHERE slug = ?", (slug,))
    if group is None:
        raise NotFound(f"There is no group called {slug}.")
    user = require_user(tx, email)
    removed = tx.execute(
        "DELETE FROM memberships WHERE group_id = ? AND user_id = ?", (group["id"], user.id)
    ).rowcount
    if not removed:
        raise NotFound(f"{email} is not a member of {slug}.")
    audit.record(tx, actor_id, "member.removed", group_id=group["id"], subject=f"user {user.id}")


def set_site_role(tx: Tx, email: str, role: str, actor_id: int | None = None) -> None:
    """Change a person's site role (member, staff, admin), audited."""
    if role not in accounts.SITE_ROLES:
        raise BadRequest(f"Role must be one of {', '.join(accounts.SITE_ROLES)}, not '{role}'.")
    user = require_user(tx, email)
    tx.execute("UPDATE users SET role = ? WHERE id = ?", (role, user.id))
    audit.record(tx, actor_id, "user.role", subject=f"user {user.id}", role=role, was=user.role)


# --- the web admin's reads and changes (the command line calls the same) ------------------


def suspend_user(tx: Tx, email: str, actor_id: int | None = None) -> None:
    """Pause an account: it cannot log in, its sessions end and its live connections close
    (the access_changes trigger tells the watcher). Undone by ``unsuspend_user``."""
    user = require_user(tx, email)
    if actor_id == user.id:
        raise BadRequest("You cannot suspend your own account.")
    tx.execute(
        "UPDATE users SET suspended_at = ? WHERE id = ? AND suspended_at IS NULL",
        (tx.now, user.id),
    )
    tx.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    audit.record(tx, actor_id, "user.suspended", subject=f"user {user.id}")


def unsuspend_user(tx: Tx, email: str, actor_id: int | None = None) -> None:
    user = require_user(tx, email)
    tx.execute("UPDATE users SET suspended_at = NULL WHERE id = ?", (user.id,))
    audit.record(tx, actor_id, "user.unsuspended", subject=f"user {user.id}")


def list_users(conn: Conn, search: str = "", limit: int = 200) -> list[dict[str, Any]]:
    """People by name, those matching ``search`` in their name or email; erased accounts
    are left out (they are no one any more)."""
    pattern = "%" + search.strip().lower().replace("%", "").replace("_", "") + "%"
    rows = conn.execute(
        "SELECT u.id, u.email, u.name, u.role, u.created_at, u.suspended_at,"
        " (SELECT count(*) FROM memberships m WHERE m.user_id = u.id) AS groups"
        " FROM users u WHERE u.erased_at IS NULL"
        " AND (lower(u.name) LIKE ? OR lower(u.email) LIKE ?) ORDER BY u.name, u.id LIMIT ?",
        (pattern, pattern, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def person(conn: Conn, user_id: int) -> dict[str, Any]:
    """One person for the admin's page: account, groups and live tokens."""
    row = conn.one(
        "SELECT id, email, name, role, created_at, suspended_at, password_hash IS NOT NULL"
        " AS has_password FROM users WHERE id = ? AND erased_at IS NULL",
        (user_id,),
    )
    if row is None:
        raise NotFound("There is no such person (they may have been erased).")
    groups = conn.execute(
        "SELECT g.slug, g.name, m.role FROM memberships m JOIN groups g ON g.id = m.group_id"
        " WHERE m.user_id = ? ORDER BY g.name",
        (user_id,),
    ).fetchall()
    return {**dict(row), "groups": [dict(g) for g in groups]}


def list_groups(conn: Conn) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT g.id, g.slug, g.name, g.kind, g.archived_at,"
        " (SELECT count(*) FROM memberships m WHERE m.group_id = g.id) AS members"
        " FROM groups g ORDER BY g.archived_at IS NOT NULL, g.name"
    ).fetchall()
    return [dict(r) for r in rows]


def group_detail(conn: Conn, slug: str) -> dict[str, Any]:
    row = conn.one("SELECT id, slug, name, kind, archived_at FROM groups WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"There is no group called {slug}.")
    return {**dict(row), "members": group_members(conn, slug)}


def group_members(conn: Conn, slug: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT u.id, u.email, u.name, m.role, m.joined_at, u.suspended_at FROM memberships m"
        " JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id"
        " WHERE g.slug = ? ORDER BY CASE m.role WHEN 'chair' THEN 0 WHEN 'facilitator' THEN 1"
        " ELSE 2 END, u.name",
        (slug,),
    ).fetchall()
    return [dict(r) for r in rows]


def _group_id(tx: Tx, slug: str) -> int:
    row = tx.one("SELECT id FROM groups WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"There is no group called {slug}.")
    group_id: int = row["id"]
    return group_id


def add_group(tx: Tx, slug: str, name: str, kind: str, actor_id: int | None = None) -> int:
    group_id = accounts.add_group(tx, slug, name, kind)
    audit.record(tx, actor_id, "group.added", group_id=group_id, kind=kind)
    return group_id


def rename_group(tx: Tx, slug: str, name: str, actor_id: int | None = None) -> None:
    """A new name to show; the group's address (slug) stays, so links keep working."""
    group_id = _group_id(tx, slug)
    if not name.strip() or len(name) > 200:
        raise BadRequest("A group needs a name of at most 200 characters.", field="name")
    tx.execute("UPDATE groups SET name = ? WHERE id = ?", (name.strip(), group_id))
    audit.record(tx, actor_id, "group.renamed", group_id=group_id)


def set_group_kind(tx: Tx, slug: str, kind: str, actor_id: int | None = None) -> None:
    group_id = _group_id(tx, slug)
    if kind not in accounts.GROUP_KINDS:
        raise BadRequest(f"Kind must be one of {', '.join(accounts.GROUP_KINDS)}.", field="kind")
    tx.execute("UPDATE groups SET kind = ? WHERE id = ?", (kind, group_id))
    audit.record(tx, actor_id, "group.kind", group_id=group_id, kind=kind)


def archive_group(tx: Tx, slug: str, archived: bool, actor_id: int | None = None) -> None:
    """An archived group keeps its members and history but takes no new invitations and is
    listed last; un-archiving brings it back."""
    group_id = _group_id(tx, slug)
    tx.execute(
        "UPDATE groups SET archived_at = ? WHERE id = ?", (tx.now if archived else None, group_id)
    )
    audit.record(
        tx, actor_id, "group.archived" if archived else "group.unarchived", group_id=group_id
    )


def create_token(tx: Tx, email: str, actor_id: int | None = None) -> str:
    """A new API token (shown once; only its hash is kept), audited."""
    token = accounts.create_token(tx, email)
    user = require_user(tx, email)
    audit.record(tx, actor_id, "token.created", subject=f"user {user.id}")
    return token


def list_tokens(conn: Conn) -> list[dict[str, Any]]:
    """Live API tokens and whose they are (never the token: it is not kept)."""
    rows = conn.execute(
        "SELECT t.id, t.created_at, u.id AS user_id, u.name, u.email FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id WHERE t.revoked_at IS NULL AND u.erased_at IS NULL"
        " ORDER BY t.id DESC"
    ).fetchall()
    return [dict(r) for r in rows]


def token_by_id(conn: Conn, token_id: int) -> dict[str, Any]:
    row = conn.one(
        "SELECT t.id, t.created_at, u.name, u.email FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id WHERE t.id = ? AND t.revoked_at IS NULL",
        (token_id,),
    )
    if row is None:
        raise NotFound("No live token has that number: it may already be revoked.")
    return dict(row)


def revoke_token_id(tx: Tx, token_id: int, actor_id: int | None = None) -> int:
    """Revoke one token by its number (the web admin never sees the token itself)."""
    row = tx.one("SELECT user_id FROM api_tokens WHERE id = ? AND revoked_at IS NULL", (token_id,))
    if row is None:
        raise NotFound("No live token has that number: it may already be revoked.")
    tx.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (tx.now, token_id))
    audit.record(tx, actor_id, "token.revoked", subject=f"user {row['user_id']}", token=token_id)
    owner: int = row["user_id"]
    return owner


def chair_set_role(tx: Tx, actor: accounts.User, slug: str, email: str, role: str) -> None:
    """A chair makes a member of their own group a facilitator, or back (an admin may set
    any role). Chairs are changed only by an admin."""
    group_id = _group_id(tx, slug)
    _require_chair_over(tx, actor, group_id, email)
    if role == "chair" and not actor.is_admin:
        raise BadRequest("Only an admin can make someone a chair.", field="role")
    set_member_role(tx, slug, email, role, actor.id)


def chair_remove(tx: Tx, actor: accounts.User, slug: str, email: str) -> None:
    group_id = _group_id(tx, slug)
    _require_chair_over(tx, actor, group_id, email)
    remove_member(tx, slug, email, actor.id)


def _require_chair_over(tx: Tx, actor: accounts.User, group_id: int, email: str) -> None:
    if actor.is_admin:
        return
    mine = tx.one(
        "SELECT role FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, actor.id)
    )
    if mine is None or mine["role"] != "chair":
        raise Forbidden("Only an admin or the group's chair can do that.")
    target = require_user(tx, email)
    theirs = tx.one(
        "SELECT role FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, target.id)
    )
    if theirs is None:
        raise NotFound(f"{email} is not a member of this group.")
    if theirs["role"] == "chair":
        raise Forbidden("Only an admin can change a chair's place in the group.")
