"""The monthly 督查通报: a Word document (and PDF) built from one month's figures.

Where the figures come from (``figures_for``): the month's **published** revision when the
publishing module (lib/publish.py) has one, else the live state computed by lib.progress,
and the document then says "未发布 · 仅供内部参考" on its first line. Every number printed is
taken from those tables (``summarize``); none is typed here.

The document (``build_docx``), in the order a supervision office writes it:

    版头      督 查 通 报 · 文号 · 发文单位 and date over a red rule
    标题      关于 2024 年重点民生实事 1—6 月份进展情况的通报
    一、总体进展   status counts, average completion vs 序时进度, change from last month, reports received
    二、分类进展   the categories' table and a chart (completion vs 序时进度)
    三、滞后项目   every 滞后 / 严重滞后 project with its unit's own 存在问题 / 下步计划, trimmed, quoted
    四、逾期督办事项 the 问题督办台账's items past 办结时限 and not closed on the issue date (lib.ledger's rule)
    五、县市区进展 the counties ranked, table and bar chart
    六、报送情况   units late or missing this month, by name (催报名单)
    七、下步工作要求 the 通报设置 text
    附件      the full project table (header row repeated on every page), then the 版记 (抄送)

Section headings are numbered in order as they are written (``build_docx``), never typed. The overdue items are
the ledger as it stands on the issue date, not at month end: the ledger keeps each item's current state only, and
the office chases what is overdue when the 通报 goes out; the section's first sentence names that date.

Page setup follows GB/T 9704 (A4, 37/35/28/26 mm margins, 三号仿宋 body at a 28 pt line pitch,
"— 1 —" page numbers). Fonts are named as offices have them (方正小标宋简体, 仿宋_GB2312, 黑体,
楷体_GB2312); each carries its common fallback in the font table (SimSun, FangSong, SimHei, KaiTi) and the PDF
conversion maps all of them to Noto Serif/Sans CJK SC through its own fontconfig file, so a server with only
``fonts-noto-cjk`` renders every glyph.

Charts are static PNGs drawn by matplotlib with a CJK font found on the server. (Plotly's static export,
kaleido ≥ 1, drives a Chrome it has to find or download; matplotlib draws in-process, offline.)

CLI: ``python -m lib.report --month 2024-06 [--revision N] [--out DIR] [--pdf]``.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from lib import ledger as L
from lib import logs, publish
from lib import progress as P
from lib import schema as S
from lib.formatting import first_sentences, fmt_pct, fmt_points, fmt_signed_points
from lib.status import is_behind
from lib.targets import Targets

log = logging.getLogger(__name__)

UNPUBLISHED = "未发布 · 仅供内部参考"
AUDIT_ACTION = "生成通报"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TIMEOUT_S = 180

# Fonts as Chinese offices name them, each with its common fallback (written into the document's font table)
# and the free font the PDF conversion uses when neither is installed (see FONTCONFIG).
TITLE_FONT, BODY_FONT, HEADING_FONT, SUBHEADING_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体", "楷体_GB2312"
FONT_FALLBACKS = {
    TITLE_FONT: ("SimSun", "Noto Serif CJK SC"),
    BODY_FONT: ("FangSong", "Noto Serif CJK SC"),
    HEADING_FONT: ("SimHei", "Noto Sans CJK SC"),
    SUBHEADING_FONT: ("KaiTi", "Noto Serif CJK SC"),
}
CHART_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei"]
RED = "C00000"
GAP_NOTE = "注：差距 = 完成率 − 序时进度，单位为百分点。"
CHINESE_NUMBERS = "一二三四五六七八九十"


class ReportError(Exception):
    """A report cannot be made; the message (Chinese) says why and what to do."""


# --- figures -------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Figures:
    """Every table one month's report is written from (columns as lib.progress gives them)."""
    targets: Targets  # the target table the figures were computed with (a publication keeps its own)
    month: int
    detail: pd.DataFrame
    projects: pd.DataFrame
    categories: pd.DataFrame
    counties: pd.DataFrame
    compliance: pd.DataFrame
    previous: pd.DataFrame | None  # the project table of the month before (None in January)
    label: str = f"实时数据 · {UNPUBLISHED}"  # which figures, in words ('已发布 · 2024 年 6 月 · 修订 0 · 7 月 8 日发布')
    published: bool = False
    revision: int | None = None
    published_by: str = ""
    content_hash: str = ""

    @property
    def year(self) -> int:
        return self.targets.year


def live_figures(targets: Targets, rows: pd.DataFrame, submissions: pd.DataFrame, month: int,
                 today: date | None = None) -> Figures:
    """The month's figures computed now by lib.progress from the current submissions."""
    each = P.detail_each(targets, rows, range(max(1, month - 1), month + 1))
    detail = each[month]
    projects = P.project_table(targets, rows, month, detail)
    previous = P.project_table(targets, rows, month - 1, each[month - 1]) if month > 1 else None
    figures = Figures(
        targets=targets, month=month, detail=detail, projects=projects,
        categories=P.category_table(targets, rows, month, projects),
        counties=P.county_table(targets, rows, month, detail),
        compliance=P.compliance(targets, submissions, month, today), previous=previous)
    return Figures(**{**figures.__dict__, "content_hash": _tables_hash(figures)})


def _tables_hash(figures: Figures) -> str:
    """sha256 over the live tables, so two unpublished documents can still be told apart."""
    digest = hashlib.sha256()
    for table in (figures.detail, figures.projects, figures.compliance):
        digest.update(table.to_csv(index=False).encode("utf-8"))
    return digest.hexdigest()


