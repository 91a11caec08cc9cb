"""Parse and validate an uploaded monthly workbook.

``validate(data, file_name, targets, store)`` never raises on bad input: every
problem becomes a Finding (错误 blocks the file, 提醒 does not) naming the
file, sheet, cell and row, with a Chinese message saying what to fix.

Reading is done in three cheap passes: zip-level checks on the raw bytes
(size caps before anything inflates; only the parts the reader needs are
inflated, with caps on their actual sizes), one scan of the sheets' XML for
formulas and for cells outside the allowed extent, and python-calamine (Rust),
handed an uncompressed package of just those parts, for the cell values.
openpyxl is never used on uploads here. ``validate_many`` spreads files over
processes for the batch path.
"""

from __future__ import annotations

import html
import io
import json
import multiprocessing
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import pandas as pd
from python_calamine import CalamineWorkbook

from lib import config
from lib import schema as S
from lib.calendar import add_months
from lib.findings import Finding
from lib.status import classify, completion_rate, done_at, is_behind, planned_share
from lib.targets import Targets
from lib.template import COLUMN_LETTER, HEADER_CELLS

INPUT_LETTERS = {COLUMN_LETTER[c] for c in S.INPUT_FORM_COLUMNS}
COL_INDEX = {name: i for i, name in enumerate(S.FORM_COLUMNS)}
LOCKED_CHECKED = ["项目序号", "项目名称", "指标名称", "计量单位", "年度目标"]


@dataclass
class ValidationResult:
    file_name: str
    findings: list[Finding] = field(default_factory=list)
    unit: str | None = None
    year: int | None = None
    month: int | None = None
    filler: str = ""
    phone: str = ""
    fill_date: str = ""
    template_version: str = ""
    targets_version: str = ""
    has_macros: bool = False
    is_workbook: bool = False  # an annotated copy can be produced
    # One tuple per (指标编号, 县市区), fields as ROW_COLUMNS. Plain tuples on the upload
    # path: building a DataFrame per file cost more than every rule together.
    row_records: list[tuple] | None = None
    _rows_frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def rows(self) -> pd.DataFrame | None:
        """The accepted rows as a DataFrame (ROW_COLUMNS), built on first use."""
        if self.row_records is None:
            return None
        if self._rows_frame is None:
            frame = pd.DataFrame(self.row_records, columns=ROW_COLUMNS)
            frame["累计完成"] = frame["累计完成"].astype("float64")
            self._rows_frame = frame
        return self._rows_frame

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == S.LEVEL_ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == S.LEVEL_WARNING]

    @property
    def accepted(self) -> bool:
        return not self.errors and self.row_records is not None

    @property
    def period(self) -> str:
        return f"{self.year}-{self.month:02d}" if self.year and self.month else ""

    def findings_json(self) -> str:
        """Findings as a JSON list of records (Chinese keys), as kept with each stored file."""
        keys = {"level": "级别", "file": "文件", "sheet": "工作表", "cell": "单元格", "indicator": "指标编号",
                "county": "县市区", "message": "问题与修改方法", "code": "代码"}
        return json.dumps([{keys[k]: v for k, v in asdict(f).items()} for f in self.findings], ensure_ascii=False)

    def findings_frame(self) -> pd.DataFrame:
        cols = ["level", "file", "sheet", "cell", "indicator", "county", "message"]
        frame = pd.DataFrame([asdict(f) for f in self.findings], columns=cols)
        return frame.rename(columns={"level": "级别", "file": "文件", "sheet": "工作表", "cell": "单元格",
                                     "indicator": "指标编号", "county": "县市区", "message": "问题与修改方法"})


ROW_COLUMNS = ["指标编号", "县市区", "累计完成", "进展状态", "进展情况", "存在问题", "下步计划", "行号"]


class _Reject(Exception):
    """Stops validation early with one file-level finding (message, code, sheet, cell)."""

    def __init__(self, message: str, code: str = "file.unknown", sheet: str = "", cell: str = ""):
        super().__init__(message)
        self.code, self.sheet, self.cell = code, sheet, cell


def _finding(result, level, message, sheet="", cell="", indicator="", county="", code=""):
    result.findings.append(Finding(level, message, result.file_name, sheet, cell, indicator, county, code))


# --- pass 1: what kind of file is it ------------------------------------------

def _sniff(data: bytes, file_name: str, result: ValidationResult) -> None:
    name = file_name.lower()
    if not data:
        raise _Reject("文件为空（0 字节）。请重新导出或重新保存后上传。", "file.empty")
    if len(data) > config.MAX_UPLOAD_BYTES:
        raise _Reject(f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过上限 {config.MAX_UPLOAD_BYTES // 1024 // 1024} MB。"
                      "标准模板通常不足 100 KB，请检查是否粘贴了图片或大量无关内容。", "file.too_large")
    head = data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
            raise _Reject("工作簿设置了打开密码（已加密），系统无法读取。请在 Excel/WPS 中取消密码（文件 → 信息 → 保护工作簿）后重新上传。", "file.encrypted")
        raise _Reject("这是旧版 Excel 97-2003 格式（.xls）。请用 Excel/WPS 打开后“另存为”Excel 工作簿（.xlsx）再上传，"
                      "最好直接使用系统下发的模板。", "file.xls")
    if head.startswith(b"%PDF"):
        raise _Reject("这是 PDF 文件，不是 Excel 工作簿。请上传填写好的 .xlsx 模板，而不是打印或导出的 PDF。", "file.pdf")
    if not head.startswith(b"PK"):
        if name.endswith((".csv", ".txt")) or _looks_like_text(data):
            raise _Reject("这是文本/CSV 文件（可能由 .csv 改名而来），不是 Excel 工作簿。请使用系统下发的 .xlsx 模板填写后上传。", "file.text")
        raise _Reject("无法识别的文件格式，不是 Excel 工作簿（.xlsx）。请使用系统下发的模板填写后上传。", "file.unknown")


def _looks_like_text(data: bytes) -> bool:
    """Text in UTF-8 or GB18030, judged on the first 4 KB (a character the cut splits in two is left out)."""
    sample = data[:4096]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError as exc:
            # A multi-byte character cut in two at the end of the sample: judge the text before it.
            if len(sample) < len(data) and exc.start >= len(sample) - 4 and exc.end == len(sample):
                try:
                    text = sample[:exc.start].decode(encoding)
                except UnicodeDecodeError:
                    continue
            else:
                continue
        return all(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return False


def _open_zip(data: bytes, result: ValidationResult) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, OSError, ValueError, EOFError):
        raise _Reject("文件已损坏或不完整（压缩包无法打开，可能是下载或拷贝中断）。请重新保存原文件后上传。", "file.corrupt") from None
    if len(infos) > config.MAX_ZIP_PARTS:
        raise _Reject(f"工作簿包含 {len(infos)} 个内部部件，超过上限 {config.MAX_ZIP_PARTS}，不像标准模板。请使用系统下发的模板。", "file.unsafe")
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        if "content.xml" in names and "mimetype" in names:
            raise _Reject("这是 OpenDocument 表格（.ods，WPS/LibreOffice 的默认格式），不是 Excel 工作簿。"
                          "请在 WPS/LibreOffice 中“另存为” Excel 工作簿（.xlsx）后上传，最好直接使用系统下发的模板。", "file.ods")
        raise _Reject("这是一个压缩包，但不是 Excel 工作簿（缺少工作簿结构）。请上传 .xlsx 文件，多个文件请分别上传或打包为 .zip。",
                      "file.not_workbook")
    declared = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos) or 1
    if declared > config.MAX_UNCOMPRESSED_BYTES or any(i.file_size > config.MAX_PART_BYTES for i in infos):
        raise _Reject("工作簿解压后体积异常巨大（疑似“压缩炸弹”），已拒绝。请使用系统下发的模板重新填写。", "file.unsafe")
    if declared / compressed > config.MAX_COMPRESSION_RATIO and declared > 1024 * 1024:
        raise _Reject("工作簿压缩比异常（疑似“压缩炸弹”），已拒绝。请使用系统下发的模板重新填写。", "file.unsafe")
    if any(i.flag_bits & 0x1 for i in infos):
        raise _Reject("工作簿内容已加密，系统无法读取。请取消密码后重新上传。", "file.encrypted")
    result.has_macros = "xl/vbaProject.bin" in names
    return zf


