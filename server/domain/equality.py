"""Equality monitoring: the optional "About you" answers and the participation report.

The answers live in ``about_you``, apart from the profile: no profile, group page, event or
history ever reads that table; only the member's own form, their data export, erasure and
the participation report (through ``domain/suppression.py``) do. Every question can be
answered "prefer not to say", left unanswered, changed or cleared.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from server.domain import suppression
from server.domain.accounts import User
from server.errors import BadRequest, Forbidden
from server.storage import Conn, Tx

PREFER_NOT = ("prefer_not", "Prefer not to say")

AGE_BANDS = (
    ("under_25", "Under 25"),
    ("25_34", "25 to 34"),
    ("35_44", "35 to 44"),
    ("45_54", "45 to 54"),
    ("55_64", "55 to 64"),
    ("65_74", "65 to 74"),
    ("75_84", "75 to 84"),
    ("85_plus", "85 or over"),
)
DISABILITY = (
    ("yes_a_lot", "Yes, and it limits my day-to-day activities a lot"),
    ("yes_a_little", "Yes, and it limits my day-to-day activities a little"),
    ("yes_not_limited", "Yes, but it does not limit my day-to-day activities"),
    ("no", "No"),
)
# ONS 2021 census ethnic groups for England and Wales: 19 categories under 5 headings.
ETHNICITY: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Asian, Asian British or Asian Welsh",
        (
            ("asian_bangladeshi", "Bangladeshi"),
            ("asian_chinese", "Chinese"),
            ("asian_indian", "Indian"),
            ("asian_pakistani", "Pakistani"),
            ("asian_other", "Any other Asian background"),
        ),
    ),
    (
        "Black, Black British, Black Welsh, Caribbean or African",
        (
            ("black_african", "African"),
            ("black_caribbean", "Caribbean"),
            ("black_other", "Any other Black, Black British or Caribbean background"),
        ),
    ),
    (
        "Mixed or Multiple ethnic groups",
        (
            ("mixed_white_asian", "White and Asian"),
            ("mixed_white_black_african", "White and Black African"),
            ("mixed_white_black_caribbean", "White and Black Caribbean"),
            ("mixed_other", "Any other Mixed or Multiple ethnic background"),
        ),
    ),
    (
        "White",
        (
            ("white_british", "English, Welsh, Scottish, Northern Irish or British"),
            ("white_irish", "Irish"),
            ("white_gypsy_traveller", "Gypsy or Irish Traveller"),
            ("white_roma", "Roma"),
            ("white_other", "Any other White background"),
        ),
    ),
    (
        "Other ethnic group",
        (
            ("other_arab", "Arab"),
            ("other_any", "Any other ethnic group"),
        ),
    ),
)
SEX = (("female", "Female"), ("male", "Male"))
CARER = (("yes", "Yes"), ("no", "No"))


@dataclass(frozen=True)
class Question:
    key: str  # the about_you column
    text: str
    hint: str
    options: tuple[tuple[str, str], ...]  # every answer but "prefer not to say"


QUESTIONS = (
    Question("age_band", "How old are you?", "", AGE_BANDS),
    Question(
        "disability",
        "Do you have a disability or a long-term health condition?",
        "Long-term means it has lasted, or is expected to last, 12 months or more.",
        DISABILITY,
    ),
    Question(
        "ethnicity",
        "What is your ethnic group?",
        "The groups used by the 2021 census in England and Wales.",
        tuple(o for _, options in ETHNICITY for o in options),
    ),
    Question("sex", "What is your sex?", "", SEX),
    Question(
        "carer",
        "Are you an unpaid carer?",
        "You look after, or give help or support to, someone because of a long-term health"
        " condition, a disability or problems related to old age, without being paid for it.",
        CARER,
    ),
)
BY_KEY = {q.key: q for q in QUESTIONS}


def answers(conn: Conn, user: User) -> dict[str, str | None]:
    """The member's own answers (None: not answered), for their form only."""
    row = conn.one(
        "SELECT age_band, disability, ethnicity, sex, carer FROM about_you WHERE user_id = ?",
        (user.id,),
    )
    return {q.key: (row[q.key] if row is not None else None) for q in QUESTIONS}


def save_answers(tx: Tx, user: User, given: dict[str, str]) -> None:
    """Store the answers given (an empty one stays unanswered); an unknown answer is refused
    and nothing is stored."""
    values: dict[str, str | None] = {}
    for q in QUESTIONS:
        value = given.get(q.key, "") or None
        if value is not None and value != PREFER_NOT[0] and value not in dict(q.options):
            raise BadRequest("Please choose one of the answers in the list.", field=q.key)
        values[q.key] = value
    if all(v is None for v in values.values()):
        clear_answers(tx, user)
        return
    tx.execute(
        "INSERT INTO about_you(user_id, age_band, disability, ethnicity, sex, carer, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
        " age_band = excluded.age_band, disability = excluded.disability,"
        " ethnicity = excluded.ethnicity, sex = excluded.sex, carer = excluded.carer,"
        " updated_at = excluded.updated_at",
        (user.id, *(values[q.key] for q in QUESTIONS), tx.now),
    )


