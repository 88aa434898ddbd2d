"""Polls over the wire (both subprotocols): permissions, voting rules, visibility,
anonymity, in-room and on-behalf votes, and counts under 100 members voting at once."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from server.domain import accounts, audit
from server.storage.engine import write_sync
from server.storage.events import unpack
from tests.harness import Client, ReplyError, Running, connect

ROOM = "north"


@pytest.fixture
async def people(server: Running) -> dict[str, Any]:
    """north: fay (facilitator), cora (chair), bob and dan (members); sue is site staff and
    a member; ann is a site admin (not a member); carol is in no group."""
    server.member(ROOM, "fay@cfn.example", "facilitator")
    server.member(ROOM, "cora@cfn.example", "chair")
    server.member(ROOM, "bob@cfn.example")
    server.member(ROOM, "dan@cfn.example")
    server.user("sue@cfn.example", role="staff")
    server.member(ROOM, "sue@cfn.example")
    server.user("ann@cfn.example", role="admin")
    server.user("carol@cfn.example")
    return {
        e.split("@")[0]: server.user(e)
        for e in (
            "fay@cfn.example",
            "cora@cfn.example",
            "bob@cfn.example",
            "dan@cfn.example",
            "sue@cfn.example",
            "ann@cfn.example",
            "carol@cfn.example",
        )
    }


async def joined(clients: Any, who: str) -> Client:
    client = await clients(f"{who}@cfn.example")
    await client.call("join", room=ROOM)
    return client


async def make_poll(fac: Client, **kw: Any) -> int:
    args = {
        "room": ROOM,
        "question": "Next meeting's topic?",
        "options": ["Falls", "Leaflet", "Visits"],
        "kind": "single",
        "anonymous": False,
        "results": "live",
        **kw,
    }
    return (await fac.call("poll.create", **args))["poll"]["id"]


def stored_counts(server: Running, poll_id: int) -> list[int]:
    n = len(
        json.loads(
            server.db.execute("SELECT options FROM polls WHERE id = ?", (poll_id,)).fetchone()[0]
        )
    )
    counts = [0] * n
    for choice, c in server.db.execute(
        "SELECT choice, count(*) FROM poll_votes WHERE poll_id = ? GROUP BY choice", (poll_id,)
    ):
        counts[choice] = c
    return counts


async def test_poll_opens_for_everyone_and_live_tally_follows_each_vote(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob, dan = [await joined(clients, w) for w in ("fay", "bob", "dan")]
    poll = await make_poll(fay)
    created = await dan.event("poll.created", poll=poll)
    assert created["data"]["options"] == ["Falls", "Leaflet", "Visits"]
    assert created["data"]["kind"] == "single" and created["data"]["results"] == "live"
    assert created["seq"] is not None
    reply = await bob.call("poll.vote", poll=poll, choices=[1])
    assert reply["counts"] == [0, 1, 0]
    tally = await dan.event("poll.tally", poll=poll)
    assert tally["data"]["counts"] == [0, 1, 0] and tally["data"]["voters"] == 1
    await dan.call("poll.vote", poll=poll, choices=[2])
    tally = await fay.event("poll.tally", poll=poll, voters=2)
    assert tally["data"]["counts"] == [0, 1, 1]


async def test_a_new_vote_replaces_the_old_one(server: Running, people: Any, clients: Any) -> None:
    fay, bob = await joined(clients, "fay"), await joined(clients, "bob")
    poll = await make_poll(fay)
    await bob.call("poll.vote", poll=poll, choices=[0])
    reply = await bob.call("poll.vote", poll=poll, choices=[2])
    assert reply["counts"] == [0, 0, 1] and reply["voters"] == 1
    assert stored_counts(server, poll) == [0, 0, 1]


async def test_single_polls_take_exactly_one_valid_choice_and_multi_polls_several(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob = await joined(clients, "fay"), await joined(clients, "bob")
    single = await make_poll(fay)
    assert await bob.error("poll.vote", poll=single, choices=[0, 1]) == "bad_request"
    assert await bob.error("poll.vote", poll=single, choices=[]) == "bad_request"
    assert await bob.error("poll.vote", poll=single, choices=[3]) == "bad_request"
    assert await bob.error("poll.vote", poll=single, choices=[-1]) == "bad_request"
    assert await bob.error("poll.vote", poll=single, choices="0") == "bad_request"
    multi = await make_poll(fay, kind="multi")
    assert (await bob.call("poll.vote", poll=multi, choices=[0, 2]))["counts"] == [1, 0, 1]
    assert await bob.error("poll.vote", poll=multi, choices=[1, 1]) == "bad_request"
    assert stored_counts(server, single) == [0, 0, 0]


async def test_options_must_number_two_to_twenty(
    server: Running, people: Any, clients: Any
) -> None:
    fay = await joined(clients, "fay")
    assert (
        await fay.error("poll.create", room=ROOM, question="Q", options=["only"], kind="single")
        == "bad_request"
    )
    assert (
        await fay.error(
            "poll.create",
            room=ROOM,
            question="Q",
            options=[f"o{i}" for i in range(21)],
            kind="single",
        )
        == "bad_request"
    )
    assert (
        await fay.error("poll.create", room=ROOM, question="Q", options=["a", ""], kind="single")
        == "bad_request"
    )
    assert (
        await fay.error("poll.create", room=ROOM, question="Q", options=["a", "b"], kind="ranked")
        == "bad_request"
    )
    assert await make_poll(fay, options=[f"o{i}" for i in range(20)]) > 0


async def test_votes_after_close_get_poll_closed(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob = await joined(clients, "fay"), await joined(clients, "bob")
    poll = await make_poll(fay)
    await bob.call("poll.vote", poll=poll, choices=[0])
    assert (await fay.call("poll.close", poll=poll))["counts"] == [1, 0, 0]
    closed = await bob.event("poll.closed", poll=poll)
    assert closed["data"]["counts"] == [1, 0, 0] and closed["data"]["voters"] == 1
    assert await bob.error("poll.vote", poll=poll, choices=[1]) == "poll_closed"
    assert (
        await fay.error("poll.vote_for", poll=poll, member=people["dan"].id, choices=[1])
        == "poll_closed"
    )
    assert await fay.error("poll.count", poll=poll, counts=[1, 1, 1]) == "poll_closed"
    assert await fay.error("poll.close", poll=poll) == "poll_closed"
    assert stored_counts(server, poll) == [1, 0, 0]


@pytest.mark.parametrize(
    "who,allowed", [("fay", True), ("cora", True), ("sue", True), ("ann", True), ("bob", False)]
)
async def test_only_chairs_facilitators_staff_and_admins_run_polls(
    server: Running, people: Any, clients: Any, who: str, allowed: bool
) -> None:
    fay = await joined(clients, "fay")
    other = await make_poll(fay)
    actor = await joined(clients, who)
    if allowed:
        poll = await make_poll(actor)
        await actor.call("poll.count", poll=poll, counts=[1, 0, 0])
        await actor.call("poll.vote_for", poll=poll, member=people["dan"].id, choices=[1])
        await actor.call("poll.close", poll=poll)
        await actor.call("poll.close", poll=other)
    else:
        assert (
            await actor.error(
                "poll.create", room=ROOM, question="Q", options=["a", "b"], kind="single"
            )
            == "forbidden"
        )
        assert await actor.error("poll.close", poll=other) == "forbidden"
        assert await actor.error("poll.count", poll=other, counts=[5, 0, 0]) == "forbidden"
        assert (
            await actor.error("poll.vote_for", poll=other, member=people["dan"].id, choices=[0])
            == "forbidden"
        )
        assert stored_counts(server, other) == [0, 0, 0]


async def test_outsiders_cannot_see_or_touch_a_groups_polls(
    server: Running, people: Any, clients: Any
) -> None:
    fay = await joined(clients, "fay")
    poll = await make_poll(fay)
    carol = await clients("carol@cfn.example")
    assert await carol.error("join", room=ROOM) == "forbidden"
    assert await carol.error("poll.vote", poll=poll, choices=[0]) == "not_found"
    assert await carol.error("poll.get", poll=poll) == "not_found"
    assert await carol.error("poll.get", poll=poll + 999) == "not_found"
    assert await carol.error("poll.list", room=ROOM) == "forbidden"
    assert await carol.error("poll.close", poll=poll) == "not_found"
    assert stored_counts(server, poll) == [0, 0, 0]


async def test_after_vote_results_reach_a_member_only_once_they_have_voted(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob, dan = [await joined(clients, w) for w in ("fay", "bob", "dan")]
    poll = await make_poll(fay, results="after_vote")
    created = await dan.event("poll.created", poll=poll)
    assert "counts" not in created["data"]
    reply = await bob.call("poll.vote", poll=poll, choices=[1])
    assert reply["counts"] == [0, 1, 0]
    tally = await dan.event("poll.turnout", poll=poll)  # no tally may go without counts
    assert tally["data"] == {"poll": poll, "voters": 1}
    assert not [e for e in dan.events if e["type"] == "poll.tally"]
    assert "counts" not in (await dan.call("poll.get", poll=poll))["poll"]
    assert (await bob.call("poll.get", poll=poll))["poll"]["counts"] == [0, 1, 0]
    await dan.call("poll.vote", poll=poll, choices=[0])
    assert (await dan.call("poll.get", poll=poll))["poll"]["counts"] == [1, 1, 0]


async def test_closed_results_stay_hidden_in_every_event_and_reply_until_close(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob, dan = [await joined(clients, w) for w in ("fay", "bob", "dan")]
    poll = await make_poll(fay, results="closed")
    replies = [
        await bob.call("poll.vote", poll=poll, choices=[2]),
        await fay.call("poll.count", poll=poll, counts=[0, 0, 4]),
        await fay.call("poll.vote_for", poll=poll, member=people["dan"].id, choices=[2]),
        await fay.call("poll.get", poll=poll),
        await bob.call("poll.get", poll=poll),
        await dan.call("poll.list", room=ROOM),
    ]
    await dan.stored_events(ROOM, 4)
    for frame in [*replies, *(e["data"] for e in dan.events)]:
        text = json.dumps(frame)
        assert "counts" not in text and "named" not in text and "in_room" not in text, frame
    await fay.call("poll.close", poll=poll)
    closed = await dan.event("poll.closed", poll=poll)
    assert closed["data"]["counts"] == [0, 0, 6] and closed["data"]["in_room"] == [0, 0, 4]


async def test_show_of_hands_and_on_behalf_votes_are_apart_counted_and_audited(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob = await joined(clients, "fay"), await joined(clients, "bob")
    poll = await make_poll(fay)
    await bob.call("poll.vote", poll=poll, choices=[0])
    await fay.call("poll.count", poll=poll, counts=[2, 3, 0])
    await fay.call("poll.count", poll=poll, counts=[2, 4, 0])  # a recount replaces
    reply = await fay.call("poll.vote_for", poll=poll, member=people["dan"].id, choices=[2])
    assert reply["online"] == [1, 0, 0] and reply["on_behalf"] == [0, 0, 1]
    assert reply["in_room"] == [2, 4, 0] and reply["counts"] == [3, 4, 1]
    assert reply["voters"] == 2
    tally = await bob.event("poll.tally", poll=poll, counts=[3, 4, 1])
    assert tally["data"]["in_room"] == [2, 4, 0]
    named = (await bob.call("poll.get", poll=poll))["poll"]["named"]
    by_name = {n["member"]["name"]: n for n in named}
    assert by_name["Dan"]["entered_by"]["name"] == "Fay" and by_name["Dan"]["choices"] == [2]
    assert by_name["Bob"]["entered_by"] is None and by_name["Bob"]["choices"] == [0]
    trail = [e for e in audit.entries(server.db) if e["subject"] == f"poll {poll}"]
    actions = [(e["action"], e["actor"]) for e in trail]
    assert ("poll.vote_for", "Fay") in actions and actions.count(("poll.count", "Fay")) == 2
    vote_for = next(e for e in trail if e["action"] == "poll.vote_for")
    assert vote_for["detail"]["member"] == people["dan"].id
    assert await fay.error("poll.count", poll=poll, counts=[1, 2]) == "bad_request"
    assert (
        await fay.error("poll.vote_for", poll=poll, member=people["carol"].id, choices=[0])
        == "not_found"
    )


async def test_named_polls_show_who_chose_what_to_members(
    server: Running, people: Any, clients: Any
) -> None:
    fay, bob, dan = [await joined(clients, w) for w in ("fay", "bob", "dan")]
    poll = await make_poll(fay, anonymous=False)
    await bob.call("poll.vote", poll=poll, choices=[1])
    seen = (await dan.call("poll.get", poll=poll))["poll"]
    assert seen["named"] == [
        {"member": {"id": people["bob"].id, "name": "Bob"}, "choices": [1], "entered_by": None}
    ]


def _identities(people: dict[str, Any], voters: list[str]) -> list[str]:
    out = []
    for who in voters:
        u = people[who]
        out += [u.name, u.email, f'"id": {u.id}', f'"id":{u.id}', f"'id': {u.id}"]
    return out


async def test_anonymous_poll_never_links_a_member_to_a_choice(
    server: Running, people: Any, clients: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every frame anyone receives, every log line, and the stored rows after close."""
    caplog.set_level(logging.DEBUG)
    fay, bob, dan, cora = [await joined(clients, w) for w in ("fay", "bob", "dan", "cora")]
    poll = await make_poll(fay, anonymous=True)
    await bob.call("poll.vote", poll=poll, choices=[0])
    await dan.call("poll.vote", poll=poll, choices=[1])
    await fay.call("poll.vote_for", poll=poll, member=people["cora"].id, choices=[2])
    for c in (fay, bob, dan, cora):
        await c.call("poll.get", poll=poll)
        await c.call("poll.list", room=ROOM)
    await fay.call("poll.close", poll=poll)
    for c in (fay, bob, dan, cora):
        got = (await c.call("poll.get", poll=poll))["poll"]
        assert got["counts"] == [1, 1, 1] and "named" not in got
        await c.event("poll.closed", poll=poll)
        await c.drain(0.1)
    late = await clients("bob@cfn.example")
    await late.call("join", room=ROOM, since=0)
    await late.stored_events(ROOM, 5)
    for c in (fay, bob, dan, cora, late):
        for frame in c.frames:
            msg = c.decode(frame)
            if msg.get("op") == "event" and msg["type"].startswith("presence"):
                continue  # who is online is not who chose what
            if msg.get("op") == "reply" and isinstance(msg.get("data"), dict):
                msg["data"].pop("you", None)  # a join reply tells the member who they are
            text = json.dumps(msg)
            for needle in _identities(people, ["bob", "dan", "cora"]):
                assert needle not in text, (needle, msg)
    vote_lines = [
        r.getMessage()
        for r in caplog.records
        if "choice" in r.getMessage() or "vote" in r.getMessage()
    ]
    assert vote_lines  # debug logging was on, and saw the votes go by
    for line in vote_lines:  # (names do appear in logs: joins, presence; never with a vote)
        for who in ("bob", "dan", "cora"):
            u = people[who]
            assert u.name not in line and u.email not in line and f"id={u.id}" not in line, line
    assert (
        server.db.execute("SELECT count(*) FROM poll_votes WHERE poll_id = ?", (poll,)).fetchone()[
            0
        ]
        == 0
    )
    took_part = {
        r[0]: r[1]
        for r in server.db.execute(
            "SELECT user_id, voted_at FROM poll_voters WHERE poll_id = ?", (poll,)
        )
    }
    assert set(took_part) == {people["bob"].id, people["dan"].id, people["cora"].id}
    closed_at = server.db.execute("SELECT closed_at FROM polls WHERE id = ?", (poll,)).fetchone()[0]
    assert set(took_part.values()) == {closed_at}  # vote times would link voter and tally
    stored = [
        unpack(r[0])
        for r in server.db.execute(
            "SELECT data FROM events WHERE type IN ('poll.tally', 'poll.turnout') ORDER BY seq"
        )
    ]
    assert [t["voters"] for t in stored] == [1, 2, 3]
    assert (
        server.db.execute("SELECT count(*) FROM events WHERE type = 'poll.tally'").fetchone()[0]
        == 0
    )  # rewritten as turnouts: a PROTOCOL.md client reads counts in every tally
    assert all(set(t) == {"poll", "voters"} for t in stored)  # the counts moved per vote: gone
    trail = json.dumps([e for e in audit.entries(server.db) if e["subject"] == f"poll {poll}"])
    assert "choices" not in trail


