"""Group names (pseudonyms) in search and in reply emails, over a real server, real
sockets, the real /search page and a real aiosmtpd: another member finds a post under the
group name and alias only, never the real name or real id, and cannot link the two names
with the person filter; a staff facilitator sees who it is; a reply email names the
author as the group shows them to that reader."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from server.domain import discussions, names
from server.storage.engine import write_sync
from tests.harness import Running
from tests.people_helpers import log_in
from tests.smtp import smtp_server, text_part
from tests.test_email_prefs import choose, email_settings, settle

MARGARET, BOB, NADIA = "margaret@cfn.example", "bob@cfn.example", "nadia@cfn.example"
REAL, PSEUDONYM = "Margaret Smith", "Blue Heron"


def _people(page: str) -> dict[int, str]:
    """The person filter's options on the search page: shown id -> label."""
    found = re.search(r'<select id="search-person".*?</select>', page, re.S)
    assert found is not None
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', found.group(0))
    return {int(v): html.unescape(label) for v, label in options}


def _results(page: str) -> str:
    found = re.search(r'<ol class="card-list search-results".*?</ol>', page, re.S)
    return found.group(0) if found else ""


def _setup(server: Running) -> tuple[int, int, dict[str, Any]]:
    """Margaret is "Blue Heron" in North and herself in South; Bob is in both; Nadia is
    North's staff facilitator. Returns her real id, her North alias and her posts."""
    margaret = server.user(MARGARET, REAL)
    server.user(BOB, "Bob")
    server.user(NADIA, "Nadia", role="staff")
    for email, role in ((MARGARET, "member"), (BOB, "member"), (NADIA, "facilitator")):
        server.member("north", email, role)
    server.member("south", MARGARET)
    server.member("south", BOB)
    write_sync(server.db, names.set_name, margaret, "north", PSEUDONYM)
    north = server.db.execute("SELECT id FROM groups WHERE slug = 'north'").fetchone()[0]
    alias = write_sync(server.db, names.own, north, margaret)["id"]
    posts = {
        "north": write_sync(
            server.db,
            discussions.create_thread,
            margaret,
            "north",
            "Dialysis transport",
            "Taxi on dialysis days",
            "n1",
        ),
        "south": write_sync(
            server.db,
            discussions.create_thread,
            margaret,
            "south",
            "Dialysis rota",
            "Taxi for the south",
            "s1",
        ),
    }
    return margaret.id, alias, posts


async def test_search_shows_the_group_name_and_alias_and_never_links_the_two_names(
    server: Running, clients: Callable[..., Any]
) -> None:
    real_id, alias, posts = _setup(server)
    north_thread = posts["north"]["thread"]["id"]
    south_thread = posts["south"]["thread"]["id"]
    bob = await log_in(server, BOB)
    nadia = await log_in(server, NADIA)

    # The page, in North only: the group name, never her real name or real id.
    page = (await bob.get("/search", params={"q": "taxi", "group": "north"})).text
    shown = _results(page)
    assert f"/g/north/t/{north_thread}" in shown and PSEUDONYM in shown
    assert "Margaret" not in shown
    offered = _people(page)
    assert offered[alias] == f"{PSEUDONYM}, in North"
    # She is offered under her real name only for South, where she uses it.
    assert offered[real_id] == REAL
    # Her real id finds her South posts only; the alias her North posts only; her real
    # name as words finds nothing of hers.
    by_real = (await bob.get("/search", params={"q": "taxi", "person": str(real_id)})).text
    assert f"/g/south/t/{south_thread}" in by_real and f"/g/north/t/{north_thread}" not in by_real
    by_alias = (await bob.get("/search", params={"q": "taxi", "person": str(alias)})).text
    assert f"/g/north/t/{north_thread}" in _results(by_alias)
    assert f"/g/south/t/{south_thread}" not in by_alias and "Margaret" not in _results(by_alias)
    by_name = (await bob.get("/search", params={"q": "margaret smith"})).text
    assert "Nothing found" in by_name

    # The op: the same, as plain data.
    c = await clients(BOB)
    found = await c.call("search", q="taxi", room="north")
    assert [r["author"] for r in found["results"]] == [PSEUDONYM]
    text = json.dumps(found, ensure_ascii=False)
    assert "Margaret" not in text and '"real"' not in text
    mine = await c.call("search", q="taxi", person=real_id)
    assert [(r["room"], r["author"]) for r in mine["results"]] == [("south", REAL)]
    as_alias = await c.call("search", q="taxi", person=alias)
    assert [(r["room"], r["author"]) for r in as_alias["results"]] == [("north", PSEUDONYM)]
    assert (await c.call("search", q="taxi", room="north", person=real_id))["results"] == []

    # A staff facilitator of North sees who it is, and may find her there by her real id.
    staff_page = (await nadia.get("/search", params={"q": "taxi"})).text
    assert f"{PSEUDONYM} ({REAL})" in _results(staff_page)
    assert _people(staff_page)[alias] == f"{PSEUDONYM} ({REAL}), in North"
    n = await clients(NADIA)
    staff = await n.call("search", q="taxi", person=real_id)
    assert [(r["room"], r["author"]) for r in staff["results"]] == [
        ("north", f"{PSEUDONYM} ({REAL})")
    ]
    for h in (bob, nadia):
        await h.aclose()


async def test_a_reply_email_names_the_author_as_the_group_shows_them_to_the_reader(
    start_server: Callable[..., Any],
) -> None:
    async with smtp_server() as inbox:
        server = await start_server(**email_settings(inbox.port))
        _setup(server)
        margaret, bob, nadia = (server.user(e) for e in (MARGARET, BOB, NADIA))
        choose(server, bob, reply=True)
        choose(server, nadia, reply=True)
        await settle(inbox, 0.5)  # the first round sets the cursor
        made = write_sync(
            server.db, discussions.create_thread, bob, "north", "Lifts", "Who drives?", "b1"
        )
        thread = made["thread"]["id"]
        write_sync(server.db, discussions.post_message, nadia, "north", thread, "I ask", "x1")
        write_sync(
            server.db, discussions.post_message, margaret, "north", thread, "I can drive", "m1"
        )
        await inbox.wait_for(3)  # Bob: Nadia's and Margaret's; Nadia: Margaret's
        got = await settle(inbox)
        to_bob = [m for m in got if m["To"] == BOB and "drive" in text_part(m)]
        assert len(to_bob) == 1
        assert to_bob[0]["Subject"] == f"{PSEUDONYM} replied in “Lifts”"
        body = text_part(to_bob[0])
        assert PSEUDONYM in body and "Margaret" not in body
        to_nadia = [m for m in got if m["To"] == NADIA]
        assert [m["Subject"] for m in to_nadia] == [f"{PSEUDONYM} ({REAL}) replied in “Lifts”"]
