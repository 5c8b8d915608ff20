"""Research charts (plotly): the sweep heatmap, the walk-forward fold chart, the Monte Carlo fan chart and the
challenge odds. Each function returns a ``plotly.graph_objects.Figure``; :func:`write` saves it as PNG
(:func:`ita.charts.export.save_png`, needs Chromium) and self-contained HTML, a failed PNG becoming a warning.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ita.charts.style import base_layout
from ita.errors import ItaError


def _layout(title: str, **kw) -> dict:
    lay = base_layout()
    lay.update(title={"text": title, "x": 0.01, "xanchor": "left"}, **kw)
    return lay


def write(fig: go.Figure, folder: Path, stem: str, warnings: list[str], png: bool = True,
          width: int = 1200, height: int = 700) -> dict[str, Path]:
    """Write ``stem.html`` (always) and ``stem.png`` (when ``png``; a failure is appended to ``warnings``)."""
    out: dict[str, Path] = {}
    html = folder / f"{stem}.html"
    fig.write_html(html, include_plotlyjs=True, full_html=True)
    out[html.name] = html
    if png:
        from ita.charts.export import save_png

        try:
            save_png(fig, folder / f"{stem}.png", width=width, height=height)
            out[f"{stem}.png"] = folder / f"{stem}.png"
        except ItaError as exc:
            warnings.append(f"{stem}.png skipped: {exc}")
    return out


def heatmap_figure(variants: pd.DataFrame, x: str, y: str, value: str, value_label: str, title: str,
                   neutral: float = 0.0) -> go.Figure:
    """Objective over two parameters: ``variants`` has a column per parameter path and ``value``; cells with
    several variants (other parameters) show their best value; empty cells are blank. Colours: green above
    ``neutral`` (0 R; 1 for a profit factor), red below — a grid that loses everywhere is red everywhere."""
    piv = variants.pivot_table(index=y, columns=x, values=value, aggfunc="max")
    z = piv.to_numpy(dtype="float64")
    z = np.where(np.isfinite(z), z, np.nan)
    text = [[("" if not math.isfinite(v) else f"{v:.2f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[str(c) for c in piv.columns], y=[str(i) for i in piv.index], text=text,
                               texttemplate="%{text}", colorscale="RdYlGn", zmid=neutral, colorbar={"title": value_label},
                               hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{value_label}=%{{z:.3f}}<extra></extra>"))
    fig.update_layout(**_layout(title), xaxis_title=x, yaxis_title=y)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def folds_figure(oos: pd.DataFrame, folds: list[dict], title: str) -> go.Figure:
    """Walk-forward: the out-of-sample equity in R (``oos``: ``time`` UTC, ``cum_r``) with each test window
    shaded and labelled with its chosen parameters and OOS R; in-sample vs out-of-sample R per fold below."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.12,
                        subplot_titles=("Out-of-sample equity (R), test windows only",
                                        "Per fold: in-sample vs out-of-sample R per month"))
    if len(oos):
        fig.add_trace(go.Scatter(x=oos["time"], y=oos["cum_r"], mode="lines", name="OOS cum R",
                                 line={"width": 2}), row=1, col=1)
    for f in folds:
        fig.add_vrect(x0=f["test_start"], x1=f["test_end"], fillcolor="#4c78a8" if f["fold"] % 2 else "#72b7b2",
                      opacity=0.08, line_width=0, row=1, col=1)
    names = [f"#{f['fold']} {f['test_start'][:7]}<br><sub>{f.get('label', '')}</sub>" for f in folds]
    fig.add_trace(go.Bar(x=names, y=[f.get("is_r_per_month") for f in folds], name="in-sample R / month"),
                  row=2, col=1)
    fig.add_trace(go.Bar(x=names, y=[f.get("oos_r_per_month") for f in folds], name="out-of-sample R / month",
                         text=[f.get("label", "") for f in folds], textposition="none",
                         hovertemplate="%{x}<br>%{y:.2f} R<br>%{text}"),
                  row=2, col=1)
    fig.update_layout(**_layout(title, showlegend=True), barmode="group", height=800)
    return fig


def fan_figure(paths_pct: pd.DataFrame, title: str) -> go.Figure:
    """Monte Carlo fan chart: ``paths_pct`` indexed by trade number with columns ``p5, p25, p50, p75, p95``
    of cumulative R."""
    x = paths_pct.index.to_numpy()
    fig = go.Figure()
    for lo, hi, op in (("p5", "p95", 0.18), ("p25", "p75", 0.3)):
        fig.add_trace(go.Scatter(x=x, y=paths_pct[hi], mode="lines", line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=paths_pct[lo], mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=f"rgba(76,120,168,{op})", name=f"{lo[1:]}–{hi[1:]} %"))
    fig.add_trace(go.Scatter(x=x, y=paths_pct["p50"], mode="lines", line={"width": 2, "color": "#1f3b63"},
                             name="median"))
    fig.add_hline(y=0, line={"color": "#888", "width": 1, "dash": "dot"})
    fig.update_layout(**_layout(title, showlegend=True), xaxis_title="trade number", yaxis_title="cumulative R")
    return fig


def challenge_figure(table: pd.DataFrame, title: str) -> go.Figure:
    """Stacked outcome probabilities per risk per trade: ``table`` indexed by risk % with columns ``pass``,
    ``fail_daily``, ``fail_total``, ``timeout`` (0–1)."""
    colors = {"pass": "#2ca02c", "fail_daily": "#ff7f0e", "fail_total": "#d62728", "timeout": "#7f7f7f"}
    fig = go.Figure()
    for col in ("pass", "fail_daily", "fail_total", "timeout"):
        fig.add_trace(go.Bar(x=[f"{r:g} %" for r in table.index], y=table[col] * 100, name=col.replace("_", " "),
                             marker_color=colors[col], text=[f"{v * 100:.0f}%" if v >= 0.04 else "" for v in table[col]],
                             textposition="inside", hovertemplate="%{x}: %{y:.1f} %<extra>" + col + "</extra>"))
    fig.update_layout(**_layout(title, showlegend=True), barmode="stack", xaxis_title="risk per trade",
                      yaxis_title="probability %")
    fig.update_xaxes(type="category")
    return fig