async def test_counts_equal_stored_votes_with_100_members_voting_at_once(
    server: Running, subprotocol: str
) -> None:
    server.member(ROOM, "fay@cfn.example", "facilitator")
    emails = [f"m{i}@cfn.example" for i in range(100)]

    def arrange(tx: Any) -> list[str]:
        tokens = []
        for e in emails:
            accounts.add_user(tx, e, e.split("@")[0])
            accounts.add_member(tx, ROOM, e)
            tokens.append(accounts.create_token(tx, e))
        return tokens

    tokens = write_sync(server.db, arrange)
    fay = await connect(server, server.token("fay@cfn.example"), subprotocol)
    await fay.call("join", room=ROOM)
    poll = (
        await fay.call(
            "poll.create", room=ROOM, question="Q", options=["a", "b", "c"], kind="multi"
        )
    )["poll"]["id"]
    members = await asyncio.gather(*(connect(server, t, subprotocol) for t in tokens))
    try:
        replies = await asyncio.gather(
            *(
                m.call("poll.vote", poll=poll, choices=[i % 3] if i % 4 else [0, 1, 2])
                for i, m in enumerate(members)
            )
        )
        tallies = sorted(
            [e for e in await fay.stored_events(ROOM, 101) if e["type"] == "poll.tally"],
            key=lambda e: e["seq"],
        )
        assert [t["data"]["voters"] for t in tallies] == list(range(1, 101))
        previous = [0, 0, 0]
        for t in tallies:  # each tally a snapshot after exactly one more vote, none lost
            counts = t["data"]["counts"]
            added = [a - b for a, b in zip(counts, previous, strict=True)]
            assert added in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]), (previous, counts)
            previous = counts
        final = tallies[-1]["data"]["counts"]
        assert final == stored_counts(server, poll)
        assert sum(final) == 75 + 25 * 3
        assert sorted(r["voters"] for r in replies) == list(range(1, 101))
        closed = await fay.call("poll.close", poll=poll)
        assert closed["counts"] == final and closed["voters"] == 100
    finally:
        await asyncio.gather(*(m.close() for m in members), return_exceptions=True)
        await fay.close()


