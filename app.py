"""Entry point: page config, sign-in, navigation for the user's role, data and global filters."""

import streamlit as st

import ui
from lib import logs

logs.setup()  # once per process: operator messages (with tracebacks) to stderr
ui.begin_rerun()  # the store's versions and the sign-in configuration: read once in this rerun
# An emoji tab icon is drawn by the browser itself (a data: SVG); a ":material/…:" one is fetched from
# fonts.gstatic.com, which an office intranet cannot reach.
st.set_page_config(page_title="重点民生实事进展看板", page_icon="📋", layout="wide")

user = ui.signed_in_user()
if user is None:
    # Register every page (hidden) so the URL a user opened survives sign-in, then ask for credentials.
    st.navigation(ui.nav_pages(None), position="hidden")
    ui.login_form()  # stops the run

page = st.navigation(ui.nav_pages(user))

# Data and the global filters, shared by every page (ui.frame() hands them over).
st.session_state["_frame"] = ui.setup_frame(user)
page.run()
