"""Logging for operators, configured once per process.

Every module has its own logger (``log = logging.getLogger(__name__)``) and never configures logging itself;
the entry points do, once: ``app.py`` for the dashboard and each CLI's ``main``. What goes to the log is for
the operator (English, with the traceback of any exception a module caught and turned into a Chinese message
for the user); the user-facing messages are unchanged.

``LIVELIHOOD_LOG_LEVEL`` (DEBUG, INFO, WARNING …; default INFO) sets the level.
"""

from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "livelihood"


def setup(level: str | int | None = None) -> None:
    """Send the ``lib`` and ``pages`` loggers to stderr at ``level`` (env LIVELIHOOD_LOG_LEVEL, else INFO).

    Idempotent: a second call (a Streamlit rerun, a CLI called from a test) changes the level only, never adds
    a second handler. Other libraries' loggers are left as they are.
    """
    level = level or os.environ.get("LIVELIHOOD_LOG_LEVEL", "INFO")
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        level = level if isinstance(level, int) else logging.INFO
    for name in ("lib", "pages", "ui"):
        logger = logging.getLogger(name)
        if logger.level != level:  # setLevel clears every logger's cache: not on every rerun
            logger.setLevel(level)
        if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
            handler = logging.StreamHandler()
            handler.set_name(_HANDLER_NAME)
            handler.setFormatter(logging.Formatter(FORMAT))
            logger.addHandler(handler)
