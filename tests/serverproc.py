"""The server as a separate process (``python -m server serve``), for tests that kill it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import websockets

from tests import pg
from tests.harness import Client

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``start()`` runs the real command line; ``kill()`` is SIGKILL, no goodbye."""

    def __init__(self, db_path: Path, **env: str) -> None:
        self.db_path, self.env = db_path, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def log_path(self) -> Path:
        return self.db_path.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        self.port = free_port()
        env = {**os.environ, "CFN_RATE_LIMIT": "0", **self.env}
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230 (the child keeps a copy)
            self.proc = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block)
                [
                    sys.executable,
                    "-m",
                    "server",
                    "serve",
                    "--db",
                    pg.target(self.db_path),
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            try:
                await asyncio.to_thread(self._health)
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the server process did not start")

    def _health(self) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
            assert r.status == 200

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    async def connect(self, token: str, subprotocol: str, **kwargs: Any) -> Client:
        ws = await websockets.connect(
            self.url,
            subprotocols=[subprotocol],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
            open_timeout=10,
            **kwargs,
        )
        return Client(ws, subprotocol)
