"""Figure tests: traces, colours and values of each chart function."""

from __future__ import annotations

import colorsys
import json

import pandas as pd
import pytest

from lib import charts
from lib import progress as P
from lib import schema as S
from lib.config import GEOJSON
from lib.store import Store


@pytest.fixture(scope="module")
def tables(demo_dir):
    store = Store(demo_dir)
    targets, rows = store.targets(), store.current_rows()
    detail = P.detail(targets, rows, 6)
    projects = P.project_table(targets, rows, 6, detail)
    return {
        "targets": targets, "rows": rows, "detail": detail, "projects": projects,
        "categories": P.category_table(targets, rows, 6, projects),
        "counties": P.county_table(targets, rows, 6, detail),
        "compliance": P.compliance(targets, store.submissions(), 6),
    }


def test_completion_bars_colour_by_status_and_mark_the_plan(tables):
    cats = tables["categories"]
    fig = charts.completion_bars(cats, "类别", "类别")
    bars, plan = fig.data
    assert bars.type == "bar" and plan.name == "序时进度"
    by_label = dict(zip(bars.y, bars.marker.color))
    for rec in cats.itertuples(index=False):
        assert by_label[rec.类别] == S.STATUS_COLORS[rec.状态]
    assert max(bars.x) <= 100  # capped
    # June: 50 %, except 优生优育, whose project 6 has a ceiling (P06-9, 序时进度 100 % all year):
    # project 6 plans (5 × 50 + 100) / 6 %, project 5 (qualitative only) 50 %.
    assert {round(x, 6) for x in plan.x} == {50.0, round(((5 * 50 + 100) / 6 + 50) / 2, 6)}
    assert list(bars.customdata[:, 0]) == list(bars.y)  # click selection carries the label


def test_status_donut_uses_status_colours():
    fig = charts.status_donut({S.STATUS_DONE: 3, S.STATUS_LAGGING: 2})
    pie = fig.data[0]
    assert list(pie.labels) == [f"{S.STATUS_DONE} 3 个", f"{S.STATUS_LAGGING} 2 个"]
    assert pie.textposition == "inside" and fig.layout.showlegend  # names in the legend: nothing clipped
    assert list(pie.marker.colors) == [S.STATUS_COLORS[S.STATUS_DONE], S.STATUS_COLORS[S.STATUS_LAGGING]]


def test_county_map_draws_eleven_polygons_and_the_zones_beside(tables):
    fig = charts.county_map(tables["counties"], GEOJSON)
    polygons = [t for t in fig.data if t.fill == "toself"]
    assert len(polygons) == 11
    assert {t.name for t in polygons} == set(tables["targets"].counties[:11])
    zones = next(t for t in fig.data if t.name == "功能区")
    assert [z.split("<br>")[0] for z in zones.text] == ["济宁高新区", "太白湖新区", "济宁经济技术开发区"]
    counties = tables["counties"].set_index("县市区")
    renzheng = next(t for t in polygons if t.name == "任城区")
    span = charts.gap_span(counties["差距"])
    assert renzheng.fillcolor == charts.gap_color(counties.at["任城区", "差距"], span)
    assert fig.layout.yaxis.scaleanchor == "x"  # no geo axes: nothing to fetch from a CDN
    assert not fig.layout.geo.to_plotly_json()


def _rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in colour[colour.index("(") + 1:colour.index(")")].split(","))


def _hue(colour: str) -> float:
    """Hue in degrees, reds just below 0 counted as negative (so red < yellow < green)."""
    hue = colorsys.rgb_to_hsv(*(v / 255 for v in _rgb(colour)))[0] * 360
    return hue - 360 if hue > 300 else hue


def test_gap_colour_scale_runs_red_to_green():
    """Behind is red, ahead is green, and the further behind the redder (not merely 'two colours differ')."""
    behind, level, ahead = _rgb(charts.gap_color(-40)), _rgb(charts.gap_color(0)), _rgb(charts.gap_color(40))
    assert behind[0] > behind[1] + 100 and behind[0] > behind[2] + 100  # red
    assert ahead[1] > ahead[0] and ahead[1] > ahead[2]  # green
    assert min(level) > 180  # pale at 0 (持平)
    hues = [_hue(charts.gap_color(g)) for g in (-40, -30, -20, -10, 0, 10, 20, 30, 40)]
    assert hues == sorted(hues) and hues[0] < 20 and hues[-1] > 100  # red → yellow → green, in that order
    assert charts.gap_color(-100) == charts.gap_color(-40)  # clipped
    assert charts.gap_color(float("nan")) == S.STATUS_COLORS[S.STATUS_MISSING]
    assert charts.gap_color(0, 10) == charts.gap_color(0, 40)  # 0 is the neutral middle on every span


