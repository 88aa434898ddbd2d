"""Schema upgrades: a version-1 database keeps every row through migrate(), and a database
built by the migrations is the same as one built from schema.sql."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from server.domain import accounts, discussions
from server.storage.sqlite.database import (
    MIGRATIONS_DIR,
    _run_script,
    migrate,
    migrations,
    open_sync,
    pack,
)
from tests import pg
from tests.harness import JSON, MSGPACK, Running, connect

pytestmark = pg.sqlite_only  # upgrades SQLite files from older versions


def version_one(path: Path) -> sqlite3.Connection:
    """A database exactly as the first release left it: only 0001_initial applied."""
    conn = open_sync(str(path))
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    first = migrations()[0]
    assert first.version == 1 and first.name == "initial"
    _run_script(conn, first.sql, [(first.version, first.name)], 1_000)
    return conn


TOKEN = "cfn_version-one-token"


def fill_version_one(conn: sqlite3.Connection) -> None:
    """Rows a version-1 server would have written (raw SQL: today's code may need more)."""
    with conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO meta(key, value) VALUES ('epoch', 'v1epoch')")
        conn.execute(
            "INSERT INTO users(id, email, name, role, password_hash, created_at)"
            " VALUES (1, 'ann@cfn.example', 'Ann', 'member', NULL, 1),"
            " (2, 'ben@cfn.example', 'Ben', 'admin', NULL, 2)"
        )
        conn.execute(
            "INSERT INTO groups(id, slug, name, kind, last_seq, created_at)"
            " VALUES (1, 'north', 'North', 'regional', 3, 1)"
        )
        conn.execute(
            "INSERT INTO memberships(group_id, user_id, role, joined_at) VALUES (1, 1, 'chair', 1)"
        )
        conn.execute(
            "INSERT INTO api_tokens(user_id, token_hash, created_at) VALUES (1, ?, 1)",
            (accounts.hash_secret(TOKEN),),
        )
        conn.execute(
            "INSERT INTO threads(id, group_id, title, author_id, created_at,"
            " last_activity_at, message_count) VALUES (1, 1, 'Old times', 1, 5, 6, 2)"
        )
        conn.execute(
            "INSERT INTO messages(id, group_id, thread_id, author_id, body, cid, seq,"
            " created_at) VALUES (1, 1, 1, 1, 'First ever', 'a', 2, 5),"
            " (2, 1, 1, 1, 'Second', 'b', 3, 6)"
        )
        author = {"id": 1, "name": "Ann"}
        conn.executemany(
            "INSERT INTO events(group_id, seq, type, at, data) VALUES (1, ?, ?, ?, ?)",
            [
                (
                    1,
                    "thread.created",
                    5,
                    pack({"id": 1, "title": "Old times", "author": author, "created_at": 5}),
                ),
                (
                    2,
                    "message.created",
                    5,
                    pack(
                        {
                            "id": 1,
                            "thread": 1,
                            "author": author,
                            "body": "First ever",
                            "cid": "a",
                            "created_at": 5,
                        }
                    ),
                ),
                (
                    3,
                    "message.created",
                    6,
                    pack(
                        {
                            "id": 2,
                            "thread": 1,
                            "author": author,
                            "body": "Second",
                            "cid": "b",
                            "created_at": 6,
                        }
                    ),
                ),
            ],
        )
        conn.execute(
            "INSERT INTO audit_log(at, actor_id, action, group_id, subject)"
            " VALUES (7, 2, 'message.removed', 1, 'message 9')"
        )


def test_a_version_one_database_upgrades_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    conn = version_one(tmp_path / "v1.db")
    fill_version_one(conn)
    reached = migrate(conn)
    assert reached == migrations()[-1].version
    applied = [
        tuple(r) for r in conn.execute("SELECT version, name FROM schema_version ORDER BY version")
    ]
    assert applied == [(m.version, m.name) for m in migrations()]
    ann = accounts.user_by_email(conn, "ann@cfn.example")
    assert ann is not None and (ann.id, ann.name, ann.role) == (1, "Ann", "member")
    assert accounts.user_for_token(conn, TOKEN) == ann
    acc = accounts.access(conn, ann, "north")
    assert acc.role == "chair" and acc.can_moderate
    page = discussions.history(conn, ann, "north", None, None, 50)
    assert [(m["id"], m["body"], m["cid"]) for m in page["messages"]] == [
        (1, "First ever", "a"),
        (2, "Second", "b"),
    ]
    replay = discussions.events_after(conn, 1, 0, 3)
    assert [(s, t) for s, t, _, _ in replay] == [
        (1, "thread.created"),
        (2, "message.created"),
        (3, "message.created"),
    ]
    assert conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0] == "v1epoch"
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    conn = version_one(tmp_path / "v1.db")
    fill_version_one(conn)
    first = migrate(conn)
    before = conn.execute("SELECT count(*) FROM schema_version").fetchone()[0]
    assert migrate(conn) == first
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == before
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 2


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    conn = version_one(tmp_path / "v1.db")
    fill_version_one(conn)
    bad = "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    try:
        _run_script(conn, bad, [(999, "broken")], 1)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("the broken migration ran")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in names
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 2


