"""What every command shares: the one-line error, and opening the database it names."""

from __future__ import annotations

import argparse
import os
import sqlite3

from server.storage.sqlite.database import SqliteConn, migrate, open_sync


class CLIError(Exception):
    """A problem to report in one line."""


def db_path(args: argparse.Namespace) -> str:
    """The database file: --db, else $CFN_DB, else cfn.db here."""
    path: str = args.db or os.environ.get("CFN_DB") or "cfn.db"
    return path


def connect(args: argparse.Namespace) -> SqliteConn:
    """Open (creating and migrating if needed) the database named by --db / CFN_DB."""
    path = db_path(args)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"The folder for the database does not exist: {folder}")
    try:
        conn = open_sync(path)
        migrate(conn)
    except sqlite3.DatabaseError as e:
        raise CLIError(f"Cannot open the database {path}: {e}") from None
    return conn
