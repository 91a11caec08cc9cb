"""The CSS every page gets (constant markup only), sent with the sidebar's first heading: one element per rerun."""

from __future__ import annotations

import streamlit as st

COMPACT_CSS = """
<style>
  .block-container {padding-top: 1.2rem; padding-bottom: 1rem;}
  h1 {font-size: 1.7rem !important; padding-top: 0.2rem !important;}
  [data-testid="stAlert"] [data-testid="stAlertContainer"] {padding: 0.35rem 0.8rem; min-height: 0;}
  [data-testid="stAlert"] p {font-size: 0.85rem;}
  [data-testid="stMetricValue"] {font-size: 1.6rem;}
  .status-cards {display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px;}
  .status-cards > div {flex: 1 1 0; min-width: 92px;}
  [data-testid="stExpandSidebarButton"]::after, [data-testid="stSidebarCollapsedControl"] button::after {
    content: "筛选"; font-size: 0.9rem; margin-left: 2px;}
  /* Streamlit's file uploader has no locale (1.67): its English words are replaced with ours, see file_uploader */
  [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {display: none;}
  [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {content: "%(button)s";}
  [data-testid="stFileUploaderDropzoneInstructions"] span {display: none;}
  [data-testid="stFileUploaderDropzoneInstructions"] > div::after {
    content: "%(hint)s"; font-size: 0.85rem; color: rgba(47, 45, 43, 0.7);}
  /* A table with a phone twin (table_or_cards): the table on a laptop, its rows as cards on a phone */
  [class*="st-key-narrow_"] {display: none;}
  .row-cards {display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 8px;}
  .row-card {border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 10px; font-size: 0.9rem; line-height: 1.45;
    overflow-wrap: anywhere; background: white;}
  .row-card-head {font-weight: 600; margin-bottom: 2px;}
  .row-card-label {color: #57606a; margin-right: 4px;}
  @media (max-width: 640px) {
    [class*="st-key-wide_"] {display: none;}
    [class*="st-key-narrow_"] {display: flex;}
    .block-container {padding-top: 3.6rem; padding-left: 0.8rem; padding-right: 0.8rem;}
    h1 {font-size: 1.35rem !important;}
    .status-cards > div {flex: 1 1 28%;}
  }
</style>
"""
UPLOAD_BUTTON = "选择文件"  # the uploader's button ("Upload" in Streamlit); also its accessible name
UPLOAD_HINT = "拖放文件到此处，或点击“选择文件”"  # under the button, where Streamlit writes "10MB per file • XLSX"
COMPACT_CSS = COMPACT_CSS.replace("%(button)s", UPLOAD_BUTTON).replace("%(hint)s", UPLOAD_HINT)


def compact(heading: str = "") -> None:
    """Less empty space so a 1366×768 screen shows the key figures without scrolling (constant CSS only).

    ``heading`` (markdown, our constant text) is sent in the same element: every element costs the live server a
    message per rerun (bench/RESULTS.md), so the CSS rides with the sidebar's first heading (``ui.filters``)."""
    st.markdown(f"{COMPACT_CSS}\n{heading}" if heading else COMPACT_CSS, unsafe_allow_html=True)
