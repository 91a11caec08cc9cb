"""The embedded default backend: one SQLite file (WAL) in the data folder, the raw files beside it
(``lib.store.archive.FileArchive``). Today's behaviour: several processes share it safely; writers queue on
``BEGIN IMMEDIATE``, readers keep reading a snapshot."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path

from lib.store.db import Connection, Database

BUSY_TIMEOUT = 60  # seconds a connection waits for another's lock before it gives up


def _into_wal(con: sqlite3.Connection) -> None:
    """Put a new database file into WAL mode (it stays so: the mode is kept in the file). Switching needs the file to
    itself, and SQLite answers "database is locked" AT ONCE, without its busy wait, while another connection reads it
    — as when two processes open a new data folder together (two servers starting, or the test of processes ingesting
    side by side). So wait for it here, as the busy timeout waits for any other lock."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            _into_wal(con)
        con.execute("PRAGMA synchronous=FULL")
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
