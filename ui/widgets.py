"""What pages show: cards, chips, legends, the compact CSS, tables (with the one set of column settings for
完成率/序时进度/差距) and cached charts. Constant markup only; user data goes through Streamlit's escaping, or
html.escape in ``cards``."""

from __future__ import annotations

import re
import weakref
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io
import streamlit as st
from streamlit.elements import arrow as _st_arrow

from lib import charts, ledger
from lib import schema as S
from lib.formatting import MISSING, MONTH_FORMAT, display_table, display_text
from lib.status import done_at
from lib.targets import Targets
from ui.data import Bundle, SharedMemo, current_data
from ui.filters import current_filters

# What the three figures every table shows mean: the legend and the column headers' help both read them here.
MEANINGS = {
    "完成率": "累计完成 ÷ 年度目标（汇总时每项封顶 100%）",
    "序时进度": "截至月末应完成的比例，默认“月份 ÷ 12”；目标表“序时计划”中的指标按其计划",
    "差距": "完成率 − 序时进度",
}
# The one set of column settings for 完成率/序时进度/差距: ui.table applies it, and pages that show these columns in
# their own st.dataframe take it from ``column_settings``.
COLUMN_SETTINGS = {
    "完成率": st.column_config.Column("完成率", help=MEANINGS["完成率"]),
    "序时进度": st.column_config.Column("序时进度", help=MEANINGS["序时进度"]),
    "差距": st.column_config.Column("差距（个百分点）", help=MEANINGS["差距"]),
}


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def column_settings(frame: pd.DataFrame) -> dict:
    """The shared column settings of the figure columns ``frame`` has."""
    return {column: setting for column, setting in COLUMN_SETTINGS.items() if column in frame}


def banner(bundle: Bundle) -> None:
    if bundle.is_demo:
        st.warning("**示例数据**：系统生成的演示数据，仅供体验，不代表真实进展。", icon=":material/science:")


def status_legend(targets: Targets) -> None:
    with st.expander("图例与口径：序时进度、状态颜色", icon=":material/info:"):
        chips = " ".join(
            f"<span style='background:{S.STATUS_COLORS[s]};color:white;padding:2px 8px;border-radius:10px;margin-right:4px'>{s}</span>"
            for s in S.STATUSES)
        st.markdown(  # our own constant markup and the target table's thresholds (numbers): one element
            f"{chips}\n\n"
            f"- **完成率** = {MEANINGS['完成率']}。\n"
            f"- **序时进度** = {MEANINGS['序时进度']}。\n"
            f"- **差距** = {MEANINGS['差距']}（个百分点）。落后不超过 {targets.lag_threshold:g} 个百分点为正常推进，"
            f"超过 {targets.lag_threshold:g} 为滞后，超过 {targets.severe_threshold:g} 为严重滞后；完成率 ≥ 100% 为已完成。\n"
            f"- **目标口径**：“约”“左右”达到目标的 {done_at(S.BASIS_ABOUT):.0%} 即为已完成；“以上”“不少于”“不低于”达到目标数为已完成；"
            "“不高于”是上限，当前水平不超过上限即为已完成（序时进度按 100% 计），超过为滞后或严重滞后。\n"
            "- 定性指标按填报单位选择的进展状态；“未启动”在一季度内视为正常推进。",
            unsafe_allow_html=True)


def status_chip(status: str) -> str:
    """Coloured status label for st.markdown (our constant colours only)."""
    return f":{S.STATUS_MARKDOWN_COLORS.get(status, 'gray')}-background[{status}]"


class SharedFigure(go.Figure):
    """A cached figure shared read-only by every session, its dict form and its JSON computed once.

    st.plotly_chart calls ``to_dict()`` on every rerun (a deep copy of the figure with every array
    base64-encoded), then ``plotly.io.to_json`` of that dict: together more than half of what a chart
    costs the live server per rerun (py-spy, bench/RESULTS.md). A shared figure answers with the dict
    made when it was cached, and that dict carries the JSON made of it then (``_SharedSpec``).
    """

    def to_dict(self):
        return self._shared_dict  # never mutated: plotly.io.to_json and Streamlit only read it


class _SharedSpec(dict):
    """A shared figure's dict form and ``json``, the string plotly.io.to_json made of it when it was cached."""

    __slots__ = ("json",)


