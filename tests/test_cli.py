"""The command line of PROTOCOL §6, run as a real subprocess: `python -m server ...`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.domain import accounts
from server.storage.engine import open_sync
from tests import pg
from tests.harness import JSON, Running, connect

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long enough password"


def cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "CFN_DB"}
    full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=cwd or ROOT,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """A refused command: non-zero exit, exactly one plain line on stderr, no traceback."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "sqlite" not in result.stderr.lower()
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with a group 'north' and a user ann (set up through the CLI itself),
    shared by the refusal tests: each checks that it changed nothing."""
    path = pg.target(tmp_path_factory.mktemp("cli") / "cli.db")
    ok(cli("group", "add", "north", "--name", "North Yorkshire", "--db", path))
    ok(cli("user", "add", "ann@cfn.example", "--name", "Ann", "--db", path, stdin=PASSWORD))
    return path


def test_every_command_works_with_db_and_the_token_opens_a_connection(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "fresh")
    path = pg.target(tmp_path / "fresh" / "new.db")
    out = ok(
        cli(
            "group",
            "add",
            "renal-transport",
            "--name",
            "Renal transport",
            "--kind",
            "service",
            "--db",
            path,
        )
    )
    assert "Renal transport" in out
    assert pg.exists(path), "the database is created when missing"
    out = ok(
        cli(
            "user",
            "add",
            "bea@cfn.example",
            "--name",
            "Bea",
            "--role",
            "staff",
            "--db",
            path,
            stdin=PASSWORD + "\n",
        )
    )
    assert "Bea" in out
    ok(
        cli(
            "member",
            "add",
            "renal-transport",
            "bea@cfn.example",
            "--role",
            "facilitator",
            "--db",
            path,
        )
    )
    token_run = cli("token", "create", "bea@cfn.example", "--db", path)
    token = ok(token_run)
    assert token.endswith("\n") and token.count("\n") == 1, "the token alone on stdout"
    token = token.strip()
    assert token.startswith("cfn_") and " " not in token and token_run.stderr == ""

    conn = open_sync(path)
    bea = accounts.check_password(conn, "bea@cfn.example", PASSWORD)
    assert bea is not None and bea.role == "staff", "the password from stdin was stored"
    assert accounts.user_for_token(conn, token) == bea
    groups = accounts.user_groups(conn, bea)
    assert [(g["slug"], g["kind"], g["role"]) for g in groups] == [
        ("renal-transport", "service", "facilitator")
    ]
    conn.close()


async def test_a_token_from_the_cli_authenticates_a_websocket(tmp_path: Path) -> None:
    path = pg.target(tmp_path / "tok.db")
    ok(cli("group", "add", "north", "--name", "North", "--db", path))
    ok(cli("user", "add", "ann@cfn.example", "--name", "Ann", "--db", path, stdin=PASSWORD))
    ok(cli("member", "add", "north", "ann@cfn.example", "--db", path))
    token = ok(cli("token", "create", "ann@cfn.example", "--db", path)).strip()
    running = Running(tmp_path / "tok.db")
    await running.start()
    try:
        client = await connect(running, token, JSON)
        hello = await client.call("hello")
        assert hello["user"]["name"] == "Ann" and hello["groups"][0]["slug"] == "north"
        await client.close()
    finally:
        await running.stop()
        running.close()


def test_cfn_db_is_the_default_database(tmp_path: Path) -> None:
    path = tmp_path / "from-env.db"
    ok(cli("group", "add", "north", "--name", "North", env={"CFN_DB": pg.target(path)}))
    conn = pg.direct(path)
    assert conn.execute("SELECT slug FROM groups").fetchall() == [("north",)]
    conn.close()


@pg.sqlite_only
def test_without_db_or_cfn_db_the_database_is_cfn_db_in_the_working_folder(tmp_path: Path) -> None:
    ok(cli("group", "add", "north", "--name", "North", cwd=tmp_path))
    assert (tmp_path / "cfn.db").exists()


def test_demo_loads_a_network_and_prints_how_to_log_in(tmp_path: Path) -> None:
    path = pg.target(tmp_path / "demo.db")
    out = ok(cli("demo", "--db", path))
    assert "password" in out.lower() and "@" in out
    conn = open_sync(path)
    counts = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("groups", "users", "memberships", "threads", "messages", "events")
    }
    assert all(n > 0 for n in counts.values()), counts
    conn.close()


def test_serve_runs_the_server_until_interrupted(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "serve",
            "--db",
            str(tmp_path / "s.db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        assert body.strip() == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
    assert f":{port}" in out


@pytest.mark.parametrize(
    "args,stdin",
    [
        (("member", "add", "no-such-group", "ann@cfn.example"), ""),
        (("member", "add", "north", "nobody@cfn.example"), ""),
        (("member", "add", "north", "ann@cfn.example", "--role", "king"), ""),
        (("user", "add", "ann@cfn.example", "--name", "Ann again"), PASSWORD),
        (("user", "add", "ANN@cfn.example", "--name", "Ann shouting"), PASSWORD),
        (("user", "add", "zed@cfn.example", "--name", "Zed", "--role", "king"), PASSWORD),
        (("user", "add", "zed@cfn.example", "--name", "Zed"), ""),
        (("user", "add", "zed@cfn.example", "--name", "Zed"), "short"),
        (("user", "add", "not-an-email", "--name", "Zed"), PASSWORD),
        (("user", "add", "zed@cfn.example", "--name", "   "), PASSWORD),
        (("token", "create", "nobody@cfn.example"), ""),
        (("group", "add", "north", "--name", "Duplicate"), ""),
        (("group", "add", "Bad Slug!", "--name", "Bad"), ""),
        (("group", "add", "east", "--name", "East", "--kind", "planet"), ""),
    ],
    ids=[
        "unknown group",
        "unknown user",
        "bad group role",
        "duplicate email",
        "duplicate email other case",
        "bad site role",
        "missing password",
        "short password",
        "bad email",
        "empty name",
        "token for unknown user",
        "duplicate group",
        "bad slug",
        "bad kind",
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(
    db: str, args: tuple[str, ...], stdin: str
) -> None:
    before = _row_counts(db)
    line = one_line_failure(cli(*args, "--db", db, stdin=stdin))
    assert line.startswith("error: ") and len(line) > 12
    assert _row_counts(db) == before, "nothing was changed"


@pg.sqlite_only
def test_a_database_in_a_missing_folder_is_one_line_error(tmp_path: Path) -> None:
    line = one_line_failure(
        cli("group", "add", "north", "--name", "N", "--db", str(tmp_path / "nowhere" / "x.db"))
    )
    assert "folder" in line


@pg.sqlite_only
def test_a_file_that_is_not_a_database_is_one_line_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    one_line_failure(cli("group", "add", "north", "--name", "N", "--db", str(junk)))


def _row_counts(path: str) -> dict[str, int]:
    conn = pg.direct(path)
    try:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("users", "groups", "memberships", "api_tokens")
        }
    finally:
        conn.close()
