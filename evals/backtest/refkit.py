"""Shared parts of the independent reference implementations (evals/backtest/*.py): reading the raw MT5 CSV,
New York / Berlin clocks, the three-candle fair value gap, fractal swings and close-through structure
breaks, the first-pierce sweep, and the order walk. Written from the rule texts in setups/*/v*.yaml and
setups/README.md (and the detector definitions in tests/fixtures/detector_cases.yaml); it shares no code
with ita/setups or ita/backtest, on purpose: it is a test oracle, loops over bars, clarity over speed.

Conventions (the rule texts'): times are bar OPEN times; windows half-open [start, end) in the named zone;
prices are the file's prices; EPS = 1e-6 pip for every price comparison.
"""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass

import pandas as pd

NY = "America/New_York"
BERLIN = "Europe/Berlin"
SERVER_TZ = "Europe/Athens"
TRADE_COLUMNS = ["day", "direction", "limit", "stop", "target", "entry_time", "entry_price", "exit_time",
                 "exit_price", "exit_reason", "r"]


def load_mt5_csv(path) -> pd.DataFrame:
    """MT5 export (server clock Europe/Athens) → open/high/low/close indexed by UTC bar open."""
    times, rows = [], []
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            times.append(dt.datetime.strptime(rec["time"].strip(), "%Y.%m.%d %H:%M:%S"))
            rows.append((float(rec["open"]), float(rec["high"]), float(rec["low"]), float(rec["close"])))
    idx = pd.DatetimeIndex(times).tz_localize(SERVER_TZ, ambiguous="raise", nonexistent="raise").tz_convert("UTC")
    return pd.DataFrame(rows, index=idx, columns=["open", "high", "low", "close"]).sort_index()


@dataclass
class Bars:
    """Plain lists for loops: UTC opens, local clocks, prices."""

    t: list
    ny: list
    o: list
    h: list
    lo: list
    c: list

    @classmethod
    def of(cls, df: pd.DataFrame) -> "Bars":
        ny = df.index.tz_convert(NY)
        return cls(list(df.index), list(ny), df["open"].tolist(), df["high"].tolist(), df["low"].tolist(),
                   df["close"].tolist())

    def __len__(self) -> int:
        return len(self.t)


def minutes(ts) -> int:
    return ts.hour * 60 + ts.minute


