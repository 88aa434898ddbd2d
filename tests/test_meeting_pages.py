"""Meetings with forms alone (no JavaScript): a whole meeting from scheduling to the locked
minutes, the pack's contents, and bad input shown again next to its field."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from server.domain import discussions, ideas, meetings, polls
from server.storage.engine import write_sync
from server.web.pages.meetings import local_moment, long_when
from server.web.templating import LOCAL_TIME
from tests.harness import Running
from tests.test_poll_pages import Browser

ROOM = "north"


@pytest.fixture
async def site(server: Running) -> AsyncIterator[Callable[[str], Browser]]:
    """north: priya (chair), nadia (facilitator), bob, dan and mags (members); carol is in
    south only."""
    server.member(ROOM, "priya@cfn.example", "chair")
    server.member(ROOM, "nadia@cfn.example", "facilitator")
    for who in ("bob", "dan", "mags"):
        server.member(ROOM, f"{who}@cfn.example")
    server.member("south", "carol@cfn.example")
    opened: dict[str, Browser] = {}

    def browser(who: str) -> Browser:
        if who not in opened:
            opened[who] = Browser(server, f"{who}@cfn.example")
        return opened[who]

    yield browser
    for b in opened.values():
        await b.http.aclose()


def text_of(page: Any) -> str:
    """The page's words, tags removed and whitespace folded, for plain assertions."""
    inline = re.sub(r"</?(?:strong|em|a|span|time|code)\b[^>]*>", "", page.text)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def in_days(days: int, at: str = "14:00") -> tuple[str, str]:
    day = (datetime.now(LOCAL_TIME) + timedelta(days=days)).date().isoformat()
    return day, at


def test_times_are_said_in_uk_local_time_with_the_day_of_the_week() -> None:
    winter = local_moment("2031-01-16", "14:00")  # GMT
    summer = local_moment("2031-07-17", "09:30")  # BST: 08:30 UTC
    assert long_when(winter) == "Thursday 16 January 2031, 2pm"
    assert long_when(summer) == "Thursday 17 July 2031, 9:30am"
    assert datetime.fromtimestamp(summer / 1000).astimezone(LOCAL_TIME).hour == 9


async def schedule(priya: Browser, days: int = 3, **extra: str) -> int:
    day, at = in_days(days)
    done = await priya.post(
        "/g/north/meetings",
        {
            "title": "Winter meeting",
            "date": day,
            "time": at,
            "mode": "hybrid",
            "place": "Thirsk hall",
            "step_free": "yes",
            **extra,
        },
    )
    assert done.status_code == 303, done.text
    found = re.search(r"/meetings/(\d+)", done.headers["location"])
    assert found is not None
    return int(found[1])


async def test_a_meeting_in_the_past_is_shown_again_with_what_was_typed(
    server: Running, site: Callable[[str], Browser]
) -> None:
    day, _ = in_days(-2)
    page = await site("priya").post(
        "/g/north/meetings",
        {"title": "Yesterday's", "date": day, "time": "10:00", "mode": "online"},
    )
    assert page.status_code == 400
    assert "already passed" in page.text
    assert 'value="Yesterday&#39;s"' in page.text
    assert 'id="schedule-date-error"' in page.text
    assert server.db.execute("SELECT count(*) FROM meetings").fetchone()[0] == 0
    bad_date = await site("priya").post(
        "/g/north/meetings", {"title": "T", "date": "14 Jan", "time": "10:00", "mode": "online"}
    )
    assert bad_date.status_code == 400 and "day, month and year" in bad_date.text


async def test_members_see_the_next_meeting_on_the_group_and_home_pages(
    server: Running, site: Callable[[str], Browser]
) -> None:
    meeting = await schedule(site("priya"))
    starts = server.db.execute("SELECT starts_at FROM meetings WHERE id = ?", (meeting,)).fetchone()
    words = long_when(starts[0])
    assert re.match(r"^[A-Z][a-z]+day \d+ [A-Z][a-z]+( \d{4})?, 2pm$", words)
    room = text_of(await site("bob").get("/g/north"))
    assert f"Next meeting: {words}" in room
    home = text_of(await site("bob").get("/"))
    assert f"Next meeting: {words}" in home
    assert (await site("carol").get(f"/g/north/meetings/{meeting}")).status_code == 404
    assert (await site("bob").get(f"/g/north/meetings/{meeting}/run")).status_code == 403


