"""Validation rules, one test each, on real workbooks made from the real templates."""

from __future__ import annotations

import io
import subprocess
import zipfile
from datetime import date, datetime

import pytest
from msoffcrypto.format.ooxml import OOXMLFile
from openpyxl import load_workbook

from lib import schema as S
from lib.annotate import annotated_copy
from lib.formatting import fmt_figure
from lib.package import check_package
from lib.store import Store
from lib.submission import parse_number, validate
from lib.template import HEADER_CELLS
from tests.conftest import require_tool
from tests.factory import edit, entries_for, filled, rezip, row_of

UNIT = "市体育局"  # P26-1 split to 14 counties (+全市), P26-2 定性, P26-3 比率 %, P26-4 比率 平方米
END = date(2024, 12, 31)


def check(targets, data, store=None, today=END, name="体育局3月.xlsx"):
    return validate(data, name, targets, store, today=today)


def errors(result):
    return [(f.cell, f.message) for f in result.errors]


def only_error(result):
    assert len(result.errors) == 1, [str(f) for f in result.findings]
    return result.errors[0]


def test_a_clean_file_is_accepted(targets):
    result = check(targets, filled(targets, UNIT))
    assert result.accepted, [str(f) for f in result.findings]
    assert not result.findings  # on schedule (30 % in March), nothing typed wrong: not even a reminder
    assert result.unit == UNIT and result.month == 3 and result.period == "2024-03"
    assert len(result.rows) == len(targets.expected_rows(UNIT))
    row = result.rows.set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区")]
    assert row["累计完成"] == 3.0 and row["进展状态"] == "正常推进"


# --- not a workbook ----------------------------------------------------------------

def test_empty_file(targets):
    assert "文件为空" in only_error(check(targets, b"")).message


def test_renamed_csv(targets):
    result = check(targets, "指标编号,累计完成\nP26-1,3\n".encode(), name="报表.xlsx")
    assert "CSV" in only_error(result).message


def test_pdf(targets):
    assert "PDF" in only_error(check(targets, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")).message


def test_truncated_zip(targets):
    data = filled(targets, UNIT)
    assert "损坏或不完整" in only_error(check(targets, data[: len(data) // 2])).message


def test_zip_that_is_not_a_workbook(targets):
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert "不是 Excel 工作簿" in only_error(check(targets, buffer.getvalue())).message


def test_encrypted_workbook(targets):
    plain = io.BytesIO(filled(targets, UNIT))
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", encrypted)  # real encryption (msoffcrypto is a dev requirement), not a stand-in
    assert OOXMLFile(io.BytesIO(encrypted.getvalue())).is_encrypted()
    assert "密码" in only_error(check(targets, encrypted.getvalue())).message


def test_old_xls(targets, tmp_path):
    require_tool("soffice")
    src = tmp_path / "old.xlsx"
    src.write_bytes(filled(targets, UNIT))
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "xls",
                    "--outdir", str(tmp_path), str(src)], check=True, capture_output=True, timeout=120)
    result = check(targets, (tmp_path / "old.xls").read_bytes(), name="old.xls")
    assert ".xls" in only_error(result).message and "另存为" in only_error(result).message


def test_xlsm_values_read_macro_never_run(targets):
    data = filled(targets, UNIT)
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        types = zf.read("[Content_Types].xml")
    types = types.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    macro = rezip(data, replace={"[Content_Types].xml": types}, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 fake vba"})
    result = check(targets, macro, name="报表.xlsm")
    assert result.accepted and result.has_macros
    assert any("宏" in f.message and f.level == S.LEVEL_WARNING for f in result.findings)


# --- unit and version ----------------------------------------------------------------

def test_missing_metadata_identified_from_header(targets):
    data = edit(filled(targets, UNIT), lambda ws, wb: wb.remove(wb[S.SHEET_META]))
    result = check(targets, data)
    assert result.accepted and result.unit == UNIT
    assert any("缺少模板元数据" in f.message and f.level == S.LEVEL_WARNING for f in result.findings)


def test_missing_metadata_and_unknown_header_rejected(targets):
    def strip(ws, wb):
        wb.remove(wb[S.SHEET_META])
        ws.protection.sheet = False
        ws[HEADER_CELLS[S.HEADER_UNIT][1]] = "某某办公室"
    result = check(targets, edit(filled(targets, UNIT), strip))
    assert "无法识别填报单位" in only_error(result).message


def set_meta(key, value):
    def fn(ws, wb):
        for row in wb[S.SHEET_META].iter_rows():
            if row[0].value == key:
                row[1].value = value
    return fn


def test_older_target_table_rows_match_is_a_warning(targets):
    result = check(targets, edit(filled(targets, UNIT), set_meta("目标表版本", "0000old")))
    assert result.accepted
    assert any("旧版目标表" in f.message and f.level == S.LEVEL_WARNING for f in result.findings)


def test_older_target_table_rows_differ_is_an_error(targets):
    def fn(ws, wb):
        set_meta("目标表版本", "0000old")(ws, wb)
        ws[f"G{row_of(targets, UNIT, 'P26-1', '任城区')}"] = 8
    result = check(targets, edit(filled(targets, UNIT), fn))
    assert not result.accepted
    assert any("旧版目标表" in f.message and f.level == S.LEVEL_ERROR for f in result.findings)


# --- month ---------------------------------------------------------------------------

@pytest.mark.parametrize("month, expected", [(None, "未填写"), ("2024-13", "不是有效月份"), ("三月", "不是月份"),
                                             ("2023-03", "不是本表年度")])
def test_bad_month(targets, month, expected):
    data = filled(targets, UNIT, month=month)
    error = only_error(check(targets, data))
    assert expected in error.message and error.cell == "F2"


def test_january_and_december_are_months_and_0_and_13_are_not(targets):
    """报送月份 1 to 12 inclusive: the year's first and last reports are read, a month 0 or 13 is refused at F2."""
    for month, expected in (("2024-01", 1), ("2024-1", 1), ("2024年12月", 12), ("2024-12", 12)):
        result = check(targets, filled(targets, UNIT, month=month), today=date(2025, 1, 10))
        assert result.month == expected and "period.invalid" not in [f.code for f in result.findings], month
    for month in ("2024-00", "2024-13"):
        error = only_error(check(targets, filled(targets, UNIT, month=month)))
        assert error.code == "period.invalid" and "不是有效月份" in error.message and error.cell == "F2", month


def test_future_month(targets):
    error = only_error(check(targets, filled(targets, UNIT, month="2024-05"), today=date(2024, 4, 20)))
    assert "晚于当前月份" in error.message and error.cell == "F2"


def test_month_typed_as_a_date_or_chinese(targets):
    assert check(targets, filled(targets, UNIT, month=datetime(2024, 3, 1))).month == 3
    assert check(targets, filled(targets, UNIT, month="2024年3月")).month == 3


# --- rows ----------------------------------------------------------------------------

def test_unknown_indicator(targets):
    r = row_of(targets, UNIT, "P26-2")
    result = check(targets, edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(f"A{r}", "P99-9")))
    assert (f"A{r}", "指标编号“P99-9”不在目标表中。请不要新增或改动指标行。") in errors(result)
    assert any("缺少指标行“P26-2 全市”" in m for _, m in errors(result))


def test_row_of_another_unit(targets):
    r = row_of(targets, UNIT, "P26-3")
    result = check(targets, edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(f"A{r}", "P01-1")))
    assert any(c == f"A{r}" and "由“市民政局”填报" in m for c, m in errors(result))


def test_duplicated_row(targets):
    r = row_of(targets, UNIT, "P26-3")

    def dup(ws, wb):
        last = ws.max_row + 1
        for col in range(1, 14):
            ws.cell(row=last, column=col, value=ws.cell(row=r, column=col).value)
    result = check(targets, edit(filled(targets, UNIT), dup))
    assert any("重复" in m and f"第 {r} 行" in m for _, m in errors(result))


def test_missing_row(targets):
    r = row_of(targets, UNIT, "P26-4")
    result = check(targets, edit(filled(targets, UNIT), lambda ws, wb: ws.delete_rows(r)))
    assert any("缺少指标行“P26-4 全市”" in m for _, m in errors(result))


def test_locked_target_edited(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    result = check(targets, edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(f"G{r}", 8)))
    assert (f"G{r}", "锁定列“年度目标”被改动：现为“8”，应为“10”。请恢复原值，目标如需调整请联系督查室。") in errors(result)


def test_locked_name_edited(targets):
    r = row_of(targets, UNIT, "P26-3")
    result = check(targets, edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(f"D{r}", "锻炼比例")))
    assert any(c == f"D{r}" and "应为“经常参加体育锻炼人数比例”" in m for c, m in errors(result))


# --- 累计完成 ------------------------------------------------------------------------

@pytest.mark.parametrize("typed, unit, expected", [
    ("１２３", "处", 123.0), ("1,234", "处", 1234.0), ("300处", "处", 300.0), ("62%", "%", 62.0),
    (" 45.5 ", "%", 45.5), (7, "处", 7.0), ("3.5平方米", "平方米", 3.5), ("1，200", "个", 1200.0),
])
def test_numbers_people_really_type(typed, unit, expected):
    assert parse_number(typed, unit) == (expected, None)


@pytest.mark.parametrize("typed", ["约300", "300-400", "三百", "300户", "TRUE", "30%"])
def test_numbers_that_are_not(typed):
    value, why = parse_number(typed, "处")
    assert value is None and why


def test_blank_value(targets):
    r = row_of(targets, UNIT, "P26-1", "邹城市")
    data = filled(targets, UNIT, overrides={("P26-1", "邹城市"): {"累计完成": None}})
    assert (f"H{r}", "累计完成未填写。请填写年初至本月末的累计数；尚未开展请填 0。") in errors(check(targets, data))


def test_text_value(targets):
    r = row_of(targets, UNIT, "P26-1", "微山县")
    data = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": "约300"}})
    error = only_error(check(targets, data))
    assert error.cell == f"H{r}" and "“约300”不是单纯的数字" in error.message
    assert error.indicator == "P26-1" and error.county == "微山县" and error.sheet == S.SHEET_FORM


def test_negative_value(targets):
    data = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": -2}})
    assert "负数" in only_error(check(targets, data)).message


def test_date_and_boolean_in_number_cells(targets):
    data = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": datetime(2024, 3, 1)},
                                           ("P26-1", "鱼台县"): {"累计完成": True}})
    messages = [m for _, m in errors(check(targets, data))]
    assert any("是日期" in m for m in messages) and any("逻辑值" in m for m in messages)


