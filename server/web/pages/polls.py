"""Pages for polls and ideas: each group's polls and idea board, one poll or idea, exports,
and "You said, we did" across a member's groups.

All work without JavaScript (forms post here and redirect back); static/polls.js makes the
room's poll panel live. Outsiders get the same plain 404 as every other group page.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock_time
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain import discussions, ideas, inbox, names, polls
from server.domain.accounts import Access, Session, User, access, require_staff_or_moderator
from server.errors import BadRequest, Forbidden, NotFound, TooLarge
from server.storage import Conn
from server.web.forms import safe_back, whole_number
from server.web.guards import (
    member_form,
    member_page,
    no_store,
    outsider_safe,
    refresh_badge,
    services_of,
)
from server.web.templating import page

T = TypeVar("T")
_LONDON = ZoneInfo("Europe/London")
SOURCE_WORDS = {
    "online": "online",
    "on_behalf": "by phone (entered for them)",
    "in_room": "in the room",
}


def _when(ms: int | None) -> str:
    if not ms:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(_LONDON)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def closes_words(ms: int | None) -> str:
    """When a poll closes, the way people say it, UK time: "Tuesday 8 December at 7pm"."""
    if not ms:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(_LONDON)
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    suffix = "am" if moment.hour < 12 else "pm"
    year = f" {moment.year}" if moment.year != datetime.now(_LONDON).year else ""
    return f"{moment:%A} {moment.day} {moment:%B}{year} at {hour}{minutes}{suffix}"


def closing_time(form: FormData) -> int | None:
    """The optional closing date and time from the new-poll form (UK time) as Unix ms;
    both empty: the poll stays open until someone closes it."""
    day = str(form.get("closes_date", "")).strip()
    at = str(form.get("closes_time", "")).strip()
    if not day and not at:
        return None
    if not day:
        raise BadRequest(
            "Please give the day the poll closes as well as the time, or leave both empty.",
            field="closes_at",
        )
    try:
        parsed_day = date.fromisoformat(day)
    except ValueError:
        raise BadRequest(
            "Please give the closing date as day, month and year.", field="closes_at"
        ) from None
    try:
        parsed_at = clock_time.fromisoformat(at or "18:00")
    except ValueError:
        raise BadRequest(
            "Please give the closing time as hours and minutes, such as 18:00.",
            field="closes_at",
        ) from None
    moment = datetime.combine(parsed_day, parsed_at, tzinfo=_LONDON)
    return int(moment.timestamp() * 1000)


def chart(poll: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per option for the bar chart: count, percentage and where the votes came from."""
    counts = poll.get("counts")
    if counts is None:
        return []
    total = sum(counts)
    rows = []
    for i, label in enumerate(poll["options"]):
        pct = round(100 * counts[i] / total) if total else 0
        rows.append(
            {
                "index": i,
                "label": label,
                "count": counts[i],
                "pct": pct,
                "online": poll["online"][i],
                "on_behalf": poll["on_behalf"][i],
                "in_room": poll["in_room"][i],
            }
        )
    return rows


def can_run(user: User, acc: Access) -> bool:
    """Chair or facilitator in the group, or site staff/admin (PROTOCOL §4)."""
    try:
        require_staff_or_moderator(user, acc)
    except Forbidden:
        return False
    return True


def _group_access(conn: Conn, user: User, slug: str) -> Access:
    return outsider_safe(access, conn, user, slug)


def _csv(rows: list[list[Any]], filename: str) -> Response:
    """A CSV download; cells that a spreadsheet would run as a formula are quoted as text."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(
            [
                ("'" + c) if isinstance(c, str) and c[:1] in ("=", "+", "-", "@", "\t", "\r") else c
                for c in row
            ]
        )
    response = Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8")
    response.headers["content-disposition"] = f'attachment; filename="{filename}"'
    return no_store(response)


def _counted(request: Request, fn: Callable[..., T]) -> Callable[..., T]:
    """A poll write that shows counts, told the voters an anonymous poll needs first."""
    return partial(fn, threshold=_threshold(request))


def _path_id(request: Request, name: str) -> int:
    value: int = request.path_params[name]  # the route's {name:int} converter made it
    if value >= 2**62:
        raise NotFound()
    return value


async def _write(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """A form's write, after the group check: outsiders get the plain 404, members the
    domain's own answer (forbidden for a member who may not do this)."""
    db = services_of(request).db
    session = request.state.session
    await db.read(_group_access, session.user, request.path_params["slug"])
    try:
        return await db.write(fn, *args)
    except NotFound:
        raise NotFound() from None


