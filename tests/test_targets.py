"""The target table against the document, and the validator against broken copies."""

from __future__ import annotations

import io
import pickle
import re
from functools import lru_cache

import pytest
from openpyxl import load_workbook

from lib import schema as S
from lib.config import BUNDLED_TARGETS
from lib.status import planned_share
from lib.targets import TargetTableError, load_targets, parse_targets
from tests.conftest import DOCUMENT

DOC = re.sub(r"\s+", "", DOCUMENT.read_text(encoding="utf-8"))


def figures(text: str) -> set[float]:
    """Every figure written in a phrase, 万 expanded (independent of the builder)."""
    return {float(n) * (10000 if w else 1) for n, w in re.findall(r"(\d+(?:\.\d+)?)(万?)", text)}


def test_thirty_projects_in_fourteen_categories_in_document_order(targets):
    projects = targets.projects
    assert projects["项目序号"].tolist() == list(range(1, 31))
    headings = re.findall(r"[一二三四五六七八九十]+、(\S+?)方面", DOC)
    assert len(headings) == 14
    assert list(dict.fromkeys(projects["类别"])) == headings


def test_each_project_reads_in_the_document_as_name_content_then_units(targets):
    for p in targets.projects.itertuples(index=False):
        units = p.牵头单位 + "".join(p.协办单位.split("、"))
        assert f"{p.项目序号}{p.项目名称}" in DOC, p.项目名称
        # The document marks the lead unit once with a note on bold type.
        assert p.实施内容及工作目标 + units in DOC.replace("（黑体字为牵头单位，下同）", ""), p.项目序号


def test_county_flag_follows_the_units(targets):
    flags = dict(zip(targets.projects["项目序号"], targets.projects["县市区承办"]))
    assert flags[10] == S.NO and flags[19] == S.NO
    assert sum(v == S.YES for v in flags.values()) == 28


def test_lead_units_are_the_first_listed(targets):
    lead = dict(zip(targets.projects["项目序号"], targets.projects["牵头单位"]))
    assert lead[2] == "市消防救援支队"
    assert lead[6] == "市托育指挥部"
    assert lead[12] == "市能源局"
    assert lead[28] == "市交警支队"


# Targets the document states without a figure: 不高于全省平均 is 100 % of the province's average.
STATED = {"P06-9": 100}


def test_every_indicator_quotes_the_document_and_its_figure(targets):
    for ind in targets.indicators.itertuples(index=False):
        assert ind.原文 in DOC, ind.指标编号
        if ind.指标编号 in STATED:
            assert float(ind.年度目标) == STATED[ind.指标编号] and not figures(ind.原文)
        elif ind.指标类型 != S.TYPE_QUALITATIVE:
            assert float(ind.年度目标) in figures(ind.原文), ind.指标编号


def test_every_figure_of_the_document_is_an_indicator_or_known_context(targets):
    """Each number in a project's 实施内容 is a target, or is listed here as context."""
    context = {
        2024, 2023, 1, 2, 3, 4, 21, 18, 13,  # years, list ordinals, trisomy names
        49895, 32, 15,  # elevators in stock, P26 sub-total and "15 分钟健身圈" (a 定性 indicator)
        6, 50000, 250000,  # P30's levels before the raise ("由6类", "由每户5万元", "由每人25万元")
    }
    quoted = set()
    for ind in targets.indicators.itertuples(index=False):
        if ind.指标类型 != S.TYPE_QUALITATIVE:
            quoted.add(float(ind.年度目标))
    for p in targets.projects.itertuples(index=False):
        # Drop list ordinals ("1." at the start or after a full stop) first.
        for figure in figures(re.sub(r"(^|。)\d\.", r"\1", p.实施内容及工作目标)):
            assert figure in quoted or figure in context, (p.项目序号, figure)


def test_project_6_12_28_indicators(targets):
    ind = targets.indicators
    by_project = {p: g for p, g in ind.groupby("项目序号")}
    six = by_project[6]
    assert sorted(six["年度目标"].dropna().astype(float)) == [50, 100, 2000, 2000, 3000, 7000]
    assert six.loc[six["年度目标"] == 100, ["指标类型", "计量单位", S.COL_BASIS]].values.tolist() == [
        [S.TYPE_RATE, "%", S.BASIS_CEILING]]  # 家庭托育支出不高于全省平均
    assert (six["指标类型"] == S.TYPE_QUALITATIVE).sum() == 3
    twelve = by_project[12]
    assert sorted(twelve["年度目标"].dropna().astype(float)) == [12, 40, 107, 4500, 16000]
    assert twelve.loc[twelve["计量单位"] == "%", "指标类型"].tolist() == [S.TYPE_RATE]
    assert (twelve["指标类型"] == S.TYPE_QUALITATIVE).sum() == 1
    quantitative_28 = by_project[28][by_project[28]["指标类型"] != S.TYPE_QUALITATIVE]
    assert sorted(quantitative_28["年度目标"].astype(float)) == [4, 5, 6, 23, 27, 30, 39, 92, 119]


