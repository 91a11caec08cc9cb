"""Two servers ingesting at once: throughput, and no lost upload (issue 18).

    python bench/ingest_servers.py --database-url postgresql://postgres@127.0.0.1:PORT/postgres   # one PostgreSQL
    python bench/ingest_servers.py                                             # both on one SQLite data folder
    python bench/ingest_servers.py --versions 4                                # every report sent 4 times

Generates one report per reporting unit and month (12 months) from the real templates (``--versions K``: K
versions of each, with different figures, sent in order), plus one more version of every unit's June report.
Writer A gets months 1–6, writer B months 7–12 and the extra June versions; both run ``python -m lib.store ingest``
(the store's own ingestion, as a server's upload page uses it: validation, then the write transaction) at the same
moment, each in a process of its own. With ``--database-url`` (a PostgreSQL server; the role needs CREATEDB) the
run gets a new database, dropped after, and each writer its own empty data folder, so nothing is shared but the
database; ``LIVELIHOOD_DATABASE_URL`` set instead is used as it is (it must not hold this bench's files already).

Reports files/s per writer and for both together, with the load average, and checks what must hold whatever the
timing: every file sent is stored (its sha256 is in the store: no lost upload), and every unit and month has
exactly one current version, the one received last. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load_average, machine  # noqa: E402
from bench.ingest import drop_databases, entries, fresh_database, variant  # noqa: E402
from lib.config import BUNDLED_TARGETS  # noqa: E402
from lib.targets import load_targets  # noqa: E402
from lib.template import build_template, fill_template  # noqa: E402

OVERLAP_MONTH = 6  # both writers send a version of every unit's report of this month


def write_reports(targets, folder: Path, months, share_extra: float, versions: int = 1) -> list[bytes]:
    """Fill every unit's template for ``months`` into ``folder``, ``versions`` versions of each (written in order,
    so a folder's order of receipt, by modification time, sends them in that order); returns the files' bytes."""
    folder.mkdir(parents=True)
    sent = []
    for unit in targets.reporting_units:
        template = build_template(targets, unit)
        for month in months:
            share = min(1.0, month / 12 * 0.9 + share_extra)
            filled = fill_template(template, f"{targets.year}-{month:02d}", entries(targets, unit, share))
            for version in range(versions):  # the same figures, one narrative cell made unique: distinct files
                data = variant(filled, int(share_extra * 100) * 1000 + version)
                path = folder / f"{month:02d}_{unit}_{share_extra:.2f}_v{version}.xlsx"
                path.write_bytes(data)
                os.utime(path, ns=(time.time_ns(), time.time_ns()))
                sent.append(data)
    return sent


def start_writer(name: str, files: Path, data_dir: Path, log: Path, url: str) -> subprocess.Popen:
    env = dict(os.environ, LIVELIHOOD_DATA_DIR=str(data_dir), LIVELIHOOD_DATABASE_URL=url)
    return subprocess.Popen([sys.executable, "-m", "lib.store", "ingest", "--uploader", f"bench-{name}",
                             "--workers", "1", str(files)], cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)


def check(data_dir: Path, url: str, sent: list[bytes]) -> list[str]:
    """What must hold after both writers: every file sent is stored; every unit and month has exactly one current
    version, and it is the one received last."""
    from lib.store import STATE_CURRENT, Store

    subs = Store(data_dir, url=url).submissions()
    subs = subs[subs["uploader"].str.startswith("bench-")]
    problems = []
    missing = {hashlib.sha256(data).hexdigest() for data in sent} - set(subs["sha256"])
    if missing or len(subs) != len(sent):  # every file sent is distinct: each must be a stored version
        problems.append(f"stored {len(subs)} of {len(sent)} files; {len(missing)} files sent are not in the store")
    for (unit, year, month), versions in subs.groupby(["unit", "year", "month"]):
        current = versions[versions["state"] == STATE_CURRENT]
        if len(current) != 1:
            problems.append(f"{unit} {year}-{month:02d}: {len(current)} current versions")
        elif current["received_at"].iloc[0] != versions["received_at"].max():
            problems.append(f"{unit} {year}-{month:02d}: the current version is not the one received last")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server: both writers on a new database of it (default: LIVELIHOOD_DATABASE_URL, "
                             "else SQLite, one data folder)")
    parser.add_argument("--versions", type=int, default=1, help="versions of every report, sent in order")
    args = parser.parse_args(argv)
    url = fresh_database(args.database_url) if args.database_url else os.environ.get("LIVELIHOOD_DATABASE_URL", "")
    print(machine())
    print(f"backend: {'PostgreSQL ' + url.rsplit('@', 1)[-1] if url else 'SQLite (one data folder)'}")
    targets = load_targets(BUNDLED_TARGETS)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-servers-"))
    t0 = time.perf_counter()
    sent_a = write_reports(targets, work / "a", range(1, 7), 0.0, args.versions)
    sent_b = write_reports(targets, work / "b", range(7, 13), 0.0, args.versions)
    sent_b += write_reports(targets, work / "b" / "june", [OVERLAP_MONTH], 0.03)  # written last: sent last by B
    n_a, n_b = len(sent_a), len(sent_b)
    print(f"{n_a} + {n_b} files generated in {time.perf_counter() - t0:.1f} s")
    folders = {"a": work / "data-a", "b": work / "data-b"} if url else dict.fromkeys("ab", work / "data")
    for folder in set(folders.values()):
        folder.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-c", "from lib.store import Store; Store()"], cwd=ROOT, check=True,
                   env=dict(os.environ, LIVELIHOOD_DATA_DIR=str(folders["a"]), LIVELIHOOD_DATABASE_URL=url))
    print(f"start: {load_average()}")
    started = time.perf_counter()
    procs = {name: start_writer(name, work / name, folders[name], work / f"{name}.log", url) for name in "ab"}
    ended = {}
    while len(ended) < len(procs):
        for name, proc in procs.items():
            if name not in ended and proc.poll() is not None:
                ended[name] = time.perf_counter() - started
        time.sleep(0.05)
    wall = max(ended.values())
    for name, n in (("a", n_a), ("b", n_b)):
        print(f"writer {name.upper()}: {n} files in {ended[name]:.1f} s = {n / ended[name]:.1f} files/s, "
              f"exit {procs[name].returncode}")
    print(f"both: {n_a + n_b} files in {wall:.1f} s = {(n_a + n_b) / wall:.1f} files/s (end: {load_average()})")
    problems = check(folders["a"], url, sent_a + sent_b)
    print("lost uploads / unit-months without exactly one current version, the last received: "
          + ("; ".join(problems[:10]) if problems else "none"))
    if problems or any(p.returncode for p in procs.values()):
        print(f"kept for inspection: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.database_url:
        from lib.store.core import _DATABASES

        for pool in _DATABASES.values():
            pool.close()
        drop_databases(args.database_url)
    return 1 if problems or any(p.returncode for p in procs.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
