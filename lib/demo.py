"""Believable demo data, made and ingested exactly as real uploads are.

``python -m lib.demo`` fills every reporting unit's real template for each
month of the year (seeded, so the same every time), writes the workbooks to
``<data>/demo/`` and ingests them with ``Store.ingest``. Figures are examples:
the store is flagged as demo and every page says so.

Story: S-shaped progress over the year; a few projects finish early, a few lag
or lag seriously; some units report late or miss a month; one county's
cumulative value is corrected downwards once, with an explanation. Counts of
things (households, canteens, people) are whole numbers.

Where: only where asked — the bundled data folder, a folder with
``LIVELIHOOD_DEMO=1`` (``config.demo_requested``), or ``python -m lib.demo``.
Never into a folder holding real reports. The first build runs in its own
process (``start_demo``), not in a visitor's session: it holds ``demo.lock``
in the data folder (an OS lock, released if the process dies), so two first
visitors never build it twice, and an interrupted build resumes on the next
visit (workbooks already stored are skipped; the seeded plan is replayed).
``demo/COMPLETE`` marks a finished demo. ``clear_demo`` removes it in one
audited action; real uploads are refused until then.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import random
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from lib import config, logs
from lib import schema as S
from lib.calendar import deadline
from lib.formatting import fmt_plain
from lib.store import DEMO_UPLOADER, RebuildError, Store

SEED = 2024
LOCK_NAME = "demo.lock"  # in the data folder
COMPLETE_NAME = "COMPLETE"  # in <data>/demo/
# Units of measure that are not counts of things: everything else in a 累计数量 row is counted in whole numbers.
CONTINUOUS_UNITS = {"公里", "千米", "米", "平方米", "亩", "吨", "万元", "元", "%", "小时"}


class DemoBusy(Exception):
    """Another process is building the demo right now."""
PROBLEMS = [
    "部分县区资金拨付滞后，项目开工时间推迟。",
    "用地、规划等前期手续办理周期较长。",
    "施工受雨季影响，工期有所延误。",
    "部分点位选址需与群众反复沟通，推进偏慢。",
    "设备招标采购流程尚未完成。",
]
PLANS = [
    "倒排工期、挂图作战，每周调度一次。",
    "协调相关部门加快审批，月底前完成前期手续。",
    "开展专项督导，对进度慢的县区约谈提醒。",
    "加快资金拨付，确保下月集中开工。",
    "增加施工力量，争取下季度追上序时进度。",
]
PROGRESS = [
    "已累计完成{value}{unit}，占年度目标的{rate:.0%}。",
    "本月新增{delta}{unit}，累计完成{value}{unit}（{rate:.0%}）。",
    "各县市区按计划推进，累计完成{value}{unit}。",
]
QUALITATIVE = {
    "未启动": "正在制定实施方案。",
    "正常推进": "已印发实施方案，按月调度推进。",
    "滞后": "方案尚在征求意见，推进偏慢。",
    "已完成": "已全面完成并建立长效机制。",
}


def s_curve(month: float, midpoint: float = 6.5, steepness: float = 0.65) -> float:
    """Share of the year's work done by the end of ``month`` (0 at month 0, 1 at month 12)."""
    f = lambda m: 1 / (1 + math.exp(-steepness * (m - midpoint)))  # noqa: E731
    return max(0.0, (f(month) - f(0)) / (f(12) - f(0)))