_FIGURES = SharedMemo(512)


def _cached_figure(cache_key: tuple, build):
    return _FIGURES.get(cache_key, lambda: _shared(build()))


def _shared(fig):
    if type(fig) is go.Figure:
        shared_dict = _SharedSpec(fig.to_dict())
        shared_dict.json = _plotly_to_json(dict(shared_dict), validate=False)  # as st.plotly_chart calls it
        fig.__class__ = SharedFigure  # same layout; only to_dict differs
        fig._shared_dict = shared_dict
    return fig


def _to_json_once(fig, validate=True, pretty=False, remove_uids=True, engine=None):
    """plotly.io.to_json, answering for a shared figure's dict with the JSON made when it was cached."""
    if type(fig) is _SharedSpec and not pretty and remove_uids and engine is None:
        return fig.json
    return _plotly_to_json(fig, validate=validate, pretty=pretty, remove_uids=remove_uids, engine=engine)


# Plotly's own function, kept once per process (a second import of this module must not wrap its wrapper).
_plotly_to_json = getattr(plotly.io, "_livelihood_original_to_json", plotly.io.to_json)
plotly.io._livelihood_original_to_json = _plotly_to_json
plotly.io.to_json = _to_json_once  # the name st.plotly_chart calls (streamlit/elements/plotly_chart.py)


def chart(build, key: str, depends: tuple = (), all_filters: bool = True, **kwargs):
    """st.plotly_chart with our colours (theme=None) and config; every chart has a key for tests.

    ``build`` returns the figure. Building Plotly figures costs tens of milliseconds, so
    a figure is built once per (chart, store version, filters, ``depends``) and reused
    read-only on later reruns. A chart that depends on only some filters passes
    ``all_filters=False`` and names them in ``depends``, so other filters do not rebuild it.
    """
    folder, version, _ = current_data()
    fig = _cached_figure((key, folder, version, current_filters() if all_filters else None, tuple(depends)), build)
    return st.plotly_chart(fig, key=key, theme=None, config=charts.PLOTLY_CONFIG, **kwargs)


def _css_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def file_uploader(label: str, key: str, types: list[str] | None = None, limit_mb: int | None = None,
                  accepts: str | None = None, **kwargs):
    """st.file_uploader that says what it takes in Chinese: '.xlsx 或 .zip · 每个文件不超过 10 MB'.

    ``types`` restricts the files (as ``type``); ``limit_mb`` is the size the page's own check allows (default:
    the server's maxUploadSize; a smaller one is only said here, so a larger file gets our Chinese refusal rather
    than Streamlit's English one); ``accepts`` words the accepted files where ``types`` does not (the upload page
    checks any file itself). The text replaces Streamlit's English through this uploader's key class (ui.style's
    COMPACT_CSS holds the rest).
    """
    limit = limit_mb or st.get_option("server.maxUploadSize")
    what = accepts or ("、".join(f".{t}" for t in types) if types else "")
    hint = f"{what + ' · ' if what else ''}每个文件不超过 {limit:g} MB"
    css_key = re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())  # as Streamlit names the st-key-… class
    st.html(f'<style>.st-key-{css_key} [data-testid="stFileUploaderDropzoneInstructions"] > div::after '
            f'{{content: "{_css_text(hint)}";}}</style>')
    return st.file_uploader(label, type=types, key=key, **kwargs)


def status_cards(counts: dict[str, int], total: int) -> None:
    """One coloured card per status (numbers and our constant labels only)."""
    cells = "".join(
        f"<div style='border-left:6px solid {S.STATUS_COLORS[s]};background:#f6f8fa;padding:6px 10px;border-radius:6px'>"
        f"<div style='font-size:0.85rem;color:#57606a'>{s}</div>"
        f"<div style='font-size:1.6rem;font-weight:600'>{int(counts.get(s, 0))}<span style='font-size:0.9rem'> 个</span></div></div>"
        for s in S.STATUSES)
    head = (f"<div style='background:#f6f8fa;padding:6px 10px;border-radius:6px'><div style='font-size:0.85rem;color:#57606a'>"
            f"项目总数</div><div style='font-size:1.6rem;font-weight:600'>{int(total)}<span style='font-size:0.9rem'> 个</span></div></div>")
    st.markdown(f"<div class='status-cards'>{head}{cells}</div>", unsafe_allow_html=True)


