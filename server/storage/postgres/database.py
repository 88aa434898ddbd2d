"""The PostgreSQL engine: the same Store as the SQLite one, for several server processes.

Domain functions stay synchronous and run on worker threads, as with SQLite (psycopg 3's
sync API: as cheap per statement as asyncpg, measured in the design study). Writes: one
writer connection and one writer task with group commit, each job in a savepoint, the
room's seq taken from its counter row (``UPDATE rooms … RETURNING last_seq``) inside the
write transaction, so commit order is seq order and there are no gaps even with several
processes writing. Rooms are locked in id order within a batch (a batch that reaches a
lower room than one it holds starts again with all of them locked in order up front), and
a batch that still loses a deadlock or serialization race is retried whole. Reads: a pool,
each read one REPEATABLE READ, READ ONLY transaction (one consistent snapshot).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool

from server.errors import CFNError, Internal
from server.protocol.codec import Event
from server.storage import Conn, Params, Row, Store, Tx
from server.storage.events import pack, stored_after
from server.storage.meta import ensure_secret
from server.storage.postgres import search as pg_search
from server.storage.postgres.schema import fresh_schema, translate_ddl
from server.storage.postgres.sql import PgRow, WholeNumberLoader, row_factory, translate
from server.storage.search import SearchRequest, SearchResult

__all__ = [
    "CannotOpen",
    "Database",
    "PgConn",
    "PgTx",
    "is_postgres",
    "migrate",
    "open_sync",
    "write_sync",
]

log = logging.getLogger("cfn.db")

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "schema.sql"
MIGRATIONS_DIR = ROOT / "server" / "storage" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_DELETE_FROM = re.compile(r"^\s*DELETE\s+FROM\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)
#: Taken while migrating, so several processes starting at once migrate once.
MIGRATION_LOCK = 0x43464E  # "CFN"
#: Whole-batch attempts before a batch that keeps losing lock races is failed.
ATTEMPTS = 8
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def is_postgres(target: str) -> bool:
    """Whether a --db / CFN_DB value names a PostgreSQL database rather than a file."""
    return target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def configure(raw: psycopg.Connection[Any]) -> None:
    """Per-connection setup: whole ``numeric`` results as int, as SQLite gives them."""
    raw.adapters.register_loader("numeric", WholeNumberLoader)


def connect(url: str) -> PgConn:
    """A new autocommit connection (each statement its own transaction, like sqlite3
    with ``isolation_level=None``); ``write_sync`` and the writer open transactions."""
    raw = psycopg.connect(url, autocommit=True, row_factory=row_factory)
    configure(raw)
    return PgConn(raw)


class PgCursor:
    """The result of one statement, typed as ``storage.Cursor`` (rows are ``PgRow``s)."""

    __slots__ = ("_cur",)

    def __init__(self, cur: psycopg.Cursor[PgRow]) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self) -> Row | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[Row]:
        return list(self._cur.fetchall())

    def __iter__(self) -> Iterator[Row]:
        return iter(self._cur)


class PgConn:
    """A PostgreSQL connection that is a ``storage.Conn`` (and, for tools and tests, a
    stand-in for a sqlite3 connection: ``with conn:`` and ``commit()`` are harmless)."""

    def __init__(self, raw: psycopg.Connection[PgRow]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = (), /) -> PgCursor:
        return PgCursor(self.raw.execute(translate(sql), params))

    def executemany(self, sql: str, rows: Iterable[Params], /) -> PgCursor:
        cur = self.raw.cursor()
        cur.executemany(translate(sql), rows)
        return PgCursor(cur)

    def one(self, sql: str, params: Params = (), /) -> Row | None:
        return self.execute(sql, params).fetchone()

    def value(self, sql: str, params: Params = (), /) -> Any:
        rows = self.execute(sql, params).fetchall()
        if not rows:
            raise LookupError(f"no row for: {sql}")
        return rows[0][0]

    def tables(self) -> set[str]:
        return {
            r[0]
            for r in self.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }

    def columns_referencing(self, table: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        rows = self.execute(
            "SELECT src.relname, a.attname FROM pg_constraint c"
            " JOIN pg_class src ON src.oid = c.conrelid"
            " JOIN pg_class dst ON dst.oid = c.confrelid"
            " JOIN pg_namespace ns ON ns.oid = src.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
            " WHERE c.contype = 'f' AND dst.relname = ? AND ns.nspname = current_schema()"
            " ORDER BY src.relname, a.attnum",
            (table,),
        ).fetchall()
        for name, column in rows:
            found.setdefault(name, []).append(column)
        return found

    def rows_containing(
        self, table: str, column: str, needle: str | bytes, columns: Sequence[str]
    ) -> list[Row]:
        # position() works on text and on bytea alike: byte for byte when needle is bytes.
        rows: list[Row] = list(
            self.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE position(? IN {column}) > 0",
                (needle,),
            ).fetchall()
        )
        return rows

    def search(self, request: SearchRequest) -> SearchResult:
        return pg_search.search(self, request)

    def commit(self) -> None:
        """Autocommit: every statement outside ``write_sync`` is already committed."""

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PgConn:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Relock(BaseException):
    """A job reached a room below one the batch already holds: start again, locking every
    room known so far in id order first. (BaseException, so domain code never catches it.)"""

    def __init__(self, room_id: int) -> None:
        super().__init__(room_id)
        self.room_id = room_id


@dataclass
class _Batch:
    """What one attempt at a group transaction holds: locked rooms, tables to vacuum."""

    locked: set[int] = field(default_factory=set)
    vacuum: set[str] = field(default_factory=set)
    ordered: bool = True  # False for write_sync: one job alone cannot deadlock with itself


@dataclass
class PgTx:
    """A write in progress on PostgreSQL: the connection plus the events it emits."""

    conn: PgConn
    now: int
    batch: _Batch = field(default_factory=_Batch)
    events: list[Event] = field(default_factory=list)

    def execute(self, sql: str, params: Params = (), /) -> PgCursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params], /) -> PgCursor:
        return self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Params = (), /) -> Row | None:
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
        """PostgreSQL has no secure_delete: the DELETE leaves dead row versions, so the
        table is VACUUMed right after the commit, which removes them from its pages and
        indexes (docs/deploy.md says what that does and does not reach)."""
        m = _DELETE_FROM.match(sql)
        if m is None:
            raise ValueError("erase_rows runs a DELETE FROM statement")
        self.batch.vacuum.add(m.group(1))
        return self.conn.execute(sql, params).rowcount

    def emit(self, room_id: int, room: str, type_: str, data: dict[str, Any]) -> Event:
        """Append an event to the room's log with its next seq, in this transaction."""
        held = self.batch.locked
        if self.batch.ordered and room_id not in held and held and room_id < max(held):
            raise _Relock(room_id)
        seq: int = self.conn.value(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
            (room_id,),
        )
        held.add(room_id)
        self.conn.execute(
            "INSERT INTO events(room_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)",
            (room_id, seq, type_, self.now, pack(data)),
        )
        event = Event(room=room, seq=seq, type=type_, at=self.now, data=data)
        self.events.append(event)
        return event