async def test_a_whole_meeting_runs_with_forms_alone_and_the_pack_has_everything(
    server: Running, site: Callable[[str], Browser]
) -> None:
    priya, nadia, bob, dan, mags = (site(w) for w in ("priya", "nadia", "bob", "dan", "mags"))
    meeting = await schedule(priya)
    base = f"/g/north/meetings/{meeting}"
    ids = []
    for title, kind in (
        ("Welcome", "information"),
        ("Falls response times", "decision"),
        ("Control room visit", "discussion"),
    ):
        done = await bob.post(
            f"{base}/propose", {"title": title, "summary": f"In short: {title}.", "kind": kind}
        )
        assert done.status_code == 303
        ids.append(server.db.execute("SELECT max(id) FROM agenda_items").fetchone()[0])
    # a decline without a reason is shown again, next to the reason field
    again = await priya.post(f"{base}/items/{ids[0]}/decide", {"decision": "decline"})
    assert again.status_code == 400 and f'id="decide-{ids[0]}-reason-error"' in again.text
    for item in ids:
        assert (
            await priya.post(f"{base}/items/{item}/decide", {"decision": "accept"})
        ).status_code == 303
    assert (await dan.post(f"{base}/items/{ids[1]}/support", {"on": "yes"})).status_code == 303
    # replies with the needs each member chose to give; the chair's checklist counts them
    await bob.post(
        f"{base}/reply", {"attending": "online", "papers_format": "post", "listed": "yes"}
    )
    await dan.post(f"{base}/reply", {"attending": "online", "papers_format": "post"})
    await mags.post(
        f"{base}/reply",
        {"attending": "cant_come", "papers_format": "large_print", "support": "no_time_pressure"},
    )
    missing = await bob.post(f"{base}/reply", {})
    assert missing.status_code == 400 and "how you will come" in missing.text
    await mags.post(f"{base}/items/{ids[1]}/view", {"body": "Rural waits matter most to me."})
    chair_view = text_of(await priya.get(base))
    assert "2 want papers by post: Bob, Dan" in chair_view
    assert "1 wants papers large print: Mags" in chair_view
    assert "1 needs no time pressure: Mags" in chair_view
    member_view = text_of(await bob.get(base))  # needs and others' views are the chair's
    assert "For the chair" not in member_view and "large print: Mags" not in member_view
    assert "Rural waits" not in member_view
    # the meeting runs
    assert (await priya.post(f"{base}/start")).status_code == 303
    room_page = text_of(await bob.get("/g/north"))
    assert "Item 1 of 3: Welcome – for information" in room_page
    thread = write_sync(
        server.db,
        discussions.create_thread,
        server.user("bob@cfn.example"),
        ROOM,
        "Live",
        "Hi",
        "c1",
    )["thread"]["id"]
    await priya.post(f"{base}/next")
    run = text_of(await priya.get(f"{base}/run"))
    assert "Item 2 of 3: Falls response times – for decision" in run
    assert "Rural waits matter most to me. – Mags" in run
    write_sync(
        server.db,
        discussions.post_message,
        server.user("dan@cfn.example"),
        ROOM,
        thread,
        "Rural figures please",
        "c2",
    )
    poll = write_sync(
        server.db,
        polls.create_poll,
        server.user("priya@cfn.example"),
        ROOM,
        "Ask for rural targets?",
        ["Yes", "No"],
        "single",
        True,
    )["poll"]["id"]
    await priya.post(f"{base}/items/{ids[1]}/outcome", {"outcome": "decided", "note": "We ask."})
    bob_id = server.user("bob@cfn.example").id
    carol_id = server.user("carol@cfn.example").id
    day, _ = in_days(14)
    assert (
        await priya.post(
            f"{base}/items/{ids[1]}/action",
            {"what": "Write to the trust", "owner": str(bob_id), "due": day},
        )
    ).status_code == 303
    refused = await nadia.post(f"{base}/attendance/{carol_id}", {"mode": "in_room"})
    assert refused.status_code == 400 and "not a member of this group" in refused.text
    await nadia.post(f"{base}/attendance/{bob_id}", {"mode": "in_room", "came_in_person": "yes"})
    dan_id = server.user("dan@cfn.example").id
    await nadia.post(f"{base}/attendance/{dan_id}", {"mode": "phone"})
    await priya.post(f"{base}/next")
    last = await priya.post(f"{base}/next")
    assert last.status_code == 409 and "last item" in last.text
    await priya.post(f"{base}/end")
    # mags reads the pack without JavaScript
    pack = await mags.get(f"{base}/pack")
    words = text_of(pack)
    assert "Draft minutes" in words
    for expected in (
        "1. Welcome – for information",
        "In short: In short: Falls response times.",
        "Views sent in before the meeting Rural waits matter most to me. – Mags",
        "1 message (press to read)",
        "Rural figures please",
        "Poll: Ask for rural targets? (still open: you can vote)",
        "Outcome: Decided. We ask.",
        "Write to the trust – Bob",
        "2 members took part: 1 in the room, 1 on the phone.",
        "1 sent apologies",
        "those happy to be named: Bob.",
    ):
        assert expected in words, expected
    assert "Dan." not in words.split("Who took part")[1].split("What you can")[0]
    assert f"/g/north/t/{thread}/m/" in pack.text
    assert f'/g/north/polls/{poll}"' in pack.text
    assert "<script" not in pack.text.split("</main>")[0]
    # comments until approval; then locked with a clear message
    assert (
        await mags.post(f"{base}/comment", {"body": "Please add my view to item 2."})
    ).status_code == 303
    assert (await priya.post(f"{base}/approve")).status_code == 303
    approved = text_of(await mags.get(f"{base}/pack"))
    assert "Approved by Priya on" in approved
    late = await mags.post(f"{base}/comment", {"body": "One more thing"})
    assert late.status_code == 409
    assert "approved and locked" in late.text
    assert server.db.execute("SELECT count(*) FROM minutes_notes").fetchone()[0] == 1
    await priya.post(f"{base}/correct", {"body": "The action is for Bob and Dan."})
    assert "The action is for Bob and Dan." in text_of(await mags.get(f"{base}/pack"))


