"""Independent, loop-based reference implementation of the "Asia range break + FVG
retrace" rule text.  It is a test oracle: clarity beats speed, and it shares no
code with the engine under test.

Rule text (spread and commission zero; pip = 0.0001 for EURUSD, 0.1 for XAUUSD)
-------------------------------------------------------------------------------
Times are bar open times; windows are half-open [start, end) in America/New_York
local time; prices are the file's (bid) prices.

- Asia range of trading day D: high and low of the bars opening in
  [D-1 20:00, D 00:00).  Skip D (Mon-Fri only) if that window has no bars.
- Break: the first bar opening in [D 00:00, D 05:00) that closes above the Asia
  high (-> long) or below the Asia low (-> short).  At most one setup per day.
- FVG: with the break bar at index b, look at third candles i = b+1, b+2, b+3 in
  order, stopping at the end of day D or at 11:00.  Long: low[i] - high[i-2]
  >= 1.0 pip, zone = [high[i-2], low[i]].  Short: low[i-2] - high[i] >= 1.0 pip,
  zone = [high[i], low[i-2]].  Take the first.  Known at the close of bar i.
- Order: long = limit buy at the zone top, stop = zone bottom - 1.0 pip; short =
  limit sell at the zone bottom, stop = zone top + 1.0 pip.  Target = entry +/-
  2.0 x |entry - stop|.  Active from bar i+1 while bars open before 11:00;
  otherwise cancelled.
- Fill: a long fills on the first bar whose low <= limit, at min(open, limit); a
  short on the first bar whose high >= limit, at max(open, limit).
- On the fill bar only the stop is checked (at the stop, or at the open if it
  opened beyond it).  From the next bar on: open beyond stop -> exit at open;
  open beyond target -> exit at open; else stop touched -> exit at stop; else
  target touched -> exit at target (stop first when one bar touches both).
- Flat at the close of the last bar opening before 16:00 on D ("time" exit).
- R = direction x (exit - fill) / |limit - stop|.

Interpretation choices made here
--------------------------------
1. D runs over every Monday-Friday New York calendar date between the first and
   the last bar of the data.  All window tests use the bar's open time converted
   to America/New_York (so DST mismatches between Athens and New York are handled
   by the tz database, not by fixed offsets).
2. Float tolerance: EPS = 1e-6 pip.  "x >= y" is tested as x >= y - EPS,
   "x <= y" as x <= y + EPS, "x > y" (strict) as x > y + EPS, "x < y" as
   x < y - EPS.  The FVG size test is (gap / pip) >= 1.0 - 1e-6.
3. Break: "closes above the Asia high" is strict (close > high + EPS); likewise
   below the low.  Only the FIRST bar that closes outside the range matters; its
   side fixes the direction.  If no FVG of that direction is found among
   i = b+1..b+3, there is no setup that day (no second break is looked for).
4. FVG scanning uses row positions in the data (consecutive bars as they exist in
   the file, gaps in the clock are ignored).  Candidate i must exist in the data
   and open on NY date D before 11:00; the scan stops at the first candidate that
   fails this.  Only an FVG in the break direction counts (long break -> bullish
   FVG only).  i-2 may be the bar before the break bar.
5. "entry" in the target formula is the planned limit price, so
   target = limit +/- 2 x |limit - stop|, fixed when the order is placed, even if
   the fill is at a better open price.  R's denominator is |limit - stop| too.
6. The order is live on bars i+1, i+2, ... as long as they open on NY date D
   before 11:00; the first such bar that touches the limit fills it.  Bar i
   itself never fills.
7. If the fill bar opened beyond the stop (a gap through both limit and stop) the
   fill is at the open and the stop exit is also at that open, so R = 0 with
   exit_reason 'stop'.  Stop touch on the fill bar: long low <= stop, short
   high >= stop.
8. "open beyond stop" = long open <= stop / short open >= stop (with EPS); an
   open exactly at the stop gives the same price either way.  Likewise for the
   target with open >= target (long) / open <= target (short).
9. The time exit happens on the last bar opening on NY date D before 16:00, after
   that bar's stop/target checks found nothing (including when that bar is the
   fill bar itself).  If the data ends earlier, the last bar of the data is that
   bar (reason 'time').
10. entry_time / exit_time are bar OPEN times in UTC.
"""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd

