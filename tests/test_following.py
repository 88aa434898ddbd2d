"""Following over the wire and on the pages: a thread is followed by starting or replying
to it, anything can be followed or unfollowed by hand (WebSocket op and a no-JS form), each
group has a level, and follows are personal data (export, erasure)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.domain import accounts, following, inbox, privacy
from server.storage.engine import write_sync
from tests.harness import Client, Running, connect

ROOM = "north"


@pytest.fixture
async def people(server: Running) -> AsyncIterator[dict[str, Client]]:
    """north: cora (chair), bob and dan; sid is in south only. All joined their room."""
    server.member(ROOM, "cora@cfn.example", "chair")
    server.member(ROOM, "bob@cfn.example")
    server.member(ROOM, "dan@cfn.example")
    server.member("south", "sid@cfn.example")
    found = {
        n: await connect(server, server.token(f"{n}@cfn.example"))
        for n in ("cora", "bob", "dan", "sid")
    }
    for n in ("cora", "bob", "dan"):
        await found[n].call("join", room=ROOM)
    yield found
    for c in found.values():
        await c.close()


async def browser(server: Running, name: str) -> tuple[httpx.AsyncClient, str]:
    """A logged-in HTTP client (a session made through the domain, as the login page does)."""
    user = server.user(f"{name}@cfn.example")
    token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
    http = httpx.AsyncClient(
        base_url=server.http, cookies={SESSION_COOKIE: token}, follow_redirects=False, timeout=10
    )
    return http, csrf


def follows(server: Running, name: str) -> set[tuple[str, int, int]]:
    uid = server.user(f"{name}@cfn.example").id
    rows = server.db.execute(
        "SELECT kind, item_id, following FROM follows WHERE user_id = ?", (uid,)
    ).fetchall()
    return {(r[0], r[1], r[2]) for r in rows}


def keys(server: Running, name: str) -> set[str]:
    user = server.user(f"{name}@cfn.example")
    return {e.key for e in write_sync(server.db, inbox.entries, user)}


async def new_thread(client: Client, title: str = "Leaflet draft") -> int:
    made = await client.call("thread.create", room=ROOM, title=title, body="Comments?", cid=title)
    return int(made["thread"]["id"])


async def test_starting_or_replying_follows_the_thread(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await new_thread(people["bob"])
    assert follows(server, "bob") == {("thread", tid, 1)}
    assert follows(server, "dan") == set()
    await people["dan"].call("message.post", room=ROOM, thread=tid, body="Looks good", cid="d")
    assert follows(server, "dan") == {("thread", tid, 1)}


async def test_follow_set_by_websocket_follows_and_unfollows_and_an_unfollow_is_kept(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await new_thread(people["bob"])
    reply = await people["bob"].call("follow.set", room=ROOM, kind="thread", id=tid, on=False)
    assert reply == {"kind": "thread", "id": tid, "following": False}
    # a reply after a deliberate unfollow does not follow it again
    await people["bob"].call("message.post", room=ROOM, thread=tid, body="One more", cid="b")
    assert follows(server, "bob") == {("thread", tid, 0)}
    await people["cora"].call("message.post", room=ROOM, thread=tid, body="Thanks", cid="c")
    assert f"thread:{tid}" not in keys(server, "bob")
    await people["bob"].call("follow.set", room=ROOM, kind="thread", id=tid)  # on by default
    assert f"thread:{tid}" in keys(server, "bob")


async def test_follow_set_refuses_bad_kinds_unknown_items_and_outsiders(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await new_thread(people["bob"])
    bad = await people["dan"].error("follow.set", room=ROOM, kind="group", id=tid)
    assert bad == "bad_request"
    assert await people["dan"].error("follow.set", room=ROOM, kind="poll", id=999) == "not_found"
    assert await people["sid"].error("follow.set", room=ROOM, kind="thread", id=tid) == "forbidden"
    # a thread of north named through south's room is not found there
    assert await people["sid"].error("follow.set", room="south", kind="thread", id=tid) == (
        "not_found"
    )
    assert follows(server, "dan") == set() and follows(server, "sid") == set()


async def test_a_staff_only_thread_cannot_be_followed_by_who_may_not_see_it(
    server: Running, people: dict[str, Client]
) -> None:
    made = await people["bob"].call(
        "thread.create", room=ROOM, title="My health", body="Private", cid="p", staff_only=True
    )
    tid = made["thread"]["id"]
    assert await people["dan"].error("follow.set", room=ROOM, kind="thread", id=tid) == (
        "not_found"
    )


async def test_levels_everything_followed_and_nothing(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await new_thread(people["bob"])
    dan = server.user("dan@cfn.example")
    write_sync(server.db, inbox.mark_all_read, dan)  # dan has "seen" it, and does not follow it
    await people["cora"].call("message.post", room=ROOM, thread=tid, body="Reply", cid="c1")
    assert keys(server, "dan") == set()  # "followed" (the default): not a thread dan follows
    assert await people["dan"].call("follow.level", room=ROOM, level="everything") == {
        "room": ROOM,
        "level": "everything",
    }
    assert keys(server, "dan") == {f"thread:{tid}"}
    await people["dan"].call("follow.level", room=ROOM, level="nothing")
    await new_thread(people["bob"], "Another")
    assert keys(server, "dan") == set()  # even new threads stay out
    assert await people["dan"].error("follow.level", room=ROOM, level="loud") == "bad_request"
    assert await people["sid"].error("follow.level", room=ROOM, level="nothing") == "forbidden"
    assert write_sync(server.db, following.level, dan, 1) == "nothing"


async def test_the_follow_button_on_thread_poll_and_idea_pages_works_without_javascript(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await new_thread(people["bob"])
    poll = await people["cora"].call(
        "poll.create", room=ROOM, question="Topic?", options=["A", "B"], kind="single"
    )
    idea = await people["bob"].call(
        "idea.create", room=ROOM, title="Peer support", body="Please", cid="i"
    )
    http, csrf = await browser(server, "dan")
    async with http:
        for kind, item, path in (
            ("thread", tid, f"/g/{ROOM}/t/{tid}"),
            ("poll", poll["poll"]["id"], f"/g/{ROOM}/polls/{poll['poll']['id']}"),
            ("idea", idea["idea"]["id"], f"/g/{ROOM}/ideas/{idea['idea']['id']}"),
        ):
            page = (await http.get(path)).text
            assert f"Follow this {kind}</button>" in page
            r = await http.post(
                f"/g/{ROOM}/follow",
                data={"csrf": csrf, "kind": kind, "id": str(item), "on": "1", "back": path},
            )
            assert r.status_code == 303 and r.headers["location"] == f"{path}?follow=on#follow"
            page = (await http.get(r.headers["location"])).text
            assert f"Unfollow this {kind}</button>" in page and "You are following it now" in page
            assert (kind, item, 1) in follows(server, "dan")
            r = await http.post(
                f"/g/{ROOM}/follow",
                data={"csrf": csrf, "kind": kind, "id": str(item), "on": "0", "back": path},
            )
            assert (kind, item, 0) in follows(server, "dan")
        # without the form's token nothing changes
        r = await http.post(
            f"/g/{ROOM}/follow", data={"kind": "thread", "id": str(tid), "on": "1", "back": "/"}
        )
        assert r.status_code == 403 and ("thread", tid, 0) in follows(server, "dan")
        # a "back" to another site is not followed
        r = await http.post(
            f"/g/{ROOM}/follow",
            data={
                "csrf": csrf,
                "kind": "thread",
                "id": str(tid),
                "on": "1",
                "back": "https://evil.example/",
            },
        )
        assert r.headers["location"] == f"/g/{ROOM}?follow=on#follow"


async def test_the_level_form_on_the_group_page_and_the_inbox_page(
    server: Running, people: dict[str, Client]
) -> None:
    http, csrf = await browser(server, "dan")
    async with http:
        room_page = (await http.get(f"/g/{ROOM}")).text
        assert "What this group tells you" in room_page
        assert 'value="followed" checked' in room_page
        r = await http.post(
            f"/g/{ROOM}/level?back=/g/{ROOM}",
            data={"csrf": csrf, "level": "everything", "back": f"/g/{ROOM}"},
        )
        assert r.status_code == 303 and r.headers["location"] == f"/g/{ROOM}?done=level#levels"
        assert 'value="everything" checked' in (await http.get(f"/g/{ROOM}")).text
        # a choice that is not one of the three: the same form again, one sentence, no change
        r = await http.post(f"/g/{ROOM}/level", data={"csrf": csrf, "level": "loud"})
        assert r.status_code == 400 and "Please choose one of the three choices." in r.text
        assert "What each group tells you" in r.text
        dan = server.user("dan@cfn.example")
        assert write_sync(server.db, following.level, dan, 1) == "everything"
        r = await http.post(f"/g/{ROOM}/level", data={"csrf": csrf, "level": "nothing"})
        assert r.headers["location"] == "/inbox?done=level#levels"
        assert write_sync(server.db, following.level, dan, 1) == "nothing"


async def test_follows_and_levels_are_exported_and_erased(
    server: Running, people: dict[str, Client]
) -> None:
    tid = await new_thread(people["dan"])
    await people["dan"].call("follow.level", room=ROOM, level="everything")
    poll = await people["cora"].call(
        "poll.create", room=ROOM, question="Topic?", options=["A", "B"], kind="single"
    )
    dan = server.user("dan@cfn.example")
    write_sync(server.db, inbox.mark_read, dan, f"poll:{poll['poll']['id']}")
    exported = json.loads(write_sync(server.db, privacy.export_json, "dan@cfn.example"))
    assert [(f["kind"], f["item_id"]) for f in exported["follows"]] == [("thread", tid)]
    assert [lv["level"] for lv in exported["follow_levels"]] == ["everything"]
    assert [r["key"] for r in exported["inbox_reads"]] == [f"poll:{poll['poll']['id']}"]
    write_sync(server.db, privacy.erase_user, "dan@cfn.example")
    for table in ("follows", "follow_levels", "inbox_reads"):
        left = server.db.execute(f"SELECT count(*) FROM {table} WHERE user_id = ?", (dan.id,))
        assert left.fetchone()[0] == 0, table