async def test_a_server_started_on_an_upgraded_database_serves_the_old_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = version_one(path)
    fill_version_one(conn)
    conn.close()
    running = Running(path)
    await running.start()  # migrates on open
    try:
        for sp in (JSON, MSGPACK):
            client = await connect(running, TOKEN, sp)
            page = await client.call("history", room="north")
            assert [m["body"] for m in page["messages"]][:2] == ["First ever", "Second"]
            joined = await client.call("join", room="north", since=1, epoch="v1epoch")
            assert joined["recovered"] is True and joined["seq"] >= 3
            replay = await client.stored_events("north", 2)
            assert [e["data"]["body"] for e in replay] == ["First ever", "Second"]
            retry = await client.call(
                "message.post", room="north", thread=1, body="First ever", cid="a"
            )
            assert retry["message"] == {"id": 1, "seq": 2}, "v1 cids still dedupe"
            posted = await client.call(
                "message.post", room="north", thread=1, body="New", cid=f"new-{sp}"
            )
            assert posted["message"]["seq"] in (4, 5)
            await client.close()
    finally:
        await running.stop()
        running.close()


# --- schema.sql and the migrations agree ----------------------------------------------------


def _normal(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip().lower()


def shape(conn: sqlite3.Connection) -> dict[str, object]:
    """Every table, index and trigger as SQLite reports it: columns with types, defaults and
    keys; foreign keys; index columns, uniqueness and partial WHERE; trigger text."""
    out: dict[str, object] = {}
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE name NOT LIKE 'sqlite_%' AND name != 'schema_version'"
        " ORDER BY type, name"
    ).fetchall()
    for kind, name, table, sql in rows:
        if kind == "table":
            out[f"table {name}"] = (
                [tuple(c) for c in conn.execute(f"PRAGMA table_xinfo('{name}')")],
                sorted(tuple(f)[2:] for f in conn.execute(f"PRAGMA foreign_key_list('{name}')")),
                "without rowid" in _normal(sql),
                sorted(re.findall(r"check\s*\(.*?\)\)?", _normal(sql))),
            )
        elif kind == "index":
            where = _normal(sql).partition(" where ")[2] if sql else ""
            unique = conn.execute(f"PRAGMA index_list('{table}')").fetchall()
            out[f"index {name}"] = (
                table,
                [tuple(c) for c in conn.execute(f"PRAGMA index_xinfo('{name}')")],
                [tuple(u)[2] for u in unique if u[1] == name],
                where,
            )
        else:
            out[f"{kind} {name}"] = (table, _normal(sql))
    return out


def test_schema_sql_and_all_migrations_build_the_same_schema(tmp_path: Path) -> None:
    fresh = open_sync(str(tmp_path / "fresh.db"))
    migrate(fresh)
    stepped = version_one(tmp_path / "stepped.db")
    migrate(stepped)
    a, b = shape(fresh), shape(stepped)
    assert a.keys() == b.keys(), set(a) ^ set(b)
    for key in a:
        assert a[key] == b[key], key
    assert [tuple(r) for r in fresh.execute("SELECT version, name FROM schema_version")] == [
        tuple(r) for r in stepped.execute("SELECT version, name FROM schema_version")
    ]


def test_migration_files_are_numbered_in_order_without_gaps() -> None:
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert all(re.match(r"^\d{4}_[a-z0-9_]+\.sql$", f) for f in files), files
    numbers = [int(f[:4]) for f in files]
    assert numbers == list(range(1, len(files) + 1))
    assert [m.version for m in migrations()] == numbers


def test_a_new_database_is_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    conn = open_sync(str(tmp_path / "new.db"))
    migrate(conn)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1_000