def published_figures(targets: Targets, publication, previous: pd.DataFrame | None) -> Figures:
    """Figures of a publication (lib.publish.Publication): its frozen tables, never recomputed.

    ``targets`` is the target table the publication was computed with (``lib.publish.published_targets``).
    """
    tables = publication.tables
    return Figures(
        targets=targets, month=publication.month, detail=tables["detail"], projects=tables["projects"],
        categories=tables["categories"], counties=tables["counties"], compliance=tables["compliance"],
        previous=previous, label=publication.label(), published=True, revision=publication.revision,
        published_by=publication.published_by, content_hash=publication.content_hash)


def revisions(store, year: int, month: int) -> list:
    """The month's published revisions, oldest first (empty when none)."""
    return list(publish.revisions(store, year, month))


def figures_for(store, targets: Targets, month: int, revision: int | None = None, live: bool = False,
                today: date | None = None) -> Figures:
    """The figures a report of ``month`` is written from.

    The latest published revision (or ``revision``) when the month is published and ``live`` is False;
    otherwise the live state. Asking for a revision that does not exist is an error, never a silent fallback.
    """
    publication = None if live else publish.load(store, targets.year, month, revision)
    if revision is not None and publication is None:
        raise ReportError(f"{targets.year} 年 {month} 月没有修订 {revision} 的发布记录，请先在“发布”页发布，"
                          "或不指定修订号以使用实时数据。")
    rows = store.current_rows(targets.year)
    if publication is None:
        if not len(rows) or not (rows["月份"] <= month).any():
            raise ReportError(f"{targets.year} 年 {month} 月及以前没有任何已接收的报表，无法生成通报。"
                              "请先在“数据上报”页上传。")
        return live_figures(targets, rows, store.submissions(), month, today)
    previous = None
    if month > 1:  # last month as published, else as it stands now
        before = publish.load(store, targets.year, month - 1, None)
        previous = before.tables["projects"] if before is not None else P.project_table(targets, rows, month - 1)
    return published_figures(publish.published_targets(store, publication.targets_hash), publication, previous)


# --- what the report says ------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Summary:
    """Section 一, 三 and 六 as figures (the page previews these, the document prints them)."""
    total: int
    status_counts: dict[str, int]
    average: float  # mean of the projects' capped completion (lib.progress.city_table)
    planned: float
    gap: float  # percentage points
    newly_lagging: pd.DataFrame  # 项目序号, 项目名称
    newly_done: pd.DataFrame
    reports: dict[str, int]  # compliance state -> units, this month
    expected_reports: int
    late_units: list[str]
    missing_units: list[str]
    pending_units: list[str]  # not due yet
    deadline: datetime | None
    lagging: pd.DataFrame  # projects 滞后/严重滞后, worst first, with 存在问题 / 下步计划 / 来源
    lagging_counts: dict[str, int] = field(default_factory=dict)


def unit_statement(detail: pd.DataFrame, project: int) -> tuple[str, str, str]:
    """(存在问题, 下步计划, who wrote it) for a project: the unit's own words, trimmed, never invented.

    The 全市 row of the project's indicators comes first, then the county rows; within each, the indicator
    furthest behind. Empty strings when the units wrote nothing.
    """
    rows = detail[(detail["项目序号"] == project) & ((detail["存在问题"] != "") | (detail["下步计划"] != ""))]
    if rows.empty:
        return "", "", ""
    rows = rows.assign(_city=(rows["层级"] != P.LEVEL_CITY).astype(int), _gap=rows["差距"].fillna(np.inf))
    rows = rows.sort_values(["_city", "_gap"], kind="stable")
    with_problem = rows[rows["存在问题"] != ""]
    best = (with_problem if len(with_problem) else rows).iloc[0]
    who = best["填报单位"] if best["县市区"] == S.CITY else f"{best['县市区']}，{best['填报单位']}"
    return first_sentences(best["存在问题"]), first_sentences(best["下步计划"]), who


def summarize(figures: Figures) -> Summary:
    targets, projects = figures.targets, figures.projects
    counts = projects["状态"].value_counts()
    city = P.city_table(targets, None, figures.month, projects).iloc[0]
    if figures.previous is not None:
        changes = P.status_changes(targets, None, figures.month - 1, figures.month, figures.previous, projects)
    else:
        changes = pd.DataFrame(columns=["项目序号", "项目名称", "状态（前）", "状态（后）", "变化"])
    newly_lagging = changes[changes["变化"] == "新增滞后"][["项目序号", "项目名称"]].reset_index(drop=True)
    done = (changes["状态（后）"] == S.STATUS_DONE) & (changes["状态（前）"] != S.STATUS_DONE)
    newly_done = changes[done][["项目序号", "项目名称"]].reset_index(drop=True)
    month_rows = figures.compliance[figures.compliance["月份"] == figures.month]
    state = month_rows["报送情况"]
    behind = projects[projects["状态"].map(is_behind)].sort_values(
        ["差距", "项目序号"], kind="stable").reset_index(drop=True)
    statements = [unit_statement(figures.detail, n) for n in behind["项目序号"]]
    behind["存在问题"] = [s[0] for s in statements]
    behind["下步计划"] = [s[1] for s in statements]
    behind["来源"] = [s[2] for s in statements]
    due = month_rows["截止时间"].iloc[0] if len(month_rows) else None
    return Summary(
        total=len(projects), status_counts={s: int(counts.get(s, 0)) for s in S.STATUSES},
        average=float(city["完成率"]), planned=float(city["序时进度"]), gap=float(city["差距"]),
        newly_lagging=newly_lagging, newly_done=newly_done,
        reports={s: int((state == s).sum()) for s in P.COMPLIANCE_STATES}, expected_reports=len(month_rows),
        late_units=month_rows.loc[state == P.LATE, "填报单位"].tolist(),
        missing_units=month_rows.loc[state == P.MISSING, "填报单位"].tolist(),
        pending_units=month_rows.loc[state == P.NOT_DUE, "填报单位"].tolist(),
        deadline=pd.Timestamp(due).to_pydatetime() if due is not None else None,
        lagging=behind, lagging_counts={s: int(counts.get(s, 0)) for s in (S.STATUS_LAGGING, S.STATUS_SEVERE)})


