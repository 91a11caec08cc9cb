"""Entry point: page config, sign-in, navigation for the user's role, data and global filters."""

import streamlit as st

import ui
from lib.auth import ADMIN, ANALYST, VIEWER

st.set_page_config(page_title="重点民生实事进展看板", page_icon=":material/assignment_turned_in:", layout="wide")

# (file, title, icon, least role): pages a role may not use are not in its navigation at all.
PAGES = [
    ("pages/overview.py", "总览", ":material/dashboard:", VIEWER),
    ("pages/category.py", "分类进展", ":material/category:", VIEWER),
    ("pages/unit.py", "单位进展", ":material/apartment:", VIEWER),
    ("pages/county.py", "县区进展", ":material/map:", VIEWER),
    ("pages/project.py", "项目详情", ":material/description:", VIEWER),
    ("pages/export.py", "数据导出", ":material/download:", VIEWER),
    ("pages/upload.py", "数据上报", ":material/upload_file:", ANALYST),
    ("pages/targets.py", "目标表", ":material/table_edit:", ADMIN),
    ("pages/admin.py", "用户与审计", ":material/admin_panel_settings:", ADMIN),
]

user = ui.signed_in_user()
if user is None:
    # Register every page (hidden) so the URL a user opened survives sign-in, then ask for credentials.
    st.navigation([st.Page(path, title=title, default=path == "pages/overview.py") for path, title, _, _ in PAGES],
                  position="hidden")
    ui.login_form()  # stops the run

page = st.navigation([st.Page(path, title=title, icon=icon, default=path == "pages/overview.py")
                      for path, title, icon, role in PAGES if user.can(role)])

# Data and the global filters, shared by every page (ui.frame() hands them over).
st.session_state["_frame"] = ui.setup_frame(user)
page.run()
