"""House rules that keep CI honest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- test-command -->\s*```(?:bash|sh)?\n(.+?)\n```", text, re.S)
    assert match, "README.md must show the test command in a fenced block after <!-- test-command -->"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_test_command() in ci.splitlines()


def test_lib_never_imports_streamlit():
    for path in (ROOT / "lib").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import streamlit|from streamlit)", text, re.M), path


def test_the_lock_pins_every_top_level_requirement_with_hashes():
    """requirements.lock (what README and CI install) holds each pin of requirements*.txt at the same version."""
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    locked = {m[1].lower().replace("_", "-"): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M)}
    assert locked and lock.count("--hash=sha256:") >= len(locked)
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            pin = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s#;]+)", line)
            if pin:
                key = pin[1].lower().replace("_", "-")
                assert locked.get(key) == pin[2], f"{name}: {pin[0]} is not in requirements.lock; refresh it (README)"
