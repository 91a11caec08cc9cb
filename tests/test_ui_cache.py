"""Per-rerun savings in ui/ keep what the browser gets unchanged."""

from __future__ import annotations

import plotly.io
import plotly.tools

import ui
from lib import charts


def spec(fig) -> str:
    """What st.plotly_chart sends for a figure (its two calls, as in streamlit/elements/plotly_chart.py)."""
    return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)


def test_cached_figure_sends_the_same_spec_from_its_kept_dict():
    fresh = charts.status_donut({"已完成": 3, "正常推进": 20, "滞后": 5, "严重滞后": 2}, "项目状态分布")
    expected = spec(fresh)
    shared = ui._cached_figure(("test-donut", "folder", "v1", None, ()), lambda: fresh)
    assert isinstance(shared, ui.SharedFigure)
    assert spec(shared) == expected
    assert shared.to_dict() is shared.to_dict()  # made once, not per rerun
    assert spec(shared) == expected  # sending it did not change it


def test_a_new_revision_shows_at_once_though_the_list_is_cached(demo_copy):
    from lib import publish as PB
    from lib.store import Store

    store, folder = Store(demo_copy), str(demo_copy)
    before = store.publications_version()
    assert ui._revision_options(folder, 2024, 6).empty
    assert store.publications_version() == before  # reading moves nothing
    PB.publish(store, 2024, 6, "李四")
    assert store.publications_version() != before
    assert ui._revision_options(folder, 2024, 6)["revision"].tolist() == [0]
    PB.publish(store, 2024, 6, "李四", reason="更正")
    assert ui._revision_options(folder, 2024, 6)["revision"].tolist() == [0, 1]
