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
from lib.status import classify, is_behind
from lib.targets import Targets
from lib.template import COLUMN_LETTER, HEADER_CELLS

INPUT_LETTERS = {COLUMN_LETTER[c] for c in S.INPUT_FORM_COLUMNS}
COL_INDEX = {name: i for i, name in enumerate(S.FORM_COLUMNS)}
LOCKED_CHECKED = ["项目序号", "项目名称", "指标名称", "计量单位", "年度目标"]


@dataclass
class Finding:
    level: str  # 错误 / 提醒
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    indicator: str = ""
    county: str = ""

    def location(self) -> str:
        parts = [p for p in (self.file, f"工作表“{self.sheet}”" if self.sheet else "", self.cell) if p]
        return " · ".join(parts)

    def __str__(self) -> str:
        who = "/".join(p for p in (self.indicator, self.county) if p)
        return f"[{self.level}] {self.location()}{'（' + who + '）' if who else ''}：{self.message}"


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
                "county": "县市区", "message": "问题与修改方法"}
        return json.dumps([{keys[k]: v for k, v in asdict(f).items()} for f in self.findings], ensure_ascii=False)

    def findings_frame(self) -> pd.DataFrame:
        cols = ["level", "file", "sheet", "cell", "indicator", "county", "message"]
        frame = pd.DataFrame([asdict(f) for f in self.findings], columns=cols)
        return frame.rename(columns={"level": "级别", "file": "文件", "sheet": "工作表", "cell": "单元格",
                                     "indicator": "指标编号", "county": "县市区", "message": "问题与修改方法"})


ROW_COLUMNS = ["指标编号", "县市区", "累计完成", "进展状态", "进展情况", "存在问题", "下步计划", "行号"]


class _Reject(Exception):
    """Stops validation early with one file-level finding."""


def _finding(result, level, message, sheet="", cell="", indicator="", county=""):
    result.findings.append(Finding(level, message, result.file_name, sheet, cell, indicator, county))


# --- pass 1: what kind of file is it ------------------------------------------

