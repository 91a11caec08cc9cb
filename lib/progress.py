"""The progress engine: every number the dashboard shows comes from here.

Pure pandas functions of (targets, current submission rows, as-of month).
``rows`` is ``Store.current_rows()``: one row per (unit, month, 指标编号, 县市区)
of the current version of each accepted submission.

CLI: ``python -m lib.progress --as-of 2024-06 --level project`` prints the table
of that level as CSV (UTF-8 with BOM); ``--published [--revision N]`` prints the published one (lib.publish).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date, datetime

import numpy as np
import pandas as pd

from lib import logs
from lib import schema as S
from lib.calendar import deadline
from lib.status import (
    classify_reported,
    classify_series,
    completion_rates,
    credited,
    planned_share,
    planned_shares,
    worst,
)
from lib.targets import Targets

# Columns of the indicator-level table (one row per indicator × 县市区, and 全市).
DETAIL_COLUMNS = [
    "指标编号", "项目序号", "类别", "项目名称", "指标名称", "计量单位", "指标类型", "牵头单位", "填报单位", "县市区", "层级",
    "年度目标", "目标口径", "累计完成", "数据月份", "完成率", "序时进度", "差距", "状态", "进展状态", "进展情况", "存在问题", "下步计划",
]
LEVEL_CITY, LEVEL_COUNTY = "全市", "县市区"
# Columns every aggregate level shares, after its key columns.
AGGREGATE_COLUMNS = ["完成率", "序时进度", "差距", "状态", "项目数", "指标数", "已报送指标数"] + S.STATUSES
LEVELS = ["indicator", "project", "category", "unit", "county", "city", "compliance"]

ON_TIME, LATE, MISSING, NOT_DUE = "按时", "逾期", "未报", "未到期"
COMPLIANCE_STATES = [ON_TIME, LATE, MISSING, NOT_DUE]
RECENT_MONTHS = 3  # the projection extrapolates the pace of the last three months


def _indicator_frame(targets: Targets) -> pd.DataFrame:
    """Static indicator attributes joined with their project (cached on the targets)."""
    def build() -> pd.DataFrame:
        proj = targets.projects[["项目序号", "类别", "项目名称", "牵头单位"]]
        ind = targets.indicators[["指标编号", "项目序号", "指标名称", "计量单位", "指标类型", "年度目标", S.COL_BASIS,
                                  "分解到县", "填报单位"]]
        return ind.merge(proj, on="项目序号", how="left")

    return targets.cached(("indicator_frame",), build)


def _skeleton(targets: Targets) -> pd.DataFrame:
    """One row per (indicator, 县市区) the engine reports, with its annual target."""
    return targets.cached(("skeleton",), lambda: _build_skeleton(targets))


def _build_skeleton(targets: Targets) -> pd.DataFrame:
    ind = _indicator_frame(targets)
    city = ind.assign(县市区=S.CITY, 层级=LEVEL_CITY)
    split = targets.splits.loc[targets.splits["分解目标"] > 0, ["指标编号", "县市区", "分解目标"]]
    split = split.rename(columns={"分解目标": "年度目标"})
    county = split.merge(ind.drop(columns=["年度目标"]), on="指标编号", how="inner").assign(层级=LEVEL_COUNTY)
    frame = pd.concat([city, county], ignore_index=True)
    frame["年度目标"] = frame["年度目标"].astype("float64")
    return frame


def detail_months(targets: Targets, rows: pd.DataFrame, months) -> pd.DataFrame:
    """``detail`` of several as-of months in one vectorised pass, stacked with a 月份 column (month by month, each
    month's rows in the skeleton's order).

    Each (indicator, 县市区) takes its latest accepted row at or before the month (of several rows of one key and
    month, the last given). One as-of lookup for all months, on positions: a table of a few indicators costs what
    numpy costs, not a merge's and a groupby's fixed overhead.
    """
    months = sorted({int(m) for m in months})
    base = _skeleton(targets)
    keys, key_of = _skeleton_keys(targets)
    n, k = len(base), len(months)
    frame = base.take(np.tile(np.arange(n), k)).reset_index(drop=True) if k > 1 else base.copy(deep=False)
    frame["月份"] = np.repeat(np.asarray(months, dtype="int64"), n)
    reported = rows.loc[(rows["年度"] == targets.year) & (rows["月份"] <= months[-1]), REPORTED_COLUMNS]
    found = _latest_at_or_before(reported, keys, key_of, months, n)
    taken = {c: pd.api.extensions.take(reported[c].array, found, allow_fill=True) for c in REPORTED_COLUMNS[3:]}
    for col in REPORTED_COLUMNS[3:]:
        frame[col] = taken[col]
    frame["数据月份"] = pd.api.extensions.take(reported["月份"].to_numpy(dtype="float64"), found, allow_fill=True)
    # Fill the 全市 value of split indicators from the county sum where not reported.
    need = (frame["层级"] == LEVEL_CITY) & (frame["分解到县"] == S.YES) & frame["累计完成"].isna()
    if need.any():
        totals, latest = _county_sums(targets, frame, np.flatnonzero(need.to_numpy()), n)
        frame.loc[need, "累计完成"] = totals
        frame.loc[need, "数据月份"] = latest
    quantitative = frame["指标类型"] != S.TYPE_QUALITATIVE
    bases = frame[S.COL_BASIS]
    frame["完成率"] = completion_rates(frame["累计完成"], frame["年度目标"], bases).where(quantitative)
    frame["序时进度"] = planned_shares(frame["月份"], frame["指标编号"], targets.schedule, bases)
    frame["差距"] = (frame["完成率"] - frame["序时进度"]) * 100
    status = classify_series(frame["完成率"], frame["序时进度"], targets.lag_threshold, targets.severe_threshold, bases)
    qualitative = ~quantitative
    if qualitative.any():
        status[qualitative] = [classify_reported(s if isinstance(s, str) else None, p)
                               for s, p in zip(frame.loc[qualitative, "进展状态"], frame.loc[qualitative, "序时进度"])]
    frame["状态"] = status
    for col in ("进展状态", "进展情况", "存在问题", "下步计划"):
        frame[col] = frame[col].fillna("")
    frame["数据月份"] = frame["数据月份"].astype("Int64")
    return frame[DETAIL_COLUMNS + ["月份"]]


# The columns of a reported row the detail takes (its key, month and values).
REPORTED_COLUMNS = ["指标编号", "县市区", "月份", "累计完成", "进展状态", "进展情况", "存在问题", "下步计划"]


def _skeleton_keys(targets: Targets) -> tuple[dict, np.ndarray]:
    """Each (指标编号, 县市区) of the skeleton numbered ({key: number}), and each skeleton row's number."""
    def build():
        base = _skeleton(targets)
        numbers: dict = {}
        of = [numbers.setdefault(key, len(numbers)) for key in zip(base["指标编号"], base["县市区"])]
        return numbers, np.asarray(of, dtype="int64")

    return targets.cached(("skeleton_keys",), build)


