"""The progress engine against figures computed by hand on a small target table."""

from __future__ import annotations

import io
import math
from datetime import date, datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from lib import progress as P
from lib import schema as S
from lib.status import classify
from lib.store import Store
from lib.targets import load_targets
from lib.template import build_template, fill_template

TODAY = date(2024, 7, 1)


def small_table(path):
    """Two projects, two units, two counties: a split count, a rate, a qualitative item."""
    wb = Workbook()
    wb.remove(wb.active)
    sheets = {
        S.SHEET_PROJECTS: [S.PROJECT_COLUMNS,
                           [1, "类一", "项目一", "内容一", "单位甲", S.ALL_COUNTIES, "是"],
                           [2, "类二", "项目二", "内容二", "单位乙", "", "否"]],
        S.SHEET_INDICATORS: [S.INDICATOR_COLUMNS,
                             ["P01-1", 1, "建设数量", "个", 100, S.TYPE_COUNT, "是", "单位甲"],
                             ["P01-2", 1, "覆盖率", "%", 62, S.TYPE_RATE, "否", "单位甲"],
                             ["P02-1", 2, "机制建设", "", None, S.TYPE_QUALITATIVE, "否", "单位乙"]],
        S.SHEET_SPLITS: [S.SPLIT_COLUMNS, ["P01-1", "县A", 60, "示例"], ["P01-1", "县B", 40, "示例"]],
        S.SHEET_UNITS: [S.UNIT_COLUMNS, ["单位甲", S.UNIT_TYPE_CITY, "是"], ["单位乙", S.UNIT_TYPE_CITY, "是"],
                        [S.ALL_COUNTIES, S.UNIT_TYPE_COUNTY, "否"], ["县A", S.UNIT_TYPE_COUNTY, "否"],
                        ["县B", S.UNIT_TYPE_COUNTY, "否"]],
        S.SHEET_SETTINGS: [S.SETTINGS_COLUMNS, [S.SETTING_YEAR, 2024], [S.SETTING_DEADLINE_DAY, 5],
                           [S.SETTING_LAG, 10], [S.SETTING_SEVERE, 30]],
    }
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small target table alone, for the properties of the pure computation: they touch no store, so they run
    once, not once per backend (the store's part is ``world``'s, on both)."""
    folder = tmp_path_factory.mktemp("small-table")
    small_table(folder / "targets.xlsx")
    return load_targets(folder / "targets.xlsx")


@pytest.fixture(scope="module")
def world(tmp_path_factory, module_backend):
    folder = tmp_path_factory.mktemp("small")
    small_table(folder / "targets.xlsx")
    store = Store(folder)
    targets = load_targets(folder / "targets.xlsx")

    def send(unit, month, entries, received):
        data = fill_template(build_template(targets, unit), f"2024-{month:02d}", entries)
        outcome = store.ingest(data, f"{unit}{month}.xlsx", targets=targets, received_at=received, today=TODAY)
        assert outcome.stored, [str(f) for f in outcome.result.findings]
        return outcome

    def jia(a, b, rate):
        return {("P01-1", "县A"): {"累计完成": a}, ("P01-1", "县B"): {"累计完成": b},
                ("P01-2", S.CITY): {"累计完成": rate}}

    send("单位甲", 3, jia(30, 10, 50), datetime(2024, 4, 3))  # superseded below
    send("单位甲", 3, jia(15, 10, 50), datetime(2024, 4, 4))
    send("单位甲", 5, jia(30, 20, 60), datetime(2024, 6, 10))  # late; April missing
    send("单位乙", 3, {("P02-1", S.CITY): {"进展状态": "正常推进"}}, datetime(2024, 4, 8))
    send("单位乙", 5, {("P02-1", S.CITY): {"进展状态": "滞后", "存在问题": "审批慢", "下步计划": "加快"}},
         datetime(2024, 6, 2))
    return targets, store.current_rows(), store.submissions()


def row(frame, **where):
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def test_detail_uses_latest_value_and_county_sum(world):
    targets, rows, _ = world
    table = P.detail(targets, rows, 4)
    city = row(table, 指标编号="P01-1", 县市区=S.CITY)
    assert city["累计完成"] == 25 and city["数据月份"] == 3  # superseded 30 not used; April missing -> March
    assert city["完成率"] == 0.25 and city["序时进度"] == pytest.approx(4 / 12)
    assert city["差距"] == pytest.approx(-8.3333, abs=1e-3) and city["状态"] == S.STATUS_ON_TRACK
    county_a = row(table, 指标编号="P01-1", 县市区="县A")
    assert county_a["完成率"] == 0.25 and county_a["年度目标"] == 60
    rate = row(table, 指标编号="P01-2")
    assert rate["完成率"] == pytest.approx(50 / 62) and rate["层级"] == P.LEVEL_CITY
    assert row(table, 指标编号="P02-1")["状态"] == S.STATUS_ON_TRACK
    assert len(table) == 3 + 2  # three city rows, two county rows


def test_all_months_at_once_equal_month_by_month(world):
    targets, rows, _ = world
    stacked = P.detail_months(targets, rows, range(1, 13))
    assert sorted(stacked["月份"].unique()) == list(range(1, 13))
    for month in range(1, 13):
        one = stacked[stacked["月份"] == month].drop(columns="月份").reset_index(drop=True)
        pd.testing.assert_frame_equal(one, P.detail(targets, rows, month))
    # April has no report of its own: March's values carry over, and May's replace them.
    city = stacked[(stacked["指标编号"] == "P01-1") & (stacked["县市区"] == S.CITY)].set_index("月份")
    assert city.loc[4, "累计完成"] == 25 and city.loc[5, "累计完成"] == 50 and pd.isna(city.loc[2, "累计完成"])


def test_milestone_schedule_sets_time_progress(world, tmp_path):
    from openpyxl import load_workbook

    targets, rows, _ = world
    path = tmp_path / "targets.xlsx"
    small_table(path)
    wb = load_workbook(path)
    ws = wb.create_sheet(S.SHEET_SCHEDULE)
    ws.append(["指标编号"] + [f"{m}月" for m in range(1, 13)])
    ws.append(["P01-1"] + [0, 0, 10, 20, 40, 60, 70, 80, 90, 95, 100, 100])
    wb.save(path)
    scheduled = load_targets(path)
    table = P.detail_months(scheduled, rows, [3, 5])
    p01 = table[(table["指标编号"] == "P01-1") & (table["县市区"] == S.CITY)].set_index("月份")
    assert p01.loc[3, "序时进度"] == pytest.approx(0.10) and p01.loc[5, "序时进度"] == pytest.approx(0.40)
    assert p01.loc[5, "完成率"] == 0.5 and p01.loc[5, "差距"] == pytest.approx(10.0)  # 50 of 100 against a 40 % plan
    other = table[table["指标编号"] == "P01-2"].set_index("月份")
    assert other.loc[5, "序时进度"] == pytest.approx(5 / 12)  # not in the plan: month / 12


def test_nothing_reported_yet_is_missing(world):
    targets, rows, _ = world
    table = P.detail(targets, rows, 2)
    assert set(table["状态"]) == {S.STATUS_MISSING}
    assert P.project_table(targets, rows, 2)["状态"].tolist() == [S.STATUS_MISSING, S.STATUS_MISSING]


def test_project_is_mean_of_capped_rates(world):
    targets, rows, _ = world
    projects = P.project_table(targets, rows, 5).set_index("项目序号")
    assert projects.at[1, "完成率"] == pytest.approx((0.5 + 60 / 62) / 2)
    assert projects.at[1, "状态"] == S.STATUS_ON_TRACK
    assert projects.at[1, "指标数"] == 2 and projects.at[1, "已报送指标数"] == 2
    assert projects.at[2, "状态"] == S.STATUS_LAGGING  # qualitative-only: the reported state
    assert math.isnan(projects.at[2, "完成率"])


def test_behind_schedule_in_september(world):
    targets, rows, _ = world
    table = P.detail(targets, rows, 9)
    assert row(table, 指标编号="P01-1", 县市区=S.CITY)["状态"] == S.STATUS_LAGGING  # 50% vs 75%: −25 points
    assert row(table, 指标编号="P01-1", 县市区="县A")["差距"] == pytest.approx(-25)
    projects = P.project_table(targets, rows, 9).set_index("项目序号")
    assert projects.at[1, "差距"] == pytest.approx(((0.5 + 60 / 62) / 2 - 0.75) * 100)
    assert projects.at[1, "状态"] == S.STATUS_ON_TRACK


def test_category_unit_city_county_levels(world):
    targets, rows, _ = world
    cat = P.category_table(targets, rows, 5).set_index("类别")
    assert list(cat.columns) == P.AGGREGATE_COLUMNS
    assert cat.at["类一", "完成率"] == pytest.approx((0.5 + 60 / 62) / 2)
    assert cat.at["类二", "状态"] == S.STATUS_LAGGING and cat.at["类二", S.STATUS_LAGGING] == 1
    unit = P.unit_table(targets, rows, 5).set_index("牵头单位")
    assert unit.at["单位甲", S.STATUS_ON_TRACK] == 1
    city = P.city_table(targets, rows, 5).iloc[0]
    assert city["项目数"] == 2 and city[S.STATUS_LAGGING] == 1 and city[S.STATUS_ON_TRACK] == 1
    assert city["完成率"] == pytest.approx((0.5 + 60 / 62) / 2)  # the qualitative project has no rate
    county = P.county_table(targets, rows, 5).set_index("县市区")
    assert county.index.tolist() == ["县A", "县B"]
    assert county.at["县A", "完成率"] == 0.5 and county.at["县B", "完成率"] == 0.5
    assert county.at["县A", "项目数"] == 1


def test_rates_never_summed(world, tmp_path):
    """A 比率 is never the sum of county figures: county rows that reach the engine anyway (a forged or legacy row)
    neither fill nor change its 全市 figure, and a target table that splits a rate to counties is refused."""
    from openpyxl import load_workbook

    from lib.targets import TargetTableError

    targets, rows, _ = world

    def forged(county, value):
        return {"填报单位": "单位甲", "年度": 2024, "月份": 5, "指标编号": "P01-2", "县市区": county, "累计完成": value,
                "进展状态": "", "进展情况": "", "存在问题": "", "下步计划": ""}
    with_counties = pd.concat([rows, pd.DataFrame([forged("县A", 30), forged("县B", 40)])], ignore_index=True)
    table = P.detail(targets, with_counties, 5)
    assert row(table, 指标编号="P01-2")["累计完成"] == 60  # the reported 全市 rate, not 70 and not 130
    assert (table.loc[table["指标编号"] == "P01-2", "层级"] == P.LEVEL_CITY).all()
    no_city = with_counties[~((with_counties["指标编号"] == "P01-2") & (with_counties["县市区"] == S.CITY))]
    assert pd.isna(row(P.detail(targets, no_city, 5), 指标编号="P01-2")["累计完成"])  # unreported, never 30 + 40
    path = tmp_path / "targets.xlsx"
    small_table(path)
    wb = load_workbook(path)
    wb[S.SHEET_SPLITS].append(["P01-2", "县A", 30, "示例"])
    wb[S.SHEET_SPLITS].append(["P01-2", "县B", 32, "示例"])
    wb.save(path)
    with pytest.raises(TargetTableError) as err:
        load_targets(path)
    assert "不能分解到县" in str(err.value)


def test_trend_has_every_month_and_the_plan_line(world):
    targets, rows, _ = world
    trend = P.trend(targets, rows, 5, level="project")
    assert sorted(trend["月份"].unique()) == [1, 2, 3, 4, 5]
    one = trend[trend["项目序号"] == 1].set_index("月份")
    assert one.at[3, "完成率"] == pytest.approx((0.25 + 50 / 62) / 2)
    assert one.at[5, "序时进度"] == pytest.approx(5 / 12)


def test_projection(world):
    targets, rows, _ = world
    proj = P.projection(targets, rows, 5).set_index("指标编号")
    assert proj.index.tolist() == ["P01-1"]  # only 累计数量 is extrapolated
    # pace over March..May: (50 − 0 at end of February) / 3
    assert proj.at["P01-1", "近期月均完成"] == pytest.approx(50 / 3)
    assert proj.at["P01-1", "预计年末完成"] == pytest.approx(50 + 50 / 3 * 7)
    assert proj.at["P01-1", "剩余月均需完成"] == pytest.approx(50 / 7)


def test_compliance_and_chase_list(world):
    targets, _, submissions = world
    table = P.compliance(targets, submissions, 6, today=TODAY).set_index(["填报单位", "月份"])["报送情况"]
    assert table[("单位甲", 1)] == P.MISSING
    assert table[("单位甲", 3)] == P.ON_TIME  # the first version was on time
    assert table[("单位甲", 4)] == P.MISSING
    assert table[("单位甲", 5)] == P.LATE
    assert table[("单位乙", 3)] == P.LATE and table[("单位乙", 5)] == P.ON_TIME
    assert table[("单位甲", 6)] == P.NOT_DUE  # due 5 July
    chase = P.chase_list(targets, submissions, 4, today=TODAY)
    assert chase["填报单位"].tolist() == ["单位甲", "单位乙"] and chase["牵头项目"].tolist() == ["1", "2"]


def test_status_changes(world):
    targets, rows, _ = world
    changes = P.status_changes(targets, rows, 4, 5).set_index("项目序号")
    assert changes.at[2, "变化"] == "新增滞后"
    assert 1 not in changes.index


def test_cli_prints_csv_with_bom(world, monkeypatch, capsysbinary):
    targets, _, _ = world
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(targets.source).rsplit("/", 1)[0])
    assert P.main(["--as-of", "2024-05", "--level", "project"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf")
    text = out.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("项目序号,类别,项目名称,牵头单位,完成率（%）,序时进度（%）,差距（百分点）,状态")
    assert "项目二" in text and "滞后" in text
    # Written as a person would type them: percent with one decimal, not a 0..1 share.
    table = pd.read_csv(io.StringIO(text), dtype=str)
    rates = table["完成率（%）"].dropna()
    assert len(rates) and rates.str.fullmatch(r"-?\d+(\.\d)?").all()
    assert (rates.astype(float) > 1).any()


def test_whole_2024_table_with_a_synthetic_store(targets):
    """Every reporting unit at 40% in June: all on track, 30 projects counted.

    The one ceiling (P06-9, 不高于全省平均) at 40 % of it is kept: 100 %, so project 6 is at (5 × 0.4 + 1) / 6;
    the city mean is over the 27 projects with a rate (5, 10 and 23 are qualitative only).
    """
    records = []
    for unit in targets.reporting_units:
        for r in targets.expected_rows(unit).itertuples(index=False):
            if r.城市合计行:
                continue
            value = float(r.年度目标) * 0.4 if r.指标类型 != S.TYPE_QUALITATIVE else None
            records.append({"填报单位": unit, "年度": 2024, "月份": 6, "指标编号": r.指标编号, "县市区": r.县市区,
                            "累计完成": value, "进展状态": "正常推进", "进展情况": "", "存在问题": "", "下步计划": ""})
    rows = pd.DataFrame(records)
    city = P.city_table(targets, rows, 6).iloc[0]
    assert city["项目数"] == 30 and city[S.STATUS_ON_TRACK] == 30
    assert city["完成率"] == pytest.approx((26 * 0.4 + (5 * 0.4 + 1) / 6) / 27)
    assert P.project_table(targets, rows, 6).set_index("项目序号").at[6, "完成率"] == pytest.approx(0.5)
    assert len(P.category_table(targets, rows, 6)) == 14
    counties = P.county_table(targets, rows, 6)
    assert len(counties) == 14 and counties["完成率"].round(6).eq(0.4).all()
    table = P.detail(targets, rows, 6)
    # 全市 rows of split indicators are the county sums
    assert row(table, 指标编号="P26-1", 县市区=S.CITY)["累计完成"] == pytest.approx(20)


# --- properties ---------------------------------------------------------------------

values = st.floats(min_value=0, max_value=1e7, allow_nan=False)
targets_ = st.floats(min_value=0.01, max_value=1e7, allow_nan=False)
months = st.integers(min_value=1, max_value=12)


@settings(max_examples=60, deadline=None)
@given(a=st.floats(min_value=0, max_value=1e6, allow_nan=False), b=st.floats(min_value=0, max_value=1e6, allow_nan=False),
       month=months)
def test_completion_never_negative_and_capping_never_raises(small, a, b, month):
    targets = small
    rows = pd.DataFrame([{"填报单位": "单位甲", "年度": 2024, "月份": month, "指标编号": "P01-1", "县市区": county,
                          "累计完成": value, "进展状态": "", "进展情况": "", "存在问题": "", "下步计划": ""}
                         for county, value in (("县A", a), ("县B", b))])
    table = P.detail(targets, rows, month)
    rates = table.loc[table["指标编号"] == "P01-1", "完成率"]
    assert (rates >= 0).all()
    project = P.project_table(targets, rows, month, table).set_index("项目序号").at[1, "完成率"]
    city_rate = row(table, 指标编号="P01-1", 县市区=S.CITY)["完成率"]
    assert project <= max(city_rate, 0) + 1e-12 and project <= 1  # capping never raises a value


STATUS_ORDER = [S.STATUS_SEVERE, S.STATUS_LAGGING, S.STATUS_ON_TRACK, S.STATUS_DONE]


@settings(max_examples=200, deadline=None)
@given(values, values, targets_, months)
def test_status_is_monotone_in_value(a, b, target, month):
    low, high = sorted((a, b))
    s_low, s_high = (classify(v / target, month / 12) for v in (low, high))
    assert STATUS_ORDER.index(s_low) <= STATUS_ORDER.index(s_high)


@settings(max_examples=300, deadline=None)
@given(values, targets_, months)
def test_status_is_the_band_of_the_gap(value, target, month):
    """Monotone alone lets a rule that always says 正常推进 pass: each status must be its own band of the gap."""
    rate, planned = value / target, month / 12
    gap = (rate - planned) * 100
    status = classify(rate, planned)
    if rate >= 1 + 1e-9:
        assert status == S.STATUS_DONE
    elif rate < 1 - 1e-9:
        if gap < -30 - 1e-6:
            assert status == S.STATUS_SEVERE
        elif -30 + 1e-6 < gap < -10 - 1e-6:
            assert status == S.STATUS_LAGGING
        elif gap > -10 + 1e-6:
            assert status == S.STATUS_ON_TRACK


def test_status_reaches_every_band_on_one_month():
    """June (序时进度 50 %): the four bands of a quantitative item, each reached by a plausible figure."""
    assert [classify(r, 0.5) for r in (0.1, 0.3, 0.45, 1.0)] == STATUS_ORDER


@settings(max_examples=60, deadline=None)
@given(value=st.floats(min_value=0, max_value=300, allow_nan=False), month=months)
def test_aggregate_of_one_item_equals_the_item(small, value, month):
    targets = small
    rows = pd.DataFrame([{"填报单位": "单位乙", "年度": 2024, "月份": month, "指标编号": "P02-1", "县市区": S.CITY,
                          "累计完成": None, "进展状态": "正常推进", "进展情况": "", "存在问题": "", "下步计划": ""},
                         {"填报单位": "单位甲", "年度": 2024, "月份": month, "指标编号": "P01-2", "县市区": S.CITY,
                          "累计完成": value, "进展状态": "", "进展情况": "", "存在问题": "", "下步计划": ""}])
    # Each level from the one below, as the pages call them (the engine computes the detail once, not three times).
    table = P.detail(targets, rows, month)
    projects = P.project_table(targets, rows, month, table)
    item = row(table, 指标编号="P01-2")
    project = projects.set_index("项目序号").loc[1]
    category = P.category_table(targets, rows, month, projects).set_index("类别").loc["类一"]
    assert project["完成率"] == pytest.approx(min(item["完成率"], 1))
    assert category["完成率"] == pytest.approx(project["完成率"])
    if item["完成率"] < 1:
        assert project["状态"] == item["状态"] == category["状态"]


def test_default_month_is_the_latest_most_units_reported(world):
    targets, rows, _ = world
    assert P.default_month(targets, rows) == 5  # both units reported in May
    early = pd.concat([rows, rows[rows["填报单位"] == "单位甲"].assign(月份=6)])
    assert P.default_month(targets, early) == 6  # one of two units is half of them
    assert P.latest_month(early, 2024) == 6
    assert P.default_month(targets, rows.iloc[0:0]) is None


def test_county_table_of_some_projects_is_their_county_rows_rolled_up(targets):
    """The dashboard's county page narrows each project's county rows (computed once per month) to the filtered
    projects and rolls them up: the same frame, exactly, as the county table of the filtered detail."""
    records = []
    for unit in targets.reporting_units:
        for i, r in enumerate(targets.expected_rows(unit).itertuples(index=False)):
            if r.城市合计行:
                continue
            for month in (2, 6):
                value = float(r.年度目标) * (i % 7) / 10 * month / 6 if r.指标类型 != S.TYPE_QUALITATIVE else None
                records.append({"填报单位": unit, "年度": 2024, "月份": month, "指标编号": r.指标编号,
                                "县市区": r.县市区, "累计完成": value, "进展状态": ["正常推进", "滞后", "未启动"][i % 3],
                                "进展情况": "", "存在问题": "", "下步计划": ""})
    rows = pd.DataFrame(records)
    categories = list(dict.fromkeys(targets.projects["类别"]))
    units = list(dict.fromkeys(targets.projects["牵头单位"]))
    for month in (2, 6):
        table = P.detail(targets, rows, month)
        per_project = P.county_project_rows(targets, table.assign(月份=month))
        for column, chosen in (("类别", categories[:1]), ("类别", categories[3:7]), ("牵头单位", units[:2]), (None, None)):
            narrowed = table if column is None else table[table[column].isin(chosen)]
            mine = per_project[per_project["项目序号"].isin(narrowed["项目序号"].unique())]
            expected = P.county_table(targets, rows, month, narrowed)
            assert len(expected) and expected["状态"].nunique() > 1
            pd.testing.assert_frame_equal(P.county_roll_up(targets, mine).drop(columns=["月份"]), expected,
                                          check_exact=True)
            pd.testing.assert_frame_equal(P.county_matrix(targets, mine),
                                          P.county_project_matrix(targets, rows, month, narrowed), check_exact=True)
