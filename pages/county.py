"""县区进展: a map of the county-level divisions, their ranking, and county × project gaps."""

import streamlit as st

import ui
from lib import charts
from lib.config import GEOJSON

folder, version, bundle, f = ui.frame()
v = ui.view()
t = bundle.targets
counties = v.counties if not f.counties else v.counties[v.counties["县市区"].isin(f.counties)]

ui.page_start(f"县区进展 · {t.year} 年 {f.month} 月")
st.caption("按分解到各县市区的指标计算（每个县市区内各项目完成率的平均）；颜色表示与序时进度之差。"
           "济宁高新区、太白湖新区、济宁经济技术开发区为功能区，无行政边界，列于地图右侧。")
left, right = st.columns([3, 2])
with left:
    # The map and the ranking depend only on the month and the county filter.
    ui.chart(lambda: charts.county_map(counties, GEOJSON), key="county_map", depends=(f.month, f.counties), all_filters=False)
with right:
    ui.chart(lambda: charts.completion_bars(counties, "县市区", "县市区完成率排名", height=460), key="county_rank",
             depends=(f.month, f.counties), all_filters=False)

# Category and unit filters narrow the projects; county and status filters act on rows below.
matrix = ui.county_matrix_view(folder, version, f.month, f.categories, f.units)
if f.counties:
    matrix = matrix.loc[[c for c in matrix.index if c in f.counties]]
ui.chart(lambda: charts.county_project_heatmap(matrix), key="county_heatmap")
st.dataframe(counties, hide_index=True, key="county_table", column_config={
    "完成率": st.column_config.ProgressColumn("完成率", format="percent", min_value=0, max_value=1),
    "序时进度": st.column_config.NumberColumn("序时进度", format="percent"),
    "差距": st.column_config.NumberColumn("差距（百分点）", format="%.1f"),
})
