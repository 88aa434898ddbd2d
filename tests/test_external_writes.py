"""Events stored by another process (the demo loader, a script) reach live clients in seq
order with no gap, whether or not the server writes to that room itself."""

from __future__ import annotations

from typing import Any

from server.domain import discussions
from server.storage.engine import open_sync, write_sync
from tests.harness import Running


async def test_events_written_by_another_process_are_published_without_a_gap(
    server: Running, room: str, clients: Any
) -> None:
    alice = await clients("alice@cfn.example")
    bob = await clients("bob@cfn.example")
    await alice.call("join", room=room)
    await bob.call("join", room=room)
    made = await alice.call("thread.create", room=room, title="Agenda", body="One", cid="a1")
    thread = made["thread"]["id"]
    await bob.stored_events(room, 2)

    other = open_sync(server.db_url)  # another process's connection, in effect
    user = server.user("alice@cfn.example")
    write_sync(other, discussions.post_message, user, room, thread, "From a script", "x1")
    # Left alone, the watcher publishes it within a round or so.
    got = await bob.stored_events(room, 3, timeout=5)
    assert [e["seq"] for e in got] == [1, 2, 3]
    assert got[2]["data"]["body"] == "From a script"

    write_sync(other, discussions.post_message, user, room, thread, "Script again", "x2")
    await alice.call("message.post", room=room, thread=thread, body="Live", cid="a2")
    got = await bob.stored_events(room, 5, timeout=5)
    assert [e["seq"] for e in got] == [1, 2, 3, 4, 5]  # the script's 4 comes before our 5
    assert [e["data"]["body"] for e in got[3:]] == ["Script again", "Live"]
    other.close()
