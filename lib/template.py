"""Generate the standard monthly workbook each reporting unit fills in.

``python -m lib.template`` regenerates every unit's template into the data
folder's ``templates/``.
"""

from __future__ import annotations

import argparse
import html
import io
import math
import re
import zipfile
from copy import copy
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from lib import logs
from lib import schema as S
from lib.config import data_dir
from lib.status import APPROX_TOLERANCE
from lib.targets import Targets

TEMPLATE_VERSION = "1"

HEADER_CELLS, COLUMN_LETTER = S.HEADER_CELLS, S.COLUMN_LETTER  # the form's layout (lib/schema.py)
HEADER_MERGES = ["B2:D2", "F2:G2", "I2:J2", "B3:D3", "F3:G3"]
COLUMN_WIDTHS = {
    "指标编号": 9, "项目序号": 6, "项目名称": 20, "指标名称": 26, "计量单位": 7, "县市区": 12,
    "年度目标": 10, "累计完成": 11, "完成率": 8, "进展状态": 10, "进展情况": 30, "存在问题": 24, "下步计划": 24,
}
META_KEYS = ["单位", "年度", "模板版本", "目标表版本", "行数", "生成时间"]

THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
INPUT_FILL = PatternFill("solid", fgColor="FFFFFF")


TARGET_FORMAT = "#,##0.##"


def target_format(basis: str) -> str:
    """Number format of a 年度目标 cell: the figure with its 目标口径 words (约6,500,000 / 200以上), still a number."""
    before, after = S.TARGET_BASES.get(basis or S.BASIS_EXACT, ("", ""))
    return (f'"{before}"' if before else "") + TARGET_FORMAT + (f'"{after}"' if after else "")


def month_options(year: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def template_filename(unit: str) -> str:
    return f"{unit}.xlsx"


def build_template(targets: Targets, unit: str) -> bytes:
    """The unit's template as .xlsx bytes: the form sheet (header block, one row per expected row, validations,
    protection, print setup), the 填报说明 sheet and the hidden meta sheet the upload check reads."""
    if unit not in targets.reporting_units:
        raise ValueError(f"“{unit}”不是填报单位")
    rows = targets.expected_rows(unit)
    wb = Workbook()
    ws = wb.active
    ws.title = S.SHEET_FORM
    _form_header(ws, unit, targets.year)
    _column_headings(ws)
    number_dv, state_dv = _row_validations(ws)
    first, last = S.FORM_FIRST_DATA_ROW, S.FORM_FIRST_DATA_ROW + len(rows) - 1
    styles: dict = {}  # a row kind -> its cells' style arrays (see _form_row)
    for offset, rec in enumerate(rows.itertuples(index=False)):
        _form_row(ws, first + offset, rec, number_dv, state_dv, styles)
    _protect_and_print(ws, first, last)
    _guide_sheet(wb, targets, unit)
    _meta_sheet(wb, targets, unit, len(rows))
    wb.active = 0
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _form_header(ws, unit: str, year: int) -> None:
    """Title, the header block (unit filled in; 报送月份 from a list; 填报人 etc. to fill) and the one-line note."""
    last_col = get_column_letter(len(S.FORM_COLUMNS))
    ws["A1"] = S.TEMPLATE_TITLE.format(year=year)
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(f"A1:{last_col}1")
    ws.row_dimensions[1].height = 30
    for label, (label_cell, _value_cell) in HEADER_CELLS.items():
        ws[label_cell] = f"{label}："
        ws[label_cell].font = Font(bold=True)
        ws[label_cell].alignment = Alignment(horizontal="right")
    for merge in HEADER_MERGES:
        ws.merge_cells(merge)
    ws[HEADER_CELLS[S.HEADER_UNIT][1]] = unit
    ws[HEADER_CELLS[S.HEADER_UNIT][1]].font = Font(bold=True)
    for label in (S.HEADER_MONTH, S.HEADER_DATE, S.HEADER_FILLER, S.HEADER_PHONE):
        cell = ws[HEADER_CELLS[label][1]]
        cell.protection = Protection(locked=False)
        cell.border = BORDER
        cell.fill = PatternFill("solid", fgColor="FFF2CC")
    ws["A4"] = (
        f"说明：灰色单元格为预填内容，已锁定；请在白色单元格填写。“累计完成”填写 {year} 年初至报送月份月末的累计数，"
        "只填数字（计量单位见 E 列）；定性指标只填进展状态与文字。完成率由系统按累计完成与年度目标重新计算。"
    )
    ws["A4"].alignment = Alignment(wrap_text=True, vertical="top")
    ws["A4"].font = Font(color="595959", size=9)
    ws.merge_cells(f"A4:{last_col}4")
    ws.row_dimensions[4].height = 28

    month_dv = DataValidation(type="list", formula1='"' + ",".join(month_options(year)) + '"', allow_blank=False)
    month_dv.promptTitle, month_dv.prompt = "报送月份", "请从下拉列表选择报送月份，例如 " + f"{year}-06"
    month_dv.errorTitle, month_dv.error = "报送月份有误", f"请选择 {year}-01 至 {year}-12 之间的月份。"
    month_dv.showErrorMessage = month_dv.showInputMessage = True
    ws.add_data_validation(month_dv)
    month_dv.add(HEADER_CELLS[S.HEADER_MONTH][1])


def _column_headings(ws) -> None:
    """The FORM_COLUMNS row with its widths."""
    for idx, name in enumerate(S.FORM_COLUMNS, start=1):
        cell = ws.cell(row=S.FORM_HEADER_ROW, column=idx, value=name)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(idx)].width = COLUMN_WIDTHS[name]
    ws.row_dimensions[S.FORM_HEADER_ROW].height = 22


