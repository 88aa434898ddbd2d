"""A throwaway PostgreSQL cluster for the test run, and one fresh database per test server.

``CFN_TEST_DB=postgres`` runs the whole suite against PostgreSQL: the session fixture in
conftest.py starts a cluster on a free loopback port (as the ``postgres`` user when the
tests run as root, since PostgreSQL refuses to run as root), migrates a template database
once, and every database path a test names gets its own ``CREATE DATABASE … TEMPLATE``
copy. Without it, ``target(path)`` is the SQLite file path, as before.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from server.storage.engine import open_sync
from server.storage.postgres.database import PgConn, connect

TEMPLATE = "cfn_template"


def wanted() -> bool:
    """Whether this run is the PostgreSQL pass."""
    return os.environ.get("CFN_TEST_DB", "sqlite").lower() in ("postgres", "postgresql", "pg")


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_pg_user() -> dict[str, Any]:
    """Run the server's programs as ``postgres`` when we are root; else as ourselves."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


class Cluster:
    """One PostgreSQL server in a temporary directory, stopped by its own PID."""

    def __init__(self) -> None:
        self.work = tempfile.mkdtemp(prefix="cfn-pg-")
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.databases: dict[str, str] = {}
        self._admin: PgConn | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")
        data, bindir = os.path.join(self.work, "data"), pg_bin()
        subprocess.run(
            [str(bindir / "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
            check=True, stdout=subprocess.DEVNULL, cwd=self.work, **_as_pg_user(),
        )  # fmt: skip
        self.port = _free_port()
        with open(os.path.join(self.work, "pg.log"), "wb") as log:
            self.proc = subprocess.Popen(
                [str(bindir / "postgres"), "-D", data, "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.work}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=300"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.work, **_as_pg_user(),
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while subprocess.run(
            [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        ).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(Path(self.work, "pg.log").read_text())
            time.sleep(0.05)
        self.sql(f"CREATE DATABASE {TEMPLATE}")
        open_sync(self.url(TEMPLATE)).close()

    def sql(self, statement: str) -> None:
        """One statement on the maintenance database, outside a transaction (as CREATE
        DATABASE must be): the engine's own connections are autocommit."""
        if self._admin is None:
            self._admin = connect(self.url())
        self._admin.execute(statement)

    def database_for(self, path: Path) -> str:
        """The URL of the database standing for the SQLite file ``path`` (made once)."""
        key = str(path)
        if key not in self.databases:
            name = "t_" + hashlib.sha1(key.encode()).hexdigest()[:20]
            self.sql(f"DROP DATABASE IF EXISTS {name}")
            self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
            self.databases[key] = self.url(name)
        return self.databases[key]

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.work, ignore_errors=True)


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
    if _cluster is None:
        return str(path)
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
