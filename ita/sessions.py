"""Sessions and killzones: wall-clock windows in their own market's time zone, correct across DST.

A :class:`SessionWindow` is half-open ``[start, end)`` in local wall-clock time of ``timezone``. When
``end <= start`` the window wraps midnight and belongs to the **next** local date: Asia 20:00–00:00
New York of trading day D runs from D−1 20:00 to D 00:00. Conversions go through the IANA tz database,
never fixed UTC offsets, so the weeks when the US and Europe are on different DST (March, Oct/Nov) are
right.

Defaults (``ita/data/sessions.yaml``, all America/New_York unless noted): ``asia`` 20:00–00:00,
``london_killzone`` 02:00–05:00, ``new_york_killzone`` 07:00–10:00, ``silver_bullet_am`` 10:00–11:00, …

Example::

    >>> from ita.sessions import get_session
    >>> asia = get_session("asia")
    >>> [str(t) for t in asia.bounds("2025-03-10")]   # US on EDT, Europe still on winter time
    ['2025-03-10 00:00:00+00:00', '2025-03-10 04:00:00+00:00']
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, field_validator

from ita.config import load_yaml
from ita.errors import ItaError, closest
from ita.times import NY

if TYPE_CHECKING:  # numpy and pandas are imported where used: reading the windows needs neither
    import numpy as np
    import pandas as pd

SESSIONS_PATH = Path(__file__).parent / "data" / "sessions.yaml"


def parse_hhmm(value: str) -> int:
    """``"HH:MM"`` → minutes after midnight (0–1439). Raises :class:`ValueError` otherwise."""
    try:
        h, m = str(value).split(":")
        hh, mm = int(h), int(m)
    except ValueError:
        raise ValueError(f"expected a time of day 'HH:MM', got {value!r}") from None
    if not (0 <= hh <= 24 and 0 <= mm < 60) or (hh == 24 and mm):
        raise ValueError(f"time of day out of range: {value!r}")
    return (hh * 60 + mm) % 1440


class SessionWindow(BaseModel):
    """A named wall-clock window ``[start, end)`` in ``timezone`` (IANA)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    start: str
    end: str
    timezone: str = NY

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(v)
        return v

    @property
    def start_min(self) -> int:
        return parse_hhmm(self.start)

    @property
    def end_min(self) -> int:
        return parse_hhmm(self.end)

    @property
    def wraps(self) -> bool:
        """True when the window starts the evening before its day (``end <= start``)."""
        return self.end_min <= self.start_min

    def bounds(self, day) -> tuple[pd.Timestamp, pd.Timestamp]:
        """UTC ``(start, end)`` of this window for local trading ``day`` (a date or ``YYYY-MM-DD``)."""
        import pandas as pd

        d = pd.Timestamp(day).normalize().tz_localize(None)
        s = d + pd.Timedelta(minutes=self.start_min) - (pd.Timedelta(days=1) if self.wraps else pd.Timedelta(0))
        e = d + pd.Timedelta(minutes=self.end_min)
        loc = lambda x: x.tz_localize(self.timezone, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC")  # noqa: E731
        return loc(s), loc(e)

    def mask(self, index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """For bar open times ``index`` (UTC): ``(inside, day)``.

        ``inside`` is a bool array; ``day`` is the local trading date (``datetime64[D]``) each bar's window
        instance belongs to (meaningful where ``inside``).
        """
        import numpy as np

        date, minute = local_day_and_minute(index, self.timezone)
        s, e = self.start_min, self.end_min
        if self.wraps:
            inside = (minute >= s) | (minute < e)
            day = np.where(minute >= s, date + np.timedelta64(1, "D"), date)
        else:
            inside = (minute >= s) & (minute < e)
            day = date
        return inside, day


def local_day_and_minute(index: pd.DatetimeIndex, timezone: str = NY) -> tuple[np.ndarray, np.ndarray]:
    """Local calendar date (``datetime64[D]``) and minute-of-day for each UTC time in ``index``."""
    local = index.tz_convert(timezone).tz_localize(None)
    return local.normalize().to_numpy().astype("datetime64[D]"), (local.hour * 60 + local.minute).to_numpy()


def local_time_to_utc(days: np.ndarray, hhmm: str, timezone: str = NY) -> pd.DatetimeIndex:
    """UTC instants of wall-clock ``hhmm`` on each local date in ``days`` (``"24:00"`` = next midnight)."""
    import pandas as pd

    minutes = parse_hhmm(hhmm) if hhmm not in ("24:00",) else 1440
    naive = pd.DatetimeIndex(pd.to_datetime(days)) + pd.Timedelta(minutes=minutes)
    return naive.tz_localize(timezone, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC").as_unit("ns")


@lru_cache(maxsize=2)
def _defaults(path: str) -> dict[str, SessionWindow]:
    raw = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    return {k: SessionWindow(name=k, **v) for k, v in raw.items()}


def default_sessions() -> dict[str, SessionWindow]:
    """The named windows of ``ita/data/sessions.yaml``."""
    return dict(_defaults(str(SESSIONS_PATH)))


def get_session(name: str) -> SessionWindow:
    """A default window by name; raises :class:`~ita.errors.ItaError` naming close matches."""
    d = _defaults(str(SESSIONS_PATH))
    if name not in d:
        raise ItaError(f"Unknown session {name!r}.{closest(name, d)} Known: {', '.join(d)}.")
    return d[name]


def weekday_of(days: np.ndarray) -> np.ndarray:
    """Monday=0 … Sunday=6 for an array of ``datetime64[D]``."""
    return ((days.astype("int64") + 3) % 7).astype(int)


__all__ = ["SessionWindow", "default_sessions", "get_session", "local_day_and_minute", "local_time_to_utc",
           "parse_hhmm", "weekday_of"]
