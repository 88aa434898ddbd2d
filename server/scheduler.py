"""Jobs that must run once across the cluster and survive restarts (a task the app's
lifespan owns).

Each job runs at start and then every ``every`` seconds, but only in the process that
holds its lease (``backplane.lease(name, seconds)``: Redis in a cluster, always granted to
a single process). A job never remembers what it did in memory: it works out from the
database what is due (the digests of a period not yet recorded, reminders for meetings
less than a day away, replies after the stored cursor) and queues emails with an outbox
``dedupe_key`` per member and period, so a digest that fell due while the server was down
goes once when it comes back, and a second process or a second round is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.domain import digests, email_notices, email_prefs, polls, retention
from server.pubsub.backplane import Backplane
from server.settings import Settings
from server.storage import Store

log = logging.getLogger("cfn.scheduler")

RETENTION_EVERY = 3600.0  # seconds between retention runs


@dataclass
class Job:
    name: str
    every: float
    run: Callable[[], Awaitable[None]]
    next_at: float = 0.0


def origin_of(settings: Settings) -> str:
    """Links in emails: the public origin, or this server's own address when none is set."""
    if settings.origin:
        return settings.origin.rstrip("/")
    host = "localhost" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


class Scheduler:
    def __init__(
        self,
        db: Store,
        backplane: Backplane,
        settings: Settings,
        wake_mail: Callable[[], None] = lambda: None,
    ) -> None:
        self.db, self.backplane, self.settings = db, backplane, settings
        self.wake_mail = wake_mail
        self.jobs = [
            Job("retention", RETENTION_EVERY, self.retention),
            Job("polls", settings.scheduler_every, self.polls),
            Job("email", settings.scheduler_every, self.email),
        ]

    async def retention(self) -> None:
        """Delete messages older than their group's retention (idempotent)."""
        await self.db.write(retention.run)

    async def polls(self) -> None:
        """Close the polls whose closing time has come, as a facilitator's "Close" would
        (the same poll.closed event; an anonymous poll forgets who chose what), then email
        members who asked about a poll closing within a day that they have not voted in."""
        await self.db.write(polls.close_due)
        if await self.db.write(email_notices.poll_closing_due, origin_of(self.settings)):
            self.wake_mail()

    async def email(self) -> None:
        """Replies and reminders, then each member's digest if one is due."""
        origin = origin_of(self.settings)
        queued = await self.db.write(email_notices.replies_due, origin)
        queued += await self.db.write(email_notices.meeting_reminders_due, origin)
        queued += await self.digests(origin)
        await self.db.write(email_prefs.prune_tokens)
        if queued:
            self.wake_mail()

    async def digests(self, origin: str) -> int:
        """Each member's digest that is due now, a few dozen at a time: built in a read
        snapshot, then recorded and queued in one short write (the writer is not held while
        the content is worked out)."""
        queued = 0
        now = int(time.time() * 1000)
        due = await self.db.read(digests.due, now, self.settings.digest_hour)
        for i in range(0, len(due), digests.BATCH):
            built = await self.db.read(
                digests.build_many,
                due[i : i + digests.BATCH],
                origin,
                self.settings.privacy_threshold,
            )
            queued += await self.db.write(digests.queue_built, built, origin)
        return queued

    async def run_due(self) -> None:
        """One round: every job whose time has come and whose lease this process holds."""
        loop = asyncio.get_running_loop()
        for job in self.jobs:
            if loop.time() < job.next_at:
                continue
            job.next_at = loop.time() + job.every
            # the lease outlives the interval a little, so the holder keeps it round after round
            if not await self.backplane.lease(f"job:{job.name}", job.every * 1.5):
                continue
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round must not stop the scheduler
                log.exception("scheduled job %s failed; it runs again next round", job.name)

    async def run(self) -> None:
        while True:
            await self.run_due()
            loop = asyncio.get_running_loop()
            wait = min(job.next_at for job in self.jobs) - loop.time()
            await asyncio.sleep(max(0.05, wait))
