"""Speed of research runs (issue 13): sweeps in process / on a LocalCluster / on a real Dask scheduler + workers,
the ratio against backtesting.py's ``Backtest.optimize`` on the same grid of a comparable strategy, growth with
×10 data, walk-forward and Monte Carlo.

Run from the repo root:  python benchmarks/bench_research.py [--variants 1000] [--bt-variants 12] [--repeats 3]

Uses a throw-away ITA_HOME (``$TMPDIR/ita_bench_research``) and the sample exports (``ITA_SAMPLE_DATA``).
Medians of ``--repeats`` runs, each sweep cold (no variant runner or cache kept from an earlier repeat, as in a new
``ita research sweep`` process); the machine is shared: read them with the printed ``uptime`` load.

1. ``asia_fvg_break`` on the EURUSD year, a grid of rr × fvg.min_gap_pips × within_bars × stop buffer
   (1,000 variants; 10 distinct FVG detector configurations): wall time, variants/s, peak RSS.
   Targets: ≤ 30 s, ≤ 2 GB.
2. The same grid's first ``--bt-variants`` (rr × min gap) in backtesting.py ``Backtest.optimize`` with a comparable
   strategy (Asia range break → first FVG within 3 bars → limit at its near edge, stop 1 pip beyond, target rr,
   cancelled at 11:00, flat at 16:00 New York), per variant, vs ours per variant. Target: ≥ 50×.
3. ×10 data (the year repeated 10 times, shifted by whole weeks): a 40-variant sweep on both; growth ≈ linear.
4. The 1,000-variant sweep with ``--workers 2`` (LocalCluster) and on a ``dask scheduler`` + 2 ``dask worker``
   processes on 127.0.0.1: ratio to in-process (target ≤ 1.3×).
5. Walk-forward, 12+ folds × 100 variants (target ≤ 60 s); Monte Carlo 10,000 paths × 1,000 trades (≤ 1 s).
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HOME = Path(tempfile.gettempdir()) / "ita_bench_research"
os.environ["ITA_HOME"] = str(HOME)
for _v in ("ITA_DATA_DIR", "ITA_RUNS_DIR", "ITA_DB", "ITA_DASK_SCHEDULER"):
    os.environ.pop(_v, None)

from benchmarks.bench_backtest import repeat_by_weeks  # noqa: E402
from ita.data.store import CandleStore  # noqa: E402
from ita.research.montecarlo import monte_carlo  # noqa: E402
from ita.research.sweep import sweep  # noqa: E402
from ita.research.walkforward import walk_forward  # noqa: E402

SETUP, SYMBOL = "asia_fvg_break", "EURUSD"
START, END = "2025-01-01", "2025-12-31"
RR = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5]
GAP = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0]
GRID_1000 = {"target.rr": RR, "detectors.fvg.min_gap_pips": GAP, "sequence.1.within_bars": [1, 2, 3, 4, 5],
             "stop.buffer_pips": [0.5, 1.0]}


def cold() -> None:
    """Forget this process's variant runners (their detector, walk and order caches): every timed sweep starts
    cold, as a new ``ita research sweep`` process does — otherwise repeats 2+ reuse the first run's walks."""
    from ita.research import executor

    executor._RUNNERS.clear()


def _clear_worker_caches() -> None:  # runs on each Dask worker
    from ita.research import executor

    executor._RUNNERS.clear()