# --- migrations and the epoch ------------------------------------------------------------


def _steps() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), m.group(2), path))
    return found


def migration_sql(version: int, name: str, path: Path) -> str:
    """A migration step for PostgreSQL: its own version in storage/postgres/migrations/
    (same file name), else the SQLite file translated (refused if it cannot be)."""
    override = Path(__file__).resolve().parent / "migrations" / path.name
    if override.exists():
        return override.read_text()
    return translate_ddl(path.read_text())


def migrate(conn: PgConn) -> int:
    """Bring the database to the latest schema (as SQLite's ``migrate``), then make sure
    the epoch belongs to this cluster and this database (``check_epoch``)."""
    raw = conn.raw
    with raw.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        current: int = conn.value("SELECT coalesce(max(version), 0) FROM schema_version")
        steps = _steps()
        now = int(time.time() * 1000)
        done: list[tuple[int, str]] = []
        if current == 0:
            raw.execute(fresh_schema(SCHEMA_PATH.read_text()))  # a script: no parameters
            done = [(v, n) for v, n, _ in steps]
        else:
            for version, name, path in steps:
                if version > current:
                    raw.execute(migration_sql(version, name, path))
                    done.append((version, name))
        if done:
            conn.executemany(
                "INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)",
                [(v, n, now) for v, n in done],
            )
            current = done[-1][0]
        check_epoch(conn)
    return current


