"""Small public helpers shared by the chart modules (figures, snapshot, detectors, report, verify report).

Everything here is pure: text escaping, signal ``meta`` parsing, label de-overlapping, the title block,
time-window slicing of candles, the bar width and JSON for ``<script>`` elements. Number and time
formatting live in :mod:`ita.format` and :mod:`ita.times` (re-exported for the charts by
:mod:`ita.charts.style`).
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ita.charts import style as S
from ita.format import as_float

SHORT_SESSION = {"asia": "Asia", "london": "LDN", "new york": "NY", "tokyo": "TKY", "sydney": "SYD"}
"""Session name (lower case) → the short tag drawn on charts."""


def finite(v: Any) -> float | None:
    """``v`` as a finite float (:func:`ita.format.as_float`), or None for None/NaN/±inf/garbage."""
    f = as_float(v)
    return f if f is not None and math.isfinite(f) else None


def meta_dict(v: Any) -> dict:
    """A signal's ``meta``: a dict, or its JSON text (as in ``signals.csv``); anything else → {}."""
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str) and v.strip().startswith("{"):
        try:
            out = json.loads(v)
        except ValueError:
            return {}
        return out if isinstance(out, dict) else {}
    return {}


def esc(s: Any) -> str:
    """``str(s)`` HTML-escaped for element text (quotes kept)."""
    return html.escape(str(s), quote=False)


def spread_tags(desired: list[float], gap: float, lo: float, hi: float) -> list[float]:
    """Move label positions (pixels) apart by at least ``gap`` with minimal displacement, within [lo, hi].

    Clusters of overlapping labels are centred on the mean of their wanted positions. Returns the new
    positions in the order of ``desired``.
    """
    order = sorted(range(len(desired)), key=lambda i: desired[i])
    clusters: list[list] = []  # [members (wanted px), start px]
    for i in order:
        clusters.append([[desired[i]], desired[i]])
        while len(clusters) > 1 and clusters[-2][1] + len(clusters[-2][0]) * gap > clusters[-1][1]:
            b = clusters.pop()
            a = clusters.pop()
            mem = a[0] + b[0]
            clusters.append([mem, float(np.mean(mem)) - (len(mem) - 1) * gap / 2])
    pos: list[float] = []
    for mem, start in clusters:
        pos.extend(start + k * gap for k in range(len(mem)))
    # keep inside the plot: shift the whole stack if it spills over one end
    if pos and pos[-1] > hi:
        pos = [p - (pos[-1] - hi) for p in pos]
    if pos and pos[0] < lo:
        pos = [p + (lo - pos[0]) for p in pos]
    out = [0.0] * len(desired)
    for rank, i in enumerate(order):
        out[i] = pos[rank]
    return out


def title_block(title: str, subtitle: str) -> dict:
    """The plotly ``layout.title`` of every ITA chart: bold ``title`` (escaped) top-left, ``subtitle`` (HTML)."""
    return dict(text=f"<b>{esc(title)}</b>", x=0.0, xref="paper", xanchor="left", y=0.975, yref="container",
                yanchor="top", font=dict(size=18, color=S.INK),
                subtitle=dict(text=subtitle, font=dict(size=13, color=S.MUTED)))


def window_arrays(candles: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp,
                  columns: tuple[str, ...] = ("open", "high", "low", "close")) -> tuple[pd.DatetimeIndex, list[np.ndarray]]:
    """The bars with ``t0 <= time <= t1`` (UTC instants) as (UTC-aware sorted index, one float64 array per
    column): :func:`slice_window` without building a DataFrame (~20× cheaper; a report slices once per trade)."""
    idx, order = _utc_sorted_index(candles)
    i0, i1 = idx.searchsorted(t0, "left"), idx.searchsorted(t1, "right")
    cols = []
    for k in columns:
        a = candles[k].to_numpy(dtype="float64")
        cols.append(a[order[i0:i1]] if order is not None else a[i0:i1])
    return idx[i0:i1], cols


def _utc_sorted_index(candles: pd.DataFrame) -> tuple[pd.DatetimeIndex, np.ndarray | None]:
    """The candles' index in UTC, sorted, and the sorting positions (None when it already was)."""
    idx = candles.index if isinstance(candles.index, pd.DatetimeIndex) else pd.DatetimeIndex(candles.index)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    elif str(idx.tz) != "UTC":
        idx = idx.tz_convert("UTC")  # (an index already in UTC is kept: its cached sortedness is reused)
    if idx.is_monotonic_increasing:
        return idx, None
    order = np.argsort(idx.as_unit("ns").asi8, kind="stable")
    return idx[order], order


