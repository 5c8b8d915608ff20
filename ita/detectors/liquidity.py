"""Liquidity: fractal swings, equal highs/lows and sweeps of any level.

* :func:`fractal_swings` — a minimal causal fractal: a swing high at bar ``i`` when ``high[i]`` is
  strictly above the ``left`` previous highs and at least the ``right`` following highs (mirror for
  lows); known at the close of bar ``i + right``.
* :func:`equal_levels` — equal highs / equal lows: a swing extreme and the nearest earlier one of the
  same side within a tolerance (pips, or ``k × ATR`` with the ATR of the bar that confirms the later
  swing — past bars only) and not traded through in between; chains of three or more are counted.
* :func:`sweeps` — a liquidity sweep of a level (previous day high, session low, equal highs, …): the
  first bar after the level is known whose wick trades beyond it, provided a bar closes back inside
  within ``max_bars`` bars.

All outputs carry ``confirmed_at`` (UTC) and are prefix invariant: on the bars closed by ``t`` every
function returns exactly the rows of the full run with ``confirmed_at <= t``.

Reference: ICT "buy-side / sell-side liquidity" and "liquidity sweep / stop hunt"; the equal-level
grouping is close to ``smartmoneyconcepts.smc.liquidity`` but causal (that one uses future swings).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ita.detectors._util import RangeExtremes, bar_delta, first_at_or_after
from ita.detectors.indicators import atr

SWING_COLUMNS = ["side", "time", "bar", "price", "confirm_bar", "confirmed_at"]
EQUAL_COLUMNS = ["kind", "side", "level", "first_time", "first_price", "second_time", "second_price",
                 "difference", "tolerance", "count", "bar", "confirmed_at"]
SWEEP_COLUMNS = ["level_name", "level_row", "level", "level_confirmed_at", "direction", "time", "bar",
                 "extreme", "bars_to_reclaim", "reclaim_bar", "confirmed_at"]


def _typed_empty(columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns})


def fractal_swings(candles: pd.DataFrame, left: int = 2, right: int = 2, timeframe: str | None = None) -> pd.DataFrame:
    """Causal fractal swing points: :func:`ita.detectors.structure.swings` with ``kind`` named ``side``.

    Swing high at bar ``i`` (``left <= i < n - right``): ``high[i] > max(high[i-left:i])`` and
    ``high[i] >= max(high[i+1:i+right+1])`` (ties to the right keep the *first* bar as the swing). Swing
    low mirrored with ``low``. A swing needs ``right`` later bars, so it is knowable at the close of bar
    ``i + right``.

    Returns
    -------
    DataFrame ordered by ``bar`` then side (highs first): ``side`` (``"high"``/``"low"``), ``time`` (UTC
    open of the swing bar), ``bar`` (position), ``price`` (its high / low), ``confirm_bar`` (``bar +
    right``), ``confirmed_at`` (UTC close of ``confirm_bar``).

    Raises :class:`ValueError` when ``left`` or ``right`` is below 1.
    """
    from ita.detectors.structure import swings  # one swing definition for the whole library

    sw = swings(candles, left, right, timeframe=timeframe).rename(columns={"kind": "side"})
    sw = sw.assign(_low=sw["side"] != "high").sort_values(["bar", "_low"], kind="stable")
    return sw[SWING_COLUMNS].reset_index(drop=True)


def equal_levels(candles: pd.DataFrame, swings: pd.DataFrame | None = None, tolerance_pips: float | None = None,
                 tolerance_atr: float | None = None, pip_size: float | None = None, atr_period: int = 14,
                 left: int = 2, right: int = 2, lookback: int = 10, timeframe: str | None = None) -> pd.DataFrame:
    """Equal highs / equal lows (resting buy-side / sell-side liquidity).

    Take the swing highs (resp. lows) in bar order. A later swing ``b`` pairs with the **nearest** earlier
    swing ``a`` of the same side, at most ``lookback`` swings back, such that

    1. ``|price_b − price_a| <= tolerance`` where the tolerance is ``tolerance_pips × pip_size`` or
       ``tolerance_atr × ATR(atr_period)`` at the last bar closed when ``b`` is confirmed (past bars only;
       while that ATR is NaN there is no pair), and
    2. no bar strictly between them traded beyond ``max(price_a, price_b)`` (``min`` for lows) — the
       level was not taken out in between (lower swing highs in between are fine: a classic double top).

    Pairs chain (``a`` may itself have paired with an earlier swing): each pair is one row, ``count`` is the
    number of swings in the chain (2, 3, …) and ``level`` the chain's extreme (highest high / lowest low)
    — the price a sweep must exceed. A row is known when ``b`` is confirmed.

    Parameters
    ----------
    swings : optional swing table with columns ``side`` (``"high"``/``"low"``), ``bar`` (position in
        ``candles``), ``price`` and ``confirmed_at``; default :func:`fractal_swings` with ``left``/``right``.
    tolerance_pips / tolerance_atr : exactly one must be given (pips compared after rounding to 1e-6 pip).
    pip_size : price per pip, required with ``tolerance_pips``.
    lookback : how many earlier same-side swings a swing may pair with (nearest first).

    Returns
    -------
    DataFrame ordered by ``confirmed_at`` (then highs first): ``kind`` (``"equal_highs"``/
    ``"equal_lows"``), ``side`` (``"high"``/``"low"``), ``level`` (price), ``first_time``/``first_price``
    (earlier swing: UTC bar open, price), ``second_time``/``second_price`` (later swing), ``difference``
    (absolute, price), ``tolerance`` (price), ``count`` (swings in the chain), ``bar`` (position of the later
    swing bar), ``confirmed_at`` (UTC: when the later swing is confirmed).

    Raises :class:`ValueError` unless exactly one tolerance is given, or when ``pip_size`` is missing or
    not positive for a pip tolerance.
    """
    if (tolerance_pips is None) == (tolerance_atr is None):
        raise ValueError("give exactly one of tolerance_pips or tolerance_atr")
    if tolerance_pips is not None and (pip_size is None or pip_size <= 0):
        raise ValueError("tolerance_pips needs a positive pip_size")
    dtypes = {"first_time": "datetime64[ns, UTC]", "second_time": "datetime64[ns, UTC]",
              "confirmed_at": "datetime64[ns, UTC]", "count": "int64", "bar": "int64", "kind": "str", "side": "str"}
    for c in ("level", "first_price", "second_price", "difference", "tolerance"):
        dtypes[c] = "float64"
    n = len(candles)
    if swings is None:
        swings = fractal_swings(candles, left, right, timeframe) if n else None
    if swings is None or len(swings) == 0 or n == 0:
        return _typed_empty(EQUAL_COLUMNS, dtypes)
    step = bar_delta(candles, timeframe)
    t = candles.index.as_unit("ns")
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    atr_v = atr(candles, atr_period).to_numpy() if tolerance_atr is not None else None
    close_ns = t.asi8 + step.value
    parts = []
    for side in ("high", "low"):
        s = swings[swings["side"] == side].sort_values("bar", kind="stable")
        if len(s) < 2:
            continue
        bar = s["bar"].to_numpy(dtype=np.int64)
        price = s["price"].to_numpy(dtype="float64")
        conf = pd.DatetimeIndex(s["confirmed_at"]).as_unit("ns")
        m = len(bar)
        conf_ns = conf.asi8
        if tolerance_pips is not None:
            tol = np.full(m, float(tolerance_pips) * pip_size)
        else:
            cb = np.searchsorted(close_ns, conf_ns, side="right") - 1  # last bar closed by the confirmation
            tol = float(tolerance_atr) * np.where(cb >= 0, atr_v[np.maximum(cb, 0)], np.nan)
        extremes = RangeExtremes(h if side == "high" else lo, np.maximum if side == "high" else np.minimum)
        partner = np.full(m, -1, dtype=np.int64)
        b = np.arange(1, m)
        for lag in range(1, min(lookback, m - 1) + 1):
            bb = b[(b - lag >= 0) & (partner[b] < 0)]
            a = bb - lag
            diff = np.abs(price[bb] - price[a])
            if tolerance_pips is not None:
                within = np.round(diff / pip_size, 6) <= float(tolerance_pips)
            else:
                within = np.isfinite(tol[bb]) & (diff <= tol[bb] * (1 + 1e-12))
            bb, a = bb[within], a[within]  # range queries only for candidates within tolerance
            if side == "high":
                between = extremes.query(bar[a] + 1, bar[bb], -np.inf)
                ok = between <= np.maximum(price[a], price[bb])
            else:
                between = extremes.query(bar[a] + 1, bar[bb], np.inf)
                ok = between >= np.minimum(price[a], price[bb])
            partner[bb[ok]] = a[ok]
        idx = np.flatnonzero(partner >= 0)
        if len(idx) == 0:
            continue
        # chains: count and extreme propagate along partner links (a < b, so one ordered pass)
        count = np.ones(m, dtype=np.int64)
        level = price.copy()
        better = max if side == "high" else min
        for k in idx.tolist():
            a = partner[k]
            count[k] = count[a] + 1
            level[k] = better(level[a], price[k])
        pa_i = partner[idx]
        parts.append(pd.DataFrame({
            "kind": "equal_highs" if side == "high" else "equal_lows",
            "side": side,
            "level": level[idx],
            "first_time": t[bar[pa_i]],
            "first_price": price[pa_i],
            "second_time": t[bar[idx]],
            "second_price": price[idx],
            "difference": np.abs(price[idx] - price[pa_i]),
            "tolerance": tol[idx],
            "count": count[idx],
            "bar": bar[idx],
            "confirmed_at": conf[idx],
        }))
    if not parts:
        return _typed_empty(EQUAL_COLUMNS, dtypes)
    out = pd.concat(parts, ignore_index=True)
    out["_hi"] = out["side"] != "high"
    out = out.sort_values(["confirmed_at", "_hi", "bar"], kind="stable").drop(columns="_hi")
    return out.reset_index(drop=True)


def sweeps(candles: pd.DataFrame, levels: pd.DataFrame, level_col: str = "level", side: str | None = None,
           name: str | None = None, max_bars: int = 3, known_col: str = "confirmed_at",
           until_col: str | None = None, pip_size: float | None = None, min_pierce_pips: float = 0.0,
           timeframe: str | None = None) -> pd.DataFrame:
    """Liquidity sweeps of price levels: a wick beyond the level, then a close back inside.

    For each level row (price ``L = levels[level_col]``, known from ``levels[known_col]``):

    * **eligible bars** open at/after the level is known (``time >= known_col``) and, with ``until_col``,
      before ``levels[until_col]`` (e.g. a previous-day high only during the next day).
    * **pierce**: the *first* eligible bar ``j`` with ``high > L`` (side ``"high"``, a ``"buy_side"`` sweep of
      resting buy stops above highs) or ``low < L`` (side ``"low"``, ``"sell_side"``); with
      ``min_pierce_pips`` > 0, at least that far beyond: ``high ≥ L + min_pierce`` / ``low ≤ L − min_pierce``,
      compared to 1e-6 pip so float noise never drops an exact 1.0-pip pierce (as ``fvg``'s ``min_gap_pips``).
    * **reclaim**: the first bar ``k >= j`` that closes back inside (``close < L`` / ``close > L``). It is a
      sweep when ``k − j <= max_bars`` (``0`` = the piercing bar itself closes inside).

    Each level is consumed by its first pierce: if price does not close back inside within ``max_bars``
    (a breakout), no row is emitted and the level is not checked again. Rows are therefore final.

    Parameters
    ----------
    levels : any level table (``previous_period_levels``, ``session_range``, ``equal_levels``, …).
    side : ``"high"`` or ``"low"``; when ``None`` the ``side`` column of ``levels`` is used if present,
        else it is read from ``level_col`` (a name containing ``high`` / ``low``).
    name : label for ``level_name`` (default: ``levels["kind"]`` when present, else ``level_col``).
    pip_size, min_pierce_pips : optional minimum penetration in pips, inclusive (0 = any trade beyond).

    Returns
    -------
    DataFrame ordered by ``confirmed_at`` then ``time``: ``level_name``, ``level_row`` (position of the
    level in ``levels``), ``level`` (price), ``level_confirmed_at`` (UTC), ``direction`` (``"buy_side"``/
    ``"sell_side"``), ``time`` (UTC open of the piercing bar), ``bar`` (its position), ``extreme`` (furthest
    price beyond the level over bars ``j..k``), ``bars_to_reclaim`` (``k − j``), ``reclaim_bar`` (``k``),
    ``confirmed_at`` (UTC close of bar ``k``).

    Raises :class:`ValueError` for a bad ``side``/``max_bars`` or a pierce threshold without ``pip_size``.
    """
    if max_bars < 0:
        raise ValueError("max_bars must be >= 0")
    if min_pierce_pips and (pip_size is None or pip_size <= 0):
        raise ValueError("min_pierce_pips needs a positive pip_size")
    dtypes = {"level_confirmed_at": "datetime64[ns, UTC]", "time": "datetime64[ns, UTC]",
              "confirmed_at": "datetime64[ns, UTC]", "level": "float64", "extreme": "float64",
              "level_row": "int64", "bar": "int64", "bars_to_reclaim": "int64", "reclaim_bar": "int64",
              "level_name": "str", "direction": "str"}
    m = len(levels)
    if side is not None:
        if side not in ("high", "low"):
            raise ValueError(f"side must be 'high' or 'low', got {side!r}")
        sides = np.full(m, side, dtype=object)
    elif "side" in levels.columns:
        sides = levels["side"].to_numpy(dtype=object)
    elif "high" in level_col.lower() and "low" not in level_col.lower():
        sides = np.full(m, "high", dtype=object)
    elif "low" in level_col.lower():
        sides = np.full(m, "low", dtype=object)
    else:
        raise ValueError(f"cannot tell the side of level column {level_col!r}: pass side='high' or 'low'")
    n = len(candles)
    if n == 0 or m == 0:
        return _typed_empty(SWEEP_COLUMNS, dtypes)
    if not np.isin(sides, ["high", "low"]).all():
        raise ValueError("levels side values must be 'high' or 'low'")
    step = bar_delta(candles, timeframe)
    t = candles.index.as_unit("ns")
    h = candles["high"].to_numpy(dtype="float64")
    lo = candles["low"].to_numpy(dtype="float64")
    c = candles["close"].to_numpy(dtype="float64")
    L = levels[level_col].to_numpy(dtype="float64")
    known = pd.DatetimeIndex(levels[known_col]).tz_convert("UTC").as_unit("ns")
    if name is not None:
        names = np.full(m, name, dtype=object)
    elif "kind" in levels.columns:
        names = levels["kind"].astype(str).to_numpy(dtype=object)
    else:
        names = np.full(m, level_col, dtype=object)
    ok = np.isfinite(L) & ~known.isna()
    rows = np.flatnonzero(ok)
    L, sides, known_ns, names = L[rows], sides[rows], known.asi8[rows], names[rows]
    up = sides == "high"
    start = np.searchsorted(t.asi8, known_ns, side="left")
    pierce = float(min_pierce_pips) * (pip_size or 0.0)
    j = np.empty(len(rows), dtype=np.int64)
    if pierce > 0:   # "at least min_pierce_pips beyond", to 1e-6 pip (as fvg's min_gap_pips): float noise in
        tol = 5e-7 * float(pip_size)     # the prices never drops an exact 1.0-pip pierce
        j[up] = first_at_or_after(h, start[up], L[up] + pierce - tol, "ge")
        j[~up] = first_at_or_after(lo, start[~up], L[~up] - pierce + tol, "le")
    else:            # any trade beyond
        j[up] = first_at_or_after(h, start[up], np.nextafter(L[up], np.inf), "ge")
        j[~up] = first_at_or_after(lo, start[~up], np.nextafter(L[~up], -np.inf), "le")
    valid = j < n
    if until_col is not None:
        until = pd.DatetimeIndex(levels[until_col]).tz_convert("UTC").as_unit("ns").asi8[rows]
        valid &= t.asi8[np.minimum(j, n - 1)] < until
    # reclaim: first of bars j .. j + max_bars closing back inside (a short scan, no search table)
    k = np.full(len(rows), n, dtype=np.int64)
    for off in range(max_bars, -1, -1):
        pos = j + off
        inb = pos < n
        cp = c[np.minimum(pos, n - 1)]
        back = inb & np.where(up, cp < L, cp > L)
        k = np.where(back, pos, k)
    valid &= k < n
    sel = np.flatnonzero(valid)
    if len(sel) == 0:
        return _typed_empty(SWEEP_COLUMNS, dtypes)
    js, ks, us = j[sel], k[sel], up[sel]
    ext = np.where(us, h[js], lo[js])
    for off in range(1, max_bars + 1):
        live = js + off <= ks
        pos = np.minimum(js + off, n - 1)
        ext = np.where(live & us, np.maximum(ext, h[pos]), ext)
        ext = np.where(live & ~us, np.minimum(ext, lo[pos]), ext)
    out = pd.DataFrame({
        "level_name": names[sel].astype(str),
        "level_row": rows[sel].astype("int64"),
        "level": L[sel],
        "level_confirmed_at": pd.DatetimeIndex(known_ns[sel]).tz_localize("UTC"),
        "direction": np.where(us, "buy_side", "sell_side"),
        "time": t[js],
        "bar": js.astype("int64"),
        "extreme": ext,
        "bars_to_reclaim": (ks - js).astype("int64"),
        "reclaim_bar": ks.astype("int64"),
        "confirmed_at": t[ks] + step,
    })
    return out.sort_values(["confirmed_at", "time", "level_row"], kind="stable").reset_index(drop=True)


__all__ = ["equal_levels", "fractal_swings", "sweeps"]