def _sniff(data: bytes, file_name: str, result: ValidationResult) -> None:
    name = file_name.lower()
    if not data:
        raise _Reject("文件为空（0 字节）。请重新导出或重新保存后上传。")
    if len(data) > config.MAX_UPLOAD_BYTES:
        raise _Reject(f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过上限 {config.MAX_UPLOAD_BYTES // 1024 // 1024} MB。"
                      "标准模板通常不足 100 KB，请检查是否粘贴了图片或大量无关内容。")
    head = data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
            raise _Reject("工作簿设置了打开密码（已加密），系统无法读取。请在 Excel/WPS 中取消密码（文件 → 信息 → 保护工作簿）后重新上传。")
        raise _Reject("这是旧版 Excel 97-2003 格式（.xls）。请用 Excel/WPS 打开后“另存为”Excel 工作簿（.xlsx）再上传，"
                      "最好直接使用系统下发的模板。")
    if head.startswith(b"%PDF"):
        raise _Reject("这是 PDF 文件，不是 Excel 工作簿。请上传填写好的 .xlsx 模板，而不是打印或导出的 PDF。")
    if not head.startswith(b"PK"):
        if name.endswith((".csv", ".txt")) or _looks_like_text(data):
            raise _Reject("这是文本/CSV 文件（可能由 .csv 改名而来），不是 Excel 工作簿。请使用系统下发的 .xlsx 模板填写后上传。")
        raise _Reject("无法识别的文件格式，不是 Excel 工作簿（.xlsx）。请使用系统下发的模板填写后上传。")


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        return all(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return False


def _open_zip(data: bytes, result: ValidationResult) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, OSError, ValueError, EOFError):
        raise _Reject("文件已损坏或不完整（压缩包无法打开，可能是下载或拷贝中断）。请重新保存原文件后上传。") from None
    if len(infos) > config.MAX_ZIP_PARTS:
        raise _Reject(f"工作簿包含 {len(infos)} 个内部部件，超过上限 {config.MAX_ZIP_PARTS}，不像标准模板。请使用系统下发的模板。")
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise _Reject("这是一个压缩包，但不是 Excel 工作簿（缺少工作簿结构）。请上传 .xlsx 文件，多个文件请分别上传或打包为 .zip。")
    declared = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos) or 1
    if declared > config.MAX_UNCOMPRESSED_BYTES or any(i.file_size > config.MAX_PART_BYTES for i in infos):
        raise _Reject("工作簿解压后体积异常巨大（疑似“压缩炸弹”），已拒绝。请使用系统下发的模板重新填写。")
    if declared / compressed > config.MAX_COMPRESSION_RATIO and declared > 1024 * 1024:
        raise _Reject("工作簿压缩比异常（疑似“压缩炸弹”），已拒绝。请使用系统下发的模板重新填写。")
    if any(i.flag_bits & 0x1 for i in infos):
        raise _Reject("工作簿内容已加密，系统无法读取。请取消密码后重新上传。")
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
                raise _Reject(_CORRUPT)
            start = info.header_offset + _LOCAL_HEADER.size + head[-2] + head[-1]
            raw = data[start:start + info.compress_size]
            if info.compress_type == zipfile.ZIP_STORED:
                body = raw[:cap + 1]
            else:
                inflater = zlib.decompressobj(-15)
                body = inflater.decompress(raw, cap + 1)
            if len(body) > cap:
                raise _Reject(_TOO_BIG)
            if len(body) != info.file_size or zlib.crc32(body) != info.CRC:
                raise _Reject(_CORRUPT)
            return body
        with zf.open(info) as handle:
            body = handle.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, ValueError, NotImplementedError):
        raise _Reject(_CORRUPT) from None
    if len(body) > cap:
        raise _Reject(_TOO_BIG)
    return body


def _keep(parts: dict[str, bytes], name: str, body: bytes) -> None:
    """Add an inflated part, within the cap on the workbook's total and with an XML prologue Excel would write."""
    if len(body) + sum(map(len, parts.values())) > config.MAX_UNCOMPRESSED_BYTES:
        raise _Reject(_TOO_BIG)
    # Excel never writes a DOCTYPE; it is how entity-expansion (billion laughs) and external-entity attacks start.
    if name.endswith((".xml", ".rels", ".vml")) and b"<!DOCTYPE" in body[:4096].upper():
        raise _Reject("工作簿内部的 XML 含有 DOCTYPE/实体声明（Excel 不会生成这种内容，可能是恶意文件），已拒绝。")
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
                raise _Reject(f"工作簿结构不完整（找不到“{sheet}”表的数据）。请重新保存原文件后上传。")
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


def _extent_ok(xml: bytes) -> bool:
    """Every cell carries an r attribute within MAX_SHEET_ROWS × MAX_SHEET_COLUMNS (any XML form)."""
    for attributes in _ANY_CELL.findall(xml):
        r = _R_ATTR.search(attributes)
        if r is None:
            return False
        ref = _REF.fullmatch(r.group(1).decode("latin-1"))
        if ref and (_column_number(ref.group(1)) > config.MAX_SHEET_COLUMNS or int(ref.group(2)) > config.MAX_SHEET_ROWS):
            return False
        # A malformed reference is left to calamine, which refuses it.
    return True


