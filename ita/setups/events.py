"""What each sequence step can see: detector outputs turned into step events on the execution bars.

Every detector of a setup runs once (on the execution candles, or on complete higher-timeframe bars
resampled from them). Each output row gets ``known_bar``: the position of the first execution bar whose
**close** is at or after the row's ``confirmed_at`` — the bar at whose close the row may be used. A
higher-timeframe row is therefore visible only once its HTF bar has closed (e.g. an H1 swing confirmed at
10:00 UTC is usable at the close of the 09:55 M5 bar, never earlier).

A step's events (:class:`StepEvents`) are sorted by ``bar`` (the execution bar at whose close the event is
known) with ``dir`` (+1 long bias / −1 short bias) and a payload row for the evidence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ita.data.instruments import Instrument
from ita.data.resample import complete_bars, resample
from ita.data.timeframes import tf_delta
from ita.detectors import (atr, equal_levels, fvg, initial_balance, inverse_fvg, order_blocks, previous_period_levels,
                           range_crossings, session_range, structure_breaks, sweeps, swings)
from ita.sessions import local_time_to_utc
from ita.setups.schema import (ATRDetector, BreakStep, EqualLevelsDetector, FVGDetector, InitialBalanceDetector,
                               OrderBlockDetector, PreviousLevelsDetector, SessionRangeDetector, Setup,
                               StructureDetector, SweepStep, SwingsDetector)

_BULL = {"bullish": 1, "long": 1, "bearish": -1, "short": -1}


@dataclass
class StepEvents:
    """Events of one step: ``bar`` (int64, ascending: the bar at whose close the event is known), ``dir`` (int8,
    ±1), ``rows`` (payload, aligned), ``at`` (int64, aligned, or None = ``bar``): the bar whose time the step's
    ``window``/``session``/``until`` and trading day read — for a sweep the piercing bar ("between 02:00 and
    11:00 a wick trades beyond the level"), its close back inside may come up to ``reclaim_bars`` later."""

    bar: np.ndarray
    dir: np.ndarray
    rows: pd.DataFrame
    at: np.ndarray | None = None

    @property
    def when(self) -> np.ndarray:
        """The bars the time filters read (``at``, else ``bar``)."""
        return self.bar if self.at is None else self.at

    def row(self, j: int) -> dict:
        """Payload row ``j`` as a dict of scalars (Timestamps stay tz-aware) — much cheaper than ``iloc``."""
        cols = self.__dict__.get("_cols")
        if cols is None:
            cols = self.__dict__["_cols"] = {c: self.rows[c].array for c in self.rows.columns}
        return {c: a[j] for c, a in cols.items()}

    @classmethod
    def of(cls, rows: pd.DataFrame, bar: np.ndarray, direction: np.ndarray, at: np.ndarray | None = None) -> "StepEvents":
        order = np.argsort(bar, kind="stable")
        return cls(np.asarray(bar, dtype="int64")[order], np.asarray(direction, dtype="int8")[order],
                   rows.iloc[order].reset_index(drop=True),
                   None if at is None else np.asarray(at, dtype="int64")[order])


class _Outputs(dict):
    """Detector outputs by name, each computed on first use (then kept)."""

    def __init__(self, compute):
        super().__init__()
        self._compute = compute

    def __missing__(self, name: str) -> pd.DataFrame:
        out = self[name] = self._compute(name)
        return out


class Context:
    """Execution bars plus every declared detector's output (each computed once, on first use, with
    ``known_bar``). ``outputs`` is a dict by detector name; :meth:`all_outputs` computes every one."""

    def __init__(self, setup: Setup, candles: pd.DataFrame, instrument: Instrument):
        self.setup = setup
        self.candles = candles
        self.inst = instrument
        self.pip = instrument.pip_size
        self.step = tf_delta(setup.timeframe)
        self.t = candles.index.as_unit("ns")
        self.close_ns = self.t.asi8 + self.step.value
        self.n = len(candles)
        self.high = candles["high"].to_numpy(dtype="float64")
        self.low = candles["low"].to_numpy(dtype="float64")
        self.close = candles["close"].to_numpy(dtype="float64")
        self.outputs: dict[str, pd.DataFrame] = _Outputs(lambda name: self._run(setup.detectors[name]))
        #: build each signal's step evidence and chart drawings (``meta``); research sweeps that only need
        #: the orders set it False (prices, times and trades are the same either way)
        self.evidence = True

    def all_outputs(self) -> dict[str, pd.DataFrame]:
        """Every declared detector's output, in declaration order."""
        return {name: self.outputs[name] for name in self.setup.detectors}

    # ---- detectors --------------------------------------------------------------------------------------
    def frame(self, timeframe: str | None) -> tuple[pd.DataFrame, str]:
        """The candles a detector reads: the execution frame, or complete bars of a higher timeframe."""
        tf = timeframe or self.setup.timeframe
        if tf == self.setup.timeframe or self.n == 0:
            return self.candles, tf
        key = f"_htf_{tf}"
        if key not in self.__dict__:
            last_close = pd.Timestamp(int(self.close_ns[-1]), tz="UTC")
            self.__dict__[key] = complete_bars(resample(self.candles, tf), tf, last_close)
        return self.__dict__[key], tf

    def known_bar(self, confirmed_at) -> np.ndarray:
        """First execution bar whose close is at or after ``confirmed_at`` (``n`` when none yet)."""
        ns = pd.DatetimeIndex(confirmed_at).as_unit("ns").asi8
        return np.searchsorted(self.close_ns, ns, "left").astype("int64")

    def _run(self, det) -> pd.DataFrame:
        s = self.setup
        c, tf = self.frame(getattr(det, "timeframe", None))
        if isinstance(det, SessionRangeDetector):
            out = session_range(c, s.session(det.session), weekdays=s.weekdays, timeframe=tf)
        elif isinstance(det, InitialBalanceDetector):
            kw = {"session": s.session(det.session)} if det.session else {}
            out = initial_balance(c, weekdays=s.weekdays, timeframe=tf, **kw)
        elif isinstance(det, FVGDetector) and det.inverse:
            out = inverse_fvg(c, self.pip, det.min_gap_pips, by=det.inverse_by, timeframe=tf)
        elif isinstance(det, FVGDetector):
            out = fvg(c, self.pip, det.min_gap_pips, det.mitigation, timeframe=tf)
        elif isinstance(det, SwingsDetector):
            out = swings(c, det.left, det.right, timeframe=tf)
        elif isinstance(det, StructureDetector):
            out = structure_breaks(c, swings(c, det.left, det.right, timeframe=tf), by=det.by, timeframe=tf)
        elif isinstance(det, OrderBlockDetector):
            brk = structure_breaks(c, swings(c, det.left, det.right, timeframe=tf), by=det.by, timeframe=tf)
            out = order_blocks(c, brk, zone=det.zone, timeframe=tf)
        elif isinstance(det, PreviousLevelsDetector):
            out = previous_period_levels(c, det.period, timeframe=tf)
        elif isinstance(det, EqualLevelsDetector):
            out = equal_levels(c, tolerance_pips=det.tolerance_pips, tolerance_atr=det.tolerance_atr,
                               pip_size=self.pip, left=det.left, right=det.right, lookback=det.lookback, timeframe=tf)
        elif isinstance(det, ATRDetector):
            vals = atr(c, det.period).to_numpy(dtype="float64")
            out = pd.DataFrame({"atr": vals, "confirmed_at": c.index.as_unit("ns") + tf_delta(tf)})
        else:  # pragma: no cover - the schema admits nothing else
            raise TypeError(f"unsupported detector {det!r}")
        out = out.reset_index(drop=True)
        out["known_bar"] = self.known_bar(out["confirmed_at"]) if len(out) else np.zeros(0, dtype="int64")
        return out

    def row_of_day(self, name: str, day) -> dict | None:
        """The row of a per-day detector (session range, initial balance) for trading day ``day``."""
        key = f"_byday_{name}"
        if key not in self.__dict__:
            out = self.outputs[name]
            days = out["day"].to_numpy().astype("datetime64[D]")
            self.__dict__[key] = (dict(zip(days.tolist(), range(len(out)))),
                                  {c: out[c].array for c in out.columns})
        index, cols = self.__dict__[key]
        k = index.get(np.datetime64(day, "D").tolist())
        return None if k is None else {c: a[k] for c, a in cols.items()}

    def latest(self, name: str, bar: int) -> pd.Series | None:
        """The last row of detector ``name`` known at the close of execution bar ``bar``, or ``None``."""
        out = self.outputs[name]
        kb = out["known_bar"].to_numpy()
        if len(out) and (np.diff(kb) < 0).any():  # equal_levels rows are ordered by confirmation already
            out = out.sort_values("known_bar", kind="stable").reset_index(drop=True)
            self.outputs[name] = out
            kb = out["known_bar"].to_numpy()
        j = int(np.searchsorted(kb, bar, "right")) - 1
        return None if j < 0 else out.iloc[j]

    # ---- step events ------------------------------------------------------------------------------------
    def events(self, st) -> StepEvents:
        """The candidate events of a (non-``trend``) step, before its time and direction filters."""
        if isinstance(st, BreakStep):
            return self._breaks(st)
        if isinstance(st, SweepStep):
            return self._sweeps(st)
        out = self.outputs[getattr(st, "detector")]
        ok = out["known_bar"].to_numpy() < self.n
        rows = out[ok]
        if st.step == "structure" and st.kind != "any":
            rows = rows[rows["kind"].to_numpy() == st.kind]
        return StepEvents.of(rows, rows["known_bar"].to_numpy(),
                             rows["direction"].map(_BULL).to_numpy(dtype="int8"))

    def _breaks(self, st: BreakStep) -> StepEvents:
        """Every bar of day D that closes (``by="wick"``: trades) beyond D's range, opening at/after the
        range is known (:func:`ita.detectors.range_crossings`; the first of them is ``range_break``'s)."""
        c, tf = self.frame(None)
        rows = range_crossings(c, self.outputs[st.range], self.setup.step_window(st), by=st.by, timeframe=tf,
                               timezone=self.setup.timezone)
        return StepEvents.of(rows, rows["bar"].to_numpy(dtype="int64"),
                             np.where(rows["direction"].to_numpy() == "long", 1, -1))

    def _sweeps(self, st: SweepStep) -> StepEvents:
        levels = self.level_rows(st.of)
        if st.side != "any":
            levels = levels[levels["side"].to_numpy() == st.side].reset_index(drop=True)
        c, tf = self.frame(None)
        sw = sweeps(c, levels, level_col="level", name=st.of, max_bars=st.reclaim_bars, until_col="until",
                    pip_size=self.pip, min_pierce_pips=st.min_pierce_pips, timeframe=tf)
        sw = sw.assign(side=np.where(sw["direction"].to_numpy() == "buy_side", "high", "low"))
        return StepEvents.of(sw, sw["reclaim_bar"].to_numpy(), np.where(sw["side"].to_numpy() == "high", -1, 1),
                             at=sw["bar"].to_numpy())

    def level_rows(self, name: str) -> pd.DataFrame:
        """Detector ``name`` as price levels: ``level``, ``side`` (high/low), ``confirmed_at``, ``until``
        (UTC; a level can be swept only before it — the end of day D for ranges, the end of the next
        period for previous-period levels, never for equal highs/lows)."""
        det = self.setup.detectors[name]
        out = self.outputs[name]
        far = pd.Timestamp("2262-01-01", tz="UTC")
        if isinstance(det, EqualLevelsDetector):
            return out.assign(until=far)[["level", "side", "confirmed_at", "until"]]
        if isinstance(det, PreviousLevelsDetector):
            until = out["confirmed_at"].shift(-1).fillna(far)
        else:  # session range / initial balance: until the end of its day D
            days = out["day"].to_numpy().astype("datetime64[D]") + np.timedelta64(1, "D")
            until = pd.Series(local_time_to_utc(days, "00:00", self.setup.timezone), index=out.index)
        parts = [pd.DataFrame({"level": out[side].to_numpy(), "side": side, "confirmed_at": out["confirmed_at"],
                               "until": until, "row": out.index}) for side in ("high", "low")]
        lv = pd.concat(parts, ignore_index=True)
        return lv.sort_values(["confirmed_at", "row"], kind="stable").reset_index(drop=True)

    def window_mask(self, win) -> tuple[np.ndarray, np.ndarray]:
        """``win.mask`` (:meth:`ita.sessions.SessionWindow.mask`) of the execution bars: ``(inside, day)``."""
        return win.mask(self.t)

    @property
    def local_day(self) -> np.ndarray:
        if "_local" not in self.__dict__:
            from ita.sessions import local_day_and_minute

            self.__dict__["_local"] = local_day_and_minute(self.t, self.setup.timezone)
        return self.__dict__["_local"][0]

    @property
    def local_minute(self) -> np.ndarray:
        self.local_day  # noqa: B018 - fills the cache
        return self.__dict__["_local"][1]
