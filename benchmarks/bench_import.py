"""Import benchmark: a year of M1 candles (~370k rows, generated here: FX hours Sunday 17:00 → Friday 17:00
New York) written as a HistData MT file (no header, EST), an MT5 CSV (server clock Europe/Athens) and a
Binance kline dump (epoch ms), each imported into a fresh throw-away candle store with
``CandleStore.import_file`` — format detection, parsing, clock inference from the weekly rhythm, validation,
the Parquet write and the M5 … D1 resampling of the M1 series. Median of ``--repeats`` runs.

    python benchmarks/bench_import.py [--repeats 5] [--keep DIR]

Target (issue 17): ≤ 5 s per file including validation and resampling. The reference row is the bare
``pandas.read_csv`` of the same MT5 file (the floor any reader pays), so the ratio shows what ITA adds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

NY = "America/New_York"


def year_of_m1(year: int = 2025, seed: int = 1) -> pd.DataFrame:
    """M1 EURUSD-like candles for every FX trading minute of ``year`` (UTC index)."""
    a = pd.Timestamp(f"{year - 1}-12-28", tz=NY)
    idx = pd.date_range(a, pd.Timestamp(f"{year}-12-31", tz=NY), freq="1min")
    ny = idx
    mow = ((ny.day_of_week + 1) % 7) * 1440 + ny.hour * 60 + ny.minute          # minute of the NY week, Sunday 0
    idx = idx[(mow >= 17 * 60) & (mow < 5 * 1440 + 17 * 60)].tz_convert("UTC")
    rng = np.random.default_rng(seed)
    n = len(idx)
    close = np.round(1.08 + np.cumsum(rng.normal(0, 0.00015, n)), 5)
    open_ = np.round(np.r_[1.08, close[:-1]], 5)
    high = np.round(np.maximum(open_, close) + rng.integers(0, 8, n) * 1e-5, 5)
    low = np.round(np.minimum(open_, close) - rng.integers(0, 8, n) * 1e-5, 5)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.integers(1, 200, n)}, index=idx)


def write_files(c: pd.DataFrame, folder: Path) -> dict[str, Path]:
    px = c[["open", "high", "low", "close"]].map(lambda v: f"{v:.5f}")
    est = (c.index - pd.Timedelta(hours=5)).tz_localize(None)
    hd = pd.DataFrame({"d": est.strftime("%Y.%m.%d"), "t": est.strftime("%H:%M")}).join(px.reset_index(drop=True))
    hd["v"] = 0
    files = {"HistData MT (EST, no header)": folder / "DAT_MT_EURUSD_M1_2025.csv"}
    hd.to_csv(files["HistData MT (EST, no header)"], header=False, index=False)
    mt = pd.DataFrame({"time": c.index.tz_convert("Europe/Athens").strftime("%Y.%m.%d %H:%M:%S")}).join(
        px.reset_index(drop=True))
    mt["tick_volume"], mt["spread"], mt["real_volume"] = c["volume"].to_numpy(), 7, 0
    files["MT5 CSV (Europe/Athens)"] = folder / "EURUSD_M1_2025.csv"
    mt.to_csv(files["MT5 CSV (Europe/Athens)"], index=False)
    bn = pd.DataFrame({"t": c.index.asi8 // 10**6}).join(px.reset_index(drop=True))
    bn["v"] = c["volume"].to_numpy()
    bn["ct"] = bn["t"] + 59_999
    for k in range(5):
        bn[f"x{k}"] = 0
    files["Binance klines (epoch ms)"] = folder / "EURUSD-1m-2025.csv"
    bn.to_csv(files["Binance klines (epoch ms)"], header=False, index=False)
    return files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, help="write the generated files here (default: a temp dir)")
    a = ap.parse_args()
    os.environ.setdefault("ITA_HOME", tempfile.mkdtemp(prefix="ita_bench_home_"))
    from ita.data.store import CandleStore

    con = Console(width=150)
    folder = a.keep or Path(tempfile.mkdtemp(prefix="ita_bench_import_"))
    folder.mkdir(parents=True, exist_ok=True)
    with con.status("Generating a year of M1 …"):
        c = year_of_m1()
        files = write_files(c, folder)
    t = Table(title=f"Import of a year of M1: {len(c):,} rows, median of {a.repeats} (load {os.getloadavg()[0]:.2f})")
    for col in ("file", "MB", "median [s]", "min [s]", "× read_csv", "clock", "stored"):
        t.add_column(col, justify="left" if col in ("file", "clock", "stored") else "right")
    mt5 = files["MT5 CSV (Europe/Athens)"]
    ref = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        pd.read_csv(mt5)
        ref.append(time.perf_counter() - t0)
    ref_med = statistics.median(ref)
    t.add_row("pandas.read_csv of the MT5 file (reference)", f"{mt5.stat().st_size / 1e6:.1f}", f"{ref_med:.2f}",
              f"{min(ref):.2f}", "1.0", "—", "—")
    for name, f in files.items():
        times, res = [], None
        for _ in range(a.repeats):
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                res = CandleStore(Path(d)).import_file(f, "EURUSD")
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        t.add_row(name, f"{f.stat().st_size / 1e6:.1f}", f"{med:.2f}", f"{min(times):.2f}", f"{med / ref_med:.1f}",
                  res.read.clock.name if res.read.clock else "UTC (epoch)", f"M1 + {', '.join(res.derived)}")
    con.print(t)
    con.print("Target: ≤ 5 s per file (validation and resampling included).")


if __name__ == "__main__":
    main()
