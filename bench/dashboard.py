"""Dashboard benchmark: AppTest runs of every page on a large store, exports, peak memory.

    python bench/dashboard.py --years 5 --scale 10

Builds a data folder with a target table K times the real one (every indicator and
split repeated K times) and a store holding Y years × 12 months × every reporting unit
(rows inserted through the store's own insert path, without generating workbooks),
then times, in one process:

  first  the app's first run on the new store, and again after a "restart" (caches cleared)
  cold   first AppTest run of each page (data read, tables computed, caches filled)
  warm   a rerun of the same page (everything cached; best of --warm-runs, 3)
  filter a sidebar filter changed (类别), then rerun
  export CSV and xlsx of the full detail table
  live   the warm rerun of each page through a live `streamlit run` server on the same store (one
         websocket session, bench/load.py's client; median of --live-reruns), printed beside the
         AppTest figure: AppTest runs the script in-process, without the server's per-rerun work
         (websocket, messages, its settings in .streamlit/config.toml), so its figure is a floor
and prints peak RSS. Not a test: nothing asserts a time. As on a live server, Streamlit's lazy imports (the emoji
table of its first alert) count with the imports, and each script is compiled once (see --no-script-cache).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openpyxl import load_workbook  # noqa: E402

from bench.common import load_average, machine, timed  # noqa: E402
from lib import schema as S  # noqa: E402
from lib.config import BUNDLED_TARGETS  # noqa: E402
from lib.store import Store  # noqa: E402
from lib.targets import load_targets  # noqa: E402

PAGES = ["overview", "category", "unit", "county", "project", "upload", "export"]


def scaled_targets(path: Path, scale: int) -> None:
    """The bundled table with every indicator (and its split) repeated ``scale`` times."""
    wb = load_workbook(BUNDLED_TARGETS)
    if scale > 1:
        for sheet, code_col in ((S.SHEET_INDICATORS, 0), (S.SHEET_SPLITS, 0)):
            ws = wb[sheet]
            rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
            for k in range(2, scale + 1):
                for row in rows:
                    copy = list(row)
                    copy[code_col] = f"{row[code_col]}x{k}"
                    ws.append(copy)
    wb.save(path)


def build_store(folder: Path, years: int, scale: int) -> tuple[Store, int]:
    folder.mkdir(parents=True)
    scaled_targets(folder / "targets.xlsx", scale)
    store = Store(folder)
    targets = store.targets()
    n = 0
    with store.write() as con:
        for year in range(targets.year - years + 1, targets.year + 1):
            for month in range(1, 13):
                for unit in targets.reporting_units:
                    expected = targets.expected_rows(unit)
                    share = min(1.0, month / 12 * 0.95)
                    values = [None if (k == S.TYPE_QUALITATIVE or city) else float(t) * share
                              for k, t, city in zip(expected["指标类型"], expected["年度目标"], expected["城市合计行"])]
                    rows = [(code, county, value, "正常推进", "按计划推进", "", "", 7 + i)  # as ValidationResult.row_records
                            for i, (code, county, value) in enumerate(zip(expected["指标编号"], expected["县市区"], values))]
                    when = datetime(year + (month == 12), month % 12 + 1, 3)
                    meta = {"unit": unit, "year": year, "month": month, "received_at": when.isoformat(),
                            "activated_at": when.isoformat(), "uploader": "bench", "file_name": "bench.xlsx",
                            "sha256": f"{year}{month:02d}{unit}", "targets_version": targets.version, "filler": "",
                            "phone": "", "findings": "[]"}
                    store._insert(con, meta, f"submissions/bench/{year}-{month}-{unit}.xlsx", rows, False)
                    n += len(rows)
    assert (store.submissions()["state"] == "当前").sum() == years * 12 * len(targets.reporting_units)
    return store, n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--live-reruns", type=int, default=5, help="warm reruns per page on the live server (0 = none)")
    parser.add_argument("--warm-runs", type=int, default=3,
                        help="AppTest warm reruns per page, the best shown (tests/test_bench.py: 1, every path once)")
    parser.add_argument("--published", action="store_true",
                        help="publish the default month first: every page then opens on the published revision")
    parser.add_argument("--no-script-cache", action="store_true",
                        help="compile app.py and the page on every AppTest run (AppTest's default; a server compiles once)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-dash-")) / "data"
    t0 = time.perf_counter()
    store, n_rows = build_store(folder, args.years, args.scale)
    targets = load_targets(folder / "targets.xlsx")
    print(f"store: {args.years} years × 12 months × {len(targets.reporting_units)} units, "
          f"{len(targets.indicators)} indicators (scale {args.scale}), {n_rows} rows; built in {time.perf_counter() - t0:.1f} s")
    os.environ["LIVELIHOOD_DATA_DIR"] = str(folder)
    if args.published:
        from lib.progress import default_month
        from lib.publish import publish
        month = default_month(targets, store.current_rows(targets.year))
        print(f"published {targets.year}-{month:02d} in {timed(lambda: publish(store, targets.year, month, 'bench')):.2f} s; "
              "pages below show the published revision")

    t_import = time.perf_counter()
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *a, **kw):  # as a live server after its first st.navigation call (see tests/test_pages.py)
        original(self, *a, **kw)
        PagesManager.uses_pages_directory = False
    PagesManager.__init__ = init
    import streamlit.emojis  # noqa: F401  (imported by Streamlit at its first st.success/st.info: ~0.2 s)

    # Streamlit's once-per-process check at the first element of the first run (delta_generator: is_repl() walks
    # inspect.stack(), resolving every module's file: ~0.1-0.2 s). A server pays it for its first visitor, not after
    # each write: counted with the imports, like the emoji table.
    from streamlit.delta_generator import _maybe_print_use_warning
    _maybe_print_use_warning()

    import ui  # noqa: F401  (imports counted apart from the first run)
    imports = time.perf_counter() - t_import
    # A live server scans installed packages for components once, when it starts (Runtime.__init__);
    # AppTest does it in each new AppTest's first run (~1 s here). Do it once, as server start-up,
    # and hand the result to every AppTest, so "first run" measures the app, not the scan.
    t_scan = time.perf_counter()
    from streamlit.components.v2.component_manager import BidiComponentManager
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    scan = time.perf_counter() - t_scan

    # A live server compiles each script once (its ScriptCache lives as long as the server); AppTest makes a new
    # cache for every run, so app.py and the page were compiled again on each measured run (Streamlit's "magic"
    # rewrite of pages/project.py alone is ~35 ms; the pages come through AppTest's PagesManager, app.py through
    # LocalScriptRunner: both share the cache). Like the server, the bench shares one cache (--no-script-cache:
    # a new cache per run, as AppTest does).
    if not args.no_script_cache:
        from streamlit.testing.v1 import app_test, local_script_runner
        shared_scripts = local_script_runner.ScriptCache()
        # bench only: the names LocalScriptRunner (app.py) and AppTest's PagesManager (the pages) call
        local_script_runner.ScriptCache = app_test.ScriptCache = lambda: shared_scripts

    def new_app() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at._bidi_component_manager = components  # private, bench only: see above
        return at

    def check(at):
        assert not at.exception, [e.message for e in at.exception]

    results = []
    first = new_app()
    # Each step's CPU seconds of this process beside its wall time: on a shared machine the wall time includes
    # waiting for a core, the CPU time hardly does.
    cpu = {}

    def step(key, fn) -> float:
        start = time.process_time()
        wall = timed(fn)
        cpu[key] = min(cpu.get(key, float("inf")), time.process_time() - start)
        return wall

    cold_first = step("first", lambda: first.run())
    warm_first = step("first warm", lambda: first.run())
    check(first)
    for page in PAGES:
        at = new_app()
        at.run()
        cold = step((page, "cold"), lambda at=at, page=page: at.switch_page(f"pages/{page}.py").run())  # noqa: B023
        check(at)
        warm = min(step((page, "warm"), lambda at=at: at.run()) for _ in range(max(1, args.warm_runs)))  # noqa: B023
        check(at)
        at.multiselect(key="f_category").set_value(["教育服务"])
        flt = step((page, "filter"), lambda at=at: at.run())  # noqa: B023
        check(at)
        results.append((page, cold, warm, flt))

    # A server restart on the same store: every Streamlit cache empty, the rows snapshot
    # (written by the first run above) on disk.
    import streamlit as st
    st.cache_resource.clear()
    st.cache_data.clear()
    from ui import data, widgets
    data.clear_shared()  # ui.data.shared functions and ui.cached views
    widgets._FIGURES.clear()
    if not args.no_script_cache:
        shared_scripts.clear()  # a new server compiles its scripts again
    restarted = new_app()
    cold_restart = step("restart", lambda: restarted.run())
    check(restarted)

    from lib.export import to_csv_bytes, to_xlsx_bytes
    from lib.progress import default_month, detail
    rows = store.current_rows(targets.year)
    month = default_month(targets, rows)
    table = detail(targets, rows, month)
    csv_s = timed(lambda: to_csv_bytes(table))
    xlsx_s = timed(lambda: to_xlsx_bytes(table))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    live = {}
    if args.live_reruns:
        import asyncio
        import statistics

        from bench.load import PAGES as LIVE_PAGES
        from bench.load import live_server, warm_reruns
        with live_server(folder) as server:
            times, counts = asyncio.run(warm_reruns(server.url, {p: LIVE_PAGES[p] for p in PAGES}, args.live_reruns, 300))
            live = {page: statistics.median(values) for page, values in times.items()}
            live_rss = server.peak()

    print(f"\nimports {imports:.2f} s; component scan at server start {scan:.2f} s")
    print(f"first run of app.py (data read + overview) {cold_first * 1000:.0f} ms on a store just written "
          f"(rows read from SQLite); {cold_restart * 1000:.0f} ms after a restart (rows snapshot on disk); "
          f"its rerun {warm_first * 1000:.0f} ms; CPU {cpu['first'] * 1000:.0f} / {cpu['restart'] * 1000:.0f} / "
          f"{cpu['first warm'] * 1000:.0f} ms")
    print("\nwarm = AppTest rerun in this process (a floor: no server, no websocket); "
          "live warm = median rerun through a live `streamlit run` server, one session")
    print(f"\n{'page':<10}{'cold ms':>10}{'warm ms':>10}{'live warm ms':>14}{'filter ms':>11}"
          f"{'CPU: cold':>11}{'warm':>6}{'filter':>8}")
    for page, cold, warm, flt in results:
        shown = f"{live[page] * 1000:>14.0f}" if page in live else f"{'–':>14}"
        print(f"{page:<10}{cold * 1000:>10.0f}{warm * 1000:>10.0f}{shown}{flt * 1000:>11.0f}"
              + "".join(f"{cpu[(page, k)] * 1000:>{w}.0f}" for k, w in (("cold", 11), ("warm", 6), ("filter", 8))))
    print(f"\nexport of the full detail table ({len(table)} rows): CSV {csv_s * 1000:.0f} ms, xlsx {xlsx_s * 1000:.0f} ms")
    print(f"peak RSS {rss:.0f} MB" + (f"; live server peak RSS {live_rss:.0f} MB" if live else ""))
    print("goals at Y=5, K=10: warm ≤ 150 ms, filter ≤ 200 ms, cold ≤ 1500 ms, CSV ≤ 500 ms, RSS ≤ 600 MB")
    print(machine() + "; " + load_average())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
