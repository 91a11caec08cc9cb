"""Deadlines on working days: the official holiday calendar, and weekends only for a year it does not know."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from lib import calendar as C
from lib.progress import LATE, ON_TIME, compliance


def test_september_deadline_moves_past_national_day():
    # 2024-10-05 falls in 国庆 (10-01 .. 10-07): the next working day is Tuesday 10-08.
    assert C.deadline(2024, 9, 5) == datetime(2024, 10, 8, 23, 59, 59)
    assert "顺延" in C.describe(2024, 9, 5)


def test_january_deadline_does_not_move():
    # 2024-02-05 is a Monday and a working day.
    assert C.deadline(2024, 1, 5) == datetime(2024, 2, 5, 23, 59, 59)
    assert C.describe(2024, 1, 5) == "2024-02-05"


def test_make_up_working_day_counts_and_holidays_move():
    # 清明 2024-04-04..06; Sunday 2024-04-07 is an official make-up working day.
    assert C.deadline(2024, 3, 5) == datetime(2024, 4, 7, 23, 59, 59)
    # 2025-01-05 is a Sunday: Monday.
    assert C.deadline(2024, 12, 5) == datetime(2025, 1, 6, 23, 59, 59)
    # 春节 2025: 01-28 .. 02-04; a deadline on 02-01 (Saturday, holiday) moves to Wednesday 02-05.
    assert C.deadline(2025, 1, 1) == datetime(2025, 2, 5, 23, 59, 59)


def test_covered_years_include_2024_and_2025():
    assert C.knows_year(2024) and C.knows_year(2025)
    assert C.coverage_note(2024) is None


def test_unknown_year_falls_back_to_weekends_and_says_so(caplog):
    year = C.KNOWN_YEARS.stop + 3
    assert not C.knows_year(year)
    saturday = next(date(year, 3, d) for d in range(1, 8) if date(year, 3, d).weekday() == 5)
    assert C.deadline(year, 2, saturday.day).date() == date(year, 3, saturday.day + 2)
    # 元旦 is not known for that year: 01-01 stays a working day unless it is a weekend.
    jan1 = date(year + 1, 1, 1)
    assert C.is_working_day(jan1) == (jan1.weekday() < 5)
    note = C.coverage_note(year)
    assert note and f"{year} 年" in note and "周六、周日顺延" in note


def test_lateness_uses_the_moved_deadline(targets):
    unit = targets.reporting_units[0]
    subs = pd.DataFrame({"unit": [unit], "year": [targets.year], "month": [9],
                         "received_at": ["2024-10-07T20:00:00"]})
    table = compliance(targets, subs, 9, today=date(2024, 12, 1)).set_index(["填报单位", "月份"])
    assert table.at[(unit, 9), "报送情况"] == ON_TIME  # after 10-05, before the moved 10-08 deadline
    assert table.at[(unit, 9), "截止时间"] == datetime(2024, 10, 8, 23, 59, 59)
    late = subs.assign(received_at="2024-10-09T08:00:00")
    assert compliance(targets, late, 9, today=date(2024, 12, 1)).set_index(["填报单位", "月份"]).at[(unit, 9), "报送情况"] == LATE
