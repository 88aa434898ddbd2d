"""Polls with a closing time, against a real server and a real aiosmtpd: poll.create and
the new-poll form take a future closing time and refuse a past one; the scheduler closes a
due poll exactly as a facilitator would (poll.closed goes out, an anonymous poll forgets who
chose what); members who asked, and have not voted, get one "closes soon" email; a poll that
fell due while the server was down closes once when it comes back, even after a SIGKILL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as datetime_time
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from server.domain import email_prefs, polls
from server.domain.accounts import User
from server.storage.engine import write_sync
from tests import pg
from tests.harness import Running, connect
from tests.people_helpers import log_in, page_csrf, wait_until
from tests.serverproc import ServerProcess
from tests.smtp import html_part, smtp_server, text_part

ORIGIN = "http://cfn.example"
HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def wants_poll_emails(server: Running, user: User, on: bool = True) -> None:
    write_sync(server.db, email_prefs.save, user, "never", False, on, False, "Europe/London")


def make_poll(
    server: Running,
    chair: User,
    closes_at: int | None,
    *,
    question: str = "Which day suits the visit?",
    anonymous: bool = False,
    at: int | None = None,
) -> int:
    made = write_sync(
        server.db,
        partial(polls.create_poll, closes_at=closes_at),
        chair,
        "north",
        question,
        ["Monday", "Tuesday"],
        "single",
        anonymous,
        "live",
        at=at,
    )
    return int(made["poll"]["id"])


def poll_row(server: Running, poll_id: int) -> sqlite3.Row:
    row = server.db.execute(
        "SELECT closes_at, closed_at, closed_by FROM polls WHERE id = ?", (poll_id,)
    ).fetchone()
    assert row is not None
    return row


async def test_poll_create_takes_a_future_closing_time_and_refuses_a_past_one(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    server.member("north", "priya@cfn.example", "chair")
    server.member("north", "sam@cfn.example")
    chair = await connect(server, server.token("priya@cfn.example"))
    watcher = await connect(server, server.token("sam@cfn.example"))
    try:
        await chair.call("join", room="north")
        await watcher.call("join", room="north")
        args = {"room": "north", "question": "Tea or coffee?", "options": ["Tea", "Coffee"]}
        past = now_ms() - 60_000
        assert await chair.error("poll.create", kind="single", closes_at=past, **args) == (
            "bad_request"
        )
        assert server.db.execute("SELECT count(*) FROM polls").fetchone()[0] == 0
        closes = now_ms() + 2 * 86_400_000
        made = await chair.call("poll.create", kind="single", closes_at=closes, **args)
        created = await watcher.event("poll.created")
        assert created["data"]["closes_at"] == closes and created["data"]["closed"] is False
        got = await watcher.call("poll.get", poll=made["poll"]["id"])
        assert got["poll"]["closes_at"] == closes
        plain = await chair.call("poll.create", kind="single", **args)  # as before: no time
        assert poll_row(server, plain["poll"]["id"])["closes_at"] is None
    finally:
        await chair.close()
        await watcher.close()


async def test_the_new_poll_form_shows_a_past_closing_time_again_and_the_page_says_when(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server()
    server.member("north", "priya@cfn.example", "chair")
    http = await log_in(server, "priya@cfn.example")
    try:
        csrf = await page_csrf(http, "/g/north/polls")
        form = {
            "csrf": csrf,
            "question": "Which day suits the visit?",
            "options": "Monday\nTuesday",
            "kind": "single",
            "anonymous": "no",
            "results": "live",
        }
        wrong = await http.post(
            "/g/north/polls", data={**form, "closes_date": "2020-12-08", "closes_time": "19:00"}
        )
        assert wrong.status_code == 400
        assert "That closing time has already passed." in wrong.text
        assert 'value="2020-12-08"' in wrong.text and 'value="Which day suits the visit?"' in (
            wrong.text
        )
        assert 'aria-invalid="true"' in wrong.text
        assert server.db.execute("SELECT count(*) FROM polls").fetchone()[0] == 0
        no_day = await http.post("/g/north/polls", data={**form, "closes_time": "19:00"})
        assert no_day.status_code == 400 and "Please give the day the poll closes" in no_day.text
        day = date.today() + timedelta(days=10)
        done = await http.post(
            "/g/north/polls", data={**form, "closes_date": day.isoformat(), "closes_time": "19:00"}
        )
        assert done.status_code == 303
        poll_id = server.db.execute("SELECT max(id) FROM polls").fetchone()[0]
        year = f" {day.year}" if day.year != date.today().year else ""
        words = f"Closes on {day:%A} {day.day} {day:%B}{year} at 7pm"
        page = await http.get(f"/g/north/polls/{poll_id}")
        assert words in page.text
        listing = await http.get("/g/north/polls")
        assert words in listing.text
        closes = datetime.combine(day, datetime_time(19, 0), tzinfo=ZoneInfo("Europe/London"))
        assert poll_row(server, poll_id)["closes_at"] == int(closes.timestamp() * 1000)
    finally:
        await http.aclose()


async def test_the_scheduler_closes_a_due_poll_as_a_facilitator_would_and_forgets_the_choices(
    start_server: Callable[..., Any],
) -> None:
    server = await start_server(scheduler_every=0.2)
    server.member("north", "priya@cfn.example", "chair")
    for name in ("sam", "ann", "bea", "cal", "dev"):
        server.member("north", f"{name}@cfn.example")
    chair = server.user("priya@cfn.example")
    poll_id = make_poll(server, chair, now_ms() + 1500, anonymous=True)
    open_poll = make_poll(server, chair, now_ms() + 86_400_000, question="Still open?")
    watcher = await connect(server, server.token("sam@cfn.example"))
    try:
        await watcher.call("join", room="north")
        for name in ("sam", "ann", "bea", "cal", "dev"):
            voter = server.user(f"{name}@cfn.example")
            write_sync(server.db, polls.vote, voter, poll_id, [0 if name != "dev" else 1])
        assert server.db.execute(
            "SELECT count(*) FROM poll_votes WHERE poll_id = ?", (poll_id,)
        ).fetchone()[0]
        closed = await watcher.event("poll.closed", timeout=10, poll=poll_id)
        assert closed["data"]["counts"] == [4, 1] and closed["data"]["voters"] == 5
        row = poll_row(server, poll_id)
        assert row["closed_at"] is not None and row["closed_by"] is None
        assert row["closed_at"] >= row["closes_at"]
        left = server.db.execute(
            "SELECT count(*) FROM poll_votes WHERE poll_id = ?", (poll_id,)
        ).fetchone()[0]
        assert left == 0  # anonymous: who chose what is gone, as after a facilitator's close
        assert poll_row(server, open_poll)["closed_at"] is None
        await asyncio.sleep(0.8)  # more rounds: closed once, one event
        events = server.db.execute(
            "SELECT count(*) FROM events WHERE type = 'poll.closed'"
        ).fetchone()[0]
        assert events == 1
        assert await watcher.error("poll.vote", poll=poll_id, choices=[0]) == "poll_closed"
    finally:
        await watcher.close()


async def test_members_who_asked_and_have_not_voted_get_one_closing_soon_email(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
            smtp_security="none",
            scheduler_every=0.2,
            origin=ORIGIN,
        )
        server.member("north", "priya@cfn.example", "chair")
        for name in ("margaret", "yusuf", "nadia"):
            server.member("north", f"{name}@cfn.example")
        server.member("south", "omar@cfn.example")
        margaret, yusuf = server.user("margaret@cfn.example"), server.user("yusuf@cfn.example")
        nadia, omar = server.user("nadia@cfn.example"), server.user("omar@cfn.example")
        wants_poll_emails(server, margaret)  # asked, has not voted: emailed
        wants_poll_emails(server, yusuf)  # asked, but has voted
        wants_poll_emails(server, nadia, on=False)  # did not ask
        wants_poll_emails(server, omar)  # asked, but not in the poll's group
        chair = server.user("priya@cfn.example")
        soon = make_poll(server, chair, now_ms() + 3 * HOUR_MS)
        make_poll(server, chair, now_ms() + 3 * 86_400_000, question="Later?")  # not yet
        write_sync(server.db, polls.vote, yusuf, soon, [1])
        got = await inbox.wait_for(1)
        await asyncio.sleep(1.0)  # several more rounds: still one
        assert [m["To"] for m in inbox.messages] == ["margaret@cfn.example"]
        msg = got[0]
        assert msg["Subject"] == "Closes soon: “Which day suits the visit?”"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = str(msg["List-Unsubscribe"]).strip()  # may be folded onto a new line
        assert unsubscribe.startswith(f"<{ORIGIN}/unsubscribe/")
        text = text_part(msg)
        assert "you have not voted yet" in text
        assert f"{ORIGIN}/g/north/polls/{soon}" in text
        assert "Which day suits the visit?" in html_part(msg)


async def test_in_a_no_message_text_group_the_closing_email_leaves_out_the_question(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
            smtp_security="none",
            scheduler_every=0.2,
            origin=ORIGIN,
        )
        server.group("north", "Renal transport")
        server.member("north", "priya@cfn.example", "chair")
        server.member("north", "margaret@cfn.example")
        write_sync(server.db, email_prefs.set_no_text, None, "north", True)
        wants_poll_emails(server, server.user("margaret@cfn.example"))
        make_poll(
            server,
            server.user("priya@cfn.example"),
            now_ms() + HOUR_MS,
            question="Dialysis times that suit me",
        )
        msg = (await inbox.wait_for(1))[0]
        assert msg["Subject"] == "A poll in Renal transport closes soon"
        assert "Dialysis" not in text_part(msg) and "Dialysis" not in html_part(msg)
        assert "does not include the question" in text_part(msg)


# --- due while down: closed once when it comes back, a SIGKILL and a restart later too -------


def _rows(db_path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pg.sqlite_only  # reads the SQLite file the server process writes
async def test_a_poll_due_while_the_server_was_down_closes_once_and_the_email_goes_once(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "cfn.db"
    arranging = Running(db_path)
    arranging.member("north", "priya@cfn.example", "chair")
    arranging.member("north", "margaret@cfn.example")
    wants_poll_emails(arranging, arranging.user("margaret@cfn.example"))
    chair = arranging.user("priya@cfn.example")
    made_at = now_ms() - 2 * HOUR_MS  # opened two hours ago, due an hour ago: server down
    overdue = make_poll(arranging, chair, made_at + HOUR_MS, at=made_at)
    soon = make_poll(arranging, chair, now_ms() + 5 * HOUR_MS, question="Closes tonight?")
    arranging.close()
    async with smtp_server() as mailbox:
        env = {
            "CFN_SMTP_HOST": "127.0.0.1",
            "CFN_SMTP_PORT": str(mailbox.port),
            "CFN_SMTP_SECURITY": "none",
            "CFN_SCHEDULER_EVERY": "0.2",
            "CFN_ORIGIN": ORIGIN,
        }
        proc = ServerProcess(db_path, **env)
        await proc.start()
        try:
            await mailbox.wait_for(1)
            await wait_until(
                lambda: _rows(db_path, f"SELECT closed_at FROM polls WHERE id = {overdue}")[0][0]
            )
            proc.kill()
            await proc.start()
            await asyncio.sleep(1.5)  # several rounds after the restart
            closed = _rows(db_path, "SELECT data FROM events WHERE type = 'poll.closed'")
            assert len(closed) == 1
            still_open = _rows(db_path, f"SELECT closed_at FROM polls WHERE id = {soon}")
            assert still_open[0][0] is None
            assert [m["To"] for m in mailbox.messages] == ["margaret@cfn.example"]
            assert "Closes tonight?" in mailbox.messages[0]["Subject"]
        finally:
            proc.stop()
