"""督办台账: every problem raised by a unit's report, an inspection or a meeting, followed until it is solved."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

import ui
from lib import config
from lib import ledger as L
from lib import schema as S
from lib.export import export_filename, to_csv_bytes, to_xlsx_bytes

folder, version, bundle, f = ui.frame()
t = bundle.targets
user = ui.user()
actor = L.Actor.of(user)
manager = L.may_manage(user.role)
store = ui.store()

ui.page_start("督办台账", ignored={ui.ALL_FILTERS: "督办事项按本页上方的状态、项目、单位、县市区筛选"})
items = ui.ledger_items()  # new uploads' 存在问题 become candidates here (once per store version)
ui.ledger_cards(ui.ledger_counts())

names = dict(zip(t.projects["项目序号"].astype(int), t.projects["项目名称"]))
PHOTO_UPLOAD = [extension[1:] for extension in L.PHOTO_EXTENSIONS]  # jpg, jpeg, png
unit_names = t.units.loc[t.units["单位名称"] != S.ALL_COUNTIES, "单位名称"].tolist()
for note in st.session_state.pop("ledger_notes", []):
    st.toast(note, icon=":material/check_circle:")


def show(item_id: int) -> None:
    """Open an item in the detail view (the picker is a new widget then, so its shown value follows)."""
    st.session_state["ledger_item"] = int(item_id)
    st.session_state["ledger_pick_generation"] = st.session_state.get("ledger_pick_generation", 0) + 1


def act(action, success: str) -> None:
    """Run one ledger change; a refusal is shown where the user acted, success reruns the page."""
    try:
        action()
    except L.LedgerError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    st.session_state.setdefault("ledger_notes", []).append(success)
    st.rerun()


# --- filters (a link from the project page presets project / item) ---------------------------------
if "ledger_filters_loaded" not in st.session_state:
    wanted = st.query_params.get("project")
    if wanted and wanted.isdigit() and int(wanted) in names:
        st.session_state["ledger_project"] = [int(wanted)]
    if getattr(actor, "unit", None):
        st.session_state["ledger_unit"] = [actor.unit]  # a unit user starts on its own items
    st.session_state["ledger_filters_loaded"] = True
a, b, c, d = st.columns([2, 3, 2, 2], vertical_alignment="bottom")
statuses = a.multiselect("状态", L.STATES, key="ledger_status", placeholder="全部状态")
projects = b.multiselect("项目", list(names), key="ledger_project", placeholder="全部项目",
                         format_func=lambda n: f"{n}. {names[n]}")
units = c.multiselect("责任/协调单位", unit_names, key="ledger_unit", placeholder="全部单位")
counties = d.multiselect("县市区", [S.CITY, *t.counties], key="ledger_county", placeholder="全部县市区")
left, toggle, mid, right = st.columns([4, 1.2, 1, 1], vertical_alignment="center")
overdue_only = toggle.toggle("只看逾期", key="ledger_overdue")
chosen_by = L.ItemFilter(tuple(statuses), tuple(projects), tuple(units), tuple(counties), overdue_only)
ledger_now = ui.ledger_key()  # the ledger of this rerun: its views below are made once per ledger change, day and filter
chosen = ui.cached("ledger_chosen", lambda: chosen_by.apply(items), depends=(ledger_now, chosen_by), all_filters=False)

# --- the table --------------------------------------------------------------------------------------
left.markdown(f"共 **{len(chosen)}** 项（全部 {len(items)} 项）；逾期事项以红色标出。勾选行可批量处理或查看详情。")
exported = ui.cached("ledger_export", lambda: L.export_frame(chosen), depends=(ledger_now, chosen_by), all_filters=False)
view_name = {"状态": list(statuses), "项目": [str(p) for p in projects], "单位": list(units), "县市区": list(counties)}
mid.download_button("导出 CSV", ui.logged_export(user.name, "督办台账.csv", len(exported), lambda: to_csv_bytes(exported)),
                    file_name=export_filename("督办台账", date.today().isoformat(), view_name, "csv"), mime="text/csv",
                    key="ledger_csv", icon=":material/download:", on_click="ignore")
right.download_button("导出 Excel", ui.logged_export(user.name, "督办台账.xlsx", len(exported),
                                                  lambda: to_xlsx_bytes(exported, "督办台账", f"问题督办台账（{date.today():%Y-%m-%d}）")),
                      file_name=export_filename("督办台账", date.today().isoformat(), view_name, "xlsx"),
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="ledger_xlsx",
                      icon=":material/table_view:", on_click="ignore")
if chosen.empty:
    st.info("当前筛选条件下没有督办事项。" if len(items) else
            "台账中还没有事项：单位报表“存在问题”栏的内容在报表接收后自动列为待确认问题；督导发现、会议交办的问题可在下方新增。")
    picked_rows = []
else:
    shown = ui.cached("ledger_table", lambda: ui.ledger_table(chosen), depends=(ledger_now, chosen_by), all_filters=False)
    event = st.dataframe(shown, hide_index=True, key="ledger_table", on_select="rerun",
                         selection_mode="multi-row", height=min(420, 38 + 35 * len(chosen)),
                         column_config=ui.LEDGER_COLUMN_CONFIG)
    picked_rows = [r for r in (event.selection.rows if event is not None else []) if r < len(chosen)]  # after a filter change
picked = chosen.iloc[picked_rows]

# --- bulk actions (analysts) ---------------------------------------------------------------------------
if manager and len(chosen):
    with st.expander("批量处理", icon=":material/checklist:", expanded=bool(len(picked))):
        candidates = chosen[chosen["状态"] == L.CANDIDATE]
        scope = st.radio("处理范围", ["表中勾选的事项", "当前筛选结果中的全部待确认问题"], key="ledger_bulk_scope",
                         horizontal=True, index=0 if len(picked) else 1)
        target = picked if scope == "表中勾选的事项" else candidates
        ids = target["编号"].astype(int).tolist()
        n_candidates = int((target["状态"] == L.CANDIDATE).sum())
        st.caption(f"范围内 {len(ids)} 项，其中待确认 {n_candidates} 项。")
        x, y = st.columns(2)
        with x:
            due = st.date_input("办结时限（确认时设置）", date.today() + timedelta(days=L.DEFAULT_DUE_DAYS),
                                key="ledger_bulk_due", min_value=date.today())
            if st.button(f"确认为督办事项（{n_candidates} 项）", key="ledger_bulk_confirm", type="primary",
                         disabled=not n_candidates, icon=":material/done_all:"):
                act(lambda: L.confirm(store, ids, actor, due), f"已确认 {n_candidates} 项，办结时限 {due}")
        with y:
            reason = st.text_input("不予处理的理由", key="ledger_bulk_reason", placeholder="如：属正常工作安排，非困难问题")
            open_ids = target.loc[~target["状态"].isin(L.CLOSED_STATES), "编号"].astype(int).tolist()
            if st.button(f"设为不予处理（{len(open_ids)} 项）", key="ledger_bulk_dismiss", disabled=not open_ids,
                         icon=":material/block:"):
                act(lambda: L.dismiss(store, open_ids, actor, reason), f"已将 {len(open_ids)} 项设为不予处理")


# --- new item (analysts) --------------------------------------------------------------------------------
def new_item_form() -> None:
    """The form for an item found on an inspection or assigned at a meeting (analysts)."""
    a, b = st.columns(2)
    project = a.selectbox("项目", list(names), key="ledger_new_project", format_func=lambda n: f"{n}. {names[n]}")
    source = b.radio("来源", L.MANUAL_SOURCES, key="ledger_new_source", horizontal=True)
    codes = t.indicators.loc[t.indicators["项目序号"] == project, ["指标编号", "指标名称"]]
    labels = dict(zip(codes["指标编号"], codes["指标名称"]))
    indicator = a.selectbox("指标（可不选）", ["", *labels], key="ledger_new_indicator",
                            format_func=lambda c: f"{c} {labels[c]}" if c else "不限指标")
    county = b.selectbox("县市区（可不选）", ["", S.CITY, *t.counties], key="ledger_new_county",
                         format_func=lambda c: c or "不限县市区")
    detail = st.text_input("督导地点 / 会议名称", key="ledger_new_detail", placeholder="如：6月12日 任城区现场督导")
    text = st.text_area("问题描述", key="ledger_new_text", height=90)
    a, b, c, d = st.columns(4)
    lead = str(t.projects.set_index("项目序号").at[project, "牵头单位"])
    responsible = a.selectbox("责任单位", unit_names, key=f"ledger_new_responsible_{project}",
                              index=unit_names.index(lead) if lead in unit_names else 0,
                              help="默认为项目牵头单位")
    coordinating = b.multiselect("协调单位", unit_names, key="ledger_new_coordinating", placeholder="可多选")
    raised = c.date_input("提出日期", date.today(), key="ledger_new_raised", max_value=date.today())
    due_new = d.date_input("办结时限", date.today() + timedelta(days=L.DEFAULT_DUE_DAYS), key="ledger_new_due")
    photos = ui.file_uploader("现场照片（可选）", key=f"ledger_new_photos_{st.session_state.get('ledger_new_count', 0)}",
                              types=PHOTO_UPLOAD, limit_mb=config.MAX_PHOTO_BYTES // 1024 // 1024, accept_multiple_files=True)
    if st.button("保存事项", key="ledger_new_save", type="primary", icon=":material/save:"):
        def create():
            new_id = L.create_item(store, t, actor, project=project,
                                   description=text, source=source, raised_on=raised, due=due_new,
                                   responsible=responsible, coordinating=coordinating, indicator=indicator,
                                   county=county, source_detail=detail,
                                   photos=[(p.name, p.getvalue()) for p in photos or []])
            show(new_id)
            st.session_state["ledger_new_reset"] = ["ledger_new_text", "ledger_new_detail", "ledger_new_coordinating",
                                                    "ledger_new_indicator", "ledger_new_county"]
            st.session_state["ledger_new_count"] = st.session_state.get("ledger_new_count", 0) + 1  # empty uploader
        act(create, "已新增督办事项")


def edit_item_form(item_id: int, item: pd.Series) -> None:
    """The form changing an item's deadline, units and description (analysts)."""
    a, b, c = st.columns(3)
    current_due = date.fromisoformat(item["办结时限"]) if item["办结时限"] else None
    due_edit = a.date_input("办结时限", current_due, key=f"ledger_edit_due_{item_id}")
    resp = b.selectbox("责任单位", unit_names, key=f"ledger_edit_resp_{item_id}",
                       index=unit_names.index(item["责任单位"]) if item["责任单位"] in unit_names else 0)
    coord_now = [u for u in item["协调单位"].split("、") if u in unit_names]
    coord = c.multiselect("协调单位", unit_names, default=coord_now, key=f"ledger_edit_coord_{item_id}")
    desc = st.text_area("问题描述", item["问题描述"], key=f"ledger_edit_desc_{item_id}", height=80)
    if st.button("保存修改", key="ledger_edit_save", icon=":material/save:"):
        act(lambda: L.update_item(store, item_id, actor, due=due_edit, responsible=resp, coordinating=coord,
                                  description=desc), "已保存修改")


