"""A separate ingesting process for the concurrency and crash tests.

python -m tests.worker STORE UNIT:MONTH:SHARE [...]   fill and ingest those workbooks
python -m tests.worker STORE --dir INBOX              ingest every file in INBOX (sorted)
python -m tests.worker STORE --crash STEP:N ...       the same, SIGKILLing itself at STEP of the Nth new file
Prints "ready" once imported, one line per stored file, then "total N" (or "crash STEP N" just before the kill).

python -m tests.worker --serve                        the tests' way to start them: a fork server (below)
"""

from __future__ import annotations

import json
import os
import signal
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
    counts = []
    for code, out in start_workers([[str(folder), *args] for args in argument_lists], timeout):
        assert code == 0, (code, out)
        counts.append(int(out.strip().splitlines()[-1].split()[-1]))
    return counts


_SERVER: list[subprocess.Popen] = []


def start_workers(argument_lists: list[list[str]], timeout: float = 900) -> list[tuple[int, str]]:
    """Run ``python -m tests.worker ARGS`` once per argument list, all at once, each in a process of its own, forked
    from a fork server that has imported this module once per test process (``serve``): a fork costs milliseconds,
    a fresh interpreter importing the store, pandas and openpyxl ~1.4 CPU s. Each worker gets this process's
    environment as it is now. Returns (exit code, or minus the signal that ended it; its output) per worker."""
    import tempfile

    if not _SERVER or _SERVER[0].poll() is not None:
        _SERVER[:] = [subprocess.Popen([sys.executable, "-m", "tests.worker", "--serve"], cwd=ROOT, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)]
    server = _SERVER[0]
    with tempfile.TemporaryDirectory(prefix="workers-") as folder:
        outs = [str(Path(folder) / f"{i}.out") for i in range(len(argument_lists))]
        server.stdin.write(json.dumps({"env": dict(os.environ), "jobs": list(zip(argument_lists, outs))}) + "\n")
        server.stdin.flush()
        import select

        if not select.select([server.stdout], [], [], timeout)[0]:
            server.kill()
            raise TimeoutError(f"workers {argument_lists} still running after {timeout} s")
        codes = json.loads(server.stdout.readline())
        return [(code, Path(out).read_text(encoding="utf-8")) for code, out in zip(codes, outs)]


def serve() -> int:
    """The fork server: for each line on stdin ({"env", "jobs": [[argv, output file], ...]}) fork one worker per
    job with that environment, its stdout to its file; wait for all; answer with their exit codes (minus the
    signal for a killed one) as one JSON line. It never opens a store itself, so no worker inherits a connection."""
    for line in sys.stdin:
        request = json.loads(line)
        pids = []
        for argv, out in request["jobs"]:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.environ.clear()
                    os.environ.update(request["env"])
                    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    os.dup2(fd, 1)
                    code = main(argv)
                except BaseException:
                    import traceback

                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        print(json.dumps(codes), flush=True)
    return 0


# The steps of the file archive's crash-safe protocol (lib.store.archive), in order, for one new file:
CRASH_STEPS = (
    "before_write",  # inside the write transaction, nothing on disk yet
    "written",       # both *.pending files written, not yet made durable
    "durable",       # pending files fsynced, database transaction not committed
    "committed",     # COMMIT done, no rename yet
    "xlsx_renamed",  # the .xlsx has its final name, the .json is still pending
    "renamed",       # both files have their final names
)


def arm_crash(step: str, nth: int) -> None:
    """Make this process SIGKILL itself at ``step`` of the ``nth`` (1-based) new file it stores, printing
    "crash STEP N" first. It wraps the store's own protocol functions (the real code runs; nothing is imitated),
    so a refactoring that bypasses one of them makes the crash never happen, which the test reports."""
    from lib.store import archive, core

    assert step in CRASH_STEPS, step
    staged = [0]

    def kill(at: str) -> None:
        if at == step and staged[0] == nth:
            print(f"crash {step} {nth}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    stage, durable, finish, replace = (archive.FileArchive.stage, archive.FileArchive.durable, core.Store._finish,
                                       archive.replace_if_present)

    def stage_hooked(self, *args, **kwargs):
        staged[0] += 1
        kill("before_write")
        final = stage(self, *args, **kwargs)
        kill("written")
        return final

    def durable_hooked(self, written):
        durable(self, written)
        kill("durable")

    def finish_hooked(final):
        kill("committed")
        finish(final)
        kill("renamed")

    def replace_hooked(src, dst):
        replace(src, dst)
        if src.name.endswith(".xlsx.pending"):
            kill("xlsx_renamed")

    archive.FileArchive.stage = stage_hooked
    archive.FileArchive.durable = durable_hooked
    core.Store._finish = staticmethod(finish_hooked)
    archive.replace_if_present = replace_hooked


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--crash"]:
        step, nth = argv[2].split(":")
        arm_crash(step, int(nth))
        argv = argv[:1] + argv[3:]
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
    raise SystemExit(serve() if sys.argv[1:] == ["--serve"] else main(sys.argv[1:]))
