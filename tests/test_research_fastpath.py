"""The sweep's fast path gives exactly the results of the plain backtest path (issue 13's speed work).

A variant of :class:`~ita.research.variants.VariantRunner` simulates cached order arrays with the simulator's core
and a per-walk memo (entries and the target-independent exit search done once per walk); these tests compare it,
value for value (no tolerance), with the path it replaced — ``orders_and_trades`` → ``simulate`` → a trades
table — and the memo with the direct scan.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ita.backtest.core import orders_and_trades
from ita.backtest.engine import Bars, OrderArrays, simulate_orders
from ita.research.variants import VariantResult, VariantRunner, daily_r, sharpe, trade_stats

SETUPS = ("asia_fvg_break", "fvg_reversal", "ib_raid", "asia_sweep", "silver_bullet")


def _reference(runner: VariantRunner, params: dict, index: int) -> dict:
    """A variant's result the way sweeps computed it before the fast path (trades table from ``simulate``)."""
    loaded = runner.loaded(params)
    _sig, tr, _m, _a, _b = orders_and_trades(
        loaded, runner.candles, runner.symbol, start=runner.start, end=runner.end, spread_pips=runner.spread,
        commission_per_lot=runner.commission, session=runner.session, signals=runner.signals(loaded),
        lower=runner.lower)
    r = tr["r"].to_numpy(dtype="float64") if len(tr) else np.zeros(0)
    days = pd.DatetimeIndex(pd.to_datetime(tr["day"])).as_unit("ns").asi8 if len(tr) else []
    t_day = [runner._day_pos.get(int(d), -1) for d in days]
    entry = pd.DatetimeIndex(tr["entry_time"]).as_unit("s").asi8.tolist() if len(tr) else []
    inside = np.asarray(t_day, dtype="int64") >= 0
    return VariantResult(index=index, params=dict(params), effective_hash=loaded.effective_hash, **trade_stats(r),
                         sharpe=sharpe(daily_r(np.asarray(t_day)[inside], r[inside], len(runner.days))),
                         t_day=t_day, t_r=[float(x) for x in r], t_entry=entry).to_dict()


def _same(a: dict, b: dict) -> bool:
    def eq(x, y):
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        return type(x) is type(y) and x == y
    return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)


@pytest.mark.parametrize("symbol", ["EURUSD", "XAUUSD"])
def test_variants_equal_the_trades_table_path_exactly(sample_store, symbol):
    m5 = sample_store.load(symbol, "M5")
    for sid in SETUPS:
        for spread in (None, "data"):
            runner = VariantRunner.for_setup(sid, None, symbol, m5.loc["2024-12-20":"2025-04-30"], "2025-01-01",
                                             "2025-04-30", spread=spread)
            rr_path = "target.rr" if runner.base.setup.target.type == "rr" else "target.min_rr"
            grid = [{rr_path: rr, "stop.buffer_pips": b} for b in (0.5, 1.5) for rr in (1.0, 1.7, 2.0, 3.3)]
            grid.append({})
            for i, params in enumerate(grid):
                got = runner.run(params, i).to_dict()
                assert got["status"] == "ok", (sid, params, got["error"])
                assert _same(got, _reference(runner, params, i)), (sid, symbol, spread, params)


def test_memo_equals_the_direct_scan_on_every_order(sample_store):
    """Shorts and longs, every entry type, a time stop, spreads from the data, and bars with NaN prices: the
    memo (kept across targets) finds the same exits as the direct scan."""
    m5 = sample_store.load("EURUSD", "M5").loc["2025-02-01":"2025-03-31"].copy()
    m5.iloc[500:503, m5.columns.get_loc("high")] = np.nan        # a few broken bars take the direct scan
    from ita.backtest.core import execution_model
    from ita.setups.loader import load_setup

    model = execution_model(load_setup("asia_fvg_break"), "EURUSD", "data", None, 1.05)
    bars = Bars.of(m5, model)
    rng = np.random.default_rng(3)
    k = 400
    starts = rng.integers(0, len(m5) - 300, k)
    t = m5.index
    close = m5["close"].to_numpy()
    longs = rng.random(k) < 0.5
    risk = rng.uniform(3e-4, 2e-3, k)
    entry = close[starts] + np.where(longs, -1, 1) * rng.uniform(0, 1e-3, k)
    orders = pd.DataFrame({
        "signal_id": [f"o{i}" for i in range(k)], "direction": np.where(longs, "long", "short"),
        "entry_type": rng.choice(["limit", "market", "stop"], k), "entry_price": entry,
        "sl_price": entry - np.where(longs, 1, -1) * risk, "tp_price": entry,
        "active_from": t[starts], "expires_at": t[starts + 40], "exit_by": t[starts + rng.integers(41, 290, k)],
        "max_bars": np.where(rng.random(k) < 0.3, rng.integers(1, 60, k), np.nan)})
    oa = OrderArrays.of(orders, bars.t)
    memo: dict = {}
    for rr in (0.5, 1.0, 2.0, 3.0, 6.0, 1.0):
        tp = (entry + np.where(longs, 1, -1) * rr * risk).tolist()
        od = OrderArrays(**{**oa.__dict__, "tp": tp})
        direct = simulate_orders(bars, od, model)
        fast = simulate_orders(bars, od, model, memo=memo, excursions=False)
        assert direct[0] == fast[0]
        assert len(direct[1]) == len(fast[1]) > 100
        for a, b in zip(direct[1], fast[1]):
            assert a[:12] == b[:12] and a[14:] == b[14:]        # all but mae/mfe (not computed)
            assert math.isnan(b[12]) and math.isnan(b[13])
