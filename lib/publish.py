"""Published months: the office's official figures, frozen and reproducible.

A publication of (year, month) is an immutable record: which submission version was current for every reporting
unit and month 1..month, the target table's hash (a copy of that table is kept under
``publications/targets/<sha256>.xlsx``), every level's computed table, who published it and when, and a content
hash. Publishing the same month again makes a new **revision** (修订 1, 2, …) that needs a reason; earlier revisions
stay readable and nothing of a revision ever changes (the database refuses UPDATE/DELETE on publication rows).

The record is one canonical JSON document (keys sorted, no whitespace, UTF-8, floats as Python's shortest round-trip
repr, missing values as null, times as ISO 8601): the content hash is the SHA-256 of exactly those bytes, the file
``publications/<年>/<月>/r<修订>-<hash12>.json`` holds exactly those bytes (so ``sha256sum`` of the file is the
content hash), and the database keeps the same text. Submission ids are not in the document (a rebuild renumbers
them); versions are named by the raw file's SHA-256.

``verify`` checks every revision: database text, file and hash agree; the stored target table has its hash; every
named raw file exists with its hash; and the tables recomputed from those raw files (parsed again) and that target
table are byte-identical to the published ones.

CLI::

    python -m lib.publish 2024-06 [--as-of-time 2024-07-08T23:59:59] [--reason 原因] [--by 姓名]
    python -m lib.publish --verify
    python -m lib.publish --list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from lib import logs
from lib import progress as P
from lib.store import PUBLICATIONS_DIR, STATE_CURRENT, Store
from lib.store.tables import parse_stored
from lib.targets import Targets, parse_targets

log = logging.getLogger(__name__)

FORMAT = 1
TABLES = ["detail", "projects", "categories", "units", "counties", "compliance"]
TABLE_NAMES = {"detail": "指标明细", "projects": "项目", "categories": "类别", "units": "牵头单位", "counties": "县市区",
               "compliance": "报送情况"}
# lib.progress CLI levels -> published table
LEVEL_TABLES = {"indicator": "detail", "project": "projects", "category": "categories", "unit": "units",
                "county": "counties", "compliance": "compliance"}
TARGETS_DIR = "targets"
CHANGE_COLUMNS = ["指标编号", "项目名称", "指标名称", "计量单位", "县市区", "已发布", "实时", "已发布状态", "实时状态",
                  "变更报送", "填报单位", "变更时间"]


class PublishError(ValueError):
    """A publication the user asked for cannot be made; the message says why and what to do (Chinese)."""


# --- canonical serialisation -------------------------------------------------------------

def _dtype_name(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.Int64Dtype):
        return "Int64"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "str"
    return "object"


def _value(x):
    """One cell as a JSON value: a missing value is null, numbers exact, times ISO 8601."""
    if type(x) is str:
        return x
    if type(x) is float:
        return None if x != x else x
    if x is None or x is pd.NA or x is pd.NaT:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, (datetime, date, pd.Timestamp)):
        return x.isoformat()
    return str(x)


def _column_values(series: pd.Series) -> list:
    """``_value`` of every cell, with fast paths for the common dtypes (same results)."""
    kind = _dtype_name(series)
    if kind == "float64":
        values = series.to_numpy(dtype="float64")
        out = values.tolist()
        for i in np.flatnonzero(np.isnan(values)).tolist():
            out[i] = None
        return out
    if kind in ("int64", "bool"):
        return series.to_numpy().tolist()
    if kind == "Int64":
        out = series.to_numpy(dtype="int64", na_value=0).tolist()
        for i in np.flatnonzero(series.isna().to_numpy()).tolist():
            out[i] = None
        return out
    if kind == "str":
        out = series.to_numpy(dtype=object, na_value=None).tolist()
        return [x if type(x) is str or x is None else _value(x) for x in out]
    return [_value(x) for x in series.tolist()]


def table_json(frame: pd.DataFrame) -> dict:
    """A table as {"columns", "dtypes", "rows"}: the canonical form the content hash covers."""
    columns = [str(c) for c in frame.columns]
    cells = [_column_values(frame[c]) for c in frame.columns]
    return {"columns": columns, "dtypes": [_dtype_name(frame[c]) for c in frame.columns],
            "rows": [list(r) for r in zip(*cells)] if cells else []}


def table_frame(data: dict) -> pd.DataFrame:
    """The inverse of ``table_json``: the same columns, dtypes and values."""
    columns, rows = data["columns"], data["rows"]
    out = {}
    for i, (name, dtype) in enumerate(zip(columns, data["dtypes"])):
        column = [r[i] for r in rows]
        if dtype == "float64":
            out[name] = pd.Series([np.nan if v is None else v for v in column], dtype="float64")
        elif dtype == "datetime":
            out[name] = pd.to_datetime(pd.Series(column, dtype=object))
        elif dtype == "str":
            out[name] = pd.Series(column, dtype="str")
        else:  # int64, bool, Int64, object
            out[name] = pd.Series(column, dtype=dtype)
    return pd.DataFrame(out, columns=columns)


def canonical(document: dict) -> bytes:
    """The exact bytes the content hash is taken over."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


