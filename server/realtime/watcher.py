"""Ends live access that has been taken away, whoever took it away.

A token revoked or a member removed from the command line is a change made by another
process, so the running server cannot hear of it through its own writes. Triggers record
every such change in ``access_changes`` (migration 0004); this watcher polls that table
twice a second and re-checks the affected members' live connections (and, once a minute,
every connection, for sessions that simply expire): a connection whose
credential no longer holds is closed with ``REVOKED``; a room the member may no longer see
is left at once, with an ``access.removed`` event (seq null) telling the client why.
Events another process stored (the demo loader, say) reach live clients through the
hub's tail check, in seq order with no gap. With several processes the hourly prune runs
on one of them (a lease), not on each.
"""

from __future__ import annotations

import asyncio
import logging
import time

from server.auth import websocket_user
from server.domain import access
from server.protocol.codec import Event, now_ms
from server.realtime.connection import Connection
from server.services import Services

log = logging.getLogger("cfn.watcher")

REVOKED = 4001  # close code: the credential this connection used has been revoked
POLL_SECONDS = 0.5


PRUNE_EVERY = 7200  # rounds (an hour at 0.5 s): old rows have long been acted on
# Rounds between re-checks of every connection (a minute at 0.5 s): a login session that
# expires changes no row, so no trigger reports it, yet its socket must not outlive it.
SWEEP_EVERY = 120


async def recheck(services: Services, connection: Connection) -> None:
    """Close the connection if its credential is gone; leave rooms it may no longer see."""
    user = await websocket_user(connection.ws, services)
    if user is None or user.id != connection.user_id:
        connection.cut_off(REVOKED)
        return
    # A changed site role holds from now on: a demoted admin must not keep admin's reach
    # (joining any room) for as long as this socket stays open.
    connection.user, connection.user_name = user, user.name
    rooms = list(connection.rooms)
    allowed = await services.db.read(access.rooms_allowed, user.id, rooms)
    for room in rooms:
        if room in allowed:
            connection.may_see_staff_only(room, allowed[room])
        elif connection.leave_room(room):
            connection.send_event(
                Event(
                    room=room,
                    seq=None,
                    type="access.removed",
                    at=now_ms(time.time()),
                    data={"room": room},
                )
            )


async def watch(
    services: Services, interval: float = POLL_SECONDS, sweep_every: int = SWEEP_EVERY
) -> None:
    """Run for the server's lifetime (a lifespan task)."""
    seen = await services.db.read(access.latest_change)
    rounds = 0
    last_round: set[int] = set()
    while True:
        await asyncio.sleep(interval)
        rounds += 1
        try:
            if rounds % PRUNE_EVERY == 0 and await services.hub.backplane.lease(
                "prune-access-changes", PRUNE_EVERY * interval / 2
            ):
                await services.db.write(access.prune_changes)
            seen, users = await services.db.read(access.changed_users, seen)
            sweep = rounds % sweep_every == 0
            # Last round's members too: a handshake whose credential read began before the
            # change committed may have added its connection after that round looked.
            for connection in [
                c
                for c in services.connections
                if isinstance(c, Connection)
                and (sweep or c.user_id in users or c.user_id in last_round)
            ]:
                await recheck(services, connection)
            last_round = users
        except asyncio.CancelledError:
            raise
        except Exception:  # keep watching: one failed check must not stop the rest
            log.exception("access check failed")
