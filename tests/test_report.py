"""The monthly 督查通报: the .docx read back with python-docx, the PDF through LibreOffice and poppler."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import docx
import pandas as pd
import pytest
from docx.oxml.ns import qn
from openpyxl import load_workbook

from lib import auth, ledger
from lib import progress as P
from lib import report as R
from lib import schema as S
from lib.config import BUNDLED_TARGETS
from lib.formatting import first_sentences, fmt_pct
from lib.store import Store
from lib.targets import TargetTableError, load_targets
from tests.conftest import require_tool
from tests.factory import filled

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SHARES = {"市能源局": 0.25, "市工业和信息化局": 0.1, "市城乡水务局": 0.3}  # June: behind the 50% plan
LATE_UNIT, MISSING_UNIT = "市体育局", "市应急局"
ISSUED = date(2024, 7, 10)


def problem(unit: str) -> str:
    return f"{unit}反映：资金拨付滞后。施工许可尚在办理。第三句不应出现在通报里。"


def plan(unit: str) -> str:
    return f"{unit}将加快推进。七月底前全面开工。第三句计划也不应出现。"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """May: every unit on plan, on time. June: three units behind with their own words, one late, one missing."""
    folder = tmp_path_factory.mktemp("report") / "data"
    store = Store(folder)
    targets = store.targets()
    files = []
    for unit in targets.reporting_units:
        files.append((unit, 5, filled(targets, unit, month="2024-05", share=0.45), datetime(2024, 6, 3, 10)))
        if unit == MISSING_UNIT:
            continue
        share = SHARES.get(unit, 0.55)
        words = {"problems": problem(unit), "plan": plan(unit)} if unit in SHARES else {}
        received = datetime(2024, 7, 8, 9) if unit == LATE_UNIT else datetime(2024, 7, 4, 16)
        files.append((unit, 6, filled(targets, unit, month="2024-06", share=share, **words), received))
    for unit, month, data, received in files:
        outcome = store.ingest(data, f"{unit}-{month}.xlsx", targets=targets, received_at=received)
        assert outcome.stored, outcome.summary()
    return store


@pytest.fixture(scope="module")
def made(store):
    """June's report on the live figures, read back."""
    targets = store.targets()
    report = R.generate(store, 6, "测试", issued=ISSUED, targets=targets)
    return targets, report, docx.Document(io.BytesIO(report.docx))


def blocks(document) -> list:
    """Body paragraphs and tables in document order."""
    return list(document.iter_inner_content())


def section(document, start: str, end: str) -> list:
    """The blocks from the heading ``start`` up to the heading ``end``."""
    items = blocks(document)
    texts = [getattr(b, "text", None) for b in items]
    i = texts.index(start)
    j = next(k for k in range(i + 1, len(items)) if texts[k] is not None and texts[k].startswith(end))
    return items[i + 1:j]


def text_of(items) -> str:
    out = []
    for item in items:
        if hasattr(item, "rows"):
            out += [c.text for row in item.rows for c in row.cells]
        else:
            out.append(item.text)
    return "\n".join(out)


def test_title_names_the_month_range_and_the_unpublished_state(made):
    _targets, report, document = made
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == R.UNPUBLISHED
    heading = next(p for p in paragraphs if p.startswith("关于"))
    assert heading.replace("\n", "") == "关于 2024 年重点民生实事 1—6 月份进展情况的通报"
    assert R.title(2024, 1) == "关于 2024 年重点民生实事 1 月份进展情况的通报"
    assert "督通〔2024〕6号" in paragraphs and "2024年7月10日" in "".join(paragraphs)
    assert report.docx_name == "督查通报-2024-06-未发布.docx"


def test_section_one_counts_equal_lib_progress(made, store):
    targets, report, document = made
    rows = store.current_rows(targets.year)
    projects = P.project_table(targets, rows, 6)
    counts = projects["状态"].value_counts()
    city = P.city_table(targets, rows, 6, projects).iloc[0]
    body = section(document, "一、总体进展", "二、")
    table = next(b for b in body if hasattr(b, "rows"))
    header = [c.text for c in table.rows[0].cells]
    values = [c.text for c in table.rows[1].cells]
    assert header == ["项目总数"] + S.STATUSES
    assert values == [str(len(projects))] + [str(int(counts.get(s, 0))) for s in S.STATUSES]
    assert counts.get(S.STATUS_LAGGING, 0) + counts.get(S.STATUS_SEVERE, 0) >= 3  # the fixture has lagging ones
    text = text_of(body)
    assert f"项目平均完成率 {fmt_pct(city['完成率'])}，序时进度 {fmt_pct(city['序时进度'])}" in text
    changes = P.status_changes(targets, rows, 5, 6)
    newly = changes[changes["变化"] == "新增滞后"]
    assert len(newly) >= 3 and f"新增滞后项目 {len(newly)} 个" in text
    assert all(f"“{name}”" in text for name in newly["项目名称"])
    compliance = P.compliance(targets, store.submissions(), 6)
    june = compliance[compliance["月份"] == 6]["报送情况"].value_counts()
    assert (f"按时报送 {june[P.ON_TIME]} 个，逾期报送 {june[P.LATE]} 个，未报送 {june[P.MISSING]} 个") in text


