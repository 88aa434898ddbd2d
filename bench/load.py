"""The load generator: one process, uvloop, bounded in count and time; prints one JSON line.

Run by bench.run as ``python -m bench.load SCENARIO 'JSON config'``. It measures the
server from outside, over loopback, and reads the server's CPU and memory from /proc.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import time
from typing import Any

import msgpack

from bench.proc import cpu_seconds, rss_bytes, tree_cpu_seconds
from bench.wsclient import WSClient, connect

HOST = "127.0.0.1"


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank), or None with no samples."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def ms(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "n": len(values),
    }


async def connect_many(
    port: int, tokens: list[str], room: str | None, batch: int = 100
) -> list[WSClient]:
    """Open len(tokens) connections, joining ``room``, ``batch`` at a time."""
    clients: list[WSClient] = []

    async def one(token: str) -> WSClient:
        c = await connect(HOST, port, token)
        if room is not None:
            await c.call("join", room=room)
        return c

    for i in range(0, len(tokens), batch):
        clients += await asyncio.gather(*(one(t) for t in tokens[i : i + batch]))
    return clients


class Publishers:
    """Clients posting 200-byte messages, each with up to ``inflight`` posts unacknowledged.

    The body starts with the send time (perf_counter_ns), so a timed receiver can tell the
    delivery latency by decoding just that frame.
    """

    def __init__(
        self,
        clients: list[WSClient],
        targets: list[tuple[str, int]],
        inflight: int,
        body_size: int,
        tags: list[str] | None = None,
        rate: float = 0.0,
    ) -> None:
        self.clients, self.targets, self.inflight = clients, targets, inflight
        # rate > 0: posts/s over all workers (a fixed load, for latency); else as fast as acked
        self.gap = len(clients) * inflight / rate if rate > 0 else 0.0
        self.pad = "x" * (body_size - 21)
        # One character after the send time: which node the publisher is on (cluster runs).
        self.tags = dict(zip(map(id, clients), tags or ["x"] * len(clients), strict=True))
        self.acks = 0
        self.errors = 0
        self.ack_ms: list[float] = []
        self.timing = False
        self.stop = False
        self._cids = itertools.count()

    async def _worker(self, c: WSClient, room: str, thread: int) -> None:
        due = time.monotonic() + random.random() * self.gap
        while not self.stop:
            if self.gap:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due += self.gap
            sent = time.perf_counter_ns()
            reply = await c.send(
                "message.post",
                room=room,
                thread=thread,
                body=f"{sent:020d}{self.tags[id(c)]}{self.pad}",
                cid=f"b{next(self._cids)}",
            )
            if reply.get("ok"):
                self.acks += 1
                if self.timing:
                    self.ack_ms.append((time.perf_counter_ns() - sent) / 1e6)
            else:
                self.errors += 1

    def start(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self._worker(c, room, thread))
            for c, (room, thread) in zip(self.clients, self.targets, strict=True)
            for _ in range(self.inflight)
        ]


async def settle(clients: list[WSClient], quiet: float = 0.3, limit: float = 5.0) -> None:
    """Wait until no client has received anything for ``quiet`` seconds (at most ``limit``)."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        now = sum(c.events for c in clients)
        if now == last:
            return
        last = now
        await asyncio.sleep(quiet)


