"""The backtest suite: every shipped setup against an independent reference implementation, trade by trade,
and ITA's statistics against backtesting.py's ``compute_stats`` on the same trades.

**References.** ``evals/backtest/<setup_id>.py`` (and ``tests/reference/asia_fvg_break_reference.py``) each
define ``reference_trades(candles, pip) -> DataFrame`` written from the setup's own YAML/README text without
reading ``ita/setups`` or ``ita/backtest``; they parse the raw MT5 CSV themselves (``load_mt5_csv``). The
suite runs ITA's :func:`ita.backtest.backtest` on the stored candles at zero spread and commission and
compares the two trade lists in time order: direction, entry/exit time (UTC bar opens), entry/exit price,
the order's limit, stop and target, exit reason and R (prices within 1e-9, R within 1e-9). The first
differing trade is a failure, shown with both versions.

**Statistics.** ITA's ``Win Rate [%]``, ``Profit Factor``, ``Expectancy [R]``, ``Max Drawdown [R]``,
``Max Drawdown [%]`` and ``Return [%]`` are recomputed by ``backtesting.lib``'s ``compute_stats`` (0.6.6)
from ITA's own trades: ``ReturnPct`` = R / 100 (so its Profit Factor and ``Expectancy [%]`` are in R), P&L =
R × the fixed risk (``Account`` × ``Risk per Trade [%]``), equity = account + closed P&L per bar; its
drawdown fraction × the running peak / risk = the drawdown in R. ITA reports no Sharpe ratio (one sample
year of trades is too few for an honest one), so backtesting.py's is shown, not compared.

Modes ``<setup>@<SYMBOL>`` (the latest version; ``<setup>.v<N>@<SYMBOL>`` for an older version whose reference
module lists it in ``VERSIONS``); metrics: ``trades_ita``, ``trades_reference``, ``agreement`` (share of trades
identical up to the first difference, over the longer list), ``mismatched_trades`` (trades after and
including the first difference, + the count difference), ``unmatched_trades`` (trades in only one list, matched
on entry time, direction and limit), ``stat_mismatches``. Quick mode: EURUSD only.
"""
from __future__ import annotations

import importlib.util
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ita.evals.store import SuiteRun

REPO = Path(__file__).resolve().parents[2]
REF_DIR = REPO / "evals" / "backtest"
REFERENCES = {"asia_fvg_break": REPO / "tests" / "reference" / "asia_fvg_break_reference.py"}
SYMBOLS = ("EURUSD", "XAUUSD")
PRICE_TOL = 1e-9
PAIRS = [("direction", "direction"), ("entry_time", "entry_time"), ("exit_time", "exit_time"),
         ("entry_price", "entry_price"), ("exit_price", "exit_price"), ("limit_price", "limit"),
         ("sl_price", "stop"), ("tp_price", "target"), ("exit_reason", "exit_reason"), ("r", "r")]
STATS = {"Win Rate [%]": "Win Rate [%]", "Profit Factor": "Profit Factor", "Expectancy [R]": "Expectancy [%]",
         "Max Drawdown [%]": "Max. Drawdown [%]", "Return [%]": "Return [%]"}


def reference_path(setup_id: str) -> Path | None:
    p = REFERENCES.get(setup_id) or REF_DIR / f"{setup_id}.py"
    return p if p.is_file() else None


