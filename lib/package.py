"""The workbook package: what kind of file it is, and reading it safely (no clerk-facing rules here).

An upload is untrusted bytes. Before any reader sees them this module decides, on the raw zip structure, whether
they are a workbook at all (``sniff``: empty, too large, .xls, encrypted, PDF, text, .ods), and bounds what reading
them may cost (``open_package``):

- size caps before anything inflates (declared sizes, compression ratio, number of parts), then each part inflated
  up to the cap on its *actual* size with its CRC checked (``_inflate``), the workbook's total capped (``_keep``);
- no DOCTYPE in any XML part (entity expansion, external entities: Excel never writes one);
- only the parts the reader needs are inflated (the package parts, the form and meta sheets), and python-calamine
  is handed a new *stored* (uncompressed) package of just those parts (``Package.sheet_rows``), so it never touches
  a part that was not capped and checked;
- every cell of those sheets within ``config.MAX_SHEET_ROWS`` × ``MAX_SHEET_COLUMNS`` (calamine builds a dense grid:
  one far-away cell would cost gigabytes), cells without a position refused;
- what the values alone do not say, found in the XML: formulas (``Package.formula_cells``), Excel error values and
  percent formats of the 累计完成 column (``CellFacts``).

Every refusal is a ``Rejected`` with a finding code (lib/findings.py) and a Chinese message saying what to do;
lib/submission.py turns it into the file's one error. ``check_package`` is the same safety for a reader (openpyxl,
for the annotated copy) that opens the whole package. See docs/SECURITY.md for the threats and limits.
"""

from __future__ import annotations

import html
import io
import logging
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from python_calamine import CalamineWorkbook

from lib import config
from lib import schema as S
from lib.findings import message

log = logging.getLogger(__name__)


class Rejected(Exception):
    """The file cannot be read as a workbook: one file-level finding (its code, variant and message fields from
    lib/findings.py, and where: sheet, cell). ``str()`` is the Chinese message."""

    def __init__(self, code: str, variant: str = "", sheet: str = "", cell: str = "", **fields):
        super().__init__(message(code, variant, **fields))
        self.code, self.variant, self.fields, self.sheet, self.cell = code, variant, fields, sheet, cell


# --- what kind of file is it ------------------------------------------------------

def sniff(data: bytes, file_name: str) -> None:
    """Raise ``Rejected`` unless the bytes may be a workbook (judged on the first bytes and the name)."""
    name = file_name.lower()
    if not data:
        raise Rejected("file.empty")
    if len(data) > config.MAX_UPLOAD_BYTES:
        raise Rejected("file.too_large", size_mb=round(len(data) / 1024 / 1024, 1))
    head = data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
            raise Rejected("file.encrypted")
        raise Rejected("file.xls")
    if head.startswith(b"%PDF"):
        raise Rejected("file.pdf")
    if not head.startswith(b"PK"):
        if name.endswith((".csv", ".txt")) or _looks_like_text(data):
            raise Rejected("file.text")
        raise Rejected("file.unknown")


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


def _open_zip(data: bytes) -> tuple[zipfile.ZipFile, bool]:
    """The zip, within the caps on its declared structure, and whether it holds macros."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, OSError, ValueError, EOFError):
        log.info("upload is not a readable zip", exc_info=True)
        raise Rejected("file.corrupt") from None
    if len(infos) > config.MAX_ZIP_PARTS:
        raise Rejected("file.unsafe", "parts", parts=len(infos))
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        if "content.xml" in names and "mimetype" in names:
            raise Rejected("file.ods")
        raise Rejected("file.not_workbook")
    declared = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos) or 1
    if declared > config.MAX_UNCOMPRESSED_BYTES or any(i.file_size > config.MAX_PART_BYTES for i in infos):
        raise Rejected("file.unsafe", "declared_size")
    if declared / compressed > config.MAX_COMPRESSION_RATIO and declared > 1024 * 1024:
        raise Rejected("file.unsafe", "ratio")
    if any(i.flag_bits & 0x1 for i in infos):
        raise Rejected("file.encrypted", "zip_flag")
    return zf, "xl/vbaProject.bin" in names


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
                raise Rejected("file.corrupt", "crc")
            start = info.header_offset + _LOCAL_HEADER.size + head[-2] + head[-1]
            raw = data[start:start + info.compress_size]
            if info.compress_type == zipfile.ZIP_STORED:
                body = raw[:cap + 1]
            else:
                inflater = zlib.decompressobj(-15)
                body = inflater.decompress(raw, cap + 1)
            if len(body) > cap:
                raise Rejected("file.unsafe", "inflated_size")
            if len(body) != info.file_size or zlib.crc32(body) != info.CRC:
                raise Rejected("file.corrupt", "crc")
            return body
        with zf.open(info) as handle:
            body = handle.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, ValueError, NotImplementedError):
        log.info("part %r of an upload does not inflate", info.filename, exc_info=True)
        raise Rejected("file.corrupt", "crc") from None
    if len(body) > cap:
        raise Rejected("file.unsafe", "inflated_size")
    return body


def _keep(parts: dict[str, bytes], name: str, body: bytes) -> None:
    """Add an inflated part, within the cap on the workbook's total and with an XML prologue Excel would write."""
    if len(body) + sum(map(len, parts.values())) > config.MAX_UNCOMPRESSED_BYTES:
        raise Rejected("file.unsafe", "inflated_size")
    # Excel never writes a DOCTYPE; it is how entity-expansion (billion laughs) and external-entity attacks start.
    if name.endswith((".xml", ".rels", ".vml")) and b"<!DOCTYPE" in body[:4096].upper():
        raise Rejected("file.unsafe", "doctype")
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
                raise Rejected("file.corrupt", "sheet_part", sheet_name=sheet)
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
class CellFacts:
    """What the values alone do not say about the form's cells: formulas, error values and percent formats."""
    errors: dict[str, str] = field(default_factory=dict)  # "H12" -> "#DIV/0!"
    percent_rows: set[int] = field(default_factory=set)  # rows whose 累计完成 cell has a percent format
    texts: tuple[bytes, ...] = ()  # the XML parts that hold the form's text (for the rare over-long text)
    formulas: list[tuple[str, int]] = field(default_factory=list)  # (column letter, row) of each formula cell

    def has_text_over(self, limit: int) -> bool:
        """Whether any text in the form is longer than ``limit`` characters. calamine cuts text at Excel's limit,
        so a cell read at exactly the limit is checked here, in the XML (asked only then)."""
        for xml in self.texts:
            if len(xml) > limit:
                for run in re.findall(rb">([^<]{%d,})<" % limit, xml):
                    if len(html.unescape(run.decode("utf-8", "replace"))) > limit:
                        return True
        return False


