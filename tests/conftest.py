"""Shared fixtures: the bundled target table and a fresh data folder per test."""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lib.config import BUNDLED_TARGETS

DOCUMENT = Path(__file__).resolve().parent.parent / "data" / "source" / "jining_2024_notice.txt"


def require_tool(path: str) -> None:
    """Skip when a system tool is missing locally; in CI a missing tool fails."""
    if not shutil.which(path) and not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is required in CI (installed by .ci/run)")
        pytest.skip(f"{path} not installed")


@pytest.fixture(scope="session")
def targets():
    from lib.targets import load_targets  # here, not at the top: the xdist controller loads this file and never
    # uses pandas; importing it there (~1.5 CPU s) held back the start of both workers
    return load_targets(BUNDLED_TARGETS)


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(BUNDLED_TARGETS, folder / "targets.xlsx")
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    return folder


# Debian's postgresql package installs its binaries under a versioned folder (15 on bookworm): take the newest.
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
             default=Path("/usr/lib/postgresql/15/bin"))
PG_USER = "livelihood-pg"  # the throw-away cluster never runs as root (PostgreSQL refuses to)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_pg_user() -> dict:
    """subprocess arguments that run a PostgreSQL binary as a non-root user (created with useradd if needed)."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER])
        if made.returncode not in (0, 9):  # 9: another test worker created it a moment ago
            raise RuntimeError(f"useradd {PG_USER} failed with exit code {made.returncode}") from None
    return {"user": PG_USER, "group": pwd.getpwnam(PG_USER).pw_gid}


class PostgresServer:
    """One throw-away cluster per test session: a socket in a temp folder, a port on 127.0.0.1 only, trust auth,
    no fsync (a test cluster's durability is not under test). Each test gets a fresh database."""

    def __init__(self, durable: bool = False):
        require_tool(str(PG_BIN / "initdb"))
        self.root = Path(tempfile.mkdtemp(prefix="livelihood-pg-"))
        self.port = _free_port()
        run_as = _as_pg_user()
        if run_as:
            os.chown(self.root, pwd.getpwnam(PG_USER).pw_uid, run_as["group"])
        data = self.root / "data"
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True, **run_as)
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not durable:  # tests; bench/ingest.py's PostgreSQL run keeps the defaults (fsync on every commit)
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"), "-o", options, "-w",
                        "start"], check=True, capture_output=True, **run_as)
        self._run_as, self._data, self._n = run_as, data, 0
        self.admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def describe(self) -> dict:
        return {"root": str(self.root), "port": self.port, "run_as": self._run_as, "data": str(self._data)}

    @classmethod
    def attach(cls, info: dict) -> PostgresServer:
        """The cluster another process of this test run started (``describe()``); database names carry the pid."""
        server = cls.__new__(cls)
        server.root, server.port, server._run_as, server._data = Path(info["root"]), info["port"], info["run_as"], \
            Path(info["data"])
        server._n = 0
        server.admin = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        return server

    def new_database(self, template: str | None = None) -> str:
        """A fresh, empty database (or a copy of the database at URL ``template``); returns its URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        copy = f" TEMPLATE {template.rsplit('/', 1)[1]}" if template else ""
        with psycopg.connect(self.admin, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}{copy}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def clone_database(self, template: str) -> str:
        """A fresh database holding a copy of ``template`` (PostgreSQL copies the files: no rebuild). The template's
        connection pool of this process is closed first (a template must have no open connections)."""
        close_pool(template)
        return self.new_database(template)

    def drop_database(self, url: str) -> None:
        import psycopg

        close_pool(url)
        with psycopg.connect(self.admin, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "stop"],
                       capture_output=True, **self._run_as)
        shutil.rmtree(self.root, ignore_errors=True)


def close_pool(url: str) -> None:
    """Close this process's connection pool of ``url`` (lib.store keeps one per URL)."""
    from lib.store.core import _DATABASES

    pool = _DATABASES.pop(url, None)
    if pool is not None:
        pool.close()


