"""Every history and replay query uses an index: no full table scan, whatever the size."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.domain import accounts, discussions, inbox
from server.storage.sqlite.database import migrate, open_sync, write_sync
from server.web.pages import rooms as pages
from tests import pg

pytestmark = pg.sqlite_only  # reads SQLite's EXPLAIN QUERY PLAN


@pytest.fixture
def db(tmp_path: Path) -> sqlite3.Connection:
    conn = open_sync(str(tmp_path / "plans.db"))
    migrate(conn)
    write_sync(conn, accounts.add_user, "reader@cfn.example", "Reader")
    write_sync(conn, accounts.add_group, "north", "North")
    write_sync(conn, accounts.add_member, "north", "reader@cfn.example")
    return conn


def _statements_run_by(conn: sqlite3.Connection, fn, *args) -> list[str]:  # type: ignore[no-untyped-def]
    """The SELECTs (and WITH … SELECTs) a read function runs, with their parameters filled in."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        fn(conn, *args)
    finally:
        conn.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def _full_scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    plan = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    return [row[3] for row in plan if row[3].startswith("SCAN")]


def test_history_replay_and_thread_page_queries_search_an_index_and_never_scan_a_table(db):
    user = accounts.require_user(db, "reader@cfn.example")
    made = write_sync(db, discussions.create_thread, user, "north", "Hello", "First", "c1")
    thread = made["thread"]["id"]
    for i in range(5):
        write_sync(db, discussions.post_message, user, "north", thread, f"Body {i}", f"c{i + 2}")
    room_id = db.execute("SELECT id FROM rooms WHERE slug = 'north'").fetchone()[0]
    calls = [
        (discussions.history, user, "north", None, None, 50),
        (discussions.history, user, "north", None, 4, 50),
        (discussions.history, user, "north", thread, None, 50),
        (discussions.history, user, "north", thread, 4, 2),
        (discussions.events_after, room_id, 2, 7),
        (pages._thread_read, user, "north", thread, None),  # the HTML thread page
        (pages._thread_read, user, "north", thread, 1),
    ]
    checked = 0
    for fn, *args in calls:
        statements = _statements_run_by(db, fn, *args)
        assert statements, f"{fn.__name__} ran no SELECT"
        for sql in statements:
            assert _full_scans(db, sql) == [], sql
            checked += 1
    assert checked >= len(calls)


def test_the_plan_check_does_catch_a_query_without_an_index(db):
    # The guard above is only worth having if it sees a real scan.
    assert _full_scans(db, "SELECT * FROM messages WHERE body = 'x'")


def test_the_inbox_queries_search_an_index_and_never_scan_a_table(db):
    """What's new for you (domain/inbox.py) reads only through indexes: ≤ 20 ms p99 on the
    1M-message database rests on it (docs/performance.md)."""
    user = accounts.require_user(db, "reader@cfn.example")
    write_sync(db, accounts.add_user, "other@cfn.example", "Other")
    write_sync(db, accounts.add_member, "north", "other@cfn.example")
    other = accounts.require_user(db, "other@cfn.example")
    made = write_sync(db, discussions.create_thread, other, "north", "Hello", "First", "i1")
    write_sync(db, discussions.post_message, user, "north", made["thread"]["id"], "Hi", "i2")
    write_sync(db, discussions.post_message, other, "north", made["thread"]["id"], "Yo", "i3")
    write_sync(db, discussions.create_thread, other, "north", "New", "Unread", "i4")
    statements = _statements_run_by(db, inbox.entries, user)
    statements += _statements_run_by(db, inbox.unread_total, user)
    assert len(statements) >= 10
    assert any(s.startswith("WITH") for s in statements)
    for sql in statements:
        # "SCAN c"/"SCAN u"/"SCAN k" read what a subquery found through an index: the
        # group's candidate threads (at most the limit) and up to COUNT_CAP ids of one
        assert [s for s in _full_scans(db, sql) if s not in INBOX_RESULTS] == [], sql


INBOX_RESULTS = {"SCAN c", "SCAN u", "SCAN k"}


def test_the_inbox_runs_a_few_statements_per_group_however_many_threads_are_unread(db):
    """The digests read the inbox of every member due (1,000 in ≤ 5 s): per group one
    statement for all its threads, not three per thread as before (docs/performance.md)."""
    write_sync(db, accounts.add_group, "south", "South")
    write_sync(db, accounts.add_member, "south", "reader@cfn.example")
    write_sync(db, accounts.add_user, "other@cfn.example", "Other")
    for room in ("north", "south"):
        write_sync(db, accounts.add_member, room, "other@cfn.example")
    user = accounts.require_user(db, "reader@cfn.example")
    other = accounts.require_user(db, "other@cfn.example")
    for room in ("north", "south"):
        for i in range(15):
            made = write_sync(
                db, discussions.create_thread, other, room, f"T{i}", "Hi", f"{room}{i}"
            )
            write_sync(
                db,
                discussions.post_message,
                other,
                room,
                made["thread"]["id"],
                "More",
                f"{room}{i}r",
            )
    long = write_sync(db, discussions.create_thread, other, "north", "Long", "Start", "long")
    for i in range(inbox.COUNT_CAP + 5):
        write_sync(
            db, discussions.post_message, other, "north", long["thread"]["id"], f"M{i}", f"l{i}"
        )
    statements = _statements_run_by(db, inbox.entries, user)
    found = inbox.entries(db, user)
    assert len(found) == 31
    # the groups, then threads, polls, ideas and meetings of each of the 2 groups
    assert len(statements) == 1 + 4 * 2
    assert len(_statements_run_by(db, inbox.unread_total, user)) == 1 + 4 * 2
    assert inbox.unread_total(db, user) == len(found)
    [capped] = [e for e in found if e.title == "Long"]
    assert (capped.count, capped.detail) == (inbox.COUNT_CAP, "New thread, 100 or more messages")
    assert capped.excerpt == f"M{inbox.COUNT_CAP + 4}"  # the newest, however many came before
    assert {e.count for e in found if e.title != "Long"} == {2}


def test_search_queries_use_the_full_text_index_and_scan_no_table(db):
    from server.domain import search

    user = accounts.require_user(db, "reader@cfn.example")
    made = write_sync(db, discussions.create_thread, user, "north", "Taxi times", "Taxi", "s1")
    write_sync(db, discussions.post_message, user, "north", made["thread"]["id"], "taxi", "s2")
    filters = [
        search.Filters(q="taxi"),
        search.Filters(q="taxi late", group="north", person=user.id, date_from="2026-01-01"),
    ]
    checked = 0
    for f in filters:
        statements = _statements_run_by(db, search.search, user, f)
        assert any("search_index MATCH" in s for s in statements)
        for sql in statements:
            plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
            # FTS5's own index is a "SCAN ... VIRTUAL TABLE INDEX"; a subquery of its rows
            # is scanned as such. Neither is a table scan.
            scans = [
                p
                for p in plan
                if p.startswith("SCAN") and "VIRTUAL TABLE" not in p and "subquery" not in p
            ]
            assert scans == [], (sql, plan)
            checked += 1
    assert checked >= 4
