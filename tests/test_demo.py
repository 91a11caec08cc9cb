"""Demo data: built only where asked, in its own process, resumable, never mixed with real reports."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from lib import config, demo
from lib import schema as S
from lib.store import DEMO_UPLOADER, Store
from tests.factory import filled

ROOT = Path(__file__).resolve().parent.parent
UNIT = "市体育局"


def test_the_demo_is_built_only_where_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVELIHOOD_DEMO", raising=False)
    assert config.demo_requested(config.BUNDLED_DATA)
    assert not config.demo_requested(tmp_path)  # a configured (production) folder: never by itself
    monkeypatch.setenv("LIVELIHOOD_DEMO", "1")
    assert config.demo_requested(tmp_path)
    (tmp_path / "demo.off").write_text("cleared")
    assert not config.demo_requested(tmp_path)  # an administrator cleared it here
    monkeypatch.setenv("LIVELIHOOD_DEMO", "0")
    assert not config.demo_requested(config.BUNDLED_DATA)


def test_the_app_on_an_empty_configured_folder_builds_no_demo(data_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import ui
    monkeypatch.delenv("LIVELIHOOD_DEMO", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert not any("示例数据" in w.body for w in at.warning)
    for page, *_ in ui.PAGES:  # every page copes with a store that has no report yet
        at.switch_page(page).run()
        assert not at.exception, page
    assert Store(data_dir).is_empty() and not (data_dir / "demo").exists() and not demo.is_building(data_dir)


def test_an_admin_clears_the_demo_on_the_admin_page(demo_dir, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    folder = tmp_path / "data"
    shutil.copytree(demo_dir, folder)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/upload.py").run()
    assert any("清除示例数据" in e.value for e in at.error)  # the upload page says why it will not take real reports
    at.switch_page("pages/admin.py").run()
    assert at.button(key="admin_demo_clear").disabled
    at.checkbox(key="admin_demo_confirm").check().run()
    at.button(key="admin_demo_clear").click().run()
    assert not at.exception
    store = Store(folder)
    assert store.is_empty() and not store.is_demo() and store.audit_log()["操作"].iloc[0] == "清除示例数据"


def test_a_store_holding_demo_refuses_real_uploads_until_an_admin_clears_it(demo_dir, tmp_path, targets):
    folder = tmp_path / "data"
    shutil.copytree(demo_dir, folder)
    store = Store(folder)
    n_demo = len(store.submissions())
    real = filled(targets, UNIT, month="2024-06", share=0.5, problems="无", plan="按计划")
    refused = store.ingest(real, "体育局6月.xlsx", uploader="李科员", targets=targets, received_at=datetime(2024, 7, 3))
    assert not refused.stored and [f.code for f in refused.result.errors] == ["store.demo_present"]
    assert len(store.submissions()) == n_demo
    assert demo.clear_demo(store, who="赵主任") == n_demo
    assert store.is_empty() and not store.is_demo() and store.current_rows().empty
    assert not (folder / "demo").exists() and not list((folder / "submissions").rglob("*.xlsx"))
    log = store.audit_log()
    assert log["操作"].iloc[0] == "清除示例数据" and log["操作人"].iloc[0] == "赵主任"
    assert not config.demo_requested(folder)  # never rebuilt here by the app
    accepted = store.ingest(real, "体育局6月.xlsx", uploader="李科员", targets=targets, received_at=datetime(2024, 7, 3))
    assert accepted.stored


def _expected_periods(folder: Path, months: int) -> set:
    targets = Store(folder).targets()
    plan = demo.DemoPlan(targets)
    return {(u, m) for m in range(1, months + 1) for u in targets.reporting_units if (u, m) not in plan.missing}


def _builder(folder: Path, months: int) -> subprocess.Popen:
    env = {**os.environ, "LIVELIHOOD_DATA_DIR": str(folder)}
    return subprocess.Popen([sys.executable, "-m", "lib.demo", "--ensure", "--months", str(months)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_an_interrupted_first_build_is_finished_by_the_next_visit(tmp_path):
    folder = tmp_path / "data"
    Store(folder)
    first = _builder(folder, months=2)
    deadline = time.monotonic() + 600
    while len(Store(folder).demo_periods()) < 3:  # part-way through
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    assert demo.is_building(folder)
    with pytest.raises(demo.DemoBusy):
        demo.ensure_demo(folder, months=2)  # a second visitor never builds it at the same time
    first.send_signal(signal.SIGKILL)  # the build dies mid-way (the server restarted, the machine went down)
    first.wait(timeout=60)
    assert not demo.is_complete(folder) and not demo.is_building(folder)
    partial = len(Store(folder).demo_periods())
    assert 3 <= partial < len(_expected_periods(folder, 2))
    assert demo.ensure_demo(folder, months=2)  # the next visit
    store = Store(folder)
    assert demo.is_complete(folder)
    assert store.demo_periods() == _expected_periods(folder, 2)
    subs = store.submissions()
    assert len(subs) == len(_expected_periods(folder, 2))  # each unit and month once: resumed, not rebuilt
    assert (subs["uploader"] == DEMO_UPLOADER).all() and (subs["state"] == "当前").all()
    assert not demo.ensure_demo(folder, months=2)  # complete: nothing more to do


def test_two_first_visitors_start_one_build(tmp_path):
    folder = tmp_path / "data"
    Store(folder)
    builders = [_builder(folder, months=1), _builder(folder, months=1)]
    outputs = [b.communicate(timeout=600)[0] for b in builders]
    assert all(b.returncode == 0 for b in builders)
    assert sum("正在另一个进程中生成" in out for out in outputs) == 1, outputs
    assert demo.is_complete(folder) and len(Store(folder).submissions()) == len(_expected_periods(folder, 1))


def test_demo_counts_of_things_are_whole_numbers(targets):
    plan = demo.DemoPlan(targets)
    rows = targets.indicators.set_index("指标编号")
    checked = 0
    for unit in targets.reporting_units:
        previous: dict = {}
        for month in range(1, 13):
            for (code, _county), entry in demo.month_entries(targets, plan, unit, month, previous).items():
                kind, measure = rows.at[code, "指标类型"], rows.at[code, "计量单位"]
                if "累计完成" in entry and demo.is_whole(kind, measure):
                    assert float(entry["累计完成"]).is_integer(), (unit, month, code, entry["累计完成"], measure)
                    checked += 1
    assert checked > 1000
    assert demo.is_whole(S.TYPE_COUNT, "户") and not demo.is_whole(S.TYPE_COUNT, "公里")


def test_demo_narratives_write_numbers_as_a_person_would(targets):
    """'累计完成1470860人', never '1.47086e+06人' or '12.0户'."""
    plan = demo.DemoPlan(targets)
    texts = []
    for unit in targets.reporting_units:
        previous: dict = {}
        for month in range(1, 13):
            for entry in demo.month_entries(targets, plan, unit, month, previous).values():
                texts += [entry.get("进展情况", ""), entry.get("存在问题", "")]
    assert any(re.search(r"\d{7,}", t) for t in texts)  # the demo has millions, written out
    raw = [t for t in texts if re.search(r"\de[+-]?\d|\d\.0(?!\d)", t)]
    assert not raw, raw[:5]
