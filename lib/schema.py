"""Names shared by every module: sheets, columns, indicator types, statuses.

Defined once here so the target table, the templates, ingestion, the progress
engine and the pages cannot drift apart.
"""

from __future__ import annotations

# --- target table (data/targets.xlsx) ------------------------------------
SHEET_PROJECTS = "项目"
SHEET_INDICATORS = "指标"
SHEET_SPLITS = "分解"
SHEET_UNITS = "单位"
SHEET_SETTINGS = "设置"
SHEET_SCHEDULE = "序时计划"  # optional: per-indicator milestone schedule

PROJECT_COLUMNS = [
    "项目序号",
    "类别",
    "项目名称",
    "实施内容及工作目标",
    "牵头单位",
    "协办单位",
    "县市区承办",
]
INDICATOR_COLUMNS = [
    "指标编号",
    "项目序号",
    "指标名称",
    "计量单位",
    "年度目标",
    "指标类型",
    "分解到县",
    "填报单位",
]
# Optional columns of the 指标 sheet (an older table without them still loads).
COL_QUOTE = "原文"  # the phrase of the document the indicator comes from
COL_BASIS = "目标口径"  # how the document words the target: see TARGET_BASES
COL_SPLIT_RULE = "分解说明"  # the rule a county split follows, shown with the split
SPLIT_COLUMNS = ["指标编号", "县市区", "分解目标", "来源"]
UNIT_COLUMNS = ["单位名称", "类型", "是否填报单位"]
SETTINGS_COLUMNS = ["设置项", "值"]

# Indicator types. Only 累计数量 is ever summed across counties.
TYPE_COUNT = "累计数量"
TYPE_RATE = "比率"
TYPE_INCREASE = "提高幅度"
TYPE_QUALITATIVE = "定性"
INDICATOR_TYPES = [TYPE_COUNT, TYPE_RATE, TYPE_INCREASE, TYPE_QUALITATIVE]
QUANTITATIVE_TYPES = [TYPE_COUNT, TYPE_RATE, TYPE_INCREASE]

# 目标口径: how the document words a numeric target. Blank = the figure itself
# (exact). The status rule (lib/status.py) reads them: 约/左右 count as done
# within a tolerance, floors as done at the figure, a ceiling (不高于, for a
# 比率 level only) is met while the level is at or under it.
BASIS_EXACT = ""
BASIS_ABOUT = "约"
BASIS_AROUND = "左右"
BASIS_ABOVE = "以上"
BASIS_NOT_LESS = "不少于"
BASIS_NOT_LOWER = "不低于"
BASIS_CEILING = "不高于"
# basis -> (written before the figure, written after the figure and its unit)
TARGET_BASES = {
    BASIS_EXACT: ("", ""),
    BASIS_ABOUT: ("约", ""),
    BASIS_AROUND: ("", "左右"),
    BASIS_ABOVE: ("", "以上"),
    BASIS_NOT_LESS: ("不少于", ""),
    BASIS_NOT_LOWER: ("不低于", ""),
    BASIS_CEILING: ("不高于", ""),
}
APPROXIMATE_BASES = (BASIS_ABOUT, BASIS_AROUND)
FLOOR_BASES = (BASIS_ABOVE, BASIS_NOT_LESS, BASIS_NOT_LOWER)


def with_basis(text: str, basis: str) -> str:
    """A formatted target with its 目标口径 words: '650万人' -> '约650万人', '200处' -> '200处以上'."""
    before, after = TARGET_BASES.get(basis or BASIS_EXACT, ("", ""))
    return f"{before}{text}{after}"


UNIT_TYPE_CITY = "市直部门"
UNIT_TYPE_COUNTY = "县市区"
UNIT_TYPE_OTHER = "中央驻济及企业"
UNIT_TYPES = [UNIT_TYPE_CITY, UNIT_TYPE_COUNTY, UNIT_TYPE_OTHER]

# The collective name the document uses for all county-level governments.
ALL_COUNTIES = "各县市区政府（管委会）"
# 县市区 value of a row that is about the whole city, not one county.
CITY = "全市"

SPLIT_SOURCE_DOCUMENT = "文件"
SPLIT_SOURCE_EXAMPLE = "示例"

YES, NO = "是", "否"

# Settings keys (sheet 设置) and their defaults when a key is absent.
SETTING_YEAR = "年度"
SETTING_PERIOD = "报送周期"
SETTING_DEADLINE_DAY = "报送截止日"
SETTING_LAG = "滞后阈值（百分点）"
SETTING_SEVERE = "严重滞后阈值（百分点）"
SETTING_TITLE = "文件"
# The defaults of those settings: the one home of the 10 / 30 point thresholds and the 5th-of-the-month deadline.
DEFAULT_DEADLINE_DAY = 5
DEFAULT_LAG = 10
DEFAULT_SEVERE = 30

