"""The admin commands of issue 6: token revoke, member remove, user role/export/erase,
backup and audit. Kept apart from main.py so that file stays a short table of commands.

Each change is one transaction with its audit row; a running server notices it within a
second (server/realtime/watcher.py) and ends the live access it took away.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import TypeVar

from server.cli.common import CLIError, connect, db_path
from server.domain import admin, audit, privacy
from server.storage.engine import backup, write_sync


def cmd_token_revoke(args: argparse.Namespace) -> int:
    conn = connect(args)
    if args.all:
        count = write_sync(conn, admin.revoke_all_tokens, args.all)
        print(f"Revoked {count} token(s) of {args.all}; their live connections are closing.")
        return 0
    token = sys.stdin.readline().strip() if args.token == "-" else (args.token or "")
    if not token:
        raise CLIError("Give the token to revoke (or - to read it from stdin), or --all EMAIL.")
    write_sync(conn, admin.revoke_token, token)
    print("Revoked that token; connections using it are closing.")
    return 0


def cmd_member_remove(args: argparse.Namespace) -> int:
    conn = connect(args)
    write_sync(conn, admin.remove_member, args.slug, args.email)
    print(
        f"{args.email} is no longer a member of {args.slug}; their live view of the room"
        " ends within a second."
    )
    return 0


def cmd_user_role(args: argparse.Namespace) -> int:
    conn = connect(args)
    write_sync(conn, admin.set_site_role, args.email, args.role)
    print(f"{args.email} is now {args.role}.")
    return 0


def cmd_user_export(args: argparse.Namespace) -> int:
    conn = connect(args)
    text = privacy.export_json(conn, args.email)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"Wrote everything held about {args.email} to {args.out}.", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_user_erase(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise CLIError("Erasure cannot be undone: add --yes to confirm.")
        if input(f"Erase {args.email}'s personal data for good? Type yes: ").strip() != "yes":
            raise CLIError("Nothing was changed.")
    conn = connect(args)
    counts = write_sync(conn, privacy.erase_user, args.email)
    print(
        f'Erased {args.email}: their posts now show as "Former member" '
        f"({counts['sessions']} session(s), {counts['api_tokens']} token(s), "
        f"{counts['memberships']} membership(s) removed; "
        f"{counts['events_scrubbed']} stored event(s) rewritten)."
    )
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    conn = connect(args)
    try:
        done = backup(conn, db_path(args), args.path)
    except ValueError as e:
        raise CLIError(str(e)) from None
    print(
        f"Backed up {done['messages']} messages and {done['events']} events to "
        f"{done['path']} (new epoch {done['epoch']})."
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    conn = connect(args)
    rows = audit.entries(conn, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for r in reversed(rows):  # oldest first, like a log
        when = datetime.datetime.fromtimestamp(r["at"] / 1000, datetime.UTC)
        detail = " ".join(f"{k}={v}" for k, v in r["detail"].items())
        print(
            f"{when:%Y-%m-%d %H:%M:%S}Z  {r['actor'] or 'console'}  {r['action']}"
            f"  {r['room'] or '-'}  {r['subject'] or '-'}  {detail}".rstrip()
        )
    return 0


Parser = TypeVar("Parser", bound=argparse.ArgumentParser)
Commands = argparse._SubParsersAction  # what add_subparsers() returns; argparse has no public name


def register(
    sub: Commands[Parser],
    db: Parser,
    *,
    user: Commands[Parser],
    member: Commands[Parser],
    token: Commands[Parser],
) -> None:
    """Add the commands to the parser built in main.py."""
    p = token.add_parser(
        "revoke", parents=[db], help="revoke one API token (give it, or - for stdin) or --all EMAIL"
    )
    p.add_argument("token", nargs="?", help="the token itself, as printed by token create")
    p.add_argument("--all", metavar="EMAIL", help="revoke every token of this person")
    p.set_defaults(run=cmd_token_revoke)

    p = member.add_parser("remove", parents=[db], help="take a person out of a group")
    p.add_argument("slug")
    p.add_argument("email")
    p.set_defaults(run=cmd_member_remove)

    p = user.add_parser("role", parents=[db], help="set a person's site role (audited)")
    p.add_argument("email")
    p.add_argument("role", help="member, staff or admin")
    p.set_defaults(run=cmd_user_role)

    p = user.add_parser(
        "export", parents=[db], help="everything held about a person, as JSON (UK GDPR access)"
    )
    p.add_argument("email")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(run=cmd_user_export)

    p = user.add_parser(
        "erase", parents=[db], help="erase a person's personal data; posts stay as Former member"
    )
    p.add_argument("email")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_user_erase)

    p = sub.add_parser(
        "backup", parents=[db], help="copy the database safely while the server runs (new epoch)"
    )
    p.add_argument("path")
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser("audit", parents=[db], help="list the admin actions, oldest first")
    p.add_argument("--limit", type=int, default=1000, help="most recent N entries (1000)")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_audit)
