"""Writes made in one turn of the event loop leave as one write, in order, and none is lost."""

from __future__ import annotations

import asyncio

from server.transport.preframed import wire
from server.transport.wsproto import CoalescingTransport
from tests.harness import Running, connect


class RecordingTransport:
    """Stands in for the socket's transport: records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_writes_in_one_loop_turn_are_sent_once_at_the_next_turn_in_order():
    real = RecordingTransport()
    t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    for part in (b"a", b"bb", b"", b"ccc"):
        t.write(part)
    assert real.writes == []
    await asyncio.sleep(0)
    assert real.writes == [b"abbccc"]
    t.write(b"d")
    await asyncio.sleep(0)
    assert real.writes == [b"abbccc", b"d"]
    assert t.get_extra_info("peername") == "info:peername"


async def test_close_sends_what_was_written_before_it_and_nothing_after():
    real = RecordingTransport()
    t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"close frame")
    t.close()
    assert real.writes == [b"close frame"] and real.closed
    t.write(b"late")
    await asyncio.sleep(0)
    assert real.writes == [b"close frame"]


async def test_a_burst_of_posts_reaches_every_subscriber_complete_and_in_order(server: Running):
    server.member("north", "alice@cfn.example")
    server.member("north", "bob@cfn.example")
    alice = await connect(server, server.token("alice@cfn.example"), "cfn.v1.msgpack")
    bob = await connect(server, server.token("bob@cfn.example"), "cfn.v1.json")
    await alice.call("join", room="north")
    await bob.call("join", room="north")
    thread = (await alice.call("thread.create", room="north", title="T", body="b", cid="t"))[
        "thread"
    ]["id"]
    refs = [
        await alice.send("message.post", room="north", thread=thread, body=f"m{i}", cid=f"c{i}")
        for i in range(100)
    ]  # pipelined: group commits
    for ref in refs:
        assert (await alice.reply(ref))["ok"]
    for client in (alice, bob):
        got = await client.stored_events("north", 102)
        assert [e["seq"] for e in got] == list(range(1, 103))
        assert [e["data"]["body"] for e in got[2:]] == [f"m{i}" for i in range(100)]
    await alice.close()
    await bob.close()


def test_wire_frames_use_the_short_medium_and_long_length_forms():
    assert wire(b"ab") == b"\x82\x02ab"
    assert wire("é") == b"\x81\x02\xc3\xa9"  # text frames count UTF-8 bytes
    medium = wire(b"x" * 300)
    assert medium[:4] == b"\x82\x7e\x01\x2c" and len(medium) == 304
    long = wire(b"y" * 70_000)
    assert long[:2] == b"\x82\x7f" and int.from_bytes(long[2:10], "big") == 70_000


async def test_preframed_events_arrive_intact_in_both_subprotocols_at_every_length(server: Running):
    server.member("north", "alice@cfn.example")
    server.member("north", "bob@cfn.example")
    alice = await connect(server, server.token("alice@cfn.example"), "cfn.v1.json")
    bob = await connect(server, server.token("bob@cfn.example"), "cfn.v1.msgpack")
    await alice.call("join", room="north")
    await bob.call("join", room="north")
    thread = (await alice.call("thread.create", room="north", title="T", body="b", cid="t"))[
        "thread"
    ]["id"]
    bodies = ["short é", "x" * 200 + "é", "é" * 9_000]  # < 126 bytes, and two longer forms
    for i, body in enumerate(bodies):
        await alice.call("message.post", room="north", thread=thread, body=body, cid=f"c{i}")
    for client in (alice, bob):
        got = await client.stored_events("north", 2 + len(bodies))
        assert [e["data"]["body"] for e in got[2:]] == bodies
    await alice.close()
    await bob.close()
