"""The browser tests' shared fixtures (defined in tests/browser/live.py) for every module in this folder: one
Chromium and one offline tab per session (``browser``, ``tab``, as ``page`` in a test); one live server per module
(``server``, each on the session's ``app_port``)."""

from tests.browser.live import app_port, browser, module_page, page, server, tab  # noqa: F401 (fixtures)
