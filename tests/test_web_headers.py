"""Web hardening: every page, error and static file carries the security headers, and no
page relies on inline script the Content-Security-Policy would (rightly) block."""

from __future__ import annotations

import re
import time

import httpx
from starlette.routing import Mount, Route

from tests.harness import PASSWORD, Running, connect

REQUIRED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def _check_headers(url: str, response: httpx.Response) -> list[str]:
    problems = []
    csp = response.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    if directives.get("frame-ancestors") != "frame-ancestors 'none'":
        problems.append(f"{url}: no frame-ancestors 'none'")
    script = directives.get("script-src", directives.get("default-src", ""))
    if "'self'" not in script or "unsafe-inline" in script or "unsafe-eval" in script:
        problems.append(f"{url}: script-src is {script!r}")
    if directives.get("object-src") != "object-src 'none'":
        problems.append(f"{url}: object-src is not 'none'")
    for name, value in REQUIRED.items():
        if response.headers.get(name) != value:
            problems.append(f"{url}: {name} is {response.headers.get(name)!r}")
    if response.headers.get("content-type", "").startswith("text/html"):
        html = response.text
        inline = [
            s
            for s in re.findall(r"<script\b[^>]*>", html)
            if "src=" not in s and 'type="application/json"' not in s
        ]
        if inline:
            problems.append(f"{url}: inline script {inline[0]}")
        if re.search(r"\son[a-z]+\s*=", html):
            problems.append(f"{url}: an inline event handler attribute")
    return problems


async def test_every_page_and_error_carries_the_security_headers(server: Running) -> None:
    server.member("north", "alice@cfn.example", "chair")
    server.user("root@cfn.example", role="admin")
    alice = await connect(server, server.token("alice@cfn.example"))
    await alice.call("join", room="north")
    made = await alice.call("thread.create", room="north", title="T", body="B", cid="c")
    poll = await alice.call(
        "poll.create", room="north", question="Q?", options=["a", "b"], kind="single"
    )
    idea = await alice.call("idea.create", room="north", title="I", body="B", cid="i")
    meeting = await alice.call(
        "meeting.create",
        room="north",
        title="M",
        starts_at=int(time.time() * 1000) + 86_400_000,
        mode="online",
    )
    await alice.close()
    values = {
        "slug": "north",
        "thread": made["thread"]["id"],
        "message": made["message"]["id"],
        "poll": poll["poll"]["id"],
        "idea": idea["idea"]["id"],
        "meeting": meeting["meeting"]["id"],
        "token": "not-a-token",  # account links (invite, reset, email change)
        "id": 1,  # admin pages: a person, invitation or token
        "name": "cfn-none.db",  # a backup's file name
    }
    urls = set()
    for route in server.server.app.routes:
        if isinstance(route, Route) and "GET" in (route.methods or ()):
            urls.add(re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), route.path))
        elif isinstance(route, Mount) and route.path == "/static":
            urls.add("/static/site.css")
    urls |= {"/no-such-page", "/g/not-a-group", "/static/missing.css"}
    problems = []
    async with httpx.AsyncClient(base_url=server.http) as anonymous:
        for url in sorted(urls):
            problems += _check_headers(f"(logged out) {url}", await anonymous.get(url))
        problems += _check_headers("POST /logout", await anonymous.post("/logout"))
    async with httpx.AsyncClient(base_url=server.http) as http:
        form = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        done = await http.post(
            "/login",
            data={"email": "alice@cfn.example", "csrf": csrf[1], "password": PASSWORD, "next": "/"},
        )
        problems += _check_headers("POST /login", done)
        statuses = {}
        for url in sorted(urls):
            response = await http.get(url)
            statuses[url] = response.status_code
            problems += _check_headers(url, response)
    assert problems == []
    assert len(urls) >= 10 and statuses["/"] == 200 and statuses["/no-such-page"] == 404
    assert statuses[f"/g/north/t/{values['thread']}"] == 200