def _back(request: Request, default: str) -> str:
    """Where a form returns to: its own page (room or polls page), never another site."""
    return safe_back(request) or default


# --- polls: reads -------------------------------------------------------------------------


def _polls_read(
    conn: Conn,
    user: User,
    slug: str,
    threshold: int,
) -> dict[str, Any]:
    acc = outsider_safe(access, conn, user, slug)
    found = polls.group_polls(conn, user, acc, threshold=threshold)
    run = can_run(user, acc)
    members = polls.group_members(conn, user, slug) if run else []
    return {
        "group": acc,
        "polls": found,
        "can_run": run,
        "members": members,
        "seq": _seq(conn, acc),
    }


def _poll_read(conn: Conn, user: User, slug: str, poll_id: int, threshold: int) -> dict[str, Any]:
    acc, poll = outsider_safe(
        partial(polls.poll_in_group, threshold=threshold), conn, user, slug, poll_id
    )
    run = can_run(user, acc) and not poll["closed"]
    return {
        "group": acc,
        "poll": poll,
        "can_run": can_run(user, acc),
        "members": polls.group_members(conn, user, slug) if run else [],
        "room_counts": polls.room_counts(conn, user, poll_id) if run else [],
    }


def _threshold(request: Request) -> int:
    """Voters an open anonymous poll needs before its counts are shown (one setting)."""
    return services_of(request).settings.privacy_threshold


def _seq(conn: Conn, acc: Access) -> int:
    """The room's latest seq in the page's snapshot: the live client resumes after it."""
    return discussions.room_seq(conn, acc)


def _context(request: Request, found: Session) -> dict[str, Any]:
    s = services_of(request).settings
    return {
        "epoch": services_of(request).db.epoch,
        "csrf": found.csrf,
        "max_title": s.max_title,
        "max_body": s.max_body,
        "privacy_threshold": s.privacy_threshold,
        "form_cid": secrets.token_urlsafe(12),
        "source_words": SOURCE_WORDS,
    }


@member_page
async def polls_page(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _polls_read, found.user, request.path_params["slug"], _threshold(request)
    )
    return no_store(
        page(
            request,
            "polls.html",
            title=f"Polls – {data['group'].name}",
            section="polls",
            **data,
            **_context(request, found),
        )
    )


@member_page(marks_read=True)
async def poll_page(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _poll_read,
        found.user,
        request.path_params["slug"],
        _path_id(request, "poll"),
        _threshold(request),
    )
    # opening the poll reads its inbox entry; the follow button needs whether it is followed
    followed = await services_of(request).db.write(
        inbox.opened, found.user, "poll", data["poll"]["id"]
    )
    await refresh_badge(request, found)
    return no_store(
        page(
            request,
            "poll.html",
            title=data["poll"]["question"],
            section="polls",
            following=followed,
            **data,
            **_context(request, found),
        )
    )


@member_page
async def poll_print(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _poll_read,
        found.user,
        request.path_params["slug"],
        _path_id(request, "poll"),
        _threshold(request),
    )
    return no_store(
        page(
            request,
            "poll_print.html",
            title=data["poll"]["question"],
            printed=_when(int(datetime.now(UTC).timestamp() * 1000)),
            **data,
            **_context(request, found),
        )
    )


CSV_HEADER = [
    "Group",
    "Poll",
    "Status",
    "Votes are",
    "Members who voted",
    "Answer",
    "Total",
    "Percent",
    "Online",
    "By phone (entered for them)",
    "In the room",
    "Chosen by (named polls)",
    "Note",
]


def hidden_words(poll: dict[str, Any]) -> str:
    """Why a poll's counts are not shown yet, in the words the pages use."""
    if (
        poll["anonymous"]
        and not poll["closed"]
        and poll["voters"] < poll.get("privacy_threshold", 0)
    ):
        return (
            f"The results are shown once {poll['privacy_threshold']} members have voted,"
            " so no one can work out how someone voted."
        )
    if poll["results"] == "after_vote":
        return "You will see the results after you vote."
    return "The results are shown when the poll closes."


def template_globals() -> dict[str, Callable[..., Any]]:
    """What the poll templates call: the chart rows and the "why hidden" sentence."""
    return {
        "poll_chart": chart,
        "poll_hidden_words": hidden_words,
        "poll_closes_words": closes_words,
    }