def _row_validations(ws) -> tuple[DataValidation, DataValidation]:
    """The 累计完成 (a number ≥ 0) and 进展状态 (the list) validations the rows are added to."""
    number_dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
    number_dv.promptTitle = "累计完成"
    number_dv.prompt = "填写年初至本月末的累计数，只填数字（不带单位），不能为负数。"
    number_dv.errorTitle, number_dv.error = "累计完成有误", "请填写不小于 0 的数字，不要带单位或文字。"
    number_dv.showErrorMessage = number_dv.showInputMessage = True
    state_dv = DataValidation(type="list", formula1='"' + ",".join(S.REPORTED_STATES) + '"', allow_blank=True)
    state_dv.errorTitle, state_dv.error = "进展状态有误", "请从下拉列表选择：" + "、".join(S.REPORTED_STATES)
    state_dv.showErrorMessage = True
    ws.add_data_validation(number_dv)
    ws.add_data_validation(state_dv)
    return number_dv, state_dv


def _form_row(ws, r: int, rec, number_dv: DataValidation, state_dv: DataValidation, styles: dict) -> None:
    """One expected row at Excel row ``r``: locked prefilled columns, unlocked inputs, the rate formula.

    A row's styles depend only on its kind (quantitative, 目标口径, 全市合计行): the first row of a kind is styled
    cell by cell, later rows of that kind get copies of its cells' style arrays (what openpyxl's own sheet copy
    does), not a fresh lookup of every font, fill and border in the workbook's style lists (most of the template's
    time before)."""
    value_col, target_col, rate_col = COLUMN_LETTER["累计完成"], COLUMN_LETTER["年度目标"], COLUMN_LETTER["完成率"]
    quantitative = rec.指标类型 != S.TYPE_QUALITATIVE
    for name in S.LOCKED_FORM_COLUMNS:
        value = getattr(rec, name)
        if name == "年度目标":
            value = None if pd.isna(value) else float(value)
            if value is not None and value.is_integer():
                value = int(value)
        ws[f"{COLUMN_LETTER[name]}{r}"].value = value
    if quantitative:
        number_dv.add(f"{value_col}{r}")
        rate = f"{value_col}{r}/{target_col}{r}"
        if getattr(rec, S.COL_BASIS) == S.BASIS_CEILING:  # a ceiling is kept (100 %) at or under it
            rate = f"IF({value_col}{r}<={target_col}{r},1,{target_col}{r}/{value_col}{r})"
        # Blank, not #VALUE!, beside an empty or wrongly typed cell (the upload check names that cell).
        ws[f"{rate_col}{r}"] = (f'=IF(OR({value_col}{r}="",{target_col}{r}="",{target_col}{r}=0),"",'
                                f'IFERROR({rate},""))')
    else:
        ws[f"{rate_col}{r}"] = "定性"
    state_dv.add(f"{COLUMN_LETTER['进展状态']}{r}")
    if rec.城市合计行:
        ws[f"{COLUMN_LETTER['县市区']}{r}"].comment = Comment(
            "全市合计行：累计完成可不填（按各县市区之和计算）；如填写，须等于各县市区之和。", "系统")
    kind = (quantitative, getattr(rec, S.COL_BASIS), bool(rec.城市合计行))
    if kind in styles:
        for name, style in styles[kind].items():
            ws[f"{COLUMN_LETTER[name]}{r}"]._style = copy(style)
        return
    _style_row(ws, r, rec)
    styles[kind] = {name: copy(ws[f"{COLUMN_LETTER[name]}{r}"]._style) for name in S.FORM_COLUMNS}


