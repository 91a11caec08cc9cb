"""The benchmark scripts keep working (tiny sizes, one timed run of each step: every code path runs once; the
figures themselves are read by people, not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_ingest_benchmark_runs():
    out = run("bench/ingest.py", "--files", "12", "--no-libreoffice", "--repeat", "1")
    for label in ("floor: unzip sheet XML", "ours: parse + validate + store", "baseline: pandas.read_excel(openpyxl)",
                  "ours / floor", "baseline / ours"):
        assert label in out


def test_dashboard_benchmark_runs():
    out = run("bench/dashboard.py", "--years", "1", "--scale", "1", "--live-reruns", "1", "--warm-runs", "1")
    for page in ("overview", "category", "unit", "county", "project", "upload", "export"):
        assert f"\n{page}" in out
    assert "peak RSS" in out and "CSV" in out
    assert "live warm ms" in out and "live server peak RSS" in out


def test_load_benchmark_measures_real_reruns():
    """Two sessions against a live server: every timed rerun ended in a script_finished message, none failed."""
    out = run("bench/load.py", "--sessions", "2", "--warm", "1", "--pages", "overview", "county", "--soak", "8",
              "--fresh", "2", "--step-timeout", "120", "--deadline", "500")
    counts = {label: tuple(int(x) for x in m) for label, *m in re.findall(
        r"  (\S+): (\d+) reruns timed, (\d+) script_finished messages .*filter applied in (\d+) filter steps, "
        r"errors: (\d+)", out)}
    assert counts["cold"][:2] == (4, 4)             # two pages, opened and rerun once
    assert counts["warm"][:2] == (4, 4)
    reruns, finished, filtered, errors = counts["N=2"]
    assert (reruns, filtered, errors) == (8, 2, 0)  # 2 sessions × 4 steps; the filter reached the URL both times
    assert finished >= reruns
    assert counts["fresh"][0] == 8 and counts["fresh"][3] == 0  # 2 new sessions × 4 steps, one after another
    assert re.search(r"\nproject +\d+ +\d+ +\d+\n", out)  # the fresh phase's server CPU per step
    assert counts["soak"][0] == 8 and counts["soak"][3] == 0
    assert "errors in all phases: 0" in out
    assert re.search(r"server peak RSS \(VmHWM\) \d+ MB", out)


def test_report_benchmark_runs():
    out = run("bench/report.py", "--month", "2", "--runs", "0")
    for label in ("figures (lib.progress, live)", "charts (2 × matplotlib PNG)", "docx (summary + charts + document)",
                  "whole live report", "whole published report", "load average"):
        assert label in out
