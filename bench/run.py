"""The one benchmark command: ``.venv/bin/python -m bench.run``.

Starts the real server (``python -m server serve``) and the bare websockets server as
their own processes on loopback, drives them with the load generator (bench.load, a third
process), prints a table and writes it into docs/performance.md between markers, leaving
the hand-written analysis around it alone. Every scenario is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import data, digest, inbox
from bench import search as search_bench
from bench.proc import machine

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
THREAD_PAGE = "/g/{slug}/t/{thread}"

FULL = {
    "fanout": {"subs": 200, "pubs": 4, "inflight": 8, "warmup": 2.0, "duration": 6.0, "repeat": 2},
    "durable": {"posters": 50, "inflight": 8, "warmup": 1.0, "duration": 5.0, "repeat": 2},
    "idle": {"connections": 5000},
    "history": {
        "messages": 1_000_000,
        "requests": 1000,
        "page_requests": 300,
        "missed": 10_000,
        "catchups": 5,
        "startups": 3,
    },
    "growth": {"subs": [50, 1000], "messages": [10_000, 100_000], "duration": 5.0, "requests": 300},
    "inbox": {"requests": 500, "page_requests": 300},
    "search": {"messages": 1_000_000, "requests": 600},
    "digest": {"members": 1000, "threads": 100, "replies": 3},
}
QUICK = {
    "fanout": {"subs": 10, "pubs": 2, "inflight": 4, "warmup": 0.2, "duration": 0.5},
    "durable": {"posters": 5, "inflight": 4, "warmup": 0.2, "duration": 0.5},
    "idle": {"connections": 50},
    "history": {
        "messages": 2_000,
        "requests": 30,
        "page_requests": 10,
        "missed": 500,
        "catchups": 1,
        "startups": 1,
    },
    "growth": {"subs": [], "messages": [], "duration": 1.0, "requests": 10},
    "inbox": {"requests": 20, "page_requests": 10},
    "search": {"messages": 2_000, "requests": 12},
    "digest": {"members": 20, "threads": 5, "replies": 2},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Proc:
    """A server process started for one scenario and stopped after it."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.cmd, self.port = cmd, port
        self._log = log.open("ab")
        started = time.perf_counter()
        self.p = subprocess.Popen(
            cmd, env={**os.environ, **env}, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = started + 30
        while not self._ready():
            if self.p.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{shlex.join(cmd)} did not start; see {log}")
            time.sleep(0.005)
        self.startup_s = time.perf_counter() - started

    def _ready(self) -> bool:
        return _healthy(self.port)

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._log.close()


class BareProc(Proc):
    def _ready(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False


def ours(db: Path, logs: Path, **env: str) -> Proc:
    port = free_port()
    settings = {
        "CFN_RATE_LIMIT": "0",
        "CFN_MAX_CONNECTIONS": "20000",
        "CFN_MAX_CONNECTIONS_PER_USER": "10000",
        "CFN_PING_INTERVAL": "600",
        "CFN_PING_TIMEOUT": "600",
        **env,
    }
    return Proc(
        [sys.executable, "-m", "server", "serve", "--db", str(db), "--port", str(port)],
        settings,
        port,
        logs / "server.log",
    )


def bare(logs: Path) -> Proc:
    port = free_port()
    return BareProc(
        [sys.executable, "-m", "bench.bare", "--port", str(port)], {}, port, logs / "bare.log"
    )


def load(scenario: str, cfg: dict[str, Any], timeout: float = 110) -> dict[str, Any]:
    """Run the load generator process and return its JSON result."""
    cfg = {**cfg, "time_limit": timeout}
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", scenario, json.dumps(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout + 10,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load generator {scenario} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- scenarios -----------------------------------------------------------------------------


def run_fanout(
    work: Path, subs: int, p: dict[str, Any], duration: float | None = None, repeat: int = 1
) -> dict[str, Any]:
    """The same fan-out load against our server and the bare one; the best of ``repeat``."""
    db = work / f"fanout-{subs}.db"
    _fresh(db)
    arranged = data.fanout_db(db, subs, p["pubs"])
    cfg = {
        **arranged,
        "inflight": p["inflight"],
        "warmup": p["warmup"],
        "duration": duration or p["duration"],
        "body_size": 200,
        "sample_every": 10,
    }
    result: dict[str, Any] = {}
    for _ in range(repeat):  # alternating, so a burst of other work hurts both alike
        for name, start in (("ours", lambda: ours(db, work)), ("bare", lambda: bare(work))):
            server = start()
            try:
                got = load("fanout", {**cfg, "port": server.port, "server_pid": server.pid})
            finally:
                server.stop()
            if name not in result or got["deliveries_per_s"] > result[name]["deliveries_per_s"]:
                result[name] = got
    result["repeat"] = repeat
    result["ratio"] = result["ours"]["deliveries_per_s"] / result["bare"]["deliveries_per_s"]
    cpu_o, cpu_b = result["ours"]["cpu_s_per_1000"], result["bare"]["cpu_s_per_1000"]
    result["cpu_ratio"] = cpu_o / cpu_b if cpu_o and cpu_b else None
    return result


class RedisProc:
    """A throwaway redis-server for the cluster scenario (no persistence)."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        folder = work / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self.p = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--dir", str(folder), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.perf_counter() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if self.p.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.p.terminate()
        self.p.wait(10)


class PgProc:
    """A throwaway PostgreSQL for the cluster runs: the tests' recipe (initdb in a temp
    directory, a free loopback port, as the ``postgres`` user when we are root)."""

    def __init__(self) -> None:
        from tests.pgserver import TEMPLATE, Server

        self.server = Server()
        self.server.start()  # also makes a migrated template database
        self._template = TEMPLATE
        assert self.server.proc is not None
        self.pid = self.server.proc.pid

    def fresh(self, name: str) -> str:
        """A new, migrated database for one run (copied from the template)."""
        self.server.sql(f"DROP DATABASE IF EXISTS {name}")
        self.server.sql(f"CREATE DATABASE {name} TEMPLATE {self._template}")
        return self.server.url(name)

    def stop(self) -> None:
        self.server.stop()


def run_cluster(
    work: Path,
    p: dict[str, Any],
    backplane: str,
    nodes: int,
    database: str = "sqlite",
    rate: float = 0.0,
) -> dict[str, Any]:
    """The fan-out load spread over ``nodes`` server processes sharing one database (SQLite
    in WAL, or a throwaway PostgreSQL) and, with ``backplane`` redis, one Redis."""
    postgres = PgProc() if database == "postgres" else None
    servers: list[Proc] = []
    redis: RedisProc | None = None
    try:
        if postgres is not None:
            db: Path | str = postgres.fresh(f"cluster_{nodes}")
        else:
            db = work / f"cluster-{nodes}.db"
            _fresh(db)
        arranged = data.fanout_db(db, p["subs"], p["pubs"])
        redis = RedisProc(work) if backplane == "redis" else None
        env = {"CFN_REDIS_URL": redis.url} if redis else {}
        servers = [ours(db, work, **env) for _ in range(nodes)]
        got = load(
            "cluster",
            {
                **arranged,
                "ports": [s.port for s in servers],
                "server_pids": [s.pid for s in servers],
                "redis_pid": redis.p.pid if redis else None,
                "pg_pid": postgres.pid if postgres else None,
                "inflight": p["inflight"],
                "warmup": p["warmup"],
                "duration": p["duration"],
                "body_size": 200,
                "sample_every": 10,
                "rate": rate,
            },
        )
    finally:
        for server in servers:
            server.stop()
        if redis:
            redis.stop()
        if postgres is not None:
            postgres.stop()
    return {**got, "database": database, "backplane": backplane, "rate": rate}


def cluster_report(c: dict[str, Any]) -> str:
    """The cluster run's own table (docs/performance.md's "Several processes")."""
    same, cross = c["latency_same_ms"], c["latency_cross_ms"]
    rows = [
        ["database / backplane / nodes", f"{c['database']} / {c['backplane']} / {c['nodes']}"],
        ["subscribers / publishers (one room)", f"{c['subscribers']} / {c['publishers']}"],
        [
            "acked posts/s" + (" (fixed load)" if c.get("rate") else " (one-room ceiling)"),
            f(c["posts_per_s"]),
        ],
        ["deliveries/s", f(c["deliveries_per_s"], 0)],
        ["p50 / p99 same process (ms)", f"{f(same['p50'])} / {f(same['p99'])}"],
        ["p50 / p99 cross process (ms)", f"{f(cross['p50'])} / {f(cross['p99'])}"],
        ["server CPU ms per 1,000 deliveries (all nodes)", f(_ms(c["server_cpu_s_per_1000"]))],
        ["Redis CPU ms per 1,000 deliveries", f(_ms(c["redis_cpu_s_per_1000"]), 2)],
        [
            "PostgreSQL CPU ms per 1,000 deliveries (all backends)",
            f(_ms(c["postgres_cpu_s_per_1000"]), 2)
            if c.get("postgres_cpu_s_per_1000") is not None
            else "none: SQLite in WAL shared by the nodes",
        ],
        ["errors / cut off", f"{c['errors']} / {c['cut_off']}"],
    ]
    return (
        "\n### Several processes\n\n"
        + table(["", "value"], rows)
        + "\n\nThis machine has 2 cores shared by every node, Redis and the load generator:"
        " throughput scaling across machines is not measurable here, so compare the cost"
        " per delivery, not deliveries/s.\n"
    )


def run_durable(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    """Acknowledged posts/s at synchronous NORMAL and FULL, alternating; the best of each."""
    result: dict[str, Any] = {}
    for _ in range(p.get("repeat", 1)):
        for mode in ("NORMAL", "FULL"):
            db = work / f"durable-{mode}.db"
            _fresh(db)
            arranged = data.durable_db(db, p["posters"])
            server = ours(db, work, CFN_SYNCHRONOUS=mode)
            try:
                got = load(
                    "durable",
                    {
                        **arranged,
                        "inflight": p["inflight"],
                        "warmup": p["warmup"],
                        "duration": p["duration"],
                        "body_size": 200,
                        "port": server.port,
                        "server_pid": server.pid,
                    },
                )
            finally:
                server.stop()
            if mode not in result or got["posts_per_s"] > result[mode]["posts_per_s"]:
                result[mode] = got
    return result


def run_idle(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    db = work / "idle.db"
    _fresh(db)
    arranged = data.idle_db(db)
    server = ours(db, work)
    try:
        return load(
            "idle",
            {
                **arranged,
                "connections": p["connections"],
                "port": server.port,
                "server_pid": server.pid,
            },
        )
    finally:
        server.stop()


def run_history(
    work: Path,
    messages: int,
    p: dict[str, Any],
    requests: int | None = None,
) -> dict[str, Any]:
    db = work / f"history-{messages}.db"
    t = time.perf_counter()
    arranged = data.history_db(db, messages)
    prepared = time.perf_counter() - t
    startups = []
    for _ in range(p["startups"] - 1):
        server = ours(db, work)
        startups.append(server.startup_s)
        server.stop()
    server = ours(db, work)
    startups.append(server.startup_s)
    try:
        result = load(
            "history",
            {
                **arranged,
                "requests": requests or p["requests"],
                "page_requests": p["page_requests"],
                "page": THREAD_PAGE,
                "missed": p["missed"],
                "catchups": p["catchups"],
                "port": server.port,
                "server_pid": server.pid,
            },
        )
    finally:
        server.stop()
    result["startup_s"] = sorted(startups)[len(startups) // 2]
    result["messages"] = messages
    result["db_mb"] = db.stat().st_size / 2**20
    result["prepare_s"] = prepared
    return result


def run_search(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    """The /search page on the history database (bench/search.py)."""
    db = work / f"history-{p['messages']}.db"
    result = search_bench.run(
        db, lambda: data.history_db(db, p["messages"]), lambda d: ours(d, work), p["requests"]
    )
    result["messages"] = p["messages"]
    return result


def _fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


# --- report --------------------------------------------------------------------------------


def f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [
        "| " + " | ".join(f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows
    ]
    return "\n".join(lines)


def report(results: dict[str, Any], command: str, took: float) -> str:
    m = results["machine"]
    out = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `{command}` "
        f"({took:.0f} s).",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']} memory, Python "
        f"{m['python']}, Linux {m['kernel']}. Load average before the run: {m['loadavg']} "
        "(other work shares these cores, so absolute figures move between runs; the ratios "
        "against the bare server, taken in the same run, move less).",
        "",
    ]
    checks: list[list[Any]] = []

    fo = results.get("fanout")
    if fo:
        o, b = fo["ours"], fo["bare"]
        out += [
            f"### Fan-out: {o['subscribers']} subscribers, {o['publishers']} publishers, "
            "200-byte messages, up to 8 in flight each",
            "",
            table(
                [
                    "server",
                    "acked posts/s",
                    "deliveries/s",
                    "latency p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "server CPU ms per 1,000 deliveries",
                    "server CPU %",
                    "generator CPU %",
                    "cut off",
                ],
                [
                    [
                        name,
                        r["posts_per_s"],
                        r["deliveries_per_s"],
                        r["latency_ms"]["p50"],
                        r["latency_ms"]["p95"],
                        r["latency_ms"]["p99"],
                        _ms(r["cpu_s_per_1000"]),
                        100 * r["server_cpu_share"],
                        100 * r["generator_cpu_share"],
                        r["cut_off"],
                    ]
                    for name, r in (("cfn-hub (SQLite, auth)", o), ("bare websockets", b))
                ],
            ),
            "",
            f"Deliveries/s ratio (ours / bare): **{fo['ratio']:.2f}**; CPU per delivery "
            f"ratio: **{f(fo['cpu_ratio'], 2)}**. A delivery is one event frame received by "
            "one joined connection (the publishers are joined too). CPU % is of one core "
            f"over the measured window. Best of {fo.get('repeat', 1)} alternating runs of "
            "each server.",
            "",
        ]
        checks += [
            ["fan-out deliveries/s vs bare", f"{fo['ratio']:.0%}", "≥ 60%", fo["ratio"] >= 0.6],
            [
                "server CPU per delivery vs bare",
                f(fo["cpu_ratio"], 2) + "×",
                "≤ 2×",
                fo["cpu_ratio"] is not None and fo["cpu_ratio"] <= 2,
            ],
            [
                "delivery latency p99, 200 subscribers",
                f(o["latency_ms"]["p99"]) + " ms",
                "≤ 100 ms",
                (o["latency_ms"]["p99"] or 1e9) <= 100,
            ],
        ]

    du = results.get("durable")
    if du:
        first = next(iter(du.values()))
        out += [
            f"### Durable throughput: {first['posters']} posters, each alone in a room, "
            f"up to {first['inflight']} posts in flight each",
            "",
            table(
                [
                    "synchronous",
                    "acked posts/s",
                    "ack p50 ms",
                    "ack p99 ms",
                    "server CPU ms per 1,000 posts",
                ],
                [
                    [
                        mode,
                        r["posts_per_s"],
                        r["ack_ms"]["p50"],
                        r["ack_ms"]["p99"],
                        _ms(r["cpu_s_per_1000"]),
                    ]
                    for mode, r in du.items()
                ],
            ),
            "",
            "Every acknowledgement is sent after the group commit holding that post. "
            f"Best of {p_repeat(results)} alternating runs per mode.",
            "",
        ]
        checks += [
            [
                f"durable posts/s ({mode})",
                f(r["posts_per_s"], 0),
                "≥ 5,000",
                r["posts_per_s"] >= 5000,
            ]
            for mode, r in du.items()
        ]

    idle = results.get("idle")
    if idle:
        out += [
            "### Idle connections",
            "",
            table(
                [
                    "connections joined",
                    "still open",
                    "RSS before MB",
                    "RSS after MB",
                    "KB per connection",
                ],
                [
                    [
                        idle["connections"],
                        idle["open"],
                        idle["rss_before_mb"],
                        idle["rss_after_mb"],
                        idle["kb_per_connection"],
                    ]
                ],
            ),
            "",
        ]
        checks.append(
            [
                "RSS per idle joined connection",
                f(idle["kb_per_connection"]) + " KB",
                "≤ 50 KB",
                idle["kb_per_connection"] <= 50,
            ]
        )

    hi = results.get("history")
    if hi:
        page = hi["page"]
        page_cells = (
            [page["ms"]["p50"], page["ms"]["p99"]]
            if "ms" in page
            else [f"page absent ({page['status']})", "–"]
        )
        out += [
            f"### History at scale: {hi['messages']:,} messages, 50 groups × 20 threads",
            "",
            table(
                [
                    "history p50 ms",
                    "history p99 ms",
                    "thread page p50 ms",
                    "thread page p99 ms",
                    f"catch-up of {hi['catchup']['events']:,} events ms",
                    "start-up s",
                    "database MB",
                ],
                [
                    [
                        hi["history_ms"]["p50"],
                        hi["history_ms"]["p99"],
                        *page_cells,
                        hi["catchup"]["median_ms"],
                        hi["startup_s"],
                        hi["db_mb"],
                    ]
                ],
            ),
            "",
            "History requests mix a thread's latest page, an older page (`before`) and "
            "the room-wide page, 50 messages each, one at a time over one connection. "
            f"Thread page: `{page['path']}`. Catch-up: from sending `join … since` to "
            "receiving the last missed event (median of several). Start-up: from process "
            "start to the first `/healthz` answer.",
            "",
        ]
        checks += [
            [
                "history page p99",
                f(hi["history_ms"]["p99"], 2) + " ms",
                "≤ 10 ms",
                hi["history_ms"]["p99"] <= 10,
            ]
        ]
        if "ms" in page:
            checks.append(
                [
                    "thread page p99",
                    f(page["ms"]["p99"], 2) + " ms",
                    "≤ 10 ms",
                    page["ms"]["p99"] <= 10,
                ]
            )
        checks += [
            [
                f"catch-up of {hi['catchup']['events']:,} events",
                f(hi["catchup"]["median_ms"]) + " ms",
                "< 300 ms",
                hi["catchup"]["median_ms"] < 300,
            ],
            [
                "start-up on the history database",
                f(hi["startup_s"], 2) + " s",
                "< 1 s",
                hi["startup_s"] < 1,
            ],
        ]

    gr = results.get("growth")
    if gr and (len(gr["fanout"]) > 1 or len(gr["history"]) > 1):
        out += [
            "### Growth",
            "",
            table(
                [
                    "subscribers",
                    "ours deliveries/s",
                    "bare deliveries/s",
                    "ratio",
                    "ours CPU ms/1,000",
                    "bare CPU ms/1,000",
                    "ours p99 ms",
                ],
                [
                    [
                        n,
                        r["ours"]["deliveries_per_s"],
                        r["bare"]["deliveries_per_s"],
                        r["ratio"],
                        _ms(r["ours"]["cpu_s_per_1000"]),
                        _ms(r["bare"]["cpu_s_per_1000"]),
                        r["ours"]["latency_ms"]["p99"],
                    ]
                    for n, r in sorted(gr["fanout"].items())
                ],
            ),
            "",
            table(
                [
                    "messages",
                    "history p50 ms",
                    "history p99 ms",
                    "thread page p99 ms",
                    "events caught up",
                    "catch-up ms",
                    "start-up s",
                    "database MB",
                ],
                [
                    [
                        n,
                        r["history_ms"]["p50"],
                        r["history_ms"]["p99"],
                        r["page"].get("ms", {}).get("p99"),
                        r["catchup"]["events"],
                        r["catchup"]["median_ms"],
                        r["startup_s"],
                        r["db_mb"],
                    ]
                    for n, r in sorted(gr["history"].items())
                ],
            ),
            "",
            "A room holds 1/50 of the messages, so the smaller databases have fewer than "
            "10,000 events to catch up on.",
            "",
        ]

    se = results.get("search")
    if se:
        out += [
            f"### Search: {se['messages']:,} messages, a member of 5 of the 50 groups",
            "",
            table(
                ["query", "example", "p50 ms", "p99 ms", "requests"],
                [
                    [
                        name,
                        f"`{urlencode(se['queries'][name])}`",
                        s["p50"],
                        s["p99"],
                        s["n"],
                    ]
                    for name, s in se["per_kind"].items()
                ]
                + [["all", "", se["ms"]["p50"], se["ms"]["p99"], se["ms"]["n"]]],
            ),
            "",
            "The whole `/search` page over HTTP (ranking, highlighting, rendering), one "
            "request at a time over one keep-alive connection, after one warm-up round. "
            f"Rows in the index: {se['indexed']:,}. Statuses: {se['statuses']}.",
            "",
        ]
        checks.append(
            [
                "search page p99",
                f(se["ms"]["p99"], 2) + " ms",
                "≤ 50 ms",
                (se["ms"]["p99"] or 1e9) <= 50,
            ]
        )

    out += [
        "### Targets",
        "",
        table(
            ["target", "measured", "goal", "met"],
            [[c[0], c[1], c[2], "yes" if c[3] else "**no**"] for c in checks],
        ),
    ]
    return "\n".join(out) + "\n"


def p_repeat(results: dict[str, Any]) -> int:
    return int(results.get("durable_repeat", 1))


def write_doc(path: Path, body: str) -> None:
    """Replace what lies between the markers; the analysis around them is hand-written."""
    block = f"{START}\n{body}{END}"
    if path.exists():
        text = path.read_text()
        if START in text and END in text:
            before, rest = text.split(START, 1)
            text = before + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = f"# Performance\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--only",
        default="fanout,durable,idle,history,growth,inbox,search",
        help="comma-separated scenarios",
    )
    parser.add_argument(
        "--work",
        default="/tmp/cfn-bench",
        help="folder for databases (the big history ones are reused)",
    )
    parser.add_argument("--out", default=str(DOC), help="Markdown file to write the table into")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument(
        "--database", choices=["sqlite", "postgres"], default="sqlite", help="cluster runs"
    )
    parser.add_argument(
        "--backplane",
        choices=["memory", "redis"],
        default="memory",
        help="redis adds the cluster scenario: the fan-out spread over --nodes processes",
    )
    parser.add_argument("--nodes", type=int, choices=[1, 2, 3], default=1)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="cluster runs: posts/s over all publishers (a fixed load for latency);"
        " 0 posts as fast as acknowledged (the one-room ceiling)",
    )
    args = parser.parse_args(argv)
    if args.nodes > 1 and args.backplane == "memory":
        print("--nodes 2 or 3 needs --backplane redis", file=sys.stderr)
        return 2
    command = "python -m bench.run" + (" " + shlex.join(argv) if argv else "")
    if argv is None:
        command = "python -m bench.run" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    p = QUICK if args.quick else FULL
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 5,000 sockets each side
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wanted = args.only.split(",")
    results: dict[str, Any] = {
        "machine": machine(),
        "durable_repeat": p["durable"].get("repeat", 1),
    }
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], Any]]] = [
        (
            "fanout",
            lambda: run_fanout(
                work, p["fanout"]["subs"], p["fanout"], repeat=p["fanout"].get("repeat", 1)
            ),
        ),
        ("durable", lambda: run_durable(work, p["durable"])),
        ("idle", lambda: run_idle(work, p["idle"])),
        ("history", lambda: run_history(work, p["history"]["messages"], p["history"])),
        ("growth", lambda: growth(work, p, results)),
        (
            "cluster",
            lambda: run_cluster(
                work, p["fanout"], args.backplane, args.nodes, args.database, args.rate
            ),
        ),
        ("inbox", lambda: inbox.run_inbox(work, p["history"]["messages"], p["inbox"], ours)),
        ("search", lambda: run_search(work, p["search"])),
        ("digest", lambda: digest.run_digest(work, p["digest"])),
    ]
    if (args.backplane == "redis" or args.database == "postgres") and "cluster" not in wanted:
        wanted.append("cluster")
    for name, step in steps:
        if name in wanted:
            t = time.perf_counter()
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = step()
            print(f"  {name} took {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    body = report(results, command, time.perf_counter() - started)
    if "cluster" in results:
        body += cluster_report(results["cluster"])
    if "inbox" in results:
        body += inbox.inbox_report(results["inbox"])
    if "digest" in results:
        body += digest.report(results["digest"])
    print(body)
    write_doc(Path(args.out), body)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def growth(work: Path, p: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    g = p["growth"]
    fan: dict[int, Any] = {}
    for n in g["subs"]:
        fan[n] = run_fanout(work, n, p["fanout"], duration=g["duration"])
    if "fanout" in results:
        fan[p["fanout"]["subs"]] = results["fanout"]
    hist: dict[int, Any] = {}
    for n in g["messages"]:
        hist[n] = run_history(
            work,
            n,
            {**p["history"], "startups": 1, "catchups": 3, "page_requests": 50},
            requests=g["requests"],
        )
    if "history" in results:
        hist[p["history"]["messages"]] = results["history"]
    return {"fanout": fan, "history": hist}


if __name__ == "__main__":
    raise SystemExit(main())
