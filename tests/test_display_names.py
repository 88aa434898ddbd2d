"""A member's name in a group (a pseudonym), over a real server, real sockets in both
subprotocols and the real pages: other members never get the real name or the real user
id, live or on replay; staff facilitators and admins see who it is; bad input changes
nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from server.domain import discussions, ideas, meetings, moderation, names, polls, privacy
from server.storage.engine import write_sync
from tests.harness import Client, Running
from tests.people_helpers import csrf_of, log_in

MARGARET, BOB, NADIA, ADA = (
    "margaret@cfn.example",
    "bob@cfn.example",
    "nadia@cfn.example",
    "ada@cfn.example",
)
REAL, PSEUDONYM = "Margaret Smith", "Blue Heron"


def _identities(value: Any) -> list[dict[str, Any]]:
    """Every {id, name} map anywhere in a frame (authors, presence, typing, real)."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "name" in value and "id" in value:
            found.append(value)
        for v in value.values():
            found.extend(_identities(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_identities(v))
    return found


def _assert_hidden(frames: Any, real_id: int) -> None:
    text = json.dumps(frames, ensure_ascii=False)
    assert "Margaret" not in text and "margaret@" not in text, text[:400]
    assert all(i.get("id") != real_id for i in _identities(frames)), text[:400]
    assert '"real"' not in text


async def _set_name(http: httpx.AsyncClient, slug: str, name: str) -> httpx.Response:
    form = await http.get(f"/g/{slug}/name")
    assert form.status_code == 200
    return await http.post(f"/g/{slug}/name", data={"name": name, "csrf": csrf_of(form.text)})


def _stored_name(server: Running, user_id: int) -> list[str]:
    rows = server.db.execute("SELECT name FROM display_names WHERE user_id = ?", (user_id,))
    return [r[0] for r in rows]


async def test_other_members_never_get_the_real_name_or_id_while_staff_and_the_author_do(
    server: Running, clients: Callable[..., Any]
) -> None:
    margaret = server.user(MARGARET, REAL)
    server.user(NADIA, "Nadia", role="staff")
    server.user(ADA, "Ada", role="admin")
    for email, role in ((MARGARET, "member"), (BOB, "member"), (NADIA, "facilitator")):
        server.member("north", email, role)
    server.member("south", MARGARET)
    server.member("south", BOB)
    # Bad input changes nothing and shows the form again with one sentence.
    http = await log_in(server, MARGARET)
    for bad, words in (
        ("   ", "Type the name"),
        ("m@example.org", "not an email address"),
        ("x" * 101, "too long"),
        ("bob", "already goes by that name"),
    ):
        again = await _set_name(http, "north", bad)
        assert again.status_code == 400 and words in again.text, again.text[:300]
        assert _stored_name(server, margaret.id) == []
    done = await _set_name(http, "north", PSEUDONYM)
    assert done.status_code == 303
    assert _stored_name(server, margaret.id) == [PSEUDONYM]
    audit = server.db.execute(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'display_name.set'"
    ).fetchall()
    assert [(r[0], json.loads(r[1])["name"]) for r in audit] == [(margaret.id, PSEUDONYM)]

    c: dict[str, Client] = {e: await clients(e) for e in (MARGARET, BOB, NADIA, ADA)}
    joins = {e: await c[e].call("join", room="north") for e in c}
    me = joins[MARGARET]["you"]
    assert me["name"] == PSEUDONYM and me["id"] != margaret.id and me["id"] > 2**40
    made = await c[MARGARET].call(
        "thread.create", room="north", title="Transport", body="My dialysis days", cid="t1"
    )
    await c[MARGARET].call(
        "message.post", room="north", thread=made["thread"]["id"], body="And more", cid="m1"
    )
    await c[MARGARET].call("typing", room="north")
    for e in c:
        await c[e].drain(0.3)
    bob_live = list(c[BOB].events)
    assert [ev["data"]["author"] for ev in bob_live if ev["type"] == "message.created"] == [
        {"id": me["id"], "name": PSEUDONYM}
    ] * 2
    _assert_hidden(bob_live, margaret.id)
    _assert_hidden(await c[BOB].call("presence", room="north"), margaret.id)
    _assert_hidden(
        await c[BOB].call("history", room="north", thread=made["thread"]["id"]), margaret.id
    )
    # On replay, in a fresh connection of either subprotocol.
    late = await clients(BOB)
    await late.call("join", room="north", since=0)
    await late.drain(0.3)
    assert any(ev["type"] == "message.created" for ev in late.events)
    _assert_hidden(late.events, margaret.id)
    # Staff facilitators and admins see who it is; the author sees their own group name.
    for email in (NADIA, ADA):
        created = [ev for ev in c[email].events if ev["type"] == "message.created"]
        assert created and all(
            ev["data"]["author"]
            == {"id": me["id"], "name": PSEUDONYM, "real": {"id": margaret.id, "name": REAL}}
            for ev in created
        )
        hist = await c[email].call("history", room="north", thread=made["thread"]["id"])
        assert hist["messages"][0]["author"]["real"]["name"] == REAL
    own = [ev for ev in c[MARGARET].events if ev["type"] == "message.created"]
    assert own and all(ev["data"]["author"] == me for ev in own)
    # In another group she is herself, under a different id: nothing links the two.
    c[BOB].events.clear()
    await c[BOB].call("join", room="south")
    await c[MARGARET].call("join", room="south")
    await c[MARGARET].call("thread.create", room="south", title="Hello", body="Hi", cid="s1")
    south = await c[BOB].event("message.created")
    assert south["data"]["author"] == {"id": margaret.id, "name": REAL}
    # Pages: Bob never sees her name; staff see "Blue Heron (Margaret Smith)".
    bob_http = await log_in(server, BOB)
    nadia_http = await log_in(server, NADIA)
    for path in ("/g/north", f"/g/north/t/{made['thread']['id']}"):
        assert "Margaret" not in (await bob_http.get(path)).text
    staff_page = (await nadia_http.get(f"/g/north/t/{made['thread']['id']}")).text
    assert f"{PSEUDONYM} ({REAL})" in staff_page
    own_page = (await http.get(f"/g/north/t/{made['thread']['id']}")).text
    assert f"{PSEUDONYM} (your name in this group)" in own_page
    # Her data export holds it.
    export = privacy.export_user(server.db, MARGARET)
    assert [r["name"] for r in export["display_names"]] == [PSEUDONYM]
    for h in (http, bob_http, nadia_http):
        await h.aclose()


async def test_a_name_set_after_posting_applies_to_the_replay_and_clearing_restores_it(
    server: Running, clients: Callable[..., Any]
) -> None:
    margaret = server.user(MARGARET, REAL)
    server.member("north", MARGARET)
    server.member("north", BOB)
    c = await clients(MARGARET)
    await c.call("join", room="north")
    await c.call("thread.create", room="north", title="Before", body="Early post", cid="e1")
    http = await log_in(server, MARGARET)
    assert (await _set_name(http, "north", PSEUDONYM)).status_code == 303
    bob = await clients(BOB)
    await bob.call("join", room="north", since=0)
    await bob.drain(0.3)
    _assert_hidden(bob.events, margaret.id)
    form = await http.get("/g/north/name")
    cleared = await http.post("/g/north/name/clear", data={"csrf": csrf_of(form.text)})
    assert cleared.status_code == 303 and _stored_name(server, margaret.id) == []
    again = await clients(BOB)
    await again.call("join", room="north", since=0)
    await again.drain(0.3)
    authors = [ev["data"]["author"] for ev in again.events if ev["type"] == "message.created"]
    assert authors == [{"id": margaret.id, "name": REAL}]
    await http.aclose()


async def test_polls_ideas_meetings_the_pack_members_and_reports_show_only_the_group_name(
    server: Running, clients: Callable[..., Any]
) -> None:
    """Everything another member (a chair too) can open or receive about polls, ideas,
    meetings, the catch-up pack, the member list and the report queue: never her real
    name or id; a staff facilitator and an admin see "Blue Heron (Margaret Smith)"."""
    margaret = server.user(MARGARET, REAL)
    bob = server.user(BOB, "Bob")
    carol = server.user("carol@cfn.example", "Carol")
    server.user(NADIA, "Nadia", role="staff")
    server.user(ADA, "Ada", role="admin")
    for email, role in (
        (MARGARET, "member"),
        (BOB, "member"),
        ("carol@cfn.example", "chair"),
        (NADIA, "facilitator"),
    ):
        server.member("north", email, role)
    write_sync(server.db, names.set_name, margaret, "north", PSEUDONYM)
    north = server.db.execute("SELECT id FROM groups WHERE slug = 'north'").fetchone()[0]
    alias = write_sync(server.db, names.own, north, margaret)["id"]
    assert alias > 2**40
    w = partial(write_sync, server.db)
    named = w(polls.create_poll, carol, "north", "Which day?", ["Mon", "Tue"], "single")
    poll = named["poll"]["id"]
    w(polls.vote, margaret, poll, [0])
    phoned = w(polls.create_poll, carol, "north", "Which time?", ["Am", "Pm"], "single")
    w(polls.vote_for, carol, phoned["poll"]["id"], alias, [1])  # the id the picker showed
    idea = w(ideas.create_idea, margaret, "north", "Later buses", "Please", "i1")["idea"]["id"]
    w(ideas.set_status, carol, idea, "adopted", "Yes")
    now = int(time.time() * 1000)
    meeting = w(meetings.schedule, carol, "north", "Spring", now + 3_600_000, "online")
    mid = meeting["meeting"]["id"]
    item = w(meetings.propose_item, margaret, mid, "Buses", "Later buses", "decision")
    iid = item["item"]["id"]
    w(meetings.decide_item, carol, iid, "accept")
    w(meetings.reply, margaret, mid, "online", "large_print", ["bsl"], True)
    w(meetings.add_view, margaret, iid, "I would come more often")
    w(meetings.start, carol, mid)
    w(meetings.mark_attendance, carol, mid, alias, "phone")
    w(meetings.add_action, carol, iid, "Write to the council", alias, now + 86_400_000)
    w(discussions.create_thread, margaret, "north", "During", "Said in the meeting", "d1")
    w(meetings.end, carol, mid)
    bobs = w(discussions.create_thread, bob, "north", "Bob's", "Something", "b1")
    w(moderation.report_message, margaret, bobs["message"]["id"], "personal")

    def wire_hidden(frames: Any) -> None:
        _assert_hidden(frames, margaret.id)

    # Frames, live history and replay, for a member and for the (non-staff) chair.
    for email in (BOB, "carol@cfn.example"):
        c = await clients(email)
        await c.call("join", room="north", since=0)
        await c.drain(0.3)
        got = [
            await c.call("poll.get", poll=poll),
            await c.call("poll.list", room="north"),
            await c.call("idea.get", idea=idea),
            await c.call("idea.list", room="north"),
            await c.call("meeting.get", meeting=mid),
        ]
        frames = [c.decode(f) for f in c.frames]
        frames = [f for f in frames if f.get("op") != "reply" or "epoch" not in f["data"]]
        wire_hidden(frames)
        assert PSEUDONYM in json.dumps(got, ensure_ascii=False)
    paths = [
        "/g/north",
        "/g/north/polls",
        f"/g/north/polls/{poll}",
        f"/g/north/polls/{poll}/print",
        f"/g/north/polls/{poll}/results.csv",
        "/g/north/polls.csv",
        "/g/north/ideas",
        f"/g/north/ideas/{idea}",
        "/you-said-we-did",
        "/g/north/meetings",
        f"/g/north/meetings/{mid}",
        f"/g/north/meetings/{mid}/pack",
    ]
    chair_only = [f"/g/north/meetings/{mid}/run", "/g/north/members", "/g/north/review"]
    real_id_marks = (
        f"/members/{margaret.id}/",
        f'mode-{margaret.id}"',
        f'"member": {margaret.id},',
    )
    for email, extra in ((BOB, []), ("carol@cfn.example", chair_only)):
        http = await log_in(server, email)
        for path in paths + extra:
            page = await http.get(path)
            assert page.status_code == 200, (email, path, page.status_code)
            text = page.text
            assert "Margaret" not in text and "margaret@" not in text, (email, path)
            assert not [m for m in real_id_marks if m in text], (email, path)
        seen = (await http.get(f"/g/north/polls/{poll}")).text
        assert PSEUDONYM in seen, email
        await http.aclose()
    carol_http = await log_in(server, "carol@cfn.example")
    for path in chair_only + [f"/g/north/meetings/{mid}/pack"]:
        assert PSEUDONYM in (await carol_http.get(path)).text, path
    await carol_http.aclose()
    # Staff facilitators and admins see who it is, on the same pages.
    both = f"{PSEUDONYM} ({REAL})"
    for email, extra in ((NADIA, []), (ADA, ["/g/north/members"])):
        http = await log_in(server, email)
        for path in [f"/g/north/polls/{poll}", f"/g/north/meetings/{mid}/pack", *extra]:
            assert both in (await http.get(path)).text, (email, path)
        assert both in (await http.get("/g/north/review")).text, email
        await http.aclose()
    # She sees her own group name, with the note, and her names on her profile.
    own = await log_in(server, MARGARET)
    assert (
        f"{PSEUDONYM} (your name in this group)" in (await own.get(f"/g/north/ideas/{idea}")).text
    )
    profile = (await own.get("/profile")).text
    assert "My name in each group" in profile and PSEUDONYM in profile
    await own.aclose()


async def test_name_set_over_the_socket_sets_refuses_and_clears_by_the_same_rules(
    server: Running, clients: Callable[..., Any]
) -> None:
    margaret = server.user(MARGARET, REAL)
    server.member("north", MARGARET)
    server.member("north", BOB)
    c = await clients(MARGARET)
    await c.call("join", room="north")
    made = await c.call("name.set", room="north", name=PSEUDONYM)
    assert made["you"]["name"] == PSEUDONYM and made["you"]["id"] > 2**40
    assert _stored_name(server, margaret.id) == [PSEUDONYM]
    assert await c.error("name.set", room="north", name="bob") == "bad_request"
    assert await c.error("name.set", room="north", name="m@example.org") == "bad_request"
    assert _stored_name(server, margaret.id) == [PSEUDONYM]
    cleared = await c.call("name.set", room="north", name="")
    assert cleared["you"] == {"id": margaret.id, "name": REAL}
    assert _stored_name(server, margaret.id) == []
