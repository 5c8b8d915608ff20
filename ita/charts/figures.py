"""Plotly figures for a backtest: the equity curve and one annotated chart per trade.

Both figures are plain :class:`plotly.graph_objects.Figure` objects with no plotly template (small JSON,
identical look in PNG and HTML); :func:`equity_spec` and :func:`trade_spec` build the same figures as plain
dicts without plotly's object layer (what the PNG export and the HTML report use: milliseconds, and plotly's
validators are never loaded). Times on every x axis are New York wall-clock (``America/New_York``) and
the axis title says so; inputs are UTC. See :mod:`ita.charts.style` for the colour language.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ita.charts import style as S
from ita.charts.common import (SHORT_SESSION, bar_width, esc, finite, gap_rangebreaks, meta_dict, spread_tags, title_block,
                               window_arrays)
from ita.times import utc

if TYPE_CHECKING:
    import plotly.graph_objects as go

# Nominal plot-area size the trade figure is laid out for (the PNG default 1400×800 minus margins); used
# only to keep the price tags on the right edge from overlapping.
_PLOT_PX_H = 610
_TAG_GAP_PX = 17
_BEFORE = pd.Timedelta(hours=1)
_AFTER = pd.Timedelta(hours=1, minutes=30)
_MAX_LOOKBACK = pd.Timedelta(days=2)
_KILLZONES = (("london_killzone", "London KZ"), ("new_york_killzone", "NY KZ"))


# ---------------------------------------------------------------------------------------------- equity

def _stats_line(stats: pd.Series | Mapping | None) -> str:
    st = stats if stats is not None else {}
    get = (lambda k: st.get(k)) if hasattr(st, "get") else (lambda k: None)
    total = finite(get("Total R"))
    color = S.GREEN if (total or 0) > 0 else S.RED if (total or 0) < 0 else S.MUTED
    parts = [
        f"Trades <b>{S.fmt_stat('Trades', get('Trades'))}</b>",
        f"Win rate <b>{S.fmt_num(get('Win Rate [%]'), 1, suffix='%')}</b>",
        f"Total <b><span style='color:{color}'>{S.fmt_num(get('Total R'), 2, signed=True, suffix='R')}</span></b>",
        f"Profit factor <b>{S.fmt_num(get('Profit Factor'), 2)}</b>",
        f"Max drawdown <b>{S.fmt_num(get('Max Drawdown [R]'), 2, suffix='R')}</b>",
    ]
    start, end = get("Start"), get("End")
    if start is not None and end is not None and not pd.isna(start) and not pd.isna(end):
        parts.append(f"{pd.Timestamp(start):%Y-%m-%d} → {pd.Timestamp(end):%Y-%m-%d}")
    return "   ·   ".join(parts)


# The two rows of the equity figure (plotly's make_subplots(rows=2, shared_xaxes=True, row_heights=[0.74, 0.26],
# vertical_spacing=0.035) layout, written out: the figure is built as a plain dict, no plotly objects).
_ROW_HEIGHTS = (0.74, 0.26)
_V_SPACING = 0.035
_DD_DOMAIN = [0.0, (1.0 - _V_SPACING) * (_ROW_HEIGHTS[1] / sum(_ROW_HEIGHTS))]  # the same float arithmetic
_EQ_DOMAIN = [_DD_DOMAIN[1] + _V_SPACING, 1.0]
NO_TEMPLATE = {"data": {"scatter": [{"type": "scatter"}]}}
"""plotly's ``"none"`` template as ``Figure.to_dict()`` writes it (what ``template="none"`` expands to)."""


