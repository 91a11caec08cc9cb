"""The values each unit's months hold, as the history warnings compare them (``add_history_warnings``).

The store answers ``history_context`` for one upload from what it holds; ``lib.ingest`` keeps one ``History`` up to
date in file order across a batch, so a file is compared with the files accepted before it in the same call.
"""

from __future__ import annotations

from datetime import date

from lib.submission import HistoryContext, ValidationResult, add_history_warnings
from lib.targets import Targets


class History:
    """The values each unit's months hold, for the history warnings, kept up to date in file order."""

    def __init__(self, year_values: list[tuple]):
        self.values: dict[str, dict[int, dict]] = {}
        for unit, month, code, county, value in year_values:
            self.values.setdefault(unit, {}).setdefault(month, {})[(code, county)] = value

    def previous(self, unit: str, month: int) -> dict[tuple[str, str], tuple[float | None, int]]:
        """The latest value before ``month`` of each row of ``unit`` (the rule Store.previous_values uses too)."""
        out = {}
        months = self.values.get(unit, {})
        for m in sorted(months):
            if m < month:
                out.update({key: (value, m) for key, value in months[m].items()})
        return out

    def context(self, unit: str, month: int) -> HistoryContext:
        """Before, after and the same month of ``unit``: what ``add_history_warnings`` compares with."""
        months = self.values.get(unit, {})
        following = {}
        for m in sorted(months, reverse=True):
            if m > month:
                following.update({key: (value, m) for key, value in months[m].items()})
        return HistoryContext(self.previous(unit, month), following, months.get(month, {}), frozenset(months))

    def add_warnings(self, result: ValidationResult, targets: Targets, today: date | None = None) -> None:
        if result.month is None or result.row_records is None:
            return
        add_history_warnings(result, targets, self.context(result.unit, result.month), today)
        if result.accepted:
            self.values.setdefault(result.unit, {})[result.month] = {(r[0], r[1]): r[2] for r in result.row_records}
