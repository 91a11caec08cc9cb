"""The benchmark scripts keep working (tiny sizes; the figures themselves are read by people, not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_ingest_benchmark_runs():
    out = run("bench/ingest.py", "--files", "12", "--no-libreoffice")
    for label in ("floor: unzip sheet XML", "ours: parse + validate + store", "baseline: pandas.read_excel(openpyxl)",
                  "ours / floor", "baseline / ours"):
        assert label in out


def test_dashboard_benchmark_runs():
    out = run("bench/dashboard.py", "--years", "1", "--scale", "1")
    for page in ("overview", "category", "unit", "county", "project", "upload", "export"):
        assert f"\n{page}" in out
    assert "peak RSS" in out and "CSV" in out
