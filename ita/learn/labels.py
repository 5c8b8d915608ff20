"""Detector-event datasets with their own labels: every FVG and every liquidity sweep of a symbol, each an
event known at its ``confirmed_at`` and labelled by what price did afterwards — thousands of rows where the
setups give hundreds.

FVG (M5, ``min_gap_pips`` 1, :func:`ita.detectors.fvg`), ``N = FVG_BARS`` bars:

* ``mitigated`` — price traded back into the gap (``touch``: low ≤ top for a bullish gap) within N bars of
  its confirmation.
* ``respected`` — mitigated within N bars, and then, within N bars of the mitigating bar (that bar
  included), price moved at least one gap height beyond the near edge (bullish: high ≥ top + height) before
  any bar closed beyond the far edge (close < bottom); a bar doing both counts as not respected.

Sweep (previous-day high/low and the Asia range high/low, close back inside within 3 bars,
:func:`ita.detectors.sweeps`): the reversal trade from the reclaim bar's close ``P`` with its stop at the
sweep's extreme ``E`` (risk ``|P − E|``):

* ``reversal`` — price reached ``P ∓ 1R`` (the reversal direction: short after a buy-side sweep) before
  touching ``E``, within ``SWEEP_BARS`` bars after the reclaim bar; a bar doing both counts as the stop.

Each row carries ``outcome_end`` (UTC): the close of the bar that decided the label (or of the last bar
looked at) — the outcome window purging uses (:mod:`ita.learn.validation`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ita.data.instruments import get_instrument
from ita.detectors import fvg, sweeps
from ita.detectors.catalog import sweep_levels
from ita.times import NY

FVG_BARS = 36          # 3 hours of M5 bars
SWEEP_BARS = 48        # 4 hours of M5 bars
FVG_MIN_GAP_PIPS = 1.0
M5_NS = pd.Timedelta(minutes=5).value


def _first(mask_rows: np.ndarray) -> np.ndarray:
    """Per row of a 2-D bool array: the first True column, or -1."""
    any_ = mask_rows.any(axis=1)
    return np.where(any_, mask_rows.argmax(axis=1), -1)


def _window(values: np.ndarray, start: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``values[start + j]`` for j in 0..width-1 (rows), and where that position exists."""
    pos = start[:, None] + np.arange(width)[None, :]
    ok = pos < len(values)
    return values[np.minimum(pos, len(values) - 1)], ok


def _day(known: pd.Series) -> pd.Series:
    return pd.DatetimeIndex(known).tz_convert(NY).tz_localize(None).normalize().to_series(index=known.index)


def fvg_events(candles: pd.DataFrame, symbol: str, bars: int = FVG_BARS) -> pd.DataFrame:
    """Every FVG of ``candles`` (canonical M5, UTC) as a labelled event.

    Returns one row per gap: ``event_id``, ``group`` (``"fvg"``), ``known_at`` (close of the third candle,
    UTC), ``day`` (New York date of ``known_at``), ``direction`` (+1 bullish / −1 bearish), ``side``
    (long/short), ``price`` (close of the third candle), ``zone_pips`` (gap height, pips), ``top``,
    ``bottom``, ``mitigated`` / ``respected`` (bool), ``outcome_end`` (UTC). Gaps whose N bars are not all in
    ``candles`` are dropped (their label is not final yet).
    """
    inst = get_instrument(symbol)
    g = fvg(candles, inst.pip_size, FVG_MIN_GAP_PIPS, "touch", timeframe="M5")
    n = len(candles)
    g = g[g["bar"].to_numpy() + 2 * bars < n].reset_index(drop=True)
    if g.empty:
        return pd.DataFrame()
    hi, lo, cl = (candles[k].to_numpy(dtype="float64") for k in ("high", "low", "close"))
    t_close = candles.index.as_unit("ns").asi8 + M5_NS
    third = g["bar"].to_numpy()
    bull = (g["direction"] == "bullish").to_numpy()
    top, bottom = g["top"].to_numpy(), g["bottom"].to_numpy()
    height = top - bottom
    # mitigation: first bar after the third candle touching the gap, within N bars
    h_w, ok = _window(hi, third + 1, bars)
    l_w, _ = _window(lo, third + 1, bars)
    touch = np.where(bull[:, None], l_w <= top[:, None], h_w >= bottom[:, None]) & ok
    m_off = _first(touch)
    mitigated = m_off >= 0
    m = third + 1 + np.maximum(m_off, 0)
    # after mitigation: target one height beyond the near edge vs a close beyond the far edge
    h2, ok2 = _window(hi, m, bars)
    l2, _ = _window(lo, m, bars)
    c2, _ = _window(cl, m, bars)
    tgt = np.where(bull[:, None], h2 >= (top + height)[:, None], l2 <= (bottom - height)[:, None]) & ok2
    fail = np.where(bull[:, None], c2 < bottom[:, None], c2 > top[:, None]) & ok2
    jt, jf = _first(tgt), _first(fail)
    respected = mitigated & (jt >= 0) & ((jf < 0) | (jt < jf))
    decided = np.where(jt >= 0, np.where(jf >= 0, np.minimum(jt, jf), jt), np.where(jf >= 0, jf, bars - 1))
    end_bar = np.where(mitigated, m + decided, third + bars)
    out = pd.DataFrame({
        "group": "fvg",
        "known_at": pd.DatetimeIndex(g["confirmed_at"]).as_unit("ns"),
        "direction": np.where(bull, 1.0, -1.0),
        "side": np.where(bull, "long", "short"),
        "price": cl[third],
        "zone_pips": g["size_pips"].to_numpy(dtype="float64"),
        "top": top, "bottom": bottom,
        "mitigated": mitigated, "respected": respected,
        "outcome_end": pd.to_datetime(t_close[np.minimum(end_bar, n - 1)], utc=True).as_unit("ns"),
    })
    out["day"] = _day(out["known_at"]).to_numpy()
    out.insert(0, "event_id", [f"fvg-{symbol}-M5-{t:%Y%m%dT%H%M}-{'b' if b else 's'}"
                               for t, b in zip(pd.DatetimeIndex(g["time"]), bull)])
    return out


