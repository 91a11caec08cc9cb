"""The standard template: one per unit, right rows, locked, validated, readable by LibreOffice."""

from __future__ import annotations

import csv
import io
import subprocess

import pandas as pd
import pytest
from openpyxl import load_workbook

from lib import schema as S
from lib.template import COLUMN_LETTER, HEADER_CELLS, build_template, main, templates_zip
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def workbooks(targets):
    return {unit: build_template(targets, unit) for unit in targets.reporting_units}


# One LibreOffice start converts every workbook the LibreOffice tests below read (a start costs ~2.3 CPU s; the
# conversions themselves are cheap). Each CSV is what the sheet shows ("save cell contents as shown").
CSV_AS_SHOWN = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true"


def _typed(workbooks) -> bytes:
    """市体育局's template where a clerk typed “约300” into the first 累计完成 and 1 into the next."""
    wb = load_workbook(io.BytesIO(workbooks["市体育局"]))
    ws = wb[S.SHEET_FORM]
    row = S.FORM_FIRST_DATA_ROW
    ws[f"{COLUMN_LETTER['累计完成']}{row}"] = "约300"
    ws[f"{COLUMN_LETTER['累计完成']}{row + 1}"] = 1
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def as_shown(tmp_path_factory, workbooks):
    """{file stem: the first sheet's rows as LibreOffice shows them} for the workbooks the LibreOffice tests read,
    converted in one soffice call."""
    require_tool("soffice")
    folder = tmp_path_factory.mktemp("libreoffice")
    sources = {"市体育局": workbooks["市体育局"], "typed": _typed(workbooks), "市医保局": workbooks["市医保局"]}
    for stem, data in sources.items():
        (folder / f"{stem}.xlsx").write_bytes(data)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{folder}/lo", "--convert-to", CSV_AS_SHOWN,
                    "--outdir", str(folder / "csv"), *(str(folder / f"{stem}.xlsx") for stem in sources)],
                   check=True, capture_output=True, timeout=180)
    return {stem: list(csv.reader((folder / "csv" / f"{stem}.csv").read_text(encoding="utf-8").splitlines()))
            for stem in sources}


def form_rows(ws, n):
    first = S.FORM_FIRST_DATA_ROW
    return [[c.value for c in row] for row in ws.iter_rows(min_row=first, max_row=first + n - 1)]


def test_one_template_per_reporting_unit_with_its_rows(targets, workbooks):
    assert len(workbooks) == 19
    for unit, data in workbooks.items():
        wb = load_workbook(io.BytesIO(data))
        ws = wb[S.SHEET_FORM]
        assert ws[HEADER_CELLS[S.HEADER_UNIT][1]].value == unit
        assert [c.value for c in ws[S.FORM_HEADER_ROW]] == S.FORM_COLUMNS
        expected = targets.expected_rows(unit)
        rows = form_rows(ws, len(expected))
        assert [(r[0], r[5]) for r in rows] == list(zip(expected["指标编号"], expected["县市区"]))
        # nothing below the last row
        assert ws.cell(row=S.FORM_FIRST_DATA_ROW + len(expected), column=1).value is None


def test_row_counts_follow_the_target_table(targets):
    # 市体育局: P26-1 split to 14 counties + its 全市 row, and 4 city-level indicators (incl. 15分钟健身圈)
    rows = targets.expected_rows("市体育局")
    assert len(rows) == 14 + 1 + 4
    assert rows.loc[rows["县市区"] == "任城区", "年度目标"].item() == 10
    # 市医保局 has one city-level indicator
    assert targets.expected_rows("市医保局")["县市区"].tolist() == [S.CITY]


