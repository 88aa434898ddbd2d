"""Polls and ideas in a real Chromium: a live poll run in the room with members voting from
their own browsers, an idea moved along while another member watches, and axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from server.domain import accounts, ideas, polls
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
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    }
}


@pytest.fixture(scope="module")
def members(site: Site) -> list[str]:
    """Three more members of north (Dave, Erin, Frank) besides Alice (chair) and Bob."""
    conn = open_sync(pg.target(site.db_path))
    try:
        emails = []
        for local, name in (
            ("dave", "Dave Dixon"),
            ("erin", "Erin Evans"),
            ("frank", "Frank Field"),
        ):
            email = f"{local}@cfn.example"
            if accounts.user_by_email(conn, email) is None:
                write_sync(conn, accounts.add_user, email, name, "member", PASSWORD)
                write_sync(conn, accounts.add_member, "north", email, "member")
            emails.append(email)
        return emails
    finally:
        conn.close()


def open_room(context: BrowserContext, site: Site, email: str) -> Page:
    page = log_in(context, site, email)
    page.goto(site.base + "/g/north")
    wait_connected(page)
    return page


def test_facilitator_runs_a_live_poll_and_everyone_sees_the_tally_move(
    site: Site, new_context: Contexts, members: list[str]
) -> None:
    alice = open_room(new_context(), site, "alice@cfn.example")
    voters = [
        open_room(new_context(), site, e) for e in ("bob@cfn.example", members[0], members[1])
    ]
    everyone = [alice, *voters]

    alice.get_by_text("Start a new poll").click()
    alice.get_by_label("Question").fill("What should we talk about next time?")
    alice.get_by_label("Answers", exact=True).fill("Falls response\nNew leaflet\nStation visits")
    alice.get_by_label("Yes, named").check()  # anonymous would hide counts below 5 voters
    alice.get_by_label("Yes, named").check()
    alice.get_by_role("button", name="Open the poll").click()
    expect(alice.locator("#room-poll-new .form-status")).to_have_text(
        "The poll is open for everyone in the room."
    )
    poll_id = site.rows("SELECT id FROM polls ORDER BY id DESC LIMIT 1")[0]["id"]
    cards = [p.locator(f"#room-poll-{poll_id}") for p in everyone]
    for card in cards:
        expect(card.get_by_role("heading")).to_have_text("What should we talk about next time?")
        expect(card.locator(".poll-total")).to_have_text("0 members voted.")
    expect(voters[0].locator("#announcer")).to_contain_text("New poll")

    picks = ["Falls response", "Station visits", "Falls response"]
    for n, (page, pick) in enumerate(zip(voters, picks, strict=True), start=1):
        card = page.locator(f"#room-poll-{poll_id}")
        card.get_by_label(pick).check()
        card.get_by_role("button", name="Vote").click()
        expect(card.locator(".form-status")).to_contain_text("Your vote is saved")
        for other in cards:  # every browser sees the tally move, live
            expect(other.locator(".poll-total")).to_have_text(
                f"{n} member{'' if n == 1 else 's'} voted."
            )
    falls = cards[0].locator(".bar-row").filter(has_text="Falls response")
    expect(falls.locator(".bar-figures")).to_have_text("2 votes, 67%")
    expect(falls.locator(".bar-fill")).to_have_class(re.compile(r"\bbar-67\b"))
    expect(alice.locator("#announcer")).to_contain_text("Falls response: 2 votes, 67%")
    screenshot(alice, "room-poll-live")

    alice.locator(f"#room-poll-{poll_id}").get_by_role("button", name="Close this poll").click()
    for card in cards:
        expect(card.locator(".poll-about")).to_contain_text("Closed")
        expect(card.locator(".poll-vote")).to_have_count(0)
    expect(voters[2].locator("#announcer")).to_contain_text("Poll closed")
    stored = site.rows(
        "SELECT choice, count(*) AS n FROM poll_votes WHERE poll_id = ?"
        " GROUP BY choice ORDER BY choice",
        poll_id,
    )
    assert [(r["choice"], r["n"]) for r in stored] == [(0, 2), (2, 1)]


def test_after_vote_results_show_only_to_members_who_voted(
    site: Site, new_context: Contexts, members: list[str]
) -> None:
    alice = open_room(new_context(), site, "alice@cfn.example")
    bob = open_room(new_context(), site, "bob@cfn.example")
    dave = open_room(new_context(), site, members[0])
    alice.get_by_text("Start a new poll").click()
    alice.get_by_label("Question").fill("Is the new leaflet clear?")
    alice.get_by_label("Answers", exact=True).fill("Yes\nNo")
    alice.get_by_label("After they have voted").check()
    alice.get_by_label("Yes, named").check()
    alice.get_by_role("button", name="Open the poll").click()
    expect(alice.locator("#room-poll-new .form-status")).to_contain_text("open")
    poll_id = site.rows("SELECT id FROM polls ORDER BY id DESC LIMIT 1")[0]["id"]
    bob_card, dave_card = (p.locator(f"#room-poll-{poll_id}") for p in (bob, dave))
    expect(dave_card.locator(".poll-hidden")).to_contain_text("after you vote")
    bob_card.get_by_label("No").check()
    bob_card.get_by_role("button", name="Vote").click()
    expect(bob_card.locator(".bar-row").filter(has_text="No").locator(".bar-figures")).to_have_text(
        "1 vote, 100%"
    )
    expect(dave_card.locator(".poll-hidden")).to_contain_text("1 member voted so far")
    expect(dave_card.locator(".bar-chart")).to_have_count(0)


def test_an_anonymous_poll_shows_only_the_turnout_to_three_voters(
    site: Site, new_context: Contexts, members: list[str]
) -> None:
    alice = open_room(new_context(), site, "alice@cfn.example")
    bob = open_room(new_context(), site, "bob@cfn.example")
    alice.get_by_text("Start a new poll").click()
    expect(alice.locator("#poll-anon-hint")).to_contain_text("until 5 members have voted")
    alice.get_by_label("Question").fill("Should the group meet online?")
    alice.get_by_label("Answers", exact=True).fill("Yes\nNo")
    alice.get_by_role("button", name="Open the poll").click()
    expect(alice.locator("#room-poll-new .form-status")).to_contain_text("open")
    poll_id = site.rows("SELECT id FROM polls ORDER BY id DESC LIMIT 1")[0]["id"]
    card = bob.locator(f"#room-poll-{poll_id}")
    card.get_by_label("Yes").check()
    card.get_by_role("button", name="Vote").click()
    expect(card.locator(".form-status")).to_contain_text("Your vote is saved")
    expect(card.locator(".poll-hidden")).to_contain_text(
        "1 member voted so far. The results are shown once 5 members have voted"
    )
    expect(alice.locator(f"#room-poll-{poll_id} .poll-hidden")).to_contain_text(
        "1 member voted so far"
    )
    expect(card.locator(".bar-chart")).to_have_count(0)


def test_an_idea_is_supported_and_moved_along_while_a_third_member_watches(
    site: Site, new_context: Contexts, members: list[str]
) -> None:
    frank = log_in(new_context(), site, members[2])
    frank.goto(site.base + "/g/north/ideas?sort=newest")
    wait_connected(frank)

    bob = log_in(new_context(), site, "bob@cfn.example")
    bob.goto(site.base + "/g/north/ideas")
    bob.get_by_label("Title").fill("Signpost frequent callers to peer support")
    bob.get_by_label("Description").fill("It might improve their care and reduce calls.")
    bob.get_by_role("button", name="Add my idea").click()
    bob.wait_for_url(re.compile(r"/g/north/ideas/\d+$"))
    idea_id = int(bob.url.rsplit("/", 1)[1])
    card = frank.locator(f"#idea-{idea_id}")
    expect(card.get_by_role("link")).to_have_text("Signpost frequent callers to peer support")
    expect(card.locator(".status-tag")).to_have_text("Proposed")

    for email in (members[0], members[1]):
        page = log_in(new_context(), site, email)
        page.goto(f"{site.base}/g/north/ideas/{idea_id}")
        wait_connected(page)
        page.get_by_role("button", name=re.compile("Support this idea")).click()
        expect(page.get_by_role("button", name=re.compile("Withdraw my support"))).to_be_visible()
    expect(card.locator(".idea-count")).to_have_text("2 supporters")

    alice = log_in(new_context(), site, "alice@cfn.example")
    alice.goto(f"{site.base}/g/north/ideas/{idea_id}")
    for status, label in (
        ("discussing", "Being discussed"),
        ("adopted", "Adopted"),
        ("in_progress", "In progress"),
        ("done", "Done"),
    ):
        alice.get_by_label("New status").select_option(status)
        alice.get_by_label("Note for members").fill(f"Note: {label.lower()}.")
        alice.get_by_role("button", name="Save the status").click()
        expect(alice.locator("#idea-timeline li").last).to_contain_text(f"Note: {label.lower()}.")
        expect(card.locator(".status-tag")).to_have_text(label)  # Frank sees it live
    expect(frank.locator("#announcer")).to_contain_text("is now: Done")
    screenshot(frank, "idea-board-live")
    frank.goto(site.base + "/you-said-we-did")
    expect(
        frank.get_by_role("heading", name="Signpost frequent callers to peer support")
    ).to_be_visible()
    expect(frank.locator("main")).to_contain_text("Note: adopted.")


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


def test_axe_finds_no_violations_on_the_poll_and_idea_pages(
    site: Site, new_context: Contexts, members: list[str]
) -> None:
    conn = open_sync(pg.target(site.db_path))
    try:
        alice = accounts.require_user(conn, "alice@cfn.example")
        bob = accounts.require_user(conn, "bob@cfn.example")
        open_poll = write_sync(
            conn,
            polls.create_poll,
            alice,
            "north",
            "Which day suits you?",
            ["Monday", "Tuesday"],
            "multi",
            False,
            "live",
        )["poll"]["id"]
        write_sync(conn, polls.vote, bob, open_poll, [0, 1])
        write_sync(conn, polls.count_in_room, alice, open_poll, [3, 1])
        closed = write_sync(
            conn,
            polls.create_poll,
            alice,
            "north",
            "Was the visit useful?",
            ["Yes", "No"],
            "single",
            True,
            "closed",
        )["poll"]["id"]
        write_sync(conn, polls.vote, bob, closed, [0])
        write_sync(conn, polls.close, alice, closed)
        idea = write_sync(
            conn,
            ideas.create_idea,
            bob,
            "north",
            "Large-print papers",
            "Papers in **large print**.",
            "axe-idea",
        )["idea"]["id"]
        write_sync(
            conn,
            ideas.set_status,
            alice,
            idea,
            "not_taken_forward",
            "Covered by the new accessible papers policy.",
        )
    finally:
        conn.close()
    axe = Axe()
    page = log_in(new_context(), site, "alice@cfn.example")
    for path, name in (
        ("/g/north/polls", "polls"),
        (f"/g/north/polls/{open_poll}", "poll"),
        (f"/g/north/polls/{closed}/print", "poll-print"),
        ("/g/north/ideas", "ideas"),
        (f"/g/north/ideas/{idea}", "idea"),
        ("/you-said-we-did", "you-said-we-did"),
    ):
        page.goto(site.base + path)
        _axe(page, name, axe)
    page.goto(site.base + "/g/north")
    wait_connected(page)
    expect(page.locator(f"#room-poll-{open_poll}")).to_be_visible()
    page.get_by_text("Start a new poll").click()
    _axe(page, "room-with-polls", axe)
    member = log_in(new_context(), site, "bob@cfn.example")
    member.goto(site.base + "/g/north/polls")
    _axe(member, "polls-member", axe)


def test_a_poll_opened_is_announced_with_its_link_on_the_thread_and_ideas_pages(
    site: Site, new_context: Contexts
) -> None:
    thread_id = site.thread("north", "alice@cfn.example", "Meeting notes", "Notes here.")
    alice = open_room(new_context(), site, "alice@cfn.example")
    bob_context = new_context()
    bob = log_in(bob_context, site, "bob@cfn.example")
    bob.goto(f"{site.base}/g/north/t/{thread_id}")
    wait_connected(bob)
    bob_ideas = bob_context.new_page()
    bob_ideas.goto(site.base + "/g/north/ideas")
    wait_connected(bob_ideas)

    alice.get_by_text("Start a new poll").click()
    alice.get_by_label("Question").fill("Shall we meet in June?")
    alice.get_by_label("Answers", exact=True).fill("Yes\nNo")
    alice.get_by_role("button", name="Open the poll").click()
    poll_id = None
    for page in (bob, bob_ideas):
        notice = page.locator("#poll-opened")
        expect(notice).to_contain_text("A new poll has opened: Shall we meet in June?")
        expect(page.locator("#announcer")).to_contain_text(
            "A new poll has opened: Shall we meet in June?"
        )
        poll_id = poll_id or site.rows("SELECT id FROM polls ORDER BY id DESC LIMIT 1")[0]["id"]
        expect(notice.get_by_role("link", name="Shall we meet in June?")).to_have_attribute(
            "href", f"/g/north/polls/{poll_id}"
        )
    screenshot(bob, "thread-poll-opened")
    bob.locator("#poll-opened").get_by_role("link").click()
    expect(bob.get_by_role("heading", level=1)).to_contain_text("Shall we meet in June?")
