"""The Store protocols every engine implements (see the package docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from server.protocol.codec import Event
from server.storage.search import SearchRequest, SearchResult

T = TypeVar("T")

#: Statement parameters: a sequence for ``?`` placeholders, a mapping for ``:name`` ones.
Params = Sequence[Any] | Mapping[str, Any]


class Row(Protocol):
    """One result row: indexable by position and by column name; ``dict(row)`` works."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT, UPDATE or DELETE."""
        ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


class Conn(Protocol):
    """A read: one consistent snapshot of the database."""

    def execute(self, sql: str, params: Params = (), /) -> Cursor: ...

    def one(self, sql: str, params: Params = (), /) -> Row | None:
        """The first row of a query, or None."""
        ...

    def value(self, sql: str, params: Params = (), /) -> Any:
        """The first column of the first row of a query whose row must exist (count(*),
        ``RETURNING id``, ...); raises LookupError when there is none."""
        ...

    def tables(self) -> set[str]:
        """The names of the application's tables."""
        ...

    def columns_referencing(self, table: str) -> dict[str, list[str]]:
        """For each table, its columns that are foreign keys to ``table`` (found from the
        schema, so a table added later is found without anyone listing it)."""
        ...

    def rows_containing(
        self, table: str, column: str, needle: str | bytes, columns: Sequence[str]
    ) -> list[Row]:
        """``columns`` of the rows of ``table`` whose ``column`` (text, or a packed blob
        compared byte for byte when ``needle`` is bytes) contains ``needle``."""
        ...

    def search(self, request: SearchRequest) -> SearchResult:
        """Full-text search in the engine's own index, ranked, with highlighted snippets;
        only what ``request`` says the member may see."""
        ...


class Tx(Conn, Protocol):
    """A write in progress: one transaction; events it emits are published after commit."""

    @property
    def now(self) -> int:
        """The transaction's time (Unix ms): every row and event it writes carries it."""
        ...

    def executemany(self, sql: str, rows: Iterable[Params], /) -> Cursor: ...

    def erase_rows(self, sql: str, params: Params = (), /) -> int:
        """Run a DELETE so that the deleted content is overwritten, not merely unlinked
        (the engine's secure deletion); returns the number of rows deleted."""
        ...

    def emit(self, room_id: int, room: str, type_: str, data: dict[str, Any]) -> Event:
        """Append an event to the room's log with the room's next seq, in this transaction."""
        ...


class Store(Protocol):
    """The database a running server owns."""

    @property
    def epoch(self) -> str:
        """Changes whenever history may have diverged (a restore): clients replay only
        within one epoch."""
        ...

    @property
    def secret(self) -> str:
        """A per-installation random secret (signing)."""
        ...

    def read(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Run ``fn(conn, *args)`` against one consistent snapshot, off the event loop."""
        ...

    def write(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Run ``fn(tx, *args)`` in a transaction; resolves after its commit."""
        ...

    def events_after(
        self,
        room_id: int,
        since: int,
        upto: int,
    ) -> Awaitable[list[tuple[int, str, int, dict[str, Any]]]]:
        """A room's stored events with ``since < seq <= upto``, as (seq, type, at, data)."""
        ...

    def on_commit(self, publish: Callable[[list[Event]], None]) -> None:
        """Where committed events go (the backplane)."""
        ...

    def drain(self) -> Awaitable[None]:
        """Wait until every write already submitted has committed."""
        ...

    def close(self) -> Awaitable[None]: ...
