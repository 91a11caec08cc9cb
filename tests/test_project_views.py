"""The project page's per-project views computed for all projects in one pass equal the per-project computation they
replaced (a mask over every row for each project), for every project, month and county choice; the table text's fast
path for string columns equals the per-cell path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib import progress as P
from lib import schema as S
from lib.formatting import MISSING, display_table, display_text
from ui.filters import Filters

COUNTIES = ["任城区", "兖州区", "曲阜市"]


@pytest.fixture(scope="module")
def rows(targets):
    """Rows of every unit for months 1-6, with narrative text on some of them (some empty, some only a plan), a
    report of the same indicator, county and month from two units (a tie the sort must keep in row order), and a
    row of an indicator the target table does not know."""
    records = []
    for unit in targets.reporting_units:
        for i, r in enumerate(targets.expected_rows(unit).itertuples(index=False)):
            for month in range(1, 7):
                value = None if r.指标类型 == S.TYPE_QUALITATIVE else float(r.年度目标 or 0) * month / 12
                k = (i + month) % 5
                records.append({"submission_id": month, "填报单位": unit, "年度": 2024, "月份": month,
                                "指标编号": r.指标编号, "县市区": r.县市区, "累计完成": value,
                                "进展状态": ["正常推进", "滞后", "未启动", "", "正常推进"][k],
                                "进展情况": ["", f"进展{i}-{month}", "", "", "按计划"][k],
                                "存在问题": ["", "", "资金未到位", "", ""][k],
                                "下步计划": ["", "", "", f"计划{i}", ""][(i + month) % 5]})
    frame = pd.DataFrame(records)
    twin = frame[(frame["县市区"] == S.CITY) & (frame["月份"] == 3)].head(5).assign(填报单位="另一单位", 进展情况="同月另报")
    stray = frame.head(1).assign(指标编号="不存在-1", 进展情况="目标表里没有")
    frame = pd.concat([frame, twin, stray], ignore_index=True)
    for column in ("填报单位", "指标编号", "县市区", "进展状态", "进展情况", "存在问题", "下步计划"):
        frame[column] = frame[column].astype("str")
    return frame


def old_history(targets, rows, month, counties, city) -> pd.DataFrame:
    """The project page's history before lib.progress.narrative_history (pages/project.py at b97caf1)."""
    codes = set(city["指标编号"])
    picked = rows[rows["指标编号"].isin(codes) & (rows["月份"] <= month)]
    if counties:
        picked = picked[picked["县市区"].isin(counties) | (picked["县市区"] == S.CITY)]
    picked = picked[(picked["进展情况"] != "") | (picked["存在问题"] != "") | (picked["下步计划"] != "")]
    picked = picked.sort_values(["月份", "指标编号", "县市区"], ascending=[False, True, True])
    names = dict(zip(targets.indicators["指标编号"], targets.indicators["指标名称"]))
    picked = picked.assign(指标=picked["指标编号"] + " " + picked["指标编号"].map(names))
    return picked[["月份", "指标", "县市区", "进展状态", "进展情况", "存在问题", "下步计划"]]


def test_a_projects_rows_are_the_rows_a_mask_picks(targets, rows):
    detail = P.detail(targets, rows, 6)
    numbers = targets.projects["项目序号"].tolist()
    for frame in (detail, rows.assign(项目序号=rows["指标编号"].str.len() % 7)):
        grouped = P.ProjectRows(frame)
        for number in numbers + [999]:
            expected = frame[frame["项目序号"] == number]
            pd.testing.assert_frame_equal(grouped.of(number), expected, check_exact=True)
    assert len(P.ProjectRows(detail).of(numbers[0]))


@pytest.mark.parametrize("month", [1, 3, 6])
@pytest.mark.parametrize("counties", [(), (COUNTIES[0],), tuple(COUNTIES)])
def test_every_projects_history_equals_the_per_project_history(targets, rows, month, counties):
    detail = P.detail(targets, rows, month)
    history = P.narrative_history(targets, rows, month, counties)
    shown = 0
    for number in targets.projects["项目序号"]:
        city = detail[(detail["项目序号"] == number) & (detail["层级"] == P.LEVEL_CITY)]
        expected = old_history(targets, rows, month, counties, city)
        pd.testing.assert_frame_equal(history.of(number), expected, check_exact=True)
        shown += len(expected)
    assert shown and "目标表里没有" not in set(history.frame["进展情况"])
    if month >= 3:
        assert "同月另报" in set(history.frame["进展情况"])  # the tie: both reports, in row order


