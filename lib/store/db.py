"""The storage interface: one small SQL API that both backends speak.

Store code (and ``lib.ledger``, ``lib.publish`` through the store) writes SQL once, in the subset SQLite and
PostgreSQL share: ``?`` placeholders, ``INSERT ... ON CONFLICT``, window functions, ``||``. A backend's
``Connection`` translates the placeholders, ``insert`` returns the new row's id (``RETURNING id``) and ``frame``
reads a query into a DataFrame. Every table that is read "in insertion order" has a ``rowid`` (SQLite's own; a
``BIGSERIAL rowid`` column on PostgreSQL), so ``ORDER BY rowid`` means the same on both.

Bulk writes go through ``new_ids`` (ids handed out before the rows are written, so a batch's submissions, rows
and audit entries need no answer from the database per file) and ``insert_rows`` (SQLite: ``executemany`` in the
calling process; PostgreSQL: one ``COPY ... FROM STDIN`` stream per table and batch).

``Database.read()`` is one snapshot transaction; ``Database.write()`` one write transaction, serialised across
every process and server that shares the database (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level
advisory lock). The store's rules that read and then write (which version is current, the next revision number,
duplicate files) rely on that.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pandas as pd

log = logging.getLogger(__name__)


class Connection:
    """A DB-API connection speaking the store's SQL."""

    def __init__(self, raw, qmark: bool = True):
        self.raw = raw
        self.qmark = qmark

    def _sql(self, sql: str) -> str:
        return sql if self.qmark else sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params=()):
        return self.raw.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, seq) -> None:
        seq = list(seq)
        if not seq:
            return
        if self.qmark:
            self.raw.executemany(sql, seq)
        else:
            with self.raw.cursor() as cur:
                cur.executemany(self._sql(sql), seq)

    def insert_rows(self, table: str, columns: tuple[str, ...], rows) -> None:
        """Append ``rows`` (tuples in ``columns`` order) to ``table``, in order."""
        self.executemany(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})", rows)

    def new_ids(self, table: str, n: int) -> list[int]:
        """``n`` unused, increasing ``id`` values of ``table`` for ``insert_rows``; inside a write transaction.
        SQLite (an ``INTEGER PRIMARY KEY`` without AUTOINCREMENT) hands out the largest id + 1 itself, and the
        write lock keeps anyone else from taking them before COMMIT."""
        top = self.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        return list(range(top + 1, top + 1 + n))

    def insert(self, sql: str, params=()) -> int:
        """Run one INSERT and return the new row's ``id``."""
        return self.execute(sql + " RETURNING id", params).fetchone()[0]

    def frame(self, sql: str, params=()) -> pd.DataFrame:
        """A query's result as a DataFrame (what ``pd.read_sql_query`` gives, on both backends)."""
        cur = self.execute(sql, params)
        columns = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=columns, coerce_float=True)


class Database:
    """What a backend provides. ``kind`` names its migrations folder and SQL dialect."""

    kind = ""

    def read(self):
        raise NotImplementedError

    def write(self):
        raise NotImplementedError

    def run_script(self, con: Connection, sql: str) -> None:
        """Run a migration script inside the caller's write transaction."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the data is, for messages (no password)."""
        raise NotImplementedError

    @contextmanager
    def _transaction(self, raw, begin: str, *after_begin: str):
        raw.execute(begin)
        for stmt in after_begin:
            raw.execute(stmt)
        try:
            yield
            raw.execute("COMMIT")
        except BaseException:
            try:
                raw.execute("ROLLBACK")
            except Exception:  # the connection itself failed: nothing to roll back on it (the cause is raised)
                log.warning("ROLLBACK failed; the connection is dropped", exc_info=True)
            raise


def bump_version(con: Connection, key: str = "version") -> None:
    """Move a change counter in ``meta`` inside the caller's write transaction: the one home of that SQL.
    ``version`` moves with every submission or target-table change, ``ledger_version`` with the ledger; every
    server polls these (``Store.version``, ``lib.ledger.version``) as its cache key."""
    con.execute("INSERT INTO meta(key, value) VALUES (?, '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)", (key,))
