"""A meeting in real browsers: a chair and two members in three contexts run it through
three items, the bar moving live and announced; a fourth member, offline throughout, reads
the catch-up pack with JavaScript off, votes in the poll from item 2 afterwards, and her
comment after the chair locks the minutes is refused with a clear message. Every meeting
page passes axe-core at phone and laptop widths and reflows at 200% text."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from server.domain import accounts, ideas, meetings, polls
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import (
    PASSWORD,
    Site,
    check_text_at_200_percent,
    log_in,
    screenshot,
    wait_connected,
)

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]
DAY = 86_400_000
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    }
}


def _axe(page: Page, name: str) -> None:
    axe = Axe()
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


@pytest.fixture(scope="module")
def arranged(site: Site) -> dict[str, Any]:
    """Dave, Erin and Frank join north. A previous meeting (three weeks ago) raised an idea
    and set an action, since done. The meeting to run has three accepted items; Bob and
    Dave replied (only Bob agreed to be named), Erin can't come and sent a view on item 2,
    Frank said nothing and stays offline."""
    conn = open_sync(pg.target(site.db_path))
    try:
        for local, name in (
            ("dave", "Dave Dixon"),
            ("erin", "Erin Evans"),
            ("frank", "Frank Field"),
        ):
            email = f"{local}@cfn.example"
            if accounts.user_by_email(conn, email) is None:
                write_sync(conn, accounts.add_user, email, name, "member", PASSWORD)
                write_sync(conn, accounts.add_member, "north", email, "member")
        who = {
            k: accounts.require_user(conn, f"{k}@cfn.example")
            for k in ("alice", "bob", "dave", "erin", "frank")
        }
        alice = who["alice"]
        now = int(time.time() * 1000)
        then = now - 21 * DAY
        before = write_sync(
            conn, meetings.schedule, alice, "north", "Summer meeting", then + 1, "online", at=then
        )["meeting"]["id"]
        old = write_sync(
            conn,
            meetings.propose_item,
            alice,
            before,
            "Leaflet",
            "The falls leaflet.",
            "decision",
            at=then,
        )["item"]["id"]
        write_sync(conn, meetings.decide_item, alice, old, "accept", at=then)
        write_sync(conn, meetings.start, alice, before, at=then + 2)
        idea = write_sync(
            conn,
            ideas.create_idea,
            who["bob"],
            "north",
            "Large-print leaflet",
            "b",
            "old-idea",
            at=then + 3,
        )["idea"]["id"]
        action = write_sync(
            conn,
            meetings.add_action,
            alice,
            old,
            "Ask the print team",
            None,
            then + DAY,
            at=then + 4,
        )["action"]["id"]
        write_sync(conn, meetings.end, alice, before, at=then + 5)
        write_sync(conn, meetings.action_done, alice, action, at=then + DAY)
        write_sync(
            conn,
            ideas.set_status,
            alice,
            idea,
            "adopted",
            "The print team will make it.",
            at=then + DAY + 1,
        )
        meeting = write_sync(
            conn,
            partial(meetings.schedule, place="Thirsk hall", step_free=True),
            alice,
            "north",
            "Winter meeting",
            now + 60_000,
            "hybrid",
        )["meeting"]["id"]
        items = []
        for title, summary, kind in (
            ("Welcome", "Who is here today.", "information"),
            ("Falls response times", "Rural waits after a fall.", "decision"),
            ("Control room visit", "What we saw on the visit.", "discussion"),
        ):
            item = write_sync(
                conn, meetings.propose_item, who["bob"], meeting, title, summary, kind
            )
            write_sync(conn, meetings.decide_item, alice, item["item"]["id"], "accept")
            items.append(item["item"]["id"])
        write_sync(conn, meetings.reply, who["bob"], meeting, "online", "post", [], True)
        write_sync(conn, meetings.reply, who["dave"], meeting, "online", None, [], False)
        write_sync(conn, meetings.reply, who["erin"], meeting, "cant_come", "large_print", ["bsl"])
        write_sync(conn, meetings.add_view, who["erin"], items[1], "Rural waits frighten my mum.")
        return {"meeting": meeting, "items": items, "users": who}
    finally:
        conn.close()


def open_room(context: BrowserContext, site: Site, email: str) -> Page:
    page = log_in(context, site, email)
    page.goto(site.base + "/g/north")
    wait_connected(page)
    return page


def _live_item(pages: list[Page], words: str) -> None:
    for p in pages:
        expect(p.locator("#meeting-now")).to_contain_text(words)
        expect(p.locator("#announcer")).to_contain_text(words)


def _wait_rows(site: Site, sql: str, *params: Any, at_least: int = 1) -> int:
    for _ in range(100):
        n = int(site.rows(sql, *params)[0][0])
        if n >= at_least:
            return n
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} rows for {sql}")


def test_three_people_run_a_meeting_and_an_offline_member_catches_up_without_javascript(
    site: Site, new_context: Contexts, arranged: dict[str, Any]
) -> None:
    meeting, items, who = arranged["meeting"], arranged["items"], arranged["users"]
    base = f"{site.base}/g/north/meetings/{meeting}"
    alice = log_in(new_context(), site, "alice@cfn.example")
    bob = open_room(new_context(), site, "bob@cfn.example")
    dave = open_room(new_context(), site, "dave@cfn.example")
    expect(bob.locator("#meeting-bar-heading")).to_contain_text("Next meeting:")
    expect(bob.locator("#meeting-bar-heading")).to_contain_text("day ")

    # before: the chair's agenda page with the needs checklist; a member's reply form
    alice.goto(base)
    expect(alice.locator(".checklist")).to_contain_text("1 wants papers by post: Bob Brown")
    expect(alice.locator(".checklist")).to_contain_text("1 needs a BSL interpreter: Erin Evans")
    _axe(alice, "meeting-chair")
    member_page = bob.context.new_page()
    member_page.goto(base)
    expect(member_page.get_by_role("heading", name="Will you come?")).to_be_visible()
    _axe(member_page, "meeting-member")
    member_page.goto(f"{site.base}/g/north/meetings")
    _axe(member_page, "meetings-list")
    member_page.close()

    # the chair starts the meeting from the run page, by keyboard
    alice.goto(base + "/run")
    start = alice.get_by_role("button", name="Start the meeting")
    start.focus()
    alice.keyboard.press("Enter")
    expect(alice.locator(".now-item")).to_contain_text("Item 1 of 3: Welcome – for information")
    _live_item([bob, dave], "Item 1 of 3: Welcome – for information")
    # bob and dave were in the room when it started: recorded as there online
    _wait_rows(
        site,
        "SELECT count(*) FROM meeting_attendance WHERE meeting_id = ? AND mode = 'online'",
        meeting,
        at_least=2,
    )

    # bob starts a thread during item 1: it belongs to the item
    bob.get_by_label("Title").fill("Hello from home")
    bob.get_by_label("Message").fill("I can hear everyone clearly.")
    bob.get_by_role("button", name="Start new thread").click()
    _wait_rows(site, "SELECT count(*) FROM meeting_item_messages WHERE item_id = ?", items[0])
    bob.wait_for_url("**/t/**")  # the new thread opens; the bar follows him there
    wait_connected(bob)
    expect(bob.locator("#meeting-now")).to_contain_text("Item 1 of 3")

    next_button = alice.get_by_role("button", name="Next item")
    next_button.focus()
    alice.keyboard.press("Enter")
    expect(alice.locator(".now-item")).to_contain_text("Item 2 of 3: Falls response times")
    expect(alice.locator(".views-now")).to_contain_text("Rural waits frighten my mum. – Erin Evans")
    _live_item([bob, dave], "Item 2 of 3: Falls response times – for decision")

    # a poll opened during item 2 belongs to it; two vote now
    conn = open_sync(pg.target(site.db_path))
    try:
        poll = write_sync(
            conn,
            polls.create_poll,
            who["alice"],
            "north",
            "Ask for rural figures?",
            ["Yes", "No"],
            "single",
            True,
        )["poll"]["id"]
        for voter in ("bob", "dave"):
            write_sync(conn, polls.vote, who[voter], poll, [0])
    finally:
        conn.close()
    alice.reload()
    alice.get_by_label("Outcome of “Falls response times”").select_option("decided")
    alice.get_by_label("Outcome in one line").fill("We ask for the rural figures.")
    alice.get_by_role("button", name="Save the outcome").click()
    expect(alice.get_by_role("status")).to_contain_text("The outcome is saved.")
    alice.get_by_label("New action: what is to be done").fill("Write to the trust")
    alice.get_by_label("Who will do it").select_option(label="Bob Brown")
    alice.get_by_label("Due by").fill("2031-03-01")
    alice.get_by_role("button", name="Add the action").click()
    expect(alice.get_by_role("status")).to_contain_text("The action is added.")
    # the chair is in the room in person: she ticks herself
    row = alice.locator(f"#person-{who['alice'].id}")
    row.get_by_label("Alice Archer is").select_option("in_room")
    row.get_by_role("button", name="Save for Alice Archer").click()
    expect(alice.get_by_role("status")).to_contain_text("Attendance is saved.")
    _axe(alice, "meeting-run")

    alice.get_by_role("button", name="Next item").click()
    _live_item([bob, dave], "Item 3 of 3: Control room visit – for discussion")
    conn = open_sync(pg.target(site.db_path))
    try:
        write_sync(
            conn, ideas.create_idea, who["dave"], "north", "Visit a rural station", "b", "v1"
        )
    finally:
        conn.close()
    alice.get_by_role("button", name="End the meeting").click()
    expect(alice.get_by_role("status")).to_contain_text("The meeting has ended.")
    for p in (bob, dave):
        expect(p.locator("#meeting-bar-heading")).to_have_text("The meeting has ended")
        expect(p.locator("#announcer")).to_contain_text("The meeting has ended")

    # frank, offline the whole time, reads the pack with JavaScript off
    frank_context = new_context(java_script_enabled=False)
    frank = log_in(frank_context, site, "frank@cfn.example")
    frank.goto(base + "/pack")
    words = " ".join((frank.locator("main").text_content() or "").split())
    for expected in (
        "Draft minutes",
        "1. Welcome – for information",
        "In short: Rural waits after a fall.",
        "Views sent in before the meeting Rural waits frighten my mum. – Erin Evans",
        "I can hear everyone clearly.",
        "Ask for rural figures? (still open: you can vote)",
        "2 members voted so far. The results are shown once 5 members have voted",
        "Visit a rural station",
        "Outcome: Decided. We ask for the rural figures.",
        "Write to the trust – Bob Brown",
        "3 members took part: 2 online, 1 in the room.",
        "those happy to be named: Bob Brown.",
        "What happened to what you said",
        "Large-print leaflet: Adopted – The print team will make it.",
        "Ask the print team",
    ):
        assert expected in words, expected
    assert "Dave Dixon." not in words.split("Who took part")[1].split("What you can")[0]
    # each item's discussion is collapsed, with a link to the full thread inside (item 1:
    # bob's thread; item 3: the new idea's own thread)
    links = frank.locator("details.pack-discussion a", has_text="Read the full thread")
    assert links.count() == 2
    assert frank.locator("details.pack-discussion").first.get_attribute("open") is None

    # the poll from item 2 stays open and takes her vote afterwards
    frank.get_by_role("link", name="Ask for rural figures?").first.click()
    frank.get_by_label("Yes").check()
    frank.get_by_role("button", name="Vote").click()
    assert (
        site.rows(
            "SELECT count(*) FROM poll_voters WHERE poll_id = ? AND user_id = ?",
            poll,
            who["frank"].id,
        )[0][0]
        == 1
    )

    # she comments on the draft; the chair approves; a later comment is refused plainly
    frank.goto(base + "/pack")
    frank.get_by_label("Your comment").fill("Please add that I could not come.")
    frank.get_by_role("button", name="Add my comment").click()
    expect(frank.get_by_role("status")).to_contain_text("your comment is added")
    alice.goto(base + "/pack")
    alice.get_by_role("button", name="Approve and lock the minutes").click()
    expect(alice.locator(".pack-state")).to_contain_text("Approved by Alice Archer")
    _axe(alice, "meeting-pack")
    frank.get_by_label("Your comment").fill("One more thing")
    frank.get_by_role("button", name="Add my comment").click()
    expect(frank.locator("#error-summary")).to_contain_text("approved and locked")
    assert site.rows("SELECT count(*) FROM minutes_notes WHERE meeting_id = ?", meeting)[0][0] == 1
    screenshot(frank, "meeting-pack-locked-nojs")
