"""The resources one running server owns: settings, database, hub. Kept on ``app.state``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.pubsub.hub import Hub
from server.settings import Settings
from server.storage import Store


class LiveConnection(Protocol):
    """What the services need of a live connection (realtime.connection.Connection is one):
    whose it is, for the per-member limit, and a graceful close for shutdown."""

    @property
    def user_id(self) -> int: ...

    async def shutdown(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    db: Store
    hub: Hub
    connections: set[LiveConnection] = field(default_factory=set)
    closing: bool = False
    wake_mail: Callable[[], None] = lambda: None  # the outbox sender looks at once
    # A consistent copy of the live database into a file (the engine's own backup).
    backup: Callable[[str], Awaitable[dict[str, Any]]] | None = None

    async def shutdown_connections(self) -> None:
        """Graceful stop: finish in-flight writes, then close every socket with 1001."""
        self.closing = True
        self.hub.closing = True  # its members reconnect elsewhere: other processes keep them
        await asyncio.gather(
            *(c.shutdown() for c in list(self.connections)), return_exceptions=True
        )
        await self.db.drain()
        for _ in range(50):  # let the connections' send tasks flush and close
            if not self.connections:
                break
            await asyncio.sleep(0.1)
