"""One member's live WebSocket connection: receive and send tasks, rooms joined, flow control.

It knows nothing of the domain: commands go to the operation table, replies and events
come back through one outgoing queue, bounded so that a client too slow to drain it is
closed with 4008 (it resumes later with ``join ... since`` and loses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from server.domain.accounts import User
from server.domain.discussions import visible
from server.domain.names import for_audience
from server.errors import CFNError, Internal, RateLimited
from server.protocol import codec as protocol
from server.protocol.codec import Event
from server.protocol.schemas import Command, FrameError, Limits
from server.realtime.ratelimit import TokenBucket
from server.services import Services
from server.transport.preframed import PREFRAMED, wire

log = logging.getLogger("cfn.connection")

SLOW_CONSUMER = 4008
GOING_AWAY = 1001
MAX_IN_FLIGHT = 64  # pipelined writes per connection before we stop reading

Handler = Callable[["Connection", dict[str, Any]], Awaitable[Any]]


# What a member who may not read a staff-only post gets in its event's place (docs/protocol.md).
WITHHELD = "event.withheld"


@dataclass
class RoomState:
    """A joined room: the last seq sent, and live events held back while join replays."""

    seq: int = 0
    pending: list[Event] | None = field(default_factory=list)
    sees_staff: bool = False  # may read staff-only posts (domain.discussions.sees_staff_only)
    who: dict[str, Any] = field(default_factory=dict)  # the member as others see them here
    exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


@dataclass
class AfterReply:
    """A reply plus frames that must follow it (a join's replay)."""

    data: dict[str, Any]
    then: Callable[[], None]


_CLOSE = object()


def _named_for(event: Event, staff: bool) -> Event:
    """The event with names in a group as this audience may see them: built once per
    audience however many receive it (domain.names.for_audience)."""
    key = "staff" if staff else "members"
    found = event.variants.get(key)
    if found is None:
        data = for_audience(event.data, staff)
        found = event if data is None else Event(event.room, event.seq, event.type, event.at, data)
        event.variants[key] = found
    return found


def _withheld(event: Event) -> Event:
    """The content-free stand-in for a staff-only post, built (and framed) once per event
    however many members receive it in its place."""
    found = event.variants.get(WITHHELD)
    if found is None:
        found = event.variants[WITHHELD] = Event(event.room, event.seq, WITHHELD, event.at, {})
    return found


class Connection:
    """Lives as long as the WebSocket; ``run()`` returns when it is over."""

    def __init__(
        self,
        ws: WebSocket,
        services: Services,
        user: User,
        subprotocol: str,
        ops: dict[str, Handler],
        pipelined: frozenset[str] = frozenset(),
    ) -> None:
        self.ws, self.services, self.user, self.subprotocol = ws, services, user, subprotocol
        self.user_id, self.user_name = user.id, user.name
        self.ops = ops
        # Ops whose replies may wait on the group commit while later commands are read
        # (replies still go out in arrival order); every other op waits for those first.
        self.pipelined = pipelined
        settings = services.settings
        self.limits = Limits(max_body=settings.max_body, max_title=settings.max_title)
        self.bucket = TokenBucket(settings.rate_limit, settings.rate_limit * 2)
        self.rooms: dict[str, RoomState] = {}
        self.client = ""
        self._out: asyncio.Queue[Any] = asyncio.Queue()  # bounded by hand: sentinels always fit
        self._max_out = settings.send_queue
        self._tail: asyncio.Future[None] | None = None
        self._in_flight = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.close_code = 1000
        self._client_closed = False  # the peer closed first: no close frame to send back
        self._stopping = False  # shutdown stopped the receiver; the sender still flushes
        self._binary = subprotocol == protocol.MSGPACK

    # --- delivery (called by the hub, never waits) -------------------------------------------

    def deliver(self, event: Event) -> None:
        state = self.rooms.get(event.room)
        if state is None:
            return
        if state.pending is not None:
            state.pending.append(event)
            if len(state.pending) > self._max_out:
                self.cut_off(SLOW_CONSUMER)
            return
        if event.seq is not None:
            if event.seq <= state.seq:
                return  # already sent by a replay
            state.seq = event.seq
        mine = self._for_me(event, state)
        if mine is not None:
            self._put(mine)

    def _for_me(self, event: Event, state: RoomState) -> Event | None:
        """The event, or for a member who may not read its staff-only post a content-free
        stand-in with the same seq, so the room's seq stays contiguous for everyone; an
        ephemeral one (seq null: typing) they may not read is simply not sent."""
        if not visible(event.data, self.user_id, state.sees_staff):
            if event.seq is None:
                return None
            return _withheld(event)
        return _named_for(event, state.sees_staff)

    def _put(self, item: Any) -> None:
        if self._out.qsize() >= self._max_out:
            self.cut_off(SLOW_CONSUMER)
            return
        self._out.put_nowait(item)

    def cut_off(self, code: int) -> None:
        """End the connection from outside its tasks: slow consumer, shutdown, removal."""
        if self.close_code == 1000:
            self.close_code = code
        for task in self._tasks:
            task.cancel()

    # --- rooms -----------------------------------------------------------------------------

    def open_room(self, room: str, who: dict[str, Any] | None = None) -> RoomState:
        """Subscribe to a room; its live events are held until ``go_live``. ``who`` is the
        member as others in the room see them (their group name, domain/names.py).

        A re-join (a resume on the same connection) keeps the subscription, so presence
        does not flap; only the delivery state starts afresh."""
        who = who or {"id": self.user_id, "name": self.user_name}
        old = self.rooms.pop(room, None)
        state = RoomState(who=who)
        self.rooms[room] = state
        if old is not None and old.who == who:
            state.exit = old.exit
        else:
            if old is not None:
                old.exit.close()
            state.exit.enter_context(
                self.services.hub.subscribe(room, self, who["id"], who["name"])
            )
        return state

    def may_see_staff_only(self, room: str, sees: bool) -> None:
        """Set once the join knows the member's standing in the room."""
        state = self.rooms.get(room)
        if state is not None:
            state.sees_staff = sees

    def go_live(self, room: str, seq: int, replay: list[Event]) -> None:
        """After the join reply: send the replay, then held events newer than it, then live."""
        state = self.rooms.get(room)
        if state is None:
            return
        if replay:
            seq = max(seq, replay[-1].seq or 0)
            self._put([m for e in replay if (m := self._for_me(e, state)) is not None])
        state.seq = seq
        held, state.pending = state.pending or [], None
        for event in held:
            self.deliver(event)

    def leave_room(self, room: str) -> bool:
        state = self.rooms.pop(room, None)
        if state is None:
            return False
        state.exit.close()
        return True

    def send_event(self, event: Event) -> None:
        """Push an event outside any joined room's stream (say, ``access.removed``)."""
        self._put(event)

    # --- the two tasks -----------------------------------------------------------------------

    async def run(self) -> None:
        receiver = asyncio.create_task(self._receive_loop(), name="cfn-receive")
        sender = asyncio.create_task(self._send_loop(), name="cfn-send")
        self._tasks = [receiver, sender]
        if self.close_code != 1000:  # cut off during the accept (say, its token revoked)
            receiver.cancel()
            sender.cancel()
        try:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            if self._stopping:  # shutdown stopped the receiver: flush up to the close
                await asyncio.wait([sender], timeout=15)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for room in list(self.rooms):
                self.leave_room(room)
            if self.close_code != 1000 or not self._client_closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(self.close_code), timeout=10)

    async def _receive_loop(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._client_closed = True
                return
            data = message.get("bytes")
            if data is None:
                data = message.get("text", "")
            await self._handle_frame(data)

    async def _handle_frame(self, data: bytes | str) -> None:
        try:
            command = protocol.decode(data, self.subprotocol, self.limits)
        except FrameError as e:
            await self._after_tail()
            self._reply(protocol.reply_error(e.ref, e.code, e.message))
            return
        if command.op not in self.ops:
            await self._after_tail()
            self._reply(
                protocol.reply_error(
                    command.ref, "unknown_op", f"There is no operation called '{command.op}'."
                )
            )
            return
        if not self.bucket.allow():
            await self._after_tail()
            err = RateLimited("Too many requests at once. Please wait a moment and try again.")
            self._reply(protocol.reply_error(command.ref, err.code, err.message))
            return
        if command.op in self.pipelined:
            while self._in_flight >= MAX_IN_FLIGHT and self._tail is not None:
                await asyncio.shield(self._tail)
            self._in_flight += 1
            self._tail = asyncio.ensure_future(self._execute(command, self._tail))
        else:
            await self._after_tail()
            await self._execute(command, None)

    async def _after_tail(self) -> None:
        if self._tail is not None:
            await asyncio.shield(self._tail)
            self._tail = None

    async def _execute(self, command: Command, previous: asyncio.Future[None] | None) -> None:
        try:
            result: Any = await self.ops[command.op](self, command.args)
            frame = None
        except CFNError as e:
            result, frame = None, protocol.reply_error(command.ref, e.code, e.message)
        except Exception:
            log.exception("operation %s failed", command.op)
            err = Internal()
            result, frame = None, protocol.reply_error(command.ref, err.code, err.message)
        if previous is not None:
            await asyncio.shield(previous)
        if frame is not None:
            self._reply(frame)
        elif isinstance(result, AfterReply):
            self._reply(protocol.reply_ok(command.ref, result.data))
            result.then()
        else:
            self._reply(protocol.reply_ok(command.ref, result))
        if command.op in self.pipelined:
            self._in_flight -= 1

    def _reply(self, frame: dict[str, Any]) -> None:
        self._put(protocol.encode(frame, self.subprotocol))

    async def _send_loop(self) -> None:
        send, binary, sp = self.ws.send, self._binary, self.subprotocol
        # Under our uvicorn protocol an event is framed once and written as is to everyone.
        # Otherwise (CFN_WS_FAST_PATH=0, stock uvicorn) frames go out as plain ASGI sends.
        preframed = self.ws.scope.get("extensions", {}).get(PREFRAMED, {}).get("send")
        while True:
            item = await self._out.get()
            if item is _CLOSE:
                return
            batch = item if isinstance(item, list) else (item,)
            for one in batch:
                if preframed is not None and isinstance(one, Event):
                    await preframed(one.framed(sp, wire))
                    continue
                frame = one.frame(sp) if isinstance(one, Event) else one
                if binary:
                    await send({"type": "websocket.send", "bytes": frame})
                else:
                    await send({"type": "websocket.send", "text": frame})

    async def shutdown(self, code: int = GOING_AWAY) -> None:
        """Stop taking commands, finish those in flight, flush, then close with ``code``."""
        if self.close_code == 1000:
            self.close_code = code
        self._stopping = True  # before the receiver stops, so run() waits for the flush
        if self._tasks:
            self._tasks[0].cancel()  # the receiver
        if self._tail is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tail), timeout=5)
        self._out.put_nowait(_CLOSE)
