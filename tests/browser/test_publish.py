"""实时 / 已发布 in a real headless Chromium: the label, the switch, the URL round trip; screenshots at two sizes."""

from __future__ import annotations

from datetime import datetime

from lib import publish as PB
from lib.store import Store
from tests.browser.live import ARTIFACTS, drawn, open_path, visit
from tests.factory import filled

UNIT = "市民政局"


def sidebar_text(tab) -> str:
    return tab.locator("[data-testid='stSidebar']").inner_text()


def test_switch_label_and_url_round_trip(page, server, targets):
    url, folder = server
    store = Store(folder)
    pub = PB.publish(store, 2024, 6, "李四")
    store.ingest(filled(targets, UNIT, month="2024-06", share=0.9), "更正.xlsx", uploader="王五", targets=targets,
                 received_at=datetime(2024, 7, 20, 9))

    open_path(page, server, "export")
    page.get_by_text(pub.label()).first.wait_for(timeout=60_000)  # sidebar and page badge
    page.wait_for_url("**source=published*", timeout=30_000)
    assert "rev=0" in page.url
    page.screenshot(path=str(ARTIFACTS / "publish-switch-published.png"))

    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stRadio'] label", has_text="实时").click()
    page.wait_for_url("**source=live*", timeout=30_000)
    page.get_by_text("实时数据 · 随报送").first.wait_for(timeout=30_000)
    assert "rev=" not in page.url and pub.label() not in sidebar_text(page)
    shared = page.url

    # The shared link, opened in a new session, shows the live figures again; the published link the revision.
    open_path(page, server, shared.split("/", 3)[3])
    page.get_by_text("实时数据 · 随报送").first.wait_for(timeout=60_000)
    assert "source=live" in page.url and pub.label() not in sidebar_text(page)
    open_path(page, server, "export?month=6&source=published&rev=0")
    page.get_by_text(pub.label()).first.wait_for(timeout=60_000)
    assert "source=published" in page.url

    # The 发布与修订 page, with the change table, and the overview, at the office's screen and a phone's (from page
    # to page in this session).
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name, path in (("page", "publish"), ("overview", "")):
            # the overview: after the page's screenshots (each once it was drawn); the page: after a resize
            visit(page, server, f"{path}?month=6&source=published&rev=0", still_drawn=name == "overview")
            main = page.locator("[data-testid='stMain']")  # on a phone the sidebar (with the label too) is hidden
            main.get_by_text(pub.label() if name == "overview" else "发布以来的变化").first.wait_for(timeout=60_000)
            drawn(page)
            page.screenshot(path=str(ARTIFACTS / f"publish-{name}-{width}.png"))
            if name == "page":  # the change table, further down
                page.get_by_text("发布以来的变化").first.scroll_into_view_if_needed()
                drawn(page)
                page.screenshot(path=str(ARTIFACTS / f"publish-changes-{width}.png"))