def _style_row(ws, r: int, rec) -> None:
    """The styles of one expected row, cell by cell: borders, locked and input fills, protection, number formats."""
    value_col, target_col, rate_col = COLUMN_LETTER["累计完成"], COLUMN_LETTER["年度目标"], COLUMN_LETTER["完成率"]
    for name in S.FORM_COLUMNS:
        cell = ws[f"{COLUMN_LETTER[name]}{r}"]
        cell.border = BORDER
        cell.alignment = Alignment(vertical="top", wrap_text=name in ("项目名称", "指标名称") or name in S.NARRATIVE_COLUMNS)
        if name in S.LOCKED_FORM_COLUMNS:
            cell.fill = LOCKED_FILL
    quantitative = rec.指标类型 != S.TYPE_QUALITATIVE
    inputs = list(S.INPUT_FORM_COLUMNS) if quantitative else [c for c in S.INPUT_FORM_COLUMNS if c != "累计完成"]
    for name in inputs:
        cell = ws[f"{COLUMN_LETTER[name]}{r}"]
        cell.protection = Protection(locked=False)
        cell.fill = INPUT_FILL
    if quantitative:
        ws[f"{rate_col}{r}"].number_format = "0.0%"
        ws[f"{value_col}{r}"].number_format = "#,##0.##"
    else:
        ws[f"{value_col}{r}"].fill = LOCKED_FILL
    ws[f"{rate_col}{r}"].fill = LOCKED_FILL
    ws[f"{target_col}{r}"].number_format = target_format(getattr(rec, S.COL_BASIS))
    if rec.城市合计行:
        ws[f"{COLUMN_LETTER['县市区']}{r}"].font = Font(bold=True)


def _protect_and_print(ws, first: int, last: int) -> None:
    """Sheet protection (against accidents, no password), frozen header, A4 landscape fitted to the width."""
    last_col = get_column_letter(len(S.FORM_COLUMNS))
    ws.freeze_panes = f"A{first}"
    ws.protection.sheet = True  # no password: the point is to stop accidents, not people
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.autoFilter = False
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{S.FORM_HEADER_ROW}:{S.FORM_HEADER_ROW}"
    ws.print_area = f"A1:{last_col}{max(last, first)}"


def _meta_sheet(wb: Workbook, targets: Targets, unit: str, n_rows: int) -> None:
    """The very hidden sheet saying which unit, year, template and target table this workbook is."""
    meta = wb.create_sheet(S.SHEET_META)
    for key, value in zip(META_KEYS, [unit, targets.year, TEMPLATE_VERSION, targets.version, n_rows,
                                      datetime.now().strftime("%Y-%m-%d %H:%M:%S")]):
        meta.append([key, str(value)])
    meta.sheet_state = "veryHidden"
    meta.protection.sheet = True


def _guide_sheet(wb: Workbook, targets: Targets, unit: str) -> None:
    ws = wb.create_sheet(S.SHEET_GUIDE)
    year, day = targets.year, targets.deadline_day
    lines = [
        f"{year} 年重点民生实事进展情况报表 · 填报说明",
        "",
        f"1. 报送单位：{unit}。每月报送一次，{day} 日（含）前报送上月进展；逾期报送将被记为“逾期”。",
        "2. 在“进展填报”表的表头选择“报送月份”，填写填报人、联系电话、填报日期。",
        "3. “累计完成”填写年初至报送月份月末的累计数（不是当月新增数），只填数字，不带单位、不写“约”“左右”或区间。",
        "   比率类指标（计量单位为 %）填写当前达到的百分数，例如 62.5；提高幅度类指标填写已提高的百分数。",
        "4. 分解到县的指标按县市区逐行填写；“全市”合计行可不填，如填写须等于各县市区之和。",
        "5. “进展状态”从下拉列表选择：" + "、".join(S.REPORTED_STATES) + "。定性指标只填进展状态与文字说明。",
        "6. 状态为“滞后”或进度落后于序时进度时，请在“存在问题”“下步计划”中说明原因和措施。",
        "7. 累计数比上月减少时，请在“存在问题”中说明原因（如数据核减）。",
        "8. 灰色单元格（指标、目标等）已锁定，请勿修改、插入或删除行；不要把内容复制到新工作簿中报送。",
        "9. “年度目标”前后的“约”“左右”“以上”“不少于”“不低于”“不高于”是文件原文的目标口径：“约”“左右”达到目标的 "
        f"{1 - APPROX_TOLERANCE:.0%} 即视为完成；“以上”“不少于”“不低于”达到目标数即完成，超出更好；",
        "   “不高于”指标填写当前达到的水平（不是累计数），不超过目标即为达标，超过即为滞后。",
        "",
        "以下情况将被退回：报送月份缺失或晚于当前月份；累计完成为文字、负数或区间；指标行缺失、重复或被改动；",
        "文件不是 .xlsx 工作簿（如另存为 .xls、.csv、PDF 或加密）；内容与其他单位的模板混用。",
        "退回时系统会返回一份标注了问题单元格（红色为错误、黄色为提醒）的原表，请按标注修改后重新报送。",
    ]
    rules = targets.expected_rows(unit).drop_duplicates("指标编号")
    rules = rules[rules[S.COL_SPLIT_RULE] != ""]
    if len(rules):
        lines += ["", f"{S.COL_SPLIT_RULE}（各县市区目标的来源）："]
        lines += [f"   {rec.指标编号} {rec.指标名称}：{getattr(rec, S.COL_SPLIT_RULE)}" for rec in rules.itertuples(index=False)]
    for line in lines:
        ws.append([line])
    ws["A1"].font = Font(size=14, bold=True)
    ws.column_dimensions["A"].width = 120
    ws.protection.sheet = True