def _scan_sheets(parts: dict[str, bytes], sheets: dict[str, str], result: ValidationResult) -> None:
    """Bound the sheets calamine will load, and find formulas typed into input cells."""
    canonical = {}
    for sheet, part in sheets.items():
        canonical[sheet] = _is_canonical(parts[part])
        if not canonical[sheet] and not _extent_ok(parts[part]):
            raise _Reject(f"“{sheet}”表的行或列超出合理范围（超过 {config.MAX_SHEET_ROWS} 行或 {config.MAX_SHEET_COLUMNS} 列，"
                          "或单元格缺少位置信息），不像标准模板。请删除多余内容或重新使用模板，用 Excel/WPS 保存后上传。")
    if S.SHEET_FORM not in sheets:
        return
    xml = parts[sheets[S.SHEET_FORM]]
    if canonical[S.SHEET_FORM]:
        cells = _canonical_formula_cells(xml)
    else:
        cells = [(letter.decode(), row.decode()) for letter, row in _FORMULA_CELL.findall(xml)]
    for letter, row in cells:
        if letter in INPUT_LETTERS and int(row) >= S.FORM_FIRST_DATA_ROW:
            _finding(result, S.LEVEL_ERROR, "输入单元格含公式。系统不计算公式，请直接填写数值或文字（可复制后“选择性粘贴 → 数值”）。",
                     S.SHEET_FORM, f"{letter}{row}")


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


