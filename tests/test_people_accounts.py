"""The account life cycle over real HTTP with a real aiosmtpd: invitations, password
reset, links that are used, expired or replaced, the profile, sessions, suspension."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from server.auth import SESSION_COOKIE
from server.domain import accounts, discussions
from server.storage.engine import write_sync
from tests.harness import JSON, Running, connect
from tests.people_helpers import anonymous_post, csrf_of, log_in, outbox_rows, page_csrf, wait_until
from tests.smtp import Inbox, link_in, smtp_server, text_part

NEW_PASSWORD = "river tea window"


@pytest.fixture
async def mail_server(start_server: Callable[..., Any]) -> AsyncIterator[tuple[Running, Inbox]]:
    """A server whose email goes to a real aiosmtpd; alice chairs north, bob is a member,
    ada is the admin."""
    async with smtp_server() as inbox:
        server = await start_server(
            smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_security="none"
        )
        server.member("north", "alice@cfn.example", "chair")
        server.member("north", "bob@cfn.example")
        server.user("ada@cfn.example", "Ada Admin", "admin")
        yield server, inbox


def path_of(link: str) -> str:
    return urlsplit(link).path


async def admin_invites(server: Running, email: str, role: str = "member") -> None:
    http = await log_in(server, "ada@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http, "/admin/invitations")
        done = await http.post(
            "/admin/invitations",
            data={"email": email, "group": "north", "role": role, "csrf": csrf},
        )
        assert done.status_code == 303, done.text[:400]


async def test_an_invitation_email_leads_to_an_account_in_the_group(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    await admin_invites(server, "margaret@cfn.example", "facilitator")
    (msg,) = await inbox.wait_for(1)
    assert msg["To"] == "margaret@cfn.example"
    assert "Ada Admin has invited you to join North" in text_part(msg)
    assert "for 7 days" in text_part(msg)
    link = path_of(link_in(msg, "/invite/"))
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        form = await http.get(link)
        assert form.status_code == 200 and "Join North" in form.text
        assert "at least 10 characters" in form.text  # the rule, in words
        done = await http.post(
            link,
            data={
                "name": "Margaret Hill",
                "password": NEW_PASSWORD,
                "again": NEW_PASSWORD,
                "csrf": csrf_of(form.text),
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/g/north"
        room = await http.get("/g/north")
        assert room.status_code == 200 and "Logged in as Margaret Hill" in room.text
    role = server.db.execute(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ?",
        ("margaret@cfn.example",),
    ).fetchone()
    assert role[0] == "facilitator"
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as again:
        used = await again.get(link)
        assert used.status_code == 410 and "already been used" in used.text
    assert (await log_in(server, "margaret@cfn.example", NEW_PASSWORD)).cookies[SESSION_COOKIE]


async def test_a_weak_password_comes_back_with_the_rule_and_the_name_kept_and_nothing_stored(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    await admin_invites(server, "dot@cfn.example")
    link = path_of(link_in((await inbox.wait_for(1))[0], "/invite/"))
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        form = await http.get(link)
        fields = {"name": "Dot Pearson", "password": "short", "again": "short"}
        answer = await http.post(link, data={**fields, "csrf": csrf_of(form.text)})
        assert answer.status_code == 400
        assert "That password is too short. Use at least 10 characters" in answer.text
        assert 'value="Dot Pearson"' in answer.text and 'aria-invalid="true"' in answer.text
        mismatch = {"name": "Dot", "password": NEW_PASSWORD, "again": NEW_PASSWORD + "x"}
        answer = await http.post(link, data={**mismatch, "csrf": csrf_of(form.text)})
        assert answer.status_code == 400 and "The two passwords are different" in answer.text
    assert accounts.user_by_email(server.db, "dot@cfn.example") is None
    still = await httpx.AsyncClient(base_url=server.http).get(link)
    assert still.status_code == 200  # a mistake does not use the link up


async def test_inviting_again_replaces_the_old_link_and_a_withdrawn_one_stops_working(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    await admin_invites(server, "sam@cfn.example")
    await admin_invites(server, "sam@cfn.example")
    first, second = await inbox.wait_for(2)
    old, new = path_of(link_in(first, "/invite/")), path_of(link_in(second, "/invite/"))
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        replaced = await http.get(old)
        assert replaced.status_code == 404 and "replaced by a newer one" in replaced.text
        assert (await http.get(new)).status_code == 200
    admin = await log_in(server, "ada@cfn.example")
    async with contextlib.aclosing(admin):
        listing = await admin.get("/admin/invitations")
        assert listing.text.count("sam@cfn.example") >= 1
        invite_id = server.db.execute(
            "SELECT id FROM account_tokens WHERE withdrawn_at IS NULL AND purpose = 'invite'"
        ).fetchone()[0]
        confirm = await admin.get(f"/admin/invitations/{invite_id}/withdraw")
        assert confirm.status_code == 200 and "Withdraw this invitation?" in confirm.text
        done = await admin.post(
            f"/admin/invitations/{invite_id}/withdraw", data={"csrf": csrf_of(confirm.text)}
        )
        assert done.status_code == 303
        assert "No invitations are waiting" in (await admin.get("/admin/invitations")).text
    gone = await httpx.AsyncClient(base_url=server.http).get(new)
    assert gone.status_code == 404


async def test_an_expired_link_gives_a_clear_page_with_what_to_do_next(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    await asyncio.gather(
        admin_invites(server, "late@cfn.example"),
        _forgot(server, "bob@cfn.example"),
    )
    messages = await inbox.wait_for(2)
    with server.db:
        server.db.execute("UPDATE account_tokens SET expires_at = 1")
    invite = next(m for m in messages if m["To"] == "late@cfn.example")
    reset = next(m for m in messages if m["To"] == "bob@cfn.example")
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        page = await http.get(path_of(link_in(invite, "/invite/")))
        assert page.status_code == 410 and "This link has expired" in page.text
        assert "ask the person who invited you" in page.text
        page = await http.get(path_of(link_in(reset, "/reset/")))
        assert page.status_code == 410 and 'href="/forgot"' in page.text
        made_up = await http.get("/reset/not-a-real-token")
        assert made_up.status_code == 404 and "This link does not work" in made_up.text


async def _forgot(
    server: Running, email: str, http: httpx.AsyncClient | None = None
) -> httpx.Response:
    if http is not None:
        return await anonymous_post(http, "/forgot", email=email)
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        return await anonymous_post(client, "/forgot", email=email)


async def test_forgot_password_says_the_same_whether_or_not_the_address_exists(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    known = await _forgot(server, "bob@cfn.example")
    unknown = await _forgot(server, "nobody@cfn.example")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("bob@cfn.example", "X") == unknown.text.replace(
        "nobody@cfn.example", "X"
    )
    (msg,) = await inbox.wait_for(1)
    assert msg["To"] == "bob@cfn.example"
    await asyncio.sleep(0.7)
    assert len(inbox.messages) == 1  # nothing went to the unknown address
    assert all(r["to_address"] == "bob@cfn.example" for r in outbox_rows(server.db))
    hashes = [r[0] for r in server.db.execute("SELECT token_hash FROM account_tokens")]
    token = path_of(link_in(msg, "/reset/")).rsplit("/", 1)[1]
    assert token not in "".join(hashes) and len(hashes[0]) == 64  # only the hash is kept


async def test_reset_requests_are_throttled_per_address_and_per_client(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, _ = mail_server
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        statuses = [(await _forgot(server, "bob@cfn.example", http)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        others = [
            (await _forgot(server, f"someone{i}@cfn.example", http)).status_code for i in range(8)
        ]
        assert others == [200] * 6 + [429] * 2  # the client's allowance, whatever the address
        refused = await _forgot(server, "bob@cfn.example", http)
        assert "Please check your email, or wait" in refused.text
        assert int(refused.headers["retry-after"]) > 0


async def test_a_reset_sets_the_new_password_and_ends_every_other_session(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    elsewhere = await log_in(server, "bob@cfn.example")
    assert (await elsewhere.get("/")).status_code == 200
    await _forgot(server, "bob@cfn.example")
    link = path_of(link_in((await inbox.wait_for(1))[0], "/reset/"))
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        form = await http.get(link)
        done = await http.post(
            link,
            data={"password": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert done.status_code == 303 and done.headers["location"].startswith("/profile/sessions")
        here = await http.get("/profile/sessions?reset=1")
        assert "You have been logged out everywhere else" in here.text
        assert (await http.post(link, data={"csrf": "x"})).status_code in (403, 410)
    stale = await elsewhere.get("/")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/login")
    await elsewhere.aclose()
    again = await log_in(server, "bob@cfn.example", NEW_PASSWORD)
    assert again.cookies[SESSION_COOKIE]
    await again.aclose()
    with pytest.raises(AssertionError):
        await log_in(server, "bob@cfn.example")  # the old password no longer works


async def test_the_profile_saves_name_text_size_and_needs_and_applies_the_text_size(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, _ = mail_server
    http = await log_in(server, "bob@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http)
        for path, fields in (
            ("/profile/name", {"name": "Bob B."}),
            ("/profile/text-size", {"text_size": "larger"}),
            (
                "/profile/needs",
                {"papers": "large_print", "support": ["bsl", "no_time_pressure"], "other": "Ramp"},
            ),
        ):
            done = await http.post(path, data={**fields, "csrf": csrf})
            assert done.status_code == 303, (path, done.text[:300])
        home = await http.get("/")
        assert '<html lang="en-GB" class="text-larger">' in home.text
        assert "Logged in as Bob B." in home.text
        profile = await http.get("/profile?saved=needs")
        assert "Your meeting papers and support needs are saved." in profile.text
        needs = server.db.execute("SELECT * FROM member_needs").fetchone()
        assert (
            needs["papers"],
            needs["bsl"],
            needs["no_time_pressure"],
            needs["support_person"],
        ) == ("large_print", 1, 1, 0)
        bad = await http.post("/profile/name", data={"name": "  ", "csrf": csrf})
        assert bad.status_code == 400 and "Please write the name" in bad.text
        wrong = await http.post(
            "/profile/password",
            data={"current": "nope", "password": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf": csrf},
        )
        assert wrong.status_code == 400 and "not your current password" in wrong.text


async def test_changing_email_waits_for_the_link_to_the_new_address_and_tells_the_old_one(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, inbox = mail_server
    http = await log_in(server, "bob@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http)
        done = await http.post(
            "/profile/email", data={"new_email": "bob.new@cfn.example", "csrf": csrf}
        )
        assert done.status_code == 303
        assert accounts.user_by_email(server.db, "bob@cfn.example") is not None  # not yet
        (msg,) = await inbox.wait_for(1)
        assert msg["To"] == "bob.new@cfn.example"
        link = path_of(link_in(msg, "/email/confirm/"))
        confirm = await http.get(link)
        assert confirm.status_code == 200 and "Yes, use this address" in confirm.text
        assert (
            accounts.user_by_email(server.db, "bob.new@cfn.example") is None
        )  # a GET changes nothing
        changed = await http.post(link, data={"csrf": csrf_of(confirm.text)})
        assert changed.status_code == 200 and "bob.new@cfn.example" in changed.text
    assert accounts.user_by_email(server.db, "bob.new@cfn.example") is not None
    _, notice = await inbox.wait_for(2)
    assert notice["To"] == "bob@cfn.example" and "bob.new" not in text_part(notice)


async def test_changing_password_keeps_this_session_and_ends_the_others(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, _ = mail_server
    phone = await log_in(
        server, "bob@cfn.example", **{"user-agent": "Mozilla/5.0 (Linux; Android 10) Chrome/120.0"}
    )
    laptop = await log_in(
        server, "bob@cfn.example", **{"user-agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/121.0"}
    )
    sessions = await laptop.get("/profile/sessions")
    assert "Chrome on an Android phone or tablet" in sessions.text
    assert "Firefox on Windows" in sessions.text and "This one" in sessions.text
    assert "no internet address" in sessions.text
    csrf = await page_csrf(laptop)
    done = await laptop.post(
        "/profile/password",
        data={
            "current": "correct horse battery",
            "password": NEW_PASSWORD,
            "again": NEW_PASSWORD,
            "csrf": csrf,
        },
    )
    assert done.status_code == 303
    assert (await laptop.get("/profile")).status_code == 200
    assert (await phone.get("/profile")).status_code == 303
    again = await log_in(server, "bob@cfn.example", NEW_PASSWORD)
    csrf = await page_csrf(again)
    ended = await again.post("/profile/sessions/others", data={"csrf": csrf})
    assert ended.status_code == 303
    assert (await laptop.get("/profile")).status_code == 303 and (
        await again.get("/")
    ).status_code == 200
    out = await again.post("/profile/sessions/all", data={"csrf": csrf})
    assert out.status_code == 303 and (await again.get("/")).status_code == 303
    for client in (phone, laptop, again):
        await client.aclose()


async def test_download_my_data_and_close_my_account_keep_posts_as_former_member(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, _ = mail_server
    bob = server.user("bob@cfn.example")
    write_sync(server.db, discussions.create_thread, bob, "north", "Leaflet", "My words", "c1")
    http = await log_in(server, "bob@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http)
        await http.post("/profile/needs", data={"papers": "post", "other": "", "csrf": csrf})
        data = await http.get("/profile/my-data")
        assert data.status_code == 200 and "attachment" in data.headers["content-disposition"]
        held = json.loads(data.text)
        assert held["account"]["email"] == "bob@cfn.example"
        assert held["member_needs"][0]["papers"] == "post"
        assert "password_hash" not in data.text and "token_hash" not in data.text
        confirm = await http.get("/profile/close")
        assert "This cannot be undone" in confirm.text
        closed = await http.post("/profile/close", data={"csrf": csrf_of(confirm.text)})
        assert closed.status_code == 200 and "Your account is closed" in closed.text
        assert (await http.get("/")).status_code == 303
    row = server.db.execute("SELECT name, erased_at FROM users WHERE id = ?", (bob.id,)).fetchone()
    assert row["name"] == "Former member" and row["erased_at"]
    assert server.db.execute("SELECT count(*) FROM member_needs").fetchone()[0] == 0
    body = server.db.execute("SELECT body FROM messages WHERE author_id = ?", (bob.id,)).fetchone()
    assert body[0] == "My words"


async def test_a_suspended_member_cannot_log_in_and_their_socket_closes(
    mail_server: tuple[Running, Inbox],
) -> None:
    server, _ = mail_server
    client = await connect(server, server.token("bob@cfn.example"), JSON)
    await client.call("join", room="north")
    admin = await log_in(server, "ada@cfn.example")
    bob_id = server.user("bob@cfn.example").id
    async with contextlib.aclosing(admin):
        confirm = await admin.get(f"/admin/people/{bob_id}/suspend")
        assert "Suspend Bob?" in confirm.text
        done = await admin.post(
            f"/admin/people/{bob_id}/suspend", data={"csrf": csrf_of(confirm.text)}
        )
        assert done.status_code == 303
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(client.ws.recv(), 5)
            await asyncio.wait_for(client.ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
        with pytest.raises(AssertionError):
            await log_in(server, "bob@cfn.example")
        await admin.post(f"/admin/people/{bob_id}/unsuspend", data={"csrf": csrf_of(confirm.text)})
    assert (await log_in(server, "bob@cfn.example")).cookies[SESSION_COOKIE]
    actions = [r[0] for r in server.db.execute("SELECT action FROM audit_log")]
    assert "user.suspended" in actions and "user.unsuspended" in actions
    await wait_until(lambda: True)
