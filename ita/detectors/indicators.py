"""Standard indicators, computed by TA-Lib (never hand-rolled).

Every value at bar ``j`` uses bars ``0..j`` only and is therefore **knowable at bar j's close**
(``candles.index[j] + timeframe``). Wilder-smoothed indicators such as ATR are seeded from the first
bars of the frame, so a value depends on where the data starts; it never depends on later bars, which is
what prefix invariance needs (a prefix gives bit-identical values on its bars).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import talib


def atr(candles: pd.DataFrame, period: int = 14) -> pd.Series:
    """Average True Range (Wilder) via ``talib.ATR``.

    Parameters
    ----------
    candles : canonical frame (UTC ``DatetimeIndex`` of bar open times; ``high, low, close``).
    period : smoothing length in bars (≥ 1).

    Returns
    -------
    ``Series`` of float64 in price units, aligned to ``candles.index``, named ``atr_{period}``. The first
    ``period`` values are NaN (TA-Lib needs the previous close for the first true range). The value at
    bar ``j`` is knowable at the close of bar ``j``.

    Raises :class:`ValueError` for ``period < 1``.

    Reference: J. Welles Wilder, *New Concepts in Technical Trading Systems* (1978); TA-Lib ``ATR``.
    """
    if int(period) < 1:
        raise ValueError("ATR period must be >= 1")
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    c = candles["close"].to_numpy(dtype="float64")
    if len(h) == 0:
        values = np.empty(0, dtype="float64")
    else:
        values = talib.ATR(h, lo, c, timeperiod=int(period))
    return pd.Series(values, index=candles.index, name=f"atr_{int(period)}", dtype="float64")
