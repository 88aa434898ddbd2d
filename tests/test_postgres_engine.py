"""The PostgreSQL engine's own promises: placeholders, rows, schema, lock order, epoch.

The rest of the suite runs against PostgreSQL on the second pass (CFN_TEST_DB=postgres);
these run on every pass, starting a throwaway cluster when the run did not, and are
skipped only where PostgreSQL is not installed.
"""

from __future__ import annotations

import asyncio
import glob
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain import accounts, discussions
from server.storage.engine import open_store, open_sync, write_sync
from server.storage.postgres import schema
from server.storage.postgres.database import PgConn, PgTx, cluster_identity, connect
from server.storage.postgres.sql import translate
from server.storage.sqlite.database import SCHEMA_PATH, migrations
from server.storage.sqlite.database import open_sync as sqlite_open
from tests import pg, pgserver
from tests.serverproc import ROOT

needs_postgres = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="PostgreSQL is not installed"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg.Cluster]:
    """The run's cluster on the PostgreSQL pass; a cluster of our own on the SQLite pass."""
    if pg._cluster is not None:
        yield pg._cluster
        return
    own = pg.Cluster()
    try:
        own.start()
        yield own
    finally:
        own.stop()


def fresh(cluster: pg.Cluster, tmp_path: Path, name: str = "db") -> str:
    return cluster.database_for(tmp_path / f"{name}.db")


def test_placeholders_translate_outside_quoted_text_and_percent_signs_are_kept() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == (
        "SELECT a FROM t WHERE b = %s AND c = %s"
    )
    assert translate("SELECT :name, x::bigint, 10 % 3") == "SELECT %(name)s, x::bigint, 10 %% 3"
    assert translate("SELECT 'a?b :c 50%' , \"q?\" -- what?\n, ?") == (
        "SELECT 'a?b :c 50%%' , \"q?\" -- what?\n, %s"
    )
    assert translate("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"
    assert translate("SELECT $$ ? $$, ?") == "SELECT $$ ? $$, %s"


def test_every_sqlite_trigger_has_a_postgres_trigger_of_the_same_name() -> None:
    # SQLite-only blocks (the FTS5 search index, 0010) have a PostgreSQL file of their own.
    for name in schema.sqlite_only_steps(SCHEMA_PATH.read_text()):
        assert (schema.HERE / "migrations" / name).exists(), name
    in_sqlite = schema.sqlite_triggers(schema.shared_part(SCHEMA_PATH.read_text()))
    in_postgres = schema.postgres_triggers(schema.TRIGGERS_PATH.read_text())
    assert in_sqlite and sorted(in_sqlite) == sorted(in_postgres)


def test_a_migration_that_cannot_be_translated_is_refused_not_half_run() -> None:
    with pytest.raises(schema.Untranslatable, match="trigger"):
        schema.translate_ddl(
            "CREATE TRIGGER t AFTER DELETE ON x BEGIN INSERT INTO y VALUES (1); END;"
        )
    with pytest.raises(schema.Untranslatable, match="unixepoch"):
        schema.translate_ddl("UPDATE x SET at = unixepoch();")


@needs_postgres
def test_postgres_schema_has_the_sqlite_schemas_tables_and_columns(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    lite = sqlite_open(str(tmp_path / "lite.db"))
    from server.storage.sqlite.database import migrate

    migrate(lite)
    conn = open_sync(fresh(cluster, tmp_path))
    assert isinstance(conn, PgConn)
    assert conn.tables() == lite.tables()
    for table in sorted(lite.tables()):
        lite_cols = [r[1] for r in lite.execute(f"PRAGMA table_info('{table}')")]
        pg_cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
                " AND table_schema = current_schema() ORDER BY ordinal_position",
                (table,),
            )
        ]
        assert pg_cols == lite_cols, table

    def refs(c: Any) -> dict[str, list[str]]:
        return {k: sorted(v) for k, v in c.columns_referencing("users").items()}

    assert refs(conn) == refs(lite)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [m.version for m in migrations()]
    lite.close()
    conn.close()


