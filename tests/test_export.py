"""Exports open in Excel/WPS and never carry a live formula."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from openpyxl import load_workbook

from lib.export import export_filename, neutralise, readable, to_csv_bytes, to_xlsx_bytes

HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "=cmd|' /C calc'!A0", "正常文本", "-"]


def frame():
    return pd.DataFrame({"项目名称": HOSTILE, "完成率": [0.5] * len(HOSTILE), "累计完成": range(len(HOSTILE))})


def test_neutralise():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("正常") == "正常"
    assert neutralise(-3) == -3  # numbers stay numbers


def test_csv_has_bom_crlf_chinese_and_no_formula():
    data = to_csv_bytes(frame())
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == "项目名称,完成率（%）,累计完成"
    cells = [line.split(",")[0] for line in lines[1:] if line]
    for cell in cells:
        assert not cell.lstrip('"').startswith(("=", "+", "-", "@", "\t")), cell
    assert "'=1+1" in text and "正常文本" in text


def test_xlsx_has_header_style_frozen_panes_and_text_not_formulas():
    wb = load_workbook(io.BytesIO(to_xlsx_bytes(frame(), sheet="明细", title="2024-06 明细")))
    ws = wb["明细"]
    assert ws["A1"].value == "2024-06 明细"
    assert [c.value for c in ws[2]] == ["项目名称", "完成率（%）", "累计完成"]
    assert ws["A2"].font.b and ws.freeze_panes == "A3"
    values = [ws.cell(row=r, column=1).value for r in range(3, 3 + len(HOSTILE))]
    assert all(ws.cell(row=r, column=1).data_type == "s" for r in range(3, 3 + len(HOSTILE)))
    assert values == HOSTILE  # text as typed: no apostrophe in the data, and never a formula
    assert ws["A3"].quotePrefix
    assert ws["B3"].number_format == "0.0" and ws["B3"].value == 50


def test_figures_are_written_as_a_person_would_type_them():
    detail = pd.DataFrame({"指标名称": ["a", "b"], "计量单位": ["户", "%"], "年度目标": [10000.0, 62.0],
                           "累计完成": [7928.0, 3.5], "完成率": [0.7928, 0.05645], "差距": [-20.720000000000006, float("nan")],
                           "存在问题": ["-资金未到位", ""]})
    out = readable(detail)
    assert list(out.columns) == ["指标名称", "计量单位", "年度目标", "累计完成", "完成率（%）", "差距（百分点）", "存在问题"]
    assert list(out["年度目标"]) == [10000, 62] and str(out["年度目标"].dtype) == "Int64"
    assert [type(v) for v in out["累计完成"]] == [int, float] and list(out["累计完成"]) == [7928, 3.5]
    assert list(out["完成率（%）"]) == [79.3, 5.6]
    assert out["差距（百分点）"].iloc[0] == -20.7 and pd.isna(out["差距（百分点）"].iloc[1])
    text = to_csv_bytes(detail).decode("utf-8-sig")
    assert text.splitlines()[1] == "a,户,10000,7928,79.3,-20.7,'-资金未到位"
    assert "0.7928" not in text and "20.720000000000006" not in text


def test_filename_carries_filters_and_is_safe():
    name = export_filename("明细", "2024-06", {"类别": ["教育服务"], "县市区": [], "状态": "滞后/严重"}, "csv")
    assert name == "明细_2024-06_类别-教育服务_状态-滞后严重.csv"


@pytest.mark.parametrize("hostile", HOSTILE[:6])
def test_header_cells_of_every_export_are_neutralised_like_data_cells(hostile):
    """A column named by data (a county, a month, an indicator) or a title is a cell too: never a live formula."""
    data = pd.DataFrame({hostile: ["x"], "完成率": [0.5]})
    header = next(csv.reader(io.StringIO(to_csv_bytes(data).decode("utf-8-sig"))))
    assert header == [neutralise(hostile), "完成率（%）"] and header[0].startswith("'")
    ws = load_workbook(io.BytesIO(to_xlsx_bytes(data, title=hostile))).active
    title, head = ws["A1"], ws["A2"]
    for cell in (title, head):
        assert cell.data_type == "s" and cell.value == hostile and cell.quotePrefix  # text as typed, not a formula
    assert head.font.b  # still the styled header


def test_mixed_text_and_number_columns_are_neutralised_in_both_formats():
    """An object column holding text and numbers (a ledger field, a free-text figure) is still checked cell by cell."""
    data = pd.DataFrame({"备注": pd.Series(["=1+1", 3, "@x", None], dtype=object), "累计完成": [1.0, float("nan"), 2.0, 3.0]})
    text = to_csv_bytes(data).decode("utf-8-sig")
    assert "'=1+1" in text and "'@x" in text
    ws = load_workbook(io.BytesIO(to_xlsx_bytes(data))).active
    assert ws["A2"].data_type == "s" and ws["A2"].value == "=1+1" and ws["A3"].value == 3 and ws["A4"].value == "@x"
    assert ws["A5"].value is None and ws["B3"].value is None  # missing is an empty cell, never "nan"


def test_a_long_sheet_name_is_cut_to_excels_limit():
    wb = load_workbook(io.BytesIO(to_xlsx_bytes(frame(), sheet="督办台账" * 10 + "/x")))
    assert len(wb.sheetnames[0]) == 31 and "/" not in wb.sheetnames[0]
