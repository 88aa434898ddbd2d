"""People in a real Chromium, with a real aiosmtpd: an invitation email becomes an account
in the group; "Forgot your password?" ends the other session; a used link says so; the
admin walks the admin pages by keyboard; axe-core finds nothing on any new page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, expect

from server.domain import accounts
from server.storage.engine import open_sync, write_sync
from tests import pg
from tests.browser.conftest import PASSWORD, ROOT, Site, _free_port, log_in
from tests.browser.test_polls_ideas import _axe
from tests.smtp import Inbox, link_in, smtp_in_thread

pytestmark = pytest.mark.browser
Contexts = Callable[..., BrowserContext]
NEW_PASSWORD = "river tea window"


def _arrange(db_path: Path) -> None:
    conn = open_sync(pg.target(db_path))  # migrated; its own database on the PostgreSQL pass
    for email, name, role in (
        ("ada@cfn.example", "Ada Admin", "admin"),
        ("alice@cfn.example", "Alice Archer", "member"),
        ("bob@cfn.example", "Bob Brown", "member"),
    ):
        write_sync(conn, accounts.add_user, email, name, role, PASSWORD)
    write_sync(conn, accounts.add_group, "north", "North Yorkshire", "regional")
    write_sync(conn, accounts.add_member, "north", "alice@cfn.example", "chair")
    write_sync(conn, accounts.add_member, "north", "bob@cfn.example", "member")
    conn.close()


@pytest.fixture(scope="module")
def mail() -> Iterator[Inbox]:
    with smtp_in_thread() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mail: Inbox) -> Iterator[Site]:
    """`python -m server serve` whose email goes to the test's aiosmtpd."""
    folder = tmp_path_factory.mktemp("people-site")
    db_path = folder / "cfn.db"
    _arrange(db_path)
    port = _free_port()
    env = {
        **os.environ,
        "CFN_RATE_LIMIT": "0",
        "CFN_SMTP_HOST": "127.0.0.1",
        "CFN_SMTP_PORT": str(mail.port),
        "CFN_SMTP_SECURITY": "none",
        "CFN_BACKUP_DIR": str(folder / "backups"),
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--db", pg.target(db_path), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text()) from None
            time.sleep(0.05)
    try:
        yield Site(base, db_path, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def wait_for_mail(inbox: Inbox, to: str, count: int = 1, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in inbox.messages if m["To"] == to]
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no email to {to}")


def local(link: str, site: Site) -> str:
    return site.base + urlsplit(link).path


def test_an_invited_person_follows_the_email_sets_a_password_and_lands_in_the_group(
    site: Site, new_context: Contexts, mail: Inbox
) -> None:
    admin = log_in(new_context(), site, "ada@cfn.example")
    admin.goto(site.base + "/admin/invitations")
    admin.get_by_label("Their email").fill("margaret@cfn.example")
    admin.get_by_label("Group", exact=True).select_option("north")
    admin.get_by_role("button", name="Send the invitation").click()
    expect(admin.get_by_role("status")).to_contain_text("Invitation sent to margaret@cfn.example")
    msg = wait_for_mail(mail, "margaret@cfn.example")
    invitee = new_context().new_page()
    invitee.goto(local(link_in(msg, "/invite/"), site))
    expect(invitee.get_by_role("heading", name="Join North Yorkshire")).to_be_visible()
    invitee.get_by_label("Your name").fill("Margaret Hill")
    invitee.get_by_label("Choose a password").fill("short")
    invitee.get_by_label("Type it again").fill("short")
    invitee.get_by_role("button", name="Join the group").click()
    expect(invitee.get_by_role("alert")).to_contain_text("That password is too short")
    expect(invitee.get_by_label("Your name")).to_have_value("Margaret Hill")
    invitee.get_by_label("Choose a password").fill(NEW_PASSWORD)
    invitee.get_by_label("Type it again").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Join the group").click()
    invitee.wait_for_url(site.base + "/g/north")
    expect(invitee.locator(".who")).to_have_text("Logged in as Margaret Hill")
    again = new_context().new_page()
    again.goto(local(link_in(msg, "/invite/"), site))
    expect(again.get_by_role("heading", name="This link has been used")).to_be_visible()
    _axe(again, "people-link-used", Axe())


def test_forgot_password_by_email_sets_a_new_one_and_logs_out_the_other_browser(
    site: Site, new_context: Contexts, mail: Inbox
) -> None:
    elsewhere = log_in(new_context(), site, "bob@cfn.example")
    page = new_context().new_page()
    page.goto(site.base + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("bob@cfn.example")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    msg = wait_for_mail(mail, "bob@cfn.example")
    page.goto(local(link_in(msg, "/reset/"), site))
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Type it again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save my new password").click()
    expect(page.get_by_role("status")).to_contain_text("logged out everywhere else")
    elsewhere.reload()
    expect(elsewhere.get_by_role("heading", name="Log in")).to_be_visible()


def test_the_admin_walks_the_admin_pages_by_keyboard(site: Site, new_context: Contexts) -> None:
    page = log_in(new_context(), site, "ada@cfn.example")

    def tab_to(name: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            text = page.evaluate(
                "(document.activeElement.innerText || document.activeElement.value || '').trim()"
            )
            if text == name:
                return
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to("Admin")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Admin")).to_be_visible()
    for section, heading in (
        ("People", "People"),
        ("Invitations", "Invitations"),
        ("Groups", "Groups"),
        ("API tokens", "API tokens"),
        ("Audit log", "Audit log"),
        ("Backups", "Backups"),
        ("Email", "Email"),
    ):
        tab_to(section)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    page.goto(site.base + "/admin/people")
    tab_to("Find")  # the search box comes just before its button
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("bob")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="1 found for “bob”")).to_be_visible()
    tab_to("Bob Brown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Bob Brown")).to_be_visible()
    tab_to("Suspend Bob Brown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Suspend Bob Brown?")).to_be_visible()
    tab_to("No, go back")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Bob Brown")).to_be_visible()
    page.goto(site.base + "/admin/backups")
    tab_to("Make a backup now")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Backed up")


