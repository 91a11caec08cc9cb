"""Fuzzing the validator, killing ingestion mid-write, and several processes ingesting at once."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.store import Store
from lib.store.core import DB_NAME
from lib.submission import validate
from tests.corpus.make_corpus import _sheet_xml, _with_sheet
from tests.factory import filled, xml_text
from tests.worker import CRASH_STEPS, run_workers, start_workers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
TODAY = date(2024, 12, 31)
GENERIC = "读取工作簿时出错"  # validate()'s last-resort message: seeing it means a bug in our code


@pytest.fixture(scope="module")
def bases(targets):
    return [filled(targets, unit, month="2024-05", share=0.4) for unit in ("市体育局", "市医保局", "市能源局")]


@pytest.fixture(scope="module")
def clean(bases, targets):
    """What ``validate`` makes of each undamaged base (once, not once per accepted example)."""
    return [validate(base, "base.xlsx", targets, None, today=TODAY) for base in bases]


def mutate_cell(data: bytes, draw) -> bytes:
    sheet = _sheet_xml(data)
    values = [m for m in __import__("re").finditer(rb"<(v|t)>([^<]*)</\1>", sheet)]
    if not values:
        return data
    m = values[draw(st.integers(0, len(values) - 1))]
    new = draw(st.one_of(st.text(max_size=30), st.integers(-10**9, 10**9).map(str),
                         st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["", "TRUE", "#N/A", "1e999"])))
    escaped = new.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = "".join(ch for ch in escaped if ch in "\t\n\r" or ord(ch) >= 32)
    return _with_sheet(data, sheet[: m.start(2)] + escaped.encode("utf-8", "ignore") + sheet[m.end(2):])


def mutate_rows(data: bytes, draw) -> bytes:
    sheet = _sheet_xml(data)
    import re
    rows = list(re.finditer(rb"<row\b.*?</row>", sheet, re.S))
    if not rows:
        return data
    m = rows[draw(st.integers(0, len(rows) - 1))]
    if draw(st.booleans()):
        return _with_sheet(data, sheet[: m.start()] + sheet[m.end():])  # delete a row
    return _with_sheet(data, sheet[: m.end()] + m.group(0) + sheet[m.end():])  # duplicate it


def mutate_bytes(data: bytes, draw) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(out) - 1))
        out[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def mutate_xml(data: bytes, draw) -> bytes:
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as zf:
        names = [n for n in zf.namelist() if n.endswith((".xml", ".rels"))]
        name = names[draw(st.integers(0, len(names) - 1))]
        body = zf.read(name)
    cut = draw(st.integers(0, len(body)))
    junk = draw(st.sampled_from([b"", b"<", b"</x>", b"&", b"<c r=\"ZZ99999\"/>", b"\xff\xfe", b"<![CDATA["]))
    from tests.factory import rezip
    return rezip(data, replace={name: body[:cut] + junk + body[cut:]})


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_validation_never_raises_on_mutated_templates(bases, clean, targets, data):
    which = data.draw(st.integers(0, len(bases) - 1))
    base = bases[which]
    mutation = data.draw(st.sampled_from([mutate_cell, mutate_rows, mutate_bytes, mutate_xml]))
    mutated = mutation(base, data.draw)
    result = validate(mutated, "fuzz.xlsx", targets, None, today=TODAY)
    assert result.accepted == (not result.errors and result.rows is not None)
    assert not any(GENERIC in f.message for f in result.findings), [str(f) for f in result.findings]
    if result.accepted:
        # Read as meant, or refused: a damaged file that is accepted gives exactly the rows the undamaged one gives
        # (a deleted or doubled row is never let through) and only finite, non-negative figures.
        undamaged = clean[which]
        assert undamaged.accepted
        assert len(result.rows) == len(undamaged.rows) and result.unit == undamaged.unit
        assert sorted(map(tuple, result.rows[["指标编号", "县市区"]].to_numpy())) == sorted(
            map(tuple, undamaged.rows[["指标编号", "县市区"]].to_numpy()))
        figures = pd.to_numeric(result.rows["累计完成"], errors="coerce").dropna()
        assert np.isfinite(figures).all() and (figures >= 0).all()
    for finding in result.findings:
        assert finding.message and finding.level in ("错误", "提醒")


# --- crashes and concurrency ------------------------------------------------------------

def variants(targets, count: int, tag: str) -> list[bytes]:
    """``count`` distinct valid workbooks (same content, a unique narrative each), cheap to make."""
    units = ["市体育局", "市医保局", "市应急局", "市交警支队", "市城市管理局"]
    bases = [filled(targets, u, month=f"2024-{m:02d}", share=0.05 * m) for u in units for m in (1, 2)]
    out = []
    for i in range(count):
        base = bases[i % len(bases)]
        sheet = _sheet_xml(base)
        out.append(_with_sheet(base, sheet.replace(xml_text(sheet, "按计划推进"), f"按计划推进{tag}-{i}".encode(), 1)))
    assert len(set(out)) == count  # distinct files, or the store would rightly keep only one of each
    return out


def write_inbox(folder: Path, files: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(files):
        (folder / f"{i:03d}.xlsx").write_bytes(data)
    return folder


def check_consistent(folder: Path) -> dict:
    """Every submission fully present or absent; files and database agree; rebuild gives the same state."""
    store = Store(folder)  # runs recovery
    subs = store.submissions()
    assert not list((folder / "submissions").rglob("*.pending"))
    on_disk = {str(p.relative_to(folder)) for p in (folder / "submissions").rglob("*.xlsx")}
    assert set(subs["path"]) == on_disk
    for rel in subs["path"]:
        assert (folder / rel).with_suffix(".json").exists()
    con = sqlite3.connect(store.db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM rows WHERE submission_id NOT IN (SELECT id FROM submissions)").fetchone()[0] == 0
    con.close()
    before = store.snapshot()
    copy = folder.parent / (folder.name + "-rebuilt")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    rebuilt = Store(copy)
    rebuilt.rebuild()
    after = rebuilt.snapshot()
    assert before["submissions"].drop(columns=["path"]).equals(after["submissions"].drop(columns=["path"]))
    assert before["rows"].equals(after["rows"])
    return {"submissions": len(subs)}


def before_recovery(folder: Path) -> tuple[list[str], set[str]]:
    """What a crash left, read without opening a Store (which would recover): the pending files, the committed paths."""
    pending = sorted(str(p.relative_to(folder)) for p in (folder / "submissions").rglob("*.pending"))
    con = sqlite3.connect(folder / DB_NAME)
    try:
        committed = {row[0] for row in con.execute("SELECT path FROM submissions")}
    finally:
        con.close()
    return pending, committed


def assert_crash_window(step: str, nth: int, pending: list[str], before: set[str], committed: set[str],
                        folder: Path) -> None:
    """The kill really happened inside ``step``'s window of the protocol (pending → fsync → COMMIT → rename) for
    the ``nth`` new file of the run, the ones before it fully stored."""
    assert committed >= before, f"{step}: committed submissions lost"
    new = committed - before
    killed_committed = step in ("committed", "xlsx_renamed", "renamed")
    assert len(new) == nth - 1 + killed_committed, (step, nth, new)
    pending_bases = {p.split(".")[0] for p in pending}
    killed = [rel for rel in new if rel.split(".")[0] in pending_bases]
    for rel in new - set(killed):
        assert (folder / rel).exists() and (folder / rel).with_suffix(".json").exists(), (step, rel)
    if step in ("before_write", "renamed"):
        assert not pending, (step, pending)
    elif step in ("written", "durable"):
        assert len(pending) == 2 and len(pending_bases) == 1 and not killed, (step, pending, killed)
    else:
        assert len(killed) == 1, (step, pending, new)
        json_pending = killed[0].replace(".xlsx", ".json.pending")
        expected = [killed[0] + ".pending", json_pending] if step == "committed" else [json_pending]
        assert pending == sorted(expected), (step, pending)
        assert (folder / killed[0]).exists() == (step == "xlsx_renamed"), step


def test_sigkill_during_ingestion_leaves_a_consistent_store(targets, data_dir, tmp_path):
    """SIGKILL the ingesting process at every step of the file protocol (tests.worker.CRASH_STEPS), each twice, at
    the 1st to 3rd new file of a run; check the window really was hit, then that recovery leaves exactly the
    committed files, consistent with the database and a rebuild; at last a run without a kill stores the rest."""
    inbox = write_inbox(tmp_path / "inbox", variants(targets, 40, "kill"))
    rng = random.Random(20241128)
    plan = [(step, rng.randint(1, 3)) for step in CRASH_STEPS * 2]
    rng.shuffle(plan)
    hit: dict[str, list[int]] = {}
    Store(data_dir)  # created before the first worker: before_recovery reads it
    for step, nth in plan:
        _, before = before_recovery(data_dir)
        [(code, out)] = start_workers([[str(data_dir), "--crash", f"{step}:{nth}", "--dir", str(inbox)]], timeout=600)
        last = out.strip().splitlines()[-1]
        assert code == -signal.SIGKILL and last == f"crash {step} {nth}", (
            f"the kill at {step} of new file {nth} never happened (exit {code}, last line {last!r})")
        pending, committed = before_recovery(data_dir)
        where = f"after a kill at {step} of new file {nth} (steps hit before: {hit})"
        try:
            assert_crash_window(step, nth, pending, before, committed, data_dir)
            hit.setdefault(step, []).append(nth)
            assert check_consistent(data_dir)["submissions"] == len(committed)
            assert set(Store(data_dir).submissions()["path"]) == committed, "recovery changed what is committed"
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from exc
    print("kills per protocol step (new file of the run):", hit)
    assert set(hit) == set(CRASH_STEPS), f"steps never hit: {set(CRASH_STEPS) - set(hit)}"
    out = subprocess.run([sys.executable, "-m", "tests.worker", str(data_dir), "--dir", str(inbox)], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=600).stdout
    assert check_consistent(data_dir)["submissions"] == 40, f"re-ingesting after the kills {hit} did not finish"
    assert int(out.strip().splitlines()[-1].split()[-1]) >= 1


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_ingesting_fifty_files_each(targets, data_dir, tmp_path, processes):
    inboxes = [write_inbox(tmp_path / f"inbox{p}", variants(targets, 50, f"p{p}")) for p in range(processes)]
    assert run_workers(data_dir, [["--dir", str(inbox)] for inbox in inboxes]) == [50] * processes
    subs = Store(data_dir).submissions()
    assert len(subs) == 50 * processes and subs["sha256"].is_unique
    check_consistent(data_dir)
