"""The feature catalogue: every feature of the learning module, declared once, with its unit, window and
known-at rule, and computed only from what was known at the event's ``known_at``.

An **event** is a setup signal (from a backtest, a replay or the live loop) or a detector event (an FVG, a
sweep). Its features are computed on the M5 candles of its symbol at bar ``i`` — the last bar whose close is
at or before ``known_at`` (for a setup signal the bar that completed it, so ``close[i] == known_at``).

Known-at rules (the ``known_at`` field of every :class:`Feature`):

==============  ===========================================================================================
``signal``      a field of the event itself (direction, entry, stop, zone), which is final at ``known_at``
                (the evaluator and the detectors are prefix-invariant, ``tests/test_prefix_invariance.py``)
``bar``         bars ``≤ i`` only: indicators of M5 bars closed by ``known_at``, higher-timeframe bars
                (H1, H4, D1, the forex day rolling at 17:00 New York) only once **complete** by then, levels
                only from their ``confirmed_at``
``history``     earlier events of the same group whose outcome was known by ``known_at`` (a trade that
                exited, a label that resolved) on the ``HISTORY_DAYS`` trading days before the event's day
==============  ===========================================================================================

Every value depends on at most :data:`FEATURE_HISTORY` of candles before ``known_at``: computing on the
candles cut to ``[known_at − FEATURE_HISTORY, known_at]`` gives the same number as the whole history (this is
what the live loop does). :func:`check_known_at` recomputes sampled events on exactly that cut and raises
:class:`FeatureLeakError` when a value changes — a feature computed one bar late is caught there
(``tests/test_learn_features.py``).

Example::

    >>> from ita.learn.features import FEATURES, compute_features
    >>> FEATURES["atr_pct_20d"].unit                                           # doctest: +SKIP
    'fraction 0–1'
    >>> X = compute_features(m5, events, "EURUSD", history=hist)               # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Literal

import numpy as np
import pandas as pd

from ita.data.instruments import get_instrument
from ita.data.resample import complete_bars, resample
from ita.data.timeframes import tf_delta
from ita.detectors import atr, previous_period_levels, session_range, structure_breaks, swings
from ita.errors import ItaError
from ita.sessions import get_session
from ita.times import NY

FEATURE_HISTORY = pd.Timedelta(days=35)     # candles a feature may read before known_at
HISTORY_DAYS = 90                           # trading days of earlier outcomes the history features read
ATR_PCT_WINDOW = "20D"                      # the ATR percentile's window
KILLZONES = ("asia", "london_killzone", "new_york_killzone", "london_close")
SESSION_LABELS = (*KILLZONES, "other")
EVENT_COLUMNS = ("known_at", "direction", "price")   # required; optional: stop, rr, zone_pips, group, day
M5 = pd.Timedelta(minutes=5)

KnownAt = Literal["signal", "bar", "history"]


class FeatureLeakError(ItaError):
    """A feature's value at an event changes when the candles after its ``known_at`` are removed."""


@dataclass(frozen=True)
class Feature:
    """One feature: ``name``, ``unit`` (what the number means), ``window`` (how far back it reads),
    ``known_at`` (``signal`` | ``bar`` | ``history``, see the module doc), ``kind`` (``num`` or ``cat``: a label
    one-hot encoded by the model), ``doc`` (one or two sentences), ``fn`` (:class:`FeatureInput` → array)."""

    name: str
    unit: str
    window: str
    known_at: KnownAt
    kind: Literal["num", "cat"]
    doc: str
    fn: Callable[["FeatureInput"], np.ndarray]


#: The catalogue, in declaration order (the dataset's column order).
FEATURES: dict[str, Feature] = {}


def feature(name: str, unit: str, window: str, known_at: KnownAt = "bar", kind: Literal["num", "cat"] = "num"):
    """Declare a feature: the decorated function gets a :class:`FeatureInput` and returns one value per event;
    its docstring is the feature's description."""
    def deco(fn):
        FEATURES[name] = Feature(name, unit, window, known_at, kind, inspect.cleandoc(fn.__doc__ or name), fn)
        return fn
    return deco


