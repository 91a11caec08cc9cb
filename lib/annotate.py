"""The sender's own workbook, marked up with the validation findings.

Each offending cell is filled red (错误) or amber (提醒) and carries a comment
with the message; a 校验结果 sheet lists every finding. The analyst sends it
back and the unit fixes exactly what is marked.
"""

from __future__ import annotations

import io
import logging
import warnings

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from lib import schema as S
from lib.package import check_package
from lib.submission import ValidationResult

log = logging.getLogger(__name__)

FILL = {
    S.LEVEL_ERROR: PatternFill("solid", fgColor="FFC7CE"),
    S.LEVEL_WARNING: PatternFill("solid", fgColor="FFEB9C"),
}


def annotated_copy(data: bytes, result: ValidationResult) -> bytes:
    """The uploaded workbook with findings marked; a findings-only workbook if it cannot be opened."""
    wb = None
    if result.is_workbook:
        try:
            # Validation inflated only the parts it reads; openpyxl reads them all, so check them all first.
            check_package(data)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # keep_vba=False: macros are dropped from the copy we send back.
                wb = load_workbook(io.BytesIO(data))
        except Exception:
            log.warning("annotated copy: the original does not open, annotating a new workbook", exc_info=True)
            wb = None
    if wb is None:
        wb = Workbook()
        wb.active.title = S.SHEET_FINDINGS
        report = wb.active
    else:
        if S.SHEET_FINDINGS in wb.sheetnames:
            wb.remove(wb[S.SHEET_FINDINGS])
        report = wb.create_sheet(S.SHEET_FINDINGS, 0)
        by_cell: dict[tuple[str, str], list] = {}
        for finding in result.findings:
            if finding.sheet in wb.sheetnames and finding.cell:
                by_cell.setdefault((finding.sheet, finding.cell), []).append(finding)
        for (sheet, ref), findings in by_cell.items():
            cell = wb[sheet][ref]
            level = S.LEVEL_ERROR if any(f.level == S.LEVEL_ERROR for f in findings) else S.LEVEL_WARNING
            cell.fill = FILL[level]
            text = "\n".join(f"【{f.level}】{f.message}" for f in findings)
            comment = Comment(text, "督查室校验")
            comment.width, comment.height = 320, 40 + 40 * len(findings)
            cell.comment = comment
    report.append(["级别", "工作表", "单元格", "指标编号", "县市区", "问题与修改方法", "代码"])
    for cell in report[1]:
        cell.font = Font(bold=True)
    for finding in result.findings:
        report.append([finding.level, finding.sheet, finding.cell, finding.indicator, finding.county, finding.message,
                       finding.code])
        report.cell(row=report.max_row, column=1).fill = FILL[finding.level]
    if not result.findings:
        report.append(["", "", "", "", "", "未发现问题。"])
    for letter, width in zip("ABCDEFG", (6, 12, 8, 10, 12, 90, 24)):
        report.column_dimensions[letter].width = width
    for row in report.iter_rows(min_row=2):
        row[5].alignment = Alignment(wrap_text=True, vertical="top")
    report.freeze_panes = "A2"
    wb.active = wb.sheetnames.index(S.SHEET_FINDINGS)
    for ws in wb.worksheets:
        ws.sheet_view.tabSelected = ws.title == S.SHEET_FINDINGS
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
