"""Charts of a trained model (plotly): the reliability diagram, the per-fold AUC chart and the global feature
importance — each a figure for PNG export (:func:`ita.charts.save_png`) and one self-contained HTML report
(plotly.js embedded once: the trader's machine may be offline)."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ita.learn.validation import reliability

COLORS = {"model": "#1f77b4", "logistic": "#ff7f0e", "laplace": "#7f7f7f"}


def reliability_figure(preds: pd.DataFrame, title: str) -> go.Figure:
    """Predicted p (x, bin means) against the observed frequency (y, Wilson 95 % bars) of the out-of-sample
    predictions: the model, the logistic baseline and Laplace's rule. On the diagonal = calibrated."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#bbb", dash="dot"),
                             name="perfectly calibrated"))
    for col, name in (("p_model", "model"), ("p_logistic", "logistic"), ("p_laplace", "laplace")):
        if col not in preds or preds[col].isna().all():
            continue
        t = reliability(preds["y"], preds[col])
        fig.add_trace(go.Scatter(
            x=t["p_mean"], y=t["observed"], mode="lines+markers", name=name, marker=dict(color=COLORS[name]),
            error_y=dict(type="data", symmetric=False, array=t["hi"] - t["observed"],
                         arrayminus=t["observed"] - t["lo"], thickness=1),
            text=[f"n = {n}" for n in t["n"]], hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{text}"))
    fig.update_layout(title=title, xaxis_title="predicted p(success)", yaxis_title="observed frequency",
                      xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1]), template="plotly_white",
                      legend=dict(orientation="h", y=-0.15))
    return fig


def folds_figure(folds: pd.DataFrame, title: str) -> go.Figure:
    """AUC per walk-forward test month with its bootstrap 95 % CI, the logistic baseline's AUC, and 0.5."""
    fig = go.Figure()
    fig.add_hline(y=0.5, line=dict(color="#999", dash="dash"), annotation_text="chance (0.5)")
    fig.add_trace(go.Scatter(
        x=folds["fold"], y=folds["auc"], mode="markers", name="model AUC (95 % CI)",
        marker=dict(size=10, color=COLORS["model"]),
        error_y=dict(type="data", symmetric=False, array=folds["auc_hi"] - folds["auc"],
                     arrayminus=folds["auc"] - folds["auc_lo"]),
        text=[f"train {a} · test {b} · positives {c}" for a, b, c in zip(folds["train"], folds["test"], folds["positives"])],
        hovertemplate="%{x}: AUC %{y:.3f}<br>%{text}"))
    if "auc_logistic" in folds and folds["auc_logistic"].notna().any():
        fig.add_trace(go.Scatter(x=folds["fold"], y=folds["auc_logistic"], mode="markers", name="logistic AUC",
                                 marker=dict(symbol="x", size=9, color=COLORS["logistic"])))
    fig.update_layout(title=title, xaxis_title="test month (walk-forward)", yaxis_title="ROC AUC",
                      yaxis=dict(range=[0, 1]), template="plotly_white", legend=dict(orientation="h", y=-0.15))
    return fig


def importance_figure(importance: pd.Series, title: str, top: int = 20) -> go.Figure:
    """Mean |SHAP| per model input (log-odds), the largest ``top`` at the top."""
    imp = importance.sort_values(ascending=True).tail(top)
    fig = go.Figure(go.Bar(x=imp.to_numpy(), y=imp.index.tolist(), orientation="h", marker_color=COLORS["model"]))
    fig.update_layout(title=title, xaxis_title="mean |SHAP value| (log-odds)", template="plotly_white",
                      height=max(400, 26 * len(imp) + 120), margin=dict(l=180))
    return fig


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, classes="t", float_format=lambda v: f"{v:.3f}", na_rep="—")


def report_html(path: Path, title: str, summary_lines: list[str], figures: list[go.Figure],
                tables: dict[str, pd.DataFrame]) -> Path:
    """One self-contained HTML page: ``summary_lines`` (plain text), the figures (plotly.js inline once) and
    ``tables``. Written to a temporary file and renamed."""
    import os

    parts = [f"<h1>{html.escape(title)}</h1>", "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary_lines) + "</ul>"]
    for k, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(k == 0)))
    for name, df in tables.items():
        parts.append(f"<h2>{html.escape(name)}</h2>{_table(df)}")
    css = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px} table.t{border-collapse:collapse}"
           "table.t td,table.t th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{css}</style>" \
           f"</head><body>{''.join(parts)}</body></html>"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def fmt_ci(a: float, lo: float, hi: float) -> str:
    """``0.524 [0.458, 0.591]`` (— for NaN)."""
    if a is None or not np.isfinite(a):
        return "—"
    if lo is None or not np.isfinite(lo):
        return f"{a:.3f}"
    return f"{a:.3f} [{lo:.3f}, {hi:.3f}]"


def similar_figure(panels: list[tuple[pd.DataFrame, dict]], title: str, cols: int = 3) -> go.Figure:
    """Small multiples of similar signals: per panel the M5 candles around the signal (New York time) with its
    entry (blue), stop (red) and target (green) and the outcome in the panel title. ``panels``: ``(candles,
    row)`` with ``row`` holding ``known_at``, ``side``, ``entry_price``, ``sl_price``, ``tp_price``, ``r``,
    ``setup_id``, ``symbol``."""
    from plotly.subplots import make_subplots

    from ita.times import NY

    rows = max(1, -(-len(panels) // cols))
    names = []
    for _, r in panels:
        res = f"{r['r']:+.2f}R" if r.get("r") is not None and np.isfinite(r.get("r")) else "no fill"
        names.append(f"{pd.Timestamp(r['known_at']).tz_convert(NY):%Y-%m-%d %H:%M} {r['symbol']} {r['side']} · {res}")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.05, vertical_spacing=0.12)
    for k, (c, r) in enumerate(panels):
        row, col = k // cols + 1, k % cols + 1
        x = c.index.tz_convert(NY).tz_localize(None)
        fig.add_trace(go.Candlestick(x=x, open=c["open"], high=c["high"], low=c["low"], close=c["close"],
                                     increasing_line_color="#26a69a", decreasing_line_color="#ef5350",
                                     showlegend=False), row=row, col=col)
        t0 = pd.Timestamp(r["known_at"]).tz_convert(NY).tz_localize(None)
        for price, color in ((r["entry_price"], "#1f77b4"), (r["sl_price"], "#d62728"), (r["tp_price"], "#2ca02c")):
            fig.add_trace(go.Scatter(x=[t0, x[-1]] if len(x) else [t0, t0], y=[price, price], mode="lines",
                                     line=dict(color=color, width=1.5), showlegend=False, hoverinfo="skip"),
                          row=row, col=col)
    fig.update_xaxes(rangeslider_visible=False, showticklabels=False)
    fig.update_layout(title=title, template="plotly_white", height=300 * rows + 80, margin=dict(t=90, l=30, r=20))
    fig.update_annotations(font_size=11)
    return fig
