"""Helpers shared by the no-look-ahead tests: prefixes of candles, the events knowable by a time, and
generated candles."""
from __future__ import annotations

import numpy as np
import pandas as pd

STEP = pd.Timedelta(minutes=5)


def prefix(candles: pd.DataFrame, t) -> pd.DataFrame:
    """The M5 bars whose close is at or before ``t`` (what a live feed of closed bars has seen at ``t``)."""
    return candles[candles.index + STEP <= t]


def knowable(df: pd.DataFrame, col: str, t) -> pd.DataFrame:
    """Rows of ``df`` whose ``col`` (``confirmed_at``, ``known_at``, …) is at or before ``t``."""
    return df[df[col] <= t].reset_index(drop=True)


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def random_walk(seed: int, n: int, *, vol: float = 0.0004, wick: float = 0.0003, open_noise: float = 0.0001,
                digits: int | None = None, start: str = "2025-03-03 00:00") -> pd.DataFrame:
    """``n`` canonical M5 candles of a Gaussian random walk from ``start`` (UTC); ``digits`` rounds prices so
    exact ties (equal highs/lows) occur as in real quotes."""
    rng = np.random.default_rng(seed)
    close = 1.1 + np.cumsum(rng.normal(0, vol, n))
    open_ = np.r_[1.1, close[:-1]] + (rng.normal(0, open_noise, n) if open_noise else 0.0)
    high = np.maximum(open_, close) + rng.exponential(wick, n)
    low = np.minimum(open_, close) - rng.exponential(wick, n)
    if digits is not None:
        open_, high, low, close = (np.round(x, digits) for x in (open_, high, low, close))
    idx = pd.date_range(start, periods=n, freq="5min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0, "spread": 0.0},
                        index=idx)
