"""Admin command-line mistakes a new admin makes: each is one plain line and changes nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests import pg
from tests.test_cli import PASSWORD, cli, ok, one_line_failure


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = pg.target(tmp_path_factory.mktemp("friction") / "cfn.db")
    ok(cli("user", "add", "ann@cfn.example", "--name", "Ann", "--db", path, stdin=PASSWORD))
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("user", "add"),
        ("frobnicate",),
        ("audit", "--limit", "lots"),
        ("serve", "--port", "eighty"),
    ],
    ids=["missing arguments", "unknown command", "bad number", "bad port"],
)
def test_a_mistyped_command_is_one_line_that_points_to_help(db: str, args: tuple[str, ...]) -> None:
    line = one_line_failure(cli(*args, "--db", db))
    assert line.startswith("error: ") and line.endswith("--help")


@pg.sqlite_only  # a pg_dump writes a file; it cannot land on the live database
def test_backup_onto_the_live_database_is_refused_and_leaves_it_alone(db: str) -> None:
    epoch = _epoch(db)
    for target in (db, db + "-wal"):
        line = one_line_failure(cli("backup", target, "--db", db))
        assert "live database" in line
    assert _epoch(db) == epoch, "the live database was not replaced"


def test_backup_into_a_missing_folder_creates_it(db: str, tmp_path: Path) -> None:
    """`backup backups/cfn.db`, as the README shows it, works on a first run."""
    ok(cli("backup", "backups/cfn.db", "--db", db, cwd=tmp_path))
    copy = pg.restored(tmp_path / "backups" / "cfn.db")
    assert copy.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    copy.close()


def test_backup_into_a_folder_that_cannot_be_made_names_the_folder(db: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    line = one_line_failure(cli("backup", str(tmp_path / "a-file" / "b.db"), "--db", db))
    assert "folder" in line and "a-file" in line


def test_export_to_an_unwritable_place_says_which_file_and_why(db: str, tmp_path: Path) -> None:
    out = str(tmp_path / "nowhere" / "ann.json")
    line = one_line_failure(cli("user", "export", "ann@cfn.example", "--out", out, "--db", db))
    assert out in line and "no such file" in line


def test_serve_on_a_port_in_use_says_so_and_suggests_another(db: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_failure(cli("serve", "--port", str(port), "--db", db))
    assert "already in use" in line and f"--port {port + 1}" in line


def _epoch(path: str) -> str:
    conn = pg.direct(path)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
    finally:
        conn.close()