# Columns read as percentages, gaps and months, in tables and their phone cards alike.
PERCENT_COLUMNS, POINT_COLUMNS, MONTH_COLUMNS = ("完成率", "序时进度", "预计年末完成率"), ("差距",), ("月份", "数据月份")


def table(frame: pd.DataFrame, key: str, percent=PERCENT_COLUMNS, points=POINT_COLUMNS, months=MONTH_COLUMNS, **kwargs):
    """st.dataframe as a person reads it (lib.formatting.display_table): one decimal for %, '—' for no value.

    A frame that lives across reruns (a cached view from ui.data) is formatted and marshalled once: see ``readable``.
    """
    choice = (percent, points, months)
    made = _kept("table", frame)
    if made is None or made[0] != choice:  # a cached view's table is worked out once, not on every rerun
        made = (choice, *_table_form(frame, percent, points, months))
        _keep("table", frame, made)
    shown, config = made[1], {**made[2], **kwargs.pop("column_config", {})}
    return st.dataframe(shown, hide_index=True, key=key, column_config=config, placeholder=MISSING, **kwargs)


def _table_form(frame: pd.DataFrame, percent, points, months) -> tuple:
    """What ui.table hands st.dataframe for ``frame``: the readable table and the column settings."""
    percent, points, months = (tuple(c for c in columns if c in frame) for columns in (percent, points, months))
    shown = readable(frame, percent, points, months)
    config = column_settings(frame)
    if not percent and not points and all(c in months for c in frame.columns if _is_number(frame[c])):
        # Only months to format (a long narrative table such as a project's history): the browser formats them
        # (MONTH_FORMAT), and no Styler is rendered cell by cell in Python (0.8 s for 1,920 rows).
        config.update({c: st.column_config.NumberColumn(c, format=MONTH_FORMAT) for c in months})
        shown = shown.data  # text columns filled with '—' as in the Styler
    if "进展状态" in frame:  # the unit's own choice, beside the status the system computes
        config["进展状态"] = st.column_config.Column("单位自报状态", help="填报单位在报表中选择的进展状态；"
                                                                   "“状态”列由系统按完成率与序时进度计算")
    return shown, config


# --- readable tables made once --------------------------------------------------------------------------------
# st.dataframe re-renders a pandas Styler on every rerun: Styler._translate walks every cell in Python, then
# Streamlit rebuilds the display values cell by cell and converts both frames to Arrow. On the export page at
# Y=5 K=10 that was 70 % of the live server's rerun time (py-spy, bench/RESULTS.md). A frame that outlives the
# rerun (a cached view) gets one Styler, and that Styler's marshalled form (display values, styles, Arrow bytes) is
# kept beside it and handed to Streamlit again, byte for byte what it would have computed (tests/test_ui_cache.py).
# Entries are keyed on id() with a weak reference to the object, so they go when the cached frame is evicted.

_KEPT: dict[tuple[str, int], tuple] = {}


def _keep(kind: str, obj, value) -> None:
    key = (kind, id(obj))
    _KEPT[key] = (weakref.ref(obj, lambda _ref, key=key, kept=_KEPT: kept.pop(key, None)), value)  # safe at exit


def _entry(kind: str, obj) -> tuple | None:
    """``obj``'s entry of ``kind`` (weak reference, value), or None (never kept, or kept for an object now gone
    whose id() was reused)."""
    entry = _KEPT.get((kind, id(obj)))
    return entry if entry is not None and entry[0]() is obj else None


def _kept(kind: str, obj):
    entry = _entry(kind, obj)
    return None if entry is None else entry[1]


def readable(frame: pd.DataFrame, percent: tuple = (), points: tuple = (), months: tuple = ()):
    """lib.formatting.display_table of ``frame``, made once per frame object and formatting choice."""
    made = _kept("styler", frame)
    if made is not None and made[0] == (percent, points, months):
        return made[1]
    styler = display_table(frame, percent=list(percent), points=list(points), months=list(months))
    _keep("styler", frame, ((percent, points, months), styler))
    _keep("marshal", styler, None)  # to be filled by the first st.dataframe call
    _keep("arrow", styler.data, None)
    return styler


