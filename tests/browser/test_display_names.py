"""A member's name in a group in a real browser: set, refused, changed and cleared by
keyboard alone; the page and the profile's list have zero axe violations at every width
and reflow at 200% text on a phone; another member then sees only the group name."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Site, log_in
from tests.browser.test_web_app import _check_page

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]


def _tab_to(page: Page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's accessible text contains ``name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => (document.activeElement.innerText || document.activeElement.value"
            " || document.activeElement.labels?.[0]?.innerText || '')"
        )
        if name in focused:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def _type_name(page: Page, label: str, name: str) -> None:
    """Reach the name field by Tab, replace what is there and send the form with Enter."""
    field = page.get_by_label(label)
    for _ in range(60):
        page.keyboard.press("Tab")
        if field.evaluate("(e) => e === document.activeElement"):
            break
    else:
        raise AssertionError(f"Tab never reached the field {label!r}")
    page.keyboard.press("Control+A")
    page.keyboard.type(name)
    page.keyboard.press("Enter")


def test_a_member_sets_changes_and_clears_a_group_name_by_keyboard(
    site: Site, new_context: Contexts
) -> None:
    axe = Axe()
    thread_id = site.thread("north", "bob@cfn.example", "Hello", "A first post from Bob")
    bob = log_in(new_context(), site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north")
    _tab_to(bob, "Your name here")
    bob.keyboard.press("Enter")
    expect(bob.get_by_role("heading", name="Your name in this group")).to_be_visible()
    _check_page(bob, "group-name", axe)

    # A name another member is shown by: the same form, what was typed, one sentence.
    _type_name(bob, "The name to use in this group", "Alice Archer")
    expect(bob.locator("main")).to_contain_text("Someone in this group already goes by")
    expect(bob.get_by_label("The name to use in this group")).to_have_value("Alice Archer")
    _check_page(bob, "group-name-error", axe)

    _type_name(bob, "The name to use in this group", "Blue Heron")
    expect(bob.get_by_role("status")).to_contain_text("Saved.")
    expect(bob.locator("main")).to_contain_text("other members see you as Blue Heron")
    _check_page(bob, "group-name-set", axe)

    _type_name(bob, "Change your name in this group", "Grey Heron")
    expect(bob.locator("main")).to_contain_text("other members see you as Grey Heron")

    alice = log_in(new_context(), site, "alice@cfn.example")
    alice.goto(f"{site.base}/g/north/t/{thread_id}")
    expect(alice.locator("main")).to_contain_text("Grey Heron")
    assert "Bob Brown" not in alice.locator("main").inner_text()

    bob.goto(f"{site.base}/profile")
    expect(bob.get_by_role("heading", name="My name in each group")).to_be_visible()
    expect(bob.locator("main")).to_contain_text("Others there see you as Grey Heron")
    _check_page(bob, "profile-group-names", axe)

    bob.goto(f"{site.base}/g/north/name")
    _tab_to(bob, "Use my full name here again")
    bob.keyboard.press("Enter")
    expect(bob.get_by_role("status")).to_contain_text("Cleared.")
    expect(bob.locator("main")).to_contain_text("other members see your full name")
    assert site.rows("SELECT name FROM display_names") == []
