"""aiosqlite internals the SQLite engine relies on (server/storage/sqlite/worker.py).

If an aiosqlite upgrade removes or changes one, these fail naming it, before anything
else breaks in a more confusing way.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import aiosqlite

from server.storage.sqlite.worker import PRIVATE_API, on_thread


def test_the_private_aiosqlite_attributes_the_engine_uses_still_exist() -> None:
    for name in PRIVATE_API:
        assert hasattr(aiosqlite.Connection, name), (
            f"aiosqlite.Connection.{name} is gone (aiosqlite {aiosqlite.__version__}): "
            "server/storage/sqlite/worker.py relies on it"
        )


async def test_on_thread_runs_a_function_on_the_connections_own_thread(tmp_path: Path) -> None:
    conn = await aiosqlite.connect(tmp_path / "fence.db")
    try:

        def probe(raw: sqlite3.Connection, n: int) -> tuple[int, str]:
            assert isinstance(raw, sqlite3.Connection), (
                "aiosqlite.Connection._conn no longer gives the sqlite3 connection"
            )
            return raw.execute("SELECT ?", (n,)).fetchone()[0], threading.current_thread().name

        value, thread = await on_thread(conn, probe, 7)
        assert value == 7
        assert thread != threading.current_thread().name, (
            "aiosqlite.Connection._execute no longer runs the function on its worker thread"
        )
    finally:
        await conn.close()
