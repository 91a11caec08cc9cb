"""The 实时 / 已发布 switch and the 发布与修订 page through AppTest: every page serves either, the URL carries it."""

from __future__ import annotations

from datetime import datetime

import pytest

from lib import publish as PB
from lib.store import Store
from tests.conftest import both_backends
from tests.factory import filled
from tests.test_pages import open_page

UNIT = "市民政局"


@pytest.fixture()
def published(demo_copy, targets):
    """June of the demo published (revision 0), then a late June correction of one unit: live ≠ published."""
    store = Store(demo_copy)
    pub = PB.publish(store, 2024, 6, "李四")
    correction = store.ingest(filled(targets, UNIT, month="2024-06", share=0.9), "更正.xlsx", uploader="王五",
                              targets=targets, received_at=datetime(2024, 7, 20, 9))
    assert correction.stored
    return store, pub, correction


def table_with(at, column: str):
    """The shown table that has ``column`` (AppTest does not keep a dataframe's key), or None."""
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def export_value(at, code: str, county: str):
    table = table_with(at, "累计完成")
    return table.set_index(["指标编号", "县市区"]).at[(code, county), "累计完成"]


@both_backends("demo_copy")
def test_switch_defaults_to_the_latest_revision_and_every_page_serves_it(published):
    store, pub, _ = published
    at = open_page()
    assert at.radio(key="f_source").value == "已发布"
    assert at.query_params["source"] == "published" and at.query_params["rev"] == "0"
    assert [i.body for i in at.sidebar.info] == [pub.label()]
    assert any(pub.label() in m.value for m in at.markdown)  # the label on the page itself, under the title
    for page in ("category", "unit", "county", "project", "export", "publish", "upload"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])


@both_backends("demo_copy")
def test_published_and_live_figures_and_the_url_round_trip(published, targets):
    store, pub, _ = published
    detail = pub.tables["detail"]
    row = detail[(detail["填报单位"] == UNIT) & detail["累计完成"].notna() & (detail["层级"] == "县市区")].iloc[0]
    code, county = row["指标编号"], row["县市区"]
    at = open_page("pages/export.py")
    assert export_value(at, code, county) == row["累计完成"]
    at.radio(key="f_source").set_value("实时").run()
    assert at.query_params["source"] == "live" and "rev" not in at.query_params
    live = export_value(at, code, county)
    assert live != row["累计完成"]
    assert any("实时数据" in m.value for m in at.markdown)
    # A shared link opens on the same figures.
    again = open_page("pages/export.py", query={"source": "live", "month": "6"})
    assert again.radio(key="f_source").value == "实时" and export_value(again, code, county) == live
    pinned = open_page("pages/export.py", query={"source": "published", "rev": "0", "month": "6"})
    assert export_value(pinned, code, county) == row["累计完成"]


def test_a_link_to_revision_0_keeps_showing_it_after_revision_1(published):
    store, pub, _ = published
    second = PB.publish(store, 2024, 6, "李四", reason="民政局更正")
    at = open_page(query={"source": "published", "rev": "0", "month": "6"})
    assert at.selectbox(key="f_revision").value == 0 and [i.body for i in at.sidebar.info] == [pub.label()]
    latest = open_page()
    assert latest.selectbox(key="f_revision").value == 1 and [i.body for i in latest.sidebar.info] == [second.label()]


@both_backends("demo_copy")
def test_publish_page_publishes_asks_for_a_reason_and_lists_changes(published):
    store, pub, correction = published
    at = open_page("pages/publish.py")
    assert len(table_with(at, "内容哈希")) == 1
    changes = table_with(at, "变更报送")
    assert len(changes) and changes["变更报送"].str.startswith(f"第 {correction.submission_id} 号").all()
    assert set(changes["填报单位"]) == {UNIT}
    at.button(key="publish_go").click().run()  # no reason for a revision
    assert any("修订原因" in e.value for e in at.error)
    assert len(PB.revisions(store, 2024, 6)) == 1
    at.text_input(key="publish_reason").input("民政局更正 6 月数据")
    at.button(key="publish_go").click().run()
    assert not at.exception
    revisions = PB.revisions(store, 2024, 6)
    assert [r.revision for r in revisions] == [0, 1] and revisions[1].reason == "民政局更正 6 月数据"
    assert at.selectbox(key="f_revision").value == 1 and at.query_params["rev"] == "1"
    assert table_with(at, "变更报送") is None and len(table_with(at, "内容哈希")) == 2
    assert PB.verify(store) == []  # what the page published (from the dashboard's own tables) recomputes exactly
    assert any("没有任何数字变化" in s.value for s in at.success)


def test_a_month_without_publication_shows_live_figures(demo_dir, monkeypatch):
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(demo_dir))
    at = open_page("pages/publish.py")
    assert all(r.key != "f_source" for r in at.radio)  # no switch: nothing to choose
    assert "source" not in at.query_params
    assert any("尚未发布" in c.value for c in at.sidebar.caption)
