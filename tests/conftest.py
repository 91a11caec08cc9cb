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


@pytest.fixture()
def demo_copy(demo_dir, tmp_path, monkeypatch):
    """A private copy of the demo folder for tests that change data; LIVELIHOOD_DATA_DIR points at it."""
    folder = tmp_path / "data"
    shutil.copytree(demo_dir, folder)
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(folder))
    return folder
