"""The safety pages in a real browser: a member reports a post by keyboard, the chair hides
it from the review queue, the author reads the private notice, the ground rules page; every
page has zero axe violations at four widths and reflows at 200% text on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from server.domain import accounts
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import PASSWORD, Site, log_in
from tests.browser.test_web_app import _check_page, message_items

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]


def _tab_to(page: Page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's accessible text contains ``name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => (document.activeElement.innerText || document.activeElement.value || '')"
        )
        if name in focused:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_report_review_hide_notice_and_rules_pages_by_keyboard_with_no_axe_violations(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Bus times", "Welcome, everyone.")
    site.post("north", "bob@cfn.example", thread_id, "Ring me on 07700 900123 any time")
    axe = Axe()

    # Carol is not in north; Alice (chair) reports nothing, Bob's post is reported by Alice
    # and hidden by Alice; Bob then reads the notice. A second member does the report.
    alice = log_in(new_context(), site, "alice@cfn.example")
    alice.goto(f"{site.base}/g/north/rules")
    _check_page(alice, "safety-rules-edit", axe)
    alice.get_by_label(re.compile("Ground rules")).fill(
        "Be kind. Keep personal details, like phone numbers, to yourself."
    )
    alice.get_by_role("button", name="Save the ground rules").click()
    expect(alice.get_by_role("status").first).to_be_visible()

    bob = log_in(new_context(), site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north/rules")
    expect(bob.locator("main")).to_contain_text("Be kind.")
    _check_page(bob, "safety-rules-view", axe)

    # Report Alice's welcome (Bob may not report his own), by keyboard only.
    bob.goto(f"{site.base}/g/north/t/{thread_id}")
    report = message_items(bob, "Welcome, everyone.").get_by_role("link", name=re.compile("Report"))
    report.focus()
    bob.keyboard.press("Enter")
    expect(bob.get_by_role("heading", name="Report this post")).to_be_visible()
    _check_page(bob, "safety-report", axe)
    _tab_to(bob, "Send the report")
    bob.keyboard.press("Enter")  # no reason chosen: the same form, one sentence
    expect(bob.locator("main")).to_contain_text("Please choose a reason from the list.")
    _check_page(bob, "safety-report-error", axe)
    bob.get_by_label(re.compile("untrue or misleading", re.I)).check()
    bob.get_by_role("button", name="Send the report").click()
    expect(bob.locator("main")).to_contain_text("Your report has gone to the chair")

    # Alice reviews: the queue, then hiding Bob's phone number from its confirm page.
    alice.goto(f"{site.base}/g/north/review")
    expect(alice.get_by_role("heading", name="Reports to look at")).to_be_visible()
    _check_page(alice, "safety-review-queue", axe)
    rows = site.rows("SELECT id FROM messages WHERE body LIKE '%07700%'")
    alice.goto(f"{site.base}/g/north/t/{thread_id}/m/{rows[0]['id']}/hide")
    expect(alice.get_by_role("heading", name="Hide this post")).to_be_visible()
    _check_page(alice, "safety-hide-confirm", axe)
    alice.get_by_label(re.compile("Personal details", re.I)).focus()
    alice.keyboard.press("Space")
    _tab_to(alice, "Hide the post")
    alice.keyboard.press("Enter")
    expect(alice.locator("main")).to_contain_text("The post is hidden.")

    bob.goto(f"{site.base}/notices")
    expect(bob.get_by_role("heading", name="Notes for you")).to_be_visible()
    expect(bob.locator("main")).to_contain_text("personal details")
    _check_page(bob, "safety-notices", axe)
    _tab_to(bob, "Ask for it to be looked at again")
    bob.keyboard.press("Enter")
    expect(bob.locator("main")).to_contain_text(re.compile("asked|look", re.I))


def _add_user(site: Site, email: str, name: str, role: str) -> None:
    conn = open_sync(pg.target(site.db_path))
    try:
        if accounts.user_by_email(conn, email) is None:
            write_sync(conn, accounts.add_user, email, name, role, PASSWORD)
    finally:
        conn.close()


def test_privacy_about_you_report_and_retention_pages_by_keyboard_with_no_axe_violations(
    site: Site, new_context: Contexts
) -> None:
    axe = Axe()
    visitor = new_context().new_page()
    visitor.goto(site.base + "/login")
    visitor.get_by_role("link", name=re.compile("privacy notice")).click()
    expect(visitor.get_by_role("heading", name="Privacy notice")).to_be_visible()
    _check_page(visitor, "privacy-notice", axe)

    # About you, by keyboard: a radio with Space, then Tab to Save and Enter.
    bob = log_in(new_context(), site, "bob@cfn.example")
    bob.get_by_role("link", name="About you").first.click()
    expect(bob.get_by_role("heading", name="About you")).to_be_visible()
    _check_page(bob, "about-you", axe)
    bob.get_by_label("65 to 74").focus()
    bob.keyboard.press("Space")
    expect(bob.get_by_label("65 to 74")).to_be_checked()
    bob.get_by_role("group", name="Are you an unpaid carer?").get_by_label("Yes").check()
    bob.get_by_role("button", name="Save my answers").focus()
    bob.keyboard.press("Enter")
    expect(bob.get_by_role("status")).to_contain_text("Your answers are saved")
    expect(bob.get_by_label("65 to 74")).to_be_checked()
    _check_page(bob, "about-you-saved", axe)
    bob.get_by_role("button", name="Clear all my answers").click()
    expect(bob.get_by_role("status")).to_contain_text("Your answers are cleared")

    _add_user(site, "nadia@cfn.example", "Nadia Rahman", "staff")
    nadia = log_in(new_context(), site, "nadia@cfn.example")
    nadia.get_by_role("link", name="Participation report").click()
    expect(nadia.get_by_role("heading", name="Participation report")).to_be_visible()
    nadia.get_by_label("Break down by").select_option("sex")
    nadia.get_by_role("button", name="Show the report").click()
    expect(nadia.locator("main")).to_contain_text("Response rate")
    _check_page(nadia, "participation-report", axe)

    _add_user(site, "ada@cfn.example", "Ada Admin", "admin")
    ada = log_in(new_context(), site, "ada@cfn.example")
    ada.get_by_role("link", name="How long messages are kept").click()
    _check_page(ada, "retention-admin", axe)
    north = ada.locator("form#retention-north")
    north.get_by_label("For a number of months").check()
    north.get_by_label(re.compile("Number of months")).fill("0")
    north.get_by_role("button", name=re.compile("Save for")).click()
    expect(ada.get_by_role("alert")).to_contain_text("at least 1 month")
    _check_page(ada, "retention-admin-error", axe)
    north = ada.locator("form#retention-north")
    north.get_by_label(re.compile("Number of months")).fill("24")
    north.get_by_role("button", name=re.compile("Save for")).click()
    expect(ada.get_by_role("status")).to_contain_text("Saved.")

    # The new-thread form's staff-only box, at phone width and 200% text.
    alice = log_in(new_context(), site, "alice@cfn.example")
    alice.goto(site.base + "/g/north")
    expect(alice.get_by_label("Share with staff only")).to_be_visible()
    _check_page(alice, "room-with-staff-only-box", axe)
