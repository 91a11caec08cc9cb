"""Every commitment of the document is an indicator; the builder and the workbook agree; 目标口径 as written."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from lib import schema as S
from lib.config import BUNDLED_TARGETS
from lib.targets import parse_targets
from tests.conftest import DOCUMENT

ROOT = Path(__file__).resolve().parent.parent
DOC = re.sub(r"\s+", "", DOCUMENT.read_text(encoding="utf-8"))
ANNEX = DOC[DOC.index("2024年市政府“重点民生实事”汇总表序号"):DOC.index("抄送：")]

# A commitment marker: a figure (with whatever follows it), or a verb of delivery.
FIGURE = r"\d+(?:\.(?=\d+(?![\d年]))\d+)?万?"  # 6.1万, 3.5; "1.2024年" is item 1 and a year
VERBS = ["建成", "建设", "建立", "新建", "打造", "搭建", "推广", "推行", "开放", "创建", "实现", "开展", "完成", "新增",
         "改造", "安装", "提供", "实施"]
MARKER = re.compile(rf"{FIGURE}|{'|'.join(VERBS)}")

# Figures that are not quantities, by what follows (or precedes) them.
NOT_QUANTITIES = {
    r"^\d+年": "a year (2024年, 2023年以来)",
    r"^\d+—三体": "the names of the trisomies screened (21/18/13—三体综合征), not quantities",
    r"^5G": "the name of the network technology",
    r"^\d\.(?!\d)|^\d\.\d{4}年": "the numbering of a project's list items (1. 2. 3.)",
}

# Annex text that carries a marker but no commitment of its own, with the reason.
EXCEPTIONS = {
    "序号项目名称实施内容及工作目标承办单位": "the table's header row, repeated on every page",
    "未实现5G网络信号深度覆盖的问题": "the problem the 5G indicators (P14-1, P14-2) solve, not a further deliverable",
    "全力保障乡镇卫生院和村卫生室建设": "sums up project 17's two counted indicators (P17-1 次中心, P17-2 卫生室)",
    "发挥国家区域医疗中心建设项目辐射作用": "names an existing national project the city draws on; not built by the city",
    "确保建成的农村饮水安全工程": "existing stock: the water works already built, which P27's repairs keep working",
    "开展“万部电梯深度抽检”专项行动": "names the campaign; its deliverable is P29-1 (深度抽检不低于10000台)",
    "全市现有乘客电梯49895台": "existing stock: the elevators the city has, not a number to deliver",
    "实现电梯安全管理水平和电梯维保质量水平双提升": "the campaign's aim, not separately measurable; P29-1 measures the campaign",
    "在全省统一实施方案基础上": "实施方案 is the province's scheme the insurance follows, not a deliverable",
}


def _spans(texts) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for t in texts if t for m in re.finditer(re.escape(t), ANNEX)]


def _inside(span, spans) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in spans)


def _not_content(targets) -> list[tuple[int, int]]:
    """Annex text that is not a project's 实施内容及工作目标: headings, project names, unit lists."""
    names = [f"{n}{name}" for n, name in zip(targets.projects["项目序号"], targets.projects["项目名称"])]
    headings = re.findall(r"[一二三四五六七八九十]+、\S+?方面", ANNEX)
    units = list(targets.units["单位名称"]) + ["（黑体字为牵头单位，下同）"]
    return _spans(names + headings + units + ["2024年市政府“重点民生实事”汇总表"])


def _quoted_split_rules(targets) -> list[str]:
    """Document text quoted in the 分解说明 column (文件：“…”): the split rules of P26-1 and P12-5."""
    return [q for rule in targets.indicators[S.COL_SPLIT_RULE] for q in re.findall(r"文件：“(.+?)”", rule)]


def uncovered(targets) -> list[str]:
    """Commitment markers of the annex that no indicator's 原文 (or quoted split rule) covers."""
    covered = _spans(list(targets.indicators[S.COL_QUOTE]) + _quoted_split_rules(targets))
    skip = _not_content(targets) + _spans(EXCEPTIONS)
    missing = []
    for m in MARKER.finditer(ANNEX):
        span = m.span()
        rest = ANNEX[span[0]:span[0] + 8]
        if any(re.match(p, rest) for p in NOT_QUANTITIES):
            continue
        if _inside(span, covered) or _inside(span, skip):
            continue
        missing.append(f"“{m.group()}” in …{ANNEX[max(0, span[0] - 20):span[1] + 20]}…")
    return missing


def test_every_commitment_of_the_annex_has_an_indicator(targets):
    assert uncovered(targets) == []


