"""Plotly figures for the dashboard: each takes a frame from lib.progress and returns a go.Figure.

Sized for a 1366×768 laptop: short titles, 13 px text, heights under 460 px.
The county map draws the boundaries as filled scatter traces, so it needs no
topology from a CDN and works offline.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from lib import schema as S
from lib.formatting import fmt_pct, fmt_signed_points

FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
GAP_SCALE = "RdYlGn"
GAP_RANGE = (-40.0, 20.0)  # percentage points; beyond is clipped in colour only
PLAN_COLOR = "#444444"
COMPLIANCE_COLORS = {"按时": "#1a7f37", "逾期": "#f2a900", "未报": "#d1242f", "未到期": "#d0d7de"}


def _base(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=15), x=0, xanchor="left"),
        font=dict(family=FONT, size=13),
        height=height,
        margin=dict(l=10, r=10, t=44, b=10),
        plot_bgcolor="white",
        hoverlabel=dict(font=dict(family=FONT)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
    )
    return fig


def gap_color(gap: float) -> str:
    """Colour of a gap on the diverging scale (grey when there is no value)."""
    if gap is None or gap != gap:
        return S.STATUS_COLORS[S.STATUS_MISSING]
    lo, hi = GAP_RANGE
    position = (min(max(gap, lo), hi) - lo) / (hi - lo)
    return sample_colorscale(GAP_SCALE, [position])[0]


def completion_bars(frame: pd.DataFrame, label: str, title: str, height: int | None = None) -> go.Figure:
    """Horizontal bars of (capped) completion per row, coloured by status, with the 序时进度 marker.

    ``frame`` has ``label``, 完成率, 序时进度, 差距, 状态 (an aggregate level of lib.progress).
    Each bar carries its label as customdata so a click can select it.
    """
    data = frame.sort_values("完成率", ascending=True, na_position="first")
    rate = data["完成率"].clip(upper=1).fillna(0) * 100
    fig = go.Figure()
    fig.add_bar(
        x=rate, y=data[label], orientation="h", name="完成率", showlegend=False,  # colours are statuses: see the legend
        marker_color=[S.STATUS_COLORS.get(s, "#999") for s in data["状态"]],
        text=[fmt_pct(v) for v in data["完成率"]], cliponaxis=False,
        textposition=["inside" if r >= 30 else "outside" for r in rate], insidetextanchor="end",
        textfont=dict(color=["white" if r >= 30 else "#333" for r in rate]),
        customdata=np.stack([data[label], data["状态"], [fmt_signed_points(g) for g in data["差距"]]], axis=-1),
        hovertemplate="%{customdata[0]}<br>完成率 %{text}<br>状态 %{customdata[1]}<br>差距 %{customdata[2]} 个百分点<extra></extra>",
    )
    fig.add_scatter(
        x=data["序时进度"] * 100, y=data[label], mode="markers", name="序时进度",
        marker=dict(symbol="line-ns-open", size=22, color=PLAN_COLOR, line=dict(width=3, color=PLAN_COLOR)),
        hovertemplate="序时进度 %{x:.1f}%<extra></extra>",
    )
    fig.update_xaxes(range=[0, 105], ticksuffix="%", gridcolor="#eee", title=None)
    fig.update_yaxes(title=None, automargin=True)
    return _base(fig, title, height or max(170, 30 * len(data) + 90))


def status_donut(counts: dict[str, int], title: str = "项目状态") -> go.Figure:
    labels = [s for s in S.STATUSES if counts.get(s)]
    fig = go.Figure(go.Pie(
        labels=labels, values=[counts[s] for s in labels], hole=0.55, sort=False,
        marker=dict(colors=[S.STATUS_COLORS[s] for s in labels]), textinfo="label+value",
        hovertemplate="%{label}：%{value} 个项目<extra></extra>",
    ))
    fig.update_layout(showlegend=False)
    return _base(fig, title, 300)


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
    fig = go.Figure(go.Heatmap(
        z=codes.to_numpy(), x=[f"{m}月" for m in grid.columns], y=grid.index, zmin=0, zmax=n,
        colorscale=scale, showscale=False, text=grid.to_numpy(), texttemplate="%{text}", xgap=2, ygap=2,
        hovertemplate="%{y} · %{x}：%{text}<extra></extra>",
    ))
    fig.update_xaxes(side="top")
    return _base(fig, title, max(300, 24 * len(grid) + 90))


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
    fig = go.Figure()
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
        fig.add_scatter(
            x=xs[:-1], y=ys[:-1], fill="toself", mode="lines", name=name, showlegend=False,
            fillcolor=gap_color(gap), line=dict(color="white", width=1.2),
            hoveron="fills", text=f"{name}<br>完成率 {fmt_pct(rate)}<br>差距 {fmt_signed_points(gap)} 个百分点<br>{status}",
            hoverinfo="text",
        )
        # Label at the centre of the largest ring.
        rx, ry = max(rings, key=lambda r: len(r[0]))
        fig.add_annotation(x=float(np.mean(rx)), y=float(np.mean(ry)), text=f"{name}<br>{fmt_signed_points(gap)}",
                           showarrow=False, font=dict(size=11, color="#111"))
    zones = [c for c in values.index if c not in shapes]
    if zones and all_x:
        x0 = max(all_x) + 0.12
        top = max(all_y)
        zone_gaps = [values.at[z, "差距"] for z in zones]
        ys = [top - 0.18 - i * 0.2 for i in range(len(zones))]
        fig.add_scatter(
            x=[x0] * len(zones), y=ys, mode="markers+text", name="功能区", showlegend=False,
            marker=dict(symbol="square", size=26, color=[gap_color(g) for g in zone_gaps], line=dict(color="#666", width=1)),
            text=[f"{z}  {fmt_signed_points(g)}" for z, g in zip(zones, zone_gaps)], textposition="middle right",
            hovertext=[f"{z}<br>完成率 {fmt_pct(values.at[z, '完成率'])}<br>差距 {fmt_signed_points(values.at[z, '差距'])} 个百分点"
                       for z in zones], hoverinfo="text", cliponaxis=False,
        )
    lo, hi = GAP_RANGE
    fig.add_scatter(  # colour bar only
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(colorscale=GAP_SCALE, cmin=lo, cmax=hi, color=[lo], showscale=True,
                    colorbar=dict(title=dict(text="与序时进度之差（百分点）", side="top"), orientation="h",
                                  thickness=10, len=0.6, x=0.3, y=-0.02, yanchor="top")),
    )
    fig.update_xaxes(visible=False, range=[min(all_x) - 0.05, max(all_x) + 1.0] if all_x else None)
    # 1° of latitude is longer than 1° of longitude at 35.4°N.
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / np.cos(np.radians(35.4)))
    return _base(fig, title, 460)


def county_project_heatmap(matrix: pd.DataFrame, title: str = "县市区 × 项目：与序时进度之差（百分点）") -> go.Figure:
    lo, hi = GAP_RANGE
    fig = go.Figure(go.Heatmap(
        z=matrix.to_numpy(dtype=float), x=[c.split(". ", 1)[0] for c in matrix.columns], y=matrix.index,
        customdata=np.array([list(matrix.columns)] * len(matrix.index)),
        colorscale=GAP_SCALE, zmin=lo, zmax=hi, xgap=1, ygap=1,
        hovertemplate="%{y} · %{customdata}<br>差距 %{z:.1f} 个百分点<extra></extra>",
        colorbar=dict(thickness=12),
    ))
    fig.update_xaxes(title="项目序号", tickangle=0, type="category")  # "1", "11": labels, not numbers
    fig.update_yaxes(autorange="reversed")
    return _base(fig, title, max(320, 24 * len(matrix) + 100))


def category_treemap(projects: pd.DataFrame, title: str = "类别 → 项目（面积：指标数；颜色：与序时进度之差）") -> go.Figure:
    data = projects.copy()
    data["标签"] = data["项目序号"].astype(str) + ". " + data["项目名称"]
    cats = data.groupby("类别", sort=False).agg(指标数=("指标数", "sum"), 差距=("差距", "mean")).reset_index()
    ids = list(cats["类别"]) + list(data["标签"])
    parents = [""] * len(cats) + list(data["类别"])
    values = list(cats["指标数"]) + list(data["指标数"])
    gaps = list(cats["差距"]) + list(data["差距"])
    fig = go.Figure(go.Treemap(
        ids=ids, labels=ids, parents=parents, values=values, branchvalues="total",
        marker=dict(colors=[gap_color(g) for g in gaps], line=dict(color="white", width=1)),
        customdata=[fmt_signed_points(g) for g in gaps],
        hovertemplate="%{label}<br>指标数 %{value}<br>差距 %{customdata} 个百分点<extra></extra>",
        textfont=dict(family=FONT), maxdepth=2,
    ))
    return _base(fig, title, 440)


def trend_chart(trend: pd.DataFrame, title: str, projection: float | None = None, month: int | None = None) -> go.Figure:
    """Monthly completion against the plan line; optional dotted projection to December.

    ``trend`` has 月份, 完成率, 序时进度 (one row per month).
    """
    fig = go.Figure()
    months = list(range(0, 13))
    fig.add_scatter(x=months, y=[m / 12 * 100 for m in months], mode="lines", name="序时进度（计划）",
                    line=dict(color=PLAN_COLOR, dash="dash", width=2), hovertemplate="%{x}月 计划 %{y:.1f}%<extra></extra>")
    if "序时进度" in trend and trend["序时进度"].round(6).ne((trend["月份"] / 12).round(6)).any():
        fig.add_scatter(x=trend["月份"], y=trend["序时进度"] * 100, mode="lines+markers", name="序时进度（本项计划）",
                        line=dict(color="#8250df", dash="dot"))
    fig.add_scatter(x=trend["月份"], y=trend["完成率"].clip(upper=1.2) * 100, mode="lines+markers", name="完成率",
                    line=dict(color=S.STATUS_COLORS[S.STATUS_ON_TRACK], width=3),
                    hovertemplate="%{x}月 完成率 %{y:.1f}%<extra></extra>")
    if projection is not None and month is not None and month < 12 and projection == projection:
        last = trend.loc[trend["月份"] == month, "完成率"]
        if len(last) and last.iloc[0] == last.iloc[0]:
            fig.add_scatter(x=[month, 12], y=[last.iloc[0] * 100, min(projection, 1.5) * 100], mode="lines+markers",
                            name="预计（按近三月进度外推）", line=dict(color="#8c959f", dash="dot", width=2),
                            hovertemplate="预计 %{x}月 %{y:.1f}%<extra></extra>")
    fig.update_xaxes(range=[0.5, 12.5], dtick=1, ticksuffix="月", gridcolor="#eee", automargin=True)
    fig.update_yaxes(ticksuffix="%", rangemode="tozero", gridcolor="#eee", automargin=True)
    _base(fig, title, 360)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    return fig


def county_breakdown(rows: pd.DataFrame, title: str) -> go.Figure:
    """One indicator's county rows: completion per county with the plan marker."""
    data = rows.rename(columns={"县市区": "名称"})
    return completion_bars(data, "名称", title)


def lagging_bars(frame: pd.DataFrame, label: str, title: str = "滞后项目数") -> go.Figure:
    """Stacked bars of 严重滞后 and 滞后 project counts per row (an aggregate level)."""
    data = frame.assign(_behind=frame[S.STATUS_LAGGING] + frame[S.STATUS_SEVERE]).sort_values("_behind")
    data = data[data["_behind"] > 0]  # rows with nothing behind are left out (the title says so)
    title = f"{title}（其余 {len(frame) - len(data)} 个无滞后项目）" if len(data) < len(frame) else title
    fig = go.Figure()
    for status in (S.STATUS_SEVERE, S.STATUS_LAGGING):
        fig.add_bar(y=data[label], x=data[status], orientation="h", name=status, marker_color=S.STATUS_COLORS[status],
                    hovertemplate="%{y}：%{x} 个" + status + "项目<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(dtick=1, gridcolor="#eee", rangemode="tozero", range=[0, max(2, int(data["_behind"].max() if len(data) else 1)) + 0.5])
    fig.update_yaxes(automargin=True)
    return _base(fig, title, max(200, 34 * len(data) + 90))
