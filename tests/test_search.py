"""Search over real HTTP, without JavaScript: what is found and where its link goes, the
order, the highlighting, the filters and pages, who finds what, the index kept in step
with every way a post leaves or changes, and what people type that is not a search."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.domain import (
    accounts,
    discussions,
    ideas,
    meetings,
    moderation,
    polls,
    privacy,
    retention,
)
from server.domain.retention import MONTH_MS
from server.storage.engine import write_sync
from tests.harness import ReplyError, Running, connect
from tests.test_web_pages import Member, post

ALICE, BOB, CAROL = "alice@cfn.example", "bob@cfn.example", "carol@cfn.example"
NADIA, ADMIN = "nadia@cfn.example", "admin@cfn.example"
DAY_MS = 86_400_000

Open = Callable[[str], Awaitable[Member]]


@pytest.fixture
async def member(server: Running, room: str) -> AsyncIterator[Open]:
    opened: list[httpx.AsyncClient] = []

    async def open_member(email: str) -> Member:
        user = server.user(email)
        token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
        http = httpx.AsyncClient(base_url=server.http, cookies={SESSION_COOKIE: token}, timeout=10)
        opened.append(http)
        return Member(http, csrf, user)

    yield open_member
    for http in opened:
        await http.aclose()


async def find(who: Member, q: str, **filters: str) -> httpx.Response:
    return await who.http.get("/search", params={"q": q, **filters})


def links(page: httpx.Response) -> list[str]:
    """The results' links, in the order shown."""
    found = re.search(r'<ol class="card-list search-results".*?</ol>', page.text, re.S)
    return re.findall(r'<a class="card-link" href="([^"]+)"', found.group(0)) if found else []


def say(
    server: Running, email: str, room: str, thread: int | None, body: str, title: str = "A thread"
) -> dict:
    """A new thread, or a reply, as {"thread": {"id"}, "message": {"id"}} either way."""
    made = post(server, email, room, thread, body, title)
    return {"thread": {"id": thread}, **made} if thread is not None else made


def message_link(made: dict, room: str = "north") -> str:
    return f"/g/{room}/t/{made['thread']['id']}/m/{made['message']['id']}"


async def test_search_finds_each_kind_of_thing_and_links_to_its_exact_place(
    server: Running, room: str, member: Open
) -> None:
    alice, bob = server.user(ALICE), server.user(BOB)
    first = say(server, ALICE, room, None, "Draft attached for comment", "Discharge leaflet")
    reply = say(server, BOB, room, first["thread"]["id"], "The leaflet needs larger print")
    poll = write_sync(
        server.db,
        polls.create_poll,
        alice,
        room,
        "Which leaflet cover?",
        ["Blue", "Green"],
        "single",
    )
    idea = write_sync(
        server.db, ideas.create_idea, bob, room, "Easy read leaflet", "Pictures help", "i1"
    )
    meeting = write_sync(
        server.db,
        meetings.schedule,
        alice,
        room,
        "Leaflet workshop",
        int(time.time() * 1000) + 7 * DAY_MS,
        "online",
    )
    mid = meeting["meeting"]["id"]
    item = write_sync(
        server.db, meetings.propose_item, bob, mid, "Review the leaflet", "Final look", "decision"
    )
    bob_page = await member(BOB)
    page = await find(bob_page, "leaflet")
    assert page.status_code == 200
    shown = links(page)
    idea_thread = server.db.execute(
        "SELECT thread_id FROM ideas WHERE id = ?", (idea["idea"]["id"],)
    ).fetchone()[0]
    assert set(shown) == {
        f"/g/north/t/{first['thread']['id']}",
        f"/g/north/t/{idea_thread}",  # the idea's own discussion thread, named after it
        message_link(reply),
        f"/g/north/polls/{poll['poll']['id']}",
        f"/g/north/ideas/{idea['idea']['id']}",
        f"/g/north/meetings/{mid}",
        f"/g/north/meetings/{mid}#item-{item['item']['id']}",
    }
    assert "7 results" in page.text
    assert "<mark>leaflet</mark> needs larger print" in page.text
    # The message's link is its permalink: it opens the thread at that message.
    opened = await bob_page.http.get(message_link(reply), follow_redirects=True)
    assert opened.status_code == 200 and "The leaflet needs larger print" in opened.text
    # Poll options are searched too, and shown as words rather than stored JSON.
    options = await find(bob_page, "green")
    assert links(options) == [f"/g/north/polls/{poll['poll']['id']}"]
    assert "Blue · <mark>Green</mark>" in options.text


