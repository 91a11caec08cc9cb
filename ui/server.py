"""What the live server repeats although it cannot change while the server runs, made once.

Every rerun starts with a ``new_session`` message, and Streamlit fills its theme from the config anew each time:
six ``[theme…]`` sections, each read option by option through the config lock (~3 % of a warm rerun's CPU,
py-spy, bench/RESULTS.md). The config is parsed when the server starts (``streamlit run``), so each section's
message is made once and copied into every later ``new_session``; a re-parse forgets them.

The compiled page scripts: Streamlit forgets them whenever the last session leaves ("stale cached scripts"), so the
next visitor, often the only one in a small office, pays for compiling app.py and every page again (``ast.parse``
and Streamlit's magic rewrite: 10-50 ms a page, 38 % of a lone visitor's first overview, py-spy,
bench/RESULTS.md). With ``server.fileWatcherType = "none"`` (.streamlit/config.toml) nothing can make them stale:
the server runs the code it started with. With a file watcher (developers) Streamlit's own clearing stays.

TCP_NODELAY: Streamlit binds its listening socket itself (``socket.socket(family)``, protocol number 0), so asyncio,
which turns Nagle's algorithm off only for sockets that say IPPROTO_TCP, leaves it on for every connection. A rerun's
elements are many small websocket frames: after the first, the kernel holds the rest until the browser acknowledges,
and the browser's kernel delays that acknowledgement (40 ms on Linux). Every rerun's page then arrived ~40 ms after
the server had sent it (bench/RESULTS.md). ``no_delay`` sets TCP_NODELAY on the server's listening socket, which the
connections it accepts inherit (Linux), and on those already accepted.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import stat
import threading

import streamlit
from streamlit import config
from streamlit.runtime import app_session
from streamlit.runtime.scriptrunner import script_cache

_THEMES: dict[str, object] = {}
_LOCK = threading.Lock()
log = logging.getLogger(__name__)


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


def _replace(owner, name: str, params: list[str], replacement, mark: str, what: str):
    """Put ``replacement`` in place of Streamlit's ``owner.<name>`` if it still takes ``params``; returns Streamlit's
    own. None (and a warning naming ``what``) if it is gone or reshaped: then nothing is touched, the app works as
    before and only the saving is lost. Streamlit's own is remembered on ``owner`` (``_livelihood_original_<mark>``),
    so a second import never wraps the wrapper."""
    original = getattr(owner, f"_livelihood_original_{mark}", None) or getattr(owner, name, None)
    try:
        expected = original is not None and list(inspect.signature(original).parameters) == params
    except (TypeError, ValueError):
        expected = False
    if not expected:
        log.warning("Streamlit's %s is not as expected (streamlit %s); its own is kept", what,
                    getattr(streamlit, "__version__", "?"))
        return None
    setattr(owner, f"_livelihood_original_{mark}", original)
    setattr(owner, name, replacement)
    return original


def install(session_module=app_session, config_module=config) -> bool:
    """Put ``_populate_theme_once`` in place of Streamlit's own (the name _create_new_session_message calls); False
    (and a warning) if Streamlit changed shape (tests/test_ui_cache.py fails on such an upgrade, not the server)."""
    if not hasattr(config_module, "on_config_parsed"):
        log.warning("Streamlit's config has no on_config_parsed hook (streamlit %s); its new_session theme is kept "
                    "as it is, not as expected", getattr(streamlit, "__version__", "?"))
        return False
    original = _replace(session_module, "_populate_theme_msg", ["msg", "section"], _populate_theme_once, "theme",
                        "new_session theme hook")
    if original is None:
        return False
    global _populate_theme
    _populate_theme = original
    if not getattr(config_module, "_livelihood_theme_hook", False):
        config_module.on_config_parsed(_forget_themes, force_connect=True)  # a re-parsed config: made again
        config_module._livelihood_theme_hook = True
    return True


_populate_theme = getattr(app_session, "_populate_theme_msg", None)
install()


def _clear_unless_unwatched(cache) -> None:
    """``ScriptCache.clear``, skipped while no file watcher runs (the scripts on disk are the ones compiled)."""
    if config.get_option("server.fileWatcherType") == "none":
        return
    _clear_scripts(cache)


def keep_scripts(cache_module=script_cache) -> bool:
    """Put ``_clear_unless_unwatched`` in place of ``ScriptCache.clear``; False (and a warning) if Streamlit changed
    shape (its own is kept then: compiled scripts are forgotten when the last session leaves, as before)."""
    original = _replace(getattr(cache_module, "ScriptCache", None), "clear", ["self"], _clear_unless_unwatched, "clear",
                        "ScriptCache.clear")
    if original is None:
        return False
    global _clear_scripts
    _clear_scripts = original
    return True


_clear_scripts = getattr(getattr(script_cache, "ScriptCache", None), "clear", None)
keep_scripts()



def _tcp_sockets(fd_dir: str):
    """Duplicates of this process's TCP sockets (Linux: ``fd_dir`` lists its descriptors); the caller closes them."""
    for name in os.listdir(fd_dir):
        try:
            fd = int(name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except (OSError, ValueError):  # gone meanwhile (e.g. the listing's own descriptor), or not a socket we can read
            continue
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            yield sock
        else:
            sock.close()


def no_delay(fd_dir: str = "/proc/self/fd") -> int:
    """TCP_NODELAY on this process's listening TCP sockets (what they accept from now on inherits it) and on the
    connections they have already accepted (same local port); returns how many sockets it set. Nothing else is
    touched: connections this process opened to others (e.g. PostgreSQL) keep their own settings. Where ``fd_dir``
    cannot be read (not Linux) nothing changes and the server works as before (a warning says so)."""
    try:
        sockets = list(_tcp_sockets(fd_dir))
    except OSError:
        log.warning("cannot list this process's sockets (%s): Nagle's algorithm stays on for the server's "
                    "connections (each rerun's page may arrive up to 40 ms late)", fd_dir)
        return 0
    try:
        listening = [s for s in sockets if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)]
        ports = {s.getsockname()[1] for s in listening}
        count = 0
        for sock in sockets:
            if sock in listening or sock.getsockname()[1] in ports:
                if not sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    count += 1
        return count
    finally:
        for sock in sockets:
            sock.close()  # the duplicate only; the option stays with the socket


no_delay()