def test_locked_and_input_cells(targets, workbooks):
    wb = load_workbook(io.BytesIO(workbooks["市能源局"]))
    ws = wb[S.SHEET_FORM]
    assert ws.protection.sheet is True
    expected = targets.expected_rows("市能源局")
    for offset, rec in enumerate(expected.itertuples(index=False)):
        r = S.FORM_FIRST_DATA_ROW + offset
        for name in S.LOCKED_FORM_COLUMNS:
            assert ws[f"{COLUMN_LETTER[name]}{r}"].protection.locked, (name, r)
        for name in ("进展状态", "进展情况", "存在问题", "下步计划"):
            assert not ws[f"{COLUMN_LETTER[name]}{r}"].protection.locked
        value_locked = ws[f"{COLUMN_LETTER['累计完成']}{r}"].protection.locked
        assert value_locked == (rec.指标类型 == S.TYPE_QUALITATIVE)
    assert ws[HEADER_CELLS[S.HEADER_UNIT][1]].protection.locked
    assert not ws[HEADER_CELLS[S.HEADER_MONTH][1]].protection.locked


def test_validations_present(targets, workbooks):
    """Each validation on its own: the month list on the month cell, the number rule on every 累计完成 input cell,
    the state list on every 进展状态 cell (no OR across validations, none kept out)."""
    from openpyxl.worksheet.cell_range import MultiCellRange

    ws = load_workbook(io.BytesIO(workbooks["市民政局"]))[S.SHEET_FORM]
    validations = ws.data_validations.dataValidation
    month_cell = HEADER_CELLS[S.HEADER_MONTH][1]
    months = [dv for dv in validations if dv.type == "list" and month_cell in MultiCellRange(str(dv.sqref))]
    assert len(months) == 1
    assert months[0].formula1 == '"' + ",".join(f"2024-{m:02d}" for m in range(1, 13)) + '"'
    assert months[0].showErrorMessage and not months[0].allow_blank
    numbers = [dv for dv in validations if dv.type == "decimal"]
    assert len(numbers) == 1
    decimal = numbers[0]
    assert decimal.operator == "greaterThanOrEqual" and decimal.formula1 == "0" and decimal.showErrorMessage
    assert "累计数" in decimal.prompt
    states = [dv for dv in validations if dv.type == "list" and "正常推进" in (dv.formula1 or "")]
    assert len(states) == 1 and states[0].showErrorMessage
    assert states[0].formula1 == '"' + ",".join(S.REPORTED_STATES) + '"'
    rows = targets.expected_rows("市民政局")
    first = S.FORM_FIRST_DATA_ROW
    value_col, state_col = COLUMN_LETTER["累计完成"], COLUMN_LETTER["进展状态"]
    number_cells, state_cells = MultiCellRange(str(decimal.sqref)), MultiCellRange(str(states[0].sqref))
    for offset, rec in enumerate(rows.itertuples(index=False)):
        r = first + offset
        quantitative = rec.指标类型 != S.TYPE_QUALITATIVE and not rec.城市合计行
        assert (f"{value_col}{r}" in number_cells) == quantitative or rec.城市合计行, (r, rec.指标编号, rec.县市区)
        assert f"{state_col}{r}" in state_cells or rec.城市合计行, (r, rec.指标编号)


def test_metadata_sheet_is_very_hidden_and_readable(targets, workbooks):
    wb = load_workbook(io.BytesIO(workbooks["市教育局"]))
    meta = wb[S.SHEET_META]
    assert meta.sheet_state == "veryHidden"
    values = {row[0]: row[1] for row in meta.iter_rows(values_only=True)}
    assert values["单位"] == "市教育局"
    assert values["年度"] == "2024"
    assert values["目标表版本"] == targets.version
    assert int(values["行数"]) == len(targets.expected_rows("市教育局"))


def test_guide_sheet_and_print_setup(workbooks):
    wb = load_workbook(io.BytesIO(workbooks["市教育局"]))
    assert S.SHEET_GUIDE in wb.sheetnames
    text = "\n".join(str(r[0]) for r in wb[S.SHEET_GUIDE].iter_rows(values_only=True) if r[0])
    assert "5 日" in text and "累计" in text
    ws = wb[S.SHEET_FORM]
    assert ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == "$6:$6" or ws.print_title_rows == "6:6"
    assert ws.freeze_panes == f"A{S.FORM_FIRST_DATA_ROW}"