def test_qualitative_needs_a_state(targets):
    data = filled(targets, UNIT, overrides={("P26-2", S.CITY): {"进展状态": None}})
    assert "定性指标须选择进展状态" in only_error(check(targets, data)).message


def test_invalid_state(targets):
    data = filled(targets, UNIT, overrides={("P26-3", S.CITY): {"进展状态": "差不多"}})
    assert "进展状态“差不多”无效" in only_error(check(targets, data)).message


def test_formula_in_input_cell_is_rejected_never_evaluated(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    data = filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": "=1+1", "进展情况": '=HYPERLINK("http://x","y")'}})
    cells = {c for c, m in errors(check(targets, data)) if "含公式" in m}
    assert cells == {f"H{r}", f"K{r}"}


# --- sums and history ------------------------------------------------------------------

def test_city_row_must_add_up(targets):
    r = row_of(targets, UNIT, "P26-1", S.CITY)
    data = filled(targets, UNIT, overrides={("P26-1", S.CITY): {"累计完成": 99}})
    error = only_error(check(targets, data))
    assert error.cell == f"H{r}" and "与各县市区之和" in error.message


def test_city_row_that_adds_up_is_fine(targets):
    data = filled(targets, UNIT, share=0.5, overrides={("P26-1", S.CITY): {"累计完成": 25}})
    assert check(targets, data).accepted


def test_done_below_100_percent(targets):
    data = filled(targets, UNIT, overrides={("P26-3", S.CITY): {"进展状态": "已完成"}})
    result = check(targets, data)
    assert result.accepted
    assert any("已完成" in f.message and f.level == S.LEVEL_WARNING and f.indicator == "P26-3" for f in result.warnings)


def test_behind_schedule_without_explanation(targets):
    data = filled(targets, UNIT, month="2024-09", share=0.3)
    result = check(targets, data)
    assert result.accepted
    behind = [f for f in result.warnings if "落后于序时进度" in f.message]
    assert behind and all(f.cell.startswith("L") for f in behind)
    explained = filled(targets, UNIT, month="2024-09", share=0.3, problems="资金未到位", plan="10月底前完工")
    assert not [f for f in check(targets, explained).warnings if "落后于序时进度" in f.message]
    for half in (dict(problems="资金未到位"), dict(plan="10月底前完工")):  # both are asked for
        assert [f for f in check(targets, filled(targets, UNIT, month="2024-09", share=0.3, **half)).warnings
                if "落后于序时进度" in f.message], half


def test_over_150_percent(targets):
    data = filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": 16}})
    assert any("150%" in f.message for f in check(targets, data).warnings)


def test_over_target_reminder_is_above_150_percent_up_to_ten_times(targets):
    """"超过 150%": exactly 150 % of the target is not reminded; just above is, and so is exactly 10 times (above
    that it is an error, see test_impossible_values_are_errors_naming_both_numbers)."""
    r = row_of(targets, UNIT, "P26-1", "任城区")
    assert targets.expected_map(UNIT)[("P26-1", "任城区")]["年度目标"] == 10
    for value, reminded in ((15, False), (15.01, True), (100, True)):
        result = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": value}}))
        assert result.accepted and (("value.over_target", f"H{r}") in codes(result, S.LEVEL_WARNING)) is reminded, value


def test_messages_write_figures_with_every_digit_and_rates_with_one_decimal(targets):
    """A clerk compares the message with what was typed: 1,470,860 (not 1.47086e+06), 160.0% (the one percent rule)."""
    big = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": 1470860}}))
    assert "累计完成 1,470,860 是年度目标 10 的 147,086 倍（超过 10 倍）" in finding(big, "value.impossible").message
    over = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": 16}}))
    assert "累计完成 16 是年度目标 10 的 160.0%（超过 150%）" in finding(over, "value.over_target").message


@pytest.fixture()
def store(data_dir):
    return Store(data_dir)


def test_value_below_previous_month(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-03", share=0.3), "3月.xlsx", targets=targets,
                 received_at=datetime(2024, 4, 3))
    lower = filled(targets, UNIT, month="2024-04", share=0.3, overrides={("P26-1", "任城区"): {"累计完成": 2}})
    result = check(targets, lower, store)
    assert any("低于 3 月已报的 3" in f.message and f.county == "任城区" for f in result.warnings)
    explained = filled(targets, UNIT, month="2024-04", share=0.3,
                       overrides={("P26-1", "任城区"): {"累计完成": 2, "存在问题": "核减重复统计 1 处"}})
    assert not any("低于" in f.message for f in check(targets, explained, store).warnings)


def test_month_on_month_jump(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-03", share=0.1), "3月.xlsx", targets=targets,
                 received_at=datetime(2024, 4, 3))
    result = check(targets, filled(targets, UNIT, month="2024-04", share=0.7), store)
    assert any("超过年度目标的 50%" in f.message for f in result.warnings)
    r = row_of(targets, UNIT, "P26-1", "任城区")  # 1 → 7 of a target of 10
    assert finding_at(result, "value.jump", f"H{r}").message.startswith("比 3 月增加 6，")


# --- annotated copy ---------------------------------------------------------------------

def test_annotated_copy_marks_cells_and_lists_findings(targets):
    r = row_of(targets, UNIT, "P26-1", "微山县")
    data = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": "约300"},
                                           ("P26-3", S.CITY): {"进展状态": "已完成"}})
    result = check(targets, data)
    wb = load_workbook(io.BytesIO(annotated_copy(data, result)))
    assert wb.sheetnames[0] == S.SHEET_FINDINGS
    ws = wb[S.SHEET_FORM]
    assert ws[f"H{r}"].fill.fgColor.rgb.endswith("FFC7CE")
    assert "约300" in ws[f"H{r}"].comment.text
    warn_row = row_of(targets, UNIT, "P26-3")
    assert ws[f"J{warn_row}"].fill.fgColor.rgb.endswith("FFEB9C")
    listed = list(wb[S.SHEET_FINDINGS].iter_rows(min_row=2, values_only=True))
    assert len(listed) == len(result.findings)
    assert (S.LEVEL_ERROR, S.SHEET_FORM, f"H{r}", "P26-1", "微山县") == listed[0][:5]
    assert listed[0][6] == "value.not_number"  # the finding's stable code, for whoever sorts the returns


