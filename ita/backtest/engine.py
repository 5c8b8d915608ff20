"""The order simulator: pending orders in, trades out, bar by bar, no look-ahead.

Orders are the rows of a signals frame (:func:`ita.setups.evaluate`): ``direction``, ``entry_type``
(``limit`` | ``market`` | ``stop``), ``entry_price``, ``sl_price``, ``tp_price`` and the times
``active_from`` (first bar open that may fill), ``expires_at`` (no fill on bars opening at/after it) and
``exit_by`` (flat at the close of the last bar opening before it). Each order is simulated on its own
bounded window of bars with vectorised numpy searches.

Rules (the file's prices are **bid**; the ask is bid + spread):

* **Fill.** limit long: first bar whose ask low ≤ limit, at ``min(ask open, limit)``; limit short: first
  bar whose bid high ≥ limit, at ``max(bid open, limit)``. stop long: ask high ≥ level, at
  ``max(ask open, level)``; stop short: bid low ≤ level, at ``min(bid open, level)``. market: the open
  of the ``active_from`` bar (ask for longs, bid for shorts).
* **Fill bar.** ``fill_bar="stop_only"``: only the stop is checked (at the stop, or at the open if the
  bar opened beyond it); ``"stop_and_target"`` checks both (for market entries at the open). A fill
  at an open already beyond the target (market/stop entries on a gap) exits at that open.
* **Later bars.** open beyond stop → exit at the open; open beyond target → exit at the open; else
  stop touched → exit at the stop; else target touched → exit at the target. A bar touching both:
  ``intrabar="stop_first"`` (default) or ``"target_first"``. Longs exit on the bid, shorts on the ask.
* **Lower timeframe** (``lower=`` M1 candles, optional): a bar touching both levels, and a fill bar on
  which the stop or target is touched, is first replayed on the M1 bars inside it
  (:mod:`ita.backtest.intrabar` — one separate step); the rule above decides only when the M1 bars cannot
  (missing, not reproducing the bar, or a tie on one M1 bar). Each trade's ``intrabar`` column says what
  decided its ambiguous bar: ``"M1"``, the rule's name, or ``""`` when no bar was ambiguous.
* **Time.** Still open after the last bar opening before ``exit_by`` — or, with an optional ``max_bars``
  column (time stop), after ``max_bars`` bars held counting the fill bar — → exit at that bar's close
  (``"time"``); if the data ends first → ``"end_of_data"``.
* **R.** ``R = direction × (exit − fill) / |entry_price − sl_price| − commission_R``, where the
  round-turn ``commission`` per lot is converted to R through the position size that risks the planned
  distance.

Example::

    >>> from ita.backtest.engine import simulate, ExecutionModel
    >>> trades, orders = simulate(m5, signals, ExecutionModel(pip_size=1e-4, spread_pips=0))   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ita.backtest.intrabar import LowerBars
from ita.detectors._util import infer_bar_delta

TRADE_COLUMNS = [
    "trade", "signal_id", "direction", "day", "signal_time", "entry_time", "entry_price", "limit_price",
    "sl_price", "tp_price", "exit_time", "exit_price", "exit_reason", "exit_at_open", "bars_held",
    "risk_pips", "r", "mae_r", "mfe_r", "commission_r", "intrabar",
]


@dataclass(frozen=True)
class ExecutionModel:
    """Costs and ambiguity rules.

    ``pip_size`` price per pip; ``spread_pips`` constant spread in pips, or ``None`` to use the candles'
    own ``spread`` column (MT5 points × ``point``); ``point`` price per MT5 point; ``commission_per_lot``
    round turn in account currency; ``contract_size`` units per lot; ``quote_to_account`` value of one
    quote-currency unit in the account currency (1.0 for USD-quoted symbols on a USD account).
    """

    pip_size: float
    spread_pips: float | None = 0.0
    point: float = 0.0
    commission_per_lot: float = 0.0
    contract_size: float = 100_000.0
    quote_to_account: float = 1.0
    intrabar: Literal["stop_first", "target_first"] = "stop_first"
    fill_bar: Literal["stop_only", "stop_and_target"] = "stop_only"

    def spread_array(self, candles: pd.DataFrame) -> np.ndarray:
        n = len(candles)
        if self.spread_pips is None:
            sp = candles["spread"].to_numpy(dtype="float64") * self.point
            return np.nan_to_num(sp, nan=0.0)
        return np.full(n, float(self.spread_pips) * self.pip_size)


def _first(mask: np.ndarray) -> int:
    """Index of the first True, or -1."""
    if mask.size == 0:
        return -1
    k = int(np.argmax(mask))
    return k if mask[k] else -1


@dataclass(frozen=True)
class Bars:
    """The candle arrays the simulator reads, built once per (candles, model, lower) and reusable for many order
    sets (research sweeps simulate thousands of variants on the same bars).

    ``t`` int64 UTC bar opens (ns); ``o``/``h``/``lo``/``c`` float64 bid prices; ``sp`` float64 spread in price
    units per bar (:meth:`ExecutionModel.spread_array`); ``bar_ns`` the bar length (ns, 0 with < 2 bars);
    ``lb`` the M1 bars for intrabar resolution, or None."""

    t: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    sp: np.ndarray
    bar_ns: int
    lb: LowerBars | None

    @classmethod
    def of(cls, candles: pd.DataFrame, model: "ExecutionModel", lower: pd.DataFrame | None = None) -> "Bars":
        n = len(candles)
        bar_ns = infer_bar_delta(candles.index).value if n >= 2 else 0
        lb = (LowerBars.build(lower, model.spread_array(lower), model.point, model.intrabar)
              if lower is not None and len(lower) and bar_ns else None)
        return cls(t=candles.index.as_unit("ns").asi8, o=candles["open"].to_numpy(dtype="float64"),
                   h=candles["high"].to_numpy(dtype="float64"), lo=candles["low"].to_numpy(dtype="float64"),
                   c=candles["close"].to_numpy(dtype="float64"), sp=model.spread_array(candles), bar_ns=bar_ns, lb=lb)

    @property
    def n(self) -> int:
        return len(self.t)


@dataclass
class OrderArrays:
    """The columns of an orders (signals) frame the simulator reads, as plain lists, with the bar positions
    of their times on :class:`Bars` (``a`` first fill bar, ``x`` first bar too late to fill, ``e`` first bar
    opening at/after ``exit_by``). ``mb`` the ``max_bars`` column or None; ``exit_by_ns`` int64 (ns)."""

    ids: list
    long: list
    et: list
    entry: list
    sl: list
    tp: list
    a: list
    x: list
    e: list
    mb: list | None
    exit_by_ns: list

    @classmethod
    def of(cls, orders: pd.DataFrame, t: np.ndarray) -> "OrderArrays":
        """From an orders frame and the bars' open times ``t`` (int64 ns, :attr:`Bars.t`)."""
        def ns(col):
            return pd.DatetimeIndex(orders[col]).as_unit("ns").asi8

        ex = ns("exit_by")
        n = len(orders)
        return cls(ids=orders["signal_id"].tolist(), long=(orders["direction"].to_numpy() == "long").tolist(),
                   et=orders["entry_type"].tolist() if "entry_type" in orders else ["limit"] * n,
                   entry=orders["entry_price"].to_numpy(dtype="float64").tolist(),
                   sl=orders["sl_price"].to_numpy(dtype="float64").tolist(),
                   tp=orders["tp_price"].to_numpy(dtype="float64").tolist(),
                   a=np.searchsorted(t, ns("active_from"), "left").tolist(),
                   x=np.searchsorted(t, ns("expires_at"), "left").tolist(),
                   e=np.searchsorted(t, ex, "left").tolist(),
                   mb=orders["max_bars"].tolist() if "max_bars" in orders else None, exit_by_ns=ex.tolist())

    def take(self, keep: np.ndarray) -> "OrderArrays":
        """The orders at positions ``keep`` (int array), in that order."""
        idx = keep.tolist()
        pick = lambda a: None if a is None else [a[i] for i in idx]  # noqa: E731
        return OrderArrays(**{k: pick(v) for k, v in self.__dict__.items()})


