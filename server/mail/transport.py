"""Sending one email: through SMTP with aiosmtplib, or, with no SMTP server set, into a
folder as an ``.eml`` file (its path logged), so a fresh install needs nothing else.

Failures are sorted for the sender: ``TemporaryFailure`` (a 4xx reply, a refused or
dropped connection, a timeout) is tried again later; ``PermanentFailure`` (a 5xx reply,
a refused login) is given up at once, with the reason kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from server.settings import Settings

log = logging.getLogger("cfn.mail")


class TemporaryFailure(Exception):
    """Worth trying again later."""


class PermanentFailure(Exception):
    """Trying again would fail the same way."""


class Transport(Protocol):
    async def send(self, msg: EmailMessage) -> None: ...

    @property
    def description(self) -> str: ...


class FolderTransport:
    """Writes each email to ``folder/<message-id>.eml``; the same message overwrites its
    own file, so a resend after a crash leaves one file."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    @property
    def description(self) -> str:
        return f"email written as files into {self.folder}/"

    async def send(self, msg: EmailMessage) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(msg["Message-ID"]).strip("<>")) + ".eml"
        path = self.folder / name
        try:
            await asyncio.to_thread(_write_atomically, path, msg.as_bytes())
        except OSError as e:
            raise TemporaryFailure(f"Cannot write {path}: {e.strerror}") from None
        log.info("email to %s written to %s", msg["To"], path)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


class SmtpTransport:
    """One SMTP connection per email: a small network sends few, and a fresh connection
    never trips over one the server dropped while idle."""

    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    @property
    def description(self) -> str:
        s = self.settings
        return f"email sent through {s.smtp_host}:{s.smtp_port} ({s.smtp_security})"

    async def send(self, msg: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_secret() if s.smtp_user else None,
                use_tls=s.smtp_security == "tls",
                start_tls=True if s.smtp_security == "starttls" else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPAuthenticationError as e:
            raise PermanentFailure(f"The SMTP server refused the login: {e.code}") from None
        except aiosmtplib.SMTPRecipientsRefused as e:
            codes = [r.code for r in e.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in e.recipients)
            if all(400 <= c < 500 for c in codes):
                raise TemporaryFailure(reason) from None
            raise PermanentFailure(reason) from None
        except aiosmtplib.SMTPResponseException as e:
            reason = f"{e.code} {e.message}"
            if 400 <= e.code < 500:
                raise TemporaryFailure(reason) from None
            raise PermanentFailure(reason) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            raise TemporaryFailure(f"{type(e).__name__}: {e}") from None


def transport_for(settings: Settings) -> Transport:
    """SMTP when a host is set, else the folder."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FolderTransport(settings.mail_out)
