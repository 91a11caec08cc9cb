"""The browser tests' one Chromium fixture (defined in tests/browser/live.py) for every module in this folder."""

from tests.browser.live import browser  # noqa: F401 (fixture)
