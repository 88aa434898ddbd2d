"""``group email-text SLUG off|on``: whether emails about a group may carry message text
(off for groups whose members share health details), the same switch as the admin page."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.common import connect
from server.domain import email_prefs
from server.storage.engine import write_sync


def cmd_email_text(args: argparse.Namespace) -> int:
    conn = connect(args)
    write_sync(conn, email_prefs.set_no_text, None, args.slug, args.text == "off")
    if args.text == "off":
        print(f"Emails about {args.slug} now never include message text.")
    else:
        print(f"Emails about {args.slug} may include message text again.")
    return 0


def register(group: Any, db: argparse.ArgumentParser) -> None:
    """Add the command under ``group`` (the parser built in main.py)."""
    p = group.add_parser(
        "email-text", parents=[db], help="off: emails about the group never quote messages"
    )
    p.add_argument("slug")
    p.add_argument("text", choices=["off", "on"])
    p.set_defaults(run=cmd_email_text)
