"""Demo polls and ideas: an open poll about the next meeting, ideas at every stage with notes.

Written through the same domain functions the server uses (see server/demo.py).
"""

from __future__ import annotations

from typing import Protocol

from server.domain import ideas, polls
from server.domain.accounts import User
from server.storage.engine import SyncConn, write_sync


class Clock(Protocol):
    """server.demo.DemoClock: the next fictional time, some hours on."""

    def after(self, hours: float) -> int: ...


# (group, author, title, description, supporters, [(status, note, by)])
IDEAS = [
    (
        "north-yorkshire",
        "priya",
        "Signpost frequent callers to peer support",
        "After our visit to the frequent-caller team: could call handlers offer frequent callers "
        "details of local peer-support groups? It might improve their care and reduce calls.",
        ["margaret", "dot", "nadia"],
        [
            (
                "discussing",
                "Talked through at the October meeting with the frequent-caller lead.",
                "priya",
            ),
            (
                "adopted",
                "The frequent-caller team will pilot this in Scarborough from January.",
                "nadia",
            ),
            (
                "in_progress",
                "Leaflet with peer-support contacts drafted; members asked to review it.",
                "nadia",
            ),
        ],
    ),
    (
        "north-yorkshire",
        "margaret",
        "Large-print version of meeting papers",
        "Some of us struggle with small print. Could papers come in large print too?",
        ["dot", "priya"],
        [
            ("adopted", "Agreed: every paper will have a large-print copy.", "nadia"),
            ("done", "Large-print papers have gone out since the November meeting.", "nadia"),
        ],
    ),
    (
        "north-yorkshire",
        "dot",
        "Meet in person at every station we visit",
        "Could every meeting be held at an ambulance station?",
        [],
        [
            (
                "not_taken_forward",
                "Stations cannot host groups every time for safety reasons; we "
                "will visit one station a year instead.",
                "priya",
            )
        ],
    ),
    (
        "renal-transport",
        "yusuf",
        "Text message when the transport is running late",
        "A text if the car will be more than 30 minutes late would stop a lot of worry.",
        ["sam"],
        [("discussing", "", "sam")],
    ),
    (
        "whole-network",
        "gwen",
        "A buddy for new members",
        "Pair each new member with an experienced one for their first three meetings.",
        ["margaret", "yusuf"],
        [("adopted", "Starting with the members who join in the spring.", "nadia")],
    ),
    (
        "whole-network",
        "margaret",
        "A reminder the day before each meeting",
        "A text or email the day before would help those of us who forget dates.",
        ["yusuf"],
        [],
    ),
]


def add_polls_and_ideas(conn: SyncConn, users: dict[str, User], clock: Clock) -> None:
    """The closed poll, the ideas above over the weeks, then the open poll (run once)."""
    closed = write_sync(
        conn,
        polls.create_poll,
        users["nadia"],
        "renal-transport",
        "Which times suit a short evening call?",
        ["Monday 6pm", "Wednesday 7pm", "Thursday 6pm"],
        "multi",
        False,
        "live",
        at=clock.after(20),
    )["poll"]["id"]
    write_sync(conn, polls.vote, users["yusuf"], closed, [1, 2], at=clock.after(3))
    write_sync(conn, polls.vote, users["sam"], closed, [1], at=clock.after(4))
    write_sync(conn, polls.count_in_room, users["nadia"], closed, [1, 2, 0], at=clock.after(20))
    write_sync(conn, polls.close, users["nadia"], closed, at=clock.after(1))
    for n, (slug, author, title, body, supporters, steps) in enumerate(IDEAS):
        idea = write_sync(
            conn,
            ideas.create_idea,
            users[author],
            slug,
            title,
            body,
            f"demo-idea-{n}",
            at=clock.after(10),
        )["idea"]["id"]
        for who in supporters:
            write_sync(conn, ideas.support, users[who], idea, True, at=clock.after(3))
        for status, note, by in steps:  # each step of an idea's timeline on its own day
            write_sync(conn, ideas.set_status, users[by], idea, status, note, at=clock.after(26))
    poll = write_sync(
        conn,
        polls.create_poll,
        users["priya"],
        "north-yorkshire",
        "What should the next meeting focus on?",
        [
            "Falls response times",
            "The new patient leaflet",
            "Visits to ambulance stations",
            "Training for new members",
        ],
        "single",
        True,
        "live",
        at=clock.after(6),
    )["poll"]["id"]
    for who, choice in (("margaret", 0), ("dot", 1), ("nadia", 0)):
        write_sync(conn, polls.vote, users[who], poll, [choice], at=clock.after(2))
