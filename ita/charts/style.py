"""Shared look of ITA charts: colours, fonts, number and time formatting (internal).

Colour language (the same in PNGs and the HTML report):

* candles are neutral (hollow grey = up, solid slate = down) so colour is reserved for the trade;
* green = long / target / winning trade, red = short-stop side / stop / losing trade, grey = time exit;
* blue tint = the session range (e.g. Asia), purple tint = the entry zone (e.g. FVG),
  faint grey bands = the London and New York killzones.

Every time shown on an axis is New York wall-clock time (``America/New_York``, EST/EDT from the tz
database); DST changes happen on Sunday mornings when FX is closed, so NY wall-clock is unambiguous for
bars.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

TZ = "America/New_York"

FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
MONO = "Liberation Mono, DejaVu Sans Mono, Menlo, Consolas, monospace"
INK = "#1f2937"        # text, entry line
MUTED = "#6b7280"      # secondary text, time exits, breakeven
GRID = "#e5e7eb"
BG = "#ffffff"
GREEN = "#15803d"
GREEN_FILL = "rgba(22, 163, 74, 0.10)"
RED = "#dc2626"
RED_FILL = "rgba(220, 38, 38, 0.09)"
BLUE = "#2563eb"
BLUE_FILL = "rgba(37, 99, 235, 0.08)"
PURPLE = "#7c3aed"
PURPLE_FILL = "rgba(124, 58, 237, 0.16)"
KZ_FILL = "rgba(107, 114, 128, 0.07)"
CANDLE_UP = "#64748b"
CANDLE_DOWN = "#334155"


def base_layout(**extra: Any) -> dict:
    """Layout shared by every ITA figure: no plotly template (keeps the JSON small), white paper."""
    layout = dict(
        template="none",
        font=dict(family=FONT, size=13, color=INK),
        paper_bgcolor=BG,
        plot_bgcolor=BG,
        showlegend=False,
        hovermode="closest",
        hoverlabel=dict(font=dict(family=MONO, size=12)),
    )
    layout.update(extra)
    return layout


def axis_style(**extra: Any) -> dict:
    """Axis look: light grid, dark ticks, no zero line unless asked."""
    ax = dict(showgrid=True, gridcolor=GRID, gridwidth=1, zeroline=False, linecolor="#9ca3af", showline=True,
              ticks="outside", tickcolor="#9ca3af", ticklen=4, tickfont=dict(size=12, color=INK),
              title=dict(font=dict(size=12, color=MUTED)), automargin=True)
    ax.update(extra)
    return ax


def to_ny(ts: Any) -> pd.Timestamp | None:
    """A UTC instant (Timestamp, datetime, ISO string; naive = UTC) → naive New York wall-clock, or None."""
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return None
    try:
        t = pd.Timestamp(ts)
    except (ValueError, TypeError):
        return None
    if t is pd.NaT or pd.isna(t):
        return None
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return t.tz_convert(TZ).tz_localize(None)


def index_to_ny(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """UTC (or naive = UTC) DatetimeIndex → naive New York wall-clock DatetimeIndex."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert(TZ).tz_localize(None)


def xstr(t: pd.Timestamp | pd.DatetimeIndex) -> Any:
    """Compact plotly date string(s): ``YYYY-MM-DD HH:MM``, with ``:SS`` only when seconds are non-zero."""
    if isinstance(t, pd.DatetimeIndex):
        fmt = "%Y-%m-%d %H:%M" if (len(t) == 0 or not (t.second != 0).any()) else "%Y-%m-%d %H:%M:%S"
        return list(t.strftime(fmt))
    return t.strftime("%Y-%m-%d %H:%M" if t.second == 0 else "%Y-%m-%d %H:%M:%S")


def price_decimals(pip_size: float) -> int:
    """Quoted decimals for a pip size: 0.0001 → 5, 0.01 → 3, 0.1 → 2 (one more than the pip)."""
    if not pip_size or not np.isfinite(pip_size) or pip_size <= 0:
        return 5
    return max(0, int(round(-math.log10(pip_size))) + 1)


def fmt_num(v: Any, nd: int = 2, *, signed: bool = False, suffix: str = "") -> str:
    """Number → text; NaN/None → "–", ±inf → "∞"; typographic minus."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v) if v is not None else "–"
    if math.isnan(f):
        return "–"
    if math.isinf(f):
        return ("−∞" if f < 0 else "∞") + suffix
    if abs(f) < 0.5 * 10 ** -nd:
        f = 0.0
    s = f"{f:+,.{nd}f}" if signed and f != 0 else f"{f:,.{nd}f}"
    return s.replace("-", "−") + suffix


def fmt_stat(label: str, v: Any) -> str:
    """Format one value of :func:`ita.backtest.stats.compute_stats` for humans."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return "–"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, pd.Timedelta):
        secs = int(round(v.total_seconds()))
        d, rem = divmod(secs, 86400)
        h, rem = divmod(rem, 3600)
        m = rem // 60
        return (f"{d}d " if d else "") + f"{h}h {m:02d}m"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if "[R]" in label or label == "Total R":
            return fmt_num(v, 2, signed=label in ("Total R", "Expectancy [R]", "Avg RR [R]", "Avg Loss [R]",
                                                   "Best Trade [R]", "Worst Trade [R]"))
        if "[%]" in label:
            return fmt_num(v, 1)
        if label in ("Net Profit",):
            return fmt_num(v, 2, signed=True)
        if label in ("Account",):
            return fmt_num(v, 2)
        return fmt_num(v, 2)
    return str(v)
