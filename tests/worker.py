"""A separate ingesting process for the concurrency and crash tests.

python -m tests.worker FOLDER UNIT:MONTH:SHARE [...]  -> prints the number of files stored
"""

from __future__ import annotations

import sys
from datetime import datetime

from lib.store import Store
from lib.targets import load_targets
from tests.factory import filled


def main(argv: list[str]) -> int:
    folder, jobs = argv[0], argv[1:]
    store = Store(folder)
    targets = load_targets(store.folder / "targets.xlsx")
    stored = 0
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