def cluster_identity(conn: PgConn) -> str:
    """What changes when the data may have lost or rewritten history under us: a new
    cluster (``system_identifier``), a failover promotion (the WAL timeline), or a restore
    into another database (its OID)."""
    system = conn.value("SELECT system_identifier::text FROM pg_control_system()")
    try:
        with conn.raw.transaction():
            timeline = str(conn.value("SELECT pg_walfile_name(pg_current_wal_lsn())"))[:8]
    except psycopg.errors.ObjectNotInPrerequisiteState:  # a standby: no WAL position of its own
        timeline = "standby"
    oid = conn.value("SELECT oid::text FROM pg_database WHERE datname = current_database()")
    return f"{system}.{timeline}.{oid}"


def check_epoch(conn: PgConn) -> str:
    """The epoch, minted anew when the identity recorded with it is not this database's
    (so clients that saw the old history get ``recovered: false``). Call in a transaction."""
    identity = cluster_identity(conn)
    epoch = conn.one("SELECT value FROM meta WHERE key = 'epoch'")
    recorded = conn.one("SELECT value FROM meta WHERE key = 'epoch_identity'")
    if epoch is None or (recorded is not None and recorded[0] != identity):
        if epoch is not None:
            log.warning("this database's history may differ from what clients saw: new epoch")
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('epoch', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (secrets.token_hex(8),),
        )
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('epoch_identity', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (identity,),
    )
    value: str = conn.value("SELECT value FROM meta WHERE key = 'epoch'")
    return value


class CannotOpen(Exception):
    """The database could not be reached or prepared; the message is one plain line."""


def open_sync(url: str) -> PgConn:
    """A migrated synchronous connection (the CLI, the demo loader, tests)."""
    try:
        conn = connect(url)
    except psycopg.Error as e:
        reason = (str(e).strip().splitlines() or ["no reason given"])[0]
        raise CannotOpen(f"Cannot reach the database {redact(url)}: {reason}") from None
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def write_sync(conn: PgConn, fn: Callable[..., T], *args: Any, at: int | None = None) -> T:
    """Run one write function in its own transaction, synchronously (CLI, demo, tools)."""
    tx = PgTx(conn, int(time.time() * 1000) if at is None else at, _Batch(ordered=False))
    with conn.raw.transaction():
        result = fn(tx, *args)
    _vacuum(conn, tx.batch.vacuum)
    return result


def _vacuum(conn: PgConn, tables: set[str]) -> None:
    for table in sorted(tables):
        conn.raw.execute(f'VACUUM "{table}"')


# --- the writer ------------------------------------------------------------------------------


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(repr=False)  # never in a debug log: may hold a vote
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    events: list[Event] = field(default_factory=list)


def _run_batch(conn: PgConn, jobs: list[_Job]) -> list[Event]:
    """Run jobs in one transaction, each in a savepoint so one failure spares the rest;
    retried whole (rooms locked in order first) when it would lock out of order or loses
    a deadlock. Returns the events to publish, once committed: only this batch's own.
    Events other processes stored between them are not looked for here (a read inside
    the transaction, with the room's counter row locked): the hub's sequencer holds what
    arrives early, the backplane brings the rest, and a hole is read only if it stays."""
    now = int(time.time() * 1000)
    prelock: list[int] = []
    attempt = 0  # lost races; a relock is not one (its room set only grows, so it ends)
    while attempt < ATTEMPTS:
        batch = _Batch(locked=set(prelock))
        try:
            with conn.raw.transaction():
                if prelock:
                    conn.execute(
                        "SELECT id FROM rooms WHERE id = ANY(?) ORDER BY id FOR UPDATE",
                        (prelock,),
                    )
                for job in jobs:
                    job.result, job.error, job.events = None, None, []
                    tx = PgTx(conn, now, batch)
                    try:
                        with conn.raw.transaction():  # a savepoint
                            job.result = job.fn(tx, *job.args)
                    except RETRYABLE:
                        raise
                    except Exception as e:  # the job's own error; its writes are undone
                        job.error = e
                    else:
                        job.events = tx.events
                events = [e for job in jobs if job.error is None for e in job.events]
        except _Relock as relock:
            prelock = sorted(batch.locked | {relock.room_id})
            continue
        except RETRYABLE as e:
            attempt += 1
            prelock = sorted(batch.locked)
            log.info("group commit lost a lock race (%s); retrying", type(e).__name__)
            time.sleep(random.uniform(0, 0.005 * attempt))
            continue
        try:
            _vacuum(conn, batch.vacuum)
        except psycopg.Error:
            log.exception("vacuum after an erasure failed; autovacuum will do it later")
        return events
    raise Internal("The database is too busy just now. Please try again.")