async def fanout(cfg: dict[str, Any]) -> dict[str, Any]:
    port, pid = cfg["port"], cfg["server_pid"]
    room, thread = cfg["room"], cfg["thread"]
    subs = await connect_many(port, cfg["sub_tokens"], room)
    pubs = await connect_many(port, cfg["pub_tokens"], room)
    everyone = subs + pubs
    await settle(everyone)  # presence events from the joins
    window: list[int] = [0, 0]
    latencies: list[float] = []

    def timed(client: WSClient, payload: memoryview) -> None:
        now = time.perf_counter_ns()
        event = msgpack.unpackb(payload, raw=False)
        if event["type"] != "message.created":
            return
        sent = int(event["data"]["body"][:20])
        if window[0] <= sent <= window[1]:
            latencies.append((now - sent) / 1e6)

    for c in subs[:: max(1, cfg.get("sample_every", 10))]:
        c.on_event = timed
    pub = Publishers(pubs, [(room, thread)] * len(pubs), cfg["inflight"], cfg["body_size"])
    tasks = pub.start()
    await asyncio.sleep(cfg["warmup"])
    window[0], window[1] = time.perf_counter_ns(), 1 << 62
    pub.timing = True
    e0, a0, c0, t0 = sum(c.events for c in everyone), pub.acks, cpu_seconds(pid), time.monotonic()
    g0 = time.process_time()
    await asyncio.sleep(cfg["duration"])
    e1, a1, c1, t1 = sum(c.events for c in everyone), pub.acks, cpu_seconds(pid), time.monotonic()
    g1 = time.process_time()
    window[1] = time.perf_counter_ns()
    pub.stop = True
    await asyncio.wait(tasks, timeout=10)
    await settle(everyone, limit=10)
    cut_off = sum(1 for c in everyone if c.closed.done())
    for c in everyone:
        c.close()
    elapsed = t1 - t0
    deliveries = e1 - e0
    return {
        "subscribers": len(subs),
        "publishers": len(pubs),
        "seconds": round(elapsed, 2),
        "posts_per_s": (a1 - a0) / elapsed,
        "deliveries_per_s": deliveries / elapsed,
        "latency_ms": ms(latencies),
        "ack_ms": ms(pub.ack_ms),
        "cpu_s": c1 - c0,
        "server_cpu_share": (c1 - c0) / elapsed,
        "generator_cpu_share": (g1 - g0) / elapsed,
        "cpu_s_per_1000": 1000 * (c1 - c0) / deliveries if deliveries else None,
        "errors": pub.errors,
        "cut_off": cut_off,
    }


async def durable(cfg: dict[str, Any]) -> dict[str, Any]:
    port, pid = cfg["port"], cfg["server_pid"]
    posters: list[WSClient] = []
    for token, room in zip(cfg["tokens"], cfg["rooms"], strict=True):
        posters += await connect_many(port, [token], room)
    pub = Publishers(
        posters,
        list(zip(cfg["rooms"], cfg["threads"], strict=True)),
        cfg["inflight"],
        cfg["body_size"],
    )
    tasks = pub.start()
    await asyncio.sleep(cfg["warmup"])
    pub.timing = True
    a0, c0, t0 = pub.acks, cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(cfg["duration"])
    a1, c1, t1 = pub.acks, cpu_seconds(pid), time.monotonic()
    pub.stop = True
    await asyncio.wait(tasks, timeout=10)
    for c in posters:
        c.close()
    return {
        "posters": len(posters),
        "inflight": cfg["inflight"],
        "posts_per_s": (a1 - a0) / (t1 - t0),
        "ack_ms": ms(pub.ack_ms),
        "cpu_s_per_1000": 1000 * (c1 - c0) / (a1 - a0) if a1 > a0 else None,
        "errors": pub.errors,
    }


async def idle(cfg: dict[str, Any]) -> dict[str, Any]:
    port, pid, n = cfg["port"], cfg["server_pid"], cfg["connections"]
    first = await connect_many(port, [cfg["token"]], cfg["room"])
    await asyncio.sleep(0.5)
    before = rss_bytes(pid)
    rest = await connect_many(port, [cfg["token"]] * (n - 1), cfg["room"], batch=250)
    await asyncio.sleep(1.0)
    after = rss_bytes(pid)
    everyone = first + rest
    open_now = sum(1 for c in everyone if not c.closed.done())
    ping = await everyone[-1].call("ping")  # the server still answers with all of them held
    for c in everyone:
        c.close()
    return {
        "connections": len(everyone),
        "open": open_now,
        "answered": ping == {},
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "kb_per_connection": (after - before) / 1024 / max(1, len(rest)),
    }


