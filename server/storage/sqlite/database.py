"""The one Database object: hides SQLite's threads, runs migrations, commits writes in groups.

Domain code is written as plain synchronous functions of a ``sqlite3.Connection`` (for
reads) or a ``Tx`` (for writes). This object runs them on aiosqlite's worker threads, so
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgpack

from server.errors import CFNError, Internal
from server.protocol.codec import Event

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
    current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
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


def open_sync(path: str, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A configured, migrated synchronous connection (used by the CLI and the threads here)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    configure(conn, synchronous)
    return conn


# --- writes -------------------------------------------------------------------------------


@dataclass
class Tx:
    """A write in progress: the connection plus the events it emits, published after commit."""

    conn: sqlite3.Connection
    now: int
    events: list[Event] = field(default_factory=list)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def emit(self, room_id: int, room: str, type_: str, data: dict[str, Any]) -> Event:
        """Append an event to the room's log with its next seq, in this transaction."""
        seq = self.conn.execute(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
            (room_id,),
        ).fetchone()[0]
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


@dataclass
class _Published:
    """What the hub has been handed: each room's last seq, and the writer's data_version.

    Another process (the demo loader, a script) may store events too. Its commits change
    ``PRAGMA data_version`` on our writer; then any room whose seq moved past what we
    published gets the missing events from the log first, so live clients never see a gap.
    Touched only on the writer's thread.
    """

    seqs: dict[str, int] = field(default_factory=dict)
    data_version: int = 0


def _init_published(conn: sqlite3.Connection) -> _Published:
    seqs = {slug: seq for slug, seq in conn.execute("SELECT slug, last_seq FROM rooms")}
    return _Published(seqs, conn.execute("PRAGMA data_version").fetchone()[0])


def _stored_events(conn: sqlite3.Connection, room: str, after: int, upto: int) -> list[Event]:
    rows = conn.execute(
        "SELECT e.seq, e.type, e.at, e.data FROM rooms r JOIN events e ON e.room_id = r.id"
        " WHERE r.slug = ? AND e.seq > ? AND e.seq <= ? ORDER BY e.seq", (room, after, upto),
    ).fetchall()
    return [Event(room, seq, type_, at, unpack(data)) for seq, type_, at, data in rows]


def _in_order(conn: sqlite3.Connection, events: list[Event], published: _Published,
              ) -> tuple[list[Event], dict[str, int]]:
    """The batch's events preceded by any another process stored (so no seq is skipped)."""
    seqs: dict[str, int] = {}
    out: list[Event] = []
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    for event in events:
        known = seqs.get(event.room, published.seqs.get(event.room, 0))
        if event.seq is not None and event.seq > known + 1:
            out.extend(_stored_events(conn, event.room, known, event.seq - 1))
        out.append(event)
        seqs[event.room] = event.seq or known
    if version != published.data_version:
        for room, last in conn.execute("SELECT slug, last_seq FROM rooms").fetchall():
            known = seqs.get(room, published.seqs.get(room, 0))
            if last > known:
                out.extend(_stored_events(conn, room, known, last))
                seqs[room] = last
        published.data_version = version
    return out, seqs


def _run_batch(conn: sqlite3.Connection, jobs: list[_Job], published: _Published,
               ) -> list[Event]:
    """Run jobs in one transaction, each inside a savepoint so one failure spares the rest.

    Returns the events to publish, in seq order per room, once the commit has happened.
    """
    now = int(time.time() * 1000)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for job in jobs:
            conn.execute("SAVEPOINT job")
            tx = Tx(conn, now)
            try:
                job.result = job.fn(tx, *job.args)
                job.events = tx.events
                conn.execute("RELEASE job")
            except Exception as e:  # the job's own error; its writes are undone
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                job.error = e
        events = [e for job in jobs if job.error is None for e in job.events]
        ordered, seqs = _in_order(conn, events, published)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    published.seqs.update(seqs)
    return ordered


def _nothing(tx: Tx) -> None:
    """An empty write: lets the writer look for events another process stored."""


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
        self._published = _Published()

    @classmethod
    async def open(
        cls, path: str, synchronous: str = "NORMAL", group_commit: int = 512, readers: int = 2
    ) -> Database:
        db = cls(path, synchronous, group_commit)
        db._writer = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
        await db._writer._execute(_setup_writer, db._writer._conn, synchronous)
        for _ in range(readers):
            reader = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
            await reader._execute(_setup_reader, reader._conn)
            db._readers.append(reader)
        db._published = await db._writer._execute(_init_published, db._writer._conn)
        db.epoch = await db.read(lambda c: c.execute(
            "SELECT value FROM meta WHERE key='epoch'").fetchone()[0])
        db.secret = await db.write(_ensure_secret)
        db._writer_task = asyncio.create_task(db._write_loop(), name="cfn-db-writer")
        return db

    def on_commit(self, publish: Callable[[list[Event]], None]) -> None:
        """Where committed events go (the backplane)."""
        self._publish = publish

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on a reader thread; each call sees one consistent snapshot."""
        reader = self._readers[self._next_reader % len(self._readers)]
        self._next_reader += 1
        return await reader._execute(_run_read, reader._conn, fn, args)

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
        return await job.future

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
            events = await self._writer._execute(_run_batch, self._writer._conn, jobs,
                                                 self._published)
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
                    log.error("write %s failed", getattr(job.fn, "__name__", job.fn),
                              exc_info=job.error)
                    job.future.set_exception(Internal())
        self._in_flight -= len(jobs)
        if self._in_flight == 0:
            self._idle.set()

    async def sync_external(self) -> None:
        """Publish events another process stored since we last looked (called periodically)."""
        await self.write(_nothing)

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


def _setup_writer(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.row_factory = sqlite3.Row
    configure(conn, synchronous)
    migrate(conn)


def _setup_reader(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA query_only=ON")


def _run_read(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("COMMIT")


def _ensure_secret(tx: Tx) -> str:
    row = tx.one("SELECT value FROM meta WHERE key='secret'")
    if row is not None:
        return row[0]
    secret = secrets.token_hex(32)
    tx.execute("INSERT INTO meta(key, value) VALUES ('secret', ?)", (secret,))
    return secret


def pack(data: dict[str, Any]) -> bytes:
    """Encode an event's data for storage."""
    return msgpack.packb(data, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    """Decode an event's stored data."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def write_sync(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any,
               at: int | None = None) -> T:
    """Run one write function in its own transaction, synchronously (CLI, demo, tools).

    Events it emits are stored with their seq like any other; a running server's clients
    pick them up on their next join or history load. ``at`` (ms) backdates the write: the
    demo uses it so its history is spread over past weeks.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(Tx(conn, int(time.time() * 1000) if at is None else at), *args)
        conn.execute("COMMIT")
        return result
    except BaseException:
        conn.execute("ROLLBACK")
        raise
