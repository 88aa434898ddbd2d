"""XSS in a real Chromium: a corpus of script-injection payloads posted as messages, thread
titles, a member's and a group's name, poll questions and options, idea titles, descriptions
and status notes, stored (server-rendered pages) and arriving live (the pages' own JS).
None may run: no dialog, no window.__xss, no injected element, no javascript: link, and no
Content-Security-Policy report either (CSP is the second wall; escaping must be the first)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Page

from server.domain import accounts, discussions, ideas, polls
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import PASSWORD, Site, log_in, wait_connected

pytestmark = pytest.mark.browser

PAYLOADS = [
    '<script data-xss>window.__xss = "script"</script>',
    "<img src=x onerror=\"window.__xss = 'img'\" data-xss>",
    '"><svg onload="window.__xss = \'svg\'" data-xss>',
    "'><iframe data-xss srcdoc=\"<script>parent.__xss = 'iframe'</script>\"></iframe>",
    "[click me](javascript:window.__xss='md-link')",
    "<a href=\"javascript:window.__xss='a'\" data-xss>link</a>",
    "![pic](x\" onerror=\"window.__xss='md-img')",
    "<details open ontoggle=\"window.__xss='details'\" data-xss>x</details>",
    '</textarea><script>window.__xss="textarea"</script>',
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\" data-xss>",
    "{{constructor.constructor('window.__xss=1')()}} ${window.__xss=2}",
    '<a href="data:text/html,<script>alert(1)</script>" data-xss>data</a>',
    "<input autofocus onfocus=\"window.__xss='focus'\" data-xss>",
    "`<b data-xss>code</b>` **<i data-xss>bold</i>**",
    '<div style="background:url(javascript:alert(1))" data-xss>css</div>',
    "javascript:alert(1)",
]
EVIL_NAME = "<img src=x onerror=\"window.__xss='name'\" data-xss>Mallory"


class Watch:
    """Everything that would show a payload ran, or was only stopped by CSP."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, page: Page) -> Page:
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            self.problems.append(f"CSP had to block something: {msg.text[:200]}")

    def check(self, page: Page, where: str) -> None:
        page.wait_for_timeout(300)  # let onerror/onload handlers fire if any were injected
        found = page.evaluate("""() => ({
            xss: window.__xss === undefined ? null : String(window.__xss),
            injected: document.querySelectorAll('[data-xss]').length,
            jsLinks: [...document.querySelectorAll('a[href], iframe[src], form[action]')]
                .map(e => e.getAttribute('href') || e.getAttribute('src') ||
                          e.getAttribute('action'))
                .filter(h => /^\\s*(javascript|data|vbscript):/i.test(h)).length,
        })""")
        if found["xss"] is not None:
            self.problems.append(f"{where}: a payload ran ({found['xss']})")
        if found["injected"]:
            self.problems.append(f"{where}: {found['injected']} injected element(s)")
        if found["jsLinks"]:
            self.problems.append(f"{where}: {found['jsLinks']} javascript:/data: link(s)")


@pytest.fixture(scope="module")
def seeded(site: Site) -> dict[str, int]:
    """Every payload stored as a message, a thread title, poll and idea texts, by Mallory,
    whose name is itself a payload."""
    conn = open_sync(pg.target(site.db_path))
    try:
        if accounts.user_by_email(conn, "mallory@cfn.example") is None:
            write_sync(
                conn, accounts.add_user, "mallory@cfn.example", EVIL_NAME, "member", PASSWORD
            )
            write_sync(conn, accounts.add_member, "north", "mallory@cfn.example", "member")
            write_sync(conn, accounts.add_group, "evil", EVIL_NAME.replace("Mallory", "Group"))
            write_sync(conn, accounts.add_member, "evil", "alice@cfn.example", "member")
        mallory = accounts.require_user(conn, "mallory@cfn.example")
        alice = accounts.require_user(conn, "alice@cfn.example")
        made = write_sync(
            conn,
            discussions.create_thread,
            mallory,
            "north",
            PAYLOADS[1][:200],
            PAYLOADS[0],
            f"x-{time.monotonic_ns()}",
        )
        for n, body in enumerate(PAYLOADS):
            write_sync(
                conn,
                discussions.post_message,
                mallory,
                "north",
                made["thread"]["id"],
                body,
                f"x{n}-{time.monotonic_ns()}",
            )
        for n, title in enumerate(PAYLOADS[:4]):
            write_sync(
                conn,
                discussions.create_thread,
                mallory,
                "north",
                title[:200],
                "payload title",
                f"xt{n}-{time.monotonic_ns()}",
            )
        poll = write_sync(
            conn,
            polls.create_poll,
            alice,
            "north",
            PAYLOADS[2][:200],
            [p[:200] for p in PAYLOADS],
            "multi",
        )
        poll_id = poll["poll"]["id"]
        write_sync(conn, polls.vote, mallory, poll_id, [0, 1])
        idea = write_sync(
            conn,
            ideas.create_idea,
            mallory,
            "north",
            PAYLOADS[3][:200],
            "\n\n".join(PAYLOADS),
            f"xi-{time.monotonic_ns()}",
        )
        idea_id = idea["idea"]["id"]
        write_sync(conn, ideas.set_status, alice, idea_id, "discussing", PAYLOADS[4])
        write_sync(conn, ideas.set_status, alice, idea_id, "not_taken_forward", PAYLOADS[1])
        return {"thread": made["thread"]["id"], "poll": poll_id, "idea": idea_id}
    finally:
        conn.close()