async def test_results_are_ranked_titles_and_repeated_words_first(
    server: Running, room: str, member: Open
) -> None:
    once = say(server, ALICE, room, None, "We talked about the ramp at the station", "Visit")
    many = say(server, BOB, room, None, "Ramp broken, ramp too steep, no ramp sign", "Notes")
    titled = say(server, ALICE, room, None, "See the photos", "Ramp at Hull station")
    page = await find(await member(BOB), "ramp")
    shown = links(page)
    assert shown[0] == f"/g/north/t/{titled['thread']['id']}"
    assert shown.index(message_link(many)) < shown.index(message_link(once))


async def test_the_matching_words_are_marked_and_everything_else_is_escaped(
    server: Running, room: str, member: Open
) -> None:
    post(
        server,
        ALICE,
        room,
        None,
        'Try <script>alert("x")</script> \ue000 and <b>bold</b> taxi \ue001\ue001 end',
        "<i>Taxi</i> times",
    )
    page = await find(await member(BOB), "taxi")
    assert "<script>alert" not in page.text and "<b>bold" not in page.text
    # Shown as text, never as markup. (SQLite's snippet keeps "<script>" as escaped text;
    # PostgreSQL's ts_headline leaves tag-like words out: either way no tag gets through.)
    assert "alert(&#34;x&#34;)" in page.text
    assert "&lt;i&gt;<mark>Taxi</mark>&lt;/i&gt; times" in page.text
    body = re.search(r'<p class="search-snippet">(.*?)</p>', page.text, re.S)
    assert body is not None and "<mark>taxi</mark>" in body.group(1)
    # Markers typed into a post never make tags of their own: each <mark> is closed.
    assert body.group(1).count("<mark>") == body.group(1).count("</mark>")


async def test_filters_by_group_person_and_date_narrow_the_results(
    server: Running, room: str, member: Open
) -> None:
    server.member("south", ALICE)
    north = say(server, ALICE, room, None, "Wheelchair taxi was late", "North taxi")
    by_bob = say(server, BOB, room, north["thread"]["id"], "My taxi was early")
    south = say(server, ALICE, "south", None, "Taxi firm changed", "South taxi")
    with server.db:  # Bob's reply was written 40 days ago
        server.db.execute(
            "UPDATE messages SET created_at = created_at - ? WHERE id = ?",
            (40 * DAY_MS, by_bob["message"]["id"]),
        )
    alice = await member(ALICE)
    everything = links(await find(alice, "taxi"))
    assert message_link(north) in everything and message_link(south, "south") in everything
    only_south = links(await find(alice, "taxi", group="south"))
    assert only_south and all(link.startswith("/g/south/") for link in only_south)
    bob_id = str(server.user(BOB).id)
    assert links(await find(alice, "taxi", person=bob_id)) == [message_link(by_bob)]
    form = (await alice.http.get("/search")).text
    assert f'<option value="{bob_id}">Bob</option>' in form
    today = time.strftime("%Y-%m-%d")
    recent = links(await find(alice, "taxi", **{"from": today}))
    assert message_link(north) in recent and message_link(by_bob) not in recent
    old_day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 40 * 86400))
    older = links(await find(alice, "taxi", to=old_day))
    assert older == [message_link(by_bob)]


async def test_results_come_a_page_at_a_time_with_links_between_pages(
    server: Running, room: str, member: Open
) -> None:
    first = say(server, ALICE, room, None, "Minutes 0", "Minutes")
    for i in range(1, 25):
        say(server, BOB, room, first["thread"]["id"], f"Minutes draft {i}")
    bob = await member(BOB)
    page_one = await find(bob, "minutes")
    assert len(links(page_one)) == 20 and "26 results" in page_one.text
    assert 'rel="next"' in page_one.text and 'rel="prev"' not in page_one.text
    page_two = await find(bob, "minutes", page="2")
    assert len(links(page_two)) == 6 and 'rel="prev"' in page_two.text
    assert 'start="21"' in page_two.text
    assert not set(links(page_one)) & set(links(page_two))


