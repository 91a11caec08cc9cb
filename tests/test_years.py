"""Years in the store (issue 18): the sidebar's 年度 chooses what every page shows, the overview compares with the
same month a year earlier, and the target-table page adds a year or a new version of one."""

from __future__ import annotations

import shutil
from datetime import date, datetime

import pytest

from lib import ledger
from lib import progress as P
from lib.formatting import POINT_DIGITS, fmt_pct
from lib.store import Store
from tests.factory import filled, targets_of_year
from tests.test_pages import open_page

LAST_YEAR_SHARE = 0.2  # every unit's June 2023 report at 20 % of its targets (2024's demo is further on)
LAST_YEAR_PROBLEM = ("市民政局", "二〇二三年度征地协调尚未完成")  # one unit's 存在问题 in June 2023: a ledger candidate


@pytest.fixture(scope="session")
def two_years_dir(reports_dir, tmp_path_factory):
    """The demo's 2024 reports (January–June) plus a 2023 target table and every unit's June 2023 report."""
    folder = tmp_path_factory.mktemp("years") / "data"
    shutil.copytree(reports_dir, folder)
    store = Store(folder)
    assert store.replace_targets(targets_of_year(2023), who="测试管理员") == []
    last = store.targets(2023)
    files = [(f"2023-06_{unit}.xlsx", filled(last, unit, month="2023-06", share=LAST_YEAR_SHARE,
                                             problems=LAST_YEAR_PROBLEM[1] if unit == LAST_YEAR_PROBLEM[0] else ""))
             for unit in last.reporting_units]
    outcomes = store.ingest_many(files, uploader="测试填报", targets=last, received_at=datetime(2023, 7, 3),
                                 today=date(2024, 1, 31))
    assert all(o.stored for o in outcomes), [o.summary() for o in outcomes if not o.stored]
    assert store.target_years() == [2023, 2024] and set(store.current_rows(2023)["月份"]) == {6}
    return folder


@pytest.fixture()
def on_two_years(two_years_dir, monkeypatch):
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(two_years_dir))
    return two_years_dir


@pytest.fixture()
def one_year(demo_dir, monkeypatch):
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(demo_dir))
    return demo_dir


def city_rate(folder, year: int, month: int) -> float:
    """The overview's 平均完成率 of ``year`` as lib.progress computes it (no filters)."""
    store = Store(folder)
    return float(P.city_table(store.targets(year), store.current_rows(year), month)["完成率"].iloc[0])


def metric(at, label: str):
    return next((m for m in at.metric if m.label == label), None)


