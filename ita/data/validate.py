"""Candle validation: the checks a file must pass before it reaches the store.

Hard errors (raise :class:`~ita.errors.DataError`, naming file and lines): times not strictly increasing,
duplicate times, times not on the timeframe's grid (for H4/D1 only whole hours are checked: their grid is
the server's clock, whose UTC offset changes with DST), ``high < max(open, close)``, ``low > min(open, close)``,
non-positive prices. Soft findings go into the :class:`ValidationReport`: gaps, sorted into weekend closes
(the gap spans Saturday noon New York: the market was closed for the weekend), daily pauses (about an hour
from 17:00 New York, as metals and index CFDs pause) and the rest (intraday gaps: missing data or holidays).
Whether the file's clock is right is checked on its wall-clock times by :mod:`ita.data.clock`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ita.errors import DataError
from ita.times import NY

# Float noise in exports (1.1541299999999999) must not fail the OHLC check: allow 1e-9 of the price.
_REL_TOL = 1e-9


@dataclass
class Gap:
    """A hole in the series: no bars opened in ``[after + tf, before)``. Times are UTC."""

    after: pd.Timestamp
    before: pd.Timestamp
    missing_bars: int
    kind: str  # "weekend" | "daily_pause" | "intraday"


@dataclass
class ValidationReport:
    """What validation found. ``gaps`` lists the intraday gaps (largest first, at most 20); ``missing_bars``
    counts the bars missing in them (weekend closes and daily pauses are the market's hours, not missing)."""

    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    weekend_gaps: int = 0
    intraday_gaps: int = 0
    missing_bars: int = 0
    gaps: list[Gap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    daily_pauses: int = 0


def _lines(df: pd.DataFrame) -> np.ndarray:
    lines = df.attrs.get("lines")
    return np.asarray(lines) if lines is not None and len(lines) == len(df) else np.arange(len(df))


def describe_lines(mask: np.ndarray, lines: np.ndarray, n: int = 5) -> str:
    """``"lines 3, 7, 9 … (12 in all)"`` for the file lines where ``mask`` is True (first ``n`` shown)."""
    bad = lines[mask]
    shown = ", ".join(str(x) for x in bad[:n])
    return f"line{'s' if len(bad) > 1 else ''} {shown}{' …' if len(bad) > n else ''} ({len(bad)} in all)"


def validate_candles(df: pd.DataFrame, symbol: str | None = None, timeframe: str | None = None,
                     where: str = "candles") -> tuple[pd.DataFrame, ValidationReport]:
    """Check a canonical candle frame; return it with prices rounded to the symbol's digits, and a report.

    Parameters: ``df`` canonical frame (see :mod:`ita.data.sources`); ``symbol`` for rounding and pip
    units (unknown symbols raise :class:`~ita.errors.UnknownSymbolError`); ``timeframe`` for the grid and
    gap checks; ``where`` names the source in messages. The input frame is not modified.
    """
    from ita.data.instruments import get_instrument
    from ita.data.timeframes import tf_delta

    inst = get_instrument(symbol) if symbol else None
    lines = _lines(df)
    if len(df) == 0:
        raise DataError(f"{where}: no candles.")
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None:
        raise DataError(f"{where}: the index must be tz-aware bar open times.")
    t = df.index.as_unit("ns").asi8
    d = np.diff(t)
    if (d == 0).any():
        dup = np.r_[False, d == 0]
        raise DataError(f"{where}: duplicate bar times on {describe_lines(dup, lines)}; remove the repeated rows.")
    if (d < 0).any():
        back = np.r_[False, d < 0]
        raise DataError(f"{where}: bar times go backwards on {describe_lines(back, lines)}; the file must be sorted by time.")
    o, h, lo, c = (df[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    if (np.minimum.reduce([o, h, lo, c]) <= 0).any():
        bad = np.minimum.reduce([o, h, lo, c]) <= 0
        raise DataError(f"{where}: zero or negative prices on {describe_lines(bad, lines)}.")
    tol = _REL_TOL * np.abs(c)
    bad_h = h < np.maximum(o, c) - tol
    bad_l = lo > np.minimum(o, c) + tol
    if bad_h.any():
        raise DataError(f"{where}: high below open or close on {describe_lines(bad_h, lines)} (high must be ≥ max(open, close)).")
    if bad_l.any():
        raise DataError(f"{where}: low above open or close on {describe_lines(bad_l, lines)} (low must be ≤ min(open, close)).")

    out = df.copy()
    out.attrs = {}
    if inst is not None:
        for k in ("open", "high", "low", "close"):
            out[k] = out[k].round(inst.digits)
    out.index = pd.DatetimeIndex(out.index.tz_convert("UTC"), name="time").as_unit("ns")
    report = ValidationReport(rows=len(out), first=out.index[0], last=out.index[-1])

    if timeframe:
        step = tf_delta(timeframe)
        if step < pd.Timedelta(days=1):
            # H4 bars open on the server clock's 4-hour grid (22:00/02:00 … UTC for a UTC+2 server), so
            # in UTC only whole hours can be required; finer timeframes are checked exactly.
            grid = min(step, pd.Timedelta(hours=1))
            off = (t % grid.value) != 0
            if off.any():
                raise DataError(
                    f"{where}: bar times off the {timeframe} grid on {describe_lines(off, lines)}; "
                    f"is --timeframe {timeframe} right?"
                )
        _gaps(out.index, step, report)
    return out, report


def _gaps(idx: pd.DatetimeIndex, step: pd.Timedelta, report: ValidationReport) -> None:
    """Sort the holes of ``idx`` (bar size ``step``) into weekend closes, daily pauses and intraday gaps."""
    if len(idx) < 2:
        return
    t = idx.as_unit("ns").asi8
    d = np.diff(t)
    where = np.flatnonzero(d > step.value)
    if not len(where):
        return
    after, before = idx[where], idx[where + 1]
    start_ny = (after + step).tz_convert(NY)
    end_ny = before.tz_convert(NY)
    # the Saturday 12:00 New York inside the gap, if any: the market was closed for the weekend
    days_to_sat = (5 - start_ny.day_of_week.to_numpy()) % 7
    sat_noon = (start_ny.normalize() + pd.to_timedelta(days_to_sat, unit="D")).tz_localize(None) + pd.Timedelta(hours=12)
    sat_noon = sat_noon.tz_localize(NY, ambiguous="NaT", nonexistent="NaT")
    weekend = np.asarray(sat_noon <= end_ny) & np.asarray(sat_noon >= start_ny)
    minute = start_ny.hour.to_numpy() * 60 + start_ny.minute.to_numpy()
    length = (before - after - step).asi8
    pause = (~weekend & (np.abs(minute - 17 * 60) <= 20) & (length <= pd.Timedelta(minutes=90).value))
    kinds = np.where(weekend, "weekend", np.where(pause, "daily_pause", "intraday"))
    missing = (d[where] // step.value - 1).astype("int64")
    report.weekend_gaps = int(weekend.sum())
    report.daily_pauses = int(pause.sum())
    intra = np.flatnonzero(kinds == "intraday")
    report.intraday_gaps = len(intra)
    report.missing_bars = int(missing[intra].sum())
    top = intra[np.argsort(-missing[intra], kind="stable")][:20]
    report.gaps = [Gap(after[k], before[k], int(missing[k]), "intraday") for k in top]
