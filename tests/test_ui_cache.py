"""Per-rerun savings in ui.py keep what the browser gets unchanged."""

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
