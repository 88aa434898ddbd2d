"""A real SMTP server for tests: aiosmtpd's SMTP protocol served with
``loop.create_server`` on a free loopback port in the test's own event loop (its threaded
``Controller(port=0)`` has a known bug). ``Inbox`` keeps every message it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import threading
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class Inbox:
    """The handler: accepts (or, with ``reply`` set, refuses) each message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.reply: str | None = None  # e.g. "451 4.3.0 Try again later"
        self.hold: asyncio.Event | None = None  # when set: wait for it before answering
        self.port = 0
        self._changed: asyncio.Event | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.reply:
            return self.reply
        content = envelope.content
        assert isinstance(content, bytes)
        msg = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        if self._changed is not None:
            self._changed.set()
        if self.hold is not None:
            await self.hold.wait()
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:  # noqa: ASYNC109
        """Until ``count`` messages have arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.messages) < count:
            self._changed = asyncio.Event()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.messages)} of {count} emails arrived")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.messages


@contextlib.asynccontextmanager
async def smtp_server(port: int = 0) -> AsyncIterator[Inbox]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="smtp.test", enable_SMTPUTF8=True), "127.0.0.1", port
    )
    inbox.port = server.sockets[0].getsockname()[1]
    try:
        yield inbox
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def smtp_in_thread() -> Iterator[Inbox]:
    """The same server on an event loop of its own thread, for the synchronous browser
    tests (still ``create_server``, not the threaded Controller)."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop

        async def serve() -> None:
            async with smtp_server() as inbox:
                holder["inbox"] = inbox
                holder["stop"] = asyncio.Event()
                ready.set()
                await holder["stop"].wait()

        loop.run_until_complete(serve())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield holder["inbox"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


def link_in(msg: EmailMessage, path: str) -> str:
    """The link to ``path`` in an email's plain-text part."""
    text = text_part(msg)
    found = re.search(r"https?://\S+" + re.escape(path) + r"[A-Za-z0-9_\-]+", text)
    assert found is not None, text
    return found.group(0)


def text_part(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())
