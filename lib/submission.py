"""Parse and validate an uploaded monthly workbook.

``validate(data, file_name, targets, store)`` never raises on bad input: every
problem becomes a Finding (错误 blocks the file, 提醒 does not) naming the
file, sheet, cell and row, with a Chinese message saying what to fix.

The bytes are first opened by lib/package.py (is it a workbook at all; zip and
XML safety: caps, DOCTYPE, sheet extent; the cell values read by python-calamine
from a stored package of the checked parts only). This module holds the rules a
clerk meets, one small function per area, in the order they run:

- the file: a formula in an input cell (``_check_formulas``), macros;
- which unit and year (``_identify_unit``), the header block and 报送月份 (``_read_header``);
- each row (``_read_rows``): its identity (``_row_identity``: an indicator of this unit and
  a county its template has, once), the locked columns (``_check_locked``), Excel error
  values, 累计完成 (``_read_value``, ``parse_number``), 进展状态 (``_read_state``), the
  narratives (``_read_texts``); then across rows: another unit's rows, missing rows, the
  全市 totals (``_check_city_totals``);
- the warnings that need the unit's other months (``add_history_warnings``).

Every finding carries a code from lib/findings.py. openpyxl is never used on uploads
here. ``validate_many`` spreads files over processes for the batch path.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import pandas as pd

from lib import schema as S
from lib.calendar import add_months
from lib.findings import Finding, finding, listing, message
from lib.package import CellFacts, Rejected, open_package
from lib.status import classify, completion_rate, is_behind, is_done, planned_share
from lib.targets import Targets

COLUMN_LETTER, HEADER_CELLS = S.COLUMN_LETTER, S.HEADER_CELLS

log = logging.getLogger(__name__)

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


def _finding(result, level: str, code: str, *, variant: str = "", sheet: str = "", cell: str = "", indicator: str = "",
             county: str = "", **fields) -> None:
    """Add the finding ``code`` (its message from lib/findings.py with ``fields``) to the file's result."""
    result.findings.append(finding(code, level, variant=variant, file=result.file_name, sheet=sheet, cell=cell,
                                   indicator=indicator, county=county, **fields))



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


@dataclass(frozen=True)
class NumberProblem:
    """Why a typed value is not read as a number: the finding's code, variant and message fields (lib/findings.py).
    ``str()`` is the Chinese message."""
    code: str
    variant: str
    fields: dict

    def __str__(self) -> str:
        return message(self.code, self.variant, **self.fields)


def parse_number(value, unit: str) -> tuple[float | None, NumberProblem | None]:
    """Parse what people type into 累计完成. Returns (number, None) or (None, why).

    Accepts numbers, full-width digits, a comma (half- or full-width) or space only as a correct thousands
    grouping, and a trailing unit matching the row's 计量单位 (or % for percent rows). Anything with another
    comma is refused (``why.code`` = "value.ambiguous_separator"): 3，5 · 12,00 · 1200,5 are never guessed.
    """
    if isinstance(value, bool):
        return None, NumberProblem("value.not_number", "boolean", {"measure": unit})
    if isinstance(value, (datetime, date)):
        return None, NumberProblem("value.not_number", "date", {"measure": unit})
    if isinstance(value, (int, float)):
        if value != value:
            return None, NumberProblem("value.not_number", "nan", {"measure": unit})
        return float(value), None
    text = unicodedata.normalize("NFKC", str(value)).strip()  # NFKC: ，→ , and full-width digits
    text = text.replace("\u2212", "-")  # the minus sign U+2212 (NFKC keeps it) is a minus: read as negative, then refused as such
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
            return None, NumberProblem("value.ambiguous_separator", "", {"typed": value})
    return None, NumberProblem("value.not_number", "", {"typed": value, "measure": unit})


