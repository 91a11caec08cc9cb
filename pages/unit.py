"""单位进展: lead units ranked, reporting compliance, the list of units to chase."""

import streamlit as st

import ui
from lib import charts
from lib import progress as P
from lib.export import export_filename, to_csv_bytes

folder, version, bundle, f = ui.frame()
v = ui.view()
t = bundle.targets
units = v.units if not f.units else v.units[v.units["牵头单位"].isin(f.units)]

ui.page_start(f"单位进展 · {t.year} 年 {f.month} 月")
left, right = st.columns(2)
with left:
    ui.chart(lambda: charts.completion_bars(units, "牵头单位", "牵头单位完成率排名"), key="unit_rank",
             depends=(f.month, f.units), all_filters=False)  # only the month and unit filters change it
with right:
    ui.chart(lambda: charts.lagging_bars(units, "牵头单位"), key="unit_lagging", depends=(f.month, f.units), all_filters=False)

st.subheader("报送情况")
compliance = v.compliance
ui.chart(lambda: charts.compliance_heatmap(compliance), key="unit_compliance", depends=(f.month,), all_filters=False)

st.subheader(f"催报名单 · {f.month} 月")
chase = P.chase_list(t, bundle.submissions, f.month, table=compliance)
if chase.empty:
    st.success(f"{f.month} 月报表已全部收齐。")
else:
    st.dataframe(chase, hide_index=True, key="unit_chase", column_config={
        "截止时间": st.column_config.DatetimeColumn("截止时间", format="YYYY-MM-DD HH:mm")})
    st.download_button("导出催报名单（CSV）", to_csv_bytes(chase), key="unit_chase_csv", on_click="ignore",
                       file_name=export_filename("催报名单", f"{t.year}-{f.month:02d}", {}, "csv"), mime="text/csv",
                       icon=":material/download:")
