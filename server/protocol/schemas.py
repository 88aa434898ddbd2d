"""The op argument schemas: which arguments each command takes, and their checks.

Pure like the codec: a raw command map in, a ``Command`` with checked arguments out (or a
``FrameError`` naming what is wrong). Shape only: lengths, kinds, ranges; whether a member
may do it is for the domain, inside the write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

from server.errors import BadRequest, CFNError, TooLarge, UnknownOp

MAX_ID = 2**63 - 1  # SQLite's largest integer: ids and seqs beyond it cannot exist


@dataclass(frozen=True)
class Limits:
    """The size limits a command is checked against (from settings)."""

    max_body: int = 10_000
    max_title: int = 200
    max_cid: int = 64


@dataclass(frozen=True)
class Command:
    """One validated client command: its op, the client's ref and the checked arguments."""

    op: str
    ref: int
    args: dict[str, Any] = field(default_factory=dict)


class FrameError(CFNError):
    """A command that cannot be carried out; ``ref`` is echoed when it could be read."""

    def __init__(self, error: CFNError, ref: int | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.code = error.code
        self.ref = ref


# --- argument schemas -------------------------------------------------------------------
# Each op lists (name, kind, required). Kinds are checked by _check_value; "text:LIMIT"
# kinds are strings bounded by a Limits attribute and refused with too_large beyond it.

_ROOM = ("room", "slug", True)
_CID = ("cid", "cid", True)

SCHEMAS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "hello": (("client", "str", False),),
    "join": (_ROOM, ("since", "uint", False), ("epoch", "str", False)),
    "leave": (_ROOM,),
    "history": (
        _ROOM,
        ("thread", "id", False),
        ("before", "id", False),
        ("limit", "limit", False),
    ),
    "thread.create": (
        _ROOM,
        ("title", "title", True),
        ("body", "body", True),
        _CID,
        ("staff_only", "bool", False),
    ),
    "message.post": (
        _ROOM,
        ("thread", "id", True),
        ("body", "body", True),
        _CID,
        ("staff_only", "bool", False),
    ),
    "message.edit": (("message", "id", True), ("body", "body", True)),
    "message.delete": (("message", "id", True),),
    "message.report": (("message", "id", True), ("reason", "word", True), ("note", "note", False)),
    "message.hide": (("message", "id", True), ("reason", "word", True)),
    "message.restore": (("message", "id", True),),
    "message.review": (("message", "id", True), ("note", "note", False)),
    "report.dismiss": (("report", "id", True),),
    "poll.create": (
        _ROOM,
        ("question", "title", True),
        ("options", "options", True),
        ("kind", "poll_kind", True),
        ("anonymous", "bool", False),
        ("results", "poll_results", False),
        ("closes_at", "uint", False),  # extension: Unix ms, in the future (docs/protocol.md)
    ),
    "poll.vote": (("poll", "id", True), ("choices", "choices", True)),
    "poll.close": (("poll", "id", True),),
    "poll.count": (("poll", "id", True), ("counts", "counts", True)),
    "poll.vote_for": (
        ("poll", "id", True),
        ("member", "id", True),
        ("choices", "choices", True),
    ),
    "idea.create": (_ROOM, ("title", "title", True), ("body", "body", True), _CID),
    "name.set": (_ROOM, ("name", "str", True)),
    "idea.support": (("idea", "id", True),),
    "idea.unsupport": (("idea", "id", True),),
    "idea.status": (("idea", "id", True), ("status", "idea_status", True), ("note", "note", False)),
    "idea.merge": (("idea", "id", True), ("into", "id", True)),
    # Following and the inbox (docs/protocol.md "Following and the inbox").
    "follow.set": (_ROOM, ("kind", "word", True), ("id", "id", True), ("on", "bool", False)),
    "follow.level": (_ROOM, ("level", "word", True)),
    "inbox.get": (),
    "inbox.read": (("key", "str", False),),
    "poll.get": (("poll", "id", True),),
    "poll.list": (_ROOM,),
    "idea.get": (("idea", "id", True),),
    "idea.list": (_ROOM, ("sort", "str", False), ("status", "idea_status", False)),
    "search": (
        ("q", "str", True),
        ("room", "slug", False),
        ("person", "id", False),
        ("from", "str", False),
        ("to", "str", False),
        ("page", "id", False),
    ),
    # Meetings (docs/protocol.md "Meetings"): whether a word is one the server knows is
    # the domain's (domain/meetings.py); here only its shape.
    "meeting.create": (
        _ROOM,
        ("title", "title", True),
        ("starts_at", "uint", True),
        ("mode", "word", True),
        ("place", "str", False),
        ("step_free", "bool", False),
        ("hearing_loop", "bool", False),
        ("parking", "bool", False),
        ("join_online", "str", False),
        ("join_phone", "str", False),
        ("papers_due", "uint", False),
    ),
    "meeting.get": (("meeting", "id", True),),
    "meeting.list": (_ROOM,),
    "meeting.propose": (
        ("meeting", "id", True),
        ("title", "title", True),
        ("summary", "body", True),
        ("kind", "word", True),
    ),
    "meeting.support": (("item", "id", True), ("on", "bool", False)),
    "meeting.decide": (("item", "id", True), ("decision", "word", True), ("reason", "note", False)),
    "meeting.move": (("item", "id", True), ("position", "id", True)),
    "meeting.publish": (("meeting", "id", True),),
    "meeting.from_idea": (("idea", "id", True),),
    "meeting.paper": (("item", "id", True), ("title", "title", True), ("body", "body", True)),
    "meeting.reply": (
        ("meeting", "id", True),
        ("attending", "word", True),
        ("papers_format", "word", False),
        ("support", "words", False),
        ("listed", "bool", False),
    ),
    "meeting.view": (("item", "id", True), ("body", "body", True)),
    "meeting.start": (("meeting", "id", True),),
    "meeting.next": (("meeting", "id", True),),
    "meeting.end": (("meeting", "id", True),),
    "meeting.outcome": (("item", "id", True), ("outcome", "word", True), ("note", "note", False)),
    "meeting.action": (
        ("item", "id", True),
        ("what", "title", True),
        ("owner", "id", False),
        ("due_at", "uint", True),
    ),
    "meeting.action_done": (("action", "id", True), ("done", "bool", False)),
    "attendance.mark": (
        ("meeting", "id", True),
        ("member", "id", True),
        ("mode", "word", True),
        ("came_in_person", "bool", False),
    ),
    "minutes.comment": (("meeting", "id", True), ("body", "body", True), ("item", "id", False)),
    "minutes.approve": (("meeting", "id", True),),
    "minutes.correct": (("meeting", "id", True), ("body", "body", True)),
    "presence": (_ROOM,),
    "typing": (_ROOM, ("thread", "id", False)),
    "ping": (),
}