if manager:
    for key in st.session_state.pop("ledger_new_reset", []):
        st.session_state.pop(key, None)
    # Drawn only while open (a closed expander's widgets would be made and sent on every rerun of the page).
    new_form = st.expander("新增督办事项（督导发现、会议交办）", icon=":material/add_task:", key="ledger_new_open",
                           on_change="rerun")
    if new_form.open:
        with new_form:
            new_item_form()

# --- one item -----------------------------------------------------------------------------------------------
st.subheader("事项详情")
pool = chosen if len(chosen) else items
if pool.empty:
    st.caption("暂无事项。")
    st.stop()
if "ledger_pick_loaded" not in st.session_state:  # a shared link opens on its item, once
    wanted = st.query_params.get("item")
    if wanted and wanted.isdigit() and int(wanted) in set(items["编号"]):
        show(int(wanted))
    st.session_state["ledger_pick_loaded"] = True
if len(picked) == 1 and st.session_state.get("ledger_last_row") != int(picked["编号"].iloc[0]):
    st.session_state["ledger_last_row"] = int(picked["编号"].iloc[0])
    show(st.session_state["ledger_last_row"])
options = pool["编号"].astype(int).tolist()
current = st.session_state.get("ledger_item")
if current not in set(items["编号"]):
    current = None