async def http_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, cookie: str
) -> tuple[int, bytes]:
    """One keep-alive GET; returns status and body."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def history(cfg: dict[str, Any]) -> dict[str, Any]:
    port = cfg["port"]
    rng = random.Random(5)
    rooms = cfg["rooms"]  # [slug, [thread ids], first message id, last message id, last_seq]
    client = await connect(HOST, port, cfg["token"])
    proto: list[float] = []
    for i in range(cfg["requests"]):
        slug, threads, lo, hi, _ = rng.choice(rooms)
        args: dict[str, Any] = {"room": slug, "limit": 50}
        if i % 3 != 2:
            args["thread"] = rng.choice(threads)
        if i % 2:
            args["before"] = rng.randint(lo, hi)
        t = time.perf_counter_ns()
        data = await client.call("history", **args)
        proto.append((time.perf_counter_ns() - t) / 1e6)
        assert data["messages"] or "before" in args
    result: dict[str, Any] = {"history_ms": ms(proto)}

    page: dict[str, Any] = {"status": None}
    reader, writer = await asyncio.open_connection(HOST, port)
    slug, threads, *_ = rooms[0]
    path = cfg["page"].format(slug=slug, thread=threads[0])
    status, _ = await http_get(reader, writer, path, cfg["cookie"])
    page["status"], page["path"] = status, cfg["page"]
    if status == 200:
        pages: list[float] = []
        for _ in range(cfg["page_requests"]):
            slug, threads, *_ = rng.choice(rooms)
            t = time.perf_counter_ns()
            status, body = await http_get(
                reader,
                writer,
                cfg["page"].format(slug=slug, thread=rng.choice(threads)),
                cfg["cookie"],
            )
            pages.append((time.perf_counter_ns() - t) / 1e6)
            assert status == 200 and body
        page["ms"] = ms(pages)
    writer.close()
    result["page"] = page

    catch: list[float] = []
    slug, _, _, _, last_seq = rooms[-1]
    epoch = (await client.call("join", room=slug))["epoch"]
    await client.call("leave", room=slug)
    behind = min(cfg["missed"], last_seq)
    for _ in range(cfg["catchups"]):
        c = await connect(HOST, port, cfg["token"])
        done = asyncio.get_running_loop().create_future()
        seen: list[int] = []

        def count(
            cl: WSClient,
            payload: memoryview,
            done: asyncio.Future[int] = done,
            seen: list[int] = seen,
        ) -> None:
            if cl.events == behind and not done.done():
                done.set_result(time.perf_counter_ns())
                seen.append(msgpack.unpackb(payload, raw=False)["seq"])

        c.on_event = count
        t = time.perf_counter_ns()
        reply = await c.call("join", room=slug, since=last_seq - behind, epoch=epoch)
        assert reply["recovered"], reply
        end = await asyncio.wait_for(done, 30)
        assert seen == [last_seq], (seen, last_seq)
        catch.append((end - t) / 1e6)
        c.close()
    result["catchup"] = {
        "events": behind,
        "ms": catch,
        "median_ms": statistics.median(catch) if catch else None,
    }
    client.close()
    return result


async def delivery_counts(port: int) -> dict[str, int]:
    """One node's ``/status/delivery`` counters (local, backplane, gap_fill, tail, …) over
    the whole run: how the events it delivered reached it."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        status, body = await http_get(reader, writer, "/status/delivery", "")
    finally:
        writer.close()
    return dict(json.loads(body)["delivery"]) if status == 200 else {}


