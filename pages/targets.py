"""目标表 (admin): each year's target table in the store — inspect, upload a new version or a new year, history."""

import pandas as pd
import streamlit as st

import ui
from lib import schema as S
from lib.auth import ADMIN
from lib.targets import parse_targets

folder, version, bundle, f = ui.frame(live=True)  # acts on the store: live data whatever the switch says
ui.require(ADMIN)
t = bundle.targets
store = ui.store()


def stored_years() -> tuple[list[int], dict[int, int]]:
    """The years in the store and each one's current table version number."""
    years = store.target_years()
    return years, {y: store.target_table(y)[0] for y in years}


years, numbers = ui.cached("targets_years", stored_years, all_filters=False)  # once per store version: a table moves it

ui.page_start(f"目标表 · {t.year} 年度", ignored={ui.ALL_FILTERS: "这里是目标表本身（侧栏“年度”选择看哪一年）"})
st.caption(f"{t.year} 年度 · 第 {numbers.get(t.year, '—')} 版（{t.version[:8]}）· {len(t.projects)} 个项目、"
           f"{len(t.indicators)} 项指标、{len(t.reporting_units)} 个填报单位、{len(t.counties)} 个县市区 · "
           f"库中共有 {len(years)} 个年度：{'、'.join(map(str, years))}")
tabs = st.tabs([S.SHEET_PROJECTS, S.SHEET_INDICATORS, S.SHEET_SPLITS, S.SHEET_UNITS, "设置"])
for i, (tab, frame) in enumerate(zip(tabs, [t.projects, t.indicators, t.splits, t.units])):
    with tab:
        ui.table(frame, key=f"targets_sheet_{i}", percent=(), points=(), height=320)
tabs[4].table({"设置项": list(t.settings), "值": [str(v) for v in t.settings.values()]})


def other_years_units(year: int) -> set[str]:
    """Reporting units of every other year's table: accounts bound to them keep a table that names their unit."""
    return {u for y in years if y != year for u in store.targets(y).reporting_units}


def replace(data: bytes, who: str) -> None:
    """Validate and store a new table (a new version of its own year, or a new year); says what happened."""
    parsed, problems = parse_targets(data, source="upload")
    missing = set() if problems else ui.auth_config().bound_units() - set(parsed.reporting_units) - other_years_units(parsed.year)
    if missing:  # unit users bound to a unit no table would name any more: the sign-in would refuse everyone
        store.log(who, "目标表被拒", f"缺少已绑定账号的填报单位：{'、'.join(sorted(missing))}")
        st.error(f"新目标表中没有以下填报单位，其他年度的目标表中也没有，而 secrets.toml 中有账号绑定了它们："
                 f"{'、'.join(sorted(missing))}。未存入。请先修改或删除这些账号（否则系统会因登录配置无效拒绝所有人）。")
        return
    before = store.target_table(parsed.year) if parsed is not None else None
    if problems := store.replace_targets(data, who=who):
        st.error(f"目标表有 {len(problems)} 个问题，未存入。请按下表修改后重新上传：")
        st.dataframe({"工作表": [p.sheet for p in problems], "行": [p.row or "" for p in problems],
                      "列": [p.column or "" for p in problems], "问题": [p.message for p in problems]},
                     hide_index=True, key="targets_problems")
        return
    number = store.target_table(parsed.year)[0]
    if before is not None and before[0] == number:
        st.info(f"上传的目标表与 {parsed.year} 年度现行的第 {number} 版完全相同，未另存新版本。")
        return
    added = "（新增年度，可在侧栏“年度”中选择）" if before is None else "，此前的版本保留在下方的版本记录中"
    st.success(f"已存入 {parsed.year} 年度目标表第 {number} 版{added}。请重新生成该年度模板并下发。")


a, b = st.columns(2)
with a:
    st.markdown(f"**下载 {t.year} 年度目标表**，在 Excel 中修改后上传；上传另一年度的目标表即新增该年度")
    st.download_button(f"下载 {t.year} 年度目标表", lambda: store.target_table(t.year)[1], file_name=f"目标表-{t.year}.xlsx",
                       key="targets_download", on_click="ignore", icon=":material/download:",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    new = ui.file_uploader("上传目标表（年度以表中“设置”的“年度”为准）", key="targets_upload", types=["xlsx"])
    if new is not None:
        if st.button("校验并存入", type="primary", key="targets_replace", icon=":material/published_with_changes:"):
            replace(new.getvalue(), ui.require(ADMIN).name)
with b:
    # Built from the stored table in memory, never written to one server's disk: every server offers the same files.
    st.markdown(f"**重新生成 {t.year} 年度各单位模板**，打包下载后下发各单位（“数据上报”页也可按单位下载）")
    if st.button("重新生成模板", key="targets_regenerate", icon=":material/autorenew:"):
        ui.template_bytes(folder, t.year, t.version, None)
        st.session_state["targets_templates_made"] = (t.year, t.version)
        store.log(ui.require(ADMIN).name, "重新生成模板",
                  f"{len(t.reporting_units)} 个模板，{t.year} 年度目标表版本 {t.version}")
    if st.session_state.get("targets_templates_made") == (t.year, t.version):
        st.success(f"已按 {t.year} 年度现行目标表生成 {len(t.reporting_units)} 个模板。")
        st.download_button(f"下载 {t.year} 年度全部模板（.zip）", lambda: ui.template_bytes(folder, t.year, t.version, None),
                           file_name=f"{t.year}年报表模板.zip", key="targets_templates_download", on_click="ignore",
                           icon=":material/download:", mime="application/zip")


def version_history() -> pd.DataFrame:
    """Every year's table versions, newest year first, as the page shows them."""
    history = pd.concat([store.target_history(y).assign(年度=y) for y in reversed(store.target_years())],
                        ignore_index=True)
    return pd.DataFrame({
        "年度": history["年度"].astype(str), "版本": history["version"].map(lambda v: f"第 {v} 版"),
        "存入时间": pd.to_datetime(history["stored_at"]).dt.strftime("%Y-%m-%d %H:%M"), "存入人": history["stored_by"],
        "SHA-256": history["sha256"].str[:16], "当前": history["current"].map({True: "当前版本", False: ""}),
    })


st.subheader("版本记录")
st.caption("每次上传存为所属年度的新版本，旧版本不删除；上传与被拒都记入审计日志（“用户与审计”页）。")
# Keyed on the store's version read now: a table stored earlier in this same run shows at once.
st.dataframe(ui.cached("targets_history", version_history, depends=(store.version(),), all_filters=False),
             hide_index=True, key="targets_history")