def test_axe_finds_no_violations_on_the_people_and_admin_pages(
    site: Site, new_context: Contexts, mail: Inbox
) -> None:
    axe = Axe()
    anonymous = new_context().new_page()
    anonymous.goto(site.base + "/forgot")
    _axe(anonymous, "people-forgot", axe)
    anonymous.get_by_label("Email").fill("alice@cfn.example")
    anonymous.get_by_role("button", name="Send me a link").click()
    _axe(anonymous, "people-forgot-sent", axe)
    msg = wait_for_mail(mail, "alice@cfn.example")
    anonymous.goto(local(link_in(msg, "/reset/"), site))
    _axe(anonymous, "people-reset", axe)
    anonymous.get_by_role("button", name="Save my new password").click()  # empty: a mistake
    expect(anonymous.get_by_role("alert")).to_be_visible()
    _axe(anonymous, "people-reset-mistake", axe)

    admin = log_in(new_context(), site, "ada@cfn.example")
    admin.goto(site.base + "/admin/invitations")
    admin.get_by_label("Their email").fill("newcomer@cfn.example")
    admin.get_by_label("Group", exact=True).select_option("north")
    admin.get_by_role("button", name="Send the invitation").click()
    invite = wait_for_mail(mail, "newcomer@cfn.example")
    anonymous.goto(local(link_in(invite, "/invite/"), site))
    _axe(anonymous, "people-invite", axe)

    bob = site.rows("SELECT id FROM users WHERE email = 'bob@cfn.example'")[0][0]
    pages = {
        "admin-index": "/admin",
        "admin-people": "/admin/people",
        "admin-person": f"/admin/people/{bob}",
        "admin-confirm-erase": f"/admin/people/{bob}/erase",
        "admin-invitations": "/admin/invitations",
        "admin-groups": "/admin/groups",
        "admin-group": "/admin/groups/north",
        "admin-tokens": "/admin/tokens",
        "admin-audit": "/admin/audit",
        "admin-backups": "/admin/backups",
        "admin-email": "/admin/email",
        "profile": "/profile",
        "profile-sessions": "/profile/sessions",
        "profile-close": "/profile/close",
    }
    for name, path in pages.items():
        admin.goto(site.base + path)
        _axe(admin, name, axe)
    admin.goto(site.base + "/admin/tokens")
    admin.get_by_label("Whose token (their email)").fill("bob@cfn.example")
    admin.get_by_role("button", name="Make the token").click()
    expect(admin.locator("#new-token")).to_contain_text("cfn_")
    _axe(admin, "admin-token-once", axe)
    admin.goto(site.base + "/admin/groups")
    admin.get_by_role("button", name="Add the group").click()  # empty: a mistake
    _axe(admin, "admin-groups-mistake", axe)

    chair = log_in(new_context(), site, "alice@cfn.example")
    chair.goto(site.base + "/g/north/members")
    _axe(chair, "chair-members", axe)
    chair.goto(site.base + "/profile")
    chair.get_by_label("Largest").check()
    chair.get_by_role("button", name="Save text size").click()
    expect(chair.locator("html")).to_have_class("text-larger")
    _axe(chair, "profile-largest-text", axe)
