"""Session range and range break.

``session_range`` — the high and low of a session window (e.g. the Asia range) per trading day, known
when the window **ends**. ``range_break`` — the first bar in a later window that closes (or trades)
beyond that range. Both are pure functions of the candles; neither emits an event before it is knowable.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ita.detectors._util import bar_delta, run_extremes
from ita.sessions import SessionWindow, local_day_and_minute, local_time_to_utc, weekday_of
from ita.times import NY

SESSION_RANGE_COLUMNS = ["day", "session", "start", "end", "high", "low", "high_time", "low_time", "bars",
                         "first_bar", "last_bar", "confirmed_at"]
BREAK_COLUMNS = ["day", "direction", "time", "confirmed_at", "level", "bar", "range_high", "range_low"]


def session_range(candles: pd.DataFrame, window: SessionWindow, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
                  timeframe: str | None = None) -> pd.DataFrame:
    """High/low of ``window`` for each trading day that has bars in it.

    Parameters
    ----------
    candles : canonical frame (UTC index of bar open times).
    window : the session; bars whose **open** lies in ``[start, end)`` local time belong to it.
    weekdays : trading days D kept (Monday=0); the Asia window of Monday D starts Sunday evening.
    timeframe : bar duration, inferred when omitted.

    Returns
    -------
    DataFrame, one row per day D (ascending): ``day`` (local date of D, ``datetime64[D]``), ``session``
    (window name), ``start``/``end`` (UTC bounds of the window), ``high``/``low`` (price),
    ``high_time``/``low_time`` (UTC open of the bar that set each extreme, first occurrence),
    ``bars`` (count), ``first_bar``/``last_bar`` (integer positions in ``candles``), ``confirmed_at``
    (UTC: the window end). A day is emitted only once the data reaches the window's end (the last bar's
    close ≥ ``end``), so an unfinished session never appears.

    Example::

        >>> from ita.sessions import get_session
        >>> asia = session_range(m5, get_session("asia"))       # doctest: +SKIP
    """
    n = len(candles)
    if n == 0:
        return pd.DataFrame(columns=SESSION_RANGE_COLUMNS)
    step = bar_delta(candles, timeframe)
    inside, day = window.mask(candles.index)
    pos = np.flatnonzero(inside & np.isin(weekday_of(day), list(weekdays)))
    if len(pos) == 0:
        return pd.DataFrame(columns=SESSION_RANGE_COLUMNS)
    d = day[pos]
    h = candles["high"].to_numpy(dtype="float64")[pos]
    lo = candles["low"].to_numpy(dtype="float64")[pos]
    starts, ends, hi, lw, hi_pos, lo_pos = run_extremes(d, h, lo)  # extremes: first occurrence per day
    days = d[starts]
    start_days = days - np.timedelta64(1, "D") if window.wraps else days
    start_utc = local_time_to_utc(start_days, window.start, window.timezone)
    end_utc = local_time_to_utc(days, window.end, window.timezone)
    t = candles.index.as_unit("ns")
    out = pd.DataFrame({
        "day": days,
        "session": window.name,
        "start": start_utc,
        "end": end_utc,
        "high": hi,
        "low": lw,
        "high_time": t[pos[hi_pos]],
        "low_time": t[pos[lo_pos]],
        "bars": (ends - starts + 1).astype("int64"),
        "first_bar": pos[starts].astype("int64"),
        "last_bar": pos[ends].astype("int64"),
        "confirmed_at": end_utc,
    })
    data_end = t[-1] + step
    return out[out["end"] <= data_end].reset_index(drop=True)


def range_break(candles: pd.DataFrame, ranges: pd.DataFrame, window: SessionWindow,
                by: Literal["close", "wick"] = "close", timeframe: str | None = None) -> pd.DataFrame:
    """First bar of ``window`` on each range's day D that breaks the range.

    ``by="close"``: close > range high → ``long`` (bullish break), close < range low → ``short``.
    ``by="wick"``: high > range high / low < range low; a bar that pierces both sides is ambiguous and
    skipped. Only bars opening inside ``window`` on day D and at/after the range's ``confirmed_at`` count.

    Returns one row per day with a break: ``day``, ``direction`` (``"long"``/``"short"``), ``time`` (UTC
    open of the break bar), ``confirmed_at`` (its close), ``level`` (the range edge broken), ``bar``
    (position), ``range_high``, ``range_low``.

    Raises :class:`ValueError` for an unknown ``by``.
    """
    crossings = range_crossings(candles, ranges, window, by=by, timeframe=timeframe)
    if len(crossings) == 0:
        return crossings
    first = np.r_[True, crossings["day"].to_numpy()[1:] != crossings["day"].to_numpy()[:-1]]
    return crossings[first].reset_index(drop=True)


def range_crossings(candles: pd.DataFrame, ranges: pd.DataFrame, window: SessionWindow | None,
                    by: Literal["close", "wick"] = "close", timeframe: str | None = None,
                    timezone: str = NY) -> pd.DataFrame:
    """Every bar of day D that closes (``by="wick"``: trades) beyond day D's range — the candidates of which
    :func:`range_break` keeps the first per day.

    Bars count when they open inside ``window`` (its day is D), or, with ``window=None``, on local date D
    in ``timezone``; and at/after the range's ``confirmed_at``. A bar through both sides (wick) is skipped.
    Returns :data:`BREAK_COLUMNS` (one row per bar, in bar order). Raises :class:`ValueError` for an
    unknown ``by``.
    """
    if by not in ("close", "wick"):
        raise ValueError(f"range_break by must be 'close' or 'wick', got {by!r}")
    if len(ranges) == 0 or len(candles) == 0:
        return pd.DataFrame(columns=BREAK_COLUMNS)
    step = bar_delta(candles, timeframe)
    t = candles.index.as_unit("ns")
    if window is not None:
        inside, day = window.mask(candles.index)
    else:
        day = local_day_and_minute(candles.index, timezone)[0]
        inside = np.ones(len(candles), dtype=bool)
    rmap = ranges.set_index("day")
    pos = np.flatnonzero(inside & np.isin(day, rmap.index.to_numpy().astype("datetime64[D]")))
    if len(pos) == 0:
        return pd.DataFrame(columns=BREAK_COLUMNS)
    d = day[pos]
    rh = rmap["high"].reindex(pd.Index(d)).to_numpy()
    rl = rmap["low"].reindex(pd.Index(d)).to_numpy()
    rconf = pd.DatetimeIndex(rmap["confirmed_at"].reindex(pd.Index(d))).as_unit("ns").asi8
    if by == "close":
        x = candles["close"].to_numpy(dtype="float64")[pos]
        up, dn = x > rh, x < rl
    else:
        up = candles["high"].to_numpy(dtype="float64")[pos] > rh
        dn = candles["low"].to_numpy(dtype="float64")[pos] < rl
        up, dn = up & ~dn, dn & ~up  # a bar through both sides says nothing
    hit = (up | dn) & (t.asi8[pos] >= rconf)
    k = np.flatnonzero(hit)
    b = pos[k]
    long_ = up[k]
    return pd.DataFrame({
        "day": d[k],
        "direction": np.where(long_, "long", "short"),
        "time": t[b],
        "confirmed_at": t[b] + step,
        "level": np.where(long_, rh[k], rl[k]),
        "bar": b.astype("int64"),
        "range_high": rh[k],
        "range_low": rl[k],
    })
