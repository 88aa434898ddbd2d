"""The demo network shows a meeting in every state, and loads on an existing database."""

from __future__ import annotations

from pathlib import Path

import server.cli.demo as demo
from server.storage.sqlite.database import SqliteConn, migrate, open_sync


def states(conn: SqliteConn) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT title, CASE WHEN approved_at IS NOT NULL THEN 'approved'"
        " WHEN ended_at IS NOT NULL THEN 'ended' WHEN started_at IS NOT NULL THEN 'running'"
        " ELSE 'upcoming' END FROM meetings ORDER BY starts_at"
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_the_demo_has_an_approved_past_meeting_one_today_and_one_next_month(
    tmp_path: Path,
) -> None:
    conn = open_sync(str(tmp_path / "demo.db"))
    migrate(conn)
    demo.load_demo(conn)
    assert [s for _, s in states(conn)] == ["approved", "running", "upcoming"]
    proposed = conn.execute(
        "SELECT count(*) FROM agenda_items i JOIN meetings m ON m.id = i.meeting_id"
        " WHERE m.started_at IS NULL AND i.status = 'proposed'"
    ).fetchone()[0]
    assert proposed >= 2
    assert conn.execute("SELECT count(*) FROM meeting_item_messages").fetchone()[0] >= 1
    assert conn.execute("SELECT count(*) FROM meeting_item_polls").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM meeting_attendance").fetchone()[0] >= 3
    before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    demo.load_demo(conn)  # again: nothing new
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == before
    conn.close()


def test_a_demo_network_without_meetings_gets_them_on_the_next_run(tmp_path: Path) -> None:
    """As a database loaded before meetings existed: the network is there, no meetings."""
    conn = open_sync(str(tmp_path / "old.db"))
    migrate(conn)
    demo.load_demo(conn)
    with conn:
        conn.execute("DELETE FROM meetings")
    assert states(conn) == []
    demo.load_demo(conn)
    assert [s for _, s in states(conn)] == ["approved", "running", "upcoming"]
    conn.close()
