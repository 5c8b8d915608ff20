"""``first_at_or_after`` (the causal "first bar that reaches a level" search under every mitigation, fill and
structure-break detector) against a plain loop, on random data with ties, NaN, queries past the end and
block edges; and its memory stays linear (no table of n · log n floats)."""
from __future__ import annotations

import numpy as np
import pytest

from ita.detectors._util import FIRST_BLOCK, first_at_or_after


def brute(values, starts, levels, side):
    n = len(values)
    out = []
    for s, lev in zip(starts, levels):
        j = int(s)
        while j < n:
            v = values[j]
            if not (v > lev if side == "le" else v < lev):  # NaN counts as reached
                break
            j += 1
        out.append(min(j, n))
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("side", ["le", "ge"])
@pytest.mark.parametrize("n", [1, 2, FIRST_BLOCK - 1, FIRST_BLOCK, FIRST_BLOCK + 1, 5 * FIRST_BLOCK + 7, 3000])
def test_matches_a_plain_loop(side, n):
    rng = np.random.default_rng(n * (1 if side == "le" else 7))
    values = np.round(np.cumsum(rng.normal(size=n)), 1)  # rounded: many ties with the levels
    if n > 10:
        values[rng.integers(0, n, size=max(1, n // 200))] = np.nan
    q = 400
    starts = rng.integers(0, n + 3, size=q)  # some start past the end
    starts[:4] = [0, n - 1, n, n + 1]
    starts = np.clip(starts, 0, None)
    base = np.where(np.isnan(values), 0.0, values)
    levels = base[np.minimum(starts, n - 1)] + np.round(rng.normal(scale=3.0, size=q), 1)
    levels[:3] = [np.inf, -np.inf, np.nan]
    got = first_at_or_after(values, starts, levels, side)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, brute(values, starts, levels, side))


def test_empty_inputs():
    assert first_at_or_after(np.array([]), np.array([0, 1]), np.array([1.0, 2.0]), "le").tolist() == [0, 0]
    assert first_at_or_after(np.array([1.0, 2.0]), np.array([], dtype=np.int64), np.array([]), "ge").tolist() == []


def test_large_input_many_queries():
    """A million bars and 200k queries (beyond one chunk): same answers as a direct search on a sample."""
    rng = np.random.default_rng(3)
    n = 1_000_000
    values = np.cumsum(rng.normal(size=n))
    starts = np.sort(rng.integers(0, n, size=200_000))
    levels = values[starts] - np.abs(rng.normal(scale=5.0, size=len(starts)))
    got = first_at_or_after(values, starts, levels, "le")
    pick = rng.integers(0, len(starts), size=300)
    np.testing.assert_array_equal(got[pick], brute(values, starts[pick], levels[pick], "le"))


@pytest.mark.parametrize("reduce,empty", [(np.maximum, -np.inf), (np.minimum, np.inf)])
@pytest.mark.parametrize("n", [1, FIRST_BLOCK, 3 * FIRST_BLOCK + 5, 2000])
def test_range_extremes_match_numpy(reduce, empty, n):
    """RangeExtremes (the equal-highs/lows range check): reduce over [lo, hi), within a block, across blocks,
    empty ranges, NaN propagating like numpy's reduce."""
    from ita.detectors._util import RangeExtremes

    rng = np.random.default_rng(n)
    values = np.round(rng.normal(size=n), 1)
    if n > 10:
        values[rng.integers(0, n, size=2)] = np.nan
    lo = rng.integers(0, n + 1, size=500)
    hi = np.clip(lo + rng.integers(-2, 3 * FIRST_BLOCK + 9, size=500), 0, n)
    want = np.array([reduce.reduce(values[a:b]) if b > a else empty for a, b in zip(lo, hi)])
    np.testing.assert_array_equal(RangeExtremes(values, reduce).query(lo, hi, empty), want)
