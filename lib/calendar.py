"""Reporting deadlines on working days (the one home of the deadline rule).

A month's report is due at the end of day ``day`` (设置: 报送截止日) of the next month. When that day is not a
working day it moves to the next working day, by China's official holiday and make-up-day calendar
(国务院办公厅 节假日安排, via the ``chinesecalendar`` package): 2024-09's deadline 2024-10-05 falls in 国庆 and
moves to Tuesday 2024-10-08. The package knows the years it was released for (``KNOWN_YEARS``); for any other year
the deadline moves over weekends only, and :func:`coverage_note` says so (the admin page shows it).

Lateness (按时 / 逾期) everywhere uses :func:`deadline`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import chinese_calendar

log = logging.getLogger(__name__)

# The years the installed calendar has official data for (1.11.0: 2004-2026).
KNOWN_YEARS = range(min(d.year for d in chinese_calendar.holidays),
                    max(d.year for d in chinese_calendar.holidays) + 1)
_warned: set[int] = set()


def knows_year(year: int) -> bool:
    """True when the official holiday calendar of ``year`` is known."""
    return year in KNOWN_YEARS


def is_working_day(day: date) -> bool:
    """A working day by the official calendar; for an unknown year, Monday to Friday."""
    if knows_year(day.year):
        return chinese_calendar.is_workday(day)
    if day.year not in _warned:
        _warned.add(day.year)
        log.warning("chinesecalendar has no holiday data for %s: deadlines move over weekends only", day.year)
    return day.weekday() < 5


def next_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    """(year, month) ``n`` months after ``year``-``month`` (``n`` may be negative)."""
    y, m = divmod(year * 12 + month - 1 + n, 12)
    return y, m + 1


def nominal_deadline(year: int, month: int, day: int) -> date:
    """Day ``day`` of the month after ``year``-``month``, before any move."""
    return date(*add_months(year, month, 1), day)


def deadline(year: int, month: int, day: int) -> datetime:
    """The end of the working day a month's report is due: day ``day`` of the next month, moved to the next
    working day when it is a holiday or weekend (see module docstring)."""
    return datetime.combine(next_working_day(nominal_deadline(year, month, day)), time(23, 59, 59))


def coverage_note(year: int) -> str | None:
    """For the admin page: None when ``year``'s deadlines (they fall in ``year`` and January of the next) use the
    official calendar, else what the system does instead and what to do."""
    missing = [y for y in (year, year + 1) if not knows_year(y)]
    if not missing:
        return None
    years = "、".join(f"{y} 年" for y in missing)
    return (f"工作日历未收录 {years}的法定节假日安排（已收录 {KNOWN_YEARS.start}–{KNOWN_YEARS.stop - 1} 年），"
            f"这些月份的报送截止日遇周六、周日顺延，节假日不顺延。请升级 chinesecalendar 软件包"
            f"（requirements.txt）后重启系统。")


def describe(year: int, month: int, day: int) -> str:
    """The deadline in words, e.g. 「2024-10-08（10 月 5 日为节假日，顺延）」."""
    nominal = nominal_deadline(year, month, day)
    due = deadline(year, month, day).date()
    if due == nominal:
        return f"{due:%Y-%m-%d}"
    return f"{due:%Y-%m-%d}（{nominal.month} 月 {nominal.day} 日非工作日，顺延）"
