"""The op table and the protocol's schemas describe the same operations."""

from server.protocol.schemas import SCHEMAS
from server.realtime.ops.table import OPERATIONS, PIPELINED


def test_every_validated_op_has_a_handler_and_every_handler_a_schema():
    assert set(SCHEMAS) == set(OPERATIONS)


def test_only_known_writes_are_pipelined():
    assert PIPELINED <= set(OPERATIONS)
    assert not PIPELINED & {"hello", "join", "leave", "history", "presence", "ping"}


def _documented() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()


def test_every_op_is_documented_in_docs_protocol_md():
    text = _documented()
    missing = sorted(op for op in OPERATIONS if f"`{op}`" not in text)
    assert not missing, f"ops missing from docs/protocol.md: {missing}"


def test_every_event_type_the_server_sends_is_documented_in_docs_protocol_md():
    """Stored events are the types passed to ``tx.emit`` anywhere in server/; the
    ephemeral ones and the stand-in for withheld events are listed by hand."""
    import re
    from pathlib import Path

    server = Path(__file__).resolve().parent.parent / "server"
    emitted = {
        m.group(1)
        for path in server.rglob("*.py")
        for m in re.finditer(r'\.emit\(\s*[^"()]*?"([a-z_]+\.[a-z_]+)"', path.read_text(), re.S)
    }
    assert {"message.created", "poll.tally", "meeting.item"} <= emitted  # the scan works
    ephemeral = {"presence.join", "presence.leave", "typing", "access.removed", "event.withheld"}
    text = _documented()
    missing = sorted(t for t in emitted | ephemeral if f"`{t}`" not in text)
    assert not missing, f"event types missing from docs/protocol.md: {missing}"
