"""The wire codec, sans I/O: frames in, validated commands out; replies and events out.

Nothing here touches a socket or the database, so every rule of PROTOCOL.md §2-§3 can be
tested with bytes alone, and the WebSocket endpoint stays thin glue. The op argument
schemas a decoded command is checked against are in ``server.protocol.schemas``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack  # ships no type information (see the mypy overrides in pyproject.toml)

from server.errors import BadRequest
from server.protocol.schemas import Command, FrameError, Limits, is_int, validate

MSGPACK = "cfn.v1.msgpack"
JSON = "cfn.v1.json"
SUBPROTOCOLS = (MSGPACK, JSON)

Frame = bytes | str


# --- decoding -----------------------------------------------------------------------------


def _load(data: Frame, subprotocol: str) -> Any:
    if subprotocol == MSGPACK:
        if isinstance(data, str):
            raise BadRequest("This connection speaks MessagePack: send binary frames.")
        # Invalid UTF-8 in a string becomes lone surrogates, refused with the ref echoed by
        # the same check as JSON's "\udcff" escapes (see _string).
        return msgpack.unpackb(
            data, raw=False, strict_map_key=False, use_list=True, unicode_errors="surrogateescape"
        )
    if isinstance(data, bytes):
        data = data.decode("utf-8", "surrogateescape")
    return json.loads(data, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(data: Frame, subprotocol: str, limits: Limits | None = None) -> Command:
    """Turn one received frame into a validated Command, or raise FrameError."""
    limits = limits or Limits()
    try:
        raw = _load(data, subprotocol)
    except BadRequest as e:
        raise FrameError(e, None) from None
    except Exception:  # any malformed input: msgpack, UTF-8, JSON or nesting errors
        raise FrameError(BadRequest("That frame could not be read."), None) from None
    if not isinstance(raw, dict):
        raise FrameError(BadRequest("A command must be a map with 'op' and 'ref'."), None)
    ref = raw.get("ref")
    readable_ref = ref if is_int(ref) and _fits_int64(ref) else None
    op = raw.get("op")
    if not isinstance(op, str):
        raise FrameError(BadRequest("A command needs 'op', the operation's name."), readable_ref)
    if readable_ref is None:
        raise FrameError(BadRequest("A command needs 'ref', a whole number."), None)
    return validate(op, readable_ref, raw, limits)


def _fits_int64(value: int) -> bool:
    return -(2**63) <= value < 2**64


# --- encoding -----------------------------------------------------------------------------


def encode(obj: dict[str, Any], subprotocol: str) -> Frame:
    """Serialise one server frame for the connection's subprotocol."""
    if subprotocol == MSGPACK:
        packed: bytes = msgpack.packb(obj, use_bin_type=True)
        return packed
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def reply_ok(ref: int, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"op": "reply", "ref": ref, "ok": True, "data": data or {}}


def reply_error(ref: int | None, code: str, message: str) -> dict[str, Any]:
    return {"op": "reply", "ref": ref, "ok": False, "error": {"code": code, "message": message}}


def event_frame(
    room: str, seq: int | None, type_: str, at: int, data: dict[str, Any]
) -> dict[str, Any]:
    return {"op": "event", "room": room, "seq": seq, "type": type_, "at": at, "data": data}


@dataclass
class Event:
    """A room event; encoded at most once per subprotocol however many receive it."""

    room: str
    seq: int | None
    type: str
    at: int
    data: dict[str, Any]
    _frames: dict[str, Frame] = field(default_factory=dict, repr=False, compare=False)
    # The event as one audience sees it (say, names in a group for staff), built once.
    variants: dict[str, Event] = field(default_factory=dict, repr=False, compare=False)

    def frame(self, subprotocol: str) -> Frame:
        cached = self._frames.get(subprotocol)
        if cached is None:
            cached = encode(
                event_frame(self.room, self.seq, self.type, self.at, self.data), subprotocol
            )
            self._frames[subprotocol] = cached
        return cached

    def framed(self, subprotocol: str, framing: Callable[[Frame], bytes]) -> bytes:
        """The frame as the transport sends it (``framing`` adds the header), built once."""
        key = "framed:" + subprotocol
        cached = self._frames.get(key)
        if not isinstance(cached, bytes):  # kept beside the plain frames, always bytes
            cached = self._frames[key] = framing(self.frame(subprotocol))
        return cached


def now_ms(seconds: float) -> int:
    """Unix milliseconds from a time.time() value."""
    return int(math.floor(seconds * 1000))
