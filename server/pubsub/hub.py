"""The hub: who is subscribed to which room, presence, and in-order fan-out to them.

Committed events reach the hub two ways: this process's own commits (``committed``,
called by the storage engine after COMMIT) and other processes' commits through the
backplane (``remote_events``). Both go through one per-room ``Sequencer``, which holds
what is early and asks for holes to be read from the database; a tail check once a
second catches a lost last event, and events another process stored without any
backplane (the command line, a script) arrive the same way. Each subscriber owns a
bounded queue; delivery never waits, so a slow client is cut off and never slows the room.

Presence is the union over processes: each process owns its own connections and tells
the others through the backplane; join and leave are announced to local subscribers only
when the union changes, so a member who moves from one process to another (a restart)
causes no leave/join.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any, Protocol

from server.protocol.codec import Event, now_ms
from server.pubsub.backplane import Backplane, Contributions
from server.pubsub.sequencer import Fill, Sequencer
from server.storage import Store
from server.storage.events import room_events, room_seqs

log = logging.getLogger("cfn.hub")

TAIL_INTERVAL = 1.0  # seconds between tail checks
FILL_LIMIT = 10_000  # most events one fill reads; a client further behind resumes by join


class Subscriber(Protocol):
    """Anything that can take an event without waiting (a connection)."""

    user_id: int
    user_name: str

    def deliver(self, event: Event) -> None: ...


class Hub:
    """Room subscriptions, presence and in-order delivery, owned by the app's lifespan."""

    def __init__(
        self,
        backplane: Backplane,
        store: Store | None = None,
        tail_interval: float = TAIL_INTERVAL,
    ) -> None:
        self.node = secrets.token_hex(6)
        self.rooms: dict[str, set[Subscriber]] = {}
        self._online: dict[str, dict[int, list[Any]]] = {}  # room -> user id -> [name, count]
        self._remote: dict[str, dict[int, dict[str, str]]] = {}  # room -> user -> node -> name
        self.backplane, self.store = backplane, store
        self.tail_interval = tail_interval
        self.sequencer = Sequencer()
        self.closing = False  # a graceful stop: keep our presence until our TTL lapses
        self._wake = asyncio.Event()
        self._resync_wanted = False
        self._task: asyncio.Task[None] | None = None
        backplane.attach(self)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Take each room's stored tail as the start line, then run the fill loop."""
        if self.store is not None:
            self.sequencer.start(await self.store.read(room_seqs))
        self._task = asyncio.create_task(self._run(), name="cfn-hub-sequencer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def stats(self) -> dict[str, Any]:
        """Counters for tests and operators: how events arrived, and the backplane's state."""
        return {
            "node": self.node,
            "delivery": dict(self.sequencer.counts),
            "backplane": self.backplane.stats(),
        }

    # --- events in ---------------------------------------------------------------------------

    def committed(self, events: list[Event]) -> None:
        """This process's own commit (called after COMMIT): deliver, then tell the others."""
        self._take(events, "local")
        self.backplane.publish(events)

    def remote_events(self, events: list[Event]) -> None:
        self._take(events, "backplane")

    def resync(self) -> None:
        self._resync_wanted = True
        self._wake.set()

    def _take(self, events: list[Event], path: str) -> None:
        now = time.monotonic()
        in_flight = self.backplane.carrying
        out: list[Event] = []
        for event in events:
            if event.seq is None:
                out.append(event)
            else:
                out.extend(self.sequencer.offer(event, path, now, in_flight))
        self.dispatch(out)
        if self.sequencer.next_due() is not None:
            self._wake.set()

    def dispatch(self, events: list[Event]) -> None:
        """Hand each event to the room's current subscribers, in the order given."""
        for event in events:
            for sub in tuple(self.rooms.get(event.room, ())):
                sub.deliver(event)

    def ephemeral(self, room: str, type_: str, data: dict[str, Any]) -> None:
        """An event that is not stored (seq null), for every process's subscribers: typing."""
        event = Event(room=room, seq=None, type=type_, at=now_ms(time.time()), data=data)
        self.dispatch([event])
        self.backplane.publish([event])

    # --- the fill loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        next_tail = time.monotonic() + self.tail_interval
        while True:
            now = time.monotonic()
            wake_at = next_tail
            due = self.sequencer.next_due()
            if due is not None:
                wake_at = min(wake_at, due)
            if not self._resync_wanted and wake_at > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wake_at - now)
            self._wake.clear()
            try:
                fills: list[Fill] = []
                if self._resync_wanted and self.store is not None:
                    self._resync_wanted = False
                    fills += self.sequencer.resync(await self.store.read(room_seqs))
                if time.monotonic() >= next_tail:
                    next_tail = time.monotonic() + self.tail_interval
                    if self.store is not None:
                        seqs = await self.store.read(room_seqs)
                        fills += self.sequencer.tail(seqs, grace=self.backplane.carrying)
                fills += self.sequencer.due(time.monotonic())
                for fill in fills:
                    await self._fill(fill)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: try again on the next round
                log.exception("filling from the database failed")
                await asyncio.sleep(self.tail_interval)

    async def _fill(self, fill: Fill) -> None:
        if self.store is None or not self.rooms.get(fill.room):
            self.dispatch(self.sequencer.skip(fill, time.monotonic()))
            return
        try:
            events = await self.store.read(
                room_events, fill.room, fill.after, fill.upto, FILL_LIMIT
            )
        except Exception:
            self.sequencer.filled(fill, [], time.monotonic())  # re-armed: asked again later
            raise
        self.dispatch(self.sequencer.filled(fill, events, time.monotonic()))

    # --- subscriptions and presence ----------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(
        self, room: str, sub: Subscriber, user_id: int | None = None, name: str | None = None
    ) -> Iterator[None]:
        """Receive the room's events (and count as online in it) while the block lasts;
        ``user_id`` and ``name`` are how others see the member there (a group name)."""
        uid = sub.user_id if user_id is None else user_id
        shown = sub.user_name if name is None else name
        self.rooms.setdefault(room, set()).add(sub)
        self._arrive(room, uid, shown)
        try:
            yield
        finally:
            subs = self.rooms.get(room)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.rooms[room]
            self._depart(room, uid, shown)

    def online(self, room: str) -> list[dict[str, Any]]:
        """Members with at least one connection joined to the room on any process, by name."""
        names = {uid: v[0] for uid, v in self._online.get(room, {}).items()}
        for uid, nodes in self._remote.get(room, {}).items():
            if nodes and uid not in names:
                names[uid] = next(iter(nodes.values()))
        return sorted(
            ({"id": uid, "name": name} for uid, name in names.items()),
            key=lambda m: (m["name"].lower(), m["id"]),
        )

    def local_presence(self) -> Contributions:
        return {(r, uid): v[0] for r, people in self._online.items() for uid, v in people.items()}

    def _present(self, room: str, user_id: int) -> bool:
        return user_id in self._online.get(room, {}) or bool(
            self._remote.get(room, {}).get(user_id)
        )

    def _announce(self, room: str, type_: str, user_id: int, name: str) -> None:
        event = Event(room, None, type_, now_ms(time.time()), {"id": user_id, "name": name})
        self.dispatch([event])  # every process announces to its own subscribers

    def _arrive(self, room: str, user_id: int, name: str) -> None:
        people = self._online.setdefault(room, {})
        entry = people.get(user_id)
        if entry is not None:
            entry[1] += 1
            return
        was = self._present(room, user_id)
        people[user_id] = [name, 1]
        self.backplane.presence(room, user_id, name, True)
        if not was:
            self._announce(room, "presence.join", user_id, name)

    def _depart(self, room: str, user_id: int, name: str) -> None:
        people = self._online.get(room, {})
        entry = people.get(user_id)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del people[user_id]
        if not people:
            self._online.pop(room, None)
        if self.closing:
            return  # its members reconnect elsewhere within seconds: no leave/join storm
        self.backplane.presence(room, user_id, name, False)
        if not self._present(room, user_id):
            self._announce(room, "presence.leave", user_id, name)

    def remote_presence(self, node: str, room: str, user_id: int, name: str, here: bool) -> None:
        was = self._present(room, user_id)
        nodes = self._remote.setdefault(room, {}).setdefault(user_id, {})
        if here:
            nodes[node] = name
        else:
            nodes.pop(node, None)
            if not nodes:
                del self._remote[room][user_id]
                if not self._remote[room]:
                    del self._remote[room]
        now = self._present(room, user_id)
        if now != was:
            self._announce(room, "presence.join" if now else "presence.leave", user_id, name)

    def remote_presence_all(self, state: dict[str, Contributions]) -> None:
        remote: dict[str, dict[int, dict[str, str]]] = {}
        for node, contributions in state.items():
            if node == self.node:
                continue
            for (room, uid), name in contributions.items():
                remote.setdefault(room, {}).setdefault(uid, {})[node] = name
        before = {
            (room, uid): next(iter(nodes.values()))
            for room, people in self._remote.items()
            for uid, nodes in people.items()
            if nodes
        }
        after = {
            (room, uid): next(iter(nodes.values()))
            for room, people in remote.items()
            for uid, nodes in people.items()
        }
        was = {key: self._present(*key) for key in before.keys() | after.keys()}
        self._remote = remote
        for key, present in was.items():
            now = self._present(*key)
            if now != present:
                name = after.get(key) or before[key]
                self._announce(key[0], "presence.join" if now else "presence.leave", key[1], name)
