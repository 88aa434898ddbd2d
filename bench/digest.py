"""Building digests: ``members`` members in 5 groups, each with a daily digest due and new
unread threads and replies, then the scheduler's own steps (``digests.due``, then per
batch ``digests.build_many`` in one read snapshot and ``digests.queue_built`` in one write)
timed end to end. The bar is 1,000 digests in at most 5 s (issue 13)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from server.domain import accounts, digests, discussions, email_prefs
from server.storage.engine import open_sync, write_sync

GROUPS = 5


def arrange(path: Path, members: int, threads: int, replies: int) -> list[accounts.User]:
    conn = open_sync(str(path))
    for g in range(GROUPS):
        write_sync(conn, accounts.add_group, f"g{g}", f"Group {g}", "regional")
    people = []
    for i in range(members):
        user = write_sync(
            conn, accounts.add_user, f"m{i}@bench.example", f"Member {i}", "member", None
        )
        for g in range(GROUPS):
            write_sync(conn, accounts.add_member, f"g{g}", user.email, "member")
        write_sync(conn, email_prefs.save, user, "daily", False, False, False, "Europe/London")
        people.append(user)
    time.sleep(0.01)
    for t in range(threads):
        author = people[t % len(people)]
        made = write_sync(
            conn,
            discussions.create_thread,
            author,
            f"g{t % GROUPS}",
            f"Thread {t}",
            "Hello",
            f"t{t}",
        )
        for r in range(replies):
            writer = people[(t + r + 1) % len(people)]
            write_sync(
                conn,
                discussions.post_message,
                writer,
                f"g{t % GROUPS}",
                made["thread"]["id"],
                f"Reply {r}",
                f"t{t}r{r}",
            )
    conn.close()
    return people


def run_digest(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    path = work / "digest.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    arrange(path, p["members"], p["threads"], p["replies"])
    conn = open_sync(str(path))
    started, cpu = time.perf_counter(), time.process_time()
    due = digests.due(conn, int(time.time() * 1000), 0)
    origin = "https://bench.example"
    sent = 0
    for i in range(0, len(due), digests.BATCH):
        conn.execute("BEGIN")  # one read snapshot per batch, as the scheduler's db.read
        built = digests.build_many(conn, due[i : i + digests.BATCH], origin)
        conn.execute("COMMIT")
        sent += write_sync(conn, digests.queue_built, built, origin)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu  # this process's own work: fairer on a shared machine
    conn.close()
    return {
        "members": p["members"],
        "due": len(due),
        "sent": sent,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }


def report(r: dict[str, Any]) -> str:
    per = r["seconds"] / max(1, r["sent"]) * 1000
    verdict = "met" if per <= 5 else "missed"  # 1,000 in 5 s is 5 ms each
    return (
        "\n### Digests\n\n"
        "| members due | digests built and queued | total | CPU of this process | per digest"
        " | bar |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        f"| {r['due']} | {r['sent']} | {r['seconds']:.2f} s | {r.get('cpu_seconds', 0):.2f} s"
        f" | {per:.2f} ms | 1,000 in ≤ 5 s: {verdict} |\n"
    )