def _parse_month(value, year: int) -> tuple[int | None, tuple[str, dict] | None]:
    """报送月份 as a month of ``year``, or None with why: the variant of ``period.invalid`` and its fields."""
    if isinstance(value, (datetime, date)):
        return (value.month, None) if value.year == year else (None, ("other_year", {"typed_year": value.year, "year": year}))
    text = unicodedata.normalize("NFKC", _cell_text(value))
    if not text:
        return None, ("blank", {})
    m = re.fullmatch(r"(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*月?", text)
    if not m:
        return None, ("not_month", {"typed": text, "year": year})
    y, month = int(m.group(1)), int(m.group(2))
    if y != year:
        return None, ("other_year", {"typed_year": y, "year": year})
    if not 1 <= month <= 12:
        return None, ("bad_month", {"month": month})
    return month, None


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
    except Rejected as reject:
        _finding(result, S.LEVEL_ERROR, reject.code, variant=reject.variant, sheet=reject.sheet, cell=reject.cell,
                 **reject.fields)
        result.row_records = None
    except Exception as exc:  # last resort: a reader bug must not become a traceback for the user
        log.exception("validating %r failed", result.file_name)
        _finding(result, S.LEVEL_ERROR, "file.read_error", error=type(exc).__name__)
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
    package = open_package(data, file_name)
    result.has_macros = package.has_macros
    _check_formulas(package.facts, result)
    sheets = package.sheet_rows()
    result.is_workbook = True
    if result.has_macros:
        _finding(result, S.LEVEL_WARNING, "file.macros")
    form = sheets[S.SHEET_FORM]
    if form is None:
        raise Rejected("layout.sheet_missing")
    unit = _identify_unit(form, sheets[S.SHEET_META], targets, result)
    _read_header(form, targets, today, result)
    header_row = S.FORM_HEADER_ROW - 1
    header = [_cell_text(v) for v in form[header_row]] if len(form) > header_row else []
    if header[: len(S.FORM_COLUMNS)] != S.FORM_COLUMNS:
        raise Rejected("layout.header_changed", "", S.SHEET_FORM, f"A{S.FORM_HEADER_ROW}")
    stale = bool(result.targets_version) and result.targets_version != targets.version
    rows = _read_rows(form, header_row + 1, targets, unit, result, stale, package.facts)
    if stale:
        level = S.LEVEL_ERROR if any(f.level == S.LEVEL_ERROR and f.indicator for f in result.findings) else S.LEVEL_WARNING
        _finding(result, level, "template.outdated", variant="accepted" if level == S.LEVEL_WARNING else "refused")
    result.row_records = rows
    if history:
        context = store.history_context(unit, targets.year, result.month) if store is not None and result.month is not None else {}
        add_history_warnings(result, targets, context, today)


def _check_formulas(facts: CellFacts, result: ValidationResult) -> None:
    """A formula typed into an input cell is an error: the system never computes formulas."""
    for letter, row in facts.formulas:
        if letter in INPUT_LETTERS and row >= S.FORM_FIRST_DATA_ROW:
            _finding(result, S.LEVEL_ERROR, "layout.formula_in_input", sheet=S.SHEET_FORM, cell=f"{letter}{row}")


def _identify_unit(form: list[list], meta_rows: list[list] | None, targets: Targets, result: ValidationResult) -> str:
    """Which unit's template of which year this is: the hidden meta sheet, checked against the header's 填报单位."""
    meta = {_cell_text(r[0]): _cell_text(r[1]) for r in (meta_rows or []) if len(r) >= 2}
    header_unit = _cell_text(_at(form, HEADER_CELLS[S.HEADER_UNIT][1]))
    unit = meta.get("单位")
    if not unit:
        if header_unit in targets.reporting_units:
            unit = header_unit
            _finding(result, S.LEVEL_WARNING, "unit.from_header", sheet=S.SHEET_FORM, cell=HEADER_CELLS[S.HEADER_UNIT][1],
                     unit=unit)
        else:
            raise Rejected("unit.unknown")
    if unit not in targets.reporting_units:
        raise Rejected("unit.not_reporting", unit=unit)
    if header_unit and header_unit != unit:
        # One cause, one finding: the rows would only repeat it (they belong to the other unit).
        raise Rejected("unit.header_changed", "", S.SHEET_FORM, HEADER_CELLS[S.HEADER_UNIT][1], header_unit=header_unit,
                       unit=unit)
    result.unit = unit
    result.year = targets.year
    if meta.get("年度") and meta["年度"] != str(targets.year):
        raise Rejected("template.other_year", year=meta["年度"], table_year=targets.year)
    result.template_version = meta.get("模板版本", "")
    result.targets_version = meta.get("目标表版本", "")
    return unit


