"""Numbers written the Chinese way."""

from lib.formatting import fmt_number, fmt_pct, fmt_points, fmt_signed_points, truncate


def test_numbers_use_wan_for_large_figures():
    assert fmt_number(1234) == "1,234"
    assert fmt_number(61000, "人") == "6.1万人"
    assert fmt_number(6500000) == "650万"
    assert fmt_number(3.5, "平方米") == "3.5平方米"
    assert fmt_number(None) == fmt_number(float("nan")) == "—"


def test_percent_and_points():
    assert fmt_pct(0.4567) == "45.7%"
    assert fmt_points(-8.26) == "落后 8.3 个百分点"
    assert fmt_points(3) == "超前 3.0 个百分点"
    assert fmt_points(0.01) == "与序时进度持平"
    assert fmt_signed_points(-8.26) == "−8.3" and fmt_signed_points(2) == "+2.0"


def test_truncate_for_display_only():
    text = "很长" * 100
    assert truncate(text, 10) == text[:9] + "…" and len(truncate(text, 10)) == 10
    assert truncate("短", 10) == "短"


def test_stored_times_shown_to_the_minute():
    import pandas as pd

    from lib.formatting import fmt_times

    shown = fmt_times(pd.Series(["2026-11-30T07:12:29.123456", None, "2024-07-08T09:15:02"]))
    assert shown.tolist() == ["2026-11-30 07:12", "—", "2024-07-08 09:15"]


def test_a_clerks_figure_keeps_every_digit_grouped_and_never_an_exponent():
    from lib.formatting import fmt_figure

    assert fmt_figure(1470860.0) == "1,470,860" and fmt_figure(1e12) == "1,000,000,000,000"
    assert fmt_figure(1234.5) == "1,234.5" and fmt_figure(0.1 + 0.2) == "0.3" and fmt_figure(-2) == "-2"
    assert fmt_figure(None) == "—" and fmt_figure(float("nan")) == "—"
