"""A separate ingesting process for the concurrency and crash tests.

python -m tests.worker STORE UNIT:MONTH:SHARE [...]   fill and ingest those workbooks
python -m tests.worker STORE --dir INBOX              ingest every file in INBOX (sorted)
Prints "ready" once imported, one line per stored file, then "total N".
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from lib.store import Store
from lib.targets import load_targets
from tests.factory import filled

ROOT = Path(__file__).resolve().parent.parent


def run_workers(folder, argument_lists: list[list[str]], timeout: float = 900) -> list[int]:
    """Start one worker process per argument list, all at once; return how many files each stored."""
    procs = [subprocess.Popen([sys.executable, "-m", "tests.worker", str(folder), *args], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for args in argument_lists]
    counts = []
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0
        counts.append(int(out.strip().splitlines()[-1].split()[-1]))
    return counts


def main(argv: list[str]) -> int:
    folder, jobs = argv[0], argv[1:]
    store = Store(folder)
    targets = load_targets(store.folder / "targets.xlsx")
    print("ready", flush=True)
    stored = 0
    if jobs[:1] == ["--dir"]:
        for path in sorted(Path(jobs[1]).iterdir()):
            outcome = store.ingest(path.read_bytes(), path.name, uploader="worker", targets=targets,
                                   received_at=datetime(2024, 12, 1))
            stored += outcome.stored
            print(f"stored {path.name}", flush=True)
    else:
        for job in jobs:
            unit, month, share = job.split(":")
            data = filled(targets, unit, month=month, share=float(share))
            outcome = store.ingest(data, f"{unit}{month}.xlsx", targets=targets,
                                   received_at=datetime(2024, int(month[-2:]) + 1, 1))
            stored += outcome.stored
            print(f"stored {unit} {month}", flush=True)
    print(f"total {stored}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
