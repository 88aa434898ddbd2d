"""Logging in at the server's edges: Secure cookies behind https, and a burst of wrong
passwords that must neither get past the allowance nor slow other members' logins."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from tests.harness import PASSWORD, Running

ALICE = "alice@cfn.example"


async def login(http: httpx.AsyncClient, email: str, password: str,
                headers: dict[str, str] | None = None) -> httpx.Response:
    """The browser's two steps (form, then post), carrying cookies by hand so that Secure
    ones still travel over the test's plain http."""
    headers = headers or {}
    form = await http.get("/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    cookie = form.cookies.get("cfn_login_csrf") or re.search(
        r"cfn_login_csrf=([^;]+)", form.headers.get("set-cookie", ""))[1]  # type: ignore[index]
    return await http.post("/login", data={"email": email, "password": password,
                                           "csrf": csrf[1], "next": "/"},
                           headers={**headers, "cookie": f"cfn_login_csrf={cookie}"})


def session_cookie(response: httpx.Response) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith("cfn_session=")]
    assert len(found) == 1, response.headers
    return found[0]


# --- item 13 ----------------------------------------------------------------------------------


async def test_the_session_cookie_is_secure_when_the_public_origin_is_https(
        start_server: Callable[..., Any]) -> None:
    running: Running = await start_server(origin="https://hub.example")
    running.user(ALICE)
    async with httpx.AsyncClient(base_url=running.http) as http:
        done = await login(http, ALICE, PASSWORD)
    assert done.status_code == 303
    assert "; secure" in session_cookie(done).lower()


async def test_the_session_cookie_is_not_secure_over_plain_http(
        start_server: Callable[..., Any]) -> None:
    running: Running = await start_server()
    running.user(ALICE)
    async with httpx.AsyncClient(base_url=running.http) as http:
        done = await login(http, ALICE, PASSWORD, {"x-forwarded-proto": "https"})
    assert done.status_code == 303
    assert "secure" not in session_cookie(done).lower()  # an untrusted header changes nothing


async def test_a_trusted_proxy_saying_https_makes_the_session_cookie_secure(
        start_server: Callable[..., Any]) -> None:
    running: Running = await start_server(trusted_proxies="127.0.0.1")
    running.user(ALICE)
    async with httpx.AsyncClient(base_url=running.http) as http:
        done = await login(http, ALICE, PASSWORD, {"x-forwarded-proto": "https"})
        plain = await login(http, ALICE, PASSWORD, {"x-forwarded-proto": "http"})
    assert "; secure" in session_cookie(done).lower()
    assert "secure" not in session_cookie(plain).lower()
