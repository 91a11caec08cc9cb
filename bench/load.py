"""Live-server load bench: N concurrent dashboard sessions over Streamlit's own websocket protocol.

    python bench/load.py --years 1 --scale 1                  # starts its own server on a free localhost port
    python bench/load.py --years 5 --scale 10 --sessions 1 10 50
    python bench/load.py --url http://127.0.0.1:8501 --url http://127.0.0.1:8502   # running servers, round-robin
    python bench/load.py --years 5 --scale 10 --published     # pages on a published revision (issue 15)

A session is what a browser tab does: it opens ``/_stcore/stream`` and sends a ``BackMsg``
``rerun_script`` (a ``ClientState`` with the page's URL name, the query string, the widget
states and the hashes of the messages it has cached); the server runs app.py and the page and
streams ``ForwardMsg``s back until ``script_finished``. One rerun is timed from sending the
``BackMsg`` to the ``script_finished`` that is not ``FINISHED_EARLY_FOR_RERUN``.

Every session opens the overview, changes the 类别 filter (the multiselect's widget state and the
query string, as the browser sends them), then opens the county page and the project page
("rounds" times). Phases:

  warm   one session: every page opened, then rerun ``--warm`` times unchanged (p50 per page; beside it the
         time to the first message back, this client's protobuf decoding, its whole CPU per rerun (websocket
         frames, asyncio, decoding: time the server's figures do not include) and the frames per rerun)
  N      N sessions at once, each doing the four steps: p50/p95/max per step, reruns per second
  fresh  ``--fresh`` visits one after another, each a new session doing the four steps: p50 and the server's
         CPU per step without a queue (what a wave of N sessions asks of the server N times over; after the
         waves, so the views the filter step needs are built, as they are for all but the first of a wave)
  soak   ``--soak`` reruns by visitors that connect, do the four steps and leave, 10 at a time;
         the server's RSS sampled as it goes (flat = no leak)

``--profile DIR`` records each server with py-spy (``--gil``, raw collapsed stacks) during the warm, N and fresh
phases, one file per phase and server (bench/RESULTS.md reads them).

``--servers 2`` starts two servers on the one data folder and sends session i to server i mod 2, as
a sticky proxy would (a session is one websocket, so it stays on its server); RSS is their sum. With
``LIVELIHOOD_DATABASE_URL=postgresql://…`` set, the store is built in that (empty) database and every server
started here reads it: two servers on one PostgreSQL. Each wave prints the CPU seconds the bench's own client
used beside the servers': on a small machine the client competes with the servers for the cores.

The server (started here with ``streamlit run app.py`` exactly as the README says, on a data
folder built like bench/dashboard.py's) is stopped at the end; its peak RSS (VmHWM) is reported.
Only 127.0.0.1; every phase is bounded by ``--step-timeout`` per rerun and ``--deadline`` overall.
Not a test: nothing asserts a time. tests/test_bench.py runs it tiny and checks it measured real reruns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.common import load_average, machine  # noqa: E402

FILTER_CATEGORY = "教育服务"  # the 类别 the filter step chooses (as bench/dashboard.py does)
# (step, page URL name, filtered?): the overview is the default page, its URL name is "".
STEPS = [("overview", "", False), ("filter", "", True), ("county", "county", True), ("project", "project", True)]
# Every page of the app (ui.PAGES), by the address Streamlit gives it; the bench's server runs in demo mode, whose user
# is an administrator, so every one is reachable.
PAGES = {"overview": "", "category": "category", "unit": "unit", "county": "county", "project": "project",
         "ledger": "ledger", "export": "export", "publish": "publish", "report": "report", "upload": "upload",
         "targets": "targets", "admin": "admin"}
EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN


class BenchError(RuntimeError):
    """The server did not answer as a browser expects (timeout, exception on the page, page not found)."""


@dataclass
class Counts:
    """What the sessions saw, summed: the proof that real reruns were measured."""
    reruns: int = 0               # timed reruns (one per BackMsg)
    script_finished: int = 0      # script_finished ForwardMsgs, early ones included
    early: int = 0                # FINISHED_EARLY_FOR_RERUN (a st.rerun inside the run)
    deltas: int = 0               # elements sent (full or as a cached reference)
    refs: int = 0                 # elements sent as references to ones the client cached
    bytes: int = 0
    filter_applied: int = 0       # filter steps after which the server wrote category=… into the URL
    errors: list[str] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        for name in ("reruns", "script_finished", "early", "deltas", "refs", "bytes", "filter_applied"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


class Session:
    """One browser tab: a websocket, the widget ids it was sent, the message hashes it caches."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.ws_url = f"ws://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        self.timeout = timeout
        self.ws = None
        self.widget_ids: dict[str, str] = {}   # user key -> widget id ("$$ID-<hash>-<key>")
        self.cached: set[str] = set()
        self.counts = Counts()
        self.query = ""
        # Per timed rerun: (seconds to the first message, to script_finished, this client's decoding of the
        # messages, frames, this whole process's CPU seconds meanwhile: websocket frames, asyncio, decoding).
        self.parts: list[tuple[float, float, float, int, float]] = []

    async def __aenter__(self) -> Session:
        # No Origin header (allowed for non-browser clients); "streamlit" is the subprotocol the frontend asks for.
        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], max_size=None, ping_interval=None,
                                open_timeout=self.timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    def _back_msg(self, page_name: str, widgets: dict) -> bytes:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = page_name
        state.cached_message_hashes.extend(sorted(self.cached))
        for key, values in widgets.items():
            widget_id = self.widget_ids.get(key)
            if widget_id is None:
                raise BenchError(f"widget {key!r} was never sent to this session")
            w = state.widget_states.widgets.add()
            w.id = widget_id
            w.string_array_value.data.extend(values)
        return msg.SerializeToString()

    async def rerun(self, page_name: str, widgets: dict | None = None) -> float:
        """Rerun ``page_name`` with ``widgets`` (user key -> list of strings); seconds until script_finished."""
        data = self._back_msg(page_name, widgets or {})
        start, cpu_start = time.perf_counter(), time.process_time()
        await self.ws.send(data)
        self.counts.reruns += 1
        first = None
        frames = 0
        client = 0.0  # this client's own time decoding and reading the messages
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), self.timeout)
            except TimeoutError:
                raise BenchError(f"no script_finished within {self.timeout:.0f} s (page {page_name or 'overview'!r})") from None
            received = time.perf_counter()
            first = first or received
            frames += 1
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            self.counts.bytes += len(raw)
            kind = msg.WhichOneof("type")
            if msg.metadata.cacheable and msg.hash:
                self.cached.add(msg.hash)
            if kind == "script_finished":
                self.counts.script_finished += 1
                if msg.script_finished == EARLY:
                    self.counts.early += 1
                    client += time.perf_counter() - received
                    continue
                elapsed = received - start
                if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                    raise BenchError(f"script finished with status {msg.script_finished} on {page_name!r}")
                self.parts.append((first - start, elapsed, client, frames, time.process_time() - cpu_start))
                return elapsed
            if kind == "ref_hash":
                self.counts.deltas += 1
                self.counts.refs += 1
            elif kind == "delta":
                self.counts.deltas += 1
                self._note_element(msg, page_name)
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "page_not_found":
                raise BenchError(f"page not found: {page_name!r}")
            client += time.perf_counter() - received

    def _note_element(self, msg: ForwardMsg, page_name: str) -> None:
        if msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            raise BenchError(f"exception on {page_name or 'overview'!r}: {element.exception.type}: "
                             f"{element.exception.message[:200]}")
        widget_id = getattr(getattr(element, kind), "id", "") if kind else ""
        if widget_id.startswith("$$ID-"):
            self.widget_ids[widget_id.rsplit("-", 1)[-1]] = widget_id


