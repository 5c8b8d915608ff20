"""Market structure: swing highs/lows, structure breaks (BOS / CHoCH) and order blocks.

ICT / smart-money-concepts (SMC) market structure, made causal: every row carries the UTC time it
became knowable (``confirmed_at``), later bars never rewrite an emitted row (prefix invariance), and
facts that happen after an event (an order block's mitigation) carry their own time.

Definitions (each parameter named, with its default):

**Swing (fractal) high at bar j** (``left=2``, ``right=2``):
``high[j] > high[j-left .. j-1]`` (strictly greater than each of the ``left`` bars before) **and**
``high[j] >= high[j+1 .. j+right]`` (at least as high as each of the ``right`` bars after). Swing low
mirrored with ``low``. Strict on the left and non-strict on the right makes the *first* bar of a
plateau of equal highs the swing (one swing per plateau). The swing is confirmed at the **close of bar
j+right**; it is never emitted before. A bar can be both a swing high and a swing low (two rows).

Compared with ``smartmoneyconcepts.smc.swing_highs_lows(ohlc, swing_length=L)`` (v0.0.27, source in
``smartmoneyconcepts/smc.py``): its raw rule is ``high[j] == max(high[j-L+1 .. j+L])``, i.e. our
``left=L-1, right=L`` with ``>=`` on the left too. Then it (a) labels a bar that is both a high and a low
as a high only, (b) repeatedly deletes consecutive same-kind swings keeping the more extreme one — a
deletion decided by *later* swings, hence non-causal — and (c) writes artificial swings on the first and
last bars. It carries no confirmation time. Ours keeps every fractal (no alternation filter), which is
what makes it prefix-invariant; ``tests/test_structure.py`` checks the coinciding extremes and documents
the differences.

**Structure break** (``by="close"`` | ``"wick"``): at each bar i the reference levels are the most
recent swing high and swing low *confirmed before bar i opens* (``confirm_bar < i``). A bar whose close
(``by="close"``) or high (``by="wick"``) is **strictly above** the reference swing high breaks it
upward (``bullish``); close/low strictly below the reference swing low breaks it downward
(``bearish``). Each swing is broken at most once, and only while it is the reference (once a newer
swing of the same kind is confirmed, the older one can no longer be broken). Kind: ``BOS`` (break of
structure) when the break has the same direction as the previous break — trend continuation; ``CHoCH``
(change of character) when the direction flips. The very first break of the series has no prior trend
and is labelled ``BOS``. Two breaks on the same bar (possible with wicks, or with crossed reference
levels) are ordered bullish first.

**Order block** (``zone="wick"`` | ``"body"``): for a break at bar b of the swing at bar s, the
displacement leg starts at the extreme between them — for a bullish break the bar m with the lowest low
in ``[s+1, b]`` (last such bar on ties), for a bearish break the bar with the highest high. The order
block is the **last opposite-colour candle at or before m, not before s**: for a bullish break the last
bearish candle (``close < open``) in ``[s, m]``, for a bearish break the last bullish candle
(``close > open``) in ``[s, m]``. No such candle → no order block for that break. Zone = the candle's
``[low, high]`` (``wick``) or ``[min(open, close), max(open, close)]`` (``body``). Known at the break's
``confirmed_at``. After the break bar (from bar b+1): ``mitigated_at`` = close of the first bar that
trades into the zone (bullish: ``low <= top``; bearish: ``high >= bottom``); ``invalidated_at`` = close of
the first bar that closes beyond the far side (bullish: ``close < bottom``; bearish: ``close > top``).

References: ICT (Inner Circle Trader) market-structure / order-block teaching; Bill Williams' fractal
(``left=right=2``); joshyattridge/smart-money-concepts ``smc.swing_highs_lows``, ``smc.bos_choch``,
``smc.ob`` (v0.0.27) for the non-causal reference implementation.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ita.detectors._util import bar_delta, first_at_or_after

SWING_COLUMNS = ["time", "confirmed_at", "kind", "price", "bar", "confirm_bar"]
BREAK_COLUMNS = ["time", "broken_at", "confirmed_at", "direction", "kind", "level", "swing_time", "swing_bar", "bar"]
ORDER_BLOCK_COLUMNS = ["time", "confirmed_at", "direction", "top", "bottom", "bar", "break_time", "break_kind",
                       "break_bar", "swing_bar", "mitigated_at", "invalidated_at"]

_UTC = "datetime64[ns, UTC]"
_SWING_DTYPES = [_UTC, _UTC, "str", "float64", "int64", "int64"]
_BREAK_DTYPES = [_UTC, _UTC, _UTC, "str", "str", "float64", _UTC, "int64", "int64"]
_OB_DTYPES = [_UTC, _UTC, "str", "float64", "float64", "int64", _UTC, "str", "int64", "int64", _UTC, _UTC]


def _empty(columns, dtypes) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(columns, dtypes)})


def _close_times(candles: pd.DataFrame, pos: np.ndarray, step: pd.Timedelta) -> pd.DatetimeIndex:
    """UTC close time of bar ``pos`` (NaT where ``pos`` is ``len(candles)`` = not found)."""
    n = len(candles)
    t_ns = candles.index.as_unit("ns").asi8
    ok = pos < n
    vals = np.where(ok, t_ns[np.minimum(pos, n - 1)] + step.value, 0).astype("datetime64[ns]")
    vals[~ok] = np.datetime64("NaT")
    return pd.DatetimeIndex(vals).tz_localize("UTC")


def swings(candles: pd.DataFrame, left: int = 2, right: int = 2, timeframe: str | None = None) -> pd.DataFrame:
    """Swing (fractal) highs and lows, each emitted at its confirmation (module docstring for the rule).

    Parameters
    ----------
    candles : canonical frame (UTC ``DatetimeIndex`` of bar open times; ``open, high, low, close``).
    left : bars before the extreme that must be strictly lower (highs) / higher (lows); ≥ 1.
    right : bars after the extreme that must not exceed it; ≥ 1. Confirmation lag in bars.
    timeframe : bar duration for close times; inferred from the index when omitted.

    Returns
    -------
    DataFrame ordered by ``bar`` (highs before lows on the same bar), columns: ``time`` (UTC open of the
    extreme bar j), ``confirmed_at`` (UTC close of bar ``j+right``), ``kind`` (``"high"``/``"low"``),
    ``price`` (the high or low), ``bar`` (position j in ``candles``), ``confirm_bar`` (``j+right``).

    Raises :class:`ValueError` when ``left`` or ``right`` < 1.

    Example::

        >>> sw = swings(m5, left=2, right=2)                         # doctest: +SKIP
        >>> sw.query("kind == 'high'").tail()                         # doctest: +SKIP
    """
    left, right = int(left), int(right)
    if left < 1 or right < 1:
        raise ValueError(f"swings needs left >= 1 and right >= 1, got left={left}, right={right}")
    n = len(candles)
    if n < left + right + 1:
        return _empty(SWING_COLUMNS, _SWING_DTYPES)
    step = bar_delta(candles, timeframe)
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    j = np.arange(left, n - right)
    # window k covers bars k .. k+w-1: left window of j starts at j-left, right window at j+1
    lmax = sliding_window_view(h, left).max(axis=1)[j - left]
    rmax = sliding_window_view(h, right).max(axis=1)[j + 1]
    lmin = sliding_window_view(lo, left).min(axis=1)[j - left]
    rmin = sliding_window_view(lo, right).min(axis=1)[j + 1]
    hi_j = j[(h[j] > lmax) & (h[j] >= rmax)]
    lo_j = j[(lo[j] < lmin) & (lo[j] <= rmin)]
    bar = np.concatenate([hi_j, lo_j])
    is_high = np.r_[np.ones(len(hi_j), bool), np.zeros(len(lo_j), bool)]
    order = np.lexsort((~is_high, bar))
    bar, is_high = bar[order], is_high[order]
    if len(bar) == 0:
        return _empty(SWING_COLUMNS, _SWING_DTYPES)
    t = candles.index.as_unit("ns")
    return pd.DataFrame({
        "time": t[bar],
        "confirmed_at": _close_times(candles, bar + right, step),
        "kind": np.where(is_high, "high", "low"),
        "price": np.where(is_high, h[bar], lo[bar]),
        "bar": bar.astype("int64"),
        "confirm_bar": (bar + right).astype("int64"),
    })


def _breaks_of(kind_rows: pd.DataFrame, x: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """For swings of one kind (ordered by confirmation): the bar that breaks each while it is the
    reference, or ``len(x)``. Returns ``(swing_row_positions, break_bars)`` for the broken ones."""
    n = len(x)
    cb = kind_rows["confirm_bar"].to_numpy(dtype=np.int64)
    lvl = kind_rows["price"].to_numpy(dtype="float64")
    starts = cb + 1
    # reference until (and including) the bar on which the next swing of this kind is confirmed
    ends = np.r_[cb[1:], n - 1]
    if side == "ge":  # strictly above
        hit = first_at_or_after(x, starts, np.nextafter(lvl, np.inf), "ge")
    else:  # strictly below
        hit = first_at_or_after(x, starts, np.nextafter(lvl, -np.inf), "le")
    ok = (hit < n) & (hit <= ends)
    return np.flatnonzero(ok), hit[ok]


def structure_breaks(candles: pd.DataFrame, swings_df: pd.DataFrame, by: Literal["close", "wick"] = "close",
                     timeframe: str | None = None) -> pd.DataFrame:
    """Breaks of structure (BOS) and changes of character (CHoCH) of confirmed swings.

    Parameters
    ----------
    candles : canonical frame, the same the swings were computed on (bar positions must agree).
    swings_df : output of :func:`swings` on ``candles``.
    by : ``"close"`` — the bar's close must be strictly beyond the swing level; ``"wick"`` — its high
        (bullish) / low (bearish) is enough.
    timeframe : bar duration for close times; inferred when omitted.

    Returns
    -------
    DataFrame ordered by ``bar`` (bullish first on the same bar), columns: ``time`` and ``broken_at``
    (UTC open of the break bar), ``confirmed_at`` (its close), ``direction`` (``"bullish"`` = swing high
    broken upward, ``"bearish"`` = swing low broken downward), ``kind`` (``"BOS"``/``"CHoCH"``),
    ``level`` (the swing price broken), ``swing_time`` (UTC open of the swing bar), ``swing_bar`` and
    ``bar`` (positions in ``candles``).

    Raises :class:`ValueError` for an unknown ``by``.
    """
    if by not in ("close", "wick"):
        raise ValueError(f"structure_breaks by must be 'close' or 'wick', got {by!r}")
    n = len(candles)
    if n == 0 or len(swings_df) == 0:
        return _empty(BREAK_COLUMNS, _BREAK_DTYPES)
    step = bar_delta(candles, timeframe)
    sw = swings_df.sort_values(["confirm_bar", "bar"], kind="stable")
    highs = sw[sw["kind"] == "high"].reset_index(drop=True)
    lows = sw[sw["kind"] == "low"].reset_index(drop=True)
    up_src = candles["close" if by == "close" else "high"].to_numpy(dtype="float64")
    dn_src = candles["close" if by == "close" else "low"].to_numpy(dtype="float64")
    hi_rows, hi_bars = _breaks_of(highs, up_src, "ge") if len(highs) else (np.empty(0, np.int64),) * 2
    lo_rows, lo_bars = _breaks_of(lows, dn_src, "le") if len(lows) else (np.empty(0, np.int64),) * 2
    bar = np.r_[hi_bars, lo_bars].astype(np.int64)
    if len(bar) == 0:
        return _empty(BREAK_COLUMNS, _BREAK_DTYPES)
    bull = np.r_[np.ones(len(hi_bars), bool), np.zeros(len(lo_bars), bool)]
    level = np.r_[highs["price"].to_numpy(dtype="float64")[hi_rows], lows["price"].to_numpy(dtype="float64")[lo_rows]]
    sbar = np.r_[highs["bar"].to_numpy(dtype=np.int64)[hi_rows], lows["bar"].to_numpy(dtype=np.int64)[lo_rows]]
    order = np.lexsort((~bull, bar))
    bar, bull, level, sbar = bar[order], bull[order], level[order], sbar[order]
    flip = np.r_[False, bull[1:] != bull[:-1]]
    t = candles.index.as_unit("ns")
    return pd.DataFrame({
        "time": t[bar],
        "broken_at": t[bar],
        "confirmed_at": _close_times(candles, bar, step),
        "direction": np.where(bull, "bullish", "bearish"),
        "kind": np.where(flip, "CHoCH", "BOS"),
        "level": level,
        "swing_time": t[sbar],
        "swing_bar": sbar,
        "bar": bar,
    })


def order_blocks(candles: pd.DataFrame, breaks_df: pd.DataFrame, zone: Literal["wick", "body"] = "wick",
                 timeframe: str | None = None) -> pd.DataFrame:
    """Order blocks: the last opposite-colour candle before the leg that broke structure.

    Parameters
    ----------
    candles : canonical frame, the same the breaks were computed on (bar positions must agree).
    breaks_df : output of :func:`structure_breaks` (both BOS and CHoCH; filter it to keep only some).
    zone : ``"wick"`` — the candle's ``[low, high]``; ``"body"`` — ``[min(open, close), max(open, close)]``.
    timeframe : bar duration for close times; inferred when omitted.

    Returns
    -------
    DataFrame, one row per break that has an order block, ordered like ``breaks_df`` (by break bar),
    columns: ``time`` (UTC open of the order-block candle), ``confirmed_at`` (UTC, the break's close),
    ``direction`` (``"bullish"`` demand block from a bullish break / ``"bearish"`` supply block),
    ``top``, ``bottom`` (price), ``bar`` (position of the order-block candle), ``break_time`` (UTC open of
    the break bar), ``break_kind`` (``"BOS"``/``"CHoCH"``), ``break_bar``, ``swing_bar`` (positions),
    ``mitigated_at`` (UTC close of the first bar after the break bar trading into the zone; NaT if none),
    ``invalidated_at`` (UTC close of the first bar after the break bar closing beyond the far side; NaT).

    Raises :class:`ValueError` for an unknown ``zone``.
    """
    if zone not in ("wick", "body"):
        raise ValueError(f"order_blocks zone must be 'wick' or 'body', got {zone!r}")
    n = len(candles)
    if n == 0 or len(breaks_df) == 0:
        return _empty(ORDER_BLOCK_COLUMNS, _OB_DTYPES)
    step = bar_delta(candles, timeframe)
    o = candles["open"].to_numpy(dtype="float64")
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    c = candles["close"].to_numpy(dtype="float64")
    b = breaks_df["bar"].to_numpy(dtype=np.int64)
    s = breaks_df["swing_bar"].to_numpy(dtype=np.int64)
    bull = (breaks_df["direction"] == "bullish").to_numpy()
    # leg origin m: last lowest low (bullish) / last highest high (bearish) in [s+1, b]
    m = np.empty(len(b), dtype=np.int64)
    for k in range(len(b)):
        seg = lo[s[k] + 1:b[k] + 1] if bull[k] else h[s[k] + 1:b[k] + 1]
        r = seg[::-1]
        m[k] = b[k] - int(np.argmin(r) if bull[k] else np.argmax(r))
    idx = np.arange(n)
    last_bear = np.maximum.accumulate(np.where(c < o, idx, -1))
    last_bull = np.maximum.accumulate(np.where(c > o, idx, -1))
    ob = np.where(bull, last_bear[m], last_bull[m])
    keep = ob >= s
    ob, b, s, bull = ob[keep], b[keep], s[keep], bull[keep]
    if len(ob) == 0:
        return _empty(ORDER_BLOCK_COLUMNS, _OB_DTYPES)
    if zone == "wick":
        top, bottom = h[ob], lo[ob]
    else:
        top, bottom = np.maximum(o[ob], c[ob]), np.minimum(o[ob], c[ob])
    starts = b + 1
    mit = np.empty(len(ob), dtype=np.int64)
    inv = np.empty(len(ob), dtype=np.int64)
    sb = ~bull
    mit[bull] = first_at_or_after(lo, starts[bull], top[bull], "le")
    mit[sb] = first_at_or_after(h, starts[sb], bottom[sb], "ge")
    inv[bull] = first_at_or_after(c, starts[bull], np.nextafter(bottom[bull], -np.inf), "le")
    inv[sb] = first_at_or_after(c, starts[sb], np.nextafter(top[sb], np.inf), "ge")
    t = candles.index.as_unit("ns")
    return pd.DataFrame({
        "time": t[ob],
        "confirmed_at": _close_times(candles, b, step),
        "direction": np.where(bull, "bullish", "bearish"),
        "top": top,
        "bottom": bottom,
        "bar": ob.astype("int64"),
        "break_time": t[b],
        "break_kind": breaks_df["kind"].to_numpy()[keep],
        "break_bar": b,
        "swing_bar": s,
        "mitigated_at": _close_times(candles, mit, step),
        "invalidated_at": _close_times(candles, inv, step),
    })
