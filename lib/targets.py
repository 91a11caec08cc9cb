"""Load and validate the target table (data/targets.xlsx).

The workbook is the one source of truth for projects, indicators, annual
targets and county splits. ``load_targets`` refuses a broken table with every
problem named by sheet, row and column, rather than guessing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from lib import schema as S
from lib.findings import TARGET_CODES, message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetProblem:
    """One problem of a target table: where (sheet, Excel row, column), what to do (Chinese), and a stable code
    from ``lib.findings.TARGET_CODES`` (what tests and code match on; the message comes from that table too)."""
    sheet: str
    row: int | None  # Excel row number (header is row 1)
    column: str | None
    message: str
    code: str

    def __post_init__(self) -> None:
        if self.code not in TARGET_CODES:
            raise ValueError(f"unknown target problem code {self.code!r}: add it to lib.findings.TARGET_CODES")

    def __str__(self) -> str:
        where = f"工作表“{self.sheet}”"
        if self.row is not None:
            where += f"第 {self.row} 行"
        if self.column:
            where += f"“{self.column}”列"
        return f"{where}：{self.message}"


class TargetTableError(ValueError):
    """The target table cannot be used; ``problems`` says why, cell by cell."""

    def __init__(self, problems: list[TargetProblem]):
        self.problems = problems
        super().__init__("目标表有误：\n" + "\n".join(str(p) for p in problems))


@dataclass(frozen=True, eq=False)  # identity hash: one loaded table is one object
class Targets:
    projects: pd.DataFrame  # one row per project, PROJECT_COLUMNS
    indicators: pd.DataFrame  # one row per indicator, INDICATOR_COLUMNS + 原文, 目标口径, 分解说明 (blank when absent) …
    splits: pd.DataFrame  # one row per (indicator, county), SPLIT_COLUMNS
    units: pd.DataFrame  # one row per unit, UNIT_COLUMNS (+ 行政区划代码, 说明)
    settings: dict
    schedule: pd.DataFrame | None  # 指标编号 × months 1..12 -> planned share (0..1)
    version: str  # sha256 of the workbook bytes (first 16 hex digits)
    source: str = ""
    report: dict = field(default_factory=dict)  # the optional 通报设置 sheet as read (see report_settings)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def year(self) -> int:
        return int(self.settings[S.SETTING_YEAR])

    @property
    def deadline_day(self) -> int:
        return int(self.settings.get(S.SETTING_DEADLINE_DAY, S.DEFAULT_DEADLINE_DAY))

    @property
    def lag_threshold(self) -> float:
        return float(self.settings.get(S.SETTING_LAG, S.DEFAULT_LAG))

    @property
    def severe_threshold(self) -> float:
        return float(self.settings.get(S.SETTING_SEVERE, S.DEFAULT_SEVERE))

    @property
    def counties(self) -> list[str]:
        """The county-level units targets are split to, in table order."""
        def build() -> list[str]:
            units = self.units
            mask = (units["类型"] == S.UNIT_TYPE_COUNTY) & (units["单位名称"] != S.ALL_COUNTIES)
            return units.loc[mask, "单位名称"].tolist()

        return list(self.cached("counties", build))

    @property
    def reporting_units(self) -> list[str]:
        return list(self.cached("reporting_units", lambda: list(dict.fromkeys(self.indicators["填报单位"]))))

    @property
    def bases(self) -> dict[str, str]:
        """{指标编号: 目标口径} (blank = exact), for the status rule."""
        return self.cached("bases", lambda: dict(zip(self.indicators["指标编号"], self.indicators[S.COL_BASIS])))

    def expected_rows(self, unit: str) -> pd.DataFrame:
        """The rows a unit's template holds, in order.

        One row per (indicator × county with a non-zero share) for split
        indicators, followed by an optional 全市 row; one 全市 row for indicators not split.
        Columns: LOCKED_FORM_COLUMNS plus 指标类型, 目标口径, 分解说明 and 城市合计行
        (bool: the optional city total of a split indicator).
        """
        return self.cached(("expected", unit), lambda: self._expected_rows(unit))

    def _expected_rows(self, unit: str) -> pd.DataFrame:
        ind = self.indicators[self.indicators["填报单位"] == unit]
        proj = self.projects.set_index("项目序号")["项目名称"]
        splits = self.splits.groupby("指标编号", sort=False)
        rows = []
        for rec in ind.itertuples(index=False):
            base = {
                "指标编号": rec.指标编号,
                "项目序号": int(rec.项目序号),
                "项目名称": proj[rec.项目序号],
                "指标名称": rec.指标名称,
                "计量单位": rec.计量单位,
                "指标类型": rec.指标类型,
                S.COL_BASIS: getattr(rec, S.COL_BASIS),
                S.COL_SPLIT_RULE: getattr(rec, S.COL_SPLIT_RULE),
            }
            if rec.分解到县 == S.YES:
                for s in splits.get_group(rec.指标编号).itertuples(index=False):
                    if not s.分解目标:
                        continue  # a county with no share of the target has nothing to report
                    rows.append({**base, "县市区": s.县市区, "年度目标": s.分解目标, "城市合计行": False})
                rows.append({**base, "县市区": S.CITY, "年度目标": rec.年度目标, "城市合计行": True})
            else:
                rows.append({**base, "县市区": S.CITY, "年度目标": rec.年度目标, "城市合计行": False})
        return pd.DataFrame(rows, columns=S.LOCKED_FORM_COLUMNS + ["指标类型", S.COL_BASIS, S.COL_SPLIT_RULE, "城市合计行"])

    def expected_map(self, unit: str) -> dict[tuple[str, str], dict]:
        """``expected_rows`` as {(指标编号, 县市区): row dict}, for fast lookups."""
        return self.cached(("expected_map", unit), lambda: {
            (r["指标编号"], r["县市区"]): r for r in self.expected_rows(unit).to_dict("records")})

    @property
    def report_settings(self) -> dict:
        """The 通报设置 sheet's values over ``S.REPORT_DEFAULTS`` (下步要求 is a tuple of paragraphs)."""
        return {**S.REPORT_DEFAULTS, **self.report}

    def cached(self, key, build):
        """``build()`` once per loaded table: frames and lookups other modules derive from it (the one writer of
        ``_cache``; a table is immutable, so nothing derived from it goes stale)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def _read_sheets(data: bytes) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wb.sheet_names}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value)
    )


def _text(value) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, built from column lists (DataFrame.to_dict("records") was most of the parse time)."""
    columns = list(frame.columns)
    return [dict(zip(columns, values)) for values in zip(*(frame[c].tolist() for c in columns))]