SHARED_CLUSTER = "postgres.json"  # in shared_root(): the cluster the xdist workers of a run share


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """The run's throw-away cluster. Under pytest-xdist the first worker that needs it starts it and every worker
    uses it (each test still gets databases of its own); the controller stops it at the end of the run."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        server = PostgresServer()
        yield server
        server.stop()
        return
    info = built_once(tmp_path_factory, "postgres",
                      lambda folder: (folder / SHARED_CLUSTER).write_text(json.dumps(PostgresServer().describe())))
    yield PostgresServer.attach(json.loads((info / SHARED_CLUSTER).read_text()))


_COMPILING: list[subprocess.Popen] = []


def pytest_configure(config):
    """The run's first process byte-compiles the project's modules, in the background, for every process after it.
    Where PYTHONDONTWRITEBYTECODE is set (this machine and its CI set it), Python never writes a module's compiled
    form, so every process the tests start (each live server, CLI run and worker) compiled lib/, ui/ and the rest
    from source again: ~0.3 CPU s each. compileall writes them anyway (each file whole, by rename); an import reads
    them whatever the variable says. Caches only: __pycache__/ is ignored by git."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    root = Path(__file__).resolve().parent.parent
    _COMPILING.append(subprocess.Popen([sys.executable, "-m", "compileall", "-q", "lib", "ui", "pages", "tests", "bench",
                                        "app.py"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def pytest_sessionfinish(session):
    """The controller of an xdist run stops the cluster its workers shared (after every worker has finished)."""
    for compiling in _COMPILING:
        compiling.wait()
    if os.environ.get("PYTEST_XDIST_WORKER") or not hasattr(session.config, "_tmp_path_factory"):
        return
    info = session.config._tmp_path_factory.getbasetemp() / "postgres" / SHARED_CLUSTER
    if info.exists():
        PostgresServer.attach(json.loads(info.read_text())).stop()


# The files that take longest, longest first (wall seconds of a quiet run, see docs/TESTING.md "Suite time"). The
# xdist workers take whole files in collection order (pyproject: --dist loadfile --no-loadscope-reorder), so these start
# first and the many short files fill in around them and at the end, instead of a long file starting last (the last
# file's length is what one worker may wait for another: every file of ~7 s or more is listed). The browser files are one
# unit of work (``pytest_xdist_make_scheduler`` below), handed out where the first of them stands and run in this order;
# test_bench builds no demo store, so its worker works while the other builds the one the browser tests share.
LONGEST_FIRST = (
    "tests/browser/test_workflow.py",
    "tests/test_bench.py",
    "tests/browser/test_every_page.py",
    "tests/browser/test_access.py",
    "tests/browser/test_publish.py",
    "tests/browser/test_ledger.py",
    "tests/test_robustness.py",
    "tests/browser/test_servers.py",
    "tests/test_ledger_page.py",
    "tests/test_publish_pages.py",
    "tests/test_pages.py",
    "tests/test_store.py",
    "tests/test_auth.py",
    "tests/test_report.py",
    "tests/test_ledger.py",
    "tests/test_demo.py",
    "tests/test_progress.py",
    "tests/test_publish.py",
    "tests/test_submission.py",
    "tests/test_targets.py",
    "tests/test_years.py",
    "tests/test_template.py",
    "tests/test_corpus.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadfile``: the browser files are one unit of work, so one worker runs them all, one after the
    other, while the others run the rest. A browser test waits on Chromium's one renderer thread and on its live
    server much of the time (one alone keeps ~1.1 of the 2 cores busy); beside workers that only compute, that wait
    is filled, where two browser files side by side left a fifth of the machine idle. One worker also launches
    Chromium once and keeps one tab, whose renderer has the frontend compiled (tests/browser/live.py)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserFilesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/browser" if nodeid.startswith("tests/browser/") else super()._split_scope(nodeid)

    return BrowserFilesTogether(config, log)


def pytest_collection_modifyitems(items):
    """Order the files ``LONGEST_FIRST``, then the rest as collected (a stable sort: a file's tests keep their order)."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def _use_backend(request, patch: pytest.MonkeyPatch):
    if request.param == "sqlite":
        patch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
        yield "sqlite"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    patch.setenv("LIVELIHOOD_DATABASE_URL", url)
    yield "postgres"
    server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, monkeypatch):
    """Run the test on both store backends: the embedded SQLite, and PostgreSQL (a fresh database of the
    session's throw-away cluster, selected by LIVELIHOOD_DATABASE_URL as an operator would). Skips the PostgreSQL
    variant without its binaries locally; fails it in CI."""
    yield from _use_backend(request, monkeypatch)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_backend(request):
    """``backend`` for module-scoped fixtures (one store built once per module and backend)."""
    with pytest.MonkeyPatch.context() as patch:
        yield from _use_backend(request, patch)


def shared_root(tmp_path_factory) -> Path:
    """The folder all pytest-xdist workers of one run share (their basetemps are its subfolders); the run's
    basetemp when there are no workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` once per test run however many xdist workers ask: the first builds under a file lock,
    the others wait for it and get the same folder. Read-only for the caller: copy it before changing it."""
    root = shared_root(tmp_path_factory)
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _build_demo(folder: Path) -> None:
    from lib.demo import build_demo
    from lib.store import Store

    build_demo(Store(folder / "data"), months=6)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A data folder with six months of demo submissions: built once per run (``built_once``), a private copy
    per session (per xdist worker)."""
    folder = tmp_path_factory.mktemp("demo") / "data"
    shutil.copytree(built_once(tmp_path_factory, "demo", _build_demo) / "data", folder)
    return folder


@pytest.fixture(scope="session")
def reports_dir(tmp_path_factory):
    """The demo's six months of reports as real uploads (a store holding demo reports refuses real uploads):
    built once per run from the demo, a private copy per session (per xdist worker)."""
    from tests.factory import as_real_reports

    def build(folder: Path) -> None:
        shutil.copytree(built_once(tmp_path_factory, "demo", _build_demo) / "data", folder / "data")
        as_real_reports(folder / "data")

    folder = tmp_path_factory.mktemp("reports") / "data"
    shutil.copytree(built_once(tmp_path_factory, "reports", build) / "data", folder)
    return folder


def _pg_built_once(tmp_path_factory, server: PostgresServer, name: str, build, source=None) -> tuple[Path, str]:
    """``built_once`` for a store on PostgreSQL: a data folder (a copy of ``source``'s, if given) and a database of
    the run's cluster (a copy of ``source``'s, else empty) that ``build(folder, url)`` fills, once per run; returns
    (folder, url). The database is a template: nothing may stay connected to it."""
    def make(folder: Path) -> None:
        if source:
            shutil.copytree(source[0], folder / "data")
        url = server.new_database(source[1] if source else None)
        build(folder / "data", url)
        close_pool(url)
        (folder / "url").write_text(url)

    shared = built_once(tmp_path_factory, name, make)
    return shared / "data", (shared / "url").read_text()


def _pg_demo_template(tmp_path_factory, server: PostgresServer) -> tuple[Path, str]:
    from lib.demo import build_demo
    from lib.store import Store

    return _pg_built_once(tmp_path_factory, server, "pgdemo", lambda f, url: build_demo(Store(f, url=url), months=6))


def _private_copy(tmp_path_factory, server: PostgresServer, name: str, template: tuple[Path, str]) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(template[0], folder)
    return folder, server.new_database(template[1])


@pytest.fixture(scope="session")
def pg_demo(postgres_server, tmp_path_factory):
    """``demo_dir`` on PostgreSQL: (data folder, database URL) with the same six months of demo submissions, built
    once per run into a database of the run's cluster; a private copy (a clone of the database) per session."""
    return _private_copy(tmp_path_factory, postgres_server, "pgdemo", _pg_demo_template(tmp_path_factory, postgres_server))


@pytest.fixture(scope="session")
def pg_reports(postgres_server, tmp_path_factory):
    """``reports_dir`` on PostgreSQL: a copy of the demo's database with its reports as real uploads, built once per
    run, a private clone per session. A template that ``demo_copy`` clones; nothing connects to it otherwise."""
    from tests.factory import as_real_reports

    template = _pg_built_once(tmp_path_factory, postgres_server, "pgreports",
                              lambda folder, url: as_real_reports(folder, url=url),
                              source=_pg_demo_template(tmp_path_factory, postgres_server))
    return _private_copy(tmp_path_factory, postgres_server, "pgreports", template)


def on_backend(request, monkeypatch, sqlite_fixture: str, postgres_fixture: str) -> Path:
    """Point LIVELIHOOD_DATA_DIR (and LIVELIHOOD_DATABASE_URL) at the session store of the backend a test asked for
    with ``@pytest.mark.parametrize("<fixture>", ["sqlite", "postgres"], indirect=True)``: ``sqlite_fixture``'s
    folder, or ``postgres_fixture``'s (folder, URL). SQLite when the test did not ask."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        folder = request.getfixturevalue(sqlite_fixture)
        monkeypatch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
    else:
        assert backend == "postgres", backend
        folder, url = request.getfixturevalue(postgres_fixture)
        monkeypatch.setenv("LIVELIHOOD_DATABASE_URL", url)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    return folder


def both_backends(fixture: str):
    """Run a test on SQLite and on PostgreSQL: ``fixture`` is ``demo_copy`` or a fixture built on ``on_backend``.
    For the tests that show a backend's part in what a page does; the rest run on SQLite only."""
    return pytest.mark.parametrize(fixture, ["sqlite", "postgres"], indirect=True)


@pytest.fixture()
def demo_copy(request, tmp_path, monkeypatch):
    """A private copy of the demo's reports, held as real uploads, for tests that change data (and upload);
    LIVELIHOOD_DATA_DIR points at it. Tests of the demo itself use ``demo_dir``. On SQLite unless the test asks
    for PostgreSQL (``parametrize("demo_copy", ["sqlite", "postgres"], indirect=True)``): then a private clone of
    ``pg_reports``'s database, dropped after the test."""
    if getattr(request, "param", "sqlite") == "postgres":
        server = request.getfixturevalue("postgres_server")
        source, template = request.getfixturevalue("pg_reports")
        folder = tmp_path / "data"
        shutil.copytree(source, folder)
        url = server.clone_database(template)
        monkeypatch.setenv("LIVELIHOOD_DATABASE_URL", url)
        monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
        yield folder
        server.drop_database(url)
        from lib.store import DB_NAME

        assert not (folder / DB_NAME).exists()  # the pages used PostgreSQL, never a SQLite file of the folder
        return
    folder = tmp_path / "data"
    shutil.copytree(request.getfixturevalue("reports_dir"), folder)
    monkeypatch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    yield folder


@pytest.fixture(scope="session", autouse=True)
def installed_components_scanned_once():
    """Scan the installed packages for Streamlit components once per test process, as a server does once at its start
    (``Runtime.__init__``). Every ``AppTest`` makes a new component manager that scans them again (~0.4 CPU s each:
    the metadata of every installed distribution is parsed), and the suite makes hundreds of AppTests; the packages
    installed do not change during a run."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found = scan()
    manifest_scanner.scan_component_manifests = lambda max_workers=None: list(found)
    yield
    manifest_scanner.scan_component_manifests = scan


@pytest.fixture(scope="session", autouse=True)
def page_scripts_compiled_once():
    """One ScriptCache for every AppTest run of the test process, as a server keeps one for its lifetime (and keeps
    its scripts without a file watcher: ui.server.keep_scripts). AppTest makes a new one per run, so every run read,
    rewrote (Streamlit's magic: an AST pass) and compiled app.py and the page again: ~30 % of a warm rerun of the
    ledger page. The scripts do not change during a test run; a script at another path is compiled as before."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test

    made, kept = app_test.ScriptCache, ScriptCache()
    app_test.ScriptCache = lambda: kept
    yield
    app_test.ScriptCache = made


@pytest.fixture(autouse=True)
def navigation_mode(request, monkeypatch):
    """Run pages the way a live server does once app.py has called st.navigation.

    AppTest resets Streamlit's legacy "pages/ folder" flag before every run, so
    with a folder named pages/ every switched-to page would run without app.py
    (legacy mode). A live server clears that flag for good at the first
    st.navigation call. Tests marked ``legacy_pages`` keep AppTest's behaviour,
    which is also what a server does for a first request straight to a page URL.
    """
    if request.node.get_closest_marker("legacy_pages"):
        return
    from streamlit.runtime.pages_manager import PagesManager
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False
    monkeypatch.setattr(PagesManager, "__init__", init)