# --- the record ----------------------------------------------------------------------------

class _LazyTables(Mapping):
    """The published tables, parsed from the document on first use (listing revisions stays cheap)."""

    def __init__(self, source):
        self._source, self._tables = source, None

    def _load(self) -> dict:
        if self._tables is None:
            doc = self._source()
            self._tables = {name: table_frame(doc["tables"][name]) for name in TABLES}
        return self._tables

    def __getitem__(self, key):
        return self._load()[key]

    def __iter__(self):
        return iter(TABLES)

    def __len__(self):
        return len(TABLES)


@dataclass(frozen=True)
class Publication:
    year: int
    month: int
    revision: int  # revision 0 is the first publication of the month
    reason: str
    published_at: datetime
    published_by: str
    targets_hash: str
    content_hash: str
    versions: pd.DataFrame  # unit, month, submission_id, sha256 current at publication
    tables: Mapping[str, pd.DataFrame]  # TABLES; the same columns lib.progress gives for the live state
    as_of_time: datetime | None = None  # the moment whose state was published (None: the moment of publishing)
    path: str = ""
    id: int = field(default=0, compare=False)

    @property
    def cutoff(self) -> datetime:
        """The moment the published state belongs to."""
        return self.as_of_time or self.published_at

    def label(self) -> str:
        """「已发布 · 2024 年 6 月 · 修订 0 · 7 月 8 日发布」"""
        at = self.published_at
        day = f"{at.month} 月 {at.day} 日" if at.year == self.year or at.year == self.year + 1 and self.month == 12 \
            else f"{at.year} 年 {at.month} 月 {at.day} 日"
        return f"已发布 · {self.year} 年 {self.month} 月 · 修订 {self.revision} · {day}发布"


def _targets_path(store: Store, targets_hash: str) -> Path:
    return store.folder / PUBLICATIONS_DIR / TARGETS_DIR / f"{targets_hash}.xlsx"


def _keep_targets(store: Store, year: int, loaded: Targets | None = None) -> tuple[str, Targets]:
    """Hash ``year``'s current target table (the store's; the store keeps every version by its hash), on SQLite
    also keep a copy under publications/targets/ (content-addressed, beside the publication files), and parse it
    (``loaded`` is used instead when it is that very table, e.g. the dashboard's, whose caches are warm)."""
    table = store.target_table(year)
    if table is None:
        raise PublishError(f"没有 {year} 年度的目标表，不能发布 {year} 年的数据。请先在“目标表”页上传该年度的目标表。")
    data = table[1]
    digest = hashlib.sha256(data).hexdigest()
    path = _targets_path(store, digest)
    if not store.archive.in_database and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    if loaded is not None and loaded.version == digest[:16]:
        return digest, loaded
    targets, problems = parse_targets(data, source=str(path))
    if problems:
        raise PublishError("目标表有误，无法发布：" + "；".join(str(p) for p in problems[:3]))
    return digest, targets


def _published_table_bytes(store: Store, targets_hash: str) -> bytes:
    """The bytes of the target table a revision names, checked against its hash: the store's version with that
    hash, else the copy under publications/targets/ (revisions published before tables were in the database)."""
    data = store.target_bytes(targets_hash)
    path = _targets_path(store, targets_hash)
    if data is None and path.exists():
        data = path.read_bytes()
    if data is None:
        raise PublishError(f"目标表副本 {targets_hash[:12]} 不存在")
    if hashlib.sha256(data).hexdigest() != targets_hash:
        raise PublishError(f"目标表副本 {targets_hash[:12]} 的哈希与记录不符")
    return data


def published_targets(store: Store, targets_hash: str) -> Targets:
    """The target table a revision was computed with."""
    return parse_stored(targets_hash, _published_table_bytes(store, targets_hash))