def test_projects_without_figures_have_qualitative_indicators(targets):
    ind = targets.indicators
    for project in (5, 10, 23):
        kinds = set(ind.loc[ind["项目序号"] == project, "指标类型"])
        assert kinds == {S.TYPE_QUALITATIVE}


def test_project_30_premium_range_and_limits(targets):
    """The insurance: bought at the premium (定性), its range and raised limits as levels in 元 (never summed)."""
    thirty = targets.indicators[targets.indicators["项目序号"] == 30]
    assert thirty["指标类型"].tolist() == [S.TYPE_QUALITATIVE] + [S.TYPE_RATE] * 6
    assert thirty["年度目标"].dropna().astype(float).tolist() == [12, 200000, 100000, 100000, 300000, 150000]
    assert thirty["计量单位"].tolist()[1:] == ["类"] + ["元"] * 5
    assert (thirty["分解到县"] == S.NO).all()


def test_units_convention_base_units_and_percent(targets):
    ind = targets.indicators.set_index("指标编号")
    assert ind.at["P20-1", "年度目标"] == 61000 and ind.at["P20-1", "计量单位"] == "人"
    assert ind.at["P12-3", "年度目标"] == 16000
    assert ind.at["P07-2", "年度目标"] == 62 and ind.at["P07-2", "计量单位"] == "%"
    assert not ind["计量单位"].str.contains("万").any()
    assert set(ind.loc[ind["计量单位"] == "%", "指标类型"]) <= {S.TYPE_RATE, S.TYPE_INCREASE}


def test_project_26_split_is_the_documents(targets):
    assert "中心城区32处（任城区、兖州区各10处，济宁高新区、太白湖新区、济宁经开区各4处），其他县（市）各2处" in DOC
    split = targets.splits[targets.splits["指标编号"] == "P26-1"].set_index("县市区")
    assert set(split["来源"]) == {S.SPLIT_SOURCE_DOCUMENT}
    assert split.at["任城区", "分解目标"] == 10 and split.at["兖州区", "分解目标"] == 10
    for zone in ("济宁高新区", "太白湖新区", "济宁经济技术开发区"):
        assert split.at[zone, "分解目标"] == 4
    others = split.drop(index=["任城区", "兖州区", "济宁高新区", "太白湖新区", "济宁经济技术开发区"])
    assert len(others) == 9 and set(others["分解目标"]) == {2}


def test_splits_sum_to_city_targets_and_rates_are_not_split(targets):
    ind = targets.indicators.set_index("指标编号")
    sums = targets.splits.groupby("指标编号")["分解目标"].sum()
    for code, total in sums.items():
        assert total == ind.at[code, "年度目标"]
        assert ind.at[code, "指标类型"] == S.TYPE_COUNT
    assert set(targets.splits.loc[targets.splits["指标编号"] != "P26-1", "来源"]) == {S.SPLIT_SOURCE_EXAMPLE}


def test_fourteen_counties_and_units(targets):
    assert targets.counties == [
        "任城区", "兖州区", "曲阜市", "邹城市", "微山县", "鱼台县", "金乡县", "嘉祥县", "汶上县", "泗水县", "梁山县",
        "济宁高新区", "太白湖新区", "济宁经济技术开发区",
    ]
    named = set(targets.units["单位名称"])
    for p in targets.projects.itertuples(index=False):
        assert {p.牵头单位, *filter(None, p.协办单位.split("、"))} <= named
    reporting = set(targets.units.loc[targets.units["是否填报单位"] == S.YES, "单位名称"])
    assert reporting == set(targets.reporting_units) == set(targets.projects["牵头单位"])


def test_settings(targets):
    assert targets.year == 2024
    assert targets.deadline_day == 5
    assert (targets.lag_threshold, targets.severe_threshold) == (10, 30)
    assert planned_share(6, "P01-1", targets.schedule) == 0.5


# --- the validator, one broken copy per rule -------------------------------

@lru_cache(maxsize=1)
def _bundled_pickled() -> bytes:
    return pickle.dumps(load_workbook(BUNDLED_TARGETS))


def bundled_workbook():
    """A private, editable copy of the bundled table as openpyxl loads it: loaded once per test process and unpickled
    per test (~0.02 CPU s against ~0.12 for ``load_workbook``; the broken copies below are ~30 tests).
    ``test_an_unpickled_copy_is_the_loaded_table`` checks that the copy saves as the loaded table does."""
    return pickle.loads(_bundled_pickled())