def test_annotated_copy_of_a_non_workbook(targets):
    result = check(targets, b"%PDF-1.4")
    wb = load_workbook(io.BytesIO(annotated_copy(b"%PDF-1.4", result)))
    assert wb.sheetnames == [S.SHEET_FINDINGS]
    assert "PDF" in wb[S.SHEET_FINDINGS]["F2"].value


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_parts_stored_or_compressed_another_way_are_read_the_same(targets, method):
    good = filled(targets, UNIT)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", method) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    result = check(targets, out.getvalue())
    assert result.accepted and result.rows.equals(check(targets, good).rows)


def test_annotated_copy_checks_the_parts_validation_never_read(targets):
    """Validation inflates only what it reads; openpyxl reads every part, so a damaged unused part is caught first."""
    good = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": "约300"}})
    marker = b"DAMAGED-PART-MARKER"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename), zipfile.ZIP_DEFLATED)
        dst.writestr("docProps/custom.xml", b"<Properties>" + marker + b"</Properties>", zipfile.ZIP_STORED)
    damaged = out.getvalue().replace(marker, marker.lower())  # stored bytes changed: the CRC no longer matches
    result = check(targets, damaged)
    assert result.is_workbook and [f.cell for f in result.errors] == [f"H{row_of(targets, UNIT, 'P26-1', '微山县')}"]
    with pytest.raises(ValueError, match="损坏"):
        check_package(damaged)
    check_package(good)
    wb = load_workbook(io.BytesIO(annotated_copy(damaged, result)))
    assert wb.sheetnames == [S.SHEET_FINDINGS]  # findings only, never a half-read workbook


@pytest.fixture(scope="module")
def saved_by_libreoffice(tmp_path_factory, targets):
    """{file name: bytes} of workbooks opened in LibreOffice and saved again as .xlsx, all in one soffice call (a
    start costs ~2.3 CPU s): the filled template, and one with "62%" typed the Excel way (``_percent_typed``)."""
    require_tool("soffice")
    folder = tmp_path_factory.mktemp("libreoffice")
    sources = {f"{UNIT}.xlsx": filled(targets, UNIT), "pct.xlsx": _percent_typed(targets, "P26-3", 0.62)[0]}
    (folder / "in").mkdir()
    for name, data in sources.items():
        (folder / "in" / name).write_bytes(data)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{folder}/lo", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(folder / "out"),
                    *(str(folder / "in" / name) for name in sources)], check=True, capture_output=True, timeout=180)
    return {name: (folder / "out" / name).read_bytes() for name in sources}


def test_libreoffice_saved_file_is_still_read(targets, saved_by_libreoffice):
    """A clerk opens the template in LibreOffice, fills it and saves it: it must still ingest."""
    result = check(targets, saved_by_libreoffice[f"{UNIT}.xlsx"])
    assert result.accepted, [str(f) for f in result.findings]
    assert result.rows.set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "累计完成"] == 3.0


# --- issue 13: read every figure as meant, or refuse it ----------------------------------

def codes(result, level=None):
    return [(f.code, f.cell) for f in result.findings if level is None or f.level == level]


def finding_at(result, code, cell):
    found = [f for f in result.findings if f.code == code and f.cell == cell]
    assert found, [str(f) for f in result.findings]
    return found[0]


def finding(result, code):
    found = [f for f in result.findings if f.code == code]
    assert found, [str(f) for f in result.findings]
    return found[0]


def test_every_finding_has_a_code_from_the_one_table(targets):
    from lib.findings import CODES, Finding
    data = filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": "约300"}, ("P26-3", S.CITY): {"进展状态": "已完成"}})
    result = check(targets, data)
    assert result.findings and all(f.code in CODES for f in result.findings)
    with pytest.raises(ValueError):
        Finding(S.LEVEL_ERROR, "x", code="no.such_code")
    with pytest.raises(ValueError):
        Finding(S.LEVEL_ERROR, "x")  # no code at all


