"""Polls and ideas pages without JavaScript: forms, exports, outsiders, anonymity."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import httpx
import pytest

from server.domain import accounts, discussions, ideas, polls
from server.storage.engine import write_sync
from tests.harness import Running

ROOM = "north"


class Browser:
    """An HTTP client holding one member's session cookie and CSRF token."""

    def __init__(self, server: Running, email: str) -> None:
        user = server.user(email)
        token, self.csrf = write_sync(server.db, accounts.create_session, user.id, 1)
        self.http = httpx.AsyncClient(
            base_url=server.http, cookies={"cfn_session": token}, follow_redirects=False, timeout=10
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool = True
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        return await self.http.post(path, data=form)


@pytest.fixture
async def site(server: Running) -> Any:
    server.member(ROOM, "fay@cfn.example", "facilitator")
    server.member(ROOM, "bob@cfn.example")
    server.member(ROOM, "dan@cfn.example")
    server.member(ROOM, "eve@cfn.example")
    server.member("south", "carol@cfn.example")
    opened: dict[str, Browser] = {}

    def browser(who: str) -> Browser:
        if who not in opened:
            opened[who] = Browser(server, f"{who}@cfn.example")
        return opened[who]

    yield browser
    for b in opened.values():
        await b.http.aclose()


def user(server: Running, who: str) -> accounts.User:
    return server.user(f"{who}@cfn.example")


async def test_a_facilitator_runs_a_poll_with_forms_alone(server: Running, site: Any) -> None:
    fay, bob = site("fay"), site("bob")
    made = await fay.post(
        f"/g/{ROOM}/polls",
        {
            "question": "Next meeting's topic?",
            "options": "Falls\nLeaflet\n\nVisits",
            "kind": "single",
            "anonymous": "no",
            "results": "live",
        },
    )
    assert made.status_code == 303
    poll_id = int(re.search(r"poll-(\d+)", made.headers["location"]).group(1))
    page = await bob.get(f"/g/{ROOM}/polls")
    assert page.status_code == 200 and "Next meeting&#39;s topic?" in page.text
    assert 'name="choice"' in page.text and "New poll" not in page.text  # members only vote
    assert (await bob.post(f"/g/{ROOM}/polls/{poll_id}/vote", {"choice": "1"})).status_code == 303
    assert (
        await fay.post(
            f"/g/{ROOM}/polls/{poll_id}/count", {"count-0": "2", "count-1": "0", "count-2": "1"}
        )
    ).status_code == 303
    assert (
        await fay.post(
            f"/g/{ROOM}/polls/{poll_id}/vote-for",
            {"member": str(user(server, "dan").id), "choice": "2"},
        )
    ).status_code == 303
    shown = (await bob.get(f"/g/{ROOM}/polls/{poll_id}")).text
    assert "<strong>2</strong> votes, <strong>40%</strong>" in shown  # Falls: 2 of 5
    assert "0 online, 1 by phone (entered for them), 1 in the room" in shown  # Visits
    assert "Dan: Visits" in shown and "entered by Fay" in shown
    assert (await fay.post(f"/g/{ROOM}/polls/{poll_id}/close")).status_code == 303
    closed = await bob.post(f"/g/{ROOM}/polls/{poll_id}/vote", {"choice": "0"})
    assert closed.status_code == 409 and "closed" in closed.text
    rows = list(
        csv.reader(
            io.StringIO(
                (await bob.get(f"/g/{ROOM}/polls/{poll_id}/results.csv")).text.lstrip("\ufeff")
            )
        )
    )
    assert ["Falls", "2", "40%", "0", "0", "2", ""] in [r[5:12] for r in rows]
    assert ["Visits", "2", "40%", "0", "1", "1", "Dan (entered by Fay)"] in [r[5:12] for r in rows]
    printable = await bob.get(f"/g/{ROOM}/polls/{poll_id}/print")
    assert printable.status_code == 200 and "Results in numbers" in printable.text
    assert '<th scope="row">Dan</th><td>Visits</td><td>Fay</td>' in printable.text


async def test_members_cannot_run_polls_from_pages(server: Running, site: Any) -> None:
    bob = site("bob")
    denied = await bob.post(f"/g/{ROOM}/polls", {"question": "Q", "options": "a\nb"})
    assert denied.status_code == 403
    poll = write_sync(
        server.db, polls.create_poll, user(server, "fay"), ROOM, "Q", ["a", "b"], "single"
    )["poll"]["id"]
    assert (await bob.post(f"/g/{ROOM}/polls/{poll}/close")).status_code == 403
    assert (
        await bob.post(f"/g/{ROOM}/polls/{poll}/count", {"count-0": "9", "count-1": "0"})
    ).status_code == 403
    assert server.db.execute("SELECT closed_at, room_counts FROM polls").fetchone()[:] == (
        None,
        None,
    )


async def test_forms_without_the_csrf_token_are_refused(server: Running, site: Any) -> None:
    fay = site("fay")
    refused = await fay.post(f"/g/{ROOM}/polls", {"question": "Q", "options": "a\nb"}, csrf=False)
    assert refused.status_code == 403
    refused = await fay.post(f"/g/{ROOM}/ideas", {"title": "T", "body": "B"}, csrf=False)
    assert refused.status_code == 403
    assert server.db.execute("SELECT count(*) FROM polls").fetchone()[0] == 0
    assert server.db.execute("SELECT count(*) FROM ideas").fetchone()[0] == 0


async def test_outsiders_get_the_same_404_as_for_a_group_that_does_not_exist(
    server: Running, site: Any
) -> None:
    fay_user = user(server, "fay")
    poll = write_sync(server.db, polls.create_poll, fay_user, ROOM, "Q", ["a", "b"], "single")[
        "poll"
    ]["id"]
    idea = write_sync(server.db, ideas.create_idea, fay_user, ROOM, "T", "B", "c")["idea"]["id"]
    carol = site("carol")
    missing = await carol.get("/g/no-such-group/polls")
    assert missing.status_code == 404
    assert (await carol.get("/g/no-such-group")).text == missing.text  # the room page's 404
    for path in (
        f"/g/{ROOM}/polls",
        f"/g/{ROOM}/polls/{poll}",
        f"/g/{ROOM}/polls/{poll}/print",
        f"/g/{ROOM}/polls/{poll}/results.csv",
        f"/g/{ROOM}/polls.csv",
        f"/g/{ROOM}/ideas",
        f"/g/{ROOM}/ideas/{idea}",
        "/g/south/polls/" + str(poll),
    ):
        got = await carol.get(path)
        assert got.status_code == 404 and got.text == missing.text, path
    for path, data in (
        (f"/g/{ROOM}/polls/{poll}/vote", {"choice": "0"}),
        (f"/g/{ROOM}/ideas/{idea}/support", {"action": "support"}),
    ):
        got = await carol.post(path, data)
        assert got.status_code == 404, path
    assert server.db.execute("SELECT count(*) FROM poll_voters").fetchone()[0] == 0
    assert "You said" in (await carol.get("/you-said-we-did")).text
    assert (
        "T"
        not in re.sub(r"<[^>]+>", "", (await carol.get("/you-said-we-did")).text)
        .split("You said, we did")[-1]
        .split("Nothing")[0]
        .strip()
    )


async def test_anonymous_poll_pages_and_exports_name_no_voter(server: Running, site: Any) -> None:
    fay_user = user(server, "fay")
    poll = write_sync(
        server.db, polls.create_poll, fay_user, ROOM, "Anon?", ["yes", "no"], "single", True
    )["poll"]["id"]
    voters = [user(server, w) for w in ("bob", "dan")]
    write_sync(server.db, polls.vote, voters[0], poll, [0])
    write_sync(server.db, polls.vote_for, fay_user, poll, voters[1].id, [1])
    needles = [n for v in voters for n in (v.name, v.email, f'value="{v.id}"')]

    async def scan(who: str, paths: list[str]) -> None:
        for path in paths:
            got = await site(who).get(path)
            assert got.status_code == 200, path
            for needle in needles:
                assert needle not in got.text, (who, path, needle)

    paths = [
        f"/g/{ROOM}/polls/{poll}/print",
        f"/g/{ROOM}/polls/{poll}/results.csv",
        f"/g/{ROOM}/polls.csv",
    ]
    await scan("eve", [f"/g/{ROOM}/polls", f"/g/{ROOM}/polls/{poll}", *paths])
    await scan("fay", paths)
    write_sync(server.db, polls.close, fay_user, poll)
    await scan("eve", [f"/g/{ROOM}/polls", f"/g/{ROOM}/polls/{poll}", *paths])
    await scan("fay", [f"/g/{ROOM}/polls", f"/g/{ROOM}/polls/{poll}", *paths])


async def test_closed_results_are_hidden_on_pages_and_exports_until_close(
    server: Running, site: Any
) -> None:
    fay_user = user(server, "fay")
    poll = write_sync(
        server.db,
        polls.create_poll,
        fay_user,
        ROOM,
        "Secret?",
        ["alpha", "beta"],
        "single",
        False,
        "closed",
    )["poll"]["id"]
    write_sync(server.db, polls.vote, user(server, "bob"), poll, [1])
    for who in ("bob", "fay"):
        for path in (f"/g/{ROOM}/polls/{poll}", f"/g/{ROOM}/polls/{poll}/results.csv"):
            text = (await site(who).get(path)).text
            assert "votes," not in text and "Bob:" not in text and "Bob," not in text
            assert "shown when the poll closes" in text
    write_sync(server.db, polls.close, fay_user, poll)
    text = (await site("bob").get(f"/g/{ROOM}/polls/{poll}")).text
    assert "<strong>1</strong> vote, <strong>100%</strong>" in text


async def test_idea_board_forms_status_timeline_and_you_said_we_did(
    server: Running, site: Any
) -> None:
    bob, dan, fay = site("bob"), site("dan"), site("fay")
    made = await bob.post(
        f"/g/{ROOM}/ideas",
        {"title": "Signpost frequent callers", "body": "To **peer support**.", "cid": "f1"},
    )
    assert made.status_code == 303
    idea = int(made.headers["location"].rsplit("/", 1)[1])
    await dan.post(f"/g/{ROOM}/ideas/{idea}/support", {"action": "support"})
    await bob.post(f"/g/{ROOM}/ideas/{idea}/support", {"action": "support"})
    await bob.post(f"/g/{ROOM}/ideas/{idea}/support", {"action": "withdraw"})
    page = (await dan.get(f"/g/{ROOM}/ideas/{idea}")).text
    assert "<strong>1</strong> supporter" in page and "Withdraw my support" in page
    assert "<strong>peer support</strong>" in page
    assert (
        await bob.post(f"/g/{ROOM}/ideas/{idea}/status", {"status": "adopted"})
    ).status_code == 403
    no_note = await fay.post(f"/g/{ROOM}/ideas/{idea}/status", {"status": "not_taken_forward"})
    assert no_note.status_code == 400
    await fay.post(
        f"/g/{ROOM}/ideas/{idea}/status",
        {"status": "adopted", "note": "Agreed with the frequent-caller team."},
    )
    board = (await dan.get(f"/g/{ROOM}/ideas?status=adopted&sort=newest")).text
    assert "Signpost frequent callers" in board
    assert "Signpost" not in (await dan.get(f"/g/{ROOM}/ideas?status=done")).text
    said = (await dan.get("/you-said-we-did")).text
    assert "Signpost frequent callers" in said and "Agreed with the frequent-caller team." in said
    rows = list(
        csv.reader(io.StringIO((await dan.get("/you-said-we-did.csv")).text.lstrip("\ufeff")))
    )
    assert rows[0][:4] == ["Group", "Idea", "Current status", "Status"]
    assert any(r[3] == "Adopted" and r[5] == "Agreed with the frequent-caller team." for r in rows)
    assert not any(
        "Signpost" in r[1]
        for r in list(
            csv.reader(
                io.StringIO((await site("carol").get("/you-said-we-did.csv")).text.lstrip("\ufeff"))
            )
        )[1:]
    )


async def test_csv_cells_cannot_run_as_spreadsheet_formulas(server: Running, site: Any) -> None:
    poll = write_sync(
        server.db,
        polls.create_poll,
        user(server, "fay"),
        ROOM,
        '=HYPERLINK("x")',
        ["+1", "-2"],
        "single",
    )["poll"]["id"]
    text = (await site("bob").get(f"/g/{ROOM}/polls/{poll}/results.csv")).text
    assert "'=HYPERLINK" in text and ",'+1," in text and ",'-2," in text


def _count_boxes(html: str) -> dict[str, str]:
    """The show-of-hands form's boxes as the page fills them in: name -> value."""
    return dict(re.findall(r'name="(count-\d+)" type="text"[^>]*value="([^"]*)"', html))


@pytest.mark.parametrize("results", ["closed", "after_vote", "live"])
async def test_correcting_one_show_of_hands_box_keeps_the_other_counts(
    server: Running, site: Any, results: str
) -> None:
    """6/4/2, then the first box corrected to 7 for a latecomer: 7/4/2 at close."""
    fay = site("fay")
    poll = write_sync(
        server.db,
        polls.create_poll,
        user(server, "fay"),
        ROOM,
        "Topic?",
        ["Falls", "Leaflet", "Visits"],
        "single",
        False,
        results,
    )["poll"]["id"]
    await fay.post(
        f"/g/{ROOM}/polls/{poll}/count", {"count-0": "6", "count-1": "4", "count-2": "2"}
    )
    page = (await fay.get(f"/g/{ROOM}/polls/{poll}")).text
    boxes = _count_boxes(page)
    assert boxes == {"count-0": "6", "count-1": "4", "count-2": "2"}, boxes
    assert "replaces the last one" not in page and "counts saved so far" in page
    boxes["count-0"] = "7"  # she changes one box and saves the form as it stands
    assert (await fay.post(f"/g/{ROOM}/polls/{poll}/count", boxes)).status_code == 303
    assert _count_boxes((await fay.get(f"/g/{ROOM}/polls/{poll}")).text)["count-2"] == "2"
    assert (await fay.post(f"/g/{ROOM}/polls/{poll}/close")).status_code == 303
    closed = write_sync(
        server.db, lambda tx: tx.one("SELECT final FROM polls WHERE id = ?", (poll,))[0]
    )
    assert json.loads(closed)["in_room"] == [7, 4, 2]


async def test_the_phoned_in_member_list_starts_with_choose_a_member(
    server: Running, site: Any
) -> None:
    fay = site("fay")
    poll = write_sync(
        server.db,
        polls.create_poll,
        user(server, "fay"),
        ROOM,
        "Topic?",
        ["Falls", "Leaflet"],
        "single",
    )["poll"]["id"]
    page = (await fay.get(f"/g/{ROOM}/polls/{poll}")).text
    select = page.split('id="vote-for-member"', 1)[1].split("</select>", 1)[0]
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    assert options[0] == ("", "Choose a member…"), options
    assert " required" in select.split(">", 1)[0]
    refused = await fay.post(f"/g/{ROOM}/polls/{poll}/vote-for", {"member": "", "choice": "0"})
    assert refused.status_code == 400
    assert "choose the member you are voting for" in refused.text
    assert server.db.execute("SELECT count(*) FROM poll_voters").fetchone()[0] == 0


async def test_the_csv_of_all_polls_is_one_table_under_one_header_row(
    server: Running, site: Any
) -> None:
    fay_user = user(server, "fay")
    named = write_sync(
        server.db, polls.create_poll, fay_user, ROOM, "Named?", ["yes", "no", "maybe"], "single"
    )["poll"]["id"]
    write_sync(server.db, polls.vote, user(server, "bob"), named, [0])
    hidden = write_sync(
        server.db,
        polls.create_poll,
        fay_user,
        ROOM,
        "Hidden?",
        ["a", "b"],
        "single",
        False,
        "closed",
    )["poll"]["id"]
    write_sync(server.db, polls.vote, user(server, "bob"), hidden, [1])
    closed = write_sync(
        server.db, polls.create_poll, fay_user, ROOM, "Closed?", ["x", "y"], "multi"
    )["poll"]["id"]
    write_sync(server.db, polls.close, fay_user, closed)
    text = (await site("dan").get(f"/g/{ROOM}/polls.csv")).text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:7] == [
        "Group",
        "Poll",
        "Status",
        "Votes are",
        "Members who voted",
        "Answer",
        "Total",
    ]
    assert all(len(r) == len(header) for r in rows), rows  # no blank or short rows
    assert [r for r in rows if r == header] == [header]  # one header row
    by_poll: dict[str, list[list[str]]] = {}
    for r in rows[1:]:
        by_poll.setdefault(r[1], []).append(r)
    assert [r[5] for r in by_poll["Named?"]] == ["yes", "no", "maybe"]
    yes = by_poll["Named?"][0]
    assert yes[4] == "1" and yes[6] == "1" and yes[7] == "100%" and yes[11] == "Bob"
    assert [r[5] for r in by_poll["Hidden?"]] == ["a", "b"]
    assert all(r[6] == "" and "shown when the poll closes" in r[12] for r in by_poll["Hidden?"])
    assert by_poll["Closed?"][0][2].startswith("closed ")


