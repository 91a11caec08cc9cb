"""项目详情: one project's indicators, trend, projection, counties and narrative history."""

import pandas as pd
import streamlit as st

import ui
from lib import charts
from lib import ledger as L
from lib import progress as P
from lib import schema as S
from lib.formatting import fmt_number, fmt_pct, fmt_points

folder, version, bundle, f = ui.frame()
v = ui.view()
t = bundle.targets

ui.page_start(None, ignored={"县市区": "项目的完成率、趋势与指标明细（按全市统计），只用于分县市区与进展记录"})
# (the title names the chosen project, below the picker)
# The picker lists the projects the category, unit and status filters leave.
narrowed = ui.cached("project_numbers", lambda: ui.filtered_projects()["项目序号"].tolist())
numbers = narrowed or t.projects["项目序号"].tolist()
names = dict(zip(t.projects["项目序号"], t.projects["项目名称"]))
wanted = st.query_params.get("project")
if wanted and wanted.isdigit() and int(wanted) in names and "project_pick" not in st.session_state:
    st.session_state["project_pick"] = int(wanted)
    if int(wanted) not in numbers:  # a shared link to a project outside the filters still opens it
        numbers = sorted(set(numbers) | {int(wanted)})
if st.session_state.get("project_pick") not in numbers:
    st.session_state.pop("project_pick", None)
number = st.selectbox("项目", numbers, key="project_pick", format_func=lambda n: f"{n}. {names[n]}",
                      help="列出符合侧栏类别、牵头单位、状态筛选的项目")
st.query_params["project"] = str(number)


def indicator_table(quantitative: pd.DataFrame, proj: pd.DataFrame) -> pd.DataFrame:
    """The quantitative indicators as read: targets and amounts with their units, rates, the projection."""
    table = quantitative.merge(proj[["指标编号", "预计年末完成率", "剩余月均需完成"]], on="指标编号", how="left")
    return pd.DataFrame({
        "指标": table["指标编号"] + " " + table["指标名称"],
        "年度目标": [S.with_basis(fmt_number(x, u), b) for x, u, b in zip(table["年度目标"], table["计量单位"],
                                                                        table["目标口径"])],
        "累计完成": [fmt_number(x, u) for x, u in zip(table["累计完成"], table["计量单位"])],
        "完成率": table["完成率"],
        "序时进度": table["序时进度"],
        "状态": table["状态"],
        "预计年末完成率": table["预计年末完成率"],
        "剩余月均需完成": [fmt_number(x, u) for x, u in zip(table["剩余月均需完成"], table["计量单位"])],
    })


def flagged_counties(county_rows: pd.DataFrame, code: str) -> tuple[int, pd.DataFrame]:
    """(how many counties the indicator is split to, those behind or that wrote a problem or plan, most behind first,
    累计完成 read as "done / target")."""
    chosen = county_rows[county_rows["指标编号"] == code]
    flagged = chosen[chosen["状态"].isin([S.STATUS_SEVERE, S.STATUS_LAGGING, S.STATUS_MISSING])
                     | (chosen["存在问题"] != "") | (chosen["下步计划"] != "")].sort_values("差距")
    return len(chosen), flagged.assign(累计完成=[f"{fmt_number(x, u)} / {fmt_number(y, u)}" for x, u, y in
                                            zip(flagged["累计完成"], flagged["计量单位"], flagged["年度目标"])])


def open_items_view() -> tuple:
    """The project's open ledger items, overdue first, and their table (once per project and ledger state)."""
    items = ui.ledger_items()
    mine = items[(items["项目序号"] == number) & items["状态"].isin(L.OPEN_STATES)]
    mine = mine.sort_values("逾期", ascending=False, kind="stable")  # overdue first
    return mine, ui.ledger_table(mine) if len(mine) else None


