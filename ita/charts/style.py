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

from typing import Any

import pandas as pd

from ita import times
from ita.format import fmt_num, fmt_stat, price_decimals  # noqa: F401 - the charts' number formatting

TZ = times.NY

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
    """A UTC instant (Timestamp, datetime, ISO string; naive = UTC) → naive New York wall-clock (what plotly
    axes take), or None."""
    t = times.to_ny(ts)
    return None if t is None else t.tz_localize(None)


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
