"""Load and validate the target table (data/targets.xlsx).

The workbook is the one source of truth for projects, indicators, annual
targets and county splits. ``load_targets`` refuses a broken table with every
problem named by sheet, row and column, rather than guessing.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from lib import schema as S


@dataclass(frozen=True)
class TargetProblem:
    sheet: str
    row: int | None  # Excel row number (header is row 1)
    column: str | None
    message: str

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


def _frame(sheet: str, rows: list[list], required: list[str], problems: list) -> pd.DataFrame | None:
    if not rows:
        problems.append(TargetProblem(sheet, None, None, "工作表为空，应有表头行。"))
        return None
    header = [_text(v) for v in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(TargetProblem(sheet, 1, "、".join(missing), "缺少必需的列，请按原表头恢复。"))
        return None
    body = [r + [None] * (len(header) - len(r)) for r in rows[1:]]
    # Drop trailing fully blank rows Excel leaves after deletions.
    kept = [i for i, r in enumerate(body) if not all(_blank(v) for v in r)]
    frame = pd.DataFrame([body[i] for i in kept], columns=header)
    frame = frame.loc[:, [c for c in header if c]]
    frame.index = [i + 2 for i in kept]  # Excel row numbers, for messages
    return frame


def parse_targets(data: bytes, source: str = "") -> tuple[Targets | None, list[TargetProblem]]:
    """Parse and validate a target workbook. Returns (targets or None, problems)."""
    problems: list[TargetProblem] = []
    try:
        sheets = _read_sheets(data)
    except Exception as exc:  # calamine raises several error types for bad files
        return None, [TargetProblem("（文件）", None, None, f"无法读取目标表：{exc}")]
    required = {
        S.SHEET_PROJECTS: S.PROJECT_COLUMNS,
        S.SHEET_INDICATORS: S.INDICATOR_COLUMNS,
        S.SHEET_SPLITS: S.SPLIT_COLUMNS,
        S.SHEET_UNITS: S.UNIT_COLUMNS,
        S.SHEET_SETTINGS: S.SETTINGS_COLUMNS,
    }
    frames = {}
    for sheet, cols in required.items():
        if sheet not in sheets:
            problems.append(TargetProblem(sheet, None, None, "缺少该工作表。"))
            continue
        frames[sheet] = _frame(sheet, sheets[sheet], cols, problems)
    if problems or any(f is None for f in frames.values()):
        return None, problems

    projects = frames[S.SHEET_PROJECTS]
    indicators = frames[S.SHEET_INDICATORS]
    splits = frames[S.SHEET_SPLITS]
    units = frames[S.SHEET_UNITS]
    settings_frame = frames[S.SHEET_SETTINGS]

    def bad(sheet, row, col, msg):
        problems.append(TargetProblem(sheet, row, col, msg))

    # --- units
    for col in units.columns:
        units[col] = units[col].map(_text)
    for row, rec in units.iterrows():
        if not rec["单位名称"]:
            bad(S.SHEET_UNITS, row, "单位名称", "单位名称不能为空。")
        if rec["类型"] not in S.UNIT_TYPES:
            bad(S.SHEET_UNITS, row, "类型", f"应为 {'/'.join(S.UNIT_TYPES)} 之一，现为“{rec['类型']}”。")
        if rec["是否填报单位"] not in (S.YES, S.NO):
            bad(S.SHEET_UNITS, row, "是否填报单位", f"应为“是”或“否”，现为“{rec['是否填报单位']}”。")
    for row in units.index[units["单位名称"].duplicated() & (units["单位名称"] != "")]:
        bad(S.SHEET_UNITS, row, "单位名称", f"单位“{units.at[row, '单位名称']}”重复出现。")
    unit_names = set(units["单位名称"])
    counties = set(units.loc[(units["类型"] == S.UNIT_TYPE_COUNTY) & (units["单位名称"] != S.ALL_COUNTIES), "单位名称"])

    # --- projects
    for col in S.PROJECT_COLUMNS:
        if col != "项目序号":
            projects[col] = projects[col].map(_text)
    numbers = []
    for row, rec in projects.iterrows():
        n = _number(rec["项目序号"])
        if n is None or not float(n).is_integer() or n < 1:
            bad(S.SHEET_PROJECTS, row, "项目序号", f"应为正整数，现为“{_text(rec['项目序号'])}”。")
            numbers.append(None)
        else:
            numbers.append(int(n))
        for col in ("类别", "项目名称", "牵头单位"):
            if not rec[col]:
                bad(S.SHEET_PROJECTS, row, col, "不能为空。")
        if rec["牵头单位"] and rec["牵头单位"] not in unit_names:
            bad(S.SHEET_PROJECTS, row, "牵头单位", f"单位“{rec['牵头单位']}”不在“单位”表中。")
        for u in filter(None, rec["协办单位"].split("、")):
            if u not in unit_names:
                bad(S.SHEET_PROJECTS, row, "协办单位", f"单位“{u}”不在“单位”表中。")
        if rec["县市区承办"] not in (S.YES, S.NO):
            bad(S.SHEET_PROJECTS, row, "县市区承办", "应为“是”或“否”。")
    projects["项目序号"] = pd.array(numbers, dtype="Int64")
    for row in projects.index[projects["项目序号"].duplicated() & projects["项目序号"].notna()]:
        bad(S.SHEET_PROJECTS, row, "项目序号", f"项目序号 {projects.at[row, '项目序号']} 重复。")
    project_ids = set(projects["项目序号"].dropna())

    # --- indicators
    for col in (S.COL_QUOTE, S.COL_BASIS, S.COL_SPLIT_RULE):
        if col not in indicators.columns:  # optional: a table from before the column loads as blank (exact)
            indicators[col] = ""
    for col in indicators.columns:
        if col not in ("项目序号", "年度目标"):
            indicators[col] = indicators[col].map(_text)
    basis_choices = "/".join(b for b in S.TARGET_BASES if b)
    lead = dict(zip(projects["项目序号"], projects["牵头单位"]))
    targets_col, pids = [], []
    # Plain dicts, not iterrows (a Series per row): a scaled table has hundreds of indicators.
    for row, rec in zip(indicators.index, _records(indicators)):
        code = rec["指标编号"]
        if not code:
            bad(S.SHEET_INDICATORS, row, "指标编号", "指标编号不能为空。")
        pid = _number(rec["项目序号"])
        pid = int(pid) if pid is not None and float(pid).is_integer() else None
        pids.append(pid)
        if pid not in project_ids:
            bad(S.SHEET_INDICATORS, row, "项目序号", f"项目序号“{_text(rec['项目序号'])}”不在“项目”表中。")
        if not rec["指标名称"]:
            bad(S.SHEET_INDICATORS, row, "指标名称", "不能为空。")
        kind = rec["指标类型"]
        if kind not in S.INDICATOR_TYPES:
            bad(S.SHEET_INDICATORS, row, "指标类型", f"应为 {'/'.join(S.INDICATOR_TYPES)} 之一，现为“{kind}”。")
        target = None if _blank(rec["年度目标"]) else _number(rec["年度目标"])
        if kind in S.QUANTITATIVE_TYPES:
            if target is None:
                bad(S.SHEET_INDICATORS, row, "年度目标", f"量化指标的年度目标应为数字，现为“{_text(rec['年度目标'])}”。")
            elif target <= 0:
                bad(S.SHEET_INDICATORS, row, "年度目标", "年度目标应大于 0。")
            if not rec["计量单位"]:
                bad(S.SHEET_INDICATORS, row, "计量单位", "量化指标须填写计量单位。")
        elif kind == S.TYPE_QUALITATIVE and not _blank(rec["年度目标"]):
            bad(S.SHEET_INDICATORS, row, "年度目标", "定性指标不填年度目标。")
        targets_col.append(target)
        basis = rec[S.COL_BASIS]
        if basis not in S.TARGET_BASES:
            bad(S.SHEET_INDICATORS, row, S.COL_BASIS,
                f"应为 {basis_choices} 之一，或留空（按年度目标本身），现为“{basis}”。")
        elif basis and kind == S.TYPE_QUALITATIVE:
            bad(S.SHEET_INDICATORS, row, S.COL_BASIS, f"定性指标没有年度目标，“{S.COL_BASIS}”应留空，现为“{basis}”。")
        elif basis == S.BASIS_CEILING and kind in S.QUANTITATIVE_TYPES and kind != S.TYPE_RATE:
            bad(S.SHEET_INDICATORS, row, S.COL_BASIS,
                f"“{S.BASIS_CEILING}”只用于{S.TYPE_RATE}指标（某一水平不超过上限）；{kind}指标越多越好，请留空或改用“以上”等。")
        if rec["分解到县"] not in (S.YES, S.NO):
            bad(S.SHEET_INDICATORS, row, "分解到县", "应为“是”或“否”。")
        elif rec["分解到县"] == S.YES and kind != S.TYPE_COUNT:
            bad(S.SHEET_INDICATORS, row, "分解到县", f"只有“{S.TYPE_COUNT}”指标可以分解到县，{kind}指标不分解。")
        if not rec["填报单位"] and pid in lead:
            indicators.at[row, "填报单位"] = lead[pid]
        elif rec["填报单位"] not in unit_names:
            bad(S.SHEET_INDICATORS, row, "填报单位", f"单位“{rec['填报单位']}”不在“单位”表中。")
    indicators["项目序号"] = pd.array(pids, dtype="Int64")
    indicators["年度目标"] = pd.array(targets_col, dtype="Float64")
    for row in indicators.index[indicators["指标编号"].duplicated() & (indicators["指标编号"] != "")]:
        bad(S.SHEET_INDICATORS, row, "指标编号", f"指标编号“{indicators.at[row, '指标编号']}”重复。")
    used_projects = set(indicators["项目序号"].dropna())
    for row, rec in projects.iterrows():
        if pd.notna(rec["项目序号"]) and rec["项目序号"] not in used_projects:
            bad(S.SHEET_PROJECTS, row, "项目序号", f"项目 {rec['项目序号']} 没有任何指标，请在“指标”表中至少列一项（可为定性）。")

    # --- splits
    splits["指标编号"] = splits["指标编号"].map(_text)
    splits["县市区"] = splits["县市区"].map(_text)
    splits["来源"] = splits["来源"].map(_text)
    kind_of = dict(zip(indicators["指标编号"], indicators["指标类型"]))
    split_flag = dict(zip(indicators["指标编号"], indicators["分解到县"]))
    values = []
    # Plain dicts, not iterrows: a scaled or multi-year table has thousands of split rows.
    for row, rec in zip(splits.index, _records(splits[S.SPLIT_COLUMNS])):
        v = _number(rec["分解目标"])
        values.append(v)
        if rec["指标编号"] not in kind_of:
            bad(S.SHEET_SPLITS, row, "指标编号", f"指标“{rec['指标编号']}”不在“指标”表中。")
        elif kind_of[rec["指标编号"]] in (S.TYPE_RATE, S.TYPE_INCREASE):
            bad(S.SHEET_SPLITS, row, "指标编号", f"“{rec['指标编号']}”是{kind_of[rec['指标编号']]}指标，不能分解到县。")
        elif split_flag[rec["指标编号"]] != S.YES:
            bad(S.SHEET_SPLITS, row, "指标编号", f"“{rec['指标编号']}”在“指标”表中未标为分解到县，请把“分解到县”改为“是”或删除此行。")
        if rec["县市区"] not in counties:
            bad(S.SHEET_SPLITS, row, "县市区", f"“{rec['县市区']}”不是“单位”表中的县市区。")
        if v is None or v < 0:
            bad(S.SHEET_SPLITS, row, "分解目标", f"应为不小于 0 的数字，现为“{_text(rec['分解目标'])}”。")
    splits["分解目标"] = pd.array(values, dtype="Float64")
    for row in splits.index[splits.duplicated(["指标编号", "县市区"])]:
        bad(S.SHEET_SPLITS, row, "县市区", f"“{splits.at[row, '指标编号']}”在“{splits.at[row, '县市区']}”的分解重复。")
    sums = splits.groupby("指标编号")["分解目标"].sum()
    for row, rec in zip(indicators.index, _records(indicators)):
        if rec["分解到县"] != S.YES or rec["指标类型"] != S.TYPE_COUNT:
            continue
        code = rec["指标编号"]
        if code not in sums.index:
            bad(S.SHEET_INDICATORS, row, "分解到县", f"“{code}”标为分解到县，但“分解”表中没有它的分解。")
        elif pd.notna(rec["年度目标"]) and not math.isclose(float(sums[code]), float(rec["年度目标"]), abs_tol=1e-6):
            bad(S.SHEET_SPLITS, None, "分解目标",
                f"“{code}”各县市区分解目标之和为 {float(sums[code]):g}，与年度目标 {float(rec['年度目标']):g} 不一致。")

    # --- settings
    settings = {}
    for _, rec in settings_frame.iterrows():
        key = _text(rec["设置项"])
        value = rec["值"]
        settings[key] = int(value) if isinstance(value, float) and value.is_integer() else value
    for key, lo, hi in ((S.SETTING_YEAR, 2000, 2100), (S.SETTING_DEADLINE_DAY, 1, 28),
                        (S.SETTING_LAG, 0, 100), (S.SETTING_SEVERE, 0, 100)):
        if key not in settings and key != S.SETTING_YEAR:
            continue
        v = _number(settings.get(key))
        if v is None or not lo <= v <= hi:
            bad(S.SHEET_SETTINGS, None, key, f"“{key}”应为 {lo} 到 {hi} 之间的数字，现为“{_text(settings.get(key))}”。")
    lag, severe = _number(settings.get(S.SETTING_LAG, S.DEFAULT_LAG)), _number(settings.get(S.SETTING_SEVERE, S.DEFAULT_SEVERE))
    if lag is not None and severe is not None and severe <= lag:
        bad(S.SHEET_SETTINGS, None, S.SETTING_SEVERE, "严重滞后阈值应大于滞后阈值。")

    # --- optional milestone schedule: 指标编号, 1月 … 12月 as planned %.
    schedule = None
    if S.SHEET_SCHEDULE in sheets:
        months = [f"{m}月" for m in range(1, 13)]
        frame = _frame(S.SHEET_SCHEDULE, sheets[S.SHEET_SCHEDULE], ["指标编号"] + months, problems)
        if frame is not None:
            frame["指标编号"] = frame["指标编号"].map(_text)
            rows = {}
            for row, rec in frame.iterrows():
                if rec["指标编号"] not in kind_of:
                    bad(S.SHEET_SCHEDULE, row, "指标编号", f"指标“{rec['指标编号']}”不在“指标”表中。")
                    continue
                shares = [_number(rec[m]) for m in months]
                if any(s is None or not 0 <= s <= 100 for s in shares):
                    bad(S.SHEET_SCHEDULE, row, None, "每月计划进度应为 0 到 100 之间的数字（百分比）。")
                elif any(b < a for a, b in zip(shares, shares[1:])) or shares[-1] != 100:
                    bad(S.SHEET_SCHEDULE, row, None, "计划进度应逐月不减，且 12 月为 100。")
                else:
                    rows[rec["指标编号"]] = [s / 100 for s in shares]
            schedule = pd.DataFrame.from_dict(rows, orient="index", columns=range(1, 13))

    report = _report_settings(sheets, problems) if S.SHEET_REPORT in sheets else {}

    if problems:
        return None, problems
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


def _report_settings(sheets: dict, problems: list) -> dict:
    """The optional 通报设置 sheet: known keys only, each once (下步要求 on as many rows as there are paragraphs)."""
    frame = _frame(S.SHEET_REPORT, sheets[S.SHEET_REPORT], S.SETTINGS_COLUMNS, problems)
    if frame is None:
        return {}
    out, paragraphs = {}, []
    for row, rec in zip(frame.index, _records(frame[S.SETTINGS_COLUMNS])):
        key, value = _text(rec["设置项"]), _text(rec["值"])
        if key not in S.REPORT_DEFAULTS:
            problems.append(TargetProblem(S.SHEET_REPORT, row, "设置项", f"“{key}”不是通报设置项，应为 "
                                          f"{'、'.join(S.REPORT_DEFAULTS)} 之一。"))
        elif key == S.REPORT_REQUIREMENTS:
            paragraphs += [line.strip() for line in value.splitlines() if line.strip()]
        elif key in out:
            problems.append(TargetProblem(S.SHEET_REPORT, row, "设置项", f"“{key}”重复出现，请只保留一行。"))
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
