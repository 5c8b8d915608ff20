"""Intrabar resolution on lower-timeframe bars: what happened first inside a bar the simulator cannot read.

A bar of the backtest's timeframe (M5 and above) that touches both the stop and the target — or the bar on
which a limit/stop order fills and the stop or target is touched, where the bar cannot say whether that came
after the fill — is replayed on the M1 bars inside it, with the simulator's own rules applied to each M1 bar
(:mod:`ita.backtest.engine`):

* **the M1 fill bar** (the first M1 bar that reaches the entry; the first M1 bar for a fill at the open):
  an open already beyond the stop exits at that open; then ``fill_bar="stop_only"`` checks only the stop,
  ``"stop_and_target"`` both;
* **each later M1 bar**: open beyond the stop / the target → exit at that open; stop touched → the stop;
  target touched → the target; both on one M1 bar → the setup's rule (``stop_first`` / ``target_first``).

The M1 bars are used only when they reproduce the bar (their highest high and lowest low equal its high and
low within half a point); otherwise the rule decides, as without M1. The outcome says how: ``"M1"`` (the M1
path decided), or the rule's name (no usable M1 bars, or a tie on one M1 bar).

Prices are bid; the ask is bid + spread, as in the engine: longs fill on the ask and exit on the bid, shorts
the reverse. All times are UTC nanoseconds of bar **open**.

Example::

    >>> from ita.backtest.intrabar import LowerBars
    >>> lower = LowerBars.build(m1, spread=np.zeros(len(m1)), point=1e-5)      # doctest: +SKIP
    >>> lower.later_bar(t_open, t_close, d=1.0, sl=1.0990, tp=1.1020)         # doctest: +SKIP
    Outcome(reason='target', price=1.102, at_open=False, how='M1')
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Outcome:
    """The exit found inside one bar: ``reason`` (``"stop"`` / ``"target"``; None = the trade is still open at
    the bar's close), ``price`` (the exit price, NaN when open), ``at_open`` (exited at an M1 open beyond the
    level), ``how`` (``"M1"`` or the rule that broke a tie on one M1 bar)."""

    reason: str | None
    price: float
    at_open: bool
    how: str


@dataclass(frozen=True)
class LowerBars:
    """Lower-timeframe bars for intrabar resolution: UTC open times ``t`` (ns), bid ``o``/``h``/``lo``, ``sp``
    the spread in price units per bar, ``tol`` the price tolerance of the consistency check, ``tie`` the rule
    for an M1 bar touching both levels."""

    t: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    sp: np.ndarray
    tol: float
    tie: str = "stop_first"

    @classmethod
    def build(cls, candles: pd.DataFrame, spread: np.ndarray, point: float, tie: str = "stop_first") -> "LowerBars":
        """From a canonical M1 frame (UTC index) and its spread array (price units, as the engine's
        ``ExecutionModel.spread_array``); ``point`` is one price step of the symbol."""
        return cls(candles.index.as_unit("ns").asi8, candles["open"].to_numpy(dtype="float64"),
                   candles["high"].to_numpy(dtype="float64"), candles["low"].to_numpy(dtype="float64"),
                   np.asarray(spread, dtype="float64"), 0.5 * point if point else 1e-12, tie)

    def _window(self, start: int, end: int, high: float, low: float) -> tuple[int, int] | None:
        """The M1 bars opening in ``[start, end)`` if they reproduce the bar's ``high``/``low``, else None."""
        i0, i1 = int(np.searchsorted(self.t, start, "left")), int(np.searchsorted(self.t, end, "left"))
        if i1 <= i0:
            return None
        if abs(self.h[i0:i1].max() - high) > self.tol or abs(self.lo[i0:i1].min() - low) > self.tol:
            return None
        return i0, i1

    def _sides(self, k: int, d: float) -> tuple[float, float, float]:
        """Exit-side (open, high, low) of M1 bar ``k``: bid for longs, ask for shorts."""
        s = 0.0 if d > 0 else self.sp[k]
        return self.o[k] + s, self.h[k] + s, self.lo[k] + s

    def _walk(self, k0: int, i1: int, d: float, sl: float, tp: float) -> Outcome:
        """The later-bar rules on M1 bars ``k0 … i1-1``."""
        for k in range(k0, i1):
            o, h, lo = self._sides(k, d)
            beyond_stop, beyond_tgt = (o <= sl, o >= tp) if d > 0 else (o >= sl, o <= tp)
            stop, tgt = (lo <= sl, h >= tp) if d > 0 else (h >= sl, lo <= tp)
            if beyond_stop:
                return Outcome("stop", o, True, "M1")
            if beyond_tgt:
                return Outcome("target", o, True, "M1")
            if stop and tgt:
                return Outcome("stop", sl, False, self.tie) if self.tie == "stop_first" else \
                    Outcome("target", tp, False, self.tie)
            if stop:
                return Outcome("stop", sl, False, "M1")
            if tgt:
                return Outcome("target", tp, False, "M1")
        return Outcome(None, float("nan"), False, "M1")

    def later_bar(self, start: int, end: int, high: float, low: float, d: float, sl: float, tp: float) -> Outcome | None:
        """A bar after the fill bar (open ``start``, next open ``end``, bid ``high``/``low``) touching both levels:
        the exit on its M1 bars, or None when they cannot tell (missing or not reproducing the bar)."""
        w = self._window(start, end, high, low)
        if w is None:
            return None
        out = self._walk(w[0], w[1], d, sl, tp)
        return out if out.reason is not None else None

    def fill_bar(self, start: int, end: int, high: float, low: float, d: float, entry_type: str, entry: float,
                 sl: float, tp: float, fill_bar_rule: str) -> Outcome | None:
        """The fill bar (open ``start``, next open ``end``, bid ``high``/``low``): the exit after the fill on
        its M1 bars — ``Outcome(reason=None)`` when the trade is still open at the bar's close — or None when
        the M1 bars cannot tell."""
        w = self._window(start, end, high, low)
        if w is None:
            return None
        i0, i1 = w
        k = i0
        if entry_type != "market":
            for k in range(i0, i1 + 1):
                if k == i1:
                    return None                               # M1 never reaches the entry: cannot tell
                ask_lo, ask_h = self.lo[k] + self.sp[k], self.h[k] + self.sp[k]
                if entry_type == "limit" and (ask_lo <= entry if d > 0 else self.h[k] >= entry):
                    break
                if entry_type == "stop" and (ask_h >= entry if d > 0 else self.lo[k] <= entry):
                    break
        o, h, lo = self._sides(k, d)
        if (o <= sl) if d > 0 else (o >= sl):
            return Outcome("stop", o, True, "M1")
        stop, tgt = (lo <= sl, h >= tp) if d > 0 else (h >= sl, lo <= tp)
        if fill_bar_rule == "stop_and_target" and stop and tgt:
            return Outcome("stop", sl, False, self.tie) if self.tie == "stop_first" else \
                Outcome("target", tp, False, self.tie)
        if stop:
            return Outcome("stop", sl, False, "M1")
        if fill_bar_rule == "stop_and_target" and tgt:
            return Outcome("target", tp, False, "M1")
        return self._walk(k + 1, i1, d, sl, tp)
