"""Access in a real headless Chromium against `streamlit run app.py`.

A secrets file that does not parse refuses everyone (no data, no navigation); a 填报单位 user uploads its own
report (stored) and another unit's (refused with a message, nothing stored, audited); a viewer has no upload page.
Screenshots at 1366x768 and 390x844 go to test-artifacts/access-*.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lib.auth import UNIT, VIEWER
from lib.store import Store
from lib.template import fill_template
from tests.browser import live
from tests.browser.live import streamlit_server
from tests.factory import entries_for, filled

OWN, OTHER = "市民政局", "市体育局"
PASSWORD = "browser-access-password"
USERS = {"mz": ("民政局填报员", UNIT, OWN, PASSWORD), "leader": ("王局长", VIEWER, None, PASSWORD)}  # the ``server``'s
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


def data_folder(reports_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("access") / "data"
    shutil.copytree(reports_dir, folder)
    return folder


def heading(page) -> str:
    return page.wait_for_selector("[data-testid='stMain'] h1", timeout=120_000).inner_text()


def sign_in(page, url: str, login: str, path: str = ""):
    page.goto(f"{url}/{path}")
    assert "登录" in heading(page)
    page.get_by_label("用户名").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("[data-testid='stMain'] h1:not(:has-text('登录'))", timeout=120_000)
    page.wait_for_load_state("networkidle")


def stored_state(folder: Path) -> tuple:
    files = sorted(str(p.relative_to(folder)) for p in (folder / "submissions").rglob("*") if p.is_file())
    return files, tuple(Store(folder).submissions()["sha256"])


def shot(page, name: str):
    live.shot(page, f"access-{name}")


# The module's first test, on purpose: its server takes the session's port (``live.app_port``) before the module's
# ``server`` does (a module fixture starts at its first use), so the refused pages load in the shared tab (``live.tab``).
def test_secrets_that_do_not_parse_refuse_everyone(tab, app_port, reports_dir, tmp_path_factory):
    folder = data_folder(reports_dir, tmp_path_factory)
    logs = tmp_path_factory.mktemp("broken-log")
    secrets = logs / "secrets.toml"
    # What a new user wrote by hand: a backslash in a name, next to demo_mode = false.
    secrets.write_text('[auth]\ndemo_mode = false\n\n[auth.users.lisi]\nname = "李\\四"\nrole = "admin"\n',
                       encoding="utf-8")
    with streamlit_server(folder, secrets, logs / "streamlit.log", app_port) as url:
        page = tab  # one tab for all six: a later load in it costs less (``live.page``)
        try:
            for size in SIZES:
                page.set_viewport_size(dict(zip(("width", "height"), SIZES[size])))  # before the load: drawn at that size
                for path in ("", "upload", "admin"):
                    page.goto(f"{url}/{path}")  # a session of its own (a page load: its own connection to the server)
                    alert = page.get_by_text("系统拒绝访问")
                    alert.wait_for(timeout=120_000)
                    text = page.locator("[data-testid='stMain']").inner_text()
                    assert "第 5 行" in text and "反斜杠" in text and "Unescaped '\\'" in text
                    live.drawn(page)  # the run is over: anything else it might send has arrived
                    main = page.locator("[data-testid='stMain']")
                    for element in ("stPlotlyChart", "stDataFrame", "stFileUploader", "stTextInput", "stMetric"):
                        assert main.locator(f"[data-testid='{element}']").count() == 0, (path, element)
                    assert page.locator("[data-testid='stSidebarNav']").count() == 0
                    assert page.get_by_role("link", name="总览").count() == 0 and "演示" not in text
                    if path == "":
                        shot(page, f"refused-{size}")
        finally:
            live.leave(page, url)


def test_unit_user_uploads_its_own_report_and_is_refused_another(page, server, targets, tmp_path):
    url, folder = server
    sign_in(page, url, "mz", "upload")
    assert heading(page).startswith("数据上报")
    assert page.get_by_text("民政局填报员（填报单位·市民政局）").count() == 1
    assert page.get_by_role("button", name="全部模板（.zip）").count() == 0
    assert page.get_by_role("button", name="恢复为当前版本").count() == 0
    with page.expect_download() as download:
        page.get_by_role("button", name="下载该单位模板").click()
    assert download.value.suggested_filename == f"{OWN}.xlsx"
    template = Path(download.value.path()).read_bytes()

    own = tmp_path / "民政局7月.xlsx"
    own.write_bytes(fill_template(template, "2024-07", entries_for(targets, OWN, share=0.6, problems="无", plan="按计划")))
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(own))
    page.get_by_text("可接收").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="确认接收 1 个文件").click()
    page.get_by_text("已入库").first.wait_for(timeout=60_000)
    stored = Store(folder).submissions()
    assert len(stored.query("month == 7 and unit == @OWN")) == 1
    assert set(stored.query("month == 7")["uploader"]) == {"民政局填报员"}
    shot(page, "unit-accepted")

    other = tmp_path / "体育局7月.xlsx"
    other.write_bytes(filled(targets, OTHER, month="2024-07", share=0.6, problems="无", plan="按计划"))
    before = stored_state(folder)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(other))
    refusal = page.get_by_text("只能办理本单位“市民政局”的事项")
    refusal.wait_for(timeout=60_000)
    assert page.get_by_text("退回").count() >= 1
    assert page.get_by_role("button", name="确认接收 1 个文件").count() == 0
    shot(page, "unit-refused")
    assert stored_state(folder) == before  # nothing stored: no file, no submission
    after = Store(folder)
    assert len(after.submissions().query("month == 7 and unit == @OTHER")) == 0
    log = after.audit_log()
    refused = log[(log["操作"] == "上传被拒") & log["详情"].str.contains(OTHER)]
    assert len(refused) == 1 and refused["操作人"].iloc[0] == "民政局填报员"
    history = page.locator("[data-testid='stDataFrame']").last
    history.wait_for(timeout=30_000)
    # the same user on a phone: a new session (a new page load), laid out at the phone's size from its start
    page.set_viewport_size(dict(zip(("width", "height"), SIZES["phone"])))
    sign_in(page, url, "mz", "upload")
    page.locator("[data-testid='stFileUploader']").wait_for(timeout=60_000)
    shot(page, "unit-upload-phone")


def test_viewer_has_no_upload_page(page, server):
    url, _ = server
    sign_in(page, url, "leader", "upload")  # a link to the upload page, opened by a viewer
    page.get_by_role("link", name="总览").wait_for(timeout=30_000)
    assert page.get_by_role("link", name="数据上报").count() == 0
    assert not heading(page).startswith("数据上报")
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60_000)  # the viewer's own pages work
    assert page.locator("[data-testid='stFileUploader']").count() == 0
    shot(page, "viewer")
