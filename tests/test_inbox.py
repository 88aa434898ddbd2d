"""The inbox (domain/inbox.py) against a real server: content arrives over the WebSocket,
and the inbox is read through the server's own storage, as the page and the digests read it.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.domain import accounts, inbox
from server.domain.accounts import User
from server.errors import BadRequest, NotFound
from server.storage.engine import write_sync
from tests.harness import Client, Running, connect

ROOM = "north"
DAY = 24 * 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
async def people(server: Running) -> AsyncIterator[dict[str, Client]]:
    """north: cora (chair), fay (facilitator, staff), bob and dan (members); south: sid;
    carol is in no group. Each is connected and has joined their room."""
    server.member(ROOM, "cora@cfn.example", "chair")
    server.user("fay@cfn.example", role="staff")
    server.member(ROOM, "fay@cfn.example", "facilitator")
    server.member(ROOM, "bob@cfn.example")
    server.member(ROOM, "dan@cfn.example")
    server.member("south", "sid@cfn.example", "chair")
    server.user("carol@cfn.example")
    found: dict[str, Client] = {}
    for name in ("cora", "fay", "bob", "dan", "sid", "carol"):
        found[name] = await connect(server, server.token(f"{name}@cfn.example"))
    for name in ("cora", "fay", "bob", "dan"):
        await found[name].call("join", room=ROOM)
    await found["sid"].call("join", room="south")
    yield found
    for c in found.values():
        await c.close()


def who(server: Running, name: str) -> User:
    return server.user(f"{name}@cfn.example")


async def listed(server: Running, name: str, **kw: Any) -> list[inbox.Entry]:
    return await server.services.db.read(functools.partial(inbox.entries, **kw), who(server, name))


async def write(server: Running, fn: Any, *args: Any) -> Any:
    return await server.services.db.write(fn, *args)


async def thread(client: Client, title: str = "Visit debrief", body: str = "How was it?") -> int:
    made = await client.call("thread.create", room=ROOM, title=title, body=body, cid=title)
    return int(made["thread"]["id"])


async def post(client: Client, thread_id: int, body: str, cid: str, **kw: Any) -> int:
    made = await client.call("message.post", room=ROOM, thread=thread_id, body=body, cid=cid, **kw)
    return int(made["message"]["id"])


async def test_a_new_thread_is_listed_for_others_with_a_link_to_its_first_message(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"], body="The control room visit was   very useful.")
    [entry] = await listed(server, "dan")
    assert (entry.kind, entry.key, entry.title, entry.count) == (
        "thread",
        f"thread:{tid}",
        "Visit debrief",
        1,
    )
    assert entry.url.startswith(f"/g/{ROOM}/t/{tid}#m") and entry.group_slug == ROOM
    assert entry.detail == "New thread, 1 message"
    assert entry.excerpt == "The control room visit was very useful."
    assert abs(entry.at - time.time()) < 60
    assert await listed(server, "bob") == []  # one's own thread is not news
    assert await listed(server, "sid") == [] and await listed(server, "carol") == []


async def test_replies_in_a_followed_thread_are_listed_and_the_author_follows_by_starting(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    first = await post(people["dan"], tid, "Very useful", "r1")
    await post(people["cora"], tid, "Agreed, thank you", "r2")
    [entry] = await listed(server, "bob")
    assert (entry.kind, entry.count, entry.detail) == ("replies", 2, "2 new replies")
    assert entry.url == f"/g/{ROOM}/t/{tid}#m{first}" and entry.excerpt == "Agreed, thank you"
    # dan replied, so dan follows it too: cora's reply is news for dan (and bob's opening
    # post, since dan answered without opening the thread)
    [for_dan] = await listed(server, "dan")
    assert (for_dan.kind, for_dan.count) == ("replies", 2)


async def test_listing_marks_nothing_and_mark_read_clears_one_entry(
    server: Running, people: dict[str, Client]
) -> None:
    one = await thread(people["bob"], "First")
    two = await thread(people["bob"], "Second")
    for _ in range(3):
        assert {e.key for e in await listed(server, "dan")} == {f"thread:{one}", f"thread:{two}"}
    assert await server.services.db.read(inbox.unread_total, who(server, "dan")) == 2
    await write(server, inbox.mark_read, who(server, "dan"), f"thread:{one}")
    assert [e.key for e in await listed(server, "dan")] == [f"thread:{two}"]
    await write(server, inbox.mark_all_read, who(server, "dan"))
    assert await listed(server, "dan") == []
    # dan opened neither, and follows neither: a later reply stays out ("followed" level)
    await post(people["cora"], one, "More", "m1")
    assert await listed(server, "dan") == []


async def test_a_bad_or_foreign_key_is_refused_and_changes_nothing(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    for key in ("thread", "thread:x", "group:1", ""):
        with pytest.raises(BadRequest):
            await write(server, inbox.mark_read, who(server, "dan"), key)
    with pytest.raises(NotFound):
        await write(server, inbox.mark_read, who(server, "sid"), f"thread:{tid}")
    assert len(await listed(server, "dan")) == 1


async def test_staff_only_posts_reach_only_who_may_read_them(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    await write(server, inbox.mark_all_read, who(server, "fay"))
    await write(server, inbox.mark_all_read, who(server, "dan"))
    await post(people["dan"], tid, "I follow now", "d1")
    await write(server, inbox.mark_all_read, who(server, "bob"))
    await post(people["fay"], tid, "Private note about a patient", "s1", staff_only=True)
    assert await listed(server, "dan") == []  # dan follows, but may not read it
    assert await listed(server, "bob") == []  # nor the thread's author (not a staff-only thread)
    await post(people["cora"], tid, "A reply for everyone", "c1")
    [for_bob] = await listed(server, "bob")
    assert for_bob.count == 1 and for_bob.excerpt == "A reply for everyone"
    # a staff-only thread exists only for its author, the group's staff and admins
    private = await people["dan"].call(
        "thread.create", room=ROOM, title="My health", body="Private", cid="p", staff_only=True
    )
    assert f"thread:{private['thread']['id']}" in {e.key for e in await listed(server, "fay")}
    assert f"thread:{private['thread']['id']}" not in {e.key for e in await listed(server, "cora")}
    with pytest.raises(NotFound):
        await write(
            server, inbox.mark_read, who(server, "cora"), f"thread:{private['thread']['id']}"
        )


async def test_hidden_and_deleted_posts_never_appear(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    await write(server, inbox.mark_all_read, who(server, "dan"))
    await post(people["dan"], tid, "hello", "d1")
    gone = await post(people["cora"], tid, "A post that breaks the rules", "c1")
    assert [e.count for e in await listed(server, "dan")] == [1]
    await people["cora"].call("message.hide", message=gone, reason="rules")
    assert await listed(server, "dan") == []
    removed = await post(people["cora"], tid, "Oops, wrong thread", "c2")
    await people["cora"].call("message.delete", message=removed)
    assert await listed(server, "dan") == []


async def test_open_polls_not_voted_in_are_listed_until_voted_or_marked_read(
    server: Running, people: dict[str, Client]
) -> None:
    made = await people["cora"].call(
        "poll.create",
        room=ROOM,
        question="Next topic?",
        options=["Falls", "Leaflet"],
        kind="single",
    )
    pid = made["poll"]["id"]
    [entry] = await listed(server, "dan")
    assert (entry.kind, entry.key, entry.url) == ("poll", f"poll:{pid}", f"/g/{ROOM}/polls/{pid}")
    assert entry.detail == "Open, and you have not voted yet" and entry.excerpt is None
    assert await listed(server, "cora") == []  # who opened it
    await people["dan"].call("poll.vote", poll=pid, choices=[0])
    assert await listed(server, "dan") == []
    await write(server, inbox.mark_read, who(server, "bob"), f"poll:{pid}")
    assert await listed(server, "bob") == []
    # bob follows it by hand: its closing is news for bob
    await write(server, following_set, who(server, "bob"), "poll", pid, True)
    await asyncio.sleep(0.01)  # news is what happened after the mark, to the millisecond
    await people["cora"].call("poll.close", poll=pid)
    [closed] = await listed(server, "bob")
    assert closed.detail == "Closed: see the result"


def following_set(tx: Any, user: User, kind: str, item: int, on: bool) -> Any:
    from server.domain import following

    return following.set_follow(tx, user, ROOM, kind, item, on)


async def test_status_changes_of_my_ideas_are_listed_with_the_note(
    server: Running, people: dict[str, Client]
) -> None:
    made = await people["bob"].call(
        "idea.create", room=ROOM, title="Peer support", body="Signpost callers.", cid="i1"
    )
    iid = made["idea"]["id"]
    await people["dan"].call("idea.support", idea=iid)
    for name in ("bob", "dan", "cora", "fay"):
        await write(server, inbox.mark_all_read, who(server, name))
    await asyncio.sleep(0.01)
    await people["cora"].call("idea.status", idea=iid, status="adopted", note="From April")
    for name in ("bob", "dan"):
        [entry] = await listed(server, name)
        assert (entry.kind, entry.key, entry.url) == (
            "idea",
            f"idea:{iid}",
            f"/g/{ROOM}/ideas/{iid}",
        )
        assert entry.detail == "Now: Adopted. Note: From April"
    assert await listed(server, "cora") == []  # who changed it
    assert await listed(server, "fay") == []  # neither proposed, supported nor follows it


async def test_meeting_news_agenda_papers_and_pack(
    server: Running, people: dict[str, Client]
) -> None:
    made = await people["cora"].call(
        "meeting.create",
        room=ROOM,
        title="Autumn meeting",
        starts_at=now_ms() + 3 * DAY,
        mode="online",
        join_online="https://meet.example/north",
    )
    mid = made["meeting"]["id"]
    assert await listed(server, "dan") == []  # not published yet
    item = await people["bob"].call(
        "meeting.propose", meeting=mid, title="Falls", summary="Response times", kind="decision"
    )
    await people["cora"].call("meeting.decide", item=item["item"]["id"], decision="accept")
    await people["cora"].call("meeting.publish", meeting=mid)
    [entry] = await listed(server, "dan")
    assert (entry.kind, entry.detail, entry.url) == (
        "meeting",
        "Agenda published",
        f"/g/{ROOM}/meetings/{mid}",
    )
    await people["cora"].call(
        "meeting.paper", item=item["item"]["id"], title="Figures", body="The figures."
    )
    [entry] = await listed(server, "dan", now=now_ms() + 1000)
    assert entry.detail == "Papers out"
    await write(server, inbox.mark_read, who(server, "dan"), f"meeting:{mid}")
    assert await listed(server, "dan") == []
    await asyncio.sleep(0.01)  # news is what happened after the mark, to the millisecond
    await people["cora"].call("meeting.start", meeting=mid)
    await people["cora"].call("meeting.end", meeting=mid)
    [entry] = await listed(server, "dan")
    assert (entry.detail, entry.url) == ("Catch-up pack ready", f"/g/{ROOM}/meetings/{mid}/pack")


async def test_since_lists_only_what_is_new_after_that_time(
    server: Running, people: dict[str, Client]
) -> None:
    await thread(people["bob"], "Old news")
    later = int(time.time()) + 1
    assert len(await listed(server, "dan")) == 1
    assert await listed(server, "dan", since=later) == []
    assert len(await listed(server, "dan", group_ids=[999])) == 0


async def test_entries_are_newest_first_across_groups(
    server: Running, people: dict[str, Client]
) -> None:
    server.member("south", "dan@cfn.example")
    await people["sid"].call(
        "thread.create", room="south", title="South news", body="Hello", cid="s"
    )
    await thread(people["bob"], "North news")
    entries = await listed(server, "dan")
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    assert {e.group_slug for e in entries} == {"north", "south"}
    counts = await server.services.db.read(inbox.counts_by_group, who(server, "dan"))
    assert sum(c["messages"] for c in counts.values()) == 2


async def test_the_badge_counts_exactly_the_entries_listed_for_every_member(
    server: Running, people: dict[str, Client]
) -> None:
    """The badge has its own lighter count (domain/inbox.py ``unread_total``): it must never
    drift from the list, whatever mix of threads, staff-only posts, polls, ideas, meetings
    and levels a member has."""
    server.member("south", "dan@cfn.example")
    read_one = await thread(people["bob"], "Read one")
    await thread(people["bob"], "Never opened")
    await post(people["dan"], read_one, "I follow now", "d1")
    await post(people["cora"], read_one, "A reply", "c1")
    await post(people["fay"], read_one, "Staff note", "s1", staff_only=True)
    hidden = await post(people["cora"], read_one, "Breaks the rules", "c2")
    await people["cora"].call("message.hide", message=hidden, reason="rules")
    await people["dan"].call(
        "thread.create", room=ROOM, title="My health", body="Private", cid="p", staff_only=True
    )
    await people["cora"].call(
        "poll.create", room=ROOM, question="Topic?", options=["A", "B"], kind="single"
    )
    idea = await people["dan"].call("idea.create", room=ROOM, title="Peer", body="Yes", cid="i")
    await people["cora"].call("idea.status", idea=idea["idea"]["id"], status="discussing")
    meeting = await people["cora"].call(
        "meeting.create", room=ROOM, title="Autumn", starts_at=now_ms() + DAY, mode="online"
    )
    mid = meeting["meeting"]["id"]
    item = await people["bob"].call(
        "meeting.propose", meeting=mid, title="Falls", summary="Times", kind="decision"
    )
    await people["cora"].call("meeting.decide", item=item["item"]["id"], decision="accept")
    await people["cora"].call("meeting.publish", meeting=mid)
    await people["sid"].call("thread.create", room="south", title="South", body="Hi", cid="s")
    await people["dan"].call("follow.level", room="south", level="nothing")
    await people["bob"].call("follow.level", room=ROOM, level="everything")
    sizes = {}
    for name in ("cora", "fay", "bob", "dan", "sid", "carol"):
        found = await listed(server, name, limit=inbox.ALL)
        total = await server.services.db.read(inbox.unread_total, who(server, name))
        assert total == len(found), name
        sizes[name] = total
    assert sizes["dan"] >= 5 and sizes["fay"] > sizes["cora"] and sizes["carol"] == 0


# --- the pages and the WebSocket ops ------------------------------------------------------


async def browser(server: Running, name: str) -> tuple[httpx.AsyncClient, str]:
    """A logged-in HTTP client (a session made through the domain, as the login page does)."""
    user = who(server, name)
    token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
    http = httpx.AsyncClient(
        base_url=server.http, cookies={SESSION_COOKIE: token}, follow_redirects=False, timeout=10
    )
    return http, csrf


async def test_the_inbox_page_lists_links_and_marks_read_only_when_asked(
    server: Running, people: dict[str, Client]
) -> None:
    one = await thread(people["bob"], "Visit debrief")
    two = await thread(people["bob"], "Leaflet draft")
    http, csrf = await browser(server, "dan")
    async with http:
        for _ in range(2):  # listing twice: still there
            page = (await http.get("/inbox")).text
            assert "What's new for you</h1>" in page and "2 things new for you." in page
            assert f'href="/g/{ROOM}/t/{one}#m' in page and f'href="/g/{ROOM}/t/{two}#m' in page
            assert '<span class="badge" id="nav-inbox-count">2' in page
        r = await http.post("/inbox/read", data={"csrf": csrf, "key": f"thread:{one}"})
        assert r.status_code == 303 and r.headers["location"] == "/inbox?done=read#inbox-status"
        page = (await http.get(r.headers["location"])).text
        assert "That entry is marked read." in page and f"/t/{one}#" not in page
        # without the form's token nothing is marked
        r = await http.post("/inbox/read-all", data={})
        assert r.status_code == 403 and len(await listed(server, "dan")) == 1
        # a key that is no entry: the page again with one sentence, nothing marked
        r = await http.post("/inbox/read", data={"csrf": csrf, "key": "nonsense"})
        assert r.status_code == 400 and "That is not an entry of the inbox." in r.text
        assert len(await listed(server, "dan")) == 1
        r = await http.post("/inbox/read-all", data={"csrf": csrf})
        page = (await http.get(r.headers["location"])).text
        assert "Everything is marked read." in page and "You are up to date" in page
        assert 'id="nav-inbox-count"' not in page


async def test_opening_the_place_marks_its_entry_read(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    poll = await people["cora"].call(
        "poll.create", room=ROOM, question="Topic?", options=["A", "B"], kind="single"
    )
    pid = poll["poll"]["id"]
    http, _ = await browser(server, "dan")
    async with http:
        assert {e.key for e in await listed(server, "dan")} == {f"thread:{tid}", f"poll:{pid}"}
        await http.get(f"/g/{ROOM}")  # the thread list: marks no thread read
        assert {e.key for e in await listed(server, "dan")} == {f"thread:{tid}", f"poll:{pid}"}
        assert '<span class="badge">1 new</span>' in (await http.get(f"/g/{ROOM}")).text
        await http.get(f"/g/{ROOM}/polls/{pid}")
        assert [e.key for e in await listed(server, "dan")] == [f"thread:{tid}"]
        await http.get(f"/g/{ROOM}/t/{tid}")
        assert await listed(server, "dan") == []
        assert '<span class="badge">1 new</span>' not in (await http.get(f"/g/{ROOM}")).text


def badge(page: str) -> int:
    """The number on the header's "What's new" badge (0 when there is none)."""
    found = re.search(r'id="nav-inbox-count">(\d+)', page)
    return int(found.group(1)) if found else 0


