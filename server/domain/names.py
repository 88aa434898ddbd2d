"""A member's name in one group (a pseudonym), and the one rule for the name shown.

"The name shown for user U in group G to viewer V" is decided here and nowhere else
(``Namer``): other members see the group name and an alias id that differs from group to
group, so nobody in two groups can link "Blue Heron" in one to "Margaret Smith" in the
other; the group's staff facilitators and admins also see who it is; the member sees their
own group name with a note. Events are stored in the form ``stored`` writes (the real
identity under ``_real``, which ``for_audience`` turns into ``real`` for staff and drops for
everyone else). See docs/protocol.md "Names in a group".
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from typing import Any

from server.domain import audit
from server.domain.accounts import Access, User, access
from server.domain.people import MAX_NAME
from server.errors import BadRequest, Forbidden
from server.storage import Conn, Tx

# Alias ids live above every real user id and within JavaScript's safe integers.
ALIAS_BASE = 2**40
ALIAS_SPAN = 2**53 - ALIAS_BASE
REAL = "_real"  # the stored event's private key: staff get it as "real", others never
OWN_NOTE = "your name in this group"
_EMAIL = re.compile(r"\S+@\S+\.\S+")


def _secret(conn: Conn) -> str:
    row = conn.one("SELECT value FROM meta WHERE key = 'secret'")
    return str(row[0]) if row is not None else ""


def alias_id(secret: str, group_id: int, user_id: int) -> int:
    """A member's id in one group while they use a group name: keyed by the installation's
    secret, so the same person's aliases in two groups cannot be linked without it."""
    digest = hmac.new(secret.encode(), f"alias:{group_id}:{user_id}".encode(), hashlib.sha256)
    return ALIAS_BASE + int.from_bytes(digest.digest()[:8], "big") % ALIAS_SPAN


def sees_who(user: User, acc: Access) -> bool:
    """Who may see the real person behind a group name: the group's staff facilitators and
    admins (the same people who read staff-only posts)."""
    return sees_who_by_role(user, acc.role)


def sees_who_by_role(user: User, group_role: str | None) -> bool:
    """``sees_who`` from the member's role in the group (a query's column)."""
    return user.is_admin or (user.is_staff and group_role == "facilitator")


@dataclass(frozen=True)
class Namer:
    """Every group name of one group, for one viewer, read in one snapshot."""

    group_id: int
    viewer_id: int
    staff: bool
    names: dict[int, str]  # user id -> group name
    aliases: dict[int, int]  # user id -> alias id (only for those with a group name)

    def public_id(self, user_id: int) -> int:
        return self.aliases.get(user_id, user_id)

    def ident(self, user_id: int | None, real_name: str) -> dict[str, Any]:
        """``{id, name}`` as this viewer may see it on the wire (``real`` for staff)."""
        if user_id is None or user_id not in self.names:
            return {"id": user_id, "name": real_name}
        shown: dict[str, Any] = {"id": self.aliases[user_id], "name": self.names[user_id]}
        if user_id == self.viewer_id:
            shown["you"] = True
        elif self.staff:
            shown["real"] = {"id": user_id, "name": real_name}
        return shown

    def stored(self, user_id: int, real_name: str) -> dict[str, Any]:
        """The form an event keeps: what everyone may see plus ``_real`` for staff."""
        if user_id not in self.names:
            return {"id": user_id, "name": real_name}
        return {
            "id": self.aliases[user_id],
            "name": self.names[user_id],
            REAL: {"id": user_id, "name": real_name},
        }

    def label(self, user_id: int | None, real_name: str) -> str:
        """The name a page shows: "Blue Heron (Margaret Smith)" for staff, the member's own
        group name with a note for themselves, the group name for everyone else."""
        return label_of(self.ident(user_id, real_name))

    def seen_by(self, viewer: User, group_role: str | None) -> Namer:
        """The same names for another viewer (one read of the group for many readers, as
        the emails of one post need)."""
        return replace(self, viewer_id=viewer.id, staff=sees_who_by_role(viewer, group_role))

    def real_of(self, shown_id: int) -> int:
        """The user behind an id this group's pages showed (an alias or a real id)."""
        for uid, alias in self.aliases.items():
            if alias == shown_id:
                return uid
        return shown_id


def label_of(ident: Any) -> str:
    """The words a page or CSV shows for an identity ``Namer.ident`` made."""
    if not isinstance(ident, dict):
        return ""
    name = str(ident.get("name", ""))
    if ident.get("you"):
        return f"{name} ({OWN_NOTE})"
    real = ident.get("real")
    return f"{name} ({real['name']})" if isinstance(real, dict) else name


