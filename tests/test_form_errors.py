"""A mistake on any form shows the same form again, everything typed kept, with one sentence
next to the field saying what to change; numbers from a URL or form take ASCII digits only.
Error pages keep the site header for someone logged in."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server.domain import accounts, discussions, ideas, polls
from server.storage.engine import write_sync
from tests.harness import PASSWORD, Running

MAX_TITLE, MAX_BODY = 40, 120
LONG_TITLE = "A title that goes on and on " + "x" * MAX_TITLE
LONG_BODY = "Typed with care, and far too long. " + "y" * MAX_BODY


@dataclass
class Forms:
    """The site for these tests: a group with a thread, a message, an idea and a poll."""

    server: Running
    fay: httpx.AsyncClient  # facilitator: runs polls, moves ideas along
    csrf: str
    thread: int
    message: int
    idea: int
    other_idea: int
    poll: int
    bob: accounts.User


@pytest.fixture
async def forms(start_server: Callable[..., Any]) -> AsyncIterator[Forms]:
    server: Running = await start_server(max_title=MAX_TITLE, max_body=MAX_BODY)
    server.member("north", "fay@cfn.example", "facilitator")
    server.member("north", "bob@cfn.example")
    fay, bob = server.user("fay@cfn.example"), server.user("bob@cfn.example")
    made = write_sync(
        server.db,
        discussions.create_thread,
        fay,
        "north",
        "Visit debrief",
        "How did it go?",
        "seed-1",
    )
    idea = write_sync(
        server.db, ideas.create_idea, bob, "north", "Peer support", "Signpost callers.", "seed-2"
    )["idea"]["id"]
    other = write_sync(
        server.db, ideas.create_idea, bob, "north", "Peer support again", "The same idea.", "seed-3"
    )["idea"]["id"]
    poll = write_sync(
        server.db,
        polls.create_poll,
        fay,
        "north",
        "Which day?",
        ["Monday", "Tuesday", "Wednesday"],
        "single",
        False,
        "live",
    )["poll"]["id"]
    token, csrf = write_sync(server.db, accounts.create_session, fay.id, 1)
    http = httpx.AsyncClient(
        base_url=server.http, cookies={"cfn_session": token}, follow_redirects=False, timeout=10
    )
    yield Forms(
        server, http, csrf, made["thread"]["id"], made["message"]["id"], idea, other, poll, bob
    )
    await http.aclose()


# (name, path, form fields, what must come back in the form, words of the sentence)
CASES: list[tuple[str, str, dict[str, Any], list[str], str]] = [
    (
        "thread without a message",
        "/g/north/threads",
        {"title": "My visit to Hull", "body": "  "},
        ['value="My visit to Hull"'],
        "Please write a message",
    ),
    (
        "thread title too long",
        "/g/north/threads",
        {"title": LONG_TITLE, "body": "Body typed here"},
        [LONG_TITLE, ">Body typed here</textarea>"],
        "The title is too long",
    ),
    (
        "reply too long",
        "/g/north/t/{thread}/messages",
        {"body": LONG_BODY},
        [LONG_BODY],
        "The message is too long",
    ),
    (
        "reply on an idea page too long",
        "/g/north/t/{idea_thread}/messages?back=/g/north/ideas/{idea}",
        {"body": LONG_BODY},
        [LONG_BODY, "Signpost callers."],
        "The message is too long",
    ),
    (
        "edit too long",
        "/g/north/t/{thread}/m/{message}/edit",
        {"body": LONG_BODY},
        [LONG_BODY],
        "The message is too long",
    ),
    (
        "poll with one answer",
        "/g/north/polls",
        {"question": "Which room?", "options": "Room A", "kind": "multi", "results": "closed"},
        [
            'value="Which room?"',
            ">Room A</textarea>",
            'value="multi" checked',
            'value="closed" checked',
        ],
        "A poll needs 2 to 20 answers",
    ),
    (
        "poll with the same answer twice",
        "/g/north/polls",
        {"question": "Which room?", "options": "Room A\nroom a"},
        ["Room A\nroom a</textarea>"],
        "Each answer must be different",
    ),
    (
        "poll from the room with one answer",
        "/g/north/polls?back=/g/north",
        {"question": "Which room?", "options": "Room A"},
        ['value="Which room?"', 'id="room-poll-new" open', "New thread"],
        "A poll needs 2 to 20 answers",
    ),
    ("vote without a choice", "/g/north/polls/{poll}/vote", {}, [], "Please choose an answer"),
    (
        "vote with a non-ASCII digit",
        "/g/north/polls/{poll}/vote",
        {"choice": "²"},
        [],
        "not one of the answers",
    ),
    (
        "vote from the polls page without a choice",
        "/g/north/polls/{poll}/vote?back=/g/north/polls%23poll-{poll}",
        {},
        ["Open polls"],
        "Please choose an answer",
    ),
    (
        "vote for a member given as ²",
        "/g/north/polls/{poll}/vote-for",
        {"member": "²", "choice": "1"},
        ['value="1" checked'],
        "Please choose the member",
    ),
    (
        "vote for a member without a choice",
        "/g/north/polls/{poll}/vote-for",
        {"member": "{bob}"},
        ['value="{bob}" selected'],
        "Please choose an answer",
    ),
    (
        "show of hands with ²",
        "/g/north/polls/{poll}/count",
        {"count-0": "6", "count-1": "²", "count-2": "2"},
        ['value="6"', 'value="²"', 'value="2"'],
        "Each count must be a whole number",
    ),
    (
        "idea without a description",
        "/g/north/ideas",
        {"title": "Large print", "body": ""},
        ['value="Large print"'],
        "Please fill in the description",
    ),
    (
        "not taken forward without a note",
        "/g/north/ideas/{idea}/status",
        {"status": "not_taken_forward", "note": " "},
        ['value="not_taken_forward" selected'],
        "Say why the idea is not being taken forward",
    ),
    (
        "status note too long",
        "/g/north/ideas/{idea}/status",
        {"status": "done", "note": LONG_BODY},
        [LONG_BODY, 'value="done" selected'],
        "The note is too long",
    ),
    (
        "merge into ²",
        "/g/north/ideas/{idea}/merge",
        {"into": "²"},
        [],
        "Please choose the idea to merge into",
    ),
]


def _fill(text: str, f: Forms, idea_thread: int) -> str:
    return text.format(
        thread=f.thread,
        message=f.message,
        idea=f.idea,
        poll=f.poll,
        bob=f.bob.id,
        idea_thread=idea_thread,
    )


@pytest.mark.parametrize(
    ("name", "path", "data", "kept", "sentence"), CASES, ids=[c[0] for c in CASES]
)
async def test_a_form_mistake_shows_the_same_form_with_the_typing_kept_and_one_sentence(
    forms: Forms, name: str, path: str, data: dict[str, Any], kept: list[str], sentence: str
) -> None:
    idea_thread = forms.server.db.execute(
        "SELECT thread_id FROM ideas WHERE id = ?", (forms.idea,)
    ).fetchone()[0]
    before = _stored(forms.server)
    form = {k: _fill(v, forms, idea_thread) for k, v in data.items()}
    r = await forms.fay.post(_fill(path, forms, idea_thread), data={"csrf": forms.csrf, **form})
    assert r.status_code in (400, 409, 413), r.text
    page = html.unescape(r.text)
    assert "Go back" not in page and "Sorry" not in page
    assert sentence in page
    for text in kept:
        assert _fill(text, forms, idea_thread) in page, text
    summary = re.search(r'<div class="error-summary"[^>]*role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert summary and sentence in summary.group(1)
    assert page.startswith("<!doctype html>") and "<title>There is a problem:" in page
    # next to the field: the field is marked invalid and points at its sentence
    described = re.findall(
        r'aria-invalid="true"[^>]*aria-describedby="([^"]+)"'
        r'|aria-describedby="([^"]+)"[^>]*aria-invalid="true"',
        page,
    )
    assert described, "no field is marked invalid"
    ids = " ".join(a or b for a, b in described).split()
    assert any(
        re.search(rf'id="{i}"[^>]*>(?:(?!</p>).)*{re.escape(sentence)}', page) for i in ids
    ), "the sentence is not next to the field"
    assert "Log out" in page  # the site header is there, as on every member's page
    assert _stored(forms.server) == before  # nothing half-saved


def _stored(server: Running) -> list[Any]:
    """Everything a form could change: rows of what members write, and each poll's counts."""
    tables = (
        "threads",
        "messages",
        "events",
        "polls",
        "poll_voters",
        "poll_votes",
        "ideas",
        "idea_status_log",
        "audit_log",
    )
    counts = [server.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
    return [*counts, *server.db.execute("SELECT room_counts, status FROM polls, ideas").fetchall()]


async def test_the_login_form_keeps_the_email_and_says_what_to_change(forms: Forms) -> None:
    async with httpx.AsyncClient(base_url=forms.server.http, timeout=10) as anon:
        got = await anon.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', got.text).group(1)  # type: ignore[union-attr]
        r = await anon.post(
            "/login",
            data={
                "csrf": csrf,
                "email": "fay@cfn.example",
                "password": PASSWORD + "!",
                "next": "/",
            },
        )
    assert r.status_code == 400
    assert 'value="fay@cfn.example"' in r.text and 'aria-invalid="true"' in r.text
    assert "do not match our records" in r.text and 'role="alert"' in r.text


# --- numbers from URLs and forms: ASCII digits only, a plain 400 -------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/g/north?page=²",
        "/g/north/t/{thread}?page=²",
        "/g/north?page=1²",
        "/g/north/t/{thread}?page=٣",
    ],
)
async def test_a_page_number_that_is_not_ascii_digits_is_a_plain_400(
    forms: Forms, path: str
) -> None:
    r = await forms.fay.get(path.format(thread=forms.thread))
    assert r.status_code == 400
    assert "page number" in r.text and "Traceback" not in r.text
    assert "Log out" in r.text


async def test_the_seen_beacon_refuses_non_ascii_digits_with_400(forms: Forms) -> None:
    r = await forms.fay.post(
        "/g/north/seen", data={"csrf": forms.csrf, "thread": "²", "message": "1"}
    )
    assert r.status_code == 400


# --- error pages keep the header ----------------------------------------------------------


async def test_error_pages_keep_the_site_header_for_someone_logged_in(forms: Forms) -> None:
    not_found = await forms.fay.get("/g/nowhere")
    no_route = await forms.fay.get("/no/such/page")
    expired = await forms.fay.post(f"/g/north/polls/{forms.poll}/close", data={"csrf": "old"})
    for r, status in ((not_found, 404), (no_route, 404), (expired, 403)):
        assert r.status_code == status
        assert "My groups" in r.text and "Log out" in r.text, status
        assert 'name="csrf" value="' + forms.csrf in r.text  # the log-out form works
    async with httpx.AsyncClient(base_url=forms.server.http, timeout=10) as anon:
        r = await anon.get("/no/such/page")
    assert r.status_code == 404 and "Log out" not in r.text
