"""The WebSocket handshake (PROTOCOL §1): subprotocols, bearer tokens, cookies and Origin."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.harness import JSON, MSGPACK, PASSWORD, Client, Running


async def refusal(server: Running, **kwargs: Any) -> tuple[int, bytes]:
    """Attempt a handshake that must be refused; return its HTTP status and body."""
    kwargs.setdefault("open_timeout", 10)
    with pytest.raises(InvalidStatus) as info:
        ws = await websockets.connect(server.url, **kwargs)
        await ws.close()  # not reached when refused
    return info.value.response.status_code, info.value.response.body or b""


async def secret_room(server: Running) -> str:
    """A room with a thread whose text must never reach a refused peer."""
    server.member("north", "alice@cfn.example", "chair")
    client = await _open(server, server.token("alice@cfn.example"), JSON)
    await client.call("join", room="north")
    await client.call(
        "thread.create", room="north", title="Secret plan", body="Top secret", cid="s1"
    )
    await client.close()
    return "north"


async def _open(server: Running, token: str | None, sp: str, **kwargs: Any) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ws = await websockets.connect(
        server.url, subprotocols=[sp], additional_headers=headers, open_timeout=10, **kwargs
    )
    return Client(ws, sp)


def _assert_nothing_of_the_room(body: bytes) -> None:
    assert b"Secret" not in body and b"north" not in body and b"secret" not in body


async def test_no_credentials_is_refused_with_403_and_nothing_of_any_room(
    server: Running, subprotocol: str
) -> None:
    await secret_room(server)
    status, body = await refusal(server, subprotocols=[subprotocol])
    assert status == 403
    _assert_nothing_of_the_room(body)


async def test_a_bad_authorization_header_is_refused_with_403(
    server: Running, subprotocol: str
) -> None:
    await secret_room(server)
    for header in (
        "Bearer cfn_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "cfn_token-without-scheme",
        "Bearer " + "x" * 500,
    ):
        status, body = await refusal(
            server, subprotocols=[subprotocol], additional_headers={"Authorization": header}
        )
        assert status == 403, header
        _assert_nothing_of_the_room(body)


async def test_a_bad_token_is_not_rescued_by_a_good_cookie(
    server: Running, subprotocol: str
) -> None:
    cookie = await login_cookie(server, "alice@cfn.example")
    status, _ = await refusal(
        server,
        subprotocols=[subprotocol],
        additional_headers={"Cookie": cookie, "Authorization": "Bearer nope"},
        origin=f"http://127.0.0.1:{server.port}",
    )
    assert status == 403


async def test_a_handshake_offering_no_subprotocol_is_refused_with_400(server: Running) -> None:
    token = server.token("alice@cfn.example")
    status, _ = await refusal(server, additional_headers={"Authorization": f"Bearer {token}"})
    assert status == 400


async def test_a_handshake_offering_only_unknown_subprotocols_is_refused_with_400(
    server: Running,
) -> None:
    token = server.token("alice@cfn.example")
    status, _ = await refusal(
        server,
        subprotocols=["cfn.v2.json", "chat"],
        additional_headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 400


async def test_the_server_picks_our_subprotocol_among_several_offered(server: Running) -> None:
    token = server.token("alice@cfn.example")
    ws = await websockets.connect(
        server.url,
        subprotocols=["chat", MSGPACK, JSON],
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=10,
    )
    try:
        assert ws.subprotocol == MSGPACK
        client = Client(ws, MSGPACK)
        assert (await client.call("hello"))["user"]["name"] == "Alice"
    finally:
        await ws.close()


async def test_a_token_of_an_erased_member_no_longer_opens_a_connection(
    server: Running, subprotocol: str
) -> None:
    token = server.token("gone@cfn.example")
    with server.db:
        server.db.execute("UPDATE users SET erased_at = 1 WHERE email = 'gone@cfn.example'")
    status, _ = await refusal(
        server, subprotocols=[subprotocol], additional_headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 403


# --- browsers: the session cookie and the Origin check -----------------------------------


async def login_cookie(server: Running, email: str) -> str:
    """Log in through the real login page and return the session cookie header value."""
    server.user(email)
    async with httpx.AsyncClient(base_url=server.http) as http:
        form = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        done = await http.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf": csrf.group(1), "next": "/"},
        )
        assert done.status_code == 303, done.text
        session = done.cookies.get("cfn_session")
        assert session
        return f"cfn_session={session}"


async def test_a_logged_in_browser_from_our_own_origin_is_accepted(
    server: Running, subprotocol: str
) -> None:
    cookie = await login_cookie(server, "alice@cfn.example")
    ws = await websockets.connect(
        server.url,
        subprotocols=[subprotocol],
        open_timeout=10,
        additional_headers={"Cookie": cookie},
        origin=f"http://127.0.0.1:{server.port}",
    )
    try:
        hello = await Client(ws, subprotocol).call("hello")
        assert hello["user"]["name"] == "Alice"
    finally:
        await ws.close()


async def test_a_session_cookie_from_another_origin_or_none_is_refused_with_403(
    server: Running, subprotocol: str
) -> None:
    cookie = await login_cookie(server, "alice@cfn.example")
    for origin in (
        "http://evil.example",
        "http://127.0.0.1:1",
        "null",
        "https://127.0.0.1",
        f"https://127.0.0.1:{server.port}",
        None,
    ):
        status, _ = await refusal(
            server, subprotocols=[subprotocol], additional_headers={"Cookie": cookie}, origin=origin
        )
        assert status == 403, origin


async def test_a_forged_session_cookie_is_refused_with_403(
    server: Running, subprotocol: str
) -> None:
    status, _ = await refusal(
        server,
        subprotocols=[subprotocol],
        additional_headers={"Cookie": "cfn_session=made-up"},
        origin=f"http://127.0.0.1:{server.port}",
    )
    assert status == 403


async def test_after_logout_the_old_cookie_no_longer_opens_a_connection(
    server: Running, subprotocol: str
) -> None:
    server.user("alice@cfn.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        form = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        await http.post(
            "/login",
            data={
                "email": "alice@cfn.example",
                "password": PASSWORD,
                "csrf": csrf.group(1),
                "next": "/",
            },
        )
        cookie = f"cfn_session={http.cookies.get('cfn_session')}"
        home = await http.get("/")
        token = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert token is not None, "the home page carries the logout form"
        out = await http.post("/logout", data={"csrf": token.group(1)})
        assert out.status_code == 303
    status, _ = await refusal(
        server,
        subprotocols=[subprotocol],
        additional_headers={"Cookie": cookie},
        origin=f"http://127.0.0.1:{server.port}",
    )
    assert status == 403


async def test_the_session_cookie_is_httponly_and_samesite_lax(server: Running) -> None:
    server.user("alice@cfn.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        form = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        done = await http.post(
            "/login",
            data={"email": "alice@cfn.example", "password": PASSWORD, "csrf": csrf.group(1)},
        )
    cookie = next(v for v in done.headers.get_list("set-cookie") if v.startswith("cfn_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags, "plain http here; Secure is set only over https"


async def test_passwords_and_tokens_are_stored_only_as_hashes(server: Running) -> None:
    from server.domain import accounts
    from server.storage.engine import write_sync

    write_sync(
        server.db, accounts.add_user, "dora@cfn.example", "Dora", "member", "a secret phrase"
    )
    token = server.token("dora@cfn.example")
    pw_hash = server.db.execute(
        "SELECT password_hash FROM users WHERE email = ?", ("dora@cfn.example",)
    ).fetchone()[0]
    assert pw_hash.startswith("$argon2id$") and "a secret phrase" not in pw_hash
    stored = [r[0] for r in server.db.execute("SELECT token_hash FROM api_tokens")]
    assert token not in stored and accounts.hash_secret(token) in stored
