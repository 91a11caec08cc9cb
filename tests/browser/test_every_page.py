"""Every page in a real headless Chromium against `streamlit run app.py`, at a laptop's and a phone's size, as the
office's admin (who sees every page): screenshots to test-artifacts/<page>-<size>.png, nothing raw or broken on screen,
a phone never scrolls sideways; at the laptop's size, while those pages are on screen, the county map draws its 11
polygons offline, the heatmaps show their labels and Chinese is drawn with a CJK font (README's screenshots
county/category/unit/project); and the file uploaders speak Chinese. Its own module (own live server), so the two
xdist workers can run it beside tests/browser/test_workflow.py."""

from __future__ import annotations

import os
import re
from contextlib import nullcontext

import pytest

from lib import charts
from tests.browser.live import ARTIFACTS, CHIEF, CHIEF_PASSWORD, PHONE, ROOT, as_phone, enter, open_path, visit

EVERY_PAGE = {"overview": "", "category": "category", "unit": "unit", "county": "county",
              "project": "project?project=12", "ledger": "ledger", "export": "export", "publish": "publish",
              "report": "report", "upload": "upload", "targets": "targets", "admin": "admin"}
# Elements of the main block that scroll sideways inside themselves (a table wider than the screen), visible ones only.
SIDEWAYS = """() => [document.querySelector('[data-testid=stMain]'), ...document.querySelectorAll('[data-testid=stMain] *')]
    .filter(e => e.getClientRects().length && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)
                 && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.closest('[class*=st-key-]')?.className.match(/st-key-\\S+/)?.[0] ?? e.className} ${e.scrollWidth}/${e.clientWidth}`)"""
SIZES = {"1366x768": (1366, 768), "390x844": (390, 844)}
# At the laptop's size the screen of these pages is also test-artifacts/<name>.png (docs/screenshot-<name>.png with
# UPDATE_SCREENSHOTS=1 for the ones README shows).
NAMED_SHOTS = {"county": True, "category": False, "unit": False, "project": True}


def texts(locator) -> list[str]:
    """Text of SVG elements (inner_text is only for HTML)."""
    return locator.evaluate_all("els => els.map(e => e.textContent)")


def county_map_draws_offline(page) -> None:
    """The county map draws its 11 polygons (the tab reaches nothing but the app: the map's shapes come with it)."""
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.wait_for(timeout=60_000)
    fills = chart.locator("path.js-fill")
    fills.nth(10).wait_for(state="attached", timeout=30_000)  # the map's polygons drawn (then: exactly 11)
    assert fills.count() == 11


def project_grid_shows_its_labels(page, targets) -> None:
    """Project numbers and names and county names on the county page's 项目 × 县市区 grid."""
    heat = page.locator("[data-testid='stPlotlyChart']").filter(has_text="项目 × 县市区")
    counties = [t.strip() for t in texts(heat.locator("g.xtick text"))]  # one character a line: read top to bottom
    assert counties == [charts._vertical(c).replace("<br>", "") for c in targets.counties] and len(counties) == 14
    assert "任城区" in counties and "济宁经开区" in counties
    projects = [t.strip() for t in texts(heat.locator("g.ytick text"))]
    names = dict(zip(targets.projects["项目序号"].astype(str), targets.projects["项目名称"]))
    assert len(projects) >= 20
    for label in projects:  # '12 方便群众新能源汽车充电': the number, then the name (cut with … only if very long)
        number, name = label.split(" ", 1)
        assert names[number].startswith(name.rstrip("…")[:8]), label


def unit_grid_shows_its_labels(page, targets) -> None:
    """Unit names and months (January to June, the demo's latest) on the unit page's 报送情况 grid."""
    grid = page.locator("[data-testid='stPlotlyChart']").filter(has_text="报送情况（单位 × 月份）")
    units = [t.strip() for t in texts(grid.locator("g.ytick text"))]
    assert sorted(units) == sorted(targets.reporting_units) and len(units) == 19
    assert sorted(t.strip() for t in texts(grid.locator("g.xtick text"))) == sorted(f"{m}月" for m in range(1, 7))
    # the month labels sit below the title, not on it
    title_box = grid.locator("text.gtitle").bounding_box()
    month_box = grid.locator("g.xtick text").first.bounding_box()
    assert title_box["y"] + title_box["height"] <= month_box["y"]


def heading_drawn_in_a_cjk_font(page) -> None:
    """Chinese on the page is drawn with a real CJK font (fonts-noto-cjk), not tofu boxes: ask Chromium which
    platform fonts it used for the heading's glyphs (the host having the font is not enough)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    heading = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-testid='stMain'] h1"})["nodeId"]
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": heading})["fonts"]
    assert any("CJK" in f["familyName"] and f["glyphCount"] > 0 for f in used), used
    cdp.detach()


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_at_laptop_and_phone_size(server, page, targets, size):
    """Screenshots of every page (test-artifacts/<page>-<size>.png); nothing raw on screen; a phone never scrolls
    sideways. At the laptop's size also: the county map's 11 polygons offline, both heatmaps' labels, a CJK font on
    the project page (these checks were tests/browser/test_workflow.py's map, heatmap and font tests)."""
    width, height = SIZES[size]
    phone = width < 600
    # A laptop: the module's page (1366x768). A phone: the same tab as a phone's browser (touch, the mobile
    # viewport; ``live.as_phone``), its screenshots through the emulating session.
    with as_phone(page, width, height) if phone else nullcontext() as capture:
        show_every_page(server, page, targets, size, width, height, capture)


def show_every_page(server, page, targets, size: str, width: int, height: int, capture=None):
    """The test's body, at one size: on a phone (``capture``: ``live.as_phone``'s screenshot) or a laptop."""
    phone = capture is not None
    elsewhere = []  # requests for anything not on the app's own server (an office's intranet has no internet)

    def note(request):
        if not request.url.startswith((server[0], "data:", "blob:")):
            elsewhere.append(request.url)

    page.on("request", note)
    for name, path in EVERY_PAGE.items():
        if name == "overview":  # the first: sign in; then from page to page in that session
            open_path(page, server, path, login=(CHIEF, CHIEF_PASSWORD))
            if phone:  # a phone's browser, as the page sees it
                assert page.evaluate(PHONE) == [width, 1, True, True]
        else:
            visit(page, server, path, still_drawn=True)  # since the last page drawn: screenshots and reads only
        if not phone and name == "county":
            county_map_draws_offline(page)  # before the screenshot: it shows the map drawn
        png = (capture or page.screenshot)(path=ARTIFACTS / f"{name}-{size}.png")
        if not phone and name in NAMED_SHOTS:
            (ARTIFACTS / f"{name}.png").write_bytes(png)
            if NAMED_SHOTS[name] and os.environ.get("UPDATE_SCREENSHOTS"):
                (ROOT / "docs" / f"screenshot-{name}.png").write_bytes(png)
        if not phone and name == "overview":
            # the lagging projects and their reasons are on the first screen of the overview (as it was opened)
            box = page.get_by_role("heading", name="滞后项目与存在问题").bounding_box()
            assert box and box["y"] + box["height"] < height - 120
        if not phone and name == "county":
            project_grid_shows_its_labels(page, targets)
        if not phone and name == "unit":
            unit_grid_shows_its_labels(page, targets)
        if not phone and name == "project":
            heading_drawn_in_a_cjk_font(page)
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
    page.remove_listener("request", note)


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
        if path == "upload":  # the first: in the admin's session the laptop pass left on screen, or a new one
            enter(page, server, path, login=(CHIEF, CHIEF_PASSWORD))
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
