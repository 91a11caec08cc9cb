"""The submission store: raw files on disk are the truth, SQLite is the index.

Layout of the data folder::

    templates/<单位>.xlsx
    submissions/<年度>/<月份>/<单位>/<received>-<sha12>.xlsx   accepted files, verbatim
    submissions/<年度>/<月份>/<单位>/<received>-<sha12>.json   who/when/which version is current
    store.sqlite                                                 parsed rows (WAL)
    cache/rows-<year>-<generation>-<version>.arrow               derived snapshot of the current rows
    publications/<年度>/<月份>/r<修订>-<hash12>.json               published revisions, immutable (lib.publish)
    publications/targets/<sha256>.xlsx                           the target tables they were computed with

Target tables live in the database (``target_tables``: one row per year and version, the .xlsx bytes, sha256,
who and when; the current table of a year is its highest version). ``version()`` moves with every change. A store
without any table is seeded on open: from the folder's ``targets.xlsx`` of the old layout (with ``targets-history/``
as earlier versions) or else from the bundled ``data/targets.xlsx``; after that no code reads a folder's targets.xlsx.

Writing protocol (crash-safe): the .xlsx and .json are first written as
``*.pending`` files and made durable (fsync; one sync for a batch), then the database transaction commits, then
both are renamed to their final names. On open, ``recover()`` finishes
renames for committed submissions and deletes pending files that never
committed. So a final-named file exists exactly for each committed
submission, and ``rebuild()`` from the files reproduces the database, publications included
(a publication file is written before its row commits; ``lib.publish.verify`` recomputes them).

Which version is current: the one activated last (its ``activated_at``; ties, which a batch never makes, by the
larger sha256). A file's activation is its receipt, or the moment it was restored. One call that stores several
files (a CLI run, a .zip) gives them receipt times one microsecond apart in the order given, so the last file of
a unit and month is current. Sending again a file identical to a *replaced* version restores it (audited); one
identical to the *current* version changes nothing.

A data folder holding generated demo reports refuses real uploads until an administrator clears the demo
(``clear_demo``: one audited action; demo files and rows removed, database rebuilt).

CLI (``python -m lib.store --help``): ``ingest PATH...``, ``rebuild`` (keeps the ledger tables, which are not
derivable from the files), ``backup NEW_FOLDER``, ``restore ID``, ``history [--unit U] [--month YYYY-MM]`` (CSV)
and ``clear-demo``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sqlite3
import sys
import uuid
import zipfile
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from lib import config
from lib import schema as S
from lib.calendar import deadline
from lib.export import to_csv_bytes
from lib.findings import Finding
from lib.submission import HistoryContext, ValidationResult, add_history_warnings, display_name, validate, validate_many
from lib.targets import Targets, TargetTableError

STATE_CURRENT = "当前"
STATE_REPLACED = "已被替换"
DB_NAME = "store.sqlite"
PUBLICATIONS_DIR = "publications"  # one immutable file per published revision (lib.publish)
CACHE_DIR = "cache"  # derived snapshots, rebuilt from the database when missing
# Uploader name of generated demo files: the store is "demo" while any is present.
DEMO_UPLOADER = "示例数据"
DEMO_REFUSAL = ("本数据目录中是系统生成的示例数据。为免示例数字与真实报送混在一起，清除示例数据之前不接收真实报表。"
                "请管理员在“用户与审计”页点击“清除示例数据”（或运行 python -m lib.store clear-demo），一次清除后再上传。")


class RebuildError(Exception):
    """rebuild() could not index every stored file; the database was left as it was."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    unit TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    activated_at TEXT NOT NULL,
    uploader TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    n_rows INTEGER NOT NULL,
    findings TEXT NOT NULL,
    state TEXT NOT NULL,
    late INTEGER NOT NULL,
    targets_version TEXT NOT NULL,
    filler TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS submissions_period ON submissions(year, month, unit);