def _read_header(form: list[list], targets: Targets, today: date, result: ValidationResult) -> None:
    """The header block: 报送月份 (not in the future; the current month warned), 填报人, 联系电话, 填报日期."""
    month, why = _parse_month(_at(form, HEADER_CELLS[S.HEADER_MONTH][1]), targets.year)
    cell = HEADER_CELLS[S.HEADER_MONTH][1]
    if month is None:
        variant, fields = why
        _finding(result, S.LEVEL_ERROR, "period.invalid", variant=variant, sheet=S.SHEET_FORM, cell=cell, **fields)
    elif (targets.year, month) > (today.year, today.month):
        _finding(result, S.LEVEL_ERROR, "period.future", sheet=S.SHEET_FORM, cell=cell, year=targets.year, month=month)
        month = None
    elif (targets.year, month) == (today.year, today.month):
        if month > 1:
            _finding(result, S.LEVEL_WARNING, "period.current_month", sheet=S.SHEET_FORM, cell=cell, month=month,
                     year=targets.year, previous=month - 1)
        else:
            _finding(result, S.LEVEL_WARNING, "period.current_month", variant="january", sheet=S.SHEET_FORM, cell=cell,
                     month=month)
    result.month = month
    result.filler = _clean_text(_at(form, HEADER_CELLS[S.HEADER_FILLER][1]))
    result.phone = _clean_text(_at(form, HEADER_CELLS[S.HEADER_PHONE][1]))
    fill_date = _at(form, HEADER_CELLS[S.HEADER_DATE][1])
    result.fill_date = fill_date.strftime("%Y-%m-%d") if isinstance(fill_date, (datetime, date)) else _clean_text(fill_date)


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
_I_CODE, _I_COUNTY, _I_VALUE, _I_STATE = (COL_INDEX[c] for c in ("指标编号", "县市区", "累计完成", "进展状态"))
_TEXT_COLUMNS = tuple((COL_INDEX[c], c) for c in S.NARRATIVE_COLUMNS)  # 进展情况, 存在问题, 下步计划
_INPUT_COLUMNS_CHECKED = ("累计完成", "进展状态", "进展情况", "存在问题", "下步计划")


class _Form:
    """What the row rules share while one form is read: the unit's expected rows, the cell facts, the result,
    and which rows were seen (row identity is decided across rows: duplicates, missing rows, another unit's)."""

    __slots__ = ("result", "targets", "unit", "stale", "rules", "limits", "units_of", "counties", "errors",
                 "percent_rows", "facts", "seen", "other_units")

    def __init__(self, targets: Targets, unit: str, result: ValidationResult, stale: bool, facts: CellFacts | None):
        facts = facts or CellFacts()
        self.result, self.targets, self.unit, self.stale, self.facts = result, targets, unit, stale, facts
        self.rules, self.limits = _unit_rules(targets, unit), _value_limits(targets, unit)
        self.units_of = _indicator_units(targets)
        self.counties = set(targets.counties) | {S.CITY}
        self.errors, self.percent_rows = facts.errors, facts.percent_rows
        self.seen: dict[tuple, int] = {}
        self.other_units: dict[str, list[str]] = {}  # another unit -> cells of its rows (one finding per unit)

    def error(self, code: str, cell: str, where: dict, variant: str = "", **fields) -> None:
        _finding(self.result, S.LEVEL_ERROR, code, variant=variant, cell=cell, **where, **fields)


def _read_rows(form, first, targets, unit, result, stale, facts: CellFacts | None = None) -> list[tuple]:
    """Every indicator row of the form, read with certainty or refused cell by cell (one tuple per row, as
    ROW_COLUMNS), then the checks across rows: missing rows, another unit's rows, the 全市 totals."""
    ctx = _Form(targets, unit, result, stale, facts)
    width = len(S.FORM_COLUMNS)
    out = []
    for offset, raw in enumerate(form[first:]):
        excel_row = first + offset + 1
        if len(raw) < width:
            raw = list(raw) + [None] * (width - len(raw))
        if all(_is_blank(v) for v in raw) and not (ctx.errors and any(f"{c}{excel_row}" in ctx.errors for c in INPUT_LETTERS)):
            continue  # blank row
        key = _row_identity(ctx, raw, excel_row)
        if key is None:
            continue
        where = dict(sheet=S.SHEET_FORM, indicator=key[0], county=key[1])
        _check_locked(ctx, raw, key, excel_row, where)
        if ctx.errors:
            _check_error_values(ctx, excel_row, where)
        value = _read_value(ctx, raw[_I_VALUE], key, excel_row, where)
        state = _read_state(ctx, raw[_I_STATE], ctx.rules[key][1], value, excel_row, where)
        texts = _read_texts(ctx, raw, excel_row, where)
        out.append((*key, value, state, *texts, excel_row))
    _check_other_units(ctx)
    _check_missing_rows(ctx)
    _check_city_totals(ctx, out)
    return out


