"""Databases for the benchmark: small ones arranged through the project's own domain
functions, and the large history database generated with direct SQL in one transaction."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from server.domain import accounts, discussions
from server.storage import engine
from server.storage.sqlite.database import Tx, migrate, open_sync, pack, write_sync

GROUPS, THREADS = 50, 20
AUTHORS = 200
READER = "reader@bench.example"
LAYOUT = 2  # bump when the generated history changes, so cached databases are rebuilt


def _open(path: Path) -> sqlite3.Connection:
    conn = open_sync(str(path))
    migrate(conn)
    return conn


def _people(tx: Tx, prefix: str, count: int) -> list[str]:
    emails = [f"{prefix}{i:04d}@bench.example" for i in range(count)]
    for i, email in enumerate(emails):
        accounts.add_user(tx, email, f"{prefix.title()} {i}")
    return emails


def fanout_db(
    path: Path | str,
    receivers: int,
    publishers: int,
    per_user: int = 50,
) -> dict[str, Any]:
    """One room; receivers share a token per ``per_user`` connections (one presence each).
    ``path`` is a SQLite file or a PostgreSQL URL: arranged through the engine-neutral
    storage, so the cluster runs may use either."""
    conn = engine.open_sync(str(path))

    def arrange(tx: Tx) -> dict[str, Any]:
        accounts.add_group(tx, "fanout", "Fan-out")
        users = _people(tx, "sub", -(-receivers // per_user)) + _people(tx, "pub", publishers)
        for email in users:
            accounts.add_member(tx, "fanout", email)
        tokens = [accounts.create_token(tx, email) for email in users]
        sub_tokens = [tokens[i // per_user] for i in range(receivers)]
        poster = accounts.require_user(tx.conn, users[-1])
        made = discussions.create_thread(tx, poster, "fanout", "Bench", "Start", "start")
        return {
            "room": "fanout",
            "thread": made["thread"]["id"],
            "sub_tokens": sub_tokens,
            "pub_tokens": tokens[-publishers:],
        }

    try:
        return engine.write_sync(conn, arrange)
    finally:
        conn.close()


def durable_db(path: Path, posters: int) -> dict[str, Any]:
    """Each poster alone in its own room, so the cost measured is the durable write."""
    conn = _open(path)

    def arrange(tx: Tx) -> dict[str, Any]:
        emails = _people(tx, "poster", posters)
        rooms, threads, tokens = [], [], []
        for i, email in enumerate(emails):
            slug = f"d-{i:03d}"
            accounts.add_group(tx, slug, f"Durable {i}")
            accounts.add_member(tx, slug, email)
            user = accounts.require_user(tx.conn, email)
            made = discussions.create_thread(tx, user, slug, "Bench", "Start", "start")
            rooms.append(slug)
            threads.append(made["thread"]["id"])
            tokens.append(accounts.create_token(tx, email))
        return {"rooms": rooms, "threads": threads, "tokens": tokens}

    try:
        return write_sync(conn, arrange)
    finally:
        conn.close()


def idle_db(path: Path) -> dict[str, Any]:
    conn = _open(path)

    def arrange(tx: Tx) -> dict[str, Any]:
        accounts.add_group(tx, "idle", "Idle")
        (email,) = _people(tx, "idle", 1)
        accounts.add_member(tx, "idle", email)
        return {"room": "idle", "token": accounts.create_token(tx, email)}

    try:
        return write_sync(conn, arrange)
    finally:
        conn.close()


_WORDS = (
    "ambulance crew handover patient transport volunteers meeting feedback rural "
    "station response dementia hearing loop leaflet survey discharge renal clinic "
    "thanks agreed action minutes next time ideas access wheelchair taxi phone"
).split()


def _bodies(rng: random.Random, count: int) -> list[str]:
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."
        for _ in range(count)
    ]


def history_db(path: Path, messages: int) -> dict[str, Any]:
    """50 groups x 20 threads holding ``messages`` messages, with their events for replay.

    Written with direct SQL matching schema.sql in one transaction; a marker in meta lets
    a later run reuse the file. Returns what the load generator needs.
    """
    conn = _open(path)
    try:
        done = conn.execute("SELECT value FROM meta WHERE key = 'bench_messages'").fetchone()
        if done is None or done[0] != f"{messages}:{LAYOUT}":
            conn.close()
            path.unlink()
            for extra in ("-wal", "-shm"):
                Path(str(path) + extra).unlink(missing_ok=True)
            conn = _open(path)
            _generate(conn, messages)
        return _reader_access(conn)
    finally:
        conn.close()


def _generate(conn: sqlite3.Connection, messages: int) -> None:
    rng = random.Random(1)
    bodies = _bodies(rng, 500)
    per_group = messages // GROUPS
    start = int(time.time() * 1000) - messages * 1000
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO users(id, email, name, role, created_at) VALUES (?, ?, ?, 'member', ?)",
        [(i, f"author{i:04d}@bench.example", f"Member {i}", start) for i in range(1, AUTHORS + 1)],
    )
    reader = AUTHORS + 1
    conn.execute(
        "INSERT INTO users(id, email, name, role, created_at)"
        " VALUES (?, ?, 'Bench Reader', 'member', ?)",
        (reader, READER, start),
    )
    conn.executemany(
        "INSERT INTO groups(id, slug, name, kind, created_at) VALUES (?, ?, ?, 'regional', ?)",
        [(g, f"group-{g:02d}", f"Group {g}", start) for g in range(1, GROUPS + 1)],
    )
    conn.executemany(  # each group's main room has the group's id and slug
        "INSERT INTO rooms(id, group_id, slug, kind, last_seq, created_at)"
        " VALUES (?, ?, ?, 'main', ?, ?)",
        [(g, g, f"group-{g:02d}", THREADS + per_group, start) for g in range(1, GROUPS + 1)],
    )
    conn.executemany(
        "INSERT INTO memberships(group_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)",
        [(g, u, start) for g in range(1, GROUPS + 1) for u in range(1, AUTHORS + 2)],
    )
    thread_rows, thread_events = [], []
    for g in range(1, GROUPS + 1):
        for t in range(THREADS):
            tid = (g - 1) * THREADS + t + 1
            author = rng.randint(1, AUTHORS)
            thread_rows.append(
                (
                    tid,
                    g,
                    f"Thread {t + 1} of group {g}",
                    author,
                    start,
                    start,
                    per_group // THREADS + (1 if t < per_group % THREADS else 0),
                )
            )
            thread_events.append(
                (
                    g,
                    t + 1,
                    "thread.created",
                    start,
                    pack(
                        {
                            "id": tid,
                            "title": thread_rows[-1][2],
                            "author": {"id": author, "name": f"Member {author}"},
                            "created_at": start,
                        }
                    ),
                )
            )
    conn.executemany(
        "INSERT INTO threads(id, group_id, title, author_id, created_at,"
        " last_activity_at, message_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
        thread_rows,
    )
    conn.executemany(
        "INSERT INTO events(room_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)", thread_events
    )
    message_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    mid = 0
    for g in range(1, GROUPS + 1):
        for k in range(per_group):
            mid += 1
            tid = (g - 1) * THREADS + k % THREADS + 1
            author = (mid * 7919) % AUTHORS + 1
            body = f"{bodies[mid % 500]} ({mid})"  # unique, so no cache can flatter a page
            at = start + mid * 1000
            seq = THREADS + k + 1
            cid = f"m{mid}"
            message_rows.append((mid, g, tid, author, body, cid, seq, at))
            event_rows.append(
                (
                    g,
                    seq,
                    "message.created",
                    at,
                    pack(
                        {
                            "id": mid,
                            "thread": tid,
                            "author": {"id": author, "name": f"Member {author}"},
                            "body": body,
                            "cid": cid,
                            "created_at": at,
                        }
                    ),
                )
            )
            if len(message_rows) >= 50_000:
                _flush(conn, message_rows, event_rows)
    _flush(conn, message_rows, event_rows)
    conn.execute(
        "UPDATE threads SET last_activity_at = (SELECT max(created_at) FROM messages"
        " WHERE thread_id = threads.id) WHERE message_count > 0"
    )
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('bench_messages', ?)", (f"{messages}:{LAYOUT}",)
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _flush(
    conn: sqlite3.Connection, message_rows: list[tuple[Any, ...]], event_rows: list[tuple[Any, ...]]
) -> None:
    conn.executemany(
        "INSERT INTO messages(id, group_id, thread_id, author_id, body, cid, seq,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        message_rows,
    )
    conn.executemany(
        "INSERT INTO events(room_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)", event_rows
    )
    message_rows.clear()
    event_rows.clear()


def _reader_access(conn: sqlite3.Connection) -> dict[str, Any]:
    """A token and a login session for the reader, and each room's threads and bounds."""
    token = write_sync(conn, accounts.create_token, READER)
    reader = accounts.require_user(conn, READER)
    session, _ = write_sync(conn, accounts.create_session, reader.id, 1)
    rooms = []
    for g, slug, last_seq in conn.execute("SELECT group_id, slug, last_seq FROM rooms ORDER BY id"):
        threads = [r[0] for r in conn.execute("SELECT id FROM threads WHERE group_id = ?", (g,))]
        lo, hi = conn.execute(
            "SELECT min(id), max(id) FROM messages WHERE group_id = ?", (g,)
        ).fetchone()
        rooms.append([slug, threads, lo or 1, hi or 1, last_seq])
    return {"token": token, "cookie": f"cfn_session={session}", "rooms": rooms}
