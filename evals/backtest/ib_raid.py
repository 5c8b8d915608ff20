"""Independent reference for ``ib_raid`` v1, written from setups/ib_raid/v1.yaml:

  1. Initial balance: high/low of 09:00-10:00 Europe/Berlin.
  2. Raid: between 10:00 and 13:00 Berlin a wick trades at least 1 pip beyond the IB high (or low) and a bar
     closes back inside within 2 bars. Raid of the high -> short, of the low -> long.
  Order: at market on the next bar's open after the close back inside; stop 1 pip beyond the raid's extreme;
  target the opposite side of the IB, taken only when it pays at least 1R. One trade a day, closed at 11:30
  New York at the latest. execution: intrabar stop_first, fill_bar stop_and_target.

Interpretation choices:
1. Day D = a Monday–Friday New York date; its IB = bars opening in [D 09:00, D 10:00) Berlin. No IB bars → no
   trade on D.
2. Each IB side is a level known at 10:00 Berlin. Its sweep is the first pierce from then on — a wick at
   least 1 pip beyond the level (a shallower poke is not a raid: the text asks for "at least 1 pip beyond")
   — and the first close back inside (strictly) within that bar and the next 2; a level is used up by its
   first pierce. The pierce bar must open in [10:00, 13:00) Berlin on D.
3. The two sides' sweeps are taken in the order of their reclaim bar (the moment the raid is known); the first
   sets the direction. Its stop = the raid's extreme wick (pierce..reclaim) ∓ 1 pip; target = the other IB
   side; R:R is measured from the reclaim bar's close (the price when the order is sent): below 1.0 → no
   trade on D.
4. The market order fills at the next bar's open (if that bar is still on D before 11:30 NY). The order is
   sized when it is sent, so 1R = |reclaim close − stop| (the planned risk; the "limit" column holds that
   planned price): a fill worse than the close costs more than 1R on a stop, as it would cost money.
"""
from __future__ import annotations

import pandas as pd

from refkit import BERLIN, Bars, first_pierce_sweep, frame, hm, load_mt5_csv, minutes, walk_order, weekdays

__all__ = ["reference_trades", "load_mt5_csv"]


def reference_trades(candles: pd.DataFrame, pip: float = 0.0001) -> pd.DataFrame:
    eps = 1e-6 * pip
    b = Bars.of(candles)
    berlin = list(candles.index.tz_convert(BERLIN))
    by_day: dict = {}
    for i, t in enumerate(berlin):
        by_day.setdefault(t.date(), []).append(i)
    trades = []
    for day in weekdays(b):
        idx = by_day.get(day, [])
        ib = [i for i in idx if hm("09:00") <= minutes(berlin[i]) < hm("10:00")]
        if not ib:
            continue
        hi, lo = max(b.h[i] for i in ib), min(b.lo[i] for i in ib)
        start = next((i for i in idx if minutes(berlin[i]) >= hm("10:00")), None)
        if start is None:
            continue
        events = []
        for side, level in (("high", hi), ("low", lo)):
            sw = first_pierce_sweep(b, start, level, side, 2, eps, min_pierce=1.0 * pip)
            if sw is None:
                continue
            p, r, ext = sw
            if berlin[p].date() != day or not (hm("10:00") <= minutes(berlin[p]) < hm("13:00")):
                continue
            events.append((r, side, ext))
        if not events:
            continue
        r, side, ext = min(events)
        direction = "short" if side == "high" else "long"
        stop = ext + pip if direction == "short" else ext - pip
        target = lo if direction == "short" else hi
        ref = b.c[r]
        rr = abs(target - ref) / abs(ref - stop) if abs(ref - stop) > eps else 0.0
        if (direction == "short" and target >= ref) or (direction == "long" and target <= ref) or rr < 1.0 - 1e-9:
            continue
        if r + 1 >= len(b):
            continue
        t = walk_order(b, b.ny[r].date(), direction, "market", ref, stop, target, r + 1, hm("11:30"),
                       hm("11:30"), "stop_and_target", eps)
        if t is not None:
            trades.append(t)
    return frame(trades)
