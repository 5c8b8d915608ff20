"""Reference levels: previous day/week/month high-low, opening prices and the initial balance.

All periods follow the **forex trading day**, which rolls at 17:00 America/New_York (DST handled by the
tz database, as in :func:`ita.data.resample.bucket_start`). Trading day ``D`` is
``[D−1 17:00, D 17:00)`` New York; the bar opening Sunday 17:00 New York belongs to Monday.

* :func:`previous_period_levels` — high/low of each *completed* day (``"D"``), week (``"W"``) or month
  (``"M"``), known at the period's end.
* :func:`opening_levels` — New York midnight open, daily open (17:00 NY), weekly open (Sunday 17:00 NY),
  known at the open of the bar that prints it.
* :func:`initial_balance` — high/low of the first hour of a cash session (default GER40 09:00–10:00
  Europe/Berlin), known at the window end (reuses :func:`ita.detectors.sessions.session_range`).

Every function is pure and prefix invariant: running on the bars closed by ``t`` yields exactly the rows of
the full run that were knowable at ``t`` (for opening levels: whose bar is in the data, see there).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ita.detectors._util import bar_delta, run_extremes
from ita.detectors.sessions import session_range
from ita.sessions import NY, SessionWindow, local_day_and_minute, local_time_to_utc, weekday_of

PERIOD_COLUMNS = ["period", "label", "period_start", "period_end", "open", "high", "low", "close",
                  "high_time", "low_time", "bars", "confirmed_at"]
OPENING_COLUMNS = ["kind", "label", "nominal_time", "time", "open", "bar", "confirmed_at"]
ROLL = "17:00"
_ONE_DAY = np.timedelta64(1, "D")

IB_WINDOW = SessionWindow(name="initial_balance", start="09:00", end="10:00", timezone="Europe/Berlin")


def trading_day(index: pd.DatetimeIndex) -> np.ndarray:
    """Forex trading date (``datetime64[D]``) of each UTC time: the New York date of ``local + 7 h``."""
    local = index.tz_convert(NY).tz_localize(None) + pd.Timedelta(hours=7)
    return local.to_numpy().astype("datetime64[D]")


def _period_key(td: np.ndarray, period: str) -> np.ndarray:
    if period == "D":
        return td
    if period == "W":  # Monday of the trading week (the week opens Sunday 17:00 NY = start of Monday)
        return td - weekday_of(td).astype("timedelta64[D]")
    return td.astype("datetime64[M]").astype("datetime64[D]")  # first of the month


def _period_bounds(key: np.ndarray, period: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    start = local_time_to_utc(key - _ONE_DAY, ROLL, NY)
    if period == "D":
        last = key
    elif period == "W":
        last = key + 6 * _ONE_DAY
    else:
        last = (key.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]") - _ONE_DAY
    return start, local_time_to_utc(last, ROLL, NY)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def previous_period_levels(candles: pd.DataFrame, period: Literal["D", "W", "M"] = "D",
                           timeframe: str | None = None) -> pd.DataFrame:
    """High/low of every completed forex day, week or month — the "previous day high" family.

    Periods (all bounds 17:00 America/New_York, so they nest the D1 bars of :mod:`ita.data.resample`):

    * ``"D"`` trading day ``D``: ``[D−1 17:00, D 17:00)`` New York.
    * ``"W"`` week: ``[Sunday 17:00, next Sunday 17:00)`` New York (trading days Monday … Sunday).
    * ``"M"`` month: the trading days whose date lies in the calendar month, i.e. ``[17:00 NY on the last
      day of the previous month, 17:00 NY on the month's last day)``. This is the calendar month in New
      York time shifted by the 17:00 roll, the same month an MT5 server on New York close (UTC+2/+3)
      draws; a bar on the 31st after 17:00 NY belongs to the next month.

    Bars belong to a period by their **open** time. A row is emitted only once the data reaches the
    period end (last bar open + timeframe ≥ ``period_end``); use a level from ``confirmed_at`` on. A run
    only sees bars, so after a weekend the week ending Sunday 17:00 NY appears with the first bar of the new
    week. The first period is partial when the data starts inside it (its ``bars`` count shows it).

    Returns
    -------
    DataFrame, one row per period with bars, ascending: ``period`` (``"D"``/``"W"``/``"M"``), ``label``
    (``datetime64[D]``: trading date / Monday of the week / first of the month), ``period_start``,
    ``period_end`` (UTC), ``open``/``high``/``low``/``close`` (price), ``high_time``/``low_time`` (UTC
    open of the bar that set the extreme, first occurrence), ``bars`` (count), ``confirmed_at`` (UTC,
    = ``period_end``).

    Raises :class:`ValueError` for an unknown ``period``.

    Example::

        >>> pdh = previous_period_levels(m5, "D")                       # doctest: +SKIP
        >>> pdh.loc[pdh.confirmed_at <= now].iloc[-1][["high", "low"]]   # doctest: +SKIP
    """
    if period not in ("D", "W", "M"):
        raise ValueError(f"period must be 'D', 'W' or 'M', got {period!r}")
    n = len(candles)
    if n == 0:
        return _empty(PERIOD_COLUMNS)
    step = bar_delta(candles, timeframe)
    t = candles.index.as_unit("ns")
    key = _period_key(trading_day(t), period)
    starts, ends, hi, lw, hi_pos, lo_pos = run_extremes(
        key, candles["high"].to_numpy(dtype="float64"), candles["low"].to_numpy(dtype="float64"))
    keys = key[starts]
    p_start, p_end = _period_bounds(keys, period)
    out = pd.DataFrame({
        "period": period,
        "label": keys,
        "period_start": p_start,
        "period_end": p_end,
        "open": candles["open"].to_numpy(dtype="float64")[starts],
        "high": hi,
        "low": lw,
        "close": candles["close"].to_numpy(dtype="float64")[ends],
        "high_time": t[hi_pos],
        "low_time": t[lo_pos],
        "bars": (ends - starts + 1).astype("int64"),
        "confirmed_at": p_end,
    })
    return out[out["period_end"] <= t[-1] + step].reset_index(drop=True)


def opening_levels(candles: pd.DataFrame, kind: Literal["ny_midnight", "daily", "weekly"] = "ny_midnight",
                   weekdays: tuple[int, ...] = (0, 1, 2, 3, 4), max_delay: str | pd.Timedelta | None = "90min",
                   timeframe: str | None = None) -> pd.DataFrame:
    """Opening prices: New York midnight open, daily open, weekly open.

    * ``"ny_midnight"``: open of the first bar at/after 00:00 America/New_York of each New York date
      (``label`` = that date; ``weekdays`` filters it, so Sunday evening is not a "midnight open").
    * ``"daily"``: open of trading day ``D`` — the first bar at/after ``D−1 17:00`` New York
      (``label`` = ``D``, filtered by ``weekdays``).
    * ``"weekly"``: open of the week — the first bar at/after Sunday 17:00 New York (``label`` = Monday).

    A row needs a bar opening in ``[nominal_time, nominal_time + max_delay)`` (``None`` = anywhere in the
    period), so a holiday that reopens hours later does not masquerade as the open. The default 90 min
    admits gold and indices, whose daily session reopens exactly one hour after 17:00 New York.

    **Knowability**: an open is known at the bar's first tick, so ``confirmed_at`` = ``time`` (the bar's
    open). A consumer that only sees *closed* bars (and the prefix-invariance tests, which cut at bar
    closes) has the row once that bar is in the data, i.e. from ``confirmed_at + timeframe``.

    Returns
    -------
    DataFrame, ascending: ``kind``, ``label`` (``datetime64[D]``), ``nominal_time`` (UTC of 00:00 NY /
    17:00 NY), ``time`` (UTC open of the bar used), ``open`` (price), ``bar`` (position), ``confirmed_at``
    (UTC, = ``time``).

    Raises :class:`ValueError` for an unknown ``kind``.
    """
    if kind not in ("ny_midnight", "daily", "weekly"):
        raise ValueError(f"kind must be 'ny_midnight', 'daily' or 'weekly', got {kind!r}")
    n = len(candles)
    if n == 0:
        return _empty(OPENING_COLUMNS)
    t = candles.index.as_unit("ns")
    if kind == "ny_midnight":
        key, _ = local_day_and_minute(t, NY)
    else:
        key = _period_key(trading_day(t), "D" if kind == "daily" else "W")
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    keys = key[first]
    if kind == "ny_midnight":
        nominal = local_time_to_utc(keys, "00:00", NY)
    else:
        nominal = local_time_to_utc(keys - _ONE_DAY, ROLL, NY)
    keep = np.ones(len(first), dtype=bool)
    if kind != "weekly":
        keep &= np.isin(weekday_of(keys), list(weekdays))
    if max_delay is not None:
        keep &= (t[first] - nominal).to_numpy() < pd.Timedelta(max_delay).to_timedelta64()
    first, keys, nominal = first[keep], keys[keep], nominal[keep]
    return pd.DataFrame({
        "kind": kind,
        "label": keys,
        "nominal_time": nominal,
        "time": t[first],
        "open": candles["open"].to_numpy(dtype="float64")[first],
        "bar": first.astype("int64"),
        "confirmed_at": t[first],
    })


def initial_balance(candles: pd.DataFrame, session: SessionWindow = IB_WINDOW,
                    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4), timeframe: str | None = None) -> pd.DataFrame:
    """Initial balance: high/low of the first hour of a cash session, per local trading day.

    Default window: GER40 cash open 09:00–10:00 Europe/Berlin (``instruments.yaml`` ``cash_session``);
    pass another :class:`~ita.sessions.SessionWindow` for other markets (e.g. 09:30–10:30 New York).
    Bars whose **open** lies in ``[start, end)`` local time count. A day is emitted once the data reaches
    the window end.

    Returns the columns of :func:`~ita.detectors.sessions.session_range`: ``day``, ``session``, ``start``,
    ``end``, ``high``, ``low``, ``high_time``, ``low_time``, ``bars``, ``first_bar``, ``last_bar``,
    ``confirmed_at`` (UTC window end).
    """
    if not session.name:
        session = session.model_copy(update={"name": "initial_balance"})
    return session_range(candles, session, weekdays=weekdays, timeframe=timeframe)


__all__ = ["IB_WINDOW", "initial_balance", "opening_levels", "previous_period_levels", "trading_day"]
