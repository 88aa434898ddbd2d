"""Each member's email settings, the one-click unsubscribe tokens, and the groups whose
emails never carry message text.

Quiet by default (the lesson of Decidim's digests, loud enough that people switch email
off): a member who has not chosen gets nothing. Accepting an email invitation writes the
defaults below: a weekly digest and a reminder before each meeting, because those are
what a volunteer who reads later needs and what they can plan around; replies and polls
stay off because they can arrive several a day. People added by the command line get no
row, so nothing, until they choose on /me/email.

Unsubscribe tokens are random, stored only as their SHA-256, name one member and one list
(digest, reply, poll, meeting), and can do nothing but lower that member's email settings.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from server.domain import audit
from server.domain.accounts import User, hash_secret
from server.errors import BadRequest, NotFound
from server.storage import Conn, Row, Tx

DIGESTS = {
    "never": "Never",
    "meeting": "After each meeting of my groups",
    "daily": "Once a day",
    "weekly": "Once a week",
}
LISTS = ("digest", "reply", "poll", "meeting")
IMMEDIATE = {
    "on_reply": "Someone replies in a thread I started or wrote in",
    "on_poll": "A poll I have not voted in is about to close",
    "on_meeting": "A reminder the day before a meeting of my groups",
}
DEFAULT_ZONE = "Europe/London"
ZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Asia/Kolkata",
    "Asia/Karachi",
    "America/New_York",
    "UTC",
)
TOKEN_DAYS = 365  # an unsubscribe link in an old email still works for a year


@dataclass(frozen=True)
class Prefs:
    """One member's email settings; ``chosen`` is False when nothing was ever set."""

    digest: str = "never"
    on_reply: bool = False
    on_poll: bool = False
    on_meeting: bool = False
    time_zone: str = DEFAULT_ZONE
    chosen: bool = False
    last_digest_at: int | None = None
    last_period: str | None = None


INVITED = Prefs(digest="weekly", on_meeting=True, chosen=True)
"""What a member invited by email starts with."""


def _prefs(row: Row | None) -> Prefs:
    if row is None:
        return Prefs()
    return Prefs(
        digest=row["digest"],
        on_reply=bool(row["on_reply"]),
        on_poll=bool(row["on_poll"]),
        on_meeting=bool(row["on_meeting"]),
        time_zone=row["time_zone"],
        chosen=True,
        last_digest_at=row["last_digest_at"],
        last_period=row["last_period"],
    )


def prefs_of(conn: Conn, user_id: int) -> Prefs:
    return _prefs(conn.one("SELECT * FROM email_prefs WHERE user_id = ?", (user_id,)))


def _store(tx: Tx, user_id: int, p: Prefs) -> None:
    tx.execute(
        "INSERT INTO email_prefs(user_id, digest, on_reply, on_poll, on_meeting, time_zone,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
        " digest = excluded.digest, on_reply = excluded.on_reply, on_poll = excluded.on_poll,"
        " on_meeting = excluded.on_meeting, time_zone = excluded.time_zone,"
        " updated_at = excluded.updated_at",
        (
            user_id,
            p.digest,
            int(p.on_reply),
            int(p.on_poll),
            int(p.on_meeting),
            p.time_zone,
            tx.now,
        ),
    )


def start_invited(tx: Tx, user_id: int) -> None:
    """The defaults for someone who joined through an email invitation."""
    tx.execute(
        "INSERT INTO email_prefs(user_id, updated_at) VALUES (?, ?)"
        " ON CONFLICT(user_id) DO NOTHING",
        (user_id, tx.now),
    )


