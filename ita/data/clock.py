"""A candle file's clock: naming it, converting it to UTC, and checking or inferring it from the market's weekly
rhythm.

**Naming a clock** (:func:`parse_clock`, what ``--server-tz`` accepts):

=========================  ===========================================================================
``Europe/Athens``          any IANA zone (DST by the tz database): most MT5 brokers, UTC+2 / UTC+3 on EU dates
``UTC``, ``GMT``           UTC
``UTC-5``, ``UTC+2``,      a fixed offset from UTC, all year (``GMT+2`` means UTC+2 here, as people say it)
``-05:00``, ``+0200``
``NY+7``                   New York time + 7 h (UTC+2 / UTC+3 on **US** DST dates): the "New York close"
                           server clock of many MT4/MT5 brokers, whose daily bar opens at 17:00 New York
``Etc/GMT+5``              the IANA name of a fixed zone with the POSIX sign: ``Etc/GMT+5`` **is UTC−5**
                           (hours west of Greenwich); the import says so
=========================  ===========================================================================

**The weekly rhythm.** FX and metals close for the week on Friday at 17:00 New York and FX reopens on
Sunday at 17:00 New York; metals pause daily from 17:00 to 18:00 New York. Every such close (the end of the
last bar before a weekend, or before a ~1 h daily pause) and every FX weekly open fixes the file clock's UTC
offset on that date to a whole hour. :func:`infer_clock` collects these events and picks the clock that
explains most of them; :func:`check_clock` says, with the evidence, when a given clock does not.

Example::

    >>> from ita.data.clock import parse_clock
    >>> parse_clock("UTC-5").describe()
    'UTC−5 (fixed, all year)'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ita.errors import DataError
from ita.times import NY

#: Minutes from Sunday 00:00 New York of the weekly close (Friday 17:00) and the FX weekly open (Sunday 17:00).
WEEKLY_CLOSE_MIN = 5 * 1440 + 17 * 60
WEEKLY_OPEN_MIN = 17 * 60
TOLERANCE_MIN = 20
#: Zones tried by :func:`infer_clock` besides every whole-hour fixed offset, in order of preference on a tie.
ZONES = ("Europe/Athens", "NY+7", "Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago",
         "Australia/Sydney")


def _sign(h: float) -> str:
    return "+" if h >= 0 else "−"


def _offset_text(minutes: int) -> str:
    h, m = divmod(abs(int(minutes)), 60)
    return f"UTC{_sign(minutes)}{h}" + (f":{m:02d}" if m else "") if minutes else "UTC"


@dataclass(frozen=True)
class Clock:
    """A file's clock. ``kind``: ``"fixed"`` (``minutes`` east of UTC, all year), ``"zone"`` (IANA ``zone``)
    or ``"ny_plus"`` (New York wall time + ``minutes``). ``name`` is how it was given or is shown."""

    name: str
    kind: str
    minutes: int = 0
    zone: str | None = None

    def describe(self) -> str:
        """``"UTC−5 (fixed, all year)"``, ``"Europe/Athens (UTC+2 winter / UTC+3 summer)"`` …"""
        if self.kind == "fixed":
            return "UTC" if self.minutes == 0 else f"{_offset_text(self.minutes)} (fixed, all year)"
        if self.kind == "ny_plus":
            h = self.minutes // 60
            return f"NY+{h} (New York time + {h} h: UTC{_sign(h - 5)}{abs(h - 5)} / UTC{_sign(h - 4)}{abs(h - 4)} on US DST dates)"
        jan, jul = (self.offset_minutes(pd.DatetimeIndex([pd.Timestamp(d, tz="UTC")]))[0] for d in ("2025-01-15", "2025-07-15"))
        if jan == jul:
            return f"{self.zone} ({_offset_text(int(jan))})"
        return f"{self.zone} ({_offset_text(int(jan))} winter / {_offset_text(int(jul))} summer)"

    def to_utc(self, naive: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Wall times on this clock → UTC, and a mask of times that do not exist or are ambiguous (a DST
        switch; those come back as NaT)."""
        naive = pd.DatetimeIndex(naive)
        if self.kind == "fixed":
            out = (naive - pd.Timedelta(minutes=self.minutes)).tz_localize("UTC")
            return out, np.zeros(len(out), dtype=bool)
        if self.kind == "ny_plus":
            local = (naive - pd.Timedelta(minutes=self.minutes)).tz_localize(NY, ambiguous="NaT", nonexistent="NaT")
        else:
            local = naive.tz_localize(ZoneInfo(self.zone), ambiguous="NaT", nonexistent="NaT")
        return local.tz_convert("UTC"), np.asarray(local.isna())

    def offset_minutes(self, utc: pd.DatetimeIndex) -> np.ndarray:
        """This clock's offset from UTC (minutes east) at each UTC instant."""
        utc = pd.DatetimeIndex(utc)
        if self.kind == "fixed":
            return np.full(len(utc), self.minutes, dtype="int64")
        zone = NY if self.kind == "ny_plus" else self.zone
        local = utc.tz_convert(zone).tz_localize(None)
        off = ((local - utc.tz_localize(None)) // pd.Timedelta(minutes=1)).to_numpy()
        return off + (self.minutes if self.kind == "ny_plus" else 0)


def fixed(minutes: int) -> Clock:
    """A fixed offset, named as typed on a keyboard: ``UTC-5``, ``UTC+5:30``, ``UTC``."""
    return Clock(_offset_text(minutes).replace("−", "-"), "fixed", int(minutes))


_FIXED = re.compile(r"^(?:UTC|GMT)?\s*([+\-−])\s*(\d{1,2})(?::?(\d{2}))?$", re.I)
_NY_PLUS = re.compile(r"^(?:NY|New[ _]?York|America/New_York)\s*([+\-−])\s*(\d{1,2})$", re.I)


def parse_clock(text: str) -> Clock:
    """A clock from what a trader types (table in the module doc). Raises :class:`DataError` with the
    accepted forms for anything else."""
    t = str(text).strip()
    if t.upper() in ("UTC", "GMT", "Z", "ETC/UTC", "ETC/GMT", "UTC+0", "UTC-0", "GMT+0"):
        return Clock("UTC", "fixed", 0)
    m = _FIXED.match(t)
    if m:
        sign = -1 if m.group(1) in "-−" else 1
        h, mi = int(m.group(2)), int(m.group(3) or 0)
        if h > 14 or mi >= 60:
            raise DataError(f"Clock {text!r}: a UTC offset lies between UTC−12 and UTC+14.")
        return fixed(sign * (h * 60 + mi))
    m = _NY_PLUS.match(t)
    if m:
        sign = -1 if m.group(1) in "-−" else 1
        return Clock(f"NY{'+' if sign > 0 else '-'}{int(m.group(2))}", "ny_plus", sign * int(m.group(2)) * 60)
    try:
        ZoneInfo(t)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DataError(
            f"Unknown clock {text!r}. Give an IANA zone (most MT5 brokers: 'Europe/Athens', UTC+2 winter / UTC+3 "
            "summer), a fixed offset ('UTC-5', 'UTC+2', '-05:00'), 'NY+7' (New York time + 7 h) or 'UTC'."
        ) from None
    return Clock(t, "zone", zone=t)


def etc_note(clock: Clock) -> str | None:
    """For an ``Etc/GMT±N`` zone, the sentence that explains its inverted sign; else None."""
    m = re.fullmatch(r"Etc/GMT([+-])(\d{1,2})", clock.zone or "")
    if not m:
        return None
    n = int(m.group(2))
    real = f"UTC{'−' if m.group(1) == '+' else '+'}{n}"
    other = f"UTC{'+' if m.group(1) == '+' else '-'}{n}"
    return (f"{clock.zone} means {real}: the IANA 'Etc/' zones count hours west of Greenwich (POSIX sign). "
            f"If you meant {other}, write --server-tz {other}.")


# ---- evidence from the weekly rhythm ------------------------------------------------------------------------

@dataclass
class Evidence:
    """Clock events found in a file: per event the UTC offset (minutes) the file's clock must have had then.
    ``kinds`` says which rhythm each came from (``"weekly close"``, ``"weekly open"``, ``"daily pause"``);
    ``off_grid`` counts events that fit no whole-hour offset (their New York minute in ``off_minutes``)."""

    when: list[pd.Timestamp] = field(default_factory=list)     # the event's UTC instant (under that offset)
    offsets: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    off_grid: int = 0
    off_minutes: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offsets)


