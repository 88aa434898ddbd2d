"""Fuzzing: the protocol core and the live server meet arbitrary input and only ever answer
with protocol errors (PROTOCOL §2-§3), never an unexpected exception or a fall."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import msgpack
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.errors import ERROR_CODES
from server.protocol.codec import JSON, MSGPACK, Command, FrameError, Limits, decode
from server.protocol.schemas import SCHEMAS
from tests import pg
from tests.harness import Client, Running, connect

EXAMPLES = 400
INT64 = (-(2**63), 2**63 - 1)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=50)
    | st.binary(max_size=50)
)
msgpack_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.text(max_size=10) | st.integers(*INT64), inner, max_size=6)
    ),
    max_leaves=30,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=6)
    ),
    max_leaves=30,
)
_ops = st.sampled_from(sorted(SCHEMAS)) | st.text(max_size=20)
_arg_names = st.sampled_from(sorted({a[0] for s in SCHEMAS.values() for a in s}))


def commands(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Maps shaped like commands (a real op, a ref, real argument names) with any values."""
    return st.builds(
        lambda op, ref, args: {"op": op, "ref": ref, **args},
        _ops,
        st.integers(*INT64) | values,
        st.dictionaries(_arg_names, values, max_size=6),
    )


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def check(data: bytes | str, sp: str) -> Command | None:
    """decode() gives a Command or a FrameError with a protocol code; nothing else."""
    try:
        command = decode(data, sp, Limits())
    except FrameError as e:
        assert e.code in ERROR_CODES and isinstance(e.message, str) and e.message
        assert e.ref is None or isinstance(e.ref, int)
        return None
    assert command.op in SCHEMAS and isinstance(command.ref, int)
    for name, kind, _ in SCHEMAS[command.op]:  # ids reach SQLite: they must fit its integers
        if kind in ("id", "uint") and name in command.args:
            assert INT64[0] <= command.args[name] <= INT64[1]
    return command


@FUZZ
@given(msgpack_values)
def test_any_msgpack_value_gets_a_command_or_a_protocol_error(value: Any) -> None:
    check(_pack(value), MSGPACK)


@FUZZ
@given(json_values)
def test_any_json_value_gets_a_command_or_a_protocol_error(value: Any) -> None:
    check(json.dumps(value), JSON)


@FUZZ
@given(commands(msgpack_values))
def test_command_shaped_msgpack_maps_get_a_command_or_a_protocol_error(value: Any) -> None:
    check(_pack(value), MSGPACK)


@FUZZ
@given(commands(json_values))
def test_command_shaped_json_objects_get_a_command_or_a_protocol_error(value: Any) -> None:
    check(json.dumps(value), JSON)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([JSON, MSGPACK]))
def test_any_bytes_get_a_protocol_error_or_a_command(data: bytes, sp: str) -> None:
    check(data, sp)


@FUZZ
@given(st.text(max_size=200), st.sampled_from([JSON, MSGPACK]))
def test_any_text_frame_gets_a_protocol_error_or_a_command(data: str, sp: str) -> None:
    check(data, sp)


_VALID = [
    {"op": "message.post", "ref": 7, "room": "north", "thread": 1, "body": "Hello", "cid": "a"},
    {"op": "join", "ref": 1, "room": "north", "since": 3, "epoch": "abc"},
    {
        "op": "poll.create",
        "ref": 2,
        "room": "north",
        "question": "Q?",
        "options": ["a", "b"],
        "kind": "single",
        "anonymous": True,
    },
    {"op": "history", "ref": 3, "room": "north", "limit": 20},
]


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """Flip, insert, delete or duplicate a few bytes of a valid frame."""
    out = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        i = rnd.randrange(len(out) + 1)
        action = rnd.randrange(4)
        if action == 0 and i < len(out):
            out[i] ^= 1 << rnd.randrange(8)
        elif action == 1:
            out[i:i] = bytes([rnd.randrange(256)])
        elif action == 2 and i < len(out):
            del out[i]
        else:
            out[i:i] = out[i : i + rnd.randint(1, 8)]
    return bytes(out)


@FUZZ
@given(st.sampled_from(_VALID), st.sampled_from([JSON, MSGPACK]), st.randoms())
def test_mutated_valid_frames_get_a_command_or_a_protocol_error(
    frame: dict[str, Any], sp: str, rnd: random.Random
) -> None:
    raw = _pack(frame) if sp == MSGPACK else json.dumps(frame).encode()
    mutated = mutate(raw, rnd)
    check(mutated if sp == MSGPACK else mutated.decode("utf-8", "replace"), sp)


# --- the live server ------------------------------------------------------------------------

LIVE_FRAMES = 400  # per fuzzing client


def _random_frame(rnd: random.Random, sp: str, thread: int) -> bytes | str:
    """A random, mutated or wrong-typed frame, sometimes a valid command with odd values."""
    pick = rnd.randrange(6)
    if pick == 0:
        return rnd.randbytes(rnd.randrange(1, 300))
    if pick == 1:
        return "".join(chr(rnd.randrange(1, 0x2FF)) for _ in range(rnd.randrange(1, 80)))
    base = dict(rnd.choice(_VALID))
    base["ref"] = rnd.choice([rnd.randrange(1, 10**6), -1, 2**63, "x", None, 1.5])
    if base.get("thread") is not None:
        base["thread"] = rnd.choice([thread, 0, -5, 2**62, 2**63 + 1, "1", [1], None])
    if pick == 2:
        base["op"] = rnd.choice([*SCHEMAS, "nope", "", 5])
        for name in rnd.sample(sorted({a[0] for s in SCHEMAS.values() for a in s}), 3):
            base[name] = rnd.choice(
                [
                    None,
                    0,
                    -1,
                    2**64 - 1,
                    "",
                    "x" * 300,
                    [],
                    {},
                    True,
                    [1, 2],
                    1e308,
                    "north",
                    thread,
                ]
            )
    base["cid"] = f"fuzz-{rnd.randrange(10**9)}"
    raw = _pack(base) if sp == MSGPACK else json.dumps(base)
    if pick in (3, 4):
        data = raw if isinstance(raw, bytes) else raw.encode()
        data = mutate(data, rnd)
        return data if sp == MSGPACK else data.decode("utf-8", "replace")
    return raw