async def test_the_badge_is_counted_after_the_page_marks_its_entry_read(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    await thread(people["bob"], "Another")
    poll = await people["cora"].call(
        "poll.create", room=ROOM, question="Topic?", options=["A", "B"], kind="single"
    )
    http, _ = await browser(server, "dan")
    async with http:
        assert badge((await http.get(f"/g/{ROOM}")).text) == 3  # the list marks nothing
        assert badge((await http.get(f"/g/{ROOM}/polls/{poll['poll']['id']}")).text) == 2
        assert badge((await http.get(f"/g/{ROOM}/t/{tid}")).text) == 1
        assert badge((await http.get("/")).text) == 1 == len(await listed(server, "dan"))


async def test_home_counts_polls_ideas_and_meeting_news_per_group(
    server: Running, people: dict[str, Client]
) -> None:
    await people["cora"].call(
        "poll.create", room=ROOM, question="Topic?", options=["A", "B"], kind="single"
    )
    made = await people["dan"].call(
        "idea.create", room=ROOM, title="Peer support", body="Please", cid="i"
    )
    await people["cora"].call("idea.status", idea=made["idea"]["id"], status="discussing")
    http, _ = await browser(server, "dan")
    async with http:
        home = (await http.get("/")).text
        assert "1 poll, 1 idea with news for you" in home
    http, _ = await browser(server, "sid")
    async with http:
        assert "with news for you" not in (await http.get("/")).text


async def test_an_outsider_sees_nothing_of_another_group(
    server: Running, people: dict[str, Client]
) -> None:
    await thread(people["bob"], "North only")
    await people["cora"].call(
        "poll.create", room=ROOM, question="North poll?", options=["A", "B"], kind="single"
    )
    for name in ("sid", "carol"):
        http, csrf = await browser(server, name)
        async with http:
            page = (await http.get("/inbox")).text
            assert "North only" not in page and "North poll" not in page
            assert "You are up to date" in page
        assert await people[name].call("inbox.get") == {"entries": [], "unread": 0}
        assert await people[name].error("inbox.read", key="thread:1") == "not_found"


async def test_inbox_get_and_inbox_read_over_the_websocket(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await thread(people["bob"])
    got = await people["dan"].call("inbox.get")
    assert got["unread"] == 1
    [entry] = got["entries"]
    assert entry["key"] == f"thread:{tid}" and entry["group"]["slug"] == ROOM
    assert entry["kind"] == "thread" and entry["count"] == 1 and entry["url"].startswith("/g/")
    assert await people["dan"].error("inbox.read", key="poll:x") == "bad_request"
    assert await people["dan"].call("inbox.read", key=f"thread:{tid}") == {"read": f"thread:{tid}"}
    assert (await people["dan"].call("inbox.get"))["unread"] == 0
    await thread(people["cora"], "Another")
    assert await people["dan"].call("inbox.read") == {"read": "all"}
    assert (await people["dan"].call("inbox.get"))["unread"] == 0
