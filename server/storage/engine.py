"""Which engine a --db / CFN_DB value names, and the few calls that differ by engine.

A ``postgresql://…`` URL selects PostgreSQL; anything else is a SQLite file path (the
embedded default). The server, the command line and the tests open storage only through
here, so every command works on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from server.storage.interface import Store
from server.storage.postgres import database as pg
from server.storage.postgres.backup import backup as pg_backup
from server.storage.sqlite import database as lite
from server.storage.sqlite.backup import backup as lite_backup

T = TypeVar("T")

#: A synchronous, migrated connection of either engine (a ``storage.Conn``).
SyncConn = lite.SqliteConn | pg.PgConn

is_postgres = pg.is_postgres
CannotOpen = pg.CannotOpen


def describe(target: str) -> str:
    """The database as it may be shown to a person (no password)."""
    return pg.redact(target) if is_postgres(target) else target


async def open_store(target: str, synchronous: str = "NORMAL", group_commit: int = 512) -> Store:
    """The running server's storage for ``target``."""
    if is_postgres(target):
        return await pg.Database.open(target, group_commit)
    return await lite.Database.open(target, synchronous, group_commit)


def open_sync(target: str) -> SyncConn:
    """A migrated synchronous connection (command line, demo loader, tests)."""
    if is_postgres(target):
        return pg.open_sync(target)
    conn = lite.open_sync(target)
    lite.migrate(conn)
    return conn


def write_sync(conn: SyncConn, fn: Callable[..., T], *args: Any, at: int | None = None) -> T:
    """Run one write function in its own transaction on either engine."""
    if isinstance(conn, pg.PgConn):
        return pg.write_sync(conn, fn, *args, at=at)
    return lite.write_sync(conn, fn, *args, at=at)


def backup(conn: SyncConn, target: str, path: str) -> dict[str, int | str]:
    """A consistent copy of the database with a new epoch: a SQLite file, or a pg_dump."""
    if isinstance(conn, pg.PgConn):
        return pg_backup(conn, target, path)
    return lite_backup(conn, path)
