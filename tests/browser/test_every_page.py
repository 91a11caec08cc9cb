"""Every page in a real headless Chromium against `streamlit run app.py`, at a laptop's and a phone's size, as the
office's admin (who sees every page): screenshots to test-artifacts/<page>-<size>.png, nothing raw or broken on screen,
a phone never scrolls sideways; and the file uploaders speak Chinese. Its own module (own live server), so the two
xdist workers can run it beside tests/browser/test_workflow.py."""

from __future__ import annotations

import re

import pytest

from tests.browser.live import ARTIFACTS, CHIEF, CHIEF_PASSWORD, offline_context, open_path, visit

EVERY_PAGE = {"overview": "", "category": "category", "unit": "unit", "county": "county",
              "project": "project?project=12", "ledger": "ledger", "export": "export", "publish": "publish",
              "report": "report", "upload": "upload", "targets": "targets", "admin": "admin"}
# Elements of the main block that scroll sideways inside themselves (a table wider than the screen), visible ones only.
SIDEWAYS = """() => [document.querySelector('[data-testid=stMain]'), ...document.querySelectorAll('[data-testid=stMain] *')]
    .filter(e => e.getClientRects().length && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)
                 && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.closest('[class*=st-key-]')?.className.match(/st-key-\\S+/)?.[0] ?? e.className} ${e.scrollWidth}/${e.clientWidth}`)"""
SIZES = {"1366x768": (1366, 768), "390x844": (390, 844)}


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_at_laptop_and_phone_size(server, browser, page, size):
    """Screenshots of every page (test-artifacts/<page>-<size>.png); nothing raw on screen; a phone never scrolls sideways."""
    width, height = SIZES[size]
    phone = width < 600
    # A laptop: the module's page (1366x768). A phone: a mobile browser context of its own (touch, the mobile viewport).
    context = offline_context(browser, server[0], width, height, mobile=True) if phone else None
    if context:
        page = context.new_page()
    elsewhere = []  # requests for anything not on the app's own server (an office's intranet has no internet)

    def note(request):
        if not request.url.startswith((server[0], "data:", "blob:")):
            elsewhere.append(request.url)

    page.on("request", note)
    for name, path in EVERY_PAGE.items():
        if name == "overview":  # the first: sign in; then from page to page in that session
            open_path(page, server, path, login=(CHIEF, CHIEF_PASSWORD))
        else:
            visit(page, server, path)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"))
        # the tab's icon too comes from the app itself, not from a font server on the internet
        icons = page.evaluate("[...document.querySelectorAll('link[rel~=icon]')].map(e => e.href)")
        assert icons and all(i.startswith((server[0], "data:")) for i in icons), (name, icons)
        main = page.locator("[data-testid='stMain']")
        assert main.locator("[data-testid='stException']").count() == 0, (name, size)
        text = main.inner_text()
        for raw in ("None", "NaN", "nan%", "Select all", "Download plot"):
            assert raw not in text, (name, size, raw)
        if phone and name in ("overview", "project"):
            # the overview, the lagging list and a project's county breakdown read without sideways scrolling
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
            assert page.evaluate(SIDEWAYS) == [], name  # neither the page nor any table inside it
        if name == "project":  # its tables: whole on a laptop; on a phone the same rows as cards
            for key in ("project_table", "project_history"):
                wide, narrow = page.locator(f".st-key-wide_{key}"), page.locator(f".st-key-narrow_{key}")
                assert wide.is_visible() != phone and narrow.is_visible() == phone, (key, size)
            if phone:
                assert page.locator(".st-key-narrow_project_history .row-card").count() > 0
                assert "存在问题" in page.locator(".st-key-narrow_project_history").inner_text()
                assert "滞后或报告了问题的县市区" in main.inner_text()
            # every chart (the county breakdown among them) and the lagging list fit the screen's width
            assert page.evaluate("[...document.querySelectorAll('[data-testid=stPlotlyChart], [data-testid=stMain] "
                                 "[data-testid=stVerticalBlockBorderWrapper]')].every(e => e.getBoundingClientRect().right "
                                 "<= window.innerWidth + 1)"), name
    assert elsewhere == [], elsewhere
    if not phone:
        # the lagging projects and their reasons are on the first screen of the overview
        visit(page, server, "")
        heading = page.get_by_role("heading", name="滞后项目与存在问题")
        box = heading.bounding_box()
        assert box and box["y"] + box["height"] < height - 120
    page.remove_listener("request", note)
    if context:
        context.close()


UPLOADER_ENGLISH = ("Upload", "Browse files", "Drag and drop", "per file", "Limit", "MB •")


def uploader_words(page) -> list[str]:
    """What a person sees in each file uploader on screen: its visible text plus the text our CSS draws (::after)."""
    return page.locator("[data-testid='stFileUploader']").evaluate_all("""els => els
        .filter(e => e.getClientRects().length)  // innerText of an element not rendered (a closed tab) is its raw text
        .map(e => e.innerText + ' ' +
        [...e.querySelectorAll('*')].map(x => getComputedStyle(x, '::after').content)
            .filter(c => c && c !== 'none' && c !== 'normal').join(' '))""")


def test_uploaders_speak_chinese(server, page):
    """Streamlit's uploader text is English and has no locale: ours replaces it on every uploader, and the button
    still opens the file chooser under its Chinese name."""
    accepts = {"upload": ".xlsx 或 .zip · 每个文件不超过 10 MB", "targets": ".xlsx · 每个文件不超过 10 MB",
               "ledger": ".png、.jpg、.jpeg · 每个文件不超过 8 MB"}
    for path, said in accepts.items():
        if path == "upload":  # the first: sign in; then from page to page in that session
            open_path(page, server, path, login=(CHIEF, CHIEF_PASSWORD))
        else:
            visit(page, server, path)
        if path == "ledger":  # the new-item form and the item's photo tab hold the photo uploaders
            form = page.locator("[data-testid='stExpander']").filter(has_text="新增督办事项")
            form.locator("summary").click()
            form.locator("[data-testid='stFileUploader']").wait_for(timeout=60_000)  # drawn by the rerun opening it
            page.get_by_role("tab", name=re.compile("现场照片")).click()
        page.locator("[data-testid='stFileUploader']").first.wait_for(timeout=60_000)
        words = uploader_words(page)
        assert len(words) == (2 if path == "ledger" else 1), path
        for text in words:
            assert not [w for w in UPLOADER_ENGLISH if w in text], (path, text)
            assert said in text, (path, text)
        button = page.locator("[data-testid='stFileUploader']").first.get_by_role("button", name="选择文件")
        assert button.is_visible(), path  # its accessible name is the Chinese text too
        with page.expect_file_chooser() as chooser:
            button.click()
        assert chooser.value.is_multiple() == (path != "targets")