def test_projects_a_filter_leaves_are_those_of_its_rows(targets, rows):
    """The county page narrows each project's county rows by the projects the category and unit filters leave in
    the target table (ui.data._county_projects): the same projects as in the filtered detail."""
    detail = P.detail(targets, rows, 6)
    per_project = P.county_project_rows(targets, detail.assign(月份=6))
    categories = list(dict.fromkeys(targets.projects["类别"]))
    units = list(dict.fromkeys(targets.projects["牵头单位"]))
    for chosen_categories, chosen_units in ((categories[:1], ()), (categories[2:6], ()), ((), units[:3]),
                                            (categories[:4], units[:5])):
        chosen = Filters(6, tuple(chosen_categories), tuple(chosen_units), (), ())
        by_rows = per_project[per_project["项目序号"].isin(chosen.detail(detail)["项目序号"].unique())]
        by_table = per_project[per_project["项目序号"].isin(chosen.projects(targets.projects)["项目序号"])]
        pd.testing.assert_frame_equal(by_table, by_rows, check_exact=True)
        assert len(by_table)


def test_string_columns_read_as_the_per_cell_path_reads_them():
    """A text column of pandas' string dtype is filled in one pass; an object column cell by cell: same text."""
    values = ["甲", None, "", "乙", np.nan]
    index = [4, 7, 1, 9, 3]
    text = pd.DataFrame({"说明": pd.Series(values, dtype="str", index=index), "完成率": [0.5, np.nan, 1.0, 0.25, 2.0],
                         "月份": [1, 2, 3, 4, 5], "是否": [True, False, True, True, False]}, index=index)
    as_object = text.assign(说明=pd.Series(values, dtype=object, index=index))
    options = {"percent": ["完成率"], "months": ["月份"]}
    fast, slow = display_text(text, **options), display_text(as_object, **options)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["说明"].tolist() == ["甲", MISSING, "", "乙", MISSING]
    assert fast["完成率"].tolist() == ["50.0%", MISSING, "100.0%", "25.0%", "200.0%"]
    assert list(fast.index) == [4, 7, 1, 9, 3] and list(fast.columns) == list(text.columns)
    shown = display_table(text, **options)
    assert shown.data["说明"].tolist() == display_table(as_object, **options).data["说明"].tolist()
    assert shown.data["说明"].dtype == text["说明"].dtype  # still sortable text, not object
    assert display_text(text.iloc[0:0]).empty


def test_a_readable_table_keeps_display_functions_only_where_a_cell_needs_one():
    """display_table formats only the columns that need it (a formatter, or a missing value left): what it shows is
    what formatting every cell shows, and a long text table kept by the server keeps one function per month cell, not
    one per cell (each is an object the cycle collector walks)."""
    from lib.formatting import _display

    n = 300
    frame = pd.DataFrame({"月份": np.arange(n) % 12 + 1, "指标": pd.Series([f"指标{i}" for i in range(n)], dtype="str"),
                          "进展情况": pd.Series([None if i % 5 == 0 else "按计划" for i in range(n)], dtype="str"),
                          "接收时间": pd.to_datetime([None if i % 7 == 0 else "2024-07-08" for i in range(n)])})
    shown = display_table(frame, months=["月份"])
    data, formats = _display(frame, months=["月份"])
    every_cell = data.style.format(formats, na_rep=MISSING)
    assert shown.set_uuid("t").to_html() == every_cell.set_uuid("t").to_html()
    assert MISSING in shown.to_html() and "NaT" not in shown.to_html() and "None" not in shown.to_html()
    assert len(shown._display_funcs) == 2 * n < len(every_cell._display_funcs)  # 月份 and the times with a gap