elif current not in options:
    options = [current, *options]  # a just-created or linked item outside the filter
by_id = items.set_index("编号")
picker_labels = ui.cached("ledger_picker_labels", lambda: dict(zip(
    items["编号"].astype(int), items["编号"].astype(str) + " · " + items["状态"] + " · " + items["项目序号"].astype(str) + ". "
    + items["项目名称"] + " · " + items["问题描述"].str[:30])), depends=(ledger_now,), all_filters=False)
item_id = st.selectbox("选择事项", options, index=options.index(current) if current else 0,
                       key=f"ledger_pick_{st.session_state.get('ledger_pick_generation', 0)}",
                       format_func=picker_labels.__getitem__)
st.session_state["ledger_item"] = item_id
st.query_params["item"] = str(item_id)
item = by_id.loc[item_id]
status = item["状态"]

chip = f":{'red' if item['逾期'] else 'gray'}-background[{status}]"
late = f" :red[**逾期 {item['逾期天数']} 天**]" if item["逾期"] else ""
st.markdown(f"**事项 {item_id}** {chip}{late}")
st.text(item["问题描述"])  # as typed: st.text never renders markup
facts = [
    ("项目", f"{item['项目序号']}. {item['项目名称']}"),
    ("指标 · 县市区", " · ".join(x for x in (item["指标编号"], item["县市区"]) if x) or "不限"),
    ("来源", f"{item['来源']}（{item['来源说明']}）" if item["来源说明"] else item["来源"]),
    ("责任单位", item["责任单位"]), ("协调单位", item["协调单位"] or "无"),
    ("提出日期 → 办结时限", f"{item['提出日期']} → {item['办结时限'] or '未设定'}"),
]
if item["办结日期"] or item["理由"]:
    facts.append(("办结日期" if item["办结日期"] else "不予处理理由", item["办结日期"] or item["理由"]))
