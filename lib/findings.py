"""A finding of upload validation, with a stable code, and the one table of codes.

Every problem the upload path reports is a ``Finding``: its level (错误 blocks the file, 提醒 does not), a stable
``code`` naming the kind of problem (what tests and other code match on; the Chinese message may be reworded
freely), where it is (file, sheet, cell, the row's indicator and county) and the message saying what to do.

``CODES`` lists every code with what it means. ``Finding`` refuses a code that is not in the table, so a new kind
of finding is added here first. ``TARGET_CODES`` does the same for the target table's problems
(``lib.targets.TargetProblem``).
"""

from __future__ import annotations

from dataclasses import dataclass

CODES: dict[str, str] = {
    # --- the file as a whole (pass 1: what kind of file is it)
    "file.empty": "0 bytes",
    "file.too_large": "over the upload size limit",
    "file.encrypted": "password-protected or encrypted workbook",
    "file.xls": "Excel 97-2003 binary workbook",
    "file.pdf": "a PDF, not a workbook",
    "file.text": "a text/CSV file (often renamed to .xlsx)",
    "file.ods": "an OpenDocument spreadsheet (.ods)",
    "file.unknown": "not a recognisable workbook",
    "file.corrupt": "damaged zip package or XML",
    "file.not_workbook": "a zip that is not a workbook",
    "file.unsafe": "zip bomb, too many parts, DOCTYPE or other hostile structure",
    "file.macros": "workbook with macros (values read, macros never run)",
    "file.read_error": "an unexpected reader failure",
    # --- layout of the workbook
    "layout.sheet_missing": "the form sheet is missing",
    "layout.outside_extent": "a cell far outside the form (rows/columns over the limits)",
    "layout.header_changed": "the column headings were changed or moved",
    "layout.stray_content": "text in a row that is not an indicator row (a note or signature below the table)",
    "layout.formula_in_input": "a formula typed into an input cell",
    # --- which unit, which template
    "unit.unknown": "the reporting unit cannot be identified",
    "unit.not_reporting": "the template's unit is not a reporting unit of the target table",
    "unit.header_changed": "the header's 填报单位 differs from the template's unit",
    "unit.from_header": "no template metadata; the unit was read from the header",
    "template.other_year": "a template of another year",
    "template.outdated": "made from an older target table (rows added, changed or removed since)",
    # --- the reporting month
    "period.invalid": "报送月份 blank or unreadable",
    "period.future": "报送月份 later than the current month",
    "period.current_month": "a report for the current, unfinished month",
    "period.month_unchanged": "values differ from the same month's report while next month's is due",
    # --- rows
    "row.unknown_indicator": "an indicator code not in the target table",
    "row.other_unit": "an indicator reported by another unit",
    "row.unknown_county": "a county name that is not valid",
    "row.county_not_expected": "a county row the target table does not have for this indicator",
    "row.duplicate": "the same indicator and county twice",
    "row.missing": "a row of the template is missing",
    "row.locked_changed": "a locked column was edited",
    # --- 累计完成
    "value.blank": "累计完成 blank",
    "value.not_number": "累计完成 is text that is not a plain number",
    "value.ambiguous_separator": "a comma that is not a correct thousands grouping (3，5 · 12,00 · 1200,5)",
    "value.error_value": "an Excel error value (#DIV/0!, #N/A, ...)",
    "value.percent_format": "a percent-formatted number in a row whose unit is not %",
    "value.negative": "a negative cumulative value",
    "value.impossible": "more than 10× the year target, or a share above 100 %",
    "value.city_total_mismatch": "the 全市 row differs from the sum of the counties",
    "value.over_target": "above 150 % of the year target (a reminder)",
    "value.below_previous": "lower than an earlier month's value",
    "value.above_later": "higher than a later month's value already reported",
    "value.jump": "a month-on-month increase above half the year target",
    # --- 进展状态 and narratives
    "state.invalid": "进展状态 not one of the list",
    "state.missing": "a qualitative indicator without 进展状态",
    "state.done_below_target": "已完成 while the rate is below 100 %",
    "state.not_started_with_value": "未启动 with a non-zero cumulative value",
    "state.lagging_unexplained": "进展状态 滞后 chosen without 存在问题 and 下步计划",
    "progress.behind_unexplained": "the rate is behind 序时进度 without 存在问题 and 下步计划",
    "text.too_long": "a narrative cell longer than Excel's 32,767 characters",
    # --- the store
    "store.demo_present": "the data folder holds demo data; real uploads wait until an admin clears it",
}


