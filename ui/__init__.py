"""Streamlit glue shared by app.py and the pages; everything that computes lives in lib/.

- ``ui.data``: the store and every cached view (keyed on store version or published revision, month, filters);
- ``ui.filters``: the global filters and page widgets mirrored in the URL;
- ``ui.source``: the 实时 / 已发布 switch;
- ``ui.access``: navigation per role, sign-in, server-side checks, audited exports;
- ``ui.widgets``: cards, chips, legends, CSS, tables (one set of column settings), cached charts;
- ``ui.style``: the CSS every page gets;
- ``ui.page``: one rerun's frame (data, filters, source, user) and what every page shows first.
- ``ui.server``: what the live server repeats on every rerun though it cannot change, made once.

The names pages use are re-exported here, so ``import ui; ui.table(...)`` works.
"""

import gc

from ui import server  # noqa: F401  (imported for its effect: Streamlit's per-rerun theme message made once)
from ui.access import (
    DEFAULT_PAGE,
    PAGES,
    auth_banner,
    auth_config,
    client_address,
    logged_export,
    login_form,
    markdown_text,
    nav_pages,
    rate_limiter,
    refuse,
    reporting_units,
    require,
    require_unit,
    sign_in,
    signed_in_user,
    user,
)
from ui.data import (
    PUBLISHED_PREFIX,
    Bundle,
    MonthView,
    _revision_options,
    begin_rerun,
    cached,
    changes_since_view,
    changes_view,
    county_matrix_view,
    county_view,
    current,
    current_data,
    detail_by_project,
    detail_view,
    details_until,
    filtered_detail,
    filtered_projects,
    get_store,
    history_view,
    last_year,
    ledger_counts,
    ledger_items,
    ledger_key,
    ledger_sync,
    load_bundle,
    month_view,
    projection_view,
    published_version,
    report_figures,
    report_summary,
    store,
    store_versions,
    template_bytes,
    trend_view,
    view,
)
from ui.filters import ALL_FILTERS, FILTER_KEYS, Filters, current_filters, filter_summary, sidebar_filters, url_keep, url_pick
from ui.page import Frame, frame, live_frame, page_start, setup_frame
from ui.source import LIVE_LABEL, SOURCE_LIVE, SOURCE_PARAMS, SOURCE_PUBLISHED, show_published, source_badge, source_picker
from ui.style import compact
from ui.widgets import (
    COLUMN_SETTINGS,
    FINDING_COLORS,
    LEDGER_COLUMN_CONFIG,
    LEDGER_COLUMNS,
    MEANINGS,
    SharedFigure,
    _cached_figure,
    banner,
    cards,
    chart,
    column_settings,
    file_uploader,
    kept_frame,
    ledger_cards,
    ledger_table,
    readable,
    status_cards,
    status_chip,
    status_legend,
    table,
    table_or_cards,
)

__all__ = [
    "ALL_FILTERS", "Bundle", "COLUMN_SETTINGS", "DEFAULT_PAGE", "FILTER_KEYS", "FINDING_COLORS", "Filters", "Frame", "frame",
    "LEDGER_COLUMNS", "LEDGER_COLUMN_CONFIG", "LIVE_LABEL", "MEANINGS", "MonthView", "PAGES", "PUBLISHED_PREFIX",
    "SOURCE_LIVE", "SOURCE_PARAMS", "SOURCE_PUBLISHED", "SharedFigure", "_cached_figure", "_revision_options",
    "auth_banner", "begin_rerun", "cached", "auth_config", "banner", "changes_since_view", "changes_view", "chart", "client_address",
    "cards", "column_settings", "compact", "county_matrix_view", "county_view", "current", "current_data", "current_filters",
    "detail_by_project", "detail_view", "details_until", "file_uploader", "filter_summary", "kept_frame",
    "filtered_detail", "filtered_projects", "get_store", "history_view",
    "last_year", "ledger_cards", "ledger_counts", "ledger_items", "ledger_key", "ledger_sync",
    "ledger_table", "live_frame", "load_bundle", "logged_export", "login_form", "markdown_text", "month_view",
    "nav_pages", "page_start", "projection_view", "readable", "published_version", "rate_limiter", "refuse", "report_figures", "report_summary",
    "reporting_units", "require", "require_unit", "setup_frame", "show_published", "sidebar_filters", "sign_in",
    "signed_in_user", "source_badge", "source_picker", "status_cards", "status_chip", "status_legend", "store", "store_versions",
    "table", "table_or_cards", "template_bytes", "trend_view", "url_keep", "url_pick", "user", "view",
]

# What is imported by now (Streamlit, pandas, Plotly, lib/: ~140,000 objects) lives as long as the server. Frozen, it
# is left out of the cycle collector's full collections, which otherwise walk it every time (~0.1 s of CPU each; one
# falls every dozen or so new views, e.g. a project's first visit: bench/RESULTS.md). Collected first, so no garbage
# of the imports is kept.
gc.collect()
gc.freeze()
