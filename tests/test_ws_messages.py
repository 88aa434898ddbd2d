"""Threads and messages over live connections: cid retries, history pages, edit and delete."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness import Client, Running

ALICE, BOB, CAROL = "alice@cfn.example", "bob@cfn.example", "carol@cfn.example"


async def joined(clients: Callable, room: str, *emails: str) -> list[Client]:
    out = []
    for email in emails:
        client = await clients(email)
        await client.call("join", room=room)
        out.append(client)
    return out


async def new_thread(client: Client, room: str, cid: str = "t1", title: str = "Tea") -> dict:
    return await client.call("thread.create", room=room, title=title, body="Opening", cid=cid)


# --- thread.create and message.post -------------------------------------------------------


async def test_thread_create_stores_a_thread_and_its_first_message_and_announces_both(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await joined(clients, room, ALICE, BOB)
    made = await new_thread(alice, room, title="  Winter pressures  ")
    assert set(made) == {"thread", "message"}
    thread_ev, message_ev = await bob.stored_events(room, 2)
    assert thread_ev["type"] == "thread.created" and thread_ev["seq"] == 1
    assert thread_ev["data"]["id"] == made["thread"]["id"]
    assert thread_ev["data"]["title"] == "Winter pressures"
    assert message_ev["type"] == "message.created" and message_ev["seq"] == 2
    data = message_ev["data"]
    assert data["id"] == made["message"]["id"] and data["thread"] == made["thread"]["id"]
    assert data["body"] == "Opening" and data["cid"] == "t1"
    assert data["author"] == {"id": server.user(ALICE).id, "name": "Alice"}
    assert isinstance(data["created_at"], int) and data["created_at"] > 1_600_000_000_000


async def test_message_post_replies_its_id_and_seq(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await joined(clients, room, ALICE, BOB)
    thread = (await new_thread(alice, room))["thread"]["id"]
    posted = await bob.call("message.post", room=room, thread=thread, body="Reply", cid="r1")
    assert posted["message"]["seq"] == 3
    event = await alice.event("message.created", id=posted["message"]["id"])
    assert event["seq"] == 3 and event["data"]["author"]["name"] == "Bob"


async def test_posting_to_a_thread_of_another_room_is_not_found(
    server: Running, room: str, clients: Callable
) -> None:
    server.member("south", ALICE)
    (alice,) = await joined(clients, room, ALICE)
    await alice.call("join", room="south")
    south_thread = (await new_thread(alice, "south"))["thread"]["id"]
    assert (
        await alice.error("message.post", room=room, thread=south_thread, body="x", cid="x")
        == "not_found"
    )
    assert (
        await alice.error("message.post", room=room, thread=999, body="x", cid="y") == "not_found"
    )


async def test_a_repeated_cid_for_message_post_creates_nothing_new(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await joined(clients, room, ALICE, BOB)
    thread = (await new_thread(alice, room))["thread"]["id"]
    first = await alice.call("message.post", room=room, thread=thread, body="Once", cid="m1")
    again = await alice.call("message.post", room=room, thread=thread, body="Once", cid="m1")
    assert again == first
    await bob.stored_events(room, 3)
    await bob.drain(0.3)
    created = [e for e in bob.events if e["type"] == "message.created"]
    assert len(created) == 2, "the thread's first message and one post, no second event"
    count = server.db.execute("SELECT count(*) FROM messages WHERE cid = 'm1'").fetchone()[0]
    assert count == 1


async def test_a_repeated_cid_for_thread_create_creates_nothing_new(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await joined(clients, room, ALICE, BOB)
    first = await new_thread(alice, room, cid="same")
    again = await new_thread(alice, room, cid="same")
    assert again == first
    await bob.stored_events(room, 2)
    await bob.drain(0.3)
    assert [e["type"] for e in bob.events if e["seq"] is not None] == [
        "thread.created",
        "message.created",
    ]
    assert server.db.execute("SELECT count(*) FROM threads").fetchone()[0] == 1


async def test_a_cid_is_unique_per_author_and_room_not_globally(
    server: Running, room: str, clients: Callable
) -> None:
    server.member("south", ALICE)
    alice, bob = await joined(clients, room, ALICE, BOB)
    await alice.call("join", room="south")
    a = await new_thread(alice, room, cid="shared")
    b = await new_thread(bob, room, cid="shared")
    c = await new_thread(alice, "south", cid="shared")
    ids = {a["thread"]["id"], b["thread"]["id"], c["thread"]["id"]}
    assert len(ids) == 3


async def test_a_retry_after_reconnecting_gets_the_original_ids(
    server: Running, room: str, clients: Callable
) -> None:
    (alice,) = await joined(clients, room, ALICE)
    thread = (await new_thread(alice, room))["thread"]["id"]
    first = await alice.call("message.post", room=room, thread=thread, body="Hi", cid="net")
    await alice.close()
    (alice2,) = await joined(clients, room, ALICE)
    again = await alice2.call("message.post", room=room, thread=thread, body="Hi", cid="net")
    assert again == first


# --- history ---------------------------------------------------------------------------------


async def test_history_pages_backwards_oldest_first_with_more(
    server: Running, room: str, clients: Callable
) -> None:
    (alice,) = await joined(clients, room, ALICE)
    thread = (await new_thread(alice, room))["thread"]["id"]
    for i in range(6):
        await alice.call("message.post", room=room, thread=thread, body=f"m{i}", cid=f"c{i}")
    bodies = ["Opening"] + [f"m{i}" for i in range(6)]
    page = await alice.call("history", room=room, limit=3)
    assert [m["body"] for m in page["messages"]] == bodies[4:] and page["more"] is True
    page2 = await alice.call("history", room=room, limit=3, before=page["messages"][0]["id"])
    assert [m["body"] for m in page2["messages"]] == bodies[1:4] and page2["more"] is True
    page3 = await alice.call("history", room=room, limit=3, before=page2["messages"][0]["id"])
    assert [m["body"] for m in page3["messages"]] == bodies[:1] and page3["more"] is False
    exact = await alice.call("history", room=room, limit=7)
    assert len(exact["messages"]) == 7 and exact["more"] is False


async def test_history_messages_have_the_message_created_shape(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await joined(clients, room, ALICE, BOB)
    await new_thread(alice, room)
    live = (await bob.stored_events(room, 2))[1]["data"]
    stored = (await bob.call("history", room=room))["messages"]
    assert stored == [live]


async def test_history_defaults_to_50_and_allows_200_but_not_201(
    server: Running, room: str, clients: Callable
) -> None:
    (alice,) = await joined(clients, room, ALICE)
    thread = (await new_thread(alice, room))["thread"]["id"]
    refs = [
        await alice.send("message.post", room=room, thread=thread, body=f"b{i}", cid=f"c{i}")
        for i in range(59)
    ]
    for ref in refs:
        assert (await alice.reply(ref))["ok"]
    page = await alice.call("history", room=room)
    assert len(page["messages"]) == 50 and page["more"] is True
    assert page["messages"][-1]["body"] == "b58"
    assert len((await alice.call("history", room=room, limit=200))["messages"]) == 60
    assert await alice.error("history", room=room, limit=201) == "bad_request"
    assert await alice.error("history", room=room, limit=0) == "bad_request"


async def test_history_filters_by_thread(server: Running, room: str, clients: Callable) -> None:
    (alice,) = await joined(clients, room, ALICE)
    t1 = (await new_thread(alice, room, cid="a", title="One"))["thread"]["id"]
    t2 = (await new_thread(alice, room, cid="b", title="Two"))["thread"]["id"]
    await alice.call("message.post", room=room, thread=t1, body="in one", cid="c")
    await alice.call("message.post", room=room, thread=t2, body="in two", cid="d")
    page = await alice.call("history", room=room, thread=t1)
    assert [m["body"] for m in page["messages"]] == ["Opening", "in one"]
    assert {m["thread"] for m in page["messages"]} == {t1}
    whole = await alice.call("history", room=room)
    assert len(whole["messages"]) == 4


async def test_history_of_a_thread_in_another_room_is_not_found(
    server: Running, room: str, clients: Callable
) -> None:
    server.member("south", ALICE)
    (alice,) = await joined(clients, room, ALICE)
    await alice.call("join", room="south")
    south = (await new_thread(alice, "south"))["thread"]["id"]
    assert await alice.error("history", room=room, thread=south) == "not_found"


# --- edit and delete --------------------------------------------------------------------------


async def test_the_author_edits_and_everyone_sees_the_edit(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await joined(clients, room, ALICE, BOB)
    made = await new_thread(alice, room)
    mid = made["message"]["id"]
    assert await alice.call("message.edit", message=mid, body="Opening, corrected") == {}
    ev = await bob.event("message.edited")
    assert ev["seq"] == 3 and ev["data"]["id"] == mid
    assert ev["data"]["body"] == "Opening, corrected"
    stored = (await bob.call("history", room=room))["messages"][0]
    assert stored["body"] == "Opening, corrected" and "edited_at" in stored


@pytest.mark.parametrize("editor", ["member", "chair", "admin"])
async def test_only_the_author_may_edit(
    server: Running, room: str, clients: Callable, editor: str
) -> None:
    server.user("admin@cfn.example", "Ada", role="admin")
    server.member(room, "dave@cfn.example")
    (bob,) = await joined(clients, room, BOB)
    mid = (await new_thread(bob, room))["message"]["id"]
    email = {"member": "dave@cfn.example", "chair": ALICE, "admin": "admin@cfn.example"}
    other = await clients(email[editor])
    assert await other.error("message.edit", message=mid, body="changed") == "forbidden"
    assert (await bob.call("history", room=room))["messages"][0]["body"] == "Opening"


async def test_outsiders_cannot_edit_or_delete_and_learn_nothing(
    server: Running, room: str, clients: Callable
) -> None:
    (alice,) = await joined(clients, room, ALICE)
    mid = (await new_thread(alice, room))["message"]["id"]
    carol = await clients(CAROL)
    edit = await carol.error("message.edit", message=mid, body="hacked")
    missing = await carol.error("message.edit", message=mid + 1000, body="hacked")
    assert edit == missing == "not_found"
    assert await carol.error("message.delete", message=mid) == "not_found"
    assert (await alice.call("history", room=room))["messages"][0]["body"] == "Opening"


@pytest.mark.parametrize("role", ["author", "admin"])
async def test_author_and_admin_may_delete(
    server: Running, room: str, clients: Callable, role: str
) -> None:
    (bob,) = await joined(clients, room, BOB)
    mid = (await new_thread(bob, room))["message"]["id"]
    if role == "author":
        deleter = bob
    elif role == "chair":
        deleter = await clients(ALICE)
    elif role == "facilitator":
        server.member(room, "fran@cfn.example", "facilitator")
        deleter = await clients("fran@cfn.example")
    else:
        server.user("admin@cfn.example", "Ada", role="admin")  # not a member of the group
        deleter = await clients("admin@cfn.example")
    assert await deleter.call("message.delete", message=mid) == {}
    ev = await bob.event("message.deleted")
    assert ev["seq"] == 3 and ev["data"]["id"] == mid and ev["data"]["thread"]
    assert "body" not in ev["data"] or ev["data"]["body"] == ""


@pytest.mark.parametrize("who", ["member", "staff", "chair", "facilitator"])
async def test_members_and_staff_may_not_delete_others_messages_and_chairs_hide_them(
    server: Running, room: str, clients: Callable, who: str
) -> None:
    """Members and staff are refused; a chair's or facilitator's `message.delete` (which
    PROTOCOL.md allows them) hides the post reversibly instead: removal is for admins."""
    (alice,) = await joined(clients, room, ALICE)
    mid = (await new_thread(alice, room))["message"]["id"]
    if who == "chair":
        server.member(room, "bob@cfn.example", "chair")
        other = await clients(BOB)
    elif who == "facilitator":
        server.member(room, "fran@cfn.example", "facilitator")
        other = await clients("fran@cfn.example")
    elif who == "staff":
        server.user("sam@cfn.example", "Sam", role="staff")
        server.member(room, "sam@cfn.example")
        other = await clients("sam@cfn.example")
    else:
        other = await clients(BOB)
    if who in ("chair", "facilitator"):
        await other.call("join", room=room)
        assert await other.call("message.delete", message=mid) == {}
        gone = await alice.event("message.deleted", id=mid)
        assert gone["data"]["hidden"]["reason"] == "not right for this discussion"
        stored = server.db.execute(
            "SELECT deleted_at, hidden_at FROM messages WHERE id = ?", (mid,)
        ).fetchone()
        assert stored[0] is None and stored[1] is not None  # hidden, not removed: reversible
        assert await other.call("message.restore", message=mid) == {}
        page = await alice.call("history", room=room)
        assert page["messages"][0]["body"] == "Opening"
        return
    assert await other.error("message.delete", message=mid) == "forbidden"
    page = await alice.call("history", room=room)
    assert page["messages"][0]["body"] == "Opening" and "deleted" not in page["messages"][0]


async def test_a_deleted_message_body_is_gone_from_history_and_from_replay(
    server: Running, room: str, clients: Callable
) -> None:
    (alice,) = await joined(clients, room, ALICE)
    made = await new_thread(alice, room)
    thread, mid = made["thread"]["id"], made["message"]["id"]
    kept = await alice.call("message.post", room=room, thread=thread, body="Keep me", cid="k")
    await alice.call("message.delete", message=mid)
    page = (await alice.call("history", room=room))["messages"]
    assert page[0]["id"] == mid and page[0]["body"] == "" and page[0]["deleted"] is True
    assert page[1]["id"] == kept["message"]["id"] and page[1]["body"] == "Keep me"
    late = await clients(BOB)
    resumed = await late.call("join", room=room, since=0)
    assert resumed["recovered"] is True
    events = await late.stored_events(room, 4)
    created = [e for e in events if e["type"] == "message.created"]
    assert created[0]["data"]["id"] == mid and created[0]["data"]["body"] == ""
    assert created[1]["data"]["body"] == "Keep me"
    frames = b"".join(f if isinstance(f, bytes) else f.encode() for f in late.frames)
    assert b"Opening" not in frames
    rows = server.db.execute("SELECT body FROM messages WHERE id = ?", (mid,)).fetchone()
    assert rows[0] == ""


async def test_a_deleted_message_cannot_be_edited_or_deleted_again(
    server: Running, room: str, clients: Callable
) -> None:
    (alice,) = await joined(clients, room, ALICE)
    mid = (await new_thread(alice, room))["message"]["id"]
    await alice.call("message.delete", message=mid)
    assert await alice.error("message.edit", message=mid, body="back") == "conflict"
    assert await alice.error("message.delete", message=mid) == "conflict"
