"""The account life cycle: invitations, password resets, email changes, the member's own
profile (name, password, text size, meeting papers and support needs) and their sessions.

Every link is a single-use token: random, stored only as its SHA-256, compared in
constant time, expiring, and withdrawn when a new one is sent for the same purpose and
address. Every email is queued in the outbox (domain/outbox.py) inside the action's own
transaction, so it goes exactly when the action committed.

Passwords reach these functions already hashed: argon2id costs ~0.2 s of CPU, so the pages
hash on a thread of their own, never on the event loop or the database's writer.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from server.domain import accounts, admin, audit, email_prefs, outbox
from server.domain.accounts import GROUP_ROLES, User, hash_secret
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.storage import Conn, Row, Tx

INVITE_MS = 7 * 86_400_000
RESET_MS = 3_600_000
EMAIL_CHANGE_MS = 86_400_000
MAX_NAME = 100
MAX_PASSWORD = 1000
PASSWORD_RULE = (
    "Use at least 10 characters, or three or more words with spaces between them"
    " (for example: river tea window)."
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_WORDS = {"member": "a member", "chair": "the chair", "facilitator": "a facilitator"}
PAPERS = {
    "screen": "On screen",
    "large_print": "Large print",
    "easy_read": "Easy read",
    "post": "Printed, sent by post",
}
TEXT_SIZES = {"normal": "Standard", "large": "Large", "larger": "Largest"}
SUPPORT = {
    "support_person": "I bring a support person or carer",
    "no_time_pressure": "I need time: no rushing me for answers",
    "bsl": "I need a British Sign Language (BSL) interpreter",
}


class LinkProblem(BadRequest):
    """A link that cannot be used: ``reason`` is "used", "expired" or "unknown"."""

    def __init__(self, reason: str, purpose: str) -> None:
        self.reason, self.purpose = reason, purpose
        words = {
            "used": "This link has already been used. Each link works once.",
            "expired": "This link has expired.",
            "unknown": "This link is not valid. It may have been replaced by a newer one.",
        }
        super().__init__(words[reason])


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in words; None when it follows the rule."""
    if len(password) > MAX_PASSWORD:
        return f"That password is too long: at most {MAX_PASSWORD} characters."
    words = [w for w in password.split() if len(w) >= 3]
    if len(password) >= 10 or len(words) >= 3:
        return None
    return "That password is too short. " + PASSWORD_RULE


def _check_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name:
        raise BadRequest("Please write the name you would like others to see.", field=field)
    if len(name) > MAX_NAME:
        raise BadRequest(f"That name is too long: at most {MAX_NAME} characters.", field=field)
    return name