class DemoPlan:
    """Seeded choices: which projects lag, which units are late, which value is corrected."""

    def __init__(self, targets, seed: int = SEED):
        rng = random.Random(seed)
        projects = list(targets.projects["项目序号"])
        picks = rng.sample(projects, 9)
        self.early = set(picks[:3])  # finish by autumn
        self.lagging = set(picks[3:7])  # about 15–25 points behind
        self.severe = set(picks[7:9])  # more than 30 points behind
        self.final = {p: rng.uniform(1.0, 1.06) for p in projects}
        units = list(targets.reporting_units)
        rng.shuffle(units)
        self.missing = {(units[0], 5), (units[1], 8)}  # no report that month
        self.late = {(units[2], 3), (units[3], 6), (units[4], 9), (units[0], 10)}
        self.county_factor = {c: rng.uniform(0.85, 1.12) for c in targets.counties}
        splits = targets.indicators[targets.indicators["分解到县"] == S.YES]
        row = splits.iloc[rng.randrange(len(splits))]
        self.correction = (row["填报单位"], row["指标编号"], targets.counties[rng.randrange(len(targets.counties))], 6)
        self.rng = rng

    def share(self, project: int, month: int, county: str | None = None) -> float:
        """Cumulative share of the target reached by the end of ``month``."""
        if project in self.early:
            base = min(1.02, s_curve(month, midpoint=4.5, steepness=0.9) * 1.02)
        elif project in self.severe:
            base = s_curve(month, midpoint=8.5) * 0.55
        elif project in self.lagging:
            base = s_curve(month, midpoint=7.5) * 0.8
        else:
            base = s_curve(month) * self.final[project]
        if county is not None:
            # Counties differ; the gaps narrow, but do not vanish, by December.
            factor = self.county_factor[county]
            base = base * (factor + (1 - factor) * 0.6 * month / 12)
        return base

    def state(self, project: int, month: int) -> str:
        if project in self.early and month >= 9:
            return "已完成"
        if project in self.severe or (project in self.lagging and month >= 5):
            return "滞后"
        if month <= 1:
            return "未启动"
        if month == 12:
            return "已完成"
        return "正常推进"


def is_whole(kind: str, unit: str) -> bool:
    """Whether a row counts things (户, 个, 人, 处 …), so that its values are whole numbers."""
    return kind == S.TYPE_COUNT and unit not in CONTINUOUS_UNITS


def _value(kind: str, target: float, share: float, month: int, unit: str = "") -> float:
    if kind == S.TYPE_RATE and unit in ("元", "类"):
        return target  # insurance limits and range: set by the year's contract, in force from January
    if kind == S.TYPE_RATE:
        # Levels such as 录取率 start near the target and reach it by the year end.
        return round(target * (0.9 + 0.1 * min(1.0, share)), 1)
    if kind == S.TYPE_INCREASE:
        # Standards are raised once, from February.
        return target if month >= 2 else 0.0
    value = target * share
    return float(round(value)) if is_whole(kind, unit) or target >= 50 else round(value, 1)


def month_entries(targets, plan: DemoPlan, unit: str, month: int, previous: dict) -> dict:
    """Input columns for every row of ``unit``'s template in ``month``."""
    rng = plan.rng
    entries = {}
    for r in targets.expected_rows(unit).itertuples(index=False):
        if r.城市合计行:
            continue
        key = (r.指标编号, r.县市区)
        project = int(r.项目序号)
        state = plan.state(project, month)
        if r.指标类型 == S.TYPE_QUALITATIVE:
            entries[key] = {"进展状态": state, "进展情况": QUALITATIVE[state]}
            if state == "滞后":
                entries[key] |= {"存在问题": rng.choice(PROBLEMS), "下步计划": rng.choice(PLANS)}
            continue
        county = None if r.县市区 == S.CITY else r.县市区
        share = plan.share(project, month, county)
        value = _value(r.指标类型, float(r.年度目标), share, month, r.计量单位)
        if r.指标类型 == S.TYPE_COUNT:
            value = max(value, previous.get(key, 0.0))  # cumulative: never down, except the correction below
        row = {"累计完成": value, "进展状态": "已完成" if value >= float(r.年度目标) else (state if state != "已完成" else "正常推进")}
        if (unit, r.指标编号, r.县市区, month) == plan.correction and previous.get(key, 0) > 0:
            whole = is_whole(r.指标类型, r.计量单位) or float(r.年度目标) >= 50
            value = round(previous[key] * 0.85, None if whole else 1)
            row["累计完成"] = float(value)
            row["存在问题"] = f"经复核，前期重复统计 {fmt_plain(previous[key] - value)}{r.计量单位}，本月核减。"
            row["下步计划"] = "建立台账逐项核对，确保数据准确。"
        elif row["进展状态"] == "滞后" or plan.share(project, month) < month / 12 - 0.1:
            row["存在问题"] = rng.choice(PROBLEMS)
            row["下步计划"] = rng.choice(PLANS)
        rate = value / float(r.年度目标)
        delta = value - previous.get(key, 0.0)
        row["进展情况"] = rng.choice(PROGRESS).format(value=fmt_plain(value), unit=r.计量单位, rate=rate, delta=fmt_plain(delta))
        previous[key] = value
        entries[key] = row
    return entries


