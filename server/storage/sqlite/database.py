"""The one Database object: hides SQLite's threads, runs migrations, commits writes in groups.

Domain code is written as plain synchronous functions of a ``Conn`` (for reads) or a ``Tx``
(for writes), the engine-neutral protocols of ``server.storage``; here they are a
``SqliteConn`` and a ``SqliteTx``. This object runs them on aiosqlite's worker threads, so
the event loop never blocks: reads on a small pool of reader connections, writes on the
single writer, where writes that arrive together share one transaction (group commit) and
each is acknowledged only after that commit. Events are published only after commit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from server.errors import CFNError, Internal
from server.protocol.codec import Event
from server.storage import Conn, Params, Row, Store, Tx
from server.storage.events import pack, stored_after, unpack
from server.storage.meta import ensure_secret
from server.storage.search import SearchRequest, SearchResult
from server.storage.sqlite import search as sqlite_search
from server.storage.sqlite.worker import on_thread

__all__ = [
    "Database",
    "SqliteConn",
    "SqliteTx",
    "migrate",
    "open_sync",
    "pack",
    "unpack",
    "write_sync",
]

log = logging.getLogger("cfn.db")

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]  # the repository: schema.sql lives at its top
SCHEMA_PATH = ROOT / "schema.sql"
MIGRATIONS_DIR = ROOT / "server" / "storage" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The named, ordered migrations shipped in server/migrations (NNNN_name.sql)."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    return found


def configure(conn: sqlite3.Connection, synchronous: str = "NORMAL") -> None:
    """Per-connection pragmas: WAL, foreign keys, a busy timeout."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if synchronous.upper() == 'FULL' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")


def migrate(conn: sqlite3.Connection) -> int:
    """Bring a database to the latest schema: schema.sql when new, else each migration after.

    Returns the version reached. Every step runs in its own transaction with its version
    row, so an interrupted upgrade resumes where it stopped and loses nothing.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    current: int = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[
        0
    ]
    all_steps = migrations()
    now = int(time.time() * 1000)
    if current == 0:
        _run_script(conn, SCHEMA_PATH.read_text(), [(m.version, m.name) for m in all_steps], now)
        current = all_steps[-1].version
    else:
        for step in all_steps:
            if step.version > current:
                _run_script(conn, step.sql, [(step.version, step.name)], now)
                current = step.version
    if conn.execute("SELECT 1 FROM meta WHERE key='epoch'").fetchone() is None:
        with conn:
            conn.execute("INSERT INTO meta(key, value) VALUES ('epoch', ?)", (new_epoch(),))
    return current


def _run_script(
    conn: sqlite3.Connection, sql: str, versions: list[tuple[int, str]], now: int
) -> None:
    statements = [s for s in _split_sql(sql) if s.strip()]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)",
            [(v, n, now) for v, n in versions],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _split_sql(sql: str) -> list[str]:
    """Split a script into complete statements (sqlite3.complete_statement knows triggers)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if not buf and line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf)
            buf = ""
    if buf.strip():
        out.append(buf)
    return out


def new_epoch() -> str:
    """A fresh epoch: it changes whenever history may have diverged (say, a restore)."""
    return secrets.token_hex(8)


class SqliteConn(sqlite3.Connection):
    """A SQLite connection that is a ``storage.Conn``: what cannot be portable SQL is here.

    Every connection this engine opens is one (``sqlite3.connect(factory=SqliteConn)``), so
    a connection from ``open_sync`` can be handed to any domain read function.
    """

    def one(self, sql: str, params: Params = (), /) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.execute(sql, params).fetchone()
        return row

    def value(self, sql: str, params: Params = (), /) -> Any:
        rows = self.execute(sql, params).fetchall()
        if not rows:
            raise LookupError(f"no row for: {sql}")
        return rows[0][0]

    def tables(self) -> set[str]:
        # The search index (an FTS5 virtual table and its shadow tables) is an index, not
        # one of the application's tables: PostgreSQL keeps it as GIN indexes.
        return {
            r[0]
            for r in self.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN"
                " (SELECT name FROM pragma_table_list WHERE type IN ('virtual', 'shadow'))"
            )
        }

    def columns_referencing(self, table: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name in sorted(self.tables()):
            for fk in self.execute(f"PRAGMA foreign_key_list('{name}')").fetchall():
                if fk[2] == table:
                    found.setdefault(name, []).append(fk[3])
        return found

    def rows_containing(
        self, table: str, column: str, needle: str | bytes, columns: Sequence[str]
    ) -> list[Row]:
        rows: list[Row] = self.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE instr({column}, ?) > 0", (needle,)
        ).fetchall()
        return rows

    def search(self, request: SearchRequest) -> SearchResult:
        return sqlite_search.search(self, request)