def merge_layout(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra`` like plotly's ``update_layout``: nested dicts merge, other values replace
    (a new dict; ``base`` is not changed)."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge_layout(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def equity_figure(equity: pd.DataFrame, stats: pd.Series, title: str) -> go.Figure:
    """Equity curve in R with drawdown, key statistics in the subtitle.

    ``equity``: one row per closed trade, indexed by ``exit_time`` (tz-aware UTC, ascending), columns
    ``r``, ``cum_r``, ``drawdown_r`` (R multiples; ``pnl``, ``equity``, ``drawdown_pct`` are accepted and
    ignored) — the frame of :func:`ita.backtest.stats.equity_curve`. ``stats``: the Series of
    :func:`ita.backtest.stats.compute_stats` (labels used: Trades, Win Rate [%], Total R, Profit Factor,
    Max Drawdown [R], Start, End; missing labels show "–"). ``title``: plain text (HTML-escaped).

    Returns a two-row figure: top, cumulative R as a step line from 0 with one marker per trade (green
    win, red loss, grey breakeven; hover shows trade number, exit time, r, cumulative R); bottom, the
    drawdown from the running peak in R as a red filled area (≤ 0) with the maximum marked. The shared x
    axis is the exit time in New York wall-clock (``America/New_York``). With 0 trades the axes span
    Start→End from ``stats`` and a "no trades" note is shown. :func:`equity_spec` is the same figure as a
    plain dict (no plotly validation: what the PNG export and the HTML report use).

    Raises :class:`ValueError` if ``equity`` has trades but lacks ``cum_r`` or ``r``.
    """
    import plotly.graph_objects as go

    return go.Figure(equity_spec(equity, stats, title))


def equity_spec(equity: pd.DataFrame, stats: pd.Series, title: str) -> dict:
    """:func:`equity_figure` as a plain plotly figure dict, equal to that figure's ``to_dict()`` (data arrays
    as numpy arrays; see :func:`typed_arrays`). Built in ~2 ms without plotly's object layer."""
    eq = equity if equity is not None else pd.DataFrame(columns=["r", "cum_r", "drawdown_r"])
    n = len(eq)
    if n and not {"r", "cum_r"} <= set(eq.columns):
        raise ValueError(f"equity_figure: the equity frame needs columns r and cum_r, got {list(eq.columns)}")
    st = stats if stats is not None else pd.Series(dtype=object)
    start = pd.Timestamp(st.get("Start")) if st.get("Start") is not None and not pd.isna(st.get("Start")) else None
    end = pd.Timestamp(st.get("End")) if st.get("End") is not None and not pd.isna(st.get("End")) else None
    if start is not None and start.tzinfo is not None:
        start = start.tz_convert(S.TZ).tz_localize(None)
    if end is not None and end.tzinfo is not None:
        end = end.tz_convert(S.TZ).tz_localize(None)

    xaxis = {"anchor": "y", "domain": [0.0, 1.0], "matches": "x2", "showticklabels": False}
    xaxis2 = {"anchor": "y2", "domain": [0.0, 1.0]}
    yaxis = {"anchor": "x", "domain": list(_EQ_DOMAIN)}
    yaxis2 = {"anchor": "x2", "domain": list(_DD_DOMAIN)}
    data: list[dict] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    if n:
        x = S.index_to_ny(pd.DatetimeIndex(eq.index))
        r = eq["r"].to_numpy(dtype="float64")
        cum = np.round(eq["cum_r"].to_numpy(dtype="float64"), 9)
        dd = (np.round(eq["drawdown_r"].to_numpy(dtype="float64"), 9) if "drawdown_r" in eq.columns
              else np.maximum.accumulate(np.r_[0.0, cum])[1:] - cum)
        x0 = min(start, x[0]) if start is not None else x[0]
        xs = S.xstr(pd.DatetimeIndex([x0]).append(x))
        data.append(dict(type="scatter", x=xs, y=np.r_[0.0, cum], mode="lines", hoverinfo="skip",
                         line=dict(shape="hv", color=S.INK, width=1.8), name="cumulative R", xaxis="x", yaxis="y"))
        colors = np.where(r > 0, S.GREEN, np.where(r < 0, S.RED, S.MUTED))
        data.append(dict(
            type="scatter", x=S.xstr(x), y=cum, mode="markers", name="trades",
            marker=dict(color=[str(c) for c in colors], size=7 if n <= 300 else 4, line=dict(width=0.6, color="white")),
            customdata=np.c_[np.arange(1, n + 1), r],
            hovertemplate=("trade %{customdata[0]}<br>exit %{x|%a %Y-%m-%d %H:%M} NY<br>"
                           "r %{customdata[1]:+.2f}R<br>total %{y:+.2f}R<extra></extra>"), xaxis="x", yaxis="y"))
        data.append(dict(type="scatter", x=xs, y=np.r_[0.0, -dd], mode="lines", fill="tozeroy", name="drawdown",
                         line=dict(shape="hv", color=S.RED, width=1), fillcolor="rgba(220, 38, 38, 0.22)",
                         hovertemplate="%{x|%Y-%m-%d %H:%M} NY<br>drawdown %{y:.2f}R<extra></extra>",
                         xaxis="x2", yaxis="y2"))
        k = int(np.argmax(dd))
        if dd[k] > 0:
            annotations.append(dict(x=S.xstr(x[k]), y=float(-dd[k]), xref="x2", yref="y2",
                                    text=f"max DD {S.fmt_num(-dd[k], 2)}R", showarrow=True, arrowhead=0,
                                    arrowcolor=S.RED, ax=-60, ay=-24, xanchor="right",
                                    font=dict(size=11, color=S.RED), bgcolor="rgba(255,255,255,0.85)"))
        if start is not None and end is not None:
            rng = [S.xstr(min(start, x[0])), S.xstr(max(end + pd.Timedelta(days=1), x[-1]))]
            xaxis["range"] = list(rng)
            xaxis2["range"] = list(rng)
        last = S.fmt_num(cum[-1], 2, signed=True, suffix="R")
        annotations.append(dict(x=S.xstr(x[-1]), y=float(cum[-1]), xref="x", yref="y", text=f"<b>{last}</b>",
                                showarrow=False, xanchor="left", xshift=8,
                                font=dict(size=12, color=S.GREEN if cum[-1] > 0 else S.RED if cum[-1] < 0 else S.MUTED)))
        shapes.append(dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=0, y1=0,
                           line=dict(color="#9ca3af", width=1, dash="dot")))
        lo_dd = -max(float(dd.max()), 1.0) * 1.15
        yaxis2["range"] = [lo_dd, max(0.15 * -lo_dd, 0.3)]
    else:
        data.append(dict(type="scatter", x=[], y=[], mode="lines", hoverinfo="skip", xaxis="x", yaxis="y"))
        data.append(dict(type="scatter", x=[], y=[], mode="lines", hoverinfo="skip", xaxis="x2", yaxis="y2"))
        annotations.append(dict(x=0.5, y=0.5, xref="x domain", yref="y domain", text="no trades", showarrow=False,
                                font=dict(size=22, color=S.MUTED)))
        yaxis["range"] = [-1, 1]
        yaxis2["range"] = [-1, 0.2]
        if start is not None and end is not None:
            rng = [S.xstr(start), S.xstr(end + pd.Timedelta(days=1))]
            xaxis["range"] = list(rng)
            xaxis2["range"] = list(rng)

    layout = S.base_layout(title=title_block(title, _stats_line(st)), margin=dict(l=70, r=30, t=100, b=60),
                           hovermode="closest")
    layout["template"] = NO_TEMPLATE
    xstyle, ystyle = S.axis_style(type="date"), S.axis_style()
    layout["xaxis"] = merge_layout(xaxis, xstyle)
    layout["xaxis2"] = merge_layout(merge_layout(xaxis2, xstyle), {"title": {"text": "Exit time (New York, America/New_York)"}})
    layout["yaxis"] = merge_layout(merge_layout(yaxis, ystyle), {"title": {"text": "Cumulative R"}})
    layout["yaxis2"] = merge_layout(merge_layout(yaxis2, ystyle), {"title": {"text": "Drawdown [R]"}})
    layout["annotations"] = annotations
    if shapes:
        layout["shapes"] = shapes
    return {"data": data, "layout": layout}