def kept_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``, a cached view handed to st.dataframe as it is (no formatting), with its Arrow bytes made once."""
    if _entry("arrow", frame) is None:
        _keep("arrow", frame, None)  # to be filled by the first st.dataframe call
    return frame


def _marshall_styler_once(proto, styler, default_uuid: str) -> None:
    kept = _entry("marshal", styler)
    if kept is None:
        return _marshall_styler(proto, styler, default_uuid)
    if kept[1] is None:
        _marshall_styler(proto, styler, default_uuid)
        _keep("marshal", styler, proto.styler.SerializeToString())
        _shed(styler)
    else:
        proto.styler.ParseFromString(kept[1])


def _shed(styler) -> None:
    """A kept Styler is never rendered again (its marshalled form is): drop its per-cell formatters and styles, a
    GC-tracked object per cell that every full collection of the process would otherwise walk."""
    for name in ("_display_funcs", "_display_funcs_index", "_display_funcs_columns", "ctx", "ctx_index",
                 "ctx_columns", "cellstyle_map", "cellstyle_map_index", "cellstyle_map_columns"):
        cells = getattr(styler, name, None)
        if isinstance(cells, dict):
            cells.clear()


def _arrow_bytes_once(df: pd.DataFrame) -> bytes:
    kept = _entry("arrow", df)
    if kept is None:
        return _to_arrow_bytes(df)
    if kept[1] is None:
        data = _to_arrow_bytes(df)
        _keep("arrow", df, data)
        return data
    return kept[1]


# Streamlit's own functions, kept once per process (a second import of this module must not wrap its wrappers).
_marshall_styler, _to_arrow_bytes = getattr(_st_arrow, "_livelihood_originals", (
    _st_arrow.marshall_styler, _st_arrow.dataframe_util.convert_pandas_df_to_arrow_bytes))
_st_arrow._livelihood_originals = (_marshall_styler, _to_arrow_bytes)
_st_arrow.marshall_styler = _marshall_styler_once  # the names st.dataframe calls (streamlit/elements/arrow.py)
_st_arrow.dataframe_util.convert_pandas_df_to_arrow_bytes = _arrow_bytes_once


def _cards_html(frame: pd.DataFrame, head: list[str], body: list[str], labels: dict[str, str]) -> str:
    text = display_text(frame, percent=[c for c in PERCENT_COLUMNS if c in frame],
                        points=[c for c in POINT_COLUMNS if c in frame], months=[c for c in MONTH_COLUMNS if c in frame])

    def labelled(column: str, value: str) -> str:
        label = labels.get(column, "")
        return f"<span class='row-card-label'>{escape(label)}</span>{escape(value)}" if label else escape(value)
    rows = []
    for record in text.to_dict("records"):
        title = " · ".join(labelled(c, record[c]) for c in head if record[c] not in ("", MISSING))
        lines = "".join(f"<div><span class='row-card-label'>{escape(labels.get(c, c))}</span>{escape(record[c])}</div>"
                        for c in body if record[c] not in ("", MISSING))
        rows.append(f"<div class='row-card'><div class='row-card-head'>{title}</div>{lines}</div>")
    return f"<div class='row-cards'>{''.join(rows)}</div>"


def cards(frame: pd.DataFrame, head: list[str], body: list[str], labels: dict[str, str] | None = None,
          phone_rows: int | None = None) -> None:
    """Each row as a small card that wraps (no sideways scrolling): ``head`` columns on the first line, then one line
    per ``body`` column that has a value, labelled (the first ``phone_rows`` rows if given). Values read as in
    ui.table; every value is escaped. The cards of a frame that lives across reruns (a cached view) are made once."""
    choice = (tuple(head), tuple(body), tuple(sorted((labels or {}).items())), phone_rows)
    made = _kept("cards", frame)
    if made is None or made[0] != choice:
        made = (choice, _cards_html(frame.head(phone_rows) if phone_rows else frame, head, body, labels or {}))
        _keep("cards", frame, made)
    st.html(made[1])


def table_or_cards(frame: pd.DataFrame, key: str, head: list[str], body: list[str], labels: dict[str, str] | None = None,
                   phone_rows: int | None = None, wide=None, **kwargs) -> None:
    """ui.table on a laptop; on a phone (ui.style's COMPACT_CSS, ≤ 640 px) the same rows as cards, so nothing scrolls sideways.
    ``phone_rows`` caps the cards (the first rows; the caption says how many there are); ``wide`` draws a table of
    the page's own instead of ui.table(frame, key, **kwargs). The cards of a frame that lives across reruns (a cached
    view) are made once, like its table (``readable``)."""
    with st.container(key=f"wide_{key}"):
        if wide is None:
            table(frame, key, **kwargs)
        else:
            wide()
    with st.container(key=f"narrow_{key}"):
        cards(frame, head, body, labels, phone_rows)
        if phone_rows and len(frame) > phone_rows:
            st.caption(f"手机上列出前 {phone_rows} 条（共 {len(frame)} 条）；全部记录请在电脑上查看，或在“数据导出”页下载。")


# Upload findings coloured by level.
FINDING_COLORS = {S.LEVEL_ERROR: "#ffd7d5", S.LEVEL_WARNING: "#fff1c2"}


def ledger_cards(counts: dict[str, int]) -> None:
    """The ledger's counts as cards (numbers and constant labels only); 逾期 in the overdue colour."""
    labels = [(ledger.CANDIDATE, "待确认", ledger.STATE_COLORS[ledger.CANDIDATE]),
              ("在办", "在办（待处理＋协调中）", ledger.STATE_COLORS[ledger.TODO]),
              ("逾期", "逾期未办结", ledger.OVERDUE_COLOR), ("本月办结", "本月办结", ledger.STATE_COLORS[ledger.DONE])]
    cells = "".join(
        f"<div style='flex:1;min-width:120px;border-left:6px solid {color};background:#f6f8fa;padding:6px 10px;"
        f"border-radius:6px'><div style='font-size:0.85rem;color:#57606a'>{label}</div>"
        f"<div style='font-size:1.5rem;font-weight:600;color:{color if key == '逾期' and counts[key] else 'inherit'}'>"
        f"{int(counts[key])}<span style='font-size:0.9rem'> 项</span></div></div>" for key, label, color in labels)
    st.markdown(f"<div style='display:flex;flex-wrap:wrap;gap:8px;margin-bottom:8px'>{cells}</div>", unsafe_allow_html=True)


