"""The single-process backplane: there is no other process to carry anything to."""

from __future__ import annotations

from typing import Any

from server.protocol.codec import Event
from server.pubsub.backplane import HubSide


class InProcessBackplane:
    """One process: the hub delivers its own commits; this only keeps the interface."""

    kind = "memory"
    carrying = False  # nothing is ever in flight: the tail check reads at once

    def attach(self, hub: HubSide) -> None:
        self.hub = hub

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def publish(self, events: list[Event]) -> None:
        return None

    def presence(self, room: str, user_id: int, name: str, here: bool) -> None:
        return None

    async def lease(self, name: str, seconds: float) -> bool:
        return True  # the only process runs every job

    def stats(self) -> dict[str, Any]:
        return {"kind": self.kind}
