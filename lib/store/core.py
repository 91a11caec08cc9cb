"""The submission store: one ``Store`` over a database backend and an archive of the verbatim files.

The backend is one module (``lib.store.sqlite`` or ``lib.store.postgres``, chosen by ``LIVELIHOOD_DATABASE_URL``),
the verbatim files one more (``lib.store.archive``), the schema is migrated on open (``lib.store.migrate``). See
``lib/store/__init__.py`` for the layout of the data folder and the rules of which version is current.
Ingestion (validation, history warnings, batching) is above the store, in ``lib.ingest``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lib import config
from lib import schema as S
from lib.calendar import deadline
from lib.findings import finding, message
from lib.store.archive import DatabaseArchive, FileArchive, finish_pending
from lib.store.db import Connection, bump_version
from lib.store.history import History
from lib.store.migrate import migrate
from lib.store.postgres import PostgresDatabase, is_postgres_url
from lib.store.publications import Publications, publications_version_of
from lib.store.sqlite import SqliteDatabase
from lib.store.tables import TargetTables
from lib.submission import HistoryContext, ValidationResult, validate
from lib.targets import Targets

log = logging.getLogger(__name__)

STATE_CURRENT = "当前"
STATE_REPLACED = "已被替换"
DB_NAME = "store.sqlite"
DATABASE_URL_ENV = "LIVELIHOOD_DATABASE_URL"
CACHE_DIR = "cache"  # derived snapshots, rebuilt from the database when missing
# Uploader name of generated demo files: the store is "demo" while any is present.
DEMO_UPLOADER = "示例数据"
DEMO_REFUSAL = message("store.demo_present")  # the upload page shows it before anyone uploads
# Tables a SQLite rebuild copies from the old database (everything else is derived from the raw files): the
# target tables and the ledger are written by people.
KEPT_TABLES = ("target_tables", "ledger_items", "ledger_reports", "ledger_followups", "ledger_photos", "ledger_seen")
ROW_COLUMN_NAMES = {
    "indicator": "指标编号", "county": "县市区", "value": "累计完成", "reported_state": "进展状态",
    "progress": "进展情况", "problems": "存在问题", "plan": "下步计划",
}
SUBMISSION_COLUMNS = ("unit, year, month, received_at, activated_at, uploader, file_name, sha256, path, n_rows, "
                      "findings, state, late, targets_version, filler, phone")
SUBMISSION_FIELDS = tuple(name.strip() for name in SUBMISSION_COLUMNS.split(","))
ROW_FIELDS = ("submission_id", "indicator", "county", "value", "reported_state", "progress", "problems", "plan",
              "excel_row")  # the row part is ValidationResult.row_records' order
AUDIT_FIELDS = ("at", "who", "action", "detail")
_DATABASES: dict[str, PostgresDatabase] = {}  # one connection pool per URL and process


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached or opened (the message, in Chinese, is for the administrator)."""


class RebuildError(Exception):
    """rebuild() could not index every stored file; the database was left as it was."""


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
    except OSError as exc:  # costs speed only: the next read queries the database again
        log.warning("rows snapshot %s not written: %s", path, exc)


def _set_generation(con: Connection, fresh: bool = False) -> None:
    """A random id per database (new on every rebuild): with the version counter it names one state."""
    if fresh:
        con.execute("DELETE FROM meta WHERE key='generation'")
    con.execute("INSERT INTO meta(key, value) VALUES ('generation', ?) ON CONFLICT(key) DO NOTHING", (uuid.uuid4().hex,))


# The columns current_rows and rows_of fetch: a row (submission_id, indicator, county, value, reported_state,
# progress, problems, plan) and its submission's (unit, year, month, received_at, late).
_ROW_TYPE = pa.struct([("submission_id", pa.int64()), ("indicator", pa.string()), ("county", pa.string()),
                       ("value", pa.float64()), ("reported_state", pa.string()), ("progress", pa.string()),
                       ("problems", pa.string()), ("plan", pa.string())])
_SUBMISSION_TYPES = [pa.string(), pa.int64(), pa.int64(), pa.string(), pa.bool_()]


