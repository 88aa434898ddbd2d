"""What's new for you in a real Chromium: axe-core at phone, laptop and 320 px widths and
with 200% text, every action by keyboard, a new thread announced live, and the page without
JavaScript."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from server.domain import accounts, ideas, polls
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import Site, check_text_at_200_percent, log_in, screenshot

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    }
}


def _axe(page: Page, name: str, axe: Axe) -> None:
    for width, height in ((390, 844), (1280, 800), (320, 640)):
        page.set_viewport_size({"width": width, "height": height})
        results = axe.run(page, options=AXE_OPTIONS)
        assert results.response["passes"], "axe did not run"
        assert results.violations_count == 0, f"{name} at {width}px:\n{results.generate_report()}"
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} scrolls sideways at {width}px ({overflow})"
    check_text_at_200_percent(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, name)


def _news(site: Site) -> None:
    """For bob: a new thread with a long first message, an open poll, his idea adopted."""
    site.thread(
        "north",
        "alice@cfn.example",
        "Visit to the emergency operations centre",
        "Thank you all for coming on the visit. " * 8,
    )
    conn = open_sync(pg.target(site.db_path))
    try:
        alice = accounts.require_user(conn, "alice@cfn.example")
        bob = accounts.require_user(conn, "bob@cfn.example")
        write_sync(
            conn,
            polls.create_poll,
            alice,
            "north",
            "Which topic for the next meeting?",
            ["Falls", "Leaflet"],
            "single",
            False,
            "live",
        )
        idea = write_sync(
            conn, ideas.create_idea, bob, "north", "Peer support", "Signpost callers.", "b-i"
        )["idea"]["id"]
        write_sync(conn, ideas.set_status, alice, idea, "adopted", "Starting in April.")
    finally:
        conn.close()


def test_axe_finds_no_violations_on_the_inbox_and_keyboard_reaches_every_action(
    site: Site, new_context: Contexts
) -> None:
    _news(site)
    axe = Axe()
    page = log_in(new_context(), site, "bob@cfn.example")
    expect(page.locator("#nav-inbox-count")).to_be_visible()
    page.goto(site.base + "/inbox")
    expect(page.get_by_role("heading", name="What's new for you")).to_be_visible()
    main = page.locator("main")
    expect(main).to_contain_text("Visit to the emergency operations centre")
    expect(main).to_contain_text("Which topic for the next meeting?")
    expect(main).to_contain_text("Now: Adopted. Note: Starting in April.")
    _axe(page, "inbox", axe)
    # by keyboard: Tab reaches the first "Mark read" and Enter sends it
    first = page.get_by_role("button", name="Mark read: Visit to the emergency operations centre")
    for _ in range(60):
        page.keyboard.press("Tab")
        if first.evaluate("(b) => b === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the first Mark read button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("That entry is marked read.")
    expect(main).not_to_contain_text("Visit to the emergency operations centre")
    # the level form by keyboard: choose "everything" with the arrows, then save
    page.locator("#level-north-followed").focus()
    page.keyboard.press("ArrowUp")
    expect(page.locator("#level-north-everything")).to_be_checked()
    page.get_by_role("button", name="Save for North Yorkshire").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Your choice for that group is saved.")
    expect(page.locator("#level-north-everything")).to_be_checked()
    page.get_by_role("button", name="Mark all read").press("Enter")
    expect(main).to_contain_text("You are up to date")
    _axe(page, "inbox-empty", axe)


def test_a_new_thread_is_announced_live_on_the_inbox(site: Site, new_context: Contexts) -> None:
    page = log_in(new_context(), site, "bob@cfn.example")
    page.goto(site.base + "/inbox")
    mark_all = page.get_by_role("button", name="Mark all read")
    if mark_all.count():  # what earlier tests left
        mark_all.click()
    expect(page.locator("main")).to_contain_text("You are up to date")
    page.wait_for_timeout(1500)  # the live script has joined the member's rooms
    title = f"Draft leaflet for feedback {time.monotonic_ns()}"
    site.thread("north", "alice@cfn.example", title, "Please read the draft.")
    expect(page.locator("#inbox-list")).to_contain_text(title, timeout=10_000)
    expect(page.locator("#announcer")).to_contain_text("Something new: 1 thing new for you.")
    expect(page.locator("#nav-inbox-count")).to_contain_text("1")
    # carol (south only) sees nothing of north
    carol = log_in(new_context(), site, "carol@cfn.example")
    carol.goto(site.base + "/inbox")
    expect(carol.locator("main")).not_to_contain_text(title)


def test_the_inbox_works_without_javascript(site: Site, new_context: Contexts) -> None:
    title = f"Minutes of the last meeting {time.monotonic_ns()}"
    site.thread("north", "alice@cfn.example", title, "The minutes are ready.")
    page = log_in(new_context(java_script_enabled=False), site, "bob@cfn.example")
    page.goto(site.base + "/inbox")
    link = page.get_by_role("link", name=title)
    expect(link).to_be_visible()
    page.get_by_role("button", name=f"Mark read: {title}").click()
    expect(page.get_by_role("status")).to_contain_text("That entry is marked read.")
    expect(page.locator("main")).not_to_contain_text(title)
    # following and unfollowing from the thread page, no JavaScript
    site.thread("north", "alice@cfn.example", title + " (2)", "More.")
    page.goto(site.base + "/inbox")
    page.get_by_role("link", name=title + " (2)").click()
    page.get_by_role("button", name="Follow this thread").click()
    expect(page.get_by_role("status").first).to_contain_text("You are following it now.")
    expect(page.get_by_role("button", name="Unfollow this thread")).to_be_visible()
    screenshot(page, "thread-following")
