"""The search scenario: the /search page on the history database, for a member of 5 of
its 50 groups, one request at a time over one keep-alive connection.

The queries mix what members type: one word found in about half of all messages, two
such words, a word found in one message, one group chosen, a person chosen, and a word
found nowhere. Latency is from sending the request to the end of the page.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from server.domain import accounts
from server.storage.sqlite.database import Tx, open_sync, write_sync

SEARCHER = "searcher@bench.example"
GROUPS = 5


def searcher_access(db: Path) -> dict[str, Any]:
    """A member of the first 5 groups (added once, through the project's own functions)
    and a login session for them; with the queries to send."""
    conn = open_sync(str(db))
    try:

        def arrange(tx: Tx) -> tuple[str, int]:
            user = accounts.user_by_email(tx.conn, SEARCHER)
            if user is None:
                user = accounts.add_user(tx, SEARCHER, "Bench Searcher")
                for g in range(1, GROUPS + 1):
                    accounts.add_member(tx, f"group-{g:02d}", SEARCHER)
            token, _ = accounts.create_session(tx, user.id, 1)
            return token, user.id

        token, _ = write_sync(conn, arrange)
        last = conn.execute(
            "SELECT max(id) FROM messages WHERE group_id <= ?", (GROUPS,)
        ).fetchone()[0]
    finally:
        conn.close()
    queries: list[tuple[str, dict[str, str]]] = [
        ("one common word", {"q": "ambulance"}),
        ("two common words", {"q": "wheelchair taxi"}),
        ("a word in one message", {"q": str(last or 1)}),
        ("one group chosen", {"q": "leaflet", "group": "group-02"}),
        ("a person chosen", {"q": "discharge", "person": "7"}),
        ("found nowhere", {"q": "zebra"}),
    ]
    return {"cookie": f"cfn_session={token}", "queries": queries}


def measure(
    port: int, cookie: str, queries: list[tuple[str, dict[str, str]]], requests: int
) -> dict[str, Any]:
    """Send ``requests`` searches round the query list; latency per kind and overall."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    per_kind: dict[str, list[float]] = {name: [] for name, _ in queries}
    statuses: dict[int, int] = {}
    for i in range(requests + len(queries)):  # the first round warms the caches
        name, params = queries[i % len(queries)]
        path = "/search?" + urlencode(params)
        t = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        took = (time.perf_counter() - t) * 1000
        if i >= len(queries):
            per_kind[name].append(took)
            statuses[response.status] = statuses.get(response.status, 0) + 1
    conn.close()
    every = sorted(x for xs in per_kind.values() for x in xs)
    return {
        "ms": _summary(every),
        "per_kind": {name: _summary(sorted(xs)) for name, xs in per_kind.items()},
        "statuses": statuses,
    }


def _summary(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"n": 0, "p50": None, "p99": None}
    return {
        "n": len(xs),
        "p50": statistics.median(xs),
        "p99": xs[min(len(xs) - 1, int(len(xs) * 0.99))],
        "max": xs[-1],
    }


def run(
    db: Path,
    prepare: Callable[[], Any],
    start: Callable[[Path], Any],
    requests: int,
) -> dict[str, Any]:
    """Prepare the history database, add the searcher, serve it, measure."""
    t = time.perf_counter()
    prepare()
    arranged = searcher_access(db)
    prepared = time.perf_counter() - t
    server = start(db)
    try:
        result = measure(server.port, arranged["cookie"], arranged["queries"], requests)
    finally:
        server.stop()
    conn = open_sync(str(db))
    try:
        result["indexed"] = conn.execute("SELECT count(*) FROM search_index").fetchone()[0]
    finally:
        conn.close()
    result["prepare_s"] = prepared
    result["queries"] = {name: params for name, params in arranged["queries"]}
    return result
