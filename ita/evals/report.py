"""``ita eval report``: one HTML page with every stored metric's history (plotly line charts, one line per
mode; quick runs dotted) and, per suite, the latest run — its metrics against the run before (regressions
red) and its failures.

The page is self-contained (plotly.js inline, no network), written atomically. Example::

    >>> from ita.evals.report import write_report
    >>> write_report("eval_report.html")                         # doctest: +SKIP
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from ita.errors import write_text_atomic
from ita.evals import store

MAX_FAILURES_SHOWN = 150
SUITE_ORDER = ("agent", "kb", "backtest", "detectors")
# metrics charted first (the rest follow alphabetically)
HEADLINE = ("tool_accuracy", "exact_args_accuracy", "ragas_tool_call_accuracy", "ragas_tool_call_f1",
            "honest_non_understanding", "clarification_recall", "hit_rate@5", "mrr", "ool_refusal_f1",
            "agreement", "unmatched_trades", "stat_mismatches", "precision", "recall")


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def _esc(v) -> str:
    return html.escape(str(v) if not isinstance(v, dict) else ", ".join(f"{k}={x}" for k, x in v.items()))


def history_figures(hist: pd.DataFrame, suite: str) -> list[tuple[str, object]]:
    """``[(metric, plotly Figure)]`` for ``suite``: x = run time (UTC), y = value, one line per mode."""
    import plotly.graph_objects as go

    h = hist[hist["suite"] == suite].copy()
    if h.empty:
        return []
    h["t"] = pd.to_datetime(h["created_at"], utc=True, format="ISO8601")
    metrics = sorted(h["metric"].unique(), key=lambda m: (HEADLINE.index(m) if m in HEADLINE else len(HEADLINE), m))
    figs = []
    for metric in metrics:
        if store.direction(metric) == 0 and metric not in HEADLINE:
            continue                     # counts and set sizes: in the tables, not charted
        part = h[h["metric"] == metric].sort_values("t")
        fig = go.Figure()
        for mode, g in part.groupby("mode", sort=True):
            for quick, gg in g.groupby("quick"):
                fig.add_trace(go.Scatter(
                    x=gg["t"], y=gg["value"], mode="lines+markers", name=f"{mode}{' (quick)' if quick else ''}",
                    line={"dash": "dot" if quick else "solid"},
                    customdata=list(zip(gg["run_id"], gg["commit"].fillna("?"), gg["version"].fillna("?"))),
                    hovertemplate="%{y:.4g}<br>%{x|%Y-%m-%d %H:%M} UTC<br>run %{customdata[0]}<br>commit "
                                  "%{customdata[1]} · ITA %{customdata[2]}<extra>%{fullData.name}</extra>"))
        better = {1: "higher is better", -1: "lower is better"}.get(store.direction(metric), "")
        fig.update_layout(title={"text": f"{metric} <span style='font-size:11px;color:#888'>{better}</span>",
                                 "font": {"size": 14}},
                          height=260, margin={"l": 40, "r": 10, "t": 40, "b": 30}, template="plotly_white",
                          legend={"font": {"size": 10}}, showlegend=part["mode"].nunique() > 1 or part["quick"].nunique() > 1)
        figs.append((metric, fig))
    return figs


def _latest_table(run_row: pd.Series, hist: pd.DataFrame) -> str:
    suite, rid = run_row["suite"], run_row["run_id"]
    cur = hist[hist["run_id"] == rid]
    run = store.SuiteRun(suite=suite, run_id=rid, created_at=run_row["created_at"], quick=bool(run_row["quick"]),
                         metrics={m: dict(zip(g["metric"], g["value"])) for m, g in cur.groupby("mode")})
    prev_id, prev = store.previous_metrics(run)
    cmp_ = store.compare(run, prev)
    rows = []
    for _, r in cmp_.iterrows():
        cls = "reg" if r["regression"] else "imp" if r["improved"] else ""
        d = "" if r["delta"] is None or (isinstance(r["delta"], float) and math.isnan(r["delta"])) else f"{r['delta']:+.4g}"
        rows.append(f"<tr class='{cls}'><td>{_esc(r['mode'])}</td><td>{_esc(r['metric'])}</td><td>{_fmt(r['value'])}</td>"
                    f"<td>{_fmt(r['previous'])}</td><td>{d}</td></tr>")
    head = (f"<p>Run <code>{_esc(rid)}</code> · {_esc(run_row['created_at'])} UTC · commit <code>{_esc(run_row['commit'])}"
            f"</code> · ITA {_esc(run_row['version'])}{' · quick' if run_row['quick'] else ''} · "
            + (f"compared with <code>{_esc(prev_id)}</code>" if prev_id else "no earlier run to compare with") + "</p>")
    n_reg = int(cmp_["regression"].sum()) if len(cmp_) else 0
    summary = (f"<p class='{'reg' if n_reg else ''}'>{n_reg} regression(s)</p>" if prev_id else "")
    if n_reg:
        summary += ("<table><tr><th>mode</th><th>metric</th><th>value</th><th>previous</th><th>Δ</th></tr>"
                    + "".join(r for r in rows if r.startswith("<tr class='reg'>")) + "</table>")
    return (head + summary + "<details><summary>All metrics of this run</summary><table><tr><th>mode</th><th>metric</th>"
            "<th>value</th><th>previous</th><th>Δ</th></tr>" + "".join(rows) + "</table></details>")


def _failures_table(failures: list[dict]) -> str:
    if not failures:
        return "<p>No failures in the latest run.</p>"
    shown = failures[:MAX_FAILURES_SHOWN]
    rows = "".join(f"<tr><td>{_esc(f.get('mode', ''))}</td><td>{_esc(f.get('item', ''))}</td><td>{_esc(f.get('what', ''))}</td>"
                   f"<td>{_esc(f.get('expected', ''))}</td><td>{_esc(f.get('got', ''))}"
                   f"{' <em>(pending tool)</em>' if f.get('pending') else ''}</td></tr>" for f in shown)
    more = f"<p>… and {len(failures) - len(shown)} more.</p>" if len(failures) > len(shown) else ""
    return (f"<p>{len(failures)} failure(s) in the latest run.</p><table class='fail'><tr><th>mode</th><th>item</th>"
            f"<th>what</th><th>expected</th><th>got</th></tr>{rows}</table>{more}")


CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}h2{margin-top:32px;
border-bottom:1px solid #ddd}table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;
padding:3px 6px;text-align:left;vertical-align:top}tr.reg td,p.reg{color:#c62828;font-weight:600}tr.imp td{color:#2e7d32}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:8px}.chart{border:1px solid #eee}
table.fail td:nth-child(3){max-width:380px}"""


