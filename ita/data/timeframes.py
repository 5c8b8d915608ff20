"""Timeframe names (MT5 style) and their durations.

Example::

    >>> from ita.data.timeframes import tf_delta, normalize_tf
    >>> normalize_tf("h1"), tf_delta("M15")
    ('H1', Timedelta('0 days 00:15:00'))
"""
from __future__ import annotations

import pandas as pd

from ita.errors import DataError, closest

TIMEFRAMES: dict[str, pd.Timedelta] = {
    "M1": pd.Timedelta(minutes=1),
    "M5": pd.Timedelta(minutes=5),
    "M15": pd.Timedelta(minutes=15),
    "M30": pd.Timedelta(minutes=30),
    "H1": pd.Timedelta(hours=1),
    "H4": pd.Timedelta(hours=4),
    "D1": pd.Timedelta(days=1),
}


def normalize_tf(tf: str) -> str:
    """Upper-case and validate a timeframe name; raises :class:`DataError` for unknown ones."""
    key = str(tf).upper().strip()
    if key not in TIMEFRAMES:
        raise DataError(f"Unknown timeframe {tf!r}.{closest(key, TIMEFRAMES)} Use one of: {', '.join(TIMEFRAMES)}.")
    return key


def tf_delta(tf: str) -> pd.Timedelta:
    """Duration of one bar of ``tf`` (D1 = 24 h; a trading day rolls at 17:00 New York)."""
    return TIMEFRAMES[normalize_tf(tf)]
