"""A chair hides a post that breaks the ground rules, and an author edits or removes their
own, from the web pages: each asks first, works without JavaScript, and reaches the live room."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import Site, log_in, wait_connected
from tests.browser.test_web_app import _check_page, message_items

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]


def test_the_chair_hides_a_post_after_confirming_and_watchers_see_why(
    site: Site, new_context: Contexts
) -> None:
    """Since issue 15 a chair hides (reversibly, with a reason) instead of removing."""
    thread_id = site.thread(
        "north", "alice@cfn.example", "Ground rules check", "Welcome, everyone."
    )
    site.post("north", "bob@cfn.example", thread_id, "Something that breaks the rules")
    bob = log_in(new_context(), site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(bob)
    welcome = message_items(bob, "Welcome, everyone.")
    expect(welcome.get_by_role("link", name=re.compile("Remove|Hide"))).to_have_count(0)
    expect(welcome.get_by_role("link", name=re.compile("Report"))).to_have_count(1)

    alice = log_in(new_context(viewport={"width": 1280, "height": 800}), site, "alice@cfn.example")
    alice.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(alice)
    expect(
        message_items(alice, "breaks the rules").get_by_role("link", name=re.compile("Remove"))
    ).to_have_count(0)
    # Keyboard only: tab to the message's Hide, then answer the question.
    hide = message_items(alice, "breaks the rules").get_by_role(
        "link", name=re.compile("Hide the message from Bob Brown")
    )
    hide.focus()
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("heading", name="Hide this post")).to_be_visible()
    expect(alice.locator("blockquote")).to_contain_text("Something that breaks the rules")
    alice.get_by_label("Against the ground rules").check()
    alice.get_by_role("button", name="Hide the post").click()

    expect(alice.locator("p.notice[role=status]")).to_contain_text("The post is hidden.")
    gone = bob.locator("#messages li.message").nth(1)
    expect(gone).to_contain_text("Hidden by the chair: against the ground rules")  # live
    expect(bob.locator("#messages")).not_to_contain_text("breaks the rules")
    rows = site.rows("SELECT action FROM audit_log WHERE action = 'message.hidden'")
    assert rows, "a hiding is audited"

    # A message that arrives live carries the same choices: the author's and the chair's.
    bob.get_by_label("Message").fill("Sorry, I will keep to the rules")
    bob.get_by_role("button", name="Send").click()
    expect(
        message_items(bob, "keep to the rules").get_by_role("link", name="Edit your message")
    ).to_be_visible()
    expect(
        message_items(alice, "keep to the rules").get_by_role(
            "link", name="Hide the message from Bob Brown"
        )
    ).to_be_visible()


def test_an_author_edits_and_removes_their_own_message_without_javascript(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Leaflet draft", "Draft one.")
    site.post("north", "bob@cfn.example", thread_id, "I like it, thanks")
    bob = log_in(new_context(java_script_enabled=False), site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north/t/{thread_id}")
    mine = message_items(bob, "I like it")
    mine.get_by_role("link", name="Edit your message").click()
    expect(bob.get_by_label("Your message")).to_have_value("I like it, thanks")
    bob.get_by_label("Your message").fill("I like it, *but* the print is small")
    bob.get_by_role("button", name="Save changes").click()
    edited = message_items(bob, "the print is small")
    expect(edited.locator("em")).to_have_text("but")
    expect(edited).to_contain_text("Edited")
    expect(bob.locator("p.notice[role=status]")).to_have_text("Your changes have been saved.")

    edited.get_by_role("link", name="Remove your message").click()
    bob.get_by_role("button", name="Yes, remove it").click()
    expect(bob.locator("#messages")).not_to_contain_text("the print is small")
    expect(bob.locator("#messages")).to_contain_text("This message was deleted.")
    expect(bob.locator("p.notice[role=status]")).to_have_text("The message has been removed.")


def test_removing_needs_the_form_token_and_the_right_person(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Chair's post", "Please read this.")
    mid = site.rows("SELECT max(id) AS id FROM messages WHERE thread_id = ?", thread_id)[0]["id"]
    bob = log_in(new_context(), site, "bob@cfn.example")
    url = f"{site.base}/g/north/t/{thread_id}/m/{mid}/remove"
    asked = bob.goto(url)
    assert asked is not None and asked.status == 403
    expect(bob.locator("main")).to_contain_text("chair")
    posted = bob.request.post(url, form={"csrf": "wrong"})
    assert posted.status == 403
    carol = log_in(new_context(), site, "carol@cfn.example")  # not in the group at all
    outsider = carol.goto(url)
    assert outsider is not None and outsider.status == 404
    expect(carol.locator("main")).to_contain_text("ask your group’s coordinator")
    assert site.rows("SELECT deleted_at FROM messages WHERE id = ?", mid)[0][0] is None


def test_axe_finds_no_violations_on_the_remove_and_edit_pages(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "bob@cfn.example", "Axe check", "My *own* words")
    mid = site.rows("SELECT max(id) AS id FROM messages WHERE thread_id = ?", thread_id)[0]["id"]
    axe = Axe()
    bob = log_in(new_context(), site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north")
    expect(bob.locator(f"li[data-thread='{thread_id}']")).to_contain_text("Started by you")
    bob.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(bob)
    _check_page(bob, "thread-with-actions", axe)
    bob.goto(f"{site.base}/g/north/t/{thread_id}/m/{mid}/remove")
    _check_page(bob, "message-remove", axe)
    bob.goto(f"{site.base}/g/north/t/{thread_id}/m/{mid}/edit")
    _check_page(bob, "message-edit", axe)


def test_on_a_touch_phone_enter_makes_a_new_line_and_send_sends(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Phone typing", "Hello.")
    phone = log_in(new_context(has_touch=True, is_mobile=True), site, "bob@cfn.example")
    phone.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(phone)
    expect(phone.locator("#composer-hint")).to_be_hidden()
    box = phone.get_by_label("Message")
    box.fill("First line")
    box.press("Enter")
    box.press_sequentially("second line")
    expect(box).to_have_value("First line\nsecond line")
    phone.get_by_role("button", name="Send").click()
    expect(message_items(phone, "second line")).to_contain_text("Sent")


def test_a_member_can_list_only_the_threads_they_started_or_wrote_in(
    site: Site, new_context: Contexts
) -> None:
    started = site.thread("north", "bob@cfn.example", "Bob's own question", "Mine.")
    joined = site.thread("north", "alice@cfn.example", "Alice asks, Bob answers", "Any views?")
    site.post("north", "bob@cfn.example", joined, "Yes, one.")
    other = site.thread("north", "alice@cfn.example", "Only Alice here", "Just me.")
    bob = log_in(new_context(java_script_enabled=False), site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north")
    expect(bob.locator(f"li[data-thread='{other}']")).to_have_count(1)
    bob.get_by_role("link", name="Show only threads you started or wrote in").click()
    expect(bob.locator(f"li[data-thread='{started}']")).to_contain_text("Started by you")
    expect(bob.locator(f"li[data-thread='{joined}']")).to_have_count(1)
    expect(bob.locator(f"li[data-thread='{other}']")).to_have_count(0)
    bob.get_by_role("link", name="Show all threads").click()
    expect(bob.locator(f"li[data-thread='{other}']")).to_have_count(1)


def test_when_the_connection_drops_the_page_says_what_to_do_in_words(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Signal drops", "Hello.")
    context = new_context()
    bob = log_in(context, site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(bob)
    hint = bob.locator(".conn-hint")
    expect(hint).to_be_hidden()
    context.set_offline(True)
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("what you write is kept")
    context.set_offline(False)
    wait_connected(bob)
    expect(hint).to_be_hidden()
