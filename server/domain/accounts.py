"""People, groups, memberships, API tokens and login sessions.

Functions taking a ``Tx`` run inside the writer's transaction; functions taking a
``Conn`` are reads. Secrets (passwords, tokens, session ids) are stored only
as hashes: argon2id for passwords, SHA-256 for the long random tokens.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.storage import Conn, Row, Tx

SITE_ROLES = ("member", "staff", "admin")
GROUP_ROLES = ("member", "chair", "facilitator")
GROUP_KINDS = ("regional", "service", "network")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both cases take the same time.
    Made on first use: hashing at import cost every CLI command ~0.1 s."""
    return _hasher.hash("not a real password")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


@dataclass(frozen=True)
class Access:
    """A user's standing in one room: its group's row and the role they hold there."""

    group_id: int
    slug: str  # the room's name on the wire (a main room's is its group's slug)
    name: str
    kind: str
    role: str | None  # None: a site admin who is not a member
    room_id: int  # the room that owns the seq and the event log

    @property
    def can_moderate(self) -> bool:
        return self.role in ("chair", "facilitator")


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: Row | None) -> User | None:
    return None if row is None else User(row["id"], row["email"], row["name"], row["role"])


# --- users --------------------------------------------------------------------------------


def add_user(
    tx: Tx,
    email: str,
    name: str,
    role: str = "member",
    password: str | None = None,
) -> User:
    email, name = email.strip(), name.strip()
    if not _EMAIL.match(email):
        raise BadRequest(f"'{email}' is not an email address.")
    if not name:
        raise BadRequest("A name is needed.")
    if role not in SITE_ROLES:
        raise BadRequest(f"Role must be one of {', '.join(SITE_ROLES)}, not '{role}'.")
    if tx.one("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise Conflict(f"There is already a user with the email {email}.")
    pw_hash = _hasher.hash(password) if password else None
    user_id: int = tx.value(
        "INSERT INTO users(email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)"
        " RETURNING id",
        (email, name, role, pw_hash, tx.now),
    )
    return User(user_id, email, name, role)


def user_by_email(conn: Conn, email: str) -> User | None:
    return _user(
        conn.execute(
            "SELECT id, email, name, role FROM users WHERE email = ? AND erased_at IS NULL",
            (email.strip(),),
        ).fetchone()
    )


def require_user(conn: Conn, email: str) -> User:
    user = user_by_email(conn, email)
    if user is None:
        raise NotFound(f"There is no user with the email {email}.")
    return user


def password_record(conn: Conn, email: str) -> tuple[User | None, str]:
    """The user with a password (None otherwise) and the hash to verify against: a dummy
    one for an unknown email, so both cases cost the same time."""
    row = conn.execute(
        "SELECT id, email, name, role, password_hash FROM users"
        " WHERE email = ? AND erased_at IS NULL AND suspended_at IS NULL",
        (email.strip(),),
    ).fetchone()
    if row is None or not row["password_hash"]:
        return None, _dummy_hash()
    return _user(row), row["password_hash"]


def hash_password(password: str) -> str:
    """argon2id of a new password: ~0.2 s of CPU, so callers run it on a thread of its own."""
    return _hasher.hash(password)


def password_matches(stored: str, password: str) -> bool:
    """argon2id verification: ~0.2 s of CPU, so callers run it off the database's threads."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(conn: Conn, email: str, password: str) -> User | None:
    """The user if the password matches; None otherwise, in about the same time either way."""
    user, stored = password_record(conn, email)
    return user if password_matches(stored, password) and user is not None else None


# --- groups and memberships ---------------------------------------------------------------


def add_group(tx: Tx, slug: str, name: str, kind: str = "regional") -> int:
    if not _SLUG.match(slug) or len(slug) > 64:
        raise BadRequest(
            f"'{slug}' cannot be a group name in links: use lower-case letters, numbers and"
            " single hyphens, such as north-yorkshire."
        )
    if not name.strip():
        raise BadRequest("A group needs a name.")
    if kind not in GROUP_KINDS:
        raise BadRequest(f"Kind must be one of {', '.join(GROUP_KINDS)}, not '{kind}'.")
    if tx.one("SELECT 1 FROM groups WHERE slug = ?", (slug,)):
        raise Conflict(f"There is already a group called {slug}.")
    if tx.one("SELECT 1 FROM rooms WHERE slug = ?", (slug,)):
        raise Conflict(f"There is already a room called {slug}.")
    group_id: int = tx.value(
        "INSERT INTO groups(slug, name, kind, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        (slug, name.strip(), kind, tx.now),
    )
    tx.execute(
        "INSERT INTO rooms(group_id, slug, kind, created_at) VALUES (?, ?, 'main', ?)",
        (group_id, slug, tx.now),
    )
    return group_id


def add_member(tx: Tx, slug: str, email: str, role: str = "member") -> None:
    if role not in GROUP_ROLES:
        raise BadRequest(f"Group role must be one of {', '.join(GROUP_ROLES)}, not '{role}'.")
    group = tx.one("SELECT id FROM groups WHERE slug = ?", (slug,))
    if group is None:
        raise NotFound(f"There is no group called {slug}.")
    user = require_user(tx, email)
    tx.execute(
        "INSERT INTO memberships(group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(group_id, user_id) DO UPDATE SET role = excluded.role",
        (group["id"], user.id, role, tx.now),
    )


def access(conn: Conn, user: User, slug: str) -> Access:
    """The user's standing in a room; the same Forbidden for non-members and unknown rooms."""
    row = conn.execute(
        "SELECT g.id, r.slug, g.name, g.kind, m.role, r.id AS room_id FROM rooms r"
        " JOIN groups g ON g.id = r.group_id"
        " LEFT JOIN memberships m ON m.group_id = g.id AND m.user_id = ?"
        " WHERE r.slug = ?",
        (user.id, slug),
    ).fetchone()
    if row is None or (row["role"] is None and not user.is_admin):
        raise Forbidden("You are not a member of that group.")
    return Access(row["id"], row["slug"], row["name"], row["kind"], row["role"], row["room_id"])


def access_by_id(conn: Conn, user: User, group_id: int) -> Access | None:
    """Like access(), by group id; None when the user may not see the group."""
    row = conn.execute(
        "SELECT g.id, r.slug, g.name, g.kind, m.role, r.id AS room_id FROM groups g"
        " JOIN rooms r ON r.group_id = g.id AND r.kind = 'main'"
        " LEFT JOIN memberships m ON m.group_id = g.id AND m.user_id = ?"
        " WHERE g.id = ?",
        (user.id, group_id),
    ).fetchone()
    if row is None or (row["role"] is None and not user.is_admin):
        return None
    return Access(row["id"], row["slug"], row["name"], row["kind"], row["role"], row["room_id"])


def user_groups(conn: Conn, user: User) -> list[dict[str, str]]:
    """The groups a user belongs to (an admin sees every group), by name."""
    if user.is_admin:
        rows = conn.execute(
            "SELECT g.slug, g.name, g.kind, coalesce(m.role, 'admin') AS role FROM groups g"
            " LEFT JOIN memberships m ON m.group_id = g.id AND m.user_id = ?"
            " ORDER BY g.name",
            (user.id,),
        )
    else:
        rows = conn.execute(
            "SELECT g.slug, g.name, g.kind, m.role FROM memberships m"
            " JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name",
            (user.id,),
        )
    return [
        {"slug": r["slug"], "name": r["name"], "kind": r["kind"], "role": r["role"]} for r in rows
    ]


def require_staff_or_moderator(user: User, acc: Access) -> None:
    """Polls and idea statuses: chair or facilitator in the group, or site staff/admin."""
    if not (acc.can_moderate or user.is_staff):
        raise Forbidden("Only the group's chair or facilitator can do that.")


# --- API tokens ---------------------------------------------------------------------------


def create_token(tx: Tx, email: str) -> str:
    user = require_user(tx, email)
    token = "cfn_" + secrets.token_urlsafe(32)
    tx.execute(
        "INSERT INTO api_tokens(user_id, token_hash, created_at) VALUES (?, ?, ?)",
        (user.id, hash_secret(token), tx.now),
    )
    return token


def user_for_token(conn: Conn, token: str) -> User | None:
    return _user(
        conn.execute(
            "SELECT u.id, u.email, u.name, u.role FROM api_tokens t"
            " JOIN users u ON u.id = t.user_id"
            " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.erased_at IS NULL"
            " AND u.suspended_at IS NULL",
            (hash_secret(token),),
        ).fetchone()
    )


# --- login sessions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    text_size: str = "normal"  # the member's choice, applied to every page


def create_session(tx: Tx, user_id: int, days: int, user_agent: str = "") -> tuple[str, str]:
    """A new session id (for the cookie) and its CSRF token; only the id's hash is stored,
    with the browser's own name for itself so the member can recognise the session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    tx.execute(
        "INSERT INTO sessions(token_hash, user_id, csrf, created_at, expires_at, user_agent)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (hash_secret(token), user_id, csrf, tx.now, tx.now + days * 86_400_000, user_agent[:300]),
    )
    return token, csrf


def session_for(conn: Conn, token: str, now: int) -> Session | None:
    row = conn.execute(
        "SELECT u.id, u.email, u.name, u.role, u.text_size, s.csrf FROM sessions s"
        " JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND s.expires_at > ? AND u.erased_at IS NULL"
        " AND u.suspended_at IS NULL",
        (hash_secret(token), now),
    ).fetchone()
    if row is None:
        return None
    user = _user(row)
    assert user is not None
    return Session(user, row["csrf"], row["text_size"])


def end_session(tx: Tx, token: str) -> None:
    tx.execute("DELETE FROM sessions WHERE token_hash = ?", (hash_secret(token),))


def group_ids(conn: Conn) -> dict[str, int]:
    """Every group's id by its slug."""
    return {r[0]: r[1] for r in conn.execute("SELECT slug, id FROM groups")}


def ping(conn: Conn) -> None:
    """The database answers a read (the health check)."""
    conn.value("SELECT 1")