# Optional sheet 通报设置 (设置项, 值): what the monthly 督查通报 (lib/report.py) prints around the figures.
# 下步要求 may be given on several rows (one paragraph each); every other key once. Absent keys take these defaults.
SHEET_REPORT = "通报设置"
REPORT_OFFICE = "发文单位"
REPORT_NUMBER_PREFIX = "文号前缀"
REPORT_RECIPIENTS = "主送"
REPORT_CC = "抄送"
REPORT_REQUIREMENTS = "下步要求"
REPORT_DEFAULTS = {
    REPORT_OFFICE: "市政府督查室",
    REPORT_NUMBER_PREFIX: "督通",
    REPORT_RECIPIENTS: "各县市区人民政府（管委会），市政府各部门、单位",
    REPORT_CC: "市委办公室，市人大常委会办公室，市政协办公室",
    REPORT_REQUIREMENTS: (
        "压实工作责任。各牵头单位要对照年度目标和序时进度，逐项梳理滞后指标，明确整改措施和完成时限，确保按期完成。",
        "加快推进滞后项目。对本通报点名的滞后、严重滞后项目，牵头单位要主动协调解决存在问题，下月通报时说明整改进展。",
        "按时准确报送。各填报单位要在每月报送截止日前报送进展数据，确保数据真实准确；逾期或未报送的，将在下期通报中点名。",
    ),
}

# --- statuses: one rule, one colour each, everywhere ----------------------
STATUS_DONE = "已完成"
STATUS_ON_TRACK = "正常推进"
STATUS_LAGGING = "滞后"
STATUS_SEVERE = "严重滞后"
STATUS_MISSING = "未报送"
STATUSES = [STATUS_DONE, STATUS_ON_TRACK, STATUS_LAGGING, STATUS_SEVERE, STATUS_MISSING]
# The palette: every coloured state (statuses, report compliance, ledger items) takes its colour from here.
GREEN, BLUE, ORANGE, RED, GREY = "#1a7f37", "#2f80ed", "#f2a900", "#d1242f", "#8c959f"
STATUS_COLORS = {
    STATUS_DONE: GREEN,
    STATUS_ON_TRACK: BLUE,
    STATUS_LAGGING: ORANGE,
    STATUS_SEVERE: RED,
    STATUS_MISSING: GREY,
}
# The same colours where only Streamlit's named markdown colours can be used (the status chip, ``:green-background[…]``).
STATUS_MARKDOWN_COLORS = {
    STATUS_DONE: "green",
    STATUS_ON_TRACK: "blue",
    STATUS_LAGGING: "orange",
    STATUS_SEVERE: "red",
    STATUS_MISSING: "gray",
}
# Severity order used for "worst status" aggregation.
STATUS_SEVERITY = {
    STATUS_DONE: 0,
    STATUS_ON_TRACK: 1,
    STATUS_LAGGING: 2,
    STATUS_SEVERE: 3,
    STATUS_MISSING: 4,
}

# What a reporting unit may choose in the template's 进展状态 column.
STATE_NOT_STARTED = "未启动"
REPORTED_STATES = [STATUS_DONE, STATUS_ON_TRACK, STATUS_LAGGING, STATE_NOT_STARTED]

# --- template / submission columns ----------------------------------------
TEMPLATE_TITLE = "{year} 年重点民生实事进展情况报表"
SHEET_FORM = "进展填报"
SHEET_GUIDE = "填报说明"
SHEET_META = "_meta"
SHEET_FINDINGS = "校验结果"

FORM_COLUMNS = [
    "指标编号",
    "项目序号",
    "项目名称",
    "指标名称",
    "计量单位",
    "县市区",
    "年度目标",
    "累计完成",
    "完成率",
    "进展状态",
    "进展情况",
    "存在问题",
    "下步计划",
]
LOCKED_FORM_COLUMNS = FORM_COLUMNS[:7]
INPUT_FORM_COLUMNS = ["累计完成", "进展状态", "进展情况", "存在问题", "下步计划"]
NARRATIVE_COLUMNS = ["进展情况", "存在问题", "下步计划"]

# Header block: label cell -> value cell, rows 2..4 of the form sheet.
HEADER_UNIT = "填报单位"
HEADER_MONTH = "报送月份"
HEADER_FILLER = "填报人"
HEADER_PHONE = "联系电话"
HEADER_DATE = "填报日期"
FORM_HEADER_ROW = 6  # the row holding FORM_COLUMNS; data starts below it
FORM_FIRST_DATA_ROW = FORM_HEADER_ROW + 1
# Header block cells: label -> (label cell, value cell). Ingestion reads these.
HEADER_CELLS = {
    HEADER_UNIT: ("A2", "B2"),
    HEADER_MONTH: ("E2", "F2"),
    HEADER_DATE: ("H2", "I2"),
    HEADER_FILLER: ("A3", "B3"),
    HEADER_PHONE: ("E3", "F3"),
}
# The form's column letters (A…M): here, not in lib/template.py, so reading a workbook or the ledger's cell
# references does not import openpyxl (~0.2 CPU s at every server's and command's start).
assert len(FORM_COLUMNS) <= 26
COLUMN_LETTER = {name: chr(ord("A") + i) for i, name in enumerate(FORM_COLUMNS)}

LEVEL_ERROR = "错误"
LEVEL_WARNING = "提醒"
