"""县区进展: a map of the county-level divisions, their ranking, and county × project gaps."""

import streamlit as st

import ui
from lib import charts
from lib.config import GEOJSON

folder, version, bundle, f = ui.frame()
t = bundle.targets
# Category and unit filters narrow the projects counted in each county; the county filter narrows the
# counties; the status filter keeps the counties (map, ranking, table) whose overall status is chosen.


def tables() -> tuple:
    """The county table and the county × project gaps under the filters, once per version and filters."""
    counties = ui.county_view(folder, version, f.month, f.categories, f.units)
    if f.counties:
        counties = counties[counties["县市区"].isin(f.counties)]
    if f.statuses:
        counties = counties[counties["状态"].isin(f.statuses)]
    matrix = ui.county_matrix_view(folder, version, f.month, f.categories, f.units)
    if f.counties:
        matrix = matrix.loc[[c for c in matrix.index if c in f.counties]]
    if f.statuses:
        keep = set(ui.filtered_projects()["项目序号"])
        matrix = matrix[[c for c in matrix.columns if int(c.split(".", 1)[0]) in keep]]
    shown = counties[["县市区", "完成率", "序时进度", "差距", "状态", "项目数", "指标数", "已报送指标数"]]
    return counties, matrix, shown


counties, matrix, shown = ui.cached("county", tables)

ui.page_start(f"县区进展 · {t.year} 年 {f.month} 月")
st.caption("按分解到各县市区的指标计算（每个县市区内各项目完成率的平均）；颜色表示与序时进度之差，灰色为不在筛选范围或无数据。"
           "济宁高新区、太白湖新区、济宁经济技术开发区为功能区，无行政边界，列于地图右侧。"
           + ("状态筛选作用于各县市区的汇总状态；热力图只列所选状态的项目。" if f.statuses else ""))
left, right = st.columns([3, 2])
with left:
    ui.chart(lambda: charts.county_map(counties, GEOJSON), key="county_map")
with right:
    ui.chart(lambda: charts.completion_bars(counties, "县市区", "县市区完成率排名", height=460), key="county_rank")

if matrix.empty or not len(matrix.columns):
    st.info("当前筛选范围内没有分解到县市区的项目。")
else:
    ui.chart(lambda: charts.county_project_heatmap(matrix), key="county_heatmap")
ui.table_or_cards(shown, key="county_table", head=["县市区", "状态"],
                  body=["完成率", "序时进度", "差距", "项目数", "指标数", "已报送指标数"], labels={"差距": "差距（个百分点）"})