CREATE TABLE IF NOT EXISTS rows (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    indicator TEXT NOT NULL,
    county TEXT NOT NULL,
    value REAL,
    reported_state TEXT NOT NULL,
    progress TEXT NOT NULL,
    problems TEXT NOT NULL,
    plan TEXT NOT NULL,
    excel_row INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_submission ON rows(submission_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS publications (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    reason TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    as_of_time TEXT,
    targets_hash TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    path TEXT NOT NULL,
    document TEXT NOT NULL,
    UNIQUE(year, month, revision)
);
CREATE TABLE IF NOT EXISTS publication_versions (
    publication_id INTEGER NOT NULL REFERENCES publications(id),
    unit TEXT NOT NULL,
    month INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS publication_versions_pub ON publication_versions(publication_id);
CREATE TRIGGER IF NOT EXISTS publications_no_update BEFORE UPDATE ON publications
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS publications_no_delete BEFORE DELETE ON publications
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS publication_versions_no_update BEFORE UPDATE ON publication_versions
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS publication_versions_no_delete BEFORE DELETE ON publication_versions
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TABLE IF NOT EXISTS target_tables (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    stored_at TEXT NOT NULL,
    stored_by TEXT NOT NULL,
    UNIQUE(year, version)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""

# 问题督办台账 (lib/ledger.py). Written by people, not derivable from the raw files: rebuild() carries these
# tables over and backup() copies them. Submissions are referred to by sha256, which survives a rebuild (ids do not).
LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_items (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    project INTEGER NOT NULL,
    indicator TEXT NOT NULL DEFAULT '',
    county TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    source_detail TEXT NOT NULL DEFAULT '',
    raised_on TEXT NOT NULL,
    responsible TEXT NOT NULL,
    coordinating TEXT NOT NULL DEFAULT '',
    due TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    closure_requested_by TEXT NOT NULL DEFAULT '',
    closure_requested_at TEXT NOT NULL DEFAULT '',
    closed_on TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_items_key ON ledger_items(project, indicator, county, status);
CREATE TABLE IF NOT EXISTS ledger_reports (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES ledger_items(id),
    sha256 TEXT NOT NULL,
    unit TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    indicator TEXT NOT NULL,
    county TEXT NOT NULL,
    cell TEXT NOT NULL,
    text TEXT NOT NULL,
    similarity REAL,
    matched_text TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_reports_item ON ledger_reports(item_id);
CREATE INDEX IF NOT EXISTS ledger_reports_key ON ledger_reports(unit, year, month, indicator, county);
CREATE TABLE IF NOT EXISTS ledger_followups (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES ledger_items(id),
    on_date TEXT NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_followups_item ON ledger_followups(item_id);
CREATE TABLE IF NOT EXISTS ledger_photos (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES ledger_items(id),
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_photos_item ON ledger_photos(item_id);
CREATE TABLE IF NOT EXISTS ledger_seen (sha256 TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
"""
# Tables rebuild() copies from the old database (everything else is derived from the raw files; the target tables
# are uploaded by people and kept with their versions).
KEPT_TABLES = ("target_tables", "ledger_items", "ledger_reports", "ledger_followups", "ledger_photos", "ledger_seen")

ROW_COLUMN_NAMES = {
    "indicator": "指标编号", "county": "县市区", "value": "累计完成", "reported_state": "进展状态",
    "progress": "进展情况", "problems": "存在问题", "plan": "下步计划",
}


@dataclass
class IngestOutcome:
    result: ValidationResult
    submission_id: int | None = None
    duplicate_of: int | None = None
    superseded: int | None = None
    late: bool = False
    restored: bool = False  # an identical re-upload of a replaced version made it current again

    @property
    def stored(self) -> bool:
        return self.submission_id is not None and self.duplicate_of is None

    def summary(self) -> str:
        r = self.result
        if self.restored:
            return (f"{r.file_name}：与已被替换的第 {self.duplicate_of} 号报送完全相同，已恢复第 {self.duplicate_of} 号为 "
                    f"{r.unit} {r.period} 的当前版本（记入审计日志）。")
        if self.duplicate_of is not None:
            return f"{r.file_name}：与已存档的第 {self.duplicate_of} 号报送（当前版本）完全相同，未重复存档。"
        if self.submission_id is None:
            return f"{r.file_name}：未接收，{len(r.errors)} 个错误、{len(r.warnings)} 个提醒。"
        extra = "（逾期）" if self.late else ""
        replaced = f"，替换了第 {self.superseded} 号" if self.superseded else ""
        return f"{r.file_name}：已接收为第 {self.submission_id} 号 — {r.unit} {r.period}{extra}{replaced}，{len(r.warnings)} 个提醒。"


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def bump_version(con, key: str = "version") -> None:
    """Move a change counter in ``meta`` inside the caller's write transaction: the one home of that SQL.
    ``version`` moves with every submission or target-table change, ``ledger_version`` with the ledger."""
    con.execute("INSERT INTO meta(key, value) VALUES (?, '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", (key,))


_PARSED_TARGETS: dict[str, Targets] = {}  # sha256 -> parsed table (a table's bytes never change under its hash)


def parse_stored_targets(sha: str, data: bytes) -> Targets:
    """Parse a stored target table once per process (tables are a few hundred KB and parse in ~0.3 s)."""
    if sha not in _PARSED_TARGETS:
        from lib.targets import TargetTableError, parse_targets

        parsed, problems = parse_targets(bytes(data), source=f"目标表 {sha[:12]}")
        if problems:
            raise TargetTableError(problems)
        if len(_PARSED_TARGETS) > 16:
            _PARSED_TARGETS.pop(next(iter(_PARSED_TARGETS)))
        _PARSED_TARGETS[sha] = parsed
    return _PARSED_TARGETS[sha]


def _set_generation(con: sqlite3.Connection) -> None:
    """A random id per database file: with the version counter it names one state, even across rebuilds."""
    con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', ?)", (uuid.uuid4().hex,))


def _write_snapshot(frame: pd.DataFrame, path: Path) -> None:
    """Write a derived snapshot atomically and drop older ones of the same kind; failures only cost speed."""
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        frame.to_feather(tmp)
        os.replace(tmp, path)
        kind = path.name.split("-")[1]
        for old in path.parent.glob(f"rows-{kind}-*.arrow"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass


def _make_durable(paths: list[Path]) -> None:
    """Flush freshly written files to disk: one fsync each for a few, one system-wide sync for a batch."""
    if len(paths) > 8 and hasattr(os, "sync"):
        os.sync()  # Linux waits for the writeback to finish; far cheaper than an fsync per file
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _History:
    """The values each unit's months hold, for the history warnings, kept up to date in file order."""

    def __init__(self, year_values: list[tuple]):
        self.values: dict[str, dict[int, dict]] = {}
        for unit, month, code, county, value in year_values:
            self.values.setdefault(unit, {}).setdefault(month, {})[(code, county)] = value

    def previous(self, unit: str, month: int) -> dict[tuple[str, str], tuple[float | None, int]]:
        """The latest value before ``month`` of each row of ``unit`` (the rule Store.previous_values uses too)."""
        out = {}
        months = self.values.get(unit, {})
        for m in sorted(months):
            if m < month:
                out.update({key: (value, m) for key, value in months[m].items()})
        return out

    def context(self, unit: str, month: int) -> HistoryContext:
        """Before, after and the same month of ``unit``: what ``add_history_warnings`` compares with."""
        months = self.values.get(unit, {})
        following = {}
        for m in sorted(months, reverse=True):
            if m > month:
                following.update({key: (value, m) for key, value in months[m].items()})
        return HistoryContext(self.previous(unit, month), following, months.get(month, {}), frozenset(months))

    def add_warnings(self, result: ValidationResult, targets: Targets, today: date | None = None) -> None:
        if result.month is None or result.row_records is None:
            return
        add_history_warnings(result, targets, self.context(result.unit, result.month), today)
        if result.accepted:
            self.values.setdefault(result.unit, {})[result.month] = {(r[0], r[1]): r[2] for r in result.row_records}


def _replace_if_present(src: Path, dst: Path) -> None:
    """Rename; another process's recovery may have done it already."""
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        pass


class Store:
    """Submissions of one data folder. Safe for several processes at once."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else config.data_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.submissions_dir = self.folder / "submissions"
        self.submissions_dir.mkdir(exist_ok=True)
        self.db_path = self.folder / DB_NAME
        with closing(self._connect()) as con:
            con.executescript(SCHEMA + LEDGER_SCHEMA)
            _set_generation(con)
        self._seed_targets()
        self.recover()

    # --- connections -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=60000")
        return con

    @contextmanager
    def _write(self):
        """One IMMEDIATE transaction: writers queue, readers keep reading."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # --- target tables (one per year, versioned, in the database) ----------------------
    def _seed_targets(self) -> None:
        """A store without any target table gets one: today's layout's ``targets.xlsx`` of the data folder (with
        its ``targets-history/`` as earlier versions), else the bundled table. Runs once, under the write lock."""
        with closing(self._connect()) as con:
            if con.execute("SELECT 1 FROM target_tables LIMIT 1").fetchone():
                return
        legacy = self.folder / "targets.xlsx"
        sources = sorted((self.folder / "targets-history").glob("*.xlsx")) if legacy.exists() else []
        sources.append(legacy if legacy.exists() else config.BUNDLED_TARGETS)
        with self._write() as con:
            if con.execute("SELECT 1 FROM target_tables LIMIT 1").fetchone():
                return  # another process seeded first
            for path in sources:
                from lib.targets import parse_targets

                data = path.read_bytes()
                parsed, problems = parse_targets(data, source=str(path))
                if problems:
                    if path is sources[-1]:
                        raise TargetTableError(problems)
                    continue  # an unreadable old history copy is left on disk, not imported
                self._add_target_table(con, parsed.year, data, "系统", f"导入 {path.name}")

    def _add_target_table(self, con, year: int, data: bytes, who: str, why: str) -> int | None:
        """Store ``data`` as the next version of ``year``'s table (inside a write transaction); None if identical
        to the current one."""
        sha = hashlib.sha256(data).hexdigest()
        last = con.execute("SELECT version, sha256 FROM target_tables WHERE year=? ORDER BY version DESC LIMIT 1",
                           (year,)).fetchone()
        if last and last[1] == sha:
            return None
        version = (last[0] if last else 0) + 1
        con.execute("INSERT INTO target_tables(year, version, sha256, data, stored_at, stored_by) VALUES (?,?,?,?,?,?)",
                    (year, version, sha, data, datetime.now().isoformat(timespec="seconds"), who))
        bump_version(con)
        self.log(who, "更换目标表" if last else "新增目标表",
                 f"{year} 年度第 {version} 版（sha256 {sha[:12]}" + (f"，替换第 {last[0]} 版" if last else "") + f"）：{why}",
                 con)
        return version

    def target_years(self) -> list[int]:
        """Years with a stored target table, ascending."""
        with closing(self._connect()) as con:
            return [r[0] for r in con.execute("SELECT DISTINCT year FROM target_tables ORDER BY year")]

    def target_table(self, year: int) -> tuple[int, bytes] | None:
        """(version, xlsx bytes) of the current target table of ``year``, None if that year has none."""
        with closing(self._connect()) as con:
            row = con.execute("SELECT version, data FROM target_tables WHERE year=? ORDER BY version DESC LIMIT 1",
                              (int(year),)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def targets(self, year: int | None = None) -> Targets:
        """The current target table of ``year`` (None: the latest year stored)."""
        with closing(self._connect()) as con:
            if year is None:
                row = con.execute("SELECT sha256, data FROM target_tables ORDER BY year DESC, version DESC LIMIT 1").fetchone()
            else:
                row = con.execute("SELECT sha256, data FROM target_tables WHERE year=? ORDER BY version DESC LIMIT 1",
                                  (int(year),)).fetchone()
        if row is None:
            raise KeyError(f"没有 {year} 年度的目标表，请在“目标表”页上传该年度的目标表。")
        return parse_stored_targets(row[0], row[1])

    def target_history(self, year: int) -> pd.DataFrame:
        """Every stored version of ``year``'s table, oldest first: version, sha256, stored_at, stored_by, current."""
        with closing(self._connect()) as con:
            frame = pd.read_sql_query("SELECT version, sha256, stored_at, stored_by FROM target_tables WHERE year=? "
                                      "ORDER BY version", con, params=(int(year),))
        frame["current"] = frame["version"] == frame["version"].max()
        return frame

    # --- reading ---------------------------------------------------------------
    def version(self) -> str:
        """Changes whenever a submission or a target table is written, on every process sharing the database:
        a cache key for the dashboard (a database counter, no file dates)."""
        with closing(self._connect()) as con:
            key = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'version')").fetchall())
        return f"{key.get('generation', '')}:{key.get('version', 0)}"

    def is_empty(self) -> bool:
        """No submission stored yet (one indexed lookup: asked on every rerun)."""
        with closing(self._connect()) as con:
            return con.execute("SELECT 1 FROM submissions LIMIT 1").fetchone() is None

    def is_demo(self) -> bool:
        """True while the store holds generated demo submissions (derived from the files' sidecars)."""
        with closing(self._connect()) as con:
            return con.execute("SELECT 1 FROM submissions WHERE uploader=? LIMIT 1", (DEMO_UPLOADER,)).fetchone() is not None

    def has_real_reports(self) -> bool:
        """True once any submission not generated as demo is stored."""
        with closing(self._connect()) as con:
            return con.execute("SELECT 1 FROM submissions WHERE uploader<>? LIMIT 1", (DEMO_UPLOADER,)).fetchone() is not None

    def demo_periods(self) -> set[tuple[str, int]]:
        """(unit, month) of every stored demo submission (what a resumed demo build skips)."""
        with closing(self._connect()) as con:
            return set(con.execute("SELECT DISTINCT unit, month FROM submissions WHERE uploader=?", (DEMO_UPLOADER,)))

    def submissions(self) -> pd.DataFrame:
        """Every stored submission (history), newest first."""
        with closing(self._connect()) as con:
            frame = pd.read_sql_query(
                "SELECT id, unit, year, month, received_at, activated_at, uploader, file_name, sha256, path, n_rows, "
                "findings, state, late, targets_version, filler, phone FROM submissions ORDER BY id DESC", con)
        frame["late"] = frame["late"].astype(bool)
        return frame

    def current_rows(self, year: int | None = None) -> pd.DataFrame:
        """Rows of every current submission (of ``year`` if given): one row per (unit, month, indicator, county).

        Read from SQLite once per database state, then from a columnar snapshot
        (cache/rows-*.arrow, ~30 ms where the query takes ~0.8 s at 60,000 rows):
        a dashboard started on an existing store does not pay the query again.
        The snapshot is derived data: deleted or damaged, it is simply rebuilt.
        """
        where, params = "s.state = ?", [STATE_CURRENT]
        if year is not None:
            where, params = where + " AND s.year = ?", params + [year]
        with closing(self._connect()) as con:
            con.execute("BEGIN")  # one read snapshot: the key and the rows belong to the same state
            key = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'version')").fetchall())
            cached = self.folder / CACHE_DIR / f"rows-{year or 'all'}-{key.get('generation', '')}-{key.get('version', 0)}.arrow"
            try:
                return pd.read_feather(cached)
            except Exception:  # missing (the usual miss), or damaged by a crash: read the database
                pass
            # The few submissions and their many rows apart, joined here by position: fetching the
            # submission's columns once per row made Python objects for every one of them.
            subs = con.execute(f"SELECT s.id, s.unit, s.year, s.month, s.received_at, s.late FROM submissions s "
                               f"WHERE {where} ORDER BY s.id", params).fetchall()
            records = con.execute(
                "SELECT r.submission_id, r.indicator, r.county, r.value, r.reported_state, r.progress, r.problems, r.plan "
                f"FROM rows r WHERE r.submission_id IN (SELECT s.id FROM submissions s WHERE {where}) "
                "ORDER BY r.submission_id, r.rowid", params).fetchall()
            con.execute("COMMIT")
        frame = self._rows_frame(subs, records)
        if records:
            _write_snapshot(frame, cached)
        return frame

    @staticmethod
    def _rows_frame(subs: list[tuple], records: list[tuple]) -> pd.DataFrame:
        sub_columns = ["submission_id", "填报单位", "年度", "月份", "接收时间", "逾期"]
        row_columns = ["indicator", "county", "value", "reported_state", "progress", "problems", "plan"]
        if not records:
            # The dtypes a filled frame gets (pandas' string dtype for text), so that joins on an empty store work.
            frame = pd.DataFrame(columns=sub_columns + row_columns)
            for name in ("填报单位", "接收时间", *row_columns):
                if name != "value":
                    frame[name] = frame[name].astype("str")
        else:
            rows = list(zip(*records))
            ids = np.asarray(rows[0], dtype="int64")
            sub_ids = np.asarray([s[0] for s in subs], dtype="int64")
            at = np.searchsorted(sub_ids, ids)  # subs are ordered by id
            data = {"submission_id": ids}
            for i, name in enumerate(sub_columns[1:], 1):
                data[name] = np.asarray([s[i] for s in subs], dtype=object)[at]
            data.update({name: rows[i] for i, name in enumerate(row_columns, 1)})
            frame = pd.DataFrame(data)
        frame = frame.rename(columns=ROW_COLUMN_NAMES)
        for col in ("submission_id", "年度", "月份"):
            frame[col] = frame[col].astype("int64")
        frame["逾期"] = frame["逾期"].astype(bool)
        frame["累计完成"] = frame["累计完成"].astype("float64")
        return frame

    def rows_of(self, submission_ids) -> pd.DataFrame:
        """Rows of the given submissions, whatever their state: the same columns as ``current_rows``."""
        ids = sorted({int(i) for i in submission_ids})
        with closing(self._connect()) as con:
            con.execute("CREATE TEMP TABLE wanted(id INTEGER PRIMARY KEY)")
            con.executemany("INSERT INTO wanted VALUES (?)", [(i,) for i in ids])
            subs = con.execute("SELECT s.id, s.unit, s.year, s.month, s.received_at, s.late FROM submissions s "
                               "JOIN wanted w ON w.id = s.id ORDER BY s.id").fetchall()
            records = con.execute(
                "SELECT r.submission_id, r.indicator, r.county, r.value, r.reported_state, r.progress, r.problems, r.plan "
                "FROM rows r JOIN wanted w ON w.id = r.submission_id ORDER BY r.submission_id, r.rowid").fetchall()
        return self._rows_frame(subs, records)

    def previous_values(self, unit: str, year: int, month: int) -> dict[tuple[str, str], tuple[float | None, int]]:
        """Latest accepted value before ``month``: {(指标编号, 县市区): (累计完成, 月份)}."""
        return self.history_context(unit, year, month).previous

    def history_context(self, unit: str, year: int, month: int) -> HistoryContext:
        """The unit's other current months of ``year`` as ``add_history_warnings`` needs them (plain SQL: upload path)."""
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT s.unit, s.month, r.indicator, r.county, r.value FROM rows r JOIN submissions s "
                "ON s.id = r.submission_id WHERE s.state = ? AND s.unit = ? AND s.year = ?",
                (STATE_CURRENT, unit, year)).fetchall()
        return _History(rows).context(unit, month)

    def history(self, unit: str | None = None, year: int | None = None, month: int | None = None) -> pd.DataFrame:
        """Every stored version (of ``unit``, ``year``-``month`` if given), oldest first, with Chinese headings."""
        subs = self.submissions().sort_values("id")
        if unit:
            subs = subs[subs["unit"] == unit]
        if year:
            subs = subs[subs["year"] == year]
        if month:
            subs = subs[subs["month"] == month]
        return pd.DataFrame({
            "编号": subs["id"], "填报单位": subs["unit"],
            "月份": subs["year"].astype(str) + "-" + subs["month"].map("{:02d}".format),
            "状态": subs["state"], "逾期": subs["late"].map({True: "逾期", False: ""}),
            "接收时间": subs["received_at"], "生效时间": subs["activated_at"], "上传人": subs["uploader"],
            "原文件名": subs["file_name"], "行数": subs["n_rows"], "sha256": subs["sha256"],
        }).reset_index(drop=True)

    def current_version(self, unit: str, year: int, month: int) -> tuple[int, str] | None:
        """(id, original file name) of the current version of a unit and month."""
        with closing(self._connect()) as con:
            return con.execute("SELECT id, file_name FROM submissions WHERE unit=? AND year=? AND month=? AND state=?",
                               (unit, year, month, STATE_CURRENT)).fetchone()

    def years(self) -> list[int]:
        with closing(self._connect()) as con:
            return [r[0] for r in con.execute("SELECT DISTINCT year FROM submissions ORDER BY year")]

    def audit_log(self) -> pd.DataFrame:
        with closing(self._connect()) as con:
            return pd.read_sql_query("SELECT at AS 时间, who AS 操作人, action AS 操作, detail AS 详情 FROM audit ORDER BY id DESC", con)

    # --- writing ---------------------------------------------------------------
    def log(self, who: str, action: str, detail: str, con: sqlite3.Connection | None = None) -> None:
        stmt = "INSERT INTO audit(at, who, action, detail) VALUES (?,?,?,?)"
        args = (datetime.now().isoformat(timespec="seconds"), who, action, detail)
        if con is not None:
            con.execute(stmt, args)
        else:
            with self._write() as c:
                c.execute(stmt, args)

    def ingest(self, data: bytes, file_name: str, uploader: str = "系统", targets: Targets | None = None,
               received_at: datetime | None = None, today: date | None = None,
               result: ValidationResult | None = None) -> IngestOutcome:
        """Validate and, if there is no 错误, store one file (all or nothing)."""
        targets = targets or self.targets()
        received_at = received_at or datetime.now()
        if result is None:
            result = validate(data, file_name, targets, self, today=today or received_at.date())
        return self._store_batch([(data, result, received_at)], uploader, targets)[0]

    def ingest_many(self, files: list[tuple[str, bytes]], uploader: str = "系统", targets: Targets | None = None,
                    received_at: datetime | None = None, today: date | None = None, batch: int = 200,
                    progress=None, workers: int = 1) -> list[IngestOutcome]:
        """Validate and store many files; each is all-or-nothing, and files commit together in batches.

        The order of ``files`` is the order of receipt: file i is received at ``received_at`` + i µs, so of two
        versions of one unit and month the later one in the list is current. The same guarantees as ``ingest``:
        a batch's pending files are made durable (one sync for the batch) before its transaction commits, and
        renamed after. Parsing and every per-file rule run on ``workers`` processes; the warnings that compare
        with other months are then added in file order, against the stored history plus the files accepted
        before in the same call.
        """
        targets = targets or self.targets()
        received_at = received_at or datetime.now()
        today = today or received_at.date()
        history = _History(self._year_values(targets.year))
        outcomes: list[IngestOutcome] = []
        checked: list[tuple[bytes, ValidationResult, datetime]] = []
        results = validate_many(files, targets, today, workers=workers)
        for i, ((_name, data), result) in enumerate(zip(files, results)):
            history.add_warnings(result, targets, today)
            checked.append((data, result, received_at + timedelta(microseconds=i)))
            if len(checked) == batch or len(outcomes) + len(checked) == len(files):
                outcomes += self._store_batch(checked, uploader, targets)
                checked = []
                if progress:
                    progress(len(outcomes) / len(files))
        return outcomes

    def _year_values(self, year: int) -> list[tuple]:
        """(unit, month, 指标编号, 县市区, 累计完成) of every current submission of ``year``."""
        with closing(self._connect()) as con:
            return con.execute(
                "SELECT s.unit, s.month, r.indicator, r.county, r.value FROM rows r "
                "JOIN submissions s ON s.id = r.submission_id WHERE s.state = ? AND s.year = ?",
                (STATE_CURRENT, year)).fetchall()

    def _store_batch(self, checked: list[tuple[bytes, ValidationResult, datetime]], uploader: str,
                     targets: Targets) -> list[IngestOutcome]:
        outcomes: list[IngestOutcome | None] = [None] * len(checked)
        pending = []
        refuse_real = uploader != DEMO_UPLOADER and self.is_demo()
        for i, (data, result, received_at) in enumerate(checked):
            if refuse_real and result.accepted:
                result.findings.append(Finding(S.LEVEL_ERROR, DEMO_REFUSAL, result.file_name, code="store.demo_present"))
            if not result.accepted:
                outcomes[i] = IngestOutcome(result)
            else:
                pending.append((i, data, result, hashlib.sha256(data).hexdigest(), received_at))
        finals, written = [], []
        with self._write() as con:
            for i, data, result, sha, received_at in pending:
                existing = con.execute("SELECT id, state, unit, year, month FROM submissions WHERE sha256=?", (sha,)).fetchone()
                if existing and existing[1] == STATE_CURRENT:
                    self.log(uploader, "重复上传", f"{result.file_name} 与当前版本第 {existing[0]} 号相同，未重复存档", con)
                    outcomes[i] = IngestOutcome(result, submission_id=existing[0], duplicate_of=existing[0])
                    continue
                if existing:
                    # Sending a replaced version again means "this one": make it current again, audited.
                    self._restore(con, existing[0], uploader, received_at, f"重新上传了相同的文件 {result.file_name}")
                    outcomes[i] = IngestOutcome(result, submission_id=existing[0], duplicate_of=existing[0], restored=True)
                    continue
                late = received_at > deadline(result.year, result.month, targets.deadline_day)
                folder = self.submissions_dir / str(result.year) / f"{result.month:02d}" / result.unit
                rel = folder.relative_to(self.folder) / f"{received_at:%Y%m%dT%H%M%S%f}-{sha[:12]}.xlsx"
                sidecar = {
                    "unit": result.unit, "year": result.year, "month": result.month,
                    "received_at": received_at.isoformat(), "activated_at": received_at.isoformat(),
                    "uploader": uploader, "file_name": result.file_name, "sha256": sha,
                    "targets_version": result.targets_version, "filler": result.filler, "phone": result.phone,
                    # Findings depend on the history at upload time: keep them with the file.
                    "findings": result.findings_json(),
                }
                folder.mkdir(parents=True, exist_ok=True)
                final = self.folder / rel
                for path, body in ((final.with_suffix(".xlsx.pending"), data),
                                   (final.with_suffix(".json.pending"), json.dumps(sidecar, ensure_ascii=False).encode())):
                    path.write_bytes(body)
                    written.append(path)
                finals.append(final)
                sub_id, superseded = self._insert(con, sidecar, str(rel), result.row_records, late)
                self.log(uploader, "上传接收", f"{result.file_name} → 第 {sub_id} 号（{result.unit} {result.period}）", con)
                outcomes[i] = IngestOutcome(result, submission_id=sub_id, superseded=superseded, late=late)
            _make_durable(written)  # before COMMIT: a committed row always has its file on disk
        for final in finals:
            self._finish(final)
        rejected = [o.result for o in outcomes if o.submission_id is None]
        if rejected:
            with self._write() as con:
                for result in rejected:
                    self.log(uploader, "上传被拒", f"{result.file_name}：" + "；".join(f.message for f in result.errors[:5]), con)
        return outcomes

    def _insert(self, con, meta: dict, rel: str, rows: list[tuple], late: bool) -> tuple[int, int | None]:
        """Insert one submission and its rows (ValidationResult.row_records); supersede the unit-month's current one."""
        # The current version of a unit-month is the latest activated (ties: the larger sha256), whatever
        # order processes commit in; rebuild() applies the same rule, so files alone give the same state.
        prev = con.execute(
            "SELECT id, activated_at, sha256 FROM submissions WHERE unit=? AND year=? AND month=? AND state=?",
            (meta["unit"], meta["year"], meta["month"], STATE_CURRENT)).fetchone()
        newer = prev is None or (meta["activated_at"], meta["sha256"]) > (prev[1], prev[2])
        cur = con.execute(
            "INSERT INTO submissions(unit, year, month, received_at, activated_at, uploader, file_name, sha256, path, n_rows, "
            "findings, state, late, targets_version, filler, phone) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (meta["unit"], meta["year"], meta["month"], meta["received_at"], meta["activated_at"], meta["uploader"],
             meta["file_name"], meta["sha256"], rel, len(rows), meta["findings"],
             STATE_CURRENT if newer else STATE_REPLACED, int(late), meta["targets_version"], meta["filler"], meta["phone"]))
        sub_id = cur.lastrowid
        if prev and newer:
            con.execute("UPDATE submissions SET state=? WHERE id=?", (STATE_REPLACED, prev[0]))
        con.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?,?,?)", [(sub_id, *row) for row in rows])
        bump_version(con)
        return sub_id, (prev[0] if prev and newer else None)

    @staticmethod
    def _finish(final: Path) -> None:
        for suffix in (".xlsx", ".json"):
            _replace_if_present(final.with_suffix(suffix + ".pending"), final.with_suffix(suffix))

    def recover(self) -> None:
        """Finish or undo writes a crash interrupted (see module docstring).

        Runs under the write lock: pending files are only ever written inside a
        writer's transaction, so any pending file seen here is either committed
        (finish the rename) or abandoned by a dead process (delete it).
        """
        if not any(self.submissions_dir.rglob("*.pending")):
            return
        with self._write() as con:
            committed = {row[0] for row in con.execute("SELECT path FROM submissions")}
            for pending in list(self.submissions_dir.rglob("*.pending")):
                base = pending.name.split(".")[0]
                rel = str((pending.parent / f"{base}.xlsx").relative_to(self.folder))
                if rel in committed:
                    _replace_if_present(pending, pending.with_name(pending.name[: -len(".pending")]))
                    continue
                pending.unlink(missing_ok=True)
                # Remove the unit/month/year folders the aborted write created, if now empty.
                for folder in (pending.parent, pending.parent.parent, pending.parent.parent.parent):
                    if folder != self.submissions_dir and folder.exists() and not any(folder.iterdir()):
                        folder.rmdir()

    def replace_targets(self, data: bytes, who: str) -> list:
        """Store a target table as the next version of its own year (a new year is simply added) if it validates.
        Audited either way. Returns the problems (empty when stored, or when identical to the current version)."""
        from lib.targets import parse_targets

        parsed, problems = parse_targets(data, source="upload")
        if problems:
            self.log(who, "目标表被拒", f"{len(problems)} 个问题：" + "；".join(str(p) for p in problems[:3]))
            return problems
        with self._write() as con:
            stored = self._add_target_table(con, parsed.year, data, who, f"{len(parsed.indicators)} 项指标")
            if stored is None:
                self.log(who, "目标表未变", f"上传的 {parsed.year} 年度目标表与当前版本相同，未另存新版本", con)
        return []

    def restore(self, submission_id: int, who: str = "系统") -> None:
        """Make an earlier version the current one for its unit and month (audited)."""
        with self._write() as con:
            self._restore(con, submission_id, who, datetime.now())

    def _restore(self, con, submission_id: int, who: str, when: datetime, why: str = "") -> None:
        """Inside a write transaction: activate ``submission_id`` at ``when`` (or just after the current version's
        activation, if that is later), on disk (its sidecar) and in the database, with an audit entry."""
        row = con.execute("SELECT unit, year, month, path FROM submissions WHERE id=?", (submission_id,)).fetchone()
        if row is None:
            raise KeyError(f"没有第 {submission_id} 号报送")
        unit, year, month, rel = row
        latest = con.execute("SELECT MAX(activated_at) FROM submissions WHERE unit=? AND year=? AND month=?",
                             (unit, year, month)).fetchone()[0]
        activated = when.isoformat()
        if latest and activated <= latest:
            activated = (datetime.fromisoformat(latest) + timedelta(microseconds=1)).isoformat()
        sidecar_path = (self.folder / rel).with_suffix(".json")
        if not sidecar_path.exists():  # stored earlier in this same transaction: still pending
            sidecar_path = sidecar_path.with_suffix(".json.pending")
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        sidecar["activated_at"] = activated
        tmp = sidecar_path.with_name(sidecar_path.name + ".tmp")
        _fsync_write(tmp, json.dumps(sidecar, ensure_ascii=False).encode())
        con.execute("UPDATE submissions SET state=? WHERE unit=? AND year=? AND month=?", (STATE_REPLACED, unit, year, month))
        con.execute("UPDATE submissions SET state=?, activated_at=? WHERE id=?", (STATE_CURRENT, activated, submission_id))
        bump_version(con)
        self.log(who, "恢复版本", f"第 {submission_id} 号（{unit} {year}-{month:02d}）恢复为当前版本" + (f"：{why}" if why else ""), con)
        # Rename inside the transaction: a crash before COMMIT leaves the new
        # activation time on disk with the old DB state; rebuild then prefers
        # the restored version, which is what the user asked for.
        os.replace(tmp, sidecar_path)

    # --- publications (computed and checked by lib.publish; stored here) -------------
    def publications_version(self) -> str:
        """Changes whenever a revision is published or the database is rebuilt: a cache key for the revision
        lists (publishing leaves ``version()`` alone, the live figures do not change). One tiny query."""
        with closing(self._connect()) as con:
            n, last, generation = con.execute(
                "SELECT (SELECT COUNT(*) FROM publications), (SELECT MAX(id) FROM publications), "
                "(SELECT value FROM meta WHERE key='generation')").fetchone()
        return f"{generation}:{n}:{last}"

    def publications(self, year: int | None = None, month: int | None = None) -> pd.DataFrame:
        """Every published revision (without its document), oldest first."""
        where, params = [], []
        for column, value in (("year", year), ("month", month)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with closing(self._connect()) as con:
            frame = pd.read_sql_query(
                "SELECT id, year, month, revision, reason, published_at, published_by, as_of_time, targets_hash, "
                f"content_hash, path FROM publications {clause} ORDER BY year, month, revision", con, params=params)
        frame["as_of_time"] = frame["as_of_time"].astype(object).where(frame["as_of_time"].notna(), None)
        return frame

    def publication_record(self, publication_id: int) -> tuple[str, list[tuple[str, int, str]]]:
        """(document, [(unit, month, sha256)]) of one stored revision, as the database holds them."""
        with closing(self._connect()) as con:
            con.execute("BEGIN")
            row = con.execute("SELECT document FROM publications WHERE id = ?", (publication_id,)).fetchone()
            versions = con.execute("SELECT unit, month, sha256 FROM publication_versions WHERE publication_id = ? "
                                   "ORDER BY rowid", (publication_id,)).fetchall()
            con.execute("COMMIT")
        if row is None:
            raise KeyError(f"没有编号为 {publication_id} 的发布记录")
        return row[0], versions

    def publication_versions(self, publication_id: int) -> list[tuple[str, int, str]]:
        """[(unit, month, sha256)] a stored revision froze (without reading its document)."""
        with closing(self._connect()) as con:
            return con.execute("SELECT unit, month, sha256 FROM publication_versions WHERE publication_id = ? "
                               "ORDER BY rowid", (publication_id,)).fetchall()

    def add_publication(self, make_document, who: str) -> tuple[int, str]:
        """Store the next revision of a month, made by ``make_document(revision) -> (meta, versions, document)``.

        Runs under the write lock, so the revision number is the next free one. The document (the exact bytes the
        content hash is taken over) is written to ``publications/<年>/<月>/r<修订>-<hash12>.json`` and made durable
        before the database commits; ``rebuild()`` reads these files back. Returns (id, relative path).
        """
        with self._write() as con:
            def next_revision(year: int, month: int) -> int:
                row = con.execute("SELECT MAX(revision) FROM publications WHERE year=? AND month=?", (year, month)).fetchone()
                return 0 if row[0] is None else row[0] + 1
            meta, versions, document = make_document(next_revision)
            folder = self.folder / PUBLICATIONS_DIR / str(meta["year"]) / f"{meta['month']:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            content_hash = hashlib.sha256(document).hexdigest()
            path = folder / f"r{meta['revision']}-{content_hash[:12]}.json"
            tmp = path.with_suffix(".json.tmp")
            _fsync_write(tmp, document)
            os.replace(tmp, path)
            try:
                pub_id = self._insert_publication(con, meta, versions, document, str(path.relative_to(self.folder)))
                self.log(who, "发布", f"{meta['year']} 年 {meta['month']} 月 修订 {meta['revision']}"
                         f"（内容哈希 {content_hash[:12]}）" + (f"：{meta['reason']}" if meta["reason"] else ""), con)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        return pub_id, str(path.relative_to(self.folder))

    @staticmethod
    def _insert_publication(con, meta: dict, versions: list[dict], document: bytes, rel: str) -> int:
        cur = con.execute(
            "INSERT INTO publications(year, month, revision, reason, published_at, published_by, as_of_time, "
            "targets_hash, content_hash, path, document) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (meta["year"], meta["month"], meta["revision"], meta["reason"], meta["published_at"], meta["published_by"],
             meta["as_of_time"], meta["targets_hash"], hashlib.sha256(document).hexdigest(), rel, document.decode("utf-8")))
        con.executemany("INSERT INTO publication_versions(publication_id, unit, month, sha256) VALUES (?,?,?,?)",
                        [(cur.lastrowid, v["unit"], v["month"], v["sha256"]) for v in versions])
        return cur.lastrowid

    def _restore_publications(self, con) -> int:
        """Rebuild: every publication file back into the database, as it is on disk (``lib.publish.verify`` checks it)."""
        paths = sorted((self.folder / PUBLICATIONS_DIR).glob("*/*/r*.json"))
        for path in paths:
            document = path.read_bytes()
            doc = json.loads(document)
            self._insert_publication(con, doc["meta"], doc["versions"], document, str(path.relative_to(self.folder)))
        return len(paths)

    def rebuild(self) -> int:
        """Recreate the database from the raw files alone. Returns the number of submissions.

        Every stored file must give its rows again, read with the current target table of its own year; if any
        does not (no table for its year, a file was damaged), RebuildError names them and the database is left
        as it was. Target tables, like the ledger, are carried over from the old database.
        """
        tables = {year: self.targets(year) for year in self.target_years()}
        tmp_db = self.folder / (DB_NAME + ".rebuild")
        for suffix in ("", "-wal", "-shm"):
            Path(str(tmp_db) + suffix).unlink(missing_ok=True)
        entries = []
        for sidecar_path in sorted(self.submissions_dir.rglob("*.json")):
            xlsx = sidecar_path.with_suffix(".xlsx")
            if not xlsx.exists():
                continue
            entries.append((json.loads(sidecar_path.read_text(encoding="utf-8")), xlsx))
        entries.sort(key=lambda e: (e[0]["received_at"], e[0]["sha256"]))
        audit = self.audit_log() if self.db_path.exists() else None
        con = sqlite3.connect(tmp_db, isolation_level=None)
        con.executescript(SCHEMA + LEDGER_SCHEMA)
        _set_generation(con)
        kept = self.db_path.exists()
        if kept:  # the office's own records (ledger) are not in the raw files: carry them over
            con.execute("ATTACH DATABASE ? AS old", (str(self.db_path),))
            present = {row[0] for row in con.execute("SELECT name FROM old.sqlite_master WHERE type='table'")}
        con.execute("BEGIN")
        for table in KEPT_TABLES if kept else ():
            if table in present:  # a database from before the ledger existed has none
                columns = [r[1] for r in con.execute(f"PRAGMA old.table_info({table})")]
                names = ", ".join(c for c in columns if c in {r[1] for r in con.execute(f"PRAGMA main.table_info({table})")})
                con.execute(f"INSERT INTO main.{table}({names}) SELECT {names} FROM old.{table}")
        unreadable = []
        for meta, xlsx in entries:
            data = xlsx.read_bytes()
            received = datetime.fromisoformat(meta["received_at"])
            targets = tables.get(meta["year"])
            if targets is None:
                unreadable.append(f"{xlsx.relative_to(self.folder)}（{meta['file_name']}）：没有 {meta['year']} 年度的目标表")
                continue
            result = validate(data, meta["file_name"], targets, None, today=received.date())
            if not result.row_records:
                reason = result.errors[0].message if result.errors else "没有可读的数据行"
                unreadable.append(f"{xlsx.relative_to(self.folder)}（{meta['file_name']}）：{reason}")
            late = received > deadline(meta["year"], meta["month"], targets.deadline_day)
            meta.setdefault("findings", result.findings_json())
            self._insert(con, meta, str(xlsx.relative_to(self.folder)), result.row_records or [], late)
        if unreadable:
            con.execute("ROLLBACK")
            con.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(tmp_db) + suffix).unlink(missing_ok=True)
            raise RebuildError(f"{len(entries)} 份存档中有 {len(unreadable)} 份无法按其年度的现行目标表读出数据，"
                               "数据库未改动：\n" + "\n".join(unreadable[:20]) +
                               ("\n…" if len(unreadable) > 20 else "") +
                               "\n请在“目标表”页上传或恢复对应年度的目标表，或检查上列文件是否损坏。")
        # The current version of each unit-month is the most recently activated one.
        con.execute(f"UPDATE submissions SET state='{STATE_REPLACED}'")
        con.execute(
            f"UPDATE submissions SET state='{STATE_CURRENT}' WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER "
            "(PARTITION BY unit, year, month ORDER BY activated_at DESC, sha256 DESC) AS n FROM submissions) WHERE n = 1)")
        if audit is not None and len(audit):
            con.executemany("INSERT INTO audit(at, who, action, detail) VALUES (?,?,?,?)",
                            audit.iloc[::-1].itertuples(index=False, name=None))
        self._restore_publications(con)  # published revisions survive; lib.publish.verify recomputes them
        con.execute("COMMIT")
        if kept:
            con.execute("DETACH DATABASE old")
        con.close()
        for suffix in ("-wal", "-shm"):
            Path(str(self.db_path) + suffix).unlink(missing_ok=True)
        os.replace(tmp_db, self.db_path)
        self.log("系统", "重建索引", f"由原始文件重建，共 {len(entries)} 份报送")
        return len(entries)

    def backup(self, dest: str | Path) -> Path:
        """Copy the whole data folder to ``dest`` (a new folder) while the app may keep running.

        The database goes through SQLite's online backup (a consistent copy of every table: submissions' index,
        audit log, the ledger and its photos); the raw files, the target table and its history are copied as
        they are (pending files of an unfinished write and the derived cache are left out).
        ``LIVELIHOOD_DATA_DIR=dest`` opens the copy.
        """
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise FileExistsError(f"备份目标 {dest} 已存在且不为空，请换一个新文件夹。")
        dest.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as src, closing(sqlite3.connect(dest / DB_NAME)) as dst:
            src.backup(dst)
        skip = shutil.ignore_patterns("*.pending", "*.tmp", "*.rebuild*")
        for path in self.folder.iterdir():  # raw files, publications, the target table and its history
            if path.name.startswith(DB_NAME) or path.name == CACHE_DIR or path.resolve() == dest.resolve():
                continue  # the database is copied above; the cache is derived
            if path.is_dir():
                shutil.copytree(path, dest / path.name, ignore=skip)
            elif not skip(str(self.folder), [path.name]):
                shutil.copy2(path, dest / path.name)
        self.log("系统", "备份", f"数据文件夹已备份到 {dest}")
        return dest

    def snapshot(self) -> dict:
        """Comparable state: submissions and rows without volatile ids (for tests)."""
        subs = self.submissions().drop(columns=["id"]).sort_values(["received_at", "sha256"]).reset_index(drop=True)
        rows = self.current_rows().drop(columns=["submission_id"]).sort_values(
            ["填报单位", "月份", "指标编号", "县市区"]).reset_index(drop=True)
        return {"submissions": subs, "rows": rows}


# --- batch path ------------------------------------------------------------------

def expand_paths(paths: list[str | Path]) -> list[tuple[str, bytes]]:
    """Files, folders (recursively) and .zip archives of workbooks -> (name, bytes), in the order of receipt:
    the paths as given, a folder's files by modification time (then name), a .zip's entries in archive order."""
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            files = [p for p in path.rglob("*") if p.is_file()]
            out += expand_paths(sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p))))
        elif path.suffix.lower() == ".zip":
            out += read_zip_of_workbooks(path.read_bytes(), path.name)
        else:
            out.append((path.name, path.read_bytes()))
    return out


def read_zip_of_workbooks(data: bytes, label: str = "") -> list[tuple[str, bytes]]:
    """The .xlsx files inside an uploaded .zip, with size caps."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX")]
        if len(infos) > 500:
            raise ValueError(f"{label} 中文件过多（{len(infos)} 个）")
        for info in infos:
            # Read at most one byte over the cap: validate() then names the size.
            with zf.open(info) as handle:
                out.append((display_name(info.filename), handle.read(config.MAX_UPLOAD_BYTES + 1)))
    return out


def current_summary(store: Store, outcomes: list[IngestOutcome]) -> list[str]:
    """One line per unit and month the outcomes touched: which file is its current version now."""
    lines = []
    for unit, year, month in dict.fromkeys((o.result.unit, o.result.year, o.result.month)
                                           for o in outcomes if o.submission_id is not None):
        current = store.current_version(unit, year, month)
        if current:
            lines.append(f"{unit} {year}-{month:02d}：当前版本为第 {current[0]} 号（{current[1]}）")
    return lines


HELP = """批量导入、版本历史与恢复、重建。

接收顺序：命令行上的文件按给出的顺序；文件夹内的文件按修改时间（相同时按文件名）；.zip 内按压缩包中的顺序。
同一单位同一月份有多个版本时，排在最后的为当前版本；结束时列出每个单位、月份的当前版本。
再次导入与某个已被替换版本完全相同的文件，会把该版本恢复为当前版本（记入审计日志）。"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="批量导入报表（文件、文件夹或 .zip；按给出的顺序接收，后者为当前版本）",
                            description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    ingest.add_argument("paths", nargs="+", help="文件、文件夹（按修改时间排序）或 .zip（按包内顺序）")
    ingest.add_argument("--uploader", default="命令行")
    ingest.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="校验进程数（默认：全部 CPU 核）")
    sub.add_parser("rebuild", help="由原始文件重建数据库（督办台账等人工记录保留；有文件读不出数据时报错，数据库不变，退出码 1）")
    backup = sub.add_parser("backup", help="把整个数据文件夹（含数据库、督办台账、原始报表）备份到一个新文件夹")
    backup.add_argument("dest")
    restore = sub.add_parser("restore", help="把第 ID 号报送恢复为其单位、月份的当前版本（记入审计日志）")
    restore.add_argument("id", type=int)
    restore.add_argument("--who", default="命令行")
    history = sub.add_parser("history", help="报送版本历史（CSV，UTF-8 BOM，输出到标准输出）")
    history.add_argument("--unit", help="只列该填报单位")
    history.add_argument("--month", help="只列该月份，格式 YYYY-MM")
    clear = sub.add_parser("clear-demo", help="清除示例数据（示例文件与数据行），重建数据库；记入审计日志")
    clear.add_argument("--who", default="命令行")
    args = parser.parse_args(argv)
    store = Store()
    if args.command == "rebuild":
        try:
            print(f"已由原始文件重建：{store.rebuild()} 份报送")
        except RebuildError as exc:
            print(f"重建失败：{exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "restore":
        try:
            store.restore(args.id, who=args.who)
        except KeyError:
            print(f"没有第 {args.id} 号报送。可用 python -m lib.store history 查看编号。", file=sys.stderr)
            return 1
        row = store.history().set_index("编号").loc[args.id]
        print(f"已恢复第 {args.id} 号（{row['填报单位']} {row['月份']}，{row['原文件名']}）为当前版本。")
        return 0
    if args.command == "history":
        year = month = None
        if args.month:
            try:
                year, month = (int(x) for x in args.month.split("-"))
                assert 1 <= month <= 12
            except (ValueError, AssertionError):
                parser.error(f"--month 应为 YYYY-MM，例如 2024-03，收到“{args.month}”")
        frame = store.history(unit=args.unit, year=year, month=month)
        sys.stdout.buffer.write(to_csv_bytes(frame))
        sys.stdout.flush()
        return 0
    if args.command == "clear-demo":
        from lib.demo import DemoBusy, clear_demo
        try:
            n = clear_demo(store, who=args.who)
        except (DemoBusy, RebuildError) as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"已清除 {n} 份示例报送，数据库已重建。")
        return 0
    if args.command == "backup":
        try:
            print(f"已备份到 {store.backup(args.dest)}")
        except FileExistsError as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    targets = store.targets()
    files = expand_paths(args.paths)

    def bar(share: float) -> None:
        print(f"\r[{'#' * int(30 * share):<30}] {share:.0%}", end="", file=sys.stderr, flush=True)
    outcomes = store.ingest_many(files, uploader=args.uploader, targets=targets, progress=bar, batch=50,
                                 workers=args.workers)
    print(file=sys.stderr)
    rejected = 0
    for outcome in outcomes:
        print(outcome.summary())
        for finding in outcome.result.findings:
            print(f"    {finding}")
        rejected += outcome.submission_id is None
    current = current_summary(store, outcomes)
    if current:
        print("\n当前版本：")
        for line in current:
            print(f"  {line}")
    print(f"\n共 {len(files)} 个文件，接收 {len(files) - rejected} 个，退回 {rejected} 个。", file=sys.stderr)
    return 1 if rejected else 0


if __name__ == "__main__":
    raise SystemExit(main())