def write_templates(targets: Targets, out_dir: Path) -> list[Path]:
    """Write every reporting unit's template into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit in targets.reporting_units:
        path = out_dir / template_filename(unit)
        tmp = path.with_suffix(".xlsx.tmp")
        tmp.write_bytes(build_template(targets, unit))
        tmp.replace(path)
        paths.append(path)
    return paths


def templates_zip(targets: Targets) -> bytes:
    """Every unit's template in one .zip (for the upload page's download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for unit in targets.reporting_units:
            zf.writestr(template_filename(unit), build_template(targets, unit))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    parser = argparse.ArgumentParser(description="生成各填报单位的标准报表模板")
    parser.add_argument("--data-dir", type=Path, default=None, help="数据目录（默认 $LIVELIHOOD_DATA_DIR 或 data/）")
    parser.add_argument("--year", type=int, default=None, help="年度（默认：库中最新年度的目标表）")
    args = parser.parse_args(argv)
    from lib.store import Store  # the CLI reads the store's table; the module itself stays below the store

    folder = args.data_dir or data_dir()
    targets = Store(folder).targets(args.year)
    paths = write_templates(targets, folder / "templates")
    print(f"已生成 {len(paths)} 个模板：{folder / 'templates'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def fill_template(template: bytes, month: str | None, entries: dict, header: dict | None = None) -> bytes:
    """Fill a template as a clerk would (used by the demo, tests and benchmarks).

    ``entries`` maps (指标编号, 县市区) to a dict of input columns
    (累计完成, 进展状态, 进展情况, 存在问题, 下步计划); ``header`` may set
    填报人, 联系电话, 填报日期.

    The values are written into the form sheet's XML of the template's package, every other part kept as it is,
    the cells written exactly as openpyxl writes them (``_xml_cell``): the same workbook openpyxl's load, set and
    save gives, in a few milliseconds instead of about 0.1 s. A value or a package this does not cover (a date, an
    error code, shared strings …) is filled through openpyxl as before.
    """
    cells = {}
    if month is not None:
        cells[HEADER_CELLS[S.HEADER_MONTH][1]] = month
    for label, value in (header or {}).items():
        cells[HEADER_CELLS[label][1]] = value
    package = _package(template)
    if package is not None:
        for key, rows in package.rows.items():
            for name, value in entries.get(key, {}).items():
                cells.update((f"{COLUMN_LETTER[name]}{row}", value) for row in rows)
        filled = package.fill(cells)
        if filled is not None:
            return filled
    return _fill_with_openpyxl(template, cells)


def _fill_with_openpyxl(template: bytes, cells: dict) -> bytes:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(template))
    ws = wb[S.SHEET_FORM]
    for ref, value in cells.items():
        ws[ref] = value
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


