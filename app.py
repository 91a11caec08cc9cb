"""Entry point: page config, data, global filters, navigation."""

import streamlit as st

import ui

st.set_page_config(page_title="重点民生实事进展看板", page_icon=":material/assignment_turned_in:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="总览", icon=":material/dashboard:", default=True),
    st.Page("pages/category.py", title="分类进展", icon=":material/category:"),
    st.Page("pages/unit.py", title="单位进展", icon=":material/apartment:"),
    st.Page("pages/county.py", title="县区进展", icon=":material/map:"),
    st.Page("pages/project.py", title="项目详情", icon=":material/description:"),
    st.Page("pages/upload.py", title="数据上报", icon=":material/upload_file:"),
    st.Page("pages/export.py", title="数据导出", icon=":material/download:"),
]
page = st.navigation(PAGES)

# Data and the global filters, shared by every page (ui.frame() hands them over).
st.session_state["_frame"] = ui.setup_frame()
page.run()
