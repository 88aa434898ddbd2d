"""Admin actions that take access away or change roles, each written to the audit log.

They run in one transaction with their audit row. The running server notices them through
``access_changes`` (see server/watcher.py) even when the command line made them.
"""

from __future__ import annotations

from server.domain import accounts, audit
from server.domain.accounts import hash_secret, require_user
from server.errors import BadRequest, NotFound
from server.storage import Tx


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