@pytest.mark.parametrize("typed", ["3，5", "12,00", "1200,5", "1,2345", "1,23,456", "3 5"])
def test_ambiguous_separators_are_refused_never_guessed(targets, typed):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": typed}}))
    error = only_error(result)
    assert (error.code, error.cell) == ("value.ambiguous_separator", f"H{r}")
    assert "1234 或 1234.5" in error.message and not result.accepted


@pytest.mark.parametrize("typed, expected", [("1,234", 1234.0), ("12,345,678", 12345678.0), ("1，234", 1234.0),
                                             ("1,234.5", 1234.5), ("1.200", 1.2), ("１,２３４", 1234.0)])
def test_thousands_grouping_and_the_decimal_point_are_read(targets, typed, expected):
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": typed}}))
    # Read as the number meant (which is then far above this row's target of 10: refused as impossible).
    assert [f.code for f in result.errors] in ([], ["value.impossible"]), [str(f) for f in result.findings]
    assert parse_number(typed, "处") == (expected, None)
    if not result.errors:
        assert result.rows.set_index(["指标编号", "县市区"]).loc[("P26-1", "任城区"), "累计完成"] == expected
    else:
        assert fmt_figure(expected) in result.errors[0].message  # 12,345,678: every digit, never 1.23457e+07


def _percent_typed(targets, code, value, county=S.CITY):
    """What Excel stores when a clerk types "62%": 0.62 with a percent number format."""
    r = row_of(targets, UNIT, code, county)

    def fn(ws, wb):
        ws[f"H{r}"] = value
        ws[f"H{r}"].number_format = "0%"
    return edit(filled(targets, UNIT), fn), r


def test_percent_typed_the_excel_way_in_a_percent_row_is_value_times_100(targets):
    data, r = _percent_typed(targets, "P26-3", 0.62)
    result = check(targets, data)
    assert result.accepted, [str(f) for f in result.findings]
    assert result.rows.set_index(["指标编号", "县市区"]).loc[("P26-3", S.CITY), "累计完成"] == 62.0


def test_percent_format_in_a_count_row_is_an_error(targets):
    data, r = _percent_typed(targets, "P26-1", 0.3, "任城区")
    error = only_error(check(targets, data))
    assert (error.code, error.cell) == ("value.percent_format", f"H{r}")


def test_percent_format_survives_a_libreoffice_round_trip(targets, saved_by_libreoffice):
    result = check(targets, saved_by_libreoffice["pct.xlsx"])
    assert result.accepted, [str(f) for f in result.findings]
    assert result.rows.set_index(["指标编号", "县市区"]).loc[("P26-3", S.CITY), "累计完成"] == 62.0


def test_custom_percent_formats_are_recognised():
    from lib.package import percent_styles
    styles = (b'<styleSheet><numFmts count="2"><numFmt numFmtId="164" formatCode="0.0%"/>'
              b'<numFmt numFmtId="165" formatCode="0.0&quot;%&quot;"/></numFmts><cellXfs count="4">'
              b'<xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="10"/></cellXfs></styleSheet>')
    assert percent_styles(styles) == {1, 3}  # a quoted "%" is text, not a percent format


def test_impossible_values_are_errors_naming_both_numbers(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": 1e12}}))
    error = finding(result, "value.impossible")
    assert error.cell == f"H{r}" and error.level == S.LEVEL_ERROR and "1,000,000,000,000" in error.message and " 10 " in error.message
    assert not result.accepted


def test_a_share_above_100_percent_is_an_error(targets):
    r = row_of(targets, UNIT, "P26-3")
    result = check(targets, filled(targets, UNIT, overrides={("P26-3", S.CITY): {"累计完成": 120}}))
    error = only_error(result)
    assert (error.code, error.cell) == ("value.impossible", f"H{r}") and "120" in error.message and "44" in error.message


def test_a_share_just_above_100_percent_is_refused_and_exactly_100_accepted(targets):
    r = row_of(targets, UNIT, "P26-3")
    error = only_error(check(targets, filled(targets, UNIT, overrides={("P26-3", S.CITY): {"累计完成": 100.5}})))
    assert (error.code, error.cell) == ("value.impossible", f"H{r}")
    assert check(targets, filled(targets, UNIT, overrides={("P26-3", S.CITY): {"累计完成": 100}})).accepted


def test_more_than_ten_times_a_target_of_one_is_refused(targets):
    """Small targets too: a county's 1 所 typed as 11 is refused (10 times is the limit), 10 is only reminded."""
    unit, key = "市卫生健康委", ("P17-1", "任城区")
    assert targets.expected_map(unit)[key]["年度目标"] == 1
    r = row_of(targets, unit, *key)
    error = only_error(check(targets, filled(targets, unit, overrides={key: {"累计完成": 11}})))
    assert (error.code, error.cell) == ("value.impossible", f"H{r}")
    assert check(targets, filled(targets, unit, overrides={key: {"累计完成": 10}})).accepted


def test_what_cannot_be_meant_at_the_edges_of_the_rule():
    """The rule itself (asked by the row reader above a precomputed limit): a share of exactly 100 % is possible
    (100 against a 5 % target is refused as 20 times the target, not as a share over 100 %); more than 10 times
    the target is not, exactly 10 times is; without a positive target there is nothing to compare with."""
    from lib.submission import _impossible
    assert _impossible(100, 5.0, S.TYPE_RATE, "%")[0] == "multiple"
    assert _impossible(100.5, 44.0, S.TYPE_RATE, "%")[0] == "share"
    assert _impossible(11, 1.0, S.TYPE_COUNT, "所")[0] == "multiple" and _impossible(10, 1.0, S.TYPE_COUNT, "所") is None
    assert _impossible(440, 44.0, S.TYPE_COUNT, "个") is None and _impossible(441, 44.0, S.TYPE_COUNT, "个")[0] == "multiple"
    for target in (None, float("nan"), 0.0):
        assert _impossible(1e9, target, S.TYPE_COUNT, "所") is None


def test_a_value_is_questioned_above_ten_times_any_positive_target_and_a_share_above_100():
    """The limit above which the reader asks whether a value can be meant, per row: 10 × the target for any positive
    target (0.5 公里 too), never above 100 for a % share, none without a target; a 比率 in 平方米 is no share."""
    from lib.submission import _value_limits

    class Table:  # what _value_limits asks of a target table: its cached per-unit rules
        def __init__(self, rules):
            self._cache = {("validation_rules", "某单位"): rules}

        def cached(self, key, build):
            return self._cache[key] if key in self._cache else self._cache.setdefault(key, build())

    def rule(target, kind, measure):
        return ("P1", "项目", "指标", measure, target), kind, measure, False
    rules = {("Q-1", S.CITY): rule(0.5, S.TYPE_COUNT, "公里"), ("Q-2", S.CITY): rule(44.0, S.TYPE_RATE, "%"),
             ("Q-3", S.CITY): rule(20.0, S.TYPE_RATE, "平方米"), ("Q-4", S.CITY): rule(None, S.TYPE_COUNT, "个"),
             ("Q-5", S.CITY): rule(float("nan"), S.TYPE_RATE, "%"), ("Q-6", S.CITY): rule(0.0, S.TYPE_COUNT, "个")}
    assert _value_limits(Table(rules), "某单位") == {("Q-1", S.CITY): 5.0, ("Q-2", S.CITY): 100.0, ("Q-3", S.CITY): 200.0,
                                                   ("Q-4", S.CITY): float("inf"), ("Q-5", S.CITY): 100.0,
                                                   ("Q-6", S.CITY): float("inf")}


def test_between_150_percent_and_ten_times_is_a_reminder(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"累计完成": 90}}))
    assert result.accepted and ("value.over_target", f"H{r}") in codes(result, S.LEVEL_WARNING)


