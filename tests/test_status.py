"""The one status rule with its 目标口径: scalar and vectorised forms agree, and each wording means what README says."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import schema as S
from lib.status import (
    APPROX_TOLERANCE,
    classify,
    classify_reported,
    classify_series,
    completion_rate,
    completion_rates,
    credited,
    is_behind,
    planned_share,
    planned_shares,
    worst,
)

BASES = list(S.TARGET_BASES)


def test_scalar_and_vectorised_rule_agree_on_every_basis():
    rng = np.random.default_rng(22)
    rates = list(rng.uniform(0, 1.3, 300)) + [np.nan, 0, 0.98, 0.979999, 0.98000001, 1, 0.6, 0.7, 0.4, 0.2]
    planned = [m / 12 for m in range(1, 13)]
    grid = list(itertools.product(rates, planned, BASES))
    frame = pd.DataFrame(grid, columns=["rate", "planned", "basis"])
    vector = classify_series(frame["rate"], frame["planned"], 10, 30, frame["basis"])
    scalar = [classify(r, p, 10, 30, b) for r, p, b in grid]
    assert vector.tolist() == scalar


def test_vectorised_rates_agree_with_the_scalar_rate():
    values = pd.Series([0, 50, 100, 105, 200, np.nan, 637, 100])
    targets = pd.Series([100, 100, 100, 100, 100, 100, 650, 100])
    for basis in BASES:
        bases = pd.Series([basis] * len(values))
        vector = completion_rates(values, targets, bases)
        scalar = [completion_rate(v, t, basis) for v, t in zip(values, targets)]
        np.testing.assert_allclose(vector.to_numpy(), np.array(scalar, dtype=float), equal_nan=True)


def test_without_bases_the_rule_is_the_exact_rule():
    rate, planned = pd.Series([0.2, 0.45, 0.99, 1.0, np.nan]), pd.Series([0.5] * 5)
    assert classify_series(rate, planned, 10, 30).tolist() == [classify(r, 0.5) for r in rate]


@pytest.mark.parametrize("basis", [S.BASIS_ABOUT, S.BASIS_AROUND])
def test_about_counts_as_done_within_the_tolerance(basis):
    assert APPROX_TOLERANCE == 0.02
    # 约650万人: 637万 is within 2 %, 636.9万 is not.
    assert classify(completion_rate(6_370_000, 6_500_000, basis), 0.5, basis=basis) == S.STATUS_DONE
    assert classify(completion_rate(6_369_000, 6_500_000, basis), 0.5, basis=basis) == S.STATUS_ON_TRACK
    assert classify(completion_rate(6_370_000, 6_500_000), 0.5) == S.STATUS_ON_TRACK  # exact: not yet
    assert classify(0.97, 1.0, basis=basis) == S.STATUS_ON_TRACK  # December, 3 points short: 正常推进, not done


@pytest.mark.parametrize("basis", [S.BASIS_EXACT, *S.FLOOR_BASES])
def test_exact_and_floor_are_done_at_the_figure(basis):
    assert classify(0.999, 0.5, basis=basis) == S.STATUS_ON_TRACK
    assert classify(1.0, 0.5, basis=basis) == S.STATUS_DONE
    assert classify(1.4, 0.5, basis=basis) == S.STATUS_DONE
    assert classify(0.3, 0.5, basis=basis) == S.STATUS_LAGGING


def test_ceiling_is_met_at_or_under_and_behind_over_it():
    c = S.BASIS_CEILING
    # 家庭托育支出不高于全省平均 (100 %): 92 % of the average is met, whatever the month.
    assert completion_rate(92, 100, c) == 1.0 and completion_rate(100, 100, c) == 1.0
    assert classify(completion_rate(92, 100, c), 1 / 12, basis=c) == S.STATUS_DONE
    # 5 % over: never 正常推进, however early in the year; far over: 严重滞后.
    assert completion_rate(105, 100, c) == pytest.approx(100 / 105)
    assert classify(completion_rate(105, 100, c), 1 / 12, basis=c) == S.STATUS_LAGGING
    assert classify(completion_rate(150, 100, c), 1 / 12, basis=c) == S.STATUS_SEVERE
    assert planned_share(1, "P06-9", None, c) == 1.0  # a ceiling holds all year: its 序时进度 is 100 %


def test_credited_rates_count_done_as_full():
    rate = pd.Series([0.985, 0.985, 1.3, 0.5])
    bases = pd.Series([S.BASIS_ABOUT, S.BASIS_EXACT, S.BASIS_ABOVE, S.BASIS_AROUND])
    assert credited(rate, bases).tolist() == [1.0, 0.985, 1.0, 0.5]
    assert credited(rate).tolist() == [0.985, 0.985, 1.0, 0.5]


def test_the_engine_applies_the_basis_of_each_indicator(targets):
    """约650万人 reached at 637万 makes project 19 已完成; 托育支出 at 105 % of the province's average is 滞后 in March."""
    from lib import progress as P

    def row(code, value):
        return {"年度": 2024, "月份": 3, "指标编号": code, "县市区": S.CITY, "累计完成": value, "进展状态": "",
                "进展情况": "", "存在问题": "", "下步计划": "", "填报单位": ""}
    rows = pd.DataFrame([row("P19-1", 6_370_000), row("P06-9", 105), row("P26-3", 43.2)])
    detail = P.detail(targets, rows, 3).query("县市区 == @S.CITY").set_index("指标编号")
    assert detail.at["P19-1", "目标口径"] == "约" and detail.at["P19-1", "状态"] == S.STATUS_DONE
    assert detail.at["P06-9", "完成率"] == pytest.approx(100 / 105) and detail.at["P06-9", "序时进度"] == 1.0
    assert detail.at["P06-9", "状态"] == S.STATUS_LAGGING
    assert detail.at["P26-3", "状态"] == S.STATUS_DONE  # 44%左右: 43.2 is within 2 %
    projects = P.project_table(targets, rows, 3).set_index("项目序号")
    assert projects.at[19, "完成率"] == 1.0 and projects.at[19, "状态"] == S.STATUS_DONE