NY = "America/New_York"
SERVER_TZ = "Europe/Athens"

COLUMNS = [
    "day",
    "direction",
    "limit",
    "stop",
    "target",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "exit_reason",
    "r",
]


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------
def load_mt5_csv(path) -> pd.DataFrame:
    """Parse an MT5 export (`time,open,high,low,close,...`, server clock) into a
    DataFrame indexed by tz-aware UTC bar open time, columns open/high/low/close."""
    times = []
    rows = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        for rec in reader:
            times.append(dt.datetime.strptime(rec["time"].strip(), "%Y.%m.%d %H:%M:%S"))
            rows.append(
                (
                    float(rec["open"]),
                    float(rec["high"]),
                    float(rec["low"]),
                    float(rec["close"]),
                )
            )
    idx = pd.DatetimeIndex(times).tz_localize(SERVER_TZ, ambiguous="raise", nonexistent="raise")
    idx = idx.tz_convert("UTC")
    idx.name = "time"
    df = pd.DataFrame(rows, index=idx, columns=["open", "high", "low", "close"], dtype=float)
    df = df.sort_index()
    return df


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def _ge(a, b, eps):
    return a >= b - eps


def _le(a, b, eps):
    return a <= b + eps


def _gt(a, b, eps):
    return a > b + eps


def _lt(a, b, eps):
    return a < b - eps


def _ny_minutes(t):
    """Minutes after NY midnight of an NY-local datetime."""
    return t.hour * 60 + t.minute + t.second / 60.0


