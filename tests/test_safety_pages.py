"""The safety pages over real HTTP, without JavaScript: report, hide, the review queue,
ground rules before a first post, staff-only posts by form, private notices."""

from __future__ import annotations

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.domain import accounts, discussions
from server.errors import NotFound
from server.storage.engine import write_sync
from tests.harness import Running
from tests.test_web_pages import Member, post

ALICE, BOB, NADIA = "alice@cfn.example", "bob@cfn.example", "nadia@cfn.example"
SECRET = "My dialysis moved to Tuesdays"


@pytest.fixture
async def member(server: Running, room: str):  # noqa: ANN201 (an async generator factory)
    opened: list[httpx.AsyncClient] = []

    async def open_member(email: str) -> Member:
        user = server.user(email)
        token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
        http = httpx.AsyncClient(
            base_url=server.http, cookies={SESSION_COOKIE: token}, timeout=10, follow_redirects=True
        )
        opened.append(http)
        return Member(http, csrf, user)

    yield open_member
    for http in opened:
        await http.aclose()


async def test_a_member_reports_by_form_and_a_missing_reason_is_asked_for_again(
    server: Running, room: str, member
) -> None:
    made = post(server, BOB, room, None, "Ring me on 07700 900123")
    thread, mid = made["thread"]["id"], made["message"]["id"]
    alice = await member(ALICE)
    url = f"/g/{room}/t/{thread}/m/{mid}/report"
    assert "What is wrong with it?" in (await alice.http.get(url)).text
    again = await alice.http.post(url, data={"csrf": alice.csrf, "note": "my words"})
    assert "Please choose a reason from the list." in again.text and "my words" in again.text
    assert server.db.execute("SELECT count(*) FROM reports").fetchone()[0] == 0
    done = await alice.http.post(url, data={"csrf": alice.csrf, "reason": "personal"})
    assert "Your report has gone to the chair" in done.text
    queue = await alice.http.get(f"/g/{room}/review")
    assert "Alice reported a post by Bob: personal details" in queue.text
    bob = await member(BOB)
    assert (await bob.http.get(f"/g/{room}/review")).status_code == 403


async def test_a_chair_hides_by_form_everyone_sees_the_reason_and_the_author_is_told(
    server: Running, room: str, member
) -> None:
    made = post(server, BOB, room, None, "Ring me on 07700 900123")
    thread, mid = made["thread"]["id"], made["message"]["id"]
    alice = await member(ALICE)
    url = f"/g/{room}/t/{thread}/m/{mid}/hide"
    page = await alice.http.post(url, data={"csrf": alice.csrf, "reason": "personal"})
    assert "The post is hidden." in page.text
    bob = await member(BOB)
    seen = (await bob.http.get(f"/g/{room}/t/{thread}")).text
    assert "Hidden by the chair: personal details" in seen and "07700" not in seen
    assert f'href="/g/{room}/rules"' in seen
    notes = (await bob.http.get("/notices")).text
    assert "was hidden by the chair (personal details)" in notes
    asked = await bob.http.post(f"/notices/{mid}/review", data={"csrf": bob.csrf, "note": ""})
    assert "looked at again" in asked.text
    queue = (await alice.http.get(f"/g/{room}/review")).text
    assert "Bob asks for their hidden post to be looked at again" in queue
    assert "07700 900123" in queue  # the moderator sees the kept words to decide
    await alice.http.post(f"/g/{room}/t/{thread}/m/{mid}/restore", data={"csrf": alice.csrf})
    assert "07700 900123" in (await bob.http.get(f"/g/{room}/t/{thread}")).text


async def test_the_ground_rules_show_before_a_first_post_and_not_after(
    server: Running, room: str, member
) -> None:
    made = post(server, ALICE, room, None, "Welcome")
    thread = made["thread"]["id"]
    alice = await member(ALICE)
    saved = await alice.http.post(
        f"/g/{room}/rules", data={"csrf": alice.csrf, "rules": "Be kind to each other."}
    )
    assert "The ground rules are saved." in saved.text
    bob = await member(BOB)
    first = (await bob.http.get(f"/g/{room}/t/{thread}")).text
    assert "Before your first post" in first and "Be kind to each other." in first
    await bob.http.post(
        f"/g/{room}/t/{thread}/messages", data={"csrf": bob.csrf, "body": "Hello", "cid": "h"}
    )
    assert "Before your first post" not in (await bob.http.get(f"/g/{room}/t/{thread}")).text
    refused = await bob.http.post(f"/g/{room}/rules", data={"csrf": bob.csrf, "rules": "x"})
    assert refused.status_code == 403