async def test_an_anonymous_poll_shows_only_the_turnout_on_pages_until_five_have_voted(
    server: Running, site: Any
) -> None:
    fay_user = user(server, "fay")
    for who in ("gil", "hal"):
        server.member(ROOM, f"{who}@cfn.example")
    poll = write_sync(
        server.db, polls.create_poll, fay_user, ROOM, "Anon?", ["yes", "no"], "single", True, "live"
    )["poll"]["id"]
    write_sync(server.db, polls.vote, user(server, "bob"), poll, [0])
    write_sync(server.db, polls.count_in_room, fay_user, poll, [0, 3])
    paths = [
        f"/g/{ROOM}/polls",
        f"/g/{ROOM}/polls/{poll}",
        f"/g/{ROOM}/polls/{poll}/print",
        f"/g/{ROOM}/polls/{poll}/results.csv",
        f"/g/{ROOM}/polls.csv",
    ]

    async def shown(who: str) -> list[str]:
        return [(await site(who).get(p)).text for p in paths]

    for who in ("eve", "fay", "bob"):
        for path, text in zip(paths, await shown(who), strict=True):
            assert "</strong> vote" not in text and "%</strong>" not in text, path
            assert "100%" not in text and "0%" not in text, path
            assert "Results in numbers" not in text, path
            assert "shown once 5 members have voted" in text, (who, path)
    assert "1 member voted so far" in (await site("eve").get(f"/g/{ROOM}/polls/{poll}")).text
    form = (await site("fay").get(f"/g/{ROOM}/polls")).text
    assert "results stay hidden until 5 members have voted" in form
    for n, who in enumerate(("dan", "eve", "gil", "hal"), start=2):
        write_sync(server.db, polls.vote, user(server, who), poll, [n % 2])
    text = (await site("eve").get(f"/g/{ROOM}/polls/{poll}")).text
    assert "<strong>5</strong> members voted" in text and "%</strong>" in text