async def _fuzz_client(running: Running, sp: str, seed: int, thread: int) -> dict[str, int]:
    rnd = random.Random(seed)
    client = await connect(running, running.token(f"fuzz{seed}@cfn.example"), sp)
    await client.call("join", room="north")
    stats = {"sent": 0, "errors": 0, "closed": 0, "internal": 0}
    try:
        for _ in range(LIVE_FRAMES):
            await client.send_raw(_random_frame(rnd, sp, thread))
            stats["sent"] += 1
        await client.send("ping", ref=999_999_999)
        while True:  # read until our final ping is answered: every frame was dealt with
            msg = await client._read_one(10)
            if msg.get("op") == "reply" and not msg["ok"]:
                stats["errors"] += 1
                stats["internal"] += msg["error"]["code"] == "internal"
            if msg.get("ref") == 999_999_999:
                break
        if seed == 3:  # last, one frame over the size limit: this client alone is closed
            await client.send_raw(b"\x00" * (running.services.settings.max_frame + 1))
            for _ in range(100_000):  # room events may still be arriving before the close
                await client._read_one(10)
    except websockets.ConnectionClosed as e:
        stats["closed"] += 1  # allowed only for the size limit (1009) or bad frame type
        assert e.rcvd is not None and e.rcvd.code == 1009, e.rcvd
    finally:
        await client.close()
    return stats


async def _honest(client: Client, thread: int, stop: asyncio.Event) -> list[int]:
    ids = []
    n = 0
    while not stop.is_set():
        data = await client.call(
            "message.post", room="north", thread=thread, body=f"honest {n}", cid=f"honest-{n}"
        )
        ids.append(data["message"]["id"])
        n += 1
        await asyncio.sleep(0.002)
    return ids


async def test_live_fuzzing_leaves_other_clients_answered_and_data_intact(server: Running) -> None:
    sp = MSGPACK
    server.member("north", "alice@cfn.example")
    for seed in range(4):
        server.member("north", f"fuzz{seed}@cfn.example")
    alice = await connect(server, server.token("alice@cfn.example"), sp)
    await alice.call("join", room="north")
    thread = (await alice.call("thread.create", room="north", title="T", body="B", cid="t"))[
        "thread"
    ]["id"]
    stop = asyncio.Event()
    honest = asyncio.create_task(_honest(alice, thread, stop))
    results = await asyncio.gather(
        *(_fuzz_client(server, (JSON, MSGPACK)[s % 2], s, thread) for s in range(4))
    )
    stop.set()
    ids = await honest
    assert sum(r["internal"] for r in results) == 0, results
    assert sum(r["sent"] for r in results) == 4 * LIVE_FRAMES
    assert [r["closed"] for r in results] == [0, 0, 0, 1]  # only the oversized frame
    # The honest client was answered throughout and everything it posted is there, in order.
    history = await alice.call("history", room="north", thread=thread, limit=200)
    honest_ids = [m["id"] for m in history["messages"] if m["body"].startswith("honest ")]
    assert honest_ids == ids[-len(honest_ids) :] and len(ids) > 0
    last = server.db.execute("SELECT last_seq FROM rooms WHERE slug='north'").fetchone()[0]
    seqs = [
        r[0]
        for r in server.db.execute(
            "SELECT seq FROM events WHERE room_id=(SELECT id FROM rooms WHERE slug='north')"
            " ORDER BY seq"
        )
    ]
    assert seqs == list(range(1, last + 1))
    assert pg.integrity_check(server.db) == "ok"
    assert (await alice.call("ping")) == {}
    print(
        f"\nlive fuzz: {sum(r['sent'] for r in results)} frames from 4 clients, "
        f"{sum(r['errors'] for r in results)} error replies, "
        f"1 oversized frame closed its sender with 1009; honest client: "
        f"{len(ids)} posts, all answered and stored"
    )
    await alice.close()


_ID_ARGS = [
    (op, name)
    for op, schema in sorted(SCHEMAS.items())
    for name, kind, _ in schema
    if kind in ("id", "uint")
]


@FUZZ
@given(
    st.sampled_from(_ID_ARGS),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([JSON, MSGPACK]),
)
def test_ids_and_seqs_outside_sqlites_integers_are_refused_as_bad_requests(
    op_arg: tuple[str, str], value: int, sp: str
) -> None:
    op, name = op_arg
    frame = {
        "op": op,
        "ref": 1,
        "room": "north",
        "thread": 1,
        "body": "b",
        "cid": "c",
        "title": "t",
        "question": "q",
        "options": ["a", "b"],
        "kind": "single",
        "choices": [0],
        "counts": [1, 1],
        "member": 1,
        "poll": 1,
        "idea": 1,
        "message": 1,
        "into": 2,
        "status": "done",
        "note": "n",
        name: value,
    }
    command = check(_pack(frame) if sp == MSGPACK else json.dumps(frame), sp)
    if not INT64[0] <= value <= INT64[1] or value < 0:
        assert command is None