def overdue_items(store, targets: Targets, today: date) -> pd.DataFrame:
    """The ledger's items of the targets' year overdue on ``today`` (lib.ledger.items: its one overdue rule),
    most days overdue first."""
    frame = L.items(store, targets, today)
    return frame[frame["逾期"] & (frame["年度"] == targets.year)].reset_index(drop=True)


def month_span(month: int) -> str:
    """'1—6 月份' (January: '1 月份')."""
    return "1 月份" if month == 1 else f"1—{month} 月份"


def title(year: int, month: int) -> str:
    """'关于 2024 年重点民生实事 1—6 月份进展情况的通报'."""
    return f"关于 {year} 年重点民生实事 {month_span(month)}进展情况的通报"


def document_number(settings: dict, year: int, month: int, revision: int | None) -> str:
    """文号: '督查通报〔2024〕6号', with '（修订 1）' for a later revision."""
    suffix = f"（修订 {revision}）" if revision else ""
    return f"{settings[S.REPORT_NUMBER_PREFIX]}〔{year}〕{month}号{suffix}"


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _names(frame: pd.DataFrame) -> str:
    return "、".join(f"“{r.项目名称}”" for r in frame.itertuples(index=False))


# --- charts (matplotlib, offline) ----------------------------------------------------------------------------

def chart_font() -> str:
    """The first CJK font matplotlib finds on this server; refuses rather than draw missing-glyph boxes."""
    from matplotlib import font_manager

    for name in CHART_FONTS:
        try:
            font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
            return name
        except ValueError:
            continue
    log.error("no CJK font for report charts; install fonts-noto-cjk (tried %s)", ", ".join(CHART_FONTS))
    raise ReportError("服务器未安装中文字体，无法绘制通报图表。请管理员安装 fonts-noto-cjk 后重试。")


