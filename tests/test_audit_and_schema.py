"""The audit trail of admin actions, and the schema that holds it: a database upgraded
migration by migration ends up exactly like a new one built from schema.sql."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from server.storage.sqlite.database import MIGRATIONS_DIR, _run_script, migrate, migrations
from tests.harness import Running, connect
from tests.serverproc import ROOT


def cli(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args, "--db", str(db)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_roles_removals_erasures_and_removed_messages_are_in_the_audit_log(
    server: Running,
) -> None:
    server.user("alice@cfn.example", role="admin")  # removing others' posts is for admins
    server.member("north", "alice@cfn.example", "chair")
    server.member("north", "bob@cfn.example")
    server.user("carol@cfn.example")
    alice, bob = (
        await connect(server, server.token("alice@cfn.example")),
        await connect(server, server.token("bob@cfn.example")),
    )
    for c in (alice, bob):
        await c.call("join", room="north")
    made = await bob.call("thread.create", room="north", title="T", body="rude", cid="r")
    await alice.call("message.delete", message=made["message"]["id"])  # moderated
    db = server.db_url
    assert (
        cli(
            db,
            "user",
            "add",
            "dan@cfn.example",
            "--name",
            "Dan",
            "--role",
            "staff",
            stdin="a long enough password\n",
        ).returncode
        == 0
    )
    assert (
        cli(db, "member", "add", "north", "carol@cfn.example", "--role", "facilitator").returncode
        == 0
    )
    assert cli(db, "user", "role", "carol@cfn.example", "staff").returncode == 0
    assert cli(db, "member", "remove", "north", "bob@cfn.example").returncode == 0
    assert cli(db, "user", "erase", "bob@cfn.example", "--yes").returncode == 0
    listed = cli(db, "audit")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    actions = [line.split()[3] for line in lines]
    assert actions == [
        "message.removed",
        "user.added",
        "member.role",
        "user.role",
        "member.removed",
        "user.erased",
    ]
    assert "Alice" in lines[0] and "console" in lines[2] and "role=facilitator" in lines[2]
    assert "role=staff" in lines[1]
    assert "bob@cfn.example" not in listed.stdout  # the trail names people by id only
    as_json = json.loads(cli(db, "audit", "--json").stdout)
    assert as_json[0]["action"] == "user.erased" and as_json[0]["detail"]["memberships"] == 0
    await alice.close()
    await bob.close()


def _shape(conn: sqlite3.Connection) -> dict[str, object]:
    """Tables with their columns, indexes and triggers, as SQLite itself reports them."""
    shape: dict[str, object] = {}
    for kind, name, table in conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    ):
        if kind == "table":
            shape[name] = [tuple(c) for c in conn.execute(f"PRAGMA table_xinfo('{name}')")]
        elif kind == "index":
            shape[name] = (table, [tuple(c) for c in conn.execute(f"PRAGMA index_xinfo('{name}')")])
        else:
            shape[name] = (kind, table)
    return shape


def test_upgrading_through_every_migration_gives_the_same_schema_as_schema_sql(
    tmp_path: Path,
) -> None:
    fresh = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    migrate(fresh)
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at INTEGER NOT NULL)"
    )
    first = migrations()[0]
    _run_script(old, first.sql, [(first.version, first.name)], 0)  # as shipped at first
    reached = migrate(old)
    assert reached == migrations()[-1].version
    assert sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))[-1].startswith(f"{reached:04d}_")
    assert _shape(old) == _shape(fresh)
