"""Retention per group: set by the admin, run by the server's hourly job (at start, so a
restart runs it again) and by `python -m server retention run`; idempotent; polls stay."""

from __future__ import annotations

import asyncio
import json

from server.domain.retention import MONTH_MS
from server.storage import unpack
from tests.harness import Running, connect
from tests.test_cli import cli

OLD_WORDS = "Minutes of the visit two years ago"


async def _arrange(server: Running) -> dict[str, int]:
    server.member("north", "alice@cfn.example", "chair")
    alice = await connect(server, server.token("alice@cfn.example"))
    await alice.call("join", room="north")
    made = await alice.call("thread.create", room="north", title="Visit", body=OLD_WORDS, cid="a")
    new = await alice.call(
        "message.post", room="north", thread=made["thread"]["id"], body="Recent", cid="b"
    )
    poll = await alice.call(
        "poll.create", room="north", question="Next topic?", options=["a", "b"], kind="single"
    )
    await alice.close()
    old = made["message"]["id"]
    with server.db:  # the first message was written 25 months ago
        server.db.execute(
            "UPDATE messages SET created_at = created_at - ? WHERE id = ?", (25 * MONTH_MS, old)
        )
    return {"old": old, "new": new["message"]["id"], "poll": poll["poll"]["id"]}


def _events_text(server: Running) -> str:
    return json.dumps([unpack(r[0]) for r in server.db.execute("SELECT data FROM events")])


async def test_a_retention_of_zero_or_less_is_refused_and_changes_nothing(
    server: Running,
) -> None:
    await _arrange(server)
    for months in ("0", "-3"):
        done = cli("retention", "set", "--db", server.db_url, "north", "--", months)
        assert done.returncode != 0
        assert done.stderr.strip().startswith("error: Messages must be kept for at least 1 month")
        assert len(done.stderr.strip().splitlines()) == 1
    row = server.db.execute("SELECT retention_months FROM groups").fetchone()
    assert row[0] is None


async def test_the_run_deletes_old_messages_and_their_words_once_and_keeps_polls(
    server: Running,
) -> None:
    ids = await _arrange(server)
    assert cli("retention", "set", "--db", server.db_url, "north", "24").returncode == 0
    first = cli("retention", "run", "--db", server.db_url)
    assert first.returncode == 0 and "north: 1 message(s) deleted." in first.stdout
    left = [r[0] for r in server.db.execute("SELECT id FROM messages")]
    assert left == [ids["new"]]
    assert OLD_WORDS not in _events_text(server)
    assert server.db.execute("SELECT count(*) FROM polls").fetchone()[0] == 1
    again = cli("retention", "run", "--db", server.db_url)
    assert "No messages were old enough" in again.stdout
    assert server.db.execute("SELECT count(*) FROM retention_runs").fetchone()[0] == 1


async def test_the_server_runs_retention_when_it_starts_so_a_restart_catches_up(
    server: Running,
) -> None:
    ids = await _arrange(server)
    cli("retention", "set", "--db", server.db_url, "north", "24")
    await server.restart()
    for _ in range(100):
        if server.db.execute("SELECT count(*) FROM retention_runs").fetchone()[0]:
            break
        await asyncio.sleep(0.05)
    assert [r[0] for r in server.db.execute("SELECT id FROM messages")] == [ids["new"]]


async def test_a_member_watching_live_sees_the_old_messages_go_when_retention_runs(
    server: Running,
) -> None:
    ids = await _arrange(server)
    server.member("north", "bob@cfn.example")
    bob = await connect(server, server.token("bob@cfn.example"))
    try:
        await bob.call("join", room="north")
        assert cli("retention", "set", "--db", server.db_url, "north", "24").returncode == 0
        assert cli("retention", "run", "--db", server.db_url).returncode == 0
        gone = await bob.event("message.deleted", id=ids["old"])
        assert gone["data"]["retention"] is True and "body" not in gone["data"]
        assert not [
            e
            for e in bob.events
            if e["type"] == "message.deleted" and e["data"]["id"] == ids["new"]
        ]
    finally:
        await bob.close()