def test_gap_scale_spans_the_differences_that_exist():
    """Gaps of −4.5…−6.5 on a fixed −40…+20 scale all looked the same pale green."""
    gaps = [-4.5, -5.0, -6.5, float("nan")]
    span = charts.gap_span(gaps)
    assert span == 10
    assert charts.gap_color(-6.5, span) != charts.gap_color(-4.5, span)
    assert charts.gap_color(-6.5, span) != charts.gap_color(0, span)
    assert charts.gap_span([-90]) == charts.GAP_LIMIT and charts.gap_span([]) == charts.GAP_STEP
    counties = pd.DataFrame({"县市区": ["任城区", "曲阜市"], "差距": [-4.5, -6.5], "完成率": [0.45, 0.43],
                             "状态": [S.STATUS_ON_TRACK] * 2})
    fig = charts.county_map(counties, GEOJSON)
    scale = next(t for t in fig.data if t.marker.showscale)
    assert (scale.marker.cmin, scale.marker.cmax) == (-10, 10)
    assert "±10" in scale.marker.colorbar.title.text  # the scale is said
    fills = {t.name: t.fillcolor for t in fig.data if t.fill == "toself"}
    assert fills["任城区"] != fills["曲阜市"]


def test_compliance_heatmap_cells(tables):
    comp = tables["compliance"]
    fig = charts.compliance_heatmap(comp)
    heat = fig.data[0]
    assert len(heat.y) == len(tables["targets"].reporting_units) and len(heat.x) == 6
    texts = {t for row in heat.text for t in row}
    assert texts <= {"按时", "逾期", "未报", "未到期"} and "逾期" in texts


def test_county_project_heatmap(tables):
    matrix = P.county_project_matrix(tables["targets"], tables["rows"], 6, tables["detail"])
    fig = charts.county_project_heatmap(matrix)
    heat = fig.data[0]
    assert heat.z.shape == matrix.T.shape  # one row per project, one column per county
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "category"
    assert list(heat.x) == list(matrix.index) and list(heat.y) == list(matrix.columns)  # full names in the hover
    # readable without hovering: the project's number and name on the axis, each county's name top to bottom
    labels = [t.replace("<br>", "") for t in fig.layout.yaxis.ticktext]
    assert labels[0] == "1 改造2000户困难老年人家庭设施" and all(t.split(" ", 1)[0].isdigit() for t in labels)
    assert all(t.count("<br>") <= 1 for t in fig.layout.yaxis.ticktext)  # at most two lines a project
    assert "2000户" in fig.layout.yaxis.ticktext[0].split("<br>")[0]  # a figure is never broken over two lines
    counties = [t.replace("<br>", "") for t in fig.layout.xaxis.ticktext]
    assert counties[:2] == ["任城区", "兖州区"] and "济宁经开区" in counties and len(counties) == 14


def test_treemap_sizes_by_indicators(tables):
    fig = charts.category_treemap(tables["projects"])
    tree = fig.data[0]
    assert len(tree.ids) == 14 + 30
    values = dict(zip(tree.ids, tree.values))
    assert values["安全"] == sum(tables["projects"].loc[tables["projects"]["类别"] == "安全", "指标数"])


def test_trend_chart_has_plan_actual_and_projection():
    trend = pd.DataFrame({"月份": [1, 2, 3], "完成率": [0.05, 0.12, 0.2], "序时进度": [1 / 12, 2 / 12, 3 / 12]})
    fig = charts.trend_chart(trend, "t", projection=0.8, month=3)
    names = [t.name for t in fig.data]
    assert names == ["序时进度（计划）", "完成率", "预计年末（按近三个月进度推算）"]
    assert list(fig.data[2].x) == [3, 12] and fig.data[2].y[-1] == pytest.approx(80)


def test_lagging_bars(tables):
    units = P.unit_table(tables["targets"], tables["rows"], 6)
    fig = charts.lagging_bars(units, "牵头单位")
    assert [t.name for t in fig.data] == [S.STATUS_SEVERE, S.STATUS_LAGGING]
    assert fig.data[0].marker.color == S.STATUS_COLORS[S.STATUS_SEVERE]
    behind = units[units[S.STATUS_LAGGING] + units[S.STATUS_SEVERE] > 0]
    assert set(fig.data[0].y) == set(behind["牵头单位"])  # units with nothing behind are left out
    assert f"另有 {len(units) - len(behind)} 个单位无滞后项目" in fig.layout.title.text


