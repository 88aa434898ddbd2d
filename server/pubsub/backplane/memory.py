"""The single-process backplane."""

from __future__ import annotations

from server.protocol.codec import Event
from server.pubsub.backplane import Listener


class InProcessBackplane:
    """Publishing hands events straight to the listeners, in the same turn of the loop."""

    def __init__(self) -> None:
        self._handlers: list[Listener] = []

    def publish(self, events: list[Event]) -> None:
        for handler in self._handlers:
            handler(events)

    def listen(self, handler: Listener) -> None:
        self._handlers.append(handler)
