"""What several op modules share: the rule that room writes need a prior join."""

from __future__ import annotations

from server.errors import NotJoined
from server.realtime.connection import Connection


def joined(conn: Connection, room: str) -> None:
    """Room writes need a prior join; a non-member still gets forbidden (from the write)."""
    if room not in conn.rooms:
        raise NotJoined(f"Join the room '{room[:64]}' first.")
