"""The store: all-or-nothing, every version kept, crash-safe, concurrent, rebuildable."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import zipfile
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from lib import store as store_module
from lib.store import STATE_CURRENT, STATE_REPLACED, Store
from tests.factory import filled, store_fingerprint
from tests.worker import run_workers

UNIT = "市体育局"


def fingerprint(store) -> str:
    return store_fingerprint(store.folder)


@pytest.fixture()
def store(data_dir, backend):
    """A store on each backend (tests/conftest.py ``backend``)."""
    return Store(data_dir)


@pytest.fixture()
def sqlite_store(data_dir, monkeypatch):
    """The embedded backend only: tests of its files on disk, its crash protocol and its database file."""
    monkeypatch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
    return Store(data_dir)


def test_new_folder_is_initialised_from_the_bundled_targets(tmp_path):
    s = Store(tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "targets.xlsx").exists()  # the table lives in the database
    assert s.targets().year == 2024 and s.target_years() == [2024]
    version, data = s.target_table(2024)
    assert version == 1 and data == store_module.config.BUNDLED_TARGETS.read_bytes()
    history = s.target_history(2024)
    assert list(history["stored_by"]) == ["系统"] and list(history["current"]) == [True]
    assert history["sha256"][0] == hashlib.sha256(data).hexdigest()


def test_accepted_file_is_kept_verbatim_under_a_name_the_store_chooses(targets, sqlite_store):
    data = filled(targets, UNIT)
    outcome = sqlite_store.ingest(data, "../../etc/passwd", uploader="张三", targets=targets, received_at=datetime(2024, 4, 3, 9))
    assert outcome.stored and not outcome.late
    files = sorted((sqlite_store.folder / "submissions" / "2024" / "03" / UNIT).iterdir())
    assert [f.suffix for f in files] == [".json", ".xlsx"]
    assert files[1].read_bytes() == data
    assert files[1].name.startswith("20240403T090000") and hashlib.sha256(data).hexdigest()[:12] in files[1].name
    assert "passwd" not in files[1].name
    sidecar = json.loads(files[0].read_text(encoding="utf-8"))
    assert sidecar["uploader"] == "张三" and sidecar["file_name"] == "passwd"
    subs = sqlite_store.submissions()
    assert subs.loc[0, "state"] == STATE_CURRENT and subs.loc[0, "uploader"] == "张三"
    rows = sqlite_store.current_rows()
    assert len(rows) == len(targets.expected_rows(UNIT))
    assert rows.set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "累计完成"] == 3.0


def test_database_is_wal(sqlite_store):
    con = sqlite3.connect(sqlite_store.db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_connections_opening_a_new_sqlite_file_together_all_get_it_in_wal_mode(tmp_path):
    """Turning a new file to WAL needs it alone, and SQLite answers "database is locked" at once, without its busy
    wait, to a connection that asks while another is switching: two servers starting on a new data folder (or
    processes ingesting side by side, tests/test_robustness.py) failed. Two connections open a new file at the same
    moment, a hundred times: each must get it, in WAL mode. (On tmpfs, where no fsync slows the switch, the unguarded
    switch failed in about one round in eight: this test missed it once in ~10⁶ runs.)"""
    from lib.store.sqlite import SqliteDatabase

    base = Path(tempfile.mkdtemp(dir="/dev/shm")) if Path("/dev/shm").is_dir() else tmp_path
    failures, modes = [], []

    def open_it(path, barrier):
        barrier.wait()
        try:
            with closing(SqliteDatabase(path).connect()) as con:
                modes.append(con.execute("PRAGMA journal_mode").fetchone()[0])
        except sqlite3.Error as error:
            failures.append(repr(error))

    try:
        for round_ in range(100):
            barrier = threading.Barrier(2)
            both = [threading.Thread(target=open_it, args=(base / f"{round_}.sqlite", barrier)) for _ in range(2)]
            for thread in both:
                thread.start()
            for thread in both:
                thread.join()
    finally:
        if base != tmp_path:
            shutil.rmtree(base)
    assert failures == [] and modes == ["wal"] * 200, failures[:3]


def test_a_file_with_any_error_stores_nothing(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-02"), "2月.xlsx", targets=targets, received_at=datetime(2024, 3, 1))
    before = fingerprint(store)
    bad = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": "约3"}})
    outcome = store.ingest(bad, "3月.xlsx", targets=targets, received_at=datetime(2024, 4, 1))
    assert outcome.submission_id is None and outcome.result.errors
    assert fingerprint(store) == before
    assert store.audit_log()["操作"].iloc[0] == "上传被拒"


def test_second_file_supersedes_and_restore_brings_back(targets, store):
    first = store.ingest(filled(targets, UNIT, share=0.2), "a.xlsx", targets=targets, received_at=datetime(2024, 4, 2))
    second = store.ingest(filled(targets, UNIT, share=0.4), "b.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    assert second.superseded == first.submission_id
    states = store.submissions().set_index("id")["state"]
    assert states[first.submission_id] == STATE_REPLACED and states[second.submission_id] == STATE_CURRENT
    value = lambda: store.current_rows().set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "累计完成"]  # noqa: E731
    assert value() == 4.0
    store.restore(first.submission_id, who="李四")
    assert value() == 2.0
    assert store.submissions().set_index("id")["state"][second.submission_id] == STATE_REPLACED
    assert all(store.raw_file(rel) for rel in store.submissions()["path"])  # nothing deleted: both kept verbatim


def test_same_bytes_are_recognised(targets, store):
    data = filled(targets, UNIT)
    first = store.ingest(data, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 2))
    again = store.ingest(data, "copy.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    assert again.duplicate_of == first.submission_id and not again.stored
    assert len(store.submissions()) == 1


def test_late_submissions_are_recorded(targets, store):
    on_time = store.ingest(filled(targets, UNIT, month="2024-03"), "a", targets=targets, received_at=datetime(2024, 4, 5, 18))
    late = store.ingest(filled(targets, UNIT, month="2024-04"), "b", targets=targets, received_at=datetime(2024, 5, 7, 8))
    assert not on_time.late and late.late
    assert store.submissions().set_index("id")["late"].to_dict() == {on_time.submission_id: False, late.submission_id: True}


def test_crash_before_commit_leaves_the_store_as_before(targets, sqlite_store, monkeypatch):
    sqlite_store.ingest(filled(targets, UNIT, month="2024-02"), "2月", targets=targets, received_at=datetime(2024, 3, 1))
    before = fingerprint(sqlite_store)

    def boom(*args, **kwargs):
        raise OSError("power cut")
    monkeypatch.setattr(Store, "_insert_many", boom)
    with pytest.raises(OSError):
        sqlite_store.ingest(filled(targets, UNIT, month="2024-03"), "3月", targets=targets, received_at=datetime(2024, 4, 1))
    assert list((sqlite_store.folder / "submissions").rglob("*.pending"))  # the crash left half-written files
    monkeypatch.undo()
    reopened = Store(sqlite_store.folder)  # recovery runs on open
    assert not list((sqlite_store.folder / "submissions").rglob("*.pending"))
    assert fingerprint(reopened) == before


def test_crash_after_commit_is_completed_on_open(targets, sqlite_store, monkeypatch):
    monkeypatch.setattr(Store, "_finish", staticmethod(lambda final: (_ for _ in ()).throw(OSError("power cut"))))
    with pytest.raises(OSError):
        sqlite_store.ingest(filled(targets, UNIT), "3月", targets=targets, received_at=datetime(2024, 4, 1))
    monkeypatch.undo()
    reopened = Store(sqlite_store.folder)
    assert len(reopened.submissions()) == 1
    assert not list((sqlite_store.folder / "submissions").rglob("*.pending"))
    assert len(list((sqlite_store.folder / "submissions").rglob("*.xlsx"))) == 1
    before = fingerprint(reopened)
    reopened.rebuild()
    assert fingerprint(reopened) == before


def test_rebuild_from_files_gives_the_same_state(targets, sqlite_store):
    sqlite_store.ingest(filled(targets, UNIT, month="2024-02", share=0.1), "a", targets=targets, received_at=datetime(2024, 3, 2))
    sqlite_store.ingest(filled(targets, UNIT, month="2024-03", share=0.2), "b", targets=targets, received_at=datetime(2024, 4, 9))
    replaced = sqlite_store.ingest(filled(targets, UNIT, month="2024-03", share=0.25), "c", targets=targets, received_at=datetime(2024, 4, 10))
    sqlite_store.ingest(filled(targets, "市医保局", month="2024-03", share=0.3), "d", targets=targets, received_at=datetime(2024, 4, 4))
    sqlite_store.restore(replaced.superseded)
    before = fingerprint(sqlite_store)
    (sqlite_store.folder / "store.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (sqlite_store.folder / f"store.sqlite{suffix}").unlink(missing_ok=True)
    fresh = Store(sqlite_store.folder)
    assert fresh.rebuild() == 4
    assert fingerprint(fresh) == before


def test_two_processes_ingesting_at_once_both_land(targets, store):
    units = ["市体育局", "市医保局", "市应急局", "市交警支队"]
    jobs_a = [f"{u}:2024-{m:02d}:{0.05 * m}" for u in units[:2] for m in range(1, 4)]
    jobs_b = [f"{u}:2024-{m:02d}:{0.05 * m}" for u in units[2:] for m in range(1, 4)]
    assert run_workers(store.folder, [jobs_a, jobs_b]) == [6, 6]
    subs = store.submissions()
    assert len(subs) == 12 and subs["sha256"].is_unique
    if store.db_path:  # SQLite: the file is sound too
        con = sqlite3.connect(store.db_path)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_batch_cli_reports_each_file_and_fails_on_rejection(targets, data_dir, backend, capsys):
    folder = data_dir.parent / "inbox"
    folder.mkdir()
    (folder / "good.xlsx").write_bytes(filled(targets, UNIT))
    (folder / "bad.xlsx").write_bytes(b"not a workbook")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("医保局.xlsx", filled(targets, "市医保局"))
    (folder / "more.zip").write_bytes(archive.getvalue())
    code = store_module.main(["ingest", str(folder)])
    out = capsys.readouterr().out
    assert code == 1
    assert "good.xlsx：已接收" in out and "bad.xlsx：未接收" in out and "医保局.xlsx：已接收" in out
    assert len(Store(data_dir).submissions()) == 2
    assert store_module.main(["ingest", str(folder / "good.xlsx")]) == 0  # duplicate: recognised, not an error


def test_rebuild_cli(targets, data_dir, backend, capsys):
    Store(data_dir).ingest(filled(targets, UNIT), "a", targets=targets, received_at=datetime(2024, 4, 1))
    assert store_module.main(["rebuild"]) == 0
    assert "1 份报送" in capsys.readouterr().out


def test_current_rows_frame_shape(targets, store):
    store.ingest(filled(targets, UNIT), "a", targets=targets, received_at=datetime(2024, 4, 1))
    rows = store.current_rows()
    assert list(rows.columns) == ["submission_id", "填报单位", "年度", "月份", "接收时间", "逾期", "指标编号", "县市区",
                                  "累计完成", "进展状态", "进展情况", "存在问题", "下步计划"]
    assert rows["累计完成"].dtype == "float64" and pd.api.types.is_bool_dtype(rows["逾期"])


def test_current_rows_of_one_year(targets, store):
    store.ingest(filled(targets, UNIT), "a", targets=targets, received_at=datetime(2024, 4, 1))
    assert len(store.current_rows(2024)) == len(store.current_rows()) > 0
    assert store.current_rows(2023).empty


def _batch(targets) -> list[tuple[str, bytes]]:
    """Two units × three months, one broken file and one file with an error, in upload order."""
    files = [(f"{u}-{m}.xlsx", filled(targets, u, month=f"2024-{m:02d}", share=0.1 * m))
             for m in (1, 2, 3) for u in (UNIT, "市医保局")]
    files.insert(2, ("坏.xlsx", b"PK\x03\x04 broken"))
    files.append(("错.xlsx", filled(targets, UNIT, month="2024-04", overrides={("P26-1", "任城区"): {"累计完成": "约3个"}})))
    return files


def test_ingest_many_on_two_processes_stores_what_one_by_one_ingest_stores(targets, data_dir, tmp_path):
    files = _batch(targets)
    received = datetime(2024, 5, 3)
    parallel = Store(data_dir)
    # A batch smaller than the files, and enough files for the process pool to start.
    outcomes = parallel.ingest_many(files * 6, targets=targets, received_at=received, batch=5, workers=2)
    assert [o.stored for o in outcomes[:len(files)]] == [True, True, False, True, True, True, True, False]
    assert all(o.duplicate_of for o in outcomes[len(files):] if o.result.accepted)
    one_by_one = Store(tmp_path / "serial")
    for i, (name, data) in enumerate(files):  # the batch receives file i at received + i µs (the order given)
        one_by_one.ingest(data, name, targets=targets, received_at=received + timedelta(microseconds=i))
    assert parallel.snapshot()["rows"].equals(one_by_one.snapshot()["rows"])
    mine = parallel.submissions().sort_values("sha256")[["unit", "month", "findings", "state"]].reset_index(drop=True)
    theirs = one_by_one.submissions().sort_values("sha256")[["unit", "month", "findings", "state"]].reset_index(drop=True)
    assert mine.equals(theirs)  # the same warnings too: history is applied in file order
    assert not list(parallel.submissions_dir.rglob("*.pending"))


def test_ingest_many_compares_each_file_with_the_files_before_it(targets, store):
    r = ("P26-1", "任城区")
    march = filled(targets, UNIT, month="2024-03", overrides={r: {"累计完成": 5}})
    april = filled(targets, UNIT, month="2024-04", overrides={r: {"累计完成": 3}})  # lower than March, unexplained
    outcomes = store.ingest_many([("3月.xlsx", march), ("4月.xlsx", april)], targets=targets,
                                 received_at=datetime(2024, 5, 3))
    assert all(o.stored for o in outcomes)
    lower = [f for f in outcomes[1].result.warnings if f.indicator == "P26-1" and f.county == "任城区"]
    assert any("低于 3 月已报的 5" in f.message for f in lower)
    assert not any("已报" in f.message for f in outcomes[0].result.warnings)


def test_current_rows_snapshot_follows_every_write_and_survives_damage(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-02"), "a", targets=targets, received_at=datetime(2024, 3, 1))
    first = store.current_rows(2024)
    snapshots = list((store.folder / store_module.CACHE_DIR).glob("rows-2024-*.arrow"))
    assert len(snapshots) == 1
    pd.testing.assert_frame_equal(store.current_rows(2024), first)  # read back from the snapshot, same dtypes
    store.ingest(filled(targets, UNIT, month="2024-03"), "b", targets=targets, received_at=datetime(2024, 4, 1))
    second = store.current_rows(2024)
    assert sorted(second["月份"].unique()) == [2, 3]
    assert list((store.folder / store_module.CACHE_DIR).glob("rows-2024-*.arrow")) != snapshots  # replaced, not added
    (only,) = (store.folder / store_module.CACHE_DIR).glob("rows-2024-*.arrow")
    only.write_bytes(b"torn write")
    pd.testing.assert_frame_equal(store.current_rows(2024), second)


def test_rebuilt_database_never_reads_an_older_snapshot(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-02"), "a", targets=targets, received_at=datetime(2024, 3, 1))
    store.current_rows(2024)
    (only,) = (store.folder / store_module.CACHE_DIR).glob("rows-2024-*.arrow")
    stale = store.current_rows(2024).assign(累计完成=-1.0)
    stale.to_feather(only)  # as if it held another state under the same version number
    store.rebuild()  # a new database: same version counter, new generation
    assert (store.current_rows(2024)["累计完成"].dropna() >= 0).all()


# --- issue 13: the latest correction always wins -------------------------------------------

def _value(store, county="任城区", month=3):
    rows = store.current_rows()
    return rows[rows["月份"] == month].set_index(["指标编号", "县市区"]).loc[("P26-1", county), "累计完成"]


def test_in_one_batch_the_last_version_given_is_current(targets, store):
    for month, flip in ((3, False), (4, True)):  # one month per order, in one store
        first = filled(targets, UNIT, month=f"2024-0{month}", share=0.2)
        correction = filled(targets, UNIT, month=f"2024-0{month}", share=0.4)
        order = [("a.xlsx", first), ("b.xlsx", correction)]
        order = order[::-1] if flip else order
        outcomes = store.ingest_many(order, targets=targets, received_at=datetime(2024, 5, 3))
        assert [o.stored for o in outcomes] == [True, True]
        assert store.current_version(UNIT, 2024, month)[1] == order[-1][0]
        assert outcomes[1].superseded == outcomes[0].submission_id
    store.rebuild()  # the files alone say the same
    assert store.current_version(UNIT, 2024, 3)[1] == "b.xlsx" and store.current_version(UNIT, 2024, 4)[1] == "a.xlsx"


def test_a_batch_of_corrections_and_resent_files_ends_as_one_file_after_another(targets, store):
    """A batch writes its new files together; a file already stored (or earlier in the batch) must still meet the
    state the files before it left: the same outcomes, current versions and audit trail as one call per file."""
    def sequence(month: int) -> list[tuple[str, bytes]]:
        v1, v2, v3 = (filled(targets, UNIT, month=f"2024-0{month}", share=s) for s in (0.2, 0.4, 0.6))
        other = filled(targets, "市医保局", month=f"2024-0{month}", share=0.3)
        return [("v1", v1), ("v2", v2), ("v1-again", v1), ("other", other), ("v3", v3), ("v3-again", v3),
                ("v2-again", v2)]

    def shape(outcomes) -> list[tuple]:
        made = {o.submission_id: i for i, o in enumerate(outcomes) if o.stored}  # id -> the file that made it
        return [(o.stored, o.restored, made.get(o.duplicate_of), made.get(o.superseded)) for o in outcomes]

    audit_before = len(store.audit_log())
    received = datetime(2024, 5, 3)
    batch = store.ingest_many(sequence(3), targets=targets, received_at=received)
    one_by_one = [store.ingest(data, name, targets=targets, received_at=received + timedelta(days=1, microseconds=i))
                  for i, (name, data) in enumerate(sequence(4))]
    assert shape(batch) == shape(one_by_one) == [
        (True, False, None, None), (True, False, None, 0), (False, True, 0, None), (True, False, None, None),
        (True, False, None, 0), (False, False, 4, None), (False, True, 1, None)]
    actions = list(store.audit_log()["操作"][::-1][audit_before:])
    assert actions[:7] == actions[7:] == ["上传接收", "上传接收", "恢复版本", "上传接收", "上传接收", "重复上传", "恢复版本"]
    for month in (3, 4):
        assert store.current_version(UNIT, 2024, month)[1] == "v2"
        subs = store.submissions()
        assert (subs[(subs["month"] == month)].groupby("unit")["state"].apply(lambda s: (s == STATE_CURRENT).sum()) == 1).all()
    assert _value(store, month=3) == _value(store, month=4)
    store.rebuild()  # the files alone say the same
    assert store.current_version(UNIT, 2024, 3)[1] == store.current_version(UNIT, 2024, 4)[1] == "v2"


def test_cli_ingest_of_a_folder_takes_the_newer_file_as_current_and_says_so(targets, data_dir, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # The correction is named so that it sorts first: the modification time decides, not the name.
    (inbox / "b-3月.xlsx").write_bytes(filled(targets, UNIT, share=0.2))
    (inbox / "a-3月更正.xlsx").write_bytes(filled(targets, UNIT, share=0.4))
    os.utime(inbox / "b-3月.xlsx", (1_700_000_000, 1_700_000_000))
    os.utime(inbox / "a-3月更正.xlsx", (1_700_000_600, 1_700_000_600))
    assert store_module.main(["ingest", str(inbox), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    store = Store(data_dir)
    assert store.current_version(UNIT, 2024, 3)[1] == "a-3月更正.xlsx"
    assert _value(store) == 4.0
    assert f"{UNIT} 2024-03：当前版本为第 {store.current_version(UNIT, 2024, 3)[0]} 号（a-3月更正.xlsx）" in out


def test_cli_help_states_the_order(capsys):
    with pytest.raises(SystemExit):
        store_module.main(["ingest", "--help"])
    assert "修改时间" in capsys.readouterr().out


def test_identical_reupload_of_a_replaced_version_restores_it_audited(targets, store):
    v1, v2 = filled(targets, UNIT, share=0.2), filled(targets, UNIT, share=0.4)
    first = store.ingest(v1, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 2))
    store.ingest(v2, "b.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    again = store.ingest(v1, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 4))
    assert again.restored and again.duplicate_of == first.submission_id and not again.stored
    assert "已恢复" in again.summary()
    assert _value(store) == 2.0 and len(store.submissions()) == 2
    assert store.audit_log()["操作"].iloc[0] == "恢复版本"
    same = store.ingest(v1, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 5))
    assert not same.restored and same.duplicate_of == first.submission_id and "未重复存档" in same.summary()
    assert _value(store) == 2.0
    before = store.snapshot()["rows"]
    store.rebuild()
    assert store.snapshot()["rows"].equals(before)  # the restore is on disk too


def test_a_restored_version_is_activated_at_the_restore_and_never_before_the_version_it_replaces(targets, store):
    """A restored version's 生效时间 is the moment of the restore, or just after the current version's when that is
    later (a re-sent file stamped with an older received time, equal times): so it is the latest activated of its
    unit-month, and a rebuild from the files alone keeps it current. The audit says why it was restored."""
    a, b = filled(targets, UNIT, share=0.2), filled(targets, UNIT, share=0.4)
    first = store.ingest(a, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 2))
    second = store.ingest(b, "b.xlsx", targets=targets, received_at=datetime(2024, 4, 10))
    activated = lambda: store.submissions().set_index("id")["activated_at"]  # noqa: E731
    just_after = lambda iso: (datetime.fromisoformat(iso) + timedelta(microseconds=1)).isoformat()  # noqa: E731

    assert store.ingest(a, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 5)).restored  # stamped earlier
    assert activated()[first.submission_id] == just_after(activated()[second.submission_id])
    assert store.current_version(UNIT, 2024, 3) == (first.submission_id, "a.xlsx")
    assert "重新上传了相同的文件 a.xlsx" in store.audit_log()["详情"].iloc[0]

    equal = datetime.fromisoformat(activated()[first.submission_id])  # stamped exactly at the current activation
    assert store.ingest(b, "b.xlsx", targets=targets, received_at=equal).restored
    assert activated()[second.submission_id] == just_after(activated()[first.submission_id])
    assert store.current_version(UNIT, 2024, 3) == (second.submission_id, "b.xlsx")

    assert store.ingest(a, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 20)).restored  # later: as stamped
    assert activated()[first.submission_id] == datetime(2024, 4, 20).isoformat()
    store.restore(second.submission_id, who="李四")  # by hand: now, no reason given
    assert store.audit_log()["详情"].iloc[0].endswith("恢复为当前版本")
    assert store.current_version(UNIT, 2024, 3) == (second.submission_id, "b.xlsx")
    before = fingerprint(store)
    store.rebuild()
    assert fingerprint(store) == before and store.current_version(UNIT, 2024, 3)[1] == "b.xlsx"  # (ids renumbered)


def test_restore_and_history_on_the_command_line(targets, data_dir, backend, capsys):
    store = Store(data_dir)
    first = store.ingest(filled(targets, UNIT, share=0.2), "a.xlsx", targets=targets, received_at=datetime(2024, 4, 2))
    store.ingest(filled(targets, UNIT, share=0.4), "b.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    store.ingest(filled(targets, UNIT, month="2024-02"), "c.xlsx", targets=targets, received_at=datetime(2024, 3, 3))
    capsys.readouterr()
    assert store_module.main(["restore", str(first.submission_id)]) == 0
    assert _value(Store(data_dir)) == 2.0
    assert store_module.main(["restore", "999"]) == 1
    capsys.readouterr()
    assert store_module.main(["history", "--unit", UNIT, "--month", "2024-03"]) == 0
    out = capsys.readouterr().out
    frame = pd.read_csv(io.StringIO(out.lstrip("\ufeff")))
    assert list(frame["原文件名"]) == ["a.xlsx", "b.xlsx"] and list(frame["状态"]) == [STATE_CURRENT, STATE_REPLACED]
    with pytest.raises(SystemExit):
        store_module.main(["history", "--month", "2024-3x"])


def _targets_of_year(year: int, deadline_day: int | None = None) -> bytes:
    from openpyxl import load_workbook

    from lib.config import BUNDLED_TARGETS
    wb = load_workbook(BUNDLED_TARGETS)
    for row in wb["设置"].iter_rows():
        if row[0].value == "年度":
            row[1].value = year
        if row[0].value == "报送截止日" and deadline_day:
            row[1].value = deadline_day
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_target_table_of_another_year_is_added_beside_the_stored_year(targets, store):
    store.ingest(filled(targets, UNIT), "a.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    before = store.version()
    assert store.replace_targets(_targets_of_year(2025), who="管理员") == []
    assert store.target_years() == [2024, 2025]
    assert store.targets().year == 2025 and store.targets(2024).year == 2024  # None: the latest year
    assert store.target_table(2024)[1] == store_module.config.BUNDLED_TARGETS.read_bytes()
    assert store.version() != before
    assert "新增目标表" in set(store.audit_log()["操作"])
    assert len(store.current_rows(2024)) > 0  # the stored year's reports are untouched


def test_replacing_a_year_stores_a_new_version_and_keeps_the_old(targets, store):
    changed = _targets_of_year(2024, deadline_day=8)
    before = store.version()
    assert store.replace_targets(changed, who="管理员") == []
    assert store.target_table(2024) == (2, changed)
    assert store.targets(2024).deadline_day == 8
    history = store.target_history(2024)
    assert list(history["version"]) == [1, 2] and list(history["current"]) == [False, True]
    assert list(history["stored_by"]) == ["系统", "管理员"]
    assert history["sha256"][1] == hashlib.sha256(changed).hexdigest()
    after = store.version()
    assert after != before
    assert store.replace_targets(changed, who="管理员") == []  # the same table again: no new version
    assert len(store.target_history(2024)) == 2 and store.version() == after
    assert Store(store.folder).version() == after  # another process sees the same counter


def test_a_refused_target_table_changes_nothing_and_is_audited(store):
    before = store.version()
    problems = store.replace_targets(b"not a workbook", who="管理员")
    assert problems and store.target_years() == [2024] and store.version() == before
    assert store.audit_log()["操作"].iloc[0] == "目标表被拒"


def test_folder_of_the_old_layout_imports_its_target_table_and_history(tmp_path):
    folder = tmp_path / "old"
    (folder / "targets-history").mkdir(parents=True)
    older = _targets_of_year(2024, deadline_day=9)
    (folder / "targets-history" / "20240101T000000-abc.xlsx").write_bytes(older)
    (folder / "targets.xlsx").write_bytes(store_module.config.BUNDLED_TARGETS.read_bytes())
    s = Store(folder)
    assert s.target_table(2024) == (2, store_module.config.BUNDLED_TARGETS.read_bytes())
    assert list(s.target_history(2024)["sha256"]) == [hashlib.sha256(older).hexdigest(),
                                                      hashlib.sha256(store_module.config.BUNDLED_TARGETS.read_bytes()).hexdigest()]
    (folder / "targets.xlsx").write_bytes(_targets_of_year(2026))  # never read again after the import
    assert Store(folder).target_years() == [2024]


def test_rebuild_that_cannot_index_every_file_fails_and_keeps_the_database(targets, data_dir, capsys):
    store = Store(data_dir)
    store.ingest(filled(targets, UNIT), "a.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    (stored,) = (data_dir / "submissions").rglob("*.xlsx")
    before = fingerprint(store)
    original = stored.read_bytes()
    stored.write_bytes(b"damaged")  # a raw file damaged behind the store's back
    with pytest.raises(store_module.RebuildError, match="a.xlsx"):
        store.rebuild()
    assert store_module.main(["rebuild"]) == 1
    assert "重建失败" in capsys.readouterr().err
    stored.write_bytes(original)
    assert fingerprint(store) == before


def test_newer_received_file_stays_current_when_an_older_one_is_ingested_after_it(targets, store):
    """Which version is current follows the time each file was received, not the order the store took them in:
    a file received on 4 April ingested after one received on 5 April (a late batch, a slow upload) is kept but
    replaced, and rebuilding from the files alone gives the same state."""
    newer = store.ingest(filled(targets, UNIT, share=0.4), "newer.xlsx", targets=targets, received_at=datetime(2024, 4, 5))
    older = store.ingest(filled(targets, UNIT, share=0.2), "older.xlsx", targets=targets, received_at=datetime(2024, 4, 4))
    assert older.stored and older.superseded is None
    states = store.submissions().set_index("id")["state"]
    assert states[newer.submission_id] == STATE_CURRENT and states[older.submission_id] == STATE_REPLACED
    assert store.current_version(UNIT, 2024, 3) == (newer.submission_id, "newer.xlsx")
    value = lambda: store.current_rows().set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "累计完成"]  # noqa: E731
    assert value() == 4.0
    before = fingerprint(store)
    assert store.rebuild() == 2
    assert fingerprint(store) == before
    assert store.current_version(UNIT, 2024, 3)[1] == "newer.xlsx" and value() == 4.0

# --- issue 18: the split store, migrations, PostgreSQL ----------------------------------------------------

def test_rebuild_from_the_archive_gives_the_same_state(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-02", share=0.1), "a", targets=targets, received_at=datetime(2024, 3, 2))
    replaced = store.ingest(filled(targets, UNIT, month="2024-03", share=0.25), "c", targets=targets,
                            received_at=datetime(2024, 4, 10))
    store.ingest(filled(targets, UNIT, month="2024-03", share=0.3), "d", targets=targets, received_at=datetime(2024, 4, 11))
    store.restore(replaced.submission_id)
    before, version = store.snapshot(), store.version()
    assert store.rebuild() == 3
    after = store.snapshot()
    pd.testing.assert_frame_equal(after["submissions"], before["submissions"])
    pd.testing.assert_frame_equal(after["rows"], before["rows"])
    assert _value(store) == 2.5 and store.version() != version  # the restored version is still current


def test_postgres_keeps_the_raw_files_in_the_database(targets, store, backend):
    if backend != "postgres":
        pytest.skip("the PostgreSQL archive")
    data = filled(targets, UNIT)
    outcome = store.ingest(data, "a.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    assert [p.name for p in store.folder.rglob("*.xlsx")] == ["targets.xlsx"]  # the fixture's; no upload on disk
    rel = store.submissions()["path"][0]
    assert store.raw_file(rel) == data
    with store.read() as con:
        sha, sidecar = con.execute("SELECT sha256, sidecar FROM files").fetchone()
    assert sha == hashlib.sha256(data).hexdigest() and json.loads(sidecar)["file_name"] == "a.xlsx"
    assert outcome.stored


def test_a_write_on_one_server_changes_the_version_every_server_polls(targets, data_dir, backend, tmp_path):
    here = Store(data_dir)
    # Another server: on PostgreSQL its own data folder and the same database; on SQLite another process's Store.
    there = Store(tmp_path / "server-2" if backend == "postgres" else data_dir)
    seen = there.version()
    assert there.current_rows(2024).empty
    here.ingest(filled(targets, UNIT), "a.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    assert there.version() != seen and len(there.current_rows(2024)) == len(targets.expected_rows(UNIT))
    seen = there.version()
    assert here.replace_targets(_targets_of_year(2025), who="管理员") == []
    assert there.version() != seen and there.target_years() == [2024, 2025]


# Processes for the "two servers" test: forked from a fork server started at the first use in this test process
# with this module imported (the fork server holds no store connection: each process opens its own).
SERVER_PROCESSES = multiprocessing.get_context("forkserver")
SERVER_PROCESSES.set_forkserver_preload([__name__])


def _upload_when_released(env: dict, folder: str, uploads: list[tuple[str, bytes]], releases, done) -> None:
    """One server's uploads, one a round, each started at the same moment as the other server's (a process of its
    own, with the test's environment ``env``): waits for the round's release, ingests, says so on ``done``."""
    os.environ.clear()
    os.environ.update(env)
    store = Store(folder)
    targets = store.targets(2024)
    for (received, data), release in zip(uploads, releases):
        release.wait()
        store.ingest(data, f"{received}.xlsx", uploader="server", targets=targets,
                     received_at=datetime.fromisoformat(received))
        done.put(received)


def test_two_servers_uploading_one_unit_month_at_once_keep_the_later_received(targets, data_dir, backend, tmp_path):
    """Two rounds (the later received file uploaded a moment after, then a moment before, the other); the same two
    server processes serve both rounds (a process start costs more than the uploads). They are forked from a
    multiprocessing fork server that imported this module once per test process (``SERVER_PROCESSES``), not
    spawned: a fresh interpreter importing the store, pandas and this module costs ~2.5 CPU s a process."""
    spawn = SERVER_PROCESSES
    rounds = [("2024-04-03T09:00:00", "2024-04-03T09:00:01"), ("2024-04-04T09:00:01", "2024-04-04T09:00:00")]
    uploads = [[(earlier, filled(targets, UNIT, month=f"2024-0{i + 2}", share=0.2)),
                (later, filled(targets, UNIT, month=f"2024-0{i + 2}", share=0.4))] for i, (earlier, later) in enumerate(rounds)]
    releases, done = [spawn.Event() for _ in rounds], spawn.Queue()
    folders = [str(data_dir), str(tmp_path / "server-2") if backend == "postgres" else str(data_dir)]
    procs = [spawn.Process(target=_upload_when_released,
                           args=(dict(os.environ), folder, [pair[server] for pair in uploads], releases, done))
             for server, folder in enumerate(folders)]
    for proc in procs:
        proc.start()
    for round_, (earlier, later) in enumerate(rounds):
        releases[round_].set()
        assert {done.get(timeout=300), done.get(timeout=300)} == {earlier, later}
        subs = Store(data_dir).submissions()
        subs = subs[subs["month"] == round_ + 2]
        current = subs[subs["state"] == STATE_CURRENT]
        assert len(subs) == 2 and len(current) == 1
        assert current["received_at"].iloc[0] == max(earlier, later)
        assert _value(Store(data_dir), month=round_ + 2) == (4.0 if later > earlier else 2.0)
    for proc in procs:
        proc.join(300)
        assert proc.exitcode == 0


def test_store_of_the_layout_before_migrations_upgrades_in_place(targets, tmp_path):
    """A data folder as the code before migrations (commit 5750a41) left it: the schema of migration 0001 without
    ``schema_migrations`` or ``target_tables``, and the target table as ``targets.xlsx`` in the folder. (The same
    upgrade was run on a folder written by that commit's own lib/store.py: index, restore state and publications
    came through, and ``lib.publish.verify`` passed.)"""
    folder = tmp_path / "old"
    old = Store(folder, url="")
    old.ingest(filled(targets, UNIT, share=0.2), "a.xlsx", targets=targets, received_at=datetime(2024, 4, 2))
    old.ingest(filled(targets, UNIT, share=0.4), "b.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    before = old.snapshot()
    table = _targets_of_year(2024, deadline_day=9)
    con = sqlite3.connect(old.db_path)
    con.executescript("DROP TABLE schema_migrations; DROP TABLE target_tables;")
    con.close()
    (folder / "targets.xlsx").write_bytes(table)
    upgraded = Store(folder, url="")
    con = sqlite3.connect(upgraded.db_path)
    assert [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version")] == [1, 2]
    con.close()
    assert upgraded.target_table(2024) == (1, table) and upgraded.targets().deadline_day == 9
    after = upgraded.snapshot()
    pd.testing.assert_frame_equal(after["submissions"], before["submissions"])
    pd.testing.assert_frame_equal(after["rows"], before["rows"])
    assert upgraded.rebuild() == 2


def test_migrations_are_numbered_and_complete_for_both_backends():
    from lib.store import migrate

    for kind in ("sqlite", "postgres"):
        numbers = [n for n, _ in migrate.steps(kind)]
        assert numbers == list(range(1, len(numbers) + 1)), kind
    tables = {kind: set() for kind in ("sqlite", "postgres")}
    for kind in tables:
        for _, name in migrate.steps(kind):
            text = (migrate.MIGRATIONS / kind / name).read_text(encoding="utf-8")
            tables[kind] |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", text))
    assert tables["postgres"] - tables["sqlite"] == {"files"}  # SQLite keeps the raw files on disk
    assert tables["sqlite"] <= tables["postgres"]


def test_an_unreachable_database_refuses_with_a_message_for_the_administrator(tmp_path, caplog):
    pytest.importorskip("psycopg")
    with pytest.raises(store_module.DatabaseUnavailable, match="LIVELIHOOD_DATABASE_URL") as refused:
        Store(tmp_path / "x", url="postgresql://office:secret@127.0.0.1:1/livelihood")
    assert "secret" not in str(refused.value) and "127.0.0.1" in str(refused.value)
    assert any("cannot open the PostgreSQL store" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="postgresql://"):
        Store(tmp_path / "y", url="mysql://office@localhost/livelihood")
