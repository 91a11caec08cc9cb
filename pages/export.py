"""数据导出: the filtered detail table, chosen columns, CSV (Excel/WPS-safe) and xlsx."""

import streamlit as st

import ui
from lib.export import export_filename, to_csv_bytes, to_xlsx_bytes
from lib.progress import DETAIL_COLUMNS

folder, version, bundle, f = ui.frame()
t = bundle.targets

ui.page_start("数据导出")
table = ui.filtered_detail()
st.caption(f"截至 {t.year} 年 {f.month} 月 · 按侧栏筛选共 {len(table)} 行（每个指标 × 县市区一行，另含全市行）。"
           "导出文件中完成率、序时进度以百分数（保留一位小数）写入“完成率（%）”等列，差距保留一位小数。")
default = ["指标编号", "指标名称", "县市区", "计量单位", "年度目标", "累计完成", "完成率", "序时进度", "差距", "状态",
           "存在问题"]
columns = st.multiselect("导出列", DETAIL_COLUMNS, default=default, key="export_columns")
columns = columns or DETAIL_COLUMNS
shown = ui.cached("export_table", lambda: table[columns], depends=(tuple(columns),))
# Narrow text columns, so the default columns fit a 1366 px laptop (项目名称 can be added above).
ui.table(shown, key="export_table", height=420, column_config={
    c: st.column_config.TextColumn(c, width=170) for c in ("项目名称", "指标名称", "存在问题", "进展情况", "下步计划")})
month = f"{t.year}-{f.month:02d}"
csv_name = export_filename("进展明细", month, f.for_names(), "csv")
xlsx_name = export_filename("进展明细", month, f.for_names(), "xlsx")
who = ui.user().name
a, b = st.columns(2)
# Deferred: the bytes are built (and the export logged) only when the button is clicked.
a.download_button("下载 CSV（Excel/WPS 可直接打开）", ui.logged_export(who, csv_name, len(shown), lambda: to_csv_bytes(shown)),
                  key="export_csv", on_click="ignore", file_name=csv_name, mime="text/csv", icon=":material/download:")
b.download_button("下载 Excel（.xlsx）", ui.logged_export(who, xlsx_name, len(shown), lambda: to_xlsx_bytes(
                  shown, sheet="进展明细", title=f"重点民生实事进展明细（截至 {month}）")),
                  key="export_xlsx", on_click="ignore", file_name=xlsx_name,
                  mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:")
