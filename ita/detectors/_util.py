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


class RangeExtremes:
    """``reduce(values[lo:hi])`` for many half-open ranges at once (``reduce`` = ``np.maximum`` / ``np.minimum``),
    in linear time and memory: blocks of :data:`FIRST_BLOCK` values with running extremes from each block's start
    and to its end, and a sparse table over the block extremes only (n / 32 · log n entries). A NaN in a range
    gives NaN (as ``reduce`` does). Example: ``RangeExtremes(high, np.maximum).query(lo, hi, -np.inf)``."""

    def __init__(self, values: np.ndarray, reduce) -> None:
        v = np.asarray(values, dtype="float64")
        self.n, self.reduce, blk = len(v), reduce, FIRST_BLOCK
        self.identity = -np.inf if reduce is np.maximum else np.inf
        nb = max(1, -(-len(v) // blk))
        pad = np.full(nb * blk, self.identity)
        pad[:len(v)] = v
        self.grid = pad.reshape(nb, blk)
        self.prefix = reduce.accumulate(self.grid, axis=1).ravel()                 # block start … i
        self.suffix = reduce.accumulate(self.grid[:, ::-1], axis=1)[:, ::-1].ravel()  # i … block end
        self.blocks = sparse_table(reduce.reduce(self.grid, axis=1), reduce)

    def query(self, lo: np.ndarray, hi: np.ndarray, empty: float) -> np.ndarray:
        """Per query ``reduce(values[lo[k]:hi[k]])``; ``empty`` where ``hi <= lo``. ``0 <= lo``, ``hi <= n``."""
        lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        out = np.full(len(lo), empty, dtype="float64")
        ok = np.flatnonzero(hi > lo)
        if not len(ok):
            return out
        blk, red = FIRST_BLOCK, self.reduce
        left, right = lo[ok], hi[ok] - 1  # inclusive
        bl, br = left // blk, right // blk
        res = np.empty(len(ok))
        same = bl == br
        if same.any():  # inside one block: scan it
            cols = np.arange(blk)
            rows = self.grid[bl[same]]
            inside = (cols >= (left[same] % blk)[:, None]) & (cols <= (right[same] % blk)[:, None])
            res[same] = red.reduce(np.where(inside, rows, self.identity), axis=1)
        d = ~same
        if d.any():  # the left block's tail, the right block's head, and the whole blocks between
            r = red(self.suffix[left[d]], self.prefix[right[d]])
            a, b = bl[d] + 1, br[d]  # blocks a … b-1
            mid = np.flatnonzero(b > a)
            if len(mid):
                ln = b[mid] - a[mid]
                k = np.floor(np.log2(ln)).astype(np.int64)
                k = np.where((1 << (k + 1)) <= ln, k + 1, k)  # guard float rounding of log2
                k = np.where((1 << k) > ln, k - 1, k)
                first, second = np.empty(len(mid)), np.empty(len(mid))
                for kk in np.unique(k):
                    sel = k == kk
                    arr = self.blocks[kk]
                    first[sel] = arr[a[mid][sel]]
                    second[sel] = arr[b[mid][sel] - (1 << kk)]
                r[mid] = red(r[mid], red(first, second))
            res[d] = r
        out[ok] = res
        return out


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


FIRST_BLOCK = 32
"""Block length of :func:`first_at_or_after` (bars scanned directly before the block index takes over)."""


def first_at_or_after(values: np.ndarray, starts: np.ndarray, levels: np.ndarray, side: str) -> np.ndarray:
    """For each query k: the first index ``j >= starts[k]`` with ``values[j] <= levels[k]`` (side="le")
    or ``values[j] >= levels[k]`` (side="ge"); ``len(values)`` when there is none. A NaN value counts as
    reached (as a comparison that is not a clear miss).

    Linear in the data: ``values`` is cut into blocks of :data:`FIRST_BLOCK` bars; a query scans the rest of
    its own block, finds the first later block whose minimum (maximum) reaches its level by binary lifting
    over a sparse table of the *block* extremes (n / 32 · log n entries, not n · log n), and scans that block.
    Time O(n + q · (B + log n)), memory O(n + q · B) in chunks. Used for mitigation and fill searches without
    a Python loop per query. (The former sparse table over every bar grew as n log n in time and memory:
    ~100 MB and 30× the time for 10× the bars.)
    """
    n = len(values)
    q = len(starts)
    out = np.full(q, n, dtype=np.int64)
    if n == 0 or q == 0:
        return out
    v = np.asarray(values, dtype="float64")
    lev = np.asarray(levels, dtype="float64")
    if side != "le":  # v >= level  <=>  -v <= -level (NaN stays NaN)
        v, lev = -v, -lev
    blk = FIRST_BLOCK
    nb = -(-n // blk)
    pad = np.full(nb * blk, np.inf)
    pad[:n] = v
    grid = pad.reshape(nb, blk)
    bmin = np.minimum.reduce(grid, axis=1)  # NaN propagates: a block with a NaN counts as reached
    table = sparse_table(bmin, np.minimum)
    s_all = np.asarray(starts, dtype=np.int64)
    cols = np.arange(blk)
    step = max(1, (1 << 20) // blk)  # queries per chunk: bounded memory for the q × B scans
    for c0 in range(0, q, step):
        s = s_all[c0:c0 + step]
        lv = lev[c0:c0 + step]
        res = np.full(len(s), n, dtype=np.int64)
        live = np.flatnonzero(s < n)
        if len(live):
            sl, ll = s[live], lv[live]
            b0 = sl // blk
            # 1. the rest of the query's own block
            hit = ~(grid[b0] > ll[:, None]) & (cols >= (sl % blk)[:, None])
            found = hit.any(axis=1)
            res[live[found]] = b0[found] * blk + hit[found].argmax(axis=1)
            # 2. the first later block that reaches the level (binary lifting over the block table)
            rest = np.flatnonzero(~found)
            if len(rest):
                pos = b0[rest] + 1
                lr = ll[rest]
                for k in range(len(table) - 1, -1, -1):
                    width = 1 << k
                    arr = table[k]
                    ok = pos + width <= nb
                    m = arr[np.minimum(np.where(ok, pos, 0), len(arr) - 1)]
                    pos = np.where(ok & (m > lr), pos + width, pos)
                inb = pos < nb
                # 3. the first bar inside that block
                bi = pos[inb]
                h2 = ~(grid[bi] > lr[inb][:, None])
                res[live[rest[inb]]] = bi * blk + h2.argmax(axis=1)
        out[c0:c0 + step] = np.minimum(res, n)
    return out
