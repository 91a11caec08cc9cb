"""Shared fixtures: the bundled target table and a fresh data folder per test."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture()
def demo_copy(reports_dir, tmp_path, monkeypatch):
    """A private copy of the demo's reports, held as real uploads, for tests that change data (and upload);
    LIVELIHOOD_DATA_DIR points at it. Tests of the demo itself use ``demo_dir``."""
    folder = tmp_path / "data"
    shutil.copytree(reports_dir, folder)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    return folder


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
