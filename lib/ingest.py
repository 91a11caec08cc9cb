"""Ingestion, above the store: the order of receipt, validation (on worker processes), the warnings that compare
with other months, and batching; the store then keeps what was accepted (``Store.store_batch``).

Order of receipt: the files as given (a folder's by modification time, a .zip's in archive order); one call gives
its files receipt times one microsecond apart in that order, so of two versions of one unit and month the later
one in the list is current. Each file is all or nothing; files commit together in batches.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from lib import config
from lib.store import IngestOutcome, Store
from lib.store.history import History
from lib.submission import ValidationResult, display_name, validate, validate_many
from lib.targets import Targets


def ingest(store: Store, data: bytes, file_name: str, uploader: str = "系统", targets: Targets | None = None,
           received_at: datetime | None = None, today: date | None = None,
           result: ValidationResult | None = None) -> IngestOutcome:
    """Validate and, if there is no 错误, store one file (all or nothing)."""
    targets = targets or store.targets()
    received_at = received_at or datetime.now()
    if result is None:
        result = validate(data, file_name, targets, store, today=today or received_at.date())
    return store.store_batch([(data, result, received_at)], uploader, targets)[0]


def ingest_many(store: Store, files: list[tuple[str, bytes]], uploader: str = "系统", targets: Targets | None = None,
                received_at: datetime | None = None, today: date | None = None, batch: int = 200,
                progress=None, workers: int = 1) -> list[IngestOutcome]:
    """Validate and store many files; each is all-or-nothing, and files commit together in batches.

    The order of ``files`` is the order of receipt: file i is received at ``received_at`` + i µs, so of two
    versions of one unit and month the later one in the list is current. A batch's files are made durable before
    its transaction commits. Parsing and every per-file rule run on ``workers`` processes; the warnings that
    compare with other months are then added in file order, against the stored history plus the files accepted
    before in the same call.
    """
    targets = targets or store.targets()
    received_at = received_at or datetime.now()
    today = today or received_at.date()
    history = History(store.year_values(targets.year))
    outcomes: list[IngestOutcome] = []
    checked: list[tuple[bytes, ValidationResult, datetime]] = []
    results = validate_many(files, targets, today, workers=workers)
    for i, ((_name, data), result) in enumerate(zip(files, results)):
        history.add_warnings(result, targets, today)
        checked.append((data, result, received_at + timedelta(microseconds=i)))
        if len(checked) == batch or len(outcomes) + len(checked) == len(files):
            outcomes += store.store_batch(checked, uploader, targets)
            checked = []
            if progress:
                progress(len(outcomes) / len(files))
    return outcomes


def expand_paths(paths: list[str | Path]) -> list[tuple[str, bytes]]:
    """Files, folders (recursively) and .zip archives of workbooks -> (name, bytes), in the order of receipt:
    the paths as given, a folder's files by modification time (then name), a .zip's entries in archive order."""
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            files = [p for p in path.rglob("*") if p.is_file()]
            out += expand_paths(sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p))))
        elif path.suffix.lower() == ".zip":
            out += read_zip_of_workbooks(path.read_bytes(), path.name)
        else:
            out.append((path.name, path.read_bytes()))
    return out


def read_zip_of_workbooks(data: bytes, label: str = "") -> list[tuple[str, bytes]]:
    """The .xlsx files inside an uploaded .zip, with size caps."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX")]
        if len(infos) > 500:
            raise ValueError(f"{label} 中文件过多（{len(infos)} 个）")
        for info in infos:
            # Read at most one byte over the cap: validate() then names the size.
            with zf.open(info) as handle:
                out.append((display_name(info.filename), handle.read(config.MAX_UPLOAD_BYTES + 1)))
    return out



def current_summary(store: Store, outcomes: list[IngestOutcome]) -> list[str]:
    """One line per unit and month the outcomes touched: which file is its current version now."""
    touched = list(dict.fromkeys((o.result.unit, o.result.year, o.result.month)
                                 for o in outcomes if o.submission_id is not None))
    current = store.current_versions(touched)  # one query: a month-end import touches hundreds
    lines = []
    for unit, year, month in touched:
        if (unit, year, month) in current:
            sub_id, name = current[(unit, year, month)]
            lines.append(f"{unit} {year}-{month:02d}：当前版本为第 {sub_id} 号（{name}）")
    return lines
