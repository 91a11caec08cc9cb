"""Months computed together equal each month computed alone, bit for bit: the trend and projection views stack months
1..m in one pass (ui.data.details_until), the 督查通报 computes a month with the month before, and a published revision
is verified by recomputing its month alone and comparing every figure exactly (lib.publish.verify)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lib import progress as P
from lib import schema as S


@pytest.fixture(scope="module")
def rows(targets):
    """Every unit's rows for months 1-12 with values that do not add up exactly in binary (random fractions of the
    target), about one in six reports left out, the city-wide row of some split indicators reported, and a missing
    county value beside reported ones."""
    rng = np.random.default_rng(15)
    records = []
    for unit in targets.reporting_units:
        for r in targets.expected_rows(unit).itertuples(index=False):
            for month in range(1, 13):
                if rng.random() < 0.16:
                    continue
                quantitative = r.指标类型 != S.TYPE_QUALITATIVE
                city_total = r.城市合计行 and (month < 11 or r.指标编号 != "P02-1")  # P02-1's 全市 row reported late
                value = float(r.年度目标 or 0) * month / 12 * rng.random() * 1.3 if quantitative and not city_total else None
                records.append({"submission_id": month, "填报单位": unit, "年度": targets.year, "月份": month,
                                "指标编号": r.指标编号, "县市区": r.县市区, "累计完成": value, "进展状态": "正常推进",
                                "进展情况": "", "存在问题": "", "下步计划": ""})
    frame = pd.DataFrame(records)
    blank = frame.index[(frame["县市区"] != S.CITY) & frame["累计完成"].notna()][::97]
    frame.loc[blank[-3:], "累计完成"] = None  # a county row sent without a value, in the last months
    return frame


def test_the_data_has_sums_that_depend_on_how_they_are_added(targets, rows):
    """The fixture is able to tell: some county sums differ between a running sum and the correctly rounded one."""
    detail = P.detail(targets, rows, 12)
    county = detail[detail["层级"] == P.LEVEL_COUNTY].dropna(subset=["累计完成"])
    differ = [code for code, values in county.groupby("指标编号")["累计完成"]
              if sum(values.tolist()) != math.fsum(values.tolist())]
    assert len(differ) >= 5


@pytest.mark.parametrize("until", [1, 2, 6, 12])
def test_stacked_months_equal_each_month_alone(targets, rows, until):
    stacked = P.detail_months(targets, rows, range(1, until + 1))
    assert sorted(stacked["月份"].unique()) == list(range(1, until + 1))
    for month in range(1, until + 1):
        one = stacked[stacked["月份"] == month].drop(columns="月份").reset_index(drop=True)
        pd.testing.assert_frame_equal(one, P.detail(targets, rows, month), check_exact=True)


def test_a_month_with_the_month_before_equals_each_alone(targets, rows):
    """lib.progress.detail_each (the dashboard's month and the month before, for the overview's status changes)."""
    for months in ([5, 6], [1, 12], [3, 4, 9], [1]):
        each = P.detail_each(targets, rows, months)
        assert list(each) == months
        for month in months:
            pd.testing.assert_frame_equal(each[month], P.detail(targets, rows, month), check_exact=True)


def test_a_city_value_summed_from_counties_is_the_correctly_rounded_sum(targets, rows):
    """Where a split indicator's 全市 row is not reported, its value is math.fsum of the counties' values (missing
    where no county reported), whatever their order."""
    stacked = P.detail_months(targets, rows, range(1, 13))
    city_reported = rows[(rows["县市区"] == S.CITY) & rows["累计完成"].notna()].groupby("指标编号")["月份"].min()
    split = stacked[stacked["指标编号"].isin(set(targets.splits["指标编号"]))]
    checked = 0
    for (code, month), group in split.groupby(["指标编号", "月份"]):
        if city_reported.get(code, 13) <= month:  # its own 全市 value carries over
            continue
        city = group.loc[group["层级"] == P.LEVEL_CITY, "累计完成"].iloc[0]
        counties = group.loc[group["层级"] == P.LEVEL_COUNTY, "累计完成"].dropna().tolist()
        if counties:
            assert city == math.fsum(counties) == math.fsum(counties[::-1]), (code, month)
        else:
            assert pd.isna(city), (code, month)
        checked += 1
    assert checked > 100


def test_the_trend_views_stack_of_months_equals_each_month_alone(targets, rows, monkeypatch):
    """ui.data.details_until (the trend and projection views) as the dashboard calls it."""
    from ui import data

    bundle = data.Bundle(targets, rows, pd.DataFrame(), 12, False)
    monkeypatch.setattr(data, "load_bundle", lambda folder, version: bundle)
    data.details_until.clear()
    try:
        stacked = data.details_until("folder", "version", 7)
    finally:
        data.details_until.clear()
    for month in range(1, 8):
        one = stacked[stacked["月份"] == month].drop(columns="月份").reset_index(drop=True)
        pd.testing.assert_frame_equal(one, P.detail(targets, rows, month), check_exact=True)
