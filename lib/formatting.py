"""Numbers written the Chinese way: 万 for large figures, %, 个百分点.

One rule for percentages everywhere a person reads them (tables, charts, exports, messages):
``PCT_DIGITS`` decimals. Charts use ``fmt_pct``/``PCT_HOVER``, tables ``display_table``,
exports ``lib.export.readable``, the messages of lib/findings.py ``fmt_figure`` and ``fmt_pct``.
"""

from __future__ import annotations

import math

import pandas as pd

PCT_DIGITS = 1  # 79.3%: one decimal, on every page and in every export
POINT_DIGITS = 1  # gaps in percentage points
MISSING = "—"  # what a reader sees where there is no value (never None / NaN)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value != value


def fmt_number(value, unit: str = "") -> str:
    """1234 -> '1,234', 61000 -> '6.1万', 6500000 -> '650万'."""
    if _missing(value):
        return MISSING
    value = float(value)
    if abs(value) >= 10000:
        text = f"{value / 10000:,.2f}".rstrip("0").rstrip(".") + "万"
    elif value.is_integer():
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text + unit


def fmt_pct(value, digits: int = PCT_DIGITS) -> str:
    """0.4567 -> '45.7%'."""
    if _missing(value):
        return MISSING
    return f"{float(value) * 100:.{digits}f}%"


def fmt_points(value, digits: int = POINT_DIGITS) -> str:
    """-8.25 -> '落后 8.3 个百分点', 3 -> '超前 3.0 个百分点'."""
    if _missing(value):
        return MISSING
    value = float(value)
    if abs(value) < 0.05:
        return "与序时进度持平"
    return f"{'超前' if value > 0 else '落后'} {abs(value):.{digits}f} 个百分点"


def fmt_signed_points(value, digits: int = POINT_DIGITS) -> str:
    """Compact form for tables and hover: '+3.0' / '−8.3'."""
    if _missing(value):
        return MISSING
    value = float(value)
    return f"{'+' if value >= 0 else '−'}{abs(value):.{digits}f}"


def truncate(text: str, limit: int = 120) -> str:
    """Long narrative shortened for display (the store keeps it whole)."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hover_pct(axis: str = "x") -> str:
    """Plotly hover/text template of a value already in percent: '%{x:.1f}%'."""
    return f"%{{{axis}:.{PCT_DIGITS}f}}%"


MONTH_FORMAT = "%d月"  # a month number as read (printf style: tables whose client formats it use it as is)


def fmt_month(month, year: int | None = None) -> str:
    """6 -> '6月', with a year '2024年6月'."""
    if _missing(month):
        return MISSING
    return f"{year}年{MONTH_FORMAT % int(month)}" if year else MONTH_FORMAT % int(month)


def _display(frame: pd.DataFrame, percent=(), points=(), months=()) -> tuple[pd.DataFrame, dict]:
    """The frame with text columns filled, and the formatter of each number column (display_table, display_text)."""
    data = frame.copy()
    formats = {}
    for col in data.columns:
        series = data[col]
        if col in percent:
            formats[col] = lambda v: fmt_pct(v)
        elif col in points:
            formats[col] = lambda v: fmt_signed_points(v)
        elif col in months:
            formats[col] = lambda v: fmt_month(v)
        elif pd.api.types.is_datetime64_any_dtype(series):
            continue  # the page's DatetimeColumn formats it
        elif pd.api.types.is_bool_dtype(series):
            data[col] = series.map({True: "是", False: "否"}).fillna(MISSING)
        elif pd.api.types.is_numeric_dtype(series):
            formats[col] = fmt_plain
        elif isinstance(series.dtype, pd.StringDtype):  # only strings and missing values: the same, in one pass
            data[col] = series.fillna(MISSING)
        else:
            data[col] = series.map(lambda v: MISSING if _missing_or_blank(v) else v)
    return data, formats


def display_table(frame: pd.DataFrame, percent=(), points=(), months=()):
    """A frame as a person reads it, for st.dataframe: a pandas Styler that keeps numbers sortable.

    ``percent`` columns hold shares (0.793) and show '79.3%'; ``points`` show '−20.7';
    ``months`` show '6月'; whole numbers show without '.0'; every missing value shows '—'.
    Text columns are filled with '—' in the data itself (no 'None').
    """
    data, formats = _display(frame, percent, points, months)
    # A Styler keeps a display function per formatted cell, and a cached table keeps its Styler for the server's
    # lifetime: every such entry is an object Python's cycle collector walks on each full collection (a project's
    # history alone was 12,600). Only the columns that need one get them: those with a formatter, and those still
    # holding a missing value (na_rep); the others (text already filled with MISSING) read the same without.
    needed = [c for c in data.columns if c in formats or data[c].isna().any()]
    if len(needed) == len(data.columns) or not data.columns.is_unique:
        return data.style.format(formats, na_rep=MISSING)
    return data.style.format(formats, na_rep=MISSING, subset=needed)


def display_text(frame: pd.DataFrame, percent=(), points=(), months=()) -> pd.DataFrame:
    """The same frame as display_table, every cell already the text a person reads (for cards and lists)."""
    data, formats = _display(frame, percent, points, months)
    columns = {}
    for i, col in enumerate(data.columns):
        format_, values = formats.get(col), data.iloc[:, i]
        if format_ is None and isinstance(values.dtype, pd.StringDtype):  # filled by _display: already the text
            columns[i] = values.tolist()
        else:
            columns[i] = [MISSING if _missing_or_blank(v) else format_(v) if format_ else str(v) for v in values]
    out = pd.DataFrame(columns, index=data.index)  # built at once: a column added at a time cost more than the rest
    out.columns = data.columns
    return out


def fmt_plain(value) -> str:
    """A number as typed: 10000 -> '10000', 3.25 -> '3.25', 1/3 -> '0.33'; missing -> '—'."""
    return _plain(value, digits=2, grouped=False)


def fmt_figure(value) -> str:
    """A clerk's figure in a message that compares it (lib/findings.py ``{x:num}``): every digit, thousands grouped,
    never an exponent: 1470860 -> '1,470,860', 1e12 -> '1,000,000,000,000', 1234.5 -> '1,234.5'; missing -> '—'."""
    return _plain(value, digits=6, grouped=True)


def _plain(value, digits: int, grouped: bool) -> str:
    """The one way a plain number is written: no trailing zeros or '.0', at most ``digits`` decimals."""
    if _missing(value):
        return MISSING
    value = float(value)
    comma = "," if grouped else ""
    if value.is_integer():
        return f"{value:{comma}.0f}"
    text = f"{value:{comma}.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt_times(stamps: pd.Series) -> pd.Series:
    """Stored ISO timestamps as a person reads them: '2024-07-08T09:15:02.123' -> '2024-07-08 09:15'."""
    return stamps.astype("string").str.slice(0, 16).str.replace("T", " ", regex=False).fillna(MISSING)


def _missing_or_blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return False


SENTENCE_END = "。！？；!?;"


def first_sentences(text: str, count: int = 2, limit: int = 90) -> str:
    """A unit's narrative trimmed to its first ``count`` sentences, at most ``limit`` characters (never reworded).

    '进度慢。资金未到位。下月开工。' -> '进度慢。资金未到位。'; a cut inside a sentence ends with '…'.
    """
    text = " ".join((text or "").split())
    out, taken = "", 0
    for ch in text:
        out += ch
        if ch in SENTENCE_END:
            taken += 1
            if taken == count:
                break
    out = out.strip()
    return out if len(out) <= limit else out[: limit - 1] + "…"
