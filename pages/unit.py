"""单位进展: lead units ranked, reporting compliance, the list of units to chase."""

from datetime import date

import streamlit as st

import ui
from lib import charts
from lib import progress as P
from lib.export import export_filename, to_csv_bytes

folder, version, bundle, f = ui.frame()
v = ui.view()
t = bundle.targets
projects = ui.filtered_projects()
units = ui.cached("unit_rollup", lambda: P.unit_table(t, bundle.rows, f.month, projects) if len(projects)
                  else v.units.iloc[0:0])

ui.page_start(f"单位进展 · {t.year} 年 {f.month} 月", ignored={
    "县市区": "本页（牵头单位按全市统计）",
    "类别": "报送情况与催报名单（报表按单位报送）", "状态": "报送情况与催报名单（报表按单位报送）",
})
left, right = st.columns(2)
with left:
    ui.chart(lambda: charts.completion_bars(units, "牵头单位", "牵头单位完成率排名"), key="unit_rank")
with right:
    ui.chart(lambda: charts.lagging_bars(units, "牵头单位"), key="unit_lagging")


def chase_table():
    """The units shown below (the unit filter) and those still to chase this month, readable."""
    reporting = [u for u in t.reporting_units if not f.units or u in f.units]
    compliance = v.compliance[v.compliance["填报单位"].isin(reporting)]
    chase = P.chase_list(t, bundle.submissions, f.month, table=compliance)
    names = dict(zip(t.projects["项目序号"].astype(str), t.projects["项目名称"]))
    chase = chase.assign(牵头项目=chase["牵头项目"].map(
        lambda numbers: "；".join(f"{n}. {names.get(n, '')}" for n in numbers.split("、") if n) or "无"))
    return compliance, chase, to_csv_bytes(chase)


# Depends on the month, the unit filter (reports are sent per unit) and the day (deadlines pass).
compliance, chase, chase_csv = ui.cached("unit_chase", chase_table, depends=(f.month, f.units, date.today()),
                                         all_filters=False)
st.subheader("报送情况")
if compliance.empty:
    st.info("所选牵头单位不是填报单位，没有报送记录。")
else:
    ui.chart(lambda: charts.compliance_heatmap(compliance), key="unit_compliance", depends=(f.month, f.units),
             all_filters=False)

st.subheader(f"催报名单 · {f.month} 月")
if chase.empty:
    st.success(f"{f.month} 月报表已全部收齐。")
else:
    ui.table(chase, key="unit_chase", column_config={
        "截止时间": st.column_config.DatetimeColumn("截止时间", format="YYYY-MM-DD HH:mm"),
        "牵头项目": st.column_config.TextColumn("牵头项目", width="large")})
    st.download_button("导出催报名单（CSV）", chase_csv, key="unit_chase_csv", on_click="ignore",
                       file_name=export_filename("催报名单", f"{t.year}-{f.month:02d}", {}, "csv"), mime="text/csv",
                       icon=":material/download:")
