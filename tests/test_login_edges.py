"""Logging in at the server's edges: Secure cookies behind https, and a burst of wrong
passwords that must neither get past the allowance nor slow other members' logins."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.harness import PASSWORD, Running

ALICE = "alice@cfn.example"


async def login(
    http: httpx.AsyncClient, email: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """The browser's two steps (form, then post), carrying cookies by hand so that Secure
    ones still travel over the test's plain http."""
    headers = headers or {}
    form = await http.get("/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    cookie = (
        form.cookies.get("cfn_login_csrf")
        or re.search(r"cfn_login_csrf=([^;]+)", form.headers.get("set-cookie", ""))[1]
    )  # type: ignore[index]
    return await http.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf[1], "next": "/"},
        headers={**headers, "cookie": f"cfn_login_csrf={cookie}"},
    )


def session_cookie(response: httpx.Response) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith("cfn_session=")]
    assert len(found) == 1, response.headers
    return found[0]


# --- item 13 ----------------------------------------------------------------------------------


async def test_the_session_cookie_is_secure_when_the_public_origin_is_https(
    start_server: Callable[..., Any],
) -> None:
    running: Running = await start_server(origin="https://hub.example")
    running.user(ALICE)
    async with httpx.AsyncClient(base_url=running.http) as http:
        done = await login(http, ALICE, PASSWORD)
    assert done.status_code == 303
    assert "; secure" in session_cookie(done).lower()


async def test_the_session_cookie_is_not_secure_over_plain_http(
    start_server: Callable[..., Any],
) -> None:
    running: Running = await start_server()
    running.user(ALICE)
    async with httpx.AsyncClient(base_url=running.http) as http:
        done = await login(http, ALICE, PASSWORD, {"x-forwarded-proto": "https"})
    assert done.status_code == 303
    assert "secure" not in session_cookie(done).lower()  # an untrusted header changes nothing


async def test_a_trusted_proxy_saying_https_makes_the_session_cookie_secure(
    start_server: Callable[..., Any],
) -> None:
    running: Running = await start_server(trusted_proxies="127.0.0.1")
    running.user(ALICE)
    async with httpx.AsyncClient(base_url=running.http) as http:
        done = await login(http, ALICE, PASSWORD, {"x-forwarded-proto": "https"})
        plain = await login(http, ALICE, PASSWORD, {"x-forwarded-proto": "http"})
    assert "; secure" in session_cookie(done).lower()
    assert "secure" not in session_cookie(plain).lower()


# --- item 17 ----------------------------------------------------------------------------------


async def _csrf(http: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, str]:
    form = await http.get("/login", headers=headers)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    return token[1], form.cookies["cfn_login_csrf"]


async def _burst_and_one_good_login(
    running: Running, burst: dict[str, Any], good: dict[str, Any]
) -> tuple[list[int], int, float, int]:
    """64 wrong-password posts at once from one client, and during them a correct login
    from another: the burst's statuses, how many of its password checks were answered
    before the good login was, the good login's seconds and its status."""
    async with (
        httpx.AsyncClient(base_url=running.http, timeout=60, **burst["client"]) as bad,
        httpx.AsyncClient(base_url=running.http, timeout=60, **good["client"]) as ok,
    ):
        token, cookie = await _csrf(bad, burst["headers"])

        async def wrong(n: int) -> tuple[int, float]:
            answer = await bad.post(
                "/login",
                data={"email": f"guess{n}@cfn.example", "password": "wrong", "csrf": token},
                headers={**burst["headers"], "cookie": f"cfn_login_csrf={cookie}"},
            )
            return answer.status_code, time.monotonic()

        tasks = [asyncio.create_task(wrong(n)) for n in range(64)]
        await asyncio.sleep(0.1)  # the burst is under way
        started = time.monotonic()
        done = await login(ok, ALICE, PASSWORD, good["headers"])
        ended = time.monotonic()
        answers = await asyncio.gather(*tasks)
    checked_before = sum(1 for code, at in answers if code == 400 and at < ended)
    return [code for code, _ in answers], checked_before, ended - started, done.status_code


def _check_burst(statuses: list[int], checked_before: int, took: float, status: int) -> None:
    """The burst is cut off past the allowance, and the other address's login is served
    between the burst's password checks, not after them all (an order, not a time: the
    machine's load moves the seconds, printed for the record)."""
    refused, wrong = statuses.count(429), statuses.count(400)
    print(
        f"burst: {wrong} checked (400), {refused} refused (429), {checked_before} answered"
        f" before the other address's login, which took {took:.2f} s"
    )
    assert refused + wrong == 64 and refused >= 40 and wrong <= 21
    assert status == 303
    assert checked_before <= wrong // 2, (checked_before, wrong)


async def test_a_burst_of_wrong_passwords_is_refused_past_the_allowance_and_others_log_in(
    start_server: Callable[..., Any],
) -> None:
    running: Running = await start_server()
    running.user(ALICE)
    local = {
        "client": {"transport": httpx.AsyncHTTPTransport(local_address="127.0.0.2")},
        "headers": {},
    }
    other = {
        "client": {"transport": httpx.AsyncHTTPTransport(local_address="127.0.0.3")},
        "headers": {},
    }
    _check_burst(*await _burst_and_one_good_login(running, local, other))


async def test_behind_a_trusted_proxy_the_allowance_is_per_forwarded_address(
    start_server: Callable[..., Any],
) -> None:
    running: Running = await start_server(trusted_proxies="127.0.0.1")
    running.user(ALICE)
    burst = {"client": {}, "headers": {"x-forwarded-for": "203.0.113.7"}}
    other = {"client": {}, "headers": {"x-forwarded-for": "198.51.100.2"}}
    _check_burst(*await _burst_and_one_good_login(running, burst, other))


async def test_the_hash_gate_serves_a_lone_waiter_before_a_burst_from_another_address() -> None:
    from server.web.throttle import FairGate

    gate, order = FairGate(1), []
    release = asyncio.Event()

    async def hold(key: str, tag: str) -> None:
        async with gate.slot(key):
            order.append(tag)
            await release.wait()

    first = asyncio.create_task(hold("burst", "burst-0"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(hold("burst", f"burst-{n}")) for n in range(1, 6)]
    await asyncio.sleep(0)
    lone = asyncio.create_task(hold("member", "member"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting, lone)
    assert order[:3] == ["burst-0", "burst-1", "member"]
    assert gate.free == 1
