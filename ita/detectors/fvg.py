"""Fair value gaps (FVG): the three-candle imbalance of ICT / smart-money concepts, their consecutive-gap
joining and their inversion (IFVG).

Definition (ICT): for candles ``i-2, i-1, i`` (``i`` is the *third* candle),

* **bullish** FVG when ``low[i] - high[i-2] > 0`` and ``>= min_gap``: zone ``[high[i-2], low[i]]``;
* **bearish** FVG when ``low[i-2] - high[i] > 0`` and ``>= min_gap``: zone ``[high[i], low[i-2]]``.

**The difference from ``smartmoneyconcepts.smc.fvg`` (0.0.27), exactly.** smc's gap rule is the same
strict wick gap, *and* it requires the middle candle to close in the gap's direction: a bullish gap
only when ``close[i-1] > open[i-1]``, a bearish one only when ``close[i-1] < open[i-1]``. The default
here (``require_displacement_close=False``) keeps every wick gap, so it finds all of smc's gaps plus
those whose middle candle closed against the gap or flat (a doji). With
``require_displacement_close=True`` the two gap sets are identical (tested on the EURUSD sample:
same third candles, directions, tops and bottoms). Everything else below (knowable times, mitigation,
joining) is ours, not smc's.

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

**Consecutive-gap joining** (``fvg(..., join="consecutive")``): traders merge gaps of one displacement leg
into a single zone — same-direction gaps whose third candles are adjacent bars ``i, i+1, i+2, …`` form
one zone from the lowest bottom to the highest top (the rule of ``smartmoneyconcepts.smc.fvg(...,
join_consecutive=True)``). That library rewrites the earlier members once the run ends, which is
look-ahead; here each member still gets its own row at the close of its third candle, carrying the zone
joined *so far*, so no emitted row ever changes. The last row of a group is the full zone.

**Inversion fair value gap** (:func:`inverse_fvg`; ICT "inversion FVG", IFVG): a gap whose far edge is
closed through flips polarity — a bullish FVG closed below its ``bottom`` becomes a *bearish* IFVG
(resistance), a bearish FVG closed above its ``top`` a *bullish* IFVG (support). Only the first
close-through counts (the gap is consumed); a bar that merely trades into or fills the gap does not invert
it.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ita.detectors._util import bar_delta, first_at_or_after

MitigationMode = Literal["touch", "midpoint", "close_through"]
JoinMode = Literal["none", "consecutive"]
InversionBy = Literal["close", "wick"]
FVG_COLUMNS = ["time", "confirmed_at", "direction", "top", "bottom", "size_pips", "bar", "mitigated_at"]
JOINED_FVG_COLUMNS = FVG_COLUMNS + ["group", "members"]
IFVG_COLUMNS = ["time", "confirmed_at", "direction", "top", "bottom", "size_pips", "bar",
                "source_time", "source_confirmed_at", "source_bar", "mitigated_at"]

_UTC = "datetime64[ns, UTC]"
_DTYPES = {"time": _UTC, "confirmed_at": _UTC, "direction": "str", "top": "float64", "bottom": "float64",
           "size_pips": "float64", "bar": "int64", "mitigated_at": _UTC, "group": "int64", "members": "int64",
           "source_time": _UTC, "source_confirmed_at": _UTC, "source_bar": "int64"}
_NAT = np.iinfo(np.int64).min


def fvg(candles: pd.DataFrame, pip_size: float, min_gap_pips: float = 0.0, mitigation: MitigationMode = "touch",
        timeframe: str | None = None, join: JoinMode = "none",
        require_displacement_close: bool = False) -> pd.DataFrame:
    """Detect every fair value gap in ``candles``.

    Parameters
    ----------
    candles : canonical frame (UTC ``DatetimeIndex`` of bar open times; ``open, high, low, close``).
    pip_size : price units per pip for the symbol (EURUSD 0.0001).
    min_gap_pips : smallest gap kept, in pips (compared after rounding to 1e-6 pip, so float noise in
        the prices never drops an exact 1.0-pip gap). With ``join="consecutive"`` it filters the single
        gaps *before* joining: a gap below it is no member and ends the run.
    mitigation : ``"touch"`` | ``"midpoint"`` | ``"close_through"`` (table above).
    timeframe : bar duration for close times; inferred from the index when omitted.
    join : ``"none"`` (default; the output described below, unchanged) | ``"consecutive"`` — join
        same-direction gaps on adjacent third candles (module docstring): same rows, but ``top``,
        ``bottom``, ``size_pips``, ``time`` and ``mitigated_at`` describe the zone joined so far, and two
        columns are appended: ``group`` (int, ``bar`` of the group's first member — unique per group) and
        ``members`` (int, members so far, 1 for the first). ``time`` is then the open of the *first*
        member's middle candle (where the joined zone starts); ``bar``/``confirmed_at`` stay this member's
        third candle, and mitigation is searched from the bar after it with the joined zone.
        Adjacency is by row position in ``candles``.
    require_displacement_close : also require the middle candle to close in the gap's direction
        (bullish: ``close > open``; bearish: ``close < open``) — smartmoneyconcepts' rule (module doc).
        Default False: any wick gap counts, whatever the middle candle's body.

    Returns
    -------
    DataFrame, one row per gap, ordered by third candle, columns:
    ``time`` (open of the middle candle, UTC), ``confirmed_at`` (close of the third candle, UTC),
    ``direction`` (``"bullish"``/``"bearish"``), ``top``, ``bottom`` (price), ``size_pips`` (pips),
    ``bar`` (integer position of the third candle in ``candles``), ``mitigated_at`` (close of the first
    mitigating bar, UTC; NaT while unmitigated) [, ``group``, ``members`` with ``join="consecutive"``].

    Raises :class:`ValueError` for an unknown mitigation or join mode or a non-positive ``pip_size``
    (:class:`KeyError` if a price column is missing).

    Example::

        >>> gaps = fvg(m5, pip_size=0.0001, min_gap_pips=1.0)          # doctest: +SKIP
        >>> gaps.query("direction == 'bullish'").head()                # doctest: +SKIP
        >>> zones = fvg(m5, 0.0001, 1.0, join="consecutive")           # doctest: +SKIP
        >>> full_zones = zones.groupby("group").tail(1)               # doctest: +SKIP
    """
    if mitigation not in ("touch", "midpoint", "close_through"):
        raise ValueError(f"unknown FVG mitigation mode {mitigation!r}: use touch, midpoint or close_through")
    if join not in ("none", "consecutive"):
        raise ValueError(f"unknown FVG join mode {join!r}: use none or consecutive")
    if pip_size <= 0:
        raise ValueError("pip_size must be positive")
    columns = FVG_COLUMNS if join == "none" else JOINED_FVG_COLUMNS
    n = len(candles)
    if n < 3:
        return _empty(columns)
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    c = candles["close"].to_numpy(dtype="float64")
    t = candles.index.as_unit("ns")
    step = bar_delta(candles, timeframe)

    body = candles["close"].to_numpy(dtype="float64") - candles["open"].to_numpy(dtype="float64") \
        if require_displacement_close else None
    third, is_bull, top, bottom, size = _gaps(h, lo, pip_size, min_gap_pips, body)
    first = third
    if join == "consecutive":
        first, members, top, bottom = _join_consecutive(third, is_bull, top, bottom)
        size = np.round((top - bottom) / pip_size, 6)  # == the single gap's size for a first member

    mitigated = _mitigation(third, is_bull, top, bottom, lo, h, c, mitigation)
    cols = {
        "time": t[first - 1],
        "confirmed_at": t[third] + step,
        "direction": np.where(is_bull, "bullish", "bearish"),
        "top": top,
        "bottom": bottom,
        "size_pips": size,
        "bar": third.astype("int64"),
        "mitigated_at": _close_times(mitigated, t, step),
    }
    if join == "consecutive":
        cols.update(group=first.astype("int64"), members=members)
    return pd.DataFrame(cols)[columns]


def inverse_fvg(candles: pd.DataFrame, pip_size: float, min_gap_pips: float = 0.0, by: InversionBy = "close",
                timeframe: str | None = None) -> pd.DataFrame:
    """Inversion fair value gaps (ICT "inversion FVG" / IFVG): gaps that price closed through.

    A bullish FVG (same gaps as :func:`fvg` with ``min_gap_pips``) is *inverted* by the first bar after
    its third candle whose close is **strictly below** its ``bottom`` (``by="close"``; ``by="wick"``: low
    strictly below): the zone becomes a **bearish** IFVG (resistance). Mirrored, a bearish FVG closed
    strictly above its ``top`` becomes a **bullish** IFVG (support). A close exactly on the edge does not
    invert; a bar that trades into or through the zone without closing beyond it (mitigation) does not
    either. Each gap inverts at most once — the first close-through consumes it. The inversion search is
    the ``close_through`` mitigation of :func:`fvg`, so a gap is never inverted before the bar after its
    third candle.

    Parameters
    ----------
    candles : canonical frame (UTC ``DatetimeIndex`` of bar open times; ``open, high, low, close``).
    pip_size : price units per pip (EURUSD 0.0001).
    min_gap_pips : smallest source gap, in pips (as in :func:`fvg`).
    by : ``"close"`` (ICT: a candle *body* closes beyond the far edge) | ``"wick"`` (the high/low does).
    timeframe : bar duration for close times; inferred from the index when omitted.

    Returns
    -------
    DataFrame, one row per inverted gap, ordered by ``bar`` then ``source_bar``, columns:
    ``time`` (open of the inverting bar, UTC), ``confirmed_at`` (close of the inverting bar, UTC — when
    the inversion is knowable), ``direction`` (the IFVG's *new* polarity: ``"bearish"`` from a bullish gap,
    ``"bullish"`` from a bearish gap), ``top``, ``bottom`` (price; the source gap's zone), ``size_pips``
    (pips; the source gap's size), ``bar`` (integer position of the inverting bar), ``source_time``
    (open of the source gap's middle candle, UTC), ``source_confirmed_at`` (close of its third candle, UTC),
    ``source_bar`` (position of its third candle), ``mitigated_at`` (close of the first bar *after* the
    inverting bar that trades back into the zone from the new side — bearish IFVG ``high >= bottom``,
    bullish IFVG ``low <= top``; UTC, NaT while not).

    Raises :class:`ValueError` for an unknown ``by`` or a non-positive ``pip_size`` (:class:`KeyError`
    if a price column is missing).

    Example::

        >>> ifvg = inverse_fvg(m5, pip_size=0.0001, min_gap_pips=1.0)            # doctest: +SKIP
        >>> ifvg.query("direction == 'bearish'")[["confirmed_at", "top", "bottom", "mitigated_at"]]  # doctest: +SKIP
    """
    if by not in ("close", "wick"):
        raise ValueError(f"inverse_fvg by must be 'close' or 'wick', got {by!r}")
    if pip_size <= 0:
        raise ValueError("pip_size must be positive")
    n = len(candles)
    if n < 4:  # gap (3 bars) + an inverting bar
        return _empty(IFVG_COLUMNS)
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    c = candles["close"].to_numpy(dtype="float64")
    t = candles.index.as_unit("ns")
    step = bar_delta(candles, timeframe)

    third, is_bull, top, bottom, size = _gaps(h, lo, pip_size, min_gap_pips)
    b, s = is_bull, ~is_bull
    inv = np.empty(len(third), dtype=np.int64)
    inv[b] = first_at_or_after(c if by == "close" else lo, third[b] + 1, np.nextafter(bottom[b], -np.inf), "le")
    inv[s] = first_at_or_after(c if by == "close" else h, third[s] + 1, np.nextafter(top[s], np.inf), "ge")
    keep = np.flatnonzero(inv < n)
    keep = keep[np.lexsort((third[keep], inv[keep]))]  # by inverting bar, then source gap
    inv, src, new_bull = inv[keep], third[keep], ~is_bull[keep]
    top, bottom, size = top[keep], bottom[keep], size[keep]

    mit = np.empty(len(inv), dtype=np.int64)
    mit[new_bull] = first_at_or_after(lo, inv[new_bull] + 1, top[new_bull], "le")
    mit[~new_bull] = first_at_or_after(h, inv[~new_bull] + 1, bottom[~new_bull], "ge")
    return pd.DataFrame({
        "time": t[inv],
        "confirmed_at": t[inv] + step,
        "direction": np.where(new_bull, "bullish", "bearish"),
        "top": top,
        "bottom": bottom,
        "size_pips": size,
        "bar": inv.astype("int64"),
        "source_time": t[src - 1],
        "source_confirmed_at": t[src] + step,
        "source_bar": src.astype("int64"),
        "mitigated_at": _close_times(mit, t, step),
    })


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({col: pd.Series(dtype=_DTYPES[col]) for col in columns})


def _gaps(h: np.ndarray, lo: np.ndarray, pip_size: float, min_gap_pips: float, body: np.ndarray | None = None):
    """All gaps ordered by third candle: ``third`` (positions), ``is_bull``, ``top``, ``bottom``, ``size`` (pips).
    ``body`` (close − open per bar), when given, keeps only gaps whose middle candle closed their way."""
    up = np.round((lo[2:] - h[:-2]) / pip_size, 6)
    dn = np.round((lo[:-2] - h[2:]) / pip_size, 6)
    thr = max(float(min_gap_pips), 0.0)
    bull = (up >= thr) & (up > 0)
    bear = (dn >= thr) & (dn > 0)
    if body is not None:
        bull &= body[1:-1] > 0
        bear &= body[1:-1] < 0
    i_bull = np.flatnonzero(bull) + 2
    i_bear = np.flatnonzero(bear) + 2
    third = np.concatenate([i_bull, i_bear])
    is_bull = np.concatenate([np.ones(len(i_bull), bool), np.zeros(len(i_bear), bool)])
    order = np.argsort(third, kind="stable")
    third, is_bull = third[order], is_bull[order]
    top = np.where(is_bull, lo[third], lo[third - 2])
    bottom = np.where(is_bull, h[third - 2], h[third])
    size = np.where(is_bull, up[third - 2], dn[third - 2])
    return third, is_bull, top, bottom, size


def _join_consecutive(third, is_bull, top, bottom):
    """Per gap: third candle of its run's first member, members so far, running max top / min bottom.

    A run is a maximal sequence of same-direction gaps on adjacent third candles; each direction is
    scanned on its own (so a same-bar gap of the other direction — impossible for valid candles — never
    breaks a run). Only earlier members enter each value: causal by construction."""
    first = third.copy()
    members = np.ones(len(third), dtype=np.int64)
    jtop, jbot = top.copy(), bottom.copy()
    for side in (True, False):
        sel = np.flatnonzero(is_bull == side)
        if len(sel) == 0:
            continue
        p = third[sel]
        k = np.arange(len(p))
        start = np.maximum.accumulate(np.where(np.r_[True, np.diff(p) != 1], k, 0))
        first[sel] = p[start]
        members[sel] = k - start + 1
        jtop[sel] = _segmented_scan(top[sel], start, np.maximum)
        jbot[sel] = _segmented_scan(bottom[sel], start, np.minimum)
    return first, members, jtop, jbot


def _segmented_scan(values: np.ndarray, start: np.ndarray, op) -> np.ndarray:
    """Inclusive running ``op`` (``np.maximum``/``np.minimum``) restarting at each run: ``out[k] =
    op(values[start[k] : k + 1])``. Hillis–Steele doubling, O(n log longest run), no Python loop per row."""
    out = values.copy()
    k = np.arange(len(values))
    d = 1
    while True:
        ok = k - d >= start
        if not ok.any():
            return out
        out = np.where(ok, op(out, out[np.maximum(k - d, 0)]), out)
        d *= 2


def _close_times(pos: np.ndarray, t: pd.DatetimeIndex, step: pd.Timedelta) -> pd.DatetimeIndex:
    """Close time (UTC) of bar ``pos``; NaT where ``pos == len(t)`` (no such bar yet)."""
    n = len(t)
    ns = np.where(pos < n, t.asi8[np.minimum(pos, n - 1)] + step.value, _NAT)
    stamps = np.where(ns == _NAT, np.datetime64("NaT"), ns.astype("datetime64[ns]"))
    return pd.DatetimeIndex(pd.to_datetime(stamps)).tz_localize("UTC")


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