_CORRUPT = "文件已损坏（压缩数据校验失败），可能是下载或拷贝中断。请重新保存原文件后上传。"
_TOO_BIG = "工作簿解压后体积超过上限（疑似“压缩炸弹”），已拒绝。请使用系统下发的模板重新填写。"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


def _inflate(data: bytes, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One part, inflated up to the cap on its actual (not declared) size, CRC checked.

    Deflated and stored parts are read straight from the central directory's
    offsets with zlib: zipfile's reader costs ~40 µs of Python per part, more
    than the inflation itself. Anything else goes through zipfile.
    """
    cap = config.MAX_PART_BYTES
    try:
        if info.compress_type in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
            head = _LOCAL_HEADER.unpack_from(data, info.header_offset)
            if head[0] != b"PK\x03\x04":
                raise _Reject(_CORRUPT, "file.corrupt")
            start = info.header_offset + _LOCAL_HEADER.size + head[-2] + head[-1]
            raw = data[start:start + info.compress_size]
            if info.compress_type == zipfile.ZIP_STORED:
                body = raw[:cap + 1]
            else:
                inflater = zlib.decompressobj(-15)
                body = inflater.decompress(raw, cap + 1)
            if len(body) > cap:
                raise _Reject(_TOO_BIG, "file.unsafe")
            if len(body) != info.file_size or zlib.crc32(body) != info.CRC:
                raise _Reject(_CORRUPT, "file.corrupt")
            return body
        with zf.open(info) as handle:
            body = handle.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, ValueError, NotImplementedError):
        raise _Reject(_CORRUPT, "file.corrupt") from None
    if len(body) > cap:
        raise _Reject(_TOO_BIG, "file.unsafe")
    return body


def _keep(parts: dict[str, bytes], name: str, body: bytes) -> None:
    """Add an inflated part, within the cap on the workbook's total and with an XML prologue Excel would write."""
    if len(body) + sum(map(len, parts.values())) > config.MAX_UNCOMPRESSED_BYTES:
        raise _Reject(_TOO_BIG, "file.unsafe")
    # Excel never writes a DOCTYPE; it is how entity-expansion (billion laughs) and external-entity attacks start.
    if name.endswith((".xml", ".rels", ".vml")) and b"<!DOCTYPE" in body[:4096].upper():
        raise _Reject("工作簿内部的 XML 含有 DOCTYPE/实体声明（Excel 不会生成这种内容，可能是恶意文件），已拒绝。", "file.unsafe")
    parts[name] = body


def _inflate_all(zf: zipfile.ZipFile, data: bytes) -> dict[str, bytes]:
    """Every part, capped and checked: for readers (openpyxl) that open the whole package."""
    parts: dict[str, bytes] = {}
    for info in zf.infolist():
        _keep(parts, info.filename, _inflate(data, zf, info))
    return parts


# The parts python-calamine reads to give us the two sheets: only these are inflated, and
# calamine is handed a new stored (uncompressed) package holding just them, so it never
# touches a part we have not capped and checked, and does not inflate anything twice.
_PACKAGE_PARTS = ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                  "xl/sharedStrings.xml", "xl/styles.xml")


def _needed_parts(zf: zipfile.ZipFile, data: bytes) -> tuple[dict[str, bytes], dict[str, str]]:
    """({part name: bytes} of the package parts and the form and meta sheets, {sheet: part name})."""
    infos = {info.filename: info for info in zf.infolist()}  # a repeated name: the last wins, as in zipfile
    parts: dict[str, bytes] = {}
    for name in _PACKAGE_PARTS:
        if name in infos:
            _keep(parts, name, _inflate(data, zf, infos[name]))
    sheets = {}
    for sheet in (S.SHEET_FORM, S.SHEET_META):
        part = _sheet_part(parts, sheet)
        if part is not None:
            if part not in infos:
                raise _Reject(f"工作簿结构不完整（找不到“{sheet}”表的数据）。请重新保存原文件后上传。", "file.corrupt")
            if part not in parts:
                _keep(parts, part, _inflate(data, zf, infos[part]))
            sheets[sheet] = part
    return parts, sheets


_STORED_LOCAL = struct.Struct("<4s5H3L2H")
_STORED_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")


def _stored_package(parts: dict[str, bytes]) -> bytes:
    """A minimal uncompressed zip of ``parts`` (for calamine; a few µs where zipfile takes ~0.2 ms)."""
    out, central, offset = [], [], 0
    for name, body in parts.items():
        raw_name = name.encode("utf-8")
        crc, size = zlib.crc32(body), len(body)
        local = _STORED_LOCAL.pack(b"PK\x03\x04", 20, 0x800, 0, 0, 0, crc, size, size, len(raw_name), 0)
        central.append(_STORED_CENTRAL.pack(b"PK\x01\x02", 20, 20, 0x800, 0, 0, 0, crc, size, size, len(raw_name),
                                            0, 0, 0, 0, 0, offset) + raw_name)
        out += [local, raw_name, body]
        offset += len(local) + len(raw_name) + size
    directory = b"".join(central)
    out += [directory, _END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0)]
    return b"".join(out)


_SHEET_REL = re.compile(rb'<sheet\b[^>]*?name="([^"]*)"[^>]*?r:id="([^"]*)"')
_REL = re.compile(rb'<Relationship\b[^>]*?Id="([^"]*)"[^>]*?Target="([^"]*)"|<Relationship\b[^>]*?Target="([^"]*)"[^>]*?Id="([^"]*)"')