def figures() -> dict:
    """Everything this page computes for one project, once per version, filters and project (ui.cached)."""
    mine = ui.detail_by_project(folder, version, f.month).of(number)
    city = mine[mine["层级"] == P.LEVEL_CITY]
    quantitative = city[city["指标类型"] != S.TYPE_QUALITATIVE]
    qualitative = city[city["指标类型"] == S.TYPE_QUALITATIVE]
    trend = ui.trend_view(folder, version, f.month, "project")
    projection = ui.projection_view(folder, version, f.month)
    proj = projection[projection["指标编号"].isin(quantitative["指标编号"])]
    county_rows = mine[mine["层级"] == P.LEVEL_COUNTY]
    if f.counties:
        county_rows = county_rows[county_rows["县市区"].isin(f.counties)]
    return {
        "info": t.projects.set_index("项目序号").loc[number], "summary": v.projects.set_index("项目序号").loc[number],
        "quantitative": quantitative, "qualitative": list(qualitative.itertuples(index=False)),
        "bars": quantitative.assign(指标=quantitative["指标编号"] + " " + quantitative["指标名称"]),
        "trend": trend[trend["项目序号"] == number],
        "projected_rate": proj["预计年末完成率"].clip(upper=1).mean() if len(proj) else None,
        "indicators": indicator_table(quantitative, proj) if len(quantitative) else None,
        "qualitative_table": pd.DataFrame({
            "指标": qualitative["指标编号"] + " " + qualitative["指标名称"] + "（定性）",
            "单位报告的进展状态": qualitative["进展状态"], "状态": qualitative["状态"], "进展情况": qualitative["进展情况"],
        }) if len(qualitative) else None,
        "county_rows": county_rows, "split_codes": list(dict.fromkeys(county_rows["指标编号"])),
        "labels": dict(zip(city["指标编号"], city["指标名称"])),
        "history": ui.history_view(folder, version, f.month, f.counties).of(number),
    }


# Only the month, the project and the county filter change these: a new 类别 / 牵头单位 / 状态 filter narrows the
# picker above and reuses them (the history's readable table included).
shown = ui.cached("project", figures, depends=(f.month, number, f.counties), all_filters=False)
info, summary, quantitative = shown["info"], shown["summary"], shown["quantitative"]
st.title(f"{number}. {info['项目名称']}")
if summary["完成率"] == summary["完成率"]:
    figure = f"完成率 {fmt_pct(summary['完成率'])}（{fmt_points(summary['差距'])}）"
else:  # only qualitative indicators: the reported state is the figure
    figure = f"定性项目，按填报单位报告的进展状态：{summary['状态']}"
st.markdown(f"{ui.status_chip(summary['状态'])} **{info['类别']}** · 牵头单位 **{info['牵头单位']}** · {figure}")
with st.expander("实施内容及工作目标、协办单位"):
    st.text(info["实施内容及工作目标"])
    st.caption("协办单位：" + (info["协办单位"] or "无"))

left, right = st.columns(2)
with left:
    if len(quantitative):
        ui.chart(lambda: charts.completion_bars(shown["bars"], "指标", "各指标完成率"), key="project_indicators",
                 depends=(f.month, number), all_filters=False)  # other filters only narrow the project picker
    for rec in shown["qualitative"]:  # their reported state and narrative: table below
        st.markdown(f"{ui.status_chip(rec.状态)} {rec.指标编号} {rec.指标名称}（定性指标）")
with right:
    mine, projected_rate = shown["trend"], shown["projected_rate"]
    if len(quantitative) and len(mine):
        ui.chart(lambda: charts.trend_chart(mine, "月度完成率与序时进度", projected_rate, f.month), key="project_trend",
                 depends=(f.month, number), all_filters=False)

st.subheader("指标明细")
if shown["indicators"] is not None:
    ui.table_or_cards(shown["indicators"], key="project_table", head=["指标", "状态"],
                      body=[c for c in shown["indicators"] if c not in ("指标", "状态")],
                      column_config={"预计年末完成率": st.column_config.Column(
                          "预计年末完成率", help="按近三个月的月均进度推算到 12 月，仅供参考")})
