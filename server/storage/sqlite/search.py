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


# Ranking: BM25's term-frequency and length parts, titles counting four times the text.
# Not FTS5's bm25(): that first counts, for each word, every row of the whole index that
# holds it (its rarity), and a word found in half the network makes that the slowest part
# of any search. Here every word the member typed counts the same.
_K1, _B = 1.2, 0.75
_WEIGHTS = (4.0, 1.0)  # title, text
_SNIPPET_WORDS = 24


def _score(columns: tuple[str, str], start: str) -> float:
    total = 0.0
    for text, weight, average in zip(columns, _WEIGHTS, (8.0, 30.0), strict=True):
        found = text.count(start)
        if found:
            length = len(text.split())
            total += weight * found * (_K1 + 1) / (found + _K1 * (1 - _B + _B * length / average))
    return total


def _snippet(text: str, start: str, end: str) -> str:
    """About two dozen words around the first match (marks kept), "…" where cut."""
    words = text.split()
    if len(words) <= _SNIPPET_WORDS:
        return " ".join(words)
    first = next((i for i, w in enumerate(words) if start in w), 0)
    lo = max(0, min(first - 6, len(words) - _SNIPPET_WORDS))
    hi = lo + _SNIPPET_WORDS
    shown = " ".join(words[lo:hi])
    if shown.count(start) > shown.count(end):  # a mark cut at the end: close it
        shown += end
    return ("…" if lo else "") + shown + ("…" if hi < len(words) else "")


def search(conn: sqlite3.Connection, req: SearchRequest) -> SearchResult:
    """The newest ``cap`` matches with their matching words marked (FTS5 walks its posting
    lists backwards and stops at the cap). Fewer than ``cap`` are ranked (``_score``);
    at the cap they come newest first: threads, polls, ideas and meetings, then messages."""
    match = match_expression(req)
    where = "search_index MATCH ?"
    params: list[Any] = [match]
    if req.since is not None:
        where += " AND at >= ?"
        params.append(req.since)
    if req.until is not None:
        where += " AND at < ?"
        params.append(req.until)
    start, end = req.mark_start, req.mark_end
    rows = conn.execute(
        "SELECT rowid, highlight(search_index, 0, ?, ?), highlight(search_index, 1, ?, ?)"
        f" FROM search_index WHERE {where} ORDER BY rowid DESC LIMIT ?",
        (start, end, start, end, *params, req.cap),
    ).fetchall()
    total = len(rows)
    capped = total >= req.cap
    scored = [(0.0 if capped else _score((r[1], r[2]), start), r) for r in rows]
    if not capped:
        scored.sort(key=lambda pair: (-pair[0], -pair[1][0]))
    hits = [
        SearchHit(
            kind=KIND_NAMES[r[0] // KIND_BASE],
            ref_id=r[0] % KIND_BASE,
            score=score,
            title=r[1],
            snippet=_snippet(r[2], start, end),
        )
        for score, r in scored[req.offset : req.offset + req.limit]
    ]
    return SearchResult(hits, total, capped)