def test_not_started_with_a_value_is_a_reminder(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "任城区"): {"进展状态": "未启动"}}))
    assert result.accepted and ("state.not_started_with_value", f"J{r}") in codes(result, S.LEVEL_WARNING)


def test_earlier_month_above_a_later_month_is_a_reminder(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-04", share=0.3), "4月.xlsx", targets=targets,
                 received_at=datetime(2024, 5, 3))
    r = row_of(targets, UNIT, "P26-1", "任城区")
    march = filled(targets, UNIT, month="2024-03", share=0.3, overrides={("P26-1", "任城区"): {"累计完成": 5}})
    result = check(targets, march, store)
    found = finding(result, "value.above_later")
    assert found.cell == f"H{r}" and "4 月已报的 3" in found.message


def test_month_left_at_last_month_while_values_grew_is_a_reminder(targets, store):
    store.ingest(filled(targets, UNIT, month="2024-03", share=0.3), "3月.xlsx", targets=targets,
                 received_at=datetime(2024, 4, 3))
    grown = filled(targets, UNIT, month="2024-03", share=0.4)
    found = finding(check(targets, grown, store, today=date(2024, 5, 3)), "period.month_unchanged")
    assert found.cell == "F2" and "与 3 月已报数据不同，是否忘记修改报送月份" in found.message
    assert "如是 4 月的进展，请把报送月份改为 2024-04" in found.message
    # A correction of March sent in April, while March is the month due, is not questioned.
    assert "period.month_unchanged" not in [c for c, _ in codes(check(targets, grown, store, today=date(2024, 4, 4)))]


def test_a_grown_resend_is_not_questioned_once_the_next_month_is_reported(targets, store):
    """March re-sent with grown values in May is a correction, not a forgotten 报送月份, when April has come."""
    store.ingest(filled(targets, UNIT, month="2024-03", share=0.3), "3月.xlsx", targets=targets,
                 received_at=datetime(2024, 4, 3))
    store.ingest(filled(targets, UNIT, month="2024-04", share=0.4), "4月.xlsx", targets=targets,
                 received_at=datetime(2024, 5, 3))
    grown = check(targets, filled(targets, UNIT, month="2024-03", share=0.35), store, today=date(2024, 5, 10))
    assert grown.accepted and "period.month_unchanged" not in [c for c, _ in codes(grown)]


def test_a_qualitative_row_reported_lagging_without_a_reason_is_a_reminder(targets):
    """定性 rows have no figure: their own 滞后 asks for 存在问题 and 下步计划 (at 存在问题); 正常推进 or an explained
    滞后 asks for nothing."""
    r = row_of(targets, UNIT, "P26-2")
    lagging = check(targets, filled(targets, UNIT, overrides={("P26-2", S.CITY): {"进展状态": "滞后"}}))
    assert lagging.accepted and ("state.lagging_unexplained", f"L{r}") in codes(lagging, S.LEVEL_WARNING)
    explained = check(targets, filled(targets, UNIT, overrides={
        ("P26-2", S.CITY): {"进展状态": "滞后", "存在问题": "场地审批未完成", "下步计划": "5 月底前完成审批"}}))
    clean = check(targets, filled(targets, UNIT))
    for result in (explained, clean):
        assert "state.lagging_unexplained" not in [c for c, _ in codes(result)]


def test_a_late_first_report_or_a_resend_that_did_not_grow_is_not_a_month_left_unchanged(targets, store):
    """The reminder is for a month's report replaced by grown values: a late first report, the same values sent
    again, or a correction downwards (all in May, March's report the one in question) are not questioned."""
    may = date(2024, 5, 3)
    march = filled(targets, UNIT, month="2024-03", share=0.3)
    assert "period.month_unchanged" not in [c for c, _ in codes(check(targets, march, store, today=may))]
    store.ingest(march, "3月.xlsx", targets=targets, received_at=datetime(2024, 4, 3))
    for share in (0.3, 0.2):
        again = check(targets, filled(targets, UNIT, month="2024-03", share=share), store, today=may)
        assert again.accepted and "period.month_unchanged" not in [c for c, _ in codes(again)], share


def test_history_reminders_start_just_past_their_boundary(targets):
    """The same value as last month is not lower, the same as a later month is not higher, an increase of exactly
    half the target is not "超过 50%", and 已完成 at exactly 98 % of an approximate (左右) target is not below it;
    just past each, it is."""
    from lib.submission import HistoryContext, add_history_warnings
    key, r = ("P26-1", "任城区"), row_of(targets, UNIT, "P26-1", "任城区")  # 3 of a target of 10
    done = row_of(targets, UNIT, "P26-3")  # 左右 44 (%): 已完成 from 98 %, 43.12

    def reminders(history: HistoryContext, done_value: float) -> set[tuple[str, str]]:
        data = filled(targets, UNIT, overrides={("P26-3", S.CITY): {"累计完成": done_value, "进展状态": "已完成"}})
        result = validate(data, "体育局3月.xlsx", targets, None, today=END, history=False)
        add_history_warnings(result, targets, history, END)
        return set(codes(result, S.LEVEL_WARNING))

    at_boundary = reminders(HistoryContext(previous={key: (3.0, 2)}, following={key: (3.0, 4)}), 43.12)
    assert not at_boundary & {("value.below_previous", f"H{r}"), ("value.above_later", f"H{r}"),
                              ("state.done_below_target", f"J{done}")}
    assert ("value.jump", f"H{r}") not in reminders(HistoryContext(previous={key: (-2.0, 2)}), 44)
    past = reminders(HistoryContext(previous={key: (3.01, 2)}, following={key: (2.99, 4)}), 43.11)
    assert {("value.below_previous", f"H{r}"), ("value.above_later", f"H{r}"), ("state.done_below_target", f"J{done}")} <= past
    assert ("value.jump", f"H{r}") in reminders(HistoryContext(previous={key: (-2.01, 2)}), 44)


