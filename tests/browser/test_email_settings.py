"""Email settings and the unsubscribe page in a real Chromium: a member chooses a daily
summary and reply emails by keyboard alone; an email's unsubscribe link, opened with no
login, offers the gentler choice first and takes it by keyboard; axe-core finds nothing on
either page at phone, laptop and 320 px widths, nor with text at 200%."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from server.domain import accounts, email_prefs
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import Site, log_in
from tests.browser.test_polls_ideas import _axe

pytestmark = pytest.mark.browser
Contexts = Callable[..., BrowserContext]

FOCUSED = """() => {
    const e = document.activeElement;
    const label = e.labels && e.labels.length ? e.labels[0].innerText : '';
    return (label || e.innerText || e.value || '').trim();
}"""


def tab_to(page: Page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused control is called ``name`` (its label or its text)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED) == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def _token(site: Site, email: str, digest: str, list_name: str) -> str:
    """What an email's unsubscribe link carries, for a member with these settings."""
    conn = open_sync(pg.target(site.db_path))
    try:
        who = accounts.require_user(conn, email)
        write_sync(conn, email_prefs.save, who, digest, True, False, True, "Europe/London")
        return str(write_sync(conn, email_prefs.new_token, who.id, list_name))
    finally:
        conn.close()


def _prefs(site: Site, email: str) -> email_prefs.Prefs:
    conn = open_sync(pg.target(site.db_path))
    try:
        return email_prefs.prefs_of(conn, accounts.require_user(conn, email).id)
    finally:
        conn.close()


def test_a_member_chooses_a_daily_summary_and_reply_emails_by_keyboard(
    site: Site, new_context: Contexts
) -> None:
    page = log_in(new_context(), site, "bob@cfn.example")
    page.goto(site.base + "/profile")
    tab_to(page, "Emails we send me")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Emails we send you")).to_be_visible()
    expect(page.get_by_text("You have not chosen yet")).to_be_visible()
    tab_to(page, "Never")  # the radio group: Tab lands on the chosen one
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Once a day")).to_be_checked()
    tab_to(page, email_prefs.IMMEDIATE["on_reply"])
    page.keyboard.press("Space")
    tab_to(page, "Save my email settings")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Your email settings are saved.")
    expect(page.get_by_label("Once a day")).to_be_checked()
    expect(page.get_by_label(email_prefs.IMMEDIATE["on_reply"])).to_be_checked()
    saved = _prefs(site, "bob@cfn.example")
    assert (saved.digest, saved.on_reply, saved.on_poll, saved.on_meeting) == (
        "daily",
        True,
        False,
        False,
    )


def test_the_unsubscribe_link_offers_weekly_first_and_takes_it_by_keyboard_with_no_login(
    site: Site, new_context: Contexts
) -> None:
    token = _token(site, "carol@cfn.example", "daily", "digest")
    page = new_context().new_page()  # no session: the link is the whole permission
    page.goto(f"{site.base}/unsubscribe/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fewer emails, Carol Carter?")
    choices = page.get_by_role("radio")
    expect(choices).to_have_count(3)
    expect(choices.nth(0)).to_have_accessible_name("A summary once a week instead")
    expect(choices.nth(0)).to_be_checked()
    expect(choices.nth(2)).to_have_accessible_name("No email at all")
    tab_to(page, "Save my choice")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your email settings are changed")
    expect(page.get_by_text("Summary: Once a week")).to_be_visible()
    assert _prefs(site, "carol@cfn.example").digest == "weekly"


def test_axe_finds_no_violations_on_the_email_settings_and_unsubscribe_pages(
    site: Site, new_context: Contexts
) -> None:
    axe = Axe()
    page = log_in(new_context(), site, "alice@cfn.example")
    page.goto(site.base + "/me/email")
    _axe(page, "email-settings", axe)
    page.get_by_label("Once a week").check()
    page.get_by_role("button", name="Save my email settings").click()
    expect(page.get_by_role("status")).to_be_visible()
    _axe(page, "email-settings-saved", axe)

    token = _token(site, "alice@cfn.example", "daily", "reply")
    anonymous = new_context().new_page()
    anonymous.goto(f"{site.base}/unsubscribe/{token}")
    _axe(anonymous, "unsubscribe", axe)
    anonymous.get_by_label("No email at all").check()
    anonymous.get_by_role("button", name="Save my choice").click()
    expect(anonymous.get_by_role("heading", level=1)).to_have_text(
        "Your email settings are changed"
    )
    _axe(anonymous, "unsubscribe-done", axe)
    anonymous.goto(f"{site.base}/unsubscribe/not-a-real-token")
    _axe(anonymous, "unsubscribe-unknown", axe)