def test_every_axis_makes_room_for_its_labels(tables):
    """Heatmap names and 0%…100% ticks were cut off by fixed 10 px margins."""
    matrix = P.county_project_matrix(tables["targets"], tables["rows"], 6, tables["detail"])
    figures = [charts.completion_bars(tables["categories"], "类别", "类别"), charts.county_project_heatmap(matrix),
               charts.compliance_heatmap(tables["compliance"]), charts.lagging_bars(tables["categories"], "类别")]
    for fig in figures:
        assert fig.layout.xaxis.automargin and fig.layout.yaxis.automargin
        assert fig.layout.dragmode is False  # a phone scrolls the page, not the chart
    assert len(figures[1].data[0].x) == 14 and len(figures[2].data[0].y) == 19


def test_qualitative_only_rows_say_their_state_in_words(tables):
    projects = tables["projects"]
    qualitative = projects[projects["完成率"].isna() & (projects["状态"] != S.STATUS_MISSING)]
    assert len(qualitative)  # the 2024 list has projects with only qualitative indicators
    fig = charts.completion_bars(projects.assign(项目=projects["项目名称"]), "项目", "t")
    texts = dict(zip(fig.data[0].customdata[:, 0], fig.data[0].text))
    for rec in qualitative.itertuples(index=False):
        assert texts[rec.项目名称] == f"定性：{rec.状态}"
    assert "—" not in texts.values()


def test_toolbar_speaks_chinese_and_has_only_the_download_button():
    config = charts.PLOTLY_CONFIG
    assert config["modeBarButtons"] == [["toImage"]]
    assert config["locales"][config["locale"]]["dictionary"]["Download plot as a png"] == "下载图片"


def test_charts_use_a_chinese_font_and_fit_a_laptop(tables):
    fig = charts.completion_bars(tables["categories"], "类别", "类别")
    assert "Noto Sans CJK SC" in fig.layout.font.family
    assert fig.layout.height <= 560


def test_figures_are_exactly_what_plotly_validation_makes(tables):
    """``charts._figure`` skips Plotly's validation (about a fifth of a project page's first visit): every chart's
    JSON, what the browser receives, is the same document as the same figure's built with validation, and validation
    of each (an unknown property or a bad value raises) still passes."""
    import plotly.graph_objects as go

    t, rows, detail = tables["targets"], tables["rows"], tables["detail"]
    projects = tables["projects"]
    trend = pd.DataFrame({"月份": [1, 2, 3], "完成率": [0.05, 0.12, 0.2], "序时进度": [1 / 12, 2 / 12, 3 / 12]})
    split = detail[detail["层级"] == P.LEVEL_COUNTY]
    split = split[split["指标编号"] == split["指标编号"].iloc[0]]
    figures = {
        "completion_bars": charts.completion_bars(tables["categories"], "类别", "类别"),
        "completion_bars qualitative": charts.completion_bars(projects.assign(项目=projects["项目名称"]), "项目", "t"),
        "status_donut": charts.status_donut({S.STATUS_DONE: 3, S.STATUS_LAGGING: 2}),
        "county_map": charts.county_map(tables["counties"], GEOJSON),
        "compliance_heatmap": charts.compliance_heatmap(tables["compliance"]),
        "county_project_heatmap": charts.county_project_heatmap(P.county_project_matrix(t, rows, 6, detail)),
        "category_treemap": charts.category_treemap(projects),
        "trend_chart": charts.trend_chart(trend, "t", projection=0.8, month=3),
        "county_breakdown": charts.county_breakdown(split, "各县市区完成率"),
        "lagging_bars": charts.lagging_bars(P.unit_table(t, rows, 6), "牵头单位"),
    }
    for name, fig in figures.items():
        raw = fig.to_dict()
        validated = go.Figure(data=raw["data"], layout=raw["layout"])  # raises on anything Plotly would refuse
        # the same JSON document (Plotly's validation orders the keys its own way: the bytes may differ, not the value)
        assert json.loads(fig.to_json()) == json.loads(validated.to_json()), name
    with pytest.raises(ValueError):  # the check above can fail: validation refuses what Plotly does not know
        go.Figure(data=[dict(type="bar", colour="red")])
