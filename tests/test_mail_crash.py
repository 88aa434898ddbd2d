"""The outbox survives SIGKILL of a real server process: an email committed but not yet
sent goes exactly once after the restart, and one killed between sending and being
marked sent is sent again as the same message (the same Message-ID)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from server.domain import accounts
from server.storage.sqlite.database import migrate, open_sync, write_sync
from tests import pg
from tests.harness import PASSWORD
from tests.people_helpers import anonymous_post, wait_until
from tests.serverproc import ServerProcess, free_port
from tests.smtp import smtp_server

# These arrange and read the SQLite file the server process uses directly.
pytestmark = pg.sqlite_only


def _arrange(db_path: Path) -> None:
    conn = open_sync(str(db_path))
    migrate(conn)
    write_sync(conn, accounts.add_user, "margaret@cfn.example", "Margaret", "member", PASSWORD)
    conn.close()


def _rows(db_path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()
    finally:
        conn.close()


async def _ask_for_reset(proc: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{proc.port}", timeout=10) as http:
        answer = await anonymous_post(http, "/forgot", email="margaret@cfn.example")
        assert answer.status_code == 200


def _env(smtp_port: int, **more: str) -> dict[str, str]:
    return {
        "CFN_SMTP_HOST": "127.0.0.1",
        "CFN_SMTP_PORT": str(smtp_port),
        "CFN_SMTP_SECURITY": "none",
        "CFN_MAIL_RETRY": "0.3",
        **more,
    }


async def test_an_email_committed_before_a_sigkill_is_sent_once_after_the_restart(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "cfn.db"
    _arrange(db_path)
    smtp_port = free_port()  # nothing listens yet: the first tries are refused
    proc = ServerProcess(db_path, **_env(smtp_port))
    await proc.start()
    try:
        await _ask_for_reset(proc)
        await wait_until(lambda: [r for r in _rows(db_path) if r["last_error"]])
        proc.kill()  # committed, not sent
        (row,) = _rows(db_path)
        assert row["status"] in ("pending", "sending") and row["sent_at"] is None
        async with smtp_server(smtp_port) as inbox:
            await proc.start()
            (msg,) = await inbox.wait_for(1)
            assert msg["To"] == "margaret@cfn.example"
            await wait_until(lambda: _rows(db_path)[0]["status"] == "sent")
            await asyncio.sleep(1.0)  # and nothing more comes
            assert len(inbox.messages) == 1
    finally:
        proc.stop()


async def test_a_sigkill_between_sending_and_marking_sent_resends_the_same_message(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "cfn.db"
    _arrange(db_path)
    async with smtp_server() as inbox:
        inbox.hold = asyncio.Event()  # take the message, then keep the sender waiting
        proc = ServerProcess(db_path, **_env(inbox.port, CFN_MAIL_LEASE="1"))
        await proc.start()
        try:
            await _ask_for_reset(proc)
            (first,) = await inbox.wait_for(1)
            proc.kill()  # sent, never marked sent
            inbox.hold.set()
            inbox.hold = None
            assert _rows(db_path)[0]["status"] == "sending"
            await proc.start()
            _, again = await inbox.wait_for(2)
            assert again["Message-ID"] == first["Message-ID"]  # the same message, not a new one
            assert (
                again.get_body(("plain",)).get_content() == first.get_body(("plain",)).get_content()
            )
            row = await wait_until(lambda: [r for r in _rows(db_path) if r["status"] == "sent"])
            assert row[0]["attempts"] == 2
            await asyncio.sleep(1.5)  # past another lease: no third copy
            assert len(inbox.messages) == 2
        finally:
            proc.stop()