st.dataframe(pd.DataFrame(facts, columns=["项目信息", "内容"]), hide_index=True, key="ledger_facts",
             column_config={"内容": st.column_config.TextColumn(width="large")})
if item["申请办结"]:
    st.info(f"{item['申请办结']} 已申请办结，等待填报管理人员确认。", icon=":material/hourglass_top:")

reports = L.reports(store, item_id)
pictures = L.photos(store, item_id)
log_tab, report_tab, photo_tab, history_tab = st.tabs(
    ["进展记录", f"单位报送（{len(reports)}）", f"现场照片（{len(pictures)}）", "该单位历月存在问题与下步计划"])

with log_tab:
    log = L.follow_ups(store, item_id)
    if log.empty:
        st.caption("还没有进展记录。")
    else:
        st.dataframe(log, hide_index=True, key="ledger_log", column_config={"内容": st.column_config.TextColumn(width="large")})
    if status not in L.CLOSED_STATES and L.may_follow_up(user.role, actor.unit, item["责任单位"], item["协调单位"]):
        a, b = st.columns([1, 4])
        on = a.date_input("日期", date.today(), key="ledger_follow_on", max_value=date.today())
        note = b.text_input("进展情况", key="ledger_follow_text", placeholder="如：已约谈施工单位，承诺 6 月底前完工")
        if st.button("添加进展", key="ledger_follow_add", icon=":material/add_comment:"):
            act(lambda: L.add_follow_up(store, item_id, actor, note, on), "已添加进展")
    if L.may_request_closure(user.role, actor.unit, item["责任单位"], status) and not item["申请办结"]:
        closing_note = st.text_input("解决情况（申请办结）", key="ledger_request_text")
        if st.button("申请办结", key="ledger_request", icon=":material/outbound:"):
            act(lambda: L.request_closure(store, item_id, actor, closing_note), "已申请办结，等待确认")

