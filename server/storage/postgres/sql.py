"""SQLite-style statements made ready for psycopg: placeholders, rows and numbers.

Domain SQL is written once, with ``?`` (positional) and ``:name`` (named) placeholders.
psycopg wants ``%s`` and ``%(name)s``, and then reads every other ``%`` as the start of a
placeholder, so literal percent signs are doubled. Translation walks the statement once,
leaving string literals, quoted identifiers, comments, dollar-quoted bodies and ``::``
casts alone, and is cached per statement.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from psycopg import Cursor
from psycopg.adapt import Buffer, Loader
from psycopg.rows import RowMaker

_DOLLAR_TAG = re.compile(r"\$[A-Za-z_]*\$")


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """``?`` → ``%s``, ``:name`` → ``%(name)s``, ``%`` → ``%%``, outside quoted text."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":  # a string literal or a quoted identifier: '' and "" escape inside
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "$" and (m := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(m.group(), m.end())
            j = n if end < 0 else end + len(m.group())
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        elif c == ":":
            if sql.startswith("::", i):  # a cast, not a parameter
                out.append("::")
                i += 2
                continue
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(sql, i + 1)
            if m and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                out.append(f"%({m.group()})s")
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class PgRow(tuple[Any, ...]):
    """A result row that behaves like ``sqlite3.Row``: by position, by name, ``dict(row)``."""

    _index: dict[str, int]
    _names: list[str]

    def __new__(cls, values: Sequence[Any], names: list[str], index: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._names, row._index = names, index
        return row

    def __getitem__(self, key: Any) -> Any:  # int, slice or column name
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key])
            except KeyError:
                raise IndexError(f"No item with that key: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return tuple.__iter__(self)


def row_factory(cursor: Cursor[Any]) -> RowMaker[PgRow]:
    """psycopg row factory making ``PgRow``s (column names looked up once per result)."""
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, names, index)

    return make


class WholeNumberLoader(Loader):
    """``numeric`` results (``sum()`` of a bigint column) as int when whole, as SQLite does."""

    def load(self, data: Buffer) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)
