"""督办台账 in a real headless Chromium against `streamlit run app.py`: an analyst records a problem found on site
(with a photo), adds a follow-up and closes it; screenshots of the page at 1366×768 and 390×844
(to docs/ with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lib import ledger
from lib.auth import ANALYST
from lib.store import Store
from tests.browser.live import open_path, settled, shot, toast

DESCRIPTION = "体育公园南门围挡破损，夜间无照明，存在安全隐患"
FOLLOW_UP = "已约谈施工单位，承诺三日内修复并加装警示灯"


@pytest.fixture(scope="module")
def seeded(server):
    store = Store(server[1])
    targets = store.targets()
    ledger.sync(store, targets)
    # Some confirmed items, two of them past their deadline, so the page shows what the office sees mid-year.
    items = ledger.items(store, targets)
    ids = items.loc[items["项目序号"] == 9, "编号"].tolist()
    actor = ledger.Actor("李科员", ANALYST)
    ledger.confirm(store, ids[:2], actor, due=date.today() - timedelta(days=6))
    ledger.confirm(store, ids[2:6], actor, due=date.today() + timedelta(days=20))


def save_shot(page, name: str) -> None:
    shot(page, name, docs=True)


def table_drawn(page) -> None:
    """The data grid draws on a canvas: wait for it, and for its cells' accessible copies."""
    page.locator("[data-testid='stDataFrame'] canvas").first.wait_for(timeout=60_000)
    page.locator("[data-testid='stDataFrame'] [role='gridcell']").first.wait_for(state="attached", timeout=60_000)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select labelled ``label``. A click that lands while a rerun redraws the select leaves
    its list closed: open it again (up to three times) rather than wait on a list that is not there."""
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label).locator("input")
    for attempt in range(3):
        box.click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            settled(page)


def test_create_follow_up_and_close_an_item(page, server, seeded, tmp_path):
    url, folder = server
    open_path(page, server, "ledger")
    assert page.locator("h1").first.inner_text().startswith("督办台账")
    page.get_by_text("逾期未办结").first.wait_for(timeout=30_000)
    table_drawn(page)
    save_shot(page, "ledger")

    # 1. an analyst records what an on-site inspection found, with a photo
    photo = tmp_path / "现场.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "orange").save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())
    form = page.locator("[data-testid='stExpander']").filter(has_text="新增督办事项")
    form.locator("summary").click()
    form.get_by_label("督导地点 / 会议名称").fill("任城区现场督导")
    form.get_by_label("问题描述").fill(DESCRIPTION)
    form.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
    form.get_by_text("现场.jpg").wait_for(timeout=30_000)
    settled(page)  # the file is on the server before the form is saved
    form.get_by_role("button", name="保存事项").click()
    toast(page, "已新增督办事项")
    store = Store(folder)
    items = ledger.items(store, store.targets())
    created = items[items["问题描述"] == DESCRIPTION]
    assert len(created) == 1
    item_id = int(created["编号"].iloc[0])
    assert created["状态"].iloc[0] == ledger.TODO and created["来源"].iloc[0] == ledger.SOURCE_INSPECTION
    assert len(ledger.photos(store, item_id)) == 1
    page.get_by_text(f"事项 {item_id}").first.wait_for(timeout=30_000)  # the new item is the one shown
    page.get_by_role("tab", name="现场照片（1）").click()
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="进展记录").click()

    # 2. a follow-up
    settled(page)
    page.get_by_label("进展情况").fill(FOLLOW_UP)
    page.get_by_role("button", name="添加进展").click()
    toast(page, "已添加进展")
    log = ledger.follow_ups(store, item_id)
    assert log["内容"].iloc[0] == FOLLOW_UP and log["人员"].iloc[0] == "李科员"

    # 3. close it (toast() waited for the follow-up's rerun to finish: a rerun redraws the select, closing its list)
    choose(page, "改为", ledger.DONE)
    page.get_by_label("说明（不予处理、重新打开须填写理由）").fill("现场复核已修复")
    page.get_by_role("button", name="更新状态").click()
    toast(page, "已改为已办结")
    row = ledger.items(store, store.targets()).set_index("编号").loc[item_id]
    assert row["状态"] == ledger.DONE and row["办结日期"] == date.today().isoformat()
    page.locator("[data-testid='stMarkdown']").filter(has_text=f"事项 {item_id}").filter(
        has_text=ledger.DONE).first.wait_for(timeout=30_000)
    save_shot(page, "ledger-closed")
    assert "台账状态" in set(store.audit_log()["操作"])


def test_ledger_on_a_phone(page, server, seeded):
    open_path(page, server, "ledger", size=(390, 844))
    page.get_by_text("逾期未办结").first.wait_for(timeout=30_000)
    table_drawn(page)
    page.locator("[data-testid='stDataFrame']").first.scroll_into_view_if_needed()
    save_shot(page, "ledger-mobile")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1  # nothing pushes the page sideways; the table scrolls inside itself

