"""Resample canonical candles to a higher timeframe, with the forex day rolling at 17:00 New York.

* M15 / M30 / H1 bars are aligned to the clock (New York offsets are whole hours, so UTC and New York
  agree on these boundaries).
* H4 and D1 bars are aligned to the **forex trading day**, which starts at 17:00 America/New_York
  (DST handled by the tz database): H4 opens at 17, 21, 01, 05, 09, 13 New York; the D1 bar of trading
  day D covers [D−1 17:00, D 17:00) New York. The switch weekends are closed, so wall-clock buckets are
  exact for FX.

The result's index is each bar's open time in UTC (the bucket start, even if its first source bar came
later); ``open`` is the first source open, ``high``/``low`` the extremes, ``close`` the last close,
``volume`` the sum, ``spread`` the mean. A higher-timeframe bar is complete only at ``time + tf``; callers
that need causality must not use a bar before then (see :func:`complete_bars`).

Example::

    >>> from ita.data.resample import resample
    >>> h1 = resample(m5, "H1")              # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ita.data.timeframes import normalize_tf, tf_delta
from ita.times import NY

ROLL_HOUR = 17


def bucket_start(index: pd.DatetimeIndex, timeframe: str) -> pd.DatetimeIndex:
    """UTC open time of the ``timeframe`` bar that contains each time in ``index`` (tz-aware UTC)."""
    tf = normalize_tf(timeframe)
    step = tf_delta(tf)
    if step <= pd.Timedelta(hours=1):
        return index.floor(step)
    local = index.tz_convert(NY).tz_localize(None) - pd.Timedelta(hours=ROLL_HOUR)
    start = local.floor(step) + pd.Timedelta(hours=ROLL_HOUR)
    return start.tz_localize(NY, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")


def resample(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Aggregate ``candles`` (canonical frame, any finer timeframe) into ``timeframe`` bars.

    Raises :class:`~ita.errors.DataError` for an unknown timeframe. Returns a canonical frame; the last
    bar may be incomplete if ``candles`` ends inside it.
    """
    if len(candles) == 0:
        return candles.copy()
    keys = bucket_start(candles.index, timeframe).as_unit("ns")
    k = keys.asi8
    first = np.r_[True, k[1:] != k[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(k)] - 1
    o = candles["open"].to_numpy()[starts]
    c = candles["close"].to_numpy()[ends]
    h = np.maximum.reduceat(candles["high"].to_numpy(), starts)
    lo = np.minimum.reduceat(candles["low"].to_numpy(), starts)
    v = np.add.reduceat(candles["volume"].to_numpy(dtype=float), starts)
    sp = candles["spread"].to_numpy(dtype=float)
    cnt = np.add.reduceat(np.isfinite(sp).astype(float), starts)
    ssum = np.add.reduceat(np.nan_to_num(sp), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where(cnt > 0, ssum / np.maximum(cnt, 1), np.nan)
    out = pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": v, "spread": spread},
                       index=pd.DatetimeIndex(keys[starts], name="time"))
    return out


def complete_bars(htf: pd.DataFrame, timeframe: str, now: pd.Timestamp) -> pd.DataFrame:
    """Rows of a resampled frame whose bar has closed by ``now`` (``time + tf <= now``)."""
    return htf[htf.index + tf_delta(timeframe) <= now]
