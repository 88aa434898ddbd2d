"""Authentication: login throttling, session rotation, logout, token revocation, and
removal from a group, each ending access at once, on pages and live sockets alike."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from server.web.throttle import LoginThrottle
from tests.harness import JSON, PASSWORD, Client, Running, connect
from tests.serverproc import ROOT

# --- the throttle itself ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_logins_beyond_the_free_ones_wait_longer_each_time() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_per_account=3, free_per_address=100, clock=clock)
    waits = []
    for _ in range(8):
        assert throttle.wait("a@x.org", "1.2.3.4") == 0
        throttle.failed("a@x.org", "1.2.3.4")
        waits.append(throttle.wait("a@x.org", "1.2.3.4"))
        clock.now += waits[-1]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16]


def test_the_delay_is_capped_and_a_success_clears_the_account() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_per_account=0, free_per_address=100, max_delay=60, clock=clock)
    for _ in range(20):
        throttle.failed("A@x.org ", "1.2.3.4")
    assert throttle.wait("a@x.org", "5.6.7.8") == 60  # by account, whatever the address
    throttle.succeeded("a@x.org", "1.2.3.4")
    assert throttle.wait("a@x.org", "5.6.7.8") == 0


def test_many_accounts_tried_from_one_address_slow_that_address_down() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_per_account=5, free_per_address=10, clock=clock)
    for n in range(11):
        throttle.failed(f"user{n}@x.org", "6.6.6.6")
    assert throttle.wait("someone-else@x.org", "6.6.6.6") == 1
    assert throttle.wait("someone-else@x.org", "7.7.7.7") == 0


def test_the_throttle_forgets_the_oldest_keys_beyond_its_bound() -> None:
    throttle = LoginThrottle(max_keys=100)
    for n in range(1000):
        throttle.failed(f"user{n}@x.org", f"10.0.{n // 250}.{n % 250}")
    assert len(throttle._records) <= 100


# --- through the login page -----------------------------------------------------------------


async def _csrf(http: httpx.AsyncClient, path: str = "/login") -> str:
    page = await http.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, f"{path} has a form with a CSRF token"
    return found.group(1)


async def _login(
    http: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
) -> httpx.Response:
    return await http.post(
        "/login",
        data={"email": email, "password": password, "csrf": await _csrf(http), "next": "/"},
    )


async def test_repeated_wrong_passwords_are_answered_429_and_even_the_right_one_waits(
    server: Running,
) -> None:
    server.user("alice@cfn.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        for _ in range(5):
            assert (await _login(http, "alice@cfn.example", "wrong password")).status_code == 400
        wrong = await _login(http, "alice@cfn.example", "wrong password")
        assert wrong.status_code == 400
        refused = await _login(http, "alice@cfn.example")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "Please wait" in refused.text and "cfn_session" not in refused.cookies
        throttle = server.server.app.state.login_throttle
        for record in throttle._records.values():
            record.blocked_until = 0
        assert (await _login(http, "alice@cfn.example")).status_code == 303


async def test_login_rotates_the_session_and_the_old_cookie_stops_working(server: Running) -> None:
    server.user("alice@cfn.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        assert (await _login(http, "alice@cfn.example")).status_code == 303
        first = http.cookies.get("cfn_session")
    # The same browser logs in again while still holding its session (say, a second tab).
    async with httpx.AsyncClient(base_url=server.http) as http:
        token = await _csrf(http)
        http.cookies.set("cfn_session", first)
        again = await http.post(
            "/login",
            data={"email": "alice@cfn.example", "csrf": token, "password": PASSWORD, "next": "/"},
        )
        assert again.status_code == 303
        second = again.cookies.get("cfn_session")
    assert first and second and first != second
    async with httpx.AsyncClient(base_url=server.http, cookies={"cfn_session": first}) as old:
        assert (await old.get("/")).status_code == 303  # back to the login page
    async with httpx.AsyncClient(base_url=server.http, cookies={"cfn_session": second}) as new:
        assert (await new.get("/")).status_code == 200


async def _browser_socket(server: Running, cookie: str) -> Client:
    ws = await websockets.connect(
        server.url,
        subprotocols=[JSON],
        open_timeout=10,
        additional_headers={"Cookie": f"cfn_session={cookie}"},
        origin=f"http://127.0.0.1:{server.port}",
    )
    return Client(ws, JSON)


async def _closed_with(client: Client) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as info:
        for _ in range(1000):
            await client._read_one(5)
    return info.value.rcvd.code if info.value.rcvd else None


async def test_logout_ends_the_session_on_pages_and_closes_its_live_socket(server: Running) -> None:
    server.member("north", "alice@cfn.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        assert (await _login(http, "alice@cfn.example")).status_code == 303
        cookie = http.cookies.get("cfn_session")
        live = await _browser_socket(server, cookie)
        await live.call("join", room="north")
        out = await http.post("/logout", data={"csrf": await _csrf(http, "/")})
        assert out.status_code == 303
    assert await _closed_with(live) == 4001
    async with httpx.AsyncClient(base_url=server.http, cookies={"cfn_session": cookie}) as old:
        assert (await old.get("/")).status_code == 303
    with pytest.raises(InvalidStatus) as info:
        await _browser_socket(server, cookie)
    assert info.value.response.status_code == 403


# --- the command line, while the server runs ------------------------------------------------


def cli(server: Running, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args, "--db", server.db_url],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_revoked_token_is_disconnected_at_once_and_cannot_connect_again(
    server: Running, subprotocol: str
) -> None:
    server.member("north", "alice@cfn.example")
    token, other = server.token("alice@cfn.example"), server.token("alice@cfn.example")
    live = await connect(server, token, subprotocol)
    spared = await connect(server, other, subprotocol)
    await live.call("join", room="north")
    done = await asyncio.to_thread(cli, server, "token", "revoke", "-", stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    assert await _closed_with(live) == 4001
    with pytest.raises(InvalidStatus) as info:
        await connect(server, token, subprotocol)
    assert info.value.response.status_code == 403
    assert await spared.call("ping") == {}  # the member's other token still works
    again = await asyncio.to_thread(cli, server, "token", "revoke", token)
    assert again.returncode == 1 and "already" in again.stderr and "Traceback" not in again.stderr
    await spared.close()


async def test_revoking_all_of_a_members_tokens_ends_all_their_connections(server: Running) -> None:
    server.member("north", "alice@cfn.example")
    socks = [await connect(server, server.token("alice@cfn.example")) for _ in range(3)]
    done = await asyncio.to_thread(cli, server, "token", "revoke", "--all", "alice@cfn.example")
    assert done.returncode == 0 and "Revoked 3" in done.stdout
    for sock in socks:
        assert await _closed_with(sock) == 4001


async def test_removing_a_member_ends_their_live_subscription_to_that_room_at_once(
    server: Running, subprotocol: str, clients
) -> None:
    server.member("north", "alice@cfn.example", "chair")
    server.member("north", "bob@cfn.example")
    server.member("south", "bob@cfn.example")
    alice, bob = await clients("alice@cfn.example"), await clients("bob@cfn.example")
    await alice.call("join", room="north")
    await bob.call("join", room="north")
    await bob.call("join", room="south")
    made = await alice.call("thread.create", room="north", title="T", body="before", cid="1")
    await bob.event("message.created")
    bob.events.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    done = await asyncio.to_thread(cli, server, "member", "remove", "north", "bob@cfn.example")
    assert done.returncode == 0, done.stderr
    removed = await bob.event("access.removed", timeout=5)
    assert removed["room"] == "north" and removed["seq"] is None
    assert loop.time() - started < 3
    await alice.call(
        "message.post", room="north", thread=made["thread"]["id"], body="after removal", cid="2"
    )
    await bob.drain(0.5)
    assert not [e for e in bob.events if e["room"] == "north" and e["seq"] is not None]
    assert (
        await bob.error(
            "message.post", room="north", thread=made["thread"]["id"], body="x", cid="3"
        )
        == "not_joined"
    )
    assert await bob.error("join", room="north") == "forbidden"
    assert (await bob.call("join", room="south"))["room"] == "south"  # other rooms untouched
    audit = await asyncio.to_thread(cli, server, "audit")
    assert "member.removed" in audit.stdout and "north" in audit.stdout
