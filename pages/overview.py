"""总览: the state of all projects in ten seconds — counts, the lagging projects and why, then the charts."""

import streamlit as st

import ui
from lib import charts
from lib import progress as P
from lib import schema as S
from lib.formatting import POINT_DIGITS, fmt_pct, fmt_points, truncate

folder, version, bundle, f = ui.frame()
v = ui.view()
t = bundle.targets


def figures() -> dict:
    """Everything this page computes, once per store version (or revision) and filters (ui.cached)."""
    projects = ui.filtered_projects()
    received = v.compliance[(v.compliance["月份"] == f.month) & v.compliance["报送情况"].isin([P.ON_TIME, P.LATE])]
    changes = ui.changes_view(folder, version, f.month)
    newly = changes[(changes["变化"] == "新增滞后") & changes["项目序号"].isin(projects["项目序号"])]
    # The same roll-up as every other level: mean of the projects' capped rates against their own planned share
    # (序时计划 where the target table has one), so the card and the category bars agree under any filter.
    city = P.city_table(t, bundle.rows, f.month, projects) if len(projects) else None
    behind = projects[projects["状态"].isin([S.STATUS_SEVERE, S.STATUS_LAGGING])].sort_values("差距")
    problems = v.detail[(v.detail["存在问题"] != "")]
    if f.counties:  # reasons of the chosen counties (and the city-wide ones) only
        problems = problems[problems["县市区"].isin(f.counties) | (problems["层级"] == P.LEVEL_CITY)]
    problems = problems[problems["项目序号"].isin(behind["项目序号"])].drop_duplicates(["项目序号", "存在问题"])
    reasons = {number: list(group[["县市区", "存在问题"]].head(3).itertuples(index=False))
               for number, group in problems.groupby("项目序号", sort=False)}
    return {"projects": projects, "counts": projects["状态"].value_counts().to_dict(), "received": len(received),
            "newly": [f"{r.项目序号}. {r.项目名称}" for r in newly.itertuples(index=False)],
            "overall": city["完成率"].iloc[0] if city is not None else None,
            "gap": city["差距"].iloc[0] if city is not None else None,
            "behind": list(behind.itertuples(index=False)), "reasons": reasons,
            "categories": P.category_table(t, bundle.rows, f.month, projects) if len(projects)
            else v.categories.iloc[0:0]}


shown = ui.cached("overview", figures)
projects, counts, overall, gap = shown["projects"], shown["counts"], shown["overall"], shown["gap"]

ui.page_start(f"总览 · 截至 {t.year} 年 {f.month} 月", ignored={
    "县市区": "项目的完成率与状态（项目按全市统计），只筛选下面列出的存在问题",
})

ui.status_cards(counts, len(projects))

previous = ui.last_year()  # the same month a year earlier; None (and no card) where there is no such year
# One horizontal row, not st.columns: a column is a block of its own, i.e. a message per rerun (bench/RESULTS.md).
row = st.container(horizontal=True, gap="medium")
row.metric("平均完成率", fmt_pct(overall),
           f"{gap:+.{POINT_DIGITS}f} 个百分点（较序时进度）" if gap is not None and gap == gap else None,
           help="所选项目完成率（每项封顶 100%）的平均；箭头为与序时进度之差（按各指标的序时计划）")
row.metric(f"{f.month} 月报表已收", f"{shown['received']} / {len(t.reporting_units)} 个单位",
           help="按全部填报单位统计（报表按单位报送，不随项目筛选变化）")
row.metric("本月新增滞后", f"{len(shown['newly'])} 个项目", help="与上月相比，由正常推进/已完成转为滞后或严重滞后的项目")
if previous:
    change = (overall - previous.rate) * 100 if overall is not None else float("nan")
    row.metric(f"去年同期 · {previous.year} 年 {previous.month} 月", fmt_pct(previous.rate),
               f"今年{change:+.{POINT_DIGITS}f} 个百分点" if change == change else None,
               help=f"{previous.year} 年同月（{previous.source}）{previous.projects} 个项目的平均完成率，"
                    f"较当月序时进度 {fmt_points(previous.gap)}；箭头为今年与去年同期之差。类别、牵头单位筛选按名称作用于去年的项目")

st.subheader("滞后项目与存在问题")
if not shown["behind"]:
    st.success("当前筛选范围内没有滞后项目。")
for rec in shown["behind"]:
    with st.container(border=True):
        figure = (f"完成率 {fmt_pct(rec.完成率)}，{fmt_points(rec.差距)}" if rec.完成率 == rec.完成率
                  else "定性项目，按单位报告的进展状态判定")
        with st.container(horizontal=True, vertical_alignment="center"):  # one block, not two columns
            st.markdown(f"{ui.status_chip(rec.状态)} **{rec.项目序号}. {rec.项目名称}** · {rec.牵头单位} · {figure}")
            st.page_link("pages/project.py", label="查看项目", icon=":material/arrow_forward:",
                         query_params={"project": str(rec.项目序号)})
        issues = shown["reasons"].get(rec.项目序号, [])
        if not issues:
            st.caption("未填写存在问题。")
        else:  # one st.text for all (never rendered as markup), not one element per reason
            st.text("\n".join(f"· {issue.县市区}：{truncate(issue.存在问题, 100)}" for issue in issues))
if shown["newly"]:
    st.caption("本月新增滞后：" + "、".join(shown["newly"]))

# The ledger's counts (issue 17) after the lagging list: what is behind and why comes first.
with st.container(horizontal=True, vertical_alignment="center"):  # cards and link side by side in one block
    ui.ledger_cards(ui.ledger_counts())
    st.page_link("pages/ledger.py", label="督办台账", icon=":material/assignment_late:")

left, right = st.columns([3, 2])
with left:
    categories = shown["categories"]
    ui.chart(lambda: charts.completion_bars(categories, "类别", f"{len(categories)} 个类别：完成率与序时进度"),
             key="overview_categories")
with right:
    ui.chart(lambda: charts.status_donut(counts, "项目状态分布"), key="overview_donut")
ui.status_legend(t)
