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

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ita import times
from ita.format import fmt_num, fmt_stat, price_decimals  # noqa: F401 - the charts' number formatting

TZ = times.NY
_TZINFO = ZoneInfo(TZ)

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
    axes take), or None. (The zone's UTC offset at that instant from :mod:`zoneinfo`, added to the instant:
    the same wall-clock as ``tz_convert(NY).tz_localize(None)``, ~10× faster — charts convert thousands.)"""
    t = times.utc(ts)
    if t is None:
        return None
    ns = t.value
    off = datetime.fromtimestamp(ns // 1_000_000_000, tz=_TZINFO).utcoffset()
    return pd.Timestamp(ns + (off.days * 86_400 + off.seconds) * 1_000_000_000)


def index_to_ny(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """UTC (or naive = UTC) DatetimeIndex → naive New York wall-clock DatetimeIndex.

    A chart window shorter than 30 days whose two ends have the same UTC offset contains no DST change (the
    changes are months apart): its times are shifted by that offset directly (~10× faster than pandas' tz
    conversion, the same values); anything else goes through ``tz_convert``."""
    idx = index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)
    if len(idx) and (idx.tz is None or str(idx.tz) == "UTC"):
        ns = idx.as_unit("ns").asi8
        lo, hi = int(ns.min()), int(ns.max())
        if hi - lo < 30 * 86_400 * 1_000_000_000:
            off_lo = datetime.fromtimestamp(lo // 1_000_000_000, tz=_TZINFO).utcoffset()
            off_hi = datetime.fromtimestamp(hi // 1_000_000_000, tz=_TZINFO).utcoffset()
            if off_lo == off_hi:
                shift = (off_lo.days * 86_400 + off_lo.seconds) * 1_000_000_000
                return pd.DatetimeIndex((ns + shift).view("M8[ns]"), name=idx.name).as_unit(idx.unit)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert(TZ).tz_localize(None)


def xstr(t: pd.Timestamp | pd.DatetimeIndex) -> Any:
    """Compact plotly date string(s): ``YYYY-MM-DD HH:MM``, with ``:SS`` only when seconds are non-zero
    (wall-clock of the value as given; the charts pass naive New York times)."""
    if isinstance(t, pd.DatetimeIndex):
        if t.tz is not None or len(t) == 0 or t.hasnans:
            fmt = "%Y-%m-%d %H:%M" if (len(t) == 0 or not (t.second != 0).any()) else "%Y-%m-%d %H:%M:%S"
            return list(t.strftime(fmt))
        ns = t.as_unit("ns").asi8
        unit = "m" if not ((ns // 1_000_000_000) % 60).any() else "s"  # numpy formats like strftime, ~20× faster
        return [v.replace("T", " ") for v in np.datetime_as_string(ns.view("M8[ns]").astype(f"M8[{unit}]"), unit=unit).tolist()]
    if t.second == 0:
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
