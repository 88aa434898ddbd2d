"""Frames carried over the Redis backplane: receivers send the committing process's bytes.

No Redis needed: one backplane's published payload is handed to another's message handler,
as the listener would after a PUBLISH.
"""

from __future__ import annotations

from typing import Any

from server.protocol.codec import JSON, MSGPACK, Event, encode, event_frame
from server.pubsub.backplane.redis import EVENTS, RedisBackplane
from server.realtime.connection import _named_for, _withheld, audience_frames
from server.storage.events import pack, unpack


class FakeHub:
    def __init__(self, node: str, framer: bool = True) -> None:
        self.node = node
        self.framer = framer
        self.got: list[Event] = []

    def frames(self, event: Event) -> dict[str, dict[str, Any]]:
        return audience_frames(event) if self.framer else {}

    def remote_events(self, events: list[Event]) -> None:
        self.got.extend(events)

    def resync(self) -> None: ...

    def remote_presence(self, *args: Any) -> None: ...

    def remote_presence_all(self, state: Any) -> None: ...

    def local_presence(self) -> dict[tuple[str, int], str]:
        return {}


def _carry(events: list[Event], framer: bool = True) -> list[Event]:
    sender, receiver = RedisBackplane("redis://x"), RedisBackplane("redis://x")
    sender.attach(FakeHub("a", framer))
    hub = FakeHub("b")
    receiver.attach(hub)
    sender.publish(events)
    _, payload, _ = sender._queue.get_nowait()
    receiver._handle({"type": "message", "channel": EVENTS.encode(), "data": payload})
    return hub.got


def _fresh(event: Event, sp: str) -> Any:
    return encode(event_frame(event.room, event.seq, event.type, event.at, event.data), sp)


PLAIN = {"id": 7, "body": "hello", "author": {"id": 3, "name": "Ann"}}
NAMED = {
    "id": 8,
    "body": "hi",
    "author": {"id": 2**40 + 5, "name": "Blue Heron", "_real": {"id": 4, "name": "Bo"}},
}


def test_receivers_take_the_shipped_frames_and_they_are_the_bytes_they_would_encode() -> None:
    (got,) = _carry([Event("r", 5, "message.created", 1000, dict(PLAIN))])
    assert got.shipped["members"] is not None
    for staff in (False, True):
        variant = _named_for(got, staff)
        assert variant is got  # no group name: everyone gets the event as it is
        for sp in (MSGPACK, JSON):
            assert variant._frames[sp] == _fresh(got, sp)  # primed, not encoded here


def test_group_names_ship_one_frame_per_audience_and_staff_alone_see_the_real_person() -> None:
    (got,) = _carry([Event("r", 6, "message.created", 1000, dict(NAMED))])
    members, staff = _named_for(got, False), _named_for(got, True)
    assert members is not got and staff is not got
    for sp in (MSGPACK, JSON):
        assert members._frames[sp] == _fresh(members, sp)
        assert staff._frames[sp] == _fresh(staff, sp)
    assert "real" not in unpack(members.frame(MSGPACK))["data"]["author"]
    assert unpack(staff.frame(MSGPACK))["data"]["author"]["real"] == {"id": 4, "name": "Bo"}


def test_a_message_without_frames_from_an_older_process_is_encoded_as_before() -> None:
    old = pack({"n": "a", "e": [["r", 9, "message.created", 1000, dict(PLAIN)]]})
    receiver, hub = RedisBackplane("redis://x"), FakeHub("b")
    receiver.attach(hub)
    receiver._handle({"type": "message", "channel": EVENTS, "data": old})
    (got,) = hub.got
    assert got.shipped == {}
    assert _named_for(got, False).frame(MSGPACK) == _fresh(got, MSGPACK)
    (none,) = _carry([Event("r", 10, "typing", 1000, {"id": 1})], framer=False)
    assert none.shipped == {} and none.frame(JSON) == _fresh(none, JSON)


def test_frames_of_an_unknown_format_or_the_wrong_kind_are_ignored() -> None:
    ev = Event("r", 11, "message.created", 1000, dict(PLAIN))
    body = {
        "n": "a",
        "e": [[ev.room, ev.seq, ev.type, ev.at, ev.data]] * 2,
        "f": [[99, {MSGPACK: b"junk"}, None], [1, {MSGPACK: "text", JSON: b"bytes"}, None]],
    }
    receiver, hub = RedisBackplane("redis://x"), FakeHub("b")
    receiver.attach(hub)
    receiver._handle({"type": "message", "channel": EVENTS, "data": pack(body)})
    for got in hub.got:
        variant = _named_for(got, False)
        assert variant.frame(MSGPACK) == _fresh(got, MSGPACK)
        assert variant.frame(JSON) == _fresh(got, JSON)


def test_the_staff_only_stand_in_is_built_once_per_event() -> None:
    ev = Event("r", 12, "message.created", 1000, {"staff_only": True, "author_id": 3})
    first = _withheld(ev)
    assert _withheld(ev) is first and first.type == "event.withheld" and first.data == {}