def _minute_of_week(naive_ns: np.ndarray, offset_min: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    utc = pd.DatetimeIndex(naive_ns - offset_min * 60_000_000_000).tz_localize("UTC")
    ny = utc.tz_convert(NY)
    dow = (ny.day_of_week.to_numpy() + 1) % 7          # Sunday = 0
    return dow * 1440 + ny.hour.to_numpy() * 60 + ny.minute.to_numpy(), utc


def _match(naive: np.ndarray, target: int, kind: str, ev: Evidence) -> None:
    """Per event time (naive ns) the whole-hour offset under which it falls on ``target`` (minute of the NY
    week). An event at a whole hour that fits no offset is another day's close (a holiday): ignored; one far
    from a whole hour counts in ``off_grid``."""
    if not len(naive):
        return
    none = np.iinfo(np.int64).min
    found = np.full(len(naive), none, dtype="int64")
    when: list = [None] * len(naive)
    for h in range(-12, 15):
        mow, utc = _minute_of_week(naive, h * 60)
        d = np.abs(mow - target)
        hit = (np.minimum(d, 7 * 1440 - d) <= TOLERANCE_MIN) & (found == none)
        found[hit] = h * 60
        for k in np.flatnonzero(hit):
            when[k] = utc[k]
    for k in np.flatnonzero(found != none):
        ev.when.append(when[k])
        ev.offsets.append(int(found[k]))
        ev.kinds.append(kind)
    minute = (naive // 60_000_000_000) % 60
    far = (found == none) & (np.minimum(minute, 60 - minute) > TOLERANCE_MIN)
    ev.off_grid += int(far.sum())
    ev.off_minutes += [int(x) for x in minute[far]]


def collect_evidence(naive: pd.DatetimeIndex, step: pd.Timedelta, asset_class: str | None) -> Evidence:
    """The clock events of a file (bar **open** times on the file's clock, sorted) of bar size ``step``.

    Weekly closes (the end of the last bar before a pause of 40 h or more) for FX and metals; weekly opens (the
    first bar after it) for FX only (metals reopen at 18:00 New York); daily pauses of 40–80 min (metals) start
    at the 17:00 New York roll. Index CFDs close at their own exchange's hours (GER40 at 16:00 New York) and
    crypto trades through the weekend: no evidence for them (their clock is given or assumed, with a warning)."""
    ev = Evidence()
    if asset_class not in ("fx", "metal") or len(naive) < 2:
        return ev
    t = pd.DatetimeIndex(naive).as_unit("ns").asi8
    gap = np.diff(t)
    weekend = np.flatnonzero(gap >= pd.Timedelta(hours=40).value)
    close_ns = t[weekend] + step.value
    _match(close_ns, WEEKLY_CLOSE_MIN, "weekly close", ev)
    if asset_class == "fx":
        _match(t[weekend + 1], WEEKLY_OPEN_MIN, "weekly open", ev)
    if step <= pd.Timedelta(minutes=30) and asset_class == "metal":
        pause = np.flatnonzero((gap - step.value >= pd.Timedelta(minutes=40).value)
                               & (gap - step.value <= pd.Timedelta(minutes=80).value))
        daily = Evidence()
        _match_daily(t[pause] + step.value, daily)
        ev.when += daily.when
        ev.offsets += daily.offsets
        ev.kinds += daily.kinds
    return ev


def _match_daily(naive_ns: np.ndarray, ev: Evidence) -> None:
    """Pauses whose start falls on 17:00 New York on a weekday (any day Monday–Thursday)."""
    for h in range(-12, 15):
        mow, utc = _minute_of_week(naive_ns, h * 60)
        day, minute = mow // 1440, mow % 1440
        hit = (np.abs(minute - 17 * 60) <= TOLERANCE_MIN) & (day >= 1) & (day <= 4)
        for k in np.flatnonzero(hit):
            ev.when.append(utc[k])
            ev.offsets.append(h * 60)
            ev.kinds.append("daily pause")


@dataclass
class Inference:
    """What :func:`infer_clock` concluded: ``clock`` (None when the file cannot tell), ``fits`` the number of
    events it explains of ``events``, ``ties`` other clocks that explain exactly as many, ``text`` the
    evidence in one sentence."""

    clock: Clock | None
    fits: int
    events: int
    ties: list[str]
    text: str


def _candidates() -> list[Clock]:
    out = [parse_clock(z) for z in ZONES]
    return out + [fixed(h * 60) for h in range(-12, 15)]


def _score(clock: Clock, ev: Evidence) -> int:
    if not len(ev):
        return 0
    return int((clock.offset_minutes(pd.DatetimeIndex(ev.when)) == np.asarray(ev.offsets)).sum())


def _kinds(ev: Evidence, mask=None) -> str:
    """``"44 weekly closes and 44 weekly opens"``."""
    kinds = np.asarray(ev.kinds) if mask is None else np.asarray(ev.kinds)[mask]
    parts = [f"{int((kinds == k).sum())} {k}{'s' if (kinds == k).sum() != 1 else ''}"
             for k in ("weekly close", "weekly open", "daily pause") if (kinds == k).any()]
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


def _when(ev: Evidence) -> str:
    kinds = set(ev.kinds)
    parts = (["Friday 17:00"] if "weekly close" in kinds else []) + (["Sunday 17:00"] if "weekly open" in kinds else []) \
        + (["the daily 17:00 pause"] if "daily pause" in kinds else [])
    return " / ".join(parts) + " New York"


def infer_clock(ev: Evidence, prefer: str | None = None, min_events: int = 2) -> Inference:
    """The clock that explains the most events of ``ev`` (at least 80 % of them and ``min_events``).

    On a tie (a file without a DST switch fits Europe/Athens and UTC+2 alike) ``prefer`` (a clock name, the
    format's usual clock) wins if it is among the best, else a fixed offset when every event shows the same
    offset, else the first of :data:`ZONES`. Raises :class:`DataError` when the events fit no whole-hour
    offset at all (the file's clock is off by minutes — or the bar times are not bar opens)."""
    n = len(ev)
    if ev.off_grid >= min_events and ev.off_grid > n:
        minute = int(np.median(ev.off_minutes))
        raise DataError(
            f"The file's weekly closes fall at :{minute:02d} past the hour in every whole-hour time zone "
            f"({ev.off_grid} weekends): its clock cannot be a whole-hour offset from UTC. Check that the times "
            "are bar open times and the --timeframe is right, or give the clock with --server-tz (e.g. UTC+5:30)."
        )
    if n < min_events:
        return Inference(None, 0, n, [], f"{n} weekly close{'s' if n != 1 else ''} or pause{'s' if n != 1 else ''} "
                                         "in the file: too few to tell its clock")
    scored = [(c, _score(c, ev)) for c in _candidates()]
    best = max(s for _, s in scored)
    top = [c for c, s in scored if s == best]
    same = len(set(ev.offsets)) == 1
    pick = next((c for c in top if prefer and c.name == prefer), None)
    if pick is None:
        pick = next((c for c in top if c.kind == "fixed"), top[0]) if same else top[0]
    others = [c.name for c in top if c is not pick]
    if best < 0.8 * n:
        return Inference(None, best, n, others,
                         f"no single clock explains the file's {_kinds(ev)} (the best, {pick.name}, explains {best} "
                         f"of {n}): the file may mix clocks")
    text = (f"its {_kinds(ev)} fall on {_when(ev)} on that clock ({best} of {n})"
            + (f"; {', '.join(others[:3])} fit{'s' if len(others) == 1 else ''} as well (no DST switch in the file)"
               if others else ""))
    return Inference(pick, best, n, others, text)


def check_clock(clock: Clock, ev: Evidence, min_events: int = 2) -> str | None:
    """A warning with the evidence when ``clock`` explains fewer than half of the events (and at least
    ``min_events`` exist), naming the clock that fits; None when it fits or the file cannot tell."""
    n = len(ev)
    if n < min_events:
        return None
    ok = _score(clock, ev)
    if ok >= 0.5 * n:
        return None
    off = clock.offset_minutes(pd.DatetimeIndex(ev.when))
    shift = (np.asarray(ev.offsets) - off) / 60.0        # the file's clock minus the given one, hours
    med = float(np.median(shift))
    try:
        inf = infer_clock(ev)
    except DataError:
        inf = None
    fit = f" The data fit {inf.clock.describe()} ({inf.fits} of {inf.events})." if inf and inf.clock else ""
    cmd = (f" Import again with --server-tz {inf.clock.name} (with --replace if it is stored already)."
           if inf and inf.clock else "")
    closes = np.asarray(ev.kinds) == "weekly close"
    where = ""
    if closes.any():
        h = float(np.median((17 + shift[closes]) % 24))
        where = f" on it the weekly close falls at {int(h):02d}:{int(round(h % 1 * 60)):02d} New York, not 17:00."
    fits = "none" if ok == 0 else f"only {ok}"
    return (f"The file's clock does not look like {clock.describe()}:{where} Of the file's {_kinds(ev)}, {fits} "
            f"fit{'s' if ok == 1 else ''} it; the times look shifted by {med:+.0f} h.{fit}{cmd}")
