"""Published months: frozen, revised with a reason, reproducible from the raw files, and what changed since."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime

import pytest

from lib import progress as P
from lib import publish as PB
from lib import schema as S
from lib.config import BUNDLED_TARGETS
from lib.export import to_csv_bytes
from lib.store import Store
from tests.conftest import close_pool
from tests.factory import filled

PLAIN = "市体育局"


@pytest.fixture(scope="module")
def split_unit(targets):
    """A reporting unit with indicators split to counties (its 全市 rows are county sums)."""
    for unit in targets.reporting_units:
        rows = targets.expected_rows(unit)
        if (rows["县市区"] != S.CITY).any() and unit != PLAIN:
            return unit
    raise AssertionError("no unit with county rows")


def frozen(pub) -> dict[str, bytes]:
    return {name: to_csv_bytes(pub.tables[name]) for name in PB.TABLES}


def _sender(store, targets):
    return lambda unit, month, share, day: store.ingest(
        filled(targets, unit, month=f"2024-{month:02d}", share=share), f"{unit}-{month}-{share}.xlsx",
        uploader="王五", targets=targets, received_at=day)


@pytest.fixture(scope="module")
def built(tmp_path_factory, targets, split_unit, module_backend):
    """Two units, May and June reported (May of PLAIN twice), June published as it stood: built once per module and
    backend; ``world`` hands each test a private copy."""
    folder = tmp_path_factory.mktemp("publish") / "data"
    folder.mkdir()
    shutil.copy(BUNDLED_TARGETS, folder / "targets.xlsx")
    store = Store(folder)
    send = _sender(store, targets)
    first_may = send(PLAIN, 5, 0.2, datetime(2024, 6, 3, 9))
    send(PLAIN, 5, 0.25, datetime(2024, 6, 4, 9))
    send(split_unit, 5, 0.2, datetime(2024, 6, 3, 10))
    send(PLAIN, 6, 0.3, datetime(2024, 7, 3, 9))
    send(split_unit, 6, 0.3, datetime(2024, 7, 3, 10))
    pub = PB.publish(store, 2024, 6, "李四")
    url = os.environ.get("LIVELIHOOD_DATABASE_URL")
    if url:
        close_pool(url)  # a template database: nothing may stay connected to it
    return folder, url, pub, first_may.submission_id


@pytest.fixture()
def world(built, targets, tmp_path, monkeypatch, request):
    """A private copy of ``built`` (the folder; on PostgreSQL a clone of its database, dropped after the test):
    (store, June's publication as published, send, the first May submission's id)."""
    source, url, pub, first_may = built
    folder = tmp_path / "data"
    shutil.copytree(source, folder)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    if url:
        server = request.getfixturevalue("postgres_server")
        copy = server.clone_database(url)
        request.addfinalizer(lambda: server.drop_database(copy))
        monkeypatch.setenv("LIVELIHOOD_DATABASE_URL", copy)
    store = Store(folder)
    return store, pub, _sender(store, targets), first_may


def test_publish_records_versions_targets_tables_and_hash(world, targets):
    store, pub, _, _ = world
    assert (pub.year, pub.month, pub.revision, pub.published_by) == (2024, 6, 0, "李四")
    assert set(pub.tables) == set(PB.TABLES)
    assert len(pub.versions) == 4 and {"unit", "submission_id", "sha256"} <= set(pub.versions.columns)
    assert pub.targets_hash == hashlib.sha256(store.target_table(2024)[1]).hexdigest()
    # The same tables lib.progress gives for the live state, and the file on disk is exactly what the hash covers.
    live = P.detail(targets, store.current_rows(2024), 6)
    assert to_csv_bytes(pub.tables["detail"]) == to_csv_bytes(live)
    assert list(pub.tables["compliance"].columns) == list(P.compliance(targets, store.submissions(), 6).columns)
    assert hashlib.sha256(store.publication_file(pub.id)).hexdigest() == pub.content_hash
    again = PB.load(store, 2024, 6)
    assert again.content_hash == pub.content_hash and frozen(again) == frozen(pub)
    assert again.label().startswith("已发布 · 2024 年 6 月 · 修订 0 · ") and again.label().endswith("日发布")
    assert "发布" in store.audit_log()["操作"].tolist()


def test_label_names_month_revision_and_day():
    pub = PB.Publication(2024, 6, 0, "", datetime(2024, 7, 8, 10), "李四", "t", "c", None, {})
    assert pub.label() == "已发布 · 2024 年 6 月 · 修订 0 · 7 月 8 日发布"


def test_late_correction_july_report_and_restore_leave_the_publication_untouched(world, targets, split_unit):
    store, pub, send, first_may = world
    before = frozen(PB.load(store, 2024, 6))
    live_before = P.detail(targets, store.current_rows(2024), 6)
    correction = send(split_unit, 6, 0.5, datetime(2024, 7, 20, 9))  # late June correction
    send(PLAIN, 7, 0.4, datetime(2024, 8, 2, 9))  # a July report
    store.restore(first_may, who="王五")  # an old May version again (June's values shadow it)
    after = PB.load(store, 2024, 6)
    assert frozen(after) == before and after.content_hash == pub.content_hash
    live = P.detail(targets, store.current_rows(2024), 6)
    assert to_csv_bytes(live) != to_csv_bytes(live_before)

    table = PB.changes(after, live, store.submissions())
    assert list(table.columns) == PB.CHANGE_COLUMNS
    # Exactly the correction's quantitative rows, and the 全市 rows summed from its county rows.
    rows = targets.expected_rows(split_unit)
    entered = rows[~rows["城市合计行"] & (rows["指标类型"] != S.TYPE_QUALITATIVE)]
    moved = {(c, k) for c, k, t in zip(entered["指标编号"], entered["县市区"], entered["年度目标"])
             if round(float(t) * 0.5, 2) != round(float(t) * 0.3, 2)}
    summed = {(c, S.CITY) for c, k in moved if k != S.CITY}
    assert set(zip(table["指标编号"], table["县市区"])) == moved | summed
    assert len(table) == len(moved | summed)
    assert table["变更报送"].str.startswith(f"第 {correction.submission_id} 号").all()
    assert (table["填报单位"] == split_unit).all() and (table["变更时间"] == "2024-07-20 09:00").all()
    one = table[table["县市区"] != S.CITY].iloc[0]
    target = float(rows.set_index(["指标编号", "县市区"]).at[(one["指标编号"], one["县市区"]), "年度目标"])
    assert one["已发布"] == round(target * 0.3, 2) and one["实时"] == round(target * 0.5, 2)
    assert PB.verify(store) == []


def test_a_revision_needs_a_reason_and_earlier_revisions_stay(world):
    store, pub, send, _ = world
    with pytest.raises(PB.PublishError, match="修订原因"):
        PB.publish(store, 2024, 6, "李四")
    with pytest.raises(PB.PublishError, match="修订原因"):
        PB.publish(store, 2024, 6, "李四", reason="   ")
    assert len(PB.revisions(store, 2024, 6)) == 1
    send(PLAIN, 6, 0.45, datetime(2024, 7, 10, 9))
    second = PB.publish(store, 2024, 6, "李四", reason="市体育局更正 6 月数据")
    assert second.revision == 1 and second.reason == "市体育局更正 6 月数据"
    assert [p.revision for p in PB.revisions(store, 2024, 6)] == [0, 1]
    assert frozen(PB.load(store, 2024, 6, 0)) == frozen(pub) and PB.load(store, 2024, 6).revision == 1
    assert frozen(second) != frozen(pub)
    # The database refuses to change a published row.
    with pytest.raises(Exception, match="immutable"), store.write() as con:
        con.execute("UPDATE publications SET published_by = 'x' WHERE revision = 0")
    with pytest.raises(Exception, match="immutable"), store.write() as con:
        con.execute("DELETE FROM publication_versions")


def test_as_of_time_publishes_the_state_of_that_moment(world, split_unit):
    store, pub, send, first_may = world
    send(split_unit, 6, 0.5, datetime(2024, 7, 20, 9))
    store.restore(first_may)
    at_deadline = PB.publish(store, 2024, 6, "李四", reason="按截止时点重发", as_of_time=datetime(2024, 7, 8, 23, 59, 59))
    assert at_deadline.as_of_time == datetime(2024, 7, 8, 23, 59, 59)
    for name in ("detail", "projects", "categories", "units", "counties"):
        assert to_csv_bytes(at_deadline.tables[name]) == to_csv_bytes(pub.tables[name]), name
    assert PB.verify(store) == []
    with pytest.raises(PB.PublishError, match="晚于当前时间"):
        PB.publish(store, 2024, 6, "李四", reason="x", as_of_time=datetime(2999, 1, 1))


def tamper(store, sql: str, *args) -> None:
    """Change a published row as someone with the database's own rights could (past the triggers)."""
    with store.write() as con:
        if store.db_path:
            con.execute("DROP TRIGGER publications_no_update")
            con.execute("DROP TRIGGER publication_versions_no_update")
        else:
            con.execute("ALTER TABLE publications DISABLE TRIGGER USER")
            con.execute("ALTER TABLE publication_versions DISABLE TRIGGER USER")
        con.execute(sql, args)


