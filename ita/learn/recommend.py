"""Recommendations a trader can check: a setup's trades split by session, weekday, New York hour, volatility
regime and direction; each split tested against the rest; the survivors of Benjamini–Hochberg phrased as a
concrete change ("skip Mondays") and checked **out of sample** by a walk-forward backtest of the changed setup.

1. **Discovery window** — the first ``discovery`` fraction of the setup's trades in time. For every split value
   with at least ``min_n`` trades: the win rate with its Wilson 95 % interval, the rest's win rate, Fisher's
   exact test (two-sided) of the 2 × 2 table, the expectancy in R. Benjamini–Hochberg (1995) controls the false
   discovery rate over all the split values tested (``scipy.stats.false_discovery_control``); a value survives
   at ``q ≤ fdr``.
2. **Change** — a surviving value that does worse than the rest becomes "skip it"; one that does better
   becomes "only it". A weekday is a real setup change (its ``days`` list); the others filter the setup's
   signals before the simulator (with one trade a day at most, a skipped signal's day could in the changed
   setup still produce a later signal — the check then understates the change).
3. **Out of sample** — :func:`walk_forward_check` backtests the original and the changed setup month by month
   on the later period the discovery never saw (``ita.backtest.backtest``, the same costs) and reports the
   difference in R per month. It is the one function to point at the research engine's walk-forward once it
   exists.

Example::

    >>> rec = recommend(load_setup("ib_raid"), ["EURUSD", "XAUUSD"])           # doctest: +SKIP
    >>> rec.findings[["change", "q", "oos_delta_r"]]                            # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.learn.validation import wilson
from ita.times import NY

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FDR = 0.10
MIN_N = 10


def _vol(x: float) -> str:
    return "low volatility" if x < 1 / 3 else "high volatility" if x > 2 / 3 else "mid volatility"


#: split name → value of a dataset row (the features are known at the signal)
SPLITS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "weekday": lambda d: d["weekday"].astype(int).map(lambda k: WEEKDAYS[k]),
    "session": lambda d: d["session"].astype(str),
    "hour": lambda d: d["ny_hour"].astype(float).map(lambda h: f"{int(h):02d}:00–{int(h) + 1:02d}:00 NY"),
    "volatility": lambda d: d["atr_pct_20d"].astype(float).map(lambda x: _vol(x) if np.isfinite(x) else "n/a"),
    "direction": lambda d: d["side"].astype(str),
}


@dataclass
class Recommendation:
    """``splits`` (every split value tested: ``split``, ``value``, ``n``, ``wins``, ``win_rate``, ``lo``, ``hi``,
    ``rest_win_rate``, ``expectancy``, ``total_r``, ``p``, ``q``), ``findings`` (the survivors with ``change``,
    the in-sample effect and the out-of-sample check), ``discovery_end`` (last day of the discovery window),
    ``months`` (the per-month out-of-sample table of every finding), ``trades`` (how many in the discovery)."""

    setup_id: str
    symbols: list[str]
    splits: pd.DataFrame
    findings: pd.DataFrame
    discovery_end: pd.Timestamp
    oos_end: pd.Timestamp
    trades: int
    months: pd.DataFrame = field(default_factory=pd.DataFrame)


def split_table(trades: pd.DataFrame, min_n: int = MIN_N) -> pd.DataFrame:
    """Per split value (module doc, step 1) on the dataset rows ``trades`` (filled, final), with BH ``q``."""
    from scipy.stats import false_discovery_control, fisher_exact

    rows = []
    win = trades["win"].astype(bool).to_numpy()
    r = trades["r"].astype(float).to_numpy()
    for split, fn in SPLITS.items():
        vals = fn(trades).to_numpy()
        for v in pd.unique(vals):
            sel = vals == v
            n = int(sel.sum())
            if n < min_n or n == len(vals) or v == "n/a":
                continue
            w, rw, rn = int(win[sel].sum()), int(win[~sel].sum()), int((~sel).sum())
            p = fisher_exact([[w, n - w], [rw, rn - rw]])[1]
            lo, hi = wilson(w, n)
            rows.append({"split": split, "value": str(v), "n": n, "wins": w, "win_rate": w / n, "lo": lo, "hi": hi,
                         "rest_win_rate": rw / rn, "expectancy": float(r[sel].mean()), "total_r": float(r[sel].sum()),
                         "rest_expectancy": float(r[~sel].mean()), "p": float(p)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["q"] = false_discovery_control(df["p"].to_numpy(), method="bh")
    return df.sort_values(["q", "p"], kind="stable").reset_index(drop=True)


def change_of(row: dict) -> tuple[str, str]:
    """``(kind, text)`` of a finding: ``skip`` when the value does worse than the rest, else ``only``."""
    worse = row["expectancy"] < row["rest_expectancy"]
    v = row["value"]
    if row["split"] == "weekday":
        return ("skip", f"skip {v}") if worse else ("only", f"only on {v}")
    if row["split"] == "direction":
        return ("skip", f"skip {v}s") if worse else ("only", f"only {v}s")
    return ("skip", f"skip signals in {v}") if worse else ("only", f"only signals in {v}")


def _keep_mask(sig_values: np.ndarray, value: str, kind: str) -> np.ndarray:
    return (sig_values != value) if kind == "skip" else (sig_values == value)


def walk_forward_check(loaded, symbols: list[str], split: str, value: str, kind: str, start, end, *, store=None,
                       values_of: Callable | None = None) -> pd.DataFrame:
    """Backtest ``loaded`` and its changed version (``kind`` ``skip``/``only`` of ``split`` = ``value``) month by
    month over the New York trading days ``start``…``end`` on ``symbols``; one row per month and symbol:
    ``month``, ``symbol``, ``trades``/``trades_changed``, ``total_r``/``total_r_changed``, ``delta_r`` (R).

    ``values_of(signals, candles, symbol) -> array`` gives each signal's split value (the feature catalogue's);
    a weekday change runs the setup with its ``days`` changed instead. This is the out-of-sample check's one
    entry point: swap in the research engine's walk-forward here.
    """
    from ita.backtest import backtest
    from ita.backtest.core import execution_model
    from ita.backtest.engine import simulate
    from ita.data.store import CandleStore
    from ita.learn.features import FEATURE_HISTORY
    from ita.setups import warmup

    store = store or CandleStore()
    months = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M")
    changed = loaded
    if split == "weekday":
        days = [d for d in loaded.setup.days if (d != value) == (kind == "skip")]
        changed = dataclasses.replace(loaded, setup=loaded.setup.model_copy(update={"days": days}))
    rows = []
    for sym in symbols:
        for m in months:
            lo = max(pd.Timestamp(m.start_time), pd.Timestamp(start))
            hi = min(pd.Timestamp(m.end_time).normalize(), pd.Timestamp(end))
            back = max(warmup(loaded.setup), FEATURE_HISTORY) + pd.Timedelta(days=1)
            try:                      # the setup's warm-up and the features' history before the month
                candles = store.load(sym, loaded.setup.timeframe, lo - back, hi + pd.Timedelta(days=1, hours=23, minutes=59))
            except ItaError:
                continue
            if candles.empty:
                continue
            a = backtest(loaded, candles, sym, start=lo, end=hi)
            if split == "weekday":
                b_tr = backtest(changed, candles, sym, start=lo, end=hi).trades
            else:
                sig = a.signals.drop(columns=["status"])
                keep = _keep_mask(np.asarray(values_of(sig, candles, sym)), value, kind) if len(sig) else []
                model = execution_model(loaded, sym, None, None, float(candles["close"].iloc[-1]))
                b_tr, _ = simulate(candles, sig[keep].reset_index(drop=True), model)
            ra = float(a.trades["r"].sum()) if len(a.trades) else 0.0
            rb = float(b_tr["r"].sum()) if len(b_tr) else 0.0
            rows.append({"month": str(m), "symbol": sym, "trades": len(a.trades), "trades_changed": len(b_tr),
                         "total_r": ra, "total_r_changed": rb, "delta_r": rb - ra})
    return pd.DataFrame(rows)


def recommend(loaded, symbols: list[str], dataset: pd.DataFrame, *, discovery: float = 0.6, fdr: float = FDR,
              min_n: int = MIN_N, store=None, progress=None) -> Recommendation:
    """Recommendations for ``loaded`` on ``symbols`` from its ``dataset`` rows (a setups dataset): discovery on
    the first ``discovery`` of its trades in time, the BH survivors checked by :func:`walk_forward_check` on the
    rest of the period. Raises :class:`~ita.errors.ItaError` when the setup has too few trades."""
    d = dataset[(dataset["setup_id"] == loaded.id) & dataset["symbol"].isin(symbols)]
    d = d[d["filled"].astype(bool) & (d["exit_reason"] != "end_of_data")].sort_values("known_at", kind="stable")
    if len(d) < 3 * min_n:
        raise ItaError(f"{loaded.id} has {len(d)} finished trades on {', '.join(symbols)} in the dataset; "
                       f"recommendations need at least {3 * min_n}.")
    cut = int(round(len(d) * discovery))
    disc = d.iloc[:cut]
    disc_end = pd.Timestamp(disc["day"].max()).normalize()
    oos_end = pd.Timestamp(dataset["day"].max()).normalize()
    table = split_table(disc, min_n)
    found = table[table["q"] <= fdr] if len(table) else table
    rows, months = [], []
    for k, r in enumerate(found.to_dict("records")):
        kind, text = change_of(r)
        keep = _keep_mask(SPLITS[r["split"]](disc).to_numpy(), r["value"], kind)
        in_delta = float(disc["r"].to_numpy()[keep].sum() - disc["r"].sum())
        wf = walk_forward_check(loaded, symbols, r["split"], r["value"], kind, disc_end + pd.Timedelta(days=1), oos_end,
                                store=store, values_of=feature_values(r["split"]))
        if progress:
            progress(k + 1, len(found), text)
        months.append(wf.assign(change=text))
        by_m = wf.groupby("month")["delta_r"].sum() if len(wf) else pd.Series(dtype=float)
        oos = float(wf["delta_r"].sum()) if len(wf) else float("nan")
        rows.append({**r, "change": text, "kind": kind, "in_sample_delta_r": in_delta, "oos_delta_r": oos,
                     "oos_trades": int(wf["trades"].sum()) if len(wf) else 0,
                     "oos_trades_changed": int(wf["trades_changed"].sum()) if len(wf) else 0,
                     "oos_months_better": int((by_m > 0).sum()), "oos_months": int(len(by_m)),
                     "holds": bool(oos > 0)})
    return Recommendation(loaded.id, symbols, table, pd.DataFrame(rows), disc_end, oos_end, len(disc),
                          pd.concat(months, ignore_index=True) if months else pd.DataFrame())


def feature_values(split: str) -> Callable:
    """``values_of`` for :func:`walk_forward_check`: each signal's ``split`` value from the feature catalogue,
    computed at the signal (no look-ahead)."""
    def values_of(sig: pd.DataFrame, candles: pd.DataFrame, symbol: str) -> np.ndarray:
        from ita.learn.features import compute_features

        ev = pd.DataFrame({"known_at": sig["known_at"], "direction": np.where(sig["direction"] == "long", 1.0, -1.0),
                           "price": sig["entry_price"].astype(float), "stop": sig["sl_price"].astype(float),
                           "group": sig["rule_id"], "day": pd.to_datetime(sig["day"])})
        if split == "direction":
            return sig["direction"].astype(str).to_numpy()
        if split == "weekday":
            return np.array([WEEKDAYS[t.day_of_week] for t in pd.DatetimeIndex(sig["known_at"]).tz_convert(NY)])
        f = compute_features(candles, ev, symbol)
        return SPLITS[split](f.assign(side=sig["direction"].to_numpy())).to_numpy()
    return values_of
