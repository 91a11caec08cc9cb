"""Two real `streamlit run` servers on one PostgreSQL (issue 18): a report uploaded in the browser on server A shows
on server B, in a session that was already open there, with no restart (B polls the store's version every rerun).

Each server has a data folder of its own (empty, on purpose): whatever B shows came through the database. Skips
locally without PostgreSQL or Chromium; under CI=true a missing one fails (tests.conftest.require_tool).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from lib.auth import ANALYST, hash_password, write_user
from lib.template import build_template, fill_template
from tests.browser.live import leave, streamlit_server, visit
from tests.factory import entries_for

UNIT = "市民政局"
LOGIN, PASSWORD = "clerk", "two-servers-test-password"


@pytest.fixture()
def postgres_url(request):
    """A fresh database in the session's throw-away PostgreSQL cluster (tests/conftest.py ``postgres_server``,
    which skips locally without PostgreSQL and fails under CI=true), dropped after."""
    try:
        server = request.getfixturevalue("postgres_server")
    except pytest.FixtureLookupError:
        if os.environ.get("CI"):
            pytest.fail("tests/conftest.py has no postgres_server fixture (the PostgreSQL test cluster)")
        pytest.skip("no PostgreSQL test cluster fixture")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture()
def servers(postgres_url, tmp_path, monkeypatch, app_port):
    """Servers A and B: one database, one secrets file (one deployment), two data folders; B on the session's
    ``app_port``, so the shared tab (``live.tab``) can be B's browser."""
    secrets = tmp_path / "secrets.toml"
    write_user(secrets, LOGIN, "李科员", ANALYST, hash_password(PASSWORD))
    monkeypatch.setenv("LIVELIHOOD_DATABASE_URL", postgres_url)  # inherited by both servers
    with ExitStack() as stack:
        urls = []
        for name, port in (("a", None), ("b", app_port)):
            folder = tmp_path / f"data-{name}"
            folder.mkdir()
            urls.append(stack.enter_context(streamlit_server(folder, secrets, tmp_path / f"streamlit-{name}.log", port)))
        yield urls


def signed_in_page(browser, url: str, page=None):
    """A new session on ``url`` signed in: in ``page``, or in a tab of a new browser context."""
    if page is None:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.set_default_navigation_timeout(120_000)
        page = context.new_page()
    page.goto(url)
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=120_000)
    page.get_by_label("用户名").fill(LOGIN)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("[data-testid='stMain'] h1:has-text('总览')", timeout=120_000)
    return page


@pytest.fixture()
def b_tab(tab, servers):
    """The shared offline tab (``live.tab``: it reaches the session's ``app_port``, B's) at 1366x768; at the end it
    leaves B's app before B stops (``live.leave``)."""
    tab.set_viewport_size({"width": 1366, "height": 768})
    yield tab
    leave(tab, servers[1])


def test_upload_on_one_server_shows_on_the_other(browser, servers, b_tab, targets, tmp_path):
    a_url, b_url = servers
    units = len(targets.reporting_units)
    report = tmp_path / f"{UNIT}1月.xlsx"
    report.write_bytes(fill_template(build_template(targets, UNIT), f"{targets.year}-01",
                                     entries_for(targets, UNIT, share=0.1, problems="无", plan="按计划推进")))
    on_b = signed_in_page(browser, b_url, b_tab)  # B first: its caches hold the empty store
    on_b.get_by_text(f"0 / {units} 个单位").wait_for(timeout=60_000)

    on_a = signed_in_page(browser, f"{a_url}")
    # to the upload page in this session (``live.visit``: a history change, no reload, as the link does; a click on
    # the link waited 30 s for "scheduled navigations" under load ~30 and failed, in two sessions)
    visit(on_a, (a_url,), "upload")
    assert on_a.get_by_role("link", name="数据上报").count() == 1  # the analyst's navigation offers the page
    on_a.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(report))
    on_a.get_by_text("可接收").first.wait_for(timeout=60_000)
    on_a.get_by_role("button", name="确认接收 1 个文件").click()
    on_a.get_by_text("已入库").first.wait_for(timeout=60_000)

    # The same session on B, a page later (the sidebar links: reruns, no reload): the new report is there.
    on_b.get_by_role("link", name="分类进展").click()
    on_b.wait_for_selector("[data-testid='stMain'] h1:has-text('分类进展')", timeout=60_000)
    on_b.get_by_role("link", name="总览").click()
    on_b.get_by_text(f"1 / {units} 个单位").wait_for(timeout=60_000)
    assert "截至 2024 年 1 月" in on_b.locator("h1").first.inner_text()
    if os.environ.get("SCREENSHOT_DIR"):
        on_b.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / "server-b-after-upload.png"))
    on_a.context.close()
