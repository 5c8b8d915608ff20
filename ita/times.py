"""Time zones and time text, one place for the whole package.

Every stored or computed instant in ITA is a tz-aware UTC :class:`pandas.Timestamp`; a trader reads New York
wall-clock time (``America/New_York``, EST/EDT from the IANA tz database, never a fixed offset). A naive
timestamp given to any helper here is taken as UTC.

=================  ==========================================================================================
name               what
=================  ==========================================================================================
``NY``             ``"America/New_York"`` — the trading-day clock (the FX day rolls at 17:00 New York)
``UTC``            ``"UTC"``
``DASH``           ``"—"`` — what a missing time is shown as
``utc(v)``         anything time-like → tz-aware UTC Timestamp, or ``None`` for None/NaN/NaT/garbage
``to_ny(v)``       the same instant in New York (``None`` when missing)
``ny_text(v)``     New York wall-clock text, ``"%Y-%m-%d %H:%M"`` by default (``DASH`` when missing)
``iso(v)``         ISO-8601 UTC text ``"2025-03-12T12:30:00+00:00"`` (``None`` when missing)
``iso_z(v)``       compact ISO UTC text ``"2025-03-12T12:30:00Z"`` (``""`` when missing)
``day_text(v)``    ``"YYYY-MM-DD"`` of the value as given (``DASH`` when missing)
``today_ny()``     today's date in New York (``ITA_TODAY=YYYY-MM-DD`` fixes it, for reproducible evals and tests)
=================  ==========================================================================================

Example::

    >>> from ita.times import ny_text, utc
    >>> ny_text("2025-03-12 12:30")          # naive = UTC; New York is on EDT (UTC−4) on that day
    '2025-03-12 08:30'
    >>> utc("not a time") is None
    True
"""
from __future__ import annotations

import datetime as dt
import math
import os
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

NY = "America/New_York"
UTC = "UTC"
DASH = "—"

__all__ = ["DASH", "NY", "UTC", "day_text", "iso", "iso_z", "ny_text", "to_ny", "today_ny", "utc"]


def utc(v: Any) -> pd.Timestamp | None:
    """A Timestamp, datetime, ISO string or epoch-ns integer (naive = UTC) → tz-aware UTC Timestamp.

    ``None``, ``NaN``, ``NaT`` and text that is not a time give ``None`` (never raises)."""
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if type(v) is pd.Timestamp and v.tzinfo is dt.timezone.utc:
        return v  # already a UTC Timestamp (the common case: chart code converts thousands)
    try:
        t = pd.Timestamp(v)
    except (TypeError, ValueError, OverflowError):
        return None
    if pd.isna(t):
        return None
    return t.tz_localize(UTC) if t.tzinfo is None else t.tz_convert(UTC)


def to_ny(v: Any) -> pd.Timestamp | None:
    """The instant ``v`` (naive = UTC) in New York wall-clock time; ``None`` when missing."""
    t = utc(v)
    return None if t is None else t.tz_convert(NY)


def ny_text(v: Any, fmt: str = "%Y-%m-%d %H:%M", missing: str = DASH) -> str:
    """New York wall-clock text of the instant ``v`` (naive = UTC); ``missing`` for None/NaT; text that is
    not a time is returned as it is."""
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return missing
    t = utc(v)
    if t is None:
        try:
            return missing if pd.isna(v) else str(v)
        except (TypeError, ValueError):
            return str(v)
    return t.tz_convert(NY).strftime(fmt)


def iso(v: Any) -> str | None:
    """ISO-8601 UTC text with offset (``2025-03-12T12:30:00+00:00``); ``None`` when missing."""
    t = utc(v)
    return None if t is None else t.isoformat()


def iso_z(v: Any) -> str:
    """Compact ISO UTC text with a ``Z`` (``2025-03-12T12:30:00Z``); ``""`` when missing."""
    t = utc(v)
    return "" if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def day_text(v: Any) -> str:
    """``YYYY-MM-DD`` of ``v`` as given (no zone conversion); ``DASH`` when missing."""
    import pandas as pd

    if v is None:
        return DASH
    try:
        t = pd.Timestamp(v)
    except (TypeError, ValueError):
        return DASH
    return DASH if pd.isna(t) else t.strftime("%Y-%m-%d")


def today_ny() -> dt.date:
    """Today's date in New York — what "this week", "last month" are relative to.

    ``ITA_TODAY`` (``YYYY-MM-DD``) fixes it, so an evaluation set or a test with relative periods gives the
    same dates on any day; a malformed value raises :class:`ValueError` naming it."""
    fixed = os.environ.get("ITA_TODAY", "").strip()
    if fixed:
        try:
            return dt.date.fromisoformat(fixed)
        except ValueError:
            raise ValueError(f"ITA_TODAY={fixed!r} is not a date (YYYY-MM-DD).") from None
    return dt.datetime.now(ZoneInfo(NY)).date()