@needs_postgres
def test_rows_index_by_position_and_name_and_whole_sums_are_ints(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    conn = open_sync(fresh(cluster, tmp_path))
    write_sync(conn, accounts.add_group, "north", "North", "regional")
    row = conn.one("SELECT slug, name, sum(id) AS total FROM groups GROUP BY slug, name")
    assert row is not None
    assert row[0] == row["slug"] == "north" and row["name"] == "North"
    assert dict(row) == {"slug": "north", "name": "North", "total": 1}
    assert type(row["total"]) is int
    assert accounts.user_by_email(conn, "nobody@cfn.example") is None
    write_sync(conn, accounts.add_user, "Ann@CFN.example", "Ann", "member", None)
    found = accounts.user_by_email(conn, "ann@cfn.example")
    assert found is not None and found.name == "Ann", "emails match whatever their case"
    conn.close()


@needs_postgres
async def test_two_processes_locking_rooms_in_opposite_orders_both_commit_without_a_gap(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """Each write posts to room A then room B or B then A, from two engines at once (two
    server processes, in effect): rooms are locked in id order, so no batch deadlocks,
    every write commits, and each room's seqs run 1..N."""
    url = fresh(cluster, tmp_path)
    setup = open_sync(url)
    author = write_sync(setup, accounts.add_user, "ann@cfn.example", "Ann", "staff", None)
    threads: dict[str, int] = {}
    for slug in ("room-a", "room-b"):
        write_sync(setup, accounts.add_group, slug, slug, "regional")
        write_sync(setup, accounts.add_member, slug, "ann@cfn.example", "chair")
        made = write_sync(setup, discussions.create_thread, author, slug, "T", "start", slug)
        threads[slug] = made["thread"]["id"]
    setup.close()

    def both(tx: PgTx, order: tuple[str, str], n: int) -> None:
        for slug in order:
            discussions.post_message(tx, author, slug, threads[slug], f"{n}", f"{order[0]}-{n}")

    one, two = await open_store(url), await open_store(url)
    try:
        writes = [
            db.write(both, order, n)
            for n in range(60)
            for db, order in ((one, ("room-a", "room-b")), (two, ("room-b", "room-a")))
        ]
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert [r for r in results if r is not None] == []
        check = connect(url)
        for slug in ("room-a", "room-b"):
            seqs = [
                r[0]
                for r in check.execute(
                    "SELECT e.seq FROM events e JOIN rooms r ON r.id = e.room_id"
                    " WHERE r.slug = ? ORDER BY e.seq",
                    (slug,),
                )
            ]
            last = check.value("SELECT last_seq FROM rooms WHERE slug = ?", (slug,))
            assert seqs == list(range(1, last + 1)) and last >= 121, slug  # + 120 posts
        check.close()
    finally:
        await one.close()
        await two.close()


@needs_postgres
async def test_the_epoch_changes_when_the_data_lands_in_another_database(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """A copy (a restore, a new cluster, a promoted replica) may hold different history:
    its epoch differs, so resuming clients are told ``recovered: false``."""
    url = fresh(cluster, tmp_path, "origin")
    db = await open_store(url)
    first = db.epoch
    await db.close()
    again = await open_store(url)
    assert again.epoch == first, "reopening the same database keeps the epoch"
    await again.close()

    name = url.rsplit("/", 1)[1]
    cluster.sql(f"CREATE DATABASE {name}_copy TEMPLATE {name}")
    copy = await open_store(cluster.url(f"{name}_copy"))
    assert copy.epoch != first
    await copy.close()


@needs_postgres
def test_the_cluster_identity_names_cluster_timeline_and_database(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    conn = open_sync(fresh(cluster, tmp_path))
    assert isinstance(conn, PgConn)
    system, timeline, oid = cluster_identity(conn).split(".")
    assert system.isdigit() and len(timeline) == 8 and oid.isdigit()
    stored: Any = conn.value("SELECT value FROM meta WHERE key = 'epoch_identity'")
    assert stored == cluster_identity(conn)
    conn.close()


def test_a_postgres_url_that_cannot_be_reached_is_one_line_and_hides_the_password() -> None:
    port = pgserver.free_port()  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "server", "group", "add", "north", "--name", "North",
         "--db", f"postgresql://cfn:s3cret@127.0.0.1:{port}/cfn"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Cannot reach the database" in lines[0], done.stderr
    assert "s3cret" not in done.stderr and "cfn:***@" in lines[0]


@needs_postgres
def test_an_anonymous_polls_choices_are_gone_from_the_table_pages_when_it_closes(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """PostgreSQL has no secure_delete: erase_rows VACUUMs the table after the commit, so
    no heap page of poll_votes still holds a row linking a member to a choice (read with
    pageinspect, which sees row versions no query can)."""
    from server.domain import polls

    conn = open_sync(fresh(cluster, tmp_path))
    assert isinstance(conn, PgConn)
    write_sync(conn, accounts.add_group, "north", "North", "regional")
    fay = write_sync(conn, accounts.add_user, "fay@cfn.example", "Fay", "staff", None)
    write_sync(conn, accounts.add_member, "north", "fay@cfn.example", "facilitator")
    voters = []
    for n in range(6):
        email = f"v{n}@cfn.example"
        voters.append(write_sync(conn, accounts.add_user, email, f"V{n}", "member", None))
        write_sync(conn, accounts.add_member, "north", email, "member")
    poll = write_sync(conn, polls.create_poll, fay, "north", "Q", ["a", "b"], "single", True)
    poll_id = poll["poll"]["id"]
    for n, voter in enumerate(voters):
        write_sync(conn, polls.vote, voter, poll_id, [n % 2])
    conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")

    def row_versions_on_pages(table: str) -> int:
        size = "pg_relation_size(?) / current_setting('block_size')::int"
        blocks = int(conn.value(f"SELECT {size}", (table,)))
        return sum(
            int(
                conn.value(
                    "SELECT count(*) FROM heap_page_items(get_raw_page(?, ?))"
                    " WHERE t_data IS NOT NULL",
                    (table, block),
                )
            )
            for block in range(blocks)
        )

    assert row_versions_on_pages("poll_votes") == 6
    write_sync(conn, polls.close, fay, poll_id)
    assert conn.value("SELECT count(*) FROM poll_votes") == 0
    assert row_versions_on_pages("poll_votes") == 0, "deleted choices are still on the pages"
    conn.close()


@needs_postgres
async def test_one_batch_reaching_many_rooms_in_descending_order_commits_whole(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """Twenty rooms met highest first inside one group commit: each lower room restarts
    the batch with every room known so far locked in order, and it still commits."""
    url = fresh(cluster, tmp_path)
    setup = open_sync(url)
    author = write_sync(setup, accounts.add_user, "ann@cfn.example", "Ann", "staff", None)
    threads: dict[str, int] = {}
    for n in range(20):
        slug = f"room-{n:02d}"
        write_sync(setup, accounts.add_group, slug, slug, "regional")
        write_sync(setup, accounts.add_member, slug, "ann@cfn.example", "chair")
        threads[slug] = write_sync(
            setup, discussions.create_thread, author, slug, "T", "start", slug
        )["thread"]["id"]
    setup.close()

    def descending(tx: PgTx) -> None:
        for slug in sorted(threads, reverse=True):
            discussions.post_message(tx, author, slug, threads[slug], "hi", f"d-{slug}")

    db = await open_store(url)
    try:
        await db.write(descending)
        check = connect(url)
        posts = check.value("SELECT count(*) FROM messages WHERE cid LIKE 'd-%'")
        assert posts == 20
        check.close()
    finally:
        await db.close()


@needs_postgres
def test_a_poll_closing_on_its_own_while_a_chair_closes_it_in_another_process_closes_once(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """The scheduler of one process closes a poll at its closing time while a facilitator's
    "Close" runs in another: the second waits for the first's row lock and then finds the
    poll closed, so there is one poll.closed event, one audit entry and the first's counts."""
    import threading

    from server.domain import polls

    url = fresh(cluster, tmp_path)
    conn = open_sync(url)
    write_sync(conn, accounts.add_group, "north", "North", "regional")
    fay = write_sync(conn, accounts.add_user, "fay@cfn.example", "Fay", "staff", None)
    write_sync(conn, accounts.add_member, "north", "fay@cfn.example", "facilitator")
    poll = write_sync(conn, polls.create_poll, fay, "north", "Q", ["a", "b"], "single", True)
    poll_id = poll["poll"]["id"]
    for n in range(3):
        email = f"v{n}@cfn.example"
        voter = write_sync(conn, accounts.add_user, email, f"V{n}", "member", None)
        write_sync(conn, accounts.add_member, "north", email, "member")
        write_sync(conn, polls.vote, voter, poll_id, [0])
    conn.execute("UPDATE polls SET closes_at = 1 WHERE id = ?", (poll_id,))  # it is due
    other = open_sync(url)
    closed, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def due_then_wait(tx: PgTx) -> None:
        polls.close_due(tx)
        closed.set()
        go.wait(10)  # still uncommitted while the chair's close starts

    def run(*args: Any) -> None:
        try:
            write_sync(*args)
        except Exception as e:  # reported below
            errors.append(e)

    scheduler = threading.Thread(target=run, args=(conn, due_then_wait))
    scheduler.start()
    assert closed.wait(10)
    chair = threading.Thread(target=run, args=(other, polls.close, fay, poll_id))
    chair.start()
    time.sleep(0.5)  # the chair's close has read the poll as open and waits for the row
    go.set()
    scheduler.join(10)
    chair.join(10)
    check = connect(url)
    try:
        events = check.value("SELECT count(*) FROM events WHERE type = 'poll.closed'")
        audits = check.value("SELECT count(*) FROM audit_log WHERE action = 'poll.close'")
        final = check.value("SELECT final FROM polls WHERE id = ?", (poll_id,))
    finally:
        check.close()
        conn.close()
        other.close()
    assert [type(e).__name__ for e in errors] == ["PollClosed"]
    assert (events, audits) == (1, 1)
    assert '"voters": 3' in final


def test_a_vote_racing_the_close_of_an_anonymous_poll_in_another_process_leaves_no_choice(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """A vote in one process while another closes an anonymous poll: the vote waits for the
    close's row lock and is then refused, so no member-choice row outlives the close."""
    import threading

    from server.domain import polls

    url = fresh(cluster, tmp_path)
    conn = open_sync(url)
    write_sync(conn, accounts.add_group, "north", "North", "regional")
    fay = write_sync(conn, accounts.add_user, "fay@cfn.example", "Fay", "staff", None)
    write_sync(conn, accounts.add_member, "north", "fay@cfn.example", "facilitator")
    late = write_sync(conn, accounts.add_user, "late@cfn.example", "Late", "member", None)
    write_sync(conn, accounts.add_member, "north", "late@cfn.example", "member")
    poll_id = write_sync(conn, polls.create_poll, fay, "north", "Q", ["a", "b"], "single", True)[
        "poll"
    ]["id"]
    other = open_sync(url)
    closed, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def close_then_wait(tx: PgTx) -> None:
        polls.close(tx, fay, poll_id)
        closed.set()
        go.wait(10)  # still uncommitted while the vote starts

    def run(*args: Any) -> None:
        try:
            write_sync(*args)
        except Exception as e:  # reported below
            errors.append(e)

    closer = threading.Thread(target=run, args=(conn, close_then_wait))
    closer.start()
    assert closed.wait(10)
    voter = threading.Thread(target=run, args=(other, polls.vote, late, poll_id, [1]))
    voter.start()
    time.sleep(0.5)  # the vote has read the poll as open and waits for the row
    go.set()
    closer.join(10)
    voter.join(10)
    check = connect(url)
    try:
        choices = check.value("SELECT count(*) FROM poll_votes WHERE poll_id = ?", (poll_id,))
    finally:
        check.close()
        conn.close()
        other.close()
    assert [type(e).__name__ for e in errors] == ["PollClosed"]
    assert choices == 0


def test_processes_opening_a_new_database_together_share_one_secret(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    """Several `serve` processes started at once on a new database each make the
    installation's secret (per-group aliases derive from it): one is stored, all use it."""
    url = fresh(cluster, tmp_path)
    script = (
        "import asyncio, sys\n"
        "from server.storage.engine import open_store\n"
        "async def main():\n"
        "    db = await open_store(sys.argv[1])\n"
        "    print(db.secret)\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err[-300:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1