def _bar_chart(frame: pd.DataFrame, label: str, heading: str) -> bytes:
    """Horizontal bars of capped completion per row, coloured by status, with the 序时进度 tick. PNG bytes."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from lib.charts import PLAN_COLOR

    data = frame.sort_values("完成率", ascending=True, na_position="first")
    rate = data["完成率"].clip(upper=1).fillna(0).to_numpy() * 100
    with matplotlib.rc_context({"font.family": [chart_font()], "axes.unicode_minus": False, "font.size": 10}):
        fig = Figure(figsize=(6.3, 0.34 * len(data) + 1.3), dpi=170)
        ax = fig.subplots()
        y = np.arange(len(data))
        ax.barh(y, rate, color=[S.STATUS_COLORS.get(s, "#999999") for s in data["状态"]], height=0.62)
        ax.scatter(data["序时进度"].to_numpy() * 100, y, marker="|", s=260, linewidths=2.4, color=PLAN_COLOR, zorder=3)
        for yi, value in zip(y, data["完成率"]):  # a value column right of the bars: never under the plan tick
            ax.text(116, yi, fmt_pct(value), va="center", ha="right", fontsize=8.5, color="#333333")
        ax.set_yticks(y, data[label].tolist())
        ax.set_xlim(0, 116)
        ax.set_xticks(range(0, 101, 20))
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(decimals=0))
        ax.grid(axis="x", color="#e5e5e5")
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        shown = [s for s in S.STATUSES if s in set(data["状态"])]
        handles = [Patch(color=S.STATUS_COLORS[s], label=s) for s in shown]
        handles.append(Line2D([], [], marker="|", linestyle="none", markersize=12, markeredgewidth=2.4,
                              color=PLAN_COLOR, label="序时进度"))
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), frameon=False,
                  fontsize=8.5)
        ax.set_title(heading, fontsize=11, pad=24)
        # Margins computed, not measured (tight_layout would draw the figure once more): labels are CJK, one em each.
        height, width = fig.get_figheight(), fig.get_figwidth()
        longest = max((len(str(v)) for v in data[label]), default=4)
        fig.subplots_adjust(left=(longest * 10 / 72 + 0.2) / width, right=0.97, bottom=0.45 / height,
                            top=1 - 0.75 / height)
        out = io.BytesIO()
        fig.savefig(out, format="png", pil_kwargs={"compress_level": 3})
    return out.getvalue()


def category_chart(categories: pd.DataFrame) -> bytes:
    return _bar_chart(categories, "类别", "各类别完成率与序时进度")


def county_chart(counties: pd.DataFrame) -> bytes:
    return _bar_chart(counties, "县市区", "各县市区完成率与序时进度")


# --- the document --------------------------------------------------------------------------------------------

class _Writer:
    """python-docx with the official-document look: fonts, sizes, indents, tables."""

    BODY_PT, LINE_PT = 16, 28  # 三号 at a fixed 28 pt pitch (22 lines a page)

    def __init__(self):
        import docx
        from docx.enum.section import WD_ORIENT
        from docx.shared import Mm, Pt

        self.docx, self.Pt, self.Mm = docx, Pt, Mm
        self.doc = docx.Document()
        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        section.footer_distance = Mm(20)
        self.width_mm = 210 - 28 - 26
        normal = self.doc.styles["Normal"]
        normal.font.size = Pt(self.BODY_PT)
        self._fonts(normal.element.get_or_add_rPr(), BODY_FONT)
        lang = self._el("w:lang", {"w:val": "en-US", "w:eastAsia": "zh-CN"})
        normal.element.get_or_add_rPr().append(lang)
        self._font_table()
        self._page_numbers(section)

    # low-level helpers
    def _el(self, tag: str, attrs: dict | None = None):
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        element = OxmlElement(tag)
        for key, value in (attrs or {}).items():
            element.set(qn(key), value)
        return element

    def _fonts(self, rpr, name: str) -> None:
        from docx.oxml.ns import qn

        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = self._el("w:rFonts")
            rpr.insert(0, fonts)
        for key in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(key), name)

    def _font_table(self) -> None:
        """Name each font's fallback in word/fontTable.xml (w:altName), with a serif/sans family hint."""
        from docx.opc.constants import RELATIONSHIP_TYPE as RT
        from docx.oxml.ns import qn

        part = self.doc.part.part_related_by(RT.FONT_TABLE)
        from lxml import etree
        root = etree.fromstring(part.blob)
        for name, (fallback, _free) in FONT_FALLBACKS.items():
            font = etree.SubElement(root, qn("w:font"), {qn("w:name"): name})
            etree.SubElement(font, qn("w:altName"), {qn("w:val"): fallback})
            etree.SubElement(font, qn("w:charset"), {qn("w:val"): "86"})  # GB2312
            etree.SubElement(font, qn("w:family"), {qn("w:val"): "modern" if name == HEADING_FONT else "roman"})
            etree.SubElement(font, qn("w:pitch"), {qn("w:val"): "variable"})
        part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)

    def _page_numbers(self, section) -> None:
        """Footer '— 1 —' (a PAGE field), 宋体 四号, centred."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        para = section.footer.paragraphs[0]
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        self._run(para, "— ", TITLE_FONT, 14)
        for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("text", "1"), ("end", None)):
            run = self._run(para, "", TITLE_FONT, 14)
            if kind == "instr":
                instr = self._el("w:instrText", {"xml:space": "preserve"})
                instr.text = text
                run._r.append(instr)
            elif kind == "text":
                run.text = text
            else:
                run._r.append(self._el("w:fldChar", {"w:fldCharType": kind}))
        self._run(para, " —", TITLE_FONT, 14)

    def _run(self, para, text: str, font: str = BODY_FONT, size: float | None = None, bold: bool = False,
             color: str | None = None):
        from docx.shared import RGBColor

        run = para.add_run(text)
        self._fonts(run._r.get_or_add_rPr(), font)
        run.font.size = self.Pt(size or self.BODY_PT)
        run.font.bold = bold or None
        if color:
            run.font.color.rgb = RGBColor.from_string(color)
        return run

    def para(self, text: str = "", font: str = BODY_FONT, size: float | None = None, bold: bool = False,
             align: str = "justify", indent: bool = True, color: str | None = None, before: float = 0,
             after: float = 0, exact: bool = True):
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING

        para = self.doc.add_paragraph()
        fmt = para.paragraph_format
        fmt.alignment = {"justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "center": WD_ALIGN_PARAGRAPH.CENTER,
                         "right": WD_ALIGN_PARAGRAPH.RIGHT, "left": WD_ALIGN_PARAGRAPH.LEFT}[align]
        if exact:
            fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            fmt.line_spacing = self.Pt(max(self.LINE_PT, (size or self.BODY_PT) * 1.25))
        fmt.space_before, fmt.space_after = self.Pt(before), self.Pt(after)
        if indent:
            fmt.first_line_indent = self.Pt(2 * (size or self.BODY_PT))
        if text:
            self._run(para, text, font, size, bold, color)
        return para

    def lead_para(self, lead: str, rest: str, lead_font: str = SUBHEADING_FONT):
        """A paragraph whose first words are a run-in heading ('（一）压实工作责任。' in 楷体)."""
        para = self.para()
        self._run(para, lead, lead_font)
        self._run(para, rest)
        return para

    def heading(self, text: str):
        """一级标题: 黑体 三号, indented like the body, never left alone at the foot of a page."""
        para = self.para(text, HEADING_FONT)
        para.paragraph_format.keep_with_next = True
        return para

    def page_break(self):
        from docx.enum.text import WD_BREAK

        self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def rule(self, para, color: str = RED, size: int = 12) -> None:
        """A horizontal rule under a paragraph (the red line of the 版头, the lines of the 版记)."""
        ppr = para._p.get_or_add_pPr()
        borders = self._el("w:pBdr")
        borders.append(self._el("w:bottom", {"w:val": "single", "w:sz": str(size), "w:space": "4", "w:color": color}))
        ppr.append(borders)

    def picture(self, png: bytes, caption: str) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        para = self.doc.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.add_run().add_picture(io.BytesIO(png), width=self.Mm(self.width_mm - 6))
        self.para(caption, BODY_FONT, 12, align="center", indent=False, after=6)

    def table(self, header: list[str], rows: list[list[str]], widths_mm: list[float], size: float = 10.5,
              align: list[str] | None = None):
        """A bordered table; the header row repeats on every page, no row splits across pages."""
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        align = align or ["center"] * len(header)
        names = {"center": WD_ALIGN_PARAGRAPH.CENTER, "left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT}
        for c, width in enumerate(widths_mm):
            table.columns[c].width = self.Mm(width)
        for r, values in enumerate([header] + rows):
            row = table.rows[r]
            trpr = row._tr.get_or_add_trPr()
            trpr.append(self._el("w:cantSplit"))
            if r == 0:
                trpr.append(self._el("w:tblHeader"))
            cells = row.cells  # computed on each access: once per row
            for c, value in enumerate(values):
                cell = cells[c]
                cell.width = self.Mm(widths_mm[c])
                para = cell.paragraphs[0]
                para.alignment = names["center" if r == 0 else align[c]]
                para.paragraph_format.space_before = para.paragraph_format.space_after = self.Pt(1)
                self._run(para, str(value), HEADING_FONT if r == 0 else BODY_FONT, size)
        return table


def build_docx(figures: Figures, issued: date | None = None, overdue: pd.DataFrame | None = None) -> bytes:
    """The 督查通报 of ``figures`` as .docx bytes (see the module docstring for its parts), one function per part.

    The 通报设置 text comes from the figures' own target table (for a publication, the one it was computed with).
    ``overdue`` is ``overdue_items`` on the issue date (``generate`` always passes it); without it (no store at
    hand) the overdue section is left out and the sections after it are numbered on.
    """
    issued = issued or date.today()
    settings = figures.targets.report_settings
    summary = summarize(figures)
    w = _Writer()
    _masthead(w, figures, settings, issued)
    _opening(w, figures, settings)
    sections = [
        ("总体进展", lambda: _overall(w, figures, summary)),
        ("分类进展", lambda: _categories(w, figures)),
        ("滞后项目", lambda: _lagging(w, figures, summary)),
        ("逾期督办事项", None if overdue is None else lambda: _overdue(w, overdue, issued)),
        ("县市区进展", lambda: _counties(w, figures)),
        ("报送情况", lambda: _reports(w, figures, summary)),
        ("下步工作要求", lambda: _requirements(w, settings)),
    ]
    for number, (heading, write) in zip(CHINESE_NUMBERS, [s for s in sections if s[1] is not None]):
        w.heading(f"{number}、{heading}")
        write()
    _signature(w, figures, settings, issued)
    _annex(w, figures)
    _colophon(w, settings, issued)
    _properties(w.doc, figures, title(figures.year, figures.month), settings)
    out = io.BytesIO()
    w.doc.save(out)
    return out.getvalue()


def _masthead(w: _Writer, figures: Figures, settings: dict, issued: date) -> None:
    """版头: the unpublished mark, 督查通报 in red, the document number, office and date over a red rule."""
    year, month = figures.year, figures.month
    if not figures.published:
        w.para(UNPUBLISHED, HEADING_FONT, align="left", indent=False, color=RED)
    w.para("督 查 通 报", TITLE_FONT, 42, align="center", indent=False, color=RED, before=12, after=6, exact=False)
    w.para(document_number(settings, year, month, figures.revision), align="center", indent=False, after=4)
    head = w.para(indent=False, align="left")
    w._run(head, settings[S.REPORT_OFFICE])
    head.paragraph_format.tab_stops.add_tab_stop(w.Mm(w.width_mm), alignment=2)  # right-aligned tab
    w._run(head, "\t" + _cn_date(issued))
    w.rule(head, RED, 18)


def _opening(w: _Writer, figures: Figures, settings: dict) -> None:
    """标题 (two lines), 主送, and the opening sentence naming the data the figures are."""
    year, month = figures.year, figures.month
    heading = w.para("", align="center", indent=False, before=18, after=18, exact=False)
    first, rest = title(year, month).split("进展情况")  # two lines, broken where the meaning breaks
    w._run(heading, first, TITLE_FONT, 22).add_break()
    w._run(heading, "进展情况" + rest, TITLE_FONT, 22)
    w.para(f"{settings[S.REPORT_RECIPIENTS]}：", align="left", indent=False)
    basis = (f"本通报数据为{figures.label}（发布人：{figures.published_by}；数据校验码 {figures.content_hash[:12]}）。"
             if figures.published else f"本通报数据为截至生成时的实时数据，尚未发布，{UNPUBLISHED.split(' · ')[1]}。")
    w.para(f"现将 {year} 年重点民生实事 {month_span(month)}进展情况通报如下。{basis}")


def _overall(w: _Writer, figures: Figures, summary) -> None:
    """一、总体进展: status counts, the mean rate against 序时进度, what changed since last month, reports received."""
    month = figures.month
    counts = summary.status_counts
    w.para(f"截至 {month} 月底，{summary.total} 个项目中，" + "，".join(f"{s} {counts[s]} 个" for s in S.STATUSES) + "。"
           f"项目平均完成率 {fmt_pct(summary.average)}，序时进度 {fmt_pct(summary.planned)}，"
           f"{fmt_points(summary.gap)}。")
    w.table(["项目总数"] + S.STATUSES, [[str(summary.total)] + [str(counts[s]) for s in S.STATUSES]],
            [26] + [26] * len(S.STATUSES), size=12)
    if figures.previous is not None:
        change = (f"与 {month - 1} 月相比，新增滞后项目 {len(summary.newly_lagging)} 个"
                  + (f"（{_names(summary.newly_lagging)}）" if len(summary.newly_lagging) else "")
                  + f"，新增完成项目 {len(summary.newly_done)} 个"
                  + (f"（{_names(summary.newly_done)}）" if len(summary.newly_done) else "") + "。")
    else:
        change = "本月为年度首月，无上月对比。"
    reports = summary.reports
    received = (f"{month} 月应报送单位 {summary.expected_reports} 个，按时报送 {reports[P.ON_TIME]} 个，"
                f"逾期报送 {reports[P.LATE]} 个，未报送 {reports[P.MISSING]} 个"
                + (f"，尚未到报送截止时间 {reports[P.NOT_DUE]} 个" if reports[P.NOT_DUE] else "") + "。")
    w.para(change + received, before=6)


def _categories(w: _Writer, figures: Figures) -> None:
    """二、分类进展: highest and lowest category, the table and the chart."""
    cats = figures.categories
    w.para(f"{len(cats)} 个类别中，完成率最高的是“{cats.loc[cats['完成率'].idxmax(), '类别']}”"
           f"（{fmt_pct(cats['完成率'].max())}），最低的是“{cats.loc[cats['完成率'].idxmin(), '类别']}”"
           f"（{fmt_pct(cats['完成率'].min())}）。" if cats["完成率"].notna().any() else f"{len(cats)} 个类别均无量化数据。")
    rows = [[str(i), r.类别, str(int(r.项目数)), fmt_pct(r.完成率), fmt_pct(r.序时进度), fmt_signed_points(r.差距),
             str(int(getattr(r, S.STATUS_LAGGING)) + int(getattr(r, S.STATUS_SEVERE))), r.状态]
            for i, r in enumerate(cats.itertuples(index=False), start=1)]
    w.table(["序号", "类别", "项目数", "完成率", "序时进度", "差距", "滞后项目", "状态"], rows,
            [10, 34, 14, 18, 19, 16, 19, 22], align=["center", "left"] + ["center"] * 6)
    w.para(GAP_NOTE, size=12, indent=False, exact=False)
    w.picture(category_chart(cats), "图 1　各类别完成率与序时进度（竖线为序时进度）")


def _lagging(w: _Writer, figures: Figures, summary) -> None:
    """三、滞后项目: each lagging project with the lead unit's own 存在问题 and 下步计划 (quoted)."""
    month = figures.month
    lagging = summary.lagging
    if lagging.empty:
        w.para(f"截至 {month} 月底，没有滞后或严重滞后的项目。")
    else:
        w.para(f"截至 {month} 月底，滞后项目 {len(lagging)} 个，其中严重滞后 "
               f"{summary.lagging_counts[S.STATUS_SEVERE]} 个、滞后 {summary.lagging_counts[S.STATUS_LAGGING]} 个。"
               "各项目情况及牵头单位报送的存在问题、下步计划如下（摘录原文）：")
    for i, r in enumerate(lagging.itertuples(index=False)):
        number = CHINESE_NUMBERS[i] if i < 10 else str(i + 1)
        measured = (f"完成率 {fmt_pct(r.完成率)}，序时进度 {fmt_pct(r.序时进度)}，{fmt_points(r.差距)}。"
                    if pd.notna(r.完成率) else f"该项目为定性指标，按单位报送的进展状态判定为{r.状态}。")
        w.lead_para(f"（{number}）{r.项目名称}【{r.状态}】。", f"牵头单位：{r.牵头单位}。{measured}")
        if r.存在问题 or r.下步计划:
            if r.存在问题:
                w.lead_para(f"存在问题（{r.来源}报送）：", f"“{r.存在问题}”")
            if r.下步计划:
                w.lead_para("下步计划：", f"“{r.下步计划}”")
        else:
            w.para("牵头单位本月未报送存在问题和下步计划。")