def _with_cell_xml(data: bytes, ref: str, cell_xml: bytes) -> bytes:
    """Replace the <c> element of ``ref`` in the form sheet with ``cell_xml`` (an XML-level edit)."""
    import re
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml")
    new, n = re.subn(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', cell_xml, xml, count=1, flags=re.S)
    assert n == 1
    return rezip(data, replace={"xl/worksheets/sheet1.xml": new})


@pytest.mark.parametrize("county", ["任城区", S.CITY])
def test_excel_error_values_are_named_not_called_blank(targets, county):
    r = row_of(targets, UNIT, "P26-1", county)
    data = _with_cell_xml(filled(targets, UNIT), f"H{r}", f'<c r="H{r}" t="e"><v>#DIV/0!</v></c>'.encode())
    result = check(targets, data)
    error = finding(result, "value.error_value")
    assert error.cell == f"H{r}" and "#DIV/0!" in error.message and "未填写" not in error.message
    assert not result.accepted


def _written_by_another_program(data: bytes) -> bytes:
    """The form sheet as some other programs write it: each cell's style before its reference (r), and single
    quotes. Same cells, same values; the reader takes its general path (not the fast one for openpyxl's form)."""
    import re
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml")
    new, n = re.subn(rb'<c r="([A-Z]+[0-9]+)" s="([0-9]+)"', rb"<c s='\2' r='\1'", xml)
    assert n > 100
    return rezip(data, replace={"xl/worksheets/sheet1.xml": new})


def test_percent_typed_in_a_sheet_another_program_wrote_is_read_as_meant(targets):
    data, r = _percent_typed(targets, "P26-3", 0.62)
    result = check(targets, _written_by_another_program(data))
    assert result.accepted, [str(f) for f in result.findings]
    assert result.rows.set_index(["指标编号", "县市区"]).loc[("P26-3", S.CITY), "累计完成"] == 62.0
    data, r = _percent_typed(targets, "P26-1", 0.3, "任城区")
    error = only_error(check(targets, _written_by_another_program(data)))
    assert (error.code, error.cell) == ("value.percent_format", f"H{r}")


def test_error_value_in_a_sheet_another_program_wrote_is_named(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    data = _with_cell_xml(filled(targets, UNIT), f"H{r}", f"<c t='e' r='H{r}'><v>#N/A</v></c>".encode())
    error = finding(check(targets, _written_by_another_program(data)), "value.error_value")
    assert error.cell == f"H{r}" and "#N/A" in error.message


def test_an_error_value_in_a_text_column_names_that_column_and_asks_for_text(targets):
    r = row_of(targets, UNIT, "P26-1", "任城区")
    data = _with_cell_xml(filled(targets, UNIT, problems="资金未到位"), f"L{r}", f'<c r="L{r}" t="e"><v>#N/A</v></c>'.encode())
    error = finding(check(targets, data), "value.error_value")
    assert error.cell == f"L{r}" and "“存在问题”是 Excel 错误值 #N/A" in error.message and "不是文字" in error.message


def test_lagging_state_chosen_while_ahead_does_not_claim_the_value_is_behind(targets):
    r = row_of(targets, UNIT, "P26-3")
    result = check(targets, filled(targets, UNIT, month="2024-03", overrides={("P26-3", S.CITY): {"累计完成": 43, "进展状态": "滞后"}}))
    about = [f for f in result.warnings if f.indicator == "P26-3"]
    assert ("state.lagging_unexplained", f"L{r}") in [(f.code, f.cell) for f in about]
    assert not any("落后于序时进度" in f.message for f in about)


def test_a_note_below_the_table_names_the_cell_that_holds_it(targets):
    last = S.FORM_FIRST_DATA_ROW + len(targets.expected_rows(UNIT))
    data = edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(f"C{last + 1}", "填报人：张三  审核人：李四"))
    error = only_error(check(targets, data))
    assert (error.code, error.cell) == ("layout.stray_content", f"C{last + 1}") and "张三" in error.message


@pytest.mark.parametrize("ref", ["A12000", "BA5"])
def test_content_far_outside_the_table_is_refused_naming_the_cell(targets, ref):
    data = edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(ref, "备注"))
    error = only_error(check(targets, data))
    assert (error.code, error.cell, error.sheet) == ("layout.outside_extent", ref, S.SHEET_FORM) and ref in error.message


def test_a_forged_metadata_sheet_gives_one_finding(targets):
    result = check(targets, edit(filled(targets, UNIT), set_meta("单位", "市民政局")))
    error = only_error(result)
    assert error.code == "unit.header_changed" and error.cell == HEADER_CELLS[S.HEADER_UNIT][1]


def test_one_missing_row_is_named_in_the_findings_columns_several_are_listed_in_the_message(targets):
    """The findings table (upload page, annotated copy) has 指标编号 and 县市区 columns: one missing row fills them;
    several leave them empty (no single row is the finding's) and the message lists every one."""
    rows = [row_of(targets, UNIT, "P26-4"), row_of(targets, UNIT, "P26-3")]
    one = finding(check(targets, edit(filled(targets, UNIT), lambda ws, wb: ws.delete_rows(rows[0]))), "row.missing")
    assert (one.indicator, one.county) == ("P26-4", S.CITY)

    def two_gone(ws, wb):
        for r in sorted(rows, reverse=True):
            ws.delete_rows(r)
    several = finding(check(targets, edit(filled(targets, UNIT), two_gone)), "row.missing")
    assert (several.indicator, several.county) == ("", "")
    assert "P26-3 全市" in several.message and "P26-4 全市" in several.message


def test_rows_added_to_the_target_table_since_the_template_say_it_is_out_of_date(targets):
    r = row_of(targets, UNIT, "P26-4")

    def fn(ws, wb):
        set_meta("目标表版本", "0000old")(ws, wb)
        ws.delete_rows(r)
    result = check(targets, edit(filled(targets, UNIT), fn))
    error = finding(result, "template.outdated")
    assert error.level == S.LEVEL_ERROR and "P26-4" in error.message and "下载" in error.message
    assert "请不要删除" not in error.message


def test_an_ods_file_is_told_to_save_as_xlsx(targets):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("content.xml", "<office:document-content/>")
        zf.writestr("META-INF/manifest.xml", "<manifest/>")
    error = only_error(check(targets, buffer.getvalue(), name="报表.ods"))
    assert error.code == "file.ods" and ".xlsx" in error.message and ".zip" not in error.message


def test_a_utf8_csv_cut_mid_character_is_still_named_a_csv(targets):
    text = "指标编号,县市区,累计完成\n" * 400
    data = text.encode("utf-8")
    assert len(data) > 4096
    with pytest.raises(UnicodeDecodeError):
        data[:4096].decode("utf-8")  # the sniff's window ends inside a character
    error = only_error(check(targets, data, name="报表.xlsx"))
    assert error.code == "file.text" and "CSV" in error.message


@pytest.mark.parametrize("length, refused", [(32768, True), (32767, False)])
def test_narrative_longer_than_excels_limit_is_an_error(targets, length, refused):
    # openpyxl itself cuts text at 32,767 characters, so the over-long text is written into the XML (as other
    # programs can), and calamine cuts it too when reading: the check has to look at the XML.
    r = row_of(targets, UNIT, "P26-1", "任城区")
    cell = f'<c r="K{r}" t="inlineStr"><is><t>{"长" * length}</t></is></c>'.encode()
    result = check(targets, _with_cell_xml(filled(targets, UNIT), f"K{r}", cell))
    if refused:
        error = only_error(result)
        assert (error.code, error.cell) == ("text.too_long", f"K{r}")
    else:
        assert result.accepted, [str(f) for f in result.findings]