def _check_email(email: str, field: str = "email") -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 320:
        raise BadRequest(
            "Please write a whole email address, such as name@example.org.", field=field
        )
    return email


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A live single-use link and what it is for."""

    id: int
    purpose: str
    email: str
    user_id: int | None
    group_id: int | None
    group_role: str | None
    group_name: str | None
    expires_at: int


def _issue(
    tx: Tx,
    purpose: str,
    email: str,
    ttl_ms: int,
    *,
    user_id: int | None = None,
    group_id: int | None = None,
    group_role: str | None = None,
    created_by: int | None = None,
) -> tuple[int, str]:
    """A new token; any earlier unused one for this purpose and address stops working."""
    tx.execute(
        "UPDATE account_tokens SET withdrawn_at = ? WHERE purpose = ? AND email = ?"
        " AND used_at IS NULL AND withdrawn_at IS NULL",
        (tx.now, purpose, email),
    )
    token = secrets.token_urlsafe(32)
    token_id: int = tx.value(
        "INSERT INTO account_tokens(purpose, token_hash, email, user_id, group_id, group_role,"
        " created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            purpose,
            hash_secret(token),
            email,
            user_id,
            group_id,
            group_role,
            created_by,
            tx.now,
            tx.now + ttl_ms,
        ),
    )
    return token_id, token


def _token_row(conn: Conn, token: str) -> Row | None:
    if not token or len(token) > 200:
        return None
    digest = hash_secret(token)
    row = conn.one(
        "SELECT t.*, g.name AS group_name FROM account_tokens t"
        " LEFT JOIN groups g ON g.id = t.group_id WHERE t.token_hash = ?",
        (digest,),
    )
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    return row


def check_link(conn: Conn, purpose: str, token: str, now: int) -> Link:
    """The link if it can still be used; LinkProblem saying why not otherwise."""
    row = _token_row(conn, token)
    if row is None or row["purpose"] != purpose or row["withdrawn_at"] is not None:
        raise LinkProblem("unknown", purpose)
    if row["used_at"] is not None:
        raise LinkProblem("used", purpose)
    if row["expires_at"] <= now:
        raise LinkProblem("expired", purpose)
    return Link(
        row["id"],
        row["purpose"],
        row["email"],
        row["user_id"],
        row["group_id"],
        row["group_role"],
        row["group_name"],
        row["expires_at"],
    )


def _use(tx: Tx, purpose: str, token: str) -> Link:
    """Check the link and mark it used, in this transaction: it works once."""
    link = check_link(tx, purpose, token, tx.now)
    tx.execute("UPDATE account_tokens SET used_at = ? WHERE id = ?", (tx.now, link.id))
    return link


def _now_ms() -> int:
    return int(time.time() * 1000)


def _in_words(ms: int) -> str:
    hours = ms // 3_600_000
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 2:
        return f"{hours} hours"
    if ms == 3_600_000:
        return "1 hour"
    return f"{ms // 60_000} minutes"


# --- invitations --------------------------------------------------------------------------


def _group(conn: Conn, slug: str) -> Row:
    group = conn.one("SELECT id, slug, name, archived_at FROM groups WHERE slug = ?", (slug,))
    if group is None:
        raise NotFound(f"There is no group called {slug}.")
    return group


def may_manage_group(conn: Conn, actor: User, group_id: int) -> bool:
    """An admin manages every group's members; a chair their own group's."""
    if actor.is_admin:
        return True
    role = conn.one(
        "SELECT role FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, actor.id)
    )
    return role is not None and role["role"] == "chair"


def _require_manager(conn: Conn, actor: User, group_id: int, role: str | None = None) -> None:
    if not may_manage_group(conn, actor, group_id):
        raise Forbidden("Only an admin or the group's chair can do that.")
    if role == "chair" and not actor.is_admin:
        raise BadRequest("Only an admin can make someone a chair.", field="role")


CONSOLE = "The Critical Friends Network's admin"


def invite(tx: Tx, actor: User | None, email: str, slug: str, role: str, origin: str) -> str:
    """Invite someone by email into a group with a role. A person who already has an
    account is added to the group and told so; anyone else gets a link valid for 7 days.
    Returns "invited" or "added". Re-inviting the same address withdraws the old link.
    ``actor`` None is the command line (an admin at the server's console)."""
    email = _check_email(email)
    if role not in GROUP_ROLES:
        raise BadRequest(f"Choose a role: {', '.join(GROUP_ROLES)}.", field="role")
    group = _group(tx, slug)
    if actor is not None:
        _require_manager(tx, actor, group["id"], role)
    actor_id = actor.id if actor is not None else None
    if group["archived_at"] is not None:
        raise BadRequest("That group is archived: nobody new can be invited to it.", field="group")
    context = {
        "inviter": actor.name if actor is not None else CONSOLE,
        "group": group["name"],
        "role": ROLE_WORDS[role],
        "origin": origin,
    }
    existing = accounts.user_by_email(tx, email)
    if existing is not None:
        tx.execute(
            "INSERT INTO memberships(group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(group_id, user_id) DO UPDATE SET role = excluded.role",
            (group["id"], existing.id, role, tx.now),
        )
        audit.record(
            tx,
            actor_id,
            "member.role",
            group_id=group["id"],
            subject=f"user {existing.id}",
            role=role,
        )
        outbox.enqueue(
            tx,
            "added",
            existing.email,
            existing.id,
            f"You have been added to {group['name']}",
            "added",
            {**context, "name": existing.name, "link": f"{origin}/g/{group['slug']}"},
        )
        return "added"
    token_id, token = _issue(
        tx,
        "invite",
        email,
        INVITE_MS,
        group_id=group["id"],
        group_role=role,
        created_by=actor_id,
    )
    outbox.enqueue(
        tx,
        "invite",
        email,
        None,
        f"You are invited to join {group['name']} of the Critical Friends Network",
        "invite",
        {**context, "link": f"{origin}/invite/{token}", "valid_for": _in_words(INVITE_MS)},
    )
    audit.record(
        tx, actor_id, "invite.sent", group_id=group["id"], subject=f"invite {token_id}", role=role
    )
    return "invited"


def invitations(conn: Conn, actor: User, slug: str | None = None) -> list[dict[str, Any]]:
    """Invitations not yet accepted, withdrawn or expired: every group's for an admin,
    their own group's for a chair."""
    params: list[Any] = [int(_now_ms())]
    where = ""
    if slug is not None:
        group = _group(conn, slug)
        _require_manager(conn, actor, group["id"])
        where, params = " AND t.group_id = ?", [*params, group["id"]]
    elif not actor.is_admin:
        raise Forbidden("Only an admin can see every invitation.")
    rows = conn.execute(
        "SELECT t.id, t.email, t.group_role AS role, t.created_at, t.expires_at,"
        " g.slug, g.name AS group_name, u.name AS invited_by FROM account_tokens t"
        " JOIN groups g ON g.id = t.group_id LEFT JOIN users u ON u.id = t.created_by"
        " WHERE t.purpose = 'invite' AND t.used_at IS NULL AND t.withdrawn_at IS NULL"
        " AND t.expires_at > ?" + where + " ORDER BY t.id DESC",
        params,
    ).fetchall()
    return [dict(r) for r in rows]


def invitation(conn: Conn, actor: User, invite_id: int) -> dict[str, Any]:
    """One pending invitation the actor may withdraw."""
    row = conn.one(
        "SELECT t.id, t.email, t.group_id, t.group_role AS role, g.slug, g.name AS group_name"
        " FROM account_tokens t JOIN groups g ON g.id = t.group_id WHERE t.id = ?"
        " AND t.purpose = 'invite' AND t.used_at IS NULL AND t.withdrawn_at IS NULL",
        (invite_id,),
    )
    if row is None or not may_manage_group(conn, actor, row["group_id"]):
        raise NotFound("That invitation is not waiting any more.")
    return dict(row)


def withdraw_invite(tx: Tx, actor: User, invite_id: int) -> dict[str, Any]:
    """The link stops working at once (audited)."""
    found = invitation(tx, actor, invite_id)
    tx.execute("UPDATE account_tokens SET withdrawn_at = ? WHERE id = ?", (tx.now, invite_id))
    audit.record(
        tx, actor.id, "invite.withdrawn", group_id=found["group_id"], subject=f"invite {invite_id}"
    )
    return found


def accept_invite(
    tx: Tx, token: str, name: str, password_hash: str, days: int, user_agent: str = ""
) -> tuple[User, str]:
    """The invitee's account, in their group, logged in: (user, session id)."""
    name = _check_name(name)
    link = _use(tx, "invite", token)
    if tx.one("SELECT 1 FROM users WHERE email = ?", (link.email,)):
        raise Conflict(
            "There is already an account for this email address. Please log in instead.",
        )
    user = accounts.add_user(tx, link.email, name, "member", None)
    tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user.id))
    email_prefs.start_invited(tx, user.id)  # invited by email: a weekly digest (quiet)
    tx.execute(
        "INSERT INTO memberships(group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(group_id, user_id) DO NOTHING",
        (link.group_id, user.id, link.group_role or "member", tx.now),
    )
    audit.record(
        tx,
        user.id,
        "invite.accepted",
        group_id=link.group_id,
        subject=f"user {user.id}",
        invite=link.id,
        role=link.group_role,
    )
    session_token, _ = accounts.create_session(tx, user.id, days, user_agent)
    return user, session_token