async def visit(url: str, timeout: float, rounds: int, times: dict[str, list[float]]) -> Counts:
    """One leader: overview, the 类别 filter, county, project (``rounds`` times), then leave."""
    async with Session(url, timeout) as s:
        for _ in range(rounds):
            for step, page_name, filtered in STEPS:
                widgets = {}
                if step == "filter":
                    widgets = {"f_category": [FILTER_CATEGORY]}
                elif not filtered:
                    widgets = {"f_category": []} if "f_category" in s.widget_ids else {}
                elif "f_category" in s.widget_ids:
                    widgets = {"f_category": [FILTER_CATEGORY]}  # the browser keeps sending the chosen value
                times[step].append(await s.rerun(page_name, widgets))
                if step == "filter" and "category=" in s.query:
                    s.counts.filter_applied += 1
    return s.counts


async def guarded(coro, counts: Counts):
    try:
        return await coro
    except (TimeoutError, BenchError, OSError) as exc:
        counts.errors.append(str(exc) or type(exc).__name__)
    except Exception as exc:  # a closed connection and the like: counted, never hidden
        counts.errors.append(f"{type(exc).__name__}: {exc}")
    return None


async def concurrent(urls: list[str], n: int, rounds: int, timeout: float) -> tuple[dict, Counts, float]:
    """``n`` sessions at once (session i on urls[i % len(urls)]): step times, counts, wall seconds."""
    times: dict[str, list[float]] = {step: [] for step, _, _ in STEPS}
    total = Counts()

    async def one(i: int) -> None:
        c = await guarded(visit(urls[i % len(urls)], timeout, rounds, times), total)
        if c is not None:
            total.add(c)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return times, total, time.perf_counter() - start