#: One simulated trade (see :func:`simulate_orders`).
_TRADE = ("k", "f", "fill", "entry", "sl", "tp", "xj", "xp", "reason", "at_open", "risk", "r", "mae", "mfe", "comm_r",
          "how")


def _entry(bars: Bars, od: OrderArrays, k: int, d: float) -> tuple:
    """Order ``k``'s entry (it does not depend on the target): ``(status,)`` when it does not fill, else
    ``("filled", f fill bar, fill price, e first bar it may not be held into, entry type, [later-bars search])``."""
    t, o, h, lo, sp = bars.t, bars.o, bars.h, bars.lo, bars.sp
    n = len(t)
    entry = od.entry[k]
    a, x, e = od.a[k], od.x[k], od.e[k]
    last_fill = min(x, e)
    if a >= last_fill or a >= n:
        return ("no_data" if a >= n else "expired",)
    w = slice(a, last_fill)
    et = od.et[k]
    if et == "market":
        f = a
        fill = o[f] + sp[f] if d > 0 else o[f]
    elif et == "limit":
        f = _first(lo[w] + sp[w] <= entry) if d > 0 else _first(h[w] >= entry)
        if f < 0:
            return ("expired",)
        f += a
        fill = min(o[f] + sp[f], entry) if d > 0 else max(o[f], entry)
    elif et == "stop":
        f = _first(h[w] + sp[w] >= entry) if d > 0 else _first(lo[w] <= entry)
        if f < 0:
            return ("expired",)
        f += a
        fill = max(o[f] + sp[f], entry) if d > 0 else min(o[f], entry)
    else:
        raise ValueError(f"order {od.ids[k]}: unknown entry_type {et!r}")
    mb = od.mb[k] if od.mb is not None else None
    if mb is not None and np.isfinite(mb) and mb >= 1:  # time stop: at most `max_bars` bars held
        e = min(e, f + int(mb))
    return ("filled", f, fill, e, et, [])