def group_of_link(conn: Conn, link: Link) -> str:
    slug: str = conn.value("SELECT slug FROM groups WHERE id = ?", (link.group_id,))
    return slug


def add_person(tx: Tx, actor: User, email: str, name: str, role: str, origin: str) -> User:
    """An admin adds someone by hand: the account, and an email with a link (valid for 7
    days) to choose their password. Audited as ``user.added``."""
    if not actor.is_admin:
        raise Forbidden("Only an admin can add people.")
    email, name = _check_email(email), _check_name(name)
    if role not in accounts.SITE_ROLES:
        raise BadRequest("Please choose a site role.", field="role")
    if tx.one("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise Conflict(f"There is already someone with the email {email}.", field="email")
    user = admin.add_user(tx, email, name, role, None, actor.id)
    _, token = _issue(tx, "reset", email, INVITE_MS, user_id=user.id, created_by=actor.id)
    outbox.enqueue(
        tx,
        "welcome",
        email,
        user.id,
        "Welcome to the Critical Friends Network: choose your password",
        "welcome",
        {
            "name": name,
            "inviter": actor.name,
            "link": f"{origin}/reset/{token}",
            "valid_for": _in_words(INVITE_MS),
            "origin": origin,
        },
    )
    return user


# --- password reset -----------------------------------------------------------------------


def _resettable(conn: Conn, email: str) -> Row | None:
    return conn.one(
        "SELECT id, email, name FROM users WHERE email = ? AND erased_at IS NULL"
        " AND suspended_at IS NULL",
        (email.strip(),),
    )


def _queue_reset(tx: Tx, user: Row, origin: str, asked_by: str) -> str:
    _, token = _issue(tx, "reset", user["email"], RESET_MS, user_id=user["id"])
    link = f"{origin}/reset/{token}"
    outbox.enqueue(
        tx,
        "reset",
        user["email"],
        user["id"],
        "Choose a new password for the Critical Friends Network",
        "reset",
        {
            "name": user["name"],
            "link": link,
            "valid_for": _in_words(RESET_MS),
            "asked_by": asked_by,
            "origin": origin,
        },
    )
    return link


def request_reset(tx: Tx, email: str, origin: str) -> None:
    """ "Forgot your password?": a link by email if the address has an account; nothing
    otherwise. The caller says the same either way."""
    user = _resettable(tx, email)
    if user is not None:
        _queue_reset(tx, user, origin, "you")


def send_reset(tx: Tx, actor: User, email: str, origin: str) -> None:
    """An admin sends a reset link to a member who asked by phone (audited)."""
    if not actor.is_admin:
        raise Forbidden("Only an admin can send a reset link.")
    user = _resettable(tx, email)
    if user is None:
        raise NotFound(f"There is no active account with the email {email}.")
    _queue_reset(tx, user, origin, "an admin, because you asked")
    audit.record(tx, actor.id, "password.reset_sent", subject=f"user {user['id']}")


def reset_link(tx: Tx, email: str, origin: str, actor_id: int | None = None) -> dict[str, Any]:
    """A reset link for the command line to print (an admin reads it out or passes it on);
    no email is sent. Audited."""
    user = _resettable(tx, email)
    if user is None:
        raise NotFound(f"There is no active account with the email {email}.")
    _, token = _issue(tx, "reset", user["email"], RESET_MS, user_id=user["id"])
    audit.record(tx, actor_id, "password.reset_link", subject=f"user {user['id']}")
    return {
        "email": user["email"],
        "link": f"{origin}/reset/{token}",
        "expires_at": tx.now + RESET_MS,
    }


def complete_reset(
    tx: Tx, token: str, password_hash: str, days: int, user_agent: str = ""
) -> tuple[User, str]:
    """The new password; every session of the member ends, and this browser gets a new
    one: (user, session id)."""
    link = _use(tx, "reset", token)
    row = _resettable(tx, link.email)
    if row is None or row["id"] != link.user_id:
        raise LinkProblem("unknown", "reset")
    tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, row["id"]))
    tx.execute("DELETE FROM sessions WHERE user_id = ?", (row["id"],))
    audit.record(tx, row["id"], "password.reset", subject=f"user {row['id']}")
    session_token, _ = accounts.create_session(tx, row["id"], days, user_agent)
    user = accounts.user_by_email(tx, row["email"])
    assert user is not None
    return user, session_token


