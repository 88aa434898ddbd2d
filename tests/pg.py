"""A throwaway PostgreSQL cluster for the test run, and one fresh database per test server.

``CFN_TEST_DB=postgres`` runs the whole suite against PostgreSQL: the session fixture in
conftest.py starts a cluster on a free loopback port (as the ``postgres`` user when the
tests run as root, since PostgreSQL refuses to run as root), migrates a template database
once, and every database path a test names gets its own ``CREATE DATABASE … TEMPLATE``
copy. Without it, ``target(path)`` is the SQLite file path, as before.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.storage.postgres.database import PgConn, connect
from tests.pgserver import TEMPLATE, Server, pg_bin


def wanted() -> bool:
    """Whether this run is the PostgreSQL pass."""
    return os.environ.get("CFN_TEST_DB", "sqlite").lower() in ("postgres", "postgresql", "pg")


class Cluster(Server):
    """The run's server, with one database per test database path."""

    def __init__(self) -> None:
        super().__init__()
        self.databases: dict[str, str] = {}

    def database_for(self, path: Path) -> str:
        """The URL of the database standing for the SQLite file ``path`` (made once)."""
        key = str(path)
        if key not in self.databases:
            name = "t_" + hashlib.sha1(key.encode()).hexdigest()[:20]
            self.sql(f"DROP DATABASE IF EXISTS {name}")
            self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
            self.databases[key] = self.url(name)
        return self.databases[key]


_cluster: Cluster | None = None


def start() -> Cluster:
    global _cluster
    _cluster = Cluster()
    try:
        _cluster.start()
    except BaseException:
        _cluster.stop()
        _cluster = None
        raise
    return _cluster


def stop() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None


def target(path: Path) -> str:
    """What --db / CFN_DB should be for a test's database file: the file itself on the
    SQLite pass, its own PostgreSQL database on the PostgreSQL pass."""
    if _cluster is None or str(path).startswith("postgresql://"):
        return str(path)  # a URL already names its database (the cluster tests share one)
    return _cluster.database_for(path)


sqlite_only = pytest.mark.skipif(wanted(), reason="tests the SQLite engine itself")


def direct(path: Path | str) -> Any:
    """A plain connection to a test's database (its file path, or what ``target`` gave)
    for checking what was stored: rows compare equal to tuples on both engines
    (``sqlite3.connect`` on the SQLite pass)."""
    if isinstance(path, str) and path.startswith("postgresql://"):
        return connect(path)
    if _cluster is None:
        import sqlite3

        return sqlite3.connect(path)
    return connect(_cluster.database_for(Path(path)))


def restored(copy: Path) -> Any:
    """A connection to what ``python -m server backup`` wrote at ``copy``, checked whole:
    the SQLite file passes its integrity check; the PostgreSQL dump restores into a new,
    empty database with no error (which then stands for ``copy``, so a ``Running(copy)``
    serves the restored data)."""
    if _cluster is None:
        import sqlite3

        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn
    name = "r_" + hashlib.sha1(str(copy).encode()).hexdigest()[:20]
    _cluster.sql(f"CREATE DATABASE {name} TEMPLATE template0")
    url = _cluster.url(name)
    subprocess.run(
        [str(pg_bin() / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(copy)],
        check=True,
        capture_output=True,
    )
    _cluster.databases[str(copy)] = url
    return connect(url)


def exists(target_: str) -> bool:
    """Whether a database was made at ``target_``: the SQLite file, or on PostgreSQL (where
    the test database itself is made up front) the schema inside it."""
    if not target_.startswith("postgresql://"):
        return os.path.exists(target_)
    conn = connect(target_)
    try:
        return "schema_version" in conn.tables()
    finally:
        conn.close()


def integrity_check(conn: Any) -> str:
    """``PRAGMA integrity_check`` on SQLite; on PostgreSQL, amcheck's verification of every
    table's heap and every B-tree index ("ok" when nothing is reported)."""
    if not isinstance(conn, PgConn):
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    problems = conn.execute(
        "SELECT c.relname, v.msg FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
        " CROSS JOIN LATERAL verify_heapam(c.oid) v WHERE c.relkind = 'r'"
    ).fetchall()
    for (index,) in conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_am a ON a.oid = c.relam"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
        " WHERE c.relkind = 'i' AND a.amname = 'btree'"
    ).fetchall():
        conn.execute("SELECT bt_index_check(?::regclass, true)", (index,))
    return "ok" if not problems else "; ".join(f"{t}: {m}" for t, m in problems)


def restore_in_place(url: str, dump: Path) -> None:
    """What an admin does to restore a PostgreSQL backup over the live database, with every
    server stopped: drop it, make it again empty, and load the dump (``psql -f``)."""
    assert _cluster is not None, "only on the PostgreSQL pass"
    name = url.rsplit("/", 1)[1]
    _cluster.sql(f"DROP DATABASE {name} WITH (FORCE)")
    _cluster.sql(f"CREATE DATABASE {name} TEMPLATE template0")
    subprocess.run(
        [str(pg_bin() / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(dump)],
        check=True,
        capture_output=True,
    )
