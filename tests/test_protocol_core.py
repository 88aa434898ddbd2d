"""The sans-I/O protocol core, tested with bytes alone in both subprotocols (PROTOCOL §2-§3)."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from server.errors import ERROR_CODES
from server.protocol import codec as protocol
from server.protocol.codec import JSON, MSGPACK, Command, Event, FrameError, Limits, decode, encode
from server.protocol.schemas import SCHEMAS


def wire(obj: Any, sp: str) -> bytes | str:
    """What a client would send for ``obj`` in subprotocol ``sp``."""
    return msgpack.packb(obj, use_bin_type=True) if sp == MSGPACK else json.dumps(obj)


def unwire(frame: bytes | str, sp: str) -> Any:
    if sp == MSGPACK:
        assert isinstance(frame, bytes)
        return msgpack.unpackb(frame, raw=False)
    assert isinstance(frame, str)
    return json.loads(frame)


def refused(data: bytes | str, sp: str, limits: Limits | None = None) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode(data, sp, limits)
    assert info.value.message and info.value.code in ERROR_CODES
    return info.value


SP = pytest.mark.parametrize("sp", [JSON, MSGPACK], ids=["json", "msgpack"])


# --- decoding good commands ---------------------------------------------------------------


@SP
def test_a_valid_command_decodes_to_its_op_ref_and_checked_arguments(sp: str) -> None:
    cmd = decode(
        wire(
            {
                "op": "message.post",
                "ref": 7,
                "room": "north",
                "thread": 3,
                "body": "Hello",
                "cid": "c-1",
            },
            sp,
        ),
        sp,
    )
    assert cmd == Command(
        "message.post", 7, {"room": "north", "thread": 3, "body": "Hello", "cid": "c-1"}
    )


@SP
def test_unknown_extra_fields_are_ignored_so_clients_can_extend_compatibly(sp: str) -> None:
    cmd = decode(wire({"op": "ping", "ref": 1, "future_field": [1, 2]}, sp), sp)
    assert cmd.args == {}


@SP
def test_null_optional_arguments_count_as_absent(sp: str) -> None:
    cmd = decode(wire({"op": "join", "ref": 1, "room": "north", "since": None}, sp), sp)
    assert cmd.args == {"room": "north"}


@SP
def test_thread_titles_are_trimmed_but_bodies_are_stored_as_sent(sp: str) -> None:
    cmd = decode(
        wire(
            {
                "op": "thread.create",
                "ref": 2,
                "room": "r",
                "title": "  Hi  ",
                "body": "  text\n",
                "cid": "x",
            },
            sp,
        ),
        sp,
    )
    assert cmd.args["title"] == "Hi" and cmd.args["body"] == "  text\n"


def test_json_command_may_arrive_as_utf8_bytes() -> None:
    cmd = decode(json.dumps({"op": "ping", "ref": 3}).encode(), JSON)
    assert cmd.op == "ping" and cmd.ref == 3


def test_every_op_in_the_schema_table_has_a_decodable_minimal_form() -> None:
    """Guards the SCHEMAS table itself: each op needs only its required arguments."""
    sample = {
        "slug": "north",
        "id": 1,
        "uint": 0,
        "str": "x",
        "title": "T",
        "body": "B",
        "note": "",
        "cid": "c",
        "limit": 5,
        "bool": True,
        "options": ["a", "b"],
        "choices": [0],
        "counts": [1, 2],
        "poll_kind": "single",
        "poll_results": "live",
        "idea_status": "discussing",
        "word": "online",
        "words": ["bsl"],
    }
    for op, schema in SCHEMAS.items():
        raw = {"op": op, "ref": 1}
        raw.update({name: sample[kind] for name, kind, required in schema if required})
        assert decode(json.dumps(raw), JSON).op == op


# --- bad frames -----------------------------------------------------------------------------


@SP
@pytest.mark.parametrize("value", [[1, 2], "ping", 42, None, True])
def test_a_frame_that_is_not_a_map_is_bad_request_without_ref(sp: str, value: Any) -> None:
    err = refused(wire(value, sp), sp)
    assert err.code == "bad_request" and err.ref is None


@SP
def test_a_frame_without_op_is_bad_request_with_its_ref_echoed(sp: str) -> None:
    err = refused(wire({"ref": 9, "room": "north"}, sp), sp)
    assert err.code == "bad_request" and err.ref == 9


@SP
@pytest.mark.parametrize("op", [5, None, ["ping"], {"x": 1}])
def test_an_op_that_is_not_text_is_bad_request(sp: str, op: Any) -> None:
    err = refused(wire({"op": op, "ref": 4}, sp), sp)
    assert err.code == "bad_request" and err.ref == 4


@SP
@pytest.mark.parametrize("ref", ["1", 1.5, True, None, [1]])
def test_a_ref_that_is_not_a_whole_number_is_bad_request_and_not_echoed(sp: str, ref: Any) -> None:
    err = refused(wire({"op": "ping", "ref": ref}, sp), sp)
    assert err.code == "bad_request" and err.ref is None


def test_a_ref_too_big_for_64_bits_is_not_echoed() -> None:
    err = refused(json.dumps({"op": "ping", "ref": 2**70}), JSON)
    assert err.code == "bad_request" and err.ref is None


@SP
def test_a_missing_ref_is_bad_request(sp: str) -> None:
    err = refused(wire({"op": "ping"}, sp), sp)
    assert err.code == "bad_request" and err.ref is None


@SP
def test_an_unknown_op_is_unknown_op_with_ref_echoed(sp: str) -> None:
    err = refused(wire({"op": "message.shout", "ref": 12}, sp), sp)
    assert err.code == "unknown_op" and err.ref == 12


@SP
@pytest.mark.parametrize(
    "args",
    [
        {"op": "join", "room": 5},
        {"op": "join", "room": ""},
        {"op": "join", "room": "north", "since": "3"},
        {"op": "join", "room": "north", "since": -1},
        {"op": "join", "room": "north", "since": 1.5},
        {"op": "join", "room": "north", "epoch": 7},
        {"op": "message.post", "room": "north", "thread": "1", "body": "x", "cid": "c"},
        {"op": "message.post", "room": "north", "thread": True, "body": "x", "cid": "c"},
        {"op": "message.post", "room": "north", "thread": 0, "body": "x", "cid": "c"},
        {"op": "message.post", "room": "north", "thread": 1, "body": 5, "cid": "c"},
        {"op": "message.post", "room": "north", "thread": 1, "body": "   ", "cid": "c"},
        {"op": "message.post", "room": "north", "thread": 1, "body": "x", "cid": 3},
        {"op": "message.post", "room": "north", "thread": 1, "body": "x", "cid": ""},
        {"op": "message.post", "room": "north", "thread": 1, "body": "x"},
        {"op": "message.edit", "message": 1, "body": ["x"]},
        {"op": "message.delete", "message": {"id": 1}},
        {"op": "history", "room": "north", "limit": 0},
        {"op": "history", "room": "north", "limit": 201},
        {"op": "history", "room": "north", "before": "9"},
        {"op": "thread.create", "room": "north", "title": "", "body": "b", "cid": "c"},
        {"op": "hello", "client": 3},
        {"op": "typing", "room": "north", "thread": "t"},
    ],
)
def test_a_wrong_argument_type_or_value_is_bad_request_with_ref(
    sp: str, args: dict[str, Any]
) -> None:
    err = refused(wire({**args, "ref": 21}, sp), sp)
    assert err.code == "bad_request" and err.ref == 21


def test_invalid_json_is_bad_request() -> None:
    for data in ['{"op": "ping", "ref": 1', "", "nonsense", b"\xff\xfe"]:
        err = refused(data, JSON)
        assert err.code == "bad_request" and err.ref is None


def test_json_nan_and_infinity_are_refused() -> None:
    err = refused('{"op": "join", "ref": 1, "room": "n", "since": NaN}', JSON)
    assert err.code == "bad_request"


def test_deeply_nested_json_is_bad_request_not_a_crash() -> None:
    err = refused("[" * 100_000 + "]" * 100_000, JSON)
    assert err.code == "bad_request"


def test_invalid_msgpack_is_bad_request() -> None:
    for data in [b"\xc1", b"\x82\xa2op", msgpack.packb({"op": "ping", "ref": 1}) + b"\x00"]:
        err = refused(data, MSGPACK)
        assert err.code == "bad_request" and err.ref is None


def test_a_text_frame_on_a_msgpack_connection_is_bad_request() -> None:
    err = refused(json.dumps({"op": "ping", "ref": 1}), MSGPACK)
    assert err.code == "bad_request" and "binary" in err.message


@SP
def test_a_body_over_the_limit_is_too_large_and_at_the_limit_is_fine(sp: str) -> None:
    limits = Limits(max_body=100, max_title=20)
    base = {"op": "message.post", "ref": 5, "room": "n", "thread": 1, "cid": "c"}
    assert decode(wire({**base, "body": "x" * 100}, sp), sp, limits).args["body"] == "x" * 100
    err = refused(wire({**base, "body": "x" * 101}, sp), sp, limits)
    assert err.code == "too_large" and err.ref == 5


@SP
def test_a_title_over_the_limit_is_too_large(sp: str) -> None:
    limits = Limits(max_body=100, max_title=20)
    err = refused(
        wire(
            {
                "op": "thread.create",
                "ref": 6,
                "room": "n",
                "title": "t" * 21,
                "body": "b",
                "cid": "c",
            },
            sp,
        ),
        sp,
        limits,
    )
    assert err.code == "too_large" and err.ref == 6


def test_default_limits_match_the_protocol() -> None:
    limits = Limits()
    assert (limits.max_body, limits.max_title, limits.max_cid) == (10_000, 200, 64)
    base = {"op": "message.post", "ref": 1, "room": "n", "thread": 1, "body": "b"}
    assert decode(json.dumps({**base, "cid": "c" * 64}), JSON).args["cid"] == "c" * 64
    assert refused(json.dumps({**base, "cid": "c" * 65}), JSON).code == "too_large"
    assert refused(json.dumps({**base, "body": "é" * 10_001}), JSON).code == "too_large"


def test_body_limit_counts_characters_not_bytes() -> None:
    body = "é" * 10_000  # 20,000 bytes in UTF-8
    cmd = decode(json.dumps({"op": "message.edit", "ref": 1, "message": 1, "body": body}), JSON)
    assert cmd.args["body"] == body


# --- encoding -------------------------------------------------------------------------------


@SP
def test_replies_encode_to_the_protocol_shapes(sp: str) -> None:
    ok = unwire(encode(protocol.reply_ok(3, {"x": 1}), sp), sp)
    assert ok == {"op": "reply", "ref": 3, "ok": True, "data": {"x": 1}}
    empty = unwire(encode(protocol.reply_ok(4), sp), sp)
    assert empty == {"op": "reply", "ref": 4, "ok": True, "data": {}}
    err = unwire(encode(protocol.reply_error(None, "bad_request", "No."), sp), sp)
    assert err == {
        "op": "reply",
        "ref": None,
        "ok": False,
        "error": {"code": "bad_request", "message": "No."},
    }


def test_json_replies_are_text_frames_and_msgpack_replies_are_binary() -> None:
    assert isinstance(encode(protocol.reply_ok(1), JSON), str)
    assert isinstance(encode(protocol.reply_ok(1), MSGPACK), bytes)


def test_json_encoding_keeps_non_ascii_text_readable() -> None:
    frame = encode(protocol.reply_ok(1, {"name": "Siân"}), JSON)
    assert "Siân" in frame and json.loads(frame)["data"]["name"] == "Siân"


@SP
def test_an_event_encodes_with_room_seq_type_at_and_data(sp: str) -> None:
    ev = Event("north", 5, "message.created", 1_700_000_000_000, {"id": 1, "body": "hi"})
    assert unwire(ev.frame(sp), sp) == {
        "op": "event",
        "room": "north",
        "seq": 5,
        "type": "message.created",
        "at": 1_700_000_000_000,
        "data": {"id": 1, "body": "hi"},
    }


@SP
def test_ephemeral_events_carry_seq_null(sp: str) -> None:
    ev = Event("north", None, "presence.join", 1, {"id": 2, "name": "Bob"})
    assert unwire(ev.frame(sp), sp)["seq"] is None


def test_an_event_is_encoded_once_per_subprotocol_however_many_receive_it() -> None:
    ev = Event("north", 1, "message.created", 1, {"id": 1})
    first_json, first_mp = ev.frame(JSON), ev.frame(MSGPACK)
    assert ev.frame(JSON) is first_json and ev.frame(MSGPACK) is first_mp


@SP
def test_a_decoded_command_round_trips_through_what_a_client_encodes(sp: str) -> None:
    raw = {
        "op": "history",
        "ref": 2**40,
        "room": "renal-transport",
        "thread": 9,
        "before": 100,
        "limit": 200,
    }
    cmd = decode(wire(raw, sp), sp)
    assert cmd.ref == 2**40 and cmd.args == {k: v for k, v in raw.items() if k not in ("op", "ref")}


def test_now_ms_is_unix_milliseconds() -> None:
    assert protocol.now_ms(1.2345) == 1234


def test_the_worked_examples_in_docs_protocol_md_are_true() -> None:
    """Each msgpack hex frame decodes to the JSON shown under it, and every client command of
    both examples passes validation, so the document cannot drift from the code."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    start = text.index("## 8. A worked session")
    section = text[start : text.index("\n## ", start)]
    checked, hexbuf, direction = 0, "", ""
    for line in (raw.strip() for raw in section.splitlines()):
        m = re.match(r"^(>>|<<)\s+([0-9a-f]+)$", line)
        if m:
            direction, hexbuf = m.group(1), m.group(2)
        elif hexbuf and re.fullmatch(r"[0-9a-f]+", line):
            hexbuf += line
        elif hexbuf and line.startswith("{"):
            frame = bytes.fromhex(hexbuf)
            assert msgpack.unpackb(frame, raw=False) == json.loads(line)
            if direction == ">>":
                decode(frame, MSGPACK)
            checked, hexbuf = checked + 1, ""
        elif line.startswith(">> {"):
            if '"op":"nope"' in line:  # the example's deliberate mistake
                assert refused(line[3:], JSON).code == "unknown_op"
            else:
                decode(line[3:], JSON)
            checked += 1
    assert checked >= 12


