"""The portfolio backtest: every shipped setup on EURUSD and XAUUSD (the M5 sample year) traded together under the
risk governor — how much the governor and the merge cost next to the single backtests they build on.

Run: ``.venv/bin/python benchmarks/bench_portfolio.py`` — prints the median of 5 runs of (a) the components'
single backtests, (b) merging + governing + statistics + daily-R correlation (:func:`portfolio_backtest`), and the
ratio b / a; plus the governor alone over 10,000 generated trades (trades per second). Nothing is written.
Timings on a shared machine are noisy: compare ratios, and look at ``uptime`` first.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ita.backtest.core import backtest
from ita.backtest.governor import GovernorRules, govern
from ita.backtest.portfolio import portfolio_backtest
from ita.backtest.runner import load_period_candles
from ita.data.store import CandleStore
from ita.setups import list_setups, load_setup

START, END = "2025-01-01", "2025-11-06"
RULES = GovernorRules(max_daily_loss_r=2, max_open_risk_r=3, max_trades_per_day=4)


def median_time(fn, repeats: int = 5) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    store = CandleStore()
    store.ensure_samples()
    frames = [(load_setup(sid), sym) for sid in sorted(list_setups()) for sym in ("EURUSD", "XAUUSD")]
    candles = [(ls, sym, load_period_candles(store, ls, sym, START, END)) for ls, sym in frames]
    t_single, results = median_time(lambda: [backtest(ls, c, sym, start=START, end=END) for ls, sym, c in candles])
    t_pf, pf = median_time(lambda: portfolio_backtest(results, RULES))
    rng = np.random.default_rng(7)
    n = 10_000
    entry = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 300 * 288, n)) * 5, "min")
    synthetic = pd.DataFrame({"entry_time": entry, "exit_known": entry + pd.to_timedelta(rng.integers(1, 48, n) * 5, "min"),
                              "r": rng.choice([-1.0, 2.0], n), "risk_pct": 1.0})
    t_gov, _ = median_time(lambda: govern(synthetic, RULES))
    tab = Table(title=f"Portfolio of {len(results)} setup × symbol components, {START} → {END} (median of 5; "
                      f"load {os.getloadavg()[0]:.1f})")
    for col in ("step", "trades", "seconds", "ratio"):
        tab.add_column(col, justify="right" if col != "step" else "left")
    tab.add_row("single backtests (reference)", str(len(pf.candidates)), f"{t_single:.3f}", "1.00")
    tab.add_row("merge + governor + statistics + correlation", f"{len(pf.trades)} taken", f"{t_pf:.3f}",
                f"{t_pf / t_single:.2f}")
    tab.add_row(f"governor alone, {n:,} generated trades", f"{n / t_gov:,.0f}/s", f"{t_gov:.3f}", "—")
    Console().print(tab)


if __name__ == "__main__":
    main()