def _overdue(w: _Writer, overdue: pd.DataFrame, issued: date) -> None:
    """四、逾期督办事项: the ledger's overdue items on the issue date (none: one sentence)."""
    on = f"截至 {issued.month} 月 {issued.day} 日（通报印发日）"
    if overdue.empty:
        w.para(f"{on}，问题督办台账中没有超过办结时限仍未办结的事项。")
    else:
        w.para(f"{on}，问题督办台账中超过办结时限仍未办结的事项 {len(overdue)} 件，按逾期天数排列如下，"
               "请责任单位抓紧办结并及时报送办理情况：")
        rows = [[str(i), r.项目名称 + (f"（{r.县市区}）" if r.县市区 not in ("", S.CITY) else ""),
                 first_sentences(r.问题描述, limit=40), r.责任单位, r.办结时限, str(r.逾期天数)]
                for i, r in enumerate(overdue.itertuples(index=False), start=1)]
        w.table(["序号", "项目", "问题描述", "责任单位", "办结时限", "逾期天数"], rows, [12, 34, 42, 24, 24, 20],
                align=["center", "left", "left", "left", "center", "center"])


def _counties(w: _Writer, figures: Figures) -> None:
    """五、县市区进展: the ranking, its table and chart."""
    counties = figures.counties.sort_values(["完成率", "县市区"], ascending=[False, True], na_position="last",
                                            kind="stable").reset_index(drop=True)
    if counties["完成率"].notna().any():
        w.para(f"{len(counties)} 个县市区（功能区）按承担指标的平均完成率排序，前三位为"
               + "、".join(counties["县市区"].head(3)) + "，后三位为" + "、".join(counties["县市区"].tail(3)) + "。")
    rows = [[str(i), r.县市区, fmt_pct(r.完成率), fmt_pct(r.序时进度), fmt_signed_points(r.差距),
             str(int(getattr(r, S.STATUS_LAGGING)) + int(getattr(r, S.STATUS_SEVERE))), r.状态]
            for i, r in enumerate(counties.itertuples(index=False), start=1)]
    w.table(["排名", "县市区", "完成率", "序时进度", "差距", "滞后项目", "状态"], rows,
            [12, 40, 20, 20, 18, 22, 22])
    w.para(GAP_NOTE, size=12, indent=False, exact=False)
    w.picture(county_chart(counties), "图 2　各县市区完成率与序时进度（竖线为序时进度）")


