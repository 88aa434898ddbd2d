"""The command line (PROTOCOL §6): serve, demo, and the admin's user, group, member, token.

Every error is one plain line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

from server import __version__, accounts
from server.database import migrate, open_sync, write_sync
from server.errors import CFNError
from server.settings import Settings

MIN_PASSWORD = 8


class CLIError(Exception):
    """A problem to report in one line."""


def _db_path(args: argparse.Namespace) -> str:
    return args.db or os.environ.get("CFN_DB") or "cfn.db"


def connect(args: argparse.Namespace) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the database named by --db / CFN_DB."""
    path = _db_path(args)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"The folder for the database does not exist: {folder}")
    try:
        conn = open_sync(path)
        migrate(conn)
    except sqlite3.DatabaseError as e:
        raise CLIError(f"Cannot open the database {path}: {e}") from None
    return conn


def read_password(prompt: str = "Password: ") -> str:
    """From stdin when it is not a terminal (scripts), else asked for twice, unseen."""
    if sys.stdin is None or not sys.stdin.isatty():
        password = (sys.stdin.readline() if sys.stdin else "").rstrip("\r\n")
    else:
        password = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != password:
            raise CLIError("The two passwords were different; nothing was changed.")
    if not password:
        raise CLIError("A password is needed: type it, or send it on standard input.")
    if len(password) < MIN_PASSWORD:
        raise CLIError(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    conn = connect(args)
    password = read_password()
    user = write_sync(conn, accounts.add_user, args.email, args.name, args.role, password)
    print(f"Added {user.name} <{user.email}> as {user.role}.")
    return 0


def cmd_group_add(args: argparse.Namespace) -> int:
    conn = connect(args)
    write_sync(conn, accounts.add_group, args.slug, args.name, args.kind)
    print(f"Added the group {args.name} ({args.slug}).")
    return 0


def cmd_member_add(args: argparse.Namespace) -> int:
    conn = connect(args)
    write_sync(conn, accounts.add_member, args.slug, args.email, args.role)
    print(f"{args.email} is now {args.role} of {args.slug}.")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    conn = connect(args)
    print(write_sync(conn, accounts.create_token, args.email))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.demo import DEMO_PASSWORD, load_demo

    conn = connect(args)
    logins = load_demo(conn)
    print(f"Demo network ready in {_db_path(args)}.")
    print(f"Every demo account's password is: {DEMO_PASSWORD}")
    for email, what in logins:
        print(f"  {email:34} {what}")
    print("Start the server with: python -m server serve")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from server.serve import make_server

    settings = Settings.from_env(db=_db_path(args), host=args.host, port=args.port)
    connect(args).close()  # create and migrate now, so problems show as one line
    server = make_server(settings)
    print(f"Serving the Critical Friends hub on http://{settings.host}:{settings.port}/ "
          f"(database {settings.db}). Press Ctrl+C to stop.", flush=True)
    server.run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m server", description="Critical Friends Network discussion server.")
    parser.add_argument("--version", action="version", version=__version__)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", help="database file (default: $CFN_DB, else cfn.db here)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", parents=[db], help="run the server")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("demo", parents=[db], help="load a small fictional demo network")
    p.set_defaults(run=cmd_demo)

    user = sub.add_parser("user", help="manage people").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = user.add_parser("add", parents=[db], help="add a person (password on stdin)")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--role", default="member", help="member, staff or admin")
    p.set_defaults(run=cmd_user_add)

    group = sub.add_parser("group", help="manage groups").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = group.add_parser("add", parents=[db], help="add a group")
    p.add_argument("slug")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", default="regional", help="regional, service or network")
    p.set_defaults(run=cmd_group_add)

    member = sub.add_parser("member", help="manage group membership").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = member.add_parser("add", parents=[db], help="add a person to a group")
    p.add_argument("slug")
    p.add_argument("email")
    p.add_argument("--role", default="member", help="member, chair or facilitator")
    p.set_defaults(run=cmd_member_add)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = token.add_parser("create", parents=[db], help="print a new API token")
    p.add_argument("email")
    p.set_defaults(run=cmd_token_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (CLIError, CFNError, ValueError) as e:
        return _fail(str(e))
    except sqlite3.Error as e:
        return _fail(f"The database could not be used: {e}")
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # last resort: still one line, no traceback
        return _fail(f"Unexpected error ({type(e).__name__}). Nothing was changed.")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


