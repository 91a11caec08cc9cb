"""The one status rule of the product.

Completion rate r (累计完成 / 年度目标) against 序时进度 p (share of the year's
work planned by the month's end), gap = (r − p) in percentage points:

- 已完成      r ≥ 100 %
- 正常推进    gap ≥ −lag (not behind by more than the first threshold)
- 滞后        −severe ≤ gap < −lag
- 严重滞后    gap < −severe
- 未报送      no accepted value

Qualitative indicators take the unit's own 进展状态; 未启动 counts as 正常推进
while less than a quarter of the year's work is planned, 滞后 after that.
Thresholds (default 10 and 30 points) come from the target table's 设置 sheet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib import schema as S

NOT_STARTED = "未启动"
NOT_STARTED_GRACE = 0.25


def classify(rate: float | None, planned: float, lag: float = 10, severe: float = 30) -> str:
    """Status of one quantitative item."""
    if rate is None or rate != rate:
        return S.STATUS_MISSING
    if rate >= 1:
        return S.STATUS_DONE
    gap = round((rate - planned) * 100, 9)  # 0.4 − 0.5 must be exactly −10 points
    if gap < -severe:
        return S.STATUS_SEVERE
    if gap < -lag:
        return S.STATUS_LAGGING
    return S.STATUS_ON_TRACK


def classify_reported(state: str | None, planned: float) -> str:
    """Status of a qualitative item from the unit's 进展状态."""
    if not state:
        return S.STATUS_MISSING
    if state == NOT_STARTED:
        return S.STATUS_ON_TRACK if planned <= NOT_STARTED_GRACE else S.STATUS_LAGGING
    if state in S.STATUSES:
        return state
    return S.STATUS_MISSING


def classify_series(rate: pd.Series, planned: pd.Series, lag: float, severe: float) -> pd.Series:
    """Vectorised ``classify`` (same rule, for whole frames)."""
    rate = rate.astype("float64")
    gap = ((rate - planned.astype("float64")) * 100).round(9)
    out = np.select(
        [rate.isna().to_numpy(), (rate >= 1).to_numpy(), (gap < -severe).to_numpy(), (gap < -lag).to_numpy()],
        [S.STATUS_MISSING, S.STATUS_DONE, S.STATUS_SEVERE, S.STATUS_LAGGING],
        default=S.STATUS_ON_TRACK,
    )
    return pd.Series(out, index=rate.index, dtype="object")


def worst(statuses) -> str:
    """The most severe of some statuses (未报送 counts as worst)."""
    statuses = [s for s in statuses if s in S.STATUS_SEVERITY]
    if not statuses:
        return S.STATUS_MISSING
    return max(statuses, key=S.STATUS_SEVERITY.__getitem__)


def is_behind(status: str) -> bool:
    return status in (S.STATUS_LAGGING, S.STATUS_SEVERE)