def connect(path: str) -> SqliteConn:
    """A new, unconfigured connection of this engine's kind (rows by name, autocommit off)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=SqliteConn)
    conn.row_factory = sqlite3.Row
    return conn


def open_sync(path: str, synchronous: str = "NORMAL") -> SqliteConn:
    """A configured, migrated synchronous connection (used by the CLI and the threads here)."""
    conn = connect(path)
    configure(conn, synchronous)
    return conn


# --- writes -------------------------------------------------------------------------------


@dataclass
class SqliteTx:
    """A write in progress: the connection plus the events it emits, published after commit."""

    conn: SqliteConn
    now: int
    events: list[Event] = field(default_factory=list)

    def execute(self, sql: str, params: Params = (), /) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params], /) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Params = (), /) -> sqlite3.Row | None:
        return self.conn.one(sql, params)

    def value(self, sql: str, params: Params = (), /) -> Any:
        return self.conn.value(sql, params)

    def tables(self) -> set[str]:
        return self.conn.tables()

    def columns_referencing(self, table: str) -> dict[str, list[str]]:
        return self.conn.columns_referencing(table)

    def rows_containing(
        self, table: str, column: str, needle: str | bytes, columns: Sequence[str]
    ) -> list[Row]:
        return self.conn.rows_containing(table, column, needle, columns)

    def search(self, request: SearchRequest) -> SearchResult:
        return self.conn.search(request)

    def erase_rows(self, sql: str, params: Params = (), /) -> int:
        """SQLite: the DELETE runs with ``PRAGMA secure_delete`` on (freed pages are zeroed),
        then the connection's previous setting is restored."""
        was = int(self.conn.value("PRAGMA secure_delete"))
        self.conn.execute("PRAGMA secure_delete = ON")
        try:
            return self.conn.execute(sql, params).rowcount
        finally:
            self.conn.execute(f"PRAGMA secure_delete = {was}")

    def emit(self, room_id: int, room: str, type_: str, data: dict[str, Any]) -> Event:
        """Append an event to the room's log with its next seq, in this transaction."""
        seq: int = self.conn.value(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
            (room_id,),
        )
        self.conn.execute(
            "INSERT INTO events(room_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)",
            (room_id, seq, type_, self.now, pack(data)),
        )
        event = Event(room=room, seq=seq, type=type_, at=self.now, data=data)
        self.events.append(event)
        return event


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(repr=False)  # never in a debug log: may hold a vote
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    events: list[Event] = field(default_factory=list)


def _run_batch(conn: SqliteConn, jobs: list[_Job]) -> list[Event]:
    """Run jobs in one transaction, each inside a savepoint so one failure spares the rest.

    Returns the events to publish, in seq order per room, once the commit has happened.
    Events another process stored are not looked for here: the hub's sequencer fills any
    hole from the log, and its tail check finds a lost last event (one way for every engine).
    """
    now = int(time.time() * 1000)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for job in jobs:
            conn.execute("SAVEPOINT job")
            tx = SqliteTx(conn, now)
            try:
                job.result = job.fn(tx, *job.args)
                job.events = tx.events
                conn.execute("RELEASE job")
            except Exception as e:  # the job's own error; its writes are undone
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                job.error = e
        events = [e for job in jobs if job.error is None for e in job.events]
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return events


