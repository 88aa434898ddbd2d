"""The web admin under /admin (site admins only), and the chair's smaller page for their
own group's members (/g/{slug}/members).

Equal to the command line: each page calls the same domain functions the CLI does
(domain/admin.py, domain/people.py, domain/privacy.py, domain/audit.py), so the web and
the CLI cannot drift apart. Every destructive action is a confirm page (GET) and a
CSRF-checked form (POST); every change is audited in its own transaction.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import accounts, admin, audit, email_prefs, names, outbox, people, privacy
from server.domain.accounts import Session
from server.errors import BadRequest, Forbidden, NotFound
from server.storage import Conn
from server.web.forms import FormError, path_ids
from server.web.guards import member_form, member_page, no_store, outsider_safe, services_of
from server.web.pages.account import origin_of
from server.web.templating import LOCAL_TIME, page

AdminPage = Callable[[Request, Session], Awaitable[Response]]
AdminForm = Callable[[Request, Session, FormData], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
BACKUP_NAME = re.compile(r"^[A-Za-z0-9._-]+\.db$")
NOT_ADMIN = "Only the network's admins can use the admin pages."


def _require_admin(found: Session) -> None:
    if not found.user.is_admin:
        raise Forbidden(NOT_ADMIN)


def admin_page(handler: AdminPage) -> Endpoint:
    """A page for site admins; anyone else logged in gets a plain 403."""

    async def inner(request: Request, found: Session) -> Response:
        _require_admin(found)
        return no_store(await handler(request, found))

    inner.__name__ = handler.__name__
    return member_page(inner)


@overload
def admin_form(handler: AdminForm) -> Endpoint: ...


@overload
def admin_form(*, again: str, name: str) -> Callable[[AdminForm], Endpoint]: ...


def admin_form(
    handler: AdminForm | None = None, *, again: str | None = None, name: str = "form"
) -> Endpoint | Callable[[AdminForm], Endpoint]:
    """A form post from a site admin, CSRF-checked; with ``again`` a mistake shows that
    page again as typed."""

    def decorate(fn: AdminForm) -> Endpoint:
        async def inner(request: Request, found: Session, form: FormData) -> Response:
            _require_admin(found)
            return await fn(request, found, form)

        inner.__name__ = fn.__name__
        if again is None:
            return member_form(inner)
        return member_form(again=again, name=name)(inner)

    return decorate if handler is None else decorate(handler)


def _render(request: Request, template: str, found: Session, **context: Any) -> Response:
    return page(request, template, csrf=found.csrf, **context)


def _done(url: str, message: str) -> Response:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}done={quote(message)}", status_code=303)


def _notice(request: Request) -> str | None:
    return request.query_params.get("done", "")[:300] or None


def _confirm(
    request: Request,
    found: Session,
    *,
    title: str,
    lines: list[str],
    button: str,
    back: str,
    danger: bool = True,
) -> Response:
    return no_store(
        _render(
            request,
            "confirm.html",
            found,
            title=title,
            lines=lines,
            button=button,
            back=back,
            danger=danger,
            section="admin",
        )
    )


# --- home ---------------------------------------------------------------------------------


def _overview(conn: Conn) -> dict[str, Any]:
    return {
        "people": len(admin.list_users(conn, "", 100_000)),
        "groups": len(admin.list_groups(conn)),
        "failed_mail": sum(1 for m in outbox.recent(conn, 500) if m["status"] == "failed"),
    }


@admin_page
async def index(request: Request, found: Session) -> Response:
    counts = await services_of(request).db.read(_overview)
    return _render(request, "admin_index.html", found, title="Admin", counts=counts)


# --- people -------------------------------------------------------------------------------


@admin_page
async def people_list(request: Request, found: Session) -> Response:
    q = request.query_params.get("q", "")[:200]
    listed = await services_of(request).db.read(admin.list_users, q)
    return _render(
        request,
        "admin_people.html",
        found,
        title="People",
        people=listed,
        q=q,
        roles=accounts.SITE_ROLES,
        notice=_notice(request),
    )


@admin_form(again="/admin/people", name="add")
async def people_add(request: Request, found: Session, form: FormData) -> Response:
    services = services_of(request)
    user = await services.db.write(
        people.add_person,
        found.user,
        str(form.get("email", "")),
        str(form.get("name", "")),
        str(form.get("role", "member")),
        origin_of(request),
    )
    services.wake_mail()
    return _done(
        f"/admin/people/{user.id}",
        f"Added {user.name}. We have emailed them a link to choose a password.",
    )


async def _person(request: Request) -> dict[str, Any]:
    (user_id,) = path_ids(request, "id")
    return await services_of(request).db.read(admin.person, user_id)


def _person_page_data(conn: Conn, user_id: int) -> dict[str, Any]:
    return {"person": admin.person(conn, user_id), "groups": admin.list_groups(conn)}


@admin_page
async def person_page(request: Request, found: Session) -> Response:
    (user_id,) = path_ids(request, "id")
    data = await services_of(request).db.read(_person_page_data, user_id)
    return _render(
        request,
        "admin_person.html",
        found,
        title=data["person"]["name"],
        roles=accounts.SITE_ROLES,
        group_roles=accounts.GROUP_ROLES,
        notice=_notice(request),
        **data,
    )


@admin_form(again="/admin/people/{id}", name="role")
async def person_role(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    role = str(form.get("role", ""))
    if who["id"] == found.user.id and role != "admin":
        raise BadRequest("You cannot take away your own admin role.", field="role")
    await services_of(request).db.write(admin.set_site_role, who["email"], role, found.user.id)
    return _done(f"/admin/people/{who['id']}", f"{who['name']} is now {role}.")


@admin_form(again="/admin/people/{id}", name="join")
async def person_join(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    slug, role = str(form.get("group", "")), str(form.get("role", "member"))
    if role not in accounts.GROUP_ROLES:
        raise BadRequest("Please choose a role in the group.", field="role")
    if not slug:
        raise BadRequest("Please choose a group.", field="group")
    await services_of(request).db.write(
        admin.set_member_role, slug, who["email"], role, found.user.id
    )
    return _done(f"/admin/people/{who['id']}", f"{who['name']} is now {role} of {slug}.")


@admin_form
async def person_reset(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    services = services_of(request)
    await services.db.write(people.send_reset, found.user, who["email"], origin_of(request))
    services.wake_mail()
    return _done(
        f"/admin/people/{who['id']}",
        f"We have emailed {who['name']} a link to choose a new password (it works for 1 hour).",
    )


@admin_page
async def person_suspend_form(request: Request, found: Session) -> Response:
    who = await _person(request)
    return _confirm(
        request,
        found,
        title=f"Suspend {who['name']}?",
        lines=[
            f"{who['name']} will be logged out everywhere at once and cannot log in until"
            " you lift the suspension. Their live connections close within a second.",
            "Nothing they wrote is changed. This is recorded in the audit log.",
        ],
        button="Yes, suspend",
        back=f"/admin/people/{who['id']}",
    )


@admin_form
async def person_suspend(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    await services_of(request).db.write(admin.suspend_user, who["email"], found.user.id)
    return _done(f"/admin/people/{who['id']}", f"{who['name']} is suspended.")


@admin_form
async def person_unsuspend(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    await services_of(request).db.write(admin.unsuspend_user, who["email"], found.user.id)
    return _done(f"/admin/people/{who['id']}", f"{who['name']} can log in again.")


@admin_page
async def person_remove_form(request: Request, found: Session) -> Response:
    who = await _person(request)
    slug = request.path_params["slug"]
    if slug not in {g["slug"] for g in who["groups"]}:
        raise NotFound(f"{who['name']} is not in that group.")
    return _confirm(
        request,
        found,
        title=f"Remove {who['name']} from {slug}?",
        lines=[
            f"{who['name']} will no longer see the group; if they have it open, it closes"
            " within a second. What they wrote there stays.",
            "You can add them again later. This is recorded in the audit log.",
        ],
        button="Yes, remove from the group",
        back=f"/admin/people/{who['id']}",
    )


@admin_form
async def person_remove(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    slug = request.path_params["slug"]
    await services_of(request).db.write(admin.remove_member, slug, who["email"], found.user.id)
    return _done(f"/admin/people/{who['id']}", f"{who['name']} is no longer in {slug}.")


@admin_page
async def person_export(request: Request, found: Session) -> Response:
    who = await _person(request)
    services = services_of(request)
    text = await services.db.read(privacy.export_json, who["email"])
    await services.db.write(_audit_export, found.user.id, who["id"])
    return Response(
        text + "\n",
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="person-{who["id"]}.json"'},
    )


def _audit_export(tx: Any, actor_id: int, user_id: int) -> None:
    audit.record(tx, actor_id, "user.exported", subject=f"user {user_id}")


@admin_page
async def person_erase_form(request: Request, found: Session) -> Response:
    who = await _person(request)
    return _confirm(
        request,
        found,
        title=f"Erase {who['name']}'s personal data?",
        lines=[
            "Their name, email, password, needs, sessions, tokens and group places are"
            " removed for good. Their posts stay, shown as “Former member”.",
            "This cannot be undone. You may want to export their data first.",
        ],
        button="Yes, erase for good",
        back=f"/admin/people/{who['id']}",
    )


@admin_form
async def person_erase(request: Request, found: Session, form: FormData) -> Response:
    who = await _person(request)
    if who["id"] == found.user.id:
        raise Forbidden("To close your own account, use “Close my account” on your profile.")
    await services_of(request).db.write(privacy.erase_user, who["email"], found.user.id)
    return _done("/admin/people", "Erased. Their posts now show as “Former member”.")


# --- invitations --------------------------------------------------------------------------


def _invitations_data(conn: Conn, actor: accounts.User) -> dict[str, Any]:
    return {
        "invitations": people.invitations(conn, actor),
        "groups": [g for g in admin.list_groups(conn) if g["archived_at"] is None],
    }


@admin_page
async def invitations(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(_invitations_data, found.user)
    return _render(
        request,
        "admin_invitations.html",
        found,
        title="Invitations",
        group_roles=accounts.GROUP_ROLES,
        notice=_notice(request),
        **data,
    )


async def _send_invite(request: Request, found: Session, form: FormData, slug: str) -> str:
    services = services_of(request)
    email = str(form.get("email", "")).strip()
    if not slug:
        raise BadRequest("Please choose a group.", field="group")
    await services.db.write(
        people.invite, found.user, email, slug, str(form.get("role", "member")), origin_of(request)
    )
    services.wake_mail()
    return f"Invitation sent to {email}. The link in it works for 7 days."


@admin_form(again="/admin/invitations", name="invite")
async def invite(request: Request, found: Session, form: FormData) -> Response:
    message = await _send_invite(request, found, form, str(form.get("group", "")))
    return _done("/admin/invitations", message)


@admin_page
async def withdraw_form(request: Request, found: Session) -> Response:
    (invite_id,) = path_ids(request, "id")
    inv = await services_of(request).db.read(people.invitation, found.user, invite_id)
    return _confirm(
        request,
        found,
        title="Withdraw this invitation?",
        lines=[f"The link sent to {inv['email']} for {inv['group_name']} will stop working."],
        button="Yes, withdraw it",
        back="/admin/invitations",
    )


@admin_form
async def withdraw(request: Request, found: Session, form: FormData) -> Response:
    (invite_id,) = path_ids(request, "id")
    inv = await services_of(request).db.write(people.withdraw_invite, found.user, invite_id)
    return _done("/admin/invitations", f"The invitation to {inv['email']} is withdrawn.")


# --- groups -------------------------------------------------------------------------------


@admin_page
async def groups(request: Request, found: Session) -> Response:
    listed = await services_of(request).db.read(admin.list_groups)
    return _render(
        request,
        "admin_groups.html",
        found,
        title="Groups",
        groups=listed,
        kinds=accounts.GROUP_KINDS,
        notice=_notice(request),
    )


@admin_form(again="/admin/groups", name="add")
async def group_add(request: Request, found: Session, form: FormData) -> Response:
    slug = str(form.get("slug", "")).strip().lower()
    name = str(form.get("name", ""))
    try:
        await services_of(request).db.write(
            admin.add_group, slug, name, str(form.get("kind", "regional")), found.user.id
        )
    except BadRequest as exc:
        exc.field = exc.field or ("name" if "name" in exc.message else "slug")
        raise
    return _done(f"/admin/groups/{slug}", f"Added the group {name.strip()}.")


@admin_page
async def group_page(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    group = await services_of(request).db.read(admin.group_detail, slug)
    return _render(
        request,
        "admin_group.html",
        found,
        title=group["name"],
        group=group,
        email_no_text=await services_of(request).db.read(email_prefs.is_no_text, group["id"]),
        kinds=accounts.GROUP_KINDS,
        group_roles=accounts.GROUP_ROLES,
        notice=_notice(request),
    )


@admin_form(again="/admin/groups/{slug}", name="rename")
async def group_rename(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    await services_of(request).db.write(
        admin.rename_group, slug, str(form.get("name", "")), found.user.id
    )
    return _done(f"/admin/groups/{slug}", "The group's name is saved.")


@admin_form(again="/admin/groups/{slug}", name="kind")
async def group_kind(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    await services_of(request).db.write(
        admin.set_group_kind, slug, str(form.get("kind", "")), found.user.id
    )
    return _done(f"/admin/groups/{slug}", "The group's kind is saved.")


@admin_form(again="/admin/groups/{slug}", name="email-text")
async def group_email_text(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    on = form.get("no_text") == "1"
    await services_of(request).db.write(email_prefs.set_no_text, found.user, slug, on)
    return _done(
        f"/admin/groups/{slug}",
        "Emails about this group now never include message text."
        if on
        else "Emails about this group may include message text again.",
    )


@admin_form(again="/admin/groups/{slug}", name="member")
async def group_member(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    email = str(form.get("email", "")).strip()
    role = str(form.get("role", "member"))
    if role not in accounts.GROUP_ROLES:
        raise BadRequest("Please choose a role in the group.", field="role")
    db = services_of(request).db
    if await db.read(accounts.user_by_email, email) is None:
        raise BadRequest(
            "Nobody has that email yet. To bring someone new in, invite them instead.",
            field="email",
        )
    await db.write(admin.set_member_role, slug, email, role, found.user.id)
    return _done(f"/admin/groups/{slug}", f"{email} is now {role} of the group.")


@admin_page
async def group_archive_form(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    group = await services_of(request).db.read(admin.group_detail, slug)
    return _confirm(
        request,
        found,
        title=f"Archive {group['name']}?",
        lines=[
            "The group keeps its members and everything written in it, but nobody new can"
            " be invited and it is listed last.",
            "You can bring it back at any time.",
        ],
        button="Yes, archive it",
        back=f"/admin/groups/{slug}",
    )


@admin_form
async def group_archive(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    await services_of(request).db.write(admin.archive_group, slug, True, found.user.id)
    return _done(f"/admin/groups/{slug}", "The group is archived.")


@admin_form
async def group_unarchive(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    await services_of(request).db.write(admin.archive_group, slug, False, found.user.id)
    return _done(f"/admin/groups/{slug}", "The group is back in use.")


# --- API tokens ---------------------------------------------------------------------------


@admin_page
async def tokens(request: Request, found: Session) -> Response:
    listed = await services_of(request).db.read(admin.list_tokens)
    return _render(
        request,
        "admin_tokens.html",
        found,
        title="API tokens",
        tokens=listed,
        notice=_notice(request),
        new_token=None,
    )


@admin_form(again="/admin/tokens", name="create")
async def token_create(request: Request, found: Session, form: FormData) -> Response:
    email = str(form.get("email", "")).strip()
    db = services_of(request).db
    if await db.read(accounts.user_by_email, email) is None:
        raise BadRequest("Nobody has that email. Please check it.", field="email")
    token = await db.write(admin.create_token, email, found.user.id)
    listed = await db.read(admin.list_tokens)
    return no_store(
        _render(
            request,
            "admin_tokens.html",
            found,
            title="API tokens",
            tokens=listed,
            notice=None,
            new_token={"token": token, "email": email},
        )
    )


@admin_page
async def token_revoke_form(request: Request, found: Session) -> Response:
    (token_id,) = path_ids(request, "id")
    tok = await services_of(request).db.read(admin.token_by_id, token_id)
    return _confirm(
        request,
        found,
        title=f"Revoke token {tok['id']}?",
        lines=[
            f"Programs using {tok['name']}'s token number {tok['id']} stop working at once;"
            " their live connections close within a second.",
        ],
        button="Yes, revoke it",
        back="/admin/tokens",
    )


@admin_form
async def token_revoke(request: Request, found: Session, form: FormData) -> Response:
    (token_id,) = path_ids(request, "id")
    await services_of(request).db.write(admin.revoke_token_id, token_id, found.user.id)
    return _done("/admin/tokens", f"Token {token_id} is revoked.")


# --- audit log ----------------------------------------------------------------------------


def _day(value: str, field: str, end: bool = False) -> int | None:
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            "Please give a date as year-month-day, such as 2026-05-01.", field=field
        ) from None
    if end:
        day += datetime.timedelta(days=1)
    moment = datetime.datetime.combine(day, datetime.time(), LOCAL_TIME)
    return int(moment.timestamp() * 1000)


async def _audit_rows(request: Request) -> tuple[dict[str, str], list[dict[str, Any]]]:
    q = {k: request.query_params.get(k, "")[:200] for k in ("person", "action", "from", "to")}
    since, until = _day(q["from"], "from"), _day(q["to"], "to", end=True)
    rows = await services_of(request).db.read(audit.search, q["person"], q["action"], since, until)
    return q, rows


@admin_page
async def audit_page(request: Request, found: Session) -> Response:
    try:
        q, rows = await _audit_rows(request)
    except BadRequest as exc:
        q = {k: request.query_params.get(k, "")[:200] for k in ("person", "action", "from", "to")}
        rows = []
        request.state.form_error = FormError(
            "audit", exc.field, exc.message, {k: [v] for k, v in q.items()}
        )
    choices = await services_of(request).db.read(audit.actions)
    return _render(
        request,
        "admin_audit.html",
        found,
        title="Audit log",
        rows=rows,
        q=q,
        actions=choices,
        csv_query=request.url.query,
    )


@admin_page
async def audit_csv(request: Request, found: Session) -> Response:
    _, rows = await _audit_rows(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time (UTC)", "who", "action", "group", "about", "detail"])
    for r in rows:
        when = datetime.datetime.fromtimestamp(r["at"] / 1000, datetime.UTC)
        writer.writerow(
            [
                f"{when:%Y-%m-%d %H:%M:%S}",
                r["actor"] or "command line",
                r["action"],
                r["room"] or "",
                r["subject_name"] or r["subject"] or "",
                " ".join(f"{k}={v}" for k, v in r["detail"].items()),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit-log.csv"'},
    )


# --- backups ------------------------------------------------------------------------------


def _backup_dir(request: Request) -> Path:
    return Path(services_of(request).settings.backup_dir)


def _list_backups(folder: Path) -> list[dict[str, Any]]:
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if entry.is_file() and BACKUP_NAME.match(entry.name):
            stat = entry.stat()
            found.append(
                {"name": entry.name, "size": stat.st_size, "at": int(stat.st_mtime * 1000)}
            )
    return sorted(found, key=lambda b: b["at"], reverse=True)


@admin_page
async def backups(request: Request, found: Session) -> Response:
    folder = _backup_dir(request)
    return _render(
        request,
        "admin_backups.html",
        found,
        title="Backups",
        backups=await asyncio.to_thread(_list_backups, folder),
        folder=str(folder),
        notice=_notice(request),
        available=services_of(request).backup is not None,
    )


@admin_form
async def backup_start(request: Request, found: Session, form: FormData) -> Response:
    services = services_of(request)
    if services.backup is None:
        raise BadRequest("This storage engine has no backup from the web admin.")
    stamp = datetime.datetime.now(LOCAL_TIME).strftime("%Y-%m-%d-%H%M%S")
    target = _backup_dir(request) / f"cfn-{stamp}.db"
    try:
        done = await services.backup(str(target))
    except ValueError as e:
        raise BadRequest(str(e)) from None
    await services.db.write(_audit_backup, found.user.id, target.name)
    return _done(
        "/admin/backups",
        f"Backed up {done['messages']} messages to {target.name}.",
    )


def _audit_backup(tx: Any, actor_id: int, name: str) -> None:
    audit.record(tx, actor_id, "backup.made", file=name)


@admin_page
async def backup_download(request: Request, found: Session) -> Response:
    name = request.path_params["name"]
    folder = _backup_dir(request)
    listed = await asyncio.to_thread(_list_backups, folder)
    if not BACKUP_NAME.match(name) or name not in {b["name"] for b in listed}:
        raise NotFound()
    await services_of(request).db.write(_audit_download, found.user.id, name)
    return FileResponse(
        os.path.join(folder, name), media_type="application/octet-stream", filename=name
    )


def _audit_download(tx: Any, actor_id: int, name: str) -> None:
    audit.record(tx, actor_id, "backup.downloaded", file=name)


# --- email --------------------------------------------------------------------------------


@admin_page
async def email_page(request: Request, found: Session) -> Response:
    mails = await services_of(request).db.read(outbox.recent, 100)
    settings = services_of(request).settings
    how = (
        f"through {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"
        if settings.smtp_host
        else f"as files into the folder {settings.mail_out} (no SMTP server set)"
    )
    return _render(request, "admin_email.html", found, title="Email", mails=mails, how=how)


# --- the chair's page for their own group -------------------------------------------------


def _chair_data(conn: Conn, user: accounts.User, slug: str) -> dict[str, Any]:
    acc = outsider_safe(accounts.access, conn, user, slug)
    if not people.may_manage_group(conn, user, acc.group_id):
        raise Forbidden("Only the group's chair can manage its members.")
    members = names.shown_rows(
        names.namer(conn, acc.group_id, user, acc), admin.group_members(conn, slug)
    )
    rank = {"chair": 0, "facilitator": 1}  # by the names shown: the order gives none away
    members.sort(key=lambda m: (rank.get(m["role"], 2), str(m["name"]).lower()))
    return {
        "group": acc,
        "members": members,
        "invitations": people.invitations(conn, user, slug),
    }


@member_page
async def chair_members(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    data = await services_of(request).db.read(_chair_data, found.user, slug)
    return no_store(
        _render(
            request,
            "chair_members.html",
            found,
            title=f"Members of {data['group'].name}",
            section="members",
            roles=("member", "facilitator"),
            notice=_notice(request),
            **data,
        )
    )


@member_form(again="/g/{slug}/members", name="invite")
async def chair_invite(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    message = await _send_invite(request, found, form, slug)
    return _done(f"/g/{slug}/members", message)


async def _member_email(request: Request, found: Session) -> tuple[str, dict[str, Any]]:
    slug = request.path_params["slug"]
    (user_id,) = path_ids(request, "id")
    data = await services_of(request).db.read(_chair_data, found.user, slug)
    member = next((m for m in data["members"] if m["id"] == user_id), None)
    if member is None:
        raise NotFound()
    return slug, member


@member_form(again="/g/{slug}/members", name="role-{id}")
async def chair_role(request: Request, found: Session, form: FormData) -> Response:
    slug, member = await _member_email(request, found)
    role = str(form.get("role", ""))
    if role not in ("member", "facilitator") and not found.user.is_admin:
        raise BadRequest("Choose member or facilitator.", field="role")
    await services_of(request).db.write(
        admin.chair_set_role, found.user, slug, member["email"], role
    )
    return _done(f"/g/{slug}/members", f"{member['name']} is now {role}.")


@member_page
async def chair_remove_form(request: Request, found: Session) -> Response:
    slug, member = await _member_email(request, found)
    return no_store(
        _render(
            request,
            "confirm.html",
            found,
            title=f"Remove {member['name']} from the group?",
            lines=[
                f"{member['name']} will no longer see the group. What they wrote stays.",
                "An admin can add them again. This is recorded with your name.",
            ],
            button="Yes, remove them",
            back=f"/g/{slug}/members",
            danger=True,
        )
    )


@member_form
async def chair_remove(request: Request, found: Session, form: FormData) -> Response:
    slug, member = await _member_email(request, found)
    await services_of(request).db.write(admin.chair_remove, found.user, slug, member["email"])
    return _done(f"/g/{slug}/members", f"{member['name']} is no longer in the group.")


@member_page
async def chair_withdraw_form(request: Request, found: Session) -> Response:
    slug = request.path_params["slug"]
    (invite_id,) = path_ids(request, "id")
    inv = await services_of(request).db.read(people.invitation, found.user, invite_id)
    if inv["slug"] != slug:
        raise NotFound()
    return no_store(
        _render(
            request,
            "confirm.html",
            found,
            title="Withdraw this invitation?",
            lines=[f"The link sent to {inv['email']} will stop working."],
            button="Yes, withdraw it",
            back=f"/g/{slug}/members",
            danger=True,
        )
    )


@member_form
async def chair_withdraw(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    (invite_id,) = path_ids(request, "id")
    inv = await services_of(request).db.read(people.invitation, found.user, invite_id)
    if inv["slug"] != slug:
        raise NotFound()
    await services_of(request).db.write(people.withdraw_invite, found.user, invite_id)
    return _done(f"/g/{slug}/members", f"The invitation to {inv['email']} is withdrawn.")


def routes() -> list[BaseRoute]:
    return [
        Route("/admin", index, methods=["GET"], name="admin"),
        Route("/admin/people", people_list, methods=["GET"]),
        Route("/admin/people", people_add, methods=["POST"]),
        Route("/admin/people/{id:int}", person_page, methods=["GET"]),
        Route("/admin/people/{id:int}/role", person_role, methods=["POST"]),
        Route("/admin/people/{id:int}/groups", person_join, methods=["POST"]),
        Route("/admin/people/{id:int}/reset", person_reset, methods=["POST"]),
        Route("/admin/people/{id:int}/suspend", person_suspend_form, methods=["GET"]),
        Route("/admin/people/{id:int}/suspend", person_suspend, methods=["POST"]),
        Route("/admin/people/{id:int}/unsuspend", person_unsuspend, methods=["POST"]),
        Route("/admin/people/{id:int}/groups/{slug}/remove", person_remove_form, methods=["GET"]),
        Route("/admin/people/{id:int}/groups/{slug}/remove", person_remove, methods=["POST"]),
        Route("/admin/people/{id:int}/export", person_export, methods=["GET"]),
        Route("/admin/people/{id:int}/erase", person_erase_form, methods=["GET"]),
        Route("/admin/people/{id:int}/erase", person_erase, methods=["POST"]),
        Route("/admin/invitations", invitations, methods=["GET"]),
        Route("/admin/invitations", invite, methods=["POST"]),
        Route("/admin/invitations/{id:int}/withdraw", withdraw_form, methods=["GET"]),
        Route("/admin/invitations/{id:int}/withdraw", withdraw, methods=["POST"]),
        Route("/admin/groups", groups, methods=["GET"]),
        Route("/admin/groups", group_add, methods=["POST"]),
        Route("/admin/groups/{slug}", group_page, methods=["GET"]),
        Route("/admin/groups/{slug}/name", group_rename, methods=["POST"]),
        Route("/admin/groups/{slug}/kind", group_kind, methods=["POST"]),
        Route("/admin/groups/{slug}/email-text", group_email_text, methods=["POST"]),
        Route("/admin/groups/{slug}/members", group_member, methods=["POST"]),
        Route("/admin/groups/{slug}/archive", group_archive_form, methods=["GET"]),
        Route("/admin/groups/{slug}/archive", group_archive, methods=["POST"]),
        Route("/admin/groups/{slug}/unarchive", group_unarchive, methods=["POST"]),
        Route("/admin/tokens", tokens, methods=["GET"]),
        Route("/admin/tokens", token_create, methods=["POST"]),
        Route("/admin/tokens/{id:int}/revoke", token_revoke_form, methods=["GET"]),
        Route("/admin/tokens/{id:int}/revoke", token_revoke, methods=["POST"]),
        Route("/admin/audit", audit_page, methods=["GET"]),
        Route("/admin/audit.csv", audit_csv, methods=["GET"]),
        Route("/admin/backups", backups, methods=["GET"]),
        Route("/admin/backups", backup_start, methods=["POST"]),
        Route("/admin/backups/{name}", backup_download, methods=["GET"]),
        Route("/admin/email", email_page, methods=["GET"]),
        Route("/g/{slug}/members", chair_members, methods=["GET"]),
        Route("/g/{slug}/members", chair_invite, methods=["POST"]),
        Route("/g/{slug}/members/{id:int}/role", chair_role, methods=["POST"]),
        Route("/g/{slug}/members/{id:int}/remove", chair_remove_form, methods=["GET"]),
        Route("/g/{slug}/members/{id:int}/remove", chair_remove, methods=["POST"]),
        Route("/g/{slug}/invitations/{id:int}/withdraw", chair_withdraw_form, methods=["GET"]),
        Route("/g/{slug}/invitations/{id:int}/withdraw", chair_withdraw, methods=["POST"]),
    ]