def clear_answers(tx: Tx, user: User) -> None:
    """Forget every answer: the row goes, as if the form had never been filled in."""
    tx.execute("DELETE FROM about_you WHERE user_id = ?", (user.id,))


# --- the participation report ---------------------------------------------------------------

MIN_DAYS = 89  # a quarter or more (the shortest quarter, Jan-Mar, has 90 days)
BREAKDOWNS = {
    "age_band": "Age",
    "disability": "Disability or long-term condition",
    "ethnicity": "Ethnic group (by heading)",
    "sex": "Sex",
    "carer": "Unpaid carer",
}
NOT_ANSWERED = "Did not answer"
MEASURES = (
    ("answered", "Answered “About you”"),
    ("meetings", "Attended meetings"),
    ("took_part", "Took part (posted or read)"),
    ("voted", "Voted or supported ideas"),
)


def quarters(today: dt.date, count: int = 8) -> list[tuple[str, str]]:
    """The last ``count`` quarters, newest first, as (value, words): ("2026-10", "October
    to December 2026")."""
    out = []
    year, q = today.year, (today.month - 1) // 3
    for _ in range(count):
        start = q * 3 + 1
        words = f"{calendar.month_name[start]} to {calendar.month_name[start + 2]} {year}"
        out.append((f"{year}-{start:02d}", words))
        q -= 1
        if q < 0:
            q, year = 3, year - 1
    return out


