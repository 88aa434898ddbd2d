"""The per-room sequencer, pure: whatever order, loss or duplication the backplane brings,
each room is delivered exactly 1..N once, in order; holes are read from the log."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.protocol.codec import Event
from server.pubsub.sequencer import Fill, Sequencer


def _log(rooms: dict[str, int]) -> dict[str, list[Event]]:
    return {
        room: [Event(room, seq, "message.created", 0, {"n": seq}) for seq in range(1, n + 1)]
        for room, n in rooms.items()
    }


def _answer(log: dict[str, list[Event]], fill: Fill) -> list[Event]:
    return [e for e in log[fill.room] if fill.after < (e.seq or 0) <= fill.upto]


class World:
    """A sequencer, a clock, and the committed log that fills are served from."""

    def __init__(self, log: dict[str, list[Event]]) -> None:
        self.log, self.seq, self.now = log, Sequencer(wait=0.05), 0.0
        self.out: dict[str, list[int]] = {room: [] for room in log}

    def take(self, events: list[Event]) -> None:
        for e in events:
            self.out[e.room].append(e.seq or 0)

    def tick(self, dt: float = 0.06) -> None:
        self.now += dt
        for fill in self.seq.due(self.now):
            self.take(self.seq.filled(fill, _answer(self.log, fill), self.now))

    def tail(self) -> None:
        seqs = {room: len(events) for room, events in self.log.items()}
        for fill in self.seq.tail(seqs):
            self.take(self.seq.filled(fill, _answer(self.log, fill), self.now))


arrivals = st.dictionaries(
    st.sampled_from(["north", "west", "renal"]), st.integers(1, 40), min_size=1
).flatmap(
    lambda rooms: st.tuples(
        st.just(rooms),
        st.permutations([(r, s) for r, n in rooms.items() for s in range(1, n + 1)]),
        st.lists(st.booleans(), min_size=200, max_size=200),  # dropped on the backplane?
        st.lists(st.booleans(), min_size=200, max_size=200),  # sent twice?
    )
)


@settings(max_examples=300, deadline=None)
@given(arrivals)
def test_any_order_loss_and_duplication_delivers_each_room_exactly_once_in_seq_order(
    case: tuple[dict[str, int], list[tuple[str, int]], list[bool], list[bool]],
) -> None:
    rooms, order, dropped, doubled = case
    world = World(_log(rooms))
    for i, (room, seq) in enumerate(order):
        if dropped[i % 200]:
            continue
        event = world.log[room][seq - 1]
        world.take(world.seq.offer(event, "backplane", world.now))
        if doubled[i % 200]:
            world.take(world.seq.offer(event, "backplane", world.now))
        if i % 7 == 0:
            world.tick(0.01)
    for _ in range(3):  # holes fall due; a lost last event needs two tail checks
        world.tick()
        world.tail()
    assert world.out == {room: list(range(1, n + 1)) for room, n in rooms.items()}
    counts = world.seq.counts
    total = sum(rooms.values())
    assert counts["backplane"] + counts["gap_fill"] + counts["tail"] == total


def test_an_event_ahead_is_held_until_the_hole_is_read_after_the_wait() -> None:
    world = World(_log({"north": 3}))
    world.take(world.seq.offer(world.log["north"][0], "backplane", 0.0))
    world.take(world.seq.offer(world.log["north"][2], "backplane", 0.0))
    assert world.out["north"] == [1]  # 3 is held: 2 may still be on its way
    assert world.seq.due(0.01) == []
    fills = world.seq.due(0.06)
    assert fills == [Fill("north", 1, 2, "gap_fill")]
    world.take(world.seq.filled(fills[0], _answer(world.log, fills[0]), 0.06))
    assert world.out["north"] == [1, 2, 3]
    assert world.seq.counts["gap_fill"] == 1 and world.seq.counts["backplane"] == 2


def test_a_hole_below_this_process_own_commit_is_read_at_once() -> None:
    seq = Sequencer(wait=0.05)
    seq.offer(Event("north", 1, "t", 0, {}), "local", 0.0)
    assert seq.offer(Event("north", 3, "t", 0, {}), "local", 0.0) == []
    assert seq.due(0.0) == [Fill("north", 1, 2, "gap_fill")]  # our commit proves 2 is stored


def test_with_a_backplane_carrying_a_hole_below_our_commit_waits_for_it() -> None:
    seq = Sequencer(wait=0.05)
    seq.offer(Event("north", 1, "t", 0, {}), "local", 0.0, in_flight=True)
    assert seq.offer(Event("north", 3, "t", 0, {}), "local", 0.0, in_flight=True) == []
    assert seq.due(0.01) == []  # 2 is another process's commit, still on the backplane
    got = seq.offer(Event("north", 2, "t", 0, {}), "backplane", 0.004, in_flight=True)
    assert [e.seq for e in got] == [2, 3]
    assert seq.due(1.0) == [] and seq.counts["gap_fill"] == 0


def test_a_lost_last_event_is_caught_by_the_second_tail_check_not_the_first() -> None:
    world = World(_log({"north": 2}))
    world.seq.start({"north": 0})
    world.take(world.seq.offer(world.log["north"][0], "backplane", 0.0))
    world.tail()  # sees tail 2 for the first time: 2 may still be in flight
    assert world.out["north"] == [1]
    world.tail()
    assert world.out["north"] == [1, 2]
    assert world.seq.counts["tail"] == 1


def test_resync_reads_every_room_that_is_behind_at_once() -> None:
    seq = Sequencer()
    seq.start({"north": 5, "west": 2})
    fills = seq.resync({"north": 7, "west": 2, "renal": 1})
    assert sorted(fills, key=lambda f: f.room) == [
        Fill("north", 5, 7, "resync"),
        Fill("renal", 0, 1, "resync"),
    ]


def test_a_room_nobody_here_listens_to_is_skipped_without_a_read() -> None:
    seq = Sequencer()
    seq.offer(Event("north", 4, "t", 0, {}), "backplane", 0.0)
    (fill,) = seq.due(1.0)
    assert [e.seq for e in seq.skip(fill, 1.0)] == [4]
    assert seq.delivered("north") == 4


def test_too_much_held_is_filled_without_waiting() -> None:
    seq = Sequencer(wait=10.0, held_cap=3)
    for n in range(2, 7):
        seq.offer(Event("north", n, "t", 0, {}), "backplane", 0.0)
    assert seq.due(0.0) == [Fill("north", 0, 1, "gap_fill")]


def test_without_a_backplane_carrying_anything_the_tail_check_reads_at_once() -> None:
    seq = Sequencer()
    seq.start({"north": 1})
    assert seq.tail({"north": 3}, grace=False) == [Fill("north", 1, 3, "tail")]
