"""The global filters (sidebar), mirrored in the query string so a shared link shows the same view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from lib import schema as S
from ui.style import compact

if TYPE_CHECKING:
    from ui.data import Bundle


FILTER_KEYS = {"f_month": "month", "f_category": "category", "f_unit": "unit", "f_county": "county", "f_status": "status"}


@dataclass(frozen=True)
class Filters:
    month: int
    categories: tuple[str, ...]
    units: tuple[str, ...]
    counties: tuple[str, ...]
    statuses: tuple[str, ...]
    source: str = ""  # "" for live figures, else the published revision shown, e.g. 已发布修订0

    def for_names(self) -> dict:
        return {"类别": list(self.categories), "牵头单位": list(self.units), "县市区": list(self.counties),
                "状态": list(self.statuses), "口径": self.source}

    def _apply(self, frame: pd.DataFrame, by_county: bool) -> pd.DataFrame:
        pairs = [("类别", self.categories), ("牵头单位", self.units), ("状态", self.statuses)]
        if by_county:
            pairs.append(("县市区", self.counties))
        for column, chosen in pairs:
            if chosen:
                frame = frame[frame[column].isin(chosen)]
        return frame

    def projects(self, projects: pd.DataFrame) -> pd.DataFrame:
        """Project-level rows (the county filter does not apply: projects are city-wide)."""
        return self._apply(projects, by_county=False)

    def detail(self, detail: pd.DataFrame) -> pd.DataFrame:
        """Indicator × county rows, every filter applied."""
        return self._apply(detail, by_county=True)

    def active(self) -> dict[str, tuple[str, ...]]:
        """The list filters a user has set (name -> chosen values), in the sidebar's order."""
        chosen = {"类别": self.categories, "牵头单位": self.units, "县市区": self.counties, "状态": self.statuses}
        return {name: values for name, values in chosen.items() if values}


def current_filters() -> Filters:
    """The filters of this rerun's frame (set up by app.py before the page runs)."""
    return st.session_state["_current_frame"].filters


def _from_url(key: str, options: list, multi: bool):
    raw = st.query_params.get(FILTER_KEYS[key])
    if raw is None:
        return None
    if multi:
        return [v for v in raw.split(",") if v in options]
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value in options else None


def year_picker(years: list[int]) -> int:
    """The sidebar's 年度 (first of the filters, mirrored in the URL as ``?year=2024``): which year every page,
    export, publication and report shows. Default: the latest year with a target table. A link to a year the
    store has no table for falls back to the default, and the picker says so."""
    if "year_loaded" not in st.session_state:
        raw = st.query_params.get("year")
        if raw is not None:
            if raw.isdigit() and int(raw) in years:
                st.session_state["f_year"] = int(raw)
            else:
                st.session_state["_year_unknown"] = raw
        st.session_state["year_loaded"] = True
    if st.session_state.get("f_year") not in years:
        st.session_state["f_year"] = years[-1]
    with st.sidebar:
        compact("#### 筛选")  # the page's CSS in the same element
        st.selectbox("年度", years, key="f_year", format_func=lambda y: f"{y} 年度", on_change=_year_changed,
                     help="各页、导出、发布与通报都显示所选年度；每个年度有自己的目标表（“目标表”页上传）")
        unknown = st.session_state.get("_year_unknown")
        if unknown is not None:
            st.caption(f"链接中的年度“{unknown}”没有目标表，显示 {st.session_state['f_year']} 年度。")
    year = int(st.session_state["f_year"])
    if st.query_params.get("year") != str(year):
        st.query_params["year"] = str(year)
    return year


def _year_changed() -> None:
    """Another year: its own latest month and lists, and no note about the link's year any more."""
    st.session_state.pop("f_month", None)
    st.session_state.pop("_year_unknown", None)


def sidebar_filters(bundle: Bundle) -> Filters:
    """Global filters shared by every page; read from and written to the query string."""
    t = bundle.targets
    options = t.cached("sidebar_options", lambda: {  # read from the table once, not on every rerun
        "f_month": list(range(1, 13)), "f_category": list(dict.fromkeys(t.projects["类别"])),
        "f_unit": list(dict.fromkeys(t.projects["牵头单位"])), "f_county": t.counties, "f_status": S.STATUSES})
    months, categories, units, counties = (options[key] for key in ("f_month", "f_category", "f_unit", "f_county"))
    if "filters_loaded" not in st.session_state:
        # A shared link sets the view once; after that the widgets own the state.
        for key, opts in options.items():
            value = _from_url(key, opts, multi=key != "f_month")
            if value is not None:
                st.session_state[key] = value
        st.session_state["filters_loaded"] = True
    default_month = bundle.latest_month or 1
    if st.session_state.get("f_month") not in months:
        st.session_state["f_month"] = default_month
    for key in ("f_category", "f_unit", "f_county"):  # after a change of year: only what the year's table lists
        if key in st.session_state:
            st.session_state[key] = [v for v in st.session_state[key] if v in options[key]]
    with st.sidebar:
        st.selectbox("截至月份", months, key="f_month", format_func=lambda m: f"{t.year} 年 {m} 月",
                     help="默认为多数单位已报送的最新月份")
        st.multiselect("类别", categories, key="f_category", select_all=False, placeholder="全部类别")
        st.multiselect("牵头单位", units, key="f_unit", select_all=False, placeholder="全部单位")
        st.multiselect("县市区", counties, key="f_county", select_all=False, placeholder="全部县市区",
                       help="作用于县区进展、项目详情的分县数据、总览的存在问题与明细导出；项目按全市统计")
        st.multiselect("状态", S.STATUSES, key="f_status", select_all=False, placeholder="全部状态")
    in_url = st.query_params.to_dict()  # one read of the URL, not one proxy call per comparison
    for key, param in FILTER_KEYS.items():
        value = st.session_state.get(key)
        text = ",".join(value) if isinstance(value, list) else (str(value) if value else "")
        if text:
            if in_url.get(param) != text:
                st.query_params[param] = text
        elif param in in_url:
            del st.query_params[param]
    return Filters(
        month=int(st.session_state["f_month"]),
        categories=tuple(st.session_state.get("f_category") or ()),
        units=tuple(st.session_state.get("f_unit") or ()),
        counties=tuple(st.session_state.get("f_county") or ()),
        statuses=tuple(st.session_state.get("f_status") or ()),
    )


ALL_FILTERS = "全部筛选"  # key of ``ignored`` for pages that apply none of the sidebar's filters


def filter_summary(ignored: dict[str, str]) -> None:
    """One line under the title: the filters in force, and those this page does not apply (with why)."""
    active = current_filters().active()
    if ALL_FILTERS in ignored:
        st.caption(f"侧栏筛选不作用于本页：{ignored[ALL_FILTERS]}。", help=None)
        return
    used = [f"{name}：{'、'.join(values)}" for name, values in active.items() if name not in ignored]
    notes = [f"“{name}”筛选未用于{ignored[name]}" for name in active if name in ignored]
    parts = (["筛选 · " + "；".join(used)] if used else []) + notes
    if parts:
        st.caption(" · ".join(parts), help=None)


def url_pick(widget_key: str, param: str, options: list) -> None:
    """Seed a page widget from the URL once (a shared link reproduces it)."""
    raw = st.query_params.get(param)
    if widget_key not in st.session_state and raw is not None:
        for option in options:
            if str(option) == raw:
                st.session_state[widget_key] = option


def url_keep(param: str, value) -> None:
    """Mirror a page widget's value in the URL (None removes it)."""
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != str(value):
        st.query_params[param] = str(value)