def period_of(start: str, length: int) -> tuple[int, int, str]:
    """A period of ``length`` quarters from the quarter ``start`` ("2026-10") as
    (from ms, to ms, words); anything else is refused."""
    try:
        year, month = (int(x) for x in start.split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        raise BadRequest("Please choose a quarter from the list.", field="start") from None
    if month not in (1, 4, 7, 10) or length not in (1, 2, 3, 4):
        raise BadRequest("Please choose a quarter and a length from the lists.", field="start")
    end_month = month + 3 * length
    last = dt.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    if (last - first).days < MIN_DAYS:  # pragma: no cover (every choice is a quarter or more)
        raise BadRequest("The report covers a quarter or more.", field="start")
    shown_last = last - dt.timedelta(days=1)
    words = (
        f"{first.day} {calendar.month_name[first.month]} {first.year} to"
        f" {shown_last.day} {calendar.month_name[shown_last.month]} {shown_last.year}"
    )
    return _ms(first), _ms(last), words


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def may_see_reports(user: User) -> bool:
    """The participation report is for staff and admins only."""
    return user.is_staff


def _category(question: str, value: str | None) -> str:
    if value is None:
        return NOT_ANSWERED
    if value == PREFER_NOT[0]:
        return PREFER_NOT[1]
    if question == "ethnicity":
        for heading, options in ETHNICITY:
            if value in dict(options):
                return heading
    return dict(BY_KEY[question].options).get(value, NOT_ANSWERED)


def _categories(question: str) -> list[str]:
    if question == "ethnicity":
        names = [heading for heading, _ in ETHNICITY]
    else:
        names = [words for _, words in BY_KEY[question].options]
    return [*names, PREFER_NOT[1], NOT_ANSWERED]


def participation(
    conn: Conn,
    user: User,
    slug: str | None,
    start: str,
    length: int,
    breakdown: str | None,
    threshold: int,
) -> dict[str, Any]:
    """Members, who answered, who took part and who voted in a period, for the network or one
    group: every count through ``suppression``; a breakdown by one question's answers only
    from ``MIN_BREAKDOWN`` members."""
    if not may_see_reports(user):
        raise Forbidden("Only staff and admins can see the participation report.")
    since, until, words = period_of(start, length)
    group_name, group_id = "the whole network", 0
    if slug:
        g = conn.one("SELECT id, name FROM groups WHERE slug = ?", (slug,))
        if g is None:
            raise BadRequest("Please choose a group from the list.", field="group")
        group_name, group_id = g["name"], g["id"]
    if breakdown and breakdown not in BREAKDOWNS:
        raise BadRequest("Please choose a question from the list.", field="breakdown")
    # Named parameters: :since/:until the period; :g the group (only used when one is chosen).
    in_group = " AND x.group_id = :g" if slug else ""
    member_of = " AND ms.group_id = :g" if slug else ""
    rows = conn.execute(
        "SELECT u.id, a.age_band, a.disability, a.ethnicity, a.sex, a.carer,"
        " a.user_id IS NOT NULL AS answered,"
        " (EXISTS (SELECT 1 FROM messages x WHERE x.author_id = u.id"
        f"   AND x.created_at >= :since AND x.created_at < :until{in_group})"
        "  OR EXISTS (SELECT 1 FROM reads x WHERE x.user_id = u.id"
        f"   AND x.seen_at >= :since AND x.seen_at < :until{in_group})) AS took_part,"
        " (EXISTS (SELECT 1 FROM poll_voters v JOIN polls x ON x.id = v.poll_id"
        f"   WHERE v.user_id = u.id AND v.voted_at >= :since AND v.voted_at < :until{in_group})"
        "  OR EXISTS (SELECT 1 FROM idea_supporters v JOIN ideas x ON x.id = v.idea_id"
        f"   WHERE v.user_id = u.id AND v.at >= :since AND v.at < :until{in_group})) AS voted"
        " FROM users u LEFT JOIN about_you a ON a.user_id = u.id"
        " WHERE u.erased_at IS NULL AND EXISTS (SELECT 1 FROM memberships ms"
        f"   WHERE ms.user_id = u.id AND ms.joined_at < :until{member_of})",
        {"since": since, "until": until, "g": group_id},
    ).fetchall()
    people = [dict(r) for r in rows]
    members = len(people)
    k = threshold
    members_cell = suppression.single(members, k)
    overall = []
    for key, label in MEASURES:
        if key == "meetings":
            overall.append({"key": key, "label": label, "recorded": False})
            continue
        cell = suppression.single(sum(1 for p in people if p[key]), k)
        overall.append(
            {
                "key": key,
                "label": label,
                "recorded": True,
                "count": cell.text,
                "percent": suppression.percentage(cell, members_cell),
            }
        )
    answered = suppression.single(sum(1 for p in people if p["answered"]), k)
    table: list[dict[str, Any]] = []
    # No breakdown under 20 members, nor when the answers are too few to show: its "did not
    # answer" row would then give away the number who answered.
    breakdown_ok = bool(breakdown) and suppression.breakdown_allowed(members) and answered.shown
    if breakdown and breakdown_ok:
        table = _breakdown(people, breakdown, k)
    return {
        "period": words,
        "group_name": group_name,
        "members": members_cell.text,
        "response_rate": suppression.percentage(answered, members_cell),
        "answered": answered.text,
        "overall": overall,
        "breakdown": breakdown,
        "breakdown_label": BREAKDOWNS.get(breakdown or "", ""),
        "breakdown_ok": breakdown_ok,
        "table": table,
        "threshold": k,
        "min_breakdown": suppression.MIN_BREAKDOWN,
    }


def _breakdown(people: list[dict[str, Any]], question: str, k: int) -> list[dict[str, Any]]:
    """One small table per measure: each answer's count of members who did it, suppressed as
    a line whose total is everyone who did it; percentages of that answer's members."""
    names = _categories(question)
    of = [_category(question, p[question]) for p in people]
    base = [sum(1 for c in of if c == n) for n in names]
    base_line = suppression.suppress_line(base, len(people), k)
    out = [{"key": "members", "label": "Members", "rows": _rows(names, base_line, None)}]
    for key, label in MEASURES:
        if key == "meetings":
            continue
        parts = [
            sum(1 for p, c in zip(people, of, strict=True) if c == n and p[key]) for n in names
        ]
        line = suppression.suppress_line(parts, sum(parts), k, caps=base)
        out.append({"key": key, "label": label, "rows": _rows(names, line, base_line)})
    return out


def _rows(
    names: list[str], line: suppression.Line, of: suppression.Line | None
) -> list[dict[str, Any]]:
    rows = [
        {
            "name": n,
            "count": cell.text,
            "percent": suppression.percentage(cell, of.parts[i]) if of is not None else None,
        }
        for i, (n, cell) in enumerate(zip(names, line.parts, strict=True))
    ]
    rows.append(
        {
            "name": "Everyone",
            "count": line.total.text,
            "percent": suppression.percentage(line.total, of.total) if of is not None else None,
        }
    )
    return rows


def participation_csv_rows(report: dict[str, Any]) -> list[list[str]]:
    """The report as CSV rows: what is shown on the page, no more."""
    out = [["Participation report", report["group_name"], report["period"]]]
    out.append(["Measure", "Answer", "Count", "Percentage"])
    out.append(["Members", "", report["members"], ""])
    out.append(
        [
            "Response rate (answered About you)",
            "",
            report["answered"],
            report["response_rate"] or "not shown",
        ]
    )
    for m in report["overall"]:
        if not m["recorded"]:
            out.append([m["label"], "", "not recorded", ""])
        else:
            out.append([m["label"], "", m["count"], m["percent"] or ""])
    for t in report["table"]:
        for r in t["rows"]:
            out.append([t["label"], r["name"], r["count"], r["percent"] or ""])
    return out


def groups_for_report(conn: Conn) -> list[dict[str, Any]]:
    """Every group, for the report's choice of network or one group."""
    return [dict(r) for r in conn.execute("SELECT slug, name FROM groups ORDER BY name")]