def _name(fn: Callable[..., Any]) -> str:
    """A write function's name for the log (a partial is named by what it wraps)."""
    return str(getattr(getattr(fn, "func", fn), "__name__", "write"))


class Database:
    """All access to one PostgreSQL database. Open with ``await Database.open(url)``."""

    def __init__(self, url: str, group_commit: int = 512) -> None:
        self.url = url
        self.group_commit = group_commit
        self._writer: PgConn | None = None
        self._pool: ConnectionPool[psycopg.Connection[PgRow]] | None = None
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._publish: Callable[[list[Event]], None] = lambda events: None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.epoch = ""
        self.secret = ""
        # Own threads, not the loop's shared executor: the writer never queues behind
        # reads, and a read never holds a thread while it waits for a pooled connection.
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="cfn-pg-writer")
        self._read_threads: ThreadPoolExecutor | None = None

    @classmethod
    async def open(cls, url: str, group_commit: int = 512, readers: int = 2) -> Database:
        db = cls(url, group_commit)
        db._read_threads = ThreadPoolExecutor(max(1, readers), thread_name_prefix="cfn-pg-reader")
        db._writer = await db._on_writer(open_sync, url)
        pool: ConnectionPool[psycopg.Connection[PgRow]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, readers),
            kwargs={"autocommit": True, "row_factory": row_factory},
            configure=_configure_reader,
            open=False,
            name="cfn-readers",
        )
        await asyncio.to_thread(pool.open, True, 30.0)
        db._pool = pool
        db.epoch = await db.read(_epoch)
        db.secret = await db.write(ensure_secret)
        db._writer_task = asyncio.create_task(db._write_loop(), name="cfn-db-writer")
        return db

    def on_commit(self, publish: Callable[[list[Event]], None]) -> None:
        """Where committed events go (the backplane)."""
        self._publish = publish

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on a pooled connection, in one snapshot."""
        if self._pool is None or self._read_threads is None:
            raise Internal()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_threads, _run_read, self._pool, fn, args)

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(tx, *args)`` in the next group transaction; returns after its commit."""
        if self._writer is None:
            raise Internal()
        job = _Job(fn, args, asyncio.get_running_loop().create_future())
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
        events: list[Event] = []
        if log.isEnabledFor(logging.DEBUG):  # which writes, never their arguments (a vote)
            log.debug("group commit: %s", ", ".join(_name(job.fn) for job in jobs))
        try:
            writer = await self._on_writer(self._writer_connection)
            events = await self._on_writer(_run_batch, writer, jobs)
        except Exception as e:
            if not isinstance(e, CFNError):
                log.exception("group commit of %d writes failed", len(jobs))
            for job in jobs:
                job.error, job.events = (e if isinstance(e, CFNError) else Internal()), []
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
                    log.error("write %s failed", _name(job.fn), exc_info=job.error)
                    job.future.set_exception(Internal())
        self._in_flight -= len(jobs)
        if self._in_flight == 0:
            self._idle.set()

    def _writer_connection(self) -> PgConn:
        """The writer's connection, opened again if the server dropped it (a restart)."""
        assert self._writer is not None
        if self._writer.raw.closed or self._writer.raw.broken:
            log.warning("the database connection was lost; reconnecting")
            self._writer = connect(self.url)
            with self._writer.raw.transaction():  # a failover may have changed history
                self.epoch = check_epoch(self._writer)
        return self._writer

    async def events_after(
        self, room_id: int, since: int, upto: int
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
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            self._pool = None
        if self._writer is not None:
            await self._on_writer(self._writer.close)
            self._writer = None
        self._write_thread.shutdown(wait=False)
        if self._read_threads is not None:
            self._read_threads.shutdown(wait=False)
            self._read_threads = None


def _configure_reader(raw: psycopg.Connection[Any]) -> None:
    configure(raw)
    raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    raw.read_only = True


def _run_read(
    pool: ConnectionPool[psycopg.Connection[PgRow]], fn: Callable[..., T], args: tuple[Any, ...]
) -> T:
    with pool.connection() as raw, raw.transaction():
        return fn(PgConn(raw), *args)


def _epoch(conn: Conn) -> str:
    epoch: str = conn.value("SELECT value FROM meta WHERE key='epoch'")
    return epoch


def _implements(db: Database, conn: PgConn, tx: PgTx) -> None:
    """Never called: mypy checks here that this engine implements the storage protocols."""
    store: Store = db
    read: Conn = conn
    write: Tx = tx
    del store, read, write
