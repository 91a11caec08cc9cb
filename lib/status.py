"""The one status rule of the product.

Completion rate r against 序时进度 p (share of the year's work planned by the
month's end), gap = (r − p) in percentage points:

- 已完成      r reaches the target (see 目标口径 below)
- 正常推进    gap ≥ −lag (not behind by more than the first threshold)
- 滞后        −severe ≤ gap < −lag
- 严重滞后    gap < −severe
- 未报送      no accepted value

目标口径 (the target's wording in the document, column 目标口径 of the 指标 sheet):

- exact (blank) and the floors 以上 / 不少于 / 不低于: r = 累计完成 / 年度目标,
  已完成 at r ≥ 100 %. A floor is the least that was promised, so reaching it is
  done; more is welcome, never a problem.
- 约 / 左右: the same r, but 已完成 at r ≥ 100 % − APPROX_TOLERANCE (98 %): the
  document itself does not promise the last two percent of an approximate figure.
- 不高于 (a ceiling, for a 比率 level only): the level must stay at or under the
  target all year, so there is no schedule to keep (序时进度 is 100 % every month).
  r = 100 % while the level is at or under the ceiling (met: 已完成 for that
  month; the next month's report can lose it), else ceiling / level (5 % over ->
  95.2 %). A level over its ceiling is never 正常推进: 滞后, or 严重滞后 when
  r is more than the severe threshold below 100 %.

An indicator that counts as 已完成 counts as 100 % in its project's mean (see
``credited``). Qualitative indicators take the unit's own 进展状态; 未启动 counts as
正常推进 while less than a quarter of the year's work is planned, 滞后 after that.
Thresholds (defaults ``S.DEFAULT_LAG`` and ``S.DEFAULT_SEVERE``, 10 and 30 points) come from the target
table's 设置 sheet. ``classify`` (one item) and ``classify_series`` (whole frames) are the same rule.

序时进度 is ruled here too, and only here: ``planned_share`` (one item) and ``planned_shares`` (whole frames)
give the share of the year's work planned by a month's end: the indicator's row of the 序时计划 sheet when the
target table has one, else month / 12; a ceiling (不高于) holds all year, so its share is 100 % every month.
Every figure, chart line and message that shows 序时进度 calls one of the two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib import schema as S

NOT_STARTED = S.STATE_NOT_STARTED
NOT_STARTED_GRACE = 0.25
APPROX_TOLERANCE = 0.02  # 约 / 左右: within 2 % of the figure counts as reached


def done_at(basis: str | None) -> float:
    """The completion rate at which an indicator of this 目标口径 counts as 已完成."""
    return 1 - APPROX_TOLERANCE if basis in S.APPROXIMATE_BASES else 1.0


def done_thresholds(bases: pd.Series) -> np.ndarray:
    """Vectorised ``done_at``."""
    return np.where(bases.fillna(S.BASIS_EXACT).isin(S.APPROXIMATE_BASES).to_numpy(), 1 - APPROX_TOLERANCE, 1.0)


def is_done(rate: float, basis: str | None = S.BASIS_EXACT) -> bool:
    """The rate reaches 已完成 for its 目标口径: 98 % of 1469 (1439.62 / 1469 = 0.97999…) reaches 98 % exactly,
    whatever the division left (rounded to 9 places; NaN never reaches it)."""
    return round(float(rate), 9) >= done_at(basis)


def are_done(rates: pd.Series, bases: pd.Series | None = None) -> np.ndarray:
    """Vectorised ``is_done`` (``bases`` None: every target exact)."""
    threshold = 1.0 if bases is None else done_thresholds(bases)
    return (rates.astype("float64").round(9) >= threshold).to_numpy()


def completion_rate(value: float | None, target: float | None, basis: str | None = S.BASIS_EXACT) -> float:
    """完成率 of one value against its target (NaN when there is no value or target)."""
    if value is None or target is None or value != value or target != target or not target:
        return float("nan")
    value, target = float(value), float(target)
    if basis == S.BASIS_CEILING:
        return 1.0 if value <= target else target / value
    return value / target


def completion_rates(values: pd.Series, targets: pd.Series, bases: pd.Series | None = None) -> pd.Series:
    """Vectorised ``completion_rate``."""
    values, targets = values.astype("float64"), targets.astype("float64")
    plain = values / targets.where(targets != 0)
    if bases is None:
        return plain
    ceiling = (bases == S.BASIS_CEILING).to_numpy()
    within = np.where(values <= targets, 1.0, targets / values)
    rated = values.notna().to_numpy() & (targets != 0).to_numpy()  # as the scalar rule: no rate without a target
    return pd.Series(np.where(ceiling & rated, within, plain), index=values.index)


MONTHS_IN_YEAR = 12


def planned_share(month: int, indicator: str | None = None, schedule: pd.DataFrame | None = None,
                  basis: str | None = None) -> float:
    """序时进度 of one item at the end of ``month``: share of the year's work planned by then (0..1).

    ``schedule`` is the target table's 序时计划 (``Targets.schedule``: 指标编号 × months 1..12 -> share); an
    indicator it has follows it, any other item (or none named: a project, a category) month / 12. A ceiling
    (``basis`` 不高于) holds all year: 100 %.
    """
    if schedule is not None and indicator in schedule.index:
        return _held(float(schedule.at[indicator, month]), basis)
    return _held(month / MONTHS_IN_YEAR, basis)


def planned_shares(months: pd.Series, indicators: pd.Series | None = None, schedule: pd.DataFrame | None = None,
                   bases: pd.Series | None = None) -> pd.Series:
    """Vectorised ``planned_share``: one share per row of ``months`` (and ``indicators``/``bases`` beside it)."""
    months = pd.Series(months)
    shares = months.astype("float64") / MONTHS_IN_YEAR
    if schedule is not None and indicators is not None:
        plan = schedule.stack()  # (指标编号, 月份) -> share
        keys = pd.MultiIndex.from_arrays([pd.Series(indicators).to_numpy(), months.to_numpy()])
        shares = pd.Series(plan.reindex(keys).to_numpy(dtype="float64"), index=months.index).fillna(shares)
    return _held_all(shares, bases)


def _held(planned: float, basis: str | None) -> float:
    """``planned`` as the rule compares against: a ceiling holds all year, 100 % every month."""
    return 1.0 if basis == S.BASIS_CEILING else planned


def _held_all(planned: pd.Series, bases: pd.Series | None) -> pd.Series:
    """Vectorised ``_held``."""
    planned = planned.astype("float64")
    if bases is None:
        return planned
    return planned.mask(pd.Series(bases).to_numpy() == S.BASIS_CEILING, 1.0)


def classify(rate: float | None, planned: float, lag: float = S.DEFAULT_LAG, severe: float = S.DEFAULT_SEVERE,
             basis: str | None = S.BASIS_EXACT) -> str:
    """Status of one quantitative item (``planned`` as from the schedule; a ceiling ignores it)."""
    if rate is None or rate != rate:
        return S.STATUS_MISSING
    if is_done(rate, basis):
        return S.STATUS_DONE
    # The gap from the unrounded rate, then rounded: 0.4 − 0.5 and 580/1200 − 7/12 are exactly −10 points.
    gap = round((float(rate) - _held(planned, basis)) * 100, 9)
    if gap < -severe:
        return S.STATUS_SEVERE
    if gap < -lag or basis == S.BASIS_CEILING:
        return S.STATUS_LAGGING
    return S.STATUS_ON_TRACK


def classify_series(rate: pd.Series, planned: pd.Series, lag: float, severe: float,
                    bases: pd.Series | None = None) -> pd.Series:
    """Vectorised ``classify`` (same rule, for whole frames); ``bases`` None: every target exact."""
    raw = rate.astype("float64")
    ceiling = np.zeros(len(raw), dtype=bool) if bases is None else (bases == S.BASIS_CEILING).to_numpy()
    gap = ((raw - _held_all(planned, bases)) * 100).round(9)
    out = np.select(
        [raw.isna().to_numpy(), are_done(raw, bases), (gap < -severe).to_numpy(),
         (gap < -lag).to_numpy() | ceiling],
        [S.STATUS_MISSING, S.STATUS_DONE, S.STATUS_SEVERE, S.STATUS_LAGGING],
        default=S.STATUS_ON_TRACK,
    )
    return pd.Series(out, index=raw.index, dtype="object")


def credited(rate: pd.Series, bases: pd.Series | None = None) -> pd.Series:
    """Rates as they count in a project's mean: capped at 100 %, and 100 % where the rule says 已完成."""
    rate = rate.astype("float64")
    if bases is not None:
        rate = rate.mask(are_done(rate, bases), 1.0)
    return rate.clip(upper=1)


def classify_reported(state: str | None, planned: float) -> str:
    """Status of a qualitative item from the unit's 进展状态."""
    if not state:
        return S.STATUS_MISSING
    if state == NOT_STARTED:
        return S.STATUS_ON_TRACK if planned <= NOT_STARTED_GRACE else S.STATUS_LAGGING
    if state in S.STATUSES:
        return state
    return S.STATUS_MISSING


def worst(statuses) -> str:
    """The most severe of some statuses (未报送 counts as worst)."""
    statuses = [s for s in statuses if s in S.STATUS_SEVERITY]
    if not statuses:
        return S.STATUS_MISSING
    return max(statuses, key=S.STATUS_SEVERITY.__getitem__)


def is_behind(status: str) -> bool:
    return status in (S.STATUS_LAGGING, S.STATUS_SEVERE)