def test_completion_formula_is_a_convenience(workbooks):
    ws = load_workbook(io.BytesIO(workbooks["市体育局"]))[S.SHEET_FORM]
    formula = ws[f"{COLUMN_LETTER['完成率']}{S.FORM_FIRST_DATA_ROW}"].value
    assert formula.startswith("=IF(") and "H7/G7" in formula


def test_round_trip_fill_and_read_back(targets, workbooks):
    wb = load_workbook(io.BytesIO(workbooks["市体育局"]))
    ws = wb[S.SHEET_FORM]
    ws[HEADER_CELLS[S.HEADER_MONTH][1]] = "2024-03"
    ws[f"H{S.FORM_FIRST_DATA_ROW}"] = 3
    ws[f"J{S.FORM_FIRST_DATA_ROW}"] = "正常推进"
    buffer = io.BytesIO()
    wb.save(buffer)
    again = load_workbook(io.BytesIO(buffer.getvalue()))[S.SHEET_FORM]
    assert again[HEADER_CELLS[S.HEADER_MONTH][1]].value == "2024-03"
    assert again[f"H{S.FORM_FIRST_DATA_ROW}"].value == 3
    assert again[f"J{S.FORM_FIRST_DATA_ROW}"].value == "正常推进"
    assert again[f"A{S.FORM_FIRST_DATA_ROW}"].value == "P26-1"


def test_cli_writes_every_template(data_dir, targets):
    assert main([]) == 0
    written = sorted(p.stem for p in (data_dir / "templates").glob("*.xlsx"))
    assert written == sorted(targets.reporting_units)


def test_zip_of_all_templates(targets):
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(templates_zip(targets))).namelist()
    assert sorted(names) == sorted(f"{u}.xlsx" for u in targets.reporting_units)


def test_libreoffice_opens_template_and_reads_prefilled_values(targets, as_shown):
    rows = as_shown["市体育局"]
    assert rows[0][0] == "2024 年重点民生实事进展情况报表"
    assert rows[1][1] == "市体育局"
    assert rows[S.FORM_HEADER_ROW - 1] == S.FORM_COLUMNS
    expected = targets.expected_rows("市体育局")
    data = rows[S.FORM_HEADER_ROW: S.FORM_HEADER_ROW + len(expected)]
    # As displayed: the figure with its 目标口径 words (44%左右 reads "44左右"); 市体育局's targets are all under 1,000.
    assert [(r[0], r[5], r[6]) for r in data] == [
        (rec.指标编号, rec.县市区, "" if pd.isna(rec.年度目标) else S.with_basis(f"{rec.年度目标:g}", rec.目标口径))
        for rec in expected.itertuples(index=False)
    ]


def test_completion_formula_stays_blank_beside_a_wrongly_typed_cell(as_shown):
    """A clerk types “约300” into 累计完成 (``_typed``): LibreOffice shows an empty 完成率, not #VALUE!."""
    rows = as_shown["typed"]
    row = S.FORM_FIRST_DATA_ROW
    rate = S.FORM_COLUMNS.index("完成率")
    assert rows[row - 1][rate] == ""  # was #VALUE!
    assert rows[row][rate] not in ("", "#VALUE!")  # a number still gives its rate


def test_target_cells_show_the_basis_and_stay_numbers(targets):
    """约650万人 reads 约6,500,000 in 市医保局's template; the cell is still the number the upload check compares."""
    ws = load_workbook(io.BytesIO(build_template(targets, "市医保局")))[S.SHEET_FORM]
    target = ws[f"{COLUMN_LETTER['年度目标']}{S.FORM_FIRST_DATA_ROW}"]
    assert target.value == 6500000 and target.number_format == '"约"#,##0.##'
    ws = load_workbook(io.BytesIO(build_template(targets, "市托育指挥部")))[S.SHEET_FORM]
    rows = {ws[f"A{r}"].value: r for r in range(S.FORM_FIRST_DATA_ROW, ws.max_row + 1)}
    g, h = COLUMN_LETTER["年度目标"], COLUMN_LETTER["累计完成"]
    assert ws[f"{g}{rows['P06-3']}"].number_format == '#,##0.##"以上"'
    assert ws[f"{g}{rows['P06-9']}"].number_format == '"不高于"#,##0.##'
    r = rows["P06-9"]  # a ceiling: kept (100 %) at or under it
    assert f"IF({h}{r}<={g}{r},1,{g}{r}/{h}{r})" in ws[f"{COLUMN_LETTER['完成率']}{r}"].value
    assert ws[f"{g}{rows['P06-1']}"].number_format == "#,##0.##"


