"""The outbox sender: one task for the server's lifetime (started in app.py's lifespan).

It looks for due emails every ``poll`` seconds (and at once when ``wake()`` is called), so
an email queued by the command line or another process goes too. For each claimed row:
build, send, then mark it. A temporary failure is tried again after ``CFN_MAIL_RETRY``
seconds, doubling each time (at most an hour apart), until ``CFN_MAIL_GIVE_UP`` seconds
after it was queued; a permanent one is given up at once. The reason is stored either way.

Never twice: a row is marked ``sending`` with a lease before it is sent and ``sent``
after. A crash between the two leaves it ``sending``; once the lease runs out it is sent
again with the same Message-ID (mail/message.py), so it is the same message.
"""

from __future__ import annotations

import asyncio
import logging
import time

from jinja2 import Environment, TemplateError

from server.domain import outbox
from server.domain.outbox import Mail
from server.mail.message import build, build_environment
from server.mail.transport import PermanentFailure, TemporaryFailure, Transport, transport_for
from server.settings import Settings
from server.storage import Store

log = logging.getLogger("cfn.mail")

MAX_DELAY = 3600.0


class Sender:
    def __init__(
        self,
        db: Store,
        settings: Settings,
        transport: Transport | None = None,
        env: Environment | None = None,
        poll: float = 0.5,
    ) -> None:
        self.db, self.settings = db, settings
        self.transport = transport or transport_for(settings)
        self.env = env or build_environment()
        self.poll = poll
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look now rather than at the next poll (after a write that queued an email)."""
        self._wake.set()

    async def run(self) -> None:
        log.info("outbox sender started: %s", self.transport.description)
        while True:
            try:
                await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep sending: one bad round must not stop the outbox
                log.exception("outbox round failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except TimeoutError:
                pass

    async def send_due(self) -> int:
        """Send every email due now; returns how many were claimed."""
        due_at = await self.db.read(outbox.next_due)
        if due_at is None or due_at > time.time() * 1000:
            return 0
        claimed = await self.db.write(outbox.claim_due, int(self.settings.mail_lease * 1000), 20)
        for mail in claimed:
            await self._send_one(mail)
        return len(claimed)

    async def _send_one(self, mail: Mail) -> None:
        try:
            msg = build(self.env, mail, self.settings.mail_from)
        except (TemplateError, KeyError, ValueError) as e:
            log.error("email %d (%s) could not be built: %s", mail.id, mail.template, e)
            await self.db.write(outbox.mark_failed, mail.id, f"Could not be built: {e}")
            return
        try:
            await self.transport.send(msg)
        except TemporaryFailure as e:
            delay = min(MAX_DELAY, self.settings.mail_retry * 2 ** min(mail.attempts - 1, 20))
            retrying = await self.db.write(
                outbox.mark_retry,
                mail.id,
                str(e),
                int(delay * 1000),
                int(self.settings.mail_give_up * 1000),
            )
            log.warning(
                "email %d to %s not sent (%s); %s",
                mail.id,
                mail.to_address,
                e,
                f"trying again in {delay:.0f} s" if retrying else "given up",
            )
            return
        except PermanentFailure as e:
            log.error("email %d to %s refused: %s", mail.id, mail.to_address, e)
            await self.db.write(outbox.mark_failed, mail.id, str(e))
            return
        await self.db.write(outbox.mark_sent, mail.id)
