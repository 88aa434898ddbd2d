"""The staff-only stand-in is one Event per post, so it is framed once, not once per member."""

from __future__ import annotations

from server.protocol.codec import MSGPACK, Event
from server.realtime.connection import WITHHELD, _withheld


def test_the_staff_only_stand_in_is_built_once_per_event() -> None:
    ev = Event("r", 12, "message.created", 1000, {"staff_only": True, "author_id": 3})
    first = _withheld(ev)
    assert _withheld(ev) is first
    assert (first.room, first.seq, first.type, first.at, first.data) == (
        "r",
        12,
        WITHHELD,
        1000,
        {},
    )
    assert _withheld(ev).frame(MSGPACK) is first.frame(MSGPACK)