if shown["qualitative_table"] is not None:
    ui.table_or_cards(shown["qualitative_table"], key="project_qualitative", head=["指标", "状态"],
                      body=["单位报告的进展状态", "进展情况"], column_config={"状态": st.column_config.Column(
                          "状态", help="按单位报告的进展状态判定；“未启动”在一季度内视为正常推进")})

open_items, ledger_rows = ui.cached("project_open_items", open_items_view, depends=(number, ui.ledger_key()),
                                    all_filters=False)
if len(open_items):
    with st.container(border=True):
        a, b = st.columns([4, 1], vertical_alignment="center")
        overdue = int(open_items["逾期"].sum())
        a.markdown(f"**督办事项** 未办结 {len(open_items)} 项" + (f"，:red[**逾期 {overdue} 项**]" if overdue else ""))
        b.page_link("pages/ledger.py", label="在督办台账中处理", icon=":material/arrow_forward:",
                    query_params={"project": str(number)})
        ui.table_or_cards(ledger_rows.data, key="project_ledger", head=["编号", "状态", "逾期", "县市区"],
                          body=["问题描述", "责任单位", "办结时限", "最近进展"], labels={"编号": "编号", "逾期": "逾期"},
                          phone_rows=5, wide=lambda: st.dataframe(
                              ledger_rows, hide_index=True, key="project_ledger", column_config=ui.LEDGER_COLUMN_CONFIG,
                              height=min(250, 38 + 35 * len(open_items))))

county_rows, split_codes = shown["county_rows"], shown["split_codes"]
if split_codes:
    st.subheader("分县市区")
    labels = shown["labels"]
    ui.url_pick("project_split_pick", "indicator", split_codes)
    if st.session_state.get("project_split_pick") not in split_codes:
        st.session_state.pop("project_split_pick", None)
    code = st.selectbox("指标", split_codes, key="project_split_pick", format_func=lambda c: f"{c} {labels.get(c, '')}")
    ui.url_keep("indicator", code)
    rule = ui.cached("split_rules", lambda: dict(zip(t.indicators["指标编号"], t.indicators[S.COL_SPLIT_RULE])),
                     all_filters=False)[code]
    if rule:
        st.caption(f"{S.COL_SPLIT_RULE}：{rule}")
    ui.chart(lambda: charts.county_breakdown(county_rows[county_rows["指标编号"] == code], "各县市区完成率"),
             key="project_counties", depends=(f.month, number, code, f.counties), all_filters=False)
    # Why: the counties behind, or that wrote a problem, with their words (cards: a phone reads them whole).
    split_to, flagged = ui.cached("project_flagged", lambda: flagged_counties(county_rows, code),
                                  depends=(f.month, number, code, f.counties), all_filters=False)
    if len(flagged):
        st.markdown(f"**滞后或报告了问题的县市区**（{f.month} 月，{len(flagged)} 个）")
        ui.cards(flagged, head=["县市区", "状态"], body=["完成率", "差距", "累计完成", "存在问题", "下步计划"],
                 labels={"差距": "较序时进度（个百分点）", "累计完成": "累计完成 / 年度目标"})
    if split_to > len(flagged):
        st.caption(f"其余 {split_to - len(flagged)} 个县市区未滞后，也未填写存在问题。")
else:
    ui.url_keep("indicator", None)

st.subheader("进展记录（按月）")
ui.table_or_cards(shown["history"], key="project_history",
                  head=["月份", "指标", "县市区", "进展状态"], body=["进展情况", "存在问题", "下步计划"],
                  labels={"进展状态": "自报"}, phone_rows=60, height=320,
                  column_config={"进展情况": st.column_config.TextColumn("进展情况", width="large"),
                                 "存在问题": st.column_config.TextColumn("存在问题", width="medium"),
                                 "下步计划": st.column_config.TextColumn("下步计划", width="medium")})