def sweep_events(candles: pd.DataFrame, symbol: str, bars: int = SWEEP_BARS) -> pd.DataFrame:
    """Every sweep of the previous day's and the Asia session's high/low as a labelled event.

    Returns one row per sweep: ``event_id``, ``group`` (``"sweep_pd"`` / ``"sweep_asia"``), ``known_at``
    (close of the reclaim bar, UTC), ``day``, ``direction`` (the reversal: −1 after a buy-side sweep), ``side``,
    ``price`` (reclaim close), ``stop`` (the sweep's extreme), ``rr`` (1.0), ``level``, ``reversal`` (bool),
    ``outcome_end`` (UTC). Sweeps without ``bars`` later bars in ``candles`` or with zero risk are dropped.
    """
    inst = get_instrument(symbol)
    n = len(candles)
    hi, lo, cl = (candles[k].to_numpy(dtype="float64") for k in ("high", "low", "close"))
    t_close = candles.index.as_unit("ns").asi8 + M5_NS
    parts = []
    for group, p in (("sweep_pd", {"of": "previous_levels", "period": "D"}),
                     ("sweep_asia", {"of": "session_range", "session": "asia"})):
        lv = sweep_levels(candles, inst.pip_size, "M5", p)
        s = sweeps(candles, lv, level_col="level", until_col="until", max_bars=3, timeframe="M5")
        if s.empty:
            continue
        s = s.assign(group=group)
        parts.append(s)
    if not parts:
        return pd.DataFrame()
    s = pd.concat(parts, ignore_index=True)
    k = s["reclaim_bar"].to_numpy()
    s = s[k + bars < n].reset_index(drop=True)
    k = s["reclaim_bar"].to_numpy()
    d = np.where(s["direction"].to_numpy() == "buy_side", -1.0, 1.0)
    price, ext = cl[k], s["extreme"].to_numpy()
    risk = np.abs(price - ext)
    keep = risk > 0
    s, k, d, price, ext, risk = s[keep].reset_index(drop=True), k[keep], d[keep], price[keep], ext[keep], risk[keep]
    h_w, ok = _window(hi, k + 1, bars)
    l_w, _ = _window(lo, k + 1, bars)
    short = d < 0
    stop_hit = np.where(short[:, None], h_w >= ext[:, None], l_w <= ext[:, None]) & ok
    tgt_hit = np.where(short[:, None], l_w <= (price - risk)[:, None], h_w >= (price + risk)[:, None]) & ok
    js, jt = _first(stop_hit), _first(tgt_hit)
    win = (jt >= 0) & ((js < 0) | (jt < js))
    decided = np.where(jt >= 0, np.where(js >= 0, np.minimum(jt, js), jt), np.where(js >= 0, js, bars - 1))
    out = pd.DataFrame({
        "group": s["group"].to_numpy(),
        "known_at": pd.DatetimeIndex(s["confirmed_at"]).as_unit("ns"),
        "direction": d,
        "side": np.where(short, "short", "long"),
        "price": price, "stop": ext, "rr": 1.0, "level": s["level"].to_numpy(),
        "reversal": win,
        "outcome_end": pd.to_datetime(t_close[np.minimum(k + 1 + decided, n - 1)], utc=True).as_unit("ns"),
    })
    out["day"] = _day(out["known_at"]).to_numpy()
    out.insert(0, "event_id", [f"{g}-{symbol}-M5-{t:%Y%m%dT%H%M}-{'h' if dd < 0 else 'l'}"
                               for g, t, dd in zip(out["group"], pd.DatetimeIndex(s["time"]), d)])
    return out.sort_values("known_at", kind="stable").reset_index(drop=True)


#: detector-event kinds → (builder, label columns)
EVENT_KINDS = {"fvg": (fvg_events, ("respected", "mitigated")), "sweep": (sweep_events, ("reversal",))}
