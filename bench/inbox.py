"""The inbox scenario: "What's new for you" for a member of 5 groups on the history database
(1M messages in the full run), measured as the domain read alone and as the whole page
over HTTP from the real server.

The history database is copied (it stays as the history scenario expects), then one member
is arranged with a realistic state in 5 of its groups: half the threads read up to a little
before their end, a few followed, the rest never opened; polls open and closed, ideas whose
status changed, published meetings. Direct SQL matching schema.sql, as bench/data.py does.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import data
from server.domain import accounts, inbox
from server.storage.sqlite.database import open_sync, write_sync

MEMBER = "inbox@bench.example"
GROUPS = 5


def _copy(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    source = sqlite3.connect(src)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def arrange(db: Path) -> int:
    """The member, in groups 1-5, with reads, follows, polls, ideas and meetings."""
    rng = random.Random(13)
    conn = open_sync(str(db))
    try:
        start: int = conn.value("SELECT min(created_at) FROM groups")
        now = int(time.time() * 1000)
        uid: int = conn.value(
            "INSERT INTO users(email, name, role, created_at) VALUES (?, 'Inbox Member',"
            " 'member', ?) RETURNING id",
            (MEMBER, start),
        )
        chair: int = conn.value("SELECT min(id) FROM users")
        for g in range(1, GROUPS + 1):
            conn.execute(
                "INSERT INTO memberships(group_id, user_id, role, joined_at)"
                " VALUES (?, ?, 'member', ?)",
                (g, uid, start),
            )
            threads = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM threads WHERE group_id = ? ORDER BY id", (g,)
                ).fetchall()
            ]
            for i, tid in enumerate(threads):
                last: int = conn.value(
                    "SELECT coalesce(max(id), 0) FROM messages WHERE thread_id = ?", (tid,)
                )
                if i % 2 == 0:  # opened: read up to a little before the end
                    conn.execute(
                        "INSERT INTO reads(user_id, group_id, thread_id, last_read, seen_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (uid, g, tid, max(0, last - rng.randint(0, 40) * 20), now),
                    )
                if i % 4 == 0:
                    conn.execute(
                        "INSERT INTO follows(user_id, kind, item_id, group_id, following, at)"
                        " VALUES (?, 'thread', ?, ?, 1, ?)",
                        (uid, tid, g, now),
                    )
            for k in range(10):
                closed = now - 60_000 if k % 3 == 0 else None
                pid: int = conn.value(
                    "INSERT INTO polls(group_id, question, options, kind, created_by, created_at,"
                    " closed_at) VALUES (?, ?, '[\"Yes\", \"No\"]', 'single', ?, ?, ?)"
                    " RETURNING id",
                    (g, f"Poll {k} of group {g}?", chair, now - 3_600_000 + k, closed),
                )
                if k % 2 == 0:
                    conn.execute(
                        "INSERT INTO poll_voters(poll_id, user_id, voted_at) VALUES (?, ?, ?)",
                        (pid, uid, now),
                    )
            for k in range(20):
                iid: int = conn.value(
                    "INSERT INTO ideas(group_id, title, body, author_id, status, created_at,"
                    " status_at) VALUES (?, ?, 'An idea.', ?, 'adopted', ?, ?) RETURNING id",
                    (g, f"Idea {k} of group {g}", uid if k % 4 == 0 else chair, start, now),
                )
                conn.execute(
                    "INSERT INTO idea_status_log(idea_id, status, by_id, at)"
                    " VALUES (?, 'proposed', ?, ?)",
                    (iid, chair, start),
                )
                conn.execute(
                    "INSERT INTO idea_status_log(idea_id, status, note, by_id, at)"
                    " VALUES (?, 'adopted', 'From April', ?, ?)",
                    (iid, chair, now - k * 1000),
                )
                if k % 4 == 1:
                    conn.execute(
                        "INSERT INTO idea_supporters(idea_id, user_id, at) VALUES (?, ?, ?)",
                        (iid, uid, now),
                    )
            for k in range(3):
                conn.execute(
                    "INSERT INTO meetings(group_id, title, starts_at, mode, published_at,"
                    " ended_at, created_by, created_at) VALUES (?, ?, ?, 'online', ?, ?, ?, ?)",
                    (
                        g,
                        f"Meeting {k}",
                        now + (k - 1) * 86_400_000,
                        now - 600_000,
                        now - 60_000 if k == 0 else None,
                        chair,
                        start,
                    ),
                )
        conn.commit()
        conn.execute("ANALYZE")
        return uid
    finally:
        conn.close()


def _summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "mean": statistics.fmean(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
    }


def _statements(conn: Any, fn: Callable[..., Any], user: accounts.User) -> int:
    """How many statements one call runs (SQLite's trace): the per-member cost a digest run
    multiplies by the members due."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        fn(conn, user)
    finally:
        conn.set_trace_callback(None)
    return len(seen)


def run_inbox(
    work: Path, messages: int, p: dict[str, Any], ours: Callable[[Path, Path], Any]
) -> dict[str, Any]:
    """``ours`` starts the real server on a database (bench.run's), for the page figures."""
    src = work / f"history-{messages}.db"
    data.history_db(src, messages)
    db = work / f"inbox-{messages}.db"
    _copy(src, db)
    arrange(db)
    conn = open_sync(str(db))
    try:
        user = accounts.require_user(conn, MEMBER)
        found = inbox.entries(conn, user)
        statements = {
            "entries": _statements(conn, inbox.entries, user),
            "badge": _statements(conn, inbox.unread_total, user),
        }
        badge_total = inbox.unread_total(conn, user)
        assert badge_total == len(inbox.entries(conn, user, limit=inbox.ALL)), badge_total
        domain: list[float] = []
        badge: list[float] = []
        for _ in range(p["requests"]):
            t = time.perf_counter()
            inbox.entries(conn, user)
            domain.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            inbox.unread_total(conn, user)
            badge.append((time.perf_counter() - t) * 1000)
        session, _ = write_sync(conn, accounts.create_session, user.id, 1)
    finally:
        conn.close()
    server = ours(db, work)
    try:
        page: list[float] = []
        with httpx.Client(
            base_url=f"http://127.0.0.1:{server.port}", cookies={"cfn_session": session}
        ) as http:
            for i in range(p["page_requests"] + 5):
                t = time.perf_counter()
                r = http.get("/inbox")
                took = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.status_code
                if i >= 5:  # the first few warm the server's caches
                    page.append(took)
    finally:
        server.stop()
    kinds: dict[str, int] = {}
    for e in found:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return {
        "messages": messages,
        "groups": GROUPS,
        "entries": len(found),
        "kinds": kinds,
        "statements": statements,
        "domain_ms": _summary(domain),
        "badge_ms": _summary(badge),
        "page_ms": _summary(page),
    }


def inbox_report(r: dict[str, Any]) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(r["kinds"].items()))
    d, b, pg = r["domain_ms"], r["badge_ms"], r["page_ms"]
    st = r["statements"]
    return (
        f"\n### Inbox (What's new for you)\n\nA member of {r['groups']} groups on the "
        f"{r['messages']:,}-message database; {r['entries']} entries ({kinds}).\n\n"
        "| measured | n | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- |\n"
        f"| `inbox.entries` (the domain read) | {d['n']} | {d['p50']:.1f} | {d['p99']:.1f} |"
        f" {d['max']:.1f} |\n"
        f"| `inbox.unread_total` (the header's badge) | {b['n']} | {b['p50']:.1f} |"
        f" {b['p99']:.1f} | {b['max']:.1f} |\n"
        f"| `GET /inbox` (the whole page over HTTP) | {pg['n']} | {pg['p50']:.1f} |"
        f" {pg['p99']:.1f} | {pg['max']:.1f} |\n\n"
        f"Statements per call: {st['entries']} for `inbox.entries`, {st['badge']} for the badge."
        f" At the read's mean ({d['mean']:.2f} ms), 1,000 members' inboxes (the digests' read)"
        f" take {d['mean']:.2f} s.\n"
    )
