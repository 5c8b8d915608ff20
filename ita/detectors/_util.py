"""Shared helpers for detectors: bar close times and causal "first bar after" searches."""
from __future__ import annotations

import numpy as np
import pandas as pd


def infer_bar_delta(index: pd.DatetimeIndex) -> pd.Timedelta:
    """Most common spacing of ``index`` = the timeframe (one bar → 1 minute is assumed never; raises)."""
    if len(index) < 2:
        raise ValueError("need at least two bars to infer the timeframe; pass timeframe= explicitly")
    d = np.diff(index.as_unit("ns").asi8)
    vals, counts = np.unique(d, return_counts=True)
    return pd.Timedelta(int(vals[np.argmax(counts)]), unit="ns")


def bar_delta(candles: pd.DataFrame, timeframe: str | None) -> pd.Timedelta:
    """Timeframe duration from ``timeframe`` when given, else inferred from the index."""
    if timeframe:
        from ita.data.timeframes import tf_delta

        return tf_delta(timeframe)
    return infer_bar_delta(candles.index)


def sparse_table(values: np.ndarray, reduce) -> list[np.ndarray]:
    """``table[k][i] = reduce(values[i : i + 2**k])`` (``reduce`` = ``np.minimum``/``np.maximum``), k = 0 … log2 n."""
    table = [np.asarray(values, dtype="float64")]
    k = 1
    while (1 << k) <= len(values):
        prev, half = table[-1], 1 << (k - 1)
        table.append(reduce(prev[:-half], prev[half:]))
        k += 1
    return table


def run_extremes(keys: np.ndarray, high: np.ndarray, low: np.ndarray):
    """Group consecutive equal ``keys`` into runs and return, per run:
    ``starts``, ``ends`` (first/last positions), ``hi``, ``lo`` (max high / min low) and ``hi_pos``,
    ``lo_pos`` (position of the *first* bar reaching each extreme). Positions index ``keys``."""
    first = np.r_[True, keys[1:] != keys[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(keys)] - 1
    hi = np.maximum.reduceat(high, starts)
    lo = np.minimum.reduceat(low, starts)
    group = np.cumsum(first) - 1
    return starts, ends, hi, lo, _first_true_per_group(high == hi[group], group, len(starts)), \
        _first_true_per_group(low == lo[group], group, len(starts))


def _first_true_per_group(flag: np.ndarray, group: np.ndarray, ngroups: int) -> np.ndarray:
    idx = np.flatnonzero(flag)
    g = group[idx]
    firsts = np.r_[True, g[1:] != g[:-1]]
    res = np.empty(ngroups, dtype=np.int64)
    res[g[firsts]] = idx[firsts]
    return res


def first_at_or_after(values: np.ndarray, starts: np.ndarray, levels: np.ndarray, side: str) -> np.ndarray:
    """For each query k: the first index ``j >= starts[k]`` with ``values[j] <= levels[k]`` (side="le")
    or ``values[j] >= levels[k]`` (side="ge"); ``len(values)`` when there is none.

    Vectorised binary lifting over a sparse table of running minima/maxima: O((n + q) log n) time,
    O(n log n) memory. Used for mitigation and fill searches without a Python loop per query.
    """
    n = len(values)
    q = len(starts)
    out = np.full(q, n, dtype=np.int64)
    if n == 0 or q == 0:
        return out
    table = sparse_table(values, np.minimum if side == "le" else np.maximum)
    pos = starts.astype(np.int64).copy()
    for lev in range(len(table) - 1, -1, -1):
        width = 1 << lev
        arr = table[lev]  # arr[j] = reduce(values[j : j + width])
        ok = pos + width <= n
        idx = np.where(ok, pos, 0)
        blk = arr[np.minimum(idx, len(arr) - 1)]
        miss = (blk > levels) if side == "le" else (blk < levels)
        pos = np.where(ok & miss, pos + width, pos)
    return np.minimum(pos, n)
