"""督查通报: the month's written briefing as Word (and PDF). Analysts and admins generate; viewers download
the published month's document."""

import streamlit as st

import ui
from lib import auth
from lib import report as R
from lib import schema as S
from lib.formatting import fmt_pct, fmt_signed_points

folder, version, bundle, f = ui.frame()  # month and 实时/已发布 from the sidebar: the document holds what the page shows
t = bundle.targets
user = ui.user()
may_generate = user.can(auth.ANALYST)
month, publication = f.month, bundle.publication

ui.page_start(f"督查通报 · {t.year} 年 {month} 月", ignored=dict.fromkeys(("类别", "牵头单位", "县市区", "状态"), "通报（通报按全市全部项目印发）"))
st.caption("每月向市领导和各单位印发的书面通报：总体进展、分类进展、滞后项目及单位自述问题、县市区排名、报送情况、下步要求，"
           "附全部项目进展表。月份与数据口径（已发布的修订或实时数据）在侧栏选择；用实时数据生成的通报首行标注“"
           + R.UNPUBLISHED + "”。")

if publication is None and not may_generate:
    published = not ui.store().publications(t.year, month).empty
    st.info(f"{t.year} 年 {month} 月" + ("已发布，请在侧栏“数据口径”选择“已发布”后下载通报。" if published else
                                         "尚未发布。发布后可在此下载该月通报。"), icon=":material/schedule:")
    st.stop()

try:
    figures = ui.report_figures(folder, version, month, publication.revision if publication else None,
                                publication is None)
except R.ReportError as exc:
    st.warning(str(exc), icon=":material/info:")
    st.stop()
summary = ui.report_summary(folder, version, month, publication.revision if publication else None, publication is None)
choice = publication.revision if publication else None
live = publication is None

st.subheader(R.title(t.year, month))
st.caption(f"数据：{figures.label} · 校验码 sha256:{figures.content_hash[:16]}")
c1, c2, c3, c4 = st.columns(4)
c1.metric("项目总数", f"{summary.total} 个")
c2.metric("平均完成率", fmt_pct(summary.average),
          f"{summary.gap:+.1f} 个百分点（较序时进度）" if summary.gap == summary.gap else None,
          help=f"各项目完成率（每项封顶 100%）的平均；序时进度 {fmt_pct(summary.planned)}")
c3.metric("滞后 / 严重滞后", f"{summary.lagging_counts[S.STATUS_LAGGING]} / {summary.lagging_counts[S.STATUS_SEVERE]} 个")
c4.metric("逾期 / 未报送单位", f"{len(summary.late_units)} / {len(summary.missing_units)} 个")

st.markdown("**滞后项目（通报第三部分）**")
if summary.lagging.empty:
    st.success("本月没有滞后项目。")
else:
    shown = summary.lagging[["项目序号", "项目名称", "牵头单位", "状态", "完成率", "差距", "存在问题", "下步计划", "来源"]]
    # Text, not numbers: a qualitative project has no rate, and the grid would print None for it.
    shown = shown.assign(完成率=shown["完成率"].map(fmt_pct), 差距=shown["差距"].map(fmt_signed_points))
    st.dataframe(shown, hide_index=True, key="report_lagging",
                 column_config={**ui.column_settings(shown), "来源": st.column_config.Column("填报单位")})
if summary.late_units or summary.missing_units:
    st.caption("逾期报送：" + ("、".join(summary.late_units) or "无") + "；未报送：" + ("、".join(summary.missing_units) or "无"))

pdf_reason = None if R.soffice() else R.PDF_UNAVAILABLE
stem = R.file_stem(figures)
if may_generate:
    st.divider()
    want_pdf = st.checkbox("同时生成 PDF", value=pdf_reason is None, disabled=pdf_reason is not None,
                           key="report_want_pdf", help=pdf_reason)
    if st.button("生成通报", type="primary", key="report_generate", icon=":material/description:"):
        ui.require(auth.ANALYST)  # checked again on the server at the action
        with st.spinner("正在生成通报…"):
            try:
                made = R.generate(ui.store(), month, user.name, choice, live, want_pdf, targets=t, figures=figures)
                st.session_state["report_made"] = (version, month, made)
            except R.ReportError as exc:
                st.error(str(exc))
    kept = st.session_state.get("report_made")
    if kept and kept[:2] == (version, month):
        made = kept[2]
        st.success(f"已生成：{made.docx_name}（{figures.label}），已记入审计日志。", icon=":material/task_alt:")
        a, b = st.columns(2)
        a.download_button("下载 Word（.docx）", made.docx, file_name=made.docx_name, mime=R.DOCX_MIME,
                          key="report_docx", on_click="ignore", icon=":material/download:")
        if made.pdf is not None:
            b.download_button("下载 PDF", made.pdf, file_name=made.pdf_name, mime="application/pdf",
                              key="report_pdf", on_click="ignore", icon=":material/picture_as_pdf:")
        else:
            b.button("下载 PDF：" + ("未勾选“同时生成 PDF”" if pdf_reason is None else "服务器未安装 LibreOffice"),
                     disabled=True, key="report_pdf_off", help=pdf_reason)
else:
    # Viewers: the published document, generated (and audited) when the button is clicked.
    def published_docx() -> bytes:
        return R.generate(ui.store(), month, user.name, choice, targets=t, figures=figures).docx

    def published_pdf() -> bytes:
        return R.generate(ui.store(), month, user.name, choice, pdf=True, targets=t, figures=figures).pdf

    a, b = st.columns(2)
    a.download_button("下载通报（Word）", published_docx, file_name=f"{stem}.docx", mime=R.DOCX_MIME,
                      key="report_docx", on_click="ignore", icon=":material/download:")
    b.download_button("下载通报（PDF）" if pdf_reason is None else "PDF 不可用：服务器未安装 LibreOffice",
                      published_pdf, file_name=f"{stem}.pdf", mime="application/pdf", key="report_pdf",
                      on_click="ignore", disabled=pdf_reason is not None, help=pdf_reason,
                      icon=":material/picture_as_pdf:")