def _latest_at_or_before(reported: pd.DataFrame, numbers: dict, key_of: np.ndarray, months: list[int],
                         n: int) -> np.ndarray:
    """For each row of the stacked skeleton (``months`` × ``n`` rows), the position in ``reported`` of its key's
    latest row at or before the month (of rows of one key and month, the last), -1 where there is none: an as-of
    join (``pd.merge_asof(..., direction="backward")``) on positions."""
    ids = np.fromiter((numbers.get(key, -1) for key in zip(reported["指标编号"], reported["县市区"])),
                      dtype="int64", count=len(reported))
    at = np.flatnonzero(ids >= 0)
    wanted = np.tile(key_of, len(months))
    if not len(at):
        return np.full(len(wanted), -1, dtype="int64")
    month = reported["月份"].to_numpy(dtype="int64")[at]
    low = min(int(month.min()), months[0])
    span = max(int(month.max()), months[-1]) - low + 1
    combined = ids[at] * span + (month - low)
    order = np.argsort(combined, kind="stable")  # by key and month; rows of one key and month in given order
    combined, at = combined[order], at[order]
    query = wanted * span + (np.repeat(np.asarray(months, dtype="int64"), n) - low)
    last = np.searchsorted(combined, query, side="right") - 1
    hit = last >= 0
    hit[hit] = combined[last[hit]] // span == wanted[hit]
    return np.where(hit, at[np.maximum(last, 0)], -1)


def _county_rows(targets: Targets) -> list[np.ndarray]:
    """Each skeleton row's county rows (positions in the skeleton) of the same indicator (none for a county row)."""
    def build():
        base = _skeleton(targets)
        by_code: dict = {}
        for pos, (code, level) in enumerate(zip(base["指标编号"], base["层级"])):
            if level == LEVEL_COUNTY:
                by_code.setdefault(code, []).append(pos)
        return [np.asarray(by_code.get(code, []) if level == LEVEL_CITY else [], dtype="int64")
                for code, level in zip(base["指标编号"], base["层级"])]

    return targets.cached(("county_rows",), build)