def feature_hash(features: dict[str, Feature] | None = None) -> str:
    """SHA-256 (16 hex) of the feature set: names, units, windows, rules and the functions' source. A model
    stores it; a model trained on another feature set is refused."""
    h = hashlib.sha256()
    for f in (features or FEATURES).values():
        h.update(f"{f.name}|{f.unit}|{f.window}|{f.known_at}|{f.kind}\n".encode())
        try:
            h.update(inspect.getsource(f.fn).encode())
        except (OSError, TypeError):
            h.update(f.fn.__qualname__.encode())
    return h.hexdigest()[:16]


def asof(known_ns: np.ndarray, values: np.ndarray, query_ns: np.ndarray) -> np.ndarray:
    """``values`` of the last row whose known time (``known_ns``, ascending int64 ns) is ≤ each query time;
    NaN before the first."""
    idx = np.searchsorted(known_ns, query_ns, "right") - 1
    v = np.asarray(values, dtype="float64")
    out = np.full(len(query_ns), np.nan)
    ok = idx >= 0
    out[ok] = v[idx[ok]]
    return out


def _ns(values) -> np.ndarray:
    return pd.DatetimeIndex(values).as_unit("ns").asi8


#: The :class:`Bars` attributes derived only from complete higher-timeframe bars (H1, and H4 / D1 built from
#: them): the "higher-timeframe state" that :meth:`Bars.htf_state` computes and :meth:`Bars.adopt_htf` reuses.
HTF_KEYS = ("_htf_H1", "_htf_H4", "_htf_D1", "_st_H1", "_st_H4", "_lv_D", "_lv_W", "asia", "adr")