def url(at, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def test_year_switch_changes_the_figures_and_the_url(on_two_years):
    at = open_page("pages/overview.py")
    assert at.selectbox(key="f_year").value == 2024 and url(at, "year") == "2024"  # the latest year by default
    assert at.title[0].value.startswith("总览 · 截至 2024 年 6 月")
    assert metric(at, "平均完成率").value == fmt_pct(city_rate(on_two_years, 2024, 6))

    at.selectbox(key="f_year").set_value(2023).run()
    assert not at.exception
    assert url(at, "year") == "2023"
    assert at.title[0].value.startswith("总览 · 截至 2023 年 6 月")  # 2023's own latest month
    assert metric(at, "平均完成率").value == fmt_pct(city_rate(on_two_years, 2023, 6))
    assert fmt_pct(city_rate(on_two_years, 2023, 6)) != fmt_pct(city_rate(on_two_years, 2024, 6))

    at.switch_page("pages/export.py").run()  # the year holds across pages
    assert not at.exception and at.selectbox(key="f_year").value == 2023
    assert any("截至 2023 年 6 月" in c.value for c in at.caption)


def test_a_link_with_a_year_opens_that_year(on_two_years):
    at = open_page("pages/category.py", query={"year": "2023"})
    assert at.selectbox(key="f_year").value == 2023 and at.title[0].value.startswith("分类进展 · 2023 年")


def test_a_link_to_a_year_without_a_table_says_so_and_shows_the_latest(on_two_years):
    at = open_page("pages/overview.py", query={"year": "2019"})
    assert at.selectbox(key="f_year").value == 2024 and url(at, "year") == "2024"
    assert any("“2019”没有目标表" in c.value for c in at.caption)


def test_overview_shows_last_years_figure_for_the_same_month(on_two_years):
    at = open_page("pages/overview.py")
    card = metric(at, "去年同期 · 2023 年 6 月")
    assert card is not None, [m.label for m in at.metric]
    last, now = city_rate(on_two_years, 2023, 6), city_rate(on_two_years, 2024, 6)
    assert card.value == fmt_pct(last)
    assert card.proto.delta == f"今年{(now - last) * 100:+.{POINT_DIGITS}f} 个百分点"


def test_no_last_year_figure_where_there_is_no_last_year(one_year):
    at = open_page("pages/overview.py")  # the demo store: 2024 only
    assert at.selectbox(key="f_year").options == ["2024 年度"]
    assert not any(m.label.startswith("去年同期") for m in at.metric)


def test_no_last_year_figure_for_the_first_year_or_an_unreported_month(on_two_years):
    at = open_page("pages/overview.py", query={"year": "2023"})
    assert not any(m.label.startswith("去年同期") for m in at.metric)  # no 2022 table
    at.selectbox(key="f_year").set_value(2024).run()
    at.selectbox(key="f_month").set_value(3).run()  # 2023 has June only
    assert not at.exception and not any(m.label.startswith("去年同期") for m in at.metric)


def test_targets_page_adds_a_year_and_a_version_audited(demo_copy):
    at = open_page("pages/targets.py")
    at.file_uploader(key="targets_upload").set_value(("目标表-2025.xlsx", targets_of_year(2025), "application/octet-stream")).run()
    at.button(key="targets_replace").click().run()
    assert not at.exception
    assert any("已存入 2025 年度目标表第 1 版" in s.value for s in at.success), [s.value for s in at.success]
    store = Store(demo_copy)
    assert store.target_years() == [2024, 2025]

    at.file_uploader(key="targets_upload").set_value(("目标表-2024.xlsx", targets_of_year(2024), "application/octet-stream")).run()
    at.button(key="targets_replace").click().run()
    assert any("已存入 2024 年度目标表第 2 版" in s.value for s in at.success), [s.value for s in at.success]
    history = at.dataframe[-1].value  # the version record, last on the page
    assert list(zip(history["年度"], history["版本"], history["当前"])) == [
        ("2025", "第 1 版", "当前版本"), ("2024", "第 1 版", ""), ("2024", "第 2 版", "当前版本")]
    assert set(history["存入人"]) >= {"系统"} and "None" not in history.to_string()

    at.file_uploader(key="targets_upload").set_value(("同一份.xlsx", targets_of_year(2025), "application/octet-stream")).run()
    at.button(key="targets_replace").click().run()
    assert any("完全相同，未另存新版本" in i.value for i in at.info) and len(store.target_history(2025)) == 1

    at.file_uploader(key="targets_upload").set_value(("坏.xlsx", b"not a workbook", "application/octet-stream")).run()
    at.button(key="targets_replace").click().run()
    assert any("未存入" in e.value for e in at.error)
    assert store.target_years() == [2024, 2025] and len(store.target_history(2024)) == 2
    log = store.audit_log()
    assert log[log["操作"] == "目标表被拒"].shape[0] == 1
    assert log["详情"].str.contains("2025").any()


def test_ledger_reads_each_year_with_its_own_table_and_shows_the_chosen_year(two_years_dir, tmp_path, monkeypatch):
    folder = tmp_path / "data"
    shutil.copytree(two_years_dir, folder)
    store = Store(folder)
    last = store.targets(2023)
    fresh = "二〇二三年度补报：设备到货延迟"  # a corrected June 2023 report no sync has read yet
    outcome = store.ingest(filled(last, "市体育局", month="2023-06", share=0.3, problems=fresh), "更正.xlsx",
                           uploader="测试填报", targets=last, received_at=datetime(2023, 7, 20), today=date(2024, 1, 31))
    assert outcome.stored

    def mentions(year: int):
        items = ledger.items(store, store.targets(year))
        return items.loc[items["问题描述"].str.contains(fresh), "年度"]
    ledger.sync(store, store.targets(2024))
    assert mentions(2024).empty  # 2024's sync reads 2024's reports only
    ledger.sync(store, store.targets(2023))
    assert len(mentions(2023)) and set(mentions(2023)) == {2023}  # one per row it was written in, all of 2023

    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    at = open_page("pages/ledger.py")
    assert "二〇二三年度征地" not in " ".join(str(d.value.to_string()) for d in at.dataframe)
    at.selectbox(key="f_year").set_value(2023).run()
    assert not at.exception
    assert "二〇二三年度征地" in " ".join(str(d.value.to_string()) for d in at.dataframe)