def report_html(db_path: str | Path | None = None) -> str:
    """The report page as a string (see the module doc)."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    hist = store.history(None, db_path)
    runs = store.runs(None, db_path)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ITA evaluation report</title><style>{CSS}</style>"
             f"<script>{get_plotlyjs()}</script></head><body><h1>ITA evaluation report</h1>"]
    if hist.empty:
        parts.append("<p>No evaluation runs stored yet: run <code>ita eval</code> (or <code>ita eval --quick</code>).</p>")
    suites = [s for s in SUITE_ORDER if s in set(hist["suite"])] + sorted(set(hist["suite"]) - set(SUITE_ORDER))
    parts.append("<p>" + " · ".join(f"<a href='#{s}'>{s}</a>" for s in suites) + f" · {hist['run_id'].nunique()} runs, "
                 f"generated {store.now_utc()} UTC. Solid lines: full runs; dotted: <code>--quick</code> runs.</p>")
    for suite in suites:
        parts.append(f"<h2 id='{suite}'>{suite}</h2>")
        sr = runs[runs["suite"] == suite]
        if len(sr):
            last = sr.iloc[-1]
            parts.append(_latest_table(last, hist))
        figs = history_figures(hist, suite)
        parts.append("<h3>History</h3><div class='grid'>" + "".join(
            f"<div class='chart' data-metric='{html.escape(m)}'>"
            + pio.to_html(f, full_html=False, include_plotlyjs=False, config={"displaylogo": False, "displayModeBar": False}) + "</div>"
            for m, f in figs) + "</div>")
        if len(sr):
            parts.append("<h3>Failures of the latest run</h3>" + _failures_table(sr.iloc[-1]["failures"]))
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: str | Path | None = None, db_path: str | Path | None = None) -> Path:
    """Write the report to ``path`` (default ``$ITA_HOME/eval_report.html``) atomically; returns the path."""
    from ita.config import settings

    path = Path(path) if path else settings().home / "eval_report.html"
    return write_text_atomic(path, report_html(db_path), "evaluation report")
