"""分类进展: completion by category; click a category to narrow to its projects."""

import streamlit as st

import ui
from lib import charts

folder, version, bundle, f = ui.frame()
v = ui.view()
projects = f.projects(v.projects)
categories = v.categories[v.categories["类别"].isin(projects["类别"].unique())]

ui.page_start(f"分类进展 · {bundle.targets.year} 年 {f.month} 月")
st.caption("点击左图中的类别，可只看该类别的项目；再次点击空白处取消。")

left, right = st.columns([2, 3])
with left:
    event = ui.chart(lambda: charts.completion_bars(categories, "类别", "各类别完成率"), key="category_chart",
                     on_select="rerun", selection_mode="points")
picked = None
points = (event or {}).get("selection", {}).get("points", []) if event else []
for point in points:
    data = point.get("customdata")
    if data:
        picked = data[0]
        break
if picked is None:
    picked = st.session_state.get("category_pick")
if picked not in set(categories["类别"]):
    picked = None
with right:
    chosen = st.selectbox("类别", ["（全部）"] + list(categories["类别"]), key="category_pick_box",
                          index=(list(categories["类别"]).index(picked) + 1) if picked else 0)
    if chosen != "（全部）":
        picked = chosen
    shown = projects[projects["类别"] == picked] if picked else projects
    label = shown["项目序号"].astype(str) + ". " + shown["项目名称"]
    ui.chart(lambda: charts.completion_bars(shown.assign(项目=label), "项目", f"{picked or '全部类别'}：各项目完成率"),
                    key="category_projects", depends=(picked,))

ui.chart(lambda: charts.category_treemap(projects if not picked else shown), key="category_treemap", depends=(picked,))
table = shown[["项目序号", "类别", "项目名称", "牵头单位", "完成率", "序时进度", "差距", "状态", "指标数"]]
st.dataframe(table, hide_index=True, key="category_table", column_config={
    "完成率": st.column_config.ProgressColumn("完成率", format="percent", min_value=0, max_value=1),
    "序时进度": st.column_config.NumberColumn("序时进度", format="percent"),
    "差距": st.column_config.NumberColumn("差距（百分点）", format="%.1f"),
})
