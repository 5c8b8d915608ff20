"""Every shipped setup on the EURUSD and XAUUSD M5 sample year: evaluate (detectors + sequence) and simulate.

Run: ``.venv/bin/python benchmarks/bench_setups.py`` — prints, per setup and symbol, bars, signals,
trades, the best-of-N wall time of ``evaluate`` and of the whole ``backtest`` (evaluate + simulate +
statistics), and bars per second. Nothing is written.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from ita.backtest.core import backtest
from ita.data.store import CandleStore
from ita.setups import evaluate, list_setups, load_setup


def best(fn, repeats: int = 3) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    store = CandleStore()
    store.ensure_samples()
    tab = Table(title="Shipped setups on the M5 sample year (best of 3)")
    for col in ("setup", "symbol", "bars", "signals", "trades", "evaluate [s]", "backtest [s]", "bars/s"):
        tab.add_column(col, justify="right" if col not in ("setup", "symbol") else "left")
    for sid in sorted(list_setups()):
        loaded = load_setup(sid)
        for sym in ("EURUSD", "XAUUSD"):
            m5 = store.load(sym, "M5")
            t_ev, sig = best(lambda: evaluate(loaded, m5, sym))
            t_bt, res = best(lambda: backtest(loaded, m5, sym))
            tab.add_row(f"{sid} v{loaded.version}", sym, f"{len(m5):,}", str(len(sig)), str(len(res.trades)),
                        f"{t_ev:.3f}", f"{t_bt:.3f}", f"{len(m5) / t_bt:,.0f}")
    Console().print(tab)


if __name__ == "__main__":
    main()