def typed_arrays(spec):
    """A copy of a figure dict with its numpy float/int arrays as plotly.js typed-array specs
    (``{"dtype": "f8", "bdata": base64, "shape": "r, c"}``), as ``Figure.to_dict()`` writes them: compact,
    exact JSON for the HTML report. Axis ``range`` values are left as they are (as plotly does)."""
    import base64

    if isinstance(spec, dict):
        return {k: v if k == "range" else typed_arrays(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [typed_arrays(v) for v in spec]
    if isinstance(spec, np.ndarray) and spec.dtype.kind == "f" and spec.dtype.itemsize == 8:
        arr = {"dtype": "f8", "bdata": base64.b64encode(np.ascontiguousarray(spec)).decode("ascii")}
        if spec.ndim > 1:
            arr["shape"] = str(spec.shape)[1:-1]
        return arr
    if isinstance(spec, np.ndarray):
        return spec.tolist()
    return spec


# ---------------------------------------------------------------------------------------------- trade

def _pick_corner(bars_x: np.ndarray, bars_lo: np.ndarray, bars_hi: np.ndarray, segments: list, w: float,
                 h: float) -> tuple[float, float, str, str]:
    """Corner (paper x, y, xanchor, yanchor) for the info box that covers the fewest bars/levels.

    ``bars_*`` and ``segments`` ((x0, x1, y) triples) are normalised to the plot [0, 1]²."""
    best = None
    corners = [(0.0, 1.0, "left", "top"), (1.0, 1.0, "right", "top"), (0.0, 0.0, "left", "bottom"),
               (1.0, 0.0, "right", "bottom")]
    for rank, (cx, cy, xa, ya) in enumerate(corners):
        bx0, bx1 = (0.0, w) if cx == 0.0 else (1.0 - w, 1.0)
        by0, by1 = (1.0 - h, 1.0) if cy == 1.0 else (0.0, h)
        inx = (bars_x >= bx0) & (bars_x <= bx1)
        score = float(np.sum(inx & (bars_hi >= by0) & (bars_lo <= by1)))
        for x0, x1, y in segments:
            if by0 <= y <= by1 and x1 >= bx0 and x0 <= bx1:
                score += 25.0
        score += rank * 0.5  # prefer top-left, then top-right on ties
        if best is None or score < best[0]:
            best = (score, (0.006 if cx == 0.0 else 0.994, 0.985 if cy == 1.0 else 0.015, xa, ya))
    return best[1]


@lru_cache(maxsize=4096)
def _session_bounds(name: str, day: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC bounds of session ``name`` on local ``day`` (cached: a report draws the same days again and again)."""
    from ita.sessions import get_session

    return get_session(name).bounds(day)


def killzone_marks(idx_utc: pd.DatetimeIndex, ny: pd.DatetimeIndex, half: pd.Timedelta, t0: pd.Timestamp,
                    t1: pd.Timestamp, *, xref: str = "x", yref: str = "paper", label_y: float = 1.0,
                    label_anchor: str = "bottom", font_size: int = 10) -> tuple[list[dict], list[dict]]:
    """London/NY killzone bands over the bars ``idx_utc`` (UTC opens; ``ny`` the same in New York wall-clock)
    that fall in [``t0``, ``t1``]: ``(shapes, annotations)``. Full height of ``yref`` (``paper`` or
    ``"yN domain"``), label at ``label_y``. Decoration only: any error gives no bands."""
    shapes: list[dict] = []
    ann: list[dict] = []
    if not len(ny):
        return shapes, ann
    try:
        days = pd.date_range(S.to_ny(t0).normalize() - pd.Timedelta(days=1), S.to_ny(t1).normalize()
                             + pd.Timedelta(days=1), freq="D")
        as_ns = lambda i: (i if isinstance(i, pd.DatetimeIndex) else pd.DatetimeIndex(i)).as_unit("ns").asi8  # noqa: E731
        opens, ny_ns = as_ns(idx_utc), as_ns(ny)  # plain int64 nanoseconds: cheap comparisons
        first, last = opens[0], opens[-1]
        for name, label in _KILLZONES:
            for d in days:
                a, b = _session_bounds(name, d)
                if b.value <= first or a.value > last:
                    continue
                inside = np.flatnonzero((opens >= a.value) & (opens < b.value))
                if not len(inside):
                    continue
                xa, xb = pd.Timestamp(ny_ns[inside[0]]) - half, pd.Timestamp(ny_ns[inside[-1]]) + half
                shapes.append(dict(type="rect", xref=xref, yref=yref, x0=S.xstr(xa), x1=S.xstr(xb), y0=0,
                                   y1=1, fillcolor=S.KZ_FILL, line=dict(width=0), layer="below"))
                ann.append(dict(x=S.xstr(xa + (xb - xa) / 2), y=label_y, xref=xref, yref=yref,
                                yanchor=label_anchor, text=label, showarrow=False,
                                font=dict(size=font_size, color=S.MUTED)))
    except Exception:  # noqa: BLE001 - killzones are decoration; never fail a chart over them
        pass
    return shapes, ann


def trade_spec(candles: pd.DataFrame, trade: Mapping, signal: Mapping, title: str, pip_size: float) -> dict:
    """:func:`trade_figure` as a plain plotly figure dict (no validation; compact lists) — see there."""
    tr, sg = dict(trade), dict(signal or {})
    missing = {"open", "high", "low", "close"} - set(candles.columns)
    if missing:
        raise ValueError(f"trade_figure: candles lack column(s) {sorted(missing)}")
    t_entry, t_exit = utc(tr.get("entry_time")), utc(tr.get("exit_time"))
    p_entry = finite(tr.get("entry_price"))
    if t_entry is None or t_exit is None or p_entry is None:
        raise ValueError(f"trade_figure: trade {tr.get('trade', '?')} needs entry_time, entry_price and exit_time "
                         f"(got {tr.get('entry_time')!r}, {tr.get('entry_price')!r}, {tr.get('exit_time')!r})")
    p_exit = finite(tr.get("exit_price"))
    p_sl = finite(tr.get("sl_price", sg.get("sl_price")))
    p_tp = finite(tr.get("tp_price", sg.get("tp_price")))
    direction = str(tr.get("direction") or sg.get("direction") or "").lower()
    if direction not in ("long", "short") and p_sl is not None and p_sl != p_entry:
        direction = "long" if p_sl < p_entry else "short"  # unknown side: the stop is below a long's entry
    is_long = direction == "long"
    r = finite(tr.get("r"))
    reason = str(tr.get("exit_reason") or "exit")
    pip = float(pip_size) if finite(pip_size) and float(pip_size) > 0 else 0.0001
    dec = S.price_decimals(pip)
    pf = f"{{:.{dec}f}}"
    meta = meta_dict(sg.get("meta"))
    rng = meta.get("range") if isinstance(meta.get("range"), Mapping) else None
    zone = meta.get("zone") if isinstance(meta.get("zone"), Mapping) else None
    known_at = utc(sg.get("known_at")) or utc(tr.get("signal_time")) or t_entry

    # ---- window & candles
    anchors = [t_entry, known_at]
    r_start, r_end = (utc(rng.get("start")), utc(rng.get("end"))) if rng else (None, None)
    z_time = utc(zone.get("time")) if zone else None
    ev_times = [utc(ev.get("time")) for ev, _, _ in event_marks(meta, direction)]
    anchors += [t for t in (r_start, z_time, *ev_times) if t is not None]
    t0 = max(min(anchors) - _BEFORE, t_entry - _MAX_LOOKBACK)  # a days-old reference level is clipped
    t1 = max(t_exit, t_entry) + _AFTER
    idx_utc, (o, h, lo, c) = window_arrays(candles, t0, t1)
    n_win = len(idx_utc)
    bar = bar_width(idx_utc if len(idx_utc) > 1 else pd.DatetimeIndex(candles.index[:50]))
    half = bar / 2
    ny = S.index_to_ny(idx_utc)

    def X(t: pd.Timestamp | None, shift: pd.Timedelta = pd.Timedelta(0)) -> str | None:
        return None if t is None else S.xstr(S.to_ny(t + shift))

    rnd = lambda a: np.round(a, dec + 1).tolist()  # noqa: E731 - compact JSON, no float noise
    traces: list[dict] = [dict(
        type="candlestick", x=S.xstr(ny), open=rnd(o), high=rnd(h), low=rnd(lo), close=rnd(c),
        name="M5" if bar == pd.Timedelta(minutes=5) else "bars",
        increasing=dict(line=dict(color=S.CANDLE_UP, width=1), fillcolor="#ffffff"),
        decreasing=dict(line=dict(color=S.CANDLE_DOWN, width=1), fillcolor=S.CANDLE_DOWN),
        whiskerwidth=0, hoverlabel=dict(bgcolor="white"),
    )]

    x_lo = ny[0] - half if len(ny) else S.to_ny(t0)
    x_hi = ny[-1] + half if len(ny) else S.to_ny(t1)
    x_end = S.xstr(x_hi)

    # ---- y range from candles and every level drawn
    levels = [p for p in (p_entry, p_sl, p_tp, p_exit) if p is not None]
    if rng:
        levels += [p for p in (finite(rng.get("high")), finite(rng.get("low"))) if p is not None]
    if zone:
        levels += [p for p in (finite(zone.get("top")), finite(zone.get("bottom"))) if p is not None]
    ylo = min([*levels, *(lo.tolist() if len(lo) else [])])
    yhi = max([*levels, *(h.tolist() if len(h) else [])])
    span = max(yhi - ylo, 10 * pip)
    y0, y1 = ylo - 0.07 * span, yhi + 0.07 * span

    shapes: list[dict] = []
    ann: list[dict] = []

    # ---- killzones (faint full-height bands, label above the plot)
    kz_shapes, kz_ann = killzone_marks(idx_utc, ny, half, t0, t1)
    shapes += kz_shapes
    ann += kz_ann

    # ---- session range
    tags: list[tuple[float, str, str]] = []
    if rng and r_start is not None and r_end is not None:
        rh, rl = finite(rng.get("high")), finite(rng.get("low"))
        sess = str(rng.get("session") or "session").replace("_", " ")
        lab = sess.title() if sess.islower() else sess
        if rh is not None and rl is not None:
            shapes.append(dict(type="rect", xref="x", yref="y", x0=X(r_start, -half), x1=X(r_end, -half), y0=rl,
                               y1=rh, fillcolor=S.BLUE_FILL, line=dict(color=S.BLUE, width=1), layer="below"))
            for p in (rh, rl):
                shapes.append(dict(type="line", xref="x", yref="y", x0=X(r_end, -half), x1=x_end, y0=p, y1=p,
                                   line=dict(color=S.BLUE, width=1, dash="dot"), layer="below"))
            ann.append(dict(x=X(r_start, -half), y=rh, xref="x", yref="y", xanchor="left", yanchor="bottom",
                            text=f"{esc(lab)} range", showarrow=False, font=dict(size=11, color=S.BLUE)))
            short = SHORT_SESSION.get(sess.lower(), lab[:8])
            tags += [(rh, f"{esc(short)} H {pf.format(rh)}", S.BLUE), (rl, f"{esc(short)} L {pf.format(rl)}", S.BLUE)]

    # ---- zone (e.g. FVG) from its time to the exit
    if zone:
        zt, zb = finite(zone.get("top")), finite(zone.get("bottom"))
        if zt is not None and zb is not None:
            zx0 = X(z_time or known_at, -half)
            shapes.append(dict(type="rect", xref="x", yref="y", x0=zx0, x1=X(t_exit, half), y0=min(zt, zb),
                               y1=max(zt, zb), fillcolor=S.PURPLE_FILL, line=dict(color=S.PURPLE, width=1),
                               layer="below"))
            ztype = str(zone.get("type") or "zone").upper()
            zs = finite(zone.get("size_pips"))
            zdir = str(zone.get("direction") or "")
            arrow = "↓ " if zdir.lower() in ("bearish", "short") else "↑ " if zdir.lower() in ("bullish", "long") else ""
            tags.append(((zt + zb) / 2, f"{esc(ztype[:5])} {arrow}{zs:.1f}p" if zs is not None
                         else f"{esc(ztype[:5])} {arrow}".strip(), S.PURPLE))

    # ---- event bars: the range break, the liquidity sweep, the BOS/CHoCH (whichever the setup has)
    for ev, label, low_side in event_marks(meta, direction):
        et = utc(ev.get("time"))
        if et is None or not n_win:
            continue
        k = idx_utc.searchsorted(et)
        if k < n_win and idx_utc[k] == et:
            ann.append(dict(x=S.xstr(ny[k]), y=lo[k] if low_side else h[k], xref="x", yref="y", text=label,
                            showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1.3, arrowcolor=S.BLUE,
                            ax=0, ay=34 if low_side else -34, font=dict(size=11, color=S.BLUE),
                            bgcolor="rgba(255,255,255,0.85)"))

    # ---- position: risk/reward boxes from fill to exit, order lines from known_at to exit
    xe0, xe1, xk0 = X(t_entry, -half), X(t_exit, half), X(min(known_at, t_entry), -half)
    if p_tp is not None:
        shapes.append(dict(type="rect", xref="x", yref="y", x0=xe0, x1=xe1, y0=p_entry, y1=p_tp,
                           fillcolor=S.GREEN_FILL, line=dict(width=0), layer="below"))
    if p_sl is not None:
        shapes.append(dict(type="rect", xref="x", yref="y", x0=xe0, x1=xe1, y0=p_entry, y1=p_sl,
                           fillcolor=S.RED_FILL, line=dict(width=0), layer="below"))
    for p, col, name, dash in ((p_tp, S.GREEN, "TP", "solid"), (p_entry, S.INK, "Entry", "dash"),
                               (p_sl, S.RED, "SL", "solid")):
        if p is None:
            continue
        shapes.append(dict(type="line", xref="x", yref="y", x0=xk0, x1=xe1, y0=p, y1=p,
                           line=dict(color=col, width=1.6, dash=dash)))
        tags.append((p, f"{name} {pf.format(p)}", col))

    # ---- entry / exit markers and labels
    ent_col = S.GREEN if is_long else S.RED
    out_col = S.GREEN if (r or 0) > 0 else S.RED if (r or 0) < 0 else S.MUTED
    traces.append(dict(
        type="scatter", x=[X(t_entry)], y=[p_entry], mode="markers", name="entry", hoverinfo="text",
        hovertext=[f"{direction} entry {pf.format(p_entry)}<br>{S.to_ny(t_entry):%a %Y-%m-%d %H:%M} NY"],
        marker=dict(symbol="triangle-up" if is_long else "triangle-down", size=14, color=ent_col,
                    line=dict(color="white", width=1.2))))
    r_txt = S.fmt_num(r, 2, signed=True, suffix="R") if r is not None else ""
    if p_exit is not None:
        traces.append(dict(
            type="scatter", x=[X(t_exit)], y=[p_exit], mode="markers", name="exit", hoverinfo="text",
            hovertext=[f"exit ({reason}) {pf.format(p_exit)} {r_txt}<br>{S.to_ny(t_exit):%a %Y-%m-%d %H:%M} NY"],
            marker=dict(symbol="triangle-down" if is_long else "triangle-up", size=14, color=out_col,
                        line=dict(color="white", width=1.2))))
        up = p_exit >= p_entry
        ann.append(dict(x=X(t_exit), y=p_exit, xref="x", yref="y", text=f"<b>exit: {esc(reason)} {r_txt}</b>",
                        showarrow=True, arrowhead=0, arrowwidth=1, arrowcolor=out_col, ax=46, ay=-26 if up else 26,
                        xanchor="left", font=dict(size=12, color=out_col), bgcolor="rgba(255,255,255,0.9)",
                        bordercolor=out_col, borderwidth=1, borderpad=3))
    ann.append(dict(x=X(t_entry), y=p_entry, xref="x", yref="y", text=f"{direction or 'entry'} entry",
                    showarrow=True, arrowhead=0, arrowwidth=1, arrowcolor=ent_col, ax=-46,
                    ay=(24 if is_long else -24), xanchor="right", font=dict(size=11, color=ent_col),
                    bgcolor="rgba(255,255,255,0.9)", borderpad=2))

    # ---- price tags on the right edge, spread so they never overlap
    if tags:
        to_px = lambda p: (p - y0) / (y1 - y0) * _PLOT_PX_H  # noqa: E731
        want = [to_px(p) for p, _, _ in tags]
        got = spread_tags(want, _TAG_GAP_PX, 8, _PLOT_PX_H - 8)
        for (p, text, col), w_px, g_px in zip(tags, want, got):
            ann.append(dict(x=1.0, xref="paper", y=p, yref="y", text=text, showarrow=True, arrowhead=0,
                            arrowwidth=1, arrowcolor=col, ax=14, ay=-(g_px - w_px), axref="pixel", ayref="pixel",
                            xanchor="left", yanchor="middle", font=dict(size=11, color="white", family=S.MONO),
                            bgcolor=col, borderpad=2))

    # ---- info box in the emptiest corner
    risk_p = finite(tr.get("risk_pips"))
    if risk_p is None and p_sl is not None:
        risk_p = abs(p_entry - p_sl) / pip
    rr = finite(meta.get("rr"))
    if rr is None and p_sl is not None and p_tp is not None and p_entry != p_sl:
        rr = abs(p_tp - p_entry) / abs(p_entry - p_sl)
    lines = [f"<b>{esc(direction.upper() or 'TRADE')}</b>"
             + (f" · {esc(sg.get('entry_type'))}" if sg.get("entry_type") else "")
             + (f" · #{esc(tr.get('trade'))}" if tr.get("trade") is not None else ""),
             f"entry  {pf.format(p_entry)}   {S.to_ny(t_entry):%H:%M} NY"]
    if p_sl is not None:
        lines.append(f"<span style='color:{S.RED}'>SL     {pf.format(p_sl)}</span>   "
                     f"{abs(p_entry - p_sl) / pip:.1f} pips")
    if p_tp is not None:
        lines.append(f"<span style='color:{S.GREEN}'>TP     {pf.format(p_tp)}</span>   "
                     f"{abs(p_tp - p_entry) / pip:.1f} pips")
    lines.append(f"risk   {risk_p:.1f} pips" + (f" · RR {rr:.1f}" if rr is not None else "")
                 if risk_p is not None else "risk   –")
    if p_exit is not None:
        lines.append(f"exit   {pf.format(p_exit)}   {S.to_ny(t_exit):%H:%M} NY")
    lines.append(f"result <b><span style='color:{out_col}'>{esc(reason)} {r_txt}</span></b>")
    if n_win:
        xn = np.arange(n_win) / max(n_win - 1, 1)
        norm = lambda v: (np.asarray(v, dtype="float64") - y0) / (y1 - y0)  # noqa: E731
        pos_of = lambda t: float(idx_utc.searchsorted(t)) / max(n_win - 1, 1)  # noqa: E731
        segs = [(pos_of(min(known_at, t_entry)), pos_of(t_exit), float(norm(p))) for p in (p_entry, p_sl, p_tp)
                if p is not None]
        cx, cy, xa, ya = _pick_corner(xn, norm(lo), norm(h), segs, 0.23, 0.25)
    else:
        cx, cy, xa, ya = 0.006, 0.985, "left", "top"
        ann.append(dict(x=0.5, y=0.5, xref="paper", yref="paper", text="no candle data in this window",
                        showarrow=False, font=dict(size=18, color=S.MUTED)))
    ann.append(dict(x=cx, y=cy, xref="paper", yref="paper", xanchor=xa, yanchor=ya, align="left",
                    text="<br>".join(lines), showarrow=False, font=dict(size=12, family=S.MONO, color=S.INK),
                    bgcolor="rgba(255,255,255,0.93)", bordercolor="#cbd5e1", borderwidth=1, borderpad=7))

    # ---- subtitle, axes, gaps
    t_ny = S.to_ny(t_entry)
    parts = [f"<b><span style='color:{ent_col}'>{esc(direction.upper() or 'TRADE')}</span></b>",
             f"{t_ny:%a %d %b %Y}",
             f"entry {t_ny:%H:%M} NY → exit {S.to_ny(t_exit):%H:%M} NY",
             f"<b><span style='color:{out_col}'>{esc(reason)} {r_txt}</span></b>"]
    if rng:
        parts.append(f"{esc(str(rng.get('session') or 'session').replace('_', ' ').title())} range "
                     f"{abs((finite(rng.get('high')) or 0) - (finite(rng.get('low')) or 0)) / pip:.1f} pips")
    breaks = gap_rangebreaks(idx_utc, bar)
    layout = S.base_layout(
        title=title_block(title, "   ·   ".join(parts)),
        margin=dict(l=70, r=140, t=105, b=60),
        shapes=shapes, annotations=ann, hovermode="x",
        xaxis=S.axis_style(type="date", range=[S.xstr(x_lo), x_end], rangeslider=dict(visible=False),
                           rangebreaks=breaks, title=dict(text="New York time (America/New_York)",
                                                          font=dict(size=12, color=S.MUTED)),
                           hoverformat="%a %d %b %H:%M NY"),
        yaxis=S.axis_style(range=[y0, y1], tickformat=f".{dec}f", hoverformat=f".{dec}f", side="left",
                           title=dict(text="Price", font=dict(size=12, color=S.MUTED))),
    )
    return dict(data=traces, layout=layout)


def event_marks(meta: Mapping, direction: str) -> list[tuple[Mapping, str, bool]]:
    """``(evidence, label, at the bar's low?)`` for the step events in a signal's ``meta``."""
    out = []
    brk = meta.get("break")
    if isinstance(brk, Mapping):
        out.append((brk, "break", str(brk.get("direction") or direction).lower() in ("short", "down", "bearish")))
    sw = meta.get("sweep")
    if isinstance(sw, Mapping):
        out.append((sw, "sweep", str(sw.get("side")) == "low"))
    st = meta.get("structure")
    if isinstance(st, Mapping):
        out.append((st, str(st.get("kind") or "MSS"), str(st.get("direction")).lower() == "bearish"))
    return out


def trade_figure(candles: pd.DataFrame, trade: Mapping, signal: Mapping, title: str, pip_size: float) -> go.Figure:
    """One trade on its candles, annotated the way a discretionary trader reviews it.

    ``candles``: OHLC frame indexed by bar-open time (tz-aware UTC, or naive = UTC), columns ``open``,
    ``high``, ``low``, ``close`` in price units; may be the whole tested period — the function slices
    1 h before the earliest setup time (range start / break / zone / signal; at most 2 days before the
    entry) to 1.5 h after the exit, clipped to the data. ``trade``: one row of the trades table (:data:`ita.backtest.engine.TRADE_COLUMNS`; uses
    ``direction`` 'long'|'short', ``entry_time``, ``entry_price``, ``sl_price``, ``tp_price``,
    ``exit_time``, ``exit_price``, ``exit_reason``, ``r``, ``risk_pips``; times UTC). ``signal``: the
    matching signals-table row (uses ``known_at``, ``entry_type``, ``meta`` — a dict or its JSON text —
    with optional ``range`` {session, high, low, start, end}, ``break`` {time, direction, level},
    ``zone`` {type, direction, top, bottom, time, size_pips}, ``rr``); absent parts are simply not drawn.
    ``title``: plain text. ``pip_size``: price units per pip (EURUSD 0.0001), for the price decimals and
    the pip distances in the info box.

    Draws: neutral candlesticks (rangebreaks hide gaps > 3 bars, e.g. weekends); London/NY killzones as
    faint bands; the session range as a blue rectangle over its window with dotted high/low extensions; the
    break bar marked; the zone as a purple rectangle from its time to the exit; entry/SL/TP lines from the
    signal's ``known_at`` to the exit with the risk (red) and reward (green) boxes from fill to exit; entry
    and exit triangles (green long / red short entry; exit green if r > 0, red if r < 0, grey otherwise) with
    labels like "exit: target +2.00R"; price tags on the right edge; an info box (direction, entry/SL/TP,
    risk in pips, result) in the emptiest corner. x axis: New York wall-clock (``America/New_York``).

    Raises :class:`ValueError` if ``trade`` has no valid ``entry_time``/``entry_price``/``exit_time`` or
    ``candles`` lacks an OHLC column. An empty candle window gives a figure with a "no candle data" note.
    """
    import plotly.graph_objects as go

    return go.Figure(trade_spec(candles, trade, signal, title, pip_size))