def parse_number(value, unit: str) -> tuple[float | None, str | None]:
    """Parse what people type into 累计完成. Returns (number, None) or (None, why).

    Accepts numbers, full-width digits, thousands separators, and a trailing
    unit matching the row's 计量单位 (or % for percent rows).
    """
    if isinstance(value, bool):
        return None, "是逻辑值（TRUE/FALSE），不是数字"
    if isinstance(value, (datetime, date)):
        return None, "是日期，不是数字（单元格格式可能被设成了日期）"
    if isinstance(value, (int, float)):
        if value != value:
            return None, "不是有效数字"
        return float(value), None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = text.replace(",", "").replace("，", "").replace(" ", "")
    for suffix in sorted({unit, "%"} if unit == "%" else {unit}, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    if text.startswith("-") and _NUMBER.match(text[1:]):
        return -float(text[1:]), None
    if _NUMBER.match(text):
        return float(text), None
    return None, f"“{value}”不是单纯的数字"


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
        _finding(result, S.LEVEL_ERROR, str(reject))
        result.row_records = None
    except Exception as exc:  # last resort: a reader bug must not become a traceback for the user
        _finding(result, S.LEVEL_ERROR, f"读取工作簿时出错（{type(exc).__name__}），文件可能已损坏。请重新保存后上传；如仍出错请联系管理员。")
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
    _scan_sheets(parts, sheets, result)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(_stored_package(parts)))
        form = _sheet_rows(wb, S.SHEET_FORM)
        meta_rows = _sheet_rows(wb, S.SHEET_META)
    except Exception as exc:
        name = type(exc).__name__
        if "Password" in name:
            raise _Reject("工作簿设置了密码，系统无法读取。请取消密码后重新上传。") from None
        raise _Reject("工作簿内容无法解析（XML 损坏或格式异常）。请用 Excel/WPS 打开后重新保存再上传。") from None
    result.is_workbook = True
    if result.has_macros:
        _finding(result, S.LEVEL_WARNING, "工作簿含宏（.xlsm）。系统只读取单元格的值，不会运行任何宏；今后请使用 .xlsx 模板。")
    if form is None:
        raise _Reject(f"找不到“{S.SHEET_FORM}”工作表。请使用系统下发的模板，不要修改工作表名称。")

    # --- which unit, which version
    meta = {_cell_text(r[0]): _cell_text(r[1]) for r in (meta_rows or []) if len(r) >= 2}
    header_unit = _cell_text(_at(form, HEADER_CELLS[S.HEADER_UNIT][1]))
    unit = meta.get("单位")
    if not unit:
        if header_unit in targets.reporting_units:
            unit = header_unit
            _finding(result, S.LEVEL_WARNING, f"文件缺少模板元数据（可能把内容粘贴到了新工作簿），已按表头识别为“{unit}”。今后请直接在下发的模板中填写。",
                     S.SHEET_FORM, HEADER_CELLS[S.HEADER_UNIT][1])
        else:
            raise _Reject("无法识别填报单位：文件缺少模板元数据，表头“填报单位”也不是已知的填报单位。请使用系统下发的本单位模板。")
    if unit not in targets.reporting_units:
        raise _Reject(f"模板中的单位“{unit}”不是当前目标表的填报单位。请下载最新模板重新填写。")
    if header_unit and header_unit != unit:
        _finding(result, S.LEVEL_ERROR, f"表头“填报单位”被改成了“{header_unit}”，而模板属于“{unit}”。请使用本单位模板。",
                 S.SHEET_FORM, HEADER_CELLS[S.HEADER_UNIT][1])
    result.unit = unit
    result.year = targets.year
    if meta.get("年度") and meta["年度"] != str(targets.year):
        raise _Reject(f"这是 {meta['年度']} 年度的模板，当前目标表为 {targets.year} 年度。请下载本年度模板。")
    result.template_version = meta.get("模板版本", "")
    result.targets_version = meta.get("目标表版本", "")

    # --- header block
    month, why = _parse_month(_at(form, HEADER_CELLS[S.HEADER_MONTH][1]), targets.year)
    cell = HEADER_CELLS[S.HEADER_MONTH][1]
    if month is None:
        _finding(result, S.LEVEL_ERROR, f"报送月份{why}。请从下拉列表选择报送月份。", S.SHEET_FORM, cell)
    elif (targets.year, month) > (today.year, today.month):
        _finding(result, S.LEVEL_ERROR, f"报送月份 {targets.year}-{month:02d} 晚于当前月份，不能报送未来月份的进展。", S.SHEET_FORM, cell)
        month = None
    result.month = month
    result.filler = _clean_text(_at(form, HEADER_CELLS[S.HEADER_FILLER][1]))
    result.phone = _clean_text(_at(form, HEADER_CELLS[S.HEADER_PHONE][1]))
    fill_date = _at(form, HEADER_CELLS[S.HEADER_DATE][1])
    result.fill_date = fill_date.strftime("%Y-%m-%d") if isinstance(fill_date, (datetime, date)) else _clean_text(fill_date)

    # --- rows
    header_row = S.FORM_HEADER_ROW - 1
    header = [_cell_text(v) for v in form[header_row]] if len(form) > header_row else []
    if header[: len(S.FORM_COLUMNS)] != S.FORM_COLUMNS:
        raise _Reject(f"第 {S.FORM_HEADER_ROW} 行的列标题被改动或移动了位置，应为：{'、'.join(S.FORM_COLUMNS)}。请使用原模板，不要插入或删除列。")
    stale = bool(result.targets_version) and result.targets_version != targets.version
    rows = _read_rows(form, header_row + 1, targets, unit, result, stale)
    if stale:
        level = S.LEVEL_ERROR if any(f.level == S.LEVEL_ERROR and f.indicator for f in result.findings) else S.LEVEL_WARNING
        _finding(result, level, "该模板由旧版目标表生成" + ("，指标行与现行目标表一致，可以接收；下月起请使用新模板。" if level == S.LEVEL_WARNING
                                                   else "，指标行与现行目标表不一致（见各行提示）。请下载新模板重新填写。"))
    result.row_records = rows
    if history:
        previous = store.previous_values(unit, targets.year, month) if store is not None and month is not None else {}
        add_history_warnings(result, targets, previous)


def _unit_rules(targets: Targets, unit: str) -> dict[tuple[str, str], tuple]:
    """Per expected row of ``unit``: (locked values, 指标类型, 计量单位, 城市合计行), cached on the table."""
    key = ("validation_rules", unit)
    if key not in targets._cache:
        targets._cache[key] = {
            k: (tuple(want[n] for n in LOCKED_CHECKED), want["指标类型"], want["计量单位"], bool(want["城市合计行"]))
            for k, want in targets.expected_map(unit).items()}
    return targets._cache[key]


