"""The resources one running server owns: settings, database, hub. Kept on ``app.state``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from server.pubsub.hub import Hub
from server.settings import Settings
from server.storage import Store

if TYPE_CHECKING:
    from server.realtime.connection import Connection


@dataclass
class Services:
    settings: Settings
    db: Store
    hub: Hub
    connections: set[Connection] = field(default_factory=set)
    closing: bool = False

    async def shutdown_connections(self) -> None:
        """Graceful stop: finish in-flight writes, then close every socket with 1001."""
        self.closing = True
        await asyncio.gather(*(c.shutdown() for c in list(self.connections)),
                             return_exceptions=True)
        await self.db.drain()
        for _ in range(50):  # let the connections' send tasks flush and close
            if not self.connections:
                break
            await asyncio.sleep(0.1)
