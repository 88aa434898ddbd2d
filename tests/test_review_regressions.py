"""Regressions found in review: a demoted admin's open socket, a deleted message's edits,
the coalescing transport's backpressure, a socket cut off before it ran, and a browser
socket outliving its login session, and password checks holding up the database."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from server.domain import admin
from server.domain.accounts import User
from server.protocol.codec import JSON
from server.realtime.connection import Connection
from server.realtime.watcher import REVOKED, watch
from server.settings import Settings
from server.storage.engine import write_sync
from server.transport.wsproto import COALESCE_BYTES, CoalescingTransport
from tests.harness import PASSWORD, Client, Running, connect
from tests.test_ws_auth import login_cookie


async def test_an_admin_demoted_while_connected_can_no_longer_join_other_groups(
    server: Running,
) -> None:
    server.group("north")
    server.user("root@cfn.example", role="admin")
    root = await connect(server, server.token("root@cfn.example"))
    assert (await root.call("join", room="north"))["room"] == "north"  # admin's reach
    await root.call("leave", room="north")
    write_sync(server.db, admin.set_site_role, "root@cfn.example", "member")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:  # the watcher polls twice a second
        reply = await root.reply(await root.send("join", room="north"))
        if not reply["ok"]:
            break
        await root.call("leave", room="north")
        assert loop.time() < deadline, "a demoted admin could still join any room"
        await asyncio.sleep(0.2)
    assert reply["error"]["code"] == "forbidden"
    assert (await root.call("hello"))["user"]["role"] == "member"
    await root.close()


async def test_a_deleted_message_s_edited_text_is_not_replayed_to_a_resuming_client(
    server: Running,
) -> None:
    server.member("north", "alice@cfn.example", "chair")
    server.member("north", "bob@cfn.example")
    alice = await connect(server, server.token("alice@cfn.example"))
    await alice.call("join", room="north")
    made = await alice.call("thread.create", room="north", title="T", body="fine", cid="t")
    posted = await alice.call(
        "message.post", room="north", thread=made["thread"]["id"], body="first words", cid="m"
    )
    await alice.call("message.edit", message=posted["message"]["id"], body="abusive words")
    await alice.call("message.delete", message=posted["message"]["id"])
    bob = await connect(server, server.token("bob@cfn.example"))
    joined = await bob.call("join", room="north", since=0)
    assert joined["recovered"] is True
    replay = await bob.stored_events("north", joined["seq"])
    assert [e["type"] for e in replay][-2:] == ["message.edited", "message.deleted"]
    assert not [e for e in replay if "words" in str(e["data"].get("body", ""))]
    await alice.close()
    await bob.close()


class SlowTransport:
    """Stands in for a socket whose peer reads slowly: it pauses the protocol past a mark."""

    def __init__(self, high: int) -> None:
        self.high, self.buffered, self.paused = high, 0, False

    def write(self, data: bytes) -> None:
        self.buffered += len(data)
        if self.buffered > self.high:
            self.paused = True  # asyncio would call protocol.pause_writing() here

    def is_closing(self) -> bool:
        return False


async def test_a_large_burst_reaches_the_transport_at_once_so_backpressure_can_apply() -> None:
    real = SlowTransport(high=64 * 1024)
    t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    frame = b"x" * 1000
    written = 0
    while not real.paused and written < 10 * COALESCE_BYTES:  # one loop turn, no await
        t.write(frame)
        written += len(frame)
    assert real.paused, "writes piled up unbounded without the transport seeing them"
    assert written <= COALESCE_BYTES + real.high + len(frame)


class IdleSocket:
    """Stands in for an accepted WebSocket whose peer says nothing."""

    scope: dict[str, Any] = {}

    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        raise AssertionError("nothing should be sent")

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code


async def test_a_connection_cut_off_before_it_ran_closes_at_once_with_that_code() -> None:
    ws = IdleSocket()
    services = SimpleNamespace(settings=Settings.from_env({}))
    conn = Connection(
        ws,
        services,
        User(1, "a@cfn.example", "A", "member"),  # type: ignore[arg-type]
        JSON,
        {},
    )
    conn.cut_off(REVOKED)  # the access watcher acted while the handshake was accepting
    await asyncio.wait_for(conn.run(), timeout=2)
    assert ws.closed_with == REVOKED


async def test_a_browser_socket_closes_once_its_login_session_expires(server: Running) -> None:
    server.member("north", "alice@cfn.example")
    cookie = await login_cookie(server, "alice@cfn.example")
    ws = await websockets.connect(
        server.url,
        subprotocols=[JSON],
        open_timeout=10,
        additional_headers={"Cookie": cookie},
        origin=f"http://127.0.0.1:{server.port}",
    )
    alice = Client(ws, JSON)
    await alice.call("join", room="north")
    with server.db:  # the session's days run out; no row changes that a trigger would see
        server.db.execute("UPDATE sessions SET expires_at = 1")
    sweeper = asyncio.create_task(watch(server.services, interval=0.05, sweep_every=2))
    try:
        with pytest.raises(ConnectionClosed) as closed:
            await alice.drain(quiet=3)
            await alice.call("ping")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == REVOKED
    finally:
        sweeper.cancel()


async def test_logins_checking_passwords_do_not_hold_up_the_database_readers(
    server: Running,
) -> None:
    for n in range(4):
        server.user(f"member{n}@cfn.example")
    db = server.services.db
    async with httpx.AsyncClient(base_url=server.http) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        logins = [
            asyncio.create_task(
                http.post(
                    "/login",
                    data={
                        "email": f"member{n}@cfn.example",
                        "password": PASSWORD,
                        "csrf": csrf.group(1),
                        "next": "/",
                    },
                )
            )
            for n in range(4)
        ]  # each a ~0.2 s argon2id check
        await asyncio.sleep(0.05)  # the four are now checking their passwords
        reads = [db.read(lambda c: c.execute("SELECT 1").fetchone()[0]) for _ in range(2)]
        assert await asyncio.gather(*reads) == [1, 1]
        assert not any(t.done() for t in logins), "reads waited for the password checks"
        assert [(await t).status_code for t in logins] == [303] * 4