def test_every_lagging_project_appears_in_section_three_with_its_units_words(made, store):
    targets, _report, document = made
    projects = P.project_table(targets, store.current_rows(targets.year), 6)
    behind = projects[projects["状态"].isin([S.STATUS_LAGGING, S.STATUS_SEVERE])]
    text = text_of(section(document, "三、滞后项目", "四、"))
    paragraphs = text.split("\n")
    fillers = targets.indicators.groupby("项目序号")["填报单位"].agg(set)
    assert len(behind) >= 3
    for rec in behind.itertuples(index=False):
        start = next(i for i, p in enumerate(paragraphs) if rec.项目名称 in p and f"【{rec.状态}】" in p)
        assert f"牵头单位：{rec.牵头单位}" in paragraphs[start]
        block = "\n".join(paragraphs[start:start + 3])
        writers = [u for u in fillers[rec.项目序号] if u in SHARES]
        assert any(f"“{first_sentences(problem(u))}”" in block and f"“{first_sentences(plan(u))}”" in block
                   for u in writers), block
    assert "第三句" not in text  # trimmed to two sentences, never the whole narrative
    assert first_sentences(problem("市能源局")) == "市能源局反映：资金拨付滞后。施工许可尚在办理。"


def test_section_five_names_the_late_and_missing_units_of_the_compliance_table(made, store):
    targets, _report, document = made
    compliance = P.compliance(targets, store.submissions(), 6)
    june = compliance[compliance["月份"] == 6]
    late = june.loc[june["报送情况"] == P.LATE, "填报单位"].tolist()
    missing = june.loc[june["报送情况"] == P.MISSING, "填报单位"].tolist()
    assert late == [LATE_UNIT] and missing == [MISSING_UNIT]
    body = section(document, "六、报送情况", "七、")
    text = text_of(body)
    assert f"逾期报送 {len(late)} 个：{'、'.join(late)}。" in text
    assert f"未报送 {len(missing)} 个：{'、'.join(missing)}" in text
    table = next(b for b in body if hasattr(b, "rows"))
    listed = {row.cells[1].text: row.cells[2].text for row in table.rows[1:]}
    assert listed == {**{u: P.LATE for u in late}, **{u: P.MISSING for u in missing}}


def test_appendix_has_every_project_and_repeats_its_header(made, store):
    targets, _report, document = made
    appendix = document.tables[-1]
    assert [c.text for c in appendix.rows[0].cells] == ["序号", "项目", "牵头单位", "完成率", "序时进度", "差距", "状态"]
    assert len(appendix.rows) - 1 == len(targets.projects) == 30
    assert appendix.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    assert all(r._tr.trPr.find(qn("w:tblHeader")) is None for r in appendix.rows[1:])
    projects = P.project_table(targets, store.current_rows(targets.year), 6).set_index("项目序号")
    for row in appendix.rows[1:]:
        number = int(row.cells[0].text)
        assert row.cells[1].text == projects.at[number, "项目名称"]
        assert row.cells[3].text == fmt_pct(projects.at[number, "完成率"])
        assert row.cells[6].text == projects.at[number, "状态"]


