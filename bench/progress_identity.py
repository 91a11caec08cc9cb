"""lib.progress against an earlier revision of itself: every public function's output on the same inputs, compared
with ``DataFrame.equals``, column order, dtypes, index and every float bit for bit (NaN payloads included).

    python bench/progress_identity.py --base 8920667 [--worlds small demo y5k10]

Run it before landing a change to lib/progress.py that must not change a figure (publish --verify compares bytes).
Worlds: ``small`` (tests/test_progress.py's table with awkward rows: several of one key and month, integers,
qualitative only, huge values, none), ``demo`` (lib.demo, 12 months), ``y5k10`` (bench/dashboard.py's store, 5 years
× the table 10 times). Prints each world's count of identical outputs and both revisions' CPU seconds; fails at the
first difference. Slow (minutes): not a test.
"""
import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib import schema as S  # noqa: E402
from lib.store import Store  # noqa: E402

OLD = NEW = None
WORLDS: list[str] = []
def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

n_checked = 0
def same(a, b, what):
    global n_checked
    n_checked += 1
    if isinstance(a, OLD.ProjectRows):
        same(a.frame, b.frame, what + '.frame')
        assert a._bounds == b._bounds, what
        return
    if isinstance(a, dict):
        assert list(a) == list(b), what
        for k in a:
            same(a[k], b[k], f'{what}[{k}]')
        return
    if isinstance(a, (pd.DataFrame, pd.Series)):
        assert type(a) is type(b), what
        assert a.equals(b), what + ' equals'
        if isinstance(a, pd.Series):
            a, b = a.to_frame(), b.to_frame()
        assert list(a.columns) == list(b.columns), (what, list(a.columns), list(b.columns))
        assert type(a.columns) is type(b.columns) and a.columns.dtype == b.columns.dtype, (what, 'columns type')
        assert list(a.dtypes) == list(b.dtypes), (what, list(zip(a.columns, a.dtypes, b.dtypes)))
        assert type(a.index) is type(b.index) and a.index.equals(b.index) and a.index.dtype == b.index.dtype \
            and list(a.index.names) == list(b.index.names), (what, 'index', a.index, b.index)
        assert a.columns.name == b.columns.name, (what, 'columns name')
        for i, col in enumerate(a.columns):
            x, y = a.iloc[:, i], b.iloc[:, i]
            if x.dtype.kind == 'f':
                assert np.array_equal(x.to_numpy().view('u8'), y.to_numpy().view('u8')), (what, col, 'bits')
            elif x.dtype == object:
                for u, v in zip(x, y):
                    assert type(u) is type(v), (what, col, u, v)
                    if isinstance(u, float):
                        assert np.array([u]).view('u8')[0] == np.array([v]).view('u8')[0], (what, col, u, v)
                    else:
                        assert (u == v) or (u is v) or (pd.isna(u) and pd.isna(v)), (what, col, u, v)
            else:
                assert x.equals(y), (what, col)
        return
    assert type(a) is type(b) and (a == b or (a != a and b != b)), (what, a, b)