def _in_chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _data_version(generation, version) -> str:
    """``Store.version()`` from the meta rows (missing: an empty generation, version 0)."""
    return f"{'' if generation is None else generation}:{0 if version is None else version}"


class Store(TargetTables, Publications):
    """Submissions, rows, audit, target tables, publications and the ledger's tables of one data folder and one
    database. Safe for several processes (SQLite) or several servers (PostgreSQL) at once."""

    def __init__(self, folder: str | Path | None = None, url: str | None = None):
        self.folder = Path(folder) if folder else config.data_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.url = os.environ.get(DATABASE_URL_ENV, "").strip() if url is None else url
        self.db_path = None
        if is_postgres_url(self.url):
            if self.url not in _DATABASES:
                _DATABASES[self.url] = PostgresDatabase(self.url)
            self.db = _DATABASES[self.url]
            self.archive = DatabaseArchive(self.folder, self.db)
        elif self.url:
            raise ValueError(f"{DATABASE_URL_ENV} 只支持 postgresql://…（不设置时使用数据目录中的 SQLite），收到“{self.url.split(':')[0]}:…”。")
        else:
            self.db_path = self.folder / DB_NAME
            self.db = SqliteDatabase(self.db_path)
            self.archive = FileArchive(self.folder)
        self.submissions_dir = self.archive.submissions_dir
        try:
            migrate(self.db)
        except Exception as exc:
            if not self.archive.in_database or type(exc).__module__.split(".")[0] != "psycopg":
                raise
            log.error("cannot open the PostgreSQL store %s: %s", self.db.describe(), exc)
            raise DatabaseUnavailable(f"无法连接数据库 {self.db.describe()}（{type(exc).__name__}）。请管理员检查 "
                                      f"{DATABASE_URL_ENV} 的地址、用户与密码，以及数据库服务是否在运行。") from exc
        with self.read() as con:
            has_generation = con.execute("SELECT 1 FROM meta WHERE key='generation'").fetchone()
        if not has_generation:
            with self.write() as con:
                _set_generation(con)
        self._seed_targets()
        self.recover()

    # --- transactions (the storage interface: lib.ledger and lib.publish use these too) ------------
    def read(self):
        """One snapshot read transaction: ``with store.read() as con: con.execute(...)``."""
        return self.db.read()

    def write(self):
        """One write transaction, serialised across processes and servers."""
        return self.db.write()

    # --- reading ---------------------------------------------------------------
    def version(self) -> str:
        """Changes whenever a submission or a target table is written, on every process and server sharing the
        database: a cache key for the dashboard (a database counter, no file dates)."""
        with self.read() as con:
            key = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'version')").fetchall())
        return _data_version(key.get("generation"), key.get("version"))

    def versions(self) -> tuple[str, str]:
        """(``version()``, ``publications_version()``) in one query: what the dashboard asks on every rerun."""
        with self.read() as con:
            generation, version, count, last = con.execute(
                "SELECT (SELECT value FROM meta WHERE key='generation'), (SELECT value FROM meta WHERE key='version'), "
                "(SELECT COUNT(*) FROM publications), (SELECT MAX(id) FROM publications)").fetchone()
        return _data_version(generation, version), publications_version_of(generation, count, last)

    def is_empty(self) -> bool:
        """No submission stored yet (one indexed lookup: asked on every rerun)."""
        with self.read() as con:
            return con.execute("SELECT 1 FROM submissions LIMIT 1").fetchone() is None

    def is_demo(self) -> bool:
        """True while the store holds generated demo submissions."""
        with self.read() as con:
            return con.execute("SELECT 1 FROM submissions WHERE uploader=? LIMIT 1", (DEMO_UPLOADER,)).fetchone() is not None

    def has_real_reports(self) -> bool:
        """True once any submission not generated as demo is stored."""
        with self.read() as con:
            return con.execute("SELECT 1 FROM submissions WHERE uploader<>? LIMIT 1", (DEMO_UPLOADER,)).fetchone() is not None

    def demo_periods(self) -> set[tuple[str, int]]:
        """(unit, month) of every stored demo submission (what a resumed demo build skips)."""
        with self.read() as con:
            return {tuple(r) for r in con.execute("SELECT DISTINCT unit, month FROM submissions WHERE uploader=?",
                                                  (DEMO_UPLOADER,))}

    def submissions(self) -> pd.DataFrame:
        """Every stored submission (history), newest first."""
        with self.read() as con:
            frame = con.frame(f"SELECT id, {SUBMISSION_COLUMNS} FROM submissions ORDER BY id DESC")
        frame["late"] = frame["late"].astype(bool)
        return frame

    def current_rows(self, year: int | None = None) -> pd.DataFrame:
        """Rows of every current submission (of ``year`` if given): one row per (unit, month, indicator, county).

        Read from the database once per database state, then from a columnar snapshot
        (cache/rows-*.arrow, ~30 ms where the query takes ~0.8 s at 60,000 rows):
        a dashboard started on an existing store does not pay the query again.
        The snapshot is derived data: deleted or damaged, it is simply rebuilt.
        """
        where, params = "s.state = ?", [STATE_CURRENT]
        if year is not None:
            where, params = where + " AND s.year = ?", params + [int(year)]
        with self.read() as con:  # one snapshot: the key and the rows belong to the same state
            key = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'version')").fetchall())
            cached = self.folder / CACHE_DIR / f"rows-{year or 'all'}-{key.get('generation', '')}-{key.get('version', 0)}.arrow"
            try:
                return pd.read_feather(cached)
            except Exception:  # missing (the usual miss), or damaged by a crash: read the database
                log.debug("rows snapshot %s not read; querying the database", cached.name, exc_info=True)
            # The few submissions and their many rows apart, joined here by position: fetching the
            # submission's columns once per row made Python objects for every one of them.
            subs = con.execute(f"SELECT s.id, s.unit, s.year, s.month, s.received_at, s.late FROM submissions s "
                               f"WHERE {where} ORDER BY s.id", params).fetchall()
            records = con.execute(
                "SELECT r.submission_id, r.indicator, r.county, r.value, r.reported_state, r.progress, r.problems, r.plan "
                f"FROM rows r WHERE r.submission_id IN (SELECT s.id FROM submissions s WHERE {where}) "
                "ORDER BY r.submission_id, r.rowid", params).fetchall()
        frame = self._rows_frame(subs, records)
        if records:
            _write_snapshot(frame, cached)
        return frame

    @staticmethod
    def _rows_frame(subs: list[tuple], records: list[tuple]) -> pd.DataFrame:
        """The rows frame from the fetched submissions and rows (joined by submission id). The rows go to Arrow
        columns in one conversion (half the CPU of building the frame from Python columns: bench/RESULTS.md)."""
        sub_columns = ["submission_id", "填报单位", "年度", "月份", "接收时间", "逾期"]
        row_columns = [field.name for field in _ROW_TYPE][1:]
        if not records:
            # The dtypes a filled frame gets (pandas' string dtype for text), so that joins on an empty store work.
            frame = pd.DataFrame(columns=sub_columns + row_columns)
            for name in ("填报单位", "接收时间", *row_columns):
                if name != "value":
                    frame[name] = frame[name].astype("str")
        else:
            columns = pa.array(records, type=_ROW_TYPE).flatten()
            sub_ids = np.asarray([s[0] for s in subs], dtype="int64")
            at = pa.array(np.searchsorted(sub_ids, columns[0].to_numpy()))  # subs are ordered by id
            data = {"submission_id": columns[0]}
            for i, (name, kind) in enumerate(zip(sub_columns[1:], _SUBMISSION_TYPES), 1):
                values = [bool(s[i]) for s in subs] if kind == pa.bool_() else [s[i] for s in subs]
                data[name] = pa.array(values, type=kind).take(at)
            data.update(zip(row_columns, columns[1:]))
            frame = pa.table(data).to_pandas()
        frame = frame.rename(columns=ROW_COLUMN_NAMES)
        for col in ("submission_id", "年度", "月份"):
            frame[col] = frame[col].astype("int64")
        frame["逾期"] = frame["逾期"].astype(bool)
        frame["累计完成"] = frame["累计完成"].astype("float64")
        return frame

    def rows_of(self, submission_ids) -> pd.DataFrame:
        """Rows of the given submissions, whatever their state: the same columns as ``current_rows``."""
        ids = sorted({int(i) for i in submission_ids})
        subs, records = [], []
        with self.read() as con:
            for chunk in _in_chunks(ids):
                marks = ",".join("?" * len(chunk))
                subs += con.execute("SELECT s.id, s.unit, s.year, s.month, s.received_at, s.late FROM submissions s "
                                    f"WHERE s.id IN ({marks}) ORDER BY s.id", chunk).fetchall()
                records += con.execute(
                    "SELECT r.submission_id, r.indicator, r.county, r.value, r.reported_state, r.progress, r.problems, "
                    f"r.plan FROM rows r WHERE r.submission_id IN ({marks}) ORDER BY r.submission_id, r.rowid",
                    chunk).fetchall()
        return self._rows_frame(subs, records)

    def year_values(self, year: int, unit: str | None = None) -> list[tuple]:
        """(unit, month, 指标编号, 县市区, 累计完成) of every current submission of ``year`` (of ``unit`` if given)."""
        sql = ("SELECT s.unit, s.month, r.indicator, r.county, r.value FROM rows r JOIN submissions s "
               "ON s.id = r.submission_id WHERE s.state = ? AND s.year = ?")
        params = [STATE_CURRENT, int(year)]
        if unit is not None:
            sql, params = sql + " AND s.unit = ?", params + [unit]
        with self.read() as con:
            return con.execute(sql, params).fetchall()

    def previous_values(self, unit: str, year: int, month: int) -> dict[tuple[str, str], tuple[float | None, int]]:
        """Latest accepted value before ``month``: {(指标编号, 县市区): (累计完成, 月份)}."""
        return self.history_context(unit, year, month).previous

    def history_context(self, unit: str, year: int, month: int) -> HistoryContext:
        """The unit's other current months of ``year`` as ``add_history_warnings`` needs them (upload path)."""
        return History(self.year_values(year, unit)).context(unit, month)

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
        key = (unit, int(year), int(month))
        return self.current_versions([key]).get(key)

    def current_versions(self, keys) -> dict[tuple[str, int, int], tuple[int, str]]:
        """{(unit, year, month): (id, original file name)} of the current versions of ``keys``, in one query."""
        keys = {(unit, int(year), int(month)) for unit, year, month in keys}
        if not keys:
            return {}
        years = sorted({year for _, year, _ in keys})
        with self.read() as con:
            rows = con.execute("SELECT unit, year, month, id, file_name FROM submissions WHERE state = ? AND "
                               f"year IN ({','.join('?' * len(years))})", [STATE_CURRENT, *years]).fetchall()
        return {(unit, year, month): (sub_id, name) for unit, year, month, sub_id, name in rows
                if (unit, year, month) in keys}

    def years(self) -> list[int]:
        with self.read() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT year FROM submissions ORDER BY year")]

    def audit_log(self) -> pd.DataFrame:
        with self.read() as con:
            return con.frame("SELECT at AS 时间, who AS 操作人, action AS 操作, detail AS 详情 FROM audit ORDER BY id DESC")

    def raw_file(self, rel: str) -> bytes | None:
        """A stored upload's bytes by its ``path`` (as the submissions list gives it), None if missing."""
        return self.archive.read(rel)

    # --- writing ---------------------------------------------------------------
    @staticmethod
    def _audit_row(who: str, action: str, detail: str) -> tuple[str, str, str, str]:
        return datetime.now().isoformat(timespec="seconds"), who, action, detail

    def log(self, who: str, action: str, detail: str, con: Connection | None = None) -> None:
        stmt = f"INSERT INTO audit({', '.join(AUDIT_FIELDS)}) VALUES (?,?,?,?)"
        args = self._audit_row(who, action, detail)
        if con is not None:
            con.execute(stmt, args)
        else:
            with self.write() as c:
                c.execute(stmt, args)

    def ingest(self, data: bytes, file_name: str, uploader: str = "系统", targets: Targets | None = None,
               received_at: datetime | None = None, today: date | None = None,
               result: ValidationResult | None = None) -> IngestOutcome:
        """Validate and, if there is no 错误, store one file (``lib.ingest.ingest``; kept here for callers)."""
        from lib import ingest  # ingestion lives above the store; this is only a convenience entry

        return ingest.ingest(self, data, file_name, uploader, targets, received_at, today, result)

    def ingest_many(self, files: list[tuple[str, bytes]], uploader: str = "系统", targets: Targets | None = None,
                    received_at: datetime | None = None, today: date | None = None, batch: int = 200,
                    progress=None, workers: int = 1) -> list[IngestOutcome]:
        """Validate and store many files (``lib.ingest.ingest_many``; kept here for callers)."""
        from lib import ingest

        return ingest.ingest_many(self, files, uploader, targets, received_at, today, batch, progress, workers)

    def store_batch(self, checked: list[tuple[bytes, ValidationResult, datetime]], uploader: str,
                    targets: Targets) -> list[IngestOutcome]:
        """Store validated files in one transaction (each all or nothing): an identical current file is recognised,
        an identical replaced one restored, the rest archived verbatim (made durable before COMMIT) and indexed.

        New files are queued and written together (``_insert_many``: ids handed out first, then one bulk insert per
        table), so a batch costs a few statements rather than several per file; that is what bounds PostgreSQL,
        where every statement is a round trip. A file whose bytes are already stored, or queued earlier in the
        batch, first writes the queue and is then handled on the stored state, so the outcome is the same as one
        file after another."""
        outcomes: list[IngestOutcome | None] = [None] * len(checked)
        pending = []
        refuse_real = uploader != DEMO_UPLOADER and self.is_demo()
        for i, (data, result, received_at) in enumerate(checked):
            if refuse_real and result.accepted:
                result.findings.append(finding("store.demo_present", S.LEVEL_ERROR, file=result.file_name))
            if not result.accepted:
                outcomes[i] = IngestOutcome(result)
            else:
                pending.append((i, data, result, hashlib.sha256(data).hexdigest(), received_at))
        finals, written = [], []
        with self.write() as con:
            known = self._stored_shas(con, [sha for *_, sha, _ in pending])
            queue: list[tuple[int, ValidationResult, dict, str, list, bool]] = []

            def write_queue() -> None:
                if not queue:
                    return
                self.archive.flush(con, written)
                done = self._insert_many(con, [(meta, rel, rows, late) for _, _, meta, rel, rows, late in queue])
                audit = []
                for (i, result, _meta, _rel, _rows, late), (sub_id, superseded) in zip(queue, done):
                    outcomes[i] = IngestOutcome(result, submission_id=sub_id, superseded=superseded, late=late)
                    audit.append(self._audit_row(uploader, "上传接收",
                                                 f"{result.file_name} → 第 {sub_id} 号（{result.unit} {result.period}）"))
                con.insert_rows("audit", AUDIT_FIELDS, audit)
                queue.clear()

            for i, data, result, sha, received_at in pending:
                if sha in known:
                    write_queue()
                    outcomes[i] = self._store_again(con, sha, result, received_at, uploader)
                    continue
                known.add(sha)
                late = received_at > deadline(result.year, result.month, targets.deadline_day)
                rel, sidecar = self._describe(data, result, sha, received_at, uploader)
                final = self.archive.stage(con, rel, data, sidecar, written)
                if final is not None:
                    finals.append(final)
                queue.append((i, result, sidecar, rel, result.row_records, late))
            write_queue()
            self.archive.durable(written)  # before COMMIT: a committed row always has its file
        for final in finals:
            self._finish(final)
        rejected = [o.result for o in outcomes if o.submission_id is None]
        if rejected:
            with self.write() as con:
                for result in rejected:
                    self.log(uploader, "上传被拒", f"{result.file_name}：" + "；".join(f.message for f in result.errors[:5]), con)
        return outcomes

    @staticmethod
    def _stored_shas(con: Connection, shas: list[str]) -> set[str]:
        """Which of ``shas`` are stored already (one query per 500)."""
        found = set()
        for chunk in _in_chunks(sorted(set(shas))):
            found.update(r[0] for r in con.execute(
                f"SELECT sha256 FROM submissions WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk))
        return found

    @staticmethod
    def _describe(data: bytes, result: ValidationResult, sha: str, received_at: datetime,
                  uploader: str) -> tuple[str, dict]:
        """A new file's place in the archive and its sidecar (what a rebuild reads back)."""
        rel = (f"submissions/{result.year}/{result.month:02d}/{result.unit}/"
               f"{received_at:%Y%m%dT%H%M%S%f}-{sha[:12]}.xlsx")
        sidecar = {
            "unit": result.unit, "year": result.year, "month": result.month,
            "received_at": received_at.isoformat(), "activated_at": received_at.isoformat(),
            "uploader": uploader, "file_name": result.file_name, "sha256": sha,
            "targets_version": result.targets_version, "filler": result.filler, "phone": result.phone,
            # Findings depend on the history at upload time: keep them with the file.
            "findings": result.findings_json(),
        }
        return rel, sidecar

    def _store_again(self, con: Connection, sha: str, result: ValidationResult, received_at: datetime,
                     uploader: str) -> IngestOutcome:
        """A file whose bytes are stored: recognised if it is the current version, else made current again."""
        sub_id, state = con.execute("SELECT id, state FROM submissions WHERE sha256=?", (sha,)).fetchone()
        if state == STATE_CURRENT:
            self.log(uploader, "重复上传", f"{result.file_name} 与当前版本第 {sub_id} 号相同，未重复存档", con)
            return IngestOutcome(result, submission_id=sub_id, duplicate_of=sub_id)
        # Sending a replaced version again means "this one": make it current again, audited.
        self._restore(con, sub_id, uploader, received_at, f"重新上传了相同的文件 {result.file_name}")
        return IngestOutcome(result, submission_id=sub_id, duplicate_of=sub_id, restored=True)

    def _insert(self, con: Connection, meta: dict, rel: str, rows: list[tuple], late: bool) -> tuple[int, int | None]:
        """Insert one submission and its rows: ``_insert_many`` of one."""
        return self._insert_many(con, [(meta, rel, rows, late)])[0]

    def _insert_many(self, con: Connection, items: list[tuple[dict, str, list[tuple], bool]]) -> list[tuple[int, int | None]]:
        """Insert submissions (sidecar, archive path, ValidationResult.row_records, late) and their rows, in order,
        each superseding its unit-month's current version if it is newer. Returns (id, superseded id or None) each.

        The current version of a unit-month is the latest activated (ties: the larger sha256), whatever order
        processes or servers commit in; rebuild() applies the same rule, so files alone give the same state. The
        whole list is decided first, from one query of the stored current versions; then the superseded stored
        versions are marked, then the new ones written with their final state: at no moment are there two current
        versions of a unit-month. A few statements for the whole list, whatever its length."""
        if not items:
            return []
        periods = {(meta["unit"], meta["year"], meta["month"]) for meta, *_ in items}
        years = sorted({year for _, year, _ in periods})
        current: dict[tuple, tuple[int, str, str]] = {}
        for sub_id, unit, year, month, activated, sha in con.execute(
                "SELECT id, unit, year, month, activated_at, sha256 FROM submissions "
                f"WHERE state = ? AND year IN ({','.join('?' * len(years))})", [STATE_CURRENT, *years]):
            if (unit, year, month) in periods:
                current[(unit, year, month)] = (sub_id, activated, sha)
        ids = con.new_ids("submissions", len(items))
        state: dict[int, str] = {}  # of the new ones
        replaced_stored, out = [], []
        for (meta, _rel, _rows, _late), sub_id in zip(items, ids):
            key = (meta["unit"], meta["year"], meta["month"])
            prev = current.get(key)
            newer = prev is None or (meta["activated_at"], meta["sha256"]) > (prev[1], prev[2])
            if newer:
                if prev is not None and prev[0] in state:
                    state[prev[0]] = STATE_REPLACED
                elif prev is not None:
                    replaced_stored.append(prev[0])
                current[key] = (sub_id, meta["activated_at"], meta["sha256"])
            state[sub_id] = STATE_CURRENT if newer else STATE_REPLACED
            out.append((sub_id, prev[0] if prev is not None and newer else None))
        for chunk in _in_chunks(replaced_stored):  # first: the new current versions come after
            con.execute(f"UPDATE submissions SET state=? WHERE id IN ({','.join('?' * len(chunk))})",
                        [STATE_REPLACED, *chunk])
        con.insert_rows("submissions", ("id", *SUBMISSION_FIELDS), [
            (sub_id, meta["unit"], meta["year"], meta["month"], meta["received_at"], meta["activated_at"],
             meta["uploader"], meta["file_name"], meta["sha256"], rel, len(rows), meta["findings"], state[sub_id],
             int(late), meta["targets_version"], meta["filler"], meta["phone"])
            for (meta, rel, rows, late), sub_id in zip(items, ids)])
        con.insert_rows("rows", ROW_FIELDS, [(sub_id, *row) for (_m, _r, rows, _l), sub_id in zip(items, ids)
                                             for row in rows])
        bump_version(con)
        return out

    @staticmethod
    def _finish(final: Path) -> None:
        finish_pending(final)

    def recover(self) -> None:
        """Finish or undo file writes a crash interrupted (``lib.store.archive``), under the write lock."""
        if not self.archive.has_pending():
            return
        with self.write() as con:
            self.archive.recover(con)

    def restore(self, submission_id: int, who: str = "系统") -> None:
        """Make an earlier version the current one for its unit and month (audited)."""
        with self.write() as con:
            self._restore(con, submission_id, who, datetime.now())

    def _restore(self, con: Connection, submission_id: int, who: str, when: datetime, why: str = "") -> None:
        """Inside a write transaction: activate ``submission_id`` at ``when`` (or just after the current version's
        activation, if that is later), in the archive (its sidecar) and in the database, with an audit entry."""
        row = con.execute("SELECT unit, year, month, path FROM submissions WHERE id=?", (int(submission_id),)).fetchone()
        if row is None:
            raise KeyError(f"没有第 {submission_id} 号报送")
        unit, year, month, rel = row
        latest = con.execute("SELECT MAX(activated_at) FROM submissions WHERE unit=? AND year=? AND month=?",
                             (unit, year, month)).fetchone()[0]
        activated = when.isoformat()
        if latest and activated <= latest:
            activated = (datetime.fromisoformat(latest) + timedelta(microseconds=1)).isoformat()
        publish_sidecar = self.archive.set_activated(con, rel, activated)
        con.execute("UPDATE submissions SET state=? WHERE unit=? AND year=? AND month=?", (STATE_REPLACED, unit, year, month))
        con.execute("UPDATE submissions SET state=?, activated_at=? WHERE id=?", (STATE_CURRENT, activated, int(submission_id)))
        bump_version(con)
        self.log(who, "恢复版本", f"第 {submission_id} 号（{unit} {year}-{month:02d}）恢复为当前版本" + (f"：{why}" if why else ""), con)
        # Inside the transaction: a crash before COMMIT leaves the new activation time in the archive with the old
        # database state; a rebuild then prefers the restored version, which is what the user asked for.
        publish_sidecar()

    def remove_files(self, rels: list[str]) -> None:
        """Delete stored uploads from the archive (clearing the demo; a rebuild follows)."""
        self.archive.remove(None, list(rels))

    # --- rebuild -------------------------------------------------------------------------------
    def rebuild(self) -> int:
        """Recreate the index (submissions and rows) from the raw files alone. Returns the number of submissions.

        Every stored file must give its rows again, read with the current target table of its own year; if any
        does not (no table for its year, a file was damaged), RebuildError names them and the database is left
        as it was. Target tables, the ledger, the audit log (and on PostgreSQL the publications) are kept; on
        SQLite the publications are read back from their files.
        """
        tables = {year: self.targets(year) for year in self.target_years()}
        entries = sorted(self.archive.entries(), key=lambda e: (e[0]["received_at"], e[0]["sha256"]))
        loaded, unreadable = [], []
        for meta, rel, read in entries:
            data = read()
            received = datetime.fromisoformat(meta["received_at"])
            targets = tables.get(meta["year"])
            if targets is None:
                unreadable.append(f"{rel}（{meta['file_name']}）：没有 {meta['year']} 年度的目标表")
                continue
            result = validate(data, meta["file_name"], targets, None, today=received.date())
            if not result.row_records:
                reason = result.errors[0].message if result.errors else "没有可读的数据行"
                unreadable.append(f"{rel}（{meta['file_name']}）：{reason}")
                continue
            meta.setdefault("findings", result.findings_json())
            loaded.append((meta, rel, result.row_records, received > deadline(meta["year"], meta["month"], targets.deadline_day)))
        if unreadable:
            raise RebuildError(f"{len(entries)} 份存档中有 {len(unreadable)} 份无法按其年度的现行目标表读出数据，"
                               "数据库未改动：\n" + "\n".join(unreadable[:20]) + ("\n…" if len(unreadable) > 20 else "") +
                               "\n请在“目标表”页上传或恢复对应年度的目标表，或检查上列文件是否损坏。")
        if self.archive.in_database:
            self._reindex_in_place(loaded)
        else:
            self._rebuild_sqlite(loaded)
        self.log("系统", "重建索引", f"由原始文件重建，共 {len(entries)} 份报送")
        return len(entries)

    def _index(self, con: Connection, loaded: list) -> None:
        """Insert the loaded files and make the most recently activated version of each unit-month current."""
        self._insert_many(con, loaded)
        con.execute("UPDATE submissions SET state=?", (STATE_REPLACED,))
        con.execute(
            "UPDATE submissions SET state=? WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER "
            "(PARTITION BY unit, year, month ORDER BY activated_at DESC, sha256 DESC) AS n FROM submissions) AS ranked "
            "WHERE n = 1)", (STATE_CURRENT,))

    def _reindex_in_place(self, loaded: list) -> None:
        """PostgreSQL: one transaction replaces the index; everything else stays (it is the database's own)."""
        with self.write() as con:
            con.execute("DELETE FROM rows")
            con.execute("DELETE FROM submissions")
            self._index(con, loaded)
            _set_generation(con, fresh=True)

    def _rebuild_sqlite(self, loaded: list) -> None:
        """SQLite: a new database file beside the old one (the kept tables copied over), swapped in at the end."""
        tmp_path = self.folder / (DB_NAME + ".rebuild")
        for suffix in ("", "-wal", "-shm"):
            Path(str(tmp_path) + suffix).unlink(missing_ok=True)
        tmp = SqliteDatabase(tmp_path)
        migrate(tmp)
        raw = tmp.connect()
        raw.execute("ATTACH DATABASE ? AS old", (str(self.db_path),))
        con = Connection(raw)
        with tmp._transaction(raw, "BEGIN"):
            _set_generation(con)
            for table in KEPT_TABLES + ("audit",):
                columns = [r[1] for r in raw.execute(f"PRAGMA old.table_info({table})")]
                names = ", ".join(c for c in columns if c in {r[1] for r in raw.execute(f"PRAGMA main.table_info({table})")})
                raw.execute(f"INSERT INTO main.{table}({names}) SELECT {names} FROM old.{table} ORDER BY id" if "id" in columns
                            else f"INSERT INTO main.{table}({names}) SELECT {names} FROM old.{table}")
            self._index(con, loaded)
            self._restore_publications(con)  # published revisions survive; lib.publish.verify recomputes them
        raw.execute("DETACH DATABASE old")
        raw.close()
        for suffix in ("-wal", "-shm"):
            Path(str(self.db_path) + suffix).unlink(missing_ok=True)
        os.replace(tmp_path, self.db_path)

    def backup(self, dest: str | Path) -> Path:
        """Copy the whole data folder to ``dest`` (a new folder) while the app may keep running.

        The database goes through SQLite's online backup (a consistent copy of every table: submissions' index,
        audit log, target tables, the ledger and its photos); the raw files and publications are copied as they
        are (pending files of an unfinished write and the derived cache are left out).
        ``LIVELIHOOD_DATA_DIR=dest`` opens the copy. On PostgreSQL everything is in the database: use pg_dump.
        """
        if self.archive.in_database:
            raise RuntimeError(f"数据保存在 PostgreSQL（{self.db.describe()}）中，请用 pg_dump 备份整个数据库。")
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise FileExistsError(f"备份目标 {dest} 已存在且不为空，请换一个新文件夹。")
        dest.mkdir(parents=True, exist_ok=True)
        self.db.backup_to(dest / DB_NAME)
        skip = shutil.ignore_patterns("*.pending", "*.tmp", "*.rebuild*")
        for path in self.folder.iterdir():  # raw files, publications, old target-table copies
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
