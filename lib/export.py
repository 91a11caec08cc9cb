"""Exports that open correctly in Excel and WPS, and never run anything.

CSV: UTF-8 with BOM (so Excel/WPS detect the encoding), CRLF line ends.
Both CSV and xlsx neutralise text cells starting with = + - @ (and tab/CR)
by prefixing a single quote, so a spreadsheet shows them as text instead of
evaluating a formula (CSV/formula injection).
"""

from __future__ import annotations

import io
import re

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix a quote to text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV as Excel/WPS expect it: UTF-8 BOM, CRLF, neutralised cells."""
    return neutralised(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


PERCENT_COLUMNS = {"完成率", "序时进度", "预计年末完成率"}


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "数据", title: str | None = None) -> bytes:
    """An .xlsx with a bold, filled header row, frozen panes, widths and % formats (write-only: fast on big tables)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(re.sub(r"[\[\]:*?/\\]", "_", sheet)[:31] or "数据")
    data = neutralised(frame)
    start = 2 if title else 1
    for idx, col in enumerate(data.columns, start=1):
        sample = [len(str(col))] + [len(str(v)) for v in data[col].head(200)]
        ws.column_dimensions[get_column_letter(idx)].width = min(max(sample) * 1.6 + 2, 60)
    ws.freeze_panes = f"A{start + 1}"
    ws.auto_filter.ref = f"A{start}:{get_column_letter(max(1, len(data.columns)))}{start + len(data)}"
    if title:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True, size=13)
        ws.append([cell])
    header = []
    for col in data.columns:
        cell = WriteOnlyCell(ws, value=col)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header.append(cell)
    ws.append(header)
    formats = {i: "0.0%" if col in PERCENT_COLUMNS else "0.0" for i, col in enumerate(data.columns)
               if col in PERCENT_COLUMNS or col == "差距"}
    columns = [data[c].tolist() for c in data.columns]
    for values in zip(*columns):
        row = []
        for i, v in enumerate(values):
            v = None if (not isinstance(v, str) and pd.isna(v)) else (v.item() if hasattr(v, "item") else v)
            if i in formats and v is not None:
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = formats[i]
                v = cell
            row.append(v)
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def export_filename(stem: str, month: str, filters: dict, suffix: str) -> str:
    """File name carrying the view: 明细_2024-06_类别-教育服务.csv (safe characters only)."""
    parts = [stem, month] + [f"{k}-{'+'.join(v) if isinstance(v, list | tuple) else v}" for k, v in filters.items() if v]
    name = "_".join(parts)
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "", name)[:120]
    return f"{name}.{suffix}"
