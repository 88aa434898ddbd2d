"""RFC 8058 one-click unsubscribe against a real server: one POST with no cookie and no CSRF
token answers 2xx and stops that list; the page first offers a lower frequency; an unknown
token changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from server.domain import email_prefs
from server.storage.engine import write_sync


async def test_one_post_with_no_cookie_stops_the_list_the_email_came_from(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    margaret = server.user("margaret@cfn.example", "Margaret")
    write_sync(server.db, email_prefs.save, margaret, "daily", True, False, True, "Europe/London")
    token = write_sync(server.db, email_prefs.new_token, margaret.id, "digest")
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        answer = await http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert 200 <= answer.status_code < 300
        assert not http.cookies  # no session was needed or made
    after = email_prefs.prefs_of(server.db, margaret.id)
    assert after.digest == "never" and after.on_reply and after.on_meeting  # only that list


async def test_the_unsubscribe_page_offers_a_lower_frequency_first_and_a_get_changes_nothing(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    yusuf = server.user("yusuf@cfn.example", "Yusuf")
    write_sync(server.db, email_prefs.save, yusuf, "daily", True, False, True, "Europe/London")
    token = write_sync(server.db, email_prefs.new_token, yusuf.id, "reply")
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        page = await http.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
        weekly = page.text.index("A summary once a week instead")
        assert (
            weekly < page.text.index("Only meeting reminders") < page.text.index("No email at all")
        )
        assert email_prefs.prefs_of(server.db, yusuf.id).digest == "daily"  # GET: nothing
        done = await http.post(f"/unsubscribe/{token}", data={"choice": "weekly"})
        assert done.status_code == 200 and "Your email settings are changed" in done.text
        assert email_prefs.prefs_of(server.db, yusuf.id).digest == "weekly"
        wrong = await http.post(f"/unsubscribe/{token}", data={"choice": "hourly"})
        assert wrong.status_code == 400 and "Please choose one of the options." in wrong.text
        none = await http.post(f"/unsubscribe/{token}", data={"choice": "none"})
        assert none.status_code == 200
    p = email_prefs.prefs_of(server.db, yusuf.id)
    assert (p.digest, p.on_reply, p.on_poll, p.on_meeting) == ("never", False, False, False)


async def test_an_unknown_token_is_a_plain_404_and_changes_nothing(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    dot = server.user("dot@cfn.example", "Dot")
    write_sync(server.db, email_prefs.save, dot, "weekly", False, False, True, "Europe/London")
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        answer = await http.post(
            "/unsubscribe/not-a-real-token", data={"List-Unsubscribe": "One-Click"}
        )
        assert answer.status_code == 404 and "Traceback" not in answer.text
    assert email_prefs.prefs_of(server.db, dot.id).digest == "weekly"


async def test_a_link_can_only_lower_the_settings_never_turn_an_email_on(
    start_server: Callable[..., Any],
) -> None:
    """Whoever holds the link (a forwarded email) cannot post a choice the page did not
    offer to switch on meeting reminders Sam had turned off."""
    server = await start_server()
    sam = server.user("sam@cfn.example", "Sam")
    write_sync(server.db, email_prefs.save, sam, "weekly", True, False, False, "Europe/London")
    token = write_sync(server.db, email_prefs.new_token, sam.id, "digest")
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        page = await http.get(f"/unsubscribe/{token}")
        assert "Only meeting reminders" not in page.text  # not offered: they are off
        answer = await http.post(f"/unsubscribe/{token}", data={"choice": "meetings_only"})
        assert answer.status_code == 400 and "Please choose one of the options." in answer.text
    p = email_prefs.prefs_of(server.db, sam.id)
    assert (p.digest, p.on_reply, p.on_poll, p.on_meeting) == ("weekly", True, False, False)