def _later_bars(bars: Bars, f: int, e: int, d: float, sl: float, tp: float, memo: list | None):
    """The exit-side opens, highs and lows of the bars after the fill bar (``so, sh, sl_``) and the position of
    the first of them that opens or trades at/beyond the stop or the target (-1 when none).

    With ``memo`` (a list kept per order across targets) the target-independent work is done once: the first
    stop event, and the running extreme of the bars towards the target, searched in O(log n) per target —
    the same bar as the direct scan (bars with NaN prices always take the direct scan)."""
    if memo:
        so, sh, sl_, js, cum = memo
        if cum is not None:
            jt = int(np.searchsorted(cum, tp if d > 0 else -tp, "left"))
            j = min(js, jt)
            return so, sh, sl_, (j if j < len(so) else -1)
    else:
        o, h, lo, sp = bars.o, bars.h, bars.lo, bars.sp
        j0, j1 = f + 1, min(e, len(bars.t))
        so = o[j0:j1] if d > 0 else o[j0:j1] + sp[j0:j1]
        sh = h[j0:j1] if d > 0 else h[j0:j1] + sp[j0:j1]
        sl_ = lo[j0:j1] if d > 0 else lo[j0:j1] + sp[j0:j1]
        if memo is not None:
            if np.isnan(so).any() or np.isnan(sh).any() or np.isnan(sl_).any():
                memo.extend((so, sh, sl_, -1, None))
            else:
                stop = (so <= sl) | (sl_ <= sl) if d > 0 else (so >= sl) | (sh >= sl)
                js = _first(stop)
                # the target is reached on bar j iff the running extreme towards it passes tp by j
                cum = np.maximum.accumulate(np.maximum(so, sh)) if d > 0 else \
                    np.maximum.accumulate(-np.minimum(so, sl_))
                memo.extend((so, sh, sl_, js if js >= 0 else len(so), cum))
                return _later_bars(bars, f, e, d, sl, tp, memo)
    if d > 0:
        hit = (so <= sl) | (so >= tp) | (sl_ <= sl) | (sh >= tp)
    else:
        hit = (so >= sl) | (so <= tp) | (sh >= sl) | (sl_ <= tp)
    return so, sh, sl_, _first(hit)


