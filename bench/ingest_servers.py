"""Two servers ingesting at once: throughput, and no lost upload (issue 18).

    LIVELIHOOD_DATABASE_URL=postgresql://... python bench/ingest_servers.py      # both writers on one PostgreSQL
    python bench/ingest_servers.py                                             # both on one SQLite data folder

Generates one report per reporting unit and month (12 months) from the real templates, plus a second, different
version of every unit's June report. Writer A gets months 1–6 and its June reports, writer B months 7–12 and the
other June versions; both run ``python -m lib.store ingest`` (the store's own ingestion, as a server's upload page
uses it: validation, then the write transaction) at the same moment, each in a process of its own with its own
(empty) data folder when a database URL is set, so nothing is shared but the database.

Reports files/s per writer and for both together, and checks what must hold whatever the timing: every file is
stored (no lost upload), and each unit's June has exactly one current version. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load_average, machine  # noqa: E402
from bench.ingest import entries  # noqa: E402
from lib.config import BUNDLED_TARGETS  # noqa: E402
from lib.targets import load_targets  # noqa: E402
from lib.template import build_template, fill_template  # noqa: E402

OVERLAP_MONTH = 6  # both writers send a version of every unit's report of this month


def write_reports(targets, folder: Path, months: range, share_extra: float, only: int | None = None) -> int:
    """Fill every unit's template for ``months`` into ``folder``; returns the number of files."""
    folder.mkdir(parents=True)
    n = 0
    for unit in targets.reporting_units:
        template = build_template(targets, unit)
        for month in months if only is None else [only]:
            share = min(1.0, month / 12 * 0.9 + share_extra)
            data = fill_template(template, f"{targets.year}-{month:02d}", entries(targets, unit, share))
            (folder / f"{month:02d}_{unit}_{share_extra:.2f}.xlsx").write_bytes(data)
            n += 1
    return n


def start_writer(name: str, files: Path, data_dir: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, LIVELIHOOD_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "lib.store", "ingest", "--uploader", f"bench-{name}",
                             "--workers", "1", str(files)], cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)


def check(data_dir: Path, expected: int, year: int, units: int) -> list[str]:
    """What must hold after both writers: every file stored, one current June version per unit."""
    os.environ["LIVELIHOOD_DATA_DIR"] = str(data_dir)
    from lib.store import Store

    subs = Store(data_dir).submissions()
    subs = subs[subs["uploader"].str.startswith("bench-")]
    problems = []
    if len(subs) != expected:
        problems.append(f"stored {len(subs)} of {expected} files")
    june = subs[(subs["year"] == year) & (subs["month"] == OVERLAP_MONTH)]
    current = june[june["state"] == "当前"].groupby("unit").size()
    if len(current) != units or (current != 1).any():
        problems.append(f"June: {len(current)} units with a current version, counts {sorted(set(current))}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    url = os.environ.get("LIVELIHOOD_DATABASE_URL", "")
    print(machine())
    print(f"backend: {'PostgreSQL ' + url.rsplit('@', 1)[-1] if url else 'SQLite (one data folder)'}")
    targets = load_targets(BUNDLED_TARGETS)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-servers-"))
    t0 = time.perf_counter()
    n_a = write_reports(targets, work / "a", range(1, 7), 0.0)
    n_b = write_reports(targets, work / "b", range(7, 13), 0.0)
    n_b += write_reports(targets, work / "b" / "june", range(0), 0.03, only=OVERLAP_MONTH)  # written last: sent last
    print(f"{n_a} + {n_b} files generated in {time.perf_counter() - t0:.1f} s")
    folders = {"a": work / "data-a", "b": work / "data-b"} if url else dict.fromkeys("ab", work / "data")
    for folder in set(folders.values()):
        folder.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-c", "from lib.store import Store; Store()"], cwd=ROOT, check=True,
                   env=dict(os.environ, LIVELIHOOD_DATA_DIR=str(folders["a"])))  # schema and seed before the race
    started = time.perf_counter()
    procs = {name: start_writer(name, work / name, folders[name], work / f"{name}.log") for name in "ab"}
    ended = {}
    while len(ended) < len(procs):
        for name, proc in procs.items():
            if name not in ended and proc.poll() is not None:
                ended[name] = time.perf_counter() - started
        time.sleep(0.05)
    wall = max(ended.values())
    for name, n in (("a", n_a), ("b", n_b)):
        print(f"writer {name.upper()}: {n} files in {ended[name]:.1f} s = {n / ended[name]:.1f} files/s, "
              f"exit {procs[name].returncode} (log {work / f'{name}.log'})")
    print(f"both: {n_a + n_b} files in {wall:.1f} s = {(n_a + n_b) / wall:.1f} files/s ({load_average()})")
    problems = check(folders["a"], n_a + n_b, targets.year, len(targets.reporting_units))
    print("lost uploads / duplicate current versions: " + ("; ".join(problems) if problems else "none"))
    return 1 if problems or any(p.returncode for p in procs.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