with report_tab:
    if reports.empty:
        st.caption(f"本事项来自{item['来源']}，没有单位报送记录。")
    else:
        st.caption("同一项目、指标、县市区，且文字相似的问题在后续月份再次报送时归入本事项；相似度为与已有文字的最高相似程度。")
        st.dataframe(reports.drop(columns=["报送记录"]), hide_index=True, key="ledger_reports", column_config={
            "相似度": st.column_config.NumberColumn("相似度", format="percent"),
            "存在问题": st.column_config.TextColumn(width="large")})
        if manager and len(reports) > 1:
            a, b = st.columns([3, 1], vertical_alignment="bottom")
            later = reports.iloc[1:]
            split_labels = dict(zip(later["报送记录"].astype(int), later["月份"].astype(str) + " · " + later["县市区"].astype(str)
                                    + " · " + later["存在问题"].astype(str)))
            split = a.selectbox("归并有误的报送", list(split_labels), key="ledger_split_pick",
                                format_func=split_labels.__getitem__)
            if b.button("拆分为新事项", key="ledger_split", icon=":material/call_split:"):
                act(lambda: show(L.split_report(store, split, actor)), "已拆分为新的待确认问题，已打开新事项")

with photo_tab:
    if pictures:
        cols = st.columns(4)
        for i, (name, data) in enumerate(pictures):
            cols[i % 4].image(data, caption=name, width="stretch")
    else:
        st.caption("没有照片。")
    if manager:
        more = ui.file_uploader("添加照片", key=f"ledger_photo_files_{item_id}", types=PHOTO_UPLOAD,
                                limit_mb=config.MAX_PHOTO_BYTES // 1024 // 1024, accept_multiple_files=True)
        if more and st.button("保存照片", key="ledger_photo_add", icon=":material/add_photo_alternate:"):
            act(lambda: L.add_photos(store, item_id, actor, [(p.name, p.getvalue()) for p in more]), "已添加照片")

with history_tab:
    history = L.narrative_history(t, bundle.rows, item.to_dict() | {"编号": item_id}, store)
    if history.empty:
        st.caption("该单位在本项目下没有填写过存在问题或下步计划。")
    else:
        st.dataframe(history, hide_index=True, key="ledger_history", height=260, column_config={
            "存在问题": st.column_config.TextColumn(width="large"), "下步计划": st.column_config.TextColumn(width="large")})

# --- analyst's actions on this item ------------------------------------------------------------------------
if manager:
    with st.container(border=True):
        st.markdown("**处理**")
        if item["申请办结"]:
            a, b, c = st.columns([1, 2, 1], vertical_alignment="bottom")
            if a.button("确认办结", key="ledger_close_confirm", type="primary", icon=":material/task_alt:"):
                act(lambda: L.set_status(store, item_id, L.DONE, actor, "确认单位办结申请"), f"事项 {item_id} 已办结")
            back = b.text_input("退回理由", key="ledger_decline_reason")
            if c.button("退回申请", key="ledger_decline", icon=":material/undo:"):
                act(lambda: L.decline_closure(store, item_id, actor, back), "已退回办结申请")
        a, b, c = st.columns([1, 2, 1], vertical_alignment="bottom")
        new_status = a.selectbox("改为", L.TRANSITIONS[status], key=f"ledger_status_to_{status}")
        note = b.text_input("说明（不予处理、重新打开须填写理由）", key="ledger_status_note")
        if c.button("更新状态", key="ledger_status_set", type="primary" if not item["申请办结"] else "secondary",
                    icon=":material/published_with_changes:"):
            act(lambda: L.set_status(store, item_id, new_status, actor, note), f"事项 {item_id} 已改为{new_status}")
        edit_form = st.expander("修改办结时限、责任单位、协调单位、问题描述", key="ledger_edit_open", on_change="rerun")
        if edit_form.open:  # drawn only while open, as the new-item form
            with edit_form:
                edit_item_form(item_id, item)