def _row_identity(ctx: _Form, raw: list, excel_row: int) -> tuple[str, str] | None:
    """(指标编号, 县市区) of a row the unit's template holds, once; None (with the finding) for anything else."""
    code, county = _cell_text(raw[_I_CODE]), _cell_text(raw[_I_COUNTY])
    where = dict(sheet=S.SHEET_FORM, indicator=code, county=county)
    letter = COLUMN_LETTER
    if not code:
        # Not an indicator row: a note, a signature, a total typed below the table. Name the cell holding it.
        at = next((i for i, v in enumerate(raw) if not _is_blank(v)), _I_VALUE)
        ref = f"{_column_letters(at + 1)}{excel_row}"
        shown = _cell_text(raw[at])
        shown = (shown[:20] + "…") if len(shown) > 20 else shown
        _finding(ctx.result, S.LEVEL_ERROR, "layout.stray_content", cell=ref, sheet=S.SHEET_FORM, row=excel_row, ref=ref,
                 shown=shown)
        return None
    if code not in ctx.units_of:
        ctx.error("row.unknown_indicator", f"{letter['指标编号']}{excel_row}", where, typed=code)
        return None
    if ctx.units_of[code] != ctx.unit:
        ctx.other_units.setdefault(ctx.units_of[code], []).append(f"{letter['指标编号']}{excel_row}")
        return None
    if county not in ctx.counties:
        ctx.error("row.unknown_county", f"{letter['县市区']}{excel_row}", where, typed=county)
        return None
    key = (code, county)
    if key not in ctx.rules:
        ctx.error("row.county_not_expected", f"{letter['县市区']}{excel_row}", where, number=code, typed=county)
        return None
    if key in ctx.seen:
        ctx.error("row.duplicate", f"{letter['指标编号']}{excel_row}", where, row=ctx.seen[key])
        return None
    ctx.seen[key] = excel_row
    return key


def _check_locked(ctx: _Form, raw: list, key: tuple[str, str], excel_row: int, where: dict) -> None:
    """The locked columns as the target table has them (an outdated template says so instead)."""
    locked = ctx.rules[key][0]
    got = [raw[i] for i in _LOCKED_INDEX]
    # Fast path: an untouched row equals the table exactly (the target compared as a real number).
    if got[:4] == list(locked[:4]) and got[4].__class__ in _NUMBER_TYPES and got[4] == locked[4]:
        return
    for name, got_value, should in zip(LOCKED_CHECKED, got, locked):
        if _same_locked(name, got_value, should):
            continue
        shown = ("（空）" if pd.isna(should) else float(should)) if name == "年度目标" else _cell_text(should)
        ctx.error("template.outdated" if ctx.stale else "row.locked_changed", f"{COLUMN_LETTER[name]}{excel_row}", where,
                  variant="locked" if ctx.stale else "", column=name, got=_cell_text(got_value), should=shown)


def _check_error_values(ctx: _Form, excel_row: int, where: dict) -> None:
    """Excel error values (#DIV/0!, #N/A …) in the row's input cells: neither a number nor a text."""
    for column in _INPUT_COLUMNS_CHECKED:
        ref = f"{COLUMN_LETTER[column]}{excel_row}"
        if ref in ctx.errors:
            if column == "累计完成":
                ctx.error("value.error_value", ref, where, variant="number", error=ctx.errors[ref])
            else:
                ctx.error("value.error_value", ref, where, variant="text", column=column, error=ctx.errors[ref])


