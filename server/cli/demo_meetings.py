"""Demo meetings for North Yorkshire, one in every state: a past meeting whose catch-up
pack is approved, one happening today (on its second item), and one next month with
proposed items. Fictional, written through the domain functions, and added once: a
database loaded before meetings existed gets them on the next ``demo`` run.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from server.domain import accounts, discussions, meetings, polls
from server.domain.accounts import User
from server.storage.engine import SyncConn, write_sync
from server.web.templating import LOCAL_TIME

GROUP = "north-yorkshire"
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
PAST_TITLE = "September meeting"


class _Clock:
    """Forward-only fictional times, after everything the demo wrote before."""

    def __init__(self, start: int) -> None:
        self.at = start

    def to(self, at: int) -> int:
        self.at = max(self.at + 1, at)
        return self.at


def _two_pm(days_ahead: int) -> int:
    day = (datetime.now(LOCAL_TIME) + timedelta(days=days_ahead)).date()
    return int(datetime(day.year, day.month, day.day, 14, tzinfo=LOCAL_TIME).timestamp() * 1000)


def _schedule(
    conn: SyncConn,
    user: User,
    group: str,
    title: str,
    starts_at: int,
    mode: str,
    *,
    at: int,
    **details: Any,
) -> int:
    made = write_sync(
        conn, partial(meetings.schedule, **details), user, group, title, starts_at, mode, at=at
    )
    return int(made["meeting"]["id"])


def add_meetings(conn: SyncConn, people: dict[str, User] | None = None) -> None:
    """Add the three demo meetings unless they are there already."""
    if conn.execute("SELECT 1 FROM meetings WHERE title = ?", (PAST_TITLE,)).fetchone():
        return
    users = people or {}
    for local in ("priya", "nadia", "margaret", "dot"):
        if local not in users:
            found = accounts.user_by_email(conn, f"{local}@cfn.example")
            if found is None:
                return  # not the demo network: nothing to add to
            users[local] = found
    now = int(time.time() * 1000)
    room_id = conn.value("SELECT id FROM rooms WHERE slug = ?", (GROUP,))
    latest = conn.value("SELECT coalesce(max(at), 0) FROM events WHERE room_id = ?", (room_id,))
    latest = max(latest, now - 10 * DAY)
    # 10:00 UTC on the day after the room's last event, so its live thread has a day of its
    # own; never later than three days ago, so a network in use since still gets all three
    start = min((latest // DAY + 1) * DAY + 10 * HOUR, now - 3 * DAY)
    clock = _Clock(min(latest + MINUTE, start - 20 * HOUR))
    _past(conn, users, clock, start)
    _today(conn, users, clock, now)
    _next_month(conn, users, clock, now)


def _agenda(
    conn: SyncConn,
    users: dict[str, User],
    clock: _Clock,
    meeting: int,
    items: list[tuple[str, str, str, str]],
    step: int = HOUR,
) -> list[int]:
    made = []
    for who, title, summary, kind in items:
        made.append(
            write_sync(
                conn,
                meetings.propose_item,
                users[who],
                meeting,
                title,
                summary,
                kind,
                at=clock.to(clock.at + step),
            )["item"]["id"]
        )
    return made


def _past(conn: SyncConn, users: dict[str, User], clock: _Clock, start: int) -> None:
    priya, nadia, margaret, dot = (users[k] for k in ("priya", "nadia", "margaret", "dot"))
    meeting = _schedule(
        conn,
        priya,
        GROUP,
        PAST_TITLE,
        start,
        "hybrid",
        at=clock.to(clock.at + 30 * MINUTE),
        place="Thirsk Community Centre, Room 2",
        step_free=True,
        hearing_loop=True,
        parking=True,
        join_online="Use the link in the group's room on the day",
        join_phone="Call 0113 496 0000 and give the code 4821",
    )
    items = _agenda(
        conn,
        users,
        clock,
        meeting,
        [
            (
                "priya",
                "Welcome and apologies",
                "Who is here and who sent apologies.",
                "information",
            ),
            (
                "margaret",
                "Falls response times in rural areas",
                "Older people who fall at home in the Dales wait longest. Should we ask the "
                "service for its rural figures?",
                "decision",
            ),
        ],
        30 * MINUTE,
    )
    idea = conn.execute(
        "SELECT id FROM ideas WHERE title LIKE 'Signpost frequent callers%'"
    ).fetchone()
    if idea is not None:
        sent = write_sync(
            conn, meetings.idea_to_meeting, priya, idea[0], at=clock.to(clock.at + 30 * MINUTE)
        )
        items.append(sent["item"]["id"])
    for item in items:
        write_sync(
            conn, meetings.decide_item, priya, item, "accept", at=clock.to(clock.at + 10 * MINUTE)
        )
    write_sync(
        conn,
        meetings.add_paper,
        nadia,
        items[1],
        "Response times by area, April to June",
        "Median wait after a fall: towns 48 minutes, rural areas 1 hour 35 minutes.",
        at=clock.to(clock.at + 30 * MINUTE),
    )
    write_sync(conn, meetings.publish_agenda, priya, meeting, at=clock.to(clock.at + 30 * MINUTE))
    write_sync(
        conn,
        meetings.reply,
        margaret,
        meeting,
        "online",
        "large_print",
        [],
        True,
        at=clock.to(clock.at + 30 * MINUTE),
    )
    write_sync(
        conn,
        meetings.reply,
        dot,
        meeting,
        "cant_come",
        "easy_read",
        ["support_person", "no_time_pressure"],
        False,
        at=clock.to(clock.at + 30 * MINUTE),
    )
    write_sync(
        conn,
        meetings.reply,
        priya,
        meeting,
        "in_person",
        None,
        [],
        True,
        at=clock.to(clock.at + 30 * MINUTE),
    )
    write_sync(
        conn,
        meetings.add_view,
        dot,
        items[1],
        "My neighbour waited two hours on the floor. Please push for this.",
        at=clock.to(clock.at + 30 * MINUTE),
    )
    # the meeting itself
    write_sync(conn, meetings.start, priya, meeting, at=clock.to(start))
    write_sync(conn, meetings.note_online_join, margaret, GROUP, at=clock.to(start + 2 * MINUTE))
    write_sync(
        conn,
        meetings.mark_attendance,
        nadia,
        meeting,
        priya.id,
        "in_room",
        True,
        at=clock.to(start + 4 * MINUTE),
    )
    thread = write_sync(
        conn,
        discussions.create_thread,
        priya,
        GROUP,
        f"{PAST_TITLE}: live discussion",
        "Welcome, everyone. Margaret is with us online today.",
        "demo-meeting-1",
        at=clock.to(start + 5 * MINUTE),
    )["thread"]["id"]
    write_sync(
        conn,
        meetings.set_outcome,
        priya,
        items[0],
        "noted",
        "Dorothy sent apologies.",
        at=clock.to(start + 8 * MINUTE),
    )
    write_sync(conn, meetings.next_item, priya, meeting, at=clock.to(start + 10 * MINUTE))
    write_sync(
        conn,
        discussions.post_message,
        margaret,
        GROUP,
        thread,
        "The rural figures shock me. We should ask for them every quarter.",
        "demo-meeting-2",
        at=clock.to(start + 15 * MINUTE),
    )
    poll = write_sync(
        conn,
        polls.create_poll,
        nadia,
        GROUP,
        "Should we ask the service for rural response times every quarter?",
        ["Yes", "No", "Not sure"],
        "single",
        False,
        "live",
        at=clock.to(start + 20 * MINUTE),
    )["poll"]["id"]
    write_sync(conn, polls.vote, margaret, poll, [0], at=clock.to(start + 22 * MINUTE))
    write_sync(conn, polls.vote, priya, poll, [0], at=clock.to(start + 23 * MINUTE))
    write_sync(
        conn,
        meetings.set_outcome,
        priya,
        items[1],
        "decided",
        "We will ask for rural figures every quarter.",
        at=clock.to(start + 30 * MINUTE),
    )
    write_sync(
        conn,
        meetings.add_action,
        priya,
        items[1],
        "Write to the head of operations for the rural figures",
        nadia.id,
        start + 7 * DAY,
        at=clock.to(start + 31 * MINUTE),
    )
    thanks = write_sync(
        conn,
        meetings.add_action,
        priya,
        items[1],
        "Thank Dorothy's neighbour for sharing",
        priya.id,
        start + 5 * DAY,
        at=clock.to(start + 32 * MINUTE),
    )["action"]["id"]
    if len(items) > 2:
        write_sync(conn, meetings.next_item, priya, meeting, at=clock.to(start + 35 * MINUTE))
        write_sync(
            conn,
            meetings.set_outcome,
            priya,
            items[2],
            "discussed",
            "The pilot in Scarborough starts in January.",
            at=clock.to(start + 45 * MINUTE),
        )
    write_sync(conn, meetings.end, priya, meeting, at=clock.to(start + 60 * MINUTE))
    write_sync(
        conn,
        meetings.comment,
        margaret,
        meeting,
        "Please note that Dorothy's view was read out.",
        None,
        at=clock.to(start + 6 * HOUR),
    )
    write_sync(conn, meetings.action_done, priya, thanks, at=clock.to(start + 12 * HOUR))
    write_sync(conn, meetings.approve, priya, meeting, at=clock.to(start + DAY))
    write_sync(
        conn,
        meetings.correct,
        priya,
        meeting,
        "The phone code given was 4821, not 4812.",
        at=clock.to(start + 2 * DAY),
    )


def _today(conn: SyncConn, users: dict[str, User], clock: _Clock, now: int) -> None:
    priya, nadia, margaret = users["priya"], users["nadia"], users["margaret"]
    start = now - 40 * MINUTE
    meeting = _schedule(
        conn,
        priya,
        GROUP,
        "Extra meeting: the new leaflet",
        start,
        "online",
        at=clock.to(now - 3 * HOUR),
        join_online="Use the link in the group's room",
        join_phone="Call 0113 496 0000 and give the code 5930",
    )
    items = _agenda(
        conn,
        users,
        clock,
        meeting,
        [
            ("nadia", "Welcome", "Who is here.", "information"),
            (
                "nadia",
                "Falls leaflet: first draft",
                "Is the draft clear? What is missing?",
                "discussion",
            ),
            (
                "priya",
                "Date of the next visit",
                "Choose a date to visit Harrogate station.",
                "decision",
            ),
        ],
        5 * MINUTE,
    )
    for item in items:
        write_sync(
            conn, meetings.decide_item, priya, item, "accept", at=clock.to(clock.at + MINUTE)
        )
    write_sync(conn, meetings.start, priya, meeting, at=clock.to(start))
    write_sync(conn, meetings.note_online_join, margaret, GROUP, at=clock.to(start + MINUTE))
    write_sync(
        conn,
        meetings.mark_attendance,
        nadia,
        meeting,
        nadia.id,
        "online",
        False,
        at=clock.to(start + 2 * MINUTE),
    )
    write_sync(conn, meetings.next_item, priya, meeting, at=clock.to(start + 10 * MINUTE))


def _next_month(conn: SyncConn, users: dict[str, User], clock: _Clock, now: int) -> None:
    priya, margaret, dot = users["priya"], users["margaret"], users["dot"]
    meeting = _schedule(
        conn,
        priya,
        GROUP,
        "November meeting",
        _two_pm(30),
        "hybrid",
        at=clock.to(now - 20 * MINUTE),
        place="Northallerton Fire Station, community room",
        step_free=True,
        parking=True,
        join_online="Use the link in the group's room on the day",
        join_phone="Call 0113 496 0000 and give the code 6174",
    )
    items = _agenda(
        conn,
        users,
        clock,
        meeting,
        [
            (
                "margaret",
                "Hospital handover delays",
                "Ambulances queue outside A&E. What is being done?",
                "discussion",
            ),
            (
                "dot",
                "Easy-read letters",
                "Letters from the service are hard to read. Could they be simpler?",
                "decision",
            ),
        ],
        MINUTE,
    )
    write_sync(conn, meetings.support_item, dot, items[0], True, at=clock.to(clock.at + MINUTE))
    write_sync(conn, meetings.support_item, priya, items[1], True, at=clock.to(clock.at + MINUTE))
    write_sync(
        conn,
        meetings.reply,
        margaret,
        meeting,
        "online",
        "large_print",
        [],
        True,
        at=clock.to(clock.at + MINUTE),
    )