def namer(conn: Conn, group_id: int, viewer: User | None, acc: Access | None = None) -> Namer:
    """The one resolution of shown names: every path that shows a member to others uses it.
    ``viewer`` None is the audience of a stored event (nobody's own view, no staff)."""
    rows = conn.execute(
        "SELECT user_id, name FROM display_names WHERE group_id = ?", (group_id,)
    ).fetchall()
    names = {int(r["user_id"]): str(r["name"]) for r in rows}
    secret = _secret(conn) if names else ""
    staff = viewer is not None and acc is not None and sees_who(viewer, acc)
    return Namer(
        group_id,
        viewer.id if viewer is not None else 0,
        staff,
        names,
        {uid: alias_id(secret, group_id, uid) for uid in names},
    )


def own(conn: Conn, group_id: int, user: User) -> dict[str, Any]:
    """The member's identity in this group: ``{id, name}`` as others see it."""
    n = namer(conn, group_id, None)
    return {"id": n.public_id(user.id), "name": n.names.get(user.id, user.name)}


# --- events ---------------------------------------------------------------------------------


def for_audience(data: dict[str, Any], staff: bool) -> dict[str, Any] | None:
    """A stored event's data for one audience, or None when it holds no group name (the
    event goes out as it is). Staff get ``_real`` as ``real``; everyone else without it."""
    if not _has_real(data):
        return None
    stripped: dict[str, Any] = _strip(data, staff)
    return stripped


