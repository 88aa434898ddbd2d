"""``retention set`` and ``retention run``: how long a group's messages are kept, and the
same deletion the running server does every hour."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.common import CLIError, connect
from server.domain import retention
from server.storage.engine import write_sync


def cmd_retention_set(args: argparse.Namespace) -> int:
    if args.forever == (args.months is not None):
        raise CLIError("Give a number of months (such as 24), or --forever, but not both.")
    conn = connect(args)
    write_sync(conn, retention.set_retention, args.slug, args.months)
    kept = "for ever" if args.forever else f"for {args.months} months"
    print(f"Messages in {args.slug} are now kept {kept}.")
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    conn = connect(args)
    done = write_sync(conn, retention.run)
    if not done:
        print("No messages were old enough to delete.")
    for slug, count in done.items():
        print(f"{slug}: {count} message(s) deleted.")
    return 0


def register(sub: Any, db: argparse.ArgumentParser) -> None:
    """Add the commands to the parser built in main.py."""
    group = sub.add_parser("retention", help="how long messages are kept").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = group.add_parser("set", parents=[db], help="keep a group's messages for N months")
    p.add_argument("slug")
    p.add_argument("months", nargs="?", type=int, help="whole months, at least 1")
    p.add_argument("--forever", action="store_true", help="keep messages for ever")
    p.set_defaults(run=cmd_retention_set)
    p = group.add_parser("run", parents=[db], help="delete messages older than retention now")
    p.set_defaults(run=cmd_retention_run)