async def test_vote_needs_no_join_but_create_does(
    server: Running, people: Any, clients: Any
) -> None:
    fay = await clients("fay@cfn.example")
    assert (
        await fay.error("poll.create", room=ROOM, question="Q", options=["a", "b"], kind="single")
        == "not_joined"
    )
    await fay.call("join", room=ROOM)
    poll = await make_poll(fay)
    bob = await clients("bob@cfn.example")  # Yusuf votes later from the polls page or CLI
    assert (await bob.call("poll.vote", poll=poll, choices=[0]))["voters"] == 1
    with pytest.raises(ReplyError):
        await bob.call("poll.vote", poll=poll + 100, choices=[0])


async def test_anonymous_poll_counts_a_phoned_in_vote_with_the_online_ones(
    server: Running, people: Any, clients: Any
) -> None:
    """Shown apart, a lone phoned-in vote plus the audit trail's "entered for" names a choice."""
    fay, bob, dan, sue = [await joined(clients, w) for w in ("fay", "bob", "dan", "sue")]
    poll = await make_poll(fay, anonymous=True)
    await bob.call("poll.vote", poll=poll, choices=[0])
    await fay.call("poll.vote_for", poll=poll, member=people["cora"].id, choices=[2])
    for c in (fay, dan, sue):  # five voters, so the open poll shows its counts
        await c.call("poll.vote", poll=poll, choices=[1])
    while_open = (await bob.call("poll.get", poll=poll))["poll"]
    await fay.call("poll.close", poll=poll)
    after_close = (await bob.call("poll.get", poll=poll))["poll"]
    for got in (while_open, after_close):
        assert got["counts"] == [1, 3, 1]
        assert got["on_behalf"] == [0, 0, 0] and got["online"] == [1, 3, 1]
    named = await make_poll(fay, anonymous=False)
    await fay.call("poll.vote_for", poll=named, member=people["cora"].id, choices=[2])
    got = (await bob.call("poll.get", poll=named))["poll"]
    assert got["on_behalf"] == [0, 0, 1] and got["online"] == [0, 0, 0]


