"""Online backup under load, and a restore whose clients see a new epoch (PROTOCOL §4)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests import pg
from tests.harness import Client, Running, connect
from tests.serverproc import ROOT


async def _keep_posting(
    client: Client, thread: int, acked: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    n = 0
    while not stop.is_set():
        data = await client.call(
            "message.post",
            room="north",
            thread=thread,
            body=f"load {n}",
            cid=f"load-{id(client)}-{n}",
        )
        acked.append((loop.time(), data["message"]["id"]))
        n += 1


async def test_backup_while_posting_then_restore_keeps_history_and_tells_clients_to_reload(
    server: Running, tmp_path: Path
) -> None:
    for name in ("alice", "bob", "dan", "eve"):
        server.member("north", f"{name}@cfn.example")
    posters = [
        await connect(server, server.token(f"{n}@cfn.example"))
        for n in ("alice", "bob", "dan", "eve")
    ]
    for p in posters:
        await p.call("join", room="north")
    made = await posters[0].call(
        "thread.create", room="north", title="Minutes", body="Start", cid="start"
    )
    thread = made["thread"]["id"]
    old_epoch = (await posters[1].call("join", room="north"))["epoch"]
    acked: list[tuple[float, int]] = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_keep_posting(p, thread, acked, stop)) for p in posters]
    await asyncio.sleep(0.5)

    loop = asyncio.get_running_loop()
    copy = tmp_path / "backup.db"
    begun = loop.time()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server", "backup", str(copy), "--db", server.db_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    ended = loop.time()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*tasks)
    assert done.returncode == 0, done.stderr
    assert "new epoch" in done.stdout
    before = {mid for at, mid in acked if at < begun}
    during = [mid for at, mid in acked if begun <= at <= ended]
    after = [mid for at, mid in acked if at > ended]
    assert len(before) > 20 and after, "the server kept answering while it was copied"

    backup = pg.restored(copy)  # the SQLite copy passes its integrity check
    stored = {r[0] for r in backup.execute("SELECT id FROM messages")}
    assert before <= stored  # everything acknowledged before the backup began is in it
    last = backup.execute("SELECT last_seq FROM rooms WHERE slug='north'").fetchone()[0]
    assert [r[0] for r in backup.execute("SELECT seq FROM events ORDER BY seq")] == list(
        range(1, last + 1)
    )
    new_epoch = backup.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()[0]
    assert new_epoch != old_epoch
    backup.close()
    for p in posters:
        await p.close()

    restored = Running(copy)
    await restored.start()
    try:
        client = await connect(restored, restored.token("bob@cfn.example"))
        resumed = await client.call("join", room="north", since=2, epoch=old_epoch)
        assert resumed["recovered"] is False and resumed["epoch"] == new_epoch
        await client.drain(0.3)
        assert not [e for e in client.events if e["seq"] is not None]  # nothing replayed
        seen, before_id = set(), None
        while True:  # the client reloads with history, page by page
            page = await client.call(
                "history",
                room="north",
                thread=thread,
                limit=200,
                **({"before": before_id} if before_id else {}),
            )
            seen |= {m["id"] for m in page["messages"]}
            if not page["more"]:
                break
            before_id = page["messages"][0]["id"]
        assert seen == stored and before <= seen
        print(
            f"\nbackup test: {len(before)} posts before, {len(during)} during and "
            f"{len(after)} after a {ended - begun:.2f}s backup; {len(stored)} in the copy"
        )
        await client.close()
    finally:
        await restored.stop()
        restored.close()
