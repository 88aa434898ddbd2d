"""Shared steps for the people tests: forms that need no login (their CSRF from a cookie),
logging in through the real form, and reading the outbox."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any

import httpx

from tests.harness import PASSWORD, Running


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


async def anonymous_post(http: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """GET the form (its CSRF cookie and token), then POST it."""
    form = await http.get(path)
    assert form.status_code == 200, form.text[:300]
    return await http.post(path, data={**fields, "csrf": csrf_of(form.text)})


async def log_in(
    server: Running, email: str, password: str = PASSWORD, **headers: str
) -> httpx.AsyncClient:
    """A client logged in through the real login form."""
    http = httpx.AsyncClient(base_url=server.http, timeout=10, headers=headers)
    form = await http.get("/login")
    done = await http.post(
        "/login",
        data={"email": email, "password": password, "next": "/", "csrf": csrf_of(form.text)},
    )
    if done.status_code != 303:
        await http.aclose()  # a refused login leaves no open socket behind
    assert done.status_code == 303, done.text[:300]
    return http


async def page_csrf(http: httpx.AsyncClient, path: str = "/profile") -> str:
    return csrf_of((await http.get(path)).text)


def outbox_rows(db: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in db.execute("SELECT * FROM outbox ORDER BY id")]


async def wait_until(check: Any, timeout: float = 10) -> Any:  # noqa: ASYNC109
    """Poll ``check()`` until it gives something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if result := check():
            return result
        if loop.time() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.05)
