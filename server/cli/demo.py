"""A small fictional demo network that feels like a normal week (all names invented).

Everything is written through the same domain functions the server uses, so the event
log, seqs and history are exactly what real use would leave behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from server.cli.demo_meetings import add_meetings
from server.cli.demo_polls import add_polls_and_ideas
from server.domain import accounts, discussions
from server.domain.accounts import User
from server.storage.engine import SyncConn, write_sync

HOUR = 3_600_000
DAY = 24 * HOUR


class DemoClock:
    """Fictional times for the demo's writes: from four weeks ago, always moving forward
    (so every group's history reads in order), and never later than an hour ago."""

    def __init__(self, now_ms: int | None = None) -> None:
        self.now = int(time.time() * 1000) if now_ms is None else now_ms
        self.at = self.now - 28 * DAY

    def after(self, hours: float) -> int:
        self.at = min(self.at + int(hours * HOUR), self.now - HOUR)
        return self.at


DEMO_PASSWORD = "critical-friends-demo"
DOMAIN = "cfn.example"

GROUPS = [
    ("north-yorkshire", "North Yorkshire", "regional"),
    ("west-yorkshire", "West Yorkshire", "regional"),
    ("south-yorkshire", "South Yorkshire", "regional"),
    ("hull-east-riding", "Hull and East Riding", "regional"),
    ("renal-transport", "Renal patient transport", "service"),
    ("whole-network", "Whole network", "network"),
]

# (local part, name, site role, [(group, group role)])
PEOPLE = [
    ("admin", "Alex Admin", "admin", []),
    (
        "nadia",
        "Nadia Rahman",
        "staff",
        [
            ("north-yorkshire", "facilitator"),
            ("renal-transport", "facilitator"),
            ("whole-network", "facilitator"),
        ],
    ),
    ("priya", "Priya Shah", "member", [("north-yorkshire", "chair"), ("whole-network", "member")]),
    (
        "margaret",
        "Margaret Hill",
        "member",
        [("north-yorkshire", "member"), ("whole-network", "member")],
    ),
    (
        "yusuf",
        "Yusuf Okafor",
        "member",
        [("renal-transport", "member"), ("west-yorkshire", "member"), ("whole-network", "member")],
    ),
    ("dot", "Dorothy Fenwick", "member", [("north-yorkshire", "member")]),
    (
        "sam",
        "Sam Carter",
        "member",
        [("renal-transport", "chair"), ("south-yorkshire", "member"), ("whole-network", "member")],
    ),
    (
        "gwen",
        "Gwen Ashworth",
        "member",
        [("hull-east-riding", "chair"), ("whole-network", "member")],
    ),
]

THREADS = [
    (
        "north-yorkshire",
        "priya",
        "Welcome – how we use this space",
        "Welcome to the North Yorkshire room. Our ground rules:\n\n"
        "- be kind and patient\n- no personal health details about other people\n"
        "- **anyone** can start a thread\n\nThe next meeting is on the first Tuesday.",
        [
            ("margaret", "Thank you Priya. I shall be joining from home again."),
            ("dot", "Hello everyone. My daughter is helping me today."),
        ],
    ),
    (
        "north-yorkshire",
        "nadia",
        "Visit debrief: emergency operations centre",
        "Thank you to the four of you who came to the operations centre on Thursday. "
        "What stood out for you?",
        [
            (
                "priya",
                "The frequent-caller team. Could we *signpost* frequent callers to peer support?",
            ),
            (
                "margaret",
                "How calm the call handlers were. I had no idea how many calls they take.",
            ),
            (
                "nadia",
                "Both noted for the quality committee. Priya, could you write the idea up on "
                "the idea board?",
            ),
        ],
    ),
    (
        "renal-transport",
        "nadia",
        "Draft leaflet: getting ready for your transport",
        "Here is the draft leaflet for renal patients who use patient transport. "
        "Is anything unclear or missing?",
        [
            (
                "yusuf",
                "Please say what to do if the car is more than 30 minutes late. "
                "That is the thing that worries people most.",
            ),
            ("sam", "Agree with Yusuf. Also larger print for the phone number, please."),
        ],
    ),
    (
        "whole-network",
        "nadia",
        "You said, we did: summer update",
        "You asked for meeting papers a week earlier. From September they go out ten days "
        "before each meeting.",
        [],
    ),
]


def _email(local: str) -> str:
    return f"{local}@{DOMAIN}"


def load_demo(
    conn: SyncConn,
    extras: list[Callable[[SyncConn, dict[str, User]], None]] | None = None,
) -> list[tuple[str, str]]:
    """Create the demo network once (a second run changes nothing); return the logins."""
    logins = [(_email(local), _describe(role, groups)) for local, _, role, groups in PEOPLE]
    if accounts.user_by_email(conn, _email("admin")) is not None:
        add_meetings(conn)  # a network loaded before meetings existed gets them now
        return logins
    clock = DemoClock()
    for slug, name, kind in GROUPS:
        write_sync(conn, accounts.add_group, slug, name, kind, at=clock.after(0))
    users: dict[str, User] = {}
    for local, name, role, groups in PEOPLE:
        users[local] = write_sync(
            conn, accounts.add_user, _email(local), name, role, DEMO_PASSWORD, at=clock.after(0.1)
        )
        for slug, group_role in groups:
            write_sync(
                conn, accounts.add_member, slug, _email(local), group_role, at=clock.after(0.1)
            )
    for n, (slug, author, title, body, replies) in enumerate(THREADS):
        created = write_sync(
            conn,
            discussions.create_thread,
            users[author],
            slug,
            title,
            body,
            f"demo-{n}",
            at=clock.after(30 + 7 * n),
        )  # a thread every day or two
        for m, (who, text) in enumerate(replies):
            write_sync(
                conn,
                discussions.post_message,
                users[who],
                slug,
                created["thread"]["id"],
                text,
                f"demo-{n}-{m}",
                at=clock.after(2 + 5 * m),
            )  # replies over the hours after
    add_polls_and_ideas(conn, users, clock)
    add_meetings(conn, users)
    for extra in extras or []:
        extra(conn, users)
    return logins


def _describe(role: str, groups: list[tuple[str, str]]) -> str:
    if role == "admin":
        return "site admin (sees every group)"
    parts = [f"{group_role} of {slug}" for slug, group_role in groups]
    prefix = "staff; " if role == "staff" else ""
    return prefix + ", ".join(parts)
