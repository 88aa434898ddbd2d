"""The people commands: user list, group list, member list, invite and reset-link, each
with ``--json`` for scripts. They call the same domain functions as the web admin.

``invite`` queues the email in the outbox; a running server sends it within a second or
two (no server running: it goes when one starts). ``reset-link`` prints a link for an
admin to pass on to a member who asked by phone; no email is sent.
"""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any, TypeVar

from server.cli.common import connect
from server.domain import admin, people
from server.settings import Settings
from server.storage.engine import write_sync

DEFAULT_ORIGIN = "http://127.0.0.1:8000"


def _origin(args: argparse.Namespace) -> str:
    """Where links point: --origin, else CFN_ORIGIN, else this machine's default port."""
    given: str = args.origin or Settings.from_env().origin or DEFAULT_ORIGIN
    return given.rstrip("/")


def _print(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for line in lines:
            print(line)


def _day(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC):%Y-%m-%d}"


def cmd_user_list(args: argparse.Namespace) -> int:
    rows = admin.list_users(connect(args), args.search or "", 100_000)
    _print(
        args,
        rows,
        [
            f"{r['email']:36} {r['name']:28} {r['role']:7} {r['groups']} group(s)"
            + ("  SUSPENDED" if r["suspended_at"] else "")
            for r in rows
        ]
        or ["Nobody yet. Add someone with: user add EMAIL --name NAME"],
    )
    return 0


def cmd_group_list(args: argparse.Namespace) -> int:
    rows = admin.list_groups(connect(args))
    _print(
        args,
        rows,
        [
            f"{r['slug']:24} {r['name']:30} {r['kind']:9} {r['members']} member(s)"
            + ("  ARCHIVED" if r["archived_at"] else "")
            for r in rows
        ]
        or ["No groups yet. Add one with: group add SLUG --name NAME"],
    )
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    conn = connect(args)
    admin.group_detail(conn, args.slug)  # an unknown group is one line on stderr
    rows = admin.group_members(conn, args.slug)
    _print(
        args,
        rows,
        [f"{r['email']:36} {r['name']:28} {r['role']}" for r in rows]
        or [f"Nobody is in {args.slug} yet. Invite someone with: invite EMAIL --group {args.slug}"],
    )
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    conn = connect(args)
    what = write_sync(conn, people.invite, None, args.email, args.group, args.role, _origin(args))
    message = (
        f"Invited {args.email} to {args.group} as {args.role}: the email is queued and goes"
        " out from the running server; its link works for 7 days."
        if what == "invited"
        else f"{args.email} already has an account: they are now {args.role} of {args.group},"
        " and an email telling them is queued."
    )
    _print(
        args,
        {"email": args.email, "group": args.group, "role": args.role, "result": what},
        [message],
    )
    return 0


def cmd_reset_link(args: argparse.Namespace) -> int:
    conn = connect(args)
    made = write_sync(conn, people.reset_link, args.email, _origin(args))
    _print(
        args,
        made,
        [
            made["link"],
            f"Give this link to {args.email} only. It works once, for 1 hour; no email was sent.",
        ],
    )
    return 0


Parser = TypeVar("Parser", bound=argparse.ArgumentParser)
Commands = argparse._SubParsersAction  # what add_subparsers() returns; argparse has no public name


def register(
    sub: Commands[Parser],
    db: Parser,
    *,
    user: Commands[Parser],
    group: Commands[Parser],
    member: Commands[Parser],
) -> None:
    """Add the commands to the parser built in main.py."""
    p = user.add_parser("list", parents=[db], help="list people (--search TEXT)")
    p.add_argument("--search", help="only those whose name or email contains this")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_user_list)

    p = group.add_parser("list", parents=[db], help="list groups")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_group_list)

    p = member.add_parser("list", parents=[db], help="list a group's members")
    p.add_argument("slug")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_member_list)

    p = sub.add_parser("invite", parents=[db], help="invite someone by email into a group")
    p.add_argument("email")
    p.add_argument("--group", required=True, help="the group's short name (slug)")
    p.add_argument("--role", default="member", help="member, chair or facilitator")
    p.add_argument("--origin", help="the site's public address for the link (CFN_ORIGIN)")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_invite)

    p = sub.add_parser(
        "reset-link", parents=[db], help="print a password reset link for a member (1 hour)"
    )
    p.add_argument("email")
    p.add_argument("--origin", help="the site's public address for the link (CFN_ORIGIN)")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_reset_link)