def _sheet_part(parts: dict[str, bytes], sheet: str) -> str | None:
    """Zip part name of a sheet, from workbook.xml and its relationships."""
    workbook, rels = parts.get("xl/workbook.xml"), parts.get("xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return None
    wanted = _xml_escape(sheet).encode("utf-8")
    rid = next((r for n, r in _SHEET_REL.findall(workbook) if n == wanted), None)
    if rid is None:
        return None
    for a, b, c, d in _REL.findall(rels):
        ident, target = (a, b) if a else (d, c)
        if ident == rid:
            target = target.decode("utf-8")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# Sheet extent. calamine builds a dense grid from the smallest to the largest cell position, so
# one far-away cell costs gigabytes: every cell must sit within MAX_SHEET_ROWS × MAX_SHEET_COLUMNS.
# A cell's position is its r attribute, or, without one, the next column of the current row;
# cells without r are refused (Excel, WPS and LibreOffice always write it), so the r values bound it.
# Fast path, for the canonical form those programs write (<c r="A1" ...>): one search, with a literal
# prefix, for a <c tag that is anything else; none found means every cell is canonical and in range.
_NON_CANONICAL_CELL = re.compile(rb'<c(?! r="(?:[A-Z]|A[A-X])[1-9]\d{0,3}")[\s>/]')
# Slow path, any other form (attributes in another order, single quotes, spaces, prefixed names).
_ANY_CELL = re.compile(rb'<(?:[\w.-]+:)?c(?=[\s>/])([^>]*)')
_R_ATTR = re.compile(rb'(?:^|\s)r\s*=\s*["\']([^"\']*)["\']')
_REF = re.compile(r"([A-Z]{1,3})([0-9]+)")
# In SpreadsheetML <f> is the first child of <c> (schema order f, v, is).
_FORMULA_CELL = re.compile(rb'<(?:[\w.-]+:)?c\b[^>]*?\sr\s*=\s*["\']([A-Z]{1,3})(\d+)["\'][^>]*?(?<!/)>\s*<(?:[\w.-]+:)?f[\s>/]')
_FORMULA_TAG = re.compile(rb'<f[\s>/]')


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _canonical_formula_cells(xml: bytes) -> list[tuple[str, str]]:
    """Formula cells of a canonical sheet: each <f> belongs to the nearest <c r="..."> before it."""
    found = []
    for tag in _FORMULA_TAG.finditer(xml):
        cell = xml.rfind(b'<c r="', 0, tag.start())
        if cell >= 0:
            ref = _REF.match(xml[cell + 6:cell + 16].decode("latin-1"))
            if ref:
                found.append((ref.group(1), ref.group(2)))
    return found


def _is_canonical(xml: bytes) -> bool:
    return b":c" not in xml and _NON_CANONICAL_CELL.search(xml) is None


def _outside_extent(xml: bytes) -> str | None:
    """The first cell outside MAX_SHEET_ROWS × MAX_SHEET_COLUMNS (its reference), "" for a cell without an r
    attribute, None when every cell is within the limits (any XML form)."""
    for attributes in _ANY_CELL.findall(xml):
        r = _R_ATTR.search(attributes)
        if r is None:
            return ""
        ref = _REF.fullmatch(r.group(1).decode("latin-1"))
        if ref and (_column_number(ref.group(1)) > config.MAX_SHEET_COLUMNS or int(ref.group(2)) > config.MAX_SHEET_ROWS):
            return ref.group(0)
        # A malformed reference is left to calamine, which refuses it.
    return None


# Excel error values: calamine reads them as empty strings, so they are found in the XML (t="e").
_ERROR_CELL = re.compile(rb'<(?:[\w.-]+:)?c\b([^>]*\bt\s*=\s*["\']e["\'][^>]*)>(.*?)</(?:[\w.-]+:)?c>', re.S)
_VALUE = re.compile(rb'<(?:[\w.-]+:)?v>([^<]*)</(?:[\w.-]+:)?v>')
# Number formats: a cell's s attribute indexes styles.xml's cellXfs, whose numFmtId is built in (9 "0%" and
# 10 "0.00%") or one of the workbook's own numFmts.
_S_ATTR = re.compile(rb'(?:^|\s)s\s*=\s*["\'](\d+)["\']')
_CELL_XFS = re.compile(rb'<(?:[\w.-]+:)?cellXfs\b[^>]*>(.*?)</(?:[\w.-]+:)?cellXfs>', re.S)
_XF = re.compile(rb'<(?:[\w.-]+:)?xf\b([^>]*)')
_NUM_FMT_ID = re.compile(rb'numFmtId\s*=\s*["\'](\d+)["\']')
_NUM_FMT = re.compile(rb'<(?:[\w.-]+:)?numFmt\b[^>]*?numFmtId\s*=\s*["\'](\d+)["\'][^>]*?formatCode\s*=\s*"([^"]*)"'
                      rb'|<(?:[\w.-]+:)?numFmt\b[^>]*?formatCode\s*=\s*"([^"]*)"[^>]*?numFmtId\s*=\s*["\'](\d+)["\']')
_PERCENT_BUILTIN = {9, 10}
_percent_cache: dict[bytes, frozenset[int]] = {}


def _is_percent_code(code: str) -> bool:
    """A format code that shows a percent: a % outside quoted text and not escaped."""
    code = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code.replace("&quot;", '"'))
    return "%" in code


def percent_styles(styles: bytes | None) -> frozenset[int]:
    """Indices of the cell styles (cellXfs) whose number format is a percentage; cached per styles part."""
    if not styles:
        return frozenset()
    found = _percent_cache.get(styles)
    if found is None:
        custom = {}
        for a, b, c, d in _NUM_FMT.findall(styles):
            ident, code = (a, b) if a else (d, c)
            custom[int(ident)] = _is_percent_code(code.decode("utf-8", "replace"))
        xfs = _CELL_XFS.search(styles)
        found = set()
        for index, attributes in enumerate(_XF.findall(xfs.group(1)) if xfs else []):
            ident = _NUM_FMT_ID.search(attributes)
            number = int(ident.group(1)) if ident else 0
            if number in _PERCENT_BUILTIN or custom.get(number):
                found.add(index)
        found = frozenset(found)
        if len(_percent_cache) > 64:
            _percent_cache.clear()
        _percent_cache[styles] = found
    return found


@dataclass
class _CellFacts:
    """What the values alone do not say about the form's cells: error values and percent formats."""
    errors: dict[str, str] = field(default_factory=dict)  # "H12" -> "#DIV/0!"
    percent_rows: set[int] = field(default_factory=set)  # rows whose 累计完成 cell has a percent format
    texts: tuple[bytes, ...] = ()  # the XML parts that hold the form's text (for the rare over-long text)

    def has_text_over(self, limit: int) -> bool:
        """Whether any text in the form is longer than ``limit`` characters. calamine cuts text at Excel's limit,
        so a cell read at exactly the limit is checked here, in the XML (asked only then)."""
        for xml in self.texts:
            if len(xml) > limit:
                for run in re.findall(rb">([^<]{%d,})<" % limit, xml):
                    if len(html.unescape(run.decode("utf-8", "replace"))) > limit:
                        return True
        return False


_VALUE_LETTER = COLUMN_LETTER["累计完成"]
_VALUE_CELL = re.compile(rb'<c r="' + _VALUE_LETTER.encode() + rb'(\d+)"([^>]*)>')