def test_stored_payloads_never_run_on_any_page(
    site: Site, seeded: dict[str, int], new_context: Callable[..., BrowserContext]
) -> None:
    watch = Watch()
    page = watch.attach(log_in(new_context(), site, "alice@cfn.example"))
    pages = [
        "/",
        "/g/north",
        f"/g/north/t/{seeded['thread']}",
        "/g/north/polls",
        f"/g/north/polls/{seeded['poll']}",
        f"/g/north/polls/{seeded['poll']}/print",
        "/g/north/ideas",
        f"/g/north/ideas/{seeded['idea']}",
        "/you-said-we-did",
        "/g/evil",
        "/g/evil/polls",
        "/g/evil/ideas",
    ]
    for path in pages:
        response = page.goto(site.base + path)
        assert response is not None and response.status == 200, path
        watch.check(page, path)
    # The payloads are shown as the text they are, not swallowed.
    page.goto(f"{site.base}/g/north/t/{seeded['thread']}")
    assert page.get_by_text("window.__xss = 'img'", exact=False).count() >= 1
    assert page.get_by_text("Mallory", exact=False).count() >= 1
    assert watch.problems == []


def test_payloads_arriving_live_never_run(
    site: Site, seeded: dict[str, int], new_context: Callable[..., BrowserContext]
) -> None:
    watch = Watch()
    alice = watch.attach(log_in(new_context(), site, "alice@cfn.example"))
    alice.goto(f"{site.base}/g/north/t/{seeded['thread']}")
    wait_connected(alice)
    alice_room = watch.attach(alice.context.new_page())
    alice_room.goto(site.base + "/g/north")
    wait_connected(alice_room)

    mallory = watch.attach(log_in(new_context(), site, "mallory@cfn.example"))
    mallory.goto(f"{site.base}/g/north/t/{seeded['thread']}")
    wait_connected(mallory)
    for body in PAYLOADS:
        mallory.get_by_label("Message").fill(body)
        mallory.get_by_role("button", name="Send").click()
    last = PAYLOADS[-1]
    alice.get_by_text(last, exact=True).last.wait_for()
    watch.check(alice, "live thread")

    mallory.goto(site.base + "/g/north")
    wait_connected(mallory)
    mallory.get_by_label("Title").first.fill("Live " + PAYLOADS[1][:150])
    mallory.get_by_label("Message").first.fill(PAYLOADS[0])
    mallory.get_by_role("button", name="Start new thread").click()
    alice_room.wait_for_timeout(1500)
    watch.check(alice_room, "live room")
    watch.check(mallory, "own page")
    assert watch.problems == []


def test_payloads_in_live_polls_and_ideas_never_run(
    site: Site, seeded: dict[str, int], new_context: Callable[..., BrowserContext]
) -> None:
    watch = Watch()
    alice = watch.attach(log_in(new_context(), site, "alice@cfn.example"))
    alice.goto(site.base + "/g/north")
    wait_connected(alice)
    mallory = watch.attach(log_in(new_context(), site, "mallory@cfn.example"))
    mallory.goto(site.base + "/g/north")
    wait_connected(mallory)

    # A poll whose question and every answer are payloads arrives live in Mallory's room.
    alice.get_by_text("Start a new poll").click()
    alice.get_by_label("Question").fill(PAYLOADS[5][:200])
    alice.get_by_label("Answers", exact=True).fill("\n".join(p[:200] for p in PAYLOADS[:12]))
    alice.get_by_label("Yes, named").check()  # an anonymous poll shows no counts to one voter
    alice.get_by_role("button", name="Open the poll").click()
    alice.locator("#room-poll-new .form-status").filter(has_text="open").wait_for()
    poll_id = site.rows("SELECT id FROM polls ORDER BY id DESC LIMIT 1")[0]["id"]
    card = mallory.locator(f"#room-poll-{poll_id}")
    card.get_by_role("heading").wait_for()
    card.get_by_label(PAYLOADS[11][:200]).check()
    card.get_by_role("button", name="Vote").click()
    alice.locator(f"#room-poll-{poll_id} .poll-total").filter(has_text="1 member").wait_for()
    watch.check(mallory, "live poll (voter)")
    watch.check(alice, "live poll (facilitator)")

    # An idea with payload title and description appears live on Alice's idea board; her
    # status note (a payload) reaches Mallory's idea page live.
    alice.goto(site.base + "/g/north/ideas?sort=newest")
    wait_connected(alice)
    mallory.goto(site.base + "/g/north/ideas")
    mallory.get_by_label("Title").fill(PAYLOADS[6][:200])
    mallory.get_by_label("Description").fill("\n\n".join(PAYLOADS))
    mallory.get_by_role("button", name="Add my idea").click()
    mallory.wait_for_url(re.compile(r"/g/north/ideas/\d+$"))
    idea_id = int(mallory.url.rsplit("/", 1)[1])
    alice.locator(f"#idea-{idea_id}").wait_for()
    watch.check(alice, "live idea board")
    wait_connected(mallory)
    watch.check(mallory, "own idea page")
    alice.goto(f"{site.base}/g/north/ideas/{idea_id}")
    alice.get_by_label("New status").select_option("not_taken_forward")
    alice.get_by_label("Note for members").fill(PAYLOADS[1])
    alice.get_by_role("button", name="Save the status").click()
    alice.locator("#idea-timeline li").last.filter(has_text="window.__xss").wait_for()
    mallory.wait_for_timeout(1000)
    watch.check(mallory, "live status note")
    watch.check(alice, "status saved")
    assert watch.problems == []
