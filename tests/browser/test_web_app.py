"""The members' web app in a real Chromium: live chat, offline resume, no-JS reading,
keyboard-only use, outsiders, and axe-core on every page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import (
    Site,
    check_text_at_200_percent,
    log_in,
    screenshot,
    wait_connected,
)

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]


def open_thread(page: Page, site: Site, thread_id: int) -> None:
    page.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(page)


def message_items(page: Page, text: str) -> Any:
    return page.locator("#messages li.message").filter(has_text=text)


def test_two_members_chat_live_both_ways(site: Site, new_context: Contexts) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Agenda for March", "Ideas welcome.")
    alice = log_in(new_context(), site, "alice@cfn.example")
    bob = log_in(new_context(), site, "bob@cfn.example")
    open_thread(alice, site, thread_id)
    open_thread(bob, site, thread_id)
    expect(alice.locator("#online-list")).to_contain_text("Bob Brown")

    alice.get_by_label("Message").fill("Could we **visit** a station?")
    alice.get_by_label("Message").press("Enter")  # Enter sends
    expect(message_items(bob, "Could we visit a station?")).to_have_count(1)
    expect(bob.locator("#messages strong", has_text="visit")).to_have_count(1)
    expect(bob.locator("#announcer")).to_contain_text("New message from Alice Archer")
    expect(message_items(alice, "Could we visit a station?").locator(".msg-state")).to_have_text(
        "Sent"
    )

    box = bob.get_by_label("Message")
    box.fill("Yes please")
    box.press("Shift+Enter")  # Shift+Enter adds a line instead of sending
    box.type("in April")
    expect(box).to_have_value("Yes please\nin April")
    bob.get_by_role("button", name="Send").click()
    expect(message_items(alice, "Yes please")).to_have_count(1)
    expect(alice.locator("#messages li.message").last.locator(".body br")).to_have_count(1)
    assert len(site.rows("SELECT id FROM messages WHERE body = ?", "Yes please\nin April")) == 1
    screenshot(bob, "thread-live")
    # Alice read Bob's reply live, so her home page has nothing new for her.
    alice.wait_for_timeout(2000)  # the read mark is reported after a short pause
    alice.goto(site.base + "/")
    expect(alice.get_by_role("link", name=re.compile("North Yorkshire"))).to_contain_text(
        "No new messages"
    )


def test_offline_member_misses_nothing_and_what_they_wrote_arrives_once(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Leaflet draft", "Draft attached.")
    alice = log_in(new_context(), site, "alice@cfn.example")
    bob_context = new_context()
    bob = log_in(bob_context, site, "bob@cfn.example")
    open_thread(alice, site, thread_id)
    open_thread(bob, site, thread_id)

    bob_context.set_offline(True)
    expect(bob.locator("#conn-state")).to_have_text("Reconnecting…")
    for n in range(1, 6):
        alice.get_by_label("Message").fill(f"Point {n} of five")
        alice.get_by_role("button", name="Send").click()
        expect(message_items(alice, f"Point {n} of five").locator(".msg-state")).to_have_text(
            "Sent"
        )
    bob.get_by_label("Message").fill("Typed while the signal was down")
    bob.get_by_label("Message").press("Enter")
    pending = message_items(bob, "Typed while the signal was down")
    expect(pending.locator(".msg-state")).to_have_text("Sending…")
    expect(message_items(bob, "Point 1 of five")).to_have_count(0)
    screenshot(bob, "thread-offline")

    bob_context.set_offline(False)
    expect(bob.locator("#conn-state")).to_have_text("Connected", timeout=20_000)
    for n in range(1, 6):
        expect(message_items(bob, f"Point {n} of five")).to_have_count(1)
    expect(pending.locator(".msg-state")).to_have_text("Sent")
    expect(message_items(alice, "Typed while the signal was down")).to_have_count(1)
    bob.wait_for_timeout(500)  # a late duplicate would show up here
    for n in range(1, 6):
        expect(message_items(bob, f"Point {n} of five")).to_have_count(1)
    expect(message_items(bob, "Typed while the signal was down")).to_have_count(1)
    stored = site.rows(
        "SELECT id, cid FROM messages WHERE body = ?", "Typed while the signal was down"
    )
    assert len(stored) == 1 and stored[0]["cid"].startswith("w")


def test_what_was_queued_survives_closing_the_tab(site: Site, new_context: Contexts) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Station visit", "Who is coming?")
    context = new_context()
    bob = log_in(context, site, "bob@cfn.example")
    open_thread(bob, site, thread_id)
    context.set_offline(True)
    expect(bob.locator("#conn-state")).to_have_text("Reconnecting…")
    bob.get_by_label("Message").fill("I can come, written on the bus")
    bob.get_by_label("Message").press("Enter")
    expect(message_items(bob, "written on the bus").locator(".msg-state")).to_have_text("Sending…")
    bob.close()  # the tab is gone while offline; the outbox is in localStorage
    assert site.rows("SELECT id FROM messages WHERE body LIKE '%on the bus'") == []

    context.set_offline(False)
    again = context.new_page()
    open_thread(again, site, thread_id)
    expect(message_items(again, "written on the bus")).to_have_count(1)
    expect(message_items(again, "written on the bus").locator(".msg-state")).to_have_text("Sent")
    assert len(site.rows("SELECT id FROM messages WHERE body LIKE '%on the bus'")) == 1


def test_a_member_reads_a_thread_without_javascript(site: Site, new_context: Contexts) -> None:
    bodies = [f"Saved note number {n}" for n in range(1, 36)]
    thread_id = site.thread("north", "alice@cfn.example", "Quality committee notes", *bodies)
    page = log_in(new_context(java_script_enabled=False), site, "bob@cfn.example")
    page.get_by_role("link", name=re.compile("North Yorkshire")).click()
    expect(page.locator("#live")).to_be_hidden()
    page.get_by_role("link", name=re.compile("Quality committee notes")).click()
    # Never read before: it opens at the first page, marked new from the first message.
    expect(page.get_by_role("heading", name="New since your last visit")).to_be_visible()
    expect(page.locator("#messages li.message")).to_have_count(30)
    expect(page.get_by_text("Page 1 of 2").first).to_be_visible()
    screenshot(page, "thread-no-js")
    page.get_by_role("link", name="Later messages").first.click()
    expect(page.locator("#messages li.message")).to_have_count(5)
    expect(page.get_by_text("Saved note number 35")).to_be_visible()

    # A permalink leads to the right page and the message itself.
    first = site.rows("SELECT min(id) AS id FROM messages WHERE thread_id = ?", thread_id)[0]["id"]
    page.goto(f"{site.base}/g/north/t/{thread_id}/m/{first}")
    assert page.url.endswith(f"?page=1#m{first}")
    expect(page.locator(f"#m{first}")).to_contain_text("Saved note number 1")

    # Replying works with a plain form post.
    page.goto(f"{site.base}/g/north/t/{thread_id}?page=2")
    page.get_by_label("Message").fill("Read it all on my tablet, *thank you*")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages em", has_text="thank you")).to_be_visible()

    # Coming back: nothing new, no marker; then the marker sits before what is new.
    page.goto(f"{site.base}/g/north/t/{thread_id}")
    expect(page.get_by_role("heading", name="New since your last visit")).to_have_count(0)
    site.post("north", "alice@cfn.example", thread_id, "Added after Bob's visit")
    page.goto(f"{site.base}/g/north/t/{thread_id}")
    marker_then = page.locator("#new + li.message")
    expect(marker_then).to_contain_text("Added after Bob's visit")


def test_keyboard_alone_logs_in_opens_a_room_and_sends(site: Site, new_context: Contexts) -> None:
    site.thread("north", "alice@cfn.example", "Keyboard thread", "Say hello.")
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(site.base + "/login")

    def tab_to(describe: str, test: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate(test):
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", f"{describe} has no visible focus"
                return
        raise AssertionError(f"Tab never reached {describe}")

    tab_to("the Email field", "document.activeElement.id === 'email'")
    page.keyboard.type("bob@cfn.example")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_url(site.base + "/")
    tab_to("the group link", "document.activeElement.textContent.includes('North Yorkshire')")
    page.keyboard.press("Enter")
    page.wait_for_url(site.base + "/g/north")
    tab_to("the thread link", "document.activeElement.textContent.includes('Keyboard thread')")
    page.keyboard.press("Enter")
    wait_connected(page)
    tab_to("the Message box", "document.activeElement.id === 'body'")
    page.keyboard.type("Hello from the keyboard")
    page.keyboard.press("Enter")
    expect(message_items(page, "Hello from the keyboard").locator(".msg-state")).to_have_text(
        "Sent"
    )


def test_a_new_thread_opens_live_for_everyone(site: Site, new_context: Contexts) -> None:
    alice = log_in(new_context(), site, "alice@cfn.example")
    bob = log_in(new_context(), site, "bob@cfn.example")
    for page in (alice, bob):
        page.goto(site.base + "/g/north")
        wait_connected(page)
    screenshot(bob, "room")
    alice.get_by_role("link", name="Start a new thread").click()
    expect(alice.get_by_label("Title")).to_be_focused()
    alice.get_by_label("Title").fill("Hospital handover times")
    alice.get_by_label("Message").fill("What did you see at the visit?")
    alice.get_by_role("button", name="Start new thread").click()
    alice.wait_for_url(re.compile(r"/g/north/t/\d+$"))
    expect(alice.get_by_role("heading", name="Hospital handover times")).to_be_visible()
    expect(bob.locator("#thread-list li").first).to_contain_text("Hospital handover times")
    expect(bob.locator("#announcer")).to_contain_text("New thread from Alice Archer")


def test_outsiders_get_the_same_plain_404(site: Site, new_context: Contexts) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Members only", "Private words.")
    message_id = site.rows("SELECT id FROM messages WHERE thread_id = ?", thread_id)[0]["id"]
    carol = log_in(new_context(), site, "carol@cfn.example")
    bodies = set()
    for path in (
        "/g/north",
        f"/g/north/t/{thread_id}",
        f"/g/north/t/{thread_id}/m/{message_id}",
        "/g/nowhere",
        f"/g/nowhere/t/{thread_id}",
        f"/g/south/t/{thread_id}",
        "/g/north/t/99999999999999999999",
    ):
        response = carol.goto(site.base + path)
        assert response is not None and response.status == 404, path
        main = carol.locator("main").inner_text()
        assert "Members only" not in carol.content() and "North Yorkshire" not in main
        bodies.add(main)
    assert len(bodies) == 1, bodies
    screenshot(carol, "not-found")


AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    }
}


def _check_page(page: Page, name: str, axe: Axe) -> None:
    for width, height in ((390, 844), (1280, 800), (320, 640), (640, 400)):
        page.set_viewport_size({"width": width, "height": height})
        results = axe.run(page, options=AXE_OPTIONS)
        assert results.response["passes"], "axe did not run"
        assert results.violations_count == 0, f"{name} at {width}px:\n{results.generate_report()}"
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} scrolls sideways at {width}px ({overflow})"
    check_text_at_200_percent(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, name)


def test_axe_finds_no_wcag_violations_on_any_page(site: Site, new_context: Contexts) -> None:
    thread_id = site.thread(
        "north",
        "alice@cfn.example",
        "Accessible *thread*",
        *[f"Message {n} with a [link](https://example.org/{n})" for n in range(1, 34)],
    )
    axe = Axe()
    context = new_context()
    page = context.new_page()
    page.goto(site.base + "/login")
    _check_page(page, "login", axe)
    page.get_by_label("Email").fill("bob@cfn.example")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    _check_page(page, "login-error", axe)
    page = log_in(context, site, "bob@cfn.example")
    _check_page(page, "home", axe)
    page.goto(site.base + "/g/north")
    wait_connected(page)
    _check_page(page, "room-live", axe)
    page.goto(f"{site.base}/g/north/t/{thread_id}?page=1")
    wait_connected(page)
    _check_page(page, "thread-page-1", axe)
    page.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(page)
    _check_page(page, "thread-latest", axe)
    page.goto(site.base + "/g/nowhere")
    _check_page(page, "not-found", axe)
    page.goto(site.base + "/login")  # logged in: goes home
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You have logged out")
    _check_page(page, "logged-out", axe)


def test_a_member_whose_session_ended_is_asked_to_log_in_again(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Session thread", "Hello.")
    context = new_context()
    bob = log_in(context, site, "bob@cfn.example")
    open_thread(bob, site, thread_id)
    with site.db() as conn:  # as if the session expired, or an admin ended it
        conn.execute(
            "DELETE FROM sessions WHERE user_id ="
            " (SELECT id FROM users WHERE email = 'bob@cfn.example')"
        )
    context.set_offline(True)  # the line drops; the new socket will be refused
    expect(bob.locator("#conn-state")).to_have_text("Reconnecting…")
    bob.get_by_label("Message").fill("Kept for later")
    bob.get_by_label("Message").press("Enter")
    context.set_offline(False)
    expect(bob.get_by_role("link", name="Log in again")).to_be_visible(timeout=15_000)
    assert site.rows("SELECT id FROM messages WHERE body = 'Kept for later'") == []
    bob.get_by_role("link", name="Log in again").click()
    bob.get_by_label("Email").fill("bob@cfn.example")
    bob.get_by_label("Password").fill("correct horse battery")
    bob.get_by_role("button", name="Log in").click()
    bob.wait_for_url(re.compile(rf"/g/north/t/{thread_id}"))
    expect(message_items(bob, "Kept for later")).to_have_count(1)
    expect(message_items(bob, "Kept for later").locator(".msg-state")).to_have_text("Sent")
    assert len(site.rows("SELECT id FROM messages WHERE body = 'Kept for later'")) == 1


def test_live_messages_show_light_markdown_and_never_raw_html(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Formatting", "Try it.")
    alice = log_in(new_context(), site, "alice@cfn.example")
    bob = log_in(new_context(), site, "bob@cfn.example")
    open_thread(alice, site, thread_id)
    open_thread(bob, site, thread_id)
    text = (
        "**Bold** and _soft_ <img src=x onerror=\"document.title='owned'\">\n"
        "- first\n- second\n\n[good](https://example.org) [bad](javascript:alert(1))"
    )
    alice.get_by_label("Message").fill(text)
    alice.get_by_role("button", name="Send").click()
    live = message_items(bob, "Bold and soft")
    expect(live).to_have_count(1)
    for page in (bob, alice):
        item = message_items(page, "Bold and soft")
        expect(item.locator("strong")).to_have_text("Bold")
        expect(item.locator("em")).to_have_text("soft")
        expect(item.locator("li")).to_have_count(2)
        expect(item.locator("img")).to_have_count(0)
        expect(item.locator("a[href='https://example.org']")).to_have_attribute(
            "rel", "noopener nofollow ugc"
        )
        expect(item.locator("a[href^='javascript']")).to_have_count(0)
        expect(item).to_contain_text("<img src=x")  # shown as the text it is
    assert bob.title() != "owned"
    bob.reload()  # the server renders the same message the same safe way
    saved = message_items(bob, "Bold and soft")
    expect(saved.locator("strong")).to_have_text("Bold")
    expect(saved.locator("li")).to_have_count(2)
    expect(saved.locator("img")).to_have_count(0)


LINK_SAMPLES = (
    "See https://example.org/a?b=1. Thanks",
    "(https://nhs.example/x_(y)) and http://example.org, then https://example.com/path!",
    "**https://bold.example/x** and https://a.example/x_y_z and <https://angle.example>",
    "javascript:alert(1) JAVASCRIPT:alert(1) data:text/html,hi hxxp://evil.example",
    "https:/evil.example www.evil.example a@evil.example xhttps://evil.example",
    "ftp://evil.example //evil.example https://аpple.example/login [x](https://ok.example)",
)


def _links(item: Any) -> list[tuple[str, str, str]]:
    return item.evaluate(
        "(li) => [...li.querySelectorAll('.body a')].map((a) => [a.textContent, a.href, a.rel])"
    )


def test_bare_addresses_link_the_same_live_and_after_a_reload(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Useful links", "Add yours.")
    alice = log_in(new_context(), site, "alice@cfn.example")
    bob = log_in(new_context(), site, "bob@cfn.example")
    open_thread(alice, site, thread_id)
    open_thread(bob, site, thread_id)
    for n, text in enumerate(LINK_SAMPLES):
        alice.get_by_label("Message").fill(f"Sample {n}: {text}")
        alice.get_by_role("button", name="Send").click()
        expect(message_items(bob, f"Sample {n}:")).to_have_count(1)
    live = [
        (
            _links(message_items(bob, f"Sample {n}:")),
            message_items(bob, f"Sample {n}:").locator(".body").inner_text(),
        )
        for n in range(len(LINK_SAMPLES))
    ]
    assert [text for text, _, _ in live[0][0]] == ["https://example.org/a?b=1"]
    assert live[3][0] == [] and live[4][0] == []
    assert [text for text, _, _ in live[5][0]] == ["x"]
    assert {rel for links, _ in live for _, _, rel in links} == {"noopener nofollow ugc"}
    bob.reload()
    saved = [
        (
            _links(message_items(bob, f"Sample {n}:")),
            message_items(bob, f"Sample {n}:").locator(".body").inner_text(),
        )
        for n in range(len(LINK_SAMPLES))
    ]
    assert saved == live