class Database:
    """All access to the SQLite file. Open with ``await Database.open(path)``."""

    def __init__(self, path: str, synchronous: str = "NORMAL", group_commit: int = 512) -> None:
        self.path = path
        self.synchronous = synchronous
        self.group_commit = group_commit
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = 0
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._publish: Callable[[list[Event]], None] = lambda events: None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.epoch = ""
        self.secret = ""

    @classmethod
    async def open(
        cls, path: str, synchronous: str = "NORMAL", group_commit: int = 512, readers: int = 2
    ) -> Database:
        db = cls(path, synchronous, group_commit)
        db._writer = await aiosqlite.connect(
            path, isolation_level=None, check_same_thread=False, factory=SqliteConn
        )
        await on_thread(db._writer, _setup_writer, synchronous)
        for _ in range(readers):
            reader = await aiosqlite.connect(
                path, isolation_level=None, check_same_thread=False, factory=SqliteConn
            )
            await on_thread(reader, _setup_reader)
            db._readers.append(reader)
        db.epoch = await db.read(_epoch)
        db.secret = await db.write(ensure_secret)
        db._writer_task = asyncio.create_task(db._write_loop(), name="cfn-db-writer")
        return db

    def on_commit(self, publish: Callable[[list[Event]], None]) -> None:
        """Where committed events go (the backplane)."""
        self._publish = publish

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on a reader thread; each call sees one consistent snapshot."""
        reader = self._readers[self._next_reader % len(self._readers)]
        self._next_reader += 1
        return await on_thread(reader, _run_read, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(tx, *args)`` in the next group transaction; returns after its commit."""
        if self._writer is None:
            raise Internal()
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, loop.create_future())
        self._in_flight += 1
        self._idle.clear()
        if self._writer_task is None:  # during open(): run alone, before the loop starts
            await self._commit([job])
        else:
            self._queue.put_nowait(job)
        result: T = await job.future
        return result

    async def _write_loop(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < self.group_commit and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            await self._commit(jobs)

    async def _commit(self, jobs: list[_Job]) -> None:
        assert self._writer is not None
        events: list[Event] = []
        try:
            events = await on_thread(self._writer, _run_batch, jobs)
        except Exception:
            log.exception("group commit of %d writes failed", len(jobs))
            for job in jobs:
                job.error, job.events = Internal(), []
        if events:
            try:
                self._publish(events)
            except Exception:  # a broken subscriber must not undo a committed write
                log.exception("publishing %d events failed", len(events))
        for job in jobs:
            if not job.future.done():
                if job.error is None:
                    job.future.set_result(job.result)
                elif isinstance(job.error, CFNError):
                    job.future.set_exception(job.error)
                else:
                    log.error(
                        "write %s failed", getattr(job.fn, "__name__", job.fn), exc_info=job.error
                    )
                    job.future.set_exception(Internal())
        self._in_flight -= len(jobs)
        if self._in_flight == 0:
            self._idle.set()

    async def events_after(
        self,
        room_id: int,
        since: int,
        upto: int,
    ) -> list[tuple[int, str, int, dict[str, Any]]]:
        """A room's stored events with since < seq <= upto, in order (a client's replay)."""
        return await self.read(stored_after, room_id, since, upto)

    async def drain(self) -> None:
        """Wait until every write already submitted has committed (for graceful shutdown)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.drain()
        if self._writer_task is not None:
            self._writer_task.cancel()
            try:
                await self._writer_task
            except asyncio.CancelledError:
                pass
            self._writer_task = None
        for conn in [*self._readers, self._writer]:
            if conn is not None:
                await conn.close()
        self._readers, self._writer = [], None


def _setup_writer(conn: SqliteConn, synchronous: str) -> None:
    conn.row_factory = sqlite3.Row
    configure(conn, synchronous)
    migrate(conn)


def _setup_reader(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA query_only=ON")


def _run_read(conn: SqliteConn, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("COMMIT")


def _epoch(conn: Conn) -> str:
    epoch: str = conn.value("SELECT value FROM meta WHERE key='epoch'")
    return epoch


def write_sync(conn: SqliteConn, fn: Callable[..., T], *args: Any, at: int | None = None) -> T:
    """Run one write function in its own transaction, synchronously (CLI, demo, tools).

    Events it emits are stored with their seq like any other; a running server's clients
    pick them up on their next join or history load. ``at`` (ms) backdates the write: the
    demo uses it so its history is spread over past weeks.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(SqliteTx(conn, int(time.time() * 1000) if at is None else at), *args)
        conn.execute("COMMIT")
        return result
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _implements(db: Database, conn: SqliteConn, tx: SqliteTx) -> None:
    """Never called: mypy checks here that this engine implements the storage protocols."""
    store: Store = db
    read: Conn = conn
    write: Tx = tx
    del store, read, write