def _read_value(ctx: _Form, raw_value, key: tuple[str, str], excel_row: int, where: dict) -> float | None:
    """累计完成 read with certainty, or None with the finding (a qualitative row has none)."""
    locked, kind, unit_name, is_city_total = ctx.rules[key]
    value_cell = f"{COLUMN_LETTER['累计完成']}{excel_row}"
    if kind == S.TYPE_QUALITATIVE or value_cell in ctx.errors:
        return None
    value = None
    if raw_value.__class__ in _NUMBER_TYPES and raw_value == raw_value:
        value = float(raw_value)  # the common case: a number typed as a number
        if excel_row in ctx.percent_rows:
            value = _percent_value(ctx, value, unit_name, value_cell, where)
    elif _cell_text(raw_value) == "" and not isinstance(raw_value, (datetime, date)):
        if not is_city_total:
            ctx.error("value.blank", value_cell, where)
    else:
        value, why = parse_number(raw_value, unit_name)
        if value is None:
            ctx.error(why.code, value_cell, where, variant=why.variant, **why.fields)
    if value is not None and value < 0:
        ctx.error("value.negative", value_cell, where, value=value)
        return None
    if value is not None and value > ctx.limits[key]:
        problem = _impossible(value, locked[4], kind, unit_name)
        if problem:
            variant, fields = problem
            ctx.error("value.impossible", value_cell, where, variant=variant, **fields)
            return None
    return value


def _percent_value(ctx: _Form, value: float, unit_name: str, value_cell: str, where: dict) -> float | None:
    """A number in a percent-formatted cell: typed "62%", Excel stores 0.62. Right only in a % row."""
    if unit_name == "%":
        return float(f"{value * 100:.12g}")
    ctx.error("value.percent_format", value_cell, where, shown=value, measure=unit_name)
    return None


def _read_state(ctx: _Form, raw_state, kind: str, value: float | None, excel_row: int, where: dict) -> str:
    """进展状态: one of the list (blank allowed for a quantitative row), or "" with the finding."""
    state_cell = f"{COLUMN_LETTER['进展状态']}{excel_row}"
    state = _cell_text(raw_state)
    if state and state not in S.REPORTED_STATES:
        ctx.error("state.invalid", state_cell, where, typed=state)
        state = ""
    if kind == S.TYPE_QUALITATIVE and not state and state_cell not in ctx.errors:
        ctx.error("state.missing", state_cell, where)
    if state == S.STATE_NOT_STARTED and value:
        _finding(ctx.result, S.LEVEL_WARNING, "state.not_started_with_value", cell=state_cell, **where, value=value)
    return state


def _read_texts(ctx: _Form, raw: list, excel_row: int, where: dict) -> tuple[str, str, str]:
    """进展情况, 存在问题, 下步计划 kept whole (control characters dropped); text over Excel's cell limit refused."""
    texts = tuple(_clean_text(raw[i]) for i, _column in _TEXT_COLUMNS)
    if any(len(text) >= _LONG for text in texts):  # calamine cuts text at the limit: look closer
        for i, column in _TEXT_COLUMNS:
            text = raw[i]
            if text.__class__ is str and len(text) >= EXCEL_CELL_CHARS and ctx.facts.has_text_over(EXCEL_CELL_CHARS):
                ctx.error("text.too_long", f"{COLUMN_LETTER[column]}{excel_row}", where, column=column,
                          limit=EXCEL_CELL_CHARS)
    return texts


def _check_other_units(ctx: _Form) -> None:
    """Rows of another unit's indicators: one finding per unit, naming the first cell."""
    for other, cells in ctx.other_units.items():
        _finding(ctx.result, S.LEVEL_ERROR, "row.other_unit", sheet=S.SHEET_FORM, cell=cells[0], rows=len(cells),
                 other=other, unit=ctx.unit, first=cells[0])


def _check_missing_rows(ctx: _Form) -> None:
    """Rows of the template that are not in the form (from an outdated template: it says so)."""
    missing = [(code, county) for code, county in ctx.rules if (code, county) not in ctx.seen]
    if not missing or ctx.other_units:
        return
    names = listing([f"{code} {county}" for code, county in missing], "行")
    code, county = missing[0] if len(missing) == 1 else ("", "")
    if ctx.stale:
        _finding(ctx.result, S.LEVEL_ERROR, "template.outdated", variant="rows_missing", sheet=S.SHEET_FORM,
                 indicator=code, county=county, rows=names)
    else:
        _finding(ctx.result, S.LEVEL_ERROR, "row.missing", sheet=S.SHEET_FORM, indicator=code, county=county, rows=names)


