"""The web admin over real HTTP: only admins see it (a role × page matrix), each page does
what the command line does through the same domain functions, destructive actions ask
first and everything is audited; the chair's page for their own group."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.domain import accounts
from tests import pg
from tests.harness import Running, connect
from tests.people_helpers import csrf_of, log_in, page_csrf
from tests.smtp import Inbox, smtp_server, text_part

ROLES = {
    "member": ("mo@cfn.example", "member", "member"),
    "chair": ("alice@cfn.example", "member", "chair"),
    "facilitator": ("fay@cfn.example", "member", "facilitator"),
    "staff": ("stan@cfn.example", "staff", None),
    "admin": ("ada@cfn.example", "admin", None),
}
ADMIN_PAGES = [
    "/admin",
    "/admin/people",
    "/admin/people/{bob}",
    "/admin/people/{bob}/suspend",
    "/admin/people/{bob}/erase",
    "/admin/people/{bob}/groups/north/remove",
    "/admin/people/{bob}/export",
    "/admin/invitations",
    "/admin/groups",
    "/admin/groups/north",
    "/admin/groups/north/archive",
    "/admin/tokens",
    "/admin/audit",
    "/admin/audit.csv",
    "/admin/backups",
    "/admin/email",
]
ADMIN_FORMS = [
    ("/admin/people", {"name": "New Person", "email": "new{n}@cfn.example", "role": "member"}),
    ("/admin/groups", {"name": "Group {n}", "slug": "group-{n}", "kind": "service"}),
    ("/admin/groups/north/name", {"name": "North Yorkshire"}),
    ("/admin/people/{bob}/reset", {}),
]


@pytest.fixture
async def world(
    start_server: Callable[..., Any], tmp_path: Path
) -> AsyncIterator[tuple[Running, Inbox, dict[str, int]]]:
    async with smtp_server() as inbox:
        server = await start_server(
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
            smtp_security="none",
            backup_dir=str(tmp_path / "backups"),
        )
        for email, site, group in ROLES.values():
            server.user(email, role=site)
            if group:
                server.member("north", email, group)
        server.member("north", "bob@cfn.example")
        ids = {"bob": server.user("bob@cfn.example").id}
        yield server, inbox, ids


async def test_only_admins_use_the_admin_pages_and_only_chairs_their_groups_members_page(
    world: tuple[Running, Inbox, dict[str, int]],
) -> None:
    server, _, ids = world
    wrong = []
    for n, (role, (email, _, _)) in enumerate(ROLES.items()):
        http = await log_in(server, email)
        async with contextlib.aclosing(http):
            for path in ADMIN_PAGES:
                status = (await http.get(path.format(**ids))).status_code
                if status != (200 if role == "admin" else 403):
                    wrong.append(f"{role} GET {path}: {status}")
            csrf = await page_csrf(http, "/")
            for path, fields in ADMIN_FORMS:
                data = {k: v.format(n=n) for k, v in fields.items()}
                status = (
                    await http.post(path.format(**ids), data={**data, "csrf": csrf})
                ).status_code
                if status != (303 if role == "admin" else 403):
                    wrong.append(f"{role} POST {path}: {status}")
            status = (await http.get("/g/north/members")).status_code
            expected = {"chair": 200, "admin": 200, "staff": 404}.get(role, 403)
            if status != expected:
                wrong.append(f"{role} GET /g/north/members: {status} not {expected}")
            home = await http.get("/")
            if ('href="/admin"' in home.text) != (role == "admin"):
                wrong.append(
                    f"{role}: the Admin link is wrongly {'missing' if role == 'admin' else 'shown'}"
                )
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as anonymous:
        for path in [*ADMIN_PAGES, "/g/north/members", "/profile", "/profile/sessions"]:
            status = (await anonymous.get(path.format(**ids))).status_code
            if status != 303:
                wrong.append(f"logged out GET {path}: {status}")
    assert wrong == []


async def test_the_admin_runs_people_and_groups_and_every_change_is_audited(
    world: tuple[Running, Inbox, dict[str, int]],
) -> None:
    server, inbox, ids = world
    http = await log_in(server, "ada@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http, "/admin")
        found = await http.get("/admin/people?q=bob")
        assert "bob@cfn.example" in found.text and "mo@cfn.example" not in found.text
        added = await http.post(
            "/admin/people",
            data={
                "name": "Nadia Rahman",
                "email": "nadia@cfn.example",
                "role": "staff",
                "csrf": csrf,
            },
        )
        assert added.status_code == 303
        (welcome,) = await inbox.wait_for(1)
        assert welcome["To"] == "nadia@cfn.example" and "/reset/" in text_part(welcome)
        twice = await http.post(
            "/admin/people",
            data={"name": "Nadia", "email": "nadia@cfn.example", "role": "staff", "csrf": csrf},
        )
        assert twice.status_code == 409 and 'value="Nadia"' in twice.text
        bad_slug = await http.post(
            "/admin/groups",
            data={"name": "West", "slug": "West Yorks", "kind": "regional", "csrf": csrf},
        )
        assert bad_slug.status_code == 400 and "lower-case letters" in bad_slug.text
        assert 'value="West"' in bad_slug.text
        made = await http.post(
            "/admin/groups", data={"name": "West", "slug": "west", "kind": "regional", "csrf": csrf}
        )
        assert made.status_code == 303 and made.headers["location"].startswith("/admin/groups/west")
        for path, data in (
            ("/admin/groups/west/name", {"name": "West Yorkshire"}),
            ("/admin/groups/west/kind", {"kind": "service"}),
            ("/admin/groups/west/members", {"email": "bob@cfn.example", "role": "facilitator"}),
            (f"/admin/people/{ids['bob']}/role", {"role": "staff"}),
        ):
            assert (await http.post(path, data={**data, "csrf": csrf})).status_code == 303, path
        confirm = await http.get("/admin/groups/west/archive")
        assert "Archive West Yorkshire?" in confirm.text and "No, go back" in confirm.text
        assert (
            await http.post("/admin/groups/west/archive", data={"csrf": csrf})
        ).status_code == 303
        refused = await http.post(
            "/admin/invitations",
            data={"email": "x@cfn.example", "group": "west", "role": "member", "csrf": csrf},
        )
        assert refused.status_code == 400 and "archived" in refused.text
        remove = await http.get(f"/admin/people/{ids['bob']}/groups/west/remove")
        assert "Remove Bob from west?" in remove.text
        await http.post(f"/admin/people/{ids['bob']}/groups/west/remove", data={"csrf": csrf})
        export = await http.get(f"/admin/people/{ids['bob']}/export")
        assert export.json()["account"]["email"] == "bob@cfn.example"
        await http.get(f"/admin/people/{ids['bob']}/erase")
        erased = await http.post(f"/admin/people/{ids['bob']}/erase", data={"csrf": csrf})
        assert erased.status_code == 303
    row = server.db.execute(
        "SELECT name, kind, archived_at FROM groups WHERE slug = 'west'"
    ).fetchone()
    assert (row["name"], row["kind"]) == ("West Yorkshire", "service") and row["archived_at"]
    assert accounts.user_by_email(server.db, "bob@cfn.example") is None
    actions = {
        r[0] for r in server.db.execute("SELECT action FROM audit_log WHERE actor_id IS NOT NULL")
    }
    assert {
        "user.added",
        "group.added",
        "group.renamed",
        "group.kind",
        "group.archived",
        "member.role",
        "user.role",
        "member.removed",
        "user.exported",
        "user.erased",
    } <= actions


async def test_a_token_is_shown_once_and_revoking_it_closes_its_connection(
    world: tuple[Running, Inbox, dict[str, int]],
) -> None:
    server, _, _ = world
    http = await log_in(server, "ada@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http, "/admin/tokens")
        made = await http.post("/admin/tokens", data={"email": "mo@cfn.example", "csrf": csrf})
        token = re.search(r'id="new-token">(cfn_[^<]+)<', made.text)
        assert made.status_code == 200 and token is not None
        assert token.group(1) not in (await http.get("/admin/tokens")).text  # once only
        client = await connect(server, token.group(1))
        await client.call("join", room="north")
        token_id = server.db.execute("SELECT max(id) FROM api_tokens").fetchone()[0]
        confirm = await http.get(f"/admin/tokens/{token_id}/revoke")
        assert "stop working at once" in confirm.text
        assert (
            await http.post(f"/admin/tokens/{token_id}/revoke", data={"csrf": csrf})
        ).status_code == 303
        import asyncio

        import websockets

        with pytest.raises(websockets.ConnectionClosed):
            for _ in range(3):
                await asyncio.wait_for(client.ws.recv(), 5)


async def test_the_audit_log_filters_by_person_action_and_date_and_downloads_as_csv(
    world: tuple[Running, Inbox, dict[str, int]],
) -> None:
    server, _, ids = world
    http = await log_in(server, "ada@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http, "/admin")
        await http.post(f"/admin/people/{ids['bob']}/role", data={"role": "staff", "csrf": csrf})
        await http.post("/admin/groups/north/kind", data={"kind": "service", "csrf": csrf})
        by_person = await http.get("/admin/audit?person=bob")
        title = '<p class="row-title">'
        assert f"{title}user.role: Bob" in by_person.text
        assert f"{title}group.kind" not in by_person.text
        by_action = await http.get("/admin/audit?action=group.")
        assert f"{title}group.kind" in by_action.text
        assert f"{title}user.role" not in by_action.text
        future = await http.get("/admin/audit?from=2999-01-01")
        assert "Nothing matches" in future.text
        bad = await http.get("/admin/audit?from=yesterday")
        assert bad.status_code == 400 and "year-month-day" in bad.text
        assert 'value="yesterday"' in bad.text
        sheet = await http.get("/admin/audit.csv?person=bob")
        assert sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(sheet.text)))
        assert rows[0][:3] == ["time (UTC)", "who", "action"]
        assert [r[2] for r in rows[1:]] == ["user.role"] and rows[1][1] == "Ada"


@pg.sqlite_only  # it opens the downloaded copy as a SQLite file
async def test_a_backup_is_made_into_the_folder_listed_and_downloaded(
    world: tuple[Running, Inbox, dict[str, int]], tmp_path: Path
) -> None:
    server, _, _ = world
    http = await log_in(server, "ada@cfn.example")
    async with contextlib.aclosing(http):
        csrf = await page_csrf(http, "/admin/backups")
        done = await http.post("/admin/backups", data={"csrf": csrf})
        assert done.status_code == 303
        listing = await http.get("/admin/backups")
        name = re.search(r'href="/admin/backups/(cfn-[^"]+\.db)"', listing.text)
        assert name is not None
        copy = await http.get(f"/admin/backups/{name.group(1)}")
        assert copy.status_code == 200 and copy.content[:16] == b"SQLite format 3\x00"
        assert (await http.get("/admin/backups/..%2Fcfn0.db")).status_code == 404
    saved = tmp_path / "copy.db"
    saved.write_bytes(copy.content)
    conn = sqlite3.connect(saved)
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] >= 5
    conn.close()
    actions = [r[0] for r in server.db.execute("SELECT action FROM audit_log")]
    assert "backup.made" in actions and "backup.downloaded" in actions


async def test_a_chair_invites_to_their_group_changes_roles_and_removes_with_a_confirm(
    world: tuple[Running, Inbox, dict[str, int]],
) -> None:
    server, inbox, ids = world
    http = await log_in(server, "alice@cfn.example")
    async with contextlib.aclosing(http):
        page = await http.get("/g/north/members")
        assert "Bob" in page.text and "Invite someone to North" in page.text
        csrf = csrf_of(page.text)
        sent = await http.post(
            "/g/north/members", data={"email": "kim@cfn.example", "role": "member", "csrf": csrf}
        )
        assert sent.status_code == 303
        (msg,) = await inbox.wait_for(1)
        assert msg["To"] == "kim@cfn.example" and "Alice has invited you" in text_part(msg)
        chair = await http.post(
            "/g/north/members", data={"email": "kim2@cfn.example", "role": "chair", "csrf": csrf}
        )
        assert chair.status_code == 400 and "Only an admin can make someone a chair" in chair.text
        up = await http.post(
            f"/g/north/members/{ids['bob']}/role", data={"role": "facilitator", "csrf": csrf}
        )
        assert up.status_code == 303
        confirm = await http.get(f"/g/north/members/{ids['bob']}/remove")
        assert "Remove Bob from the group?" in confirm.text
        gone = await http.post(f"/g/north/members/{ids['bob']}/remove", data={"csrf": csrf})
        assert gone.status_code == 303
        other = await http.get("/g/south/members")
        assert other.status_code == 404
    audit_rows = server.db.execute(
        "SELECT a.action FROM audit_log a JOIN users u ON u.id = a.actor_id WHERE u.email = ?",
        ("alice@cfn.example",),
    ).fetchall()
    assert [r[0] for r in audit_rows] == ["invite.sent", "member.role", "member.removed"]
