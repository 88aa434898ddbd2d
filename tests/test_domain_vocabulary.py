"""Idea statuses and poll result settings are the domain's words, not the wire codec's.

The codec checks only that they are short words; the domain refuses any other word with
the same bad_request, before any access check, as the codec did when it held the lists.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.domain import ideas, polls
from server.errors import BadRequest
from server.protocol.codec import JSON, FrameError, decode
from tests.harness import Running

ROOM = "north"


def test_the_codec_passes_any_short_word_on_and_refuses_other_shapes() -> None:
    cmd = decode(json.dumps({"op": "idea.status", "ref": 1, "idea": 1, "status": "bogus"}), JSON)
    assert cmd.args["status"] == "bogus"
    for bad in (5, "", "x" * 41):
        with pytest.raises(FrameError) as refused:
            decode(json.dumps({"op": "idea.status", "ref": 1, "idea": 1, "status": bad}), JSON)
        assert refused.value.code == "bad_request"


def test_the_domain_refuses_unknown_words_with_bad_request() -> None:
    with pytest.raises(BadRequest, match="'status' must be one of: proposed"):
        ideas.check_status("bogus")
    with pytest.raises(BadRequest, match="'results' must be 'live', 'after_vote' or 'closed'"):
        polls.check_results("bogus")
    assert ideas.check_status("done") == "done" and polls.check_results("live") == "live"


async def test_unknown_words_over_the_wire_are_still_bad_requests(
    server: Running, clients: Any
) -> None:
    server.member(ROOM, "cora@cfn.example", "chair")
    server.user("carol@cfn.example")
    cora, carol = await clients("cora@cfn.example"), await clients("carol@cfn.example")
    await cora.call("join", room=ROOM)
    made = await cora.call("idea.create", room=ROOM, title="T", body="B", cid="i1")
    idea = made["idea"]["id"]
    assert await cora.error("idea.status", idea=idea, status="bogus") == "bad_request"
    assert await cora.error("idea.list", room=ROOM, status="bogus") == "bad_request"
    assert (
        await cora.error(
            "poll.create",
            room=ROOM,
            question="Q?",
            options=["a", "b"],
            kind="single",
            results="bogus",
        )
        == "bad_request"
    )
    # An outsider too gets bad_request, not not_found: the word is checked first.
    assert await carol.error("idea.status", idea=idea, status="bogus") == "bad_request"
    assert (
        await carol.error(
            "poll.create",
            room=ROOM,
            question="Q?",
            options=["a", "b"],
            kind="single",
            results="bogus",
        )
        == "bad_request"
    )
