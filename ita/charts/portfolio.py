"""Portfolio charts: the equity of several setups traded together (with and without the risk governor), the
correlation heatmap of their daily R, and a self-contained HTML report of both.

Inputs are the frames of :class:`ita.backtest.portfolio.PortfolioResult`; times are UTC in, New York on the
axes. See :mod:`ita.charts.style` for the colours.
"""
from __future__ import annotations

import html
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ita.charts import style as S
from ita.charts.common import title_block
from ita.errors import ItaError

_PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea", "#0f766e")


def _steps(eq: pd.DataFrame, start) -> tuple[list, np.ndarray, np.ndarray]:
    x = S.index_to_ny(pd.DatetimeIndex(eq.index))
    first = pd.Timestamp(start)
    first = first.tz_convert(S.TZ).tz_localize(None) if first.tzinfo is not None else first
    xs = S.xstr(pd.DatetimeIndex([min(first, x[0]) if len(x) else first]).append(x))
    cum = np.r_[0.0, eq["cum_r"].to_numpy(dtype="float64")]
    dd = np.r_[0.0, eq["drawdown_r"].to_numpy(dtype="float64")]
    return xs, cum, dd


def portfolio_equity_figure(equity: pd.DataFrame, equity_all: pd.DataFrame, components: dict[str, pd.DataFrame],
                            title: str, subtitle: str = "", start=None) -> go.Figure:
    """Cumulative R of the governed portfolio (black), of every trade without the governor (grey, dotted) and of
    each component alone (thin colours), with the governed drawdown below.

    ``equity`` / ``equity_all``: :func:`ita.backtest.stats.equity_curve` frames (index exit time UTC, ``cum_r``,
    ``drawdown_r``); ``components``: ``{name: equity frame}``; ``start``: the period's first day (x axis start).
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.035)
    first = start if start is not None else (equity_all.index[0] if len(equity_all) else pd.Timestamp.now(tz="UTC"))
    for i, (name, eq) in enumerate(components.items()):
        if len(eq):
            xs, cum, _ = _steps(eq, first)
            fig.add_trace(go.Scatter(x=xs, y=cum, mode="lines", name=name, opacity=0.8,
                                     line=dict(shape="hv", width=1.1, color=_PALETTE[i % len(_PALETTE)]),
                                     hovertemplate=f"{html.escape(name)}<br>%{{x|%Y-%m-%d}}<br>%{{y:+.2f}}R<extra></extra>"),
                          row=1, col=1)
    if len(equity_all):
        xs, cum, _ = _steps(equity_all, first)
        fig.add_trace(go.Scatter(x=xs, y=cum, mode="lines", name="every trade (no governor)",
                                 line=dict(shape="hv", width=1.6, color=S.MUTED, dash="dot"),
                                 hovertemplate="no governor<br>%{x|%Y-%m-%d}<br>%{y:+.2f}R<extra></extra>"), row=1, col=1)
    if len(equity):
        xs, cum, dd = _steps(equity, first)
        fig.add_trace(go.Scatter(x=xs, y=cum, mode="lines", name="portfolio (governed)",
                                 line=dict(shape="hv", width=2.2, color=S.INK),
                                 hovertemplate="portfolio<br>%{x|%Y-%m-%d %H:%M}<br>%{y:+.2f}R<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=-dd, mode="lines", fill="tozeroy", name="drawdown", showlegend=False,
                                 line=dict(shape="hv", color=S.RED, width=1), fillcolor="rgba(220, 38, 38, 0.22)",
                                 hovertemplate="%{x|%Y-%m-%d}<br>drawdown %{y:.2f}R<extra></extra>"), row=2, col=1)
    else:
        fig.add_annotation(x=0.5, y=0.5, xref="x domain", yref="y domain", text="no trades", showarrow=False,
                           font=dict(size=22, color=S.MUTED))
    fig.add_hline(y=0, line=dict(color="#9ca3af", width=1, dash="dot"), row=1, col=1)
    fig.update_layout(**S.base_layout(title=title_block(title, subtitle), margin=dict(l=70, r=30, t=100, b=60),
                                      showlegend=True, legend=dict(orientation="h", y=-0.12, x=0, font=dict(size=11))))
    fig.update_xaxes(**S.axis_style(type="date"))
    fig.update_xaxes(title_text="Exit time (New York, America/New_York)", row=2, col=1)
    fig.update_yaxes(**S.axis_style())
    fig.update_yaxes(title_text="Cumulative R", row=1, col=1)
    fig.update_yaxes(title_text="Drawdown [R]", row=2, col=1)
    return fig


def correlation_figure(corr: pd.DataFrame, pairs: pd.DataFrame, title: str, subtitle: str = "") -> go.Figure:
    """Heatmap of the Pearson correlation of daily R (−1 blue … +1 red); each cell shows r and, off the
    diagonal, its 95 % interval. ``corr``: a square matrix; ``pairs``: rows ``a``, ``b``, ``r``, ``ci_low``,
    ``ci_high`` (:func:`ita.backtest.portfolio.correlation_pairs`)."""
    names = list(corr.columns)
    ci = {(p["a"], p["b"]): (p["ci_low"], p["ci_high"]) for p in pairs.to_dict("records")} if len(pairs) else {}
    z = corr.to_numpy(dtype="float64")
    text = []
    for i, a in enumerate(names):
        row = []
        for j, b in enumerate(names):
            v = z[i, j]
            lo, hi = ci.get((a, b)) or ci.get((b, a)) or (math.nan, math.nan)
            cell = "—" if not np.isfinite(v) else f"{v:+.2f}"
            if i != j and np.isfinite(lo):
                cell += f"<br><span style='font-size:11px'>[{lo:+.2f}, {hi:+.2f}]</span>"
            row.append(cell)
        text.append(row)
    fig = go.Figure(go.Heatmap(z=np.where(np.isfinite(z), z, None), x=names, y=names, zmin=-1, zmax=1,
                               colorscale="RdBu", reversescale=True, text=text, texttemplate="%{text}", textfont=dict(size=14),
                               hovertemplate="%{y} × %{x}<br>r %{z:+.3f}<extra></extra>",
                               colorbar=dict(title=dict(text="r"), thickness=14)))
    fig.update_layout(**S.base_layout(title=title_block(title, subtitle), margin=dict(l=160, r=30, t=100, b=120)))
    fig.update_yaxes(autorange="reversed", **S.axis_style(showgrid=False))
    fig.update_xaxes(**S.axis_style(showgrid=False, tickangle=-30))
    return fig


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def portfolio_report_html(title: str, subtitle: str, figures: list[go.Figure], tables: dict[str, pd.DataFrame],
                          path) -> Path:
    """Write a self-contained HTML page (plotly.js embedded once, opens offline): ``title``, ``subtitle``,
    the ``figures`` and the ``tables`` (``{heading: frame of display strings}``). Written to a temporary file
    beside ``path``, then renamed. Raises :class:`ItaError` naming the path when it cannot be written."""
    path = Path(path)
    parts = [f"<h1>{html.escape(title)}</h1><p class='muted'>{html.escape(subtitle)}</p>"]
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False,
                                 default_height="620px"))
    for heading, df in tables.items():
        parts.append(f"<h2>{html.escape(heading)}</h2>{_table(df)}")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            f"body{{font-family:{S.FONT};color:{S.INK};margin:24px auto;max-width:1300px}}"
            f".muted{{color:{S.MUTED}}}table{{border-collapse:collapse;margin:8px 0 24px;font-size:13px}}"
            "td,th{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right}th{background:#f9fafb}"
            "td:first-child,th:first-child{text-align:left}</style></head><body>" + "".join(parts) + "</body></html>")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".report", suffix=".html.tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, path)
    except OSError as exc:
        raise ItaError(f"Cannot write the report {path}: {exc}") from None
    return path
