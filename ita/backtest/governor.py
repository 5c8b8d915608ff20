"""The risk governor: portfolio-wide limits over the trades of several setups and symbols (seed ``002_*`` §4.1
``risk/governor.py``: "applies global limits — max daily loss, max exposure — to the strategies' signals").

Rules (:class:`GovernorRules`; every limit optional, ``None`` = off):

* **max daily loss** in R (``max_daily_loss_r``) or in % of the account (``max_daily_loss_pct``): once the
  trades *closed* during the governor day have lost that much, the day stops — every later trade of that
  day is blocked ("the day stops after the limit"). A trade's loss counts on the day its exit became known.
* **max trades per day** across all setups and symbols (``max_trades_per_day``): fills counted per day;
  the day stops when the count is reached.
* **max concurrent open risk** in R (``max_open_risk_r``: each open trade risks 1 R) or in % of the account
  (``max_open_risk_pct``: each open trade risks its setup's ``risk_pct``): a trade is blocked when taking it
  would put more than the limit at risk at once; it does not stop the day.

The **governor day** runs from ``day_start`` (New York wall clock, default 17:00 — the FX day and the D1
candle roll) on the evening before to ``day_start`` on day D; with ``day_start="00:00"`` it is the New York
calendar date. See :func:`governor_day`.

**No look-ahead.** Trades are taken in the order their orders fill (``entry_time``: the open of the fill
bar). A trade is blocked only by what was known when its order would fill: the exits whose result was
known by then (``exit_known``: the close of the exit bar) and the fills before it. Cutting the trade list
at any time ``t`` (trades filling before ``t``) gives the same decisions for those trades (tested).

The same :class:`Governor` is the live loop's decision rule (``ita live start --max-daily-loss 3R``): there
a decision is made when a signal is known, before any fill, so pending alerted orders count as trades and
open risk (they may still fill).

Example::

    >>> import pandas as pd
    >>> from ita.backtest.governor import GovernorRules, govern
    >>> t = pd.Timestamp("2025-03-04 14:00", tz="UTC"); h = pd.Timedelta(hours=1)
    >>> trades = pd.DataFrame({"entry_time": [t, t + 2 * h, t + 4 * h, t + 6 * h],
    ...                        "exit_known": [t + h, t + 3 * h, t + 5 * h, t + 7 * h],
    ...                        "r": [-1.0, -1.0, 2.0, 2.0], "risk_pct": 1.0})
    >>> out = govern(trades, GovernorRules(max_daily_loss_r=2))
    >>> out["taken"].tolist()
    [True, True, False, False]
    >>> out["blocked_by"].iloc[2]
    'daily loss limit reached: -2.00R closed today (limit -2R)'
"""
from __future__ import annotations

import heapq
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.times import NY

DAILY_LOSS = "daily loss limit reached"
TRADES_PER_DAY = "max trades per day reached"
OPEN_RISK = "max open risk"


def _limit(text: Any, what: str, units: tuple[str, ...] = ("R", "%")) -> tuple[float, str]:
    """``"3R"`` / ``"2%"`` / ``3`` (R) → ``(3.0, "R")``. Raises :class:`ItaError` naming ``what``."""
    s = str(text).strip().upper().replace(" ", "")
    m = re.fullmatch(r"\+?(\d+(?:[.,]\d+)?)(R|%)?", s)
    if not m:
        raise ItaError(f"{what} {text!r}: give a positive number of R (e.g. 3R) or a % of the account (e.g. 2%).")
    value, unit = float(m.group(1).replace(",", ".")), (m.group(2) or "R")
    if unit not in units:
        raise ItaError(f"{what} {text!r}: give it in {' or '.join(units)}.")
    if not value > 0:
        raise ItaError(f"{what} {text!r}: must be more than 0.")
    return value, unit


