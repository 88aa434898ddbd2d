"""Who may do what with meetings, as a matrix: member, chair, facilitator, staff who are not
members, the site admin, and an outsider (a member of another group) × every meeting op,
page and a form of each kind. Members propose, support, reply, comment; chairs and
facilitators schedule, order, run, mark attendance, lock; staff who are not members see
nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from server.domain import accounts, ideas, meetings
from server.realtime.ops.meetings import OPERATIONS as MEETING_OPS
from server.storage.engine import write_sync
from tests.harness import Client, Running, connect

ROOM = "north"
DAY = 86_400_000
DENIED = {"forbidden", "not_found", "not_joined"}
ROLES = ("member", "chair", "facilitator", "staff", "admin", "outsider")


def email(role: str) -> str:
    return f"{role}@cfn.example"


def sees(role: str) -> bool:
    return role in ("member", "chair", "facilitator", "admin")


def takes_part(role: str) -> bool:
    """Propose, support, reply, send a view, comment: members of the group."""
    return role in ("member", "chair", "facilitator")


def runs(role: str) -> bool:
    return role in ("chair", "facilitator", "admin")


def arrange(server: Running) -> None:
    server.member(ROOM, "boss@cfn.example", "chair")
    server.member(ROOM, email("member"))
    server.member(ROOM, email("chair"), "chair")
    server.member(ROOM, email("facilitator"), "facilitator")
    server.user(email("staff"), role="staff")
    server.user(email("admin"), role="admin")
    server.member("south", email("outsider"))


def now() -> int:
    return int(time.time() * 1000)


def world(server: Running, state: str) -> dict[str, Any]:
    """A fresh meeting of north in ``state`` (upcoming, running, ended, approved), made by
    its chair through the domain: two accepted items, one proposed, an idea, an action."""
    boss = server.user("boss@cfn.example")
    w = server.db

    def call(fn: Callable[..., Any], *args: Any) -> Any:
        return write_sync(w, fn, boss, *args)

    for running in w.execute(
        "SELECT id FROM meetings WHERE started_at IS NOT NULL AND ended_at IS NULL"
    ).fetchall():
        call(meetings.end, running[0])
    meeting = call(meetings.schedule, ROOM, "M", now() + DAY, "online")["meeting"]["id"]
    items = [
        call(meetings.propose_item, meeting, f"Item {n}", "s", "discussion")["item"]["id"]
        for n in range(3)
    ]
    call(meetings.decide_item, items[0], "accept")
    call(meetings.decide_item, items[1], "accept")
    idea = call(ideas.create_idea, ROOM, "Idea", "b", f"idea-{meeting}")["idea"]["id"]
    if state != "upcoming":
        call(meetings.start, meeting)
    action = (
        call(meetings.add_action, items[0], "Do it", None, now())["action"]["id"]
        if (state != "upcoming")
        else None
    )
    if state in ("ended", "approved"):
        call(meetings.end, meeting)
    if state == "approved":
        call(meetings.approve, meeting)
    return {
        "meeting": meeting,
        "accepted": items[0],
        "proposed": items[2],
        "idea": idea,
        "action": action,
        "member_id": server.user(email("member")).id,
    }


# op -> (state, rule, args)
RULES: dict[str, tuple[str, Callable[[str], bool], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "meeting.create": (
        "upcoming",
        lambda r: r in ("chair", "facilitator", "admin"),
        lambda w: {"room": ROOM, "title": "New", "starts_at": now() + DAY, "mode": "online"},
    ),
    "meeting.get": ("upcoming", sees, lambda w: {"meeting": w["meeting"]}),
    "meeting.list": ("upcoming", sees, lambda w: {"room": ROOM}),
    "meeting.propose": (
        "upcoming",
        takes_part,
        lambda w: {"meeting": w["meeting"], "title": "T", "summary": "S", "kind": "information"},
    ),
    "meeting.support": ("upcoming", takes_part, lambda w: {"item": w["proposed"]}),
    "meeting.decide": (
        "upcoming",
        runs,
        lambda w: {"item": w["proposed"], "decision": "accept"},
    ),
    "meeting.move": ("upcoming", runs, lambda w: {"item": w["accepted"], "position": 2}),
    "meeting.publish": ("upcoming", runs, lambda w: {"meeting": w["meeting"]}),
    "meeting.from_idea": ("upcoming", takes_part, lambda w: {"idea": w["idea"]}),
    "meeting.paper": (
        "upcoming",
        runs,
        lambda w: {"item": w["accepted"], "title": "Paper", "body": "Text"},
    ),
    "meeting.reply": (
        "upcoming",
        takes_part,
        lambda w: {"meeting": w["meeting"], "attending": "online"},
    ),
    "meeting.view": ("upcoming", takes_part, lambda w: {"item": w["accepted"], "body": "View"}),
    "meeting.start": ("upcoming", runs, lambda w: {"meeting": w["meeting"]}),
    "meeting.next": ("running", runs, lambda w: {"meeting": w["meeting"]}),
    "meeting.end": ("running", runs, lambda w: {"meeting": w["meeting"]}),
    "meeting.outcome": (
        "running",
        runs,
        lambda w: {"item": w["accepted"], "outcome": "noted"},
    ),
    "meeting.action": (
        "running",
        runs,
        lambda w: {"item": w["accepted"], "what": "Act", "due_at": now() + DAY},
    ),
    "meeting.action_done": ("running", runs, lambda w: {"action": w["action"]}),
    "attendance.mark": (
        "running",
        runs,
        lambda w: {"meeting": w["meeting"], "member": w["member_id"], "mode": "phone"},
    ),
    "minutes.comment": ("ended", takes_part, lambda w: {"meeting": w["meeting"], "body": "C"}),
    "minutes.approve": ("ended", runs, lambda w: {"meeting": w["meeting"]}),
    "minutes.correct": ("approved", runs, lambda w: {"meeting": w["meeting"], "body": "Fix"}),
}


async def test_every_role_gets_exactly_the_meeting_operations_the_rules_allow(
    server: Running,
) -> None:
    arrange(server)
    assert set(RULES) == set(MEETING_OPS), "every meeting op is in the matrix"
    clients: dict[str, Client] = {}
    for role in ROLES:
        clients[role] = await connect(server, server.token(email(role)))
        if sees(role):
            await clients[role].call("join", room=ROOM)
    wrong = []
    for op, (state, rule, args) in RULES.items():
        for role in ROLES:
            w = world(server, state)
            reply = await clients[role].reply(await clients[role].send(op, **args(w)))
            got = "ok" if reply["ok"] else reply["error"]["code"]
            if rule(role) != (got == "ok") or (got != "ok" and got not in DENIED):
                wrong.append(f"{role} {op}: got {got}")
    for c in clients.values():
        await c.close()
    assert wrong == []


async def test_an_action_s_owner_may_mark_it_done_and_no_other_member(server: Running) -> None:
    arrange(server)
    w = world(server, "running")
    boss = server.user("boss@cfn.example")
    mine = write_sync(
        server.db, meetings.add_action, boss, w["accepted"], "Mine", w["member_id"], now()
    )["action"]["id"]
    member = await connect(server, server.token(email("member")))
    assert await member.error("meeting.action_done", action=w["action"]) == "forbidden"
    await member.call("meeting.action_done", action=mine)
    await member.close()


def _login(server: Running, role: str) -> tuple[httpx.AsyncClient, str]:
    user = accounts.user_by_email(server.db, email(role))
    assert user is not None
    token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
    return httpx.AsyncClient(base_url=server.http, cookies={"cfn_session": token}), csrf


async def test_every_role_sees_and_uses_exactly_the_meeting_pages_the_rules_allow(
    server: Running,
) -> None:
    arrange(server)
    wrong = []
    for role in ROLES:
        http, csrf = _login(server, role)
        async with http:
            w = world(server, "running")
            m = w["meeting"]
            pages = {
                "/g/north/meetings": 200,
                f"/g/north/meetings/{m}": 200,
                f"/g/north/meetings/{m}/pack": 200,
                f"/g/north/meetings/{m}/run": 200 if runs(role) else 403,
            }
            for path, allowed in pages.items():
                status = (await http.get(path)).status_code
                expected = allowed if sees(role) else 404
                if status != expected:
                    wrong.append(f"{role} GET {path}: {status} not {expected}")
            forms = [
                (f"/g/north/meetings/{m}/comment", {"body": "c"}, takes_part),
                (f"/g/north/meetings/{m}/attendance/{w['member_id']}", {"mode": "phone"}, runs),
                (f"/g/north/meetings/{m}/next", {}, runs),
            ]
            for path, fields, rule in forms:
                status = (await http.post(path, data={**fields, "csrf": csrf})).status_code
                expected = 303 if rule(role) else 403 if sees(role) else 404
                if status != expected:
                    wrong.append(f"{role} POST {path}: {status} not {expected}")
            u = world(server, "upcoming")
            forms = [
                (
                    f"/g/north/meetings/{u['meeting']}/propose",
                    {"title": "t", "summary": "s", "kind": "information"},
                    takes_part,
                ),
                (f"/g/north/meetings/{u['meeting']}/reply", {"attending": "phone"}, takes_part),
                (f"/g/north/meetings/{u['meeting']}/start", {}, runs),
            ]
            for path, fields, rule in forms:
                status = (await http.post(path, data={**fields, "csrf": csrf})).status_code
                expected = 303 if rule(role) else 403 if sees(role) else 404
                if status != expected:
                    wrong.append(f"{role} POST {path}: {status} not {expected}")
    assert wrong == []


async def test_an_item_of_another_groups_meeting_is_the_plain_404_in_this_groups_pages(
    server: Running,
) -> None:
    arrange(server)
    server.member("south", email("chair"), "chair")
    w = world(server, "upcoming")
    http, csrf = _login(server, "chair")
    async with http:
        # north's meeting and item under south's address: not found, nothing changes
        status = (
            await http.post(
                f"/g/south/meetings/{w['meeting']}/items/{w['proposed']}/decide",
                data={"decision": "accept", "csrf": csrf},
            )
        ).status_code
    assert status == 404
    assert (
        server.db.execute(
            "SELECT status FROM agenda_items WHERE id = ?", (w["proposed"],)
        ).fetchone()[0]
        == "proposed"
    )
