"""A form mistake in a real Chromium: the same form comes back with what was typed, the
sentence is announced (a focused role=alert summary) and tied to the field, and axe-core
finds nothing wrong with the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from server.domain import accounts, ideas
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import Site, log_in, screenshot
from tests.browser.test_polls_ideas import AXE_OPTIONS

pytestmark = pytest.mark.browser


def _no_violations(page: Page, name: str, axe: Axe) -> None:
    for width, height in ((390, 844), (1280, 800), (320, 640)):
        page.set_viewport_size({"width": width, "height": height})
        results = axe.run(page, options=AXE_OPTIONS)
        assert results.response["passes"], "axe did not run"
        assert results.violations_count == 0, f"{name} at {width}px:\n{results.generate_report()}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, name)


def _described_by(page: Page, selector: str) -> str:
    return page.eval_on_selector(
        selector,
        """el => (el.getAttribute('aria-describedby') || '')
        .split(' ').map(id => document.getElementById(id)?.textContent || '').join(' ')""",
    )


def test_a_poll_with_one_answer_comes_back_typed_with_the_mistake_announced(
    site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    axe = Axe()
    page = log_in(new_context(), site, "alice@cfn.example")
    page.goto(site.base + "/g/north/polls")
    page.get_by_label("Question").fill("Where shall we meet in June?")
    page.get_by_label("Answers", exact=True).fill("The fire station")
    page.get_by_label("Only when the poll closes").check()
    page.get_by_role("button", name="Open the poll").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("A poll needs 2 to 20 answers")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page).to_have_title(
        "There is a problem: Polls – North Yorkshire – Critical Friends Network"
    )
    expect(page.get_by_label("Question")).to_have_value("Where shall we meet in June?")
    expect(page.get_by_label("Answers", exact=True)).to_have_value("The fire station")
    expect(page.get_by_label("Answers", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Only when the poll closes")).to_be_checked()
    assert "A poll needs 2 to 20 answers" in _described_by(page, "#poll-options")
    summary.get_by_role("link").click()  # the summary leads to the sentence by the field
    assert page.evaluate("location.hash") == "#new-poll-options-error"
    _no_violations(page, "form-error-poll", axe)
    page.get_by_label("Answers", exact=True).fill("The fire station\nThe library")
    page.get_by_role("button", name="Open the poll").click()
    expect(page.get_by_role("heading", name="Where shall we meet in June?")).to_be_visible()


def test_not_taken_forward_without_a_note_says_so_by_the_note(
    site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    conn = open_sync(pg.target(site.db_path))
    try:
        bob = accounts.require_user(conn, "bob@cfn.example")
        idea = write_sync(
            conn,
            ideas.create_idea,
            bob,
            "north",
            "Evening meetings",
            "Meet after work hours.",
            "form-error-idea",
        )["idea"]["id"]
    finally:
        conn.close()
    axe = Axe()
    page = log_in(new_context(), site, "alice@cfn.example")
    page.goto(f"{site.base}/g/north/ideas/{idea}")
    page.get_by_label("New status").select_option(label="Not taken forward")
    page.get_by_role("button", name="Save the status").click()
    expect(page.get_by_role("alert")).to_contain_text("a note is needed")
    expect(page.get_by_label("New status")).to_have_value("not_taken_forward")
    expect(page.get_by_label("Note for members")).to_have_attribute("aria-invalid", "true")
    assert "a note is needed" in _described_by(page, "#status-note")
    _no_violations(page, "form-error-idea-status", axe)