_VALUE_LETTER = S.COLUMN_LETTER["累计完成"]
_VALUE_CELL = re.compile(rb'<c r="' + _VALUE_LETTER.encode() + rb'(\d+)"([^>]*)>')


def _cell_facts(xml: bytes, canonical: bool, styles: bytes | None) -> CellFacts:
    facts = CellFacts()
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


def _scan_sheets(parts: dict[str, bytes], sheets: dict[str, str]) -> CellFacts:
    """Bound the sheets calamine will load; the form's formulas and cell facts."""
    canonical = {}
    for sheet, part in sheets.items():
        canonical[sheet] = _is_canonical(parts[part])
        if not canonical[sheet]:
            where = _outside_extent(parts[part])
            if where == "":
                raise Rejected("file.unsafe", "no_position", sheet, sheet_name=sheet)
            if where is not None:
                raise Rejected("layout.outside_extent", "", sheet, where, sheet_name=sheet, ref=where)
    if S.SHEET_FORM not in sheets:
        return CellFacts()
    xml = parts[sheets[S.SHEET_FORM]]
    if canonical[S.SHEET_FORM]:
        cells = _canonical_formula_cells(xml)
    else:
        cells = [(letter.decode(), row.decode()) for letter, row in _FORMULA_CELL.findall(xml)]
    facts = _cell_facts(xml, canonical[S.SHEET_FORM], parts.get("xl/styles.xml"))
    facts.texts = (xml, parts.get("xl/sharedStrings.xml", b""))
    facts.formulas = [(letter, int(row)) for letter, row in cells]
    return facts


def check_package(data: bytes) -> None:
    """Raise ValueError (Chinese message) unless every part of the workbook is safe for a full reader such as openpyxl."""
    try:
        _inflate_all(zipfile.ZipFile(io.BytesIO(data)), data)
    except Rejected as reject:
        raise ValueError(str(reject)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, OSError, EOFError):
        log.info("workbook package does not open for a full reader", exc_info=True)
        raise ValueError(message("file.corrupt", "crc")) from None



@dataclass
class Package:
    """A workbook's checked parts: the package parts and the form and meta sheets, nothing else inflated."""
    parts: dict[str, bytes]
    sheets: dict[str, str]  # sheet name -> part name, for the sheets found
    facts: CellFacts
    has_macros: bool

    def sheet_rows(self) -> dict[str, list[list] | None]:
        """{sheet: rows of values} of the form and meta sheets (None: no such sheet), read by python-calamine from a
        stored package of the checked parts only. Raises ``Rejected`` when calamine cannot read them."""
        try:
            wb = CalamineWorkbook.from_filelike(io.BytesIO(_stored_package(self.parts)))
            return {sheet: _sheet_rows(wb, sheet) for sheet in (S.SHEET_FORM, S.SHEET_META)}
        except Exception as exc:
            log.info("calamine cannot read an upload's sheets", exc_info=True)
            name = type(exc).__name__
            if "Password" in name:
                raise Rejected("file.encrypted", "reader") from None
            raise Rejected("file.corrupt", "xml") from None


def _sheet_rows(wb: CalamineWorkbook, name: str) -> list[list] | None:
    if name not in wb.sheet_names:
        return None
    return wb.get_sheet_by_name(name).to_python(skip_empty_area=False)


def open_package(data: bytes, file_name: str) -> Package:
    """Check ``data`` as a workbook and inflate what the reader needs (raises ``Rejected``, see module docstring)."""
    sniff(data, file_name)
    zf, has_macros = _open_zip(data)
    parts, sheets = _needed_parts(zf, data)
    return Package(parts, sheets, _scan_sheets(parts, sheets), has_macros)