def simulate_orders(bars: Bars, od: OrderArrays, model: "ExecutionModel", memo: dict | None = None,
                    excursions: bool = True) -> tuple[list[str], list[tuple]]:
    """The simulator's core (rules in the module doc) on arrays: ``(status per order, trades)``; each trade a
    tuple ``(k order position, f fill bar, fill price, limit, stop, target, xj exit bar, exit price, reason,
    exit_at_open, risk (price), r, mae_r, mfe_r, commission_r, intrabar)`` in order position order.

    ``memo``: a dict kept by the caller across order sets that differ **only in their targets** (same bars,
    same orders otherwise — research variants differing in ``rr``): each order's entry and the
    target-independent part of its exit search are computed once (same trades as without it).
    ``excursions=False`` leaves ``mae_r``/``mfe_r`` NaN (nothing else depends on them).
    Raises :class:`ValueError` when an order has ``entry_price == sl_price`` (zero risk)."""
    t, o, h, lo, c, sp, bar_ns, lb = bars.t, bars.o, bars.h, bars.lo, bars.c, bars.sp, bars.bar_ns, bars.lb
    n = len(t)
    status: list[str] = []
    rows: list[tuple] = []
    for k in range(len(od.ids)):
        d = 1.0 if od.long[k] else -1.0
        entry, sl, tp = od.entry[k], od.sl[k], od.tp[k]
        risk = abs(entry - sl)
        if not risk > 0:
            raise ValueError(f"order {od.ids[k]}: entry equals stop (zero risk)")
        got = memo.get(k) if memo is not None else None
        if got is None:
            got = _entry(bars, od, k, d)
            if memo is not None:
                memo[k] = got
        status.append(got[0])
        if got[0] != "filled":
            continue
        _, f, fill, e, et, later = got

        # ---- fill bar (exit-side prices: longs sell at bid, shorts buy at ask)
        reason, xj, xp, at_open, how = None, -1, np.nan, False, ""
        fo = o[f] if d > 0 else o[f] + sp[f]
        fh, fl = (h[f], lo[f]) if d > 0 else (h[f] + sp[f], lo[f] + sp[f])
        stop_hit_f = (fl <= sl) if d > 0 else (fh >= sl)
        open_beyond_stop_f = (fo <= sl) if d > 0 else (fo >= sl)
        tgt_hit_f = (fh >= tp) if d > 0 else (fl <= tp)
        open_beyond_target_f = (fo >= tp) if d > 0 else (fo <= tp)
        # the open can only decide the exit when the fill itself happened at the open (market, or a gap);
        # a limit/stop that fills later in the bar was filled after that open
        at_open_fill = et == "market" or fill == (o[f] + sp[f] if d > 0 else o[f])
        if at_open_fill and open_beyond_stop_f:
            reason, xj, xp, at_open = "stop", f, fo, True
        elif at_open_fill and open_beyond_target_f:  # filled at an open already past the target
            reason, xj, xp, at_open = "target", f, fo, True
        elif lb is not None and (stop_hit_f or tgt_hit_f) and (m := lb.fill_bar(
                t[f], t[f] + bar_ns, h[f], lo[f], d, et, entry, sl, tp, model.fill_bar)) is not None:
            how = m.how                                      # the fill bar replayed on its M1 bars
            if m.reason is not None:
                reason, xj, xp, at_open = m.reason, f, m.price, m.at_open
        elif model.fill_bar == "stop_and_target" and stop_hit_f and tgt_hit_f:
            reason, xj, xp, how = ("stop", f, sl, "stop_first") if model.intrabar == "stop_first" else ("target", f, tp, "target_first")
        elif stop_hit_f:
            reason, xj, xp = "stop", f, sl
        elif model.fill_bar == "stop_and_target" and tgt_hit_f:
            reason, xj, xp = "target", f, tp
        # ---- later bars
        if reason is None and f + 1 < e:
            j0 = f + 1
            so, sh, sl_, j = _later_bars(bars, f, e, d, sl, tp, later if memo is not None else None)
            if j >= 0:
                xj = j0 + j
                if d > 0:
                    ob_s, ob_t, st, tg = so[j] <= sl, so[j] >= tp, sl_[j] <= sl, sh[j] >= tp
                else:
                    ob_s, ob_t, st, tg = so[j] >= sl, so[j] <= tp, sh[j] >= sl, sl_[j] <= tp
                if ob_s:
                    reason, xp, at_open = "stop", so[j], True
                elif ob_t:
                    reason, xp, at_open = "target", so[j], True
                elif st and tg:
                    m = lb.later_bar(t[xj], t[xj] + bar_ns, h[xj], lo[xj], d, sl, tp) if lb is not None else None
                    if m is not None:                        # resolved on the M1 bars inside it
                        reason, xp, at_open, how = m.reason, m.price, m.at_open, m.how
                    else:
                        reason, xp = ("stop", sl) if model.intrabar == "stop_first" else ("target", tp)
                        how = model.intrabar
                elif st:
                    reason, xp = "stop", sl
                else:
                    reason, xp = "target", tp
        if reason is None:
            xj = min(e, n) - 1
            xp = c[xj] if d > 0 else c[xj] + sp[xj]
            # 'time' when the held bar's close reaches exit_by (or later bars exist); else the data ended first
            exit_by_ns = od.exit_by_ns[k]
            reason = "time" if (e < n or int(t[xj]) + bar_ns >= exit_by_ns) else "end_of_data"
        # ---- excursions over fully held bars (between fill bar and exit bar, exclusive), bounded by fill/exit
        if not excursions:
            mfe = mae = np.nan
        else:
            if xj - f > 1:
                seg_h = h[f + 1:xj] if d > 0 else h[f + 1:xj] + sp[f + 1:xj]
                seg_l = lo[f + 1:xj] if d > 0 else lo[f + 1:xj] + sp[f + 1:xj]
                best = seg_h.max() if d > 0 else seg_l.min()
                worst = seg_l.min() if d > 0 else seg_h.max()
            else:
                best = worst = fill
            mfe = max(0.0, d * (best - fill) / risk, d * (xp - fill) / risk)
            mae = min(0.0, d * (worst - fill) / risk, d * (xp - fill) / risk)
        comm_r = 0.0
        if model.commission_per_lot:
            comm_r = model.commission_per_lot / (risk * model.contract_size * model.quote_to_account)
        r = d * (xp - fill) / risk - comm_r
        rows.append((k, f, fill, entry, sl, tp, xj, xp, reason, at_open, risk, r, mae, mfe, comm_r, how))
    return status, rows


