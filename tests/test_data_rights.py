"""UK GDPR: a member's data can be exported whole and erased, with discussions kept readable."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from server.domain.discussions import FORMER_MEMBER
from tests.harness import Running, connect
from tests.serverproc import ROOT

NAME, EMAIL = "Bartholomew Quince", "bart@cfn.example"


def cli(server: Running, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args, "--db", server.db_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _arrange(server: Running) -> dict[str, int]:
    """Bart takes part in everything: a thread, messages, an idea, votes, support."""
    server.member("north", "alice@cfn.example", "chair")
    server.user(EMAIL, NAME)
    server.member("north", EMAIL)
    alice = await connect(server, server.token("alice@cfn.example"))
    bart = await connect(server, server.token(EMAIL))
    for c in (alice, bart):
        await c.call("join", room="north")
    made = await bart.call(
        "thread.create",
        room="north",
        title="Parking at the hospital",
        body="My first point",
        cid="b1",
    )
    reply = await alice.call(
        "message.post", room="north", thread=made["thread"]["id"], body="Alice answers", cid="a1"
    )
    await bart.call(
        "message.post", room="north", thread=made["thread"]["id"], body="My second point", cid="b2"
    )
    idea = await bart.call(
        "idea.create", room="north", title="More benches", body="At the entrance", cid="i1"
    )
    await alice.call("idea.support", idea=idea["idea"]["id"])
    await bart.call("idea.support", idea=idea["idea"]["id"])
    await alice.call("idea.status", idea=idea["idea"]["id"], status="discussing", note="")
    open_poll = await alice.call(
        "poll.create",
        room="north",
        question="Which day?",
        options=["Monday", "Tuesday"],
        kind="single",
    )
    secret = await alice.call(
        "poll.create",
        room="north",
        question="Secret ballot?",
        options=["Yes", "No"],
        kind="single",
        anonymous=True,
    )
    await bart.call("poll.vote", poll=open_poll["poll"]["id"], choices=[1])
    await bart.call("poll.vote", poll=secret["poll"]["id"], choices=[0])
    await alice.close()
    await bart.close()
    return {
        "thread": made["thread"]["id"],
        "alice_message": reply["message"]["id"],
        "secret_poll": secret["poll"]["id"],
        "open_poll": open_poll["poll"]["id"],
    }


async def test_export_holds_everything_about_the_member_but_no_secret_and_no_anonymous_vote(
    server: Running, tmp_path
) -> None:
    ids = await _arrange(server)
    out = tmp_path / "bart.json"
    done = await asyncio.to_thread(cli, server, "user", "export", EMAIL, "--out", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["account"]["email"] == EMAIL and data["account"]["name"] == NAME
    assert [m["room"] for m in data["memberships"]] == ["north"]
    bodies = [m["body"] for m in data["messages"]]  # an idea opens its own thread too
    assert bodies[:2] == ["My first point", "My second point"] and "At the entrance" in bodies
    assert data["threads_started"][0]["title"] == "Parking at the hospital"
    assert data["ideas"][0]["title"] == "More benches"
    assert len(data["idea_supporters"]) == 1 and len(data["api_tokens"]) == 1
    assert data["poll_choices"] == [
        {"poll": ids["open_poll"], "question": "Which day?", "choice": 1}
    ]
    assert {v["poll_id"] for v in data["poll_voters"]} == {ids["open_poll"], ids["secret_poll"]}
    text = out.read_text()
    assert "$argon2" not in text and "token_hash" not in text and "Alice answers" not in text
    # stdout works too, and is the same document
    to_stdout = await asyncio.to_thread(cli, server, "user", "export", EMAIL)
    assert json.loads(to_stdout.stdout)["messages"] == data["messages"]


async def test_export_carries_no_time_of_an_anonymous_vote(server: Running) -> None:
    """The time would match the stored tally whose counts moved then, linking vote and choice;
    a named poll's vote keeps its time."""
    ids = await _arrange(server)
    done = await asyncio.to_thread(cli, server, "user", "export", EMAIL)
    assert done.returncode == 0, done.stderr
    rows = {v["poll_id"]: v for v in json.loads(done.stdout)["poll_voters"]}
    assert rows[ids["secret_poll"]]["voted_at"] is None
    assert isinstance(rows[ids["open_poll"]]["voted_at"], int)
    assert set(rows[ids["secret_poll"]]) == {"poll_id", "user_id", "entered_by", "voted_at"}


async def test_erasure_removes_personal_data_and_shows_posts_as_former_member(
    server: Running,
) -> None:
    ids = await _arrange(server)
    token = server.token(EMAIL)
    live = await connect(server, token)
    await live.call("join", room="north")
    done = await asyncio.to_thread(cli, server, "user", "erase", EMAIL, "--yes")
    assert done.returncode == 0, done.stderr
    with pytest.raises(websockets.ConnectionClosed) as closed:  # their live socket ends
        for _ in range(100):
            await live._read_one(5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001

    db = server.db
    row = db.execute(
        "SELECT name, email, password_hash, erased_at FROM users WHERE name = ? OR email = ?",
        (FORMER_MEMBER, EMAIL),
    ).fetchone()
    assert row["name"] == FORMER_MEMBER and row["email"] != EMAIL
    assert row["password_hash"] is None and row["erased_at"] is not None
    uid = db.execute("SELECT id FROM users WHERE email = ?", (row["email"],)).fetchone()[0]
    for table in ("sessions", "api_tokens", "memberships"):
        assert (
            db.execute(f"SELECT count(*) FROM {table} WHERE user_id = ?", (uid,)).fetchone()[0] == 0
        )
    # No stored event, page of history or replay carries the name any more.
    assert len(db.rows_containing("events", "data", NAME.encode(), ["seq"])) == 0
    alice = await connect(server, server.token("alice@cfn.example"))
    page = await alice.call("history", room="north", thread=ids["thread"])
    authors = [(m["author"]["name"], m["body"]) for m in page["messages"]]
    assert authors == [
        (FORMER_MEMBER, "My first point"),
        ("Alice", "Alice answers"),
        (FORMER_MEMBER, "My second point"),
    ]
    joined = await alice.call("join", room="north", since=0, epoch=None)
    replay = await alice.stored_events("north", joined["seq"])
    assert NAME not in json.dumps(replay)
    assert any(e["data"].get("author") == {"id": None, "name": FORMER_MEMBER} for e in replay)
    assert NAME not in ",".join(r[0] for r in db.execute("SELECT detail FROM audit_log"))
    await alice.close()
    with pytest.raises(InvalidStatus) as refused:
        await connect(server, token)
    assert refused.value.response.status_code == 403
    audit = await asyncio.to_thread(cli, server, "audit")
    assert "user.erased" in audit.stdout and EMAIL not in audit.stdout
    again = await asyncio.to_thread(cli, server, "user", "export", EMAIL)
    assert again.returncode == 1 and "Traceback" not in again.stderr