# --- text that cannot be stored ---------------------------------------------------------------

TEXT_KINDS = {"str", "slug", "cid", "title", "body", "note", "options"}
TEXT_SAMPLE = {
    "slug": "north",
    "id": 1,
    "uint": 0,
    "str": "x",
    "title": "T",
    "body": "B",
    "note": "",
    "cid": "c",
    "limit": 5,
    "bool": True,
    "options": ["a", "b"],
    "choices": [0],
    "counts": [1, 2],
    "poll_kind": "single",
    "poll_results": "live",
    "idea_status": "discussing",
    "word": "online",
    "words": ["bsl"],
}
TEXT_ARGS = [
    (op, name, kind)
    for op, schema in SCHEMAS.items()
    for name, kind, _ in schema
    if kind in TEXT_KINDS
]
PLACEHOLDER = "zq\u00e9zq"  # 6 UTF-8 bytes, swapped for invalid UTF-8 in the packed frame


def _with_bad_text(op: str, name: str, kind: str, bad: str) -> dict[str, Any]:
    raw: dict[str, Any] = {"op": op, "ref": 77}
    raw.update({n: TEXT_SAMPLE[k] for n, k, required in SCHEMAS[op] if required})
    raw[name] = ["fine", bad] if kind == "options" else bad
    return raw