# --- the member's own profile -------------------------------------------------------------


def profile(conn: Conn, user: User) -> dict[str, Any]:
    """What the profile page shows: name, email, text size and needs."""
    row = conn.one("SELECT name, email, text_size FROM users WHERE id = ?", (user.id,))
    if row is None:
        raise NotFound()
    return {**dict(row), "needs": needs_of(conn, user.id)}


def rename(tx: Tx, user: User, name: str) -> str:
    name = _check_name(name)
    tx.execute("UPDATE users SET name = ? WHERE id = ?", (name, user.id))
    return name


def set_text_size(tx: Tx, user: User, size: str) -> None:
    if size not in TEXT_SIZES:
        raise BadRequest("Please choose one of the text sizes.", field="text_size")
    tx.execute("UPDATE users SET text_size = ? WHERE id = ?", (size, user.id))


def change_password(tx: Tx, user: User, password_hash: str, keep_session: str) -> int:
    """A new password; every other session ends (this one stays). Returns how many ended."""
    tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user.id))
    ended = tx.execute(
        "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?",
        (user.id, hash_secret(keep_session)),
    ).rowcount
    audit.record(tx, user.id, "password.changed", subject=f"user {user.id}")
    return ended


def request_email_change(tx: Tx, user: User, new_email: str, origin: str) -> None:
    """A confirmation link to the new address; the email changes only when it is followed.
    An address another account has gets no link (the page says the same either way)."""
    new_email = _check_email(new_email, "new_email")
    if new_email.lower() == user.email.lower():
        raise BadRequest("That is already your email address.", field="new_email")
    if tx.one("SELECT 1 FROM users WHERE email = ?", (new_email,)):
        return
    _, token = _issue(tx, "email", new_email, EMAIL_CHANGE_MS, user_id=user.id)
    outbox.enqueue(
        tx,
        "email_change",
        new_email,
        user.id,
        "Please confirm your new email address",
        "email_change",
        {
            "name": user.name,
            "link": f"{origin}/email/confirm/{token}",
            "valid_for": _in_words(EMAIL_CHANGE_MS),
            "origin": origin,
        },
    )