def test_verify_detects_a_tampered_publication_row(world, capsys, monkeypatch):
    store, pub, _, _ = world
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(store.folder))
    assert PB.main(["--verify"]) == 0
    doc = json.loads(store.publication_record(pub.id)[0])
    detail = doc["tables"]["detail"]
    value = detail["columns"].index("累计完成")
    row = next(r for r in detail["rows"] if r[value] is not None)
    row[value] = row[value] + 1
    tampered = PB.canonical(doc).decode()
    # Both the row and its hash changed, as an editor of the database could: the recomputation still catches it.
    tamper(store, "UPDATE publications SET document = ?, content_hash = ? WHERE id = ?",
           tampered, hashlib.sha256(tampered.encode()).hexdigest(), pub.id)
    capsys.readouterr()
    assert PB.main(["--verify"]) == 1
    out = capsys.readouterr().out
    assert "2024 年 6 月 修订 0" in out


def test_verify_detects_a_changed_version_list_and_file(world):
    store, pub, _, _ = world
    tamper(store, "UPDATE publication_versions SET sha256 = ? WHERE rowid = (SELECT MIN(rowid) FROM publication_versions)",
           "0" * 64)
    assert any("修订 0" in p and "版本清单" in p for p in PB.verify(store))


def test_verify_detects_an_edited_publication_file(world):
    store, pub, _, _ = world
    if not store.db_path:
        pytest.skip("PostgreSQL keeps a revision only in its row")
    path = store.folder / pub.path
    path.write_bytes(path.read_bytes().replace("李四".encode(), "张三".encode()))
    assert any("修订 0" in p and "发布文件" in p for p in PB.verify(store))