def _county_sums(targets: Targets, frame: pd.DataFrame, need: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For the stacked detail's 全市 rows at positions ``need``: the sum of their indicator's county 累计完成 of the
    same month (NaN where no county reported) and the latest of those rows' 数据月份.

    The sum is ``math.fsum``, the correctly rounded sum of the reported values: it does not depend on their order nor
    on the other rows of the frame. pandas' grouped sum does (a plain running sum where the group keys come sorted
    and no value is missing, a compensated one otherwise), so a month computed alone and the same month stacked with
    others differed in the last bit (a published figure must be reproduced exactly: ``lib.publish.verify``)."""
    counties = _county_rows(targets)
    parts = [counties[p % n] + (p - p % n) for p in need]
    sizes = np.fromiter((len(part) for part in parts), dtype="int64", count=len(parts))
    rows = np.concatenate(parts) if parts else np.zeros(0, dtype="int64")
    group = np.repeat(np.arange(len(need)), sizes)

    def per_group(column: str, combine) -> np.ndarray:
        values = frame[column].to_numpy(dtype="float64")[rows]
        given = ~np.isnan(values)
        values, ids = values[given], group[given]
        out = np.full(len(need), np.nan)
        if len(values):
            bounds = np.flatnonzero(np.diff(ids)) + 1
            out[ids[np.r_[0, bounds]]] = [combine(part) for part in np.split(values, bounds)]
        return out

    return per_group("累计完成", math.fsum), per_group("数据月份", np.max)


def detail(targets: Targets, rows: pd.DataFrame, month: int) -> pd.DataFrame:
    """Indicator × 县市区 table as of ``month`` (DETAIL_COLUMNS).

    City values: a split indicator's 全市 value is its reported 全市 row when
    given, else the sum of its county rows; 比率/提高幅度 are never summed.
    """
    return detail_months(targets, rows, [month]).drop(columns=["月份"])


def detail_each(targets: Targets, rows: pd.DataFrame, months) -> dict[int, pd.DataFrame]:
    """``detail`` of each of several months from one ``detail_months`` pass: {month: table}, each equal to
    ``detail(targets, rows, month)`` bit for bit (tests/test_stacked_months.py). The overview shows a month beside
    the month before (status changes): one pass costs about what one month costs alone."""
    stacked = detail_months(targets, rows, months)
    n = len(_skeleton(targets))
    return {m: stacked.iloc[i * n:(i + 1) * n].drop(columns=["月份"]).reset_index(drop=True)
            for i, m in enumerate(sorted({int(m) for m in months}))}


def _default_shares(months: np.ndarray, month: int | None):
    """序时进度 of a row without quantitative indicators: ``month``'s, or, for stacked months (month None),
    each row's month in ``months`` (``planned_share`` with no indicator: no schedule applies)."""
    if month is not None:
        return planned_share(month)
    return planned_shares(pd.Series(months)).to_numpy()