def _frame(sheet: str, rows: list[list], required: list[str], problems: _Problems) -> pd.DataFrame | None:
    """A sheet's rows under its header row, indexed by Excel row number; None (with the problem) without its columns."""
    if not rows:
        problems.bad(sheet, None, None, "targets.sheet_empty")
        return None
    header = [_text(v) for v in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        problems.bad(sheet, 1, "、".join(missing), "targets.columns_missing")
        return None
    body = [r + [None] * (len(header) - len(r)) for r in rows[1:]]
    # Drop trailing fully blank rows Excel leaves after deletions.
    kept = [i for i, r in enumerate(body) if not all(_blank(v) for v in r)]
    frame = pd.DataFrame([body[i] for i in kept], columns=header)
    frame = frame.loc[:, [c for c in header if c]]
    frame.index = [i + 2 for i in kept]  # Excel row numbers, for messages
    return frame


def target_problem(sheet: str, row: int | None, column: str | None, code: str, variant: str = "", **fields) -> TargetProblem:
    """The problem ``code`` at (sheet, Excel row, column), its message from lib/findings.py with ``fields``."""
    if code not in TARGET_CODES:
        raise ValueError(f"unknown target problem code {code!r}: add it to lib.findings.TARGET_CODES")
    return TargetProblem(sheet, row, column, message(code, variant, **fields), code)


class _Problems(list):
    """The problems found so far; ``bad`` adds one (sheet, Excel row, column, code, its variant and fields)."""

    def bad(self, sheet: str, row: int | None, column: str | None, code: str, variant: str = "", /, **fields) -> None:
        self.append(target_problem(sheet, row, column, code, variant, **fields))


_REQUIRED_SHEETS = {
    S.SHEET_PROJECTS: S.PROJECT_COLUMNS,
    S.SHEET_INDICATORS: S.INDICATOR_COLUMNS,
    S.SHEET_SPLITS: S.SPLIT_COLUMNS,
    S.SHEET_UNITS: S.UNIT_COLUMNS,
    S.SHEET_SETTINGS: S.SETTINGS_COLUMNS,
}


def parse_targets(data: bytes, source: str = "") -> tuple[Targets | None, list[TargetProblem]]:
    """Parse and validate a target workbook. Returns (targets or None, problems).

    One function per sheet, in dependency order: 单位 (names, counties) → 项目 (lead units) → 指标 (projects,
    units) → 分解 (indicators, counties) → 设置 → the optional 序时计划 and 通报设置. Each names every problem by
    sheet, Excel row and column with a code from ``lib.findings.TARGET_CODES``.
    """
    problems = _Problems()
    try:
        sheets = _read_sheets(data)
    except Exception as exc:  # calamine raises several error types for bad files
        log.warning("target table %s unreadable", source or "(upload)", exc_info=True)
        return None, [target_problem("（文件）", None, None, "targets.unreadable", error=exc)]
    frames = {}
    for sheet, cols in _REQUIRED_SHEETS.items():
        if sheet not in sheets:
            problems.bad(sheet, None, None, "targets.sheet_missing")
            continue
        frames[sheet] = _frame(sheet, sheets[sheet], cols, problems)
    if problems or any(f is None for f in frames.values()):
        return None, list(problems)
    units, projects = frames[S.SHEET_UNITS], frames[S.SHEET_PROJECTS]
    indicators, splits = frames[S.SHEET_INDICATORS], frames[S.SHEET_SPLITS]
    unit_names, counties = _check_units(units, problems)
    project_ids = _check_projects(projects, unit_names, problems)
    _check_indicators(indicators, projects, unit_names, project_ids, problems)
    _check_splits(splits, indicators, counties, problems)
    settings = _read_settings(frames[S.SHEET_SETTINGS], problems)
    kinds = dict(zip(indicators["指标编号"], indicators["指标类型"]))
    schedule = _read_schedule(sheets[S.SHEET_SCHEDULE], kinds, problems) if S.SHEET_SCHEDULE in sheets else None
    report = _report_settings(sheets, problems) if S.SHEET_REPORT in sheets else {}
    if problems:
        return None, list(problems)
    return Targets(
        projects=projects.reset_index(drop=True),
        indicators=indicators.reset_index(drop=True),
        splits=splits.reset_index(drop=True),
        units=units.reset_index(drop=True),
        settings=settings,
        schedule=schedule,
        version=hashlib.sha256(data).hexdigest()[:16],
        source=source,
        report=report,
    ), []


def _check_units(units: pd.DataFrame, problems: _Problems) -> tuple[set[str], set[str]]:
    """The 单位 sheet (cleaned in place): names, types, 是否填报单位. Returns (every unit name, the counties)."""
    for col in units.columns:
        units[col] = units[col].map(_text)
    for row, rec in units.iterrows():
        if not rec["单位名称"]:
            problems.bad(S.SHEET_UNITS, row, "单位名称", "targets.unit.name_blank")
        if rec["类型"] not in S.UNIT_TYPES:
            problems.bad(S.SHEET_UNITS, row, "类型", "targets.unit.type_invalid", typed=rec["类型"])
        if rec["是否填报单位"] not in (S.YES, S.NO):
            problems.bad(S.SHEET_UNITS, row, "是否填报单位", "targets.unit.flag_invalid", typed=rec["是否填报单位"])
    for row in units.index[units["单位名称"].duplicated() & (units["单位名称"] != "")]:
        problems.bad(S.SHEET_UNITS, row, "单位名称", "targets.unit.duplicate", name=units.at[row, "单位名称"])
    counties = set(units.loc[(units["类型"] == S.UNIT_TYPE_COUNTY) & (units["单位名称"] != S.ALL_COUNTIES), "单位名称"])
    return set(units["单位名称"]), counties


def _check_projects(projects: pd.DataFrame, unit_names: set[str], problems: _Problems) -> set[int]:
    """The 项目 sheet (cleaned in place; 项目序号 as Int64). Returns the valid project numbers."""
    for col in S.PROJECT_COLUMNS:
        if col != "项目序号":
            projects[col] = projects[col].map(_text)
    numbers = []
    for row, rec in projects.iterrows():
        n = _number(rec["项目序号"])
        if n is None or not float(n).is_integer() or n < 1:
            problems.bad(S.SHEET_PROJECTS, row, "项目序号", "targets.project.number_invalid", typed=_text(rec["项目序号"]))
            numbers.append(None)
        else:
            numbers.append(int(n))
        for col in ("类别", "项目名称", "牵头单位"):
            if not rec[col]:
                problems.bad(S.SHEET_PROJECTS, row, col, "targets.project.blank")
        if rec["牵头单位"] and rec["牵头单位"] not in unit_names:
            problems.bad(S.SHEET_PROJECTS, row, "牵头单位", "targets.project.unknown_unit", name=rec["牵头单位"])
        for u in filter(None, rec["协办单位"].split("、")):
            if u not in unit_names:
                problems.bad(S.SHEET_PROJECTS, row, "协办单位", "targets.project.unknown_unit", name=u)
        if rec["县市区承办"] not in (S.YES, S.NO):
            problems.bad(S.SHEET_PROJECTS, row, "县市区承办", "targets.project.flag_invalid")
    projects["项目序号"] = pd.array(numbers, dtype="Int64")
    for row in projects.index[projects["项目序号"].duplicated() & projects["项目序号"].notna()]:
        problems.bad(S.SHEET_PROJECTS, row, "项目序号", "targets.project.duplicate",
                     number=int(projects.at[row, "项目序号"]))
    return set(projects["项目序号"].dropna())


def _check_indicators(indicators: pd.DataFrame, projects: pd.DataFrame, unit_names: set[str], project_ids: set[int],
                      problems: _Problems) -> None:
    """The 指标 sheet (cleaned in place: optional columns added blank, 项目序号 Int64, 年度目标 Float64, a blank
    填报单位 filled with the project's lead unit); every project must have an indicator."""
    for col in (S.COL_QUOTE, S.COL_BASIS, S.COL_SPLIT_RULE):
        if col not in indicators.columns:  # optional: a table from before the column loads as blank (exact)
            indicators[col] = ""
    for col in indicators.columns:
        if col not in ("项目序号", "年度目标"):
            indicators[col] = indicators[col].map(_text)
    lead = dict(zip(projects["项目序号"], projects["牵头单位"]))
    targets_col, pids = [], []
    # Plain dicts, not iterrows (a Series per row): a scaled table has hundreds of indicators.
    for row, rec in zip(indicators.index, _records(indicators)):
        pid = _number(rec["项目序号"])
        pid = int(pid) if pid is not None and float(pid).is_integer() else None
        pids.append(pid)
        targets_col.append(_check_indicator(row, rec, pid in project_ids, problems))
        if not rec["填报单位"] and pid in lead:
            indicators.at[row, "填报单位"] = lead[pid]
        elif rec["填报单位"] not in unit_names:
            problems.bad(S.SHEET_INDICATORS, row, "填报单位", "targets.indicator.unknown_unit", name=rec["填报单位"])
    indicators["项目序号"] = pd.array(pids, dtype="Int64")
    indicators["年度目标"] = pd.array(targets_col, dtype="Float64")
    for row in indicators.index[indicators["指标编号"].duplicated() & (indicators["指标编号"] != "")]:
        problems.bad(S.SHEET_INDICATORS, row, "指标编号", "targets.indicator.duplicate", number=indicators.at[row, "指标编号"])
    used_projects = set(indicators["项目序号"].dropna())
    for row, rec in projects.iterrows():
        if pd.notna(rec["项目序号"]) and rec["项目序号"] not in used_projects:
            problems.bad(S.SHEET_PROJECTS, row, "项目序号", "targets.project.no_indicator", number=int(rec["项目序号"]))


def _check_indicator(row: int, rec: dict, known_project: bool, problems: _Problems) -> float | None:
    """One row of the 指标 sheet: code, project, name, type, 年度目标 and 计量单位, 目标口径, 分解到县. Returns the target."""
    sheet = S.SHEET_INDICATORS
    if not rec["指标编号"]:
        problems.bad(sheet, row, "指标编号", "targets.indicator.code_blank")
    if not known_project:
        problems.bad(sheet, row, "项目序号", "targets.indicator.unknown_project", typed=_text(rec["项目序号"]))
    if not rec["指标名称"]:
        problems.bad(sheet, row, "指标名称", "targets.indicator.name_blank")
    kind = rec["指标类型"]
    if kind not in S.INDICATOR_TYPES:
        problems.bad(sheet, row, "指标类型", "targets.indicator.type_invalid", typed=kind)
    target = None if _blank(rec["年度目标"]) else _number(rec["年度目标"])
    if kind in S.QUANTITATIVE_TYPES:
        if target is None:
            problems.bad(sheet, row, "年度目标", "targets.indicator.target_invalid", typed=_text(rec["年度目标"]))
        elif target <= 0:
            problems.bad(sheet, row, "年度目标", "targets.indicator.target_invalid", "not_positive")
        if not rec["计量单位"]:
            problems.bad(sheet, row, "计量单位", "targets.indicator.unit_blank")
    elif kind == S.TYPE_QUALITATIVE and not _blank(rec["年度目标"]):
        problems.bad(sheet, row, "年度目标", "targets.indicator.qualitative_target")
    _check_basis(row, rec[S.COL_BASIS], kind, problems)
    if rec["分解到县"] not in (S.YES, S.NO):
        problems.bad(sheet, row, "分解到县", "targets.indicator.split_flag_invalid")
    elif rec["分解到县"] == S.YES and kind != S.TYPE_COUNT:
        problems.bad(sheet, row, "分解到县", "targets.indicator.split_flag_invalid", "type", kind=kind)
    return target


def _check_basis(row: int, basis: str, kind: str, problems: _Problems) -> None:
    """目标口径: one of the words, none for a qualitative indicator, 不高于 only for a 比率 level."""
    if basis not in S.TARGET_BASES:
        problems.bad(S.SHEET_INDICATORS, row, S.COL_BASIS, "targets.indicator.basis_invalid", typed=basis)
    elif basis and kind == S.TYPE_QUALITATIVE:
        problems.bad(S.SHEET_INDICATORS, row, S.COL_BASIS, "targets.indicator.basis_invalid", "qualitative", typed=basis)
    elif basis == S.BASIS_CEILING and kind in S.QUANTITATIVE_TYPES and kind != S.TYPE_RATE:
        problems.bad(S.SHEET_INDICATORS, row, S.COL_BASIS, "targets.indicator.basis_invalid", "ceiling", kind=kind)


def _check_splits(splits: pd.DataFrame, indicators: pd.DataFrame, counties: set[str], problems: _Problems) -> None:
    """The 分解 sheet (cleaned in place; 分解目标 Float64): known split indicators, known counties, each once, and
    every split indicator's county targets adding up to its 年度目标."""
    for col in ("指标编号", "县市区", "来源"):
        splits[col] = splits[col].map(_text)
    kind_of = dict(zip(indicators["指标编号"], indicators["指标类型"]))
    split_flag = dict(zip(indicators["指标编号"], indicators["分解到县"]))
    values = []
    # Plain dicts, not iterrows: a scaled or multi-year table has thousands of split rows.
    for row, rec in zip(splits.index, _records(splits[S.SPLIT_COLUMNS])):
        v = _number(rec["分解目标"])
        values.append(v)
        code = rec["指标编号"]
        if code not in kind_of:
            problems.bad(S.SHEET_SPLITS, row, "指标编号", "targets.split.unknown_indicator", number=code)
        elif kind_of[code] in (S.TYPE_RATE, S.TYPE_INCREASE):
            problems.bad(S.SHEET_SPLITS, row, "指标编号", "targets.split.not_splittable", number=code,
                         kind=kind_of[code])
        elif split_flag[code] != S.YES:
            problems.bad(S.SHEET_SPLITS, row, "指标编号", "targets.split.not_marked", number=code)
        if rec["县市区"] not in counties:
            problems.bad(S.SHEET_SPLITS, row, "县市区", "targets.split.unknown_county", typed=rec["县市区"])
        if v is None or v < 0:
            problems.bad(S.SHEET_SPLITS, row, "分解目标", "targets.split.value_invalid", typed=_text(rec["分解目标"]))
    splits["分解目标"] = pd.array(values, dtype="Float64")
    for row in splits.index[splits.duplicated(["指标编号", "县市区"])]:
        problems.bad(S.SHEET_SPLITS, row, "县市区", "targets.split.duplicate", number=splits.at[row, "指标编号"],
                     county_name=splits.at[row, "县市区"])
    sums = splits.groupby("指标编号")["分解目标"].sum()
    for row, rec in zip(indicators.index, _records(indicators)):
        if rec["分解到县"] != S.YES or rec["指标类型"] != S.TYPE_COUNT:
            continue
        code = rec["指标编号"]
        if code not in sums.index:
            problems.bad(S.SHEET_INDICATORS, row, "分解到县", "targets.split.missing", number=code)
        elif pd.notna(rec["年度目标"]) and not math.isclose(float(sums[code]), float(rec["年度目标"]), abs_tol=1e-6):
            problems.bad(S.SHEET_SPLITS, None, "分解目标", "targets.split.sum_mismatch", number=code,
                         total=float(sums[code]), target=float(rec["年度目标"]))


def _read_settings(frame: pd.DataFrame, problems: _Problems) -> dict:
    """The 设置 sheet as {设置项: 值}: 年度 required, the others within their range when given, severe over lag."""
    settings = {}
    for _, rec in frame.iterrows():
        key = _text(rec["设置项"])
        value = rec["值"]
        settings[key] = int(value) if isinstance(value, float) and value.is_integer() else value
    for key, lo, hi in ((S.SETTING_YEAR, 2000, 2100), (S.SETTING_DEADLINE_DAY, 1, 28),
                        (S.SETTING_LAG, 0, 100), (S.SETTING_SEVERE, 0, 100)):
        if key not in settings and key != S.SETTING_YEAR:
            continue
        v = _number(settings.get(key))
        if v is None or not lo <= v <= hi:
            problems.bad(S.SHEET_SETTINGS, None, key, "targets.setting.out_of_range",
                         key=key, low=lo, high=hi, typed=_text(settings.get(key)))
    lag, severe = _number(settings.get(S.SETTING_LAG, S.DEFAULT_LAG)), _number(settings.get(S.SETTING_SEVERE, S.DEFAULT_SEVERE))
    if lag is not None and severe is not None and severe <= lag:
        problems.bad(S.SHEET_SETTINGS, None, S.SETTING_SEVERE, "targets.setting.thresholds_order")
    return settings


def _read_schedule(rows: list[list], kinds: dict[str, str], problems: _Problems) -> pd.DataFrame | None:
    """The optional 序时计划 sheet (指标编号, 1月 … 12月 as planned %) as 指标编号 × months 1..12 -> share (0..1)."""
    months = [f"{m}月" for m in range(1, 13)]
    frame = _frame(S.SHEET_SCHEDULE, rows, ["指标编号"] + months, problems)
    if frame is None:
        return None
    frame["指标编号"] = frame["指标编号"].map(_text)
    planned = {}
    for row, rec in frame.iterrows():
        if rec["指标编号"] not in kinds:
            problems.bad(S.SHEET_SCHEDULE, row, "指标编号", "targets.schedule.unknown_indicator",
                         number=rec["指标编号"])
            continue
        shares = [_number(rec[m]) for m in months]
        if any(s is None or not 0 <= s <= 100 for s in shares):
            problems.bad(S.SHEET_SCHEDULE, row, None, "targets.schedule.value_invalid")
        elif any(b < a for a, b in zip(shares, shares[1:])) or shares[-1] != 100:
            problems.bad(S.SHEET_SCHEDULE, row, None, "targets.schedule.not_monotonic")
        else:
            planned[rec["指标编号"]] = [s / 100 for s in shares]
    return pd.DataFrame.from_dict(planned, orient="index", columns=range(1, 13))


def _report_settings(sheets: dict, problems: _Problems) -> dict:
    """The optional 通报设置 sheet: known keys only, each once (下步要求 on as many rows as there are paragraphs)."""
    frame = _frame(S.SHEET_REPORT, sheets[S.SHEET_REPORT], S.SETTINGS_COLUMNS, problems)
    if frame is None:
        return {}
    out, paragraphs = {}, []
    for row, rec in zip(frame.index, _records(frame[S.SETTINGS_COLUMNS])):
        key, value = _text(rec["设置项"]), _text(rec["值"])
        if key not in S.REPORT_DEFAULTS:
            problems.bad(S.SHEET_REPORT, row, "设置项", "targets.report.unknown_key", key=key)
        elif key == S.REPORT_REQUIREMENTS:
            paragraphs += [line.strip() for line in value.splitlines() if line.strip()]
        elif key in out:
            problems.bad(S.SHEET_REPORT, row, "设置项", "targets.report.duplicate_key", key=key)
        elif value:  # a blank value keeps the default
            out[key] = value
    if paragraphs:
        out[S.REPORT_REQUIREMENTS] = tuple(paragraphs)
    return out


def load_targets(path: str | Path) -> Targets:
    """Load ``targets.xlsx``; raise TargetTableError listing every problem."""
    path = Path(path)
    targets, problems = parse_targets(path.read_bytes(), source=str(path))
    if problems:
        raise TargetTableError(problems)
    return targets