def test_document_layout_images_fonts_and_properties(made):
    targets, report, document = made
    assert len(document.inline_shapes) >= 2
    section_ = document.sections[0]
    assert (round(section_.page_width.mm), round(section_.page_height.mm)) == (210, 297)
    footer = section_.footer.paragraphs[0]._p.xml
    assert "PAGE" in footer and "— " in footer
    fonts = document.part.part_related_by(
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/fontTable").blob.decode("utf-8")
    for name, (fallback, _free) in R.FONT_FALLBACKS.items():
        assert f'w:name="{name}"' in fonts and f'w:val="{fallback}"' in fonts
    props = document.core_properties
    assert props.identifier == f"sha256:{report.figures.content_hash}" and len(report.figures.content_hash) == 64
    assert props.content_status == R.UNPUBLISHED and props.subject == "2024-06"
    headings = [p.text for p in document.paragraphs if re.match("^[一二三四五六七八九十]、", p.text)]
    assert headings == ["一、总体进展", "二、分类进展", "三、滞后项目", "四、逾期督办事项", "五、县市区进展", "六、报送情况",
                        "七、下步工作要求"]
    requirements = targets.report_settings[S.REPORT_REQUIREMENTS]
    text = "\n".join(p.text for p in document.paragraphs)
    assert all(r.partition("。")[2] in text for r in requirements)
    assert f"抄送：{targets.report_settings[S.REPORT_CC]}。" in text


def test_county_section_ranks_every_county(made, store):
    targets, _report, document = made
    counties = P.county_table(targets, store.current_rows(targets.year), 6)
    table = next(b for b in section(document, "五、县市区进展", "六、") if hasattr(b, "rows"))
    ranked = [(row.cells[1].text, row.cells[2].text) for row in table.rows[1:]]
    assert len(ranked) == len(targets.counties) == 14
    expected = counties.sort_values("完成率", ascending=False, kind="stable")
    assert [r[1] for r in ranked] == [fmt_pct(v) for v in expected["完成率"]]


def test_without_overdue_items_the_overdue_section_is_one_sentence(made):
    _targets, _report, document = made
    body = section(document, "四、逾期督办事项", "五、")
    assert [getattr(b, "text", None) for b in body] == [
        "截至 7 月 10 日（通报印发日），问题督办台账中没有超过办结时限仍未办结的事项。"]


def test_an_overdue_ledger_item_is_listed_and_a_closed_one_is_not(tmp_path):
    store = Store(tmp_path / "data")
    targets = store.targets()
    unit = "市能源局"
    words = "燃气管网改造资金未到位。施工许可尚在办理。第三句不应出现在通报里。"
    outcome = store.ingest(filled(targets, unit, month="2024-06", share=0.3, problems=words, plan="加快推进。"),
                           f"{unit}-6.xlsx", targets=targets, received_at=datetime(2024, 7, 4, 16))
    assert outcome.stored, outcome.summary()
    assert ledger.sync(store, targets).new_items >= 2
    analyst = ledger.Actor("李科员", auth.ANALYST)
    late, closed, *candidates = ledger.items(store, targets)["编号"].tolist()
    assert ledger.confirm(store, [late, closed], analyst, due=date(2024, 6, 30), today=date(2024, 6, 20)) == 2
    ledger.set_status(store, closed, ledger.DONE, analyst, today=date(2024, 7, 5))
    document = docx.Document(io.BytesIO(R.generate(store, 6, "测试", issued=ISSUED, targets=targets).docx))
    body = section(document, "四、逾期督办事项", "五、")
    assert body[0].text.startswith("截至 7 月 10 日（通报印发日），") and "仍未办结的事项 1 件" in body[0].text
    table = next(b for b in body if hasattr(b, "rows"))
    item = ledger.items(store, targets, ISSUED).set_index("编号").loc[late]
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["序号", "项目", "问题描述", "责任单位", "办结时限", "逾期天数"],
        ["1", item["项目名称"] + (f"（{item['县市区']}）" if item["县市区"] not in ("", S.CITY) else ""),
         "燃气管网改造资金未到位。施工许可尚在办理。", unit, "2024-06-30", "10"]]
    assert item["责任单位"] == unit and candidates  # unconfirmed candidates are never overdue, never listed


def test_every_generation_is_audited(store):
    before = len(store.audit_log())
    R.generate(store, 6, "审计测试", issued=ISSUED)
    log = store.audit_log()
    assert len(log) == before + 1
    entry = log.iloc[0]
    assert entry["操作人"] == "审计测试" and entry["操作"] == R.AUDIT_ACTION and "2024-06" in entry["详情"]


def test_a_month_without_data_is_refused(store, tmp_path):
    with pytest.raises(R.ReportError, match="没有任何已接收的报表"):
        R.figures_for(Store(tmp_path / "empty"), store.targets(), 6)
    with pytest.raises(R.ReportError, match="4 月及以前没有任何已接收的报表"):
        R.figures_for(store, store.targets(), 4)  # the fixture starts in May


def test_asking_for_a_revision_that_was_not_published_is_refused(store):
    with pytest.raises(R.ReportError, match="没有修订 3"):
        R.figures_for(store, store.targets(), 6, revision=3)


