"""Setup evaluation: run only the detectors a setup declares, walk its sequence, emit signals.

Signals follow the seed's signal schema (``signal_id, symbol, tf, direction, entry_price, sl_price,
tp_price, rule_id, rule_version, meta``) plus the order's timing, so the backtester and the live loop
consume the same rows.

How a sequence is walked (the semantics every setup file relies on):

1. The **first step**'s events (e.g. every bar closing beyond the Asia range inside 00:00–05:00) are taken
   in time order. An event belongs to trading day D (the local date of its window, or of its bar); days
   outside ``days`` are ignored. The event's direction sets the **bias** (long/short).
2. Each **later step** takes the *first* event of its kind strictly after the previous step's bar
   (``from_bar: same`` also accepts that bar itself, e.g. an FVG completed by the CHoCH candle), on the
   same day D, passing its time filters (``window``/``session``, ``until``, ``within_bars`` counted in
   execution bars) and its ``direction`` relative to the bias. A ``trend`` step is a filter on the last
   structure break known at that moment and does not move the clock.
3. When a step finds nothing, ``after_failed_sequence: skip_day`` (default) gives up day D;
   ``retry`` starts again from the next event of the first step.
4. When all steps are found, the order is built at the close of the last event's bar (entry, stop,
   target from the setup's rules). After a signal, the search continues after its bar until
   ``management.max_trades_per_day`` signals were emitted on D.

Every event is used only from the close of the bar at which it became known (no look-ahead).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ita.data.instruments import get_instrument
from ita.data.timeframes import tf_delta
from ita.sessions import local_time_to_utc, parse_hhmm
from ita.setups.events import Context, StepEvents
from ita.setups.loader import LoadedSetup
from ita.setups.schema import (ATRDetector, BreakStep, EqualLevelsDetector, OrderBlockDetector, PreviousLevelsDetector,
                               Setup, StructureDetector, SweepStep, SwingsDetector, TrendStep)

SIGNAL_COLUMNS = [
    "signal_id", "symbol", "tf", "direction", "entry_type", "entry_price", "sl_price", "tp_price",
    "rule_id", "rule_version", "setup_hash", "day", "time", "known_at", "active_from", "expires_at",
    "exit_by", "max_bars", "meta",
]
EXPLAIN_COLUMNS = ["day", "signal_id", "direction", "passed", "failed_step", "reason", "time"]
_SIDE = {1: "long", -1: "short"}


MIN_WARMUP = pd.Timedelta(days=10)


def warmup(setup: Setup) -> pd.Timedelta:
    """History a setup needs before the first trading day it is evaluated on.

    Evaluating on candles that start ``warmup(setup)`` (plus the trading day itself) before a day D gives
    exactly the signals of D that the whole history gives — this is what lets the live loop evaluate a
    bounded window of recent bars and still agree with the backtest, and what the backtest loads before
    its first day. The rule, per declared detector (``tf`` = its timeframe): at least 10 days (weekends,
    holidays, the state of swings and BOS/CHoCH); previous-week levels 21 days, previous-month levels
    70 days; swings/structure/order blocks 60 bars of ``tf``; ATR 50 × period bars of ``tf`` (Wilder
    smoothing forgets its start to below float precision); equal highs/lows 2 × lookback bars. Checked on
    the sample year for every shipped setup (``tests/test_warmup.py``; ``tests/test_live_equals_backtest.py``
    replays a period through the live graph).

    Example::

        >>> warmup(load_setup("asia_fvg_break").setup)          # doctest: +SKIP
        Timedelta('10 days 00:00:00')
    """
    need = [MIN_WARMUP]
    for det in setup.detectors.values():
        bar = tf_delta(getattr(det, "timeframe", None) or setup.timeframe)
        if isinstance(det, PreviousLevelsDetector):
            need.append(pd.Timedelta(days={"D": 10, "W": 21, "M": 70}[det.period]))
        elif isinstance(det, (SwingsDetector, StructureDetector, OrderBlockDetector)):
            need.append(60 * bar)
        elif isinstance(det, ATRDetector):
            need.append(50 * det.period * bar)
        elif isinstance(det, EqualLevelsDetector):
            need.append(2 * det.lookback * bar)
    return max(need)


def detect(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str) -> Context:
    """The detectors declared in the setup, each run once when first needed: the
    :class:`~ita.setups.events.Context` holds the execution bars and ``outputs`` (``{detector name:
    events}``; :meth:`~ita.setups.events.Context.all_outputs` runs them all) for :func:`evaluate`
    (``context=``).

    Each output frame is the detector function's output plus ``known_bar``: the position in ``candles`` of
    the first bar whose close is at or after the row's ``confirmed_at`` (``len(candles)`` when not yet
    known). Detectors with a ``timeframe`` run on complete bars of that timeframe resampled from
    ``candles``. Raises :class:`~ita.errors.UnknownSymbolError` for an unknown symbol.
    """
    return Context(loaded.setup, candles, get_instrument(symbol))


def run_detectors(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str) -> dict[str, pd.DataFrame]:
    """Run exactly the detectors declared in the setup; ``{detector name: events}`` (see :func:`detect`)."""
    return detect(loaded, candles, symbol).all_outputs()


def evaluate(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str, *, context: Context | None = None,
             known_after=None) -> pd.DataFrame:
    """Signals of ``loaded`` on ``candles`` (canonical frame of the setup's timeframe) for ``symbol``.

    Returns a DataFrame with :data:`SIGNAL_COLUMNS`, one row per signal, ascending by ``known_at``:
    ``direction`` ``"long"``/``"short"``; ``entry_type`` ``limit``/``market``/``stop``; prices in price
    units; ``day`` the local trading date D (naive Timestamp); ``time`` the UTC open of the bar that
    completed the signal; ``known_at`` its close (decision time); ``active_from`` first bar open at which
    the order may fill; ``expires_at`` no fill on bars opening at or after it; ``exit_by`` flat at the
    close of the last bar opening before it; ``max_bars`` the time stop in bars held (NaN = none);
    ``meta`` a dict with the evidence of every step (``steps``) and, for charts, ``range``, ``break``,
    ``sweep``, ``structure``, ``zone``. Uses only bars up to ``known_at`` (no look-ahead).

    ``context``: the result of :func:`detect` on the same setup, candles and symbol, when the detectors
    already ran (the live graph's detect node); by default they run here. ``known_after`` (UTC time): return
    only the signals known after it — exactly those rows of the full evaluation — and do only the work
    they need (the live loop's new candles): trading days more than two days before it are not walked,
    and when the last step that moves the clock reads a detector with no event known after it, nothing is
    walked (a signal is completed by that step's event, at the bar where it became known).

    Raises :class:`~ita.errors.UnknownSymbolError` for an unknown symbol.

    Example::

        >>> from ita.setups import load_setup, evaluate
        >>> sig = evaluate(load_setup("asia_fvg_break"), m5, "EURUSD")      # doctest: +SKIP
        >>> sig[["time", "direction", "entry_price", "sl_price", "tp_price"]].head(3)   # doctest: +SKIP
    """
    walk = _Walk(loaded, candles, symbol, context, known_after)
    sig = walk.run().signals()
    if known_after is not None and len(sig):
        sig = sig[sig["known_at"] > pd.Timestamp(known_after)].reset_index(drop=True)
    return sig


def explain(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Why each trading day did or did not produce a signal — the evaluator's own trace.

    Returns one row per trading day D of the setup (``days`` filter) that has bars in ``candles``,
    columns :data:`EXPLAIN_COLUMNS`: ``day`` (local date D, naive Timestamp at midnight like
    :func:`evaluate`), ``signal_id`` (the day's first signal, ``None`` without one), ``direction`` (the
    bias once a step set it, else ``None``), ``passed`` (number of sequence steps satisfied in the
    furthest attempt), ``failed_step`` (``"sequence[k] <step>"``, ``"entry"``/``"stop"``/``"target"``
    when the order was rejected, or ``""`` with a signal), ``reason`` (one sentence with times in the
    setup's time zone and prices), ``time`` (UTC open of the bar of the last satisfied step, NaT if none).

    Example::

        >>> why = explain(load_setup("asia_fvg_break"), m5, "EURUSD")          # doctest: +SKIP
        >>> why.set_index("day").loc["2025-01-07", "reason"]                    # doctest: +SKIP
        'no bullish FVG with its third candle within 3 bars after the long break at 00:15 (before 11:00)'
    """
    return _Walk(loaded, candles, symbol).run().explain()


# ---- the walk -------------------------------------------------------------------------------------------

@dataclass
class _Attempt:
    day: np.datetime64
    passed: int
    failed_step: str
    reason: str | Callable[[], str]
    bar: int
    bias: int
    signal_id: str | None = None


class _StepView:
    """A step's events with its time filters resolved on the execution bars."""

    def __init__(self, ctx: Context, st, k: int):
        self.st, self.k = st, k
        self.label = f"sequence[{k}] {st.step}"
        if isinstance(st, TrendStep):
            out = ctx.outputs[st.detector]
            out = out[out["known_bar"].to_numpy() < ctx.n]
            self.ev = StepEvents.of(out, out["known_bar"].to_numpy(),
                                    np.where(out["direction"].to_numpy() == "bullish", 1, -1))
            return
        self.ev = ctx.events(st)
        win = ctx.setup.step_window(st)
        if win is not None:
            inside, wday = ctx.window_mask(win)
        else:
            inside, wday = np.ones(ctx.n, dtype=bool), ctx.local_day
        if st.until is not None:
            inside = inside & (ctx.local_minute < parse_hhmm(st.until)) & (ctx.local_day == wday)
        self.window = win
        when = self.ev.when                       # a sweep: its piercing bar (the wick), not the close back inside
        self.ok = inside[when] if len(when) else np.zeros(0, dtype=bool)
        self.day = wday[when] if len(when) else np.zeros(0, dtype="datetime64[D]")


def _dir_ok(evdir: np.ndarray, bias: int, want: str) -> np.ndarray:
    if want == "any":
        return np.ones(len(evdir), dtype=bool)
    if want in ("long", "short"):
        return evdir == (1 if want == "long" else -1)
    same = want in ("with_bias", "with_break")
    return evdir == (bias if same else -bias)


class _Walk:
    def __init__(self, loaded: LoadedSetup, candles: pd.DataFrame, symbol: str, context: Context | None = None,
                 known_after=None):
        self.loaded, self.s, self.symbol = loaded, loaded.setup, symbol
        if context is not None and (context.setup is not loaded.setup or context.candles is not candles):
            raise ValueError("evaluate(context=...): the context was built for another setup or other candles")
        self.ctx = context if context is not None else detect(loaded, candles, symbol)
        self.rows: list[dict] = []
        self.attempts: list[_Attempt] = []
        self.views: list[_StepView] = []
        self.from_day = None
        if known_after is not None:
            t = pd.Timestamp(known_after)
            t = t.tz_localize("UTC") if t.tz is None else t
            self.from_day = np.datetime64((t.tz_convert(self.s.timezone).tz_localize(None).normalize()
                                           - pd.Timedelta(days=2)).date(), "D")
            if self._nothing_new(t):
                return
        self.views = [_StepView(self.ctx, st, k) for k, st in enumerate(self.s.sequence)]

    def hhmm(self, bar: int) -> str:
        return self.ctx.t[bar].tz_convert(self.s.timezone).strftime("%H:%M")

    def _nothing_new(self, after: pd.Timestamp) -> bool:
        """True when no signal can be known after ``after``: the last clock-moving step reads a detector's
        rows and none of them becomes known at a bar closing after ``after``."""
        last = next((st for st in reversed(self.s.sequence) if not isinstance(st, TrendStep)), None)
        if last is None or isinstance(last, (BreakStep, SweepStep)):
            return False  # their events are built while walking; no cheap test
        kb = self.ctx.outputs[last.detector]["known_bar"].to_numpy()
        first_new = int(np.searchsorted(self.ctx.close_ns, after.as_unit("ns").value, "right"))
        return not bool(((kb >= first_new) & (kb < self.ctx.n)).any())

    def run(self) -> "_Walk":
        s, ctx = self.s, self.ctx
        if not self.views:
            return self
        v0 = self.views[0]
        if ctx.n == 0 or len(v0.ev.bar) == 0:
            return self
        wd_ok = np.isin(pd.DatetimeIndex(v0.day).day_of_week, s.weekdays)
        if self.from_day is not None:
            wd_ok &= v0.day >= self.from_day
        cand = np.flatnonzero(v0.ok & wd_ok & _dir_ok(v0.ev.dir, 0, v0.st.direction))
        # days are keyed by their int64 value (hashing numpy datetimes per candidate dominated the loop)
        cand_bar = v0.ev.bar[cand].tolist()
        cand_day = v0.day[cand].astype("datetime64[D]").view("int64").tolist()
        done: set = set()
        last_sig: dict = {}
        count: dict = {}
        for c, b0, dk in zip(cand.tolist(), cand_bar, cand_day):
            if dk in done or b0 <= last_sig.get(dk, -1):
                continue
            D = v0.day[c]
            chain = [(v0, int(c))]
            bias, anchor = int(v0.ev.dir[c]), b0
            fail = None
            for v in self.views[1:]:
                j = self._next(v, anchor, D, bias)
                if callable(j):  # not found: the reason is only worded if explain() asks for it
                    fail = _Attempt(D, len(chain), v.label, j, anchor, bias)
                    break
                if j is not None:
                    chain.append((v, j))
                    anchor = int(v.ev.bar[j])
                else:
                    chain.append((v, None))  # a trend filter passed
            if fail is None:
                order, why = self._order(D, bias, anchor, chain)
                if order is None:
                    fail = _Attempt(D, len(chain), why[0], why[1], anchor, bias)
                else:
                    self.rows.append(order)
                    self.attempts.append(_Attempt(D, len(chain), "", "signal", anchor, bias, order["signal_id"]))
                    last_sig[dk] = anchor
                    count[dk] = count.get(dk, 0) + 1
                    if count[dk] >= s.management.max_trades_per_day:
                        done.add(dk)
                    continue
            self.attempts.append(fail)
            if s.after_failed_sequence == "skip_day":
                done.add(dk)
        return self

    def _next(self, v: _StepView, anchor: int, D, bias: int):
        """Position of the step's first event after ``anchor`` on D; ``None`` for a passed trend filter;
        a function wording the reason when there is none."""
        st, ev = v.st, v.ev
        if isinstance(st, TrendStep):
            j = int(np.searchsorted(ev.bar, anchor, "right")) - 1
            if j < 0:
                return lambda: f"no {st.detector} structure break known yet at {self.hhmm(anchor)}"
            d = int(ev.dir[j])
            want = bias if st.direction == "with_bias" else -bias
            if d != want:
                kind = ev.row(j)["kind"]
                return lambda: (f"the last {st.detector} {kind} known at {self.hhmm(anchor)} is "
                        f"{'bullish' if d > 0 else 'bearish'}, not {st.direction.replace('_', ' ')} "
                        f"({_SIDE[bias]})")
            return None
        j0 = int(np.searchsorted(ev.bar, anchor, "right" if st.from_bar == "next" else "left"))
        j1 = len(ev.bar) if st.within_bars is None else int(np.searchsorted(ev.bar, anchor + st.within_bars, "right"))
        sel = v.ok[j0:j1] & (v.day[j0:j1] == D) & _dir_ok(ev.dir[j0:j1], bias, st.direction)
        if sel.any():
            return j0 + int(np.argmax(sel))
        return lambda: self._why_not(v, anchor, bias)

    # ---- reasons ----------------------------------------------------------------------------------------
    def _what(self, st, bias: int) -> str:
        d = {"any": 0, "long": 1, "short": -1}.get(st.direction)
        if d is None:
            d = bias if st.direction in ("with_bias", "with_break") else -bias
        adj = {1: "bullish ", -1: "bearish ", 0: ""}[d]
        if st.step == "fvg":
            return f"{adj}FVG"
        if st.step == "structure":
            return f"{adj}{'BOS/CHoCH' if st.kind == 'any' else st.kind}"
        if st.step == "order_block":
            return f"{adj}order block"
        if st.step == "sweep":
            side = {"high": "high", "low": "low", "any": "high or low"}[st.side]
            return f"sweep of the {st.of} {side} (close back inside within {st.reclaim_bars} bars)"
        return f"{st.by} beyond the {st.range} range"

    def _when(self, v: _StepView) -> str:
        st = v.st
        parts = []
        if st.session:
            parts.append(f"in {st.session}")
        elif st.window is not None:
            parts.append(f"between {st.window.start} and {st.window.end}")
        if st.until:
            parts.append(f"before {st.until}")
        return " ".join(parts)

    def _why_not(self, v: _StepView, anchor: int, bias: int) -> str:
        st = v.st
        prev = self.s.sequence[v.k - 1]
        prev_name = {"break": "break", "sweep": "sweep", "fvg": "FVG", "structure": "structure break",
                     "order_block": "order block", "trend": "trend check"}[prev.step]
        within = ""
        if st.within_bars is not None:
            within = f" with its third candle within {st.within_bars} bars" if st.step == "fvg" else \
                f" within {st.within_bars} bars"
        when = self._when(v)
        tail = f" ({when})" if when else ""
        return f"no {self._what(st, bias)}{within} after the {_SIDE[bias]} {prev_name} at {self.hhmm(anchor)}{tail}"

    def _why_no_start(self, D) -> str:
        v0 = self.views[0]
        st = v0.st
        when = self._when(v0)
        if isinstance(st, BreakStep):
            rng = self.ctx.outputs[st.range]
            row = rng[rng["day"].to_numpy().astype("datetime64[D]") == D]
            if len(row) == 0:
                det = self.s.detectors[st.range]
                return f"no {getattr(det, 'session', None) or st.range} range (no bars in the session)"
            r = row.iloc[0]
            return f"no {st.by} beyond the range {r['low']:g}-{r['high']:g}" + (f" {when}" if when else "")
        return f"no {self._what(st, 0)}" + (f" {when}" if when else "")

    # ---- the order --------------------------------------------------------------------------------------
    def _order(self, D, bias: int, i: int, chain) -> tuple[dict | None, tuple[str, str]]:
        s, ctx = self.s, self.ctx
        pip = ctx.pip
        long_ = bias > 0
        ev: dict = {}
        steps: list[dict] = []
        charts: dict = {}
        for v, j in chain:
            if j is None:
                steps.append({"step": v.st.step, "detector": v.st.detector, "passed": True})
                continue
            r = v.ev.row(j)
            ev.setdefault(v.st.step, []).append(r)
            e, chart = _evidence(v.st, r, ctx, int(v.ev.bar[j])) if ctx.evidence else ({"step": v.st.step}, {})
            steps.append(e)
            charts.update(chart)  # later steps' drawings win (e.g. the last zone)
        zone = None
        for v, j in chain:
            if j is not None and v.st.step in ("fvg", "order_block"):
                zone = v.ev.row(j)
        # entry
        et = s.entry.type
        if et == "limit":
            top, bottom = float(zone["top"]), float(zone["bottom"])
            if s.entry.at == "midpoint":
                entry = (top + bottom) / 2.0
            elif (s.entry.at == "near_edge") == long_:
                entry = top
            else:
                entry = bottom
        elif et == "market":
            entry = float(ctx.close[i])
        else:
            buf = s.entry.buffer_pips * pip
            entry = float(ctx.high[i]) + buf if long_ else float(ctx.low[i]) - buf
        # stop
        st_ = s.stop
        buf = st_.buffer_pips * pip
        if st_.type == "beyond_zone":
            stop = float(zone["bottom"]) - buf if long_ else float(zone["top"]) + buf
        elif st_.type == "beyond_sweep":
            stop = float(ev["sweep"][-1]["extreme"]) + (-buf if long_ else buf)
        elif st_.type == "beyond_swing":
            sw = ctx.outputs[st_.swings]
            known = sw[(sw["known_bar"].to_numpy() <= i) & (sw["kind"].to_numpy() == ("low" if long_ else "high"))]
            px = known["price"].to_numpy()
            px = px[px < entry] if long_ else px[px > entry]
            if len(px) == 0:
                return None, ("stop", f"no swing {'low below' if long_ else 'high above'} the entry {entry:g} "
                              f"known at {self.hhmm(i)}")
            stop = float(px[-1]) + (-buf if long_ else buf)
        else:
            row = ctx.latest(st_.atr, i)
            a = float(row["atr"]) if row is not None else np.nan
            if not np.isfinite(a):
                return None, ("stop", f"ATR {st_.atr} not available yet at {self.hhmm(i)}")
            stop = entry - st_.multiple * a if long_ else entry + st_.multiple * a
        if (stop >= entry) if long_ else (stop <= entry):
            return None, ("stop", f"the stop {stop:g} is not {'below' if long_ else 'above'} the entry {entry:g}")
        dist = abs(entry - stop)
        # target
        tg = s.target
        if tg.type == "rr":
            target = entry + tg.rr * dist if long_ else entry - tg.rr * dist
        else:
            names = tg.levels if tg.type == "liquidity" else [tg.range]
            cands = []
            for name in names:
                row = ctx.latest(name, i)
                if row is None:
                    continue
                if tg.type == "session_extreme":
                    cands.append(float(row["high"] if long_ else row["low"]))
                else:
                    cands += [float(row["high"]), float(row["low"])]
            beyond = [p for p in cands if (p > entry if long_ else p < entry)]
            if not beyond:
                return None, ("target", f"no {tg.type.replace('_', ' ')} level {'above' if long_ else 'below'} the "
                              f"entry {entry:g} among {', '.join(names)}")
            target = min(beyond) if long_ else max(beyond)
            rr = abs(target - entry) / dist
            if rr < tg.min_rr - 1e-9:
                return None, ("target", f"the {tg.type.replace('_', ' ')} target {target:g} is only {rr:.2f}R "
                              f"(min_rr {tg.min_rr:g})")
        ti = ctx.t[i]
        known_at = ti + ctx.step
        sid = f"{s.id}-v{self.loaded.version}-{self.symbol}-{s.timeframe}-{ti:%Y%m%dT%H%M}"
        meta: dict = {"detectors": s.detector_kinds, "steps": steps, **charts}
        meta["risk_pips"] = round(dist / pip, 6)
        meta["rr"] = round(abs(target - entry) / dist, 6)
        return {
            "signal_id": sid, "symbol": self.symbol, "tf": s.timeframe, "direction": _SIDE[bias],
            "entry_type": et, "entry_price": round(entry, 10), "sl_price": round(stop, 10),
            "tp_price": round(target, 10), "rule_id": s.id, "rule_version": self.loaded.version,
            "setup_hash": self.loaded.content_hash, "day": pd.Timestamp(D), "time": ti, "known_at": known_at,
            "active_from": known_at, "expires_at": pd.NaT, "exit_by": pd.NaT,
            "max_bars": float(s.management.max_bars) if s.management.max_bars else np.nan, "meta": meta,
        }, ("", "")

    # ---- outputs ----------------------------------------------------------------------------------------
    def signals(self) -> pd.DataFrame:
        s = self.s
        sig = pd.DataFrame(self.rows, columns=SIGNAL_COLUMNS)
        if len(sig):
            days = np.array(sig["day"].to_numpy(), dtype="datetime64[D]")
            exp = local_time_to_utc(days, s.order.valid_until, s.timezone)
            if s.order.valid_bars:
                exp = np.minimum(exp.as_unit("ns").asi8, (pd.DatetimeIndex(sig["known_at"]).as_unit("ns")
                                                          + s.order.valid_bars * self.ctx.step).asi8)
                exp = pd.to_datetime(exp, utc=True)
            sig["expires_at"] = exp
            sig["exit_by"] = local_time_to_utc(days, s.management.flat_at, s.timezone)
            for c in ("time", "known_at", "active_from", "expires_at", "exit_by"):
                sig[c] = pd.DatetimeIndex(sig[c]).as_unit("ns")
        sig["max_bars"] = sig["max_bars"].astype("float64")
        return sig.sort_values("known_at", kind="stable").reset_index(drop=True)

    def explain(self) -> pd.DataFrame:
        s, ctx = self.s, self.ctx
        best: dict = {}
        for a in self.attempts:
            cur = best.get(a.day)
            if cur is None or (cur.signal_id is None and (a.signal_id is not None or a.passed > cur.passed)):
                best[a.day] = a
        days = ctx.local_day
        all_days = pd.unique(days[np.isin(pd.DatetimeIndex(days).day_of_week, s.weekdays)]) if ctx.n else []
        rows = []
        for d in all_days:
            a = best.get(d)
            if a is None:
                rows.append((pd.Timestamp(d), None, None, 0, f"sequence[0] {s.sequence[0].step}",
                             self._why_no_start(d), pd.NaT))
            else:
                reason = a.reason() if callable(a.reason) else a.reason
                rows.append((pd.Timestamp(d), a.signal_id, _SIDE[a.bias], a.passed, a.failed_step, reason,
                             ctx.t[a.bar]))
        out = pd.DataFrame(rows, columns=EXPLAIN_COLUMNS)
        for c in ("signal_id", "direction"):  # None (not NaN) where absent, so `if row.signal_id:` is honest
            out[c] = pd.Series([v if isinstance(v, str) else None for v in out[c]], index=out.index, dtype=object)
        out["time"] = pd.DatetimeIndex(out["time"]).as_unit("ns") if len(out) else pd.DatetimeIndex([], tz="UTC")
        return out


def _evidence(st, r: dict, ctx: Context, bar: int) -> tuple[dict, dict]:
    """One step's evidence for ``meta["steps"]`` (JSON-able), and the keys the trade chart draws
    (``range``, ``break``, ``sweep``, ``zone``, ``structure``)."""
    iso = lambda v: pd.Timestamp(v).isoformat() if pd.notna(v) else None  # noqa: E731
    e: dict = {"step": st.step, "bar_time": ctx.t[bar].isoformat()}
    chart: dict = {}
    if isinstance(st, BreakStep):
        e.update(time=iso(r["time"]), direction=r["direction"], level=float(r["level"]))
        rr = ctx.row_of_day(st.range, r["day"])
        chart["break"] = {"time": e["time"], "direction": r["direction"], "level": e["level"]}
        chart["range"] = {"session": rr["session"], "high": float(rr["high"]), "low": float(rr["low"]),
                          "start": iso(rr["start"]), "end": iso(rr["end"])}
    elif isinstance(st, SweepStep):
        e.update(time=iso(r["time"]), level=float(r["level"]), side=r["side"], extreme=float(r["extreme"]),
                 level_name=str(r["level_name"]), confirmed_at=iso(r["confirmed_at"]),
                 bars_to_reclaim=int(r["bars_to_reclaim"]))
        chart["sweep"] = {k: e[k] for k in ("time", "level", "side", "extreme", "confirmed_at")}
        det = ctx.setup.detectors[st.of]
        if det.kind in ("session_range", "initial_balance"):
            rng = ctx.outputs[st.of]
            lv = rng[rng["confirmed_at"] <= r["level_confirmed_at"]]
            if len(lv):
                rr = lv.iloc[-1]
                chart["range"] = {"session": rr["session"], "high": float(rr["high"]), "low": float(rr["low"]),
                                  "start": iso(rr["start"]), "end": iso(rr["end"])}
    elif st.step in ("fvg", "order_block"):
        e.update(direction=r["direction"], top=float(r["top"]), bottom=float(r["bottom"]),
                 time=iso(r["time"]), confirmed_at=iso(r["confirmed_at"]))
        zone = {"type": "fvg" if st.step == "fvg" else "ob", "direction": r["direction"], "top": e["top"],
                "bottom": e["bottom"], "time": e["time"], "confirmed_at": e["confirmed_at"],
                "size_pips": round((e["top"] - e["bottom"]) / ctx.pip, 6)}
        if st.step == "fvg":
            zone["size_pips"] = float(r["size_pips"])
        chart["zone"] = zone
        e["candles"] = 3 if st.step == "fvg" else 1
    else:  # structure
        e.update(kind=r["kind"], direction=r["direction"], level=float(r["level"]), time=iso(r["time"]),
                 swing_time=iso(r["swing_time"]), confirmed_at=iso(r["confirmed_at"]))
        chart["structure"] = {k: e[k] for k in ("kind", "direction", "level", "time", "swing_time")}
    return e, chart
