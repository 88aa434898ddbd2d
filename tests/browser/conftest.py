"""Browser fixtures: a real server process over a temp database, and Debian's Chromium
driven by Playwright (never `playwright install`). Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.domain import accounts, discussions
from server.storage.engine import SyncConn, open_sync, write_sync
from tests import pg

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"
VIEWPORTS = ((390, 844), (1280, 800))

if not Path(CHROMIUM).exists():  # pragma: no cover
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402


@dataclass
class Site:
    """The running server: its address and its database, for arranging and checking."""

    base: str
    db_path: Path
    proc: subprocess.Popen[bytes]

    def db(self) -> SyncConn:
        return open_sync(pg.target(self.db_path))

    def rows(self, sql: str, *params: Any) -> list[Any]:
        with self.db() as conn:
            return conn.execute(sql, params).fetchall()

    def thread(self, slug: str, email: str, title: str, *bodies: str) -> int:
        """A thread with messages, written through the domain functions."""
        conn = open_sync(pg.target(self.db_path))
        try:
            user = accounts.require_user(conn, email)
            made = write_sync(
                conn,
                discussions.create_thread,
                user,
                slug,
                title,
                bodies[0],
                f"seed-{time.monotonic_ns()}",
            )
            for body in bodies[1:]:
                write_sync(
                    conn,
                    discussions.post_message,
                    user,
                    slug,
                    made["thread"]["id"],
                    body,
                    f"seed-{time.monotonic_ns()}",
                )
            return made["thread"]["id"]
        finally:
            conn.close()

    def post(self, slug: str, email: str, thread_id: int, body: str) -> None:
        conn = open_sync(pg.target(self.db_path))
        try:
            user = accounts.require_user(conn, email)
            write_sync(
                conn,
                discussions.post_message,
                user,
                slug,
                thread_id,
                body,
                f"seed-{time.monotonic_ns()}",
            )
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _arrange(db_path: Path) -> None:
    """Two groups; alice (chair) and bob in north, carol only in south."""
    conn = open_sync(pg.target(db_path))
    for email, name in (
        ("alice@cfn.example", "Alice Archer"),
        ("bob@cfn.example", "Bob Brown"),
        ("carol@cfn.example", "Carol Carter"),
    ):
        write_sync(conn, accounts.add_user, email, name, "member", PASSWORD)
    write_sync(conn, accounts.add_group, "north", "North Yorkshire", "regional")
    write_sync(conn, accounts.add_group, "south", "South Yorkshire", "regional")
    write_sync(conn, accounts.add_member, "north", "alice@cfn.example", "chair")
    write_sync(conn, accounts.add_member, "north", "bob@cfn.example", "member")
    write_sync(conn, accounts.add_member, "south", "carol@cfn.example", "member")
    conn.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`python -m server serve` on a free port, over a database arranged beforehand."""
    folder = tmp_path_factory.mktemp("site")
    db_path = folder / "cfn.db"
    _arrange(db_path)
    port = _free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--db", pg.target(db_path), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "CFN_RATE_LIMIT": "0"},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text()) from None
            time.sleep(0.05)
    try:
        yield Site(base, db_path, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (separate cookies and storage), closed after the test.

    Any script error or server error (5xx) seen by any page fails the test."""
    made: list[BrowserContext] = []
    problems: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on(
            "response",
            lambda r: problems.append(f"{r.status} from {r.url}") if r.status >= 500 else None,
        )

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 390, "height": 844})
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.on("page", watch)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
    assert problems == []


def log_in(context: BrowserContext, site: Site, email: str) -> Page:
    """A page logged in through the real form."""
    page = context.new_page()
    page.goto(site.base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site.base + "/")
    return page


def wait_connected(page: Page) -> None:
    page.locator("#conn-state[data-state=connected]").wait_for()


def screenshot(page: Page, name: str) -> None:
    """The page at a phone's and a laptop's size, for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)
    if original:
        page.set_viewport_size(original)


def check_text_at_200_percent(page: Page, name: str) -> None:
    """WCAG 1.4.4/1.4.10: on a 390 px phone with text at twice its size, the page reflows
    with no sideways scrolling. Leaves a screenshot to look at, and the page as it was."""
    original = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate(
        "() => { const r = document.documentElement; r.style.fontSize = "
        "`${parseFloat(getComputedStyle(r).fontSize) * 2}px`; }"
    )
    page.wait_for_timeout(50)
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    culprits = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
        .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className}`)""")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-390-text200.png"), full_page=True)
    page.evaluate("() => { document.documentElement.style.fontSize = ''; }")
    if original:
        page.set_viewport_size(original)
    assert wide <= 390, f"{name} scrolls sideways at 390px with 200% text ({wide}): {culprits}"