def _hhmm(text: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ItaError(f"day_start {text!r}: give a New York time HH:MM, e.g. 17:00 (the FX day) or 00:00.")
    return int(m.group(1)) * 60 + int(m.group(2))


@dataclass(frozen=True)
class GovernorRules:
    """Portfolio-wide limits (``None`` = off). Units: R = one trade's planned risk; % = of the account.

    ``max_daily_loss_r`` / ``max_daily_loss_pct``: stop the day once the trades closed that day lost this
    much. ``max_open_risk_r`` / ``max_open_risk_pct``: at most this much at risk at once.
    ``max_trades_per_day``: at most this many fills per day across setups. ``day_start``: New York time the
    governor day starts (``"17:00"``: the FX day; ``"00:00"``: the calendar date).
    """

    max_daily_loss_r: float | None = None
    max_daily_loss_pct: float | None = None
    max_open_risk_r: float | None = None
    max_open_risk_pct: float | None = None
    max_trades_per_day: int | None = None
    day_start: str = "17:00"

    def __post_init__(self):
        for k in ("max_daily_loss_r", "max_daily_loss_pct", "max_open_risk_r", "max_open_risk_pct"):
            v = getattr(self, k)
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise ItaError(f"Governor {k} {v!r}: must be a number more than 0 (or off).")
        n = self.max_trades_per_day
        if n is not None and not (isinstance(n, (int, np.integer)) and n >= 1):
            raise ItaError(f"Governor max_trades_per_day {n!r}: must be a whole number ≥ 1 (or off).")
        _hhmm(self.day_start)

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return any(v is not None for k, v in asdict(self).items() if k != "day_start")

    @classmethod
    def from_mapping(cls, d: dict | None) -> "GovernorRules":
        """Rules from a mapping as a trader writes them: ``max_daily_loss`` ``"3R"`` / ``"2%"`` / 3 (R),
        ``max_open_risk`` the same, ``max_trades_per_day`` 3, ``day_start`` ``"17:00"``; the unit-explicit keys
        (``max_daily_loss_r`` …) are accepted too. Raises :class:`ItaError` naming an unknown key or bad value."""
        d = dict(d or {})
        out: dict[str, Any] = {}
        for key in ("max_daily_loss", "max_open_risk"):
            if d.get(key) not in (None, ""):
                v, unit = _limit(d.pop(key), key)
                out[f"{key}_{'r' if unit == 'R' else 'pct'}"] = v
            else:
                d.pop(key, None)
        known = {f.name for f in cls.__dataclass_fields__.values()}
        for k, v in d.items():
            if k not in known:
                from ita.errors import closest

                raise ItaError(f"Unknown governor rule {k!r}.{closest(k, sorted(known | {'max_daily_loss', 'max_open_risk'}))} "
                               "Rules: max_daily_loss (3R or 2%), max_open_risk (2R or 2%), max_trades_per_day, day_start.")
            if v in (None, ""):
                continue
            if k == "max_trades_per_day":
                try:
                    v = int(str(v))
                except ValueError:
                    raise ItaError(f"max_trades_per_day {v!r}: give a whole number, e.g. 3.") from None
            elif k != "day_start":
                v = _limit(v, k, ("R",) if k.endswith("_r") else ("%", "R"))[0]
            out[k] = v
        return cls(**out)

    def as_dict(self) -> dict:
        """The rules as JSON-able ``{name: value}`` (``None`` for limits that are off)."""
        return asdict(self)

    def describe(self) -> list[str]:
        """The active limits as short phrases, e.g. ``["max daily loss 3R", "max 2 trades per day"]``."""
        out = []
        if self.max_daily_loss_r is not None:
            out.append(f"max daily loss {self.max_daily_loss_r:g}R")
        if self.max_daily_loss_pct is not None:
            out.append(f"max daily loss {self.max_daily_loss_pct:g}%")
        if self.max_open_risk_r is not None:
            out.append(f"max open risk {self.max_open_risk_r:g}R")
        if self.max_open_risk_pct is not None:
            out.append(f"max open risk {self.max_open_risk_pct:g}%")
        if self.max_trades_per_day is not None:
            out.append(f"max {self.max_trades_per_day} trades per day")
        if out:
            out.append(f"day from {self.day_start} New York")
        return out

    @classmethod
    def describe_stored(cls, stored: dict | None) -> str:
        """The limits of a stored run (its :meth:`as_dict` as recorded) in words, ``"; "``-joined: ``"no governor
        limits"`` when none is on, ``"governor as stored"`` for a record these rules cannot read (another
        version's fields or values)."""
        try:
            return "; ".join(cls(**(stored or {})).describe()) or "no governor limits"
        except (TypeError, ItaError):
            return "governor as stored"


def governor_day(times, day_start: str = "17:00") -> pd.DatetimeIndex:
    """The governor day (naive midnight timestamps, New York dates) of UTC ``times``.

    With ``day_start`` ``"17:00"`` an instant at or after 17:00 New York belongs to the next date (Friday
    18:00 → Saturday, an empty weekend day); with ``"00:00"`` it is the New York calendar date.

    >>> governor_day(pd.DatetimeIndex(["2025-03-04 21:59", "2025-03-04 22:00"], tz="UTC")).strftime("%a").tolist()
    ['Tue', 'Wed']
    """
    idx = pd.DatetimeIndex(times)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    minutes = _hhmm(day_start)
    ny = idx.tz_convert(NY).tz_localize(None)
    shifted = ny - pd.Timedelta(minutes=minutes)
    day = shifted.normalize()
    return day + pd.Timedelta(days=1) if minutes else day


@dataclass
class DayState:
    """What the governor knows at a moment: the governor ``day``, the R and % of account lost or won by trades
    closed that day (``closed_r``, ``closed_pct``), fills that day (``trades``), and the open trades' risk
    (``open_r``: 1 R each; ``open_pct``: their setups' ``risk_pct``)."""

    day: pd.Timestamp | None = None
    closed_r: float = 0.0
    closed_pct: float = 0.0
    trades: int = 0
    open_r: float = 0.0
    open_pct: float = 0.0


def blocked_reason(rules: GovernorRules, state: DayState, risk_pct: float = 1.0) -> str | None:
    """Why a new trade risking ``risk_pct`` % must not be taken in ``state``, or ``None`` when it may.

    The one decision rule of the backtest (:class:`Governor`) and the live loop. Checked in order: the daily
    loss limit (in R, then %), the trades-per-day limit, the open-risk limit (in R, then %)."""
    eps = 1e-9
    if rules.max_daily_loss_r is not None and state.closed_r <= -rules.max_daily_loss_r + eps:
        return f"{DAILY_LOSS}: {state.closed_r:+.2f}R closed today (limit -{rules.max_daily_loss_r:g}R)"
    if rules.max_daily_loss_pct is not None and state.closed_pct <= -rules.max_daily_loss_pct + eps:
        return f"{DAILY_LOSS}: {state.closed_pct:+.2f}% closed today (limit -{rules.max_daily_loss_pct:g}%)"
    if rules.max_trades_per_day is not None and state.trades >= rules.max_trades_per_day:
        return f"{TRADES_PER_DAY}: {state.trades} today (limit {rules.max_trades_per_day})"
    if rules.max_open_risk_r is not None and state.open_r + 1.0 > rules.max_open_risk_r + eps:
        return f"{OPEN_RISK}: {state.open_r:g}R open + 1R > limit {rules.max_open_risk_r:g}R"
    if rules.max_open_risk_pct is not None and state.open_pct + risk_pct > rules.max_open_risk_pct + eps:
        return (f"{OPEN_RISK}: {state.open_pct:g}% open + {risk_pct:g}% > limit "
                f"{rules.max_open_risk_pct:g}%")
    return None


@dataclass
class Governor:
    """The governor as a state machine over time: :meth:`admit` a fill at time ``t`` (after every exit known
    by ``t`` was settled with :meth:`settle`); the day's counters reset when the governor day changes.

    Used by :func:`govern` over a backtest's trades in fill order (with the governor days computed at once)."""

    rules: GovernorRules
    state: DayState = field(default_factory=DayState)
    _open: list = field(default_factory=list)       # heap of (exit_known ns, seq, r, pct, exit day ns)
    _seq: int = 0
    _day_ns: int | None = None

    def _day(self, t) -> int:
        return int(governor_day(pd.DatetimeIndex([pd.Timestamp(t)]), self.rules.day_start)[0].value)

    def settle(self, t: pd.Timestamp) -> None:
        """Book every open trade whose exit was known by ``t`` (UTC) on the day it became known."""
        t_ns = int(t) if isinstance(t, (int, np.integer)) else pd.Timestamp(t).value
        while self._open and self._open[0][0] <= t_ns:
            _, _, r, pct, day = heapq.heappop(self._open)
            self.state.open_r -= 1.0
            self.state.open_pct -= pct
            self._roll(day)
            if day == self._day_ns:
                self.state.closed_r += r
                self.state.closed_pct += r * pct

    def _roll(self, day_ns: int) -> None:
        if self._day_ns is None or day_ns > self._day_ns:
            self._day_ns = day_ns
            self.state.day = pd.Timestamp(day_ns)
            self.state.closed_r = self.state.closed_pct = 0.0
            self.state.trades = 0

    def admit(self, t: pd.Timestamp, exit_known: pd.Timestamp, r: float, risk_pct: float = 1.0, *,
              day: int | None = None, exit_day: int | None = None) -> str | None:
        """Decide a fill at ``t`` of a trade whose result ``r`` becomes known at ``exit_known``: ``None`` when
        taken (it is then open until ``exit_known``), else the reason it is blocked. ``day`` / ``exit_day``: the
        governor days of ``t`` and ``exit_known`` (ns of the naive midnight) when already computed."""
        self.settle(t)
        self._roll(self._day(t) if day is None else int(day))
        why = blocked_reason(self.rules, self.state, risk_pct)
        if why is None:
            self.state.trades += 1
            self.state.open_r += 1.0
            self.state.open_pct += risk_pct
            self._seq += 1
            known = int(exit_known) if isinstance(exit_known, (int, np.integer)) else pd.Timestamp(exit_known).value
            heapq.heappush(self._open, (known, self._seq, float(r), float(risk_pct),
                                        self._day(exit_known) if exit_day is None else int(exit_day)))
        return why


def govern(trades: pd.DataFrame, rules: GovernorRules) -> pd.DataFrame:
    """Apply ``rules`` to ``trades`` of several setups/symbols; returns a copy in fill order with ``taken``
    (bool), ``blocked_by`` (the reason, ``""`` when taken) and ``gov_day`` (the governor day of the fill).

    ``trades`` needs ``entry_time`` (UTC, the open of the fill bar), ``exit_known`` (UTC, when the result was
    known: the close of the exit bar), ``r`` (R) and ``risk_pct`` (% of the account the trade risks); rows are
    processed by ``entry_time`` (ties keep the given order, so sort the input by a stable key first).
    Raises :class:`ItaError` when a column is missing.
    """
    need = ["entry_time", "exit_known", "r", "risk_pct"]
    missing = [c for c in need if c not in trades.columns]
    if missing:
        raise ItaError(f"govern: trades lack {', '.join(missing)}.")
    out = trades.sort_values("entry_time", kind="stable").reset_index(drop=True).copy()
    gov = Governor(rules)
    taken, why = [], []
    if rules.active and len(out):
        entry = pd.DatetimeIndex(out["entry_time"])
        known = pd.DatetimeIndex(out["exit_known"])
        days = governor_day(entry, rules.day_start).asi8
        exit_days = governor_day(known, rules.day_start).asi8
        for i, (t, k, r, p) in enumerate(zip(entry.asi8, known.asi8, out["r"].to_numpy(dtype="float64"),
                                             out["risk_pct"].to_numpy(dtype="float64"))):
            w = gov.admit(t, k, float(r), float(p), day=days[i], exit_day=exit_days[i])
            taken.append(w is None)
            why.append(w or "")
    else:
        taken, why = [True] * len(out), [""] * len(out)
    out["taken"] = np.array(taken, dtype=bool)
    out["blocked_by"] = why
    out["gov_day"] = governor_day(out["entry_time"], rules.day_start) if len(out) else pd.DatetimeIndex([])
    return out


def day_summary(governed: pd.DataFrame) -> pd.DataFrame:
    """Per governor day of :func:`govern`'s output: ``candidates``, ``taken``, ``blocked``, ``total_r`` (of the
    taken trades), ``blocked_r`` (what the blocked trades would have made) and ``stopped`` (the first reason
    that stopped the day: daily loss or trades per day; ``""`` otherwise). Index ``gov_day``."""
    cols = ["candidates", "taken", "blocked", "total_r", "blocked_r", "stopped"]
    if len(governed) == 0:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], name="gov_day"))
    g = governed.assign(r_taken=governed["r"].where(governed["taken"], 0.0),
                        r_blocked=governed["r"].where(~governed["taken"], 0.0),
                        stop=governed["blocked_by"].map(
                            lambda w: w.split(":")[0] if w.startswith((DAILY_LOSS, TRADES_PER_DAY)) else None))
    by = g.groupby("gov_day", sort=True)
    out = pd.DataFrame({"candidates": by.size(), "taken": by["taken"].sum().astype(int),
                        "total_r": by["r_taken"].sum(), "blocked_r": by["r_blocked"].sum(),
                        "stopped": by["stop"].first().fillna("")})
    out["blocked"] = out["candidates"] - out["taken"]
    return out[cols]