_CELL = re.compile(r'<c r="([A-Z]+)([0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_INLINE_TEXT = re.compile(r"^<is><t(?: [^>]*)?>(.*?)</t></is>$", re.S)
_NUMBER = re.compile(r"^<v>([^<]*)</v>$")


def _xml_cell(ref: str, attrs: str, value) -> str | None:
    """``value`` at cell ``ref`` (its template attributes ``attrs`` less the type) as openpyxl writes it
    (``openpyxl.cell._writer``: inline strings, numbers as ``%.16g``, ``=…`` a formula, text cut at 32,767
    characters); None for a value openpyxl writes another way (dates, error codes, illegal characters …)."""
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from openpyxl.compat import safe_string

    head = f'<c r="{ref}"{attrs}'
    if value is None:
        return head + ' t="n"></c>'
    if type(value) in (int, float):
        if not math.isfinite(value):
            return None
        return head + f' t="n"><v>{safe_string(value)}</v></c>'
    if type(value) is not str or ILLEGAL_CHARACTERS_RE.search(value) or value in ERROR_CODES:
        return None
    value = value[:32767]
    if value == "":
        return head + ' t="inlineStr"></c>'
    if len(value) > 1 and value.startswith("="):
        return head + f"><f>{_escape(value[1:])}</f><v></v></c>"
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return head + f' t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


class _Package:
    """A template's parts, its form sheet's XML split at every cell, and the row of each (指标编号, 县市区)."""

    def __init__(self, parts: dict[str, bytes], sheet: str):
        self.parts, self.sheet = parts, sheet
        xml = parts[sheet].decode("utf-8")
        self.pieces: list[str] = []  # text between cells and the cells themselves, alternating
        self.cells: dict[str, tuple[int, str]] = {}  # ref -> (index in pieces, attributes less the type)
        values: dict[str, object] = {}
        end = 0
        for match in _CELL.finditer(xml):
            column, row, attrs, body = match.groups()
            ref = column + row
            self.pieces.append(xml[end:match.start()])
            self.cells[ref] = (len(self.pieces), re.sub(r'\s+t="[^"]*"', "", attrs))
            self.pieces.append(match.group(0))
            end = match.end()
            if column in (COLUMN_LETTER["指标编号"], COLUMN_LETTER["县市区"]) and body:
                values[ref] = _cell_value(attrs, body)
        self.pieces.append(xml[end:])
        code, county = COLUMN_LETTER["指标编号"], COLUMN_LETTER["县市区"]
        self.rows: dict[tuple, list[int]] = {}  # a key on several rows (an edited form) fills each
        for ref in self.cells:
            row = int(ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            if ref == f"{code}{row}" and row >= S.FORM_FIRST_DATA_ROW:
                self.rows.setdefault((values.get(ref), values.get(f"{county}{row}")), []).append(row)

    def fill(self, cells: dict) -> bytes | None:
        pieces = list(self.pieces)
        for ref, value in cells.items():
            if ref not in self.cells:
                return None
            index, attrs = self.cells[ref]
            written = _xml_cell(ref, attrs, value)
            if written is None:
                return None
            pieces[index] = written
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, body in self.parts.items():
                zf.writestr(name, "".join(pieces).encode("utf-8") if name == self.sheet else body)
        return buffer.getvalue()


def _cell_value(attrs: str, body: str):
    """The value of a prefilled cell as openpyxl reads it: inline text, or a number (int when it has no point)."""
    if 't="inlineStr"' in attrs:
        text = _INLINE_TEXT.match(body)
        return html.unescape(text.group(1)) if text else None
    number = _NUMBER.match(body)
    if number and 't="' not in attrs.replace('t="n"', ""):
        raw = number.group(1)
        try:
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            return None
    return None


@lru_cache(maxsize=64)
def _package(template: bytes) -> _Package | None:
    """The template's parts for ``fill_template``; None if it is not a package this can fill (no form sheet found by
    the workbook's relationships, shared strings, or not a zip)."""
    try:
        with zipfile.ZipFile(io.BytesIO(template)) as zf:
            parts = {info.filename: zf.read(info.filename) for info in zf.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "xl/sharedStrings.xml" in parts or "xl/workbook.xml" not in parts or "xl/_rels/workbook.xml.rels" not in parts:
        return None
    workbook, rels = parts["xl/workbook.xml"].decode("utf-8"), parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    sheet = re.search(r'<sheet [^>]*name="' + re.escape(_escape(S.SHEET_FORM)) + r'"[^>]*r:id="([^"]+)"', workbook)
    if not sheet:
        return None
    target = re.search(r'<Relationship [^>]*Target="([^"]+)" Id="' + re.escape(sheet.group(1)) + '"', rels)
    if not target:
        return None
    path = target.group(1).lstrip("/") if target.group(1).startswith("/") else "xl/" + target.group(1)
    if path not in parts:
        return None
    return _Package(parts, path)