async def test_an_outsider_finds_nothing_of_another_group_and_an_admin_finds_all(
    server: Running, room: str, member: Open
) -> None:
    secret = say(server, ALICE, room, None, "Dialysis moved to Tuesdays", "Renal transport")
    server.member("south", CAROL)
    say(server, CAROL, "south", None, "South has no dialysis news", "South news")
    carol = await member(CAROL)
    page = await find(carol, "dialysis")
    assert all(link.startswith("/g/south/") for link in links(page))
    assert "Tuesdays" not in page.text and "Renal transport" not in page.text
    refused = await find(carol, "dialysis", group="north")
    assert refused.status_code == 400 and "Please choose one of your groups." in refused.text
    assert "Tuesdays" not in refused.text
    server.user(ADMIN, role="admin")
    admin = links(await find(await member(ADMIN), "dialysis"))
    assert message_link(secret) in admin and any(x.startswith("/g/south/") for x in admin)


async def test_staff_only_posts_are_found_only_by_their_author_staff_and_admins(
    server: Running, room: str, member: Open
) -> None:
    server.user(NADIA, role="staff")
    server.member(room, NADIA, "facilitator")
    server.user(ADMIN, role="admin")
    open_thread = say(server, ALICE, room, None, "Hospital parking is hard", "Parking")
    staff_post = write_sync(
        server.db,
        discussions.post_message,
        server.user(BOB),
        room,
        open_thread["thread"]["id"],
        "My parking fine appeal, for staff only",
        "s1",
        True,
    )
    private = write_sync(
        server.db,
        discussions.create_thread,
        server.user(BOB),
        room,
        "Parking permit for my carer",
        "Details for staff only",
        "s2",
        True,
    )
    staff_post["thread"] = open_thread["thread"]
    staff_link, private_link = message_link(staff_post), f"/g/north/t/{private['thread']['id']}"
    alice = links(await find(await member(ALICE), "parking"))
    assert set(alice) == {f"/g/north/t/{open_thread['thread']['id']}", message_link(open_thread)}
    for email in (BOB, NADIA, ADMIN):
        found = links(await find(await member(email), "parking"))
        assert staff_link in found and private_link in found, email
    # A facilitator who is not site staff does not read staff-only posts.
    server.member(room, CAROL, "facilitator")
    carol = links(await find(await member(CAROL), "parking"))
    assert staff_link not in carol and private_link not in carol


async def test_a_deleted_hidden_edited_retention_deleted_post_leaves_or_changes_in_the_index(
    server: Running, room: str, member: Open
) -> None:
    alice, bob = server.user(ALICE), server.user(BOB)
    first = say(server, BOB, room, None, "Ambulance handover delays", "Handover")
    tid = first["thread"]["id"]
    gone = say(server, BOB, room, tid, "Handover notes I regret")
    hidden = say(server, BOB, room, tid, "Handover gossip about a named nurse")
    edited = say(server, BOB, room, tid, "Handover was slow at the old site")
    aged = say(server, BOB, room, tid, "Handover from years ago")
    reader = await member(ALICE)
    before = links(await find(reader, "handover"))
    assert all(message_link(x) in before for x in (first, gone, hidden, edited, aged))

    write_sync(server.db, discussions.delete_message, bob, gone["message"]["id"])
    write_sync(server.db, moderation.hide_message, alice, hidden["message"]["id"], "personal")
    write_sync(
        server.db,
        discussions.edit_message,
        bob,
        edited["message"]["id"],
        "It was quicker at the new site",
    )
    with server.db:
        server.db.execute(
            "UPDATE messages SET created_at = created_at - ? WHERE id = ?",
            (25 * MONTH_MS, aged["message"]["id"]),
        )
    write_sync(server.db, retention.set_retention, room, 24)
    write_sync(server.db, retention.run)

    after = await find(reader, "handover")
    assert links(after) == [f"/g/north/t/{tid}", message_link(first)]
    assert "regret" not in after.text and "gossip" not in after.text
    assert links(await find(reader, "regret")) == []
    assert links(await find(reader, "gossip")) == []
    assert links(await find(reader, "quicker")) == [message_link(edited)]
    assert links(await find(reader, "slow")) == []
    # Restoring the hidden post puts it back.
    write_sync(server.db, moderation.restore_message, alice, hidden["message"]["id"])
    assert links(await find(reader, "gossip")) == [message_link(hidden)]