def _reports(w: _Writer, figures: Figures, summary) -> None:
    """六、报送情况: on time, late, missing and not yet due, with the units to chase."""
    month = figures.month
    reports = summary.reports
    due = f"（截止时间 {summary.deadline.month} 月 {summary.deadline.day} 日）" if summary.deadline else ""
    text = f"{month} 月进展报表{due}应报送单位 {summary.expected_reports} 个，按时报送 {reports[P.ON_TIME]} 个。"
    text += (f"逾期报送 {len(summary.late_units)} 个：{'、'.join(summary.late_units)}。" if summary.late_units
             else "无逾期报送单位。")
    text += (f"未报送 {len(summary.missing_units)} 个：{'、'.join(summary.missing_units)}，请抓紧补报。"
             if summary.missing_units else "无未报送单位。")
    if summary.pending_units:
        text += f"尚未到截止时间、暂未报送 {len(summary.pending_units)} 个：{'、'.join(summary.pending_units)}。"
    w.para(text)
    chase = figures.compliance[(figures.compliance["月份"] == month)
                               & figures.compliance["报送情况"].isin([P.LATE, P.MISSING, P.NOT_DUE])]
    if len(chase):
        rows = [[str(i), r.填报单位, r.报送情况,
                 pd.Timestamp(r.首次接收时间).strftime("%m-%d %H:%M") if pd.notna(r.首次接收时间) else "—"]
                for i, r in enumerate(chase.itertuples(index=False), start=1)]
        w.table(["序号", "填报单位", "报送情况", "首次接收时间"], rows, [14, 70, 30, 40],
                align=["center", "left", "center", "center"])


