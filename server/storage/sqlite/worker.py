"""The one use of aiosqlite internals: run our own function on a connection's thread.

aiosqlite runs every statement on one worker thread per connection, but its public API
offers statements only. Group commit needs a whole batch (BEGIN, savepoints, the jobs,
COMMIT) to run on that thread in one go, without a round trip to the event loop per
statement, so this calls the private ``Connection._execute`` (queue a function on the
worker thread) and ``Connection._conn`` (the underlying sqlite3 connection). Both are
checked by tests/test_storage_fence.py, which names the missing one if an upgrade removes
it; pyproject.toml pins aiosqlite below the next minor release for the same reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import aiosqlite

T = TypeVar("T")

#: The private aiosqlite attributes this module relies on (tests check they still exist).
PRIVATE_API = ("_execute", "_conn")


async def on_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """``fn(sqlite_connection, *args)`` on ``conn``'s worker thread, awaited."""
    # _execute is untyped in aiosqlite; it returns what the function it runs returns.
    execute = cast(Callable[..., Awaitable[T]], conn._execute)
    raw: sqlite3.Connection = conn._conn
    return await execute(fn, raw, *args)
