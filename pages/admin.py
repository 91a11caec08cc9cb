"""用户与审计 (admin): who may do what, and the record of who did what."""

import pandas as pd
import streamlit as st

import ui
from lib.auth import ADMIN, ROLE_NAMES
from lib.calendar import KNOWN_YEARS, coverage_note, describe
from lib.export import to_csv_bytes
from lib.formatting import fmt_times

folder, version, bundle, f = ui.frame()
admin = ui.require(ADMIN)
store = ui.store()

ui.page_start("用户与审计", ignored={ui.ALL_FILTERS: "用户与审计日志不按项目划分"})
config = ui.auth_config()
st.subheader("用户")
if config.users:
    st.dataframe(pd.DataFrame([{"用户名": login, "姓名": a.name, "角色": ROLE_NAMES[a.role], "所属单位": a.unit or ""}
                               for login, a in config.users.items()]), hide_index=True, key="admin_users")
else:
    st.info("未配置用户（演示模式）。用 `python -m lib.auth add-user 用户名 --name 姓名 --role analyst` 添加用户；"
            "填报单位用户加 `--role unit --unit 单位名称`。")
if config.oidc_roles:
    st.caption("统一身份认证角色映射：" + "、".join(f"{e} → {ROLE_NAMES[r]}{'·' + u if u else ''}"
                                             for e, (r, u) in config.oidc_roles.items()))

if bundle.is_demo:
    st.subheader("示例数据")
    st.warning("本数据目录中是系统生成的示例数据，示例数据清除前不接收真实报表。清除后删除全部示例报送及其数据行并重建数据库，"
               "此操作记入审计日志，且系统不会再在本目录自动生成示例数据。", icon=":material/science:")
    confirm = st.checkbox("我确认清除全部示例数据", key="admin_demo_confirm")
    if st.button("清除示例数据", key="admin_demo_clear", disabled=not confirm, icon=":material/delete_sweep:"):
        from lib.demo import DemoBusy, clear_demo
        try:
            n = clear_demo(store, who=ui.require(ADMIN).name)
        except DemoBusy as exc:
            st.error(str(exc))
        else:
            st.session_state["demo_checked"] = True
            st.toast(f"已清除 {n} 份示例报送")
            st.rerun()

st.subheader("审计日志")
log = store.audit_log()
actions = st.multiselect("操作", sorted(log["操作"].unique()), key="admin_actions", placeholder="全部操作")
shown = log[log["操作"].isin(actions)] if actions else log
ui.table(shown.assign(时间=fmt_times(shown["时间"])), key="admin_audit", height=420)  # the CSV keeps seconds
st.download_button("导出审计日志（CSV）", ui.logged_export(admin.name, "审计日志.csv", len(shown), lambda: to_csv_bytes(shown)),
                   file_name="审计日志.csv", key="admin_audit_csv", on_click="ignore", mime="text/csv",
                   icon=":material/download:")

st.subheader("工作日历")
calendar_note = coverage_note(bundle.targets.year)
if calendar_note:
    st.warning(calendar_note, icon=":material/event_busy:")
else:
    st.caption(f"报送截止日遇法定节假日、周末顺延至下一个工作日（国务院办公厅节假日安排，已收录 {KNOWN_YEARS.start}–"
               f"{KNOWN_YEARS.stop - 1} 年）。例：{bundle.targets.year} 年 9 月报表截止 "
               f"{describe(bundle.targets.year, 9, bundle.targets.deadline_day)}。")