async def test_overdue_actions_show_on_the_group_page_and_the_next_draft_agenda(
    server: Running, site: Callable[[str], Browser]
) -> None:
    priya = server.user("priya@cfn.example")
    past = int(time.time() * 1000) - 10 * 86_400_000
    made = write_sync(
        server.db, meetings.schedule, priya, ROOM, "Last time", past + 1, "online", at=past
    )["meeting"]["id"]
    item = write_sync(
        server.db,
        meetings.propose_item,
        priya,
        made,
        "Leaflet",
        "The leaflet.",
        "decision",
        at=past,
    )["item"]["id"]
    write_sync(server.db, meetings.decide_item, priya, item, "accept", at=past)
    write_sync(server.db, meetings.start, priya, made, at=past + 2)
    write_sync(
        server.db,
        meetings.add_action,
        priya,
        item,
        "Print the leaflet",
        None,
        past + 3,
        at=past + 3,
    )
    write_sync(server.db, meetings.end, priya, made, at=past + 4)
    room = text_of(await site("bob").get("/g/north"))
    assert "1 action past its date" in room and "Print the leaflet" in room
    following = await schedule(site("priya"))
    agenda = text_of(await site("bob").get(f"/g/north/meetings/{following}"))
    assert "Actions from last time, not yet done" in agenda
    assert "Print the leaflet" in agenda


async def test_an_idea_is_sent_to_the_next_meeting_from_its_page(
    server: Running, site: Callable[[str], Browser]
) -> None:
    bob = site("bob")
    idea = write_sync(
        server.db, ideas.create_idea, server.user("bob@cfn.example"), ROOM, "Peer support", "b", "i"
    )["idea"]["id"]
    page = await bob.get(f"/g/north/ideas/{idea}")
    assert "Send this idea to the next meeting" in page.text
    none_yet = await bob.post(f"/g/north/ideas/{idea}/to-meeting")
    assert none_yet.status_code == 409 and "No meeting of this group is coming up" in none_yet.text
    meeting = await schedule(site("priya"))
    sent = await bob.post(f"/g/north/ideas/{idea}/to-meeting")
    assert sent.status_code == 303 and f"/meetings/{meeting}" in sent.headers["location"]
    proposed = text_of(await bob.get(f"/g/north/meetings/{meeting}"))
    assert "Peer support" in proposed and "from an idea on the board" in proposed


async def test_the_pack_shows_a_staff_only_post_during_an_item_only_to_who_may_read_it(
    server: Running, site: Callable[[str], Browser]
) -> None:
    """Health details shared with staff during a meeting stay out of everyone else's pack."""
    priya, bob, dan = site("priya"), site("bob"), site("dan")
    meeting = await schedule(priya)
    base = f"/g/north/meetings/{meeting}"
    await bob.post(
        f"{base}/propose", {"title": "Renal transport", "summary": "Waits.", "kind": "discussion"}
    )
    item = server.db.execute("SELECT max(id) FROM agenda_items").fetchone()[0]
    await priya.post(f"{base}/items/{item}/decide", {"decision": "accept"})
    assert (await priya.post(f"{base}/start")).status_code == 303
    dan_user = server.user("dan@cfn.example")
    thread = write_sync(
        server.db,
        discussions.create_thread,
        server.user("bob@cfn.example"),
        ROOM,
        "During the meeting",
        "Open to all",
        "s1",
    )["thread"]["id"]
    write_sync(
        server.db,
        discussions.post_message,
        dan_user,
        ROOM,
        thread,
        "My dialysis times changed",
        "s2",
        True,
    )
    assert (await priya.post(f"{base}/end")).status_code == 303
    for reader, sees in ((bob, False), (priya, False), (dan, True)):
        pack = text_of(await reader.get(f"{base}/pack"))
        assert "Open to all" in pack
        assert ("My dialysis times changed" in pack) is sees, reader
