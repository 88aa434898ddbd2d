"""Test harness: a real uvicorn server on a free port over a real SQLite file, and real
WebSocket clients speaking either subprotocol. Nothing of the project is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import websockets
from websockets.asyncio.client import ClientConnection

from server.domain import accounts
from server.domain.accounts import User
from server.protocol.codec import JSON, MSGPACK
from server.settings import Settings
from server.storage.engine import SyncConn, open_sync, write_sync
from server.transport.serve import Server, bound_port, make_server
from tests import pg

PASSWORD = "correct horse battery"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once: argon2id costs ~0.1 s a call, too much for every test user."""
    return accounts._hasher.hash(PASSWORD)


class Running:
    """A started server; ``stop()`` shuts it down gracefully, ``restart()`` starts it again."""

    def __init__(self, db_path: Path, **settings: Any) -> None:
        self.db_path = db_path
        self.settings_overrides = {"rate_limit": 0.0, **settings}
        self.server: Server | None = None
        self.task: asyncio.Task[None] | None = None
        self.port = 0
        self._conn: SyncConn | None = None

    @property
    def db_url(self) -> str:
        """What --db / CFN_DB names: the SQLite file, or on the PostgreSQL pass its own
        database (tests/pg.py)."""
        return pg.target(self.db_path)

    @property
    def db(self) -> SyncConn:
        """A direct connection for arranging fixtures and checking what was stored."""
        if self._conn is None:
            self._conn = open_sync(self.db_url)
        return self._conn

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        settings = Settings.from_env(
            {}, db=self.db_url, host="127.0.0.1", port=0, **self.settings_overrides
        )
        self.server = make_server(settings, log_level="warning")
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(500):
            if self.server.started:
                break
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("server did not start")
        self.port = bound_port(self.server)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await asyncio.wait_for(self.task, timeout=30)
        self.server, self.task = None, None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def services(self) -> Any:
        assert self.server is not None
        return self.server.app.state.services

    # --- arranging data through the project's own domain functions ---------------------

    def user(self, email: str, name: str | None = None, role: str = "member") -> User:
        found = accounts.user_by_email(self.db, email)
        if found is not None:
            return found
        user = write_sync(
            self.db, accounts.add_user, email, name or email.split("@")[0].title(), role, None
        )
        with self.db:  # the project's own argon2id hash of PASSWORD, made once per run
            self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash(), user.id)
            )
        return user

    def group(self, slug: str, name: str | None = None, kind: str = "regional") -> None:
        if self.db.execute("SELECT 1 FROM groups WHERE slug = ?", (slug,)).fetchone() is None:
            write_sync(self.db, accounts.add_group, slug, name or slug.title(), kind)

    def member(self, slug: str, email: str, role: str = "member") -> None:
        self.group(slug)
        self.user(email)
        write_sync(self.db, accounts.add_member, slug, email, role)

    def token(self, email: str) -> str:
        self.user(email)
        return write_sync(self.db, accounts.create_token, email)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ReplyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass
class Client:
    """A protocol client: ``call`` sends a command and returns its reply, keeping events."""

    ws: ClientConnection
    subprotocol: str
    events: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[int, dict[str, Any]] = field(default_factory=dict)
    frames: list[Any] = field(default_factory=list)
    _refs: itertools.count = field(default_factory=lambda: itertools.count(1))

    def encode(self, obj: Any) -> bytes | str:
        if self.subprotocol == MSGPACK:
            return msgpack.packb(obj, use_bin_type=True)
        return json.dumps(obj)

    def decode(self, frame: bytes | str) -> dict[str, Any]:
        if self.subprotocol == MSGPACK:
            assert isinstance(frame, bytes), "msgpack connections get binary frames"
            return msgpack.unpackb(frame, raw=False)
        assert isinstance(frame, str), "json connections get text frames"
        return json.loads(frame)

    async def send(self, op: str, ref: int | None = None, **args: Any) -> int:
        ref = next(self._refs) if ref is None else ref
        await self.ws.send(self.encode({"op": op, "ref": ref, **args}))
        return ref

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def _read_one(self, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
        # arrives as the frame does, so a test's cancelled load task would carry on posting.
        async with asyncio.timeout(timeout):
            frame = await self.ws.recv()
        self.frames.append(frame)
        msg = self.decode(frame)
        if msg.get("op") == "event":
            self.events.append(msg)
        elif msg.get("op") == "reply":
            self.replies[msg.get("ref")] = msg
        return msg

    async def reply(self, ref: int | None, timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
        while ref not in self.replies:
            await self._read_one(timeout)
        return self.replies.pop(ref)

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send and return the reply's data; a failed reply raises ReplyError."""
        reply = await self.reply(await self.send(op, **args))
        if not reply["ok"]:
            raise ReplyError(reply["error"]["code"], reply["error"]["message"])
        return reply["data"]

    async def error(self, op: str, **args: Any) -> str:
        """Send a command that must fail and return its error code."""
        reply = await self.reply(await self.send(op, **args))
        assert reply["ok"] is False, reply
        assert set(reply["error"]) >= {"code", "message"} and reply["error"]["message"]
        return reply["error"]["code"]

    async def event(
        self,
        type_: str | None = None,
        timeout: float = 10,  # noqa: ASYNC109
        **match: Any,
    ) -> dict[str, Any]:
        """The next (already received or arriving) event of a type, removed from the list."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if (type_ is None or ev["type"] == type_) and all(
                    ev["data"].get(k) == v for k, v in match.items()
                ):
                    return self.events.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {type_} event arrived")
            await self._read_one(remaining)

    async def stored_events(
        self,
        room: str,
        count: int,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` persisted events of ``room`` arrived; return them in order."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            got = [e for e in self.events if e["room"] == room and e["seq"] is not None]
            if len(got) >= count:
                return got
            await self._read_one(max(0.01, deadline - loop.time()))

    async def drain(self, quiet: float = 0.2) -> None:
        """Read whatever arrives until the line is quiet for ``quiet`` seconds."""
        with contextlib.suppress(TimeoutError):
            while True:
                await self._read_one(quiet)

    async def close(self) -> None:
        """Close, reading what is still arriving meanwhile: a client whose queue of unread
        events is full stops reading the socket, so it would not see the server's close
        frame and would wait out the closing handshake's ten-second timeout."""

        async def drain() -> None:
            with contextlib.suppress(Exception):
                while True:
                    await self.ws.recv()

        reader = asyncio.create_task(drain())
        try:
            await self.ws.close()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def connect(
    running: Running, token: str | None, subprotocol: str = JSON, **kwargs: Any
) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ws = await websockets.connect(
        running.url,
        subprotocols=[subprotocol],
        additional_headers=headers,
        max_size=None,
        open_timeout=10,
        **kwargs,
    )
    return Client(ws, subprotocol)


SUBPROTOCOLS = (JSON, MSGPACK)