async def warm_reruns(url: str, pages: dict[str, str], repeats: int, timeout: float) -> tuple[dict, Counts]:
    """One session: each page opened once, then rerun ``repeats`` times unchanged (seconds per rerun).
    A page that fails is counted as an error and skipped."""
    out: dict[str, list[float]] = {}
    parts: dict[str, list[tuple]] = {}
    async with Session(url, timeout) as s:
        for name, page_name in pages.items():
            try:
                await s.rerun(page_name)
                s.parts.clear()
                out[name] = [await s.rerun(page_name) for _ in range(repeats)]
                parts[name] = list(s.parts)
            except BenchError as exc:
                s.counts.errors.append(str(exc))
    warm_reruns.parts = parts  # the breakdown of each timed rerun, for the report
    return out, s.counts


async def fresh_sessions(url: str, n: int, timeout: float, cpu=None) -> tuple[dict, dict, Counts]:
    """``n`` visits one after another, each a new session doing the four steps and leaving: what one session of a
    wave costs without the queue in front of it (seconds per step, and the server's CPU seconds per step where
    ``cpu`` reads them). One idle session stays connected meanwhile, as in a wave: Streamlit forgets the compiled
    page scripts whenever the last session leaves."""
    times: dict[str, list[float]] = {step: [] for step, _, _ in STEPS}
    used: dict[str, float] = {step: 0.0 for step, _, _ in STEPS}
    total = Counts()
    async with Session(url, timeout) as keeper:
        await keeper.rerun("")
        for _ in range(n):
            async with Session(url, timeout) as s:
                for step, page_name, filtered in STEPS:
                    widgets = {"f_category": [FILTER_CATEGORY]} if filtered else {}
                    before = cpu() if cpu else 0.0
                    times[step].append(await s.rerun(page_name, widgets))
                    used[step] += (cpu() - before) if cpu else 0.0
            total.add(s.counts)
    return times, used, total


async def soak(urls: list[str], reruns: int, timeout: float, sample, at_once: int = 10) -> tuple[list, Counts, float]:
    """Visitors (connect, four steps, leave), ``at_once`` at a time, until ``reruns`` reruns; RSS sampled."""
    total = Counts()
    samples = [(0, sample())]
    visits = max(1, reruns // len(STEPS))
    queue = iter(range(visits))
    every = max(len(STEPS), reruns // 8)

    async def worker(w: int) -> None:
        times = {step: [] for step, _, _ in STEPS}
        for i in queue:
            c = await guarded(visit(urls[i % len(urls)], timeout, 1, times), total)
            if c is not None:
                total.add(c)
            done = total.reruns
            if done // every > samples[-1][0] // every:
                samples.append((done, sample()))
                print(f"  soak: {done} reruns, server RSS {samples[-1][1]:.0f} MB ({load_average()})", flush=True)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(at_once)))
    samples.append((total.reruns, sample()))
    return samples, total, time.perf_counter() - start