LEDGER_COLUMNS = ["编号", "状态", "逾期", "项目", "指标编号", "县市区", "问题描述", "责任单位", "提出日期", "办结时限",
                  "报送次数", "最近进展"]


def ledger_table(items: pd.DataFrame):
    """The ledger as shown on a page: overdue rows highlighted (a Styler for st.dataframe), text never None."""
    shown = pd.DataFrame({
        "编号": items["编号"], "状态": items["状态"] + items["申请办结"].map(lambda w: "（申请办结）" if w else ""),
        "逾期": items["逾期天数"].map(lambda d: f"{d} 天" if d else ""),
        "项目": items["项目序号"].astype(str) + ". " + items["项目名称"], "指标编号": items["指标编号"],
        "县市区": items["县市区"], "问题描述": items["问题描述"], "责任单位": items["责任单位"],
        "提出日期": items["提出日期"], "办结时限": items["办结时限"], "报送次数": items["报送次数"],
        "最近进展": items["最近进展"]}, columns=LEDGER_COLUMNS).reset_index(drop=True)
    overdue = items["逾期"].to_numpy(dtype=bool)

    def style(data: pd.DataFrame) -> np.ndarray:
        """Every cell's CSS at once (a row-wise apply transposed the frame and built a Series per row: the ledger
        page's first run spent more on it than on the rest of the table); the same styles, cell for cell."""
        css = np.full(data.shape, "", dtype=object)
        css[overdue] = f"background-color:{ledger.OVERDUE_BACKGROUND};color:{ledger.OVERDUE_COLOR}"
        return css
    styler = shown.style.apply(style, axis=None)
    _keep("marshal", styler, None)  # marshalled once by the first st.dataframe call (a page keeps it with ui.cached)
    _keep("arrow", styler.data, None)
    return styler


LEDGER_COLUMN_CONFIG = {
    "编号": st.column_config.NumberColumn("编号", width="small", format="%d"),
    "问题描述": st.column_config.TextColumn("问题描述", width="large"),
    "最近进展": st.column_config.TextColumn("最近进展", width="medium"),
    "报送次数": st.column_config.NumberColumn("报送次数", width="small", help="单位在不同月份报送同一问题的次数"),
}
