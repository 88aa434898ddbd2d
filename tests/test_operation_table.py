"""The op table and the protocol's schemas describe the same operations."""

from server.protocol.schemas import SCHEMAS
from server.realtime.ops.table import OPERATIONS, PIPELINED


def test_every_validated_op_has_a_handler_and_every_handler_a_schema():
    assert set(SCHEMAS) == set(OPERATIONS)


def test_only_known_writes_are_pipelined():
    assert PIPELINED <= set(OPERATIONS)
    assert not PIPELINED & {"hello", "join", "leave", "history", "presence", "ping"}
