"""Detector benchmark: every ITA detector on the EURUSD M5 sample year and on that year ×10, and the ratio
against ``smartmoneyconcepts`` (smc 0.0.27) computing the overlapping concepts on the same data.

    python benchmarks/bench_detectors.py [--repeats 3] [--smc-repeats 3] [--skip-smc]

Target (issue 3): all detectors on the year in under 0.5 s, growing linearly. smc is timed on the year
only (it is far slower); its first call includes numba compilation, so it is warmed up once first. Every
time is the median of its runs (never the best run).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.bench_backtest import repeat_by_weeks  # noqa: E402
from ita.data.store import CandleStore  # noqa: E402
from ita.detectors import fvg, range_break, session_range  # noqa: E402
from ita.detectors.indicators import atr  # noqa: E402
from ita.detectors.levels import initial_balance, opening_levels, previous_period_levels  # noqa: E402
from ita.detectors.liquidity import equal_levels, sweeps  # noqa: E402
from ita.detectors.structure import order_blocks, structure_breaks, swings  # noqa: E402
from ita.sessions import SessionWindow, get_session  # noqa: E402


def median_time(fn, repeats):
    """(median wall time in s, last result) over ``repeats`` calls."""
    out, times = None, []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def ours(c):
    """Every detector once; returns {name: seconds} (single run each, inside the median-of loop of the caller)."""
    times = {}

    def tick(name, f):
        t0 = time.perf_counter()
        r = f()
        times[name] = times.get(name, 0.0) + time.perf_counter() - t0
        return r

    tick("fvg (3 modes)", lambda: [fvg(c, 1e-4, 1.0, m, timeframe="M5") for m in ("touch", "midpoint", "close_through")])
    r = tick("session range + break", lambda: session_range(c, get_session("asia"), timeframe="M5"))
    tick("session range + break", lambda: range_break(c, r, SessionWindow(start="00:00", end="05:00"), timeframe="M5"))
    sw = tick("swings", lambda: swings(c, 2, 2, timeframe="M5"))
    br = tick("BOS/CHoCH", lambda: structure_breaks(c, sw, by="close", timeframe="M5"))
    tick("order blocks", lambda: order_blocks(c, br, timeframe="M5"))
    tick("ATR (ta-lib)", lambda: atr(c))
    d = tick("prev day/week/month", lambda: previous_period_levels(c, "D", timeframe="M5"))
    tick("prev day/week/month", lambda: [previous_period_levels(c, p, timeframe="M5") for p in ("W", "M")])
    e = tick("equal highs/lows", lambda: equal_levels(c, tolerance_atr=0.1, timeframe="M5"))
    tick("sweeps", lambda: [sweeps(c, d, "high", timeframe="M5"), sweeps(c, d, "low", timeframe="M5"),
                            sweeps(c, e, timeframe="M5")])
    tick("opening levels + IB", lambda: [opening_levels(c, k, timeframe="M5") for k in ("ny_midnight", "daily", "weekly")]
         + [initial_balance(c, timeframe="M5")])
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3, help="runs per ITA measurement (median)")
    ap.add_argument("--smc-repeats", type=int, default=3, help="runs per smartmoneyconcepts measurement (median; ≥ 3)")
    ap.add_argument("--skip-smc", action="store_true")
    a = ap.parse_args()
    con = Console(width=120)
    store = CandleStore(os.environ.get("ITA_DATA_DIR") or Path(tempfile.gettempdir()) / "ita_bench_data")
    store.ensure_samples(["EURUSD"])
    year = store.load("EURUSD", "M5")
    x10 = repeat_by_weeks(year, 10)

    tab = Table(title=f"ITA detectors on EURUSD M5 — median of {a.repeats}")
    tab.add_column("detector")
    tab.add_column(f"year ({len(year):,} bars) ms", justify="right")
    tab.add_column(f"×10 ({len(x10):,} bars) ms", justify="right")
    tab.add_column("growth", justify="right")
    res = {}
    for name, c in (("year", year), ("x10", x10)):
        runs = [ours(c) for _ in range(a.repeats)]
        res[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    for k in res["year"]:
        tab.add_row(k, f"{res['year'][k] * 1e3:.1f}", f"{res['x10'][k] * 1e3:.1f}", f"{res['x10'][k] / res['year'][k]:.1f}×")
    ty, tx = sum(res["year"].values()), sum(res["x10"].values())
    tab.add_row("[bold]all[/]", f"[bold]{ty * 1e3:.0f}[/]", f"[bold]{tx * 1e3:.0f}[/]", f"{tx / ty:.1f}×")
    con.print(tab)
    con.print(f"Target: all detectors on the year < 500 ms → {'OK' if ty < 0.5 else 'MISSED'} ({ty * 1e3:.0f} ms)")

    if a.skip_smc:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from smartmoneyconcepts import smc
    ohlc = year[["open", "high", "low", "close", "volume"]]
    smc.swing_highs_lows(ohlc.iloc[:500], swing_length=3)  # numba warm-up
    cmp = Table(title=f"Same concepts vs smartmoneyconcepts 0.0.27 on the year (medians: ITA of {a.repeats}, "
                      f"smc of {a.smc_repeats} runs, warmed up)")
    for col in ("concept", "ITA ms", "smc ms", "smc / ITA"):
        cmp.add_column(col, justify="right" if col != "concept" else "left")
    sw_smc = None
    pairs = [
        ("FVG", lambda: fvg(year, 1e-4, 0.0, "touch", timeframe="M5"), lambda: smc.fvg(ohlc)),
        ("swings", lambda: swings(year, 2, 3, timeframe="M5"), lambda: smc.swing_highs_lows(ohlc, swing_length=3)),
    ]
    for name, f_ours, f_smc in pairs:
        t_o, _ = median_time(f_ours, a.repeats)
        t_s, out = median_time(f_smc, a.smc_repeats)
        if name == "swings":
            sw_smc = out
        cmp.add_row(name, f"{t_o * 1e3:.1f}", f"{t_s * 1e3:.1f}", f"{t_s / t_o:.0f}×")
    sw = swings(year, 2, 3, timeframe="M5")
    t_o, _ = median_time(lambda: structure_breaks(year, sw, timeframe="M5"), a.repeats)
    t_s, _ = median_time(lambda: smc.bos_choch(ohlc, sw_smc, close_break=True), a.smc_repeats)
    cmp.add_row("BOS/CHoCH", f"{t_o * 1e3:.1f}", f"{t_s * 1e3:.1f}", f"{t_s / t_o:.0f}×")
    con.print(cmp)
    con.print("smc's definitions are not causal (it revises past swings); ITA's carry confirmed_at. See tests/test_structure.py.")


if __name__ == "__main__":
    main()
