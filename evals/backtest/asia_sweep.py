"""Independent reference for ``asia_sweep`` v1, written from setups/asia_sweep/v1.yaml:

  1. Asia range: high/low of 20:00-00:00 New York, the evening before day D.
  2. Sweep: in the London killzone (02:00-05:00 NY) a wick trades beyond the Asia high (or low) and a bar
     closes back inside the range within 3 bars. Raid of the high -> short bias, of the low -> long bias.
  3. Reversal confirmed: a change of character (CHoCH: the first close through a 2/2 fractal swing against
     the prior structure) in the bias direction within 12 bars (one hour on M5) after the reclaim.
  4. Displacement: a fair value gap of at least 0.5 pip in the bias direction completed by the CHoCH candle
     or within the next 6 bars.
  Order: a limit at the FVG's near edge (short: its bottom, long: its top); stop 1 pip beyond the sweep's
  extreme wick; target the opposite side of the Asia range, taken only when it pays at least 1.5R. The order
  works until 08:00 NY; an open trade is closed at 12:00 NY. (YAML: the CHoCH until 06:00; fill_bar stop_only.)

Interpretation choices:
1. The Asia range of D = bars opening in [D−1 20:00, D 00:00) NY; its levels are known at D 00:00 and used
   on D. A level's sweep: the first pierce from 00:00 (a wick strictly beyond), the first close back inside
   within that bar and the next 3; a level is used up by its first pierce. The pierce bar opens in [02:00,
   05:00) NY (the text: "in the London killzone a wick trades beyond"). The first sweep of D (by reclaim bar
   r) sets the bias; a later step failing ends D.
2. Structure: refkit.structure_breaks over the whole M5 history (2/2 swings, close through); a CHoCH is a
   break flipping the previous break's direction. The CHoCH bar c: the first CHoCH in the bias direction
   with r < c ≤ r + 12, opening before 06:00 NY on D.
3. The FVG: the first gap ≥ 0.5 pip in the bias direction whose third candle i has c ≤ i ≤ c + 6 on D.
4. Stop = the raid's extreme wick (pierce … reclaim) ± 1 pip; target = the other Asia side; R:R =
   |target − limit| / |limit − stop| ≥ 1.5 (and the target beyond the limit), else no trade on D.
   Live from bar i+1 while bars open on D before 08:00; time exit at the close of the last bar before 12:00.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from refkit import Bars, first_pierce_sweep, frame, fvg_at, hm, load_mt5_csv, minutes, structure_breaks, walk_order, weekdays

__all__ = ["reference_trades", "load_mt5_csv"]


def reference_trades(candles: pd.DataFrame, pip: float = 0.0001) -> pd.DataFrame:
    eps = 1e-6 * pip
    b = Bars.of(candles)
    by_day: dict = {}
    for i, t in enumerate(b.ny):
        by_day.setdefault(t.date(), []).append(i)
    choch = {i: d for i, d, kind in structure_breaks(b.h, b.lo, b.c, 2, 2) if kind == "CHoCH"}
    trades = []
    for day in weekdays(b):
        prev = by_day.get(day - dt.timedelta(days=1), [])
        asia = [i for i in prev if minutes(b.ny[i]) >= hm("20:00")]
        today = by_day.get(day, [])
        if not asia or not today:
            continue
        hi, lo = max(b.h[i] for i in asia), min(b.lo[i] for i in asia)
        events = []
        for side, level in (("high", hi), ("low", lo)):
            sw = first_pierce_sweep(b, today[0], level, side, 3, eps)
            if sw is None:
                continue
            p, r, ext = sw
            if b.ny[p].date() != day or not (hm("02:00") <= minutes(b.ny[p]) < hm("05:00")):
                continue
            events.append((r, side, ext))
        if not events:
            continue
        r, side, ext = min(events)
        bias = "short" if side == "high" else "long"
        c = next((j for j in range(r + 1, r + 13) if j < len(b) and b.ny[j].date() == day
                  and minutes(b.ny[j]) < hm("06:00") and choch.get(j) == bias), None)
        if c is None:
            continue
        gap = None
        for i in range(c, min(c + 6, len(b) - 1) + 1):
            if b.ny[i].date() != day:
                break
            g = fvg_at(b, i, pip, 0.5, eps)
            if g and g[0] == bias:
                gap = (i, g[1], g[2])
                break
        if gap is None:
            continue
        i, bottom, top = gap
        limit = bottom if bias == "short" else top
        stop = ext + pip if bias == "short" else ext - pip
        target = lo if bias == "short" else hi
        risk, reward = abs(limit - stop), (limit - target if bias == "short" else target - limit)
        if risk <= eps or reward <= 0 or reward / risk < 1.5 - 1e-9:
            continue
        t = walk_order(b, day, bias, "limit", limit, stop, target, i + 1, hm("08:00"), hm("12:00"), "stop_only", eps)
        if t is not None:
            trades.append(t)
    return frame(trades)