def _cell_facts(xml: bytes, canonical: bool, styles: bytes | None) -> _CellFacts:
    facts = _CellFacts()
    if not canonical or b't="e"' in xml:  # error cells are rare: one literal search in the usual case
        for attributes, body in _ERROR_CELL.findall(xml):
            r = _R_ATTR.search(attributes)
            value = _VALUE.search(body)
            if r is not None:
                facts.errors[r.group(1).decode("latin-1")] = value.group(1).decode("utf-8", "replace") if value else "#错误"
    percent = percent_styles(styles)
    if percent:
        if canonical:
            found = ((int(row), _S_ATTR.search(attrs)) for row, attrs in _VALUE_CELL.findall(xml))
        else:
            found = []
            for attributes in _ANY_CELL.findall(xml):
                r = _R_ATTR.search(attributes)
                ref = _REF.fullmatch(r.group(1).decode("latin-1")) if r else None
                if ref and ref.group(1) == _VALUE_LETTER:
                    found.append((int(ref.group(2)), _S_ATTR.search(attributes)))
        facts.percent_rows = {row for row, style in found if style is not None and int(style.group(1)) in percent}
    return facts


def _scan_sheets(parts: dict[str, bytes], sheets: dict[str, str], result: ValidationResult) -> _CellFacts:
    """Bound the sheets calamine will load, find formulas typed into input cells, and the form's cell facts."""
    canonical = {}
    for sheet, part in sheets.items():
        canonical[sheet] = _is_canonical(parts[part])
        if not canonical[sheet]:
            where = _outside_extent(parts[part])
            if where == "":
                raise _Reject(f"“{sheet}”表中有单元格缺少位置信息，行列超出合理范围，不像 Excel/WPS 保存的文件。请用 Excel/WPS 打开后重新保存再上传。",
                              "file.unsafe", sheet)
            if where is not None:
                raise _Reject(f"“{sheet}”表的 {where} 单元格有内容，超出合理范围（远在表格之外；允许 {config.MAX_SHEET_ROWS} 行、"
                              f"{config.MAX_SHEET_COLUMNS} 列以内），不像标准模板。请删除 {where} 中的内容（或整行、整列）后保存再上传。",
                              "layout.outside_extent", sheet, where)
    if S.SHEET_FORM not in sheets:
        return _CellFacts()
    xml = parts[sheets[S.SHEET_FORM]]
    if canonical[S.SHEET_FORM]:
        cells = _canonical_formula_cells(xml)
    else:
        cells = [(letter.decode(), row.decode()) for letter, row in _FORMULA_CELL.findall(xml)]
    for letter, row in cells:
        if letter in INPUT_LETTERS and int(row) >= S.FORM_FIRST_DATA_ROW:
            _finding(result, S.LEVEL_ERROR, "输入单元格含公式。系统不计算公式，请直接填写数值或文字（可复制后“选择性粘贴 → 数值”）。",
                     S.SHEET_FORM, f"{letter}{row}", code="layout.formula_in_input")
    facts = _cell_facts(xml, canonical[S.SHEET_FORM], parts.get("xl/styles.xml"))
    facts.texts = (xml, parts.get("xl/sharedStrings.xml", b""))
    return facts


def check_package(data: bytes) -> None:
    """Raise ValueError (Chinese message) unless every part of the workbook is safe for a full reader such as openpyxl."""
    try:
        _inflate_all(zipfile.ZipFile(io.BytesIO(data)), data)
    except _Reject as reject:
        raise ValueError(str(reject)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, OSError, EOFError):
        raise ValueError(_CORRUPT) from None


# --- pass 2: values -------------------------------------------------------------

def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _clean_text(value) -> str:
    """Narrative text: keep it whole, drop control characters that break exports."""
    text = "" if value is None else str(value)
    if text.isprintable():  # no control/format characters at all: the usual case, checked in C
        return text.strip()
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


_NUMBER = re.compile(r"^[+]?\d+(?:\.\d+)?$")
# A comma (or a space) only as a correct thousands grouping: 1,234 · 12,345,678 · 1,234.5. A point is always
# the decimal point.
_GROUPED = re.compile(r"^[+]?\d{1,3}(?:(,)\d{3})(?:\1\d{3})*(?:\.\d+)?$|^[+]?\d{1,3}(?:( )\d{3})(?:\2\d{3})*(?:\.\d+)?$")


class NumberProblem(str):
    """Why a typed value is not read as a number (the message part), with the finding code."""

    def __new__(cls, text: str, code: str = "value.not_number"):
        self = super().__new__(cls, text)
        self.code = code
        return self


def parse_number(value, unit: str) -> tuple[float | None, NumberProblem | None]:
    """Parse what people type into 累计完成. Returns (number, None) or (None, why).

    Accepts numbers, full-width digits, a comma (half- or full-width) or space only as a correct thousands
    grouping, and a trailing unit matching the row's 计量单位 (or % for percent rows). Anything with another
    comma is refused (``why.code`` = "value.ambiguous_separator"): 3，5 · 12,00 · 1200,5 are never guessed.
    """
    if isinstance(value, bool):
        return None, NumberProblem("是逻辑值（TRUE/FALSE），不是数字")
    if isinstance(value, (datetime, date)):
        return None, NumberProblem("是日期，不是数字（单元格格式可能被设成了日期）")
    if isinstance(value, (int, float)):
        if value != value:
            return None, NumberProblem("不是有效数字")
        return float(value), None
    text = unicodedata.normalize("NFKC", str(value)).strip()  # NFKC: ，→ , and full-width digits
    for suffix in sorted({unit, "%"} if unit == "%" else {unit}, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)].strip()
            break
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:].strip() if sign < 0 else text
    if _NUMBER.match(body):
        return sign * float(body), None
    if "," in body or " " in body:
        if _GROUPED.match(body):
            return sign * float(body.replace(",", "").replace(" ", "")), None
        if re.fullmatch(r"[+]?[\d., ]+", body):
            return None, NumberProblem(f"“{value}”中的逗号或空格不是正确的千位分隔，无法确定是小数点还是分隔符",
                                       "value.ambiguous_separator")
    return None, NumberProblem(f"“{value}”不是单纯的数字")


def _parse_month(value, year: int) -> tuple[int | None, str | None]:
    if isinstance(value, (datetime, date)):
        return (value.month, None) if value.year == year else (None, f"{value.year} 年不是本表年度 {year} 年")
    text = unicodedata.normalize("NFKC", _cell_text(value))
    if not text:
        return None, "未填写"
    m = re.fullmatch(r"(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*月?", text)
    if not m:
        return None, f"“{text}”不是月份（应为 {year}-01 至 {year}-12）"
    y, month = int(m.group(1)), int(m.group(2))
    if y != year:
        return None, f"{y} 年不是本表年度 {year} 年"
    if not 1 <= month <= 12:
        return None, f"{month} 不是有效月份"
    return month, None


def _sheet_rows(wb: CalamineWorkbook, name: str) -> list[list] | None:
    if name not in wb.sheet_names:
        return None
    return wb.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _at(rows: list[list], ref: str):
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    col = ord(m.group(1)) - ord("A") if len(m.group(1)) == 1 else None
    r = int(m.group(2)) - 1
    if col is None or r >= len(rows) or col >= len(rows[r]):
        return None
    return rows[r][col]


