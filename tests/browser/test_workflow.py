"""The monthly workflow in a real headless Chromium against `streamlit run app.py`.

Download a template, fill it, upload it, accept it, see the overview change,
filter, export CSV and check its bytes; upload a broken workbook and see the
cell. Screenshots of the pages it passes go to test-artifacts/ (and to docs/ with
UPDATE_SCREENSHOTS=1). Every page at two sizes, and on those pages the county map's
11 polygons drawn with no network, the heatmaps' labels and the CJK font, is
tests/browser/test_every_page.py (the pages are on screen there already).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from lib import progress as P
from lib.store import Store
from lib.template import fill_template
from tests.browser import live
from tests.browser.live import enter, open_path, visit
from tests.factory import entries_for, row_of

UNIT = "市民政局"
DOC_SHOTS = {"overview", "upload-rejected"}  # the ones README shows


def shot(page, name: str):
    live.shot(page, name, docs=name in DOC_SHOTS)


def upload(page, path: Path):
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))


def test_monthly_workflow(page, server, targets, tmp_path):
    url, folder = server
    # 0. the first request after the server starts lands on a page URL (a shared link): the app's own
    #    navigation (Chinese titles, per role) must take over, not Streamlit's pages/-folder listing.
    open_path(page, server, "county")
    assert page.locator("h1").first.inner_text().startswith("县区进展")
    page.get_by_role("link", name="总览").wait_for(timeout=120_000)
    assert page.get_by_role("link", name="targets").count() == 0
    # 1. the overview before: June is the latest month (from here on page to page in this signed-in session)
    visit(page, server, "", still_drawn=True)
    assert "截至 2024 年 6 月" in page.locator("h1").first.inner_text()
    shot(page, "overview-before")

    # 2. download the unit's template from the upload page
    visit(page, server, "upload", still_drawn=True)  # shot() waited for it
    with page.expect_download() as download:
        page.get_by_role("button", name="下载该单位模板").click()
    template = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == f"{UNIT}.xlsx"

    # 3. fill it as a clerk would and upload it
    filled_path = tmp_path / f"{UNIT}7月.xlsx"
    filled_path.write_bytes(fill_template(template, "2024-07", entries_for(targets, UNIT, share=0.6, problems="无",
                                                                                  plan="按计划推进")))
    upload(page, filled_path)
    page.get_by_text("可接收").first.wait_for(timeout=60_000)
    shot(page, "upload-checked")
    page.get_by_role("button", name="确认接收 1 个文件").click()
    page.get_by_text("已入库").first.wait_for(timeout=60_000)
    assert len(Store(folder).submissions().query("month == 7")) == 1

    # 4. one early report does not move the default month; July shows one unit's report received
    visit(page, server, "")
    assert "截至 2024 年 6 月" in page.locator("h1").first.inner_text()
    open_path(page, server, "?month=7")  # a link to July (a new session: only the query differs from the page shown)
    assert "截至 2024 年 7 月" in page.locator("h1").first.inner_text()
    page.get_by_text(f"1 / {len(targets.reporting_units)} 个单位").wait_for(timeout=120_000)  # a loaded CI machine
    shot(page, "overview")

    # 5. filter by a category in the sidebar, then export the detail table as CSV
    visit(page, server, "export?month=7", still_drawn=True)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stMultiSelect']").first.click()
    page.keyboard.type("老年人保障")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_url("**category=*", timeout=30_000)
    shot(page, "export")  # once the filtered run has finished and drawn
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 CSV（Excel/WPS 可直接打开）").click()
    data = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == "进展明细_2024-07_类别-老年人保障.csv"
    assert data.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(frame.columns)[:4] == ["指标编号", "指标名称", "县市区", "计量单位"]  # units included
    store = Store(folder)
    expected = P.detail(store.targets(), store.current_rows(), 7)
    expected = expected[expected["类别"] == "老年人保障"]
    assert len(frame) == len(expected) and set(frame["指标名称"]) == set(expected["指标名称"])
    assert "完成率（%）" in frame.columns and frame["完成率（%）"].round(1).equals(frame["完成率（%）"])


def test_broken_workbook_shows_the_cell(page, server, targets, tmp_path):
    enter(page, server, "upload")  # in the clerk's session the workflow left on screen, or a new one
    with page.expect_download() as download:
        page.get_by_role("button", name="下载该单位模板").click()
    entries = entries_for(targets, UNIT, share=0.5)
    entries[("P01-1", "任城区")]["累计完成"] = "约300"
    bad = tmp_path / "坏表.xlsx"
    bad.write_bytes(fill_template(Path(download.value.path()).read_bytes(), "2024-08", entries))
    upload(page, bad)
    page.get_by_text("退回").first.wait_for(timeout=60_000)
    table_text = page.locator("[data-testid='stExpander']").filter(has_text="坏表.xlsx").inner_text()
    assert "退回" in table_text
    grid = page.locator("[data-testid='stExpander']").filter(has_text="坏表.xlsx").locator("[data-testid='stTable']")
    grid.wait_for(timeout=30_000)  # open, and the messages whole (a static table wraps instead of cutting)
    assert "约300" in grid.inner_text()
    cell = f"H{row_of(targets, UNIT, 'P01-1', '任城区')}"  # the cell the clerk must fix, named on the page
    assert cell in grid.locator("tr", has_text="约300").first.inner_text()
    error_cell = grid.locator("td", has_text="错误").first
    assert error_cell.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"  # coloured
    shot(page, "upload-rejected")
    assert page.get_by_role("button", name="下载标注版（退回填报单位）").count() >= 1
    assert len(Store(server[1]).submissions().query("month == 8")) == 0
