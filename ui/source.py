"""The 实时 / 已发布 switch (sidebar, mirrored in the URL) and the badge naming the figures a page shows."""

from __future__ import annotations

import streamlit as st

from lib import publish as PB
from ui.data import PUBLISHED_PREFIX, Bundle, _revision_options, current_data, load_bundle

# --- 实时 / 已发布 (sidebar, mirrored in the URL) ------------------------------------------------

SOURCE_LIVE, SOURCE_PUBLISHED = "实时", "已发布"
SOURCE_PARAMS = {SOURCE_LIVE: "live", SOURCE_PUBLISHED: "published"}  # ?source=…&rev=…
LIVE_LABEL = "实时数据 · 随报送、更正与恢复随时变化"


def source_picker(folder: str, bundle: Bundle, month: int) -> PB.Publication | None:
    """The 实时 / 已发布 switch for the chosen month: the publication to show, or None for live figures.

    Default: the latest revision of the month where one exists. The URL carries the choice and the revision, so a
    shared link shows the same figures even after a later revision.
    """
    year = bundle.targets.year
    revisions = _revision_options(folder, year, month)
    if "source_loaded" not in st.session_state:
        raw = st.query_params.get("source")
        chosen = {v: k for k, v in SOURCE_PARAMS.items()}.get(raw)
        if chosen:
            st.session_state["f_source"] = chosen
        rev = st.query_params.get("rev")
        if rev and rev.isdigit():
            st.session_state["f_revision"] = int(rev)
        st.session_state["source_loaded"] = True
    if "_show_revision" in st.session_state:  # set by show_published() on the previous run
        st.session_state["f_source"] = SOURCE_PUBLISHED
        st.session_state["f_revision"] = st.session_state.pop("_show_revision")
    st.session_state.setdefault("f_source", SOURCE_PUBLISHED)
    pub = None
    with st.sidebar:
        st.markdown("#### 数据口径")
        if revisions.empty:  # one caption, not two: every element is a message to send per rerun
            st.caption(f"{year} 年 {month} 月尚未发布，显示实时数据。  \n{LIVE_LABEL}")
        else:
            st.radio("数据口径", [SOURCE_PUBLISHED, SOURCE_LIVE], key="f_source", horizontal=True,
                     label_visibility="collapsed", help="已发布：该月发布时冻结的正式数字；实时：当前库中的最新数据")
            numbers = revisions["revision"].astype(int).tolist()
            if st.session_state.get("f_revision") not in numbers:
                st.session_state["f_revision"] = numbers[-1]
            if st.session_state["f_source"] == SOURCE_PUBLISHED:
                if len(numbers) > 1:
                    st.selectbox("修订", numbers, key="f_revision", format_func=lambda n: f"修订 {n}"
                                 + ("（最新）" if n == numbers[-1] else ""))
                row = revisions[revisions["revision"] == st.session_state["f_revision"]].iloc[0]
                pub = load_bundle(folder, f"{PUBLISHED_PREFIX}{int(row['id'])}:{row['content_hash'][:16]}").publication
            if pub is not None:
                st.info(pub.label(), icon=":material/verified:")
            else:
                st.caption(LIVE_LABEL)
    source = SOURCE_PARAMS[SOURCE_PUBLISHED if pub is not None else SOURCE_LIVE]
    wanted = {"source": source, "rev": str(pub.revision) if pub is not None else None}
    in_url = st.query_params.to_dict()  # one read of the URL, not one proxy call per comparison
    if revisions.empty and "source" not in in_url:
        wanted["source"] = None  # nothing to choose yet: a link keeps following the default
    for param, text in wanted.items():
        if text is None:
            if param in in_url:
                del st.query_params[param]
        elif in_url.get(param) != text:
            st.query_params[param] = text
    return pub


def show_published(revision: int) -> None:
    """Switch the sidebar to a revision of the chosen month from the next rerun on (e.g. just published)."""
    st.session_state["_show_revision"] = revision


def source_badge() -> None:
    """Which figures the page shows: a published revision (its label) or the live state."""
    pub = current_data()[2].publication
    if pub is not None:
        st.markdown(f":green-badge[:material/verified: {pub.label()}]")
    else:
        st.markdown(f":blue-badge[:material/bolt: {LIVE_LABEL}]")
