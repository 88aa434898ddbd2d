"""The permission rules of PROTOCOL §4, as a matrix: every site role (member, staff, admin)
× every group role (none, member, chair, facilitator) × every operation and page."""

from __future__ import annotations

import re
from typing import Any

import httpx

from server.realtime.ops.meetings import OPERATIONS as MEETING_OPS
from server.realtime.ops.table import OPERATIONS
from tests.harness import PASSWORD, Client, Running, connect

SITE_ROLES = ("member", "staff", "admin")
GROUP_ROLES = (None, "member", "chair", "facilitator")
COMBOS = [(s, g) for s in SITE_ROLES for g in GROUP_ROLES]
DENIED = {"forbidden", "not_found", "not_joined"}


def email_of(site: str, group: str | None) -> str:
    return f"{site}-{group or 'none'}@cfn.example"


def sees_room(site: str, group: str | None) -> bool:
    """Only members of a group, and site admins, may see its room."""
    return group is not None or site == "admin"


def runs_room(site: str, group: str | None) -> bool:
    """Polls and idea statuses: chair or facilitator there, or site staff/admin (who can
    see the room)."""
    return sees_room(site, group) and (
        group in ("chair", "facilitator") or site in ("staff", "admin")
    )


def moderates(site: str, group: str | None) -> bool:
    """Hiding and restoring another member's message: chair, facilitator, or a site admin."""
    return group in ("chair", "facilitator") or site == "admin"


def removes(site: str, group: str | None) -> bool:
    """`message.delete` of another member's message, as PROTOCOL.md allows: a site admin
    removes it for good; the group's chair or a facilitator hides it (reversibly)."""
    return moderates(site, group)


# op -> (rule, how to call it for combo number n). Arguments come from the arranged world.
RULES: dict[str, Any] = {
    "join": (sees_room, lambda w, n: {"room": "north"}),
    "history": (sees_room, lambda w, n: {"room": "north"}),
    "presence": (sees_room, lambda w, n: {"room": "north"}),
    "typing": (sees_room, lambda w, n: {"room": "north"}),
    # A name in the group: its members only (an admin outside it has no one to be there).
    "name.set": (lambda s, g: g is not None, lambda w, n: {"room": "north", "name": f"N {n}"}),
    "thread.create": (
        sees_room,
        lambda w, n: {"room": "north", "title": "Mine", "body": "b", "cid": f"t{n}"},
    ),
    "message.post": (
        sees_room,
        lambda w, n: {"room": "north", "thread": w["thread"], "body": "b", "cid": f"m{n}"},
    ),
    "message.edit": (
        lambda s, g: False,
        lambda w, n: {"message": w["messages"][n], "body": "changed"},
    ),
    "message.delete": (removes, lambda w, n: {"message": w["messages"][n]}),
    "message.report": (
        sees_room,
        lambda w, n: {"message": w["reported"][n], "reason": "unkind"},
    ),
    "message.hide": (moderates, lambda w, n: {"message": w["hideable"][n], "reason": "rules"}),
    "poll.create": (
        runs_room,
        lambda w, n: {"room": "north", "question": "Q?", "options": ["a", "b"], "kind": "single"},
    ),
    "poll.vote": (sees_room, lambda w, n: {"poll": w["poll"], "choices": [0]}),
    "poll.close": (runs_room, lambda w, n: {"poll": w["polls"][n]}),
    "idea.create": (
        sees_room,
        lambda w, n: {"room": "north", "title": "I", "body": "b", "cid": f"i{n}"},
    ),
    "idea.support": (sees_room, lambda w, n: {"idea": w["idea"]}),
    "idea.unsupport": (sees_room, lambda w, n: {"idea": w["idea"]}),
    "idea.status": (
        runs_room,
        lambda w, n: {"idea": w["ideas"][n], "status": "discussing", "note": ""},
    ),
    # Following and the inbox (issue 13): one's own follows, levels and read marks.
    "follow.set": (sees_room, lambda w, n: {"room": "north", "kind": "thread", "id": w["thread"]}),
    "follow.level": (
        lambda s, g: g is not None,  # a level belongs to a member; an admin visiting has none
        lambda w, n: {"room": "north", "level": "everything"},
    ),
    "inbox.get": (lambda s, g: True, lambda w, n: {}),
    "inbox.read": (lambda s, g: True, lambda w, n: {}),
}
# Each op is tried after joining (when the combo can join), so not_joined never hides a
# permission answer; "join" itself is tried first.
ORDER = ["join", *[op for op in RULES if op != "join"]]


async def _arrange(server: Running) -> dict[str, Any]:
    server.member("north", "owner@cfn.example")
    server.member("north", "runner@cfn.example", "chair")
    for site, group in COMBOS:
        server.user(email_of(site, group), role=site)
        if group is not None:
            server.member("north", email_of(site, group), group)
    owner = await connect(server, server.token("owner@cfn.example"))
    runner = await connect(server, server.token("runner@cfn.example"))
    for c in (owner, runner):
        await c.call("join", room="north")
    made = await owner.call("thread.create", room="north", title="T", body="first", cid="o")
    world: dict[str, Any] = {
        "thread": made["thread"]["id"],
        "messages": [],
        "reported": [],
        "hideable": [],
        "polls": [],
        "ideas": [],
    }
    for n in range(len(COMBOS)):
        posted = await owner.call(
            "message.post", room="north", thread=world["thread"], body=f"owner {n}", cid=f"o{n}"
        )
        world["messages"].append(posted["message"]["id"])
        for key in ("reported", "hideable"):
            more = await owner.call(
                "message.post", room="north", thread=world["thread"], body=key, cid=f"{key}{n}"
            )
            world[key].append(more["message"]["id"])
        poll = await runner.call(
            "poll.create", room="north", question=f"Poll {n}", options=["a", "b"], kind="single"
        )
        world["polls"].append(poll["poll"]["id"])
        idea = await owner.call(
            "idea.create", room="north", title=f"Idea {n}", body="b", cid=f"oi{n}"
        )
        world["ideas"].append(idea["idea"]["id"])
    world["poll"] = world["polls"][0]
    world["poll"] = (
        await runner.call(
            "poll.create", room="north", question="Shared", options=["a", "b"], kind="single"
        )
    )["poll"]["id"]
    world["idea"] = world["ideas"][0]
    await owner.close()
    await runner.close()
    return world


