"""A corpus of hostile and broken uploads, generated (not committed), each with its expected outcome.

``python -m tests.corpus.make_corpus OUT_DIR`` writes the files and an index
(expected.tsv) for manual checks; tests/test_corpus.py runs every case.
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from lib import config
from lib import schema as S
from tests.factory import edit, filled, rezip, row_of

UNIT = "市体育局"
ACCEPTED = "accepted"


@dataclass
class Case:
    name: str
    file_name: str
    make: Callable[[], bytes]
    expect: str  # ACCEPTED, or a phrase the single user-facing error message contains
    note: str = ""

    @cached_property
    def data(self) -> bytes:
        return self.make()


def _sheet_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read("xl/worksheets/sheet1.xml")


def _with_sheet(data: bytes, xml: bytes) -> bytes:
    return rezip(data, replace={"xl/worksheets/sheet1.xml": xml})


@lru_cache(maxsize=1)
def zip_bomb() -> bytes:
    """A 'workbook' whose one part inflates to 1 GB of zeros (about 1 MB on disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as handle:
            block = b"\0" * (1 << 20)
            for _ in range(1024):
                handle.write(block)
    return buffer.getvalue()


def build(targets) -> list[Case]:
    """Every case; a case's bytes are made when first read (``Case.data``), so listing the cases (the tests' ids, at
    collection in every test process) makes none of them."""
    @lru_cache(maxsize=1)
    def good() -> bytes:
        return filled(targets, UNIT)

    @lru_cache(maxsize=1)
    def sheet() -> bytes:
        return _sheet_xml(good())

    r = row_of(targets, UNIT, "P26-1", "任城区")
    cases = [
        Case("empty", "空.xlsx", lambda: b"", "文件为空"),
        Case("truncated", "截断.xlsx", lambda: good()[: len(good()) // 3], "损坏或不完整"),
        Case("zip-not-workbook", "照片.xlsx", lambda: rezip(good(), drop={"xl/workbook.xml", "[Content_Types].xml"}), "不是 Excel 工作簿"),
        Case("zip-bomb", "炸弹.xlsx", zip_bomb, "压缩炸弹"),
        Case("thousands-of-parts", "部件.xlsx", lambda: rezip(good(), add={f"xl/media/x{i}.bin": b"x" for i in range(3000)}), "内部部件"),
        Case("over-size-limit", "超大.xlsx", lambda: good() + b"\0" * (config.MAX_UPLOAD_BYTES + 1), "超过上限"),
        Case("renamed-csv", "报表.xlsx", lambda: "指标编号,累计完成\nP26-1,3\n".encode("gb18030"), "CSV"),
        Case("pdf", "报表.pdf", lambda: b"%PDF-1.7\n1 0 obj<<>>endobj", "PDF"),
        Case("xls-like-ole", "报表.xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, ".xls"),
        Case("encrypted-ole", "加密.xlsx", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptionInfo".encode("utf-16-le") + b"\0" * 600,
             "密码"),
        Case("billion-laughs", "实体.xlsx", lambda: rezip(good(), add={"xl/sharedStrings.xml": (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><sst><si><t>&lol3;</t></si></sst>')}), "DOCTYPE"),
        Case("external-entity", "外部实体.xlsx", lambda: _with_sheet(good(), b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
                                                            b'"file:///etc/passwd">]>' + sheet().split(b"?>", 1)[-1]), "DOCTYPE"),
        Case("malformed-xml", "坏XML.xlsx", lambda: _with_sheet(good(), sheet()[: len(sheet()) // 2]), "无法解析"),
        Case("million-rows", "百万行.xlsx", lambda: _with_sheet(good(), sheet().replace(b"</sheetData>", b'<row r="1000000"><c r="A1000000" t="n">'
                                                                       b"<v>1</v></c></row></sheetData>")), "超出合理范围"),
        Case("16384-columns", "万列.xlsx", lambda: _with_sheet(good(), sheet().replace(b"</sheetData>", b'<row r="9"><c r="XFD9" t="n"><v>1</v>'
                                                                      b"</c></row></sheetData>")), "超出合理范围"),
        Case("cells-without-position", "无位置.xlsx", lambda: _with_sheet(good(), sheet().replace(b"</sheetData>", b'<row r="9000">' +
                                                                          b"<c><v>1</v></c>" * 5000 + b"</row></sheetData>")),
             "超出合理范围", "cells without r go to the next column: 5,000 of them would make calamine build 45 M cells"),
        Case("far-cell-other-quoting", "单引号.xlsx", lambda: _with_sheet(good(), sheet().replace(b"</sheetData>", b"<row r='9'><c t='n' r = 'XFD9'>"
                                                                              b"<v>1</v></c></row></sheetData>")), "超出合理范围"),
        Case("formula-injection", "公式.xlsx", lambda: filled(targets, UNIT, overrides={("P26-1", "任城区"): {"进展情况": "=cmd|' /C calc'!A0"}}),
             "含公式"),
        Case("script-in-narrative", "脚本.xlsx", lambda: filled(targets, UNIT, overrides={("P26-1", "任城区"): {
            "进展情况": "<script>alert('x')</script> **粗体** [链接](http://example.invalid)"}}), ACCEPTED,
             "stored verbatim, shown as text"),
        Case("control-emoji-long", "长文本.xlsx", lambda: _control_characters(filled(targets, UNIT, overrides={("P26-1", "任城区"): {
            "存在问题": "CTRLMARK 😀 " + "很长的说明。" * 2000}})), ACCEPTED, "control characters dropped, text kept whole"),
        Case("date-in-number", "日期.xlsx", lambda: filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": "2024-03-01"}}),
             "不是单纯的数字"),
        Case("merged-input", "合并.xlsx", lambda: edit(good(), lambda ws, wb: ws.merge_cells(f"H{r}:H{r + 1}")), "累计完成未填写"),
        Case("hidden-rows", "隐藏行.xlsx", lambda: edit(good(), lambda ws, wb: setattr(ws.row_dimensions[r], "hidden", True)), ACCEPTED),
        Case("rows-reordered", "乱序.xlsx", lambda: edit(good(), _swap_rows(r, r + 3)), ACCEPTED),
        Case("unprotected-and-edited", "改目标.xlsx", lambda: edit(good(), _unprotect_and_set(f"G{r}", 99)), "锁定列“年度目标”被改动"),
    ]
    for label, name in [("dot-dot", "../../../../etc/passwd.xlsx"), ("absolute", "/etc/cron.d/x.xlsx"),
                        ("nul", "a\x00b.xlsx"), ("long-name", "长" * 300 + ".xlsx"), ("reserved", "CON.xlsx"),
                        ("windows-path", "C:\\Windows\\system32\\x.xlsx")]:
        cases.append(Case(f"name-{label}", name, good, ACCEPTED, "file name never used as a path"))
    return cases


def _control_characters(data: bytes) -> bytes:
    """Put a BEL control character in a shared string the way Excel escapes it (openpyxl refuses raw ones)."""
    return _with_sheet(data, _sheet_xml(data).replace(b"CTRLMARK", "控制_x0007_字符".encode()))


def _swap_rows(a: int, b: int):
    def fn(ws, wb):
        for col in range(1, len(S.FORM_COLUMNS) + 1):
            top, bottom = ws.cell(row=a, column=col), ws.cell(row=b, column=col)
            top.value, bottom.value = bottom.value, top.value
    return fn


def _unprotect_and_set(ref: str, value):
    def fn(ws, wb):
        ws.protection.sheet = False
        ws[ref] = value
    return fn


def main(argv: list[str]) -> int:
    from lib.targets import load_targets
    out = Path(argv[0] if argv else "corpus-out")
    out.mkdir(parents=True, exist_ok=True)
    lines = ["case\tfile\texpect"]
    for case in build(load_targets(config.BUNDLED_TARGETS)):
        (out / f"{case.name}.bin").write_bytes(case.data)
        lines.append(f"{case.name}\t{case.file_name!r}\t{case.expect}")
    (out / "expected.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines) - 1} cases to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