def _indicator_units(targets: Targets) -> dict[str, str]:
    """{指标编号: 填报单位} of the whole table, cached on the table."""
    if "indicator_units" not in targets._cache:
        ind = targets.indicators
        targets._cache["indicator_units"] = dict(zip(ind["指标编号"].tolist(), ind["填报单位"].tolist()))
    return targets._cache["indicator_units"]


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


def _read_rows(form, first, targets, unit, result, stale) -> list[tuple]:
    rules = _unit_rules(targets, unit)
    all_codes = _indicator_units(targets)
    counties = set(targets.counties) | {S.CITY}
    seen: dict[tuple, int] = {}
    out = []
    letter = COLUMN_LETTER
    width = len(S.FORM_COLUMNS)
    i_code, i_county, i_value, i_state = (COL_INDEX[c] for c in ("指标编号", "县市区", "累计完成", "进展状态"))
    i_progress, i_problems, i_plan = (COL_INDEX[c] for c in ("进展情况", "存在问题", "下步计划"))
    for offset, raw in enumerate(form[first:]):
        excel_row = first + offset + 1
        if len(raw) < width:
            raw = list(raw) + [None] * (width - len(raw))
        if all(_is_blank(v) for v in raw):
            continue  # blank row
        code, county = _cell_text(raw[i_code]), _cell_text(raw[i_county])
        where = dict(sheet=S.SHEET_FORM, indicator=code, county=county)
        if code not in all_codes:
            _finding(result, S.LEVEL_ERROR, f"指标编号“{code}”不在目标表中。请不要新增或改动指标行。", cell=f"{letter['指标编号']}{excel_row}", **where)
            continue
        if all_codes[code] != unit:
            _finding(result, S.LEVEL_ERROR, f"指标“{code}”由“{all_codes[code]}”填报，不属于“{unit}”。请删除该行或使用本单位模板。",
                     cell=f"{letter['指标编号']}{excel_row}", **where)
            continue
        if county not in counties:
            _finding(result, S.LEVEL_ERROR, f"县市区“{county}”不是有效的县市区名称。", cell=f"{letter['县市区']}{excel_row}", **where)
            continue
        key = (code, county)
        if key not in rules:
            _finding(result, S.LEVEL_ERROR, f"目标表中“{code}”没有“{county}”这一行。请不要新增行。", cell=f"{letter['县市区']}{excel_row}", **where)
            continue
        if key in seen:
            _finding(result, S.LEVEL_ERROR, f"与第 {seen[key]} 行重复（同一指标、同一县市区）。请删除重复行。", cell=f"{letter['指标编号']}{excel_row}", **where)
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
                         cell=f"{letter[name]}{excel_row}", **where)
        value = None
        raw_value = raw[i_value]
        if kind != S.TYPE_QUALITATIVE:
            value_cell = f"{letter['累计完成']}{excel_row}"
            if raw_value.__class__ in _NUMBER_TYPES and raw_value == raw_value:
                value = float(raw_value)  # the common case: a number typed as a number
            elif _cell_text(raw_value) == "" and not isinstance(raw_value, (datetime, date)):
                if not is_city_total:
                    _finding(result, S.LEVEL_ERROR, "累计完成未填写。请填写年初至本月末的累计数；尚未开展请填 0。", cell=value_cell, **where)
            else:
                value, why = parse_number(raw_value, unit_name)
                if value is None:
                    _finding(result, S.LEVEL_ERROR, f"累计完成{why}。请只填写数字（计量单位：{unit_name}），不要写“约”、区间或文字说明，说明请写在“进展情况”。",
                             cell=value_cell, **where)
            if value is not None and value < 0:
                _finding(result, S.LEVEL_ERROR, f"累计完成为负数（{value:g}）。请填写不小于 0 的累计数。", cell=value_cell, **where)
                value = None
        state = _cell_text(raw[i_state])
        if state and state not in S.REPORTED_STATES:
            _finding(result, S.LEVEL_ERROR, f"进展状态“{state}”无效，请从下拉列表选择：{'、'.join(S.REPORTED_STATES)}。",
                     cell=f"{letter['进展状态']}{excel_row}", **where)
            state = ""
        if kind == S.TYPE_QUALITATIVE and not state:
            _finding(result, S.LEVEL_ERROR, "定性指标须选择进展状态。", cell=f"{letter['进展状态']}{excel_row}", **where)
        out.append((code, county, value, state, _clean_text(raw[i_progress]), _clean_text(raw[i_problems]),
                    _clean_text(raw[i_plan]), excel_row))
    for code, county in rules:
        if (code, county) not in seen:
            _finding(result, S.LEVEL_ERROR, f"缺少指标行“{code} {county}”。请不要删除模板中的行（不涉及的请填 0 并在进展情况中说明）。",
                     sheet=S.SHEET_FORM, indicator=code, county=county)
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
                     sheet=S.SHEET_FORM, cell=f"{letter['累计完成']}{excel_row}", indicator=code, county=S.CITY)
    return out