def test_the_walk_finds_a_commitment_without_an_indicator(targets):
    """Drop the 15-minute fitness circle and the walk must notice."""
    code = targets.indicators.loc[targets.indicators[S.COL_QUOTE] == "打造“15分钟健身圈”", "指标编号"].item()
    wb = load_workbook(BUNDLED_TARGETS)
    ws = wb[S.SHEET_INDICATORS]
    for row in range(ws.max_row, 1, -1):
        if ws.cell(row=row, column=1).value == code:
            ws.delete_rows(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    without, problems = parse_targets(buffer.getvalue())
    assert problems == []
    missing = uncovered(without)
    assert any("15分钟" in m for m in missing) and any("打造" in m for m in missing), missing


def test_every_exception_is_in_the_annex_and_carries_a_marker():
    for text, reason in EXCEPTIONS.items():
        assert text in ANNEX, text
        assert MARKER.search(text), text
        assert reason


def test_split_rules_quote_the_document(targets):
    quoted = _quoted_split_rules(targets)
    assert len(quoted) == 2
    for q in quoted:
        assert q in DOC, q


@pytest.mark.parametrize(("quote", "kind", "unit", "target"), [
    # Project 30: the premium, the range and the raised limits (limits in 元, 万 expanded).
    ("继续按照每人2元、每户2元的标准，为全市居民购买政府灾害民生综合保险", S.TYPE_QUALITATIVE, "", None),
    ("保障范围由6类增加至12类", S.TYPE_RATE, "类", 12),
    ("居民人身伤亡救助金限额由每人15万元提高至20万元", S.TYPE_RATE, "元", 200000),
    ("包括每人医疗费用限额10万元", S.TYPE_RATE, "元", 100000),
    ("居民倒损房屋救助金限额由每户5万元提高至10万元", S.TYPE_RATE, "元", 100000),
    ("救助金限额由每人25万元提高至30万元", S.TYPE_RATE, "元", 300000),
    ("包括每人医疗费用限额15万元", S.TYPE_RATE, "元", 150000),
    # Project 18.
    ("打造市级高血压专病医（共）联体和区域高血压防治中心", S.TYPE_QUALITATIVE, "", None),
    ("建立“济宁样板”高血压健康管理数据库", S.TYPE_QUALITATIVE, "", None),
    ("打造“儒医”中医药便民服务平台", S.TYPE_QUALITATIVE, "", None),
    ("加强“县乡村”三级专业技术人员培训", S.TYPE_QUALITATIVE, "", None),
    ("引领县级中医院建立中西医高血压诊疗中心", S.TYPE_QUALITATIVE, "", None),
    ("支持乡镇卫生院（社区卫生服务中心）建立中医药干预高血压基层工作站", S.TYPE_QUALITATIVE, "", None),
    # Project 6.
    ("鼓励有条件的单位托育机构向附近居民开放", S.TYPE_QUALITATIVE, "", None),
    ("支持托育机构推行临时托、小时托等服务模式", S.TYPE_QUALITATIVE, "", None),
    ("确保家庭托育支出不高于全省平均", S.TYPE_RATE, "%", 100),
    # Project 13.
    ("试点社区“两委”成员与物业服务项目负责人“双向进入、交叉任职”", S.TYPE_QUALITATIVE, "", None),
    ("将交叉任职人员、业主委员会成员等信息向小区居民公示", S.TYPE_QUALITATIVE, "", None),
    ("加大对县（市、区）物业主管部门、监管部门和街道社区物业管理部门、业委会（物管会）的业务培训", S.TYPE_QUALITATIVE, "", None),
    # Project 26.
    ("打造“15分钟健身圈”", S.TYPE_QUALITATIVE, "", None),
])
def test_the_commitments_issue_22_found_untracked(targets, quote, kind, unit, target):
    ind = targets.indicators
    row = ind[ind[S.COL_QUOTE] == quote]
    assert len(row) == 1, quote
    row = row.iloc[0]
    assert (row["指标类型"], row["计量单位"]) == (kind, unit)
    assert (None if kind == S.TYPE_QUALITATIVE else float(row["年度目标"])) == target
    lead = targets.projects.set_index("项目序号").at[row["项目序号"], "牵头单位"]
    assert row["填报单位"] == lead  # the project's lead unit reports it, so it is in that unit's template
    assert row["指标编号"] in set(targets.expected_rows(lead)["指标编号"])


# --- 目标口径 -------------------------------------------------------------------

WRITTEN_BASES = {  # as the document words each target; every other numeric target is exact
    "P04-1": "以上", "P04-2": "以上", "P06-2": "以上", "P06-3": "以上", "P06-9": "不高于", "P07-1": "以上",
    "P08-1": "以上", "P09-2": "以上", "P14-1": "以上", "P14-2": "以上", "P15-1": "不少于", "P19-1": "约",
    "P20-1": "以上", "P26-3": "左右", "P29-1": "不低于",
}


def test_target_basis_is_as_the_document_words_it(targets):
    ind = targets.indicators.set_index("指标编号")
    for code, rec in ind.iterrows():
        basis = rec[S.COL_BASIS]
        assert basis == WRITTEN_BASES.get(code, ""), code
        if basis:
            assert basis in rec[S.COL_QUOTE], code
    assert (ind.loc[ind["指标类型"] == S.TYPE_QUALITATIVE, S.COL_BASIS] == "").all()


def test_p12_5_example_split_follows_the_documents_rule(targets):
    ind = targets.indicators.set_index("指标编号")
    assert ind.at["P12-5", S.COL_QUOTE] == "全市建成示范站12个"
    rule = ind.at["P12-5", S.COL_SPLIT_RULE]
    main_city = ["任城区", "济宁高新区", "太白湖新区", "济宁经济技术开发区"]
    assert "主城区2—3个" in rule and "至少1个" in rule and all(c in rule for c in main_city)
    split = targets.splits[targets.splits["指标编号"] == "P12-5"].set_index("县市区")["分解目标"]
    assert split.sum() == 12
    assert 2 <= split[main_city].sum() <= 3
    others = split.drop(index=main_city)
    assert len(others) == 10 and (others >= 1).all()
    # Every split indicator says where its split comes from.
    assert (ind.loc[ind["分解到县"] == S.YES, S.COL_SPLIT_RULE] != "").all()
    assert (ind.loc[ind["分解到县"] == S.NO, S.COL_SPLIT_RULE] == "").all()


# --- the builder and the workbook ------------------------------------------------

def _sheets(path) -> dict[str, list[tuple]]:
    wb = load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb}


def test_builder_regenerates_the_bundled_workbook(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_targets_2024
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    out = tmp_path / "targets.xlsx"
    build_targets_2024.write_workbook(out)
    built, bundled = _sheets(out), _sheets(BUNDLED_TARGETS)
    assert list(built) == list(bundled)
    for sheet in built:
        assert built[sheet] == bundled[sheet], sheet