def test_rebuild_keeps_publications_and_they_verify(world):
    store, pub, _, _ = world
    before = frozen(pub)
    assert store.rebuild() == 5
    after = PB.load(store, 2024, 6)
    assert after is not None and after.content_hash == pub.content_hash and frozen(after) == before
    assert after.versions["submission_id"].notna().all()
    assert PB.verify(store) == []


def test_progress_cli_prints_published_tables(world, monkeypatch, capsysbinary):
    store, pub, _, _ = world
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(store.folder))
    assert P.main(["--as-of", "2024-06", "--level", "county", "--published"]) == 0
    assert capsysbinary.readouterr().out == to_csv_bytes(pub.tables["counties"])
    assert P.main(["--as-of", "2024-05", "--level", "county", "--published"]) == 1


def test_publish_cli(world, monkeypatch, capsys):
    store, _, _, _ = world
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(store.folder))
    assert PB.main(["2024-06"]) == 2 and "修订原因" in capsys.readouterr().err
    assert PB.main(["2024-06", "--reason", "补充", "--as-of-time", "2024-07-08T23:59:59", "--by", "赵六"]) == 0
    assert "修订 1" in capsys.readouterr().out
    assert PB.load(store, 2024, 6).published_by == "赵六"
    assert PB.main(["2024-13"]) == 2


def test_the_dashboards_tables_give_the_same_revision(world, targets):
    """The 发布 button hands over the month's tables the dashboard computed from its rows: same bytes, and it verifies."""
    store, pub, _, _ = world
    rows = store.current_rows(2024)
    detail = P.detail(targets, rows, 6)
    projects = P.project_table(targets, rows, 6, detail)
    computed = {"detail": detail, "projects": projects, "categories": P.category_table(targets, rows, 6, projects),
                "units": P.unit_table(targets, rows, 6, projects), "counties": P.county_table(targets, rows, 6, detail)}
    again = PB.publish(store, 2024, 6, "李四", reason="同一状态再发布", targets=targets, rows=rows, computed=computed)
    assert frozen(again) == frozen(pub) and again.versions["sha256"].tolist() == pub.versions["sha256"].tolist()
    assert PB.verify(store) == []
