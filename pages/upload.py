"""数据上报: templates out, filled workbooks in — checked cell by cell, stored only when clean."""

import hashlib
import logging
from datetime import datetime

import pandas as pd
import streamlit as st

import ui
from lib import ledger
from lib.formatting import fmt_times
from lib.ingest import current_summary, read_zip_of_workbooks
from lib.store import DEMO_REFUSAL, STATE_CURRENT
from lib.submission import display_name, validate

from lib.auth import ANALYST, UNIT, unit_refusal

log = logging.getLogger("pages.upload")  # a page runs as __main__


def annotated(data: bytes, result) -> bytes:
    """The workbook with its problem cells marked (lib.annotate): openpyxl is imported when someone downloads it, not
    on every run of this page."""
    from lib.annotate import annotated_copy

    return annotated_copy(data, result)


folder, version, bundle, f = ui.frame(live=True)  # acts on the store: live data whatever the switch says
user = ui.require(UNIT)  # server-side: the page is also absent from a viewer's navigation
office = user.can(ANALYST)  # the office acts for every unit; a unit user (填报单位) only for its own
t = bundle.targets
store = ui.store()

ui.page_start("数据上报", ignored={ui.ALL_FILTERS: "上传与审核按文件进行"})

with st.container(border=True):
    st.markdown("**① 下载标准模板**（各单位每月填写后报送）")
    a, b, c = st.columns([2, 1, 1])
    unit = a.selectbox("填报单位", t.reporting_units if office else [user.unit], key="upload_template_unit",
                       label_visibility="collapsed", disabled=not office)
    ui.require_unit(unit, "该模板")
    b.download_button("下载该单位模板", lambda: ui.template_bytes(folder, t.year, t.version, unit), file_name=f"{unit}.xlsx",
                      key="upload_template_one", on_click="ignore", icon=":material/download:",
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if office:
        c.download_button("全部模板（.zip）", lambda: ui.template_bytes(folder, t.year, t.version, None), file_name=f"{t.year}年报表模板.zip",
                          key="upload_template_all", on_click="ignore", icon=":material/folder_zip:", mime="application/zip")

st.markdown("**② 上传填好的报表**：可一次选择多个 .xlsx，或把多个文件打包成 .zip 上传。系统逐单元格检查，"
            "有“错误”的文件不会入库；只有“提醒”的文件确认后入库。")
if bundle.is_demo:
    st.error(DEMO_REFUSAL, icon=":material/science:")
uploaded = ui.file_uploader("选择文件", key="upload_files", accepts=".xlsx 或 .zip", accept_multiple_files=True)
st.caption(f"上传人：{user.name}（记录在报送历史与审计日志中）")

checked = st.session_state.setdefault("upload_checked", {})  # sha256 -> (name, data, result)
done = st.session_state.setdefault("upload_done", {})  # sha256 -> summary of the ingest

files = []
for item in uploaded or []:
    data = item.getvalue()
    if item.name.lower().endswith(".zip") and data[:2] == b"PK":
        try:
            files += read_zip_of_workbooks(data, item.name)
            continue
        except Exception:  # not a zip of workbooks: validate() names the problem
            log.info("upload %r is not a zip of workbooks", item.name, exc_info=True)
    files.append((display_name(item.name), data))

if files:
    todo = [(n, d) for n, d in files if hashlib.sha256(d).hexdigest() not in checked]
    if todo:
        bar = st.progress(0.0, text="正在检查…")
        for i, (name, data) in enumerate(todo, start=1):
            result = validate(data, name, t, store)
            if result.unit and not user.may_act_for(result.unit):  # another unit's report: refused and audited
                store.log(user.name, "上传被拒", f"{name}：{result.unit} 的报表，账号只能上报 {user.unit}")
            checked[hashlib.sha256(data).hexdigest()] = (name, data, result)
            bar.progress(i / len(todo), text=f"正在检查 {i}/{len(todo)}：{name}")
        bar.empty()
    current = [hashlib.sha256(d).hexdigest() for _, d in files]
    own = {s for s in current if user.may_act_for(checked[s][2].unit) or not checked[s][2].unit}
    acceptable = [] if bundle.is_demo else [s for s in current if checked[s][2].accepted and s in own and s not in done]
    rejected = [s for s in current if not checked[s][2].accepted or s not in own]
    st.markdown(f"共 {len(current)} 个文件：可接收 **{len(acceptable)}** 个，需退回修改 **{len(rejected)}** 个。")
    for sha in current:
        name, data, result = checked[sha]
        state = "已入库" if sha in done else ("可接收" if result.accepted and sha in own else "退回")
        icon = ":material/check_circle:" if result.accepted and sha in own else ":material/error:"
        title = f"{name} — {result.unit or '未识别单位'} {result.period} · {state} · 错误 {len(result.errors)} · 提醒 {len(result.warnings)}"
        with st.expander(title, icon=icon, expanded=(bool(result.findings) and sha not in done) or sha not in own):
            if sha not in own:
                st.error(unit_refusal(user, result.unit, "此文件"))
                continue
            if sha in done:
                st.success(done[sha])
            if result.findings:
                # Open, coloured by level and whole: long messages wrap instead of being cut.
                findings = result.findings_frame().drop(columns=["文件"])
                st.table(findings.style.map(lambda level: f"background-color: {ui.FINDING_COLORS.get(level, 'transparent')}",
                                            subset=["级别"]).hide(axis="index"))
                st.download_button("下载标注版（退回填报单位）", lambda data=data, result=result: annotated(data, result), key=f"upload_annotated_{sha[:12]}",
                                   file_name=f"校验结果_{name.rsplit('.', 1)[0]}.xlsx", on_click="ignore",
                                   icon=":material/download:",
                                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            else:
                st.write("未发现问题。")
    if st.session_state.get("upload_current"):  # as the command line ends a batch: each unit-month's current file
        st.markdown("**当前版本**")
        st.text("\n".join(st.session_state["upload_current"]))  # st.text: a file name is never markup
    if st.session_state.get("upload_ledger"):
        st.caption(f"督办台账：{st.session_state['upload_ledger']}")
    if acceptable:
        if st.button(f"确认接收 {len(acceptable)} 个文件", type="primary", key="upload_accept", icon=":material/done_all:"):
            outcomes = []
            for sha in acceptable:
                name, data, result = checked[sha]
                who = ui.require_unit(result.unit, "此文件").name  # re-checked on the server for every file
                outcomes.append(store.ingest(data, name, uploader=who, targets=t))
                done[sha] = outcomes[-1].summary()
            st.session_state["upload_current"] = current_summary(store, outcomes)
            # 存在问题 of the accepted reports become candidates in the 督办台账 right away.
            st.session_state["upload_ledger"] = ledger.sync(store, t, who=who).summary()
            st.rerun()

st.divider()
st.markdown("**③ 报送历史**（每个版本都保留；同一单位同一月份再次报送会替换为当前版本，可随时恢复）")


def submission_history() -> dict:
    """The history table and the versions the office may restore, once per store version and user (ui.cached)."""
    subs = bundle.submissions if office else bundle.submissions.query("unit == @user.unit")
    replaced = subs[subs["state"] != STATE_CURRENT]
    return {"history": None if subs.empty else pd.DataFrame({
        "编号": subs["id"], "填报单位": subs["unit"], "月份": subs["year"].astype(str) + "-" + subs["month"].map("{:02d}".format),
        "状态": subs["state"], "逾期": subs["late"].map({True: "逾期", False: ""}),
        "接收时间": fmt_times(subs["received_at"]), "上传人": subs["uploader"],
        "原文件名": subs["file_name"], "行数": subs["n_rows"],
    }), "replaced": {i: f"第 {i} 号 · {unit} {month} 月 · {received[:16]}" for i, unit, month, received
                     in zip(replaced["id"], replaced["unit"], replaced["month"], replaced["received_at"])}}


shown = ui.cached("upload_history", submission_history, depends=(office, user.unit), all_filters=False)
if shown["history"] is None:
    st.info("尚无报送。")
else:
    st.dataframe(ui.kept_frame(shown["history"]), hide_index=True, key="upload_history", height=300)
    replaced = shown["replaced"]
    if len(replaced) and office:
        a, b = st.columns([3, 1])
        pick = a.selectbox("恢复早先版本", list(replaced), key="upload_restore_pick", format_func=replaced.get)
        if b.button("恢复为当前版本", key="upload_restore", icon=":material/history:"):
            store.restore(int(pick), who=ui.require(ANALYST).name)
            st.toast(f"已恢复第 {pick} 号为当前版本（{datetime.now():%H:%M}）")
            st.rerun()
