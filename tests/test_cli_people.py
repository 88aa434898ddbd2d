"""The people commands as a real subprocess: user list, group list, member list, invite and
reset-link, with --json for scripts; a refusal is one line on stderr and a non-zero exit.
And the new personal tables are exported and erased with the rest."""

from __future__ import annotations

import json
from pathlib import Path

from server.domain import accounts, people, privacy
from server.storage.sqlite.database import migrate, open_sync, write_sync
from tests.test_cli import cli, ok, one_line_failure


def _arrange(db: Path) -> None:
    conn = open_sync(str(db))
    migrate(conn)
    write_sync(conn, accounts.add_group, "north", "North Yorkshire", "regional")
    write_sync(conn, accounts.add_user, "ann@cfn.example", "Ann Archer", "member", None)
    write_sync(conn, accounts.add_member, "north", "ann@cfn.example", "chair")
    conn.close()


def test_the_list_commands_print_lines_and_json(tmp_path: Path) -> None:
    db = tmp_path / "cfn.db"
    _arrange(db)
    assert "ann@cfn.example" in ok(cli("user", "list", "--db", str(db)))
    users = json.loads(ok(cli("user", "list", "--db", str(db), "--json", "--search", "archer")))
    assert [u["email"] for u in users] == ["ann@cfn.example"]
    assert json.loads(ok(cli("user", "list", "--db", str(db), "--json", "--search", "zz"))) == []
    groups = json.loads(ok(cli("group", "list", "--db", str(db), "--json")))
    assert groups[0]["slug"] == "north" and groups[0]["members"] == 1
    members = json.loads(ok(cli("member", "list", "north", "--db", str(db), "--json")))
    assert [(m["email"], m["role"]) for m in members] == [("ann@cfn.example", "chair")]
    assert "no group called south" in one_line_failure(
        cli("member", "list", "south", "--db", str(db))
    )


def test_invite_queues_the_email_with_a_link_and_reset_link_prints_one(tmp_path: Path) -> None:
    db = tmp_path / "cfn.db"
    _arrange(db)
    out = json.loads(
        ok(
            cli(
                "invite",
                "ben@cfn.example",
                "--group",
                "north",
                "--role",
                "facilitator",
                "--origin",
                "https://cfn.example.org",
                "--db",
                str(db),
                "--json",
            )
        )
    )
    assert out == {
        "email": "ben@cfn.example",
        "group": "north",
        "role": "facilitator",
        "result": "invited",
    }
    conn = open_sync(str(db))
    row = conn.execute("SELECT to_address, context FROM outbox").fetchone()
    assert row[0] == "ben@cfn.example"
    assert json.loads(row[1])["link"].startswith("https://cfn.example.org/invite/")
    made = json.loads(ok(cli("reset-link", "ann@cfn.example", "--db", str(db), "--json")))
    assert made["link"].startswith("http://127.0.0.1:8000/reset/") and made["expires_at"]
    token = made["link"].rsplit("/", 1)[1]
    assert (
        people.check_link(conn, "reset", token, made["expires_at"] - 1).email == "ann@cfn.example"
    )
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["invite.sent", "password.reset_link"]
    conn.close()
    assert "whole email address" in one_line_failure(
        cli("invite", "ben", "--group", "north", "--db", str(db))
    )
    assert "no group called nowhere" in one_line_failure(
        cli("invite", "c@cfn.example", "--group", "nowhere", "--db", str(db))
    )
    assert "no active account" in one_line_failure(
        cli("reset-link", "zed@cfn.example", "--db", str(db))
    )


def test_needs_emails_and_links_are_exported_and_erased_with_the_member(tmp_path: Path) -> None:
    db = tmp_path / "cfn.db"
    _arrange(db)
    conn = open_sync(str(db))
    ann = accounts.require_user(conn, "ann@cfn.example")
    write_sync(conn, people.set_needs, ann, "easy_read", {"bsl"}, "Step-free access")
    write_sync(conn, people.request_reset, "ann@cfn.example", "https://cfn.example.org")
    held = privacy.export_user(conn, "ann@cfn.example")
    assert held["member_needs"][0]["papers"] == "easy_read"
    assert held["emails"][0]["kind"] == "reset" and "context" not in held["emails"][0]
    assert held["links"][0]["purpose"] == "reset" and "token_hash" not in held["links"][0]
    write_sync(conn, privacy.erase_user, "ann@cfn.example")
    for table in ("member_needs", "outbox", "account_tokens"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    conn.close()