@pytest.mark.parametrize(
    ("op", "name", "kind"), TEXT_ARGS, ids=[f"{op}-{name}" for op, name, _ in TEXT_ARGS]
)
def test_a_lone_surrogate_in_any_text_argument_is_bad_request_with_ref(
    op: str, name: str, kind: str
) -> None:
    err = refused(json.dumps(_with_bad_text(op, name, kind, "x\udcff")), JSON)
    assert (err.code, err.ref) == ("bad_request", 77)
    assert "not valid text" in err.message


@pytest.mark.parametrize(
    ("op", "name", "kind"), TEXT_ARGS, ids=[f"{op}-{name}" for op, name, _ in TEXT_ARGS]
)
def test_invalid_utf8_in_any_msgpack_text_argument_is_bad_request_with_ref(
    op: str, name: str, kind: str
) -> None:
    packed = msgpack.packb(_with_bad_text(op, name, kind, PLACEHOLDER), use_bin_type=True)
    good = PLACEHOLDER.encode()
    assert packed.count(good) == 1
    err = refused(packed.replace(good, b"zq\xff\xfezq"), MSGPACK)
    assert (err.code, err.ref) == ("bad_request", 77)


@SP
def test_an_op_name_that_is_not_valid_text_is_bad_request_not_echoed_back(sp: str) -> None:
    if sp == JSON:
        data: bytes | str = json.dumps({"op": "ping\udcff", "ref": 5})
    else:
        data = msgpack.packb({"op": PLACEHOLDER, "ref": 5}).replace(
            PLACEHOLDER.encode(), b"zq\xff\xfezq"
        )
    err = refused(data, sp)
    assert (err.code, err.ref) == ("bad_request", 5)
    encode(protocol.reply_error(err.ref, err.code, err.message), sp)  # the reply is sendable


def test_invalid_utf8_bytes_in_a_json_binary_frame_are_bad_request() -> None:
    err = refused(b'{"op": "hello", "ref": 6, "client": "x\xff"}', JSON)
    assert (err.code, err.ref) == ("bad_request", 6)