async def test_every_group_page_has_the_same_header_in_the_same_order(
    server: Running, site: Any
) -> None:
    """Group name (a link home to the group), then the group's tabs, then the page heading."""
    fay_user = user(server, "fay")
    poll = write_sync(server.db, polls.create_poll, fay_user, ROOM, "Q", ["a", "b"], "single")[
        "poll"
    ]["id"]
    idea = write_sync(server.db, ideas.create_idea, fay_user, ROOM, "T", "B", "h")["idea"]["id"]
    made = write_sync(server.db, discussions.create_thread, fay_user, ROOM, "Th", "Body", "h1")
    thread, message = made["thread"]["id"], made["message"]["id"]
    fay = site("fay")
    pages = [
        f"/g/{ROOM}",
        f"/g/{ROOM}/t/{thread}",
        f"/g/{ROOM}/t/{thread}/m/{message}/edit",
        f"/g/{ROOM}/t/{thread}/m/{message}/remove",
        f"/g/{ROOM}/polls",
        f"/g/{ROOM}/polls/{poll}",
        f"/g/{ROOM}/ideas",
        f"/g/{ROOM}/ideas/{idea}",
    ]
    for path in pages:
        html = (await fay.get(path)).text
        main = html[html.index("<main") :]
        name = main.find(f'<p class="group-name"><a href="/g/{ROOM}"')
        tabs, heading = main.find('<nav class="group-nav"'), main.find("<h1")
        assert 0 <= name < tabs < heading, path
        assert main.count("<h1") == 1 and main.count('class="group-name"') == 1, path