# ---------------------------------------------------------------------------
# The rule
# ---------------------------------------------------------------------------
def reference_trades(candles: pd.DataFrame, pip: float = 0.0001) -> pd.DataFrame:
    eps = 1e-6 * pip

    idx = candles.index
    if idx.tz is None:
        raise ValueError("candles index must be tz-aware")
    utc_times = list(idx.tz_convert("UTC"))
    ny_times = [t.tz_convert(NY) for t in utc_times]
    o = [float(x) for x in candles["open"]]
    h = [float(x) for x in candles["high"]]
    lo = [float(x) for x in candles["low"]]
    c = [float(x) for x in candles["close"]]
    n = len(utc_times)
    trades = []
    if n == 0:
        return pd.DataFrame(columns=COLUMNS)

    ny_date = [t.date() for t in ny_times]
    ny_min = [_ny_minutes(t) for t in ny_times]

    # Bars grouped by NY date, as lists of row positions (data is sorted).
    by_date: dict[dt.date, list[int]] = {}
    for k in range(n):
        by_date.setdefault(ny_date[k], []).append(k)

    first_day = ny_date[0]
    last_day = ny_date[-1]
    day = first_day
    while day <= last_day:
        D = day
        day = day + dt.timedelta(days=1)
        if D.weekday() >= 5:  # Saturday / Sunday
            continue

        # --- Asia range: [D-1 20:00, D 00:00) -------------------------------
        prev = D - dt.timedelta(days=1)
        asia = [k for k in by_date.get(prev, []) if ny_min[k] >= 20 * 60]
        if not asia:
            continue
        asia_high = max(h[k] for k in asia)
        asia_low = min(lo[k] for k in asia)

        # --- Break: first bar in [D 00:00, D 05:00) closing outside ---------
        b = None
        direction = None
        for k in by_date.get(D, []):
            if ny_min[k] >= 5 * 60:
                break
            if _gt(c[k], asia_high, eps):
                b, direction = k, "long"
                break
            if _lt(c[k], asia_low, eps):
                b, direction = k, "short"
                break
        if b is None:
            continue

        # --- FVG among third candles i = b+1, b+2, b+3 ----------------------
        fvg_i = None
        zone_bottom = zone_top = None
        for i in (b + 1, b + 2, b + 3):
            if i >= n or ny_date[i] != D or ny_min[i] >= 11 * 60:
                break
            if i - 2 < 0:
                continue
            if direction == "long":
                gap = lo[i] - h[i - 2]
                if gap / pip >= 1.0 - 1e-6:
                    fvg_i, zone_bottom, zone_top = i, h[i - 2], lo[i]
                    break
            else:
                gap = lo[i - 2] - h[i]
                if gap / pip >= 1.0 - 1e-6:
                    fvg_i, zone_bottom, zone_top = i, h[i], lo[i - 2]
                    break
        if fvg_i is None:
            continue

        # --- Order ----------------------------------------------------------
        if direction == "long":
            sign = 1.0
            limit = zone_top
            stop = zone_bottom - 1.0 * pip
            target = limit + 2.0 * abs(limit - stop)
        else:
            sign = -1.0
            limit = zone_bottom
            stop = zone_top + 1.0 * pip
            target = limit - 2.0 * abs(limit - stop)
        risk = abs(limit - stop)

        # --- Fill: bars i+1 .. while opening on D before 11:00 --------------
        fill_k = None
        fill_price = None
        k = fvg_i + 1
        while k < n and ny_date[k] == D and ny_min[k] < 11 * 60:
            if direction == "long" and _le(lo[k], limit, eps):
                fill_k, fill_price = k, min(o[k], limit)
                break
            if direction == "short" and _ge(h[k], limit, eps):
                fill_k, fill_price = k, max(o[k], limit)
                break
            k += 1
        if fill_k is None:
            continue  # cancelled / never filled

        # --- Last bar of the session: last bar opening on D before 16:00 ----
        last_k = fill_k
        for k in by_date.get(D, []):
            if k >= fill_k and ny_min[k] < 16 * 60:
                last_k = k

        # --- Manage ---------------------------------------------------------
        exit_k = exit_price = reason = None
        for k in range(fill_k, last_k + 1):
            if direction == "long":
                open_beyond_stop = _le(o[k], stop, eps)
                open_beyond_target = _ge(o[k], target, eps)
                stop_touched = _le(lo[k], stop, eps)
                target_touched = _ge(h[k], target, eps)
            else:
                open_beyond_stop = _ge(o[k], stop, eps)
                open_beyond_target = _le(o[k], target, eps)
                stop_touched = _ge(h[k], stop, eps)
                target_touched = _le(lo[k], target, eps)

            if k == fill_k:
                # Only the stop is checked on the fill bar.
                if open_beyond_stop:
                    exit_k, exit_price, reason = k, o[k], "stop"
                elif stop_touched:
                    exit_k, exit_price, reason = k, stop, "stop"
            else:
                if open_beyond_stop:
                    exit_k, exit_price, reason = k, o[k], "stop"
                elif open_beyond_target:
                    exit_k, exit_price, reason = k, o[k], "target"
                elif stop_touched:
                    exit_k, exit_price, reason = k, stop, "stop"
                elif target_touched:
                    exit_k, exit_price, reason = k, target, "target"
            if exit_k is not None:
                break
        if exit_k is None:
            exit_k, exit_price, reason = last_k, c[last_k], "time"

        r = sign * (exit_price - fill_price) / risk
        trades.append(
            {
                "day": D,
                "direction": direction,
                "limit": limit,
                "stop": stop,
                "target": target,
                "entry_time": utc_times[fill_k],
                "entry_price": fill_price,
                "exit_time": utc_times[exit_k],
                "exit_price": exit_price,
                "exit_reason": reason,
                "r": float(r),
            }
        )

    return pd.DataFrame(trades, columns=COLUMNS)


if __name__ == "__main__":  # pragma: no cover - manual run
    import sys

    for path, pip in (
        ("/work/shared/data/EURUSD_M5_2025.csv", 0.0001),
        ("/work/shared/data/XAUUSD_M5_2025.csv", 0.1),
    ):
        t = reference_trades(load_mt5_csv(path), pip=pip)
        print(path, "trades", len(t), "wins", int((t.r > 0).sum()), "total R", round(t.r.sum(), 4))
        if len(sys.argv) > 1:
            print(t.to_string())
