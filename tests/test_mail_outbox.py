"""Email through the transactional outbox, against a real aiosmtpd server: both parts,
retries with backoff on temporary failures, giving up with the reason, permanent refusals,
and the .eml folder when no SMTP server is set."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.domain import outbox
from server.storage.sqlite.database import open_sync, write_sync
from tests.harness import Running
from tests.people_helpers import anonymous_post, outbox_rows, wait_until
from tests.smtp import html_part, link_in, smtp_server, text_part


def smtp(port: int, **more: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "mail_from": "Critical Friends Network <hub@cfn.example>",
        **more,
    }


async def ask_for_reset(server: Running, email: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        return await anonymous_post(http, "/forgot", email=email)


async def test_an_email_has_a_plain_and_an_accessible_html_part_and_says_who_it_is_from(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(**smtp(inbox.port))
        server.user("margaret@cfn.example", "Margaret Hill")
        answer = await ask_for_reset(server, "margaret@cfn.example")
        assert answer.status_code == 200 and "Check your email" in answer.text
        (msg,) = await inbox.wait_for(1)
        assert msg["To"] == "margaret@cfn.example"
        assert msg["From"] == "Critical Friends Network <hub@cfn.example>"
        assert msg["Subject"] == "Choose a new password for the Critical Friends Network"
        assert msg["Message-ID"].startswith("<cfn-outbox-")
        text, html = text_part(msg), html_part(msg)
        assert text.startswith("From the Critical Friends Network")
        assert "Hello Margaret Hill" in text and "works once, for 1 hour" in text
        assert "<h1" in html and "<img" not in html and "font-size:20px" in html
        assert link_in(msg, "/reset/") in html  # the link, written out in both parts
        # nothing a forwarded copy should not show: no other address, no account details
        assert "@" not in text.replace("margaret@cfn.example", "").replace("hub@cfn", "")
        (row,) = await wait_until(
            lambda: [r for r in outbox_rows(server.db) if r["status"] == "sent"]
        )
        assert row["context"] == "{}" and row["sent_at"]  # the link is not kept


async def test_a_temporary_refusal_is_retried_with_backoff_until_it_is_delivered(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        inbox.reply = "451 4.3.0 Mailbox busy, try later"
        server = await start_server(**smtp(inbox.port, mail_retry=0.3))
        server.user("yusuf@cfn.example")
        await ask_for_reset(server, "yusuf@cfn.example")
        row = await wait_until(
            lambda: [r for r in outbox_rows(server.db) if r["attempts"] >= 2 and r["last_error"]]
        )
        assert "451" in row[0]["last_error"] and row[0]["status"] in ("pending", "sending")
        assert inbox.messages == []
        inbox.reply = None
        await inbox.wait_for(1)
        done = await wait_until(
            lambda: [r for r in outbox_rows(server.db) if r["status"] == "sent"]
        )
        # at least one try after a refusal (the one in flight when the refusals stopped may be it)
        assert done[0]["attempts"] >= 2 and done[0]["last_error"] is None
        assert len(inbox.messages) == 1


async def test_an_email_that_keeps_failing_is_given_up_with_the_reason(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        inbox.reply = "421 4.7.0 Too busy"
        server = await start_server(**smtp(inbox.port, mail_retry=0.1, mail_give_up=0.6))
        server.user("dot@cfn.example")
        await ask_for_reset(server, "dot@cfn.example")
        failed = await wait_until(
            lambda: [r for r in outbox_rows(server.db) if r["status"] == "failed"]
        )
        assert failed[0]["last_error"].startswith("Gave up after repeated temporary failures")
        assert "421" in failed[0]["last_error"] and failed[0]["context"] == "{}"
        assert inbox.messages == []


async def test_a_permanent_refusal_is_not_retried_and_keeps_the_reason(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        inbox.reply = "550 5.1.1 No such mailbox"
        server = await start_server(**smtp(inbox.port, mail_retry=0.1))
        server.user("sam@cfn.example")
        await ask_for_reset(server, "sam@cfn.example")
        failed = await wait_until(
            lambda: [r for r in outbox_rows(server.db) if r["status"] == "failed"]
        )
        assert failed[0]["attempts"] == 1 and "550" in failed[0]["last_error"]


async def test_with_no_smtp_server_each_email_is_written_to_the_folder_and_its_path_logged(
    start_server: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mail-out"
    caplog.set_level(logging.INFO, logger="cfn.mail")
    server = await start_server(mail_out=str(folder))
    server.user("priya@cfn.example")
    await ask_for_reset(server, "priya@cfn.example")
    files = await wait_until(lambda: list(folder.glob("*.eml")))
    assert "priya@cfn.example" in files[0].read_text()
    assert any(str(files[0]) in r.getMessage() for r in caplog.records)


def test_enqueue_with_a_dedupe_key_queues_the_same_thing_once(tmp_path: Path) -> None:
    from server.storage.sqlite.database import migrate

    conn = open_sync(str(tmp_path / "o.db"))
    migrate(conn)
    args = ("digest", "ann@cfn.example", None, "Your week", "digest", {"n": 1}, "digest-1-w20")
    first = write_sync(conn, outbox.enqueue, *args)
    again = write_sync(conn, outbox.enqueue, *args)
    assert isinstance(first, int) and again is None
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