async def test_a_staff_only_post_by_form_is_not_on_other_members_pages(
    server: Running, room: str, member
) -> None:
    made = post(server, ALICE, room, None, "Welcome")
    thread = made["thread"]["id"]
    server.user(NADIA, "Nadia", role="staff")
    server.member(room, NADIA, "facilitator")
    bob = await member(BOB)
    form = (await bob.http.get(f"/g/{room}/t/{thread}")).text
    assert "Share with staff only" in form
    await bob.http.post(
        f"/g/{room}/t/{thread}/messages",
        data={"csrf": bob.csrf, "body": "My kidney results", "cid": "k", "staff_only": "1"},
    )
    mine = (await bob.http.get(f"/g/{room}/t/{thread}")).text
    assert "My kidney results" in mine and "Shared with staff only" in mine
    nadia = await member(NADIA)
    assert "My kidney results" in (await nadia.http.get(f"/g/{room}/t/{thread}")).text
    alice = await member(ALICE)
    assert "My kidney results" not in (await alice.http.get(f"/g/{room}/t/{thread}")).text
    mid = server.db.execute("SELECT max(id) FROM messages").fetchone()[0]
    link = await alice.http.get(f"/g/{room}/t/{thread}/m/{mid}", follow_redirects=False)
    assert link.status_code == 404


async def test_staff_only_replies_are_not_counted_or_shown_in_lists_for_those_who_may_not_see_them(
    server: Running, room: str, member
) -> None:
    server.user(NADIA, "Nadia", role="staff")
    server.member(room, NADIA, "facilitator")
    made = post(server, ALICE, room, None, "Opening words", "Transport")
    thread = made["thread"]["id"]
    before = server.db.execute(
        "SELECT last_activity_at FROM threads WHERE id = ?", (thread,)
    ).fetchone()[0]
    bob, alice, nadia = await member(BOB), await member(ALICE), await member(NADIA)
    for who in (alice, nadia):  # both have seen everything so far
        await who.http.get(f"/g/{room}/t/{thread}")
        await who.http.get(f"/g/{room}")
    user = server.user(BOB)
    write_sync(server.db, discussions.post_message, user, room, thread, SECRET, "so", True)
    assert (
        server.db.execute(
            "SELECT last_activity_at FROM threads WHERE id = ?", (thread,)
        ).fetchone()[0]
        == before
    )  # the list's order and "last message" do not move for anyone
    # Home first: opening the room moves the room's mark.
    assert "No new messages" in (await alice.http.get("/")).text
    assert "1 new message" in (await nadia.http.get("/")).text
    chair_list = (await alice.http.get(f"/g/{room}")).text
    assert "1 message " in chair_list.replace("</span>", " ") and " new</span>" not in chair_list
    staff_list = (await nadia.http.get(f"/g/{room}")).text
    assert "2 messages" in staff_list and "1 new" in staff_list
    assert "2 messages" in (await bob.http.get(f"/g/{room}")).text  # its author counts it


async def test_a_staff_only_thread_with_its_title_exists_only_for_its_author_and_the_staff(
    server: Running, room: str, member
) -> None:
    server.user(NADIA, "Nadia", role="staff")
    server.member(room, NADIA, "facilitator")
    bob, alice, nadia = await member(BOB), await member(ALICE), await member(NADIA)
    made = await bob.http.post(
        f"/g/{room}/threads",
        data={
            "csrf": bob.csrf,
            "cid": "st1",
            "title": "My kidney clinic",
            "body": SECRET,
            "staff_only": "1",
        },
    )
    assert made.status_code == 200 and "This thread is shared with staff only" in made.text
    thread_url = str(made.url).removeprefix(server.http)
    assert "My kidney clinic" in (await nadia.http.get(thread_url)).text
    assert (await alice.http.get(thread_url)).status_code == 404
    listing = (await alice.http.get(f"/g/{room}")).text
    assert (
        "My kidney clinic" not in listing and "No new messages" in (await alice.http.get("/")).text
    )
    assert "My kidney clinic" in (await nadia.http.get(f"/g/{room}")).text
    # Nobody else can reply into it; the staff's reply is staff-only too.
    thread = int(thread_url.rsplit("/", 1)[1])
    user_alice, user_nadia = server.user(ALICE), server.user(NADIA)
    with pytest.raises(NotFound):
        write_sync(server.db, discussions.post_message, user_alice, room, thread, "hi", "a1")
    write_sync(server.db, discussions.post_message, user_nadia, room, thread, "Noted", "n1")
    rows = server.db.execute(
        "SELECT staff_only FROM messages WHERE thread_id = ? ORDER BY id", (thread,)
    ).fetchall()
    assert [r[0] for r in rows] == [1, 1]