def hm(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


def fvg_at(b: Bars, i: int, pip: float, min_gap: float, eps: float):
    """The FVG whose third candle is bar i (row positions): ("long", bottom, top) when low[i] − high[i−2] ≥
    min_gap pips, ("short", bottom, top) when low[i−2] − high[i] ≥ min_gap; None otherwise."""
    if i < 2:
        return None
    if (b.lo[i] - b.h[i - 2]) / pip >= min_gap - 1e-6 and b.lo[i] - b.h[i - 2] > eps:
        return ("long", b.h[i - 2], b.lo[i])
    if (b.lo[i - 2] - b.h[i]) / pip >= min_gap - 1e-6 and b.lo[i - 2] - b.h[i] > eps:
        return ("short", b.h[i], b.lo[i - 2])
    return None


def swings(high: list, low: list, left: int = 2, right: int = 2):
    """Fractal swings: (j, "high"|"low", price, known_index j+right). High: above each of the `left` previous
    highs (strictly) and at least each of the `right` next highs; lows mirrored."""
    out = []
    for j in range(left, len(high) - right):
        if all(high[j] > high[j - k] for k in range(1, left + 1)) and all(high[j] >= high[j + k] for k in range(1, right + 1)):
            out.append((j, "high", high[j], j + right))
        if all(low[j] < low[j - k] for k in range(1, left + 1)) and all(low[j] <= low[j + k] for k in range(1, right + 1)):
            out.append((j, "low", low[j], j + right))
    return out


def structure_breaks(high: list, low: list, close: list, left: int = 2, right: int = 2):
    """Close-through breaks of the latest swing high/low confirmed before each bar opens (a swing confirmed at
    the close of bar k is usable from bar k+1); each swing breaks once. Returns (bar, "long"|"short", kind)
    with kind BOS when the previous break had the same direction, CHoCH when it flipped (the first break: BOS)."""
    sw = swings(high, low, left, right)
    by_known: dict[int, list] = {}
    for s in sw:
        by_known.setdefault(s[3], []).append(s)
    last_high = last_low = None      # [price, broken]
    prev_dir = None
    out = []
    for i in range(len(close)):
        for s in by_known.get(i - 1, []):          # confirmed at the close of bar i-1 → usable at bar i
            if s[1] == "high":
                last_high = [s[2], False]
            else:
                last_low = [s[2], False]
        d = None
        if last_high and not last_high[1] and close[i] > last_high[0]:
            last_high[1] = True
            d = "long"
        elif last_low and not last_low[1] and close[i] < last_low[0]:
            last_low[1] = True
            d = "short"
        if d:
            out.append((i, d, "BOS" if prev_dir in (None, d) else "CHoCH"))
            prev_dir = d
    return out


def first_pierce_sweep(b: Bars, start: int, level: float, side: str, reclaim_bars: int, eps: float,
                       min_pierce: float = 0.0):
    """The first bar from ``start`` whose wick trades beyond ``level`` (side "high": high > level; by at least
    ``min_pierce`` in price when given — "a wick trades at least 1 pip beyond"), and the first bar within
    ``reclaim_bars`` after it (0 = the same bar) closing back inside; the level is used up by that first
    pierce. Returns (pierce, reclaim, extreme) or None (never pierced, or not reclaimed)."""
    for p in range(start, len(b)):
        if min_pierce > 0:
            beyond = (b.h[p] - level >= min_pierce - eps) if side == "high" else (level - b.lo[p] >= min_pierce - eps)
        else:
            beyond = b.h[p] > level + eps if side == "high" else b.lo[p] < level - eps
        if not beyond:
            continue
        for r in range(p, min(p + reclaim_bars, len(b) - 1) + 1):
            inside = b.c[r] < level - eps if side == "high" else b.c[r] > level + eps
            if inside:
                ext = max(b.h[p:r + 1]) if side == "high" else min(b.lo[p:r + 1])
                return p, r, ext
        return None
    return None


def walk_order(b: Bars, day, direction: str, entry_type: str, price: float, stop: float, target: float,
               first_bar: int, valid_until: int, flat_at: int, fill_bar: str, eps: float,
               max_bars: int | None = None):
    """Fill and manage one order; returns a trade dict or None (not filled).

    entry_type "limit": fills on the first bar from ``first_bar`` opening on NY date ``day`` before
    ``valid_until`` (minutes NY) whose range reaches ``price`` — long at min(open, price), short at
    max(open, price). "market": fills at the open of ``first_bar``. On the fill bar: the stop is checked
    (stop first), and with fill_bar "stop_and_target" the target too. Later bars: open beyond the stop →
    exit at the open; open beyond the target → exit at the open; else stop touched → stop; else target
    touched → target. Time exit at the close of the last bar opening on ``day`` before ``flat_at``, or of
    the ``max_bars``-th bar (the fill bar = 1). R = direction × (exit − fill) / |price − stop|."""
    sgn = 1 if direction == "long" else -1
    n = len(b)
    fill = None
    k = first_bar
    while k < n and b.ny[k].date() == day and minutes(b.ny[k]) < valid_until:
        if entry_type == "market":
            fill, fpx = k, b.o[k]
            break
        if (sgn == 1 and b.lo[k] <= price + eps) or (sgn == -1 and b.h[k] >= price - eps):
            fill = k
            fpx = min(b.o[k], price) if sgn == 1 else max(b.o[k], price)
            break
        if entry_type == "market":
            break
        k += 1
    if fill is None:
        return None
    risk = abs(price - stop)

    def out(j, px, why):
        return {"day": day, "direction": direction, "limit": price, "stop": stop, "target": target,
                "entry_time": b.t[fill], "entry_price": fpx, "exit_time": b.t[j], "exit_price": px,
                "exit_reason": why, "r": sgn * (px - fpx) / risk}

    def stop_hit(j):
        return b.lo[j] <= stop + eps if sgn == 1 else b.h[j] >= stop - eps

    def target_hit(j):
        return b.h[j] >= target - eps if sgn == 1 else b.lo[j] <= target + eps

    for j in range(fill, n):
        last_today = j + 1 >= n or b.ny[j + 1].date() != day or minutes(b.ny[j + 1]) >= flat_at
        if j == fill:
            if (sgn == 1 and fpx <= stop + eps) or (sgn == -1 and fpx >= stop - eps):
                return out(j, fpx, "stop")
            if stop_hit(j):
                return out(j, stop, "stop")
            if fill_bar == "stop_and_target" and target_hit(j):
                return out(j, target, "target")
        else:
            if (sgn == 1 and b.o[j] <= stop + eps) or (sgn == -1 and b.o[j] >= stop - eps):
                return out(j, b.o[j], "stop")
            if (sgn == 1 and b.o[j] >= target - eps) or (sgn == -1 and b.o[j] <= target + eps):
                return out(j, b.o[j], "target")
            if stop_hit(j):
                return out(j, stop, "stop")
            if target_hit(j):
                return out(j, target, "target")
        if last_today or (max_bars is not None and j - fill + 1 >= max_bars):
            return out(j, b.c[j], "time")
    return out(n - 1, b.c[n - 1], "time")


def weekdays(b: Bars):
    """Every Monday–Friday New York date between the first and the last bar."""
    d, last = b.ny[0].date(), b.ny[-1].date()
    while d <= last:
        if d.weekday() < 5:
            yield d
        d += dt.timedelta(days=1)


def frame(trades: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(trades, columns=TRADE_COLUMNS)
