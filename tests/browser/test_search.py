"""Search in a real browser: from the header's box by keyboard alone to a result and on to
the message it names; the filters and a mistake; zero axe violations at every width, no
sideways scrolling at 200% text on a phone; and all of it with JavaScript off."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Site, log_in
from tests.browser.test_web_app import _check_page

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]


def _tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_member_searches_from_the_header_by_keyboard_and_opens_the_message(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread(
        "north",
        "alice@cfn.example",
        "Discharge leaflet draft",
        "Here is the first draft of the discharge leaflet.",
        "Could the leaflet use larger print for older readers?",
    )
    axe = Axe()
    page = log_in(new_context(), site, "bob@cfn.example")
    _tab_to(page, "#header-q")
    page.keyboard.type("leaflet print")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("1 result"))).to_be_visible()
    expect(page.locator(".search-results mark").first).to_have_text(re.compile("leaflet", re.I))
    _check_page(page, "search-results", axe)
    _tab_to(page, ".search-results a.card-link")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/g/north/t/{thread_id}"))
    expect(page.locator("main")).to_contain_text("Could the leaflet use larger print")


def test_the_filters_and_a_mistake_read_well_at_every_width(
    site: Site, new_context: Contexts
) -> None:
    site.thread("north", "alice@cfn.example", "Station visit", "The station visit was useful.")
    axe = Axe()
    page = log_in(new_context(), site, "bob@cfn.example")
    page.goto(f"{site.base}/search")
    expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
    _check_page(page, "search-form", axe)
    page.get_by_text("Narrow the search").click()
    page.get_by_label("Group", exact=True).select_option(label="North Yorkshire")
    page.get_by_label("Written by").select_option(label="Alice Archer")
    page.get_by_label("Words to look for").fill("station")
    page.get_by_role("button", name="Search", exact=True).last.click()
    expect(page.locator(".search-results")).to_contain_text("station visit was useful")
    _check_page(page, "search-filtered", axe)
    page.get_by_label("Words to look for").fill('"')
    page.locator("#search").get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("Please type a word to look for.")
    _check_page(page, "search-error", axe)


def test_search_works_with_javascript_off(site: Site, new_context: Contexts) -> None:
    site.thread("north", "alice@cfn.example", "Hearing loop", "The hearing loop was switched off.")
    page = log_in(new_context(java_script_enabled=False), site, "bob@cfn.example")
    box = page.get_by_role("searchbox", name="Search", exact=True)
    box.fill("hearing loop")
    box.press("Enter")
    results = page.locator(".search-results")
    expect(results).to_contain_text("switched off")
    expect(results.locator("mark").first).to_have_text(re.compile("hearing", re.I))