def build_demo(store: Store, months: int = 12, seed: int = SEED, progress=None) -> int:
    """Fill, write and ingest every unit's template for months 1..``months``; resumes a partial build (the files
    already stored are skipped, the seeded plan replayed). Returns the files stored by this call."""
    from lib.template import build_template, fill_template  # openpyxl: only for a build, not at the app's start

    targets = store.targets()
    plan = DemoPlan(targets, seed)
    out_dir = store.folder / "demo"
    out_dir.mkdir(exist_ok=True)
    templates = {unit: build_template(targets, unit) for unit in targets.reporting_units}
    done_already = store.demo_periods()
    previous: dict[str, dict] = {unit: {} for unit in targets.reporting_units}
    total, stored = len(templates) * months, 0
    done = 0
    for month in range(1, months + 1):
        for unit, template in templates.items():
            done += 1
            if (unit, month) in plan.missing:
                continue
            entries = month_entries(targets, plan, unit, month, previous[unit])
            due = deadline(targets.year, month, targets.deadline_day)
            late = (unit, month) in plan.late
            received = due + timedelta(days=plan.rng.randint(1, 6)) if late else due - timedelta(days=plan.rng.randint(0, 5),
                                                                                                      hours=plan.rng.randint(1, 12))
            if (unit, month) in done_already:
                continue  # stored by an earlier, interrupted build (the plan above is replayed all the same)
            header = {S.HEADER_FILLER: "示例填报人", S.HEADER_PHONE: "0537-0000000", S.HEADER_DATE: received.strftime("%Y-%m-%d")}
            data = fill_template(template, f"{targets.year}-{month:02d}", entries, header)
            name = f"{targets.year}-{month:02d}_{unit}.xlsx"
            (out_dir / name).write_bytes(data)
            outcome = store.ingest(data, name, uploader=DEMO_UPLOADER, targets=targets, received_at=received.replace(second=0),
                                   today=datetime(targets.year + 1, 1, 31).date())
            if not outcome.stored:
                raise RuntimeError("demo file rejected: " + "; ".join(str(f) for f in outcome.result.errors[:3]))
            stored += 1
            if progress:
                progress(done / total)
    (out_dir / COMPLETE_NAME).write_text(json.dumps({"months": months, "seed": seed}), encoding="utf-8")
    return stored


def is_complete(folder: str | Path) -> bool:
    return (Path(folder) / "demo" / COMPLETE_NAME).exists()


