"""The PostgreSQL backend (psycopg 3): several app servers share one database.

``LIVELIHOOD_DATABASE_URL=postgresql://user@host/db`` selects it. Everything every server must see lives in the
database: rows, audit, target tables, publications, the ledger, and the raw files themselves (``files``, bytea,
content-addressed by sha256; ``lib.store.archive.DatabaseArchive``). The data folder keeps only derived, per-server
things (the Arrow snapshot cache, the demo's workbooks).

Writes are serialised across servers by a transaction-level advisory lock, as ``BEGIN IMMEDIATE`` serialises them on
SQLite, so the store's read-then-write rules (the later received upload of a unit and month is current, revisions
are numbered without gaps, a duplicate file is recognised) hold across servers; a partial unique index keeps one
current version per unit and month even so. Reads are REPEATABLE READ snapshots. Connections are reused per
process (a small idle pool), never shared between threads at once.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from lib.store.db import Connection, Database

log = logging.getLogger(__name__)

WRITE_LOCK = 0x4C49_5645  # advisory lock key of the store's write transaction ("LIVE")
IDLE_CONNECTIONS = 8


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")


class PostgresConnection(Connection):
    """The store's SQL on a psycopg connection: bulk rows by ``COPY``, ids from the table's sequence."""

    def __init__(self, raw):
        super().__init__(raw, qmark=False)

    def insert_rows(self, table: str, columns: tuple[str, ...], rows) -> None:
        """One ``COPY`` stream: one round trip for the whole batch instead of one statement per row."""
        with self.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def new_ids(self, table: str, n: int) -> list[int]:
        if n <= 0:
            return []
        ids = self.execute("SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)",
                           (table, n)).fetchall()
        return sorted(row[0] for row in ids)


class PostgresDatabase(Database):
    kind = "postgres"

    def __init__(self, url: str):
        import psycopg  # only needed when selected

        self._psycopg = psycopg
        self.url = url
        self._idle: list = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def describe(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or "localhost"
        netloc = f"{parts.username + '@' if parts.username else ''}{host}{':' + str(parts.port) if parts.port else ''}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def _take(self):
        with self._lock:
            if self._pid != os.getpid():  # a forked child never uses its parent's sockets
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                raw = self._idle.pop()
                if not raw.closed and raw.info.transaction_status == self._psycopg.pq.TransactionStatus.IDLE:
                    return raw
        return self._psycopg.connect(self.url, autocommit=True)

    def _give_back(self, raw) -> None:
        with self._lock:
            if (not raw.closed and len(self._idle) < IDLE_CONNECTIONS and self._pid == os.getpid()
                    and raw.info.transaction_status == self._psycopg.pq.TransactionStatus.IDLE):
                self._idle.append(raw)
                return
        raw.close()

    @contextmanager
    def _session(self, begin: str, *after: str):
        raw = self._take()
        try:
            with self._transaction(raw, begin, *after):
                yield PostgresConnection(raw)
        except self._psycopg.OperationalError as exc:
            log.warning("PostgreSQL connection to %s failed: %s", self.describe(), exc)
            raw.close()  # a broken connection is not given back
            raise
        finally:
            self._give_back(raw)

    def read(self):
        """One REPEATABLE READ snapshot: every query inside sees the same committed state."""
        return self._session("BEGIN ISOLATION LEVEL REPEATABLE READ")

    def write(self):
        """One write transaction, serialised across every server by an advisory lock."""
        return self._session("BEGIN", f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    def run_script(self, con: Connection, sql: str) -> None:
        con.raw.execute(sql)  # no parameters: psycopg sends the whole script as one simple query

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()
