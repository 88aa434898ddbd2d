"""Email settings (/me/email) and the emails that cannot wait, against a real server and a
real aiosmtpd: quiet defaults, a reply in my thread, a meeting reminder with how to join,
staff-only and hidden posts never emailed to those who may not see them, the group whose
emails never carry message text, and export and erasure of the settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from server.domain import discussions, email_prefs, meetings, moderation, privacy
from server.domain.accounts import User
from server.storage import Tx
from server.storage.engine import write_sync
from tests.harness import Running
from tests.people_helpers import log_in, page_csrf
from tests.smtp import Inbox, html_part, smtp_server, text_part

ORIGIN = "http://cfn.example"  # http: the test client keeps the cookies


def email_settings(port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "scheduler_every": 0.2,
        "origin": ORIGIN,
    }


def choose(server: Running, user: User, digest: str = "never", **on: bool) -> None:
    write_sync(
        server.db,
        email_prefs.save,
        user,
        digest,
        on.get("reply", False),
        on.get("poll", False),
        on.get("meeting", False),
        "Europe/London",
    )


async def settle(inbox: Inbox, rounds: float = 1.0) -> list[EmailMessage]:
    """Let the scheduler and the sender run a few rounds, then what arrived."""
    await asyncio.sleep(rounds)
    return inbox.messages


async def test_people_added_by_the_command_line_get_no_email_until_they_choose(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    server.user("dot@cfn.example", "Dot")
    http = await log_in(server, "dot@cfn.example")
    page = await http.get("/me/email")
    assert page.status_code == 200
    assert "You have not chosen yet, so we send you no email" in page.text
    assert 'value="never" checked' in page.text
    prefs = email_prefs.prefs_of(server.db, server.user("dot@cfn.example").id)
    assert prefs == email_prefs.Prefs()  # nothing chosen: nothing on
    profile = await http.get("/profile")
    assert 'href="/me/email"' in profile.text
    await http.aclose()


async def test_saving_the_settings_form_keeps_each_choice_and_a_bad_one_changes_nothing(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    yusuf = server.user("yusuf@cfn.example", "Yusuf")
    http = await log_in(server, "yusuf@cfn.example")
    csrf = await page_csrf(http, "/me/email")
    done = await http.post(
        "/me/email",
        data={
            "csrf": csrf,
            "digest": "daily",
            "on_reply": "1",
            "on_meeting": "1",
            "time_zone": "Europe/Dublin",
        },
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/me/email?saved")
    saved = email_prefs.prefs_of(server.db, yusuf.id)
    assert (saved.digest, saved.on_reply, saved.on_poll, saved.on_meeting, saved.time_zone) == (
        "daily",
        True,
        False,
        True,
        "Europe/Dublin",
    )
    wrong = await http.post(
        "/me/email",
        data={"csrf": csrf, "digest": "hourly", "time_zone": "Mars/Olympus"},
    )
    assert wrong.status_code == 400
    assert "Please choose how often to get a summary." in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert email_prefs.prefs_of(server.db, yusuf.id) == saved
    await http.aclose()


async def test_a_reply_in_my_thread_is_emailed_once_with_one_click_unsubscribe(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(**email_settings(inbox.port))
        server.member("north", "yusuf@cfn.example")
        server.member("north", "priya@cfn.example", "chair")
        server.member("north", "sam@cfn.example")
        yusuf, priya = server.user("yusuf@cfn.example"), server.user("priya@cfn.example")
        sam = server.user("sam@cfn.example")
        choose(server, yusuf, reply=True)  # wants replies
        choose(server, sam)  # wrote in the thread, but did not ask for reply emails
        await asyncio.sleep(0.5)  # the first round sets the cursor: older messages never go
        made = write_sync(
            server.db, discussions.create_thread, yusuf, "north", "Transport times", "Mine", "c1"
        )
        thread = made["thread"]["id"]
        write_sync(server.db, discussions.post_message, sam, "north", thread, "Also me", "c2")
        write_sync(
            server.db, discussions.post_message, priya, "north", thread, "Thank you both", "c3"
        )
        msgs = await inbox.wait_for(2)
        await settle(inbox)
        assert [m["To"] for m in inbox.messages] == ["yusuf@cfn.example"] * 2  # Sam's, Priya's
        last = msgs[1]
        assert last["Subject"] == "Priya replied in “Transport times”"
        assert "Thank you both" in text_part(last)
        assert f"{ORIGIN}/g/north/t/{thread}#m" in text_part(last)
        unsubscribe = str(last["List-Unsubscribe"]).strip()  # may be folded onto a new line
        assert unsubscribe.startswith(f"<{ORIGIN}/unsubscribe/") and unsubscribe.endswith(">")
        assert last["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe[1:-1] in html_part(last)  # the visible link is the same page
        assert "<img" not in html_part(last)


async def test_staff_only_and_hidden_posts_are_never_emailed_to_members_who_may_not_see_them(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(**email_settings(inbox.port))
        server.member("north", "margaret@cfn.example")
        server.member("north", "priya@cfn.example", "chair")
        server.user("nadia@cfn.example", "Nadia", role="staff")
        server.member("north", "nadia@cfn.example", "facilitator")
        margaret, priya = server.user("margaret@cfn.example"), server.user("priya@cfn.example")
        nadia = server.user("nadia@cfn.example")
        choose(server, margaret, reply=True)
        choose(server, nadia, reply=True)
        await asyncio.sleep(0.5)
        made = write_sync(
            server.db, discussions.create_thread, margaret, "north", "Visit", "Lovely visit", "a"
        )
        thread = made["thread"]["id"]
        write_sync(server.db, discussions.post_message, nadia, "north", thread, "Noted", "b")
        write_sync(
            server.db,
            discussions.post_message,
            nadia,
            "north",
            thread,
            "Staff note: a safeguarding concern",
            "c",
            True,
        )

        def post_and_hide(tx: Tx) -> None:  # hidden in the transaction that posted it
            rude = discussions.post_message(tx, priya, "north", thread, "Something rude", "d")
            moderation.hide_message(tx, priya, rude["message"]["id"], "rules")

        write_sync(server.db, post_and_hide)
        write_sync(server.db, discussions.post_message, priya, "north", thread, "All fine", "e")
        await inbox.wait_for(2)
        await settle(inbox)
        for_margaret = [text_part(m) for m in inbox.messages if m["To"] == margaret.email]
        assert any("Noted" in t for t in for_margaret)
        assert any("All fine" in t for t in for_margaret)
        everything = " ".join(text_part(m) + html_part(m) for m in inbox.messages)
        assert "safeguarding" not in " ".join(for_margaret)
        assert "Something rude" not in everything  # hidden before it was emailed
        for_nadia = [text_part(m) for m in inbox.messages if m["To"] == nadia.email]
        assert any("All fine" in t for t in for_nadia)


async def test_a_group_marked_no_message_text_gets_emails_without_what_was_written(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(**email_settings(inbox.port))
        server.user("admin@cfn.example", "Ada", role="admin")
        server.member("renal", "yusuf@cfn.example")
        server.member("renal", "dot@cfn.example")
        yusuf, dot = server.user("yusuf@cfn.example"), server.user("dot@cfn.example")
        choose(server, yusuf, reply=True)
        http = await log_in(server, "admin@cfn.example")
        page = await http.get("/admin/groups/renal")
        assert "Never include message text in emails" in page.text
        done = await http.post(
            "/admin/groups/renal/email-text",
            data={"csrf": await page_csrf(http, "/admin/groups/renal"), "no_text": "1"},
        )
        assert done.status_code == 303
        assert "emails never include message text" in (await http.get("/admin/groups/renal")).text
        await http.aclose()
        await asyncio.sleep(0.5)
        made = write_sync(
            server.db, discussions.create_thread, yusuf, "renal", "My dialysis", "Hard week", "a"
        )
        write_sync(
            server.db,
            discussions.post_message,
            dot,
            "renal",
            made["thread"]["id"],
            "My kidney results came back",
            "b",
        )
        (msg,) = await inbox.wait_for(1)
        text, html = text_part(msg), html_part(msg)
        assert msg["Subject"] == "A new reply in Renal"
        for secret in ("kidney", "My dialysis", "Hard week"):
            assert secret not in text and secret not in html and secret not in msg["Subject"]
        assert "does not include what was written" in text


async def test_a_meeting_reminder_says_when_and_how_to_join_by_phone_and_online(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(**email_settings(inbox.port))
        server.member("north", "priya@cfn.example", "chair")
        server.member("north", "margaret@cfn.example")
        server.member("north", "sam@cfn.example")
        priya, margaret = server.user("priya@cfn.example"), server.user("margaret@cfn.example")
        choose(server, margaret, meeting=True)  # no digest: only the reminder is counted
        choose(server, server.user("sam@cfn.example"), meeting=False)
        starts = int(time.time() * 1000) + 3 * 3_600_000
        made = write_sync(
            server.db,
            lambda tx: meetings.schedule(
                tx,
                priya,
                "north",
                "North group meeting",
                starts,
                "hybrid",
                place="Wakefield station, room 2",
                join_online="https://meet.example/north",
                join_phone="0113 496 0000, code 4242",
            ),
        )
        with server.db:  # published (the agenda's own steps are the meetings tests')
            server.db.execute(
                "UPDATE meetings SET published_at = ? WHERE id = ?",
                (int(time.time() * 1000), made["meeting"]["id"]),
            )
        (msg,) = await inbox.wait_for(1)
        await settle(inbox)
        assert len(inbox.messages) == 1 and msg["To"] == margaret.email
        text = text_part(msg)
        assert msg["Subject"].startswith("Reminder: North group meeting, ")
        assert "Join by phone: 0113 496 0000, code 4242" in text
        assert "Join online: https://meet.example/north" in text
        assert "Where: Wakefield station, room 2" in text
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_email_settings_and_unsubscribe_links_are_exported_and_erased(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    dot = server.user("dot@cfn.example", "Dot")
    choose(server, dot, "weekly", meeting=True)
    token = write_sync(server.db, email_prefs.new_token, dot.id, "digest")
    exported = privacy.export_user(server.db, dot.email)
    assert exported["email"]["settings"]["digest"] == "weekly"
    assert [t["list"] for t in exported["email"]["unsubscribe_links"]] == ["digest"]
    assert token not in str(exported)  # only the hash is kept, and it is not exported
    counts = write_sync(server.db, privacy.erase_user, dot.email)
    assert counts["email_settings"] == 2
    assert email_prefs.prefs_of(server.db, dot.id) == email_prefs.Prefs()
