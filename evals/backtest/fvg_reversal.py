"""Independent reference for ``fvg_reversal`` v1 and v2, written from setups/fvg_reversal/v1.yaml and v2.yaml:

Both: 1. Sweep: between 02:00 and 11:00 NY a wick trades beyond the previous day's high (or low; the forex day
  closes at 17:00 NY) and a bar closes back on the inside within 3 bars. High swept -> short.
v1: 2. Reversal gap: a fair value gap of at least 1 pip in the bias direction, its third candle within 6 bars
  after the close back inside. Order: a limit at the gap's midpoint; stop 1 pip beyond the sweep's extreme;
  target 2.5R. Works until 12:00 NY; flat at 16:00 NY.
v2: 2. Inversion: a fair value gap of at least 1 pip is closed through in the bias direction (a bullish gap
  closed below its bottom becomes a bearish inversion FVG) within 12 bars after the close back inside (or on
  that very bar). Order: a limit at the inverted gap's near edge (short: its bottom, long: its top); stop 1
  pip beyond the sweep's extreme; target 2.5R. Works until 12:00 NY; flat at 16:00 NY.
execution: stop_first, fill_bar stop_only; one trade a day.

Interpretation choices:
1. Forex day F = bars opening in [F−1 17:00, F 17:00) New York. The level of a forex day (its high and low) is
   known at its end and valid through the next forex day that has bars (over a weekend: Friday's levels on
   Monday's forex day, which starts Sunday 17:00).
2. A level's sweep: the first pierce after it is known and before it expires (a wick strictly beyond), the
   first close back inside within that bar and the next 3; the level is used up by the first pierce (also
   when it happens before 02:00). The pierce bar opens in [02:00, 11:00) NY on a Monday–Friday date D
   ("between 02:00 and 11:00 NY a wick trades beyond").
   Sweeps of the day are taken in the order of their reclaim bar r; the first sets the bias; if step 2 then
   finds nothing, no trade on D.
3. v1 gap: the first FVG (≥ 1 pip, refkit.fvg_at) in the bias direction whose third candle is in r+1 … r+6 and
   on D. v2 inversion: gaps ≥ 1 pip whose first later bar closing strictly beyond the far edge (bullish gap:
   close < bottom → bearish IFVG) is in r … r+12 and on D, in the bias direction; the earliest inverting bar
   wins (then the earliest source gap). A gap can invert only from the bar after its third candle.
4. Stop = the raid's extreme wick (pierce … reclaim) ± 1 pip; target = limit ± 2.5 × |limit − stop|; the order
   is live from the bar after the last step's bar while bars open on D before 12:00; no order if the limit is
   on the wrong side of the stop.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from refkit import Bars, first_pierce_sweep, frame, fvg_at, hm, load_mt5_csv, minutes, walk_order, weekdays

__all__ = ["reference_trades", "load_mt5_csv", "VERSIONS"]
VERSIONS = (1, 2)


def forex_day(ts) -> dt.date:
    """The forex day of a New York time: from 17:00 on, the next date."""
    return (ts + pd.Timedelta(hours=7)).date()


def daily_levels(b: Bars):
    """{forex day with bars: (high, low, known index = its first bar after the previous day, until index)}:
    for each forex day with bars, the levels of the previous forex day with bars, usable from this day's
    first bar to its last."""
    days: dict = {}
    for i, t in enumerate(b.ny):
        days.setdefault(forex_day(t), []).append(i)
    order = sorted(days)
    out = {}
    for prev, cur in zip(order, order[1:]):
        idx = days[prev]
        out[cur] = (max(b.h[i] for i in idx), min(b.lo[i] for i in idx), days[cur][0], days[cur][-1])
    return out


def _inversions(b: Bars, pip: float, eps: float):
    """(inverting bar, new direction, bottom, top, source third candle) of every ≥ 1-pip gap, in bar order."""
    out = []
    for i in range(2, len(b)):
        g = fvg_at(b, i, pip, 1.0, eps)
        if not g:
            continue
        d, bottom, top = g
        for j in range(i + 1, len(b)):
            if d == "long" and b.c[j] < bottom - eps:
                out.append((j, "short", bottom, top, i))
                break
            if d == "short" and b.c[j] > top + eps:
                out.append((j, "long", bottom, top, i))
                break
    return sorted(out, key=lambda x: (x[0], x[4]))    # by inverting bar, then the earliest source gap


def reference_trades(candles: pd.DataFrame, pip: float = 0.0001, version: int = 2) -> pd.DataFrame:
    eps = 1e-6 * pip
    b = Bars.of(candles)
    levels = daily_levels(b)
    inv = _inversions(b, pip, eps) if version == 2 else []
    trades = []
    for day in weekdays(b):
        lv = levels.get(forex_day(pd.Timestamp(day.isoformat() + " 02:00").tz_localize("America/New_York")))
        if lv is None:
            continue
        hi, lo, start, until = lv
        events = []
        for side, level in (("high", hi), ("low", lo)):
            sw = first_pierce_sweep(b, start, level, side, 3, eps)
            if sw is None:
                continue
            p, r, ext = sw
            if p > until or b.ny[p].date() != day or not (hm("02:00") <= minutes(b.ny[p]) < hm("11:00")):
                continue
            events.append((r, side, ext))
        if not events:
            continue
        r, side, ext = min(events)
        bias = "short" if side == "high" else "long"
        stop = ext + pip if bias == "short" else ext - pip
        last = None
        if version == 1:
            for i in range(r + 1, min(r + 6, len(b) - 1) + 1):
                if b.ny[i].date() != day:
                    break
                g = fvg_at(b, i, pip, 1.0, eps)
                if g and g[0] == bias:
                    last, limit = i, (g[1] + g[2]) / 2
                    break
        else:
            for j, d, bottom, top, _src in inv:
                if j < r:
                    continue
                if j > r + 12 or b.ny[j].date() != day:
                    break
                if d == bias:
                    last, limit = j, (bottom if bias == "short" else top)
                    break
        if last is None:
            continue
        risk = (stop - limit) if bias == "short" else (limit - stop)
        if risk <= eps:
            continue
        target = limit - 2.5 * risk if bias == "short" else limit + 2.5 * risk
        t = walk_order(b, day, bias, "limit", limit, stop, target, last + 1, hm("12:00"), hm("16:00"), "stop_only", eps)
        if t is not None:
            trades.append(t)
    return frame(trades)