def load_reference(setup_id: str):
    """The reference module of ``setup_id`` (``evals/backtest`` on ``sys.path`` for its shared ``refkit``)."""
    path = reference_path(setup_id)
    if path is None:
        return None
    if str(REF_DIR) not in sys.path:
        sys.path.insert(0, str(REF_DIR))
    spec = importlib.util.spec_from_file_location(f"ita_eval_ref_{setup_id}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _same(a, b, col: str) -> bool:
    if col in ("entry_time", "exit_time"):
        return pd.Timestamp(a) == pd.Timestamp(b)
    if col in ("direction", "exit_reason"):
        return str(a) == str(b)
    try:
        return abs(float(a) - float(b)) <= PRICE_TOL * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return False


def compare_trades(ours: pd.DataFrame, ref: pd.DataFrame) -> tuple[int, dict | None]:
    """``(n identical from the start, first difference or None)``; the difference names the trade number
    (1-based), the fields that differ and both versions."""
    ours = ours.sort_values("entry_time").reset_index(drop=True)
    ref = ref.sort_values("entry_time").reset_index(drop=True)
    for i in range(max(len(ours), len(ref))):
        if i >= len(ours) or i >= len(ref):
            extra = ref.iloc[i] if i < len(ref) else ours.iloc[i]
            who = "reference" if i < len(ref) else "ITA"
            return i, {"trade": i + 1, "fields": ["count"], "only_in": who,
                       "ita": _row(ours.iloc[i], True) if i < len(ours) else None,
                       "reference": _row(ref.iloc[i], False) if i < len(ref) else None,
                       "note": f"only the {who} has a trade on {pd.Timestamp(extra['entry_time']):%Y-%m-%d %H:%M} UTC"}
        diff = [a for a, b in PAIRS if not _same(ours.iloc[i][a], ref.iloc[i][b], a)]
        if diff:
            return i, {"trade": i + 1, "fields": diff, "ita": _row(ours.iloc[i], True), "reference": _row(ref.iloc[i], False)}
    return len(ours), None


def unmatched(ours: pd.DataFrame, ref: pd.DataFrame) -> int:
    """Trades in only one of the lists, matched on (entry time, direction, limit price to 1e-9): unlike the
    prefix agreement, one extra or missing trade counts once, not for every trade after it."""
    def keys(df, limit_col):
        return {(pd.Timestamp(t), str(d), round(float(x), 9)) for t, d, x in zip(df["entry_time"], df["direction"], df[limit_col])}
    a, b = keys(ours, "limit_price"), keys(ref, "limit")
    return len(a ^ b)


def trade_text(t: dict | None) -> str:
    """One trade as a line: ``short 2025-04-28 15:00 → 16:55 UTC, entry 1.1379 (limit 1.1379) SL 1.14145 TP 1.129
    stop −1.00R``; ``none`` when the list has no such trade."""
    if not t:
        return "none"
    return (f"{t['direction']} {t['entry_time']} → {t['exit_time'][-5:] if t['exit_time'][:10] == t['entry_time'][:10] else t['exit_time']} UTC, "
            f"entry {t['entry_price']:g} (order {t['limit_price']:g}) SL {t['sl_price']:g} TP {t['tp_price']:g} "
            f"{t['exit_reason']} {t['r']:+.2f}R")


def _row(r: pd.Series, ours: bool) -> dict:
    out = {}
    for a, b in PAIRS:
        v = r[a if ours else b]
        out[a] = f"{pd.Timestamp(v):%Y-%m-%d %H:%M}" if a.endswith("_time") else (round(float(v), 6) if isinstance(v, (int, float, np.floating)) else str(v))
    return out


def stats_crosscheck(trades: pd.DataFrame, stats: pd.Series, candles: pd.DataFrame) -> tuple[list[dict], dict]:
    """ITA's statistics vs ``compute_stats`` on the same trades: ``(differences, backtesting.py's values)``."""
    from backtesting._stats import compute_stats

    account = float(stats.get("Account", 100_000.0))
    risk = account * float(stats.get("Risk per Trade [%]", 1.0)) / 100
    idx = candles.index
    t = trades.sort_values("exit_time").reset_index(drop=True)
    r = t["r"].astype(float)                       # ITA's R is net of commission already
    entry_bar = idx.get_indexer(pd.DatetimeIndex(t["entry_time"]), method="ffill")
    exit_bar = idx.get_indexer(pd.DatetimeIndex(t["exit_time"]), method="ffill")
    tdf = pd.DataFrame({"Size": 1, "EntryBar": entry_bar, "ExitBar": exit_bar, "EntryPrice": t["entry_price"].astype(float),
                        "ExitPrice": t["exit_price"].astype(float), "SL": t["sl_price"], "TP": t["tp_price"],
                        "PnL": r * risk, "ReturnPct": r / 100, "EntryTime": t["entry_time"], "ExitTime": t["exit_time"]})
    tdf["Duration"] = pd.DatetimeIndex(tdf["ExitTime"]) - pd.DatetimeIndex(tdf["EntryTime"])
    pnl_by_bar = np.zeros(len(idx))
    np.add.at(pnl_by_bar, exit_bar, (r * risk).to_numpy())
    equity = account + np.cumsum(pnl_by_bar)
    ohlc = candles.rename(columns=str.capitalize)[["Open", "High", "Low", "Close"]]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = compute_stats(tdf, equity, ohlc, None)
    eq = bt["_equity_curve"]
    dd_r = float((eq["DrawdownPct"] * eq["Equity"].cummax()).max() / risk) if len(eq) else 0.0
    theirs = {ours: float(bt[b]) for ours, b in STATS.items()}
    theirs["Max Drawdown [%]"] = abs(theirs["Max Drawdown [%]"])      # backtesting.py reports it negative
    theirs["Max Drawdown [R]"] = dd_r
    theirs["Sharpe Ratio (backtesting.py, not in ITA)"] = float(bt["Sharpe Ratio"])
    diffs = []
    for name, v in theirs.items():
        if name not in stats.index:
            continue
        mine = float(stats[name])
        if (math.isnan(mine) and math.isnan(v)) or abs(mine - v) <= 1e-6 * max(1.0, abs(v)):
            continue
        diffs.append({"stat": name, "ita": mine, "backtesting.py": v})
    return diffs, theirs


def run_backtest_eval(quick: bool = False, progress: Callable[[str], None] = lambda _m: None,
                      setups: list[str] | None = None, symbols: tuple[str, ...] | None = None) -> SuiteRun:
    """Every shipped setup × sample symbol (quick: EURUSD only). A setup without a reference is reported as
    a failure ("no independent reference yet"), never skipped silently."""
    from ita.backtest import backtest
    from ita.config import settings
    from ita.data.instruments import get_instrument
    from ita.data.store import SAMPLE_FILES, CandleStore
    from ita.setups import list_setups, load_setup

    t0 = time.perf_counter()
    store = CandleStore()
    store.ensure_samples()
    metrics: dict[str, dict[str, float]] = {}
    failures: list[dict] = []
    details: dict[str, dict] = {}
    syms = symbols or (("EURUSD",) if quick else SYMBOLS)
    jobs = []
    for setup_id in setups or sorted(list_setups()):
        ref_mod = load_reference(setup_id)
        latest = load_setup(setup_id)
        versions = [v for v in getattr(ref_mod, "VERSIONS", ()) if v != latest.version] + [latest.version]
        jobs += [(setup_id, ref_mod, v, v == latest.version) for v in versions]
    for setup_id, ref_mod, version, is_latest in jobs:
        loaded = load_setup(setup_id, version)
        for sym in syms:
            mode = f"{setup_id}@{sym}" if is_latest else f"{setup_id}.v{version}@{sym}"
            progress(f"backtest: {mode}")
            candles = store.load(sym, "M5")
            res = backtest(loaded, candles, sym, spread_pips=0, commission_per_lot=0)
            ours = res.trades
            diffs, theirs = stats_crosscheck(ours, res.stats, candles) if len(ours) else ([], {})
            m = {"trades_ita": float(len(ours)), "stat_mismatches": float(len(diffs))}
            for d in diffs:
                failures.append({"mode": mode, "item": d["stat"], "what": "statistic vs backtesting.py compute_stats",
                                 "expected": f"{d['backtesting.py']:.6g} (backtesting.py)", "got": f"{d['ita']:.6g} (ITA)"})
            if ref_mod is None:
                m.update(trades_reference=math.nan, agreement=math.nan, mismatched_trades=math.nan,
                         unmatched_trades=math.nan)
                failures.append({"mode": mode, "item": "reference", "what": f"{setup_id} v{loaded.version}",
                                 "expected": "an independent reference in evals/backtest/", "got": "none yet"})
            else:
                path = Path(settings().sample_data_dir) / SAMPLE_FILES[sym]
                kw = {"version": version} if hasattr(ref_mod, "VERSIONS") else {}
                ref = ref_mod.reference_trades(ref_mod.load_mt5_csv(path), pip=get_instrument(sym).pip_size, **kw)
                same, first = compare_trades(ours, ref)
                n = max(len(ours), len(ref))
                m.update(trades_reference=float(len(ref)), agreement=(same / n) if n else 1.0,
                         mismatched_trades=float(n - same), unmatched_trades=float(unmatched(ours, ref)))
                if first is not None:
                    failures.append({"mode": mode, "item": f"trade {first['trade']}",
                                     "what": "first differing trade (" + ", ".join(first["fields"]) + ")",
                                     "expected": "reference: " + trade_text(first["reference"]),
                                     "got": "ITA: " + trade_text(first["ita"]), "note": first.get("note", ""),
                                     "reference": first["reference"], "ita": first["ita"]})
            metrics[mode] = m
            details[mode] = {"version": loaded.version, "sha256": getattr(loaded, "sha256", None),
                             "backtesting_py": {k: (None if v != v else round(v, 6)) for k, v in theirs.items()}}
    return SuiteRun.new("backtest", metrics, failures=failures, details=details, quick=quick,
                        seconds=time.perf_counter() - t0)