def median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(max(1, repeats)):
        cold()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def rss_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its (waited-for) children, MB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def grid_of(n: int) -> dict:
    """The first ``n`` points of GRID_1000 as its own (smaller) grid, varying rr and the gap first."""
    if n >= 1000:
        return GRID_1000
    k = max(1, int(round(n ** 0.5)))
    return {"target.rr": RR[:k], "detectors.fvg.min_gap_pips": GAP[:max(1, n // k)]}


# ------------------------------------------------------------------------------------ backtesting.py side

_ARR: dict = {}  # per-bar arrays of the comparable strategy (module level: optimize's worker processes fork)
PIP = 1e-4


def _make_strategy():
    from backtesting import Strategy

    class AsiaFvg(Strategy):
        """Asia range break (close beyond the 20:00–24:00 NY range between 00:00 and 05:00) → the first FVG of
        ≥ min_gap pips among the next 3 bars → limit at its near edge, stop 1 pip beyond, target rr; cancel at
        11:00, flat at 16:00 New York."""

        rr = 2.0
        min_gap = 1.0

        def init(self):
            self.state = {}

        def next(self):
            minute, day, rng_hi, rng_lo = _ARR["minute"], _ARR["day"], _ARR["hi"], _ARR["lo"]
            i = len(self.data) - 1
            m, d = minute[i], day[i]
            st = self.state
            if st.get("day") != d:
                st.clear()
                st["day"] = d
            if m >= 16 * 60 - 5:
                for t in self.trades:
                    t.close()
            if m >= 11 * 60:
                for o in self.orders:
                    if not o.is_contingent:
                        o.cancel()
                return
            c = self.data.Close[-1]
            if "bias" not in st and 0 <= m < 5 * 60 and np.isfinite(rng_hi[i]):
                if c > rng_hi[i]:
                    st.update(bias=1, bar=i)
                elif c < rng_lo[i]:
                    st.update(bias=-1, bar=i)
                return
            if "bias" in st and "done" not in st and st["bar"] < i <= st["bar"] + 3 and i >= 2:
                h2, l2 = self.data.High[-3], self.data.Low[-3]
                h0, l0 = self.data.High[-1], self.data.Low[-1]
                if st["bias"] > 0 and l0 - h2 >= self.min_gap * PIP:
                    entry, sl = l0, h2 - PIP
                    self.buy(size=0.1, limit=entry, sl=sl, tp=entry + self.rr * (entry - sl))
                    st["done"] = True
                elif st["bias"] < 0 and l2 - h0 >= self.min_gap * PIP:
                    entry, sl = h0, l2 + PIP
                    self.sell(size=0.1, limit=entry, sl=sl, tp=entry - self.rr * (sl - entry))
                    st["done"] = True

    return AsiaFvg


AsiaFvg = None


def bt_optimize_seconds(m5: pd.DataFrame, rr: list, gaps: list) -> tuple[float, int, pd.Series]:
    """Backtest.optimize of the comparable strategy over rr × min gap; (seconds, variants, best stats)."""
    global AsiaFvg
    from backtesting import Backtest

    from ita.times import NY

    ny = m5.index.tz_convert(NY)
    minute = (ny.hour * 60 + ny.minute).to_numpy()
    day = ny.normalize().tz_localize(None).to_numpy()
    in_asia = minute >= 20 * 60  # the Asia range of day D: 20:00–24:00 NY the evening before, known from 00:00
    asia_day = (ny.normalize() + pd.Timedelta(days=1)).tz_localize(None).to_numpy()
    hi = pd.Series(m5["high"].to_numpy()[in_asia]).groupby(asia_day[in_asia]).max()
    lo = pd.Series(m5["low"].to_numpy()[in_asia]).groupby(asia_day[in_asia]).min()
    _ARR.update(minute=minute, day=day, hi=pd.Series(day).map(hi).to_numpy(dtype="float64"),
                lo=pd.Series(day).map(lo).to_numpy(dtype="float64"))
    AsiaFvg = _make_strategy()
    AsiaFvg.__qualname__ = "AsiaFvg"
    data = m5.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(data, AsiaFvg, cash=1_000_000, commission=0, margin=1 / 30, finalize_trades=True)
        t0 = time.perf_counter()
        best = bt.optimize(rr=rr, min_gap=gaps, maximize="Return [%]")
        secs = time.perf_counter() - t0
    return secs, len(rr) * len(gaps), best


# ----------------------------------------------------------------------------------------------- dask

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int = 2):
    bindir = Path(sys.executable).parent
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    log = open(HOME / "dask.log", "w")
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT)]
    time.sleep(3)
    procs.append(subprocess.Popen([str(bindir / "dask"), "worker", addr, "--nworkers", str(workers), "--nthreads",
                                   "1", "--no-dashboard", "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT))
    from distributed import Client

    with Client(addr, timeout="60s") as c:
        c.wait_for_workers(workers, timeout=120)
    return addr, procs, log


def stop_cluster(procs, log) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in reversed(procs):
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    log.close()


# ----------------------------------------------------------------------------------------------- main

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", type=int, default=1000, help="size of the main grid (1000 = the issue's)")
    ap.add_argument("--bt-variants", type=int, default=12, help="variants run in backtesting.py's optimize")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (median kept)")
    ap.add_argument("--skip-dask", action="store_true", help="skip the LocalCluster and scheduler runs")
    args = ap.parse_args(argv)
    HOME.mkdir(parents=True, exist_ok=True)
    store = CandleStore()
    store.ensure_samples([SYMBOL])
    year = store.load(SYMBOL, "M5")
    print(f"Python {platform.python_version()}, pandas {pd.__version__}, {os.cpu_count()} CPUs; "
          f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; ITA_HOME {HOME}")
    grid = grid_of(args.variants)
    n = int(np.prod([len(v) for v in grid.values()]))

    def run(**kw):
        return sweep(SETUP, SYMBOL, START, END, grid=grid, charts=False, min_trades=30, **kw)

    t_in, out = median_time(run, args.repeats)
    me, kids = rss_mb()
    per = t_in / n
    print(f"\n1. Sweep {n} variants in process: {t_in:.1f} s median ({n / t_in:.0f} variants/s, {per * 1000:.1f} ms "
          f"per variant); peak RSS {me:.0f} MB. Target ≤ 30 s / ≤ 2 GB → {'OK' if t_in <= 30 and me < 2048 else 'MISSED'}."
          f"  Best: {out.best['params'] if out.best else None}")

    k = max(1, int(round(args.bt_variants ** 0.5)))
    rr, gaps = RR[:k], GAP[:max(1, args.bt_variants // k)]
    bt_runs = [bt_optimize_seconds(year, rr, gaps) for _ in range(max(1, args.repeats))]
    t_bt = statistics.median(b[0] for b in bt_runs)
    _, n_bt, best = bt_runs[0]
    cold()
    small = sweep(SETUP, SYMBOL, START, END, grid={"target.rr": rr, "detectors.fvg.min_gap_pips": gaps}, charts=False)
    t_small, _ = median_time(lambda: sweep(SETUP, SYMBOL, START, END,
                                           grid={"target.rr": rr, "detectors.fvg.min_gap_pips": gaps}, charts=False),
                             args.repeats)
    print(f"2. backtesting.py Backtest.optimize, same rr × min gap grid ({n_bt} variants, comparable strategy): "
          f"{t_bt:.1f} s median = {t_bt / n_bt * 1000:.0f} ms per variant ({best['# Trades']} trades in its best). ITA on the "
          f"same {n_bt}: {t_small:.2f} s ({t_small / n_bt * 1000:.1f} ms/variant, with storage); on the 1,000 grid "
          f"{per * 1000:.1f} ms/variant. Ratio per variant: ×{(t_bt / n_bt) / per:.0f} (1,000 grid), "
          f"×{(t_bt / n_bt) / (t_small / n_bt):.0f} (same {n_bt}). Target ≥ 50×. ({len(small.variants)} variants)")

    big_dir = HOME / "x10"
    big = CandleStore(big_dir)
    if "M5" not in big.stored_timeframes(SYMBOL):
        big.write(SYMBOL, "M5", repeat_by_weeks(year, 10), {"source": f"{SYMBOL} sample ×10"})
    g40 = {"target.rr": RR[:8], "detectors.fvg.min_gap_pips": GAP[:5]}
    t1, _ = median_time(lambda: sweep(SETUP, SYMBOL, START, END, grid=g40, charts=False), args.repeats)
    os.environ["ITA_DATA_DIR"] = str(big_dir)
    try:
        t10, o10 = median_time(lambda: sweep(SETUP, SYMBOL, "2025-01-01", "2035-12-31", grid=g40, charts=False), 1)
    finally:
        os.environ.pop("ITA_DATA_DIR")
    print(f"3. 40 variants: year {t1:.1f} s, year ×10 {t10:.1f} s → ×{t10 / t1:.1f} for ×10 data "
          f"({len(o10.days)} trading days).")

    if not args.skip_dask:
        t_lc, o_lc = median_time(lambda: run(workers=2), 1)
        same = [v["t_r"] for v in o_lc.variants] == [v["t_r"] for v in out.variants]
        print(f"4a. LocalCluster 2 workers: {t_lc:.1f} s (×{t_lc / t_in:.2f} of in-process, incl. cluster start); "
              f"identical results: {same}.")
        addr, procs, log = start_cluster(2)
        from distributed import Client

        def on_cluster():
            with Client(addr, timeout="60s") as c:      # the workers' runners too: each repeat starts cold
                c.run(_clear_worker_caches)
            return run(cluster=addr)

        try:
            t_cl, o_cl = median_time(on_cluster, args.repeats)
        finally:
            stop_cluster(procs, log)
        same = [v["t_r"] for v in o_cl.variants] == [v["t_r"] for v in out.variants]
        print(f"4b. dask scheduler + 2 dask worker processes on 127.0.0.1: {t_cl:.1f} s median (×{t_cl / t_in:.2f} "
              f"of in-process; target ≤ 1.3×) → {'OK' if t_cl <= 1.3 * t_in else 'MISSED'}; identical: {same}.")

    g100 = {"target.rr": RR, "detectors.fvg.min_gap_pips": GAP}
    t_wf, wf = median_time(lambda: walk_forward(SETUP, SYMBOL, START, END, grid=g100, train="2M", test="3W",
                                                min_trades=10, charts=False), 1)
    print(f"5a. Walk-forward {wf.row['folds']} folds × {len(wf.sweep.variants)} variants: {t_wf:.1f} s (target "
          f"≤ 60 s) → {'OK' if t_wf <= 60 else 'MISSED'}; OOS {wf.row['oos_total_r']:+.1f} R.")
    r = np.random.default_rng(0).choice([-1.0, 2.0], size=1000, p=[0.7, 0.3])
    monte_carlo(r, n=100)
    t_mc, _ = median_time(lambda: monte_carlo(r, n=10_000), max(3, args.repeats))
    print(f"5b. Monte Carlo 10,000 paths × 1,000 trades: {t_mc:.2f} s median (target ≤ 1 s) → "
          f"{'OK' if t_mc <= 1 else 'MISSED'}.")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
