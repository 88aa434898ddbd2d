"""Which engine a --db / CFN_DB value names, and the few calls that differ by engine.

A ``postgresql://…`` URL selects PostgreSQL; anything else is a SQLite file path (the
embedded default). The server, the command line and the tests open storage only through
here, so every command works on both. The PostgreSQL engine (and psycopg) is imported only
when a URL names it, so the SQLite command line starts as fast as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from server.storage.interface import Store
from server.storage.sqlite import database as lite
from server.storage.sqlite.backup import backup as lite_backup

if TYPE_CHECKING:
    from server.storage.postgres.database import PgConn

T = TypeVar("T")

#: A synchronous, migrated connection of either engine (a ``storage.Conn``).
SyncConn: TypeAlias = "lite.SqliteConn | PgConn"


class CannotOpen(Exception):
    """The database could not be reached or prepared; the message is one plain line."""


def is_postgres(target: str) -> bool:
    """Whether a --db / CFN_DB value names a PostgreSQL database rather than a file."""
    return target.startswith(("postgresql://", "postgres://"))


def describe(target: str) -> str:
    """The database as it may be shown to a person (no password)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", target) if is_postgres(target) else target


async def open_store(target: str, synchronous: str = "NORMAL", group_commit: int = 512) -> Store:
    """The running server's storage for ``target``."""
    if is_postgres(target):
        from server.storage.postgres.database import Database

        return await Database.open(target, group_commit)
    return await lite.Database.open(target, synchronous, group_commit)


def open_sync(target: str) -> SyncConn:
    """A migrated synchronous connection (command line, demo loader, tests)."""
    if is_postgres(target):
        from server.storage.postgres import database as pg

        try:
            return pg.open_sync(target)
        except pg.CannotOpen as e:
            raise CannotOpen(str(e)) from None
    conn = lite.open_sync(target)
    lite.migrate(conn)
    return conn


def write_sync(conn: SyncConn, fn: Callable[..., T], *args: Any, at: int | None = None) -> T:
    """Run one write function in its own transaction on either engine."""
    if isinstance(conn, lite.SqliteConn):
        return lite.write_sync(conn, fn, *args, at=at)
    from server.storage.postgres.database import write_sync as pg_write_sync

    return pg_write_sync(conn, fn, *args, at=at)


def backup(conn: SyncConn, target: str, path: str) -> dict[str, int | str]:
    """A consistent copy of the database with a new epoch: a SQLite file, or a pg_dump."""
    if isinstance(conn, lite.SqliteConn):
        return lite_backup(conn, path)
    from server.storage.postgres.backup import backup as pg_backup

    return pg_backup(conn, target, path)


def backup_file(target: str, path: str) -> dict[str, int | str]:
    """``backup`` from a connection of its own (the running server's web admin, on a
    thread): the server's own connections carry on meanwhile."""
    conn = open_sync(target)
    try:
        return backup(conn, target, path)
    finally:
        conn.close()
