"""Fair value gaps (FVG): the three-candle imbalance of ICT / smart-money concepts.

Definition (ICT; matches ``smartmoneyconcepts.smc.fvg``'s gap rule): for candles ``i-2, i-1, i``
(``i`` is the *third* candle),

* **bullish** FVG when ``low[i] - high[i-2] >= min_gap``: zone ``[high[i-2], low[i]]``;
* **bearish** FVG when ``low[i-2] - high[i] >= min_gap``: zone ``[high[i], low[i-2]]``.

Unlike ``smartmoneyconcepts`` (which stamps the gap on the middle candle and searches mitigation from
candle ``i+1`` without saying when it was knowable), every row here carries the time it became knowable:
the gap at the **close of the third candle**, its mitigation at the close of the mitigating bar.
Events never change when later bars arrive (prefix invariance).

Mitigation modes (first bar *after* the third candle):

=================  ===============================================  ===============================================
mode               bullish FVG                                       bearish FVG
=================  ===============================================  ===============================================
``touch``          ``low <= top`` (price trades back into the gap)   ``high >= bottom``
``midpoint``       ``low <= (top + bottom) / 2``                     ``high >= (top + bottom) / 2``
``close_through``  ``close < bottom`` (closes beyond the far edge)   ``close > top``
=================  ===============================================  ===============================================
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ita.detectors._util import bar_delta, first_at_or_after

MitigationMode = Literal["touch", "midpoint", "close_through"]
FVG_COLUMNS = ["time", "confirmed_at", "direction", "top", "bottom", "size_pips", "bar", "mitigated_at"]


def fvg(candles: pd.DataFrame, pip_size: float, min_gap_pips: float = 0.0, mitigation: MitigationMode = "touch",
        timeframe: str | None = None) -> pd.DataFrame:
    """Detect every fair value gap in ``candles``.

    Parameters
    ----------
    candles : canonical frame (UTC ``DatetimeIndex`` of bar open times; ``open, high, low, close``).
    pip_size : price units per pip for the symbol (EURUSD 0.0001).
    min_gap_pips : smallest gap kept, in pips (compared after rounding to 1e-6 pip, so float noise in
        the prices never drops an exact 1.0-pip gap).
    mitigation : ``"touch"`` | ``"midpoint"`` | ``"close_through"`` (table above).
    timeframe : bar duration for close times; inferred from the index when omitted.

    Returns
    -------
    DataFrame, one row per gap, ordered by third candle, columns:
    ``time`` (open of the middle candle, UTC), ``confirmed_at`` (close of the third candle, UTC),
    ``direction`` (``"bullish"``/``"bearish"``), ``top``, ``bottom`` (price), ``size_pips`` (pips),
    ``bar`` (integer position of the third candle in ``candles``), ``mitigated_at`` (close of the first
    mitigating bar, UTC; NaT while unmitigated).

    Raises :class:`ValueError` for an unknown mitigation mode or a non-positive ``pip_size``.

    Example::

        >>> gaps = fvg(m5, pip_size=0.0001, min_gap_pips=1.0)          # doctest: +SKIP
        >>> gaps.query("direction == 'bullish'").head()                # doctest: +SKIP
    """
    if mitigation not in ("touch", "midpoint", "close_through"):
        raise ValueError(f"unknown FVG mitigation mode {mitigation!r}: use touch, midpoint or close_through")
    if pip_size <= 0:
        raise ValueError("pip_size must be positive")
    n = len(candles)
    if n < 3:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            FVG_COLUMNS, ["datetime64[ns, UTC]", "datetime64[ns, UTC]", "str", "float64", "float64", "float64", "int64", "datetime64[ns, UTC]"])})
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    c = candles["close"].to_numpy(dtype="float64")
    t = candles.index.as_unit("ns")
    step = bar_delta(candles, timeframe)

    up = np.round((lo[2:] - h[:-2]) / pip_size, 6)
    dn = np.round((lo[:-2] - h[2:]) / pip_size, 6)
    thr = max(float(min_gap_pips), 0.0)
    bull = (up >= thr) & (up > 0)
    bear = (dn >= thr) & (dn > 0)
    i_bull = np.flatnonzero(bull) + 2
    i_bear = np.flatnonzero(bear) + 2
    third = np.concatenate([i_bull, i_bear])
    is_bull = np.concatenate([np.ones(len(i_bull), bool), np.zeros(len(i_bear), bool)])
    order = np.argsort(third, kind="stable")
    third, is_bull = third[order], is_bull[order]
    top = np.where(is_bull, lo[third], lo[third - 2])
    bottom = np.where(is_bull, h[third - 2], h[third])
    size = np.where(is_bull, up[third - 2], dn[third - 2])

    mitigated = _mitigation(third, is_bull, top, bottom, lo, h, c, mitigation)
    t_ns = t.asi8
    mit_ns = np.where(mitigated < n, t_ns[np.minimum(mitigated, n - 1)] + step.value, np.iinfo(np.int64).min)
    out = pd.DataFrame({
        "time": t[third - 1],
        "confirmed_at": t[third] + step,
        "direction": np.where(is_bull, "bullish", "bearish"),
        "top": top,
        "bottom": bottom,
        "size_pips": size,
        "bar": third.astype("int64"),
        "mitigated_at": pd.DatetimeIndex(pd.to_datetime(np.where(mit_ns == np.iinfo(np.int64).min, np.datetime64("NaT"), mit_ns.astype("datetime64[ns]")))).tz_localize("UTC"),
    })
    return out


def _mitigation(third, is_bull, top, bottom, lo, h, c, mode) -> np.ndarray:
    starts = third + 1
    res = np.empty(len(third), dtype=np.int64)
    b, s = is_bull, ~is_bull
    if mode == "touch":
        res[b] = first_at_or_after(lo, starts[b], top[b], "le")
        res[s] = first_at_or_after(h, starts[s], bottom[s], "ge")
    elif mode == "midpoint":
        mid = (top + bottom) / 2.0
        res[b] = first_at_or_after(lo, starts[b], mid[b], "le")
        res[s] = first_at_or_after(h, starts[s], mid[s], "ge")
    else:  # close_through: strictly beyond the far edge
        res[b] = first_at_or_after(c, starts[b], np.nextafter(bottom[b], -np.inf), "le")
        res[s] = first_at_or_after(c, starts[s], np.nextafter(top[s], np.inf), "ge")
    return res
