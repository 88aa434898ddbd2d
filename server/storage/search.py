"""What a search asks of the storage engine and what it gets back (pure: no I/O).

The domain (``domain/search.py``) decides who may see what and turns it into a
``SearchRequest`` of plain ids; each engine answers it with its own full-text index
(SQLite FTS5, PostgreSQL tsvector + GIN) through ``Conn.search``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

#: Kinds of thing found, with the number each engine uses for it.
KINDS = {"message": 1, "thread": 2, "poll": 3, "idea": 4, "meeting": 5, "agenda": 6}
KIND_NAMES = {code: name for name, code in KINDS.items()}
#: SQLite's index rowid is ``kind * KIND_BASE + id`` (0010_search.sql spells the products).
KIND_BASE = 1 << 40


def _marker(end: str) -> str:
    return f"\ue000{secrets.token_hex(8)}{end}\ue001"


@dataclass(frozen=True)
class SearchRequest:
    """Words to find (letters and digits only, already cleaned), and where to look."""

    words: tuple[str, ...]
    groups: tuple[int, ...]  # groups the member may read (never empty)
    staff_groups: tuple[int, ...]  # of those, where they read every staff-only post
    me: int  # staff-only posts they wrote, or in their staff-only thread, they read too
    author: int | None = None
    since: int | None = None  # Unix ms, inclusive
    until: int | None = None  # Unix ms, exclusive
    limit: int = 20
    offset: int = 0
    #: Up to ``cap`` matches are ranked by relevance; beyond that the newest come first
    #: (threads, polls, ideas and meetings before messages), so a word found in half the
    #: network still answers at once.
    cap: int = 500
    #: Put around each matching word in titles and snippets: fresh for every search, so
    #: no stored text can contain them. The page escapes the snippet and only then turns
    #: these into <mark> (a snippet is never trusted as HTML).
    mark_start: str = field(default_factory=lambda: _marker("["))
    mark_end: str = field(default_factory=lambda: _marker("]"))

    @property
    def marks(self) -> tuple[str, str]:
        return self.mark_start, self.mark_end


@dataclass(frozen=True)
class SearchHit:
    kind: str
    ref_id: int
    score: float  # higher is better
    title: str  # with the request's marks around the matching words
    snippet: str


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    total: int  # matches found (at most the request's cap)
    capped: bool  # the cap was reached: newest first rather than by relevance