def validate(data: bytes, file_name: str, targets: Targets, store=None, today: date | None = None,
             history: bool = True) -> ValidationResult:
    """Check one uploaded workbook against the target table (and the store's history).

    ``history=False`` leaves out the warnings that compare with the target and
    earlier months (``add_history_warnings``): the batch path adds them itself,
    in order, so each file is compared with the files before it in the batch.
    """
    result = ValidationResult(file_name=display_name(file_name))
    try:
        _validate(data, file_name, targets, store, today or date.today(), result, history)
    except _Reject as reject:
        _finding(result, S.LEVEL_ERROR, str(reject), reject.sheet, reject.cell, code=reject.code)
        result.row_records = None
    except Exception as exc:  # last resort: a reader bug must not become a traceback for the user
        _finding(result, S.LEVEL_ERROR, f"读取工作簿时出错（{type(exc).__name__}），文件可能已损坏。请重新保存后上传；如仍出错请联系管理员。",
                 code="file.read_error")
        result.row_records = None
    return result


# --- many files at once ------------------------------------------------------------

_worker_state: dict = {}


def _init_worker(targets: Targets, today: date) -> None:
    _worker_state.update(targets=targets, today=today)


def _validate_in_worker(item: tuple[str, bytes]) -> ValidationResult:
    name, data = item
    return validate(data, name, _worker_state["targets"], None, today=_worker_state["today"], history=False)


