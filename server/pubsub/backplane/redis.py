"""The Redis backplane (``CFN_REDIS_URL=redis://…``): several processes serve the same rooms.

Redis is plain pub/sub here, a low-latency hint and never the record: the database is.

- **Publishing never blocks a commit.** ``publish`` puts the batch on a bounded queue and
  returns; one publisher task sends queued batches in one pipeline. When Redis is down or
  the queue is full the batch is dropped (counted): the events are committed, and the other
  processes read them from the database through their gap fill and tail check.
- **Every (re)subscribe is a possible loss.** redis-py reconnects and re-subscribes
  silently, so the listener treats every ``subscribe`` confirmation, the first included, as
  "every room may be gapped" and asks the hub to resync from the database.
- **Presence**: each process writes its own members to ``cfn:presence:<node>`` (a hash with
  a TTL, refreshed by a heartbeat that also stamps ``cfn:nodes``) and publishes each change.
  Every heartbeat re-reads the live processes' hashes, so a process that died (no heartbeat
  for two thirds of the TTL) drops out within the TTL. A graceful stop leaves its keys to
  expire: its members reconnect to another process first, so a rolling restart changes
  nothing anyone sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.protocol.codec import Event
from server.pubsub.backplane import Contributions, HubSide
from server.storage.events import pack, unpack

log = logging.getLogger("cfn.redis")

EVENTS = "cfn:events"
PRESENCE = "cfn:presence"
NODES = "cfn:nodes"
QUEUE_MAX = 10_000  # batches waiting for Redis before new ones are dropped
TIMEOUT = 2.0  # seconds for any one Redis call: a stuck Redis must not stall the process

_Item = tuple[str, bytes, tuple[Any, ...]]  # (kind, payload to publish, presence fields)


def _presence_key(node: str) -> str:
    return f"cfn:presence:{node}"


def _field(room: str, user_id: int) -> str:
    return f"{user_id}:{room}"


def _unfield(field: str) -> tuple[str, int]:
    uid, room = field.split(":", 1)
    return room, int(uid)


class RedisBackplane:
    """Events and presence through one Redis; see the module docstring for the contract."""

    kind = "redis"

    def __init__(self, url: str, presence_ttl: float = 30.0, publish_delay_ms: int = 0) -> None:
        self.url = url
        self.ttl = presence_ttl
        self.delay_ms = publish_delay_ms  # tests only: a random delay so publishes cross
        self.counts: Counter[str] = Counter()
        self.connected = False
        self._hub: HubSide | None = None
        self._client: aioredis.Redis | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(QUEUE_MAX)
        self._tasks: list[asyncio.Task[None]] = []
        self._delayed: set[asyncio.Task[None]] = set()
        self._rewrite = True  # write our whole presence afresh (at start, after a resubscribe)
        self._heartbeat_now = asyncio.Event()
        self._last_seen: dict[str, tuple[float, Contributions]] = {}  # node -> (when, presence)
        self._down_logged = False

    @property
    def carrying(self) -> bool:
        return self.connected

    @property
    def node(self) -> str:
        assert self._hub is not None
        return self._hub.node

    def attach(self, hub: HubSide) -> None:
        self._hub = hub

    async def start(self) -> None:
        self._client = aioredis.from_url(
            self.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self._tasks = [
            asyncio.create_task(self._publisher(), name="cfn-redis-publish"),
            asyncio.create_task(self._listener(), name="cfn-redis-listen"),
            asyncio.create_task(self._heartbeat(), name="cfn-redis-heartbeat"),
        ]

    async def close(self) -> None:
        for task in [*self._tasks, *self._delayed]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._delayed, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()

    def stats(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "connected": self.connected,
            "queued": self._queue.qsize(),
            **dict(self.counts),
        }

    # --- out ---------------------------------------------------------------------------------

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        payload = pack(
            {"n": self.node, "e": [[e.room, e.seq, e.type, e.at, e.data] for e in events]}
        )
        self._enqueue(("e", payload, ()), len(events))

    def presence(self, room: str, user_id: int, name: str, here: bool) -> None:
        payload = pack({"n": self.node, "r": room, "u": user_id, "m": name, "h": here})
        self._enqueue(("p", payload, (room, user_id, name, here)), 1)

    def _enqueue(self, item: _Item, n: int) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.counts["publish_dropped"] += n  # committed all the same: the gap fill has it

    async def _publisher(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 512:
                batch.append(self._queue.get_nowait())
            if self.delay_ms:
                task = asyncio.create_task(self._send_later(batch))
                self._delayed.add(task)
                task.add_done_callback(self._delayed.discard)
            else:
                await self._send(batch)

    async def _send_later(self, batch: list[_Item]) -> None:
        await asyncio.sleep(random.uniform(0, self.delay_ms) / 1000)
        await self._send(batch)

    async def _send(self, batch: list[_Item]) -> None:
        assert self._client is not None
        key = _presence_key(self.node)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for kind, payload, fields in batch:
                    if kind == "p":
                        room, uid, name, here = fields
                        if here:
                            pipe.hset(key, _field(room, uid), name)
                        else:
                            pipe.hdel(key, _field(room, uid))
                        pipe.expire(key, int(self.ttl) + 1)
                        pipe.publish(PRESENCE, payload)
                    else:
                        pipe.publish(EVENTS, payload)
                await asyncio.wait_for(pipe.execute(), TIMEOUT)
            self.counts["published"] += len(batch)
            self._down_logged = False
        except (RedisError, OSError, TimeoutError):
            self.counts["publish_failed"] += len(batch)
            self._rewrite = True  # what we told Redis may be gone: write it all again
            if not self._down_logged:
                log.warning("Redis is unreachable; events still reach others from the database")
                self._down_logged = True
            await asyncio.sleep(0.2)

    # --- in ----------------------------------------------------------------------------------

    async def _listener(self) -> None:
        assert self._client is not None
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(EVENTS, PRESENCE)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError):
                if self.connected:
                    log.warning("lost the Redis subscription; resubscribing")
                self.connected = False
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await pubsub.reset()

    def _handle(self, message: dict[str, Any]) -> None:
        assert self._hub is not None
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if message["type"] == "subscribe":
            if channel == EVENTS:  # first or silent re-subscribe: anything may be lost
                self.connected = True
                self.counts["subscribed"] += 1
                self._rewrite = True
                self._hub.resync()
                self._heartbeat_now.set()
            return
        if message["type"] != "message":
            return
        body = unpack(message["data"])
        if body.get("n") == self.node:
            return  # our own, delivered locally already
        if channel == EVENTS:
            events = [Event(r, s, t, a, d) for r, s, t, a, d in body["e"]]
            self.counts["received"] += len(events)
            self._hub.remote_events(events)
        elif channel == PRESENCE:
            self._hub.remote_presence(body["n"], body["r"], body["u"], body["m"], body["h"])

    # --- heartbeat and the presence union ----------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError):
                self._rewrite = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heartbeat_now.wait(), self.ttl / 3)
            self._heartbeat_now.clear()

    async def _beat(self) -> None:
        assert self._client is not None and self._hub is not None
        client, key, ttl = self._client, _presence_key(self.node), int(self.ttl) + 1
        seconds, micros = await asyncio.wait_for(client.time(), TIMEOUT)
        now_ms = seconds * 1000 + micros // 1000
        async with client.pipeline(transaction=False) as pipe:
            if self._rewrite:
                self._rewrite = False
                mine = self._hub.local_presence()
                pipe.delete(key)
                if mine:
                    pipe.hset(key, mapping={_field(r, u): n for (r, u), n in mine.items()})
            pipe.expire(key, ttl)
            pipe.zadd(NODES, {self.node: now_ms})
            pipe.zremrangebyscore(NODES, "-inf", now_ms - 100 * self.ttl * 1000)
            pipe.zrangebyscore(NODES, now_ms - self.ttl * 2000 / 3, "+inf")
            results = await asyncio.wait_for(pipe.execute(), TIMEOUT)
        live = [n.decode() for n in results[-1] if n.decode() != self.node]
        async with client.pipeline(transaction=False) as pipe:
            for node in live:
                pipe.hgetall(_presence_key(node))
            hashes = await asyncio.wait_for(pipe.execute(), TIMEOUT) if live else []
        loop_now = asyncio.get_running_loop().time()
        for node, fields in zip(live, hashes, strict=True):
            state = {_unfield(f.decode()): v.decode() for f, v in fields.items()}
            self._last_seen[node] = (loop_now, state)
        # A node missing from this read but seen recently is kept: after a Redis restart the
        # others write themselves back within one heartbeat, and nobody should flap.
        grace = self.ttl * 2 / 3
        self._last_seen = {
            n: seen for n, seen in self._last_seen.items() if loop_now - seen[0] <= grace
        }
        self._hub.remote_presence_all({n: seen[1] for n, seen in self._last_seen.items()})

    # --- jobs that run once across the cluster -------------------------------------------------

    async def lease(self, name: str, seconds: float) -> bool:
        if self._client is None:
            return False
        key, ms = f"cfn:lease:{name}", int(seconds * 1000)
        try:
            if await asyncio.wait_for(self._client.set(key, self.node, nx=True, px=ms), TIMEOUT):
                return True
            holder = await asyncio.wait_for(self._client.get(key), TIMEOUT)
            if holder in (self.node, self.node.encode()):
                await asyncio.wait_for(self._client.pexpire(key, ms), TIMEOUT)
                return True
        except (RedisError, OSError, TimeoutError):
            pass  # nobody runs it while Redis is away; it runs on the next round
        return False