@contextmanager
def _lock(folder: Path):
    """The demo lock of a data folder (an OS lock: released when the holder dies). Raises DemoBusy if held."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoBusy(f"示例数据正在另一个进程中生成（{folder / LOCK_NAME}），请稍候。") from None
        yield
    finally:
        handle.close()


def is_building(folder: str | Path) -> bool:
    """Whether a process holds the demo lock of ``folder`` right now."""
    try:
        with _lock(Path(folder)):
            return False
    except DemoBusy:
        return True


def ensure_demo(folder: str | Path | None = None, months: int = 12, progress=None) -> bool:
    """Build (or finish building) the demo here, in this process, under the lock. Returns True if it built now;
    False if it was complete already, or the folder holds real reports. Raises DemoBusy if another process is
    building it."""
    store = Store(folder)
    with _lock(store.folder):
        if is_complete(store.folder) or store.has_real_reports():
            return False
        build_demo(store, months=months, progress=progress)
        (store.folder / "demo.off").unlink(missing_ok=True)
        return True


def start_demo(folder: str | Path, months: int = 12) -> subprocess.Popen | None:
    """Start the demo build in its own process (it outlives the visitor's session), unless one is running or
    the demo is complete. The process takes the lock itself; a second one started at the same moment exits."""
    folder = Path(folder)
    if is_complete(folder) or is_building(folder):
        return None
    log = open(folder / "demo-build.log", "ab")
    env = dict(os.environ, LIVELIHOOD_DATA_DIR=str(folder))
    return subprocess.Popen([sys.executable, "-m", "lib.demo", "--ensure", "--months", str(months)], cwd=config.REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def progress_share(folder: str | Path, months: int = 12) -> float:
    """How far the demo build of ``folder`` is (0..1), from what the store holds."""
    store = Store(folder)
    targets = store.targets()
    return min(1.0, len(store.demo_periods()) / max(1, len(targets.reporting_units) * months - 2))


def clear_demo(store: Store, who: str) -> int:
    """Remove the demo in one audited action: its files and rows, the generated workbooks; the database is rebuilt
    from the files left. The folder then takes real uploads and the app never builds the demo here again.
    Returns the number of demo submissions removed."""
    with _lock(store.folder):
        subs = store.submissions()
        demo = subs[subs["uploader"] == DEMO_UPLOADER]
        store.remove_files(list(demo["path"]))
        shutil.rmtree(store.folder / "demo", ignore_errors=True)
        # Months published while the folder held the demo were computed from demo figures (real uploads are refused
        # then): they go with it, or a leader could open a "published" month of invented numbers.
        published = store.remove_publications()
        (store.folder / "demo.off").write_text(f"{datetime.now().isoformat(timespec='seconds')} {who}\n", encoding="utf-8")
        store.rebuild()
        store.log(who, "清除示例数据", f"删除 {len(demo)} 份示例报送及其数据行" + (f"、{published} 份据示例数据的发布" if published else "")
                  + f"，由其余原始文件重建数据库（{len(subs) - len(demo)} 份）")
    return len(demo)


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    parser = argparse.ArgumentParser(description="示例数据：生成并导入（各填报单位 1–12 月报表），或清除")
    parser.add_argument("action", nargs="?", choices=["build", "clear"], default="build",
                        help="build：生成到当前数据目录（LIVELIHOOD_DATA_DIR）；clear：清除示例数据（记入审计日志）")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--who", default="命令行")
    parser.add_argument("--ensure", action="store_true", help=argparse.SUPPRESS)  # the app's background build
    args = parser.parse_args(argv)
    store = Store()
    try:
        if args.action == "clear":
            n = clear_demo(store, args.who)
            print(f"已清除 {n} 份示例报送，数据库已重建：{store.folder}")
            return 0
        if store.has_real_reports():
            parser.error(f"数据目录 {store.folder} 已有真实报送；示例数据只生成到没有真实报送的数据目录（可设置 LIVELIHOOD_DATA_DIR）。")
        if args.ensure:
            ensure_demo(store.folder, months=args.months)
            return 0
        with _lock(store.folder):
            n = build_demo(store, months=args.months, seed=args.seed)
            (store.folder / "demo.off").unlink(missing_ok=True)
    except (DemoBusy, RebuildError) as exc:
        print(str(exc), file=sys.stderr)
        return 0 if args.ensure else 1
    print(f"已生成并导入 {n} 份示例报表：{store.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