def validate_many(files: list[tuple[str, bytes]], targets: Targets, today: date, workers: int = 1):
    """``validate(..., history=False)`` of each (name, bytes), in order, on up to ``workers`` processes.

    Worth it from a few dozen files on: forked workers start in ~10 ms and share the
    loaded target table; fewer files, or one worker, run here. Yields one result per file.
    """
    workers = max(1, min(workers, os.cpu_count() or 1))
    if workers == 1 or len(files) < 32 or "fork" not in multiprocessing.get_all_start_methods():
        for name, data in files:
            yield validate(data, name, targets, None, today=today, history=False)
        return
    chunk = max(1, min(32, len(files) // (workers * 4)))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_init_worker, initargs=(targets, today)) as pool:
        yield from pool.map(_validate_in_worker, files, chunksize=chunk)


def display_name(file_name: str) -> str:
    """A safe display form of an uploaded file name (never used as a path)."""
    name = (file_name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    return (name[:80] + "…") if len(name) > 80 else (name or "（未命名文件）")


def _validate(data, file_name, targets, store, today, result, history):
    _sniff(data, file_name, result)
    zf = _open_zip(data, result)
    parts, sheets = _needed_parts(zf, data)
    facts = _scan_sheets(parts, sheets, result)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(_stored_package(parts)))
        form = _sheet_rows(wb, S.SHEET_FORM)
        meta_rows = _sheet_rows(wb, S.SHEET_META)
    except Exception as exc:
        name = type(exc).__name__
        if "Password" in name:
            raise _Reject("工作簿设置了密码，系统无法读取。请取消密码后重新上传。", "file.encrypted") from None
        raise _Reject("工作簿内容无法解析（XML 损坏或格式异常）。请用 Excel/WPS 打开后重新保存再上传。", "file.corrupt") from None
    result.is_workbook = True
    if result.has_macros:
        _finding(result, S.LEVEL_WARNING, "工作簿含宏（.xlsm）。系统只读取单元格的值，不会运行任何宏；今后请使用 .xlsx 模板。",
                 code="file.macros")
    if form is None:
        raise _Reject(f"找不到“{S.SHEET_FORM}”工作表。请使用系统下发的模板，不要修改工作表名称。", "layout.sheet_missing")

    # --- which unit, which version
    meta = {_cell_text(r[0]): _cell_text(r[1]) for r in (meta_rows or []) if len(r) >= 2}
    header_unit = _cell_text(_at(form, HEADER_CELLS[S.HEADER_UNIT][1]))
    unit = meta.get("单位")
    if not unit:
        if header_unit in targets.reporting_units:
            unit = header_unit
            _finding(result, S.LEVEL_WARNING, f"文件缺少模板元数据（可能把内容粘贴到了新工作簿），已按表头识别为“{unit}”。今后请直接在下发的模板中填写。",
                     S.SHEET_FORM, HEADER_CELLS[S.HEADER_UNIT][1], code="unit.from_header")
        else:
            raise _Reject("无法识别填报单位：文件缺少模板元数据，表头“填报单位”也不是已知的填报单位。请使用系统下发的本单位模板。", "unit.unknown")
    if unit not in targets.reporting_units:
        raise _Reject(f"模板中的单位“{unit}”不是当前目标表的填报单位。请下载最新模板重新填写。", "unit.not_reporting")
    if header_unit and header_unit != unit:
        # One cause, one finding: the rows would only repeat it (they belong to the other unit).
        raise _Reject(f"表头“填报单位”为“{header_unit}”，而模板的元数据属于“{unit}”：两者不一致，无法确定是哪个单位的报表。"
                      f"请使用本单位的模板（从系统“数据上报”页下载），不要复制其他单位的表格或工作表。",
                      "unit.header_changed", S.SHEET_FORM, HEADER_CELLS[S.HEADER_UNIT][1])
    result.unit = unit
    result.year = targets.year
    if meta.get("年度") and meta["年度"] != str(targets.year):
        raise _Reject(f"这是 {meta['年度']} 年度的模板，当前目标表为 {targets.year} 年度。请下载本年度模板。", "template.other_year")
    result.template_version = meta.get("模板版本", "")
    result.targets_version = meta.get("目标表版本", "")

    # --- header block
    month, why = _parse_month(_at(form, HEADER_CELLS[S.HEADER_MONTH][1]), targets.year)
    cell = HEADER_CELLS[S.HEADER_MONTH][1]
    if month is None:
        _finding(result, S.LEVEL_ERROR, f"报送月份{why}。请从下拉列表选择报送月份。", S.SHEET_FORM, cell, code="period.invalid")
    elif (targets.year, month) > (today.year, today.month):
        _finding(result, S.LEVEL_ERROR, f"报送月份 {targets.year}-{month:02d} 晚于当前月份，不能报送未来月份的进展。", S.SHEET_FORM, cell,
                 code="period.future")
        month = None
    elif (targets.year, month) == (today.year, today.month):
        _finding(result, S.LEVEL_WARNING, f"报送月份是本月（{month} 月），本月尚未结束：累计完成应为月末数。如是上月报表请改为 "
                 f"{targets.year}-{month - 1:02d}；如确为月中进度，月末后请再报送一次。" if month > 1 else
                 f"报送月份是本月（{month} 月），本月尚未结束：累计完成应为月末数。如确为月中进度，月末后请再报送一次。",
                 S.SHEET_FORM, cell, code="period.current_month")
    result.month = month
    result.filler = _clean_text(_at(form, HEADER_CELLS[S.HEADER_FILLER][1]))
    result.phone = _clean_text(_at(form, HEADER_CELLS[S.HEADER_PHONE][1]))
    fill_date = _at(form, HEADER_CELLS[S.HEADER_DATE][1])
    result.fill_date = fill_date.strftime("%Y-%m-%d") if isinstance(fill_date, (datetime, date)) else _clean_text(fill_date)

    # --- rows
    header_row = S.FORM_HEADER_ROW - 1
    header = [_cell_text(v) for v in form[header_row]] if len(form) > header_row else []
    if header[: len(S.FORM_COLUMNS)] != S.FORM_COLUMNS:
        raise _Reject(f"第 {S.FORM_HEADER_ROW} 行的列标题被改动或移动了位置，应为：{'、'.join(S.FORM_COLUMNS)}。请使用原模板，不要插入或删除列。",
                      "layout.header_changed", S.SHEET_FORM, f"A{S.FORM_HEADER_ROW}")
    stale = bool(result.targets_version) and result.targets_version != targets.version
    rows = _read_rows(form, header_row + 1, targets, unit, result, stale, facts)
    if stale:
        level = S.LEVEL_ERROR if any(f.level == S.LEVEL_ERROR and f.indicator for f in result.findings) else S.LEVEL_WARNING
        _finding(result, level, "该模板由旧版目标表生成" + ("，指标行与现行目标表一致，可以接收；下月起请使用新模板。" if level == S.LEVEL_WARNING
                                                   else "，指标行与现行目标表不一致（见各行提示）。请下载新模板重新填写。"),
                 code="template.outdated")
    result.row_records = rows
    if history:
        context = store.history_context(unit, targets.year, month) if store is not None and month is not None else {}
        add_history_warnings(result, targets, context, today)


def _unit_rules(targets: Targets, unit: str) -> dict[tuple[str, str], tuple]:
    """Per expected row of ``unit``: (locked values, 指标类型, 计量单位, 城市合计行), cached on the table."""
    return targets.cached(("validation_rules", unit), lambda: {
        k: (tuple(want[n] for n in LOCKED_CHECKED), want["指标类型"], want["计量单位"], bool(want["城市合计行"]))
        for k, want in targets.expected_map(unit).items()})


def _indicator_units(targets: Targets) -> dict[str, str]:
    """{指标编号: 填报单位} of the whole table, cached on the table."""
    ind = targets.indicators
    return targets.cached("indicator_units", lambda: dict(zip(ind["指标编号"].tolist(), ind["填报单位"].tolist())))


def _is_blank(value) -> bool:
    return value is None or value == "" or (value.__class__ is str and not value.strip())


def _same_locked(name: str, got, should) -> bool:
    if name == "年度目标":
        if pd.isna(should):
            return _cell_text(got) == ""
        return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(float(got) - float(should)) < 1e-9
    return got == should or _cell_text(got) == _cell_text(should)


_LOCKED_INDEX = [COL_INDEX[n] for n in LOCKED_CHECKED]
_NUMBER_TYPES = (int, float)


def _read_rows(form, first, targets, unit, result, stale, facts: _CellFacts | None = None) -> list[tuple]:
    rules = _unit_rules(targets, unit)
    limits = _value_limits(targets, unit)
    all_codes = _indicator_units(targets)
    counties = set(targets.counties) | {S.CITY}
    facts = facts or _CellFacts()
    error_cells, percent_rows = facts.errors, facts.percent_rows
    seen: dict[tuple, int] = {}
    other_units: dict[str, list[str]] = {}  # another unit -> cells of its rows (one finding per unit)
    out = []
    letter = COLUMN_LETTER
    width = len(S.FORM_COLUMNS)
    i_code, i_county, i_value, i_state = (COL_INDEX[c] for c in ("指标编号", "县市区", "累计完成", "进展状态"))
    i_progress, i_problems, i_plan = (COL_INDEX[c] for c in ("进展情况", "存在问题", "下步计划"))
    text_columns = ((i_progress, "进展情况"), (i_problems, "存在问题"), (i_plan, "下步计划"))
    for offset, raw in enumerate(form[first:]):
        excel_row = first + offset + 1
        if len(raw) < width:
            raw = list(raw) + [None] * (width - len(raw))
        if all(_is_blank(v) for v in raw) and not (error_cells and any(f"{c}{excel_row}" in error_cells for c in INPUT_LETTERS)):
            continue  # blank row
        code, county = _cell_text(raw[i_code]), _cell_text(raw[i_county])
        where = dict(sheet=S.SHEET_FORM, indicator=code, county=county)
        if not code:
            # Not an indicator row: a note, a signature, a total typed below the table. Name the cell holding it.
            at = next(i for i, v in enumerate(raw) if not _is_blank(v)) if any(not _is_blank(v) for v in raw) else i_value
            ref = f"{_column_letters(at + 1)}{excel_row}"
            shown = _cell_text(raw[at])
            shown = (shown[:20] + "…") if len(shown) > 20 else shown
            _finding(result, S.LEVEL_ERROR,
                     f"第 {excel_row} 行不是指标行（A 列没有指标编号），但 {ref} 单元格有内容“{shown}”。表格内外请不要填写备注、签名或合计，"
                     "说明请写在该指标的“进展情况”中；如果这是指标行，请恢复 A 列的指标编号。",
                     cell=ref, sheet=S.SHEET_FORM, code="layout.stray_content")
            continue
        if code not in all_codes:
            _finding(result, S.LEVEL_ERROR, f"指标编号“{code}”不在目标表中。请不要新增或改动指标行。", cell=f"{letter['指标编号']}{excel_row}",
                     code="row.unknown_indicator", **where)
            continue
        if all_codes[code] != unit:
            other_units.setdefault(all_codes[code], []).append(f"{letter['指标编号']}{excel_row}")
            continue
        if county not in counties:
            _finding(result, S.LEVEL_ERROR, f"县市区“{county}”不是有效的县市区名称。", cell=f"{letter['县市区']}{excel_row}",
                     code="row.unknown_county", **where)
            continue
        key = (code, county)
        if key not in rules:
            _finding(result, S.LEVEL_ERROR, f"目标表中“{code}”没有“{county}”这一行。请不要新增行。", cell=f"{letter['县市区']}{excel_row}",
                     code="row.county_not_expected", **where)
            continue
        if key in seen:
            _finding(result, S.LEVEL_ERROR, f"与第 {seen[key]} 行重复（同一指标、同一县市区）。请删除重复行。", cell=f"{letter['指标编号']}{excel_row}",
                     code="row.duplicate", **where)
            continue
        seen[key] = excel_row
        locked, kind, unit_name, is_city_total = rules[key]
        got = [raw[i] for i in _LOCKED_INDEX]
        # Fast path: an untouched row equals the table exactly (the target compared as a real number).
        if not (got[:4] == list(locked[:4]) and got[4].__class__ in _NUMBER_TYPES and got[4] == locked[4]):
            for name, got_value, should in zip(LOCKED_CHECKED, got, locked):
                if _same_locked(name, got_value, should):
                    continue
                shown = ("（空）" if pd.isna(should) else f"{float(should):g}") if name == "年度目标" else _cell_text(should)
                _finding(result, S.LEVEL_ERROR, f"锁定列“{name}”被改动：现为“{_cell_text(got_value)}”，应为“{shown}”。" +
                         ("（目标表已更新，请下载新模板）" if stale else "请恢复原值，目标如需调整请联系督查室。"),
                         cell=f"{letter[name]}{excel_row}", code="template.outdated" if stale else "row.locked_changed", **where)
        if error_cells:
            for column in ("累计完成", "进展状态", "进展情况", "存在问题", "下步计划"):
                ref = f"{letter[column]}{excel_row}"
                if ref in error_cells:
                    _finding(result, S.LEVEL_ERROR,
                             f"“{column}”是 Excel 错误值 {error_cells[ref]}（公式或粘贴出错的结果），不是{'数字' if column == '累计完成' else '文字'}。"
                             + ("请填写具体数值。" if column == "累计完成" else "请填写内容或清空该单元格。"),
                             cell=ref, code="value.error_value", **where)
        value = None
        raw_value = raw[i_value]
        value_cell = f"{letter['累计完成']}{excel_row}"
        if kind != S.TYPE_QUALITATIVE and value_cell not in error_cells:
            if raw_value.__class__ in _NUMBER_TYPES and raw_value == raw_value:
                value = float(raw_value)  # the common case: a number typed as a number
                if excel_row in percent_rows:
                    # Typed "62%": Excel stores 0.62 with a percent format.
                    if unit_name == "%":
                        value = float(f"{value * 100:.12g}")
                    else:
                        _finding(result, S.LEVEL_ERROR,
                                 f"累计完成单元格是百分比格式（显示为 {value:.0%}），而本行计量单位是“{unit_name}”，不是百分比。"
                                 f"请把单元格格式改为“常规”或“数值”，填写{unit_name}数。",
                                 cell=value_cell, code="value.percent_format", **where)
                        value = None
            elif _cell_text(raw_value) == "" and not isinstance(raw_value, (datetime, date)):
                if not is_city_total:
                    _finding(result, S.LEVEL_ERROR, "累计完成未填写。请填写年初至本月末的累计数；尚未开展请填 0。", cell=value_cell,
                             code="value.blank", **where)
            else:
                value, why = parse_number(raw_value, unit_name)
                if value is None:
                    if getattr(why, "code", "") == "value.ambiguous_separator":
                        message = f"累计完成{why}。请只填数字，例如 1234 或 1234.5（小数点用“.”，千位分隔可不写）。"
                    else:
                        message = (f"累计完成{why}。请只填写数字（计量单位：{unit_name}），不要写“约”、区间或文字说明，"
                                   "说明请写在“进展情况”。")
                    _finding(result, S.LEVEL_ERROR, message, cell=value_cell, code=getattr(why, "code", "value.not_number"), **where)
            if value is not None and value < 0:
                _finding(result, S.LEVEL_ERROR, f"累计完成为负数（{value:g}）。请填写不小于 0 的累计数。", cell=value_cell,
                         code="value.negative", **where)
                value = None
            if value is not None and value > limits[key]:
                problem = _impossible(value, locked[4], kind, unit_name)
                if problem:
                    _finding(result, S.LEVEL_ERROR, problem, cell=value_cell, code="value.impossible", **where)
                    value = None
        state_cell = f"{letter['进展状态']}{excel_row}"
        state = _cell_text(raw[i_state])
        if state and state not in S.REPORTED_STATES:
            _finding(result, S.LEVEL_ERROR, f"进展状态“{state}”无效，请从下拉列表选择：{'、'.join(S.REPORTED_STATES)}。",
                     cell=state_cell, code="state.invalid", **where)
            state = ""
        if kind == S.TYPE_QUALITATIVE and not state and state_cell not in error_cells:
            _finding(result, S.LEVEL_ERROR, "定性指标须选择进展状态。", cell=state_cell, code="state.missing", **where)
        if state == S.STATE_NOT_STARTED and value:
            _finding(result, S.LEVEL_WARNING, f"进展状态为“未启动”，但累计完成为 {value:g}。请核对：已有进展请选“正常推进”或“滞后”，"
                     "确未启动请把累计完成填 0。", cell=state_cell, code="state.not_started_with_value", **where)
        progress, problems, plan = _clean_text(raw[i_progress]), _clean_text(raw[i_problems]), _clean_text(raw[i_plan])
        if len(progress) >= _LONG or len(problems) >= _LONG or len(plan) >= _LONG:  # calamine cuts text at the limit
            for i, column in text_columns:
                text = raw[i]
                if text.__class__ is str and len(text) >= EXCEL_CELL_CHARS and facts.has_text_over(EXCEL_CELL_CHARS):
                    _finding(result, S.LEVEL_ERROR, f"“{column}”超过 Excel 单元格上限 {EXCEL_CELL_CHARS:,} 个字符，"
                             "Excel/WPS 打开时会被截断。请精简到 1,000 字以内，详细材料另行报送。",
                             cell=f"{letter[column]}{excel_row}", code="text.too_long", **where)
        out.append((code, county, value, state, progress, problems, plan, excel_row))
    for other, cells in other_units.items():
        _finding(result, S.LEVEL_ERROR,
                 f"有 {len(cells)} 行指标由“{other}”填报，不属于“{unit}”（第一处：{cells[0]}）。请使用本单位模板，或删除这些行。",
                 sheet=S.SHEET_FORM, cell=cells[0], code="row.other_unit")
    missing = [(code, county) for code, county in rules if (code, county) not in seen]
    if missing and not other_units:
        names = "、".join(f"“{code} {county}”" for code, county in missing[:5]) + (f" 等 {len(missing)} 行" if len(missing) > 5 else "")
        code, county = missing[0] if len(missing) == 1 else ("", "")
        if stale:
            _finding(result, S.LEVEL_ERROR,
                     f"缺少指标行{names}：这些行是目标表更新后新增的，您使用的模板由旧版目标表生成，已过期。"
                     "请在系统“数据上报”页下载本单位最新模板（或向督查室索取）重新填写。",
                     sheet=S.SHEET_FORM, indicator=code, county=county, code="template.outdated")
        else:
            _finding(result, S.LEVEL_ERROR,
                     f"缺少指标行{names}。请不要删除模板中的行（不涉及的请填 0 并在进展情况中说明）。",
                     sheet=S.SHEET_FORM, indicator=code, county=county, code="row.missing")
    # City total rows of split indicators: optional, but must add up when given.
    city_rows, parts, incomplete = {}, {}, set()
    for code, county, value, *_rest, excel_row in out:
        if rules[(code, county)][3]:
            city_rows[code] = (value, excel_row)
        elif county != S.CITY:
            if value is None:
                incomplete.add(code)
            parts[code] = parts.get(code, 0.0) + (value or 0.0)
    for code, (value, excel_row) in city_rows.items():
        if value is None or code in incomplete or code not in parts:
            continue
        if abs(value - parts[code]) > 1e-6:
            _finding(result, S.LEVEL_ERROR,
                     f"全市合计 {value:g} 与各县市区之和 {parts[code]:g} 不一致。请核对，或清空全市行由系统合计。",
                     sheet=S.SHEET_FORM, cell=f"{letter['累计完成']}{excel_row}", indicator=code, county=S.CITY,
                     code="value.city_total_mismatch")
    return out


EXCEL_CELL_CHARS = 32767  # Excel's own limit on the text of one cell
_LONG = 32000  # a cleaned text this long may have been cut at EXCEL_CELL_CHARS by the reader: look closer
IMPOSSIBLE_MULTIPLE = 10  # a cumulative value above this many year targets cannot be meant


def _value_limits(targets: Targets, unit: str) -> dict[tuple[str, str], float]:
    """Per expected row of ``unit``: the value above which ``_impossible`` has something to say (cached)."""
    def build() -> dict[tuple[str, str], float]:
        limits = {}
        for row, (locked, kind, unit_name, _city) in _unit_rules(targets, unit).items():
            target = locked[4]
            limit = IMPOSSIBLE_MULTIPLE * float(target) if target is not None and target == target and target > 0 else float("inf")
            if kind == S.TYPE_RATE and unit_name == "%":
                limit = min(limit, 100.0)
            limits[row] = limit
        return limits

    return targets.cached(("value_limits", unit), build)


def _impossible(value: float, target, kind: str, unit_name: str) -> str | None:
    """Why a read value cannot be meant (an error), or None."""
    if kind == S.TYPE_RATE and unit_name == "%" and value > 100:
        return (f"累计完成 {value:g}% 超过 100%，而本指标是比例（年度目标 {float(target):g}%），不可能大于 100%。"
                "请核对是否多填了位数，或把“62%”误填成了“6200”。")
    if target is not None and target == target and target > 0 and value > IMPOSSIBLE_MULTIPLE * float(target):
        return (f"累计完成 {value:g} 是年度目标 {float(target):g} 的 {value / float(target):,.0f} 倍（超过 {IMPOSSIBLE_MULTIPLE} 倍），"
                f"不可能是实际进展。请核对是否多填了位数、填成了其他口径，或把万、元等单位换算错了（计量单位：{unit_name}）。")
    return None


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class HistoryContext:
    """A unit's other accepted months, for the warnings that compare with them.

    ``previous``: {(指标编号, 县市区): (累计完成, 月份)} the latest value before the file's month;
    ``following``: the same, the earliest value after it (an earlier month re-sent after later ones);
    ``same``: {(指标编号, 县市区): 累计完成} of the file's own month as currently stored (a replacement);
    ``reported_months``: the months the unit has a current report of.
    """
    previous: dict = field(default_factory=dict)
    following: dict = field(default_factory=dict)
    same: dict = field(default_factory=dict)
    reported_months: frozenset = frozenset()


def add_history_warnings(result: ValidationResult, targets: Targets, history: HistoryContext | dict,
                         today: date | None = None) -> None:
    """Warnings that need the target and the unit's other accepted months (``HistoryContext``; a plain dict is
    taken as ``previous``). Given even when the file has errors, so the unit can fix everything in one round.
    """
    month = result.month
    if month is None or result.row_records is None:
        return
    if isinstance(history, dict):
        history = HistoryContext(previous=history)
    previous, following = history.previous, history.following
    rules = _unit_rules(targets, result.unit)
    lag, severe = targets.lag_threshold, targets.severe_threshold
    planned_by_code: dict[str, float] = {}
    letter = COLUMN_LETTER

    def warn(message: str, column: str, at: tuple, code: str) -> None:
        excel_row, code_, county = at
        _finding(result, S.LEVEL_WARNING, message, sheet=S.SHEET_FORM, cell=f"{letter[column]}{excel_row}",
                 indicator=code_, county=county, code=code)

    # Plain tuples and no per-row allocations unless there is something to say: on the batch
    # path this runs in the one process that also stores, for every file.
    grew = changed = False
    for code, county, value, state, _progress, problems, plan, excel_row in result.row_records:
        locked, kind, _unit, _city_total = rules[(code, county)]
        at = (excel_row, code, county)
        target = locked[4]  # 年度目标
        explained = bool(problems and plan)
        if history.same:
            before = history.same.get((code, county))
            if value is not None and before is not None and before == before and value != before:
                changed = True
                grew = grew or value > before
        if value is None or target is None or target != target or not target:
            if kind == S.TYPE_QUALITATIVE and state == S.STATUS_LAGGING and not explained:
                warn("进展状态选了“滞后”，请在“存在问题”和“下步计划”中说明原因与措施。", "存在问题", at, "state.lagging_unexplained")
            continue
        target = float(target)
        basis = targets.bases.get(code, S.BASIS_EXACT)
        multiple = value / target
        rate = completion_rate(value, target, basis)  # a ceiling is kept (100 %) at or under it
        if 1.5 < multiple <= IMPOSSIBLE_MULTIPLE:
            warn(f"累计完成 {value:g} 是年度目标 {target:g} 的 {multiple:.0%}（超过 150%），请核实是否多填了位数或填成了其他口径。",
                 "累计完成", at, "value.over_target")
        prev_value, prev_month = previous.get((code, county), (None, None))
        if prev_value is not None and prev_value == prev_value:
            if value < prev_value and not problems:
                warn(f"累计完成 {value:g} 低于 {int(prev_month)} 月已报的 {prev_value:g}。累计数一般不应减少，如属核减请在“存在问题”中说明。",
                     "累计完成", at, "value.below_previous")
            if value - prev_value > 0.5 * target:
                warn(f"比 {int(prev_month)} 月增加 {value - prev_value:g}，超过年度目标的 50%，请核实。", "累计完成", at, "value.jump")
        if following:
            next_value, next_month = following.get((code, county), (None, None))
            if next_value is not None and next_value == next_value and value > next_value:
                warn(f"累计完成 {value:g} 高于 {int(next_month)} 月已报的 {next_value:g}。累计数不应减少：请核对本月数据，"
                     f"或同时更正 {int(next_month)} 月的报表。", "累计完成", at, "value.above_later")
        if state == S.STATUS_DONE and rate < done_at(basis):
            warn(f"进展状态为“已完成”，但完成率仅 {rate:.1%}。请核对累计完成或进展状态。", "进展状态", at, "state.done_below_target")
        if explained:
            continue
        if code not in planned_by_code:
            planned_by_code[code] = planned_share(month, code, targets.schedule)
        planned = planned_by_code[code]
        if is_behind(classify(rate, planned, lag, severe, basis)):
            behind = (f"{value:g} 高于目标上限 {target:g}（{S.BASIS_CEILING}）" if value > target and basis == S.BASIS_CEILING
                      else f"完成率 {rate:.1%} 落后于序时进度 {planned:.0%}")
            warn(f"{behind}，请在“存在问题”和“下步计划”中说明原因与措施。", "存在问题", at, "progress.behind_unexplained")
        elif state == S.STATUS_LAGGING:
            warn(f"进展状态选了“滞后”（完成率 {rate:.1%}，序时进度 {planned:.0%}，按数据并不落后），"
                 "请在“存在问题”和“下步计划”中说明滞后的原因与措施，或核对进展状态。", "存在问题", at, "state.lagging_unexplained")
    # The 报送月份 left at last month: the file replaces that month's report with grown values while the next
    # month's report is what is due now (today is at least two months on) and has not come yet.
    if (grew and changed and today is not None and month + 1 not in history.reported_months
            and (today.year, today.month) >= add_months(result.year, month, 2)):
        _finding(result, S.LEVEL_WARNING,
                 f"与 {month} 月已报数据不同，是否忘记修改报送月份？本文件将替换 {month} 月的报表；如是 {month + 1} 月的进展，"
                 f"请把报送月份改为 {result.year}-{month + 1:02d}。", sheet=S.SHEET_FORM, cell=HEADER_CELLS[S.HEADER_MONTH][1],
                 code="period.month_unchanged")

