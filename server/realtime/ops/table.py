"""The operation table: every protocol op and its handler, assembled from one module per
domain (rooms, messages, polls, ideas, meetings). A new domain's ops are a new module listed here.
"""

from __future__ import annotations

from server.realtime.connection import Handler
from server.realtime.ops import following, ideas, meetings, messages, moderation, polls, rooms

_MODULES = (rooms, messages, polls, ideas, meetings, moderation, following)

OPERATIONS: dict[str, Handler] = {op: fn for m in _MODULES for op, fn in m.OPERATIONS.items()}

# Writes: their replies wait on the group commit, so a connection keeps reading meanwhile.
PIPELINED: frozenset[str] = frozenset().union(*(m.PIPELINED for m in _MODULES))