def test_cli_writes_the_files_and_fails_clearly_without_data(store, tmp_path, monkeypatch, capsys):
    """The command itself in its own process once; its refusals through ``main`` in this process (the same code,
    the data folder from the environment as the command reads it), without two more interpreter starts."""
    env = {**os.environ, "LIVELIHOOD_DATA_DIR": str(store.folder)}
    out = subprocess.run(["python", "-m", "lib.report", "--month", "2024-06", "--out", str(tmp_path)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    written = tmp_path / "督查通报-2024-06-未发布.docx"
    assert written.exists() and docx.Document(str(written)).core_properties.subject == "2024-06"
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("LIVELIHOOD_DATABASE_URL", raising=False)
    capsys.readouterr()
    assert R.main(["--month", "2024-06", "--out", str(tmp_path)]) == 1
    assert "没有任何已接收的报表" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        R.main(["--month", "2023-06"])
    assert refused.value.code == 2 and "2024-01 至 2024-12" in capsys.readouterr().err


def test_report_settings_sheet_is_read_and_checked(tmp_path):
    wb = load_workbook(BUNDLED_TARGETS)
    sheet = wb.create_sheet(S.SHEET_REPORT)
    sheet.append(["设置项", "值"])
    sheet.append([S.REPORT_OFFICE, "济宁市人民政府督查室"])
    sheet.append([S.REPORT_REQUIREMENTS, "第一条要求。内容一。"])
    sheet.append([S.REPORT_REQUIREMENTS, "第二条要求。内容二。\n第三条要求。内容三。"])
    sheet.append([S.REPORT_CC, ""])  # blank: keeps the default
    path = tmp_path / "targets.xlsx"
    wb.save(path)
    settings = load_targets(path).report_settings
    assert settings[S.REPORT_OFFICE] == "济宁市人民政府督查室"
    assert settings[S.REPORT_REQUIREMENTS] == ("第一条要求。内容一。", "第二条要求。内容二。", "第三条要求。内容三。")
    assert settings[S.REPORT_CC] == S.REPORT_DEFAULTS[S.REPORT_CC]
    assert load_targets(BUNDLED_TARGETS).report_settings == S.REPORT_DEFAULTS  # the bundled table has no sheet
    sheet.append(["发文机关", "x"])
    sheet.append([S.REPORT_OFFICE, "重复"])
    wb.save(path)
    with pytest.raises(TargetTableError) as caught:
        load_targets(path)
    messages = [str(p) for p in caught.value.problems]
    assert messages == [f"工作表“通报设置”第 6 行“设置项”列：“发文机关”不是通报设置项，应为 {'、'.join(S.REPORT_DEFAULTS)} 之一。",
                        "工作表“通报设置”第 7 行“设置项”列：“发文单位”重复出现，请只保留一行。"]


def test_report_settings_reach_the_document(store):
    targets = store.targets()
    custom = dataclasses.replace(targets, report={
        S.REPORT_OFFICE: "济宁市人民政府督查室", S.REPORT_NUMBER_PREFIX: "济督通",
        S.REPORT_REQUIREMENTS: ("抓好整改。整改要求原文。",)})
    figures = dataclasses.replace(R.figures_for(store, targets, 6), targets=custom)
    document = docx.Document(io.BytesIO(R.build_docx(figures, ISSUED)))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "济督通〔2024〕6号" in text and "（一）抓好整改。整改要求原文。" in text
    assert document.core_properties.author == "济宁市人民政府督查室"


def test_live_figures_are_the_engines_tables(store):
    targets = store.targets()
    rows = store.current_rows(targets.year)
    figures = R.live_figures(targets, rows, store.submissions(), 6)
    pd.testing.assert_frame_equal(figures.projects, P.project_table(targets, rows, 6))
    pd.testing.assert_frame_equal(figures.previous, P.project_table(targets, rows, 5))
    pd.testing.assert_frame_equal(figures.counties, P.county_table(targets, rows, 6))
    assert R.live_figures(targets, rows, store.submissions(), 1).previous is None


@pytest.fixture(scope="module")
def pdf(made):
    require_tool("soffice")
    return R.to_pdf(made[1].docx)


def test_pdf_has_numbered_pages_and_renders_without_missing_glyphs(made, pdf, tmp_path):
    require_tool("pdftoppm")
    require_tool("pdftotext")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 5 <= pages <= 12, pages
    for page in range(1, pages + 1):  # every page carries its own number: no page lost or added
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(path), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert re.search(rf"—\s*{page}\s*—", text), (page, text[-200:])
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(path), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "督查通报" in first.replace(" ", "") and "1—6 月份" in first and R.UNPUBLISHED in first
    last = subprocess.run(["pdftotext", "-f", str(pages), "-l", str(pages), str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "抄送" in last
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts and all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # all embedded
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True)
    png = next(tmp_path.glob("page*.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "report-page-1.png")  # looked at by a person; see docs/screenshot-report-*.png
    assert png.stat().st_size > 20_000


@pytest.fixture()
def published_store(store, tmp_path):
    """A private copy of the fixture store with June published (revision 0)."""
    from lib import publish

    folder = tmp_path / "data"
    shutil.copytree(store.folder, folder)
    copy = Store(folder)
    publication = publish.publish(copy, 2024, 6, "发布员")
    return copy, publication


def test_a_published_month_is_reported_from_its_publication(published_store):
    from lib import publish

    store, publication = published_store
    targets = store.targets()
    report = R.generate(store, 6, "测试", issued=ISSUED)
    document = docx.Document(io.BytesIO(report.docx))
    text = "\n".join(p.text for p in document.paragraphs)
    assert R.UNPUBLISHED not in text and publication.label() in text
    assert document.core_properties.identifier == f"sha256:{publication.content_hash}"
    assert document.core_properties.content_status == "已发布" and document.core_properties.version == "修订 0"
    assert report.docx_name == "督查通报-2024-06-修订0.docx"
    # A late correction after publication changes the live figures, never the published report's.
    unit = "市能源局"
    late = filled(targets, unit, month="2024-06", share=0.9, problems="已整改。", plan="按计划。")
    assert store.ingest(late, "late.xlsx", targets=targets, received_at=datetime(2024, 7, 20)).stored
    again = docx.Document(io.BytesIO(R.generate(store, 6, "测试", issued=ISSUED).docx))
    assert [c.text for r in again.tables[-1].rows for c in r.cells] == \
        [c.text for r in document.tables[-1].rows for c in r.cells]
    live = docx.Document(io.BytesIO(R.generate(store, 6, "测试", live=True, issued=ISSUED).docx))
    assert [c.text for r in live.tables[-1].rows for c in r.cells] != \
        [c.text for r in document.tables[-1].rows for c in r.cells]
    # A second revision is the default; revision 0 stays reachable and keeps its own hash.
    second = publish.publish(store, 2024, 6, "发布员", reason="补录市能源局更正")
    assert R.figures_for(store, targets, 6).content_hash == second.content_hash
    first = R.generate(store, 6, "测试", revision=0, issued=ISSUED)
    assert docx.Document(io.BytesIO(first.docx)).core_properties.identifier == f"sha256:{publication.content_hash}"
    assert [p.revision for p in R.revisions(store, 2024, 6)] == [0, 1]


def test_report_page_follows_the_sidebars_published_revision(published_store, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    store, publication = published_store
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(store.folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["month"] = "6"
    at.run()
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(c.value == f"数据：{publication.label()} · 校验码 sha256:{publication.content_hash[:16]}"
               for c in at.caption)  # the sidebar defaults to the month's latest revision
    at.checkbox(key="report_want_pdf").uncheck().run()
    at.button(key="report_generate").click().run()
    made = at.session_state["report_made"][2]
    assert made.figures.content_hash == publication.content_hash and made.docx_name.endswith("修订0.docx")
    at.radio(key="f_source").set_value("实时").run()
    assert any(c.value.startswith("数据：实时数据 · 未发布") for c in at.caption)


def test_a_viewer_downloads_the_published_document_but_generates_nothing_live(published_store, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from lib import auth
    from tests.test_pages import APP

    store, publication = published_store
    monkeypatch.setenv("LIVELIHOOD_DATA_DIR", str(store.folder))
    viewer = auth.User("leader", "王局长", auth.VIEWER)
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {"demo_mode": False, "users": {"leader": {
        "name": viewer.name, "role": auth.VIEWER, "password_hash": auth.hash_password("correct-horse-9")}}}
    at.session_state["auth_user"] = viewer
    at.query_params["month"] = "6"
    at.run()
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not [b for b in at.button if b.key == "report_generate"]
    assert {b.key for b in at.get("download_button")} >= {"report_docx"}
    at.radio(key="f_source").set_value("实时").run()
    assert any("已发布，请在侧栏" in i.body for i in at.info) and not at.get("download_button")
