"""Storage: the engine-neutral interface domain and page code are written against.

Domain functions are plain synchronous functions: reads take a ``Conn`` (one consistent
snapshot), writes take a ``Tx`` (one transaction, whose events are published after its
commit). A ``Store`` runs them off the event loop. ``storage/sqlite/`` is today's engine;
a second engine (PostgreSQL, say) is a sibling folder implementing the same protocols.

SQL dialect: statements are written in SQL that both SQLite and PostgreSQL run
(``ON CONFLICT DO NOTHING``, ``RETURNING id``, no ``INSERT OR IGNORE``, no ``lastrowid``).
Placeholders stay ``?`` (positional) or ``:name`` (named, with a mapping of parameters); an
engine whose driver wants another style translates them. What cannot be written portably
(schema introspection, secure deletion, substring search over stored blobs) is a method
here, which each engine implements its own way. The migrations in
``storage/migrations/`` are written in the SQLite dialect; ``storage/postgres/`` translates
their table DDL and carries PostgreSQL versions of the triggers (``triggers.sql``), and a
migration it cannot translate ships its own ``storage/postgres/migrations/NNNN_name.sql``.
``storage/engine.py`` picks the engine from the ``CFN_DB`` value.

Nothing here imports an engine: ``sqlite3`` and ``aiosqlite`` appear only under
``storage/sqlite/``, ``psycopg`` only under ``storage/postgres/`` (ruff's banned-api rule
keeps them out of domain, realtime and web).
"""

from server.storage.events import pack, unpack
from server.storage.interface import Conn, Cursor, Params, Row, Store, Tx

__all__ = ["Conn", "Cursor", "Params", "Row", "Store", "Tx", "pack", "unpack"]