def _groups(frame: pd.DataFrame, keys: list[str], sort: bool = True,
            where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The rows of ``frame`` numbered by group as ``frame.groupby(keys, sort=sort)`` numbers its groups (sorted by
    key, or in order of first appearance): each row's group (-1 for a row outside ``where`` or with a missing key),
    each group's first row, and the number of groups."""
    inside = np.ones(len(frame), dtype=bool) if where is None else where.copy()
    combined = np.zeros(len(frame), dtype="int64")
    for key in keys:
        values = frame[key]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
            uniques, codes = np.unique(values.to_numpy(), return_inverse=True)
        else:
            codes, uniques = pd.factorize(values, sort=True)
            inside &= codes >= 0
        combined = combined * (len(uniques) + 1) + codes
    rows = np.flatnonzero(inside)
    _, first, numbers = np.unique(combined[rows], return_index=True, return_inverse=True)
    if not sort:
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        numbers, first = rank[numbers], first[order]
    codes = np.full(len(frame), -1, dtype="int64")
    codes[rows] = numbers
    return codes, rows[first], len(first)


def _planned_and_status(targets: Targets, rates: np.ndarray, planned: np.ndarray, keys: dict,
                        month: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Each group's 序时进度 (``planned``; a group without quantitative indicators: ``_default_shares`` of ``month``,
    or of its 月份 in ``keys`` for stacked months) and the status of its rate against it (a writable array)."""
    planned = np.where(np.isnan(planned), _default_shares(keys["月份"].to_numpy() if month is None else None, month),
                       planned)
    status = classify_series(pd.Series(rates), pd.Series(planned), targets.lag_threshold,
                             targets.severe_threshold).to_numpy(copy=True)
    return planned, status


def _group_means(values: np.ndarray, codes: np.ndarray, n: int, where: np.ndarray) -> np.ndarray:
    """Each group's mean of ``values`` (rows in ``where``), NaN for a group without one: pandas' grouped mean over
    the rows in frame order, so bit for bit what ``groupby(...).mean()`` gives (its sum is compensated)."""
    out = np.full(n, np.nan)
    if where.any():
        means = pd.Series(values[where], dtype="float64").groupby(codes[where]).mean()
        out[means.index.to_numpy()] = means.to_numpy()
    return out


def _group_sums(values: pd.Series, codes: np.ndarray, n: int, where: np.ndarray) -> np.ndarray:
    """Each group's sum of ``values`` (rows in ``where``; every group has one), as ``groupby(...).sum()``: integers
    stay integers, floats skip NaN."""
    values = values.to_numpy()
    if values.dtype.kind in "iu":
        out = np.zeros(n, dtype="int64")
        np.add.at(out, codes[where], values[where])
        return out
    return pd.Series(values[where]).groupby(codes[where]).sum().to_numpy()


def _worst_of_groups(statuses: np.ndarray, codes: np.ndarray, n: int, where: np.ndarray) -> list:
    """``worst`` of each group's statuses (rows in ``where``); None for a group without such a row."""
    members: list = [None] * n
    for code, status in zip(codes[where], statuses[where]):
        if members[code] is None:
            members[code] = []
        members[code].append(status)
    return [None if m is None else worst(m) for m in members]


def _key_columns(frame: pd.DataFrame, keys: list[str], first: np.ndarray) -> dict:
    return {key: frame[key].take(first).reset_index(drop=True) for key in keys}


def _project_rows(targets: Targets, frame: pd.DataFrame, month: int | None, group: list[str],
                  where: np.ndarray | None = None) -> pd.DataFrame:
    """Project-level figures from indicator rows (those in ``where``) grouped by ``group`` (项目序号, and 县市区 for
    counties), in key order: the mean of the quantitative indicators' capped rates and of their 序时进度, counts.

    ``month`` None: ``frame`` stacks several months and ``group`` includes 月份.
    """
    codes, first, n = _groups(frame, group, True, where)
    inside = codes >= 0
    quantitative = (frame["指标类型"] != S.TYPE_QUALITATIVE).to_numpy()
    quant, qual = inside & quantitative, inside & ~quantitative
    rate = frame["完成率"]
    rates = _group_means(credited(rate, frame[S.COL_BASIS]).to_numpy(), codes, n, quant)
    planned = _group_means(frame["序时进度"].to_numpy(dtype="float64"), codes, n, quant)
    statuses = frame["状态"].to_numpy()
    reported = (np.bincount(codes[quant & rate.notna().to_numpy()], minlength=n)
                + np.bincount(codes[qual & (frame["状态"] != S.STATUS_MISSING).to_numpy()], minlength=n))
    out = _key_columns(frame, group, first)
    planned, status = _planned_and_status(targets, rates, planned, out, month)
    qualitative_states = _worst_of_groups(statuses, codes, n, qual)
    for i, state in enumerate(qualitative_states):
        if state is not None and np.isnan(rates[i]):
            status[i] = state
    out.update({"指标数": np.bincount(codes[inside], minlength=n), "完成率": rates, "序时进度": planned,
                "已报送指标数": reported.astype("int64"), "状态": pd.Series(status, dtype="object"),
                "差距": (rates - planned) * 100, "项目数": np.ones(n, dtype="int64")})
    out.update({s: (status == s).astype("int64") for s in S.STATUSES})
    return pd.DataFrame(out)


def project_table(targets: Targets, rows: pd.DataFrame, month: int, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per project: mean of its quantitative indicators' capped rates (city level)."""
    table = detail(targets, rows, month) if table is None else table
    return project_tables(targets, table.assign(月份=month)).drop(columns=["月份"])


def project_tables(targets: Targets, stacked: pd.DataFrame) -> pd.DataFrame:
    """``project_table`` of every month of a ``detail_months`` frame at once, stacked with a 月份 column: every
    project of the target table each month, its figures missing (NaN) where the frame has none of its rows."""
    out = _project_rows(targets, stacked, None, ["月份", "项目序号"], (stacked["层级"] == LEVEL_CITY).to_numpy())
    info = targets.projects[["项目序号", "类别", "项目名称", "牵头单位"]]
    months = np.sort(stacked["月份"].unique())
    grid = info.take(np.tile(np.arange(len(info)), len(months))).reset_index(drop=True)
    grid["月份"] = np.repeat(months, len(info))
    found = dict(zip(zip(out["月份"], out["项目序号"]), range(len(out))))
    at = np.fromiter((found.get(key, -1) for key in zip(grid["月份"], grid["项目序号"])), dtype="int64",
                     count=len(grid))
    columns = {c: grid[c] for c in ["项目序号", "类别", "项目名称", "牵头单位"]}
    # A left join: a project without rows has NaN figures (its counts then float, as pandas' merge makes them).
    for c in AGGREGATE_COLUMNS:
        taken = pd.api.extensions.take(out[c].to_numpy(), at, allow_fill=True)
        columns[c] = pd.Series(taken, dtype=taken.dtype)  # as taken: pandas would read object strings as str
    columns["月份"] = grid["月份"]
    return pd.DataFrame(columns)


def _roll_up(targets: Targets, projects: pd.DataFrame, key, month: int | None) -> pd.DataFrame:
    """Aggregate project rows by ``key`` (a column, or columns with 月份 when ``month`` is None), groups in order of
    first appearance: mean of project rates, sums of counts, the status of the mean (a group without rates: the
    worst of its projects' statuses)."""
    keys = [key] if isinstance(key, str) else list(key)
    codes, first, n = _groups(projects, keys, sort=False)
    inside = codes >= 0
    out = _key_columns(projects, keys, first)
    rates = _group_means(projects["完成率"].to_numpy(dtype="float64"), codes, n, inside)
    planned = _group_means(projects["序时进度"].to_numpy(dtype="float64"), codes, n, inside)
    planned, status = _planned_and_status(targets, rates, planned, out, month)
    no_rate = np.isnan(rates)
    if no_rate.any():
        worst_of = _worst_of_groups(projects["状态"].to_numpy(), codes, n, inside)
        status[no_rate] = [worst_of[i] for i in np.flatnonzero(no_rate)]
    out.update({"完成率": rates, "序时进度": planned, "差距": (rates - planned) * 100,
                "状态": pd.Series(status, dtype="object")})
    out.update({c: _group_sums(projects[c], codes, n, inside) for c in ["项目数", "指标数", "已报送指标数"] + S.STATUSES})
    return pd.DataFrame(out)[keys + AGGREGATE_COLUMNS]


# Roll-up levels of project rows and the column each groups by (the city level groups everything).
ROLL_UP_KEYS = {"category": "类别", "unit": "牵头单位", "city": "范围"}


def _level_roll_up(targets: Targets, projects: pd.DataFrame, level: str, month: int | None) -> pd.DataFrame:
    """The category / unit / city table from project rows; ``month`` None: stacked months, 月份 kept last."""
    key = ROLL_UP_KEYS[level]
    if level == "city":
        projects = projects.assign(范围="全市")
    if month is not None:
        return _roll_up(targets, projects, key, month)
    return _roll_up(targets, projects, ["月份", key], None)[[key] + AGGREGATE_COLUMNS + ["月份"]]


def category_table(targets, rows, month, projects: pd.DataFrame | None = None) -> pd.DataFrame:
    projects = project_table(targets, rows, month) if projects is None else projects
    return _level_roll_up(targets, projects, "category", month)


def unit_table(targets, rows, month, projects: pd.DataFrame | None = None) -> pd.DataFrame:
    """By lead unit (牵头单位)."""
    projects = project_table(targets, rows, month) if projects is None else projects
    return _level_roll_up(targets, projects, "unit", month)


def city_table(targets, rows, month, projects: pd.DataFrame | None = None) -> pd.DataFrame:
    projects = project_table(targets, rows, month) if projects is None else projects
    return _level_roll_up(targets, projects, "city", month)


def county_table(targets, rows, month, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """By 县市区, over the indicators split to that county (projects = those with a split there)."""
    table = detail(targets, rows, month) if table is None else table
    return county_tables(targets, table.assign(月份=month)).drop(columns=["月份"])


def county_tables(targets, stacked: pd.DataFrame) -> pd.DataFrame:
    """``county_table`` of every month of a ``detail_months`` frame, stacked with a 月份 column."""
    return county_roll_up(targets, county_project_rows(targets, stacked))


def county_project_rows(targets, stacked: pd.DataFrame) -> pd.DataFrame:
    """Each project's figures in each county (by 月份, 项目序号, 县市区) of a frame with a 月份 column: what the
    county roll-up averages. A project's rows do not depend on which other projects are counted, so the county
    table of some projects is ``county_roll_up`` of these rows narrowed to them (the dashboard's filters)."""
    return _project_rows(targets, stacked, None, ["月份", "项目序号", "县市区"],
                         (stacked["层级"] == LEVEL_COUNTY).to_numpy())


def county_roll_up(targets, per_project: pd.DataFrame) -> pd.DataFrame:
    """The county table (stacked with 月份) from ``county_project_rows``, counties in the target table's order."""
    out = _roll_up(targets, per_project, ["月份", "县市区"], None)
    rank = {c: i for i, c in enumerate(targets.counties)}
    ranks = np.fromiter((rank.get(c, np.nan) for c in out["县市区"]), dtype="float64", count=len(out))
    order = np.lexsort((ranks, out["月份"].to_numpy()))  # stable; a county not in the table last in its month
    return out.take(order)[["县市区"] + AGGREGATE_COLUMNS + ["月份"]].reset_index(drop=True)


def county_project_matrix(targets, rows, month, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """县市区 × 项目 gap (percentage points) for the county heatmap."""
    table = detail(targets, rows, month) if table is None else table
    return county_matrix(targets, county_project_rows(targets, table.assign(月份=month)))


def county_matrix(targets, per_project: pd.DataFrame) -> pd.DataFrame:
    """``county_project_matrix`` from one month's ``county_project_rows``."""
    names = targets.projects.set_index("项目序号")["项目名称"]
    labelled = per_project.assign(项目=per_project["项目序号"].map(lambda n: f"{n}. {names[n]}"))
    matrix = labelled.pivot(index="县市区", columns="项目", values="差距")
    columns = sorted(matrix.columns, key=lambda c: int(c.split(".", 1)[0]))
    return matrix.reindex(index=[c for c in targets.counties if c in matrix.index], columns=columns)


# --- one project's rows ------------------------------------------------------------

class ProjectRows:
    """A frame's rows grouped by project once: ``of(n)`` is ``frame[numbers == n]`` (same rows, order, index and
    dtypes) as a slice, not a mask over every row. The project page takes a project it has not shown yet from here
    (bench/RESULTS.md: the masks over the year's rows were most of a project's first visit)."""

    def __init__(self, frame: pd.DataFrame, numbers: pd.Series | None = None):
        numbers = (frame["项目序号"] if numbers is None else numbers).to_numpy()
        order = np.argsort(numbers, kind="stable")
        self.frame = frame.take(order)
        ordered = numbers[order]
        found, starts = np.unique(ordered, return_index=True)
        stops = np.append(starts[1:], len(ordered))
        self._bounds = {int(n): (int(a), int(b)) for n, a, b in zip(found, starts, stops)}

    def of(self, number: int) -> pd.DataFrame:
        start, stop = self._bounds.get(int(number), (0, 0))
        return self.frame.iloc[start:stop]


HISTORY_COLUMNS = ["月份", "指标", "县市区", "进展状态", "进展情况", "存在问题", "下步计划"]


def narrative_history(targets: Targets, rows: pd.DataFrame, month: int, counties=()) -> ProjectRows:
    """Each project's narrative rows up to ``month`` (HISTORY_COLUMNS), newest first, then by 指标编号 and 县市区: the
    rows that say something (进展情况, 存在问题 or 下步计划), of the chosen ``counties`` and the city-wide rows (every
    county when none is chosen). All projects in one pass; ``.of(n)`` is project n's."""
    numbers = dict(zip(targets.indicators["指标编号"], targets.indicators["项目序号"]))
    keep = (rows["月份"] <= month) & rows["指标编号"].isin(numbers.keys())
    if counties:
        keep &= rows["县市区"].isin(counties) | (rows["县市区"] == S.CITY)
    keep &= (rows[S.NARRATIVE_COLUMNS] != "").any(axis=1)
    said = rows[keep].sort_values(["月份", "指标编号", "县市区"], ascending=[False, True, True])
    names = dict(zip(targets.indicators["指标编号"], targets.indicators["指标名称"]))
    said = said.assign(指标=said["指标编号"] + " " + said["指标编号"].map(names))
    return ProjectRows(said[HISTORY_COLUMNS], said["指标编号"].map(numbers))


# --- trend, projection, changes -----------------------------------------------------

def trend(targets: Targets, rows: pd.DataFrame, month: int, level: str = "city",
          details: pd.DataFrame | None = None) -> pd.DataFrame:
    """The level's table for every month 1..month, stacked with a 月份 column (plus the plan line).

    ``details`` may be ``detail_months(targets, rows, range(1, month + 1))`` already computed
    (the dashboard caches it); every level is then computed for all months at once.
    """
    stacked = detail_months(targets, rows, range(1, month + 1)) if details is None else details
    stacked = stacked[stacked["月份"] <= month]
    if level == "indicator":
        return stacked.reset_index(drop=True)
    if level == "county":
        return county_tables(targets, stacked)
    projects = project_tables(targets, stacked)
    if level == "project":
        return projects
    return _level_roll_up(targets, projects, level if level in ROLL_UP_KEYS else "city", None)


def monthly_values(targets: Targets, rows: pd.DataFrame, month: int,
                   details: pd.DataFrame | None = None) -> pd.DataFrame:
    """City-level 累计完成 of each quantitative indicator for months 1..month (wide: 指标编号 × 月份)."""
    stacked = detail_months(targets, rows, range(1, month + 1)) if details is None else details
    city = stacked[(stacked["层级"] == LEVEL_CITY) & (stacked["月份"] <= month)]
    wide = city.pivot(index="指标编号", columns="月份", values="累计完成")
    return wide.reindex(index=pd.unique(city["指标编号"]), columns=range(1, month + 1))


def projection(targets: Targets, rows: pd.DataFrame, month: int,
               details: pd.DataFrame | None = None) -> pd.DataFrame:
    """Projected year-end completion of each 累计数量 indicator (city level), and the monthly amount still needed.

    A projection, not a forecast: the pace of the last RECENT_MONTHS months
    (cumulative values start the year at 0) is assumed to hold until December.
    比率/提高幅度 levels are not extrapolated.
    """
    wide = monthly_values(targets, rows, month, details)
    ind = _indicator_frame(targets).set_index("指标编号")
    counts = ind.index[ind["指标类型"] == S.TYPE_COUNT]
    wide = wide.reindex(counts)
    start = max(0, month - RECENT_MONTHS)
    current = wide[month]
    previous = wide[start].fillna(0.0) if start else pd.Series(0.0, index=wide.index)
    pace = (current - previous) / (month - start)
    remaining = 12 - month
    target = ind.loc[counts, "年度目标"].astype("float64")
    projected = current + pace.clip(lower=0) * remaining
    need = (target - current).clip(lower=0)
    return pd.DataFrame({
        "指标编号": counts,
        "累计完成": current.to_numpy(),
        "近期月均完成": pace.to_numpy(),
        "预计年末完成": projected.to_numpy(),
        "预计年末完成率": (projected / target).to_numpy(),
        "剩余月均需完成": (need / remaining).to_numpy() if remaining else np.where(need > 0, np.nan, 0.0),
    })


def status_changes(targets: Targets, rows: pd.DataFrame, month_from: int, month_to: int,
                   projects_from: pd.DataFrame | None = None, projects_to: pd.DataFrame | None = None) -> pd.DataFrame:
    """Projects whose status changed between two months, with the kind of change."""
    before = project_table(targets, rows, month_from) if projects_from is None else projects_from
    after = project_table(targets, rows, month_to) if projects_to is None else projects_to
    before = before[["项目序号", "项目名称", "状态", "完成率"]]
    after = after[["项目序号", "状态", "完成率"]]
    both = before.merge(after, on="项目序号", suffixes=("（前）", "（后）"))
    both = both[both["状态（前）"] != both["状态（后）"]].copy()
    behind = {S.STATUS_LAGGING, S.STATUS_SEVERE}

    def kind(row):
        was, now = row["状态（前）"] in behind, row["状态（后）"] in behind
        if now and not was:
            return "新增滞后"
        if was and not now:
            return "恢复正常"
        if now and was:
            return "加重" if row["状态（后）"] == S.STATUS_SEVERE else "减轻"
        return "其他变化"
    both["变化"] = both.apply(kind, axis=1) if len(both) else pd.Series(dtype="object")
    return both.reset_index(drop=True)


# --- compliance -----------------------------------------------------------------------

def compliance(targets: Targets, submissions: pd.DataFrame, month: int, today: date | None = None) -> pd.DataFrame:
    """填报单位 × 月份 -> 按时 / 逾期 / 未报 / 未到期 (first accepted version decides timeliness)."""
    today = today or date.today()
    subs = submissions[submissions["year"] == targets.year] if len(submissions) else submissions
    first = {}  # (unit, month) -> first received_at; a dict: one .loc per cell cost more than the rest
    if len(subs):
        earliest = subs.sort_values("received_at").drop_duplicates(["unit", "month"])
        first = dict(zip(zip(earliest["unit"], earliest["month"]), earliest["received_at"]))
    records = []
    for unit in targets.reporting_units:
        for m in range(1, month + 1):
            due = deadline(targets.year, m, targets.deadline_day)
            if (unit, m) in first:
                received = first[(unit, m)]
                received = datetime.fromisoformat(received) if isinstance(received, str) else received
                state = LATE if received > due else ON_TIME
            else:
                received = None
                state = NOT_DUE if datetime.combine(today, datetime.min.time()) <= due else MISSING
            records.append({"填报单位": unit, "月份": m, "报送情况": state, "截止时间": due, "首次接收时间": received})
    return pd.DataFrame(records)


def chase_list(targets: Targets, submissions: pd.DataFrame, month: int, today: date | None = None,
               table: pd.DataFrame | None = None) -> pd.DataFrame:
    """催报名单: units with nothing accepted for ``month``, with their lead projects.

    ``table`` may be the ``compliance`` table already computed (or published) for ``month``.
    """
    table = compliance(targets, submissions, month, today) if table is None else table
    pending = table[(table["月份"] == month) & table["报送情况"].isin([MISSING, NOT_DUE])]
    projects = targets.projects.groupby("牵头单位")["项目序号"].agg(lambda s: "、".join(str(n) for n in s))
    out = pending[["填报单位", "报送情况", "截止时间"]].copy()
    out["牵头项目"] = out["填报单位"].map(projects).fillna("")
    return out.reset_index(drop=True)


def latest_month(rows: pd.DataFrame, year: int) -> int | None:
    """The latest month with any accepted data in ``year``."""
    months = rows.loc[rows["年度"] == year, "月份"] if len(rows) else pd.Series(dtype="int64")
    return int(months.max()) if len(months) else None


def default_month(targets: Targets, rows: pd.DataFrame) -> int | None:
    """The as-of month the dashboard opens on: the latest month most reporting units have reported.

    One early report must not move the whole dashboard to a month the other
    units have not reached yet (their June values would all look behind July's
    plan). Falls back to the latest month with any data.
    """
    sel = rows[rows["年度"] == targets.year] if len(rows) else rows
    if not len(sel):
        return None
    reported = sel.groupby("月份")["填报单位"].nunique()
    enough = reported[reported * 2 >= len(targets.reporting_units)]
    return int(enough.index.max()) if len(enough) else int(reported.index.max())


def level_table(targets: Targets, rows: pd.DataFrame, submissions: pd.DataFrame, month: int, level: str,
                today: date | None = None) -> pd.DataFrame:
    """The table the dashboard shows at a level (as used by the CLI)."""
    if level == "indicator":
        return detail(targets, rows, month)
    if level == "compliance":
        return compliance(targets, submissions, month, today)
    if level == "county":
        return county_table(targets, rows, month)
    projects = project_table(targets, rows, month)
    if level == "project":
        return projects
    roll_up = {"category": category_table, "unit": unit_table, "city": city_table}[level]
    return roll_up(targets, rows, month, projects)


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    from lib.export import to_csv_bytes
    from lib.store import Store

    parser = argparse.ArgumentParser(description="按月份与层级输出进展表（CSV，UTF-8 BOM）")
    parser.add_argument("--as-of", required=True, help="截至月份，如 2024-06")
    parser.add_argument("--level", choices=LEVELS, default="project")
    parser.add_argument("--published", action="store_true", help="输出该月已发布的表（默认最新修订），而非实时数据")
    parser.add_argument("--revision", type=int, help="与 --published 同用：指定修订号")
    args = parser.parse_args(argv)
    store = Store()
    targets = store.targets()
    try:
        year, month = (int(x) for x in args.as_of.split("-"))
    except ValueError:
        parser.error("--as-of 应为 YYYY-MM")
    if year != targets.year or not 1 <= month <= 12:
        parser.error(f"--as-of 应在 {targets.year}-01 至 {targets.year}-12 之间")
    if args.published:
        from lib.publish import published_table

        table = published_table(store, year, month, args.level, args.revision)
        if table is None:
            which = f"修订 {args.revision}" if args.revision is not None else "任何修订"
            print(f"{year} 年 {month} 月没有{which}的发布记录。用 python -m lib.publish {year}-{month:02d} 发布。",
                  file=sys.stderr)
            return 1
    else:
        table = level_table(targets, store.current_rows(), store.submissions(), month, args.level)
    sys.stdout.buffer.write(to_csv_bytes(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
