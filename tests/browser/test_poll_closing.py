"""The new-poll form's closing date and time in a real Chromium: a date already past is
shown again with one sentence and what was typed; a later one opens the poll, whose page
says when it closes; axe-core finds nothing on either page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import Site, log_in
from tests.browser.test_polls_ideas import _axe

pytestmark = pytest.mark.browser
Contexts = Callable[..., BrowserContext]


def test_a_chair_sets_a_closing_time_a_past_one_is_explained_and_the_poll_says_when(
    site: Site, new_context: Contexts
) -> None:
    page = log_in(new_context(), site, "alice@cfn.example")
    page.goto(site.base + "/g/north/polls")
    page.get_by_label("Question", exact=True).fill("Which day suits the visit?")
    page.get_by_label("Answers", exact=True).fill("Monday\nTuesday")
    page.get_by_label("Closing date").fill("2020-12-08")
    page.get_by_label("Closing time").fill("19:00")
    page.get_by_role("button", name="Open the poll").click()
    expect(page.locator("#new-poll-closes_at-error")).to_contain_text(
        "That closing time has already passed."
    )
    expect(page.get_by_label("Question", exact=True)).to_have_value("Which day suits the visit?")
    expect(page.get_by_label("Closing date")).to_have_value("2020-12-08")
    expect(page.get_by_label("Closing date")).to_have_attribute("aria-invalid", "true")
    _axe(page, "poll-closing-mistake", Axe())
    day = date.today() + timedelta(days=5)
    page.get_by_label("Closing date").fill(day.isoformat())
    page.get_by_label("Closing time").focus()
    page.keyboard.press("Enter")  # submits the form, as a keyboard user would
    page.wait_for_url(f"{site.base}/g/north/polls#poll-*")
    year = f" {day.year}" if day.year != date.today().year else ""
    words = f"Closes on {day:%A} {day.day} {day:%B}{year} at 7pm"
    expect(page.get_by_text(words).first).to_be_visible()
    page.get_by_role("link", name="Which day suits the visit?").first.click()
    expect(page.get_by_text(words)).to_be_visible()
    _axe(page, "poll-closing-page", Axe())
