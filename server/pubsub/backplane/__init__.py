"""The backplane: carries committed events from the writer to every process's hub.

One process today (``memory.InProcessBackplane``); a Redis or PostgreSQL backplane, so
several processes can serve the same rooms, is a new module beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from server.protocol.codec import Event

Listener = Callable[[list[Event]], None]


class Backplane(Protocol):
    """Carries committed events from the writer to every process's hub."""

    def publish(self, events: list[Event]) -> None: ...

    def listen(self, handler: Listener) -> None: ...