class Bars:
    """Causal per-bar quantities of one symbol's M5 candles, each computed on first use.

    ``at``: the bars the features will be read at (positions), when known and few — per-bar quantities that
    are costly over the whole frame (the ATR percentile) are then computed only at those bars (NaN elsewhere;
    the same numbers at those bars). None: everywhere."""

    def __init__(self, candles: pd.DataFrame, symbol: str, at: np.ndarray | None = None):
        self.c = candles
        self.at = None if at is None else np.asarray(at, dtype="int64")
        self.inst = get_instrument(symbol)
        self.pip = self.inst.pip_size
        self.n = len(candles)
        self.open_ns = candles.index.as_unit("ns").asi8
        self.close_ns = self.open_ns + M5.value
        self.last_close = candles.index[-1] + M5 if self.n else None
        self.close = candles["close"].to_numpy(dtype="float64")

    @cached_property
    def atr_m5(self) -> np.ndarray:
        return atr(self.c, 14).to_numpy() if self.n else np.zeros(0)

    @cached_property
    def atr_pct(self) -> np.ndarray:
        if self.at is not None:
            return self._atr_pct_at(self.at)
        s = pd.Series(self.atr_m5, index=pd.DatetimeIndex(self.close_ns, tz="UTC"))
        return s.rolling(ATR_PCT_WINDOW).rank(pct=True).to_numpy()

    def _atr_pct_at(self, pos: np.ndarray) -> np.ndarray:
        """pandas' ``rolling(ATR_PCT_WINDOW).rank(pct=True)`` (average rank of ties, NaN skipped, window
        ``(t − 20D, t]`` by close time) evaluated only at ``pos``, with pandas' own arithmetic — the same float."""
        a = self.atr_m5
        out = np.full(self.n, np.nan)
        width = pd.Timedelta(ATR_PCT_WINDOW).value
        for i in np.unique(pos[(pos >= 0) & (pos < self.n)]):
            x = a[i]
            if not np.isfinite(x):
                continue
            lo = int(np.searchsorted(self.close_ns, self.close_ns[i] - width, "right"))
            w = a[lo:i + 1]
            w = w[~np.isnan(w)]
            nobs = float(len(w))
            r = float(np.count_nonzero(w <= x))           # max rank
            m = float(np.count_nonzero(w < x)) + 1.0      # min rank
            out[i] = (((r * (r + 1) / 2) - ((m - 1) * m / 2)) / (r - m + 1)) / nobs
        return out

    def htf(self, tf: str) -> pd.DataFrame:
        """Complete ``tf`` bars (H4 and D1 built from the complete H1 bars: same buckets, fewer rows)."""
        key = f"_htf_{tf}"
        if key not in self.__dict__:
            if not self.n:
                self.__dict__[key] = self.c
            else:
                src = self.c if tf == "H1" else self.htf("H1")
                self.__dict__[key] = complete_bars(resample(src, tf), tf, self.last_close)
        return self.__dict__[key]

    @cached_property
    def adr(self) -> tuple[np.ndarray, np.ndarray]:
        """(known ns, value): the mean true range of the last 14 complete D1 bars, known at the D1 close."""
        d1 = self.htf("D1")
        if len(d1) < 2:
            return np.zeros(0, dtype="int64"), np.zeros(0)
        h, lo, c = (d1[k].to_numpy(dtype="float64") for k in ("high", "low", "close"))
        prev = np.r_[np.nan, c[:-1]]
        tr = np.nanmax(np.vstack([h - lo, np.abs(h - prev), np.abs(lo - prev)]), axis=0)
        mean = pd.Series(tr).rolling(14, min_periods=14).mean().to_numpy()
        return _ns(d1.index + tf_delta("D1")), mean

    def structure(self, tf: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(swings, structure breaks) on complete ``tf`` bars (left = right = 2, breaks by close)."""
        key = f"_st_{tf}"
        if key not in self.__dict__:
            bars = self.htf(tf)
            sw = swings(bars, 2, 2, timeframe=tf)
            self.__dict__[key] = (sw, structure_breaks(bars, sw, by="close", timeframe=tf))
        return self.__dict__[key]

    def levels(self, period: str) -> pd.DataFrame:
        """Previous day / week levels from the complete H1 bars (periods roll at 17:00 New York, on the hour)."""
        key = f"_lv_{period}"
        if key not in self.__dict__:
            self.__dict__[key] = previous_period_levels(self.htf("H1"), period, timeframe="H1")
        return self.__dict__[key]

    @cached_property
    def asia(self) -> pd.DataFrame:
        """The Asia ranges (20:00–00:00 New York, on the hour) from the complete H1 bars."""
        return session_range(self.htf("H1"), get_session("asia"), timeframe="H1")

    def htf_state(self) -> dict:
        """Every higher-timeframe quantity the features read (:data:`HTF_KEYS`), computed now: a function of the
        complete H1 bars of these candles only (and of nothing after ``last_close``)."""
        _ = self.adr, self.asia
        for tf in ("H1", "H4"):
            self.structure(tf)
        for period in ("D", "W"):
            self.levels(period)
        return {k: self.__dict__[k] for k in HTF_KEYS}

    def adopt_htf(self, state: dict) -> "Bars":
        """Use a :meth:`htf_state` (computed once, e.g. per completed H1 bar) instead of computing it from these
        candles. The caller vouches that it is the state of the same complete H1 bars."""
        self.__dict__.update({k: state[k] for k in HTF_KEYS})
        return self


class FeatureInput:
    """What a feature function reads: ``bars`` (:class:`Bars`), ``ev`` (the events), ``pos`` (each event's bar
    ``i``), ``q`` (each event's ``known_at`` in int64 ns), ``dir`` (±1), ``price``, ``history``."""

    def __init__(self, bars: Bars, events: pd.DataFrame, history: pd.DataFrame | None):
        self.bars, self.ev, self.history = bars, events, history
        self.q = _ns(events["known_at"])
        self.pos = np.searchsorted(bars.close_ns, self.q, "right") - 1
        self.dir = events["direction"].to_numpy(dtype="float64")
        self.price = events["price"].to_numpy(dtype="float64")

    def col(self, name: str) -> np.ndarray:
        """An optional numeric event column (NaN when absent)."""
        if name not in self.ev.columns:
            return np.full(len(self.ev), np.nan)
        return pd.to_numeric(self.ev[name], errors="coerce").to_numpy(dtype="float64")

    def at_bar(self, values: np.ndarray) -> np.ndarray:
        out = np.full(len(self.pos), np.nan)
        ok = self.pos >= 0
        out[ok] = np.asarray(values, dtype="float64")[self.pos[ok]]
        return out

    @cached_property
    def adr(self) -> np.ndarray:
        return asof(*self.bars.adr, self.q)

    @cached_property
    def local(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.ev["known_at"]).tz_convert(NY)


def _div(a, b) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(a, dtype="float64") / np.asarray(b, dtype="float64")
    return np.where(np.isfinite(out), out, np.nan)


# ---- the catalogue ------------------------------------------------------------------------------------

@feature("setup", "label", "—", known_at="signal", kind="cat")
def _setup(X: FeatureInput):
    """The setup id (or the detector kind for detector events): the event's group."""
    return X.ev["group"].astype(str).to_numpy() if "group" in X.ev else np.full(len(X.ev), "")


@feature("symbol", "label", "—", known_at="signal", kind="cat")
def _symbol(X: FeatureInput):
    """The instrument."""
    return np.full(len(X.ev), X.bars.inst.symbol, dtype=object)


@feature("direction", "+1 long / −1 short", "—", known_at="signal")
def _direction(X: FeatureInput):
    """The trade's direction (bullish detector events +1)."""
    return X.dir


@feature("session", "label", "bar i", kind="cat")
def _session(X: FeatureInput):
    """The killzone the completing bar opened in (New York): asia, london_killzone, new_york_killzone,
    london_close, or other."""
    t = pd.DatetimeIndex(X.bars.open_ns[np.maximum(X.pos, 0)], tz="UTC")
    out = np.full(len(t), "other", dtype=object)
    for name in reversed(KILLZONES):   # the first listed wins where windows overlap
        inside, _ = get_session(name).mask(t)
        out[inside] = name
    return out


@feature("weekday", "0 = Monday … 4 = Friday", "—", known_at="signal")
def _weekday(X: FeatureInput):
    """Weekday of ``known_at`` in New York."""
    return X.local.day_of_week.to_numpy(dtype="float64")


@feature("ny_hour", "hours after New York midnight", "—", known_at="signal")
def _ny_hour(X: FeatureInput):
    """Time of day of ``known_at`` in New York, in hours (04:15 → 4.25)."""
    return (X.local.hour + X.local.minute / 60.0).to_numpy(dtype="float64")


@feature("atr_m5_pips", "pips", "14 M5 bars (Wilder)")
def _atr_m5(X: FeatureInput):
    """ATR(14) of the M5 bars at bar i."""
    return X.at_bar(X.bars.atr_m5) / X.bars.pip


@feature("atr_pct_20d", "fraction 0–1", "20 days of M5 bars")
def _atr_pct(X: FeatureInput):
    """Percentile rank of the M5 ATR(14) at bar i among the M5 bars of the last 20 days (volatility regime:
    0.9 = busier than 90 % of the last 20 days)."""
    return X.at_bar(X.bars.atr_pct)


@feature("adr_pips", "pips", "14 complete D1 bars")
def _adr(X: FeatureInput):
    """Average daily range: mean true range of the last 14 complete trading days (D1 rolls 17:00 New York)."""
    return X.adr / X.bars.pip


@feature("asia_range_pips", "pips", "the last complete Asia session")
def _asia_pips(X: FeatureInput):
    """High − low of the last Asia session (20:00–00:00 New York) complete by ``known_at``."""
    a = X.bars.asia
    if len(a) == 0:
        return np.full(len(X.q), np.nan)
    return asof(_ns(a["confirmed_at"]), (a["high"] - a["low"]).to_numpy(), X.q) / X.bars.pip


@feature("asia_range_adr", "ADR units", "the last Asia session; 14 D1 bars")
def _asia_adr(X: FeatureInput):
    """The last complete Asia range divided by the average daily range."""
    return _div(_asia_pips(X) * X.bars.pip, X.adr)


@feature("zone_pips", "pips", "—", known_at="signal")
def _zone_pips(X: FeatureInput):
    """Height of the event's zone (the FVG / order block of the signal); NaN when it has none."""
    return X.col("zone_pips")


@feature("zone_atr", "M5 ATR units", "14 M5 bars", known_at="bar")
def _zone_atr(X: FeatureInput):
    """The zone height divided by the M5 ATR(14) at bar i."""
    return _div(X.col("zone_pips") * X.bars.pip, X.at_bar(X.bars.atr_m5))


@feature("stop_atr", "M5 ATR units", "14 M5 bars")
def _stop_atr(X: FeatureInput):
    """Distance entry → stop divided by the M5 ATR(14) at bar i."""
    return _div(np.abs(X.price - X.col("stop")), X.at_bar(X.bars.atr_m5))


@feature("rr", "R", "—", known_at="signal")
def _rr(X: FeatureInput):
    """Planned reward-to-risk of the order (target distance / stop distance)."""
    return X.col("rr")


@feature("mom_1h_atr", "M5 ATR units, + = with the trade", "12 M5 bars")
def _mom(X: FeatureInput):
    """Close of bar i minus the close 12 bars (one hour) earlier, in the trade's direction, over the ATR."""
    c = X.bars.close
    prev = np.full(len(c), np.nan)
    prev[12:] = c[:-12]
    return _div(X.dir * (X.at_bar(c) - X.at_bar(prev)), X.at_bar(X.bars.atr_m5))


def _trend(X: FeatureInput, tf: str) -> np.ndarray:
    _, br = X.bars.structure(tf)
    if len(br) == 0:
        return np.zeros(len(X.q))
    d = np.where(br["direction"].to_numpy() == "bullish", 1.0, -1.0)
    return np.nan_to_num(asof(_ns(br["confirmed_at"]), d, X.q)) * X.dir


@feature("h1_trend", "+1 with / −1 against / 0 none", "complete H1 bars (≈ 60)")
def _h1_trend(X: FeatureInput):
    """Direction of the last H1 BOS/CHoCH (swings 2/2, by close) known at ``known_at``, relative to the trade."""
    return _trend(X, "H1")


@feature("h4_trend", "+1 with / −1 against / 0 none", "complete H4 bars (≈ 60)")
def _h4_trend(X: FeatureInput):
    """Direction of the last H4 BOS/CHoCH known at ``known_at``, relative to the trade."""
    return _trend(X, "H4")


def _room(X: FeatureInput, known: np.ndarray, high: np.ndarray, low: np.ndarray, ahead: bool) -> np.ndarray:
    hi, lo = asof(known, high, X.q), asof(known, low, X.q)
    long_ = X.dir > 0
    level = np.where(long_ == ahead, hi, lo)
    return _div(np.where(long_, level - X.price, X.price - level) * (1 if ahead else -1), X.adr)


@feature("h1_swing_room_adr", "ADR units", "complete H1 bars")
def _h1_room(X: FeatureInput):
    """From the event's price to the last confirmed H1 swing in the trade's direction (swing high for a long),
    over the ADR; negative when price is already beyond it."""
    sw, _ = X.bars.structure("H1")
    if len(sw) == 0:
        return np.full(len(X.q), np.nan)
    out = np.full(len(X.q), np.nan)
    for kind, sign in (("high", 1.0), ("low", -1.0)):
        s = sw[sw["kind"] == kind]
        px = asof(_ns(s["confirmed_at"]), s["price"].to_numpy(), X.q)
        sel = X.dir == sign
        out[sel] = (sign * (px - X.price))[sel]
    return _div(out, X.adr)


def _level_room(X: FeatureInput, period: str, ahead: bool) -> np.ndarray:
    """:func:`_room` to the previous ``period``'s (``D``/``W``) high/low known at each event; NaN without levels."""
    lv = X.bars.levels(period)
    if len(lv) == 0:
        return np.full(len(X.q), np.nan)
    return _room(X, _ns(lv["confirmed_at"]), lv["high"].to_numpy(), lv["low"].to_numpy(), ahead=ahead)


@feature("pd_room_adr", "ADR units", "the previous trading day")
def _pd_room(X: FeatureInput):
    """From the event's price to the previous day's extreme in the trade's direction (PDH for a long), over
    the ADR; negative beyond it."""
    return _level_room(X, "D", ahead=True)


@feature("pd_back_adr", "ADR units", "the previous trading day")
def _pd_back(X: FeatureInput):
    """From the event's price back to the previous day's opposite extreme (PDL for a long), over the ADR."""
    return _level_room(X, "D", ahead=False)


@feature("pw_room_adr", "ADR units", "the previous trading week")
def _pw_room(X: FeatureInput):
    """From the event's price to the previous week's extreme in the trade's direction, over the ADR."""
    return _level_room(X, "W", ahead=True)


@feature("spread_pips", "pips", "bar i")
def _spread(X: FeatureInput):
    """The candles' own spread at bar i (MT5 points → pips); NaN when the data has none."""
    if "spread" not in X.bars.c:
        return np.full(len(X.q), np.nan)
    return X.at_bar(X.bars.c["spread"].to_numpy(dtype="float64")) * X.bars.inst.point / X.bars.pip


@feature("signals_today", "count", "the event's trading day", known_at="signal")
def _signals_today(X: FeatureInput):
    """Earlier events of the same group and symbol on the same trading day (known strictly before)."""
    ev = X.ev
    if "day" not in ev:
        return np.zeros(len(ev))
    key = ev.get("group", pd.Series("", index=ev.index)).astype(str) + "|" + pd.to_datetime(ev["day"]).astype(str)
    order = np.lexsort((X.q, key.to_numpy()))
    k, q = key.to_numpy()[order], X.q[order]
    out = np.zeros(len(ev))
    start = 0
    for j in range(1, len(k) + 1):
        if j == len(k) or k[j] != k[start]:
            grp_q = q[start:j]
            out[order[start:j]] = np.searchsorted(grp_q, grp_q, "left")   # strictly earlier
            start = j
    return out


def _history(X: FeatureInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: (outcomes known, wins, signed streak) over the group's earlier outcomes on the
    ``HISTORY_DAYS`` days before its day, closed by ``known_at`` (computed once per input, read by three
    features)."""
    got = X.__dict__.get("_history")
    if got is None:
        got = X.__dict__["_history"] = _history_of(X)
    return tuple(a.copy() for a in got)


def _history_of(X: FeatureInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(X.ev)
    cnt, wins, streak = np.zeros(n), np.zeros(n), np.zeros(n)
    h = X.history
    if h is None or len(h) == 0 or "day" not in X.ev:
        return cnt, wins, streak
    group = X.ev["group"].astype(str).to_numpy() if "group" in X.ev else np.full(n, "")
    days = pd.to_datetime(X.ev["day"]).to_numpy().astype("datetime64[D]")
    for g in np.unique(group):
        hg = h[h["group"].astype(str) == g].sort_values("closed_at", kind="stable")
        if hg.empty:
            continue
        hday = pd.to_datetime(hg["day"]).to_numpy().astype("datetime64[D]")
        hclose = _ns(hg["closed_at"])
        hwin = hg["win"].to_numpy(dtype=bool)
        for k in np.flatnonzero(group == g):
            d = days[k]
            sel = (hday < d) & (hday >= d - np.timedelta64(HISTORY_DAYS, "D")) & (hclose <= X.q[k])
            w = hwin[sel]
            cnt[k], wins[k] = len(w), w.sum()
            if len(w):
                last = w[-1]
                run = np.flatnonzero(w != last)
                length = len(w) - (run[-1] + 1 if len(run) else 0)
                streak[k] = length if last else -length
    return cnt, wins, streak


@feature("hist_n_90d", "count", f"{HISTORY_DAYS} trading days before the event's day", known_at="history")
def _hist_n(X: FeatureInput):
    """Earlier outcomes of the same group (the setup's trades; a detector's labelled events) that were
    known by ``known_at``."""
    return _history(X)[0]


@feature("hist_winrate_90d", "fraction 0–1 (Laplace)", f"{HISTORY_DAYS} trading days before the event's day",
         known_at="history")
def _hist_wr(X: FeatureInput):
    """(wins + 1) / (n + 2) over those earlier outcomes — the live score's own rule, at this moment."""
    n, w, _ = _history(X)
    return (w + 1) / (n + 2)


@feature("hist_streak", "+k = k wins in a row, −k = k losses", f"{HISTORY_DAYS} trading days before",
         known_at="history")
def _hist_streak(X: FeatureInput):
    """The current streak of the group's earlier outcomes known by ``known_at``."""
    return _history(X)[2]


# ---- computing -----------------------------------------------------------------------------------------

def numeric_features(features: dict[str, Feature] | None = None) -> list[str]:
    return [f.name for f in (features or FEATURES).values() if f.kind == "num"]


def categorical_features(features: dict[str, Feature] | None = None) -> list[str]:
    return [f.name for f in (features or FEATURES).values() if f.kind == "cat"]


def _check_events(events: pd.DataFrame) -> None:
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise ItaError(f"events need the columns {', '.join(EVENT_COLUMNS)}; missing {', '.join(missing)}.")


def compute_features(candles: pd.DataFrame, events: pd.DataFrame, symbol: str, *,
                     history: pd.DataFrame | None = None, features: dict[str, Feature] | None = None,
                     bars: Bars | None = None) -> pd.DataFrame:
    """The feature vector of every event.

    ``candles``: the symbol's canonical M5 frame (UTC index of bar opens) covering at least
    :data:`FEATURE_HISTORY` before the first event. ``events``: one row per event with ``known_at`` (UTC),
    ``direction`` (+1 / −1), ``price`` (entry price, or the close of the event's bar), optionally ``stop``
    (price), ``rr``, ``zone_pips``, ``group`` (setup id or detector kind) and ``day`` (the New York trading
    day). ``history``: earlier outcomes for the history features — ``group``, ``day``, ``closed_at`` (UTC,
    when the outcome was known), ``win`` (bool).

    Returns a DataFrame aligned to ``events.index`` with one column per feature of the catalogue (numbers as
    float64, labels as str). Raises :class:`~ita.errors.ItaError` for missing event columns or an unknown
    symbol.
    """
    _check_events(events)
    feats = features or FEATURES
    X = FeatureInput(bars or Bars(candles, symbol), events.reset_index(drop=True), history)
    cols = {}
    for f in feats.values():
        v = f.fn(X)
        cols[f.name] = np.asarray(v, dtype=object if f.kind == "cat" else "float64")
    return pd.DataFrame(cols, index=events.index)


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    a, b = float(a), float(b)
    return (np.isnan(a) and np.isnan(b)) or bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))


def check_known_at(candles: pd.DataFrame, events: pd.DataFrame, symbol: str, *, history: pd.DataFrame | None = None,
                   features: dict[str, Feature] | None = None, sample: int = 8, seed: int = 0,
                   full: pd.DataFrame | None = None) -> int:
    """The features' known-at check: recompute ``sample`` events (drawn with ``seed``; all when fewer) on the
    candles cut to ``[known_at − FEATURE_HISTORY, known_at]`` and on the history cut to outcomes closed by
    ``known_at``, and compare with ``full`` (the whole-history values; computed here when not given).

    Returns the number of events checked. Raises :class:`FeatureLeakError` naming the feature, the event time
    and both values when any differs — a feature that reads a bar after ``known_at`` (or further back than
    ``FEATURE_HISTORY``) is caught here.
    """
    feats = features or FEATURES
    ev = events.reset_index(drop=True)
    if full is None:
        full = compute_features(candles, ev, symbol, history=history, features=feats)
    else:
        full = full.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    picks = np.arange(len(ev)) if len(ev) <= sample else np.sort(rng.choice(len(ev), sample, replace=False))
    close = candles.index + M5
    for k in picks:
        t = pd.Timestamp(ev.loc[k, "known_at"])
        cut = candles[(close <= t) & (close > t - FEATURE_HISTORY)]
        h = None
        if history is not None and len(history):
            h = history[pd.DatetimeIndex(history["closed_at"]) <= t]
        one = ev.iloc[[k]]
        if "day" in ev and "group" in ev:   # the same day's earlier events stay (signals_today reads them)
            same = ev[(ev["day"] == ev.loc[k, "day"]) & (ev["group"] == ev.loc[k, "group"])
                      & (pd.DatetimeIndex(ev["known_at"]) < t)]
            one = pd.concat([same, one])
        got = compute_features(cut, one, symbol, history=h, features=feats).iloc[-1]
        for name in feats:
            if not _same(full.loc[k, name], got[name]):
                raise FeatureLeakError(
                    f"feature {name!r} fails its known-at check: at the event known {t:%Y-%m-%d %H:%M} UTC it is "
                    f"{full.loc[k, name]!r} on the whole history but {got[name]!r} on the candles closed by then "
                    f"(last {FEATURE_HISTORY.days} days); it reads data after known_at or further back than its window.")
    return len(picks)


def describe() -> pd.DataFrame:
    """The catalogue as a table: ``name``, ``unit``, ``window``, ``known_at``, ``kind``, ``doc``."""
    return pd.DataFrame([{"name": f.name, "unit": f.unit, "window": f.window, "known_at": f.known_at,
                          "kind": f.kind, "doc": f.doc.replace("\n", " ")} for f in FEATURES.values()])