def versions_at(submissions: pd.DataFrame, year: int, month: int, at: datetime | None) -> pd.DataFrame:
    """The version current for every (unit, month ≤ ``month``) of ``year``: now (``at`` None), or at moment ``at``.

    At a past moment: among the versions received by then, the one activated last by then. A version's activation
    is its receipt, or its latest restore (``activated_at``) when that was before ``at``; earlier restores of the
    same version are not kept by the store, so a version restored twice counts from its last restore only.
    """
    subs = submissions[(submissions["year"] == year) & (submissions["month"] <= month)]
    if at is None:
        chosen = subs[subs["state"] == STATE_CURRENT]
    else:
        received = pd.to_datetime(subs["received_at"], format="ISO8601")
        activated = pd.to_datetime(subs["activated_at"], format="ISO8601")
        subs = subs[received <= at].assign(_active=activated.where(activated <= at, received)[received <= at])
        chosen = subs.sort_values(["_active", "sha256"]).drop_duplicates(["unit", "month"], keep="last")
    out = chosen[["unit", "month", "id", "sha256"]].rename(columns={"id": "submission_id"})
    return out.sort_values(["month", "unit"]).reset_index(drop=True)


LEVEL_OF_ROWS = ["detail", "projects", "categories", "units", "counties"]  # the tables computed from the rows alone


