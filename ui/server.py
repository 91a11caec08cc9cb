"""What the live server repeats on every rerun although it cannot change while the server runs, made once.

Every rerun starts with a ``new_session`` message, and Streamlit fills its theme from the config anew each time:
six ``[theme…]`` sections, each read option by option through the config lock (~3 % of a warm rerun's CPU,
py-spy, bench/RESULTS.md). The config is parsed when the server starts (``streamlit run``), so each section's
message is made once and copied into every later ``new_session``; a re-parse forgets them.
"""

from __future__ import annotations

import threading

from streamlit import config
from streamlit.runtime import app_session

_THEMES: dict[str, object] = {}
_LOCK = threading.Lock()


def _populate_theme_once(msg, section: str = "theme") -> None:
    """``app_session._populate_theme_msg``: the section's theme message made once, then merged into ``msg``."""
    kept = _THEMES.get(section)
    if kept is None:
        kept = type(msg)()
        _populate_theme(kept, section)
        with _LOCK:
            kept = _THEMES.setdefault(section, kept)
    if kept.ListFields():  # a section with nothing set leaves the message unset, as Streamlit's own does
        msg.MergeFrom(kept)


def _forget_themes() -> None:
    with _LOCK:
        _THEMES.clear()


# Streamlit's own function, kept once per process (a second import of this module must not wrap its wrapper).
_populate_theme = getattr(app_session, "_livelihood_original_theme", app_session._populate_theme_msg)
app_session._livelihood_original_theme = _populate_theme
app_session._populate_theme_msg = _populate_theme_once  # the name _create_new_session_message calls
if not getattr(config, "_livelihood_theme_hook", False):
    config.on_config_parsed(_forget_themes, force_connect=True)  # a re-parsed config: made again
    config._livelihood_theme_hook = True
