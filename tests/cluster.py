"""Several real ``serve`` processes sharing one database and one Redis, for cluster tests.

The database is SQLite in WAL in a temp dir (several processes may share it: one writer at
a time, the busy timeout waits); on the PostgreSQL pass (``CFN_TEST_DB=postgres``) it is one
fresh database of the run's throwaway PostgreSQL, shared by every node. The data is
arranged through the engine-neutral ``server.storage.engine``. Redis is a throwaway
``redis-server`` on a free loopback port, which a test may SIGKILL and start again on the
same port.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from server.domain import accounts, discussions
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.harness import PASSWORD, SUBPROTOCOLS
from tests.serverproc import ServerProcess, free_port


class RedisServer:
    """``redis-server`` with no persistence: ``kill()`` loses everything, as a crash would."""

    def __init__(self, work: Path) -> None:
        self.work, self.port = work, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: .ci/run installs it (apt-get install redis-server)"
        self.work.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.work)]
            + ["--save", "", "--appendonly", "no", "--logfile", str(self.work / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Node(ServerProcess):
    """One ``serve`` process of the cluster, with its own log."""

    def __init__(self, db: str, log: Path, **env: str) -> None:
        super().__init__(db, **env)  # type: ignore[arg-type]  # a path or a URL
        self._log = log

    @property
    def log_path(self) -> Path:
        return self._log

    def delivery(self) -> dict[str, Any]:
        """The node's hub counters: how events reached it."""
        url = f"http://127.0.0.1:{self.port}/status/delivery"
        with urllib.request.urlopen(url, timeout=5) as r:
            result: dict[str, Any] = json.loads(r.read())
        return result


class Cluster:
    """N nodes, one database, one Redis. ``arrange()`` makes rooms, members and tokens."""

    def __init__(self, work: Path, nodes: int = 2, **env: str) -> None:
        self.work = work
        self.db = pg.target(work / "cluster.db")  # a file path, or a PostgreSQL URL
        self.redis = RedisServer(work / "redis")
        self.env = {"CFN_PRESENCE_TTL": "3", **env}
        self.nodes = [self._node(i) for i in range(nodes)]

    def _node(self, i: int) -> Node:
        return Node(self.db, self.work / f"node{i}.log", CFN_REDIS_URL=self.redis.url, **self.env)

    def arrange(self, rooms: int, people: int) -> list[dict[str, Any]]:
        """Rooms with one thread each; ``people`` members spread over them, each with a token."""
        conn = open_sync(self.db)
        out, threads = [], {}
        for r in range(rooms):
            write_sync(conn, accounts.add_group, f"room-{r}", f"Room {r}")
        for i in range(people):
            room, email = f"room-{i % rooms}", f"member{i}@cfn.example"
            user = write_sync(conn, accounts.add_user, email, f"Member {i}", "member", PASSWORD)
            write_sync(conn, accounts.add_member, room, email)
            if room not in threads:
                made = write_sync(
                    conn, discussions.create_thread, user, room, "Live", "start", f"t-{room}"
                )
                threads[room] = made["thread"]["id"]
            out.append(
                {
                    "id": user.id,
                    "name": f"Member {i}",
                    "room": room,
                    "thread": threads[room],
                    "token": write_sync(conn, accounts.create_token, email),
                    "subprotocol": SUBPROTOCOLS[i % 2],
                }
            )
        conn.close()
        return out

    async def start(self) -> None:
        self.redis.start()
        await asyncio.gather(*(node.start() for node in self.nodes))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.redis.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.work.glob("node*.log"))
        )
