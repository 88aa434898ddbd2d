"""Bad input over live connections: every bad frame gets its error and the line stays usable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from websockets.exceptions import ConnectionClosed

from tests.harness import JSON, MSGPACK, Client, Running, connect

ALICE = "alice@cfn.example"


def raw(client: Client, obj: Any) -> bytes | str:
    return client.encode(obj)


async def next_reply(client: Client) -> dict[str, Any]:
    """The next reply frame, whatever its ref (bad frames may have none)."""
    while True:
        msg = await client._read_one(10)
        if msg.get("op") == "reply":
            client.replies.pop(msg.get("ref"), None)
            return msg


async def still_usable(client: Client) -> None:
    assert await client.call("ping") == {}


# (what to send, expected code, expected ref); built per subprotocol below.
CASES: list[tuple[str, Any, str, int | None]] = [
    ("a list, not a map", [1, 2, 3], "bad_request", None),
    ("a bare string", "ping", "bad_request", None),
    ("no op", {"ref": 41, "room": "north"}, "bad_request", 41),
    ("op not text", {"op": 7, "ref": 42}, "bad_request", 42),
    ("ref not a number", {"op": "ping", "ref": "43"}, "bad_request", None),
    ("ref a float", {"op": "ping", "ref": 4.5}, "bad_request", None),
    ("no ref", {"op": "ping"}, "bad_request", None),
    ("since as text", {"op": "join", "ref": 44, "room": "north", "since": "3"}, "bad_request", 44),
    (
        "thread as text",
        {"op": "message.post", "ref": 45, "room": "north", "thread": "1", "body": "x", "cid": "c"},
        "bad_request",
        45,
    ),
    (
        "body as a number",
        {"op": "message.edit", "ref": 46, "message": 1, "body": 3},
        "bad_request",
        46,
    ),
    ("missing argument", {"op": "join", "ref": 47}, "bad_request", 47),
    ("unknown op", {"op": "message.shout", "ref": 48}, "unknown_op", 48),
    (
        "limit above 200",
        {"op": "history", "ref": 49, "room": "north", "limit": 500},
        "bad_request",
        49,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_a_bad_frame_gets_its_error_and_the_connection_stays_usable(
    server: Running, room: str, clients: Callable, case: tuple
) -> None:
    _, obj, code, ref = case
    alice = await clients(ALICE)
    await alice.send_raw(raw(alice, obj))
    reply = await next_reply(alice)
    assert reply["ok"] is False and reply["ref"] == ref
    assert reply["error"]["code"] == code and reply["error"]["message"]
    await still_usable(alice)


async def test_invalid_json_is_bad_request_and_the_connection_stays_usable(
    server: Running, clients: Callable
) -> None:
    alice = await clients(ALICE, JSON)
    for junk in ['{"op": "ping", "ref": 1', "not json at all", '{"op": "ping", "ref": NaN}']:
        await alice.send_raw(junk)
        reply = await next_reply(alice)
        assert reply["error"]["code"] == "bad_request" and reply["ref"] is None
    await still_usable(alice)


async def test_invalid_msgpack_is_bad_request_and_the_connection_stays_usable(
    server: Running, clients: Callable
) -> None:
    alice = await clients(ALICE, MSGPACK)
    for junk in [b"\xc1", b"\x82\xa2op", msgpack.packb({"op": "ping", "ref": 1}) + b"\x01"]:
        await alice.send_raw(junk)
        reply = await next_reply(alice)
        assert reply["error"]["code"] == "bad_request" and reply["ref"] is None
    await still_usable(alice)


async def test_a_text_frame_on_a_msgpack_connection_is_bad_request(
    server: Running, clients: Callable
) -> None:
    alice = await clients(ALICE, MSGPACK)
    await alice.send_raw(json.dumps({"op": "ping", "ref": 5}))
    reply = await next_reply(alice)
    assert reply["error"]["code"] == "bad_request" and isinstance(alice.frames[-1], bytes)
    await still_usable(alice)


async def test_bad_frames_leave_stored_data_untouched(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    await alice.call("join", room=room)
    made = await alice.call("thread.create", room=room, title="T", body="Safe", cid="a")
    mid = made["message"]["id"]
    for obj in (
        {"op": "message.edit", "ref": 1, "message": mid, "body": ""},
        {"op": "message.edit", "ref": 2, "message": str(mid), "body": "x"},
        {"op": "message.delete", "ref": 3, "message": -1},
        {"op": "message.edit", "ref": 4, "message": mid, "body": "x" * 10_001},
    ):
        await alice.send_raw(raw(alice, obj))
        assert (await next_reply(alice))["ok"] is False
    page = await alice.call("history", room=room)
    assert page["messages"][0]["body"] == "Safe" and "edited_at" not in page["messages"][0]
    assert server.db.execute("SELECT max(seq) FROM events").fetchone()[0] == 2


async def test_replies_come_in_command_order_even_when_mixed_with_errors(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    await alice.call("join", room=room)
    thread = (await alice.call("thread.create", room=room, title="T", body="B", cid="t"))["thread"][
        "id"
    ]
    refs = []
    for i in range(10):
        refs.append(
            await alice.send("message.post", room=room, thread=thread, body=f"{i}", cid=f"c{i}")
        )
        refs.append(await alice.send("nope.op"))
        refs.append(await alice.send("ping"))
    order = []
    while len(order) < len(refs):
        msg = await alice._read_one(10)
        if msg["op"] == "reply":
            order.append(msg["ref"])
    assert order == refs


# --- too long values and too big frames ------------------------------------------------


async def test_a_body_or_title_over_the_limit_is_too_large(
    server: Running, room: str, clients: Callable
) -> None:
    alice = await clients(ALICE)
    await alice.call("join", room=room)
    assert (
        await alice.error("thread.create", room=room, title="t" * 201, body="b", cid="a")
        == "too_large"
    )
    assert (
        await alice.error("thread.create", room=room, title="t", body="b" * 10_001, cid="b")
        == "too_large"
    )
    made = await alice.call("thread.create", room=room, title="t" * 200, body="b" * 10_000, cid="c")
    assert (
        await alice.error(
            "message.post", room=room, thread=made["thread"]["id"], body="b" * 10_001, cid="d"
        )
        == "too_large"
    )
    assert (
        await alice.error("message.edit", message=made["message"]["id"], body="é" * 10_001)
        == "too_large"
    )
    assert server.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


async def test_a_frame_over_the_size_limit_closes_with_1009(
    server: Running, room: str, clients: Callable
) -> None:
    alice, bob = await clients(ALICE), await clients("bob@cfn.example")
    await alice.call("join", room=room)
    await alice.send_raw(
        raw(
            alice,
            {
                "op": "thread.create",
                "ref": 1,
                "room": room,
                "title": "t",
                "body": "x" * 70_000,
                "cid": "big",
            },
        )
    )
    with pytest.raises(ConnectionClosed):
        for _ in range(10):
            await alice._read_one(10)
    assert alice.ws.close_code == 1009
    await bob.call("ping")  # other connections are unaffected
    assert server.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


async def test_a_smaller_max_frame_setting_is_enforced_and_announced(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server(max_frame=2_000)
    alice = await connect(running, running.token(ALICE), subprotocol)
    try:
        assert (await alice.call("hello"))["limits"]["max_frame"] == 2_000
        await alice.send_raw(raw(alice, {"op": "ping", "ref": 1, "pad": "x" * 3_000}))
        with pytest.raises(ConnectionClosed):
            await alice._read_one(10)
        assert alice.ws.close_code == 1009
    finally:
        await alice.close()


# --- rate limit -------------------------------------------------------------------------------


async def test_a_burst_beyond_the_rate_limit_is_rate_limited_then_recovers(
    start_server: Callable, subprotocol: str
) -> None:
    running: Running = await start_server(rate_limit=5)  # 5 a second, burst of 10
    alice = await connect(running, running.token(ALICE), subprotocol)
    try:
        refs = [await alice.send("ping") for _ in range(25)]
        replies = [await alice.reply(ref) for ref in refs]
        codes = ["ok" if r["ok"] else r["error"]["code"] for r in replies]
        assert codes[:10] == ["ok"] * 10, "the burst is allowed"
        assert codes.count("rate_limited") >= 8, codes  # 15 over the burst, minus refill
        assert set(codes) == {"ok", "rate_limited"}
        await asyncio.sleep(0.5)  # 2.5 tokens come back
        assert await alice.call("ping") == {}
        assert (await alice.call("hello"))["limits"]["rate_limit"] == 5
    finally:
        await alice.close()


async def test_the_rate_limit_is_per_connection(start_server: Callable, subprotocol: str) -> None:
    running: Running = await start_server(rate_limit=5)
    token = running.token(ALICE)
    first = await connect(running, token, subprotocol)
    second = await connect(running, token, subprotocol)
    try:
        refs = [await first.send("ping") for _ in range(20)]
        replies = [await first.reply(r) for r in refs]
        assert any(not r["ok"] for r in replies)
        assert await second.call("ping") == {}
    finally:
        await first.close()
        await second.close()