_COUNT_KEYS = {"counts", "online", "on_behalf", "in_room", "named"}


def _count_keys(value: Any) -> set[str]:
    """Every counts-shape key anywhere in a frame."""
    if isinstance(value, dict):
        return (set(value) & _COUNT_KEYS).union(*(_count_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_count_keys(v) for v in value))
    return set()


async def test_anonymous_poll_shows_only_the_turnout_until_five_members_have_voted(
    server: Running, people: Any, clients: Any
) -> None:
    """Below 5 voters no frame anyone gets carries a count: events (live and replayed),
    every reply, poll.get and poll.list, the facilitator's included; the 5th shows them."""
    fay, bob, dan, cora, sue = [
        await joined(clients, w) for w in ("fay", "bob", "dan", "cora", "sue")
    ]
    poll = await make_poll(fay, anonymous=True)  # results straight away, the default
    created = await dan.event("poll.created", poll=poll)
    assert created["data"]["privacy_threshold"] == 5
    assert created["data"]["results_visible"] is False
    replies = [
        await bob.call("poll.vote", poll=poll, choices=[0]),
        await fay.call("poll.count", poll=poll, counts=[3, 0, 0]),
        await fay.call("poll.vote_for", poll=poll, member=people["cora"].id, choices=[1]),
        await dan.call("poll.vote", poll=poll, choices=[2]),
        await sue.call("poll.vote", poll=poll, choices=[2]),
    ]
    assert [r["voters"] for r in replies] == [1, 1, 2, 3, 4]
    for c in (fay, bob, dan, cora, sue):
        got = (await c.call("poll.get", poll=poll))["poll"]
        assert got["voters"] == 4 and got["results_visible"] is False
        replies += [got, await c.call("poll.list", room=ROOM)]
    await cora.stored_events(ROOM, 6)  # poll.created and five tallies
    late = await clients("bob@cfn.example")
    await late.call("join", room=ROOM, since=0)
    replayed = [e for e in await late.stored_events(ROOM, 6) if e["type"].startswith("poll.")]
    assert [e["type"] for e in replayed] == ["poll.created", *["poll.turnout"] * 5]
    events = [
        e
        for c in (fay, bob, dan, cora, sue, late)
        for e in c.events
        if e["type"].startswith("poll.")
    ]
    for frame in [*replies, *events, created]:
        assert not _count_keys(frame), frame
    stored = [
        unpack(r[0])
        for r in server.db.execute("SELECT data FROM events WHERE type LIKE 'poll.%' ORDER BY seq")
    ]
    assert stored and not any(_count_keys(d) for d in stored)
    fifth = await fay.call("poll.vote", poll=poll, choices=[0])
    assert fifth["voters"] == 5 and fifth["counts"] == [5, 1, 2]
    tally = await dan.event("poll.tally", poll=poll, voters=5)
    assert tally["data"]["counts"] == [5, 1, 2] and tally["data"]["in_room"] == [3, 0, 0]


async def test_the_privacy_threshold_is_a_setting(start_server: Any, subprotocol: str) -> None:
    running = await start_server(privacy_threshold=2)
    for who in ("fay", "bob", "dan"):
        running.member(ROOM, f"{who}@cfn.example", "facilitator" if who == "fay" else "member")
    fay = await connect(running, running.token("fay@cfn.example"), subprotocol)
    bob = await connect(running, running.token("bob@cfn.example"), subprotocol)
    dan = await connect(running, running.token("dan@cfn.example"), subprotocol)
    try:
        await fay.call("join", room=ROOM)
        poll = await make_poll(fay, anonymous=True)
        first = await bob.call("poll.vote", poll=poll, choices=[0])
        assert "counts" not in first
        assert (await dan.call("poll.get", poll=poll))["poll"]["privacy_threshold"] == 2
        second = await dan.call("poll.vote", poll=poll, choices=[1])
        assert second["counts"] == [1, 1, 0]
        tally = await fay.event("poll.tally", poll=poll, voters=2)
        assert tally["data"]["counts"] == [1, 1, 0]
    finally:
        for c in (fay, bob, dan):
            await c.close()