def slice_window(candles: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """The candles with ``t0 <= time <= t1`` (UTC instants), sorted, with a UTC-aware index."""
    idx, order = _utc_sorted_index(candles)
    if order is not None:
        candles = candles.iloc[order]
    i0, i1 = idx.searchsorted(t0, "left"), idx.searchsorted(t1, "right")
    out = candles.iloc[i0:i1]
    out = out.set_axis(idx[i0:i1], axis=0)
    return out


def bar_width(idx: pd.DatetimeIndex) -> pd.Timedelta:
    """The median bar spacing of ``idx`` (5 minutes when it cannot be told)."""
    if len(idx) > 1:
        d = float(np.median(np.diff(idx.as_unit("ns").asi8)))
        if d and d > 0:
            return pd.Timedelta(int(d), "ns")
    return pd.Timedelta(minutes=5)


# ---------------------------------------------------------------------------------------------- time axis

def gap_rangebreaks(idx: pd.DatetimeIndex, bar: pd.Timedelta, min_bars: int = 3) -> list[dict]:
    """The plotly ``rangebreaks`` hiding calendar gaps (weekends, overnight closes, holidays) between bars.

    ``idx``: sorted bar opens in UTC; ``bar``: the bar length. A gap between consecutive opens longer than
    ``min_bars`` bars is cut from the end of the earlier bar to the next open, in New York wall-clock (the
    charts' x axis)."""
    breaks = []
    if len(idx) > 1:
        ny = S.index_to_ny(idx)
        gaps = np.diff(pd.DatetimeIndex(idx).as_unit("ns").asi8)
        for j in np.nonzero(gaps > min_bars * bar.value)[0]:
            breaks.append(dict(bounds=[S.xstr(ny[j] + bar), S.xstr(ny[j + 1])]))
    return breaks


TICK_STEPS_MIN = (5, 15, 30, 60, 120, 180, 360, 720, 1440)


def bar_ticks(idx: pd.DatetimeIndex, bar: pd.Timedelta, most: int = 10) -> tuple[list[str], list[str]]:
    """Explicit x ticks at round New York times that are bar opens (plotly's own ticks fall into the cut
    weekend gaps): the smallest step giving at most ``most`` ticks; the date is added at day changes.

    ``idx``: UTC bar opens; returns ``(tickvals, ticktext)`` for a plotly axis (New York wall-clock)."""
    if len(idx) == 0:
        return [], []
    ny = S.index_to_ny(idx)
    minutes = ny.hour * 60 + ny.minute
    span_min = len(idx) * bar.total_seconds() / 60
    step = next((m for m in TICK_STEPS_MIN if span_min / m <= most and m * 60 >= bar.total_seconds()), 1440)
    at = ny[(minutes % step) == 0]
    vals, text, last_day = [], [], None
    for t in at:
        day = t.strftime("%a %d %b")
        label = day if step >= 1440 else (t.strftime("%H:%M") + (f"<br>{day}" if day != last_day else ""))
        vals.append(S.xstr(t))
        text.append(label)
        last_day = day
    return vals, text


# ---------------------------------------------------------------------------------------------- HTML

PAGE_CSS = """
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,'Segoe UI','Liberation Sans',Arial,sans-serif;
color:#1f2937;background:#f3f4f6}main{max-width:1500px;margin:0 auto;padding:18px 22px 60px}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 10px}h3{font-size:15px;margin:0 0 6px}
.muted{color:#6b7280}.sub{color:#6b7280;font-size:13px;margin-bottom:14px}.pos{color:#15803d}.neg{color:#dc2626}
.panel{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;margin-bottom:14px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px 14px;min-width:130px}
.card .k{font-size:12px;color:#6b7280}.card .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
code{background:#f1f5f9;padding:0 4px;border-radius:3px}
"""
"""The one stylesheet of ITA's HTML pages (backtest report, verify report): page, headings, panels, key-number
cards, ``.pos``/``.neg`` colours. A page appends its own rules (tables, cases) after it."""


def script_json(obj) -> str:
    """Compact JSON safe inside a ``<script>`` element (``</`` escaped; NaN is an error — use :func:`json_clean`)."""
    return json.dumps(obj, separators=(",", ":"), default=str, allow_nan=False).replace("</", "<\\/")


def json_clean(o):
    """Replace NaN/inf floats (not valid JSON) by None, recursively through dicts, lists and tuples."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_clean(v) for v in o]
    return o