def test_an_unpickled_copy_is_the_loaded_table():
    loaded, copy = load_workbook(BUNDLED_TARGETS), bundled_workbook()
    assert copy is not bundled_workbook() and copy.sheetnames == loaded.sheetnames
    for name in loaded.sheetnames:
        a, b = loaded[name], copy[name]
        assert [[c.value for c in row] for row in a.iter_rows()] == [[c.value for c in row] for row in b.iter_rows()]
        styles = [[(c.coordinate, c.number_format, *map(repr, (c.font, c.fill, c.border, c.alignment, c.protection)))
                   for row in ws.iter_rows() for c in row] for ws in (a, b)]
        assert styles[0] == styles[1], name
        assert len(a.data_validations.dataValidation) == len(b.data_validations.dataValidation), name
    saved = []
    for wb in (loaded, copy):
        buffer = io.BytesIO()
        wb.save(buffer)
        parsed, problems = parse_targets(buffer.getvalue())
        assert problems == []
        saved.append(parsed)
    for table in ("projects", "indicators", "splits", "units"):
        assert getattr(saved[0], table).equals(getattr(saved[1], table)), table
    schedules = [parsed.schedule for parsed in saved]
    assert schedules == [None, None] or schedules[0].equals(schedules[1])
    assert saved[0].year == saved[1].year

def broken(edit) -> list[str]:
    wb = bundled_workbook()
    edit(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed, problems = parse_targets(buffer.getvalue())
    assert parsed is None
    return [str(p) for p in problems]


def cell(wb, sheet, column_name, row):
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    return ws.cell(row=row, column=header.index(column_name) + 1)


def test_missing_sheet():
    problems = broken(lambda wb: wb.remove(wb[S.SHEET_SPLITS]))
    assert problems == ["工作表“分解”：缺少该工作表。"]


def test_missing_column():
    problems = broken(lambda wb: wb[S.SHEET_INDICATORS].delete_cols(5))
    assert any("“指标”" in p and "年度目标" in p and "缺少必需的列" in p for p in problems)


def test_duplicate_indicator_id():
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_INDICATORS, "指标编号", 3), "value", "P01-1"))
    assert any("工作表“指标”第 3 行“指标编号”列" in p and "重复" in p for p in problems)


def test_non_numeric_target():
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_INDICATORS, "年度目标", 2), "value", "两千"))
    assert any("第 2 行“年度目标”列" in p and "两千" in p for p in problems)


def test_unknown_type():
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_INDICATORS, "指标类型", 2), "value", "数量"))
    assert any("第 2 行“指标类型”列" in p for p in problems)


def test_project_without_indicator():
    def edit(wb):
        ws = wb[S.SHEET_INDICATORS]
        for row in range(ws.max_row, 1, -1):
            if ws.cell(row=row, column=2).value == 19:
                ws.delete_rows(row)
    problems = broken(edit)
    assert any("项目 19 没有任何指标" in p for p in problems)


def test_unknown_unit():
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_PROJECTS, "牵头单位", 2), "value", "市不存在局"))
    assert any("“项目”第 2 行“牵头单位”列" in p and "市不存在局" in p for p in problems)


def test_split_not_summing_to_target():
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_SPLITS, "分解目标", 2), "value", 999))
    assert any("P01-1" in p and "之和" in p and "年度目标 2,000 不一致" in p for p in problems)  # figures grouped, never 2e+03


def test_rate_indicator_split():
    def edit(wb):
        ws = wb[S.SHEET_SPLITS]
        ws.append(["P07-2", "任城区", 62, "示例"])
    problems = broken(edit)
    assert any("P07-2" in p and "不能分解到县" in p for p in problems)


def test_split_to_unknown_county():
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_SPLITS, "县市区", 2), "value", "火星区"))
    assert any("“分解”第 2 行“县市区”列" in p and "火星区" in p for p in problems)


def test_bad_thresholds():
    def edit(wb):
        ws = wb[S.SHEET_SETTINGS]
        for row in ws.iter_rows(min_row=2):
            if row[0].value == S.SETTING_SEVERE:
                row[1].value = 5
    problems = broken(edit)
    assert any("严重滞后阈值应大于滞后阈值" in p for p in problems)


def _set(sheet, column, row, value):
    return lambda wb: setattr(cell(wb, sheet, column, row), "value", value)