def confirm_email_change(tx: Tx, token: str) -> str:
    """Follow the link sent to the new address: the account's email changes, and the old
    address is told (so a change nobody asked for is noticed)."""
    link = _use(tx, "email", token)
    row = tx.one(
        "SELECT id, email, name FROM users WHERE id = ? AND erased_at IS NULL", (link.user_id,)
    )
    if row is None:
        raise LinkProblem("unknown", "email")
    if tx.one("SELECT 1 FROM users WHERE email = ? AND id <> ?", (link.email, row["id"])):
        raise Conflict("Another account now uses that email address, so it cannot be yours.")
    tx.execute("UPDATE users SET email = ? WHERE id = ?", (link.email, row["id"]))
    outbox.enqueue(
        tx,
        "email_changed",
        row["email"],
        row["id"],
        "Your email address for the Critical Friends Network was changed",
        "email_changed",
        {"name": row["name"]},
    )
    audit.record(tx, row["id"], "user.email", subject=f"user {row['id']}")
    return link.email


def needs_of(conn: Conn, user_id: int) -> dict[str, Any]:
    """How the member wants meeting papers and the support they need (meetings read this)."""
    row = conn.one(
        "SELECT papers, support_person, no_time_pressure, bsl, other FROM member_needs"
        " WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        return {
            "papers": "screen",
            "support_person": False,
            "no_time_pressure": False,
            "bsl": False,
            "other": "",
        }
    return {
        "papers": row["papers"],
        "support_person": bool(row["support_person"]),
        "no_time_pressure": bool(row["no_time_pressure"]),
        "bsl": bool(row["bsl"]),
        "other": row["other"],
    }


def set_needs(
    tx: Tx, user: User, papers: str, support: set[str], other: str, max_other: int = 1000
) -> None:
    if papers not in PAPERS:
        raise BadRequest("Please choose how you would like meeting papers.", field="papers")
    if support - set(SUPPORT):
        raise BadRequest("Please choose from the support listed.", field="support")
    if len(other) > max_other:
        raise BadRequest(
            f"That is too long: at most {max_other} characters. Please shorten it.",
            field="other",
        )
    tx.execute(
        "INSERT INTO member_needs(user_id, papers, support_person, no_time_pressure, bsl,"
        " other, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
        " papers = excluded.papers, support_person = excluded.support_person,"
        " no_time_pressure = excluded.no_time_pressure, bsl = excluded.bsl,"
        " other = excluded.other, updated_at = excluded.updated_at",
        (
            user.id,
            papers,
            int("support_person" in support),
            int("no_time_pressure" in support),
            int("bsl" in support),
            other.strip(),
            tx.now,
        ),
    )


# --- sessions -----------------------------------------------------------------------------


def sessions_of(conn: Conn, user: User, current: str) -> list[dict[str, Any]]:
    """Where the member is logged in, newest first; ``this`` marks the asking browser."""
    here = hash_secret(current)
    rows = conn.execute(
        "SELECT token_hash, created_at, expires_at, user_agent FROM sessions"
        " WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC",
        (user.id, _now_ms()),
    ).fetchall()
    return [
        {
            "created_at": r["created_at"],
            "expires_at": r["expires_at"],
            "browser": describe_browser(r["user_agent"]),
            "this": hmac.compare_digest(r["token_hash"], here),
        }
        for r in rows
    ]


def describe_browser(agent: str) -> str:
    """A browser's name for itself, in the words a member would recognise."""
    if not agent:
        return "An unknown browser"
    browser = next(
        (
            name
            for key, name in (
                ("Edg/", "Edge"),
                ("Firefox/", "Firefox"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if key in agent
        ),
        "A browser",
    )
    system = next(
        (
            name
            for key, name in (
                ("Android", "an Android phone or tablet"),
                ("iPhone", "an iPhone"),
                ("iPad", "an iPad"),
                ("Windows", "Windows"),
                ("Mac OS", "a Mac"),
                ("CrOS", "a Chromebook"),
                ("Linux", "Linux"),
            )
            if key in agent
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser


def end_other_sessions(tx: Tx, user: User, keep: str) -> int:
    """Log out everywhere else: every session but this browser's ends."""
    count: int = tx.execute(
        "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?",
        (user.id, hash_secret(keep)),
    ).rowcount
    return count


def end_all_sessions(tx: Tx, user: User) -> int:
    """Log out everywhere, this browser too."""
    count: int = tx.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,)).rowcount
    return count
