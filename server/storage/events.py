"""How an event's data is stored: msgpack, the same for every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack  # msgpack ships no type information

from server.protocol.codec import Event

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


def room_seqs(conn: Conn) -> dict[str, int]:
    """Every room's last stored seq, by slug: the hub's start line and its tail check."""
    return {r[0]: r[1] for r in conn.execute("SELECT slug, last_seq FROM rooms").fetchall()}


def room_events(conn: Conn, room: str, after: int, upto: int, limit: int) -> list[Event]:
    """A room's stored events with after < seq <= upto (at most ``limit``), by slug, as
    Events: what the hub's sequencer reads to fill a hole."""
    rows = conn.execute(
        "SELECT e.seq, e.type, e.at, e.data FROM rooms r JOIN events e ON e.room_id = r.id"
        " WHERE r.slug = ? AND e.seq > ? AND e.seq <= ? ORDER BY e.seq LIMIT ?",
        (room, after, upto, limit),
    ).fetchall()
    return [Event(room, r[0], r[1], r[2], unpack(r[3])) for r in rows]
