"""分类进展: completion by category; click a category (or pick it) to narrow to its projects."""

import streamlit as st

import ui
from lib import charts
from lib import progress as P

folder, version, bundle, f = ui.frame()
v = ui.view()
t = bundle.targets
projects = ui.filtered_projects()
# Categories rolled up from the filtered projects: the bars agree with the overview under any filter.
categories = ui.cached("category_rollup", lambda: P.category_table(t, bundle.rows, f.month, projects) if len(projects)
                       else v.categories.iloc[0:0])

ui.page_start(f"分类进展 · {t.year} 年 {f.month} 月", ignored={"县市区": "本页（项目按全市统计）"})
st.caption("点击“各类别完成率”图中的类别，或在“类别”框中选择，只看该类别的项目；选择会写入网址，可直接分享。")

names = list(categories["类别"])
options = ["（全部）"] + names
ui.url_pick("category_pick_box", "pick", options)
left, right = st.columns([2, 3])
with left:
    event = ui.chart(lambda: charts.completion_bars(categories, "类别", "各类别完成率"), key="category_chart",
                     on_select="rerun", selection_mode="points")
clicked = None
for point in (event or {}).get("selection", {}).get("points", []) if event else []:
    if point.get("customdata"):
        clicked = point["customdata"][0]
        break
# A new click picks its category; the box stays the one place the choice lives (and can clear it).
if clicked != st.session_state.get("category_last_click"):
    st.session_state["category_last_click"] = clicked
    if clicked in names:
        st.session_state["category_pick_box"] = clicked
if st.session_state.get("category_pick_box") not in options:
    st.session_state["category_pick_box"] = "（全部）"
with right:
    chosen = st.selectbox("类别", options, key="category_pick_box")
    picked = None if chosen == "（全部）" else chosen
    ui.url_keep("pick", picked)
    shown = ui.cached("category_projects", lambda: projects[projects["类别"] == picked] if picked else projects,
                      depends=(picked,))
    ui.chart(lambda: charts.completion_bars(shown.assign(项目=shown["项目序号"].astype(str) + ". " + shown["项目名称"]), "项目", f"{picked or '全部类别'}：各项目完成率"),
             key="category_projects", depends=(picked,))

ui.chart(lambda: charts.category_treemap(shown), key="category_treemap", depends=(picked,))
ui.table_or_cards(ui.cached("category_table", lambda: shown[["项目序号", "类别", "项目名称", "牵头单位", "完成率", "序时进度",
                                                              "差距", "状态", "指标数"]], depends=(picked,)),
                  key="category_table", head=["项目序号", "项目名称", "状态"],
                  body=["类别", "牵头单位", "完成率", "序时进度", "差距", "指标数"], labels={"差距": "差距（个百分点）"})
