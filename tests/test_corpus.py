"""Hostile and broken uploads: one clear Chinese message each, nothing stored on rejection, nothing run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import openpyxl.xml
import pytest

from lib import schema as S
from lib.config import BUNDLED_TARGETS
from lib.store import Store
from lib.submission import validate
from tests.corpus.make_corpus import ACCEPTED, build
from tests.factory import store_fingerprint

TODAY = date(2024, 12, 31)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus(targets):
    return {case.name: case for case in build(targets)}


def case_ids():
    from lib.targets import load_targets
    return [c.name for c in build(load_targets(BUNDLED_TARGETS))]


CASES = case_ids()
# The one error each refused case gets, by its stable code (lib/findings.py); the message is checked by phrase.
EXPECTED_CODES = {
    "empty": "file.empty", "truncated": "file.corrupt", "zip-not-workbook": "file.not_workbook", "zip-bomb": "file.unsafe",
    "thousands-of-parts": "file.unsafe", "over-size-limit": "file.too_large", "renamed-csv": "file.text", "pdf": "file.pdf",
    "xls-like-ole": "file.xls", "encrypted-ole": "file.encrypted", "billion-laughs": "file.unsafe",
    "external-entity": "file.unsafe", "malformed-xml": "file.corrupt", "million-rows": "layout.outside_extent",
    "16384-columns": "layout.outside_extent", "cells-without-position": "file.unsafe",
    "far-cell-other-quoting": "layout.outside_extent", "formula-injection": "layout.formula_in_input",
    "date-in-number": "value.not_number", "merged-input": "value.blank", "unprotected-and-edited": "row.locked_changed",
}


@pytest.fixture(scope="module")
def precious(corpus, targets, tmp_path_factory):
    """A store with something precious already stored (an earlier accepted file), made once per module for each
    earlier file and copied into each test's own data folder: every case's test starts from the same store without
    seeding a target table and validating the earlier file again (~0.2 CPU s a test)."""
    made = {}

    def stored(earlier: str) -> Path:
        if earlier not in made:
            folder = tmp_path_factory.mktemp("precious") / "data"
            folder.mkdir()
            shutil.copy(BUNDLED_TARGETS, folder / "targets.xlsx")
            outcome = Store(folder).ingest(corpus[earlier].data, "earlier.xlsx", targets=targets,
                                           received_at=datetime(2024, 4, 2))
            assert outcome.stored, [str(f) for f in outcome.result.findings]
            made[earlier] = folder
        return made[earlier]
    return stored


@pytest.mark.parametrize("name", CASES)
def test_case(name, corpus, targets, data_dir, precious):
    case = corpus[name]
    shutil.copytree(precious("hidden-rows" if name != "hidden-rows" else "rows-reordered"), data_dir,
                    dirs_exist_ok=True)  # something precious already stored (a private copy)
    store = Store(data_dir)
    before = store_fingerprint(data_dir)
    outcome = store.ingest(case.data, case.file_name, targets=targets, received_at=datetime(2024, 4, 3), today=TODAY)
    result = outcome.result  # no time limit here: speed is measured in bench/ingest.py, not asserted
    if case.expect == ACCEPTED:
        assert result.accepted, [str(f) for f in result.findings]
        assert outcome.submission_id is not None
        stored = store.submissions().set_index("id").loc[outcome.submission_id]
        assert stored["path"].startswith("submissions/2024/03/市体育局/")
        assert "/" not in stored["file_name"] and "\x00" not in stored["file_name"] and len(stored["file_name"]) <= 81
        assert not list(data_dir.parent.glob("etc")) and not (data_dir / "etc").exists()
    else:
        errors = result.errors
        assert errors, [str(f) for f in result.findings]
        assert case.expect in " ".join(f.message for f in errors)
        assert [f.code for f in errors] == [EXPECTED_CODES[name]]
        for finding in errors:
            assert "Traceback" not in finding.message and finding.message.strip()
        assert store_fingerprint(data_dir) == before  # nothing under data/ changed


def test_script_and_markdown_are_kept_verbatim(corpus, targets, data_dir):
    store = Store(data_dir)
    store.ingest(corpus["script-in-narrative"].data, "x.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    text = store.current_rows().set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "进展情况"]
    assert text.startswith("<script>alert('x')</script> **粗体**")


def test_control_characters_dropped_long_text_kept_whole(corpus, targets, data_dir):
    store = Store(data_dir)
    store.ingest(corpus["control-emoji-long"].data, "x.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    text = store.current_rows().set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "存在问题"]
    assert "\x07" not in text and "😀" in text and len(text) > 12000


MEASURE = """
import resource, sys
from datetime import date
from pathlib import Path
from lib.config import BUNDLED_TARGETS
from lib.submission import validate
from lib.targets import load_targets
targets = load_targets(BUNDLED_TARGETS)
files = [Path(p) for p in sys.argv[1:]]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in files:
    assert not validate(path.read_bytes(), path.name, targets, None, today=date(2024, 12, 31)).accepted, path.name
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_huge_sheet_is_rejected_in_bounded_memory(corpus, tmp_path):
    """Each hostile size case is refused, and the peak memory it adds is small: measured in a fresh process, whose
    peak RSS before validating is the imports' and the target table's alone (this process's peak is the suite's)."""
    files = []
    for name in ("million-rows", "16384-columns", "zip-bomb", "cells-without-position", "far-cell-other-quoting"):
        files.append(tmp_path / f"{name}.xlsx")
        files[-1].write_bytes(corpus[name].data)
    run = subprocess.run([sys.executable, "-c", MEASURE, *map(str, files)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    grown_mb = float(run.stdout.split()[-1])
    assert grown_mb < 200  # nothing was inflated to gigabytes


def test_openpyxl_parses_with_defusedxml():
    """The annotated copy opens uploads with openpyxl: it must use defusedxml."""
    assert openpyxl.xml.DEFUSEDXML is True


def test_calamine_does_not_expand_entities(targets, corpus):
    """Even past our DOCTYPE check, the Rust data reader does not expand entities (checked directly)."""
    import io

    from python_calamine import CalamineWorkbook, XmlError

    from tests.corpus.make_corpus import _sheet_xml, _with_sheet
    from tests.factory import xml_text
    good = corpus["hidden-rows"].data
    sheet = _sheet_xml(good)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>')
    # The cell text is written either as UTF-8 or as character references, depending on
    # whether openpyxl serialises with lxml (python-docx pulls it in) or ElementTree.
    target = xml_text(sheet, "按计划推进")
    hostile = _with_sheet(good, laughs + sheet.split(b"?>", 1)[-1].replace(target, b"&lol3;", 1))
    # calamine either refuses the sheet (safe) or reads it without expanding the entity.
    try:
        rows = CalamineWorkbook.from_filelike(io.BytesIO(hostile)).get_sheet_by_name(S.SHEET_FORM).to_python()
    except XmlError as exc:  # refusing the sheet is the safe outcome (today's calamine does this)
        assert "entity" in str(exc)
        rows = []
    text = "".join(str(v) for row in rows for v in row)
    assert "lollollol" not in text
    assert validate(hostile, "x.xlsx", targets, None, today=TODAY).errors  # and we refuse it anyway
