"""Backup of a PostgreSQL database: ``pg_dump``, with the epoch rotated in the copy.

``pg_dump`` reads one consistent snapshot and never blocks the servers' writes. The dump
is plain SQL (restore with ``psql -d NEWDB -f FILE``), written beside the target and
renamed into place, and ends with a statement that gives a database restored from it a
NEW epoch, as the SQLite backup does: clients that saw later history are told
(``recovered: false``) and reload. A restore into another database or cluster changes the
epoch anyway (its identity differs: see ``check_epoch``).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess

from server.storage.postgres.database import PgConn, redact


def pg_dump_path() -> str:
    """pg_dump on PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), key=_major)
    if not candidates:
        raise ValueError("pg_dump was not found: install the postgresql-client package")
    return candidates[-1]


def _major(path: str) -> int:
    part = path.split("/")[-3]
    return int(part) if part.isdigit() else 0


def backup(conn: PgConn, url: str, target: str) -> dict[str, int | str]:
    """Dump the database at ``url`` to ``target``; returns what was copied."""
    folder = os.path.dirname(os.path.abspath(target))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"The folder for the backup could not be made: {folder} ({e.strerror})"
        ) from None
    partial = target + ".partial"
    epoch = secrets.token_hex(8)
    schema = str(conn.value("SELECT current_schema()"))
    done = subprocess.run(
        [pg_dump_path(), "--format=plain", "--no-owner", "--no-privileges", "--file", partial, url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.path.exists(partial):
            os.remove(partial)
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise ValueError(f"pg_dump could not back up {redact(url)}: {reason}")
    with open(partial, "a", encoding="utf-8") as f:
        f.write(
            "\n-- A database restored from this backup gets a new epoch (PROTOCOL §4), and\n"
            "-- records the identity of wherever it lands when a server first opens it.\n"
            f"UPDATE \"{schema}\".meta SET value = '{epoch}' WHERE key = 'epoch';\n"
            f"DELETE FROM \"{schema}\".meta WHERE key = 'epoch_identity';\n"
        )
    os.replace(partial, target)
    events = int(conn.value("SELECT count(*) FROM events"))
    messages = int(conn.value("SELECT count(*) FROM messages"))
    return {"path": target, "epoch": epoch, "events": events, "messages": messages}