def run_all(P, targets, rows, subs, months, tag):
    out = {}
    out['latest'] = P.latest_month(rows, targets.year)
    out['default'] = P.default_month(targets, rows)
    out['default_empty'] = P.default_month(targets, rows.iloc[0:0])
    full = P.detail_months(targets, rows, range(1, 13))
    out['detail_months12'] = full
    out['detail_each'] = P.detail_each(targets, rows, [3, 4, 7])
    cats = list(dict.fromkeys(targets.projects['类别']))
    for m in months:
        t = P.detail(targets, rows, m)
        out[f'detail{m}'] = t
        out[f'detail_months_pair{m}'] = P.detail_months(targets, rows, [max(1, m - 1), m])
        pr = P.project_table(targets, rows, m)
        out[f'project{m}'] = pr
        out[f'project_t{m}'] = P.project_table(targets, rows, m, t)
        for lvl in ('category', 'unit', 'city'):
            out[f'{lvl}{m}'] = getattr(P, f'{lvl}_table')(targets, rows, m)
            out[f'{lvl}_p{m}'] = getattr(P, f'{lvl}_table')(targets, rows, m, pr)
        out[f'county{m}'] = P.county_table(targets, rows, m)
        out[f'matrix{m}'] = P.county_project_matrix(targets, rows, m)
        per = P.county_project_rows(targets, t.assign(月份=m))
        out[f'cpr{m}'] = per
        out[f'croll{m}'] = P.county_roll_up(targets, per)
        out[f'cmatrix{m}'] = P.county_matrix(targets, per)
        for c in (cats[:1], cats[3:7] if len(cats) > 3 else cats[1:]):
            narrow = t[t['类别'].isin(c)]
            out[f'narrow_county{m}{c}'] = P.county_table(targets, rows, m, narrow)
            out[f'narrow_project{m}{c}'] = P.project_table(targets, rows, m, narrow)
            np_ = P.project_table(targets, rows, m, narrow)
            out[f'narrow_cat{m}{c}'] = P.category_table(targets, rows, m, np_[np_['类别'].isin(c)])
            out[f'narrow_city{m}{c}'] = P.city_table(targets, rows, m, np_[np_['类别'].isin(c)])
        out[f'narr{m}'] = P.narrative_history(targets, rows, m)
        out[f'narr_c{m}'] = P.narrative_history(targets, rows, m, counties=tuple(targets.counties[:2]))
        for lvl in (('indicator', 'project', 'category', 'unit', 'county', 'city') if m in (1, 5, 12) else ()):
            out[f'trend{m}{lvl}'] = P.trend(targets, rows, m, lvl)
            out[f'trend_d{m}{lvl}'] = P.trend(targets, rows, m, lvl, details=full)
        out[f'monthly{m}'] = P.monthly_values(targets, rows, m)
        out[f'projection{m}'] = P.projection(targets, rows, m, full)
        if m > 1:
            out[f'changes{m}'] = P.status_changes(targets, rows, m - 1, m)
        out[f'compliance{m}'] = P.compliance(targets, subs, m, today=date(targets.year, 8, 1))
        out[f'chase{m}'] = P.chase_list(targets, subs, m, today=date(targets.year, 8, 1))
        for lvl in P.LEVELS:
            out[f'level{m}{lvl}'] = P.level_table(targets, rows, subs, m, lvl, today=date(targets.year, 8, 1))
    return out

def small_worlds():
    from lib.targets import load_targets
    from tests.test_progress import small_table
    p = Path(tempfile.mkdtemp(prefix='identity-small-'))
    small_table(p / 'targets.xlsx')
    t = load_targets(p / 'targets.xlsx')
    def r(unit, m, code, county, v, state=''):
        return {"填报单位": unit, "年度": 2024, "月份": m, "指标编号": code, "县市区": county, "累计完成": v,
                "进展状态": state, "进展情况": "", "存在问题": "x" if state else "", "下步计划": ""}
    rng = np.random.default_rng(1)
    sets = {
      'random': [r("单位甲", int(m), "P01-1", c, float(rng.uniform(0, 100))) for m in rng.integers(1, 13, 8) for c in ("县A", "县B")]
                + [r("单位甲", int(m), "P01-2", S.CITY, float(rng.uniform(0, 80))) for m in rng.integers(1, 13, 4)]
                + [r("单位乙", int(m), "P02-1", S.CITY, None, str(rng.choice(["正常推进", "滞后", "未启动", "已完成"]))) for m in rng.integers(1, 13, 4)],
      'dups': [r("单位甲", 3, "P01-1", "县A", 10.0), r("单位甲", 3, "P01-1", "县A", 20.0), r("单位甲", 3, "P01-1", "县B", 5.0),
               r("单位甲", 5, "P01-1", S.CITY, 70.0), r("单位甲", 5, "P01-1", S.CITY, 71.0), r("单位甲", 4, "P01-2", "县A", 3.0),
               r("单位甲", 2, "P01-2", S.CITY, 62.0), r("单位甲", 9, "P01-2", S.CITY, 100.0), r("单位甲", 1, "P09-9", S.CITY, 1.0)],
      'qualonly': [r("单位乙", 4, "P02-1", S.CITY, None, "滞后"), r("单位乙", 7, "P02-1", S.CITY, None, "未启动")],
      'ints': [dict(r("单位甲", 3, "P01-1", "县A", 1), 累计完成=1), dict(r("单位甲", 3, "P01-1", "县B", 2), 累计完成=2),
               dict(r("单位甲", 3, "P01-2", S.CITY, 2), 累计完成=2)],
      'inf': [r("单位甲", 6, "P01-1", "县A", 1e300), r("单位甲", 6, "P01-1", "县B", 1e300), r("单位甲", 6, "P01-2", S.CITY, 0.0)],
    }
    cols = list(sets['random'][0])
    for name, recs in sets.items():
        yield 'small-' + name, t, pd.DataFrame(recs, columns=cols), None, [1, 3, 5, 12]
    yield 'small-empty', t, pd.DataFrame(sets['random'], columns=cols).iloc[0:0], None, [1, 6]

