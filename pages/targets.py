"""目标表 (admin): inspect the target table, replace it after validation, regenerate the templates."""

import streamlit as st

import ui
from lib import schema as S
from lib.auth import ADMIN
from lib.targets import parse_targets
from lib.template import write_templates

folder, version, bundle, f = ui.frame(live=True)  # acts on the store: live data whatever the switch says
ui.require(ADMIN)
t = bundle.targets
store = ui.store()

ui.page_start("目标表", ignored={ui.ALL_FILTERS: "这里是全年的目标表本身"})
st.caption(f"{t.year} 年度 · 版本 {t.version[:8]} · {len(t.projects)} 个项目、{len(t.indicators)} 项指标、"
           f"{len(t.reporting_units)} 个填报单位、{len(t.counties)} 个县市区")
tabs = st.tabs([S.SHEET_PROJECTS, S.SHEET_INDICATORS, S.SHEET_SPLITS, S.SHEET_UNITS, "设置"])
for i, (tab, frame) in enumerate(zip(tabs, [t.projects, t.indicators, t.splits, t.units])):
    with tab:
        ui.table(frame, key=f"targets_sheet_{i}", percent=(), points=(), height=320)
tabs[4].table({"设置项": list(t.settings), "值": [str(v) for v in t.settings.values()]})

a, b = st.columns(2)
with a:
    st.markdown("**下载当前目标表**，在 Excel 中修改后上传替换")
    st.download_button("下载 targets.xlsx", lambda: store.target_table(t.year)[1], file_name="targets.xlsx",
                       key="targets_download", on_click="ignore", icon=":material/download:",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    new = st.file_uploader("上传新的目标表", type=["xlsx"], key="targets_upload")
    if new is not None:
        if st.button("校验并替换", type="primary", key="targets_replace", icon=":material/published_with_changes:"):
            who = ui.require(ADMIN).name
            parsed, problems = parse_targets(new.getvalue(), source="upload")
            missing = set() if problems else ui.auth_config().bound_units() - set(parsed.reporting_units)
            if missing:  # unit users bound to a unit the new table drops: the sign-in would refuse everyone
                store.log(who, "目标表被拒", f"缺少已绑定账号的填报单位：{'、'.join(sorted(missing))}")
                st.error(f"新目标表中没有以下填报单位，而 secrets.toml 中有账号绑定了它们：{'、'.join(sorted(missing))}。"
                         "未替换。请先修改或删除这些账号（否则系统会因登录配置无效拒绝所有人）。")
            elif problems := store.replace_targets(new.getvalue(), who=who):
                st.error(f"目标表有 {len(problems)} 个问题，未替换：")
                st.dataframe({"工作表": [p.sheet for p in problems], "行": [p.row for p in problems],
                              "列": [p.column for p in problems], "问题": [p.message for p in problems]},
                             hide_index=True, key="targets_problems")
            else:
                st.success("目标表已替换，旧版本已存档。请重新生成模板并下发。")
with b:
    st.markdown("**重新生成各单位模板**（写入数据目录的 templates/）")
    if st.button("重新生成模板", key="targets_regenerate", icon=":material/autorenew:"):
        who = ui.require(ADMIN).name
        paths = write_templates(t, store.folder / "templates")
        store.log(who, "重新生成模板", f"{len(paths)} 个模板，目标表版本 {t.version}")
        st.success(f"已生成 {len(paths)} 个模板。")
