"""The embedded default backend: one SQLite file (WAL) in the data folder, the raw files beside it
(``lib.store.archive.FileArchive``). Today's behaviour: several processes share it safely; writers queue on
``BEGIN IMMEDIATE``, readers keep reading a snapshot."""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

from lib.store.db import Connection, Database


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=60000")
        return con

    @contextmanager
    def read(self):
        """One snapshot: every query inside sees the same committed state."""
        with closing(self.connect()) as raw, self._transaction(raw, "BEGIN"):
            yield Connection(raw)

    @contextmanager
    def write(self):
        """One IMMEDIATE transaction: writers queue, readers keep reading."""
        with closing(self.connect()) as raw, self._transaction(raw, "BEGIN IMMEDIATE"):
            yield Connection(raw)

    def run_script(self, con: Connection, sql: str) -> None:
        """Statement by statement inside the open transaction (``executescript`` would commit first)."""
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                con.execute(statement)
                statement = ""
        if statement.strip():
            con.execute(statement)

    def backup_to(self, dest: Path) -> None:
        """A consistent copy of every table through SQLite's online backup."""
        with closing(self.connect()) as src, closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)