def test_a_report_for_the_current_month_is_a_reminder(targets):
    result = check(targets, filled(targets, UNIT, month="2024-03"), today=date(2024, 3, 20))
    assert result.accepted and ("period.current_month", "F2") in codes(result, S.LEVEL_WARNING)
    assert "本月尚未结束" in finding(result, "period.current_month").message


def test_a_current_month_reminder_names_last_month_and_in_january_names_none(targets):
    """The reminder for a report of the unfinished month offers last month (2024-02 for March, 2024-01 for
    February); in January there is no last month of the year to offer."""
    for month, offered in ((3, "2024-02"), (2, "2024-01")):
        result = check(targets, filled(targets, UNIT, month=f"2024-{month:02d}"), today=date(2024, month, 20))
        message = finding(result, "period.current_month").message
        assert result.accepted and f"请改为 {offered}" in message, message
    result = check(targets, filled(targets, UNIT, month="2024-01"), today=date(2024, 1, 20))
    message = finding(result, "period.current_month").message
    assert result.accepted and "本月尚未结束" in message and "请改为" not in message, message


def test_a_long_note_below_the_table_is_shown_cut_at_20_characters(targets):
    last = S.FORM_FIRST_DATA_ROW + len(targets.expected_rows(UNIT))
    for typed, shown in (("一二三四五六七八九十" * 2, "一二三四五六七八九十" * 2 + "”"),
                         ("一二三四五六七八九十" * 2 + "多", "一二三四五六七八九十" * 2 + "…”")):
        data = edit(filled(targets, UNIT), lambda ws, wb, t=typed: ws.__setitem__(f"C{last + 1}", t))
        error = only_error(check(targets, data))
        assert error.code == "layout.stray_content" and f"“{shown}" in error.message, error.message


def test_a_locked_cell_that_differs_only_in_spaces_or_number_form_is_the_same(targets):
    """A locked 指标名称 with a trailing space (another program's save) is still the table's row, and the 年度目标
    beside it is compared as a number: the row is read, not refused as an altered template."""
    r = row_of(targets, UNIT, "P26-3")
    name_col = chr(ord("A") + S.FORM_COLUMNS.index("指标名称"))
    target_col = chr(ord("A") + S.FORM_COLUMNS.index("年度目标"))

    def fn(ws, wb):
        ws[f"{name_col}{r}"] = str(ws[f"{name_col}{r}"].value) + " "
        ws[f"{target_col}{r}"] = int(ws[f"{target_col}{r}"].value)  # 44 typed as a whole number, not 44.0

    result = check(targets, edit(filled(targets, UNIT), fn))
    assert result.accepted and not result.errors, [str(f) for f in result.findings]
    changed = edit(filled(targets, UNIT), lambda ws, wb: ws.__setitem__(f"{target_col}{r}", 45))
    assert not check(targets, changed).accepted


def test_a_blank_row_stays_blank_in_a_file_that_also_holds_an_error_value(targets):
    """An empty row between the table and a note below it is skipped even when another cell holds #N/A: only the
    error value and the note are named, not the empty row."""
    r = row_of(targets, UNIT, "P26-3")
    last = S.FORM_FIRST_DATA_ROW + len(targets.expected_rows(UNIT))

    def fn(ws, wb):
        ws[f"H{r}"] = "#N/A"
        ws[f"C{last + 2}"] = "填报人：张三"  # row last + 1 stays empty

    result = check(targets, edit(filled(targets, UNIT), fn))
    rows = {f.cell[1:] for f in result.findings if f.cell and f.cell[1:].isdigit()}
    assert f"H{r}" in [f.cell for f in result.errors] and f"C{last + 2}" in [f.cell for f in result.errors]
    assert str(last + 1) not in rows, [str(f) for f in result.findings]


# --- silent corruption: what would put a wrong figure in front of a user if it were let through -------------

def _county_sum(targets, unit, code, share=0.3):
    return sum(row["累计完成"] for (c, county), row in entries_for(targets, unit, share).items()
               if c == code and county != S.CITY)


@pytest.mark.parametrize("delta", [-1, -0.01, 1])
def test_city_total_off_the_county_sum_either_way_is_refused(targets, delta):
    """A 全市 total BELOW the county sum is as wrong as one above it (the county rows are the facts)."""
    total = _county_sum(targets, UNIT, "P26-1") + delta
    r = row_of(targets, UNIT, "P26-1", S.CITY)
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", S.CITY): {"累计完成": total}}))
    error = only_error(result)
    assert error.cell == f"H{r}" and error.code == "value.city_total_mismatch" and fmt_figure(total) in error.message
    assert not result.accepted


def test_city_total_equal_to_the_county_sum_is_accepted(targets):
    total = _county_sum(targets, UNIT, "P26-1")
    assert check(targets, filled(targets, UNIT, overrides={("P26-1", S.CITY): {"累计完成": total}})).accepted


def test_city_total_counts_counties_that_typed_0_as_0(targets):
    """Counties that have not started yet type 0 (the form asks for it): the 全市 total of the others is right."""
    zero = {("P26-1", county): {"累计完成": 0} for county in ("微山县", "任城区")}
    total = sum(row["累计完成"] for (c, county), row in entries_for(targets, UNIT).items()
                if c == "P26-1" and county != S.CITY and (c, county) not in zero)
    result = check(targets, filled(targets, UNIT, overrides={**zero, ("P26-1", S.CITY): {"累计完成": total}}))
    assert result.accepted, [str(f) for f in result.findings]


@pytest.mark.parametrize("typed", ["-2", "－2", "−2", "- 2", -2])
def test_negative_numbers_typed_as_text_are_refused_never_read_as_positive(targets, typed):
    """-2 (hyphen), －2 (full-width), −2 (the minus sign), as text or as a number: refused at the cell, never 2."""
    r = row_of(targets, UNIT, "P26-1", "微山县")
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": typed}}))
    error = only_error(result)
    assert error.cell == f"H{r}" and error.indicator == "P26-1" and error.county == "微山县"
    assert not result.accepted and result.errors
    value, why = parse_number(typed, "处")
    assert value is None or value < 0  # read as negative (then refused as 负数) or not read at all
    if value is not None:
        assert "负数" in error.message


@pytest.mark.parametrize("typed", [0, "0", "０"])
def test_zero_is_accepted_as_not_started_yet(targets, typed):
    """0 is what the form asks for when nothing is done yet (尚未开展请填 0): read as 0, never refused as 负数."""
    result = check(targets, filled(targets, UNIT, overrides={("P26-1", "微山县"): {"累计完成": typed}}))
    assert result.accepted and not result.errors
    assert {(code, county): value for code, county, value, *_ in result.row_records}[("P26-1", "微山县")] == 0


