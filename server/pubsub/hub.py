"""The hub: who is subscribed to which room, and fan-out of events to them.

Committed events reach the hub through a backplane (pubsub/backplane/: in-process now;
Redis or PostgreSQL later, so several processes can serve the same rooms). Each subscriber
owns a bounded queue; delivery never waits, so a slow client is cut off and never slows
the room.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, Protocol

from server.protocol.codec import Event, now_ms
from server.pubsub.backplane import Backplane


class Subscriber(Protocol):
    """Anything that can take an event without waiting (a connection)."""

    user_id: int
    user_name: str

    def deliver(self, event: Event) -> None: ...


class Hub:
    """Room subscriptions and presence, owned by the app's lifespan."""

    def __init__(self, backplane: Backplane) -> None:
        self.rooms: dict[str, set[Subscriber]] = {}
        self._online: dict[str, dict[int, list[Any]]] = {}  # room -> user id -> [name, count]
        self.backplane = backplane
        backplane.listen(self.dispatch)

    def dispatch(self, events: list[Event]) -> None:
        """Hand each event to the room's current subscribers, in seq order."""
        for event in events:
            for sub in tuple(self.rooms.get(event.room, ())):
                sub.deliver(event)

    @contextlib.contextmanager
    def subscribe(self, room: str, sub: Subscriber) -> Iterator[None]:
        """Receive the room's events (and count as online in it) while the block lasts."""
        self.rooms.setdefault(room, set()).add(sub)
        self._arrive(room, sub)
        try:
            yield
        finally:
            subs = self.rooms.get(room)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.rooms[room]
            self._depart(room, sub)

    def online(self, room: str) -> list[dict[str, Any]]:
        """Members with at least one connection joined to the room, by name."""
        people = self._online.get(room, {})
        return sorted(
            ({"id": uid, "name": v[0]} for uid, v in people.items()),
            key=lambda m: (m["name"].lower(), m["id"]),
        )

    def ephemeral(self, room: str, type_: str, data: dict[str, Any]) -> None:
        """An event that is not stored (seq null): presence, typing."""
        self.dispatch([Event(room=room, seq=None, type=type_, at=now_ms(time.time()), data=data)])

    def _arrive(self, room: str, sub: Subscriber) -> None:
        people = self._online.setdefault(room, {})
        entry = people.get(sub.user_id)
        if entry is None:
            people[sub.user_id] = [sub.user_name, 1]
            self.ephemeral(room, "presence.join", {"id": sub.user_id, "name": sub.user_name})
        else:
            entry[1] += 1

    def _depart(self, room: str, sub: Subscriber) -> None:
        people = self._online.get(room, {})
        entry = people.get(sub.user_id)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del people[sub.user_id]
            if not people:
                self._online.pop(room, None)
            self.ephemeral(room, "presence.leave", {"id": sub.user_id, "name": sub.user_name})