def _poll_rows(poll: dict[str, Any], group_name: str) -> list[list[Any]]:
    """One poll's rows under CSV_HEADER: one per answer, so all polls read as one table."""
    about = [
        group_name,
        poll["question"],
        "closed " + _when(poll["closed_at"]) if poll["closed"] else "open",
        "anonymous" if poll["anonymous"] else "named",
        poll["voters"],
    ]
    if not poll["results_visible"]:
        return [
            [*about, label, "", "", "", "", "", "", hidden_words(poll)] for label in poll["options"]
        ]
    chosen: list[list[str]] = [[] for _ in poll["options"]]
    for n in poll.get("named") or []:
        who = names.label_of(n["member"])
        if n["entered_by"]:
            who += f" (entered by {names.label_of(n['entered_by'])})"
        for c in n["choices"]:
            chosen[c].append(who)
    return [
        [
            *about,
            r["label"],
            r["count"],
            f"{r['pct']}%",
            r["online"],
            r["on_behalf"],
            r["in_room"],
            "; ".join(chosen[r["index"]]),
            "",
        ]
        for r in chart(poll)
    ]


@member_page
async def poll_csv(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _poll_read,
        found.user,
        request.path_params["slug"],
        _path_id(request, "poll"),
        _threshold(request),
    )
    rows = [CSV_HEADER, *_poll_rows(data["poll"], data["group"].name)]
    return _csv(rows, f"{data['group'].slug}-poll-{data['poll']['id']}.csv")


@member_page
async def polls_csv(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _polls_read, found.user, request.path_params["slug"], _threshold(request)
    )
    rows: list[list[Any]] = [CSV_HEADER]
    for poll in data["polls"]:
        rows += _poll_rows(poll, data["group"].name)
    return _csv(rows, f"{data['group'].slug}-polls.csv")


# --- polls: forms -------------------------------------------------------------------------


def _text(form: FormData, name: str, label: str, limit: int) -> str:
    value = form.get(name, "")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"Please fill in the {label}.", field=name)
    if len(value) > limit:
        raise TooLarge(f"The {label} is too long: at most {limit:,} characters.", field=name)
    return value.strip()


def _choices(form: FormData) -> list[int]:
    raw = form.getlist("choice")
    if not raw:
        raise BadRequest("Please choose an answer first.", field="choice")
    return [
        whole_number(c, "That answer is not one of the answers to choose from.", "choice")
        for c in raw
    ]


