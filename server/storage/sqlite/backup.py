"""Online backup: a consistent copy of the live database while the server keeps writing.

SQLite's backup API copies every page in one step from a single read snapshot; in WAL
mode that snapshot never blocks the server's writer. The copy is written beside the
target and renamed into place, so a half-written backup never looks like a real one, and
it gets a NEW epoch: clients of a server restored from it are told (``recovered: false``)
that history may differ from what they saw, and reload (PROTOCOL §4).
"""

from __future__ import annotations

import os
import sqlite3

from server.storage.sqlite.database import new_epoch, open_sync


def backup(source: sqlite3.Connection, target: str) -> dict[str, int | str]:
    """Copy the database behind ``source`` to ``target``; returns what was copied."""
    live = source.execute("PRAGMA database_list").fetchone()[2]
    live_files = {os.path.realpath(live + suffix) for suffix in ("", "-wal", "-shm")}
    if live and os.path.realpath(target) in live_files:
        raise ValueError(
            f"{target} is the live database: back up to a different file, "
            "such as backups/cfn-DATE.db"
        )
    folder = os.path.dirname(os.path.abspath(target))
    try:  # a first `backup backups/cfn.db` should just work
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"The folder for the backup could not be made: {folder} ({e.strerror})"
        ) from None
    partial = target + ".partial"
    for leftover in (partial, partial + "-wal", partial + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    dest = sqlite3.connect(partial, isolation_level=None)
    try:
        source.backup(dest, pages=-1)  # one step: one snapshot, however busy the server is
        epoch = new_epoch()
        dest.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch,))
        check = dest.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {check}")
        dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        events = dest.execute("SELECT count(*) FROM events").fetchone()[0]
        messages = dest.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        dest.close()
    for leftover in (partial + "-wal", partial + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    os.replace(partial, target)
    return {"path": target, "epoch": epoch, "events": events, "messages": messages}


def backup_file(db_path: str, target: str) -> dict[str, int | str]:
    """``backup`` from a connection of its own (the running server's web admin, on a
    thread): the server's writer and readers carry on meanwhile."""
    conn = open_sync(db_path)
    try:
        return backup(conn, target)
    finally:
        conn.close()