def check_zone(zone: str) -> str:
    zone = zone.strip()
    if zone not in ZONES and zone not in available_timezones():
        raise BadRequest("Please choose a time zone from the list.", field="time_zone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest("Please choose a time zone from the list.", field="time_zone") from None
    return zone


def save(
    tx: Tx,
    user: User,
    digest: str,
    on_reply: bool,
    on_poll: bool,
    on_meeting: bool,
    time_zone: str,
) -> Prefs:
    """The settings form: every choice at once."""
    if digest not in DIGESTS:
        raise BadRequest("Please choose how often to get a summary.", field="digest")
    p = Prefs(
        digest=digest,
        on_reply=on_reply,
        on_poll=on_poll,
        on_meeting=on_meeting,
        time_zone=check_zone(time_zone),
        chosen=True,
    )
    _store(tx, user.id, p)
    return prefs_of(tx, user.id)


# --- one-click unsubscribe ---------------------------------------------------------------


def new_token(tx: Tx, user_id: int, list_name: str) -> str:
    """A fresh token for one email; only its hash is kept."""
    assert list_name in LISTS
    token = secrets.token_urlsafe(24)
    tx.execute(
        "INSERT INTO email_unsubscribe(token_hash, user_id, list, created_at) VALUES (?, ?, ?, ?)",
        (hash_secret(token), user_id, list_name, tx.now),
    )
    return token


@dataclass(frozen=True)
class Unsubscribe:
    """Who a token names, for which list, and what they have now."""

    user_id: int
    name: str
    list: str
    prefs: Prefs


def token_owner(conn: Conn, token: str) -> Unsubscribe:
    """The same plain NotFound for an unknown, old or erased token."""
    row = conn.one(
        "SELECT t.user_id, t.list, t.created_at, u.name FROM email_unsubscribe t"
        " JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND u.erased_at IS NULL",
        (hash_secret(token),),
    )
    if row is None:
        raise NotFound("This unsubscribe link is not known. Please use the link in a newer email.")
    return Unsubscribe(row["user_id"], row["name"], row["list"], prefs_of(conn, row["user_id"]))


CHOICES = {
    "weekly": "A summary once a week instead",
    "meetings_only": "Only meeting reminders",
    "none": "No email at all",
}


def offers(u: Unsubscribe) -> list[str]:
    """What the unsubscribe page offers, the gentlest first (Discourse's lesson)."""
    out = []
    if u.prefs.digest == "daily":
        out.append("weekly")
    if u.prefs.on_meeting and (u.prefs.digest != "never" or u.prefs.on_reply or u.prefs.on_poll):
        out.append("meetings_only")
    out.append("none")
    return out


def one_click(u: Unsubscribe) -> Prefs:
    """RFC 8058: stop the list this email came from, nothing else."""
    p = u.prefs
    if u.list == "digest":
        return replace(p, digest="never")
    if u.list == "reply":
        return replace(p, on_reply=False)
    if u.list == "poll":
        return replace(p, on_poll=False)
    return replace(p, on_meeting=False)


def lowered(u: Unsubscribe, choice: str) -> Prefs:
    p = u.prefs
    if choice == "weekly":
        return replace(p, digest="weekly" if p.digest == "daily" else p.digest)
    if choice == "meetings_only":
        return replace(p, digest="never", on_reply=False, on_poll=False, on_meeting=True)
    if choice == "none":
        return replace(p, digest="never", on_reply=False, on_poll=False, on_meeting=False)
    raise BadRequest("Please choose one of the options.", field="choice")


def unsubscribe(tx: Tx, token: str, choice: str | None) -> Prefs:
    """Apply the one-click action (``choice`` None) or a choice from the page."""
    u = token_owner(tx, token)
    # only what the page offers now, so a link never turns an email on ("meetings_only"
    # to someone whose meeting reminders are off)
    if choice is not None and choice not in offers(u):
        raise BadRequest("Please choose one of the options.", field="choice")
    p = one_click(u) if choice is None else lowered(u, choice)
    _store(tx, u.user_id, p)
    audit.record(tx, u.user_id, "email.unsubscribed", subject=f"user {u.user_id}", list=u.list)
    return prefs_of(tx, u.user_id)


def prune_tokens(tx: Tx) -> int:
    cut = tx.now - TOKEN_DAYS * 86_400_000
    return tx.execute("DELETE FROM email_unsubscribe WHERE created_at < ?", (cut,)).rowcount


# --- groups whose emails carry no message text -------------------------------------------


def no_text_groups(conn: Conn) -> set[int]:
    return {r[0] for r in conn.execute("SELECT group_id FROM email_no_text_groups").fetchall()}


def set_no_text(tx: Tx, actor: User | None, slug: str, on: bool) -> None:
    """Admin only (``actor`` None: the command line): emails about this group say how much
    is new, never what was said."""
    if actor is not None and not actor.is_admin:
        raise NotFound(f"There is no group called {slug}.")
    group = tx.one("SELECT id FROM groups WHERE slug = ?", (slug,))
    if group is None:
        raise NotFound(f"There is no group called {slug}.")
    if on:
        tx.execute(
            "INSERT INTO email_no_text_groups(group_id, set_by, set_at) VALUES (?, ?, ?)"
            " ON CONFLICT(group_id) DO NOTHING",
            (group["id"], actor.id if actor else None, tx.now),
        )
    else:
        tx.execute("DELETE FROM email_no_text_groups WHERE group_id = ?", (group["id"],))
    audit.record(
        tx,
        actor.id if actor else None,
        "group.email_text",
        group_id=group["id"],
        subject=slug,
        text=not on,
    )


def is_no_text(conn: Conn, group_id: int) -> bool:
    return (
        conn.one("SELECT 1 FROM email_no_text_groups WHERE group_id = ?", (group_id,)) is not None
    )


def export(conn: Conn, user_id: int) -> dict[str, Any]:
    """For the member's data export: the settings and when each unsubscribe link was made
    (the tokens themselves are not kept)."""
    row = conn.one("SELECT * FROM email_prefs WHERE user_id = ?", (user_id,))
    tokens = conn.execute(
        "SELECT list, created_at FROM email_unsubscribe WHERE user_id = ? ORDER BY created_at",
        (user_id,),
    ).fetchall()
    return {
        "settings": dict(row) if row is not None else None,
        "unsubscribe_links": [dict(t) for t in tokens],
    }


def erase(tx: Tx, user_id: int) -> int:
    n = tx.execute("DELETE FROM email_unsubscribe WHERE user_id = ?", (user_id,)).rowcount
    return n + tx.execute("DELETE FROM email_prefs WHERE user_id = ?", (user_id,)).rowcount