@member_form(again="/g/{slug}/polls", name="new-poll")
async def create_poll(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    limit = services_of(request).settings.max_title
    question = _text(form, "question", "question", limit)
    options = [o.strip() for o in str(form.get("options", "")).splitlines() if o.strip()]
    if not 2 <= len(options) <= 20:
        raise BadRequest("A poll needs 2 to 20 answers, one on each line.", field="options")
    if any(len(o) > limit for o in options):
        raise TooLarge(f"Each answer can be at most {limit} characters.", field="options")
    kind = "multi" if form.get("kind") == "multi" else "single"
    results = str(form.get("results", "live"))
    if results not in polls.POLL_RESULTS:
        results = "live"
    made = await _write(
        request,
        partial(_counted(request, polls.create_poll), closes_at=closing_time(form)),
        found.user,
        slug,
        question,
        options,
        kind,
        form.get("anonymous") == "yes",
        results,
    )
    return RedirectResponse(
        _back(request, f"/g/{slug}/polls#poll-{made['poll']['id']}"), status_code=303
    )


@member_form(again="/g/{slug}/polls/{poll}", name="vote-{poll}")
async def vote(request: Request, found: Session, form: FormData) -> Response:
    slug, poll_id = request.path_params["slug"], _path_id(request, "poll")
    await _write(request, _counted(request, polls.vote), found.user, poll_id, _choices(form))
    return RedirectResponse(_back(request, f"/g/{slug}/polls/{poll_id}?voted=1"), status_code=303)


@member_form(again="/g/{slug}/polls/{poll}", name="vote-for")
async def vote_for(request: Request, found: Session, form: FormData) -> Response:
    slug, poll_id = request.path_params["slug"], _path_id(request, "poll")
    member = whole_number(
        form.get("member"),  # "Choose a member…" sends ""
        "Please choose the member you are voting for from the list,"
        " then save their vote again. No vote was saved.",
        "member",
    )
    await _write(
        request, _counted(request, polls.vote_for), found.user, poll_id, member, _choices(form)
    )
    return RedirectResponse(f"/g/{slug}/polls/{poll_id}?entered=1", status_code=303)


@member_form(again="/g/{slug}/polls/{poll}", name="count")
async def count(request: Request, found: Session, form: FormData) -> Response:
    slug, poll_id = request.path_params["slug"], _path_id(request, "poll")
    counts = []
    for i in range(20):
        raw = form.get(f"count-{i}")
        if raw is None:
            break
        counts.append(
            whole_number(
                str(raw).strip() or "0",
                "Each count must be a whole number, such as 0 or 12.",
                "counts",
            )
        )
    await _write(request, _counted(request, polls.count_in_room), found.user, poll_id, counts)
    return RedirectResponse(f"/g/{slug}/polls/{poll_id}?counted=1", status_code=303)


@member_form(again="/g/{slug}/polls/{poll}", name="close-{poll}")
async def close_poll(request: Request, found: Session, _: FormData) -> Response:
    slug, poll_id = request.path_params["slug"], _path_id(request, "poll")
    await _write(request, polls.close, found.user, poll_id)
    return RedirectResponse(_back(request, f"/g/{slug}/polls/{poll_id}"), status_code=303)


# --- ideas --------------------------------------------------------------------------------

SORT_WORDS = {"support": "Most support", "newest": "Newest", "status": "Status"}


def _ideas_read(
    conn: Conn,
    user: User,
    slug: str,
    sort: str,
    status: str | None,
) -> dict[str, Any]:
    acc = outsider_safe(access, conn, user, slug)
    return {
        "group": acc,
        "ideas": ideas.group_ideas(conn, user, acc, sort, status),
        "can_run": can_run(user, acc),
        "seq": _seq(conn, acc),
    }


@member_page
async def ideas_page(request: Request, found: Session) -> Response:
    sort = request.query_params.get("sort", "support")
    sort = sort if sort in SORT_WORDS else "support"
    status = request.query_params.get("status") or None
    status = status if status in ideas.IDEA_STATUSES else None
    data = await services_of(request).db.read(
        _ideas_read, found.user, request.path_params["slug"], sort, status
    )
    return no_store(
        page(
            request,
            "ideas.html",
            title=f"Ideas – {data['group'].name}",
            section="ideas",
            sort=sort,
            status_filter=status,
            sort_words=SORT_WORDS,
            labels=ideas.STATUS_LABELS,
            **data,
            **_context(request, found),
        )
    )


def _idea_read(
    conn: Conn,
    user: User,
    slug: str,
    idea_id: int,
) -> dict[str, Any]:
    acc, idea, messages = outsider_safe(ideas.idea_in_group, conn, user, slug, idea_id)
    run = can_run(user, acc)
    others = (
        [i for i in ideas.group_ideas(conn, user, acc, "newest") if i["id"] != idea_id]
        if run
        else []
    )
    return {
        "group": acc,
        "idea": idea,
        "messages": messages,
        "can_run": run,
        "others": others,
        "seq": _seq(conn, acc),
    }


@member_page(marks_read=True)
async def idea_page(request: Request, found: Session) -> Response:
    data = await services_of(request).db.read(
        _idea_read, found.user, request.path_params["slug"], _path_id(request, "idea")
    )
    followed = await services_of(request).db.write(
        inbox.opened, found.user, "idea", data["idea"]["id"]
    )
    await refresh_badge(request, found)
    return no_store(
        page(
            request,
            "idea.html",
            title=data["idea"]["title"],
            section="ideas",
            following=followed,
            labels=ideas.STATUS_LABELS,
            **data,
            **_context(request, found),
        )
    )


@member_form(again="/g/{slug}/ideas", name="new-idea")
async def create_idea(request: Request, found: Session, form: FormData) -> Response:
    slug = request.path_params["slug"]
    s = services_of(request).settings
    title = _text(form, "title", "title", s.max_title)
    body = _text(form, "body", "description", s.max_body)
    cid = "form-" + (str(form.get("cid", ""))[:60] or secrets.token_urlsafe(12))
    made = await _write(request, ideas.create_idea, found.user, slug, title, body, cid)
    return RedirectResponse(f"/g/{slug}/ideas/{made['idea']['id']}", status_code=303)


@member_form(again="/g/{slug}/ideas/{idea}", name="support-{idea}")
async def support(request: Request, found: Session, form: FormData) -> Response:
    slug, idea_id = request.path_params["slug"], _path_id(request, "idea")
    await _write(request, ideas.support, found.user, idea_id, form.get("action") != "withdraw")
    return RedirectResponse(_back(request, f"/g/{slug}/ideas/{idea_id}"), status_code=303)


@member_form(again="/g/{slug}/ideas/{idea}", name="status")
async def set_status(request: Request, found: Session, form: FormData) -> Response:
    slug, idea_id = request.path_params["slug"], _path_id(request, "idea")
    status = str(form.get("status", ""))
    if status not in ideas.IDEA_STATUSES:
        raise BadRequest("Please choose a status.", field="status")
    note = str(form.get("note", ""))
    limit = services_of(request).settings.max_body
    if len(note) > limit:
        raise TooLarge(f"The note is too long: at most {limit:,} characters.", field="note")
    await _write(request, ideas.set_status, found.user, idea_id, status, note)
    return RedirectResponse(f"/g/{slug}/ideas/{idea_id}", status_code=303)


@member_form(again="/g/{slug}/ideas/{idea}", name="merge")
async def merge(request: Request, found: Session, form: FormData) -> Response:
    slug, idea_id = request.path_params["slug"], _path_id(request, "idea")
    into = whole_number(form.get("into"), "Please choose the idea to merge into.", "into")
    await _write(request, ideas.merge, found.user, idea_id, into)
    return RedirectResponse(f"/g/{slug}/ideas/{idea_id}", status_code=303)


# --- you said, we did ---------------------------------------------------------------------


@member_page
async def you_said(request: Request, found: Session) -> Response:
    items = await services_of(request).db.read(ideas.you_said_we_did, found.user)
    return no_store(
        page(request, "you_said.html", title="You said, we did", items=items, section="you-said")
    )


@member_page
async def you_said_csv(request: Request, found: Session) -> Response:
    items = await services_of(request).db.read(ideas.you_said_we_did, found.user)
    rows: list[list[Any]] = [["Group", "Idea", "Current status", "Status", "Date", "Note", "By"]]
    for item in items:
        for step in item["timeline"]:
            rows.append(
                [
                    item["group_name"],
                    item["title"],
                    item["status_label"],
                    step["label"],
                    _when(step["at"]),
                    step["note"],
                    step["by"]["name"],
                ]
            )
    return _csv(rows, "you-said-we-did.csv")


def routes() -> list[BaseRoute]:
    g = "/g/{slug}"
    return [
        Route(f"{g}/polls", polls_page, methods=["GET"], name="polls"),
        Route(f"{g}/polls", create_poll, methods=["POST"]),
        Route(f"{g}/polls.csv", polls_csv, methods=["GET"], name="polls_csv"),
        Route(f"{g}/polls/{{poll:int}}", poll_page, methods=["GET"], name="poll"),
        Route(f"{g}/polls/{{poll:int}}/print", poll_print, methods=["GET"], name="poll_print"),
        Route(f"{g}/polls/{{poll:int}}/results.csv", poll_csv, methods=["GET"], name="poll_csv"),
        Route(f"{g}/polls/{{poll:int}}/vote", vote, methods=["POST"]),
        Route(f"{g}/polls/{{poll:int}}/vote-for", vote_for, methods=["POST"]),
        Route(f"{g}/polls/{{poll:int}}/count", count, methods=["POST"]),
        Route(f"{g}/polls/{{poll:int}}/close", close_poll, methods=["POST"]),
        Route(f"{g}/ideas", ideas_page, methods=["GET"], name="ideas"),
        Route(f"{g}/ideas", create_idea, methods=["POST"]),
        Route(f"{g}/ideas/{{idea:int}}", idea_page, methods=["GET"], name="idea"),
        Route(f"{g}/ideas/{{idea:int}}/support", support, methods=["POST"]),
        Route(f"{g}/ideas/{{idea:int}}/status", set_status, methods=["POST"]),
        Route(f"{g}/ideas/{{idea:int}}/merge", merge, methods=["POST"]),
        Route("/you-said-we-did", you_said, methods=["GET"], name="you_said"),
        Route("/you-said-we-did.csv", you_said_csv, methods=["GET"], name="you_said_csv"),
    ]
