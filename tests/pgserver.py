"""A throwaway PostgreSQL server on a free loopback port, for the tests and the benchmark.

Made in a temporary directory with ``initdb`` (as the ``postgres`` user when we are root,
since PostgreSQL refuses to run as root), tuned for speed over durability (fsync off), and
stopped by its own PID. Imports nothing of pytest: ``bench`` starts one too.
"""

from __future__ import annotations

import glob
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

from server.storage.engine import open_sync
from server.storage.postgres.database import PgConn, connect

TEMPLATE = "cfn_template"


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(initdb).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_pg_user() -> dict[str, Any]:
    """Run the server's programs as ``postgres`` when we are root; else as ourselves."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


class Server:
    """One PostgreSQL server in a temporary directory, stopped by its own PID."""

    def __init__(self) -> None:
        self.work = tempfile.mkdtemp(prefix="cfn-pg-")
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
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
        self.port = free_port()
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
