"""Review charts for detector events: the candles of a window plus what one detector found in it.

One figure per question a reviewer asks of a detector — *where* is the event and *when did it become
knowable*. Every event is drawn where it lives on the chart (zone, level, marker, line) and its
``confirmed_at`` instant is a dotted vertical tick (with "known HH:MM" for focused events), so a chart
shows at a glance whether a detector used a bar it could not have seen yet.

===========================  ============================================================================
``kind``                     drawing
===========================  ============================================================================
``fvg``                      purple zone from the middle candle to the mitigating bar (or window end)
``order_blocks``             green (demand) / red (supply) zone from the OB candle to its mitigation
``session_range``            blue box over the session, dotted high/low extensions from its end
``initial_balance``          same as ``session_range``
``range_break``              dotted range edges, a triangle at the break bar's high (long) / low (short)
``swings``                   triangles at the swing extremes (red ▼ highs, green ▲ lows)
``structure_breaks``         a line from the broken swing to the breaking bar, labelled BOS / CHoCH
``previous_period_levels``   high/low lines from ``confirmed_at`` on, faint band over the period
``opening_levels``           a line from the opening bar on
``equal_levels``             markers on both swings, the level from the first swing on, "EQH ×n"
``sweeps``                   the level up to the reclaim, a marker at the wick's extreme
``atr``                      lower panel: ATR in pips (events: ``time``, ``confirmed_at``, ``value``)
===========================  ============================================================================

Times are UTC in, New York wall-clock (``America/New_York``) on the axis. A time instant ``t`` (a bar
open, a close, a ``confirmed_at``) is drawn on the candle boundary, i.e. at ``t − bar/2`` of the
candle-centred x axis, so a tick at ``confirmed_at`` sits on the right edge of the bar whose close made
the event knowable. Every drawn element of event row ``label`` carries the plotly ``name``
``"event <label>"`` (its ``confirmed_at`` tick: ``"event <label> known"``), which the fixture tests
use to check that each expected event is on the chart.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ita.charts import style as S
from ita.charts.common import bar_ticks, bar_width, esc, gap_rangebreaks, slice_window, spread_tags, title_block
from ita.times import utc

KINDS = ("fvg", "order_blocks", "session_range", "initial_balance", "range_break", "swings", "structure_breaks",
         "previous_period_levels", "opening_levels", "equal_levels", "sweeps", "atr")

WIDTH, HEIGHT = 1200, 700            # PNG size the layout is made for
_MARGIN = dict(l=70, r=150, t=95, b=55)
_PLOT_PX_H = HEIGHT - _MARGIN["t"] - _MARGIN["b"]
_TAG_GAP_PX = 17
_MAX_CONTEXT = 40                    # non-focused events drawn at most (the rest would be clutter)
_FAINT = 0.35                        # opacity of context (non-focused) events
_FAR = pd.Timedelta(days=3650)


@dataclass
class _Canvas:
    """What the per-kind painters draw on: window, x/y helpers and the growing plotly lists."""

    start: pd.Timestamp
    end: pd.Timestamp
    half: pd.Timedelta
    x_end: pd.Timestamp              # UTC instant of the right edge of the last candle
    y0: float
    y1: float
    pip: float
    fmt: str
    bars: pd.DataFrame = field(default_factory=pd.DataFrame)   # the window's candles (UTC index)
    shapes: list = field(default_factory=list)
    ann: list = field(default_factory=list)
    traces: list = field(default_factory=list)
    tags: list = field(default_factory=list)       # (price, text, colour) right-edge price tags
    known: list = field(default_factory=list)      # (x instant, label) of focused confirmed_at ticks
    texts: list = field(default_factory=list)      # (x instant, price, above) of placed event labels

    def x(self, t: Any, edge: bool = True) -> str | None:
        """UTC instant → plotly x string in New York time; ``edge`` puts it on the candle boundary."""
        ts = utc(t)
        if ts is None:
            return None
        return S.xstr(S.to_ny(ts - self.half if edge else ts))

    def clip(self, t: Any) -> pd.Timestamp:
        """A UTC instant clipped to the window (None/NaT → window end)."""
        ts = utc(t)
        if ts is None:
            return self.x_end
        return min(max(ts, self.start), self.x_end)

    def pos(self, t: pd.Timestamp) -> int:
        """Bar position of an instant in the window (distances on the chart are in bars, gaps cut out)."""
        return int(self.bars.index.searchsorted(t)) if len(self.bars) else 0

    def price(self, p: float) -> str:
        return self.fmt.format(p)

    def span(self) -> float:
        return self.y1 - self.y0


# ------------------------------------------------------------------------------------------ primitives

def _name(label: Any, suffix: str = "") -> str:
    return f"event {label}{(' ' + suffix) if suffix else ''}"


def _rect(cv: _Canvas, label, t0, t1, lo: float, hi: float, fill: str, line: str, op: float) -> None:
    cv.shapes.append(dict(type="rect", xref="x", yref="y", x0=cv.x(cv.clip(t0)), x1=cv.x(cv.clip(t1)),
                          y0=min(lo, hi), y1=max(lo, hi), fillcolor=fill, opacity=op, layer="below",
                          line=dict(color=line, width=1), name=_name(label)))


def _hline(cv: _Canvas, label, t0, t1, p: float, color: str, op: float, dash: str = "solid",
           width: float = 1.4, suffix: str = "") -> None:
    cv.shapes.append(dict(type="line", xref="x", yref="y", x0=cv.x(cv.clip(t0)), x1=cv.x(cv.clip(t1)),
                          y0=p, y1=p, opacity=op, line=dict(color=color, width=width, dash=dash),
                          name=_name(label, suffix)))


def _marker(cv: _Canvas, label, t, p: float, symbol: str, color: str, op: float, hover: str,
            size: int = 11) -> None:
    cv.traces.append(dict(type="scatter", x=[cv.x(t, edge=False)], y=[p], mode="markers", name=_name(label),
                          opacity=op, hoverinfo="text", hovertext=[hover],
                          marker=dict(symbol=symbol, size=size, color=color, line=dict(color="white", width=1))))


def _text(cv: _Canvas, label, t, p: float, text: str, color: str, *, above: bool = True, edge: bool = False) -> None:
    """An event label at (t, p); labels near earlier ones (12 bars, 4 % of the price range) are stacked."""
    ts = utc(t)
    near = [1 for x, y, a in cv.texts
            if a == above and abs(cv.pos(ts) - cv.pos(x)) < 12 and abs(p - y) < 0.04 * cv.span()]
    cv.texts.append((ts, p, above))
    shift = (4 + 15 * len(near)) * (1 if above else -1)
    cv.ann.append(dict(x=cv.x(ts, edge=edge), y=p, xref="x", yref="y", text=text, showarrow=False,
                       yanchor="bottom" if above else "top", xanchor="left", yshift=shift,
                       font=dict(size=11, color=color), bgcolor="rgba(255,255,255,0.8)", name=_name(label)))


def _known_tick(cv: _Canvas, label, t, lo: float, hi: float, focused: bool) -> None:
    """Dotted vertical tick at ``t`` (the event's ``confirmed_at``) over the price band ``[lo, hi]``."""
    ts = utc(t)
    if ts is None or ts < cv.start or ts > cv.x_end:
        return
    pad = 0.05 * cv.span()
    cv.shapes.append(dict(type="line", xref="x", yref="y", x0=cv.x(ts), x1=cv.x(ts), y0=min(lo, hi) - pad,
                          y1=max(lo, hi) + pad, opacity=1.0 if focused else _FAINT,
                          line=dict(color=S.INK, width=1.6 if focused else 1, dash="dot"),
                          name=_name(label, "known")))
    if focused:
        cv.known.append((ts, max(lo, hi) + pad, label))


def _layout_known_labels(cv: _Canvas) -> None:
    """"known HH:MM" above each focused tick; labels of ticks less than 12 bars apart are stacked."""
    placed: list[tuple[pd.Timestamp, int]] = []
    step = 0.045 * cv.span()
    for ts, top, label in sorted(cv.known, key=lambda k: k[0]):
        used = {lvl for x, lvl in placed if abs(cv.pos(ts) - cv.pos(x)) < 12}
        level = next((k for k in range(4) if k not in used), 0)
        placed.append((ts, level))
        cv.ann.append(dict(x=cv.x(ts), y=min(top + level * step, cv.y1), xref="x", yref="y",
                           text=f"known {S.to_ny(ts):%H:%M}", showarrow=False, yanchor="bottom",
                           xanchor="center", font=dict(size=10, color=S.INK, family=S.MONO),
                           bgcolor="rgba(255,255,255,0.85)", name=_name(label, "known")))


def _arrow(direction: str) -> str:
    d = str(direction).lower()
    if d in ("bullish", "long", "buy_side", "high"):
        return "↑"
    return "↓" if d in ("bearish", "short", "sell_side", "low") else ""


def _dir_color(direction: str) -> str:
    return S.GREEN if _arrow(direction) == "↑" else S.RED


def _short_time(t: Any, cv: _Canvas | None = None) -> str:
    """New York time of ``t`` as "Wed 09:10", with the date when it lies outside the chart window."""
    ts = utc(t)
    if ts is None:
        return "–"
    inside = cv is not None and cv.start - pd.Timedelta(hours=12) <= ts <= cv.x_end + pd.Timedelta(hours=12)
    return f"{S.to_ny(ts):%a %H:%M}" if inside else f"{S.to_ny(ts):%a %d %b %H:%M}"


# -------------------------------------------------------------------------------------------- painters
# Each painter: (canvas, row label, row, focused) → draws one event. Prices in the row's own units.

def _paint_zone(cv: _Canvas, label, r, focused: bool, fill: str, line: str, name: str, t_end) -> None:
    op = 1.0 if focused else _FAINT
    _rect(cv, label, r["time"], t_end, r["bottom"], r["top"], fill, line, op)
    if focused:
        _text(cv, label, cv.clip(r["time"]), max(r["top"], r["bottom"]), name, line, edge=True)
    _known_tick(cv, label, r["confirmed_at"], r["bottom"], r["top"], focused)


def _paint_fvg(cv, label, r, focused):
    size = f" {r['size_pips']:.1f}p" if "size_pips" in r and pd.notna(r["size_pips"]) else ""
    mit = r.get("mitigated_at")
    note = f" · mitigated {_short_time(mit, cv)}" if pd.notna(mit) else " · open"
    _paint_zone(cv, label, r, focused, S.PURPLE_FILL, S.PURPLE, f"FVG {_arrow(r['direction'])}{size}{note}", mit)


def _paint_ob(cv, label, r, focused):
    bull = r["direction"] == "bullish"
    mit, inv = r.get("mitigated_at"), r.get("invalidated_at")
    note = f" · mit {_short_time(mit, cv)}" if pd.notna(mit) else " · unmitigated"
    if pd.notna(inv):
        note += f" · inv {_short_time(inv, cv)}"
    _paint_zone(cv, label, r, focused, S.GREEN_FILL if bull else S.RED_FILL, S.GREEN if bull else S.RED,
                f"OB {_arrow(r['direction'])} ({r.get('break_kind', '')}){note}", mit)


def _paint_range(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    hi, lo = float(r["high"]), float(r["low"])
    _rect(cv, label, r["start"], r["end"], lo, hi, S.BLUE_FILL, S.BLUE, op)
    for p in (hi, lo):
        _hline(cv, label, r["end"], cv.x_end, p, S.BLUE, op, dash="dot", width=1)
    name = str(r.get("session") or "range").replace("_", " ")
    if focused:
        _text(cv, label, cv.clip(r["start"]), hi, f"{esc(name)} {(hi - lo) / cv.pip:.1f}p", S.BLUE, edge=True)
        _marker(cv, label, r["high_time"], hi, "triangle-down", S.BLUE, op, f"{name} high {cv.price(hi)}", 8)
        _marker(cv, label, r["low_time"], lo, "triangle-up", S.BLUE, op, f"{name} low {cv.price(lo)}", 8)
        cv.tags += [(hi, f"{esc(name[:6])} H {cv.price(hi)}", S.BLUE),
                    (lo, f"{esc(name[:6])} L {cv.price(lo)}", S.BLUE)]
    _known_tick(cv, label, r["confirmed_at"], lo, hi, focused)


def _paint_range_break(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    for p in (float(r["range_high"]), float(r["range_low"])):
        _hline(cv, label, cv.start, r["confirmed_at"], p, S.BLUE, op, dash="dot", width=1)
    up = r["direction"] == "long"
    t = utc(r["time"])
    lvl = float(r["level"])
    has_bar = len(cv.bars) and t in cv.bars.index
    ext = float(cv.bars.at[t, "high" if up else "low"]) if has_bar else lvl
    close = float(cv.bars.at[t, "close"]) if has_bar else lvl
    col = _dir_color(r["direction"])
    _marker(cv, label, t, ext, "triangle-up" if up else "triangle-down", col, op,
            f"break {r['direction']}: {'high' if up else 'low'} {cv.price(ext)}, close {cv.price(close)}", 10)
    if focused:
        text = f"break {_arrow(r['direction'])} {'H' if up else 'L'} {cv.price(ext)} · C {cv.price(close)}"
        _text(cv, label, t, ext, text, col, above=up)
        cv.tags += [(float(r["range_high"]), f"range H {cv.price(r['range_high'])}", S.BLUE),
                    (float(r["range_low"]), f"range L {cv.price(r['range_low'])}", S.BLUE)]
    _known_tick(cv, label, r["confirmed_at"], lvl, ext, focused)


def _paint_swing(cv, label, r, focused):
    high = r["kind" if "kind" in r else "side"] == "high"
    p = float(r["price"])
    _marker(cv, label, r["time"], p + (0.012 if high else -0.012) * cv.span(),
            "triangle-down" if high else "triangle-up",
            S.RED if high else S.GREEN, 1.0 if focused else _FAINT,
            f"swing {'high' if high else 'low'} {cv.price(p)}<br>known {_short_time(r['confirmed_at'], cv)} NY")
    if focused:
        _text(cv, label, r["time"], p + (0.03 if high else -0.03) * cv.span(),
              f"{'SH' if high else 'SL'} {cv.price(p)}",
              S.RED if high else S.GREEN, above=high)
    _known_tick(cv, label, r["confirmed_at"], p, p, focused)


def _paint_break(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    col = _dir_color(r["direction"])
    p = float(r["level"])
    _hline(cv, label, r["swing_time"], r["confirmed_at"], p, col, op, width=1.8 if focused else 1)
    if focused:
        _marker(cv, label, r["swing_time"], p, "circle-open", col, op, f"broken swing {cv.price(p)}", 9)
    mid = cv.clip(r["swing_time"]) + (cv.clip(r["confirmed_at"]) - cv.clip(r["swing_time"])) / 2
    cv.ann.append(dict(x=cv.x(mid), y=p, xref="x", yref="y", showarrow=False, text=f"<b>{r['kind']}</b>",
                       yanchor="bottom" if r["direction"] == "bullish" else "top",
                       yshift=3 if r["direction"] == "bullish" else -3, opacity=op,
                       font=dict(size=12 if focused else 10, color=col), name=_name(label)))
    _known_tick(cv, label, r["confirmed_at"], p, p, focused)


def _period_tag(r) -> str:
    return {"D": "PD", "W": "PW", "M": "PM"}.get(str(r.get("period", "D")), "P")


def _paint_period(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    tag = _period_tag(r)
    cv.shapes.append(dict(type="rect", xref="x", yref="paper", x0=cv.x(cv.clip(r["period_start"])),
                          x1=cv.x(cv.clip(r["period_end"])), y0=0, y1=1, fillcolor=S.KZ_FILL, layer="below",
                          line=dict(width=0), opacity=op, name=_name(label)))
    for p, side, t_ext in ((float(r["high"]), "H", r["high_time"]), (float(r["low"]), "L", r["low_time"])):
        _hline(cv, label, r["confirmed_at"], cv.x_end, p, S.INK, op, dash="dash")
        _hline(cv, label, t_ext, r["confirmed_at"], p, S.MUTED, op * 0.6, dash="dot", width=1)
        if focused:
            cv.tags.append((p, f"{tag}{side} {cv.price(p)}", S.INK))
    _known_tick(cv, label, r["confirmed_at"], float(r["low"]), float(r["high"]), focused)


_OPEN_NAMES = {"ny_midnight": "NY midnight open", "daily": "daily open", "weekly": "weekly open"}


def _paint_open(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    p = float(r["open"])
    _hline(cv, label, r["time"], cv.x_end, p, S.PURPLE, op, dash="dash")
    if focused:
        nominal = r.get("nominal_time")
        late = utc(r["time"]) - utc(nominal) if nominal is not None and pd.notna(nominal) else pd.Timedelta(0)
        extra = f" (+{int(late.total_seconds() // 60)} min)" if late > pd.Timedelta(0) else ""
        _text(cv, label, r["time"], p, f"{_OPEN_NAMES.get(str(r['kind']), r['kind'])}{extra}", S.PURPLE, edge=True)
        cv.tags.append((p, f"open {cv.price(p)}", S.PURPLE))
    _known_tick(cv, label, r["confirmed_at"], p, p, focused)


def _paint_equal(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    high = r["side"] == "high"
    col = S.RED if high else S.GREEN
    lvl = float(r["level"])
    _hline(cv, label, r["first_time"], r["confirmed_at"], lvl, col, op, width=1.2)
    _hline(cv, label, r["confirmed_at"], cv.x_end, lvl, col, op * 0.7, dash="dot", width=1)
    for t, p in ((r["first_time"], r["first_price"]), (r["second_time"], r["second_price"])):
        _marker(cv, label, t, float(p), "circle-open", col, op, f"swing {cv.price(p)}", 9)
    if focused:
        _text(cv, label, r["second_time"], lvl, f"{'EQH' if high else 'EQL'} ×{int(r['count'])}", col, above=high)
        cv.tags.append((lvl, f"{'EQH' if high else 'EQL'} {cv.price(lvl)}", col))
    _known_tick(cv, label, r["confirmed_at"], lvl, lvl, focused)


def _paint_sweep(cv, label, r, focused):
    op = 1.0 if focused else _FAINT
    lvl, ext = float(r["level"]), float(r["extreme"])
    buy = r["direction"] == "buy_side"
    col = S.RED if buy else S.GREEN
    _hline(cv, label, r["level_confirmed_at"], r["confirmed_at"], lvl, S.BLUE, op, width=1.4)
    _marker(cv, label, _extreme_bar(cv, r["time"], r["confirmed_at"], ext, buy), ext, "x-thin-open", col, op,
            f"{r['level_name']} sweep {cv.price(ext)} beyond {cv.price(lvl)}", 12)
    if focused:
        pierce = abs(ext - lvl) / cv.pip
        n = int(r["bars_to_reclaim"])
        back = f"back in {n} bar{'s' if n != 1 else ''}"
        _text(cv, label, r["time"], ext, f"sweep of {esc(r['level_name'])} +{pierce:.1f}p · {back}",
              col, above=buy)
        cv.tags.append((lvl, f"{esc(str(r['level_name'])[:8])} {cv.price(lvl)}", S.BLUE))
    _known_tick(cv, label, r["confirmed_at"], lvl, ext, focused)


def _extreme_bar(cv: _Canvas, t0, t1, price: float, high: bool) -> pd.Timestamp:
    """Open time of the first window bar in ``[t0, t1)`` whose high (low) equals ``price``; else ``t0``."""
    a, b = utc(t0), utc(t1)
    seg = cv.bars[(cv.bars.index >= a) & (cv.bars.index < b)] if a is not None and b is not None else cv.bars.iloc[:0]
    hit = seg.index[seg["high" if high else "low"].to_numpy() == price]
    return hit[0] if len(hit) else a


def _paint_atr(cv, label, r, focused):
    if not focused:
        return
    v = float(r["value"]) / cv.pip if pd.notna(r["value"]) else None
    t = cv.x(r["time"], edge=False)
    cv.traces.append(dict(type="scatter", x=[t], y=[v if v is not None else 0.0], yaxis="y2", mode="markers+text",
                          name=_name(label), text=[f"{v:.2f}p" if v is not None else "NaN"], textposition="middle left",
                          textfont=dict(size=11, color=S.PURPLE),
                          marker=dict(size=9, color=S.PURPLE if v is not None else S.MUTED, symbol="diamond")))
    cv.shapes.append(dict(type="line", xref="x", yref="paper", x0=cv.x(r["confirmed_at"]), x1=cv.x(r["confirmed_at"]),
                          y0=0, y1=0.24, line=dict(color=S.INK, width=1.6, dash="dot"), name=_name(label, "known")))
    cv.ann.append(dict(x=cv.x(r["confirmed_at"]), y=0.24, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=f"known {S.to_ny(utc(r['confirmed_at'])):%H:%M}", name=_name(label, "known"),
                       font=dict(size=10, color=S.INK, family=S.MONO), bgcolor="rgba(255,255,255,0.85)"))


_PAINTERS: dict[str, Callable] = {
    "fvg": _paint_fvg, "order_blocks": _paint_ob, "session_range": _paint_range, "initial_balance": _paint_range,
    "range_break": _paint_range_break, "swings": _paint_swing, "structure_breaks": _paint_break,
    "previous_period_levels": _paint_period, "opening_levels": _paint_open, "equal_levels": _paint_equal,
    "sweeps": _paint_sweep, "atr": _paint_atr,
}


# ------------------------------------------------------------------------------------------- selection

def _col(events: pd.DataFrame, name: str) -> pd.DatetimeIndex:
    """A time column as UTC DatetimeIndex (NaT kept)."""
    return pd.DatetimeIndex(pd.to_datetime(events[name], utc=True))


def _span(events: pd.DataFrame, kind: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(first, last) UTC instant each event occupies on a chart, to select those overlapping a window."""
    conf = _col(events, "confirmed_at")
    if kind in ("fvg", "order_blocks"):
        mit = _col(events, "mitigated_at")
        return _col(events, "time"), mit.where(~mit.isna(), conf + _FAR)
    if kind in ("session_range", "initial_balance"):
        return _col(events, "start"), conf + pd.Timedelta(days=1)
    if kind == "structure_breaks":
        return _col(events, "swing_time"), conf
    if kind == "previous_period_levels":
        p0, p1 = _col(events, "period_start"), _col(events, "period_end")
        return p0, p1 + (p1 - p0)
    if kind == "opening_levels":
        return _col(events, "time"), conf + pd.Timedelta(days=1)
    if kind == "equal_levels":
        return _col(events, "first_time"), conf + pd.Timedelta(hours=12)
    if kind == "sweeps":
        return _col(events, "time"), conf
    return _col(events, "time"), conf  # range_break, swings, atr


# kinds whose events formed before the window still matter inside it (levels, ranges)
_CONTEXT_FROM_BEFORE = {"previous_period_levels", "opening_levels", "session_range", "initial_balance",
                        "range_break", "atr"}


def _visible(events: pd.DataFrame, kind: str, start: pd.Timestamp, end: pd.Timestamp,
             focus: set | None) -> tuple[pd.DataFrame, set]:
    """Events to draw and the focused labels among them.

    ``focus=None``: every event overlapping ``[start, end]`` is focused (at most ``_MAX_CONTEXT``);
    otherwise the focused rows (always drawn) plus at most ``_MAX_CONTEXT`` other overlapping rows."""
    if events is None or len(events) == 0:
        return pd.DataFrame(), set()
    t0, t1 = _span(events, kind)
    inside = np.asarray(t0 <= end) & np.asarray(t1 >= start)
    if kind not in _CONTEXT_FROM_BEFORE:  # zones, swings, breaks: only those that start in the window
        inside &= np.asarray(t0 >= start)
    if focus is None:
        keep = np.flatnonzero(inside)[:_MAX_CONTEXT]
        return events.iloc[keep], set(events.index[keep])
    is_focus = events.index.isin(list(focus))
    ctx = np.flatnonzero(inside & ~is_focus)[:_MAX_CONTEXT]
    keep = np.union1d(np.flatnonzero(is_focus), ctx)
    return events.iloc[keep], set(events.index[is_focus])


def _event_prices(kind: str, r: pd.Series) -> list[float]:
    """Prices a focused event needs inside the y range."""
    cols = {"fvg": ("top", "bottom"), "order_blocks": ("top", "bottom"), "session_range": ("high", "low"),
            "initial_balance": ("high", "low"), "range_break": ("range_high", "range_low"), "swings": ("price",),
            "structure_breaks": ("level",), "previous_period_levels": ("high", "low"), "opening_levels": ("open",),
            "equal_levels": ("level", "first_price", "second_price"), "sweeps": ("level", "extreme")}.get(kind, ())
    out = []
    for c in cols:
        try:
            v = float(r[c])
        except (KeyError, TypeError, ValueError):
            continue
        if np.isfinite(v):
            out.append(v)
    return out


# ---------------------------------------------------------------------------------------------- figure

def detector_figure(candles: pd.DataFrame, events: pd.DataFrame, kind: str, start: Any, end: Any, title: str,
                    pip_size: float, *, focus: Iterable | None = None, subtitle: str = "",
                    reference_levels: Mapping[str, float] | None = None) -> go.Figure:
    """Candles of ``[start, end]`` with one detector's events, for a reviewer.

    Parameters
    ----------
    candles : canonical frame (UTC ``DatetimeIndex`` of bar opens; ``open, high, low, close``), any
        timeframe and any length — only the window is drawn (e.g. H1 bars for a weekly level).
    events : the detector's output table (columns as documented by the detector; for ``"atr"`` a frame
        with ``time``, ``confirmed_at`` (UTC) and ``value`` (price units)). May be the whole year: only
        events overlapping the window are drawn; the row index labels name the plotly elements.
    kind : one of :data:`KINDS` (the detector's function name).
    start, end : window bounds (UTC; Timestamp or ISO string, naive = UTC), bar opens included.
    title : plain text; ``subtitle`` may hold plotly HTML (``<b>``, ``<br>``).
    pip_size : price units per pip (EURUSD 0.0001, XAUUSD 0.1): price decimals, pip sizes in labels, ATR in pips.
    focus : index labels of the events under review: drawn opaque with labels and "known HH:MM"; every
        other visible event is drawn faint and unlabelled (at most 40 of them). ``None`` = all focused.
    reference_levels : optional ``{label: price}`` drawn as thin grey lines across the window (e.g. a
        level that was *not* swept).

    Returns a :class:`plotly.graph_objects.Figure` laid out for 1200×700 px (:data:`WIDTH`, :data:`HEIGHT`),
    x axis in New York wall-clock (gaps longer than three bars, e.g. weekends, are cut out).

    Raises :class:`ValueError` for an unknown ``kind``, a window with ``end <= start``, or candles without
    OHLC columns.
    """
    if kind not in _PAINTERS:
        raise ValueError(f"detector_figure: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    missing = {"open", "high", "low", "close"} - set(candles.columns)
    if missing:
        raise ValueError(f"detector_figure: candles lack column(s) {sorted(missing)}")
    t0, t1 = utc(start), utc(end)
    if t0 is None or t1 is None or t1 <= t0:
        raise ValueError(f"detector_figure: need start < end, got {start!r} → {end!r}")
    win = slice_window(candles, t0, t1)
    idx = pd.DatetimeIndex(win.index)
    bar = bar_width(idx if len(idx) > 1 else pd.DatetimeIndex(candles.index[:50]))
    pip = float(pip_size) if pip_size and pip_size > 0 else 0.0001
    dec = S.price_decimals(pip)

    shown, focused = _visible(events, kind, t0, t1, None if focus is None else set(focus))
    y0, y1 = _y_range(win, shown, focused, kind, pip, reference_levels)
    cv = _Canvas(start=t0, end=t1, half=bar / 2, x_end=(idx[-1] + bar) if len(idx) else t1, y0=y0, y1=y1, pip=pip,
                 fmt=f"{{:.{dec}f}}", bars=win)
    cv.traces.append(_candles(win, bar, dec))
    for label, row in shown.iterrows():
        _PAINTERS[kind](cv, label, row, label in focused)
    for name, p in (reference_levels or {}).items():
        _hline(cv, f"ref {name}", t0, cv.x_end, float(p), S.MUTED, 1.0, dash="longdash", width=1)
        cv.tags.append((float(p), f"{esc(name)} {cv.price(p)}", S.MUTED))
    _layout_known_labels(cv)
    _price_tags(cv)
    if kind == "atr":
        cv.traces.append(_atr_line(cv, events, t0, t1))
    return go.Figure(dict(data=cv.traces, layout=_layout(cv, idx, bar, title, subtitle, kind, dec)))


def _candles(win: pd.DataFrame, bar: pd.Timedelta, dec: int) -> dict:
    """Neutral house-style candlesticks (hollow up, solid down) at New York bar opens."""
    rnd = lambda a: np.round(win[a].to_numpy(dtype="float64"), dec + 1).tolist()  # noqa: E731
    return dict(type="candlestick", x=S.xstr(S.index_to_ny(pd.DatetimeIndex(win.index))), open=rnd("open"),
                high=rnd("high"), low=rnd("low"), close=rnd("close"),
                name="M5" if bar == pd.Timedelta(minutes=5) else "bars",
                increasing=dict(line=dict(color=S.CANDLE_UP, width=1), fillcolor="#ffffff"),
                decreasing=dict(line=dict(color=S.CANDLE_DOWN, width=1), fillcolor=S.CANDLE_DOWN),
                whiskerwidth=0, hoverlabel=dict(bgcolor="white"))


def _y_range(win: pd.DataFrame, shown: pd.DataFrame, focused: set, kind: str, pip: float,
             reference_levels: Mapping[str, float] | None) -> tuple[float, float]:
    """Price range covering the candles, every focused event and the reference levels, padded 8 %."""
    prices = [float(win["low"].min()), float(win["high"].max())] if len(win) else []
    for label, row in shown.iterrows():
        if label in focused:
            prices += _event_prices(kind, row)
    prices += [float(p) for p in (reference_levels or {}).values()]
    prices = [p for p in prices if np.isfinite(p)]
    if not prices:
        return 0.0, 1.0
    lo, hi = min(prices), max(prices)
    pad = 0.08 * max(hi - lo, 10 * pip)
    return lo - pad, hi + pad * 1.6   # extra head room for the "known" labels


def _price_tags(cv: _Canvas) -> None:
    """Right-edge price tags, spread so they never overlap (same look as the trade charts)."""
    tags = [(p, t, c) for p, t, c in dict.fromkeys(cv.tags) if cv.y0 <= p <= cv.y1]
    if not tags:
        return
    plot_h = _PLOT_PX_H * (0.7 if any(tr.get("yaxis") == "y2" for tr in cv.traces) else 1.0)
    to_px = lambda p: (p - cv.y0) / (cv.y1 - cv.y0) * plot_h  # noqa: E731
    want = [to_px(p) for p, _, _ in tags]
    got = spread_tags(want, _TAG_GAP_PX, 8, plot_h - 8)
    for (p, text, col), w_px, g_px in zip(tags, want, got):
        cv.ann.append(dict(x=1.0, xref="paper", y=p, yref="y", text=text, showarrow=True, arrowhead=0, arrowwidth=1,
                           arrowcolor=col, ax=14, ay=-(g_px - w_px), axref="pixel", ayref="pixel", xanchor="left",
                           yanchor="middle", font=dict(size=11, color="white", family=S.MONO), bgcolor=col,
                           borderpad=2))


def _atr_line(cv: _Canvas, events: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> dict:
    """ATR of the window (pips) on the lower panel."""
    t = _col(events, "time")
    sel = (t >= t0) & (t <= t1)
    v = events["value"].to_numpy(dtype="float64")[sel] / cv.pip
    return dict(type="scatter", x=S.xstr(S.index_to_ny(t[sel])), y=np.round(v, 4).tolist(), yaxis="y2",
                mode="lines", line=dict(color=S.PURPLE, width=1.5), name="ATR", hoverinfo="x+y")


def _layout(cv: _Canvas, idx: pd.DatetimeIndex, bar: pd.Timedelta, title: str, subtitle: str, kind: str,
            dec: int) -> dict:
    breaks = gap_rangebreaks(idx, bar)
    x_lo = S.to_ny(idx[0] - bar / 2) if len(idx) else S.to_ny(cv.start)
    tickvals, ticktext = bar_ticks(idx, bar)
    atr = kind == "atr"
    layout = S.base_layout(
        title=title_block(title, subtitle), margin={**_MARGIN, "r": _MARGIN["r"] if cv.tags else 40},
        shapes=cv.shapes, annotations=cv.ann, width=WIDTH, height=HEIGHT,
        xaxis=S.axis_style(type="date", anchor="y2" if atr else "y", range=[S.xstr(x_lo), cv.x(cv.x_end)],
                           rangeslider=dict(visible=False),
                           rangebreaks=breaks, hoverformat="%a %d %b %H:%M NY",
                           tickmode="array", tickvals=tickvals, ticktext=ticktext,
                           title=dict(text="New York time (America/New_York)", font=dict(size=12, color=S.MUTED))),
        yaxis=S.axis_style(range=[cv.y0, cv.y1], tickformat=f".{dec}f", hoverformat=f".{dec}f",
                           domain=[0.3, 1.0] if atr else [0.0, 1.0],
                           title=dict(text="Price", font=dict(size=12, color=S.MUTED))),
    )
    if atr:
        layout["yaxis2"] = S.axis_style(domain=[0.0, 0.22], anchor="x", title=dict(text="ATR (pips)",
                                        font=dict(size=12, color=S.MUTED)), tickformat=".1f", rangemode="tozero")
    return layout


__all__ = ["HEIGHT", "KINDS", "WIDTH", "detector_figure"]