# --- 序时进度: one rule, scalar and vectorised ----------------------------------

def _schedule(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=range(1, 13))


@st.composite
def _plans(draw):
    """A 序时计划 of a few indicators (non-decreasing, 100 % in December) and items to ask about."""
    codes = ["A-1", "A-2", "B-1", "C-1"]
    planned = {}
    for code in draw(st.lists(st.sampled_from(codes), unique=True, max_size=3)):
        steps = sorted(draw(st.lists(st.integers(0, 100), min_size=11, max_size=11)))
        planned[code] = [s / 100 for s in steps] + [1.0]
    schedule = _schedule(planned) if planned and draw(st.booleans()) else None
    items = draw(st.lists(st.tuples(st.integers(1, 12), st.sampled_from(codes), st.sampled_from(BASES)),
                          min_size=1, max_size=30))
    return schedule, items


@settings(max_examples=150, deadline=None)
@given(_plans())
def test_scalar_and_vectorised_planned_share_agree(plan):
    schedule, items = plan
    months, codes, bases = (pd.Series(column) for column in zip(*items))
    vector = planned_shares(months, codes, schedule, bases)
    assert vector.tolist() == [planned_share(m, c, schedule, b) for m, c, b in items]


def test_planned_share_follows_the_schedule_else_month_over_twelve():
    schedule = _schedule({"P17-1": [0] * 8 + [0.3, 0.6, 0.8, 1.0]})
    assert planned_share(9, "P17-1", schedule) == pytest.approx(0.3)
    assert planned_share(3, "P17-1", schedule) == 0
    assert planned_share(3, "P01-1", schedule) == 0.25  # not in the schedule: month / 12
    assert planned_share(6) == 0.5  # no indicator (a project's or category's own share)
    assert planned_share(3, "P17-1", schedule, S.BASIS_CEILING) == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(0, 2, allow_nan=False)), st.floats(0, 1),
                          st.sampled_from(BASES)), min_size=1, max_size=40),
       st.integers(0, 40), st.integers(0, 60))
def test_scalar_and_vectorised_status_agree_on_any_input(items, lag, severe):
    rates, planned, bases = (list(column) for column in zip(*items))
    vector = classify_series(pd.Series(rates, dtype="float64"), pd.Series(planned), lag, severe, pd.Series(bases))
    assert vector.tolist() == [classify(r, p, lag, severe, b) for r, p, b in items]


