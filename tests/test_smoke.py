from tests.harness import Running


async def test_member_posts_and_another_member_receives_it_live(server: Running, room, clients):
    alice, bob = await clients("alice@cfn.example"), await clients("bob@cfn.example")
    hello = await alice.call("hello", client="test")
    assert hello["user"]["name"] == "Alice" and hello["groups"][0]["slug"] == "north"
    joined = await bob.call("join", room=room)
    assert joined["seq"] == 0 and joined["recovered"] is False
    await alice.call("join", room=room)
    made = await alice.call("thread.create", room=room, title="Hi", body="First", cid="c1")
    ev = await bob.event("message.created")
    assert ev["data"]["id"] == made["message"]["id"] and ev["seq"] == 2
    assert ev["data"]["body"] == "First" and ev["data"]["author"]["name"] == "Alice"