@pytest.mark.parametrize("edit, code", [
    (lambda wb: wb.remove(wb[S.SHEET_SPLITS]), "targets.sheet_missing"),
    (lambda wb: wb[S.SHEET_INDICATORS].delete_cols(5), "targets.columns_missing"),
    (_set(S.SHEET_INDICATORS, "指标编号", 3, "P01-1"), "targets.indicator.duplicate"),
    (_set(S.SHEET_INDICATORS, "年度目标", 2, "两千"), "targets.indicator.target_invalid"),
    (_set(S.SHEET_INDICATORS, "指标类型", 2, "数量"), "targets.indicator.type_invalid"),
    (_set(S.SHEET_INDICATORS, S.COL_BASIS, 2, "大约"), "targets.indicator.basis_invalid"),
    (_set(S.SHEET_PROJECTS, "牵头单位", 2, "市不存在局"), "targets.project.unknown_unit"),
    (_set(S.SHEET_SPLITS, "分解目标", 2, 999), "targets.split.sum_mismatch"),
    (_set(S.SHEET_SPLITS, "县市区", 2, "火星区"), "targets.split.unknown_county"),
    (_set(S.SHEET_UNITS, "类型", 2, "部门"), "targets.unit.type_invalid"),
], ids=["sheet", "columns", "duplicate", "target", "type", "basis", "unit", "split-sum", "county", "unit-type"])
def test_each_problem_carries_its_code(edit, code):
    from lib.findings import TARGET_CODES
    wb = bundled_workbook()
    edit(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed, problems = parse_targets(buffer.getvalue())
    assert parsed is None and code in [p.code for p in problems], [(p.code, str(p)) for p in problems]
    assert all(p.code in TARGET_CODES for p in problems)


def test_a_problem_code_must_be_in_the_table():
    from lib.targets import TargetProblem
    with pytest.raises(ValueError):
        TargetProblem(S.SHEET_UNITS, 2, "类型", "x", "targets.no_such_code")


def test_load_targets_raises_with_every_problem(tmp_path):
    wb = bundled_workbook()
    cell(wb, S.SHEET_INDICATORS, "年度目标", 2).value = "x"
    cell(wb, S.SHEET_INDICATORS, "指标类型", 3).value = "y"
    path = tmp_path / "t.xlsx"
    wb.save(path)
    with pytest.raises(TargetTableError) as err:
        load_targets(path)
    assert [(p.row, p.column) for p in err.value.problems][:2] == [(2, "年度目标"), (3, "指标类型")]
    assert "目标表有误" in str(err.value)


def test_not_a_workbook():
    parsed, problems = parse_targets(b"not a workbook")
    assert parsed is None and "无法读取目标表" in str(problems[0])


def test_milestone_schedule_sheet():
    wb = bundled_workbook()
    ws = wb.create_sheet(S.SHEET_SCHEDULE)
    ws.append(["指标编号"] + [f"{m}月" for m in range(1, 13)])
    ws.append(["P17-1"] + [0] * 8 + [30, 60, 80, 100])
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed, problems = parse_targets(buffer.getvalue())
    assert problems == []
    assert planned_share(9, "P17-1", parsed.schedule) == pytest.approx(0.3)
    assert planned_share(3, "P17-1", parsed.schedule) == 0
    assert planned_share(3, "P01-1", parsed.schedule) == 0.25


# --- 目标口径 (optional column of 指标) -------------------------------------

def test_basis_column_is_optional_and_defaults_to_exact():
    def drop(wb):
        ws = wb[S.SHEET_INDICATORS]
        header = [c.value for c in ws[1]]
        for name in (S.COL_SPLIT_RULE, S.COL_BASIS):  # right to left, so indexes stay valid
            ws.delete_cols(header.index(name) + 1)
    wb = bundled_workbook()
    drop(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed, problems = parse_targets(buffer.getvalue())
    assert problems == []
    assert set(parsed.indicators[S.COL_BASIS]) == {S.BASIS_EXACT} and set(parsed.bases.values()) == {""}
    assert set(parsed.indicators[S.COL_SPLIT_RULE]) == {""}


def basis_row(code: str) -> int:
    wb = bundled_workbook()
    ws = wb[S.SHEET_INDICATORS]
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == code)


@pytest.mark.parametrize(("code", "value", "expected"), [
    ("P19-1", "大约", "应为 约/左右/以上/不少于/不低于/不高于 之一，或留空（按年度目标本身），现为“大约”。"),
    ("P05-1", "约", "定性指标没有年度目标，“目标口径”应留空，现为“约”。"),
    ("P01-1", "不高于", "“不高于”只用于比率指标（某一水平不超过上限）；累计数量指标越多越好，请留空或改用“以上”等。"),
])
def test_bad_basis_is_refused_with_its_cell(code, value, expected):
    row = basis_row(code)
    problems = broken(lambda wb: setattr(cell(wb, S.SHEET_INDICATORS, S.COL_BASIS, row), "value", value))
    assert problems == [f"工作表“指标”第 {row} 行“目标口径”列：{expected}"]


def test_basis_with_spaces_is_read_as_meant():
    wb = bundled_workbook()
    cell(wb, S.SHEET_INDICATORS, S.COL_BASIS, basis_row("P01-1")).value = " 以上 "
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed, problems = parse_targets(buffer.getvalue())
    assert problems == [] and parsed.bases["P01-1"] == S.BASIS_ABOVE
