"""The submission store: the raw files are the truth, the database is the index.

Backends (``lib.store.sqlite``, ``lib.store.postgres``): the embedded default is SQLite in the data folder
(``streamlit run app.py`` needs nothing else); ``LIVELIHOOD_DATABASE_URL=postgresql://...`` puts everything in one
PostgreSQL database that several app servers share. The schema is migrated on open (``lib.store.migrate``).

Layout of the data folder (SQLite)::

    templates/<单位>.xlsx
    submissions/<年度>/<月份>/<单位>/<received>-<sha12>.xlsx   accepted files, verbatim
    submissions/<年度>/<月份>/<单位>/<received>-<sha12>.json   who/when/which version is current
    store.sqlite                                                 index, audit, target tables, ledger (WAL)
    cache/rows-<year>-<generation>-<version>.arrow               derived snapshot of the current rows
    publications/<年度>/<月份>/r<修订>-<hash12>.json               published revisions, immutable (lib.publish)
    publications/targets/<sha256>.xlsx                           the target tables they were computed with

On PostgreSQL the raw files and their sidecars are in the ``files`` table (bytea, content-addressed by sha256) and
the publications only in their rows; the data folder holds only derived, per-server things (cache, demo workbooks).
The crash-safe file protocol (pending -> sync -> COMMIT -> rename; ``recover`` on open) is in ``lib.store.archive``.
Target tables: ``lib.store.tables`` (per year, versioned, in the database).

Which version is current: the one activated last (its ``activated_at``; ties, which a batch never makes, by the
larger sha256). A file's activation is its receipt, or the moment it was restored. One call that stores several
files (a CLI run, a .zip) gives them receipt times one microsecond apart in the order given (``lib.ingest``), so
the last file of a unit and month is current, on every server: writes are serialised by the database. Sending
again a file identical to a *replaced* version restores it (audited); one identical to the *current* version
changes nothing.

A data folder holding generated demo reports refuses real uploads until an administrator clears the demo
(``clear_demo``: one audited action; demo files and rows removed, database rebuilt).

CLI (``python -m lib.store --help``): ``ingest PATH...``, ``rebuild`` (keeps the ledger and target tables, which are
not derivable from the files), ``backup NEW_FOLDER``, ``restore ID``, ``history [--unit U] [--month YYYY-MM]`` (CSV)
and ``clear-demo``.
"""

from __future__ import annotations

from lib import config
from lib.store.core import (
    CACHE_DIR,
    DATABASE_URL_ENV,
    DB_NAME,
    DEMO_REFUSAL,
    DEMO_UPLOADER,
    KEPT_TABLES,
    STATE_CURRENT,
    STATE_REPLACED,
    DatabaseUnavailable,
    IngestOutcome,
    RebuildError,
    Store,
)
from lib.store.db import bump_version
from lib.store.publications import PUBLICATIONS_DIR

__all__ = ["CACHE_DIR", "DATABASE_URL_ENV", "DB_NAME", "DEMO_REFUSAL", "DEMO_UPLOADER", "DatabaseUnavailable", "KEPT_TABLES",
           "PUBLICATIONS_DIR", "STATE_CURRENT", "STATE_REPLACED", "IngestOutcome", "RebuildError", "Store",
           "bump_version", "config", "main", "open_store"]


def open_store(folder=None, url: str | None = None) -> Store:
    """The store of ``folder`` (default: LIVELIHOOD_DATA_DIR) on the backend ``url`` selects (default:
    LIVELIHOOD_DATABASE_URL; unset = SQLite in the folder)."""
    return Store(folder, url)


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.store``: the command line lives in lib.store.cli (it drives ingestion, above the store)."""
    from lib.store.cli import main as cli_main

    return cli_main(argv)
