"""Group pages over real HTTP: outsiders' 404, CSRF, safe Markdown, unread counts,
read marks, form posts without JavaScript, and the room page's weight."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.domain import accounts, discussions
from server.storage.engine import write_sync
from tests.harness import Running


@dataclass
class Member:
    http: httpx.AsyncClient
    csrf: str
    user: accounts.User


@pytest.fixture
async def member(server: Running, room: str):  # noqa: ANN201 (an async generator factory)
    """Logged-in HTTP clients: a session made through the domain, as the login page does."""
    opened: list[httpx.AsyncClient] = []

    async def open_member(email: str) -> Member:
        user = server.user(email)
        token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
        http = httpx.AsyncClient(
            base_url=server.http,
            cookies={SESSION_COOKIE: token},
            follow_redirects=False,
            timeout=10,
        )
        opened.append(http)
        return Member(http, csrf, user)

    yield open_member
    for http in opened:
        await http.aclose()


def post(
    server: Running, email: str, room: str, thread: int | None, body: str, title: str = "A thread"
) -> dict:
    user = server.user(email)
    cid = f"t-{len(server.db.execute('SELECT id FROM messages').fetchall())}-{body[:10]}"
    if thread is None:
        return write_sync(server.db, discussions.create_thread, user, room, title, body, cid)
    return write_sync(server.db, discussions.post_message, user, room, thread, body, cid)


async def test_outsiders_and_unknown_groups_get_the_identical_404(
    server: Running, room: str, member
) -> None:
    made = post(server, "alice@cfn.example", room, None, "Private words", "Members only")
    tid, mid = made["thread"]["id"], made["message"]["id"]
    server.member("south", "carol@cfn.example")
    carol = await member("carol@cfn.example")
    pages = [
        f"/g/north/t/{tid}",
        "/g/north",
        f"/g/north/t/{tid}/m/{mid}",
        "/g/nowhere",
        f"/g/nowhere/t/{tid}",
        f"/g/south/t/{tid}",
        f"/g/south/t/{tid}/m/{mid}",
        "/g/north/t/9999999999999999999999",
    ]
    bodies = set()
    for path in pages:
        r = await carol.http.get(path)
        assert r.status_code == 404, path
        assert "Members only" not in r.text and "Private words" not in r.text
        bodies.add(r.text)
    assert len(bodies) == 1
    r = await carol.http.post(
        f"/g/north/t/{tid}/messages", data={"csrf": carol.csrf, "body": "let me in", "cid": "x"}
    )
    assert r.status_code == 404 and r.text in bodies
    assert (
        server.db.execute("SELECT count(*) FROM messages WHERE body = 'let me in'").fetchone()[0]
        == 0
    )


async def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    server: Running, room: str, member
) -> None:
    bob = await member("bob@cfn.example")
    tid = post(server, "alice@cfn.example", room, None, "Hello")["thread"]["id"]
    attempts = [
        ("/g/north/threads", {"title": "T", "body": "B", "cid": "1"}),
        (f"/g/north/t/{tid}/messages", {"body": "B", "cid": "2"}),
        ("/g/north/seen", {"thread": str(tid), "message": "1"}),
        ("/logout", {}),
    ]
    for path, data in attempts:
        for csrf in (None, "wrong"):
            form = dict(data, **({"csrf": csrf} if csrf else {}))
            r = await bob.http.post(path, data=form)
            assert r.status_code == 403, (path, csrf)
    assert server.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    assert (await bob.http.get("/")).status_code == 200  # still logged in


async def test_member_text_is_shown_as_safe_markdown_never_raw_html(
    server: Running, room: str, member
) -> None:
    body = (
        "**bold** and *soft*\n\n- one\n- two\n\n[site](https://example.org) "
        "<script>alert('x')</script> <img src=x onerror=alert(1)> [bad](javascript:alert(1))"
    )
    tid = post(server, "alice@cfn.example", room, None, body, "<b>Title</b>")["thread"]["id"]
    bob = await member("bob@cfn.example")
    html = (await bob.http.get(f"/g/north/t/{tid}")).text
    assert "<strong>bold</strong>" in html and "<em>soft</em>" in html
    assert "<li>one</li>" in html
    assert re.search(r'<a href="https://example.org" rel="noopener nofollow ugc"', html)
    assert "<script>alert" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;Title&lt;/b&gt;" in html


async def test_pages_carry_a_csp_and_no_inline_script_or_style(
    server: Running, room: str, member
) -> None:
    tid = post(server, "alice@cfn.example", room, None, "Hi")["thread"]["id"]
    bob = await member("bob@cfn.example")
    for path in ("/", "/g/north", f"/g/north/t/{tid}", "/g/nowhere"):
        r = await bob.http.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), path
        assert "<style" not in r.text


async def test_home_counts_messages_by_others_since_my_last_visit(
    server: Running, room: str, member
) -> None:
    bob = await member("bob@cfn.example")
    tid = post(server, "alice@cfn.example", room, None, "First")["thread"]["id"]
    post(server, "alice@cfn.example", room, tid, "Second")
    post(server, "bob@cfn.example", room, tid, "Mine does not count")
    home = (await bob.http.get("/")).text
    assert "2 new messages" in home
    room_page = (await bob.http.get("/g/north")).text
    assert '<span class="badge">2 new</span>' in room_page  # shown on the visit itself
    assert "No new messages" in (await bob.http.get("/")).text
    post(server, "alice@cfn.example", room, tid, "Third")
    assert "1 new message<" in (await bob.http.get("/")).text


async def test_thread_history_marks_what_is_new_and_pages_through_it(
    server: Running, room: str, member
) -> None:
    tid = post(server, "alice@cfn.example", room, None, "Message 1")["thread"]["id"]
    ids = [
        post(server, "alice@cfn.example", room, tid, f"Message {n}")["message"]["id"]
        for n in range(2, 41)
    ]
    bob = await member("bob@cfn.example")
    first = (await bob.http.get(f"/g/north/t/{tid}")).text
    assert "Page 1 of 2" in first and "New since your last visit" in first
    assert first.index('id="new"') < first.index("Message 1<")
    last = (await bob.http.get(f"/g/north/t/{tid}?page=2")).text  # 31-40: not yet seen
    assert "Message 30<" not in last and last.index('id="new"') < last.index("Message 31<")
    last = (await bob.http.get(f"/g/north/t/{tid}?page=2")).text
    assert "Message 40" in last and "New since your last visit" not in last
    post(server, "alice@cfn.example", room, tid, "Message 41")
    again = (await bob.http.get(f"/g/north/t/{tid}")).text  # opens where the new part starts
    assert "Page 2 of 2" in again
    assert again.index('id="new"') < again.index("Message 41") and "Message 40" in again
    assert again.index("Message 40") < again.index('id="new"')
    r = await bob.http.get(f"/g/north/t/{tid}/m/{ids[0]}")
    assert r.status_code == 303 and r.headers["location"].endswith(f"?page=1#m{ids[0]}")


async def test_a_form_post_without_javascript_posts_once(
    server: Running, room: str, member
) -> None:
    tid = post(server, "alice@cfn.example", room, None, "Hello")["thread"]["id"]
    bob = await member("bob@cfn.example")
    form = {"csrf": bob.csrf, "body": "Pressed twice", "cid": "abc123"}
    first = await bob.http.post(f"/g/north/t/{tid}/messages", data=form)
    second = await bob.http.post(f"/g/north/t/{tid}/messages", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert (
        server.db.execute("SELECT count(*) FROM messages WHERE body = 'Pressed twice'").fetchone()[
            0
        ]
        == 1
    )
    empty = await bob.http.post(
        f"/g/north/t/{tid}/messages", data={"csrf": bob.csrf, "body": "  ", "cid": "e"}
    )
    assert empty.status_code == 400 and "Please write a message" in empty.text
    made = await bob.http.post(
        "/g/north/threads",
        data={"csrf": bob.csrf, "title": "From a form", "body": "No JS here", "cid": "t1"},
    )
    assert made.status_code == 303 and re.fullmatch(r"/g/north/t/\d+", made.headers["location"])


async def test_the_live_client_moves_the_read_mark(server: Running, room: str, member) -> None:
    bob = await member("bob@cfn.example")
    tid = post(server, "alice@cfn.example", room, None, "One")["thread"]["id"]
    await bob.http.get(f"/g/north/t/{tid}")
    mid = post(server, "alice@cfn.example", room, tid, "Seen live")["message"]["id"]
    assert "1 new message<" in (await bob.http.get("/")).text
    r = await bob.http.post(
        "/g/north/seen", data={"csrf": bob.csrf, "thread": str(tid), "message": str(mid)}
    )
    assert r.status_code == 204
    assert "No new messages" in (await bob.http.get("/")).text


async def test_the_room_page_with_its_js_and_css_weighs_under_150_kb(
    server: Running, room: str, member
) -> None:
    tid = post(server, "alice@cfn.example", room, None, "Hi")["thread"]["id"]
    bob = await member("bob@cfn.example")
    for path in ("/g/north", f"/g/north/t/{tid}"):
        page = await bob.http.get(path)
        total, seen = len(page.content), set()
        todo = re.findall(r'<(?:script[^>]*src|link[^>]*href)="(/static/[^"]+)"', page.text)
        while todo:
            url = todo.pop()
            if url in seen:
                continue
            seen.add(url)
            asset = await bob.http.get(url)
            assert asset.status_code == 200, url
            total += len(asset.content)
            if url.endswith(".js"):
                todo += [
                    urljoin(url, m)
                    for m in re.findall(r"""(?:from|import)\s*['"]([^'"]+\.js)['"]""", asset.text)
                ]
        assert {"/static/room.js", "/static/socket.js", "/static/site.css"} <= seen
        assert total < 150_000, f"{path} weighs {total} bytes"


async def test_the_thread_list_keeps_its_new_badges_until_each_thread_is_read(
    server: Running, room: str, member
) -> None:
    bob = await member("bob@cfn.example")
    first = post(server, "alice@cfn.example", room, None, "One", "First")["thread"]["id"]
    post(server, "alice@cfn.example", room, first, "Two")
    second = post(server, "alice@cfn.example", room, None, "Other", "Second")["thread"]["id"]
    for _ in range(2):  # looking at the list twice clears nothing
        page = (await bob.http.get("/g/north")).text
        assert '<span class="badge">2 new</span>' in page
        assert '<span class="badge">1 new</span>' in page
    await bob.http.get(f"/g/north/t/{first}")  # reading one thread clears only its badge
    page = (await bob.http.get("/g/north")).text
    assert '<span class="badge">2 new</span>' not in page
    assert '<span class="badge">1 new</span>' in page
    assert "New since your last visit" in (await bob.http.get(f"/g/north/t/{second}")).text


async def test_mark_all_read_clears_every_badge_of_the_group_without_javascript(
    server: Running, room: str, member
) -> None:
    bob = await member("bob@cfn.example")
    tid = post(server, "alice@cfn.example", room, None, "One", "First")["thread"]["id"]
    post(server, "alice@cfn.example", room, tid, "Two")
    other = post(server, "alice@cfn.example", room, None, "Other", "Second")["thread"]["id"]
    page = (await bob.http.get("/g/north")).text
    assert re.search(r'<form[^>]*action="/g/north/read"', page)
    refused = await bob.http.post("/g/north/read", data={"csrf": "wrong"})
    assert refused.status_code == 403
    assert '<span class="badge">' in (await bob.http.get("/g/north")).text
    done = await bob.http.post("/g/north/read", data={"csrf": bob.csrf})
    assert done.status_code == 303 and done.headers["location"].startswith("/g/north")
    page = (await bob.http.get(done.headers["location"])).text
    assert '<span class="badge">' not in page and "marked as read" in page
    assert "New since your last visit" not in (await bob.http.get(f"/g/north/t/{other}")).text
    assert "No new messages" in (await bob.http.get("/")).text


async def test_bare_web_addresses_become_safe_links_and_lookalikes_stay_text(
    server: Running, room: str, member
) -> None:
    body = (
        "See https://example.org/a?b=1. Or (http://nhs.example/x_(y)), fine!\n"
        "javascript:alert(1) JAVASCRIPT:alert(1) data:text/html,hi hxxp://evil.example "
        "https:/evil.example www.evil.example a@evil.example xhttps://evil.example "
        "ftp://evil.example //evil.example https://аpple.example/login"
    )
    tid = post(server, "alice@cfn.example", room, None, body)["thread"]["id"]
    bob = await member("bob@cfn.example")
    html = (await bob.http.get(f"/g/north/t/{tid}")).text
    shown = html.split('id="messages"')[1]
    links = re.findall(r'<a href="([^"]+)" rel="([^"]+)">([^<]+)</a>', shown)
    assert [(h, t) for h, _, t in links if "example" in h] == [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("http://nhs.example/x_(y)", "http://nhs.example/x_(y)"),
    ]
    assert {rel for _, rel, _ in links} == {"noopener nofollow ugc"}
    assert "evil" not in "".join(h for h, _, _ in links)
    assert not re.search(r'href="(?:javascript|data)', shown, re.IGNORECASE)
    assert "https://аpple.example/login" in html  # shown, as text
