"""Independent reference for ``silver_bullet`` v1, written from setups/silver_bullet/v1.yaml:

  1. FVG: the first fair value gap of at least 1 pip whose third candle opens between 10:00 and 11:00 NY
     sets the direction (bullish gap -> long, bearish -> short).
  2. Trend filter (multi-timeframe): the last H1 BOS/CHoCH (2/2 fractal swings, close through) known at that
     moment points the same way. An H1 candle counts only once it has closed.
  Order: a limit at the FVG's near edge; stop 1 pip beyond its far edge; target 2R. The order works until
  11:00 NY only; an open trade is closed at 15:00 NY or after 24 bars (two hours), whichever comes first.
  execution: intrabar stop_first, fill_bar stop_only.

Interpretation choices:
1. Day D = a Monday–Friday New York date; the FVG's third candle i opens in [10:00, 11:00) NY on D (its first
   two candles may be earlier); only the first such gap counts — if the trend disagrees, no trade on D.
2. H1 candles: the M5 bars grouped by clock hour (open of the first, max high, min low, close of the last);
   H1 bar T is known at T + 1 h. Swings 2/2 and close-through breaks on the H1 rows (refkit.structure_breaks:
   a swing confirmed at the close of H1 bar k is a reference level from bar k+1 on). The trend at the FVG =
   the direction of the last H1 break whose bar closed at or before the FVG's close (M5 bar i + 5 min).
3. Limit = top (long) / bottom (short) of the gap; stop = the other edge ∓ 1 pip; target = limit ± 2 × risk.
   Live from bar i+1 while bars open on D before 11:00; time exit at the close of the last bar before 15:00
   or of the 24th bar counting the fill bar as 1.
"""
from __future__ import annotations

import pandas as pd

from refkit import Bars, frame, fvg_at, hm, load_mt5_csv, minutes, structure_breaks, walk_order, weekdays

__all__ = ["reference_trades", "load_mt5_csv"]


def h1_trend(candles: pd.DataFrame) -> list[tuple[pd.Timestamp, str]]:
    """(time the H1 break became known = its bar's close, direction), in time order."""
    key = candles.index.floor("h")
    h1 = candles.groupby(key).agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                                  close=("close", "last"))
    breaks = structure_breaks(h1["high"].tolist(), h1["low"].tolist(), h1["close"].tolist(), 2, 2)
    return [(h1.index[i] + pd.Timedelta(hours=1), d) for i, d, _ in breaks]


def reference_trades(candles: pd.DataFrame, pip: float = 0.0001) -> pd.DataFrame:
    eps = 1e-6 * pip
    b = Bars.of(candles)
    trend = h1_trend(candles)
    by_day: dict = {}
    for i, t in enumerate(b.ny):
        by_day.setdefault(t.date(), []).append(i)
    trades = []
    k = 0
    for day in weekdays(b):
        gap = None
        for i in by_day.get(day, []):
            if hm("10:00") <= minutes(b.ny[i]) < hm("11:00"):
                g = fvg_at(b, i, pip, 1.0, eps)
                if g:
                    gap = (i, *g)
                    break
        if gap is None:
            continue
        i, direction, bottom, top = gap
        known = b.t[i] + pd.Timedelta(minutes=5)
        while k < len(trend) and trend[k][0] <= known:
            k += 1
        last = next((d for t, d in reversed(trend[:k]) if t <= known), None)
        if last != direction:
            continue
        limit = top if direction == "long" else bottom
        stop = bottom - pip if direction == "long" else top + pip
        risk = abs(limit - stop)
        target = limit + 2 * risk if direction == "long" else limit - 2 * risk
        t = walk_order(b, day, direction, "limit", limit, stop, target, i + 1, hm("11:00"), hm("15:00"),
                       "stop_only", eps, max_bars=24)
        if t is not None:
            trades.append(t)
    return frame(trades)