async def test_an_erased_member_is_shown_as_former_member_and_found_by_no_name(
    server: Running, room: str, member: Open
) -> None:
    made = say(server, BOB, room, None, "Volunteer rota for the open day", "Open day")
    write_sync(server.db, privacy.erase_user, BOB)
    alice = await member(ALICE)
    page = await find(alice, "rota")
    assert links(page) == [message_link(made)]
    assert "Former member" in page.text and "Bob" not in page.text.split("</header>")[1]
    assert links(await find(alice, "bob")) == []
    form = (await alice.http.get("/search")).text
    assert ">Bob</option>" not in form


@pytest.mark.parametrize(
    "typed",
    ['"', "AND OR", "NOT", "*", "NEAR(a b)", "title:x", "{body}: a", "a\u00a0^ b", "'; DROP"],
)
async def test_what_people_type_is_never_search_syntax(
    server: Running, room: str, member: Open, typed: str
) -> None:
    say(server, ALICE, room, None, "Drop in session AND near the title", "Notes")
    page = await find(await member(BOB), typed)
    assert page.status_code in (200, 400)
    assert "Something went wrong" not in page.text
    if page.status_code == 400:
        assert "Please type a word to look for." in page.text


async def test_an_empty_or_over_long_query_gets_the_form_again_with_one_sentence(
    server: Running, room: str, member: Open
) -> None:
    bob = await member(BOB)
    first = await bob.http.get("/search")
    assert first.status_code == 200 and 'id="search-q"' in first.text
    assert "There is a problem" not in first.text and "Type one or more words" in first.text
    empty = await find(bob, "   ")
    assert empty.status_code == 400 and "Please type a word to look for." in empty.text
    assert 'aria-invalid="true"' in empty.text
    long = "transport " * 30
    too_long = await find(bob, long)
    assert too_long.status_code == 400 and "Please use fewer words" in too_long.text
    assert long.strip() in too_long.text  # what was typed is shown again
    bad_date = await find(bob, "taxi", **{"from": "14/03/2026"})
    assert bad_date.status_code == 400 and "like 2026-03-14" in bad_date.text
    assert 'value="14/03/2026"' in bad_date.text
    backwards = await find(bob, "taxi", **{"from": "2026-03-14", "to": "2026-03-01"})
    assert "The “To date” is before the “From date”." in backwards.text


async def test_the_header_has_a_search_box_on_every_members_page(
    server: Running, room: str, member: Open
) -> None:
    bob = await member(BOB)
    for url in ("/", f"/g/{room}", "/profile"):
        html = (await bob.http.get(url, follow_redirects=True)).text
        assert 'role="search"' in html and 'action="/search"' in html, url
    logged_out = await httpx.AsyncClient(base_url=server.http).get("/search")
    assert logged_out.status_code in (302, 303, 307)


async def test_the_search_op_answers_with_plain_text_and_highlight_spans(
    server: Running, room: str
) -> None:
    made = say(server, ALICE, room, None, "The <b>night</b> crew were kind", "Night shift")
    server.member("south", CAROL)
    client = await connect(server, server.token(BOB))
    try:
        found = await client.call("search", q="night crew")
        by_kind = {r["kind"]: r for r in found["results"]}
        message = by_kind["message"]
        assert (message["room"], message["thread"], message["id"]) == (
            "north",
            made["thread"]["id"],
            made["message"]["id"],
        )
        text, marks = message["snippet"], message["snippet_marks"]
        assert "\ue000" not in text and [text[a:b] for a, b in marks] == ["night", "crew"]
        assert found["total"] == 1 and found["more"] is False  # the title lacks "crew"
        title_only = (await client.call("search", q="shift"))["results"]
        assert [(r["kind"], r["title"], r["title_marks"]) for r in title_only] == [
            ("thread", "Night shift", [[6, 11]])
        ]
        with pytest.raises(ReplyError) as refused:
            await client.call("search", q='"')
        assert refused.value.code == "bad_request"
        assert "Please type a word" in refused.value.message
        outsider = await connect(server, server.token(CAROL))
        try:
            assert (await outsider.call("search", q="night"))["results"] == []
            with pytest.raises(ReplyError):
                await outsider.call("search", q="night", room="north")
        finally:
            await outsider.close()
    finally:
        await client.close()