# --- the server ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM (peak) of a process, in MB (Linux /proc)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def own_cpu() -> float:
    """CPU seconds this bench process (the websocket client of every session) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def rss(self) -> float:
        return proc_status(self.proc.pid)["VmRSS"]

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def peak(self) -> float:
        return proc_status(self.proc.pid)["VmHWM"]


@contextlib.contextmanager
def live_server(folder: Path, extra: list[str] = (), start_timeout: float = 120):
    """``streamlit run app.py`` on ``folder`` (no users: demo sign-in), on a free 127.0.0.1 port; stopped after."""
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="bench-load-log-"))
    secrets = logs / "secrets.toml"
    secrets.write_text("")  # no users: the open demo mode, so sessions need no sign-in
    log_path = logs / "streamlit.log"
    log = open(log_path, "w")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
           "--server.address=127.0.0.1", f"--secrets.files={secrets}", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, LIVELIHOOD_DATA_DIR=str(folder)),
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start; log: {log_path}") from None
                time.sleep(0.3)
        yield Server(url, proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def profiled(servers: list[Server], folder: str | None, phase: str):
    """``py-spy record --gil -f raw`` of every server while the block runs (nothing without ``--profile``): one file
    of collapsed stacks per server and phase, e.g. ``DIR/N50-0.txt``. Samples only the thread holding the GIL, i.e.
    the server's Python CPU, which is what a rerun waits for."""
    if not folder:
        yield
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen(["py-spy", "record", "--gil", "--nonblocking", "-r", "200", "-f", "raw",
                               "-o", str(Path(folder) / f"{phase}-{i}.txt"), "--pid", str(s.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i, s in enumerate(servers)]
    time.sleep(0.5)  # py-spy attached before the phase starts
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# --- report -------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report_counts(label: str, c: Counts) -> None:
    print(f"  {label}: {c.reruns} reruns timed, {c.script_finished} script_finished messages "
          f"({c.early} early for a rerun), {c.deltas} elements ({c.refs} as cached references), "
          f"{c.bytes / 1e6:.1f} MB received, filter applied in {c.filter_applied} filter steps, "
          f"errors: {len(c.errors)}")
    for e in c.errors[:5]:
        print(f"    error: {e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--rounds", type=int, default=1, help="the four steps per session (1 = one visit)")
    parser.add_argument("--warm", type=int, default=10, help="unchanged reruns per page in the warm phase")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES), help="pages of the warm phase")
    parser.add_argument("--fresh", type=int, default=20,
                        help="visits one after another, a new session each, four steps (0 = none)")
    parser.add_argument("--soak", type=int, default=2000, help="reruns of the RSS soak (0 = none)")
    parser.add_argument("--url", action="append", default=[],
                        help="drive running servers (repeat for several, round-robin) instead of starting one")
    parser.add_argument("--servers", type=int, default=1,
                        help="start this many servers on the one data folder; sessions round-robin (a sticky proxy)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra `streamlit run` option, e.g. --server-arg=--runner.postScriptGC=true")
    parser.add_argument("--published", action="store_true",
                        help="publish the default month first: pages then open on the published revision (issue 15)")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy record (--gil, raw stacks) of each server during each phase, into DIR")
    parser.add_argument("--step-timeout", type=float, default=120)
    parser.add_argument("--deadline", type=float, default=900, help="stop (with an error) after this many seconds")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.sessions) or min(args.rounds, args.warm, args.servers) < 1 or min(args.soak, args.fresh) < 0:
        parser.error("sizes must be positive")
    if args.profile and (not shutil.which("py-spy") or args.url):
        parser.error("--profile needs py-spy on the PATH (pip install py-spy) and servers started here (no --url)")
    for u in args.url:
        if urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error(f"localhost only: {u}")
    try:
        return asyncio.run(asyncio.wait_for(run(args), args.deadline))
    except TimeoutError:
        print(f"stopped: over the {args.deadline:.0f} s deadline", file=sys.stderr)
        return 2


