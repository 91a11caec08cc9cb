"""Shared fixtures: the bundled target table and a fresh data folder per test."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from lib.config import BUNDLED_TARGETS
from lib.targets import load_targets

DOCUMENT = Path(__file__).resolve().parent.parent / "data" / "source" / "jining_2024_notice.txt"


def require_tool(path: str) -> None:
    """Skip when a system tool is missing locally; in CI a missing tool fails."""
    if not shutil.which(path) and not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is required in CI (installed by .ci/run)")
        pytest.skip(f"{path} not installed")


@pytest.fixture(scope="session")
def targets():
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
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER], check=True)
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


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.stop()


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


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A data folder with six months of demo submissions (built once per test session)."""
    from lib.demo import build_demo
    from lib.store import Store

    folder = tmp_path_factory.mktemp("demo") / "data"
    build_demo(Store(folder), months=6)
    return folder


@pytest.fixture(scope="session")
def reports_dir(demo_dir, tmp_path_factory):
    """The demo's six months of reports as real uploads (a store holding demo reports refuses real uploads)."""
    from tests.factory import as_real_reports

    folder = tmp_path_factory.mktemp("reports") / "data"
    shutil.copytree(demo_dir, folder)
    as_real_reports(folder)
    return folder


@pytest.fixture(scope="session")
def pg_demo(postgres_server, tmp_path_factory):
    """``demo_dir`` on PostgreSQL: (data folder, database URL) with the same six months of demo submissions, built
    once per session into a database of the session's cluster."""
    from lib.demo import build_demo
    from lib.store import Store

    folder = tmp_path_factory.mktemp("pgdemo") / "data"
    url = postgres_server.new_database()
    build_demo(Store(folder, url=url), months=6)
    close_pool(url)
    return folder, url


@pytest.fixture(scope="session")
def pg_reports(pg_demo, postgres_server, tmp_path_factory):
    """``reports_dir`` on PostgreSQL: a copy of ``pg_demo``'s database with its reports as real uploads. A template
    that ``demo_copy`` clones; nothing connects to it otherwise."""
    from tests.factory import as_real_reports

    folder = tmp_path_factory.mktemp("pgreports") / "data"
    shutil.copytree(pg_demo[0], folder)
    url = postgres_server.clone_database(pg_demo[1])
    as_real_reports(folder, url=url)
    close_pool(url)
    return folder, url


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