def test_guide_explains_the_basis_and_the_split_rule(targets):
    wb = load_workbook(io.BytesIO(build_template(targets, "市能源局")))
    text = "\n".join(str(r[0]) for r in wb[S.SHEET_GUIDE].iter_rows(values_only=True) if r[0])
    assert "“约”“左右”达到目标的 98% 即视为完成" in text and "不超过目标即为达标" in text
    assert "P12-5 建成综合服务示范充电站：文件：“在主城区打造2—3个" in text and "至少1个" in text


def test_basis_formats_render_in_libreoffice(as_shown):
    """LibreOffice shows the 目标口径 words with the figure (what a clerk sees in WPS/LibreOffice too)."""
    rows = as_shown["市医保局"]
    assert rows[S.FORM_HEADER_ROW][6] == "约6,500,000"  # the first data row's 年度目标, as displayed


def test_fill_writes_the_values_openpyxl_writes(targets, workbooks):
    """fill_template writes into the form sheet's XML itself: every cell of every sheet reads back as openpyxl's own
    fill gives it (value, type, protection, number format), for awkward values too; a value it does not write itself
    (a date) goes through openpyxl."""
    from datetime import date

    from lib import template as T
    from tests.factory import entries_for

    template = workbooks["市体育局"]
    entries = entries_for(targets, "市体育局", share=0.37, problems=" 前后空格 ", plan="a & <b> \r\n c")
    awkward = ["=1+1", "-2", "－2", "", None, 0, -3, 1e300, 0.1 + 0.2, 7.0, "长" * 40000, 12]
    for row, value in zip(entries.values(), awkward * 3):
        row["累计完成" if "累计完成" in row else "进展情况"] = value
    header = {S.HEADER_FILLER: " 张三", S.HEADER_PHONE: 5370000000, S.HEADER_DATE: "2024-04-03"}
    month_cell = HEADER_CELLS[S.HEADER_MONTH][1]
    cells = {month_cell: "2024-03"} | {HEADER_CELLS[k][1]: v for k, v in header.items()}
    rows = T._package(template).rows
    for key, values in entries.items():
        cells |= {f"{COLUMN_LETTER[name]}{r}": v for name, v in values.items() for r in rows[key]}
    assert T._package(template).fill(cells) is not None  # written into the XML, not through openpyxl

    def read(data):
        return {ws.title: [[(c.value, c.value is not None and c.data_type, c.protection.locked, c.number_format)
                            for c in row] for row in ws.iter_rows()] for ws in load_workbook(io.BytesIO(data)).worksheets}

    fast = read(T.fill_template(template, "2024-03", entries, header))
    assert fast == read(T._fill_with_openpyxl(template, cells))
    form = fast[S.SHEET_FORM]
    assert form[1][5][0] == "2024-03" and form[2][1][0] == " 张三"
    value = S.FORM_COLUMNS.index("累计完成")
    assert {row[value][0] for row in form[S.FORM_FIRST_DATA_ROW - 1:]} >= {"=1+1", -3, 12, 7}
    dated = T.fill_template(template, "2024-03", entries, header | {S.HEADER_DATE: date(2024, 4, 3)})
    assert load_workbook(io.BytesIO(dated))[S.SHEET_FORM][HEADER_CELLS[S.HEADER_DATE][1]].is_date
