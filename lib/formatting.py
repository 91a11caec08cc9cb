"""Numbers written the Chinese way: 万 for large figures, %, 个百分点."""

from __future__ import annotations

import math


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value != value


def fmt_number(value, unit: str = "") -> str:
    """1234 -> '1,234', 61000 -> '6.1万', 6500000 -> '650万'."""
    if _missing(value):
        return "—"
    value = float(value)
    if abs(value) >= 10000:
        text = f"{value / 10000:,.2f}".rstrip("0").rstrip(".") + "万"
    elif value.is_integer():
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text + unit


def fmt_pct(value, digits: int = 1) -> str:
    """0.4567 -> '45.7%'."""
    if _missing(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def fmt_points(value, digits: int = 1) -> str:
    """-8.25 -> '落后 8.3 个百分点', 3 -> '超前 3.0 个百分点'."""
    if _missing(value):
        return "—"
    value = float(value)
    if abs(value) < 0.05:
        return "与序时进度持平"
    return f"{'超前' if value > 0 else '落后'} {abs(value):.{digits}f} 个百分点"


def fmt_signed_points(value, digits: int = 1) -> str:
    """Compact form for tables and hover: '+3.0' / '−8.3'."""
    if _missing(value):
        return "—"
    value = float(value)
    return f"{'+' if value >= 0 else '−'}{abs(value):.{digits}f}"


def truncate(text: str, limit: int = 120) -> str:
    """Long narrative shortened for display (the store keeps it whole)."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