def is_int(value: object) -> TypeGuard[int]:
    """A whole number, and not a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _storable(value: str) -> bool:
    """Text that UTF-8 can carry: a lone surrogate ("\\udcff" in JSON, or invalid UTF-8 in
    MessagePack, decoded with surrogateescape) can be neither stored nor sent back."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(name: str, value: Any, message: str | None = None) -> str:
    """Every text argument passes here, so no op can carry unstorable text further."""
    if not isinstance(value, str):
        raise BadRequest(message or f"'{name}' must be text.")
    if not _storable(value):
        raise BadRequest(f"'{name}' holds characters that are not valid text (UTF-8).")
    return value


def _text(name: str, value: Any, limit: int, *, allow_empty: bool) -> str:
    text = _string(name, value)
    if len(text) > limit:
        raise TooLarge(f"'{name}' is too long: at most {limit} characters.")
    if not allow_empty and not text.strip():
        raise BadRequest(f"'{name}' cannot be empty.")
    return text


def _check_value(name: str, kind: str, value: Any, limits: Limits) -> Any:  # noqa: C901
    if kind == "str":
        return _text(name, value, 200, allow_empty=True)
    if kind == "slug":
        _string(name, value, f"'{name}' must be a room name such as 'north-yorkshire'.")
        if not value or len(value) > 64:
            raise BadRequest(f"'{name}' must be a room name such as 'north-yorkshire'.")
        return value
    if kind == "cid":
        _string(name, value, "'cid' must be a non-empty text id chosen by the client.")
        if not value:
            raise BadRequest("'cid' must be a non-empty text id chosen by the client.")
        if len(value) > limits.max_cid:
            raise TooLarge(f"'cid' is too long: at most {limits.max_cid} characters.")
        return value
    if kind == "title":
        return _text(name, value, limits.max_title, allow_empty=False).strip()
    if kind == "body":
        return _text(name, value, limits.max_body, allow_empty=False)
    if kind == "note":
        return _text(name, value, limits.max_body, allow_empty=True)
    if kind in ("id", "uint"):
        if not is_int(value) or not (1 if kind == "id" else 0) <= value <= MAX_ID:
            raise BadRequest(f"'{name}' must be a whole number.")
        return value
    if kind == "limit":
        if not is_int(value) or not 1 <= value <= 200:
            raise BadRequest("'limit' must be a whole number from 1 to 200.")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise BadRequest(f"'{name}' must be true or false.")
        return value
    if kind == "options":
        if not isinstance(value, list) or not 2 <= len(value) <= 20:
            raise BadRequest("'options' must be a list of 2 to 20 answers.")
        return [_text("option", o, limits.max_title, allow_empty=False).strip() for o in value]
    if kind == "choices":
        if not isinstance(value, list) or not all(is_int(c) and c >= 0 for c in value):
            raise BadRequest("'choices' must be a list of option numbers.")
        if len(value) > 20:
            raise BadRequest("'choices' can name at most 20 options.")
        return value
    if kind == "counts":
        if not isinstance(value, list) or not all(is_int(c) and c >= 0 for c in value):
            raise BadRequest("'counts' must be a list of whole numbers, one per option.")
        if len(value) > 20:
            raise BadRequest("'counts' can have at most 20 numbers.")
        return value
    if kind == "poll_kind":
        if value not in ("single", "multi"):
            raise BadRequest("'kind' must be 'single' or 'multi'.")
        return value
    if kind == "words":
        if not isinstance(value, list) or len(value) > 20:
            raise BadRequest(f"'{name}' must be a list of short words.")
        return [_check_value(name, "word", v, limits) for v in value]
    if kind in ("poll_results", "idea_status", "word"):
        # Only the shape: which words are allowed is the domain's (domain/polls.py,
        # domain/ideas.py), which refuses any other with the same bad_request.
        _string(name, value, f"'{name}' must be a short word.")
        if not value or len(value) > 40:
            raise BadRequest(f"'{name}' must be a short word.")
        return value
    raise AssertionError(f"unknown kind {kind}")  # pragma: no cover


def validate(op: str, ref: int, raw: dict[str, Any], limits: Limits) -> Command:
    """Check one command's arguments against its schema; unknown extra fields are ignored."""
    if not _storable(op):
        raise FrameError(BadRequest("'op' holds characters that are not valid text (UTF-8)."), ref)
    schema = SCHEMAS.get(op)
    if schema is None:
        raise FrameError(UnknownOp(f"There is no operation called '{op[:40]}'."), ref)
    args: dict[str, Any] = {}
    try:
        for name, kind, required in schema:
            if name not in raw or raw[name] is None:
                if required:
                    raise BadRequest(f"'{op}' needs '{name}'.")
                continue
            args[name] = _check_value(name, kind, raw[name], limits)
    except CFNError as e:
        raise FrameError(e, ref) from None
    return Command(op=op, ref=ref, args=args)