# Problems of a target table (lib/targets.py ``parse_targets``, the store's year check), by sheet.
TARGET_CODES: dict[str, str] = {
    "targets.invalid": "a problem without a more specific code",
    "targets.unreadable": "the file is not a workbook calamine can read",
    "targets.sheet_missing": "a required sheet is missing",
    "targets.sheet_empty": "a sheet without even a header row",
    "targets.columns_missing": "required columns missing from a sheet's header",
    "targets.other_year": "a table of another year than the data folder's submissions",
    # 单位
    "targets.unit.name_blank": "a unit without a name",
    "targets.unit.type_invalid": "类型 not one of the unit types",
    "targets.unit.flag_invalid": "是否填报单位 not 是/否",
    "targets.unit.duplicate": "a unit name twice",
    # 项目
    "targets.project.number_invalid": "项目序号 not a positive integer",
    "targets.project.blank": "类别, 项目名称 or 牵头单位 blank",
    "targets.project.unknown_unit": "a lead or assisting unit not in 单位",
    "targets.project.flag_invalid": "县市区承办 not 是/否",
    "targets.project.duplicate": "a project number twice",
    "targets.project.no_indicator": "a project without any indicator",
    # 指标
    "targets.indicator.code_blank": "an indicator without 指标编号",
    "targets.indicator.unknown_project": "项目序号 not in 项目",
    "targets.indicator.name_blank": "指标名称 blank",
    "targets.indicator.type_invalid": "指标类型 not one of the types",
    "targets.indicator.target_invalid": "a quantitative target that is not a number above 0",
    "targets.indicator.unit_blank": "a quantitative indicator without 计量单位",
    "targets.indicator.qualitative_target": "a qualitative indicator with a 年度目标",
    "targets.indicator.basis_invalid": "目标口径 not a known word, or not allowed for the type",
    "targets.indicator.split_flag_invalid": "分解到县 not 是/否, or 是 on a type that is never split",
    "targets.indicator.unknown_unit": "填报单位 not in 单位",
    "targets.indicator.duplicate": "an indicator code twice",
    # 分解
    "targets.split.unknown_indicator": "a split of an indicator not in 指标",
    "targets.split.not_splittable": "a split of a 比率/提高幅度 indicator",
    "targets.split.not_marked": "a split of an indicator whose 分解到县 is 否",
    "targets.split.unknown_county": "a split to a name that is not a county",
    "targets.split.value_invalid": "分解目标 not a number ≥ 0",
    "targets.split.duplicate": "the same indicator and county twice",
    "targets.split.missing": "an indicator marked split with no split rows",
    "targets.split.sum_mismatch": "county targets that do not add up to the 年度目标",
    # 设置, 序时计划, 通报设置
    "targets.setting.out_of_range": "年度, 报送截止日 or a threshold outside its range",
    "targets.setting.thresholds_order": "the severe threshold not above the lag threshold",
    "targets.schedule.unknown_indicator": "a schedule row of an indicator not in 指标",
    "targets.schedule.value_invalid": "a monthly share not a number from 0 to 100",
    "targets.schedule.not_monotonic": "a schedule that falls, or does not end at 100 in December",
    "targets.report.unknown_key": "a 通报设置 key that is not known",
    "targets.report.duplicate_key": "a 通报设置 key twice (other than 下步要求)",
}


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
