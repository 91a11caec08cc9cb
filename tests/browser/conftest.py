"""The browser tests' shared fixtures (defined in tests/browser/live.py) for every module in this folder: one
Chromium per session (``browser``); one live server (``server``) and one offline page (``page``) per module."""

from tests.browser.live import browser, module_page, page, server  # noqa: F401 (fixtures)
