"""No function over 80 lines outside bench/ and scripts/, unless its docstring says why it must be one piece.

A newcomer changing one rule should find it in a function that fits on a screen. A function that really is one
piece (a long table, a state machine read top to bottom) says so in its docstring with the words ``one piece``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 80
SKIPPED = {"bench", "scripts", ".git", "data", "test-artifacts", ".venv", "venv", "node_modules"}
# Paths (prefixes) still being split, exempt until then (none now: the store split of issue 18 has landed).
TEMPORARY: tuple[str, ...] = ()


def long_functions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    tops = [p for p in ROOT.iterdir() if p.name not in SKIPPED and not p.name.startswith(".")]
    paths = [p for top in tops for p in ([top] if top.suffix == ".py" else top.rglob("*.py") if top.is_dir() else [])]
    for path in sorted(paths):
        rel = path.relative_to(ROOT)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            if length > LIMIT and "one piece" not in (ast.get_docstring(node) or ""):
                found.setdefault(rel.as_posix(), []).append(f"{node.name} ({length} lines, line {node.lineno})")
    return found


def test_no_function_is_longer_than_eighty_lines():
    found = {path: names for path, names in long_functions().items() if not path.startswith(TEMPORARY)}
    assert not found, f"split these (or say in the docstring why each must be one piece): {found}"


def test_the_checker_finds_a_long_function(tmp_path, monkeypatch):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "long.py").write_text(f"def long():\n{body}\n\n\ndef whole():\n    '''Must be one piece: a table.'''\n{body}\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert long_functions() == {"lib/long.py": [f"long ({LIMIT + 1} lines, line 1)"]}
