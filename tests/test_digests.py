"""The summary emails against a real server and a real aiosmtpd: content for members with
different settings, nothing at all when nothing is new, the "no message text" group,
staff-only posts, HTML that is headed and link-true, and exactly one digest per member
after a SIGKILL of a real ``serve`` process and a restart."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from server.domain import discussions, email_prefs, following, inbox, polls
from server.domain.accounts import User
from server.storage.engine import write_sync
from tests import pg
from tests.harness import Running
from tests.people_helpers import wait_until
from tests.serverproc import ServerProcess, free_port
from tests.smtp import html_part, smtp_server, text_part

ORIGIN = "http://cfn.example"


def digest_settings(port: int) -> dict[str, Any]:
    """digest_hour 0: the current day's (and week's) digest is due as soon as it starts."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "scheduler_every": 0.2,
        "digest_hour": 0,
        "origin": ORIGIN,
    }


def choose(server: Running, user: User, digest: str) -> None:
    write_sync(server.db, email_prefs.save, user, digest, False, False, False, "Europe/London")


def arrange_network(server: Running) -> dict[str, User]:
    """North: Priya writes; Margaret daily, Yusuf weekly, Dot never, Sam weekly but reads
    everything in the app; Nadia (staff facilitator) daily."""
    people = {}
    for name in ("priya", "margaret", "yusuf", "dot", "sam"):
        server.member("north", f"{name}@cfn.example", "chair" if name == "priya" else "member")
        people[name] = server.user(f"{name}@cfn.example")
    server.user("nadia@cfn.example", "Nadia", role="staff")
    server.member("north", "nadia@cfn.example", "facilitator")
    people["nadia"] = server.user("nadia@cfn.example")
    for name, digest in (
        ("margaret", "daily"),
        ("yusuf", "weekly"),
        ("dot", "never"),
        ("sam", "weekly"),
        ("nadia", "daily"),
    ):
        choose(server, people[name], digest)
    time.sleep(0.01)  # what follows happens after they joined
    priya = people["priya"]
    made = write_sync(
        server.db,
        discussions.create_thread,
        priya,
        "north",
        "Leaflet draft for feedback",
        "Here is the draft leaflet",
        "t1",
    )
    write_sync(
        server.db,
        discussions.create_thread,
        people["nadia"],
        "north",
        "Staff planning",
        "A staff-only note about rotas",
        "t2",
        True,
    )
    write_sync(
        server.db,
        discussions.post_message,
        priya,
        "north",
        made["thread"]["id"],
        "Please comment by Friday",
        "m1",
    )
    write_sync(server.db, inbox.mark_all_read, people["sam"])  # Sam read everything
    return people


