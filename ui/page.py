"""One rerun's frame: data, filters, source and user, set up by app.py and handed to the page."""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from lib import auth
from ui.access import PAGES, auth_banner, auth_config, sign_in
from ui.data import Bundle, begin_rerun, current, current_data, load_bundle, published_version, store, store_version_of
from ui.filters import Filters, filter_summary, sidebar_filters
from ui.source import source_badge, source_picker
from ui.widgets import banner


@dataclass(frozen=True, eq=False)
class Frame:
    folder: str
    version: str
    bundle: Bundle
    filters: Filters
    user: auth.User
    live_version: str = ""  # the store version of the live figures (version names a revision when published)
    live_bundle: Bundle | None = None

    def __iter__(self):
        return iter((self.folder, self.version, self.bundle, self.filters))

    def live(self) -> Frame:
        """The same frame on live data (pages that act on the store: upload, targets, publishing)."""
        if self.bundle.publication is None:
            return self
        return replace(self, version=self.live_version, bundle=self.live_bundle, filters=replace(self.filters, source=""))


def setup_frame(user: auth.User) -> Frame:
    """Data and sidebar filters for one rerun (app.py calls this before the page runs)."""
    folder, version, bundle = current()
    chosen = sidebar_filters(bundle)
    live_version, live_bundle = version, bundle
    pub = source_picker(folder, bundle, chosen.month)
    if pub is not None:
        version = published_version(pub)
        bundle = load_bundle(folder, version)
        chosen = replace(chosen, source=f"已发布修订{pub.revision}")
    with st.sidebar:
        who = f"当前用户：{user.name}（{user.label}）"
        if user.can(auth.ADMIN):  # versions are an administrator's detail (one caption: one message per rerun)
            who = (f"{bundle.targets.year} 年度 · 目标表版本 {bundle.targets.version[:8]} · "
                   f"数据版本 {store_version_of(live_version)}  \n{who}")
        st.caption(who)
        if user.login != auth.DEMO_LOGIN and st.button("退出登录", key="auth_logout", icon=":material/logout:"):
            store().log(user.name, "退出登录", user.login)
            st.session_state.clear()  # nothing of this session (checked files, filters) is left for the next user
            if auth_config().oidc:
                st.logout()
            st.rerun()
    return Frame(folder, version, bundle, chosen, user, live_version, live_bundle)


def frame(live: bool = False) -> Frame:
    """The frame app.py set up for this rerun (``live``: on live data whatever the 实时/已发布 switch says).

    Streamlit runs a page file without app.py while it is in its legacy
    pages/-folder mode: on the first request after a server start that lands on a
    page URL (until some run has called st.navigation). The page then registers the
    navigation itself and reruns once, so app.py takes over with this same URL; if
    that is not possible (AppTest resets the mode every run) it signs in and sets
    the frame up itself.
    """
    from streamlit.runtime.pages_manager import PagesManager  # the legacy-mode flag has no public accessor

    current_frame = st.session_state.pop("_frame", None)
    legacy = bool(getattr(PagesManager, "uses_pages_directory", False))
    if current_frame is None and legacy and not st.session_state.get("_navigation_claimed"):
        st.session_state["_navigation_claimed"] = True
        st.navigation([st.Page(path, title=title) for path, title, _, _ in PAGES], position="hidden")
        st.rerun()
    if current_frame is None:
        begin_rerun()  # app.py did not run (see above): this page starts the rerun
        current_frame = setup_frame(sign_in())
    st.session_state["_current_frame"] = current_frame
    return live_frame() if live else current_frame


def live_frame() -> Frame:
    """This rerun's frame on live data (after ``frame()``): for what acts on the store or compares with it."""
    current_frame = st.session_state["_current_frame"].live()
    st.session_state["_current_frame"] = current_frame
    return current_frame


def page_start(title: str | None, ignored: dict[str, str] | None = None) -> None:
    """What every page shows first: the demo banners, the title, the source, the filters in force (the compact CSS
    came with the sidebar's first heading, ``ui.filters.year_picker``).

    ``ignored`` names the global filters this page does not apply and why (筛选名 -> reason);
    the page says so whenever such a filter is set.
    """
    banner(current_data()[2])
    auth_banner()
    if title:
        st.title(title)
    source_badge()
    filter_summary(ignored or {})
