"""The 实时 / 已发布 switch and the 发布与修订 page through AppTest: every page serves either, the URL carries it."""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest

from lib import publish as PB
from lib.store import DB_NAME, Store
from tests.conftest import both_backends, close_pool
from tests.factory import filled
from tests.test_pages import open_page

UNIT = "市民政局"


def _publish_world(request, tmp_path_factory, targets, backend: str):
    """June of the demo's reports published (revision 0), then a late June correction of one unit: live ≠ published.
    (folder, database URL or None, the publication, the correction's outcome, the cluster or None); the database is a
    template."""
    folder = tmp_path_factory.mktemp("published") / "data"
    with pytest.MonkeyPatch.context() as patch:
        if backend == "sqlite":
            shutil.copytree(request.getfixturevalue("reports_dir"), folder)
            url = None
            patch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
        else:
            source, template = request.getfixturevalue("pg_reports")
            shutil.copytree(source, folder)
            url = request.getfixturevalue("postgres_server").clone_database(template)
            patch.setenv("LIVELIHOOD_DATABASE_URL", url)
        patch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
        store = Store(folder)
        pub = PB.publish(store, 2024, 6, "李四")
        correction = store.ingest(filled(targets, UNIT, month="2024-06", share=0.9), "更正.xlsx", uploader="王五",
                                  targets=targets, received_at=datetime(2024, 7, 20, 9))
        assert correction.stored
    if url:
        close_pool(url)  # a template database: nothing may stay connected to it
    return folder, url, pub, correction, request.getfixturevalue("postgres_server") if url else None


@pytest.fixture(scope="module")
def publish_worlds():
    """backend -> ``_publish_world``, built once per module on first use (``published`` copies it per test); the
    PostgreSQL template is dropped after the module."""
    worlds = {}
    yield worlds
    if "postgres" in worlds:
        worlds["postgres"][4].drop_database(worlds["postgres"][1])


@pytest.fixture()
def published(request, publish_worlds, tmp_path_factory, tmp_path, monkeypatch, targets):
    """A private copy of the module's published world (the folder; on PostgreSQL a clone of its database, dropped
    after the test), on SQLite unless the test asks for PostgreSQL (``both_backends("published")``):
    (store, the publication, the correction's outcome). LIVELIHOOD_DATA_DIR (and the database URL) point at it."""
    backend = getattr(request, "param", "sqlite")
    if backend not in publish_worlds:
        publish_worlds[backend] = _publish_world(request, tmp_path_factory, targets, backend)
    source, template, pub, correction, _ = publish_worlds[backend]
    folder = tmp_path / "data"
    shutil.copytree(source, folder)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    if template is None:
        monkeypatch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
        yield Store(folder), pub, correction
        return
    server = request.getfixturevalue("postgres_server")
    url = server.clone_database(template)
    monkeypatch.setenv("LIVELIHOOD_DATABASE_URL", url)
    yield Store(folder), pub, correction
    server.drop_database(url)
    assert not (folder / DB_NAME).exists()  # the pages used PostgreSQL, never a SQLite file of the folder


def table_with(at, column: str):
    """The shown table that has ``column`` (AppTest does not keep a dataframe's key), or None."""
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def export_value(at, code: str, county: str):
    table = table_with(at, "累计完成")
    return table.set_index(["指标编号", "县市区"]).at[(code, county), "累计完成"]


@both_backends("published")
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


@both_backends("published")
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


@both_backends("published")
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
