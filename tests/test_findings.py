"""The one table of problem kinds (lib/findings.py): every code has its messages, every message formats, every code
the rules use is in the table, the rules write no message text of their own, and docs/FINDINGS.md lists them all."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from lib import schema as S
from lib.findings import CODES, CONSTANTS, RESERVED_FIELDS, TARGET_CODES, finding, listing, markdown, message, template_fields
from lib.package import Rejected

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"
ALL = {**CODES, **TARGET_CODES}
VARIANTS = [(code, variant) for code, entry in ALL.items() for variant in entry.messages]
CODE = re.compile(r"^(file|layout|unit|template|period|row|value|state|progress|text|store|targets)\.[a-z_]+(\.[a-z_]+)?$")
# Where the rules build problems: lib/findings.py constructors and the modules' own thin wrappers around them.
BUILDERS = {"finding", "message", "Rejected", "bad", "target_problem", "_finding", "error", "warn", "NumberProblem"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _sample_fields(template: str) -> dict:
    """A value of the right kind for each field a template uses: numbers for :num/:pct/int formats, text else."""
    fields = {}
    for _, name, spec, _ in string.Formatter().parse(template):
        if not name or name in CONSTANTS:
            continue
        fields[name] = 1470860.0 if spec == "num" else 2 / 3 if spec == "pct" else 7 if spec else "某值"
    return fields


@pytest.mark.parametrize("code, variant", VARIANTS)
def test_every_message_formats_with_the_fields_its_template_declares(code, variant):
    text = ALL[code].messages[variant]
    names = template_fields(text)
    assert not names & RESERVED_FIELDS, f"{code}: a field named like the finding's location: {names & RESERVED_FIELDS}"
    assert all(n in CONSTANTS for n in names if n.isupper()), f"{code}: an upper-case name that is not a constant"
    out = message(code, variant, **_sample_fields(text))
    assert CJK.search(out) and "{" not in out and "}" not in out
    assert not re.search(r"None|nan|e\+\d", out), out
    assert ALL[code].description.strip(), f"{code} has no English description"


def test_a_missing_unused_or_misspelt_field_fails_loudly():
    assert message("value.negative", value=-2.0) == "累计完成为负数（-2）。请填写不小于 0 的累计数。"
    with pytest.raises(ValueError, match="missing fields"):
        message("value.negative")
    with pytest.raises(ValueError, match="unused"):
        message("value.negative", value=-2.0, unit="处")
    with pytest.raises(ValueError, match="unknown finding code"):
        message("value.no_such_code")
    with pytest.raises(ValueError, match="no message variant"):
        message("file.unsafe", "no_such_variant")
    with pytest.raises(ValueError, match="no message variant"):
        message("file.unsafe")  # a code of several shapes has no default message
    with pytest.raises(ValueError, match="unknown finding code"):
        finding("targets.sheet_missing", S.LEVEL_ERROR)  # a target-table code is not an upload finding


def test_a_float_must_be_written_with_the_projects_number_formats():
    """A float in a plain field would print 1470860.0 or 0.6666666666666666: the table refuses it."""
    with pytest.raises(ValueError, match=":num"):
        message("row.duplicate", row=7.0)


def test_messages_write_millions_with_every_digit_and_percentages_with_one_decimal():
    text = message("value.city_total_mismatch", total=1470860.0, parts=1470861.0)
    assert "全市合计 1,470,860 与各县市区之和 1,470,861 不一致" in text  # :g wrote both as 1.47086e+06
    assert "仅 66.7%" in message("state.done_below_target", rate=2 / 3)
    assert "的 153.4%（超过 150%）" in message("value.over_target", value=1534.0, target=1000.0, share=1.534)
    behind = message("progress.behind_unexplained", rate=0.305, planned=0.5)
    assert behind.startswith("完成率 30.5% 落后于序时进度 50.0%，")


def test_a_long_list_in_a_message_names_the_first_five_and_the_count():
    rows = listing([f"P26-{i} 任城区" for i in range(1, 8)], "行")
    text = message("row.missing", rows=rows)
    assert text.startswith("缺少指标行“P26-1 任城区”、“P26-2 任城区”") and "“P26-6" not in text and " 等 7 行。" in text
    assert listing(["P26-4 任城区"], "行") == "“P26-4 任城区”"


def test_a_finding_carries_its_code_location_and_the_tables_message():
    f = finding("value.blank", S.LEVEL_ERROR, file="a.xlsx", sheet=S.SHEET_FORM, cell="H7", indicator="P26-1",
                county="任城区")
    assert (f.code, f.cell, f.message) == ("value.blank", "H7", CODES["value.blank"].messages[""])
    assert str(f).startswith(f"[错误] a.xlsx · 工作表“{S.SHEET_FORM}” · H7（P26-1/任城区）：累计完成未填写")


def test_a_refusal_of_the_package_reads_its_message_from_the_table():
    reject = Rejected("file.unsafe", "parts", parts=500)
    assert reject.code == "file.unsafe" and str(reject) == message("file.unsafe", "parts", parts=500)
    assert "500 个内部部件" in str(reject)


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            argparse = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "parser"
            if name in BUILDERS and not argparse:  # parser.error(...) is a CLI's usage message, not a finding
                yield node


def _strings(node: ast.AST):
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _lib_sources():
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(LIB.rglob("*.py"))
            if path.name != "findings.py"]


def test_every_code_the_rules_use_is_in_the_table_and_every_code_in_the_table_is_used():
    used: dict[str, str] = {}
    for path, tree in _lib_sources():
        for call in _calls(tree):
            for arg in [*call.args, *(k.value for k in call.keywords if k.arg in ("code", None))]:
                for text in _strings(arg):
                    if CODE.match(text):
                        used.setdefault(text, f"{path.relative_to(ROOT)}:{call.lineno}")
    assert len(used) > 80, "the walk found too few codes: has the way rules build findings changed?"
    unknown = {code: where for code, where in used.items() if code not in ALL}
    assert not unknown, f"codes used in lib/ but missing from lib/findings.py: {unknown}"
    unused = sorted(set(ALL) - set(used))
    assert not unused, f"codes in lib/findings.py that no rule raises (remove them, or raise them): {unused}"


def test_the_rules_write_no_message_text_of_their_own():
    """Chinese sentences handed to a finding, a refusal or a target problem come from the table, not the rule."""
    found = []
    for path, tree in _lib_sources():
        for call in _calls(tree):
            for text in _strings(call):
                if CJK.search(text) and any(mark in text for mark in "。，；："):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {text[:30]}")
    assert not found, "message text beside a rule (move it into lib/findings.py):\n" + "\n".join(found)


def test_only_the_table_builds_findings_and_target_problems():
    direct = [f"{path.relative_to(ROOT)}:{node.lineno}" for path, tree in _lib_sources() for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("Finding", "TargetProblem")
              and not (path.name == "targets.py" and node.func.id == "TargetProblem")]
    assert not direct, f"build findings with lib.findings.finding(code, …): {direct}"


def test_docs_list_every_code_with_its_message():
    doc = (ROOT / "docs" / "FINDINGS.md").read_text(encoding="utf-8")
    assert doc == markdown(), "docs/FINDINGS.md is stale: run python -m lib.findings > docs/FINDINGS.md"
    for code in ALL:
        assert f"`{code}`" in doc
