"""督查通报 benchmark: one month's report at the real scale, stage by stage.

    python bench/report.py [--years 1] [--scale 1] [--month 6] [--pdf] [--runs 3]

Builds a store like bench/dashboard.py (the bundled 30-project table × ``scale``, every reporting unit × 12 months
× ``years``), then times in one process, best of ``--runs`` (three) after a first (cold) run:

  figures   the month's live figures from lib.progress (detail of two months, every level, compliance)
  charts    the two matplotlib charts (PNG)
  docx      build_docx: summary, charts and the whole document
  publish   lib.publish.publish of the month, then the report from the publication (figures + docx)
  pdf       LibreOffice conversion (with --pdf; a fresh soffice process each time)

Wall time and CPU time (this process and soffice) are printed: on a shared, loaded machine the wall time is
mostly waiting for a core. Not a test: nothing asserts a time (goal in bench/RESULTS.md: under 5 s for one month at the real scale).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, timed  # noqa: E402
from bench.dashboard import build_store  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (soffice): the figure a shared, loaded machine
    distorts least."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best(fn, runs: int = 3) -> tuple[float, float, float]:
    """(first run, best of the next ``runs``) wall seconds, and the CPU seconds of that best run; ``runs`` 0: the
    first run is the only one (tests/test_bench.py: every stage runs once)."""
    start = cpu_seconds()
    first = timed(fn)
    samples = [(first, cpu_seconds() - start)] if runs == 0 else []
    for _ in range(runs):
        start = cpu_seconds()
        wall = timed(fn)
        samples.append((wall, cpu_seconds() - start))
    wall, cpu = min(samples)
    return first, wall, cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--month", type=int, default=6)
    parser.add_argument("--pdf", action="store_true")
    parser.add_argument("--runs", type=int, default=3,
                        help="timed runs after the first of each stage; the best is shown (0: the first run only)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-report-")) / "data"
    t0 = time.perf_counter()
    store, n_rows = build_store(folder, args.years, args.scale)
    print(f"store: {args.years} year(s) × 12 months, scale {args.scale}, {n_rows} rows; built in "
          f"{time.perf_counter() - t0:.1f} s")
    t_import = time.perf_counter()
    from lib import publish
    from lib import report as R
    imports = time.perf_counter() - t_import
    targets = store.targets()
    rows, subs = store.current_rows(targets.year), store.submissions()
    month = args.month

    results = []
    figures = None

    def live():
        nonlocal figures
        figures = R.live_figures(targets, rows, subs, month)
    results.append(("figures (lib.progress, live)", *best(live, args.runs)))
    results.append(("charts (2 × matplotlib PNG)",
                    *best(lambda: (R.category_chart(figures.categories), R.county_chart(figures.counties)), args.runs)))
    results.append(("docx (summary + charts + document)", *best(lambda: R.build_docx(figures), args.runs)))
    results.append(("whole live report: read store + figures + docx + audit",
                    *best(lambda: R.generate(store, month, "bench", live=True, targets=targets), args.runs)))
    publish.publish(store, targets.year, month, "bench")
    results.append(("whole published report: load publication + docx + audit",
                    *best(lambda: R.generate(store, month, "bench", targets=targets), args.runs)))
    if args.pdf:
        docx_bytes = R.build_docx(figures)
        results.append(("pdf (soffice --convert-to pdf)", *best(lambda: R.to_pdf(docx_bytes), runs=2)))

    print(machine())
    print(f"imports (lib.report, lib.publish): {imports:.2f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print(f"{'stage':<58} {'first':>8} {'best':>8} {'CPU':>8}")
    for label, first, fastest, cpu in results:
        print(f"{label:<58} {first:>7.2f}s {fastest:>7.2f}s {cpu:>7.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
