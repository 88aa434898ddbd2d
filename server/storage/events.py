"""How an event's data is stored: msgpack, the same for every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack  # msgpack ships no type information

if TYPE_CHECKING:
    from server.storage.interface import Conn


def pack(data: dict[str, Any]) -> bytes:
    """Encode an event's data for storage."""
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    return packed


def unpack(data: bytes) -> dict[str, Any]:
    """Decode an event's stored data."""
    unpacked: dict[str, Any] = msgpack.unpackb(data, raw=False, strict_map_key=False)
    return unpacked


def stored_after(
    conn: Conn,
    room_id: int,
    since: int,
    upto: int,
) -> list[tuple[int, str, int, dict[str, Any]]]:
    """A room's stored events with since < seq <= upto, in order, as (seq, type, at, data):
    what a resuming client missed. Portable SQL, so every engine's ``events_after``."""
    rows = conn.execute(
        "SELECT seq, type, at, data FROM events WHERE room_id = ? AND seq > ? AND seq <= ?"
        " ORDER BY seq",
        (room_id, since, upto),
    ).fetchall()
    return [(r[0], r[1], r[2], unpack(r[3])) for r in rows]