def _has_real(value: Any) -> bool:
    if isinstance(value, dict):
        return REAL in value or any(_has_real(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_real(v) for v in value)
    return False


def _strip(value: Any, staff: bool) -> Any:
    if isinstance(value, dict):
        out = {k: _strip(v, staff) for k, v in value.items() if k != REAL}
        if REAL in value and staff:
            out["real"] = value[REAL]
        return out
    if isinstance(value, list):
        return [_strip(v, staff) for v in value]
    return value


def real_id(ident: Any) -> int | None:
    """The real user id behind a stored identity (``_real`` or an id below the aliases)."""
    if not isinstance(ident, dict):
        return None
    if isinstance(ident.get(REAL), dict):
        inner = ident[REAL].get("id")
        return inner if isinstance(inner, int) else None
    uid = ident.get("id")
    return uid if isinstance(uid, int) and uid < ALIAS_BASE else None


# The keys under which data of every kind (messages, polls, ideas, meetings, reports) holds
# a member as ``{id, name}``; ``show``, ``refresh`` and ``stored_event`` rewrite exactly these.
PERSON_KEYS = frozenset(
    {"author", "created_by", "by", "member", "entered_by", "owner", "proposer", "reporter"}
)


def _walk(value: Any, person: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, v in value.items():
            if key in PERSON_KEYS and isinstance(v, dict) and "name" in v:
                v = person(v)
            else:
                v = _walk(v, person)
            out[key] = v
        return out
    if isinstance(value, list):
        return [_walk(v, person) for v in value]
    return value


def show(n: Namer, data: Any) -> Any:
    """A read (for a page, a CSV or an op's reply) with every member in it as ``n``'s
    viewer may see them: ``Namer.ident`` for each person under ``PERSON_KEYS``."""

    def person(p: dict[str, Any]) -> dict[str, Any]:
        uid = real_id(p)
        if uid is None or REAL in p:
            return p
        return {**p, **n.ident(uid, str(p.get("name", "")))}

    return _walk(data, person)


def refresh(n: Namer, data: dict[str, Any]) -> dict[str, Any]:
    """A stored event with every member in it shown by today's names (a replay agrees with
    the pages: a name set or changed since the event was stored applies to it too). With
    a fresh event's data it makes the stored form (``stored_event``)."""

    def person(p: dict[str, Any]) -> dict[str, Any]:
        uid = real_id(p)
        if uid is None:
            return p
        real = p.get(REAL, p)
        rest = {k: v for k, v in p.items() if k not in ("id", "name", REAL)}
        return {**rest, **n.stored(uid, str(real.get("name", "")))}

    out: dict[str, Any] = _walk(data, person)
    return out


def stored_event(conn: Conn, group_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """An event's data as it is stored: each member under their group name, the real
    identity under ``_real`` for staff (``for_audience``)."""
    return refresh(namer(conn, group_id, None), data)


def shown_rows(n: Namer, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat member rows (``id``, ``name``: the chair's list, a register, a picker) with the
    id and the label this viewer may see; forms post the shown id back (``real_of``)."""
    return [
        {**r, "id": n.public_id(int(r["id"])), "name": n.label(int(r["id"]), str(r["name"]))}
        for r in rows
    ]


def refresh_events(
    conn: Conn, group_id: int, rows: list[tuple[int, str, int, dict[str, Any]]]
) -> list[tuple[int, str, int, dict[str, Any]]]:
    """``refresh`` over a replay, with the group's names read once."""
    n = namer(conn, group_id, None)
    return [(s, t, at, refresh(n, d)) for s, t, at, d in rows]


# --- setting one's name ---------------------------------------------------------------------


def check_name(conn: Conn, group_id: int, user: User, name: str) -> str:
    """The rules for a group name; a BadRequest naming the field otherwise."""
    name = " ".join(name.split())
    if not name:
        raise BadRequest("Type the name you want to use in this group.", field="name")
    if len(name) > MAX_NAME:
        raise BadRequest(f"That name is too long: at most {MAX_NAME} characters.", field="name")
    if "@" in name or _EMAIL.search(name):
        raise BadRequest(
            "Please choose a name that is not an email address: it would show who you are.",
            field="name",
        )
    taken = conn.one(
        "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id"
        " LEFT JOIN display_names d ON d.group_id = m.group_id AND d.user_id = m.user_id"
        " WHERE m.group_id = ? AND m.user_id != ? AND u.erased_at IS NULL"
        " AND lower(coalesce(d.name, u.name)) = lower(?)",
        (group_id, user.id, name),
    )
    if taken is not None:
        raise BadRequest(
            "Someone in this group already goes by that name. Please choose another.",
            field="name",
        )
    return name


def set_name(tx: Tx, user: User, room: str, name: str) -> dict[str, Any]:
    """Set or change the member's name in one group; audited (admins can see who)."""
    acc = access(tx, user, room)
    if acc.role is None:
        raise Forbidden("Only members of this group can choose a name in it.")
    name = check_name(tx, acc.group_id, user, name)
    before = tx.one(
        "SELECT name FROM display_names WHERE group_id = ? AND user_id = ?",
        (acc.group_id, user.id),
    )
    tx.execute(
        "INSERT INTO display_names(group_id, user_id, name) VALUES (?, ?, ?)"
        " ON CONFLICT(group_id, user_id) DO UPDATE SET name = excluded.name",
        (acc.group_id, user.id, name),
    )
    audit.record(
        tx,
        user.id,
        "display_name.set",
        group_id=acc.group_id,
        subject=f"user {user.id}",
        name=name,
        before=before["name"] if before is not None else None,
    )
    return own(tx, acc.group_id, user)


def clear_name(tx: Tx, user: User, room: str) -> dict[str, Any]:
    """Go back to the full name in this group; audited."""
    acc = access(tx, user, room)
    gone = tx.execute(
        "DELETE FROM display_names WHERE group_id = ? AND user_id = ?", (acc.group_id, user.id)
    ).rowcount
    if gone:
        audit.record(
            tx, user.id, "display_name.cleared", group_id=acc.group_id, subject=f"user {user.id}"
        )
    return own(tx, acc.group_id, user)


def choose(tx: Tx, user: User, room: str, name: str) -> dict[str, Any]:
    """The ``name.set`` op: set or change the name, or clear it when ``name`` is empty."""
    if not name.strip():
        return clear_name(tx, user, room)
    return set_name(tx, user, room, name)


def group_name(conn: Conn, user: User, room: str) -> tuple[Access, str | None]:
    """The member's standing in the group and their name there (None: their full name)."""
    acc = access(conn, user, room)
    row = conn.one(
        "SELECT name FROM display_names WHERE group_id = ? AND user_id = ?",
        (acc.group_id, user.id),
    )
    return acc, (str(row["name"]) if row is not None else None)


def my_names(conn: Conn, user: User) -> list[dict[str, Any]]:
    """For the member's profile: each of their groups and the name they use there (None:
    their full name), so they can see and change every one from one place."""
    rows = conn.execute(
        "SELECT g.slug, g.name AS group_name, d.name FROM memberships m"
        " JOIN groups g ON g.id = m.group_id"
        " LEFT JOIN display_names d ON d.group_id = m.group_id AND d.user_id = m.user_id"
        " WHERE m.user_id = ? ORDER BY g.name",
        (user.id,),
    ).fetchall()
    return [dict(r) for r in rows]


def export(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    """The member's group names, for their data export."""
    rows = conn.execute(
        "SELECT g.slug AS group_slug, g.name AS group_name, d.name FROM display_names d"
        " JOIN groups g ON g.id = d.group_id WHERE d.user_id = ? ORDER BY g.slug",
        (user_id,),
    ).fetchall()
    return [dict(r) for r in rows]
