"""``python -m lib.store``: batch import, version history and restore, rebuild, backup, clearing the demo."""

from __future__ import annotations

import argparse
import os
import sys

from lib import logs
from lib.export import to_csv_bytes
from lib.ingest import current_summary, expand_paths
from lib.store.core import RebuildError, Store

HELP = """批量导入、版本历史与恢复、重建。

接收顺序：命令行上的文件按给出的顺序；文件夹内的文件按修改时间（相同时按文件名）；.zip 内按压缩包中的顺序。
同一单位同一月份有多个版本时，排在最后的为当前版本；结束时列出每个单位、月份的当前版本。
再次导入与某个已被替换版本完全相同的文件，会把该版本恢复为当前版本（记入审计日志）。"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="批量导入报表（文件、文件夹或 .zip；按给出的顺序接收，后者为当前版本）",
                            description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    ingest.add_argument("paths", nargs="+", help="文件、文件夹（按修改时间排序）或 .zip（按包内顺序）")
    ingest.add_argument("--uploader", default="命令行")
    ingest.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="校验进程数（默认：全部 CPU 核）")
    sub.add_parser("rebuild", help="由原始文件重建数据库（督办台账、目标表等人工记录保留；有文件读不出数据时报错，数据库不变，退出码 1）")
    backup = sub.add_parser("backup", help="把整个数据文件夹（含数据库、督办台账、原始报表）备份到一个新文件夹（PostgreSQL 请用 pg_dump）")
    backup.add_argument("dest")
    restore = sub.add_parser("restore", help="把第 ID 号报送恢复为其单位、月份的当前版本（记入审计日志）")
    restore.add_argument("id", type=int)
    restore.add_argument("--who", default="命令行")
    history = sub.add_parser("history", help="报送版本历史（CSV，UTF-8 BOM，输出到标准输出）")
    history.add_argument("--unit", help="只列该填报单位")
    history.add_argument("--month", help="只列该月份，格式 YYYY-MM")
    clear = sub.add_parser("clear-demo", help="清除示例数据（示例文件与数据行），重建数据库；记入审计日志")
    clear.add_argument("--who", default="命令行")
    return parser


def _rebuild(store: Store, args, parser) -> int:
    try:
        print(f"已由原始文件重建：{store.rebuild()} 份报送")
    except RebuildError as exc:
        print(f"重建失败：{exc}", file=sys.stderr)
        return 1
    return 0


def _restore(store: Store, args, parser) -> int:
    try:
        store.restore(args.id, who=args.who)
    except KeyError:
        print(f"没有第 {args.id} 号报送。可用 python -m lib.store history 查看编号。", file=sys.stderr)
        return 1
    row = store.history().set_index("编号").loc[args.id]
    print(f"已恢复第 {args.id} 号（{row['填报单位']} {row['月份']}，{row['原文件名']}）为当前版本。")
    return 0


def _history(store: Store, args, parser) -> int:
    year = month = None
    if args.month:
        try:
            year, month = (int(x) for x in args.month.split("-"))
            assert 1 <= month <= 12
        except (ValueError, AssertionError):
            parser.error(f"--month 应为 YYYY-MM，例如 2024-03，收到“{args.month}”")
    frame = store.history(unit=args.unit, year=year, month=month)
    sys.stdout.buffer.write(to_csv_bytes(frame))
    sys.stdout.flush()
    return 0


def _clear_demo(store: Store, args, parser) -> int:
    from lib.demo import DemoBusy, clear_demo
    try:
        n = clear_demo(store, who=args.who)
    except (DemoBusy, RebuildError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"已清除 {n} 份示例报送，数据库已重建。")
    return 0


def _backup(store: Store, args, parser) -> int:
    try:
        print(f"已备份到 {store.backup(args.dest)}")
    except (FileExistsError, RuntimeError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _ingest(store: Store, args, parser) -> int:
    targets = store.targets()
    files = expand_paths(args.paths)

    def bar(share: float) -> None:
        print(f"\r[{'#' * int(30 * share):<30}] {share:.0%}", end="", file=sys.stderr, flush=True)
    outcomes = store.ingest_many(files, uploader=args.uploader, targets=targets, progress=bar, batch=50,
                                 workers=args.workers)
    print(file=sys.stderr)
    rejected = 0
    for outcome in outcomes:
        print(outcome.summary())
        for finding in outcome.result.findings:
            print(f"    {finding}")
        rejected += outcome.submission_id is None
    current = current_summary(store, outcomes)
    if current:
        print("\n当前版本：")
        for line in current:
            print(f"  {line}")
    print(f"\n共 {len(files)} 个文件，接收 {len(files) - rejected} 个，退回 {rejected} 个。", file=sys.stderr)
    return 1 if rejected else 0


COMMANDS = {"rebuild": _rebuild, "restore": _restore, "history": _history, "clear-demo": _clear_demo,
            "backup": _backup, "ingest": _ingest}


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    parser = _parser()
    args = parser.parse_args(argv)
    return COMMANDS[args.command](Store(), args, parser)
