"""Settings, declared once with their defaults and help, read from ``CFN_*`` variables.

Declaring each setting in one table means the docs, the ``serve`` flags and the
environment all agree (the Datasette way).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Every tunable of the server. Environment name: ``CFN_`` + the field name in capitals."""

    db: str = _setting(
        "cfn.db",
        "Path of the SQLite database file, or a postgresql://user@host/dbname URL to use"
        " PostgreSQL (several server processes can then share it).",
    )
    host: str = _setting("127.0.0.1", "Address `serve` listens on.")
    port: int = _setting(8000, "Port `serve` listens on (0 picks a free one).")
    rate_limit: float = _setting(
        20.0, "Commands a second per connection, burst twice that; 0 turns the limit off."
    )
    replay_limit: int = _setting(
        10_000, "Most events `join ... since` replays; further behind gets recovered: false."
    )
    max_frame: int = _setting(65_536, "Largest WebSocket frame in bytes; larger closes with 1009.")
    max_body: int = _setting(10_000, "Longest message body, idea description or note (chars).")
    max_title: int = _setting(200, "Longest thread title, idea title, poll question or option.")
    send_queue: int = _setting(
        1_000, "Frames waiting to be sent to one connection before it is closed with 4008."
    )
    ping_interval: float = _setting(20.0, "Seconds between WebSocket pings.")
    ping_timeout: float = _setting(20.0, "Seconds to wait for a pong before closing.")
    synchronous: str = _setting(
        "NORMAL",
        "SQLite synchronous mode: NORMAL survives a process crash, FULL also a power cut.",
    )
    group_commit: int = _setting(
        512, "Most writes that share one transaction when they arrive together."
    )
    session_days: int = _setting(30, "Days a login lasts before the member must log in again.")
    origin: str = _setting(
        "", "Public origin (https://host) when behind a proxy; empty means taken from Host."
    )
    trusted_proxies: str = _setting(
        "",
        "Addresses of reverse proxies whose X-Forwarded-Proto/For are believed (comma"
        " separated, or *); empty believes none.",
    )
    max_form: int = _setting(
        65_536, "Largest request body of a form post in bytes; larger gets 413 unread."
    )
    max_header: int = _setting(
        32_768, "Largest request line plus headers in bytes; larger gets 431 unread."
    )
    max_connections: int = _setting(5_000 * 4, "WebSocket connections the server holds at most.")
    max_connections_per_user: int = _setting(20, "WebSocket connections one member holds at most.")
    handshake_timeout: float = _setting(
        10.0, "Seconds a new socket may take to send its request; silent sockets are closed."
    )
    ws_fast_path: int = _setting(
        1,
        "0 serves on uvicorn's stock WebSocket and HTTP protocols, for an upgrade of"
        " uvicorn whose internals moved (docs/reliability.md says what differs); 1 uses this"
        " server's own (coalesced writes, handshake timeout, 431 for oversize headers).",
    )
    redis_url: str = _setting(
        "",
        "redis://host:port/0 joins several server processes sharing one database"
        " (docs/deploy.md); empty serves from this one process.",
    )
    presence_ttl: float = _setting(
        30.0,
        "With Redis: seconds after which a process that stopped (or died) no longer counts"
        " its members as here.",
    )
    backplane_delay_ms: int = _setting(
        0, "Tests only: a random delay up to this many ms before each Redis publish."
    )
    privacy_threshold: int = _setting(
        5,  # server.domain.suppression.DEFAULT_THRESHOLD, for calls made without settings
        "Smallest group whose counts are shown: an anonymous poll shows only its number of"
        " voters until this many have voted (equality reports will use it too).",
    )

    smtp_host: str = _setting(
        "", "SMTP server for email; empty writes each email as an .eml file into CFN_MAIL_OUT."
    )
    smtp_port: int = _setting(587, "SMTP port (587 for STARTTLS, 465 for TLS, 25 for none).")
    smtp_security: str = _setting(
        "starttls", "How to secure the SMTP connection: starttls, tls or none."
    )
    smtp_user: str = _setting("", "SMTP user name; empty sends without logging in.")
    smtp_password: str = _setting(
        "", "SMTP password (set CFN_SMTP_PASSWORD in the environment, or use the file below)."
    )
    smtp_password_file: str = _setting(
        "", "A file holding the SMTP password (its first line), for secrets kept as files."
    )
    mail_from: str = _setting(
        "Critical Friends Network <no-reply@localhost>",
        "Who emails are from, as members will see it: a name and an address.",
    )
    mail_out: str = _setting(
        "mail-out", "Folder the .eml files go into when no SMTP server is set."
    )
    mail_retry: float = _setting(
        30.0, "Seconds before the first retry of an email after a temporary failure (doubles)."
    )
    mail_give_up: float = _setting(
        86_400.0, "Seconds after which an email that still could not be sent is given up."
    )
    mail_lease: float = _setting(
        120.0,
        "Seconds an email being sent is held; a crash mid-send leaves it to be sent again"
        " after this, with the same Message-ID.",
    )
    backup_dir: str = _setting("backups", "Folder the web admin's backups are written into.")
    digest_hour: int = _setting(
        9,
        "Local hour (0-23, in each member's own time zone) after which the daily and weekly"
        " (Mondays) email summaries go out.",
    )
    scheduler_every: float = _setting(
        60.0,
        "Seconds between the scheduler's rounds (digests, reminders, reply emails, polls that"
        " reach their closing time); jobs"
        " that are due are worked out from the database, so a restart misses nothing.",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``CFN_*`` variables, then apply explicit overrides (flags win over env)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get("CFN_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, type(f.default), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse values that cannot work, with a message an admin can act on."""
        if self.synchronous.upper() not in {"NORMAL", "FULL"}:
            raise ValueError("CFN_SYNCHRONOUS must be NORMAL or FULL")
        for name in (
            "max_frame",
            "max_body",
            "max_title",
            "send_queue",
            "group_commit",
            "privacy_threshold",
            "max_form",
            "max_header",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"CFN_{name.upper()} must be at least 1")
        if self.ws_fast_path not in (0, 1):
            raise ValueError("CFN_WS_FAST_PATH must be 0 or 1")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("CFN_REDIS_URL must start with redis://, rediss:// or unix://")
        if self.presence_ttl < 1 or self.backplane_delay_ms < 0:
            raise ValueError("CFN_PRESENCE_TTL must be 1 or more, CFN_BACKPLANE_DELAY_MS 0 or more")
        if self.smtp_security not in ("starttls", "tls", "none"):
            raise ValueError("CFN_SMTP_SECURITY must be starttls, tls or none")
        if min(self.mail_retry, self.mail_give_up, self.mail_lease) <= 0:
            raise ValueError("CFN_MAIL_RETRY, CFN_MAIL_GIVE_UP and CFN_MAIL_LEASE must be positive")
        if self.rate_limit < 0 or self.replay_limit < 0:
            raise ValueError("CFN_RATE_LIMIT and CFN_REPLAY_LIMIT cannot be negative")

    def smtp_secret(self) -> str:
        """The SMTP password: the setting, else the first line of the password file."""
        if self.smtp_password or not self.smtp_password_file:
            return self.smtp_password
        with open(self.smtp_password_file, encoding="utf-8") as f:
            return f.readline().strip()

    @classmethod
    def documented(cls) -> list[tuple[str, Any, str]]:
        """(environment name, default, help) for every setting, for docs and ``--help``."""
        return [
            ("CFN_" + f.name.upper(), f.default, f.metadata["help"])
            for f in dataclasses.fields(cls)
        ]


def _convert(name: str, kind: type, raw: str) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"CFN_{name.upper()} must be a {kind.__name__}, not {raw!r}") from None