class Outline(HTMLParser):
    """Headings, images and links of an email's HTML part."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")


async def test_digests_list_what_is_unread_for_each_member_by_their_own_setting(
    tmp_path: Path,
) -> None:
    async with smtp_server() as mailbox:
        server = Running(tmp_path / "cfn.db", **digest_settings(mailbox.port))
        people = arrange_network(server)
        await server.start()
        try:
            await mailbox.wait_for(3)
            await asyncio.sleep(1.0)  # more rounds: nothing else comes
            by_to = {m["To"]: m for m in mailbox.messages}
            assert sorted(by_to) == sorted(
                p.email for p in (people["margaret"], people["yusuf"], people["nadia"])
            )  # Dot chose never; Sam read everything; Priya chose nothing
            assert len(mailbox.messages) == 3
            daily, weekly = by_to[people["margaret"].email], by_to[people["yusuf"].email]
            assert daily["Subject"].startswith("Your daily summary: ")
            assert weekly["Subject"].startswith("Your weekly summary: ")
            text = text_part(daily)
            assert "Leaflet draft for feedback" in text and "Please comment by Friday" in text
            assert "staff-only note" not in text and "Staff planning" not in text
            assert "Leaflet draft for feedback" in text_part(by_to[people["nadia"].email])
            assert daily["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            outline = Outline()
            outline.feed(html_part(daily))
            assert outline.headings[0] == "h1" and outline.headings.count("h1") == 1
            assert "h2" in outline.headings  # one per group
            assert all(img.get("alt") for img in outline.images)  # none without alt text
            assert outline.links and all(link.startswith(ORIGIN) for link in outline.links)
        finally:
            await server.stop()
            server.close()


async def test_no_digest_is_sent_when_nothing_is_new_and_the_period_is_recorded(
    tmp_path: Path,
) -> None:
    async with smtp_server() as mailbox:
        server = Running(tmp_path / "cfn.db", **digest_settings(mailbox.port))
        server.member("north", "margaret@cfn.example")
        margaret = server.user("margaret@cfn.example")
        choose(server, margaret, "daily")
        await server.start()
        try:
            await wait_until(lambda: email_prefs.prefs_of(server.db, margaret.id).last_period)
            await asyncio.sleep(0.6)
            assert mailbox.messages == []
            assert server.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        finally:
            await server.stop()
            server.close()


async def test_a_no_message_text_group_is_summed_up_in_a_digest_without_what_was_said(
    tmp_path: Path,
) -> None:
    async with smtp_server() as mailbox:
        server = Running(tmp_path / "cfn.db", **digest_settings(mailbox.port))
        server.member("renal", "yusuf@cfn.example")
        server.member("renal", "dot@cfn.example")
        yusuf, dot = server.user("yusuf@cfn.example"), server.user("dot@cfn.example")
        choose(server, yusuf, "daily")
        write_sync(server.db, email_prefs.set_no_text, None, "renal", True)
        await asyncio.sleep(0.01)  # what follows happens after they joined
        made = write_sync(
            server.db, discussions.create_thread, dot, "renal", "My dialysis week", "Tiring", "a"
        )
        for n in range(2):
            write_sync(
                server.db,
                discussions.post_message,
                dot,
                "renal",
                made["thread"]["id"],
                f"Kidney results {n}",
                f"b{n}",
            )
        await server.start()
        try:
            (msg,) = await mailbox.wait_for(1)
            text, html = text_part(msg), html_part(msg)
            assert "3 new messages in Renal" in text and "3 new messages in Renal" in html
            for secret in ("dialysis", "Kidney", "Tiring"):
                assert secret not in text and secret not in html and secret not in msg["Subject"]
        finally:
            await server.stop()
            server.close()


# --- SIGKILL: due while down, once after the restart ---------------------------------------


def _outbox(db_path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM outbox WHERE kind = 'digest' ORDER BY id").fetchall()
    finally:
        conn.close()


@pg.sqlite_only  # reads the SQLite file the server process writes
async def test_a_digest_due_when_the_server_is_killed_goes_exactly_once_per_member(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "cfn.db"
    arranging = Running(db_path)
    people = arrange_network(arranging)
    arranging.close()
    smtp_port = free_port()  # nothing listens yet: the digests are queued, not sent
    env = {
        "CFN_SMTP_HOST": "127.0.0.1",
        "CFN_SMTP_PORT": str(smtp_port),
        "CFN_SMTP_SECURITY": "none",
        "CFN_MAIL_RETRY": "0.3",
        "CFN_MAIL_LEASE": "1",  # a row killed mid-try is tried again a second later
        "CFN_SCHEDULER_EVERY": "0.2",
        "CFN_DIGEST_HOUR": "0",
        "CFN_ORIGIN": ORIGIN,
    }
    proc = ServerProcess(db_path, **env)
    await proc.start()
    try:
        await wait_until(lambda: len(_outbox(db_path)) == 3)
        proc.kill()  # due, queued, never sent
        assert all(r["sent_at"] is None for r in _outbox(db_path))
        async with smtp_server(smtp_port) as mailbox:
            await proc.start()
            await mailbox.wait_for(3, timeout=30)  # after any retry delay of the first run
            await asyncio.sleep(1.5)  # several scheduler rounds and sender polls
            got = sorted(m["To"] for m in mailbox.messages)
            assert got == sorted(
                p.email for p in (people["margaret"], people["yusuf"], people["nadia"])
            )
            assert len(_outbox(db_path)) == 3
    finally:
        proc.stop()


@pg.sqlite_only
async def test_a_digest_that_fell_due_while_the_server_was_down_goes_once_when_it_starts(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "cfn.db"
    arranging = Running(db_path)
    people = arrange_network(arranging)
    arranging.close()
    async with smtp_server() as mailbox:
        env = {
            "CFN_SMTP_HOST": "127.0.0.1",
            "CFN_SMTP_PORT": str(mailbox.port),
            "CFN_SMTP_SECURITY": "none",
            "CFN_SCHEDULER_EVERY": "0.2",
            "CFN_DIGEST_HOUR": "0",
            "CFN_ORIGIN": ORIGIN,
        }
        proc = ServerProcess(db_path, **env)
        await proc.start()
        try:
            await mailbox.wait_for(3)
            proc.kill()
            await proc.start()  # the same period: already dealt with
            await asyncio.sleep(1.5)
            assert len(mailbox.messages) == 3
            assert len({m["To"] for m in mailbox.messages}) == 3
            assert people["dot"].email not in {m["To"] for m in mailbox.messages}
        finally:
            proc.stop()


async def test_an_anonymous_polls_result_in_a_digest_waits_for_the_configured_threshold(
    tmp_path: Path,
) -> None:
    """The network chose k = 10: a closed anonymous poll that 6 voted in shows its counts
    in no email, as its live results waited for 10 (one setting for every path)."""
    async with smtp_server() as mailbox:
        settings = {**digest_settings(mailbox.port), "privacy_threshold": 10}
        server = Running(tmp_path / "cfn.db", **settings)
        server.member("north", "priya@cfn.example", "chair")
        server.member("north", "margaret@cfn.example")
        priya, margaret = server.user("priya@cfn.example"), server.user("margaret@cfn.example")
        choose(server, margaret, "daily")
        await asyncio.sleep(0.01)  # what follows happens after they joined
        made = write_sync(
            server.db,
            partial(polls.create_poll, threshold=10),
            priya,
            "north",
            "Which topic next time?",
            ["Handover times", "Frequent callers"],
            "single",
            True,
        )
        poll_id = made["poll"]["id"]
        write_sync(server.db, following.set_follow, margaret, "north", "poll", poll_id, True)
        for n in range(6):
            server.member("north", f"voter{n}@cfn.example")
            voter = server.user(f"voter{n}@cfn.example")
            write_sync(server.db, partial(polls.vote, threshold=10), voter, poll_id, [n % 2])
        write_sync(server.db, polls.close, priya, poll_id)
        await server.start()
        try:
            (msg,) = await mailbox.wait_for(1)
            text, html = text_part(msg), html_part(msg)
            assert "Which topic next time?" in text  # the poll is listed ...
            for shown in (text, html):  # ... but not how 6 people chose
                assert "Result:" not in shown and "Handover times:" not in shown
        finally:
            await server.stop()
            server.close()
