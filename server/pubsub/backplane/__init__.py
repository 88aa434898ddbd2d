"""The backplane: carries committed events (and presence) between this server's processes.

``memory.InProcessBackplane`` is the one-process default: there is nobody to carry
anything to. ``redis.RedisBackplane`` (``CFN_REDIS_URL``) joins several processes. A
backplane is only a low-latency hint: the hub's sequencer fills whatever it loses from
the database, so a backplane may drop messages but must say when it may have
(``HubSide.resync``).
"""

from __future__ import annotations

from typing import Any, Protocol

from server.protocol.codec import Event

#: A process's presence contributions: (room, user id) -> name.
Contributions = dict[tuple[str, int], str]


class HubSide(Protocol):
    """What a backplane may call on the hub it serves."""

    node: str

    def remote_events(self, events: list[Event]) -> None:
        """Events another process committed (or typing it relayed)."""
        ...

    def resync(self) -> None:
        """Messages may have been lost: read every room that is behind from the database."""
        ...

    def remote_presence(self, node: str, room: str, user_id: int, name: str, here: bool) -> None:
        """Another process's member arrived in (or left) a room."""
        ...

    def remote_presence_all(self, state: dict[str, Contributions]) -> None:
        """Every other live process's whole presence, replacing what was known."""
        ...

    def local_presence(self) -> Contributions:
        """This process's own presence, to be written afresh after a backplane restart."""
        ...


class Backplane(Protocol):
    """Carries events and presence to the other processes. Never blocks the caller."""

    kind: str

    @property
    def carrying(self) -> bool:
        """True while other processes' events may be on their way over this backplane (so
        the tail check gives them one round to arrive before reading the database)."""
        ...

    def attach(self, hub: HubSide) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def publish(self, events: list[Event]) -> None:
        """Send committed (or seq-null) events to the other processes; returns at once."""
        ...

    def presence(self, room: str, user_id: int, name: str, here: bool) -> None:
        """This process's member arrived in (or left) a room."""
        ...

    async def lease(self, name: str, seconds: float) -> bool:
        """True when this process may run the job ``name`` for ``seconds`` (once across
        the cluster: scheduled jobs run on one process, not on each)."""
        ...

    def stats(self) -> dict[str, Any]: ...