def _requirements(w: _Writer, settings: dict) -> None:
    """七、下步工作要求: the 通报设置 paragraphs, each first sentence as a lead-in."""
    for i, paragraph in enumerate(settings[S.REPORT_REQUIREMENTS]):
        number = CHINESE_NUMBERS[i] if i < 10 else str(i + 1)
        lead, sep, rest = paragraph.partition("。")
        if sep and len(lead) <= 20:
            w.lead_para(f"（{number}）{lead}。", rest)
        else:
            w.para(f"（{number}）{paragraph}")


def _signature(w: _Writer, figures: Figures, settings: dict, issued: date) -> None:
    """附件说明 and 落款 (office and date)."""
    year, month = figures.year, figures.month
    w.para(f"附件：{year} 年重点民生实事项目进展情况表（截至 {month} 月底）", before=14)
    w.para(settings[S.REPORT_OFFICE], align="right", indent=False, before=28)
    w.para(_cn_date(issued), align="right", indent=False)


def _annex(w: _Writer, figures: Figures) -> None:
    """附件: every project's figures on a new page."""
    year, month = figures.year, figures.month
    w.page_break()
    w.para("附件", HEADING_FONT, align="left", indent=False)
    w.para(f"{year} 年重点民生实事项目进展情况表", TITLE_FONT, 18, align="center", indent=False, before=6, after=4,
           exact=False)
    w.para(f"（截至 {month} 月底 · {figures.label}）", size=12, align="center", indent=False, after=6)
    projects = figures.projects.sort_values("项目序号", kind="stable")
    rows = [[str(r.项目序号), r.项目名称, r.牵头单位, fmt_pct(r.完成率), fmt_pct(r.序时进度), fmt_signed_points(r.差距),
             r.状态] for r in projects.itertuples(index=False)]
    w.table(["序号", "项目", "牵头单位", "完成率", "序时进度", "差距", "状态"], rows,
            [9, 47, 29, 17, 19, 15, 19], align=["center", "left", "left", "center", "center", "center", "center"])
    w.para("注：完成率为项目各量化指标完成率（每项封顶 100%）的平均；差距为完成率与序时进度之差（百分点）；"
           "仅有定性指标的项目按单位报送的进展状态判定，完成率记为“—”。", size=12, indent=False, before=4, exact=False)


def _colophon(w: _Writer, settings: dict, issued: date) -> None:
    """版记: 抄送 and 印发 between black rules."""
    cc = w.para(f"抄送：{settings[S.REPORT_CC]}。", size=14, align="left", indent=False, before=24)
    w.rule(cc, "000000", 6)
    sent = w.para(indent=False, align="left")
    sent.paragraph_format.tab_stops.add_tab_stop(w.Mm(w.width_mm), alignment=2)
    w._run(sent, settings[S.REPORT_OFFICE], size=14)
    w._run(sent, f"\t{_cn_date(issued)}印发", size=14)
    w.rule(sent, "000000", 6)