# The boundary table: (rate, 序时进度, lag, severe, status). Gaps land exactly on and just past each threshold.
BOUNDARIES = [
    (0.40, 0.5, 10, 30, S.STATUS_ON_TRACK),    # gap −10 points: not behind by MORE than 10
    (0.3999, 0.5, 10, 30, S.STATUS_LAGGING),   # gap −10.01
    (0.20, 0.5, 10, 30, S.STATUS_LAGGING),     # gap −30: 滞后, not yet 严重滞后
    (0.1999, 0.5, 10, 30, S.STATUS_SEVERE),    # gap −30.01
    (7 / 12 - 0.10, 7 / 12, 10, 30, S.STATUS_ON_TRACK),  # −10 again, on a plan that is not a round number
    (1.0, 0.5, 10, 30, S.STATUS_DONE),         # rate exactly 1.0
    (1.0, 1.0, 10, 30, S.STATUS_DONE),
    (0.9999, 1.0, 10, 30, S.STATUS_ON_TRACK),  # December, 0.01 point short: not done
    (0.0, 1 / 12, 10, 30, S.STATUS_ON_TRACK),  # nothing yet in January is within 10 points
    (0.0, 0.5, 10, 30, S.STATUS_SEVERE),
    (float("nan"), 0.5, 10, 30, S.STATUS_MISSING),
    (0.45, 0.5, 5, 20, S.STATUS_ON_TRACK),     # non-default thresholds (设置): −5 is the edge
    (0.4499, 0.5, 5, 20, S.STATUS_LAGGING),
    (0.30, 0.5, 5, 20, S.STATUS_LAGGING),      # −20
    (0.2999, 0.5, 5, 20, S.STATUS_SEVERE),     # −20.01
    (0.42, 0.5, 5, 20, S.STATUS_LAGGING),      # behind by 8: 滞后 on 5/20, though 正常推进 on the defaults ...
    (0.42, 0.5, 10, 30, S.STATUS_ON_TRACK),
    (0.25, 0.5, 15, 40, S.STATUS_LAGGING),     # ... and −25 is only 滞后 where 严重 starts past 40
    (580 / 1200, 7 / 12, 10, 30, S.STATUS_ON_TRACK),  # 580 of 1200 in July: exactly 10 points behind
]


@pytest.mark.parametrize("rate, planned, lag, severe, expected", BOUNDARIES,
                         ids=[f"r{r}-p{p:.3f}-{lag}/{sev}" for r, p, lag, sev, _ in BOUNDARIES])
def test_status_boundaries_scalar_and_vectorised(rate, planned, lag, severe, expected):
    assert classify(rate, planned, lag, severe) == expected
    vector = classify_series(pd.Series([rate]), pd.Series([planned]), lag, severe)
    assert vector.tolist() == [expected]
    exact = classify_series(pd.Series([rate]), pd.Series([planned]), lag, severe, pd.Series([S.BASIS_EXACT]))
    assert exact.tolist() == [expected]


def test_status_boundaries_as_one_frame_agree_with_the_scalar_rule():
    frame = pd.DataFrame(BOUNDARIES, columns=["rate", "planned", "lag", "severe", "expected"])
    for (lag, severe), part in frame.groupby(["lag", "severe"]):
        vector = classify_series(part["rate"], part["planned"], lag, severe).tolist()
        assert vector == [classify(r, p, lag, severe) for r, p in zip(part["rate"], part["planned"])]
        assert vector == part["expected"].tolist()
    assert classify(None, 0.5) == S.STATUS_MISSING


def test_the_engine_takes_its_thresholds_from_the_settings_sheet(tmp_path):
    """设置 with 5 / 20 points: a count indicator 8 points behind in June is 滞后 (正常推进 on the defaults)."""
    from openpyxl import load_workbook

    from lib import progress as P
    from lib.config import BUNDLED_TARGETS
    from lib.targets import load_targets

    path = tmp_path / "targets.xlsx"
    wb = load_workbook(BUNDLED_TARGETS)
    for cells in wb[S.SHEET_SETTINGS].iter_rows():
        if cells[0].value == S.SETTING_LAG:
            cells[1].value = 5
        elif cells[0].value == S.SETTING_SEVERE:
            cells[1].value = 20
    wb.save(path)
    strict, default = load_targets(path), load_targets(BUNDLED_TARGETS)
    assert (strict.lag_threshold, strict.severe_threshold) == (5, 20)

    def rows(value):
        return pd.DataFrame([{"年度": 2024, "月份": 6, "指标编号": "P06-5", "县市区": S.CITY, "累计完成": value,
                              "进展状态": "", "进展情况": "", "存在问题": "", "下步计划": "", "填报单位": "市托育指挥部"}])

    def status(targets, value):
        return P.detail(targets, rows(value), 6).set_index(["指标编号", "县市区"]).at[("P06-5", S.CITY), "状态"]
    # P06-5: 3000 a year, exact; June's 序时进度 is 50 %.
    assert status(default, 1260) == S.STATUS_ON_TRACK and status(strict, 1260) == S.STATUS_LAGGING   # 42 %: −8
    assert status(default, 750) == S.STATUS_LAGGING and status(strict, 750) == S.STATUS_SEVERE       # 25 %: −25
    assert status(strict, 1350) == S.STATUS_ON_TRACK                                                 # 45 %: −5


