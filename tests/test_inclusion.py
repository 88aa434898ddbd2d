"""The privacy notice, the "About you" form, the participation report and the admin's
retention page, over real HTTP against a real server, without JavaScript."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.domain import accounts, discussions, equality, privacy
from server.storage.engine import write_sync
from tests.harness import Running
from tests.test_web_pages import Member

ALICE, BOB, NADIA, ADA = (
    "alice@cfn.example",
    "bob@cfn.example",
    "nadia@cfn.example",
    "ada@cfn.example",
)


@pytest.fixture
async def member(server: Running, room: str):  # noqa: ANN201 (an async generator factory)
    opened: list[httpx.AsyncClient] = []

    async def open_member(email: str, role: str = "member") -> Member:
        user = server.user(email, role=role)
        token, csrf = write_sync(server.db, accounts.create_session, user.id, 1)
        http = httpx.AsyncClient(
            base_url=server.http, cookies={SESSION_COOKIE: token}, timeout=10, follow_redirects=True
        )
        opened.append(http)
        return Member(http, csrf, user)

    yield open_member
    for http in opened:
        await http.aclose()


def _about(server: Running, email: str) -> dict[str, str | None] | None:
    row = server.db.execute(
        "SELECT a.age_band, a.disability, a.ethnicity, a.sex, a.carer FROM about_you a"
        " JOIN users u ON u.id = a.user_id WHERE u.email = ?",
        (email,),
    ).fetchone()
    return (
        None if row is None else dict(zip(("age", "dis", "eth", "sex", "carer"), row, strict=True))
    )


# --- the privacy notice ----------------------------------------------------------------------


async def test_the_privacy_notice_is_public_follows_each_groups_retention_and_is_linked(
    server: Running, room: str, member
) -> None:
    server.group("south", "South Yorkshire")
    server.db.execute("UPDATE groups SET retention_months = 24 WHERE slug = 'south'")
    server.db.commit()
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as anonymous:
        notice = await anonymous.get("/privacy")
        login = await anonymous.get("/login")
    assert notice.status_code == 200
    assert "South Yorkshire: messages are deleted 24 months after" in notice.text
    assert "messages are kept until they are deleted" in notice.text  # north keeps for ever
    assert "each login lasts 30 days" in notice.text
    assert 'href="/privacy"' in login.text
    bob = await member(BOB)
    assert 'href="/privacy"' in (await bob.http.get("/")).text  # the footer, on every page


# --- About you -------------------------------------------------------------------------------


async def test_about_you_answers_are_saved_changed_cleared_and_a_made_up_answer_is_refused(
    server: Running, room: str, member
) -> None:
    bob = await member(BOB)
    form = (await bob.http.get("/me/about")).text
    assert form.count("Prefer not to say") == 5  # every question
    assert form.count('name="ethnicity"') == 19 + 1  # ONS 2021: 19 groups, and prefer not
    assert 'href="/me/about"' in (await bob.http.get("/")).text
    saved = await bob.http.post(
        "/me/about",
        data={"csrf": bob.csrf, "age_band": "75_84", "ethnicity": "white_irish", "carer": "yes"},
    )
    assert "Your answers are saved" in saved.text
    assert _about(server, BOB) == {
        "age": "75_84",
        "dis": None,
        "eth": "white_irish",
        "sex": None,
        "carer": "yes",
    }
    assert 'value="75_84" checked' in saved.text
    await bob.http.post(
        "/me/about", data={"csrf": bob.csrf, "age_band": "75_84", "sex": "prefer_not"}
    )
    assert _about(server, BOB) == {
        "age": "75_84",
        "dis": None,
        "eth": None,
        "sex": "prefer_not",
        "carer": None,
    }
    wrong = await bob.http.post(
        "/me/about", data={"csrf": bob.csrf, "age_band": "12", "sex": "female"}
    )
    assert wrong.status_code == 400 and "Please choose one of the answers" in wrong.text
    assert _about(server, BOB)["sex"] == "prefer_not"  # unchanged
    cleared = await bob.http.post("/me/about/clear", data={"csrf": bob.csrf})
    assert "Your answers are cleared" in cleared.text and _about(server, BOB) is None


async def test_about_you_is_in_the_export_gone_after_erasure_and_never_on_a_group_view(
    server: Running, room: str, member
) -> None:
    bob, alice = await member(BOB), await member(ALICE)
    await bob.http.post(
        "/me/about",
        data={"csrf": bob.csrf, "ethnicity": "white_gypsy_traveller", "disability": "yes_a_lot"},
    )
    made = write_sync(server.db, discussions.create_thread, bob.user, room, "Hello", "Hi all", "c1")
    exported = json.loads(privacy.export_json(server.db, BOB))
    assert exported["about_you"][0]["ethnicity"] == "white_gypsy_traveller"
    words = ("Gypsy", "gypsy", "yes_a_lot", "limits my day-to-day")
    thread = f"/g/{room}/t/{made['thread']['id']}"
    for who in (alice, bob):
        for url in ("/", f"/g/{room}", thread, f"{thread}/m/{made['message']['id']}"):
            text = (await who.http.get(url)).text
            assert not any(w in text for w in words), (url, who.user.email)
    write_sync(server.db, privacy.erase_user, BOB)
    assert _about(server, BOB) is None
    assert server.db.execute("SELECT count(*) FROM about_you").fetchone()[0] == 0


# --- the participation report -----------------------------------------------------------------


async def test_participation_report_by_role_members_and_chairs_get_404_staff_and_admins_see_it(
    server: Running, room: str, member
) -> None:
    pages = ("/reports/participation", "/reports/participation.csv")
    for email, role, allowed in (
        (BOB, "member", False),
        (ALICE, "member", False),  # the chair of north, not staff
        (NADIA, "staff", True),
        (ADA, "admin", True),
    ):
        who = await member(email, role)
        for url in pages:
            got = await who.http.get(url)
            assert (got.status_code == 200) is allowed, (email, url, got.status_code)
            if not allowed:
                assert got.status_code == 404
    assert "Participation report" not in (await (await member(BOB)).http.get("/")).text
    staff_home = (await (await member(NADIA, "staff")).http.get("/")).text
    assert 'href="/reports/participation"' in staff_home and "<title>My groups" in staff_home


async def test_participation_report_suppresses_small_counts_and_shows_the_response_rate(
    server: Running, room: str, member
) -> None:
    # 23 members of north (alice, bob and 21 more); 7 answered; 3 posted.
    for n in range(21):
        server.member(room, f"m{n}@cfn.example")
    for n in range(7):
        user = server.user(f"m{n}@cfn.example")
        write_sync(server.db, equality.save_answers, user, {"carer": "yes" if n < 6 else "no"})
    start = equality.quarters(dt.datetime.now(dt.UTC).date())[0][0]
    for n in range(3):
        user = server.user(f"m{n}@cfn.example")
        write_sync(server.db, discussions.create_thread, user, room, f"T{n}", "Hello", f"c{n}")
    nadia = await member(NADIA, "staff")
    url = f"/reports/participation?start={start}&length=1&group={room}&breakdown=carer"
    page = await nadia.http.get(url)
    assert page.status_code == 200, page.text
    text = page.text
    assert "Response rate:</strong> 30% of members answered" in text  # 7 of 23
    assert "fewer than 5" in text  # the 3 who posted, and the 1 carer who said no
    assert "not recorded" in text and "Meetings are not recorded" in text
    table = list(
        csv.reader(
            io.StringIO(
                (await nadia.http.get(url.replace("participation", "participation.csv", 1))).text
            )
        )
    )
    cells = {(r[0], r[1]): r[2] for r in table if len(r) >= 3}
    assert cells[("Members", "")] == "23"
    assert cells[("Took part (posted or read)", "")] == "fewer than 5"
    assert cells[("Members", "No")] in ("fewer than 5", "hidden")
    # no published cell anywhere is a number from 1 to 4
    assert not any(c.strip() in {"1", "2", "3", "4"} for r in table for c in r[2:3])
    bad = await nadia.http.get("/reports/participation?start=2026-02&length=1")
    assert bad.status_code == 400 and "Please choose a quarter" in bad.text


async def test_participation_report_gives_no_breakdown_under_20_members(
    server: Running, room: str, member
) -> None:
    ada = await member(ADA, "admin")
    page = (await ada.http.get("/reports/participation?breakdown=sex")).text
    assert "There is no breakdown for fewer than 20 members" in page
    assert "by sex" not in page


# --- retention ---------------------------------------------------------------------------------


async def test_retention_page_for_admins_refuses_zero_with_the_form_again_and_saves_months(
    server: Running, room: str, member
) -> None:
    bob, ada = await member(BOB), await member(ADA, "admin")
    assert (await bob.http.get("/admin/retention")).status_code == 404
    refused = await bob.http.post(
        f"/admin/retention/{room}", data={"csrf": bob.csrf, "keep": "months", "months": "6"}
    )
    assert refused.status_code == 404
    page = await ada.http.get("/admin/retention")
    assert "Keep messages in North" in page.text
    zero = await ada.http.post(
        f"/admin/retention/{room}", data={"csrf": ada.csrf, "keep": "months", "months": "0"}
    )
    assert zero.status_code == 400
    assert "Messages must be kept for at least 1 month." in zero.text and 'value="0"' in zero.text
    words = await ada.http.post(
        f"/admin/retention/{room}", data={"csrf": ada.csrf, "keep": "months", "months": "two"}
    )
    assert words.status_code == 400 and "whole number of months" in words.text
    kept = server.db.execute("SELECT retention_months FROM groups WHERE slug = ?", (room,))
    assert kept.fetchone()[0] is None  # nothing changed by a refusal
    saved = await ada.http.post(
        f"/admin/retention/{room}", data={"csrf": ada.csrf, "keep": "months", "months": "24"}
    )
    assert "Saved." in saved.text and "kept for 24 months" in saved.text
    assert "deleted 24 months after" in (await bob.http.get("/privacy")).text
    await ada.http.post(f"/admin/retention/{room}", data={"csrf": ada.csrf, "keep": "forever"})
    kept = server.db.execute("SELECT retention_months FROM groups WHERE slug = ?", (room,))
    assert kept.fetchone()[0] is None


async def test_no_breakdown_when_too_few_answered_so_did_not_answer_cannot_give_it_away(
    server: Running, room: str, member
) -> None:
    for n in range(21):
        server.member(room, f"m{n}@cfn.example")
    for n in range(3):
        write_sync(
            server.db, equality.save_answers, server.user(f"m{n}@cfn.example"), {"sex": "female"}
        )
    ada = await member(ADA, "admin")
    start = equality.quarters(dt.datetime.now(dt.UTC).date())[0][0]
    page = (await ada.http.get(f"/reports/participation?start={start}&breakdown=sex")).text
    assert "fewer than 5 of 23 members answered" in page
    assert "Did not answer" not in page and "or when fewer than 5 have answered" in page