def _properties(doc, figures: Figures, heading: str, settings: dict) -> None:
    """Core properties say which figures the document holds: the publication's content hash, revision, state."""
    props = doc.core_properties
    props.title = heading
    props.subject = f"{figures.year}-{figures.month:02d}"
    props.author = props.last_modified_by = settings[S.REPORT_OFFICE]
    props.identifier = f"sha256:{figures.content_hash}"
    props.content_status = "已发布" if figures.published else UNPUBLISHED
    props.version = f"修订 {figures.revision}" if figures.published else "实时"
    props.keywords = f"督查通报; {figures.year}-{figures.month:02d}; {figures.label}"
    props.comments = f"数据：{figures.label}；校验码 sha256:{figures.content_hash}"
    props.created = props.modified = datetime.now().replace(microsecond=0)
    props.revision = 1 + (figures.revision or 0)


# --- PDF (LibreOffice) ---------------------------------------------------------------------------------------

def _fontconfig() -> str:
    """fontconfig for the conversion: each office font → its fallback → the free Noto CJK SC font."""
    aliases = "".join(
        f"<alias binding=\"strong\"><family>{name}</family><prefer><family>{fallback}</family>"
        f"<family>{free}</family></prefer></alias>"
        for name, (fallback, free) in FONT_FALLBACKS.items())
    return ("<?xml version=\"1.0\"?><!DOCTYPE fontconfig SYSTEM \"fonts.dtd\"><fontconfig>"
            f"{aliases}<include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include></fontconfig>")


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


PDF_UNAVAILABLE = "服务器未安装 LibreOffice，无法生成 PDF；请下载 Word 版，或请管理员安装 libreoffice-writer-nogui。"


def to_pdf(docx_bytes: bytes) -> bytes:
    """Convert with ``soffice --headless --convert-to pdf`` in a private profile (safe beside other instances)."""
    binary = soffice()
    if not binary:
        raise ReportError(PDF_UNAVAILABLE)
    with tempfile.TemporaryDirectory(prefix="report-pdf-") as tmp:
        work = Path(tmp)
        (work / "fonts.conf").write_text(_fontconfig(), encoding="utf-8")
        source = work / "report.docx"
        source.write_bytes(docx_bytes)
        env = {**os.environ, "FONTCONFIG_FILE": str(work / "fonts.conf")}
        try:
            done = subprocess.run([binary, "--headless", f"-env:UserInstallation={(work / 'profile').as_uri()}",
                                   "--convert-to", "pdf", "--outdir", str(work), str(source)],
                                  env=env, capture_output=True, timeout=PDF_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("soffice timed out after %s s converting a report", PDF_TIMEOUT_S)
            raise ReportError("PDF 转换超时，请稍后重试或下载 Word 版。") from None
        pdf = work / "report.pdf"
        if not pdf.exists():
            log.error("soffice failed (%s): %s", done.returncode, done.stderr.decode(errors="replace")[-2000:])
            raise ReportError("PDF 转换失败，请下载 Word 版；管理员可在服务器日志中查看原因。")
        return pdf.read_bytes()


# --- one generation: files + audit ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Report:
    figures: Figures
    docx: bytes
    pdf: bytes | None
    name: str  # file name without extension

    @property
    def docx_name(self) -> str:
        return f"{self.name}.docx"

    @property
    def pdf_name(self) -> str:
        return f"{self.name}.pdf"


def file_stem(figures: Figures) -> str:
    state = f"修订{figures.revision}" if figures.published else "未发布"
    return f"督查通报-{figures.year}-{figures.month:02d}-{state}"


def generate(store, month: int, who: str, revision: int | None = None, live: bool = False, pdf: bool = False,
             issued: date | None = None, targets: Targets | None = None, figures: Figures | None = None) -> Report:
    """Figures → .docx (→ .pdf), recorded in the audit log with the figures' hash."""
    targets = targets or store.targets()
    figures = figures or figures_for(store, targets, month, revision, live)
    issued = issued or date.today()
    docx_bytes = build_docx(figures, issued, overdue_items(store, targets, issued))
    pdf_bytes = to_pdf(docx_bytes) if pdf else None
    kinds = "docx+pdf" if pdf_bytes else "docx"
    store.log(who, AUDIT_ACTION, f"{figures.year}-{figures.month:02d} · {figures.label} · {kinds} · "
                                 f"sha256:{figures.content_hash[:16]}")
    return Report(figures, docx_bytes, pdf_bytes, file_stem(figures))


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    from lib.store import Store

    parser = argparse.ArgumentParser(description="生成月度督查通报（.docx，可选 PDF）")
    parser.add_argument("--month", required=True, help="通报月份，如 2024-06")
    parser.add_argument("--revision", type=int, help="已发布月份的修订号（默认最新修订；未发布时用实时数据）")
    parser.add_argument("--live", action="store_true", help="使用实时数据，即使该月已发布")
    parser.add_argument("--out", default=".", help="输出文件夹（默认当前文件夹）")
    parser.add_argument("--pdf", action="store_true", help="同时生成 PDF（需要 LibreOffice）")
    args = parser.parse_args(argv)
    store = Store()
    targets = store.targets()
    try:
        year, month = (int(x) for x in args.month.split("-"))
    except ValueError:
        parser.error("--month 应为 YYYY-MM，如 2024-06")
    if year != targets.year or not 1 <= month <= 12:
        parser.error(f"--month 应在 {targets.year}-01 至 {targets.year}-12 之间（目标表年度为 {targets.year}）")
    try:
        report = generate(store, month, f"命令行（{getpass.getuser()}）", args.revision, args.live, args.pdf,
                          targets=targets)
    except ReportError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / report.docx_name]
    written[0].write_bytes(report.docx)
    if report.pdf is not None:
        written.append(out / report.pdf_name)
        written[1].write_bytes(report.pdf)
    print(f"{report.figures.label}：" + "，".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