async def _outcome(client: Client, op: str, args: dict[str, Any]) -> str:
    reply = await client.reply(await client.send(op, **args))
    return "ok" if reply["ok"] else reply["error"]["code"]


async def test_every_site_and_group_role_gets_exactly_the_operations_the_rules_allow(
    server: Running,
) -> None:
    world = await _arrange(server)
    untested = (
        set(OPERATIONS)
        - set(RULES)
        - MEETING_OPS.keys()  # their own matrix: tests/test_meetings_permissions.py
        - {
            "hello",
            "leave",
            "ping",
            "poll.count",
            "poll.vote_for",
            "poll.get",
            "poll.list",
            "idea.merge",
            "idea.get",
            "idea.list",
            # proved by tests/test_safety.py's own role matrix
            "message.restore",
            "message.review",
            "report.dismiss",
            # open to every member; what each finds: tests/test_search.py
            "search",
        }
    )
    assert not untested, f"add these operations to the matrix: {untested}"
    wrong = []
    tried = 0
    for n, (site, group) in enumerate(COMBOS):
        client = await connect(server, server.token(email_of(site, group)))
        for op in ORDER:
            if op not in OPERATIONS:
                continue
            rule, args = RULES[op]
            got = await _outcome(client, op, args(world, n))
            tried += 1
            allowed = rule(site, group)
            if allowed and got != "ok" or not allowed and got not in DENIED:
                wrong.append(
                    f"{site}/{group or 'none'} {op}: got {got}, "
                    f"expected {'ok' if allowed else 'refusal'}"
                )
        # Editing one's own message is always the author's right.
        if sees_room(site, group):
            mine = await client.call(
                "message.post", room="north", thread=world["thread"], body="my own", cid=f"own{n}"
            )
            if (
                await _outcome(
                    client, "message.edit", {"message": mine["message"]["id"], "body": "edited"}
                )
                != "ok"
            ):
                wrong.append(f"{site}/{group or 'none'} cannot edit their own message")
        await client.close()
    assert wrong == []
    assert tried >= len(COMBOS) * 12


PAGES = [
    "/g/north",
    "/g/north/t/{thread}",
    "/g/north/polls",
    "/g/north/polls/{poll}",
    "/g/north/ideas",
    "/g/north/ideas/{idea}",
]
# The no-JavaScript forms: (path, fields, rule). Outsiders get 404, members without the
# right 403, the allowed a 303 back to the page.
FORMS = [
    ("/g/north/threads", {"title": "By form", "body": "b"}, sees_room),
    ("/g/north/t/{thread}/messages", {"body": "by form"}, sees_room),
    ("/g/north/polls", {"question": "Form poll?", "options": "a\nb"}, runs_room),
    ("/g/north/polls/{poll}/vote", {"choice": "0"}, sees_room),
    ("/g/north/polls/{poll_n}/close", {}, runs_room),
    ("/g/north/ideas", {"title": "Form idea", "body": "b"}, sees_room),
    ("/g/north/ideas/{idea}/support", {}, sees_room),
    ("/g/north/ideas/{idea_n}/status", {"status": "discussing", "note": ""}, runs_room),
]


async def test_every_role_sees_and_uses_exactly_the_pages_and_forms_the_rules_allow(
    server: Running,
) -> None:
    world = await _arrange(server)
    wrong = []
    for site, group in COMBOS:
        async with httpx.AsyncClient(base_url=server.http) as http:
            form = await http.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            done = await http.post(
                "/login",
                data={
                    "email": email_of(site, group),
                    "password": PASSWORD,
                    "next": "/",
                    "csrf": csrf.group(1),
                },
            )
            assert done.status_code == 303
            for path in PAGES:
                url = path.format(**world)
                status = (await http.get(url)).status_code
                expected = 200 if sees_room(site, group) else 404
                if status != expected:
                    wrong.append(f"{site}/{group or 'none'} {url}: {status} not {expected}")
            home = await http.get("/")
            if ("/g/north" in home.text) != sees_room(site, group):
                wrong.append(f"{site}/{group or 'none'}: home page lists north wrongly")
            csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)  # the logout form's
            assert csrf is not None
            n = COMBOS.index((site, group))
            ids = {**world, "poll_n": world["polls"][n], "idea_n": world["ideas"][n]}
            for path, fields, rule in FORMS:
                url = path.format(**ids)
                status = (await http.post(url, data={**fields, "csrf": csrf[1]})).status_code
                expected = 303 if rule(site, group) else 403 if sees_room(site, group) else 404
                if status != expected:
                    wrong.append(f"{site}/{group or 'none'} POST {url}: {status} not {expected}")
    async with httpx.AsyncClient(base_url=server.http) as anonymous:
        for path in PAGES:
            status = (await anonymous.get(path.format(**world))).status_code
            if status not in (303, 302):
                wrong.append(f"logged out {path}: {status}, not sent to log in")
    assert wrong == []