def simulate(candles: pd.DataFrame, orders: pd.DataFrame, model: ExecutionModel,
             lower: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate every order on ``candles``; return ``(trades, orders_status)``.

    ``candles``: canonical frame (UTC index of bar opens; ``open, high, low, close[, spread]``).
    ``orders``: signals frame (see module doc). Orders are independent; the caller guarantees the
    setup's own limits (e.g. one per day).

    ``trades`` has :data:`TRADE_COLUMNS`: ``entry_time``/``exit_time`` are the UTC **open** times of the
    fill and exit bars (a ``time`` exit fills at that bar's close); prices in price units; ``risk_pips``
    the planned |entry − stop| in pips; ``r``, ``mae_r``, ``mfe_r`` (worst/best excursion over the bars
    fully held, bounded by fill and exit prices) and ``commission_r`` in R.
    ``orders_status`` is ``orders`` plus ``status`` (``filled`` | ``expired`` | ``no_data``).
    ``lower``: M1 candles (canonical frame) for intrabar resolution (module doc), or None.

    Raises :class:`ValueError` when an order has ``entry_price == sl_price`` (zero risk).
    """
    bars = Bars.of(candles, model, lower)
    if len(orders) == 0:
        out = orders.copy()
        out["status"] = pd.Series(dtype="str")
        return pd.DataFrame(columns=TRADE_COLUMNS), out
    status, done = simulate_orders(bars, OrderArrays.of(orders, bars.t), model)
    t = bars.t
    ids, dirs = orders["signal_id"].tolist(), orders["direction"].tolist()
    days = orders["day"].tolist() if "day" in orders else None
    known = orders["known_at"].tolist() if "known_at" in orders else None
    rows = []
    for (k, f, fill, entry, sl, tp, xj, xp, reason, at_open, risk, r, mae, mfe, comm_r, how) in done:
        rows.append({
            "signal_id": ids[k], "direction": dirs[k], "day": None if days is None else days[k],
            "signal_time": pd.NaT if known is None else known[k], "entry_time": t[f], "entry_price": fill,
            "limit_price": entry, "sl_price": sl, "tp_price": tp, "exit_time": t[xj], "exit_price": xp,
            "exit_reason": reason, "exit_at_open": at_open, "bars_held": int(xj - f + 1),
            "risk_pips": round(risk / model.pip_size, 6), "r": r, "mae_r": mae, "mfe_r": mfe, "commission_r": comm_r,
            "intrabar": how,
        })
    trades = pd.DataFrame(rows)
    if len(trades):
        trades.insert(0, "trade", np.arange(1, len(trades) + 1))
        for col in ("entry_time", "exit_time"):
            trades[col] = pd.to_datetime(trades[col].astype("int64"), utc=True).dt.as_unit("ns")
        trades["signal_time"] = pd.DatetimeIndex(trades["signal_time"]).as_unit("ns")
        trades = trades[TRADE_COLUMNS]
    else:
        trades = pd.DataFrame(columns=TRADE_COLUMNS)
    out = orders.copy()
    out["status"] = status
    return trades, out