@pytest.mark.parametrize("basis", BASES)
def test_no_value_or_no_target_has_no_rate(basis):
    """No value, NaN, no target or a zero target: no rate (未报送 downstream), never a crash or a division by zero."""
    for value, target in ((None, 100), (float("nan"), 100), (50, None), (50, float("nan")), (50, 0), (0, 0)):
        assert completion_rate(value, target, basis) != completion_rate(value, target, basis)  # NaN
    rates = completion_rates(pd.Series([None, np.nan, 50, 50], dtype="float64"), pd.Series([100, 100, np.nan, 0]),
                             pd.Series([basis] * 4))
    assert rates.isna().all()


def test_not_started_is_on_track_until_a_quarter_of_the_year_is_planned():
    """A qualitative item's 未启动: 正常推进 while at most 25 % of the year's work is planned (March: 3/12), 滞后
    after; the unit's other states are taken as they are, a blank or unknown one is 未报送."""
    assert classify_reported(S.STATE_NOT_STARTED, 0.0) == classify_reported(S.STATE_NOT_STARTED, 3 / 12) == S.STATUS_ON_TRACK
    assert classify_reported(S.STATE_NOT_STARTED, 4 / 12) == classify_reported(S.STATE_NOT_STARTED, 0.2501) == S.STATUS_LAGGING
    assert classify_reported(S.STATUS_DONE, 0.1) == S.STATUS_DONE and classify_reported(S.STATUS_LAGGING, 0.9) == S.STATUS_LAGGING
    assert classify_reported("", 0.5) == classify_reported(None, 0.5) == classify_reported("已开工", 0.5) == S.STATUS_MISSING


def test_behind_means_lagging_or_severely_lagging_only():
    assert is_behind(S.STATUS_LAGGING) and is_behind(S.STATUS_SEVERE)
    assert not any(is_behind(s) for s in (S.STATUS_ON_TRACK, S.STATUS_DONE, S.STATUS_MISSING))


def test_the_worst_status_is_the_most_severe_and_nothing_reported_is_the_worst():
    assert worst([S.STATUS_ON_TRACK, S.STATUS_LAGGING, S.STATUS_DONE]) == S.STATUS_LAGGING
    assert worst([S.STATUS_LAGGING, S.STATUS_SEVERE]) == S.STATUS_SEVERE
    assert worst([S.STATUS_SEVERE, S.STATUS_MISSING]) == S.STATUS_MISSING
    assert worst([S.STATUS_DONE]) == S.STATUS_DONE
    assert worst([]) == worst(["已开工", None]) == S.STATUS_MISSING  # nothing (known) reported


def test_done_is_one_rule_for_one_rate_and_for_a_column():
    """lib.status.is_done / are_done: 98 % of an approximate target whatever the division left, 100 % otherwise."""
    from lib.status import are_done, is_done

    rates = pd.Series([1439.62 / 1469, 1439.61 / 1469, 0.9999999999, 1.0, 0.99, float("nan")])
    for basis in (S.BASIS_EXACT, S.BASIS_ABOUT, S.BASIS_CEILING):
        scalar = [is_done(r, basis) for r in rates]
        assert list(are_done(rates, pd.Series([basis] * len(rates)))) == scalar
    assert [is_done(r, S.BASIS_ABOUT) for r in rates] == [True, False, True, True, True, False]
    assert [is_done(r) for r in rates] == [False, False, True, True, False, False]
    assert list(are_done(rates)) == [is_done(r) for r in rates]
