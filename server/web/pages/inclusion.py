"""Pages for privacy and inclusion: the privacy notice, the member's "About you" form, the
participation report for staff, and the admin's retention page. Each calls domain functions
(domain/equality.py, domain/retention.py) through db.read / db.write and works without
JavaScript."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import equality, retention
from server.domain.accounts import Session
from server.errors import BadRequest, NotFound
from server.web.guards import current_session, member_form, member_page, no_store, services_of
from server.web.templating import page


async def privacy_notice(request: Request) -> Response:
    """Open to anyone (it is linked from the login page): what is kept, for how long."""
    await current_session(request)
    services = services_of(request)
    groups = await services.db.read(retention.retention)
    return page(
        request,
        "privacy.html",
        title="Privacy notice",
        groups=groups,
        session_days=services.settings.session_days,
        threshold=services.settings.privacy_threshold,
    )


# --- About you ---------------------------------------------------------------------------------


@member_page
async def about_you(request: Request, found: Session) -> Response:
    given = await services_of(request).db.read(equality.answers, found.user)
    return no_store(
        page(
            request,
            "about_you.html",
            title="About you",
            answers=given,
            questions=equality.QUESTIONS,
            ethnicity=equality.ETHNICITY,
            prefer_not=equality.PREFER_NOT,
            done=request.query_params.get("done", ""),
            csrf=found.csrf,
        )
    )


@member_form(again="/me/about", name="about")
async def save_about_you(request: Request, found: Session, form: FormData) -> Response:
    given = {q.key: str(form.get(q.key, "")) for q in equality.QUESTIONS}
    await services_of(request).db.write(equality.save_answers, found.user, given)
    return RedirectResponse("/me/about?done=saved", status_code=303)


@member_form(again="/me/about", name="clear")
async def clear_about_you(request: Request, found: Session, form: FormData) -> Response:
    await services_of(request).db.write(equality.clear_answers, found.user)
    return RedirectResponse("/me/about?done=cleared", status_code=303)


# --- the participation report ------------------------------------------------------------------


async def _report(request: Request, found: Session) -> tuple[dict[str, Any], dict[str, str]]:
    if not equality.may_see_reports(found.user):
        raise NotFound()  # members and chairs who are not staff: no such page
    q = request.query_params
    quarters = equality.quarters(dt.datetime.now(dt.UTC).date())
    chosen = {
        "start": q.get("start", quarters[1][0]),
        "length": q.get("length", "1"),
        "group": q.get("group", ""),
        "breakdown": q.get("breakdown", ""),
    }
    try:
        length = int(chosen["length"])
    except ValueError:
        raise BadRequest("Please choose a length from the list.", field="length") from None
    services = services_of(request)
    report = await services.db.read(
        equality.participation,
        found.user,
        chosen["group"] or None,
        chosen["start"],
        length,
        chosen["breakdown"] or None,
        services.settings.privacy_threshold,
    )
    return report, chosen


@member_page
async def participation(request: Request, found: Session) -> Response:
    groups = await services_of(request).db.read(equality.groups_for_report)
    context: dict[str, Any] = {
        "title": "Participation report",
        "groups": groups,
        "quarters": equality.quarters(dt.datetime.now(dt.UTC).date()),
        "breakdowns": equality.BREAKDOWNS,
        "threshold": services_of(request).settings.privacy_threshold,
        "csrf": found.csrf,
    }
    try:
        report, chosen = await _report(request, found)
    except BadRequest as exc:  # a hand-made address: the form again, with one sentence
        if not equality.may_see_reports(found.user):
            raise NotFound() from None
        context.update(report=None, chosen=dict(request.query_params), problem=exc.message)
        return no_store(page(request, "participation.html", status=400, **context))
    query = request.url.query
    context.update(report=report, chosen=chosen, problem=None, csv_query=query)
    return no_store(page(request, "participation.html", **context))


@member_page
async def participation_csv(request: Request, found: Session) -> Response:
    report, _ = await _report(request, found)
    out = io.StringIO()
    csv.writer(out).writerows(equality.participation_csv_rows(report))
    return no_store(
        Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="participation.csv"'},
        )
    )


# --- retention (admins) ------------------------------------------------------------------------


@member_page
async def retention_page(request: Request, found: Session) -> Response:
    if not found.user.is_admin:
        raise NotFound()
    groups = await services_of(request).db.read(retention.retention)
    return no_store(
        page(
            request,
            "retention_admin.html",
            title="How long messages are kept",
            groups=groups,
            done=request.query_params.get("done", ""),
            csrf=found.csrf,
        )
    )


@member_form(again="/admin/retention", name="retention-{slug}")
async def save_retention(request: Request, found: Session, form: FormData) -> Response:
    if not found.user.is_admin:
        raise NotFound()
    slug = request.path_params["slug"]
    months: int | None = None
    if form.get("keep") != "forever":
        raw = str(form.get("months", "")).strip()
        if not raw.lstrip("-").isdigit():
            raise BadRequest(
                "Please give a whole number of months, such as 24, or choose to keep them"
                " for ever.",
                field="months",
            )
        months = int(raw)
    await services_of(request).db.write(retention.set_retention_as, found.user, slug, months)
    return RedirectResponse(f"/admin/retention?done={slug}", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/privacy", privacy_notice, methods=["GET"], name="privacy"),
        Route("/me/about", about_you, methods=["GET"], name="about_you"),
        Route("/me/about", save_about_you, methods=["POST"], name="about_you_save"),
        Route("/me/about/clear", clear_about_you, methods=["POST"], name="about_you_clear"),
        Route("/reports/participation", participation, methods=["GET"], name="participation"),
        Route(
            "/reports/participation.csv",
            participation_csv,
            methods=["GET"],
            name="participation_csv",
        ),
        Route("/admin/retention", retention_page, methods=["GET"], name="retention_admin"),
        Route("/admin/retention/{slug}", save_retention, methods=["POST"], name="retention_save"),
    ]
