"""Candle validation: the checks a file must pass before it reaches the store.

Hard errors (raise :class:`~ita.errors.DataError`, naming file and lines): times not strictly increasing,
duplicate times, times not on the timeframe's grid (for H4/D1 only whole hours are checked: their grid is
the server's clock, whose UTC offset changes with DST), ``high < max(open, close)``, ``low > min(open, close)``,
non-positive prices. Soft findings go into the :class:`ValidationReport`: gaps (weekend closes are
expected and counted separately) and a warning when the weekly open does not fall near Sunday 17:00
New York, the usual sign of a wrong ``--server-tz`` for FX and metals.
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
    kind: str  # "weekend" | "intraday"


@dataclass
class ValidationReport:
    """What validation found. ``gaps`` lists the intraday gaps (largest first, at most 20)."""

    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    weekend_gaps: int = 0
    intraday_gaps: int = 0
    missing_bars: int = 0
    gaps: list[Gap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
    if inst is not None and inst.asset_class in ("fx", "metal"):
        _check_weekly_open(out.index, report)
    return out, report


def _gaps(idx: pd.DatetimeIndex, step: pd.Timedelta, report: ValidationReport) -> None:
    if len(idx) < 2:
        return
    d = np.diff(idx.as_unit("ns").asi8)
    where = np.flatnonzero(d > step.value)
    gaps = []
    for k in where:
        after, before = idx[k], idx[k + 1]
        missing = int(d[k] // step.value) - 1
        weekend = (before - after) >= pd.Timedelta(hours=36) or after.tz_convert(NY).weekday() == 4
        kind = "weekend" if weekend else "intraday"
        gaps.append(Gap(after, before, missing, kind))
    report.weekend_gaps = sum(g.kind == "weekend" for g in gaps)
    intraday = [g for g in gaps if g.kind == "intraday"]
    report.intraday_gaps = len(intraday)
    report.missing_bars = sum(g.missing_bars for g in intraday)
    report.gaps = sorted(intraday, key=lambda g: -g.missing_bars)[:20]


def _check_weekly_open(idx: pd.DatetimeIndex, report: ValidationReport) -> None:
    """FX/metals open Sunday ~17:00 New York; a median weekly open far from that hints at a wrong server tz."""
    ny = idx.tz_convert(NY)
    week_start = np.r_[True, np.diff(idx.as_unit("ns").asi8) >= pd.Timedelta(hours=36).value]
    opens = ny[week_start][1:]  # the file's first bar need not be a weekly open
    if len(opens) < 3:
        return
    hours = np.array([(ts.hour + ts.minute / 60.0 + (24.0 if ts.weekday() == 0 else 0.0)) for ts in opens if ts.weekday() in (6, 0)])
    if len(hours) < 3:
        return
    med = float(np.median(hours))
    if abs(med - 17.0) > 1.5:
        shift = med - 17.0
        report.warnings.append(
            f"The weekly open falls at {med % 24:05.2f}h New York time (median of {len(hours)} weeks), not near "
            f"17:00: the times look shifted by {shift:+.0f} h. Check --server-tz (most MT5 brokers: Europe/Athens)."
        )
