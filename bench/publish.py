"""Publishing benchmark: publish a month on a large store, then read the revision back.

    python bench/publish.py --years 5 --scale 10

Builds the same store as bench/dashboard.py (Y years × 12 months × every unit, the target table K times the real
one), then times, best of ``--repeat`` runs, each a new revision of the default month:

  publish (cold)   ``lib.publish.publish`` as ``python -m lib.publish`` runs it: target table parsed, rows read
  publish (warm)   the target table already loaded (its caches warm), everything else computed
  publish (button) as the 发布 button runs it: the dashboard's rows and month tables handed over (only the
                   compliance table, the canonical document and the write are left)
  as-of-time       publishing the state at the month's deadline (versions chosen by receipt, rows from SQLite)
  load             ``lib.publish.load`` of the latest revision and all its tables (the dashboard's first read)
and prints the document size. Not a test: nothing asserts a time. Goal: publishing under 2 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, timed  # noqa: E402
from bench.dashboard import build_store  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from lib import progress as P
    from lib import publish as PB
    from lib.calendar import deadline

    folder = Path(tempfile.mkdtemp(prefix="bench-publish-")) / "data"
    t0 = time.perf_counter()
    store, n_rows = build_store(folder, args.years, args.scale)
    targets = store.targets()
    month = P.default_month(targets, store.current_rows(targets.year))
    print(f"store: {args.years} years × 12 months × {len(targets.reporting_units)} units, {len(targets.indicators)} "
          f"indicators (scale {args.scale}), {n_rows} rows; built in {time.perf_counter() - t0:.1f} s; "
          f"publishing {targets.year}-{month:02d}")

    cold_s = min(timed(lambda: PB.publish(store, targets.year, month, "bench", reason="bench"))
                 for _ in range(args.repeat))
    warm_s = min(timed(lambda: PB.publish(store, targets.year, month, "bench", reason="bench", targets=targets))
                 for _ in range(args.repeat))
    # The 发布 button: the dashboard has the rows and the month's tables already (its month view).
    rows = store.current_rows(targets.year)
    detail = P.detail(targets, rows, month)
    projects = P.project_table(targets, rows, month, detail)
    computed = {"detail": detail, "projects": projects, "categories": P.category_table(targets, rows, month, projects),
                "units": P.unit_table(targets, rows, month, projects),
                "counties": P.county_table(targets, rows, month, detail)}
    button_s = min(timed(lambda: PB.publish(store, targets.year, month, "bench", reason="bench", targets=targets,
                                            rows=rows, computed=computed)) for _ in range(args.repeat))
    due = deadline(targets.year, month, targets.deadline_day)
    as_of_s = min(timed(lambda: PB.publish(store, targets.year, month, "bench", reason="bench", as_of_time=due,
                                           targets=targets)) for _ in range(args.repeat))

    def read():
        pub = PB.load(store, targets.year, month)
        for name in PB.TABLES:
            pub.tables[name]  # noqa: B018
    load_s = min(timed(read) for _ in range(args.repeat))
    pub = PB.load(store, targets.year, month)
    size = (store.folder / pub.path).stat().st_size
    print(f"\n{'step':<44}{'ms':>8}")
    for name, seconds in (("publish, cold (as the CLI)", cold_s), ("publish, target table loaded", warm_s),
                          ("publish as the 发布 button (tables reused)", button_s),
                          ("publish as of the deadline", as_of_s), ("load a revision and its tables", load_s)):
        print(f"{name:<44}{seconds * 1000:>8.0f}")
    calibration = timed(lambda: sum(range(10**7)))  # ~0.15 s on this machine kind when it is quiet
    print(f"\nrevisions written: {pub.revision + 1}; document {size / 1e6:.1f} MB "
          f"({len(pub.tables['detail'])} detail rows); load average {os.getloadavg()[0]:.1f}; "
          f"CPU check sum(range(10**7)) {calibration:.2f} s")
    print("goal at Y=5, K=10: publishing ≤ 2000 ms")
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
