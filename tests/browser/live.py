"""What the browser tests share: a live `streamlit run app.py` server, Debian's Chromium with its flags, the
fixtures every browser module gets from tests/browser/conftest.py (``browser``: one per session, missing Chromium
skips locally and fails under CI=true; ``server``: one live server per module; ``page``: one offline page per
module, at 1366x768 at the start of each test), and the page helpers (``offline_context``, ``open_path``,
``visit``, ``enter``, ``settled``, ``toast``, ``shot``)."""

from __future__ import annotations

import base64
import functools
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright import sync_api

from lib.auth import ADMIN, ANALYST, hash_password, write_user
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
LOGIN, PASSWORD = "clerk", "browser-test-password"
CHIEF, CHIEF_PASSWORD = "chief", "browser-test-admin-password"  # sees every page, for the screenshots
# A real deployment: sign-in required (a password is only stored as its hash). login -> (name, role, unit, password);
# a module that needs other users sets its own USERS.
USERS = {LOGIN: ("李科员", ANALYST, None, PASSWORD), CHIEF: ("王主任", ADMIN, None, CHIEF_PASSWORD)}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


@functools.cache
def password_hash(password: str) -> str:
    """``hash_password`` once per password and test session (argon2id is slow on purpose; any of its hashes of a
    password verifies it)."""
    return hash_password(password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(folder: Path, secrets: Path, log_path: Path, port: int | None = None):
    """`streamlit run app.py` on ``port`` (default: a free one) with this data folder and secrets file; yields its URL."""
    port = port or free_port()
    env = dict(os.environ, LIVELIHOOD_DATA_DIR=str(folder))
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
                                 f"--server.port={port}", "--server.address=127.0.0.1", f"--secrets.files={secrets}"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:  # a refused connection answers at once: ask often, so the tests start when the server does
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    pass
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited ({proc.returncode}) before it served; see {log_path}")
                if time.monotonic() > deadline:
                    pytest.fail("streamlit did not start")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright, one per test session (per xdist worker; each test works in
    browser contexts of its own, which share no cookies, storage or pages). A dev requirement: imported plainly."""
    require_tool(CHROMIUM)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def app_port():
    """The port every module's ``server`` listens on in this test process, one server at a time: the app's URL is
    the same for every module, so the tab they share (``page``) finds what it compiled and cached of the frontend
    there (a browser keeps that per URL: a tab that loaded the app on another port loads it as if new). Between
    servers a socket holds the port, bound but never listening, so no other process is given it; a server binds
    beside it (both set SO_REUSEADDR, as Streamlit does) and is the only one that listens."""
    with socket.socket() as hold:
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hold.bind(("127.0.0.1", 0))
        yield hold.getsockname()[1]


@pytest.fixture(scope="module")
def server(request, reports_dir, tmp_path_factory, app_port):
    """`streamlit run app.py` on a private copy of the demo's reports (held as real uploads), one per test module
    on the session's ``app_port``, signing in the module's ``USERS`` (default: ``USERS`` above); yields (url, data
    folder)."""
    folder = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(reports_dir, folder)
    logs = tmp_path_factory.mktemp("log")
    secrets = logs / "secrets.toml"
    for login, (name, role, unit, password) in getattr(request.module, "USERS", USERS).items():
        write_user(secrets, login, name, role, password_hash(password), unit)
    with streamlit_server(folder, secrets, logs / "streamlit.log", app_port) as url:
        yield url, folder


# A proxy that refuses every connection: a bound socket that never listens (kept open, so no one else can take
# its port while the tests run).
_NOWHERE = socket.socket()
_NOWHERE.bind(("127.0.0.1", 0))


def offline_context(browser, url: str, width: int = 1366, height: int = 768, mobile: bool = False):
    """A browser context that reaches nothing beyond the app at ``url`` (so the map and fonts must come from it):
    every request but the app's goes to a proxy that refuses it (Playwright adds ``<-loopback>``, so other local
    ports too). Chromium does this itself: no request waits on a Python route handler, and its HTTP cache keeps
    the app's static files (Playwright's request routing turns the cache off, so every page load fetched the
    whole frontend again)."""
    host = urlsplit(url).netloc
    proxy = {"server": f"http://127.0.0.1:{_NOWHERE.getsockname()[1]}", "bypass": host}
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True, locale="zh-CN",
                                  is_mobile=mobile, has_touch=mobile, proxy=proxy)
    context.set_default_navigation_timeout(120_000)  # a shared CI machine can take longer than 30 s to load a page
    return context


@contextmanager
def as_phone(page, width: int = 390, height: int = 844):
    """``page`` as a phone's browser of ``width`` x ``height`` until the end: what a mobile browser context
    (``offline_context(..., mobile=True)``) emulates — a mobile viewport that honours the page's meta viewport, touch
    (``navigator.maxTouchPoints``, a coarse pointer), a portrait screen — set through a DevTools session of its own
    (Chromium's ``Emulation`` domain, as Playwright does for a mobile context). Load the page after entering, so the
    app is laid out as on a phone from its start. Yields ``capture(path)``, a screenshot (PNG bytes) through that
    session: Playwright's ``page.screenshot`` sends the context's own (desktop) metrics again. On leaving, the page
    is the context's size again, without touch.

    Why not a mobile context: its new tab is a new renderer process that compiles and lays out the frontend from
    nothing (a sign-in load ~14 CPU s against ~8 in the shared tab, which keeps what it compiled)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True, "screenWidth": width,
        "screenHeight": height, "screenOrientation": {"angle": 0, "type": "portraitPrimary"}})
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})

    def capture(path: Path) -> bytes:
        png = base64.b64decode(cdp.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(png)
        return png

    try:
        yield capture
    finally:
        cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": False})
        cdp.send("Emulation.clearDeviceMetricsOverride")
        cdp.detach()
        # Playwright sends its metrics only when they change from what it sent last: change them, and back.
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"] - 1, "height": size["height"]})
        page.set_viewport_size(size)


# What tells a phone's browser from a narrow desktop window, as the page sees it: the layout viewport is the
# phone's width at scale 1 only because the app's meta viewport (width=device-width) is honoured (a mobile viewport
# without one lays the page out 980 px wide, zoomed out), and touch with a coarse pointer.
PHONE = "[innerWidth, visualViewport.scale, matchMedia('(pointer: coarse)').matches, navigator.maxTouchPoints > 0]"


@pytest.fixture(scope="session")
def tab(browser, app_port):
    """The offline tab every module's tests share (``page``): it reaches only ``app_port``."""
    context = offline_context(browser, f"http://127.0.0.1:{app_port}")
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def module_page(server, tab):
    """``tab`` while this module's server runs. At the end it leaves the app for the server's plain health page
    (so it does not reconnect to the next module's server on the same port) and forgets the origin's cookies and
    storage (the next module starts as a new browser would, but for the cache)."""
    yield tab
    leave(tab, server[0])


def leave(tab, url: str) -> None:
    """Take ``tab`` off the app at ``url`` before its server stops (see ``module_page``)."""
    tab.goto(f"{url}/_stcore/health")
    tab.evaluate("localStorage.clear(); sessionStorage.clear()")
    tab.context.clear_cookies()


@pytest.fixture()
def page(module_page):
    """An offline page at 1366x768, one tab for every module (its server on the same port): each test starts at
    that size, and every ``open_path`` in it is a new page load, so a new Streamlit session that signs in again.
    One tab because a page load in a tab that has loaded the app at that URL before costs about half the CPU of one
    in a new tab (probe: a load, sign-in and one ``visit``: ~19 → ~8 CPU s at load ~9; Chromium's renderer 10 → 5,
    its GPU process 3 → 1): the tab's renderer process stays, with what it compiled and cached of the frontend. A
    new tab, even in the same browser context, is a new renderer process and pays it all again."""
    module_page.set_viewport_size({"width": 1366, "height": 768})
    return module_page


def open_path(page, server, path: str, login: tuple[str, str] = (LOGIN, PASSWORD),
              size: tuple[int, int] | None = None):
    """Open a URL as a user would: a new browser session signs in first, then lands on that page; returns once its
    run has finished and drawn (``drawn``). A full page load and a sign-in: to go on in the same session, ``visit``.
    With ``size`` (width, height) the page is loaded at that viewport size (set before the load, so the app is
    laid out at that size from its start, as in a new tab of that size)."""
    if size:
        page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{server[0]}/{path}")
    heading = page.wait_for_selector("[data-testid='stMain'] h1", timeout=120_000)
    if "登录" in heading.inner_text():
        page.get_by_label("用户名").fill(login[0])
        page.get_by_label("密码").fill(login[1])
        page.get_by_role("button", name="登录").click()
        page.wait_for_selector("[data-testid='stMain'] h1:not(:has-text('登录'))", timeout=120_000)
    drawn(page)
    # This document's session is signed in as login[0] (``enter``): a page load or reload forgets it.
    page.evaluate("login => { window.__livelihoodLogin = login; }", login[0])


def enter(page, server, path: str, login: tuple[str, str] = (LOGIN, PASSWORD)) -> None:
    """Show the page at ``path`` signed in as ``login``: in the session on screen (``visit``) if the tab shows this
    server's app in a session ``open_path`` signed in as that user (a mark in the document, gone with any page load),
    else in a new one (``open_path``). For a test that needs a signed-in page, not a new session: run on its own it
    signs in; after a test that left such a session, it saves a page load and a sign-in (~8 CPU s)."""
    here = urlsplit(page.url)
    same = (page.url.startswith(f"{server[0]}/") and here.path.strip("/") != urlsplit(f"/{path}").path.strip("/")
            and page.evaluate("() => window.__livelihoodLogin ?? null") == login[0])
    if same:
        visit(page, server, path)
    else:
        open_path(page, server, path, login=login)


# The run is over and its output drawn: Streamlit's own run state (the attribute its end-to-end tests wait on), no
# element left stale from the previous run, no skeleton or running indicator, every chart drawn, the fonts loaded, and
# the layout (sizes and element count) unchanged for 300 ms, polled every 100 ms. A condition, not a fixed sleep.
DRAWN = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const busy = !app || app.dataset.testScriptState !== 'notRunning' || app.dataset.testConnectionState !== 'CONNECTED'
        || document.fonts.status !== 'loaded'
        || document.querySelector("[data-stale='true'], [data-testid='stSkeleton'], [data-testid='stStatusWidget']")
        || ![...document.querySelectorAll("[data-testid='stPlotlyChart']")].every(c => c.querySelector('svg'));
    const main = document.querySelector("[data-testid='stMain']");
    const layout = busy ? null : [document.documentElement.scrollWidth, document.documentElement.scrollHeight,
        main ? main.scrollHeight : 0, document.getElementsByTagName('*').length].join();
    const now = performance.now();
    if (!layout || !window.__livelihoodDrawn || window.__livelihoodDrawn.layout !== layout) {
        window.__livelihoodDrawn = layout && {layout, since: now};
        return false;
    }
    return now - window.__livelihoodDrawn.since >= 300;
}"""


def drawn(page, timeout: float = 120_000) -> None:
    """Wait until the current run has finished and what it drew has settled (``DRAWN``)."""
    page.evaluate("window.__livelihoodDrawn = null")
    page.wait_for_function(DRAWN, polling=100, timeout=timeout)


# Go to another page in the same browser session, as the browser's back/forward buttons do: Streamlit's frontend
# answers a history change (popstate) with a run of the page and query string in the URL, without reloading the
# app, so the session (and its sign-in) is kept. A mutation observer notes that the run really drew something: new
# content in the app (another page's), an element marked stale, or a change of the app's run state. (Under load the
# run state alone is not enough: messages that arrive together are drawn in one render, and the attribute may never
# leave notRunning.)
NAVIGATE = """path => {
    window.__livelihoodRan = false;
    const ran = (_, seen) => { window.__livelihoodRan = true; seen.disconnect(); };
    new MutationObserver(ran).observe(document.querySelector("[data-testid='stApp']"), {childList: true,
        subtree: true, characterData: true, attributes: true, attributeFilter: ['data-test-script-state', 'data-stale']});
    history.pushState(null, '', path);
    dispatchEvent(new PopStateEvent('popstate'));
}"""


def visit(page, server, path: str, still_drawn: bool = False) -> None:
    """Show the page at ``path`` (e.g. "project?project=12") in the page's current, signed-in session; returns
    once its run has finished and drawn. ``open_path`` first, to sign in; ``path`` must show something other than
    what is on screen (the run is recognised by what it changes). First it waits until what is on screen has
    been drawn (a run still going would be taken for this one); ``still_drawn``: the caller has only read the
    page since ``open_path``, ``visit`` or ``drawn`` last returned (no click, no typing), so it is: that wait
    (300 ms of unchanged layout at least) is left out."""
    if not still_drawn:
        drawn(page)
    heading = page.locator("[data-testid='stMain'] h1").first
    before = heading.inner_text() if heading.count() else None
    page.evaluate(NAVIGATE, f"/{path}")
    page.wait_for_function("window.__livelihoodRan", polling=50, timeout=120_000)
    drawn(page)
    assert urlsplit(page.url).path == urlsplit(f"{server[0]}/{path}").path, (page.url, path)  # the page asked for
    assert heading.count() > 0, path  # a page, not an empty main block
    # The URL is what NAVIGATE wrote, so it cannot tell whether the app followed: the page's heading can.
    assert heading.inner_text() != before, (path, before)


def settled(page) -> None:
    """No upload in flight and no script run going on, and what the run drew has settled."""
    page.wait_for_load_state("networkidle")
    drawn(page, timeout=60_000)


def toast(page, text: str) -> None:
    """The action's toast, then the end of the run it started (a rerun redraws widgets a next step would use)."""
    page.locator("[data-testid='stToast']").filter(has_text=text).first.wait_for(timeout=60_000)
    settled(page)


def shot(page, name: str, docs: bool = False, full_page: bool = False) -> None:
    """test-artifacts/<name>.png once the run has finished drawing (no skeleton, no running indicator); with
    ``docs`` and UPDATE_SCREENSHOTS=1 also docs/screenshot-<name>.png (the ones README and docs show)."""
    drawn(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
    if docs and os.environ.get("UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / f"screenshot-{name}.png"), full_page=full_page)