def _check_city_totals(ctx: _Form, out: list[tuple]) -> None:
    """City total rows of split indicators: optional, but must add up to the counties when given."""
    city_rows, parts, incomplete = {}, {}, set()
    for code, county, value, *_rest, excel_row in out:
        if ctx.rules[(code, county)][3]:
            city_rows[code] = (value, excel_row)
        elif county != S.CITY:
            if value is None:
                incomplete.add(code)
            parts[code] = parts.get(code, 0.0) + (value or 0.0)
    for code, (value, excel_row) in city_rows.items():
        if value is None or code in incomplete or code not in parts:
            continue
        if abs(value - parts[code]) > 1e-6:
            _finding(ctx.result, S.LEVEL_ERROR, "value.city_total_mismatch", sheet=S.SHEET_FORM,
                     cell=f"{COLUMN_LETTER['累计完成']}{excel_row}", indicator=code, county=S.CITY, total=value,
                     parts=parts[code])


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


def _impossible(value: float, target, kind: str, unit_name: str) -> tuple[str, dict] | None:
    """Why a read value cannot be meant (an error): the variant of ``value.impossible`` and its fields; or None."""
    if kind == S.TYPE_RATE and unit_name == "%" and value > 100:
        return "share", {"value": value, "target": float(target)}
    if target is not None and target == target and target > 0 and value > IMPOSSIBLE_MULTIPLE * float(target):
        return "multiple", {"value": value, "target": float(target), "times": round(value / float(target), 0),
                            "limit": IMPOSSIBLE_MULTIPLE, "measure": unit_name}
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

    def warn(code: str, column: str, at: tuple, variant: str = "", **fields) -> None:
        excel_row, indicator, county = at
        _finding(result, S.LEVEL_WARNING, code, variant=variant, sheet=S.SHEET_FORM, cell=f"{letter[column]}{excel_row}",
                 indicator=indicator, county=county, **fields)

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
                warn("state.lagging_unexplained", "存在问题", at)
            continue
        target = float(target)
        basis = targets.bases.get(code, S.BASIS_EXACT)
        multiple = value / target
        rate = completion_rate(value, target, basis)  # a ceiling is kept (100 %) at or under it
        if 1.5 < multiple <= IMPOSSIBLE_MULTIPLE:
            warn("value.over_target", "累计完成", at, value=value, target=target, share=multiple)
        prev_value, prev_month = previous.get((code, county), (None, None))
        if prev_value is not None and prev_value == prev_value:
            if value < prev_value and not problems:
                warn("value.below_previous", "累计完成", at, value=value, month=int(prev_month), previous=prev_value)
            if value - prev_value > 0.5 * target:
                warn("value.jump", "累计完成", at, month=int(prev_month), increase=value - prev_value)
        if following:
            next_value, next_month = following.get((code, county), (None, None))
            if next_value is not None and next_value == next_value and value > next_value:
                warn("value.above_later", "累计完成", at, value=value, month=int(next_month), later=next_value)
        if state == S.STATUS_DONE and rate == rate and not is_done(rate, basis):
            warn("state.done_below_target", "进展状态", at, rate=rate)
        if explained:
            continue
        if code not in planned_by_code:
            planned_by_code[code] = planned_share(month, code, targets.schedule)
        planned = planned_by_code[code]
        if is_behind(classify(rate, planned, lag, severe, basis)):
            if value > target and basis == S.BASIS_CEILING:
                warn("progress.behind_unexplained", "存在问题", at, "ceiling", value=value, target=target)
            else:
                warn("progress.behind_unexplained", "存在问题", at, rate=rate, planned=planned)
        elif state == S.STATUS_LAGGING:
            warn("state.lagging_unexplained", "存在问题", at, "not_behind", rate=rate, planned=planned)
    # The 报送月份 left at last month: the file replaces that month's report with grown values while the next
    # month's report is what is due now (today is at least two months on) and has not come yet.
    if (grew and changed and today is not None and month + 1 not in history.reported_months
            and (today.year, today.month) >= add_months(result.year, month, 2)):
        _finding(result, S.LEVEL_WARNING, "period.month_unchanged", sheet=S.SHEET_FORM, cell=HEADER_CELLS[S.HEADER_MONTH][1],
                 month=month, next_month=month + 1, year=result.year)