def add_history_warnings(result: ValidationResult, targets: Targets, previous: dict) -> None:
    """Warnings that need the target and the unit's previous accepted values.

    ``previous``: {(指标编号, 县市区): (累计完成, 月份)}, as ``Store.previous_values``.
    Given even when the file has errors, so the unit can fix everything in one round.
    """
    month = result.month
    if month is None or result.row_records is None:
        return
    rules = _unit_rules(targets, result.unit)
    lag, severe = targets.lag_threshold, targets.severe_threshold
    planned_by_code: dict[str, float] = {}
    letter = COLUMN_LETTER

    def warn(message: str, column: str, at: tuple) -> None:
        excel_row, code, county = at
        _finding(result, S.LEVEL_WARNING, message, sheet=S.SHEET_FORM, cell=f"{letter[column]}{excel_row}",
                 indicator=code, county=county)

    # Plain tuples and no per-row allocations unless there is something to say: on the batch
    # path this runs in the one process that also stores, for every file.
    for code, county, value, state, _progress, problems, plan, excel_row in result.row_records:
        locked, kind, _unit, _city_total = rules[(code, county)]
        at = (excel_row, code, county)
        target = locked[4]  # 年度目标
        explained = bool(problems and plan)
        if value is None or target is None or target != target or not target:
            if kind == S.TYPE_QUALITATIVE and state == "滞后" and not explained:
                warn("进展状态为“滞后”，请在“存在问题”和“下步计划”中说明原因与措施。", "存在问题", at)
            continue
        target = float(target)
        rate = value / target
        if rate > 1.5:
            warn(f"累计完成 {value:g} 超过年度目标 {target:g} 的 150%，请核实是否多填了位数或填成了其他口径。", "累计完成", at)
        prev_value, prev_month = previous.get((code, county), (None, None))
        if prev_value is not None and prev_value == prev_value:
            if value < prev_value and not problems:
                warn(f"累计完成 {value:g} 低于 {int(prev_month)} 月已报的 {prev_value:g}。累计数一般不应减少，如属核减请在“存在问题”中说明。",
                     "累计完成", at)
            if value - prev_value > 0.5 * target:
                warn(f"比 {int(prev_month)} 月增加 {value - prev_value:g}，超过年度目标的 50%，请核实。", "累计完成", at)
        if state == S.STATUS_DONE and rate < 1:
            warn(f"进展状态为“已完成”，但完成率仅 {rate:.1%}。请核对累计完成或进展状态。", "进展状态", at)
        if code not in planned_by_code:
            planned_by_code[code] = targets.planned_share(code, month)
        planned = planned_by_code[code]
        if (state == "滞后" or is_behind(classify(rate, planned, lag, severe))) and not explained:
            warn(f"完成率 {rate:.1%} 落后于序时进度 {planned:.0%}（或状态为滞后），请在“存在问题”和“下步计划”中说明原因与措施。",
                 "存在问题", at)
