"""Plotly figures for the dashboard: each takes a frame from lib.progress and returns a go.Figure.

Sized for a 1366×768 laptop: short titles, 13 px text, heights under 460 px.
The county map draws the boundaries as filled scatter traces, so it needs no
topology from a CDN and works offline.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale, sample_colorscale

from lib import schema as S
from lib.formatting import fmt_pct, fmt_signed_points, hover_pct
from lib.status import planned_share, planned_shares

FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
GAP_SCALE = "RdYlGn"  # diverging: red behind, yellow-white at 0 (持平), green ahead
GAP_STEP = 5.0  # the colour scale's span is the largest |gap| shown, rounded up to this many points
GAP_LIMIT = 40.0  # ... and at most this (beyond is clipped in colour only)
PLAN_COLOR = "#444444"
COMPLIANCE_COLORS = {"按时": S.GREEN, "逾期": S.ORANGE, "未报": S.RED, "未到期": "#d0d7de"}

# Plotly's toolbar and number words in Chinese (a leader sees only the buttons below).
ZH_CN_LOCALE = {
    "moduleType": "locale", "name": "zh-CN",
    "dictionary": {
        "Download plot as a png": "下载图片", "Download plot": "下载图片", "Autoscale": "自动缩放", "Reset axes": "还原",
        "Zoom": "缩放", "Pan": "平移", "Zoom in": "放大", "Zoom out": "缩小", "Reset view": "还原",
        "Double-click to zoom back out": "双击还原", "Taking snapshot - this may take a few seconds": "正在生成图片…",
        "Snapshot succeeded": "图片已生成", "Sorry, there was a problem downloading your snapshot!": "图片生成失败",
        "Show closest data on hover": "悬停显示最近数据", "Compare data on hover": "悬停比较数据",
        "Toggle Spike Lines": "参考线", "Box Select": "框选", "Lasso Select": "套索选择", "Produced with Plotly.js": "",
    },
    "format": {
        "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": [f"{m}月" for m in range(1, 13)], "shortMonths": [f"{m}月" for m in range(1, 13)],
        "date": "%Y-%m-%d", "decimal": ".", "thousands": ",",
    },
}
PLOTLY_CONFIG = {
    "displaylogo": False, "locale": "zh-CN", "locales": {"zh-CN": ZH_CN_LOCALE},
    "modeBarButtons": [["toImage"]],  # charts are for reading: no zoom/pan/select to get lost in
    "toImageButtonOptions": {"format": "png", "scale": 2},
    "scrollZoom": False,
}


def _merge(into: dict, update: dict) -> dict:
    """``update`` merged into ``into`` key by key, nested dicts merged (as Figure.update_layout merges)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _figure(data: list, title: str, height: int, *updates: dict) -> go.Figure:
    """The figure of ``data`` (trace dicts) with our title, font, margins and no drag-to-zoom (a phone scrolls the
    page instead of zooming a chart), then each of ``updates`` merged into the layout.

    Axes get ``automargin`` so tick labels (counties, units, 0%…100%) are never cut. The layout is made as one dict
    and the figure constructed once: Plotly's update_layout/add_* calls cost ~20 ms each (validation, relayout
    dispatch), several times the whole figure built this way (bench/RESULTS.md).
    """
    layout = dict(
        title=dict(text=title, font=dict(size=15), x=0, xanchor="left", y=1, yref="container", yanchor="top",
                   pad=dict(t=8, l=2), automargin=True),
        font=dict(family=FONT, size=13),
        height=height,
        margin=dict(l=10, r=10, t=44, b=10),
        plot_bgcolor="white",
        hoverlabel=dict(font=dict(family=FONT)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        dragmode=False,
        xaxis=dict(automargin=True, fixedrange=True),
        yaxis=dict(automargin=True, fixedrange=True),
    )
    for update in updates:
        _merge(layout, update)
    # Built without Plotly's validation (about a fifth of a project page's first visit): the traces and layout are our
    # own dicts, and tests/test_charts.py checks every chart's JSON equals the validated figure's.
    return go.Figure(data=data, layout=layout, _validate=False)


def gap_span(gaps) -> float:
    """Half-width of the gap colour scale: the largest |gap| there is, rounded up to GAP_STEP (at most GAP_LIMIT).

    0 stays the neutral middle; a spread of −4.5…−6.5 gets a ±10 scale where the worst county shows.
    """
    values = np.abs(np.asarray([g for g in gaps if g is not None and g == g], dtype=float))
    if not len(values):
        return GAP_STEP
    return float(min(GAP_LIMIT, max(GAP_STEP, np.ceil(values.max() / GAP_STEP) * GAP_STEP)))


def gap_scale_note(span: float) -> str:
    """The scale in words, shown with every chart coloured by gap."""
    return f"色标 −{span:g}～+{span:g} 个百分点，0（黄）为与序时进度持平，越红越落后、越绿越超前"


def gap_color(gap: float, span: float = GAP_LIMIT) -> str:
    """Colour of a gap on the diverging scale −span…+span (grey when there is no value)."""
    if gap is None or gap != gap:
        return S.STATUS_COLORS[S.STATUS_MISSING]
    position = (min(max(gap, -span), span) + span) / (2 * span)
    return sample_colorscale(_gap_colorscale(), [position])[0]


@lru_cache(maxsize=1)
def _gap_colorscale() -> list:
    """GAP_SCALE as Plotly's [position, colour] pairs, looked up once: resolving a scale's name walks every named
    scale Plotly has (~10 ms), once per coloured county or project otherwise."""
    return get_colorscale(GAP_SCALE)


def _wrap(label, width: int = 11) -> str:
    """A long axis label over several lines (a phone's chart is ~350 px wide)."""
    text = str(label)
    return "<br>".join(text[i:i + width] for i in range(0, len(text), width)) if len(text) > width else text


def _rate_text(rate, status: str) -> str:
    """A bar's label: the rate, or a qualitative-only row's reported state in words."""
    if rate == rate and rate is not None:
        return fmt_pct(rate)
    if status == S.STATUS_MISSING:
        return "未报送"
    return f"定性：{status}"


def completion_bars(frame: pd.DataFrame, label: str, title: str, height: int | None = None) -> go.Figure:
    """Horizontal bars of (capped) completion per row, coloured by status, with the 序时进度 marker.

    ``frame`` has ``label``, 完成率, 序时进度, 差距, 状态 (an aggregate level of lib.progress).
    Each bar carries its label as customdata so a click can select it.
    """
    data = frame.sort_values("完成率", ascending=True, na_position="first")
    rate = data["完成率"].clip(upper=1).fillna(0) * 100
    names = [_wrap(v) for v in data[label]]
    bars = dict(
        type="bar", x=rate, y=names, orientation="h", name="完成率", showlegend=False,  # colours: statuses (legend)
        marker=dict(color=[S.STATUS_COLORS.get(s, "#999") for s in data["状态"]]),
        text=[_rate_text(v, st) for v, st in zip(data["完成率"], data["状态"])], cliponaxis=False,
        textposition=["inside" if r >= 30 else "outside" for r in rate], insidetextanchor="end",
        textfont=dict(color=["white" if r >= 30 else "#333" for r in rate]),
        customdata=np.stack([data[label], data["状态"], [fmt_signed_points(g) for g in data["差距"]]], axis=-1),
        hovertemplate="%{customdata[0]}<br>完成率 %{text}<br>状态 %{customdata[1]}<br>差距 %{customdata[2]} 个百分点<extra></extra>",
    )
    plan = dict(
        type="scatter", x=data["序时进度"] * 100, y=names, mode="markers", name="序时进度",
        marker=dict(symbol="line-ns-open", size=22, color=PLAN_COLOR, line=dict(width=3, color=PLAN_COLOR)),
        hovertemplate=f"序时进度 {hover_pct()}<extra></extra>",
    )
    lines = max([n.count("<br>") + 1 for n in names] or [1])
    return _figure([bars, plan], title, height or max(170, (30 + 14 * (lines - 1)) * len(data) + 90), dict(
        xaxis=dict(range=[0, 105], gridcolor="#eee", tickvals=[0, 50, 100], ticktext=["0", "50%", "100%"], tickangle=0),
        yaxis=dict(automargin=True)))  # no axis titles: the chart's title names the bars


def status_donut(counts: dict[str, int], title: str = "项目状态") -> go.Figure:
    """Projects per status: the counts inside the ring, the names in a legend beside it (nothing clipped)."""
    labels = [s for s in S.STATUSES if counts.get(s)]
    pie = dict(
        type="pie", labels=[f"{s} {counts[s]} 个" for s in labels], values=[counts[s] for s in labels], hole=0.5, sort=False, direction="clockwise",
        marker=dict(colors=[S.STATUS_COLORS[s] for s in labels], line=dict(color="white", width=1)),
        texttemplate="%{value}", textposition="inside", insidetextorientation="horizontal",
        textfont=dict(color="white", size=13),
        hovertemplate="%{label}：%{value} 个项目<extra></extra>",
    )
    return _figure([pie], title, 260, dict(
        showlegend=True, legend=dict(orientation="v", x=1.0, xanchor="left", y=0.5, yanchor="middle"),
        margin=dict(l=10, r=10, t=44, b=10)))


def compliance_heatmap(table: pd.DataFrame, title: str = "报送情况（单位 × 月份）") -> go.Figure:
    """填报单位 × 月份 grid of 按时 / 逾期 / 未报 / 未到期 (lib.progress.compliance)."""
    states = list(COMPLIANCE_COLORS)
    grid = table.pivot(index="填报单位", columns="月份", values="报送情况")
    grid = grid.reindex(index=list(dict.fromkeys(table["填报单位"]))[::-1])
    codes = grid.map(lambda s: states.index(s) if s in states else np.nan)
    n = len(states)
    scale = []
    for i, state in enumerate(states):
        scale += [[i / n, COMPLIANCE_COLORS[state]], [(i + 1) / n, COMPLIANCE_COLORS[state]]]
    heat = dict(
        type="heatmap", z=codes.to_numpy(), x=[f"{m}月" for m in grid.columns], y=grid.index, zmin=0, zmax=n,
        colorscale=scale, showscale=False, text=grid.to_numpy(), texttemplate="%{text}", xgap=2, ygap=2,
        hovertemplate="%{y} · %{x}：%{text}<extra></extra>",
    )
    return _figure([heat], title, max(300, 24 * len(grid) + 110), dict(
        xaxis=dict(side="top", tickangle=0, type="category"),
        margin=dict(t=70)))  # the month labels sit under the title


@lru_cache(maxsize=4)
def _county_shapes(path: str) -> dict[str, list[tuple[list[float], list[float]]]]:
    """County name -> list of rings (x, y) from the GeoJSON."""
    geo = json.loads(Path(path).read_text(encoding="utf-8"))
    shapes = {}
    for feature in geo["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings = []
        for polygon in polygons:
            outer = polygon[0]
            rings.append(([p[0] for p in outer], [p[1] for p in outer]))
        shapes[feature["properties"]["name"]] = rings
    return shapes


def county_map(counties: pd.DataFrame, geojson_path: str | Path, title: str = "县市区完成进度（与序时进度之差）") -> go.Figure:
    """Choropleth of the county-level divisions by 差距, drawn as filled polygons (offline).

    Divisions without a boundary in the GeoJSON (the functional zones) are drawn
    as labelled squares beside the map, on the same colour scale.
    """
    shapes = _county_shapes(str(geojson_path))
    values = counties.set_index("县市区")
    span = gap_span(values["差距"])
    traces, annotations = [], []
    all_x, all_y = [], []
    for name, rings in shapes.items():
        xs, ys = [], []
        for rx, ry in rings:
            xs += rx + [None]
            ys += ry + [None]
        all_x += [v for v in xs if v is not None]
        all_y += [v for v in ys if v is not None]
        gap = values.at[name, "差距"] if name in values.index else np.nan
        rate = values.at[name, "完成率"] if name in values.index else np.nan
        status = values.at[name, "状态"] if name in values.index else S.STATUS_MISSING
        traces.append(dict(
            type="scatter", x=xs[:-1], y=ys[:-1], fill="toself", mode="lines", name=name, showlegend=False,
            fillcolor=gap_color(gap, span), line=dict(color="white", width=1.2),
            hoveron="fills", text=f"{name}<br>完成率 {fmt_pct(rate)}<br>差距 {fmt_signed_points(gap)} 个百分点<br>{status}",
            hoverinfo="text",
        ))
        # Label at the centre of the largest ring.
        rx, ry = max(rings, key=lambda r: len(r[0]))
        annotations.append(dict(x=float(np.mean(rx)), y=float(np.mean(ry)), text=f"{name}<br>{fmt_signed_points(gap)}",
                                showarrow=False,
                                font=dict(size=11, color="white" if gap == gap and abs(gap) > 0.6 * span else "#111")))
    zones = [c for c in values.index if c not in shapes]
    if zones and all_x:
        x0 = max(all_x) + 0.12
        top = max(all_y)
        zone_gaps = [values.at[z, "差距"] for z in zones]
        ys = [top - 0.18 - i * 0.2 for i in range(len(zones))]
        traces.append(dict(
            type="scatter", x=[x0] * len(zones), y=ys, mode="markers+text", name="功能区", showlegend=False,
            marker=dict(symbol="square", size=26, color=[gap_color(g, span) for g in zone_gaps], line=dict(color="#666", width=1)),
            text=[f"{z}<br>{fmt_signed_points(g)}" for z, g in zip(zones, zone_gaps)], textposition="middle right",
            textfont=dict(size=10),  # two short lines: fits beside the map on a phone
            hovertext=[f"{z}<br>完成率 {fmt_pct(values.at[z, '完成率'])}<br>差距 {fmt_signed_points(values.at[z, '差距'])} 个百分点"
                       for z in zones], hoverinfo="text", cliponaxis=False,
        ))
    traces.append(dict(  # colour bar only
        type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(colorscale=_gap_colorscale(), cmin=-span, cmax=span, color=[0], showscale=True,
                    colorbar=dict(title=dict(text=f"与序时进度之差：色标 ±{span:g} 个百分点，0 为持平", side="top"),
                                  orientation="h", thickness=10, len=0.9, x=0.5, xanchor="center", y=-0.02, yanchor="top",
                                  tickvals=[-span, -span / 2, 0, span / 2, span], ticksuffix="")),
    ))
    return _figure(traces, title, 460, dict(
        annotations=annotations,
        xaxis=dict(visible=False, range=[min(all_x) - 0.05, max(all_x) + 1.0] if all_x else None),
        # 1° of latitude is longer than 1° of longitude at 35.4°N.
        yaxis=dict(visible=False, scaleanchor="x", scaleratio=1 / np.cos(np.radians(35.4)))))


SHORT_NAMES = {"经济技术开发区": "经开区"}  # the usual abbreviations, for labels set one character a line


def _vertical(label: str) -> str:
    """A county's name set top to bottom, one character a line (Chinese reads that way; 14 columns fit a phone)."""
    text = str(label)
    for long, short in SHORT_NAMES.items():
        text = text.replace(long, short)
    return "<br>".join(text)


def _lines(text: str, width: float) -> list[str]:
    """Greedy lines of at most ``width`` (a Chinese character is 1, a digit or Latin letter 0.6); a run of digits
    or letters (2000户, 5G, DNA) is never broken."""
    lines, line, used = [], "", 0.0
    for token in re.findall(r"[0-9A-Za-z.]+|.", text):
        size = sum(0.6 if ch.isascii() else 1.0 for ch in token)
        if line and used + size > width:
            lines.append(line.strip())
            line, used = "", 0.0
        line, used = line + token, used + size
    return lines + [line.strip()] if line.strip() else lines


def _project_label(label: str, width: float = 10, max_lines: int = 2) -> str:
    """'5 免费开展孕妇外周血胎儿…' : the number and the name over at most ``max_lines`` lines of about ``width``
    Chinese characters, the lines of even length (no lone last character); the full name is in the hover."""
    number, _, name = str(label).partition(". ")
    text = f"{number} {name}" if name else number
    lines = _lines(text, width)
    if len(lines) > 1:  # even the lines out
        total = sum(0.6 if ch.isascii() else 1.0 for ch in text)
        lines = _lines(text, max(total / len(lines), max(0.6 * len(t) for t in re.findall(r"[0-9A-Za-z.]+", text) or [""])) + 0.5)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    return "<br>".join(lines)


def county_project_heatmap(matrix: pd.DataFrame, title: str = "项目 × 县市区：与序时进度之差（个百分点）") -> go.Figure:
    """Gap per project (rows, number and name) and county (columns, names top to bottom); 0 is the neutral colour,
    the scale spans the largest |gap| shown. ``matrix`` is lib.progress.county_project_matrix (县市区 × 项目)."""
    grid = matrix.T  # one row per project "12. 方便群众…", one column per county
    span = gap_span(grid.to_numpy(dtype=float).ravel())
    projects, counties = list(grid.index), list(grid.columns)
    heat = dict(
        type="heatmap", z=grid.to_numpy(dtype=float), x=counties, y=projects,
        colorscale=_gap_colorscale(), zmin=-span, zmax=span, zmid=0, xgap=1, ygap=1,
        hovertemplate="%{y} · %{x}<br>差距 %{z:.1f} 个百分点<extra></extra>",
        colorbar=dict(orientation="h", thickness=10, len=1, x=0, xanchor="left", y=-0.02, yanchor="top",
                      title=dict(text=gap_scale_note(span).replace("，", "<br>"), side="top", font=dict(size=12))),
    )
    labels = [_project_label(p) for p in projects]
    lines = max([label.count("<br>") + 1 for label in labels] or [1])
    height = (8 + 13 * lines) * len(projects) + 15 * max([len(c) for c in counties] or [3]) + 180
    return _figure([heat], title, max(340, height), dict(
        xaxis=dict(type="category", side="top", tickangle=0, tickmode="array", tickvals=counties,
                   ticktext=[_vertical(c) for c in counties], tickfont=dict(size=12)),
        yaxis=dict(type="category", autorange="reversed", tickmode="array", tickvals=projects, ticktext=labels,
                   tickfont=dict(size=12), ticksuffix=" "),
        # the county names (one character a line) start below the title and the toolbar
        margin=dict(t=50 + 15 * max([len(_vertical(c).split("<br>")) for c in counties] or [3]), b=70)))


def category_treemap(projects: pd.DataFrame, title: str = "类别 → 项目（面积：指标数；颜色：与序时进度之差）") -> go.Figure:
    data = projects.copy()
    data["标签"] = data["项目序号"].astype(str) + ". " + data["项目名称"]
    cats = data.groupby("类别", sort=False).agg(指标数=("指标数", "sum"), 差距=("差距", "mean")).reset_index()
    ids = list(cats["类别"]) + list(data["标签"])
    parents = [""] * len(cats) + list(data["类别"])
    values = list(cats["指标数"]) + list(data["指标数"])
    gaps = list(cats["差距"]) + list(data["差距"])
    span = gap_span(gaps)
    treemap = dict(
        type="treemap", ids=ids, labels=ids, parents=parents, values=values, branchvalues="total",
        marker=dict(colors=[gap_color(g, span) for g in gaps], line=dict(color="white", width=1)),
        customdata=[fmt_signed_points(g) for g in gaps],
        hovertemplate="%{label}<br>指标数 %{value}<br>差距 %{customdata} 个百分点<extra></extra>",
        textfont=dict(family=FONT), maxdepth=2,
    )
    return _figure([treemap], title, 440)


def trend_chart(trend: pd.DataFrame, title: str, projection: float | None = None, month: int | None = None) -> go.Figure:
    """Monthly completion against the plan line; optional dotted projection to December.

    ``trend`` has 月份, 完成率, 序时进度 (one row per month).
    """
    months = list(range(0, 13))
    traces = [dict(type="scatter", x=months, y=[planned_share(m) * 100 for m in months], mode="lines", name="序时进度（计划）",
                    line=dict(color=PLAN_COLOR, dash="dash", width=2), hovertemplate=f"%{{x}}月 计划 {hover_pct('y')}<extra></extra>")]
    if "序时进度" in trend and trend["序时进度"].round(6).ne(planned_shares(trend["月份"]).round(6)).any():
        traces.append(dict(type="scatter", x=trend["月份"], y=trend["序时进度"] * 100, mode="lines+markers",
                           name="序时进度（本项计划）", line=dict(color="#8250df", dash="dot")))
    traces.append(dict(type="scatter", x=trend["月份"], y=trend["完成率"].clip(upper=1.2) * 100, mode="lines+markers",
                       name="完成率", line=dict(color=S.STATUS_COLORS[S.STATUS_ON_TRACK], width=3),
                       hovertemplate=f"%{{x}}月 完成率 {hover_pct('y')}<extra></extra>"))
    if projection is not None and month is not None and month < 12 and projection == projection:
        last = trend.loc[trend["月份"] == month, "完成率"]
        if len(last) and last.iloc[0] == last.iloc[0]:
            traces.append(dict(type="scatter", x=[month, 12], y=[last.iloc[0] * 100, min(projection, 1.5) * 100],
                               mode="lines+markers", name="预计年末（按近三个月进度推算）",
                               line=dict(color=S.GREY, dash="dot", width=2),
                               hovertemplate=f"预计 %{{x}}月 {hover_pct('y')}<extra></extra>"))
    return _figure(traces, title, 360, dict(
        # Every other month labelled and never rotated: fits a phone's width.
        xaxis=dict(range=[0.5, 12.5], tickvals=list(range(1, 13, 1)),
                   ticktext=[f"{m}月" if m % 2 else "" for m in range(1, 13)], tickangle=0, gridcolor="#eee"),
        yaxis=dict(ticksuffix="%", rangemode="tozero", gridcolor="#eee"),
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0)))


def county_breakdown(rows: pd.DataFrame, title: str) -> go.Figure:
    """One indicator's county rows: completion per county with the plan marker."""
    data = rows.rename(columns={"县市区": "名称"})
    return completion_bars(data, "名称", title)


ROW_NOUNS = {"牵头单位": "个单位", "县市区": "个县市区", "类别": "个类别"}


def lagging_bars(frame: pd.DataFrame, label: str, title: str = "滞后项目数") -> go.Figure:
    """Stacked bars of 严重滞后 and 滞后 project counts per row (an aggregate level)."""
    data = frame.assign(_behind=frame[S.STATUS_LAGGING] + frame[S.STATUS_SEVERE]).sort_values("_behind")
    data = data[data["_behind"] > 0]  # rows with nothing behind are left out (the title says so)
    title = f"{title}（另有 {len(frame) - len(data)} {ROW_NOUNS.get(label, '个')}无滞后项目）" if len(data) < len(frame) else title
    bars = [dict(type="bar", y=data[label], x=data[status], orientation="h", name=status,
                 marker=dict(color=S.STATUS_COLORS[status]), hovertemplate="%{y}：%{x} 个" + status + "项目<extra></extra>")
            for status in (S.STATUS_SEVERE, S.STATUS_LAGGING)]
    return _figure(bars, title, max(200, 34 * len(data) + 90), dict(
        barmode="stack",
        xaxis=dict(dtick=1, gridcolor="#eee", rangemode="tozero",
                   range=[0, max(2, int(data["_behind"].max() if len(data) else 1)) + 0.5]),
        yaxis=dict(automargin=True)))