def test_every_minus_is_read_as_a_minus():
    """Hyphen, full-width hyphen and the minus sign U+2212 (Word and WPS autocorrect to it) all mean minus."""
    for typed in ("-2", "－2", "\u22122", "\u2212 2", "-1,200"):
        value, why = parse_number(typed, "处")
        assert why is None and value == (-1200.0 if "1,200" in typed else -2.0), typed


def _with_schedule(tmp_path, plan: dict[str, list[float]]):
    """The bundled target table with a 序时计划 sheet (percent of the year's work by each month's end)."""
    from openpyxl import load_workbook as open_book

    from lib.config import BUNDLED_TARGETS
    from lib.targets import load_targets

    wb = open_book(BUNDLED_TARGETS)
    ws = wb.create_sheet(S.SHEET_SCHEDULE)
    ws.append(["指标编号"] + [f"{m}月" for m in range(1, 13)])
    for code, shares in plan.items():
        ws.append([code] + shares)
    path = tmp_path / "targets.xlsx"
    wb.save(path)
    return load_targets(path)


def _behind(result, code="P26-1"):
    return [f for f in result.warnings if f.code == "progress.behind_unexplained" and f.indicator == code]


def test_behind_plan_reminders_follow_the_schedule(targets, tmp_path):
    """序时计划 says 10 % by June: 30 % done is ahead (no reminder), though 20 points behind month / 12."""
    slow = _with_schedule(tmp_path, {"P26-1": [0, 0, 5, 5, 5, 10, 30, 50, 70, 90, 100, 100]})
    assert not _behind(check(slow, filled(slow, UNIT, month="2024-06", share=0.3)))
    assert _behind(check(targets, filled(targets, UNIT, month="2024-06", share=0.3)))  # without the plan: behind


def test_behind_plan_reminders_name_the_scheduled_share(targets, tmp_path):
    """序时计划 says 90 % by June: 60 % done is behind by it (the reminder says 90%), though ahead of month / 12."""
    fast = _with_schedule(tmp_path, {"P26-1": [10, 20, 40, 60, 80, 90, 95, 100, 100, 100, 100, 100]})
    behind = _behind(check(fast, filled(fast, UNIT, month="2024-06", share=0.6)))
    assert behind and all("序时进度 90.0%" in f.message and f.cell.startswith("L") for f in behind)
    assert not _behind(check(targets, filled(targets, UNIT, month="2024-06", share=0.6)))


# --- issue 19: an operator sees why a file failed ---------------------------------------------------------

def test_a_reader_failure_reaches_the_log_with_its_traceback(targets, monkeypatch, caplog):
    import logging

    from lib import submission

    def broken(*args, **kwargs):
        raise RuntimeError("reader bug under test")

    monkeypatch.setattr(submission, "_read_header", broken)
    with caplog.at_level(logging.INFO, logger="lib"):
        result = check(targets, filled(targets, UNIT), name="坏文件.xlsx")
    error = only_error(result)
    assert error.code == "file.read_error" and "RuntimeError" in error.message and "联系管理员" in error.message
    logged = [r for r in caplog.records if r.name == "lib.submission" and r.levelno == logging.ERROR]
    assert logged and "坏文件.xlsx" in logged[0].getMessage()
    assert logged[0].exc_info and "reader bug under test" in str(logged[0].exc_info[1])


def test_logging_is_configured_once_whatever_the_calls():
    import logging

    from lib import logs

    logs.setup("WARNING")
    logs.setup("DEBUG")
    handlers = [h for h in logging.getLogger("lib").handlers if h.get_name() == "livelihood"]
    assert len(handlers) == 1 and logging.getLogger("lib").level == logging.DEBUG
    logs.setup("INFO")


def test_a_template_of_another_year_says_which_year_to_choose(targets):
    """A 2024 template checked against a 2025 table is refused and the clerk is told both ways out."""
    from lib.targets import parse_targets
    from tests.factory import targets_of_year

    other, problems = parse_targets(targets_of_year(2025), source="2025")
    assert not problems and other.year == 2025
    result = check(other, filled(targets, UNIT), today=date(2025, 12, 31))
    error = only_error(result)
    assert error.code == "template.other_year" and not result.accepted
    assert "2024 年度的模板" in error.message and "侧栏“年度”中选择 2024 年" in error.message
    assert "下载 2025 年度的模板" in error.message


def test_done_at_98_percent_of_an_approximate_target_is_not_questioned_however_the_division_rounds(targets):
    """约 1469 人: 1439.62 is exactly 98 %, though 1439.62 / 1469 leaves 0.97999…; the upload's 已完成 reminder and
    the dashboard's status use one rule (lib.status.is_done), so neither says "below target" where the other says 已完成."""
    import dataclasses

    from lib.status import classify, completion_rate

    unit, code = "市医保局", "P19-1"  # 约 6,500,000 人 in the bundled table
    indicators = targets.indicators.copy()
    indicators.loc[indicators["指标编号"] == code, "年度目标"] = 1469.0
    small = dataclasses.replace(targets, indicators=indicators, _cache={})
    assert 1439.62 / 1469 < 0.98  # the division really does fall short
    assert classify(completion_rate(1439.62, 1469, S.BASIS_ABOUT), 0.25, basis=S.BASIS_ABOUT) == S.STATUS_DONE
    at = f"J{row_of(small, unit, code)}"

    def reminders(value: float) -> set[tuple[str, str]]:
        data = filled(small, unit, overrides={(code, S.CITY): {"累计完成": value, "进展状态": "已完成"}})
        result = validate(data, "医保局3月.xlsx", small, None, today=END)
        assert result.accepted, result.errors
        return set(codes(result, S.LEVEL_WARNING))

    assert ("state.done_below_target", at) not in reminders(1439.62)
    assert ("state.done_below_target", at) in reminders(1439.61)


def test_a_ceiling_exceeded_without_a_reason_is_named_as_over_its_ceiling(targets):
    """不高于 5 %: 6 % without 存在问题/下步计划 is reminded as "高于目标上限", not as a rate behind 序时进度 (the one
    ceiling of the bundled table is 100 %, which a share cannot exceed, so the target is lowered here)."""
    import dataclasses

    unit, code = "市托育指挥部", "P06-9"
    indicators = targets.indicators.copy()
    indicators.loc[indicators["指标编号"] == code, "年度目标"] = 5.0
    low = dataclasses.replace(targets, indicators=indicators, _cache={})
    at = f"L{row_of(low, unit, code)}"

    def reminder(value: float):
        data = filled(low, unit, overrides={(code, S.CITY): {"累计完成": value, "进展状态": "正常推进"}})
        result = validate(data, "托育3月.xlsx", low, None, today=END)
        assert result.accepted, result.errors
        return [f for f in result.findings if f.code == "progress.behind_unexplained" and f.cell == at]

    over = reminder(6.0)
    assert len(over) == 1 and "高于目标上限" in over[0].message and "6" in over[0].message, [str(f) for f in over]
    assert reminder(5.0) == [] and reminder(4.0) == []