async def run(args) -> int:
    print(machine())
    with contextlib.ExitStack() as stack:
        servers: list[Server] = []
        urls = args.url
        if not urls:
            from bench.dashboard import build_store
            folder = Path(tempfile.mkdtemp(prefix="bench-load-")) / "data"
            t0 = time.perf_counter()
            store, n_rows = build_store(folder, args.years, args.scale)
            shared = " (LIVELIHOOD_DATABASE_URL: every server started here reads it)" if store.url else ""
            print(f"store: Y={args.years} K={args.scale}, {n_rows} rows, built in {time.perf_counter() - t0:.1f} s; "
                  f"database: {store.db.describe()}{shared}")
            if args.published:
                from lib.progress import default_month
                from lib.publish import publish
                targets = store.targets()
                month = default_month(targets, store.current_rows(targets.year))
                publish(store, targets.year, month, "bench")
                print(f"published {targets.year}-{month:02d}: every page opens on the published revision")
            servers = [stack.enter_context(live_server(folder, args.server_arg)) for _ in range(args.servers)]
            urls = [server.url for server in servers]
            for server in servers:
                print(f"server: {server.url} pid {server.proc.pid} {' '.join(args.server_arg)}")
        errors = 0

        # First visit after the start: caches empty (data read, tables computed, figures built).
        pages = {name: PAGES[name] for name in args.pages}
        for url in urls:
            t0 = time.perf_counter()
            first, c = await warm_reruns(url, pages, 1, args.step_timeout)
            print(f"\nfirst session after start on {url} (cold then one rerun per page) "
                  f"{time.perf_counter() - t0:.1f} s; {load_average()}")
            report_counts("cold", c)
            errors += len(c.errors)

        cpu_before = servers[0].cpu() if servers else None
        with profiled(servers[:1], args.profile, "warm"):
            warm, c = await warm_reruns(urls[0], pages, args.warm, args.step_timeout)
        cpu = f"; server CPU per rerun {(servers[0].cpu() - cpu_before) / c.reruns * 1000:.0f} ms" if servers else ""
        print(f"\nwarm rerun, one session, {args.warm} reruns per page ({load_average()}{cpu})")
        # Where a rerun's wall goes: until the first message arrives (the server's new_session and the script's
        # start), the rest until script_finished, and this client's own decoding of the frames in between.
        print(f"{'page':<10}{'p50 ms':>9}{'min ms':>9}{'max ms':>9}{'1st msg':>9}{'decode':>8}{'client':>8}{'frames':>8}")
        for page, values in warm.items():
            parts = warm_reruns.parts.get(page, [])
            first, decode, frames, client = (statistics.median(p[i] for p in parts) * (1 if i == 3 else 1000)
                                             if parts else float("nan") for i in (0, 2, 3, 4))
            print(f"{page:<10}{statistics.median(values) * 1000:>9.0f}{min(values) * 1000:>9.0f}"
                  f"{max(values) * 1000:>9.0f}{first:>9.1f}{decode:>8.1f}{client:>8.1f}{frames:>8.0f}")
        report_counts("warm", c)
        errors += len(c.errors)

        for n in args.sessions:
            client_before, servers_before = own_cpu(), [s.cpu() for s in servers]
            with profiled(servers, args.profile, f"N{n}"):
                times, c, wall = await concurrent(urls, n, args.rounds, args.step_timeout)
            client_cpu, server_cpu = own_cpu() - client_before, [s.cpu() - b for s, b in zip(servers, servers_before)]
            rss = f", server RSS {' + '.join(f'{s.rss():.0f}' for s in servers)} MB" if servers else ""
            print(f"\nN={n} sessions at once × {args.rounds} round(s) of 4 steps on {len(urls)} server(s): "
                  f"wall {wall:.1f} s, {c.reruns / wall:.1f} reruns/s{rss} ({load_average()})")
            # Client and servers share the machine's cores: what the bench itself used is CPU the servers lacked.
            servers_text = (f", server(s) {' + '.join(f'{s:.1f}' for s in server_cpu)} s "
                            f"({sum(server_cpu) / max(c.reruns, 1) * 1000:.0f} ms per rerun)") if servers else ""
            print(f"  CPU in the wave: bench client {client_cpu:.1f} s{servers_text}; "
                  f"{os.cpu_count()} cores × {wall:.1f} s wall = {os.cpu_count() * wall:.1f} s")
            print(f"{'step':<10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'count':>7}")
            for step, values in times.items():
                if values:
                    print(f"{step:<10}{pct(values, .5) * 1000:>9.0f}{pct(values, .95) * 1000:>9.0f}"
                          f"{max(values) * 1000:>9.0f}{len(values):>7}")
            report_counts(f"N={n}", c)
            errors += len(c.errors)

        if args.fresh:
            with profiled(servers[:1], args.profile, "fresh"):
                fresh, used, c = await fresh_sessions(urls[0], args.fresh, args.step_timeout,
                                                      servers[0].cpu if servers else None)
            print(f"\nnew sessions one after another, {args.fresh} visits of the four steps ({load_average()})")
            print(f"{'step':<10}{'p50 ms':>9}{'min ms':>9}{'CPU ms':>9}")
            for step, values in fresh.items():
                print(f"{step:<10}{statistics.median(values) * 1000:>9.0f}{min(values) * 1000:>9.0f}"
                      f"{used[step] / len(values) * 1000 if servers else float('nan'):>9.0f}")
            report_counts("fresh", c)
            errors += len(c.errors)

        if args.soak:
            sample = (lambda: sum(s.rss() for s in servers)) if servers else (lambda: float("nan"))
            samples, c, wall = await soak(urls, args.soak, args.step_timeout, sample)
            print(f"\nsoak: {c.reruns} reruns by {c.reruns // len(STEPS)} visits (10 at a time) in {wall:.1f} s "
                  f"({load_average()})")
            print("  server RSS MB after n reruns: " + ", ".join(f"{n}: {r:.0f}" for n, r in samples))
            report_counts("soak", c)
            errors += len(c.errors)
        for server in servers:
            print(f"\nserver peak RSS (VmHWM) {server.peak():.0f} MB, RSS at the end {server.rss():.0f} MB")
        print(f"errors in all phases: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
