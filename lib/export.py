"""Exports that open correctly in Excel and WPS, read as a person would type them, and never run anything.

Figures are written as typed (``readable``): shares as percent with one decimal in a
column named 完成率（%）, gaps rounded to one decimal in 差距（百分点）, whole numbers
without ``.0``, no float noise.
CSV: UTF-8 with BOM (so Excel/WPS detect the encoding), CRLF line ends; text cells
starting with = + - @ (and tab/CR) get a single-quote prefix so a spreadsheet shows
them as text instead of evaluating a formula (CSV/formula injection).
xlsx: such cells are written as typed text cells (with Excel's quote-prefix style), so
the value stays exactly what the unit wrote, without an apostrophe in the data.
"""

from __future__ import annotations

import io
import re

import pandas as pd

from lib.formatting import PCT_DIGITS, POINT_DIGITS

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
            out[col] = pd.Series([neutralise(v) for v in out[col]], index=out.index, dtype=object)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


# Share columns (0.793) -> written in percent (79.3) under a header that says so.
PERCENT_COLUMNS = {"完成率": "完成率（%）", "序时进度": "序时进度（%）", "预计年末完成率": "预计年末完成率（%）"}
POINT_COLUMNS = {"差距": "差距（百分点）"}
NUMBER_DECIMALS = 4  # other figures: float noise removed (20.720000000000006 -> 20.72), whole numbers as integers


def _as_typed(series: pd.Series, decimals: int) -> pd.Series:
    """Round; a column of whole numbers becomes integers (10000.0 -> 10000), missing stays missing."""
    rounded = series.astype("float64").round(decimals)
    finite = rounded.dropna()
    if len(finite) and (finite == finite.round(0)).all():
        return rounded.astype("Int64")
    # Mixed: each whole value as an integer (7928, not 7928.0), the others as rounded decimals.
    values = [None if v != v else int(v) if float(v).is_integer() else float(v) for v in rounded]
    return pd.Series(values, index=series.index, dtype=object)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a person would type it (see the module docstring); other columns unchanged."""
    out = frame.copy()
    renames = {}
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            continue
        if col in PERCENT_COLUMNS:
            out[col] = _as_typed(series * 100, PCT_DIGITS)
            renames[col] = PERCENT_COLUMNS[col]
        elif col in POINT_COLUMNS:
            out[col] = _as_typed(series, POINT_DIGITS)
            renames[col] = POINT_COLUMNS[col]
        else:
            out[col] = _as_typed(series, NUMBER_DECIMALS)
    return out.rename(columns=renames)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV as Excel/WPS expect it: UTF-8 BOM, CRLF, figures as typed, neutralised cells."""
    return neutralised(readable(frame)).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xlsx_cell(ws, value, number_format: str | None = None, styled: bool = False):
    """One value as an xlsx cell: missing -> empty, numpy scalars as Python numbers, and text a spreadsheet would read
    as a formula (see ``DANGEROUS_PREFIXES``) as a typed text cell with Excel's quote prefix, never a formula.
    ``styled``: always a cell object (a title or header cell gets a font and fill after)."""
    if not isinstance(value, str) and pd.isna(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    from openpyxl.cell import WriteOnlyCell  # openpyxl only when an .xlsx is written (see to_xlsx_bytes)

    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # text as typed, never a formula
        cell.quotePrefix = True
        return cell
    if number_format or styled:
        cell = WriteOnlyCell(ws, value=value)
        if number_format:
            cell.number_format = number_format
        return cell
    return value


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "数据", title: str | None = None) -> bytes:
    """An .xlsx with a bold, filled header row, frozen panes, widths and number formats (write-only: fast on big tables).

    Figures as ``readable`` writes them; text that a spreadsheet would read as a formula is a text cell.
    """
    # Imported here: the pages that offer an export import this module on every run, and openpyxl costs ~0.2 CPU s
    # to import (a server's first visit to such a page); it is needed only when someone downloads an .xlsx.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(re.sub(r"[\[\]:*?/\\]", "_", sheet)[:31] or "数据")
    data = readable(frame)
    start = 2 if title else 1
    for idx, col in enumerate(data.columns, start=1):
        sample = [len(str(col))] + [len(str(v)) for v in data[col].head(200)]
        ws.column_dimensions[get_column_letter(idx)].width = min(max(sample) * 1.6 + 2, 60)
    ws.freeze_panes = f"A{start + 1}"
    ws.auto_filter.ref = f"A{start}:{get_column_letter(max(1, len(data.columns)))}{start + len(data)}"
    if title:
        cell = _xlsx_cell(ws, title, styled=True)
        cell.font = Font(bold=True, size=13)
        ws.append([cell])
    header = []
    for col in data.columns:
        cell = _xlsx_cell(ws, str(col), styled=True)  # a header is neutralised like a data cell (a column can be named by data)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header.append(cell)
    ws.append(header)
    one_decimal = set(PERCENT_COLUMNS.values()) | set(POINT_COLUMNS.values())
    formats = {i: "0.0" for i, col in enumerate(data.columns) if col in one_decimal}
    columns = [data[c].tolist() for c in data.columns]
    for values in zip(*columns):
        ws.append([_xlsx_cell(ws, v, formats.get(i)) for i, v in enumerate(values)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def export_filename(stem: str, month: str, filters: dict, suffix: str) -> str:
    """File name carrying the view: 明细_2024-06_类别-教育服务.csv (safe characters only)."""
    parts = [stem, month] + [f"{k}-{'+'.join(v) if isinstance(v, list | tuple) else v}" for k, v in filters.items() if v]
    name = "_".join(parts)
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "", name)[:120]
    return f"{name}.{suffix}"
