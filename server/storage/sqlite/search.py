"""Search on SQLite: one FTS5 query over ``search_index`` (0010_search.sql).

Access is part of the MATCH expression (the ``scope`` column's tokens), so FTS5 narrows
to the member's groups inside its own posting lists instead of reading rows to check
them. Words are quoted one by one, so nothing typed can be FTS5 syntax.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from server.storage.search import (
    KIND_BASE,
    KIND_NAMES,
    SearchHit,
    SearchRequest,
    SearchResult,
)


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _any(tokens: list[str]) -> str:
    return "(" + " OR ".join(_quoted(t) for t in tokens) + ")"


def match_expression(req: SearchRequest) -> str:
    """The FTS5 query: every word in a title or text, inside the member's groups (and the
    chosen person's posts), leaving out staff-only posts they may not read."""
    words = "{title body} : (" + " AND ".join(_quoted(w) for w in req.words) + ")"
    expr = f"{words} AND scope : {_any([f'g{g}' for g in req.groups])}"
    if req.author is not None:
        expr += f" AND scope : {_quoted(f'u{req.author}')}"
    readable = [f"sa{req.me}"] + [f"g{g}" for g in req.staff_groups]
    return f'({expr}) NOT (scope : "staffonly" NOT scope : {_any(readable)})'


def search(conn: sqlite3.Connection, req: SearchRequest) -> SearchResult:
    """Rank the newest ``cap`` matches by bm25 (titles count four times the text), then
    highlight the page's rows."""
    match = match_expression(req)
    where = "search_index MATCH ?"
    params: list[Any] = [match]
    if req.since is not None:
        where += " AND at >= ?"
        params.append(req.since)
    if req.until is not None:
        where += " AND at < ?"
        params.append(req.until)
    ranked = conn.execute(
        "SELECT rid, score, count(*) OVER () AS total FROM ("
        " SELECT rowid AS rid, bm25(search_index, 4.0, 1.0, 0.0, 0.0) AS score"
        f" FROM search_index WHERE {where} ORDER BY rowid DESC LIMIT ?)"
        " ORDER BY score, rid DESC LIMIT ? OFFSET ?",
        (*params, req.cap, req.limit, req.offset),
    ).fetchall()
    if not ranked:
        total = 0
        if req.offset:  # past the last page: still say how many there are
            total = conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM search_index WHERE {where}"
                " ORDER BY rowid DESC LIMIT ?)",
                (*params, req.cap),
            ).fetchone()[0]
        return SearchResult([], total, total >= req.cap)
    total = ranked[0]["total"]
    marks: dict[int, Any] = {
        r[0]: r
        for r in conn.execute(
            "SELECT rowid, highlight(search_index, 0, ?, ?),"
            " snippet(search_index, 1, ?, ?, '…', 24) FROM search_index"
            f" WHERE search_index MATCH ? AND rowid IN ({','.join('?' * len(ranked))})",
            (
                req.mark_start,
                req.mark_end,
                req.mark_start,
                req.mark_end,
                match,
                *[r["rid"] for r in ranked],
            ),
        )
    }
    hits = []
    for r in ranked:
        rid = r["rid"]
        mark = marks.get(rid)
        hits.append(
            SearchHit(
                kind=KIND_NAMES[rid // KIND_BASE],
                ref_id=rid % KIND_BASE,
                score=-float(r["score"]),
                title=mark[1] if mark else "",
                snippet=mark[2] if mark else "",
            )
        )
    return SearchResult(hits, total, total >= req.cap)
