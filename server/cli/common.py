"""What every command shares: the one-line error, and opening the database it names."""

from __future__ import annotations

import argparse
import os
import sqlite3

from server.storage.engine import CannotOpen, SyncConn, describe, is_postgres, open_sync


class CLIError(Exception):
    """A problem to report in one line."""


def db_path(args: argparse.Namespace) -> str:
    """The database: --db, else $CFN_DB, else cfn.db here (a file, or a postgresql:// URL)."""
    path: str = args.db or os.environ.get("CFN_DB") or "cfn.db"
    return path


def connect(args: argparse.Namespace) -> SyncConn:
    """Open (creating and migrating if needed) the database named by --db / CFN_DB."""
    path = db_path(args)
    if is_postgres(path):
        try:
            return open_sync(path)
        except CannotOpen as e:
            raise CLIError(str(e)) from None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"The folder for the database does not exist: {folder}")
    try:
        conn = open_sync(path)
    except sqlite3.DatabaseError as e:
        raise CLIError(f"Cannot open the database {describe(path)}: {e}") from None
    return conn
