"""Every kind of problem a user is told about, in one table: stable code, English description, Chinese message.

Modelled on frictionless-py's errors (each type a code, a message template and a description):

- ``CODES`` (problems of an uploaded workbook) and ``TARGET_CODES`` (problems of a target table) map each stable
  code (what tests, stored findings and other code match on) to a ``Kind``: what it means in English (for
  docs/FINDINGS.md) and the Chinese message the user reads, a template with named fields. A code whose cause comes
  in a few shapes (``file.unsafe``: too many parts, a zip bomb, a DOCTYPE …) has one template per *variant*; the
  default variant is ``""``.
- The rules never write text: they call ``finding(code, level, cell=…, **fields)`` (an upload ``Finding``), or
  ``message(code, variant=…, **fields)`` for the text alone (``lib.package.Rejected``, ``lib.targets`` problems,
  ``lib.submission.parse_number``'s reasons). An unknown code or variant, a missing field or one the template
  does not use raise ``ValueError``: a wrong call fails the first test that reaches it, never the clerk.

In a template ``{name}`` is a field the rule passes; ``{NAME}`` (upper case) a constant of the schema or the
configuration (``CONSTANTS``). Numbers are never formatted by the rule: ``{value:num}`` writes a figure with every
digit and thousands grouped (1,470,860; ``lib.formatting.fmt_figure``), ``{rate:pct}`` a share as a percentage with
the one rule's decimals (66.7%; ``fmt_pct``). Whole numbers (months, rows, counts) may use an int format
(``{month:02d}``); a float with any other format is refused. Location (file, sheet, cell, indicator, county) is not
part of the message: ``Finding.location`` and ``TargetProblem.__str__`` add it, so every message says what is
wrong and what to type, and the user sees where.

To add a kind of problem: add its code here (template and description), call ``finding``/``message`` with it,
run ``python -m lib.findings > docs/FINDINGS.md``; tests/test_findings.py checks every template formats, every code
used in lib/ is here and the doc lists them all. Change a message's wording here and nowhere else.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from lib import config
from lib import schema as S
from lib.formatting import fmt_figure, fmt_pct


@dataclass(frozen=True)
class Kind:
    """One kind of problem: its English description and its Chinese message template(s), by variant."""
    description: str
    messages: Mapping[str, str]


def kind(description: str, message: str | None = None, **variants: str) -> Kind:
    """``kind("0 bytes", "文件为空…")``; a code of several shapes: ``kind("…", parts="…", doctype="…")``."""
    if message is not None:
        variants = {"": message, **variants}
    return Kind(description, variants)


CONSTANTS: dict[str, object] = {
    "FORM": S.SHEET_FORM,
    "HEADER_ROW": S.FORM_HEADER_ROW,
    "FORM_COLUMNS": "、".join(S.FORM_COLUMNS),
    "STATES": "、".join(S.REPORTED_STATES),
    "MAX_UPLOAD_MB": config.MAX_UPLOAD_BYTES // 1024 // 1024,
    "MAX_PARTS": config.MAX_ZIP_PARTS,
    "MAX_ROWS": config.MAX_SHEET_ROWS,
    "MAX_COLUMNS": config.MAX_SHEET_COLUMNS,
    "CEILING": S.BASIS_CEILING,
    "UNIT_TYPES": "/".join(S.UNIT_TYPES),
    "INDICATOR_TYPES": "/".join(S.INDICATOR_TYPES),
    "TYPE_COUNT": S.TYPE_COUNT,
    "TYPE_RATE": S.TYPE_RATE,
    "COL_BASIS": S.COL_BASIS,
    "BASES": "/".join(b for b in S.TARGET_BASES if b),
    "REPORT_KEYS": "、".join(S.REPORT_DEFAULTS),
}

_ONLY_DIGITS = "请只填写数字（计量单位：{measure}），不要写“约”、区间或文字说明，说明请写在“进展情况”。"
_EXPLAIN = "请在“存在问题”和“下步计划”中说明原因与措施。"
_BOMB = "（疑似“压缩炸弹”），已拒绝。请使用系统下发的模板重新填写。"
_RESAVE = "请重新保存原文件后上传。"
_LOCKED = "锁定列“{column}”被改动：现为“{got}”，应为“{should:num}”。"

CODES: dict[str, Kind] = {
    # --- the file as a whole (lib/package.py: what kind of file is it, is it safe to read)
    "file.empty": kind("0 bytes", "文件为空（0 字节）。请重新导出或重新保存后上传。"),
    "file.too_large": kind(
        "over the upload size limit",
        "文件大小 {size_mb:num} MB，超过上限 {MAX_UPLOAD_MB} MB。标准模板通常不足 100 KB，请检查是否粘贴了图片或大量无关内容。"),
    "file.encrypted": kind(
        "password-protected or encrypted workbook",
        "工作簿设置了打开密码（已加密），系统无法读取。请在 Excel/WPS 中取消密码（文件 → 信息 → 保护工作簿）后重新上传。",
        zip_flag="工作簿内容已加密，系统无法读取。请取消密码后重新上传。",
        reader="工作簿设置了密码，系统无法读取。请取消密码后重新上传。"),
    "file.xls": kind("Excel 97-2003 binary workbook",
                     "这是旧版 Excel 97-2003 格式（.xls）。请用 Excel/WPS 打开后“另存为”Excel 工作簿（.xlsx）再上传，"
                     "最好直接使用系统下发的模板。"),
    "file.pdf": kind("a PDF, not a workbook", "这是 PDF 文件，不是 Excel 工作簿。请上传填写好的 .xlsx 模板，而不是打印或导出的 PDF。"),
    "file.text": kind("a text/CSV file (often renamed to .xlsx)",
                      "这是文本/CSV 文件（可能由 .csv 改名而来），不是 Excel 工作簿。请使用系统下发的 .xlsx 模板填写后上传。"),
    "file.ods": kind("an OpenDocument spreadsheet (.ods)",
                     "这是 OpenDocument 表格（.ods，WPS/LibreOffice 的默认格式），不是 Excel 工作簿。"
                     "请在 WPS/LibreOffice 中“另存为” Excel 工作簿（.xlsx）后上传，最好直接使用系统下发的模板。"),
    "file.unknown": kind("not a recognisable workbook", "无法识别的文件格式，不是 Excel 工作簿（.xlsx）。请使用系统下发的模板填写后上传。"),
    "file.corrupt": kind(
        "damaged zip package or XML",
        "文件已损坏或不完整（压缩包无法打开，可能是下载或拷贝中断）。" + _RESAVE,
        crc="文件已损坏（压缩数据校验失败），可能是下载或拷贝中断。" + _RESAVE,
        sheet_part="工作簿结构不完整（找不到“{sheet_name}”表的数据）。" + _RESAVE,
        xml="工作簿内容无法解析（XML 损坏或格式异常）。请用 Excel/WPS 打开后重新保存再上传。"),
    "file.not_workbook": kind("a zip that is not a workbook",
                              "这是一个压缩包，但不是 Excel 工作簿（缺少工作簿结构）。请上传 .xlsx 文件，多个文件请分别上传或打包为 .zip。"),
    "file.unsafe": kind(
        "zip bomb, too many parts, DOCTYPE or other hostile structure",
        parts="工作簿包含 {parts} 个内部部件，超过上限 {MAX_PARTS}，不像标准模板。请使用系统下发的模板。",
        declared_size="工作簿解压后体积异常巨大" + _BOMB,
        ratio="工作簿压缩比异常" + _BOMB,
        inflated_size="工作簿解压后体积超过上限" + _BOMB,
        doctype="工作簿内部的 XML 含有 DOCTYPE/实体声明（Excel 不会生成这种内容，可能是恶意文件），已拒绝。",
        no_position="“{sheet_name}”表中有单元格缺少位置信息，行列超出合理范围，不像 Excel/WPS 保存的文件。"
                    "请用 Excel/WPS 打开后重新保存再上传。"),
    "file.macros": kind("workbook with macros (values read, macros never run)",
                        "工作簿含宏（.xlsm）。系统只读取单元格的值，不会运行任何宏；今后请使用 .xlsx 模板。"),
    "file.read_error": kind("an unexpected reader failure",
                            "读取工作簿时出错（{error}），文件可能已损坏。请重新保存后上传；如仍出错请联系管理员。"),
    # --- layout of the workbook
    "layout.sheet_missing": kind("the form sheet is missing", "找不到“{FORM}”工作表。请使用系统下发的模板，不要修改工作表名称。"),
    "layout.outside_extent": kind(
        "a cell far outside the form (rows/columns over the limits)",
        "“{sheet_name}”表的 {ref} 单元格有内容，超出合理范围（远在表格之外；允许 {MAX_ROWS} 行、{MAX_COLUMNS} 列以内），"
        "不像标准模板。请删除 {ref} 中的内容（或整行、整列）后保存再上传。"),
    "layout.header_changed": kind("the column headings were changed or moved",
                                  "第 {HEADER_ROW} 行的列标题被改动或移动了位置，应为：{FORM_COLUMNS}。请使用原模板，不要插入或删除列。"),
    "layout.stray_content": kind(
        "text in a row that is not an indicator row (a note or signature below the table)",
        "第 {row} 行不是指标行（A 列没有指标编号），但 {ref} 单元格有内容“{shown}”。表格内外请不要填写备注、签名或合计，"
        "说明请写在该指标的“进展情况”中；如果这是指标行，请恢复 A 列的指标编号。"),
    "layout.formula_in_input": kind("a formula typed into an input cell",
                                    "输入单元格含公式。系统不计算公式，请直接填写数值或文字（可复制后“选择性粘贴 → 数值”）。"),
    # --- which unit, which template
    "unit.unknown": kind("the reporting unit cannot be identified",
                         "无法识别填报单位：文件缺少模板元数据，表头“填报单位”也不是已知的填报单位。请使用系统下发的本单位模板。"),
    "unit.not_reporting": kind("the template's unit is not a reporting unit of the target table",
                               "模板中的单位“{unit}”不是当前目标表的填报单位。请下载最新模板重新填写。"),
    "unit.header_changed": kind(
        "the header's 填报单位 differs from the template's unit",
        "表头“填报单位”为“{header_unit}”，而模板的元数据属于“{unit}”：两者不一致，无法确定是哪个单位的报表。"
        "请使用本单位的模板（从系统“数据上报”页下载），不要复制其他单位的表格或工作表。"),
    "unit.from_header": kind("no template metadata; the unit was read from the header",
                             "文件缺少模板元数据（可能把内容粘贴到了新工作簿），已按表头识别为“{unit}”。今后请直接在下发的模板中填写。"),
    "template.other_year": kind(
        "a template of another year",
        "这是 {year} 年度的模板，本次校验使用的是 {table_year} 年度的目标表。报送 {year} 年度的数据，请先在看板侧栏“年度”中"
        "选择 {year} 年再上传；否则请下载 {table_year} 年度的模板重新填写。"),
    "template.outdated": kind(
        "made from an older target table (rows added, changed or removed since)",
        accepted="该模板由旧版目标表生成，指标行与现行目标表一致，可以接收；下月起请使用新模板。",
        refused="该模板由旧版目标表生成，指标行与现行目标表不一致（见各行提示）。请下载新模板重新填写。",
        locked=_LOCKED + "（目标表已更新，请下载新模板）",
        rows_missing="缺少指标行{rows}：这些行是目标表更新后新增的，您使用的模板由旧版目标表生成，已过期。"
                     "请在系统“数据上报”页下载本单位最新模板（或向督查室索取）重新填写。"),
    # --- the reporting month
    "period.invalid": kind(
        "报送月份 blank or unreadable",
        blank="报送月份未填写。请从下拉列表选择报送月份。",
        not_month="报送月份“{typed}”不是月份（应为 {year}-01 至 {year}-12）。请从下拉列表选择报送月份。",
        other_year="报送月份{typed_year} 年不是本表年度 {year} 年。请从下拉列表选择报送月份。",
        bad_month="报送月份{month} 不是有效月份。请从下拉列表选择报送月份。"),
    "period.future": kind("报送月份 later than the current month",
                          "报送月份 {year}-{month:02d} 晚于当前月份，不能报送未来月份的进展。"),
    "period.current_month": kind(
        "a report for the current, unfinished month",
        "报送月份是本月（{month} 月），本月尚未结束：累计完成应为月末数。如是上月报表请改为 {year}-{previous:02d}；"
        "如确为月中进度，月末后请再报送一次。",
        january="报送月份是本月（{month} 月），本月尚未结束：累计完成应为月末数。如确为月中进度，月末后请再报送一次。"),
    "period.month_unchanged": kind(
        "values differ from the same month's report while next month's is due",
        "与 {month} 月已报数据不同，是否忘记修改报送月份？本文件将替换 {month} 月的报表；如是 {next_month} 月的进展，"
        "请把报送月份改为 {year}-{next_month:02d}。"),
    # --- rows
    "row.unknown_indicator": kind("an indicator code not in the target table",
                                  "指标编号“{typed}”不在目标表中。请不要新增或改动指标行。"),
    "row.other_unit": kind("an indicator reported by another unit",
                           "有 {rows} 行指标由“{other}”填报，不属于“{unit}”（第一处：{first}）。请使用本单位模板，或删除这些行。"),
    "row.unknown_county": kind("a county name that is not valid", "县市区“{typed}”不是有效的县市区名称。"),
    "row.county_not_expected": kind("a county row the target table does not have for this indicator",
                                    "目标表中“{number}”没有“{typed}”这一行。请不要新增行。"),
    "row.duplicate": kind("the same indicator and county twice", "与第 {row} 行重复（同一指标、同一县市区）。请删除重复行。"),
    "row.missing": kind("a row of the template is missing",
                        "缺少指标行{rows}。请不要删除模板中的行（不涉及的请填 0 并在进展情况中说明）。"),
    "row.locked_changed": kind("a locked column was edited",
                               _LOCKED + "请恢复原值，目标如需调整请联系督查室。"),
    # --- 累计完成
    "value.blank": kind("累计完成 blank", "累计完成未填写。请填写年初至本月末的累计数；尚未开展请填 0。"),
    "value.not_number": kind(
        "累计完成 is text that is not a plain number",
        "累计完成“{typed}”不是单纯的数字。" + _ONLY_DIGITS,
        boolean="累计完成是逻辑值（TRUE/FALSE），不是数字。" + _ONLY_DIGITS,
        date="累计完成是日期，不是数字（单元格格式可能被设成了日期）。" + _ONLY_DIGITS,
        nan="累计完成不是有效数字。" + _ONLY_DIGITS),
    "value.ambiguous_separator": kind(
        "a comma that is not a correct thousands grouping (3，5 · 12,00 · 1200,5)",
        "累计完成“{typed}”中的逗号或空格不是正确的千位分隔，无法确定是小数点还是分隔符。"
        "请只填数字，例如 1234 或 1234.5（小数点用“.”，千位分隔可不写）。"),
    "value.error_value": kind(
        "an Excel error value (#DIV/0!, #N/A, ...)",
        number="“累计完成”是 Excel 错误值 {error}（公式或粘贴出错的结果），不是数字。请填写具体数值。",
        text="“{column}”是 Excel 错误值 {error}（公式或粘贴出错的结果），不是文字。请填写内容或清空该单元格。"),
    "value.percent_format": kind(
        "a percent-formatted number in a row whose unit is not %",
        "累计完成单元格是百分比格式（显示为 {shown:pct}），而本行计量单位是“{measure}”，不是百分比。"
        "请把单元格格式改为“常规”或“数值”，填写{measure}数。"),
    "value.negative": kind("a negative cumulative value", "累计完成为负数（{value:num}）。请填写不小于 0 的累计数。"),
    "value.impossible": kind(
        "more than 10× the year target, or a share above 100 %",
        share="累计完成 {value:num}% 超过 100%，而本指标是比例（年度目标 {target:num}%），不可能大于 100%。"
              "请核对是否多填了位数，或把“62%”误填成了“6200”。",
        multiple="累计完成 {value:num} 是年度目标 {target:num} 的 {times:num} 倍（超过 {limit} 倍），不可能是实际进展。"
                 "请核对是否多填了位数、填成了其他口径，或把万、元等单位换算错了（计量单位：{measure}）。"),
    "value.city_total_mismatch": kind("the 全市 row differs from the sum of the counties",
                                      "全市合计 {total:num} 与各县市区之和 {parts:num} 不一致。请核对，或清空全市行由系统合计。"),
    "value.over_target": kind(
        "above 150 % of the year target (a reminder)",
        "累计完成 {value:num} 是年度目标 {target:num} 的 {share:pct}（超过 150%），请核实是否多填了位数或填成了其他口径。"),
    "value.below_previous": kind(
        "lower than an earlier month's value",
        "累计完成 {value:num} 低于 {month} 月已报的 {previous:num}。累计数一般不应减少，如属核减请在“存在问题”中说明。"),
    "value.above_later": kind(
        "higher than a later month's value already reported",
        "累计完成 {value:num} 高于 {month} 月已报的 {later:num}。累计数不应减少：请核对本月数据，或同时更正 {month} 月的报表。"),
    "value.jump": kind("a month-on-month increase above half the year target",
                       "比 {month} 月增加 {increase:num}，超过年度目标的 50%，请核实。"),
    # --- 进展状态 and narratives
    "state.invalid": kind("进展状态 not one of the list", "进展状态“{typed}”无效，请从下拉列表选择：{STATES}。"),
    "state.missing": kind("a qualitative indicator without 进展状态", "定性指标须选择进展状态。"),
    "state.done_below_target": kind("已完成 while the rate is below 100 %",
                                    "进展状态为“已完成”，但完成率仅 {rate:pct}。请核对累计完成或进展状态。"),
    "state.not_started_with_value": kind(
        "未启动 with a non-zero cumulative value",
        "进展状态为“未启动”，但累计完成为 {value:num}。请核对：已有进展请选“正常推进”或“滞后”，确未启动请把累计完成填 0。"),
    "state.lagging_unexplained": kind(
        "进展状态 滞后 chosen without 存在问题 and 下步计划",
        "进展状态选了“滞后”，" + _EXPLAIN,
        not_behind="进展状态选了“滞后”（完成率 {rate:pct}，序时进度 {planned:pct}，按数据并不落后），"
                   "请在“存在问题”和“下步计划”中说明滞后的原因与措施，或核对进展状态。"),
    "progress.behind_unexplained": kind(
        "the rate is behind 序时进度 without 存在问题 and 下步计划",
        "完成率 {rate:pct} 落后于序时进度 {planned:pct}，" + _EXPLAIN,
        ceiling="{value:num} 高于目标上限 {target:num}（{CEILING}），" + _EXPLAIN),
    "text.too_long": kind(
        "a narrative cell longer than Excel's 32,767 characters",
        "“{column}”超过 Excel 单元格上限 {limit:num} 个字符，Excel/WPS 打开时会被截断。请精简到 1,000 字以内，详细材料另行报送。"),
    # --- the store
    "store.demo_present": kind(
        "the data folder holds demo data; real uploads wait until an admin clears it",
        "本数据目录中是系统生成的示例数据。为免示例数字与真实报送混在一起，清除示例数据之前不接收真实报表。"
        "请管理员在“用户与审计”页点击“清除示例数据”（或运行 python -m lib.store clear-demo），一次清除后再上传。"),
}

_YES_NO = "应为“是”或“否”。"
_NOT_BLANK = "不能为空。"
_NO_UNIT = "单位“{name}”不在“单位”表中。"

# Problems of a target table (lib/targets.py ``parse_targets``), by sheet. Where: ``TargetProblem`` (sheet, row, column).
TARGET_CODES: dict[str, Kind] = {
    "targets.unreadable": kind("the file is not a workbook calamine can read", "无法读取目标表：{error}"),
    "targets.sheet_missing": kind("a required sheet is missing", "缺少该工作表。"),
    "targets.sheet_empty": kind("a sheet without even a header row", "工作表为空，应有表头行。"),
    "targets.columns_missing": kind("required columns missing from a sheet's header", "缺少必需的列，请按原表头恢复。"),
    # 单位
    "targets.unit.name_blank": kind("a unit without a name", "单位名称不能为空。"),
    "targets.unit.type_invalid": kind("类型 not one of the unit types", "应为 {UNIT_TYPES} 之一，现为“{typed}”。"),
    "targets.unit.flag_invalid": kind("是否填报单位 not 是/否", "应为“是”或“否”，现为“{typed}”。"),
    "targets.unit.duplicate": kind("a unit name twice", "单位“{name}”重复出现。"),
    # 项目
    "targets.project.number_invalid": kind("项目序号 not a positive integer", "应为正整数，现为“{typed}”。"),
    "targets.project.blank": kind("类别, 项目名称 or 牵头单位 blank", _NOT_BLANK),
    "targets.project.unknown_unit": kind("a lead or assisting unit not in 单位", _NO_UNIT),
    "targets.project.flag_invalid": kind("县市区承办 not 是/否", _YES_NO),
    "targets.project.duplicate": kind("a project number twice", "项目序号 {number} 重复。"),
    "targets.project.no_indicator": kind("a project without any indicator",
                                         "项目 {number} 没有任何指标，请在“指标”表中至少列一项（可为定性）。"),
    # 指标
    "targets.indicator.code_blank": kind("an indicator without 指标编号", "指标编号不能为空。"),
    "targets.indicator.unknown_project": kind("项目序号 not in 项目", "项目序号“{typed}”不在“项目”表中。"),
    "targets.indicator.name_blank": kind("指标名称 blank", _NOT_BLANK),
    "targets.indicator.type_invalid": kind("指标类型 not one of the types", "应为 {INDICATOR_TYPES} 之一，现为“{typed}”。"),
    "targets.indicator.target_invalid": kind(
        "a quantitative target that is not a number above 0",
        "量化指标的年度目标应为数字，现为“{typed}”。",
        not_positive="年度目标应大于 0。"),
    "targets.indicator.unit_blank": kind("a quantitative indicator without 计量单位", "量化指标须填写计量单位。"),
    "targets.indicator.qualitative_target": kind("a qualitative indicator with a 年度目标", "定性指标不填年度目标。"),
    "targets.indicator.basis_invalid": kind(
        "目标口径 not a known word, or not allowed for the type",
        "应为 {BASES} 之一，或留空（按年度目标本身），现为“{typed}”。",
        qualitative="定性指标没有年度目标，“{COL_BASIS}”应留空，现为“{typed}”。",
        ceiling="“{CEILING}”只用于{TYPE_RATE}指标（某一水平不超过上限）；{kind}指标越多越好，请留空或改用“以上”等。"),
    "targets.indicator.split_flag_invalid": kind(
        "分解到县 not 是/否, or 是 on a type that is never split",
        _YES_NO,
        type="只有“{TYPE_COUNT}”指标可以分解到县，{kind}指标不分解。"),
    "targets.indicator.unknown_unit": kind("填报单位 not in 单位", _NO_UNIT),
    "targets.indicator.duplicate": kind("an indicator code twice", "指标编号“{number}”重复。"),
    # 分解
    "targets.split.unknown_indicator": kind("a split of an indicator not in 指标", "指标“{number}”不在“指标”表中。"),
    "targets.split.not_splittable": kind("a split of a 比率/提高幅度 indicator", "“{number}”是{kind}指标，不能分解到县。"),
    "targets.split.not_marked": kind("a split of an indicator whose 分解到县 is 否",
                                     "“{number}”在“指标”表中未标为分解到县，请把“分解到县”改为“是”或删除此行。"),
    "targets.split.unknown_county": kind("a split to a name that is not a county", "“{typed}”不是“单位”表中的县市区。"),
    "targets.split.value_invalid": kind("分解目标 not a number ≥ 0", "应为不小于 0 的数字，现为“{typed}”。"),
    "targets.split.duplicate": kind("the same indicator and county twice", "“{number}”在“{county_name}”的分解重复。"),
    "targets.split.missing": kind("an indicator marked split with no split rows",
                                  "“{number}”标为分解到县，但“分解”表中没有它的分解。"),
    "targets.split.sum_mismatch": kind("county targets that do not add up to the 年度目标",
                                       "“{number}”各县市区分解目标之和为 {total:num}，与年度目标 {target:num} 不一致。"),
    # 设置, 序时计划, 通报设置
    "targets.setting.out_of_range": kind("年度, 报送截止日 or a threshold outside its range",
                                         "“{key}”应为 {low} 到 {high} 之间的数字，现为“{typed}”。"),
    "targets.setting.thresholds_order": kind("the severe threshold not above the lag threshold", "严重滞后阈值应大于滞后阈值。"),
    "targets.schedule.unknown_indicator": kind("a schedule row of an indicator not in 指标", "指标“{number}”不在“指标”表中。"),
    "targets.schedule.value_invalid": kind("a monthly share not a number from 0 to 100",
                                           "每月计划进度应为 0 到 100 之间的数字（百分比）。"),
    "targets.schedule.not_monotonic": kind("a schedule that falls, or does not end at 100 in December",
                                           "计划进度应逐月不减，且 12 月为 100。"),
    "targets.report.unknown_key": kind("a 通报设置 key that is not known", "“{key}”不是通报设置项，应为 {REPORT_KEYS} 之一。"),
    "targets.report.duplicate_key": kind("a 通报设置 key twice (other than 下步要求)", "“{key}”重复出现，请只保留一行。"),
}

_ALL: dict[str, Kind] = {**CODES, **TARGET_CODES}
# Names a template may not use as fields: finding() takes them as the finding's location.
RESERVED_FIELDS = frozenset({"file", "sheet", "cell", "indicator", "county", "level", "code", "variant"})


class _Formatter(string.Formatter):
    """str.format with the project's number formats: ``:num`` (fmt_figure) and ``:pct`` (fmt_pct)."""

    def format_field(self, value, format_spec: str) -> str:
        if format_spec == "num":
            return value if isinstance(value, str) else fmt_figure(value)
        if format_spec == "pct":
            return fmt_pct(value)
        if isinstance(value, float):
            raise ValueError(f"a float ({value!r}) in a message must be written {{…:num}} or {{…:pct}}")
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def template_fields(template: str) -> set[str]:
    """The names a template uses (fields and CONSTANTS)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in _FORMATTER.parse(template) if name}


def template(code: str, variant: str = "") -> str:
    """The Chinese template of ``code`` (and ``variant``); ValueError for an unknown one."""
    if code not in _ALL:
        raise ValueError(f"unknown finding code {code!r}: add it to lib.findings.CODES (or TARGET_CODES)")
    messages = _ALL[code].messages
    if variant not in messages:
        raise ValueError(f"code {code!r} has no message variant {variant!r} (it has {sorted(messages)})")
    return messages[variant]


def message(code: str, variant: str = "", **fields) -> str:
    """The Chinese message of ``code`` with its ``fields`` (exactly the ones its template uses, constants aside)."""
    text = template(code, variant)
    wanted = {name for name in template_fields(text) if name not in CONSTANTS}
    if wanted != fields.keys():
        missing, extra = sorted(wanted - fields.keys()), sorted(fields.keys() - wanted)
        raise ValueError(f"message {code!r}{'/' + variant if variant else ''}: missing fields {missing}, unused {extra}")
    return _FORMATTER.vformat(text, (), {**CONSTANTS, **fields})


@dataclass
class Finding:
    level: str  # 错误 / 提醒
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    indicator: str = ""
    county: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:  # every finding has one (an empty code is refused too)
            raise ValueError(f"unknown finding code {self.code!r}: add it to lib.findings.CODES")

    def location(self) -> str:
        parts = [p for p in (self.file, f"工作表“{self.sheet}”" if self.sheet else "", self.cell) if p]
        return " · ".join(parts)

    def __str__(self) -> str:
        who = "/".join(p for p in (self.indicator, self.county) if p)
        return f"[{self.level}] {self.location()}{'（' + who + '）' if who else ''}：{self.message}"


def finding(code: str, level: str, *, variant: str = "", file: str = "", sheet: str = "", cell: str = "",
            indicator: str = "", county: str = "", **fields) -> Finding:
    """An upload finding of ``code`` at a place, its message from the table (see ``message``)."""
    if code not in CODES:
        raise ValueError(f"unknown finding code {code!r}: add it to lib.findings.CODES")
    return Finding(level, message(code, variant, **fields), file, sheet, cell, indicator, county, code)


def listing(items: list[str], noun: str, shown: int = 5) -> str:
    """Items quoted for a message, the first ``shown`` of them: '“P26-4 任城区”、“P26-4 微山县” 等 7 行'."""
    text = "、".join(f"“{item}”" for item in items[:shown])
    return text + (f" 等 {len(items)} {noun}" if len(items) > shown else "")


def markdown() -> str:
    """docs/FINDINGS.md: every code, its description and its message template(s)."""
    out = ["# Findings: every problem a user is told about", "",
           "Generated from `lib/findings.py` by `python -m lib.findings > docs/FINDINGS.md` (tests/test_findings.py",
           "checks it is current). Change a message there, never here. `{name}` is a field the rule fills, `{NAME}` a",
           "constant of the schema or configuration, `:num` a figure with every digit (1,470,860), `:pct` a percentage",
           "(66.7%).", ""]
    for title, table in (("Uploaded workbooks (`CODES`, each a `Finding`)", CODES),
                         ("Target tables (`TARGET_CODES`, each a `TargetProblem`)", TARGET_CODES)):
        out += [f"## {title}", "", "| code | meaning | message (variant: template) |", "| --- | --- | --- |"]
        for code, entry in table.items():
            texts = "<br>".join((f"*{v}*: " if v else "") + t.replace("|", "\\|") for v, t in entry.messages.items())
            out.append(f"| `{code}` | {entry.description} | {texts} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
