"""Per-room in-order delivery, whatever path an event took to reach this process.

Pure: no I/O and no clock of its own (the hub passes ``now`` and does the reads this asks
for). Each room's seq is a counter row bumped inside the write transaction, so commit
order is seq order with no gaps and "seq N+1 is stored" means "seq N is stored". That lets
one rule serve every backend: deliver ``delivered + 1``; drop anything at or below
``delivered``; hold anything later; when a hole stays open past a short wait, read it
from the database. A periodic tail check catches the one loss holding cannot: a lost
*last* event, which nothing after it ever reveals.

Paths counted (``counts``): ``local`` (this process committed it), ``backplane`` (another
process's commit, carried by Redis), ``gap_fill`` (read to close a hole), ``tail`` (read
because the tail check found the room behind), ``resync`` (read after the backplane said it
may have lost messages); ``duplicate`` counts events dropped as already delivered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from server.protocol.codec import Event

#: Seconds a hole may stay open before it is read from the database: long enough for
#: publishes that crossed on the way from two processes to arrive, short enough to be unseen.
HOLE_WAIT = 0.05
#: Events held behind a hole before it is filled at once, whatever the wait.
HELD_CAP = 1_000


@dataclass(frozen=True)
class Fill:
    """A read the sequencer needs: the room's stored events with after < seq <= upto."""

    room: str
    after: int
    upto: int
    reason: str  # gap_fill, tail or resync: the path the events it brings are counted as


@dataclass
class _Room:
    delivered: int = 0
    held: dict[int, tuple[Event, str]] = field(default_factory=dict)
    hole_since: float | None = None  # when the oldest open hole was first seen
    asked: bool = False  # a Fill is out for this room: ask no second one until it returns
    tail_seen: int = 0  # the stored tail the previous tail check saw


class Sequencer:
    """Every room's delivery position; turns arrivals into in-order deliveries."""

    def __init__(self, wait: float = HOLE_WAIT, held_cap: int = HELD_CAP) -> None:
        self.wait, self.held_cap = wait, held_cap
        self._rooms: dict[str, _Room] = {}
        self.counts: Counter[str] = Counter()

    def _room(self, room: str) -> _Room:
        state = self._rooms.get(room)
        if state is None:  # a room created since start: its seqs begin at 1
            state = self._rooms[room] = _Room()
        return state

    def start(self, seqs: dict[str, int]) -> None:
        """Where each room stood when this process started: older events were never live."""
        for room, seq in seqs.items():
            state = self._room(room)
            state.delivered = max(state.delivered, seq)
            state.tail_seen = max(state.tail_seen, seq)

    def delivered(self, room: str) -> int:
        state = self._rooms.get(room)
        return 0 if state is None else state.delivered

    def offer(self, event: Event, path: str, now: float, in_flight: bool = False) -> list[Event]:
        """An event arrived by ``path``: what may now be delivered, in seq order.

        ``in_flight``: other processes' events may be on their way over a backplane. A hole
        below this process's own commit is then held for the usual wait like any other
        (the seqs in it are stored, but are most likely other processes' commits a few
        milliseconds behind on the backplane); without one it is read at once."""
        assert event.seq is not None, "events without a seq bypass the sequencer"
        state = self._room(event.room)
        if event.seq <= state.delivered or event.seq in state.held:
            self.counts["duplicate"] += 1
            return []
        state.held[event.seq] = (event, path)
        out = self._drain(state)
        if state.held:
            # Our own commit proves every lower seq is stored: with nothing in flight that
            # could bring it, read the hole without waiting.
            since = now - self.wait if path == "local" and not in_flight else now
            state.hole_since = since if state.hole_since is None else min(state.hole_since, since)
        return out

    def due(self, now: float) -> list[Fill]:
        """Holes that waited long enough (or hold too much): read them now."""
        fills = []
        for room, state in self._rooms.items():
            if state.asked or not state.held or state.hole_since is None:
                continue
            if now - state.hole_since >= self.wait or len(state.held) > self.held_cap:
                state.asked = True
                fills.append(Fill(room, state.delivered, min(state.held) - 1, "gap_fill"))
        return fills

    def next_due(self) -> float | None:
        """When the earliest open hole falls due (the hub sleeps until then)."""
        times = [
            s.hole_since + self.wait
            for s in self._rooms.values()
            if s.held and s.hole_since is not None and not s.asked
        ]
        return min(times) if times else None

    def filled(self, fill: Fill, events: list[Event], now: float) -> list[Event]:
        """The answer to a Fill: deliver what it brought, and anything it unblocked."""
        state = self._room(fill.room)
        state.asked = False
        for event in events:
            if event.seq is None or event.seq <= state.delivered or event.seq in state.held:
                continue
            state.held[event.seq] = (event, fill.reason)
        out = self._drain(state)
        state.hole_since = now if state.held else None  # still open: wait again, then re-read
        return out

    def skip(self, fill: Fill, now: float) -> list[Event]:
        """Nobody here listens to the room: move past the range without reading it."""
        state = self._room(fill.room)
        state.asked = False
        if fill.upto > state.delivered:
            self.counts["skipped"] += fill.upto - state.delivered
            state.delivered = fill.upto
        for seq in [s for s in state.held if s <= state.delivered]:
            del state.held[seq]
        out = self._drain(state)
        state.hole_since = now if state.held else None
        return out

    def tail(self, seqs: dict[str, int], grace: bool = True) -> list[Fill]:
        """A periodic look at every room's stored tail.

        With ``grace`` a room is read only when it is still behind the tail seen one check
        earlier, so an event still on its way over the backplane is not read twice; without
        it (nothing can be on its way: no backplane, or it is down) it is read at once."""
        fills = []
        for room, seq in seqs.items():
            state = self._room(room)
            previous, state.tail_seen = state.tail_seen, seq
            upto = previous if grace else seq
            if not state.asked and state.delivered < upto:
                state.asked = True
                fills.append(Fill(room, state.delivered, upto, "tail"))
        return fills

    def resync(self, seqs: dict[str, int]) -> list[Fill]:
        """The backplane may have lost messages: read every room that is behind, now."""
        self.counts["resyncs"] += 1
        fills = []
        for room, seq in seqs.items():
            state = self._room(room)
            state.tail_seen = max(state.tail_seen, seq)
            if not state.asked and state.delivered < seq:
                state.asked = True
                fills.append(Fill(room, state.delivered, seq, "resync"))
        return fills

    def _drain(self, state: _Room) -> list[Event]:
        out = []
        while state.delivered + 1 in state.held:
            event, path = state.held.pop(state.delivered + 1)
            state.delivered += 1
            self.counts[path] += 1
            out.append(event)
        for seq in [s for s in state.held if s <= state.delivered]:
            del state.held[seq]
        if not state.held:
            state.hole_since = None
        return out