def stores():
    for w in WORLDS:
        if w == 'small':
            yield from small_worlds()
            continue
        folder = Path(tempfile.mkdtemp(prefix=f'identity-{w}-')) / 'data'
        if w == 'demo':
            from lib.demo import build_demo
            folder.mkdir(parents=True)
            build_demo(Store(folder), months=12)
        else:
            from bench.dashboard import build_store
            build_store(folder, 5, 10)
        store = Store(folder)
        targets = store.targets()
        rows = store.current_rows(targets.year) if w == 'y5k10' else store.current_rows()
        yield w, targets, rows, store.submissions(), [1, 2, 6, 12] if w == 'y5k10' else [1, 2, 5, 6, 12]

def compare_worlds():
    for w, targets, rows, subs, months in stores():
        if subs is None:
            subs = pd.DataFrame({'unit': ['单位甲'], 'year': [2024], 'month': [3], 'received_at': ['2024-04-03T10:00:00'], 'state': ['当前']})
        cpu = {}
        res = {}
        for name, P in (('old', OLD), ('new', NEW)):
            targets._cache.clear() if hasattr(targets, '_cache') else None
            t0 = time.process_time()
            try:
                res[name] = run_all(P, targets, rows, subs, months, w)
            except Exception as e:
                res[name] = {'error': repr(e)[:300]}
            cpu[name] = time.process_time() - t0
        if "error" in res["old"] or "error" in res["new"]:
            assert res["old"].get("error") == res["new"].get("error"), (w, res["old"], res["new"])
            print(w, "both raise", res["old"]["error"])
            continue
        for k in res["old"]:
            same(res['old'][k], res['new'][k], f'{w}:{k}')
        print(f'{w}: {len(res["old"])} outputs identical; CPU old {cpu["old"]:.1f} s new {cpu["new"]:.1f} s')
    print('checks', n_checked)


def main(argv=None) -> int:
    global OLD, NEW, WORLDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision whose lib/progress.py is the reference")
    parser.add_argument("--worlds", nargs="+", default=["small", "demo", "y5k10"], choices=["small", "demo", "y5k10"])
    args = parser.parse_args(argv)
    reference = Path(tempfile.mkdtemp(prefix="identity-")) / "progress_base.py"
    reference.write_bytes(subprocess.run(["git", "show", f"{args.base}:lib/progress.py"], cwd=ROOT, check=True,
                                         capture_output=True).stdout)
    OLD, NEW, WORLDS = load(reference, "progress_base"), load(ROOT / "lib" / "progress.py", "progress_new"), args.worlds
    compare_worlds()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