async def cluster(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fan-out over several nodes: subscribers and publishers spread round robin over them;
    latency split by whether the publisher was on the subscriber's node or another."""
    ports, pids = cfg["ports"], cfg["server_pids"]
    room, thread = cfg["room"], cfg["thread"]
    n = len(ports)
    subs: list[WSClient] = []
    sub_nodes: list[int] = []
    for node in range(n):
        mine = cfg["sub_tokens"][node::n]
        subs += await connect_many(ports[node], mine, room)
        sub_nodes += [node] * len(mine)
    pubs: list[WSClient] = []
    pub_nodes: list[int] = []
    for node in range(n):
        mine = cfg["pub_tokens"][node::n]
        pubs += await connect_many(ports[node], mine, room)
        pub_nodes += [node] * len(mine)
    everyone = subs + pubs
    await settle(everyone)
    window: list[int] = [0, 0]
    same: list[float] = []
    cross: list[float] = []

    def timer(node: int) -> Any:
        def timed(client: WSClient, payload: memoryview) -> None:
            now = time.perf_counter_ns()
            event = msgpack.unpackb(payload, raw=False)
            if event["type"] != "message.created":
                return
            body = event["data"]["body"]
            sent = int(body[:20])
            if window[0] <= sent <= window[1]:
                (same if body[20] == str(node) else cross).append((now - sent) / 1e6)

        return timed

    for i in range(0, len(subs), max(1, cfg.get("sample_every", 10))):
        subs[i].on_event = timer(sub_nodes[i])
    pub = Publishers(
        pubs,
        [(room, thread)] * len(pubs),
        cfg["inflight"],
        cfg["body_size"],
        [str(node) for node in pub_nodes],
        cfg.get("rate", 0.0),
    )
    tasks = pub.start()
    await asyncio.sleep(cfg["warmup"])
    window[0], window[1] = time.perf_counter_ns(), 1 << 62
    pub.timing = True
    redis_pid, pg_pid = cfg.get("redis_pid"), cfg.get("pg_pid")

    def cpu() -> tuple[float, float, float]:
        return (
            sum(cpu_seconds(p) for p in pids),
            cpu_seconds(redis_pid) if redis_pid else 0.0,
            tree_cpu_seconds(pg_pid) if pg_pid else 0.0,
        )

    e0, a0, (c0, r0, g0), t0 = sum(c.events for c in everyone), pub.acks, cpu(), time.monotonic()
    await asyncio.sleep(cfg["duration"])
    e1, a1, (c1, r1, g1), t1 = sum(c.events for c in everyone), pub.acks, cpu(), time.monotonic()
    window[1] = time.perf_counter_ns()
    pub.stop = True
    await asyncio.wait(tasks, timeout=10)
    await settle(everyone, limit=10)
    cut_off = sum(1 for c in everyone if c.closed.done())
    for c in everyone:
        c.close()
    elapsed, deliveries = t1 - t0, e1 - e0
    return {
        "delivery_paths": [await delivery_counts(port) for port in ports],
        "nodes": n,
        "subscribers": len(subs),
        "publishers": len(pubs),
        "seconds": round(elapsed, 2),
        "posts_per_s": (a1 - a0) / elapsed,
        "deliveries_per_s": deliveries / elapsed,
        "latency_same_ms": ms(same),
        "latency_cross_ms": ms(cross),
        "ack_ms": ms(pub.ack_ms),
        "server_cpu_s_per_1000": 1000 * (c1 - c0) / deliveries if deliveries else None,
        "redis_cpu_s_per_1000": 1000 * (r1 - r0) / deliveries if deliveries and redis_pid else None,
        "redis_cpu_share": (r1 - r0) / elapsed if redis_pid else None,
        "postgres_cpu_s_per_1000": 1000 * (g1 - g0) / deliveries if deliveries and pg_pid else None,
        "postgres_cpu_share": (g1 - g0) / elapsed if pg_pid else None,
        "errors": pub.errors,
        "cut_off": cut_off,
    }


SCENARIOS = {
    "fanout": fanout,
    "durable": durable,
    "idle": idle,
    "history": history,
    "cluster": cluster,
}


def main() -> None:
    scenario, cfg = sys.argv[1], json.loads(sys.argv[2])
    # Bounded whatever happens: the generator ends itself after its time limit.
    limit = float(cfg.get("time_limit", 120))

    async def run() -> dict[str, Any]:
        asyncio.get_running_loop().call_later(limit, os._exit, 3)
        return await SCENARIOS[scenario](cfg)

    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    result = uvloop.run(run())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