def compute_tables(targets: Targets, rows: pd.DataFrame, submissions: pd.DataFrame, month: int,
                   cutoff: datetime, computed: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Every level's table from the published rows; compliance counts the receipts up to ``cutoff``.

    ``computed`` may hold the LEVEL_OF_ROWS tables already computed from exactly these rows (the dashboard's month
    view): they are the same function of the same rows (the tables do not depend on row order), so they are reused.
    """
    if computed is not None:
        tables = {name: computed[name] for name in LEVEL_OF_ROWS}
    else:
        rows = rows.sort_values(["月份", "填报单位", "指标编号", "县市区"], kind="stable").reset_index(drop=True)
        detail = P.detail(targets, rows, month)
        projects = P.project_table(targets, rows, month, detail)
        tables = {
            "detail": detail,
            "projects": projects,
            "categories": P.category_table(targets, rows, month, projects),
            "units": P.unit_table(targets, rows, month, projects),
            "counties": P.county_table(targets, rows, month, detail),
        }
    received = submissions[pd.to_datetime(submissions["received_at"], format="ISO8601") <= cutoff]
    return tables | {"compliance": P.compliance(targets, received, month, today=cutoff.date())}


def _document(meta: dict, versions: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> dict:
    return {
        "format": FORMAT,
        "meta": meta,
        "versions": [{"unit": u, "month": int(m), "sha256": s}
                     for u, m, s in zip(versions["unit"], versions["month"], versions["sha256"])],
        "tables": {name: table_json(tables[name]) for name in TABLES},
    }


def publish(store: Store, year: int, month: int, who: str, reason: str = "",
            as_of_time: datetime | None = None, *, targets: Targets | None = None, rows: pd.DataFrame | None = None,
            computed: Mapping[str, pd.DataFrame] | None = None) -> Publication:
    """Publish the state of ``year``-``month`` now, or as it was at ``as_of_time``; returns the new revision.

    ``targets`` may be the already loaded current target table of ``year`` (checked against the stored table's hash); with no
    ``as_of_time``, ``rows`` may be ``Store.current_rows(year)`` as already read and ``computed`` the month's tables
    computed from those rows (the dashboard's): the revision is then the state those rows belong to.
    Raises PublishError (Chinese message) when the month cannot be published or a revision has no reason.
    """
    reason = (reason or "").strip()
    if not 1 <= month <= 12:
        raise PublishError(f"月份应为 1–12，收到 {month}。")
    now = datetime.now().replace(microsecond=0)
    if as_of_time is not None and as_of_time > now:
        raise PublishError(f"发布时点 {as_of_time:%Y-%m-%d %H:%M} 晚于当前时间，请选择过去的时点。")
    targets_hash, targets = _keep_targets(store, year, targets)
    if year != targets.year:
        raise PublishError(f"目标表为 {targets.year} 年度，不能发布 {year} 年的数据。")
    if as_of_time is None:  # the current state: the dashboard's own rows snapshot, read before the submissions
        rows = store.current_rows(year) if rows is None else rows
        rows = rows[(rows["年度"] == year) & (rows["月份"] <= month)]
        submissions = store.submissions()
        # The versions are those the rows came from (an upload between the two reads cannot slip in).
        versions = versions_at(submissions[submissions["id"].isin(rows["submission_id"].unique())].assign(
            state=STATE_CURRENT), year, month, None)
    else:
        computed = None  # the tables of a past moment are always computed here
        submissions = store.submissions()
        versions = versions_at(submissions, year, month, as_of_time)
        rows = store.rows_of(versions["submission_id"])
    if versions.empty:
        raise PublishError(f"{year} 年 1–{month} 月没有任何已接收的报送，无法发布。")
    cutoff = as_of_time or now
    tables = compute_tables(targets, rows, submissions[submissions["year"] == year], month, cutoff, computed)

    def make(next_revision) -> tuple[dict, list[dict], bytes]:
        revision = next_revision(year, month)
        if revision > 0 and not reason:
            raise PublishError(f"{year} 年 {month} 月已发布过（修订 {revision - 1}），再次发布为修订 {revision}，"
                               "必须填写修订原因。")
        meta = {"year": year, "month": month, "revision": revision, "reason": reason,
                "published_at": now.isoformat(), "published_by": who,
                "as_of_time": as_of_time.isoformat() if as_of_time else None, "targets_hash": targets_hash}
        doc = _document(meta, versions, tables)
        return meta, doc["versions"], canonical(doc)

    made = {}

    def keep(next_revision):
        made["meta"], versions_list, document = make(next_revision)
        made["hash"] = hashlib.sha256(document).hexdigest()
        return made["meta"], versions_list, document
    pub_id, rel = store.add_publication(keep, who)
    meta = made["meta"]
    return Publication(year=year, month=month, revision=meta["revision"], reason=reason, published_at=now,
                       published_by=who, targets_hash=targets_hash, content_hash=made["hash"],
                       versions=versions.reset_index(drop=True), tables=dict(tables), as_of_time=as_of_time,
                       path=rel, id=pub_id)


# --- reading -------------------------------------------------------------------------------

def _from_row(store: Store, row: dict, submissions: pd.DataFrame | None = None) -> Publication:
    def document() -> dict:
        text, _ = store.publication_record(int(row["id"]))
        return json.loads(text)
    versions = store.publication_versions(int(row["id"]))
    frame = pd.DataFrame(versions, columns=["unit", "month", "sha256"])
    subs = store.submissions() if submissions is None else submissions
    ids = dict(zip(subs["sha256"], subs["id"]))
    frame.insert(2, "submission_id", frame["sha256"].map(ids).astype("Int64"))
    return Publication(
        year=int(row["year"]), month=int(row["month"]), revision=int(row["revision"]), reason=row["reason"],
        published_at=datetime.fromisoformat(row["published_at"]), published_by=row["published_by"],
        targets_hash=row["targets_hash"], content_hash=row["content_hash"], versions=frame,
        tables=_LazyTables(document),
        as_of_time=datetime.fromisoformat(row["as_of_time"]) if row["as_of_time"] else None,
        path=row["path"], id=int(row["id"]))


def load_by_id(store: Store, publication_id: int) -> Publication:
    rows = store.publications()
    return _from_row(store, rows[rows["id"] == publication_id].iloc[0].to_dict())


def revisions(store: Store, year: int, month: int) -> list[Publication]:
    """Every revision of a month, oldest first (tables are read when first used)."""
    subs = store.submissions()
    return [_from_row(store, r, subs) for r in store.publications(year, month).to_dict("records")]


def load(store: Store, year: int, month: int, revision: int | None = None) -> Publication | None:
    """One revision (None: the latest), or None when the month has not been published (or has no such revision)."""
    rows = store.publications(year, month)
    if revision is not None:
        rows = rows[rows["revision"] == revision]
    if rows.empty:
        return None
    return _from_row(store, rows.iloc[-1].to_dict())


def published_table(store: Store, year: int, month: int, level: str, revision: int | None = None) -> pd.DataFrame | None:
    """The table of a lib.progress level (``LEVELS``) from a revision (None: latest); None when there is none."""
    pub = load(store, year, month, revision)
    if pub is None:
        return None
    if level == "city":
        return P.city_table(published_targets(store, pub.targets_hash), None, month, pub.tables["projects"])
    return pub.tables[LEVEL_TABLES[level]]


# --- verification --------------------------------------------------------------------------

def _recompute(store: Store, doc: dict, parsed: dict) -> bytes:
    """The document recomputed from the raw files its versions name and its stored target table."""
    from lib.submission import validate

    meta = doc["meta"]
    targets = parse_stored(meta["targets_hash"], _published_table_bytes(store, meta["targets_hash"]))
    subs = store.submissions()
    by_sha = subs.set_index("sha256")
    records, sub_rows = [], []
    for i, version in enumerate(doc["versions"], start=1):
        sha = version["sha256"]
        if sha not in by_sha.index:
            raise PublishError(f"报送 {sha[:12]}（{version['unit']} {version['month']} 月）不在库中")
        info = by_sha.loc[sha]
        if sha not in parsed:
            raw = store.raw_file(info["path"])
            if raw is None or hashlib.sha256(raw).hexdigest() != sha:
                raise PublishError(f"原始文件 {info['path']} 缺失或内容与哈希不符")
            received = datetime.fromisoformat(info["received_at"])
            result = validate(raw, info["file_name"], targets, None, today=received.date())
            if result.row_records is None:
                raise PublishError(f"原始文件 {info['path']} 无法按发布时的目标表读取")
            parsed[sha] = result.row_records
        sub_rows.append((i, info["unit"], int(info["year"]), int(info["month"]), info["received_at"], int(info["late"])))
        records += [(i, *r[:7]) for r in parsed[sha]]
    rows = Store._rows_frame(sub_rows, records)
    cutoff = datetime.fromisoformat(meta["as_of_time"] or meta["published_at"])
    year_subs = subs[subs["year"] == meta["year"]]
    tables = compute_tables(targets, rows, year_subs, meta["month"], cutoff)
    versions = pd.DataFrame(doc["versions"], columns=["unit", "month", "sha256"])
    return canonical(_document(meta, versions, tables))


def verify(store: Store) -> list[str]:
    """Problems of every published revision (Chinese, each naming the revision); empty = all verify."""
    problems: list[str] = []
    parsed: dict[str, list] = {}  # raw file sha256 -> parsed rows, shared by revisions
    for row in store.publications().to_dict("records"):
        name = f"{row['year']} 年 {row['month']} 月 修订 {row['revision']}"
        try:
            text, versions = store.publication_record(int(row["id"]))
            document = text.encode("utf-8")
            if hashlib.sha256(document).hexdigest() != row["content_hash"]:
                problems.append(f"{name}：库中记录的内容与内容哈希 {row['content_hash'][:12]} 不符（记录被改动）")
                continue
            doc = json.loads(document)
            if canonical(doc) != document:
                problems.append(f"{name}：记录不是规范格式")
                continue
            meta = doc["meta"]
            listed = [(v["unit"], v["month"], v["sha256"]) for v in doc["versions"]]
            fields = {k: row[k] for k in ("year", "month", "revision", "reason", "published_at", "published_by",
                                          "targets_hash")}
            if any(meta[k] != v for k, v in fields.items()) or (meta["as_of_time"] or None) != (row["as_of_time"] or None):
                problems.append(f"{name}：库中的发布信息与记录内容不符（记录被改动）")
                continue
            if [tuple(v) for v in versions] != listed:
                problems.append(f"{name}：库中的报送版本清单与记录内容不符（记录被改动）")
                continue
            if store.publication_file(int(row["id"])) != document:
                problems.append(f"{name}：发布文件 {row['path']} 缺失或与库中记录不同")
                continue
            if _recompute(store, doc, parsed) != document:
                problems.append(f"{name}：由原始文件与目标表重新计算的结果与发布内容不符")
        except PublishError as exc:
            log.warning("verifying publication %s: %s", row["id"], exc, exc_info=True)
            problems.append(f"{name}：{exc}")
        except Exception as exc:  # an unreadable record is a failed check, never a pass
            log.exception("verifying publication %s failed", row["id"])
            problems.append(f"{name}：无法校验（{type(exc).__name__}: {exc}）")
    return problems


# --- what changed since publication ----------------------------------------------------------

def changes(publication: Publication, live_detail: pd.DataFrame, submissions: pd.DataFrame) -> pd.DataFrame:
    """Every figure of the revision's month that differs between the revision and the live state (CHANGE_COLUMNS).

    A figure is one (指标编号, 县市区) row's 累计完成, or, for a 定性 indicator, its 进展状态. The submission that
    changed it is the version the live figure comes from (the current version of the unit for the figure's data
    month, or of the published data month when the live figure disappeared); 变更时间 is when it became current.
    """
    keys = ["指标编号", "县市区"]
    pub = publication.tables["detail"]
    cols = keys + ["项目名称", "指标名称", "计量单位", "指标类型", "填报单位", "累计完成", "进展状态", "状态", "数据月份"]
    both = pub[cols].merge(live_detail[keys + ["累计完成", "进展状态", "状态", "数据月份"]], on=keys, how="outer",
                           suffixes=("_pub", "_live"), indicator=True)
    a, b = both["累计完成_pub"], both["累计完成_live"]
    value_changed = ~((a == b) | (a.isna() & b.isna()))
    state_changed = both["进展状态_pub"].fillna("") != both["进展状态_live"].fillna("")
    qualitative = both["指标类型"] == "定性"
    changed = both[(both["_merge"] != "both") | value_changed | (qualitative & state_changed)].copy()
    current = submissions[submissions["state"] == STATE_CURRENT].set_index(["unit", "year", "month"])
    sub_of, when_of = [], []
    for unit, live_month, pub_month in zip(changed["填报单位"], changed["数据月份_live"], changed["数据月份_pub"]):
        data_month = live_month if pd.notna(live_month) else pub_month
        key = (unit, publication.year, int(data_month)) if pd.notna(data_month) else None
        if key is not None and key in current.index:
            hit = current.loc[key]
            sub_of.append(f"第 {int(hit['id'])} 号 · {hit['file_name']}（{int(data_month)} 月）")
            when_of.append(str(hit["activated_at"])[:16].replace("T", " "))
        else:
            sub_of.append("")
            when_of.append("")
    text = qualitative[changed.index]
    out = pd.DataFrame({
        "指标编号": changed["指标编号"], "项目名称": changed["项目名称"], "指标名称": changed["指标名称"],
        "计量单位": changed["计量单位"], "县市区": changed["县市区"],
        "已发布": np.where(text, changed["进展状态_pub"].fillna(""), changed["累计完成_pub"]).astype(object),
        "实时": np.where(text, changed["进展状态_live"].fillna(""), changed["累计完成_live"]).astype(object),
        "已发布状态": changed["状态_pub"].fillna(""), "实时状态": changed["状态_live"].fillna(""),
        "变更报送": sub_of, "填报单位": changed["填报单位"], "变更时间": when_of,
    })
    return out[CHANGE_COLUMNS].reset_index(drop=True)


# --- CLI -----------------------------------------------------------------------------------

def _parse_month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(x) for x in text.split("-"))
    except ValueError:
        raise PublishError(f"月份应写作 YYYY-MM，如 2024-06，收到“{text}”。") from None
    return year, month


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    parser = argparse.ArgumentParser(description="发布月度数据（冻结为正式口径）、列出与校验已发布的修订")
    parser.add_argument("month", nargs="?", help="要发布的月份，如 2024-06")
    parser.add_argument("--as-of-time", help="发布某一过去时点的状态，如 2024-07-08T23:59:59（默认：现在）")
    parser.add_argument("--reason", default="", help="修订原因（再次发布同一月份时必填）")
    parser.add_argument("--by", default="命令行", help="发布人")
    parser.add_argument("--verify", action="store_true", help="由原始文件与目标表重新计算并校验全部已发布修订")
    parser.add_argument("--list", action="store_true", help="列出全部已发布修订")
    args = parser.parse_args(argv)
    store = Store()
    if args.verify:
        problems = verify(store)
        count = len(store.publications())
        for problem in problems:
            print(problem)
        print(f"共 {count} 个已发布修订，{len(problems)} 个未通过校验。", file=sys.stderr)
        return 1 if problems else 0
    if args.list:
        for r in store.publications().itertuples(index=False):
            print(f"{r.year}-{r.month:02d}\t修订 {r.revision}\t{r.published_at}\t{r.published_by}\t{r.content_hash}\t{r.reason}")
        return 0
    if not args.month:
        parser.error("请给出要发布的月份（如 2024-06），或使用 --verify / --list")
    try:
        year, month = _parse_month(args.month)
        at = None
        if args.as_of_time:
            try:
                at = datetime.fromisoformat(args.as_of_time)
            except ValueError:
                raise PublishError(f"--as-of-time 应写作 2024-07-08T23:59:59，收到“{args.as_of_time}”。") from None
        pub = publish(store, year, month, args.by, args.reason, at)
    except PublishError as exc:
        print(f"未发布：{exc}", file=sys.stderr)
        return 2
    print(f"{pub.label()} · 内容哈希 {pub.content_hash} · {pub.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
