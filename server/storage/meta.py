"""Installation-wide values in the ``meta`` table that both engines keep the same way."""

from __future__ import annotations

import secrets

from server.storage.interface import Tx


def ensure_secret(tx: Tx) -> str:
    """The installation's secret (per-group alias ids derive from it), made on first use.
    Processes starting together on a new database race here: the first insert wins and
    every process uses the one stored."""
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('secret', ?) ON CONFLICT(key) DO NOTHING",
        (secrets.token_hex(32),),
    )
    stored: str = tx.value("SELECT value FROM meta WHERE key='secret'")
    return stored
