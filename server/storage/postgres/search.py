"""Search on PostgreSQL: the GIN tsvector indexes of 0010_search.sql, one branch per kind.

Each branch repeats its index's expression exactly (so the planner uses the index) and
the rule for what may be shown: a message neither deleted nor hidden, in the member's
groups, and staff-only only for those who may read it. The words come cleaned from the
domain and go through ``plainto_tsquery``, which reads no operators.
"""

from __future__ import annotations

from typing import Any

from server.storage.interface import Conn
from server.storage.search import (
    KINDS,
    SearchHit,
    SearchRequest,
    SearchResult,
)

_CFG = "'english'::regconfig"

# kind -> (document expression as indexed, table alias clause, extra condition, time, author)
_BRANCHES: dict[str, tuple[str, str, str, str, str]] = {
    "message": (
        "to_tsvector('english'::regconfig, m.body)",
        "messages m",
        "m.deleted_at IS NULL AND m.hidden_at IS NULL AND (m.staff_only = 0"
        " OR m.group_id = ANY(:staff_groups) OR m.author_id = :me OR :me = (SELECT"
        " st.author_id FROM threads st WHERE st.id = m.thread_id AND st.staff_only = 1))",
        "m.created_at",
        "m.author_id",
    ),
    "thread": (
        "to_tsvector('english'::regconfig, t.title)",
        "threads t",
        "(t.staff_only = 0 OR t.group_id = ANY(:staff_groups) OR t.author_id = :me)",
        "t.created_at",
        "t.author_id",
    ),
    "poll": (
        "to_tsvector('english'::regconfig, p.question || ' ' || p.options)",
        "polls p",
        "TRUE",
        "p.created_at",
        "p.created_by",
    ),
    "idea": (
        "to_tsvector('english'::regconfig, i.title || ' ' || i.body)",
        "ideas i",
        "TRUE",
        "i.created_at",
        "i.author_id",
    ),
    "meeting": (
        "to_tsvector('english'::regconfig, mt.title)",
        "meetings mt",
        "TRUE",
        "mt.starts_at",
        "mt.created_by",
    ),
    "agenda": (
        "to_tsvector('english'::regconfig, a.title || ' ' || a.summary)",
        "agenda_items a JOIN meetings am ON am.id = a.meeting_id",
        "TRUE",
        "a.created_at",
        "a.proposed_by",
    ),
}
_GROUP = {"agenda": "am.group_id"}
_ID = {"message": "m.id", "thread": "t.id", "poll": "p.id", "idea": "i.id"}
_ID.update({"meeting": "mt.id", "agenda": "a.id"})
# What is shown for each kind: (title text, body text) for ts_headline.
_SHOWN = {
    "message": ("''", "m.body", "messages m", "m.id"),
    "thread": ("t.title", "''", "threads t", "t.id"),
    "poll": (
        "p.question",
        "(SELECT string_agg(o, ' · ') FROM jsonb_array_elements_text(p.options::jsonb) o)",
        "polls p",
        "p.id",
    ),
    "idea": ("i.title", "i.body", "ideas i", "i.id"),
    "meeting": ("mt.title", "''", "meetings mt", "mt.id"),
    "agenda": ("a.title", "a.summary", "agenda_items a", "a.id"),
}


def _branch(kind: str, req: SearchRequest) -> str:
    doc, source, condition, at, author = _BRANCHES[kind]
    alias = source.split()[1]
    group = _GROUP.get(kind, f"{alias}.group_id")
    sql = (
        f"SELECT {KINDS[kind]} AS kind, {_ID[kind]} AS ref_id, ts_rank({doc}, q.q)"
        f" * {4.0 if kind != 'message' else 1.0} AS score FROM {source}, q"
        f" WHERE {doc} @@ q.q AND {group} = ANY(:groups) AND {condition}"
    )
    if req.author is not None:
        sql += f" AND {author} = :author"
    if req.since is not None:
        sql += f" AND {at} >= :since"
    if req.until is not None:
        sql += f" AND {at} < :until"
    return sql


def search(conn: Conn, req: SearchRequest) -> SearchResult:
    """The same answer as SQLite's: up to ``cap`` matches ranked by ts_rank (titles
    counting four times the text); when there are more, the newest ``cap`` newest first
    (threads, polls, ideas and meetings before messages)."""
    params: dict[str, Any] = {
        "words": " ".join(req.words),
        "groups": list(req.groups),
        "staff_groups": list(req.staff_groups),
        "me": req.me,
        "author": req.author,
        "since": req.since,
        "until": req.until,
        "cap": req.cap,
        "limit": req.limit,
        "offset": req.offset,
    }
    union = " UNION ALL ".join(_branch(kind, req) for kind in _BRANCHES)
    ranked = conn.execute(
        f"WITH q AS (SELECT plainto_tsquery({_CFG}, :words) AS q),"
        f" hits AS ({union}),"
        " newest AS (SELECT kind, ref_id, score FROM hits ORDER BY kind DESC, ref_id DESC"
        " LIMIT :cap),"
        " counted AS (SELECT kind, ref_id, score, count(*) OVER () AS total FROM newest)"
        " SELECT kind, ref_id, score, total FROM counted"
        " ORDER BY CASE WHEN total >= :cap THEN 0 ELSE score END DESC, kind DESC, ref_id DESC"
        " LIMIT :limit OFFSET :offset",
        params,
    ).fetchall()
    if not ranked:
        total = 0
        if req.offset:
            total = conn.value(
                f"WITH q AS (SELECT plainto_tsquery({_CFG}, :words) AS q),"
                f" hits AS ({union})"
                " SELECT count(*) FROM (SELECT 1 FROM hits LIMIT :cap) n",
                params,
            )
        return SearchResult([], total, total >= req.cap)
    total = int(ranked[0]["total"])
    names = {code: name for name, code in KINDS.items()}
    hits = []
    options = (
        f"StartSel={req.mark_start}, StopSel={req.mark_end}, MaxWords=30, MinWords=12,"
        " HighlightAll=false, FragmentDelimiter=…"
    )
    whole = f"HighlightAll=true, StartSel={req.mark_start}, StopSel={req.mark_end}"
    for r in ranked:
        kind = names[int(r["kind"])]
        title, body, source, key = _SHOWN[kind]
        shown = conn.one(
            f"WITH q AS (SELECT plainto_tsquery({_CFG}, :words) AS q)"
            f" SELECT ts_headline({_CFG}, {title}, q.q, :whole) AS title,"
            f" ts_headline({_CFG}, coalesce({body}, ''), q.q, :options) AS snippet"
            f" FROM {source}, q WHERE {key} = :id",
            {"words": params["words"], "options": options, "whole": whole, "id": r["ref_id"]},
        )
        hits.append(
            SearchHit(
                kind=kind,
                ref_id=int(r["ref_id"]),
                score=float(r["score"]),
                title=str(shown["title"]) if shown else "",
                snippet=str(shown["snippet"]) if shown else "",
            )
        )
    return SearchResult(hits, total, total >= req.cap)
