"""Walk-forward analysis: per fold, the best variant on the train window (by the objective, with at least
``min_trades`` trades there) is traded on the next test window only; the out-of-sample trades of all test
windows form one equity curve.

Folds over the trading days ``start``…``end`` (New York dates, inclusive): fold k tests
``[start + train + k·test, … + test)``; it trains on the ``train`` span right before (rolling) or on everything
from ``start`` (``anchored``). The last test window ends at ``end``. No choice ever sees a test window: the
variants' trades are computed once over the whole period (each trade belongs to its signal's trading day D)
and a fold's choice reads only trades whose day D lies in its train window.

Walk-forward efficiency (Pardo, *The Evaluation and Optimization of Trading Strategies*, 2008): annualised
out-of-sample R / annualised in-sample R of the chosen variants (R per trading day × 252); NaN when the
in-sample R is ≤ 0 (not meaningful).

Example::

    >>> from ita.research import walk_forward
    >>> wf = walk_forward("asia_fvg_break", "EURUSD", "2025-01-01", "2025-12-31", grid={"rr": "1.5,2,3"},
    ...                   train="6M", test="1M")                                        # doctest: +SKIP
    >>> wf.row["oos_total_r"], wf.row["oos_profit_factor"], wf.row["wfe"]              # doctest: +SKIP
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.research.sweep import OBJECTIVES, SweepOutcome, check_objective, params_label, sweep
from ita.research.variants import DAYS_PER_YEAR, daily_r, sharpe, trade_stats


def parse_span(text: str) -> pd.DateOffset:
    """``"6M"`` → 6 months, ``"2W"`` weeks, ``"30D"`` days, ``"1Y"`` years. Raises :class:`ItaError`."""
    m = re.fullmatch(r"\s*(\d+)\s*([DWMY])\s*", str(text).upper())
    if not m or int(m.group(1)) < 1:
        raise ItaError(f"{text!r} is not a span like 6M, 1M, 2W, 30D or 1Y.")
    n, unit = int(m.group(1)), m.group(2)
    return {"D": pd.DateOffset(days=n), "W": pd.DateOffset(weeks=n), "M": pd.DateOffset(months=n),
            "Y": pd.DateOffset(years=n)}[unit]


@dataclass
class Fold:
    """One fold: train and test windows as inclusive New York dates (naive Timestamps)."""

    fold: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp


def make_folds(start, end, train: str, test: str, anchored: bool = False) -> list[Fold]:
    """The folds of ``start``…``end``. Raises :class:`ItaError` when not even one full train window plus a test
    window fits (naming what the period needs)."""
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    tr, te = parse_span(train), parse_span(test)
    out: list[Fold] = []
    k = 0
    while True:
        test_start = lo + tr
        for _ in range(k):
            test_start = test_start + te
        if test_start > hi:
            break
        test_end = min(test_start + te - pd.Timedelta(days=1), hi)
        train_start = lo if anchored else test_start - tr
        out.append(Fold(k + 1, train_start, test_start - pd.Timedelta(days=1), test_start, test_end))
        k += 1
    if not out:
        need = (lo + tr + te - pd.Timedelta(days=1)).date()
        raise ItaError(f"The period {lo.date()} → {hi.date()} is too short for --train {train} --test {test}: one "
                       f"fold needs data until at least {need}. Use a longer period or shorter windows.")
    return out


@dataclass
class FoldResult:
    """A fold's choice and outcome: ``variant``/``params`` chosen on the train window (None when no variant had
    ``min_trades`` there), in-sample (``is_*``) and out-of-sample (``oos_*``) trades, total R, profit factor;
    ``oos_t_r``/``oos_t_entry`` the test trades (R, entry epoch seconds)."""

    fold: Fold
    variant: int | None
    params: dict | None
    is_trades: int = 0
    is_total_r: float = 0.0
    is_profit_factor: float = math.nan
    is_objective: float = math.nan
    is_days: int = 0
    oos_trades: int = 0
    oos_total_r: float = 0.0
    oos_profit_factor: float = math.nan
    oos_days: int = 0
    oos_t_r: list = field(default_factory=list)
    oos_t_entry: list = field(default_factory=list)
    is_t_r: list = field(default_factory=list)

    @property
    def wfe(self) -> float:
        """Annualised OOS R / annualised IS R of this fold (NaN when IS ≤ 0 or no choice)."""
        if self.variant is None or not self.is_total_r > 0 or not self.oos_days or not self.is_days:
            return math.nan
        return (self.oos_total_r / self.oos_days) / (self.is_total_r / self.is_days)


def _window(days: pd.DatetimeIndex, a: pd.Timestamp, b: pd.Timestamp) -> np.ndarray:
    return np.flatnonzero((days >= a) & (days <= b))


def choose_and_test(variants: list[dict], days: pd.DatetimeIndex, folds: list[Fold], objective: str,
                    min_trades: int) -> list[FoldResult]:
    """Per fold: the best ``ok`` variant on the train window (objective of its train trades only; ties → the
    lowest variant index), then its trades in the test window. ``variants`` carry ``t_day`` (index into
    ``days``), ``t_r``, ``t_entry``."""
    key = OBJECTIVES[check_objective(objective)][0]
    out: list[FoldResult] = []
    arrs = [(v, np.asarray(v.get("t_day", []), dtype="int64"), np.asarray(v.get("t_r", []), dtype="float64"),
             np.asarray(v.get("t_entry", []), dtype="int64")) for v in variants if v.get("status") == "ok"]
    for f in folds:
        tr_idx, te_idx = _window(days, f.train_start, f.train_end), _window(days, f.test_start, f.test_end)
        t0, t1 = (tr_idx[0], tr_idx[-1]) if len(tr_idx) else (1, 0)
        best, best_val, best_st = None, -math.inf, None
        for v, d, r, _e in arrs:
            inside = (d >= t0) & (d <= t1)
            st = trade_stats(r[inside])
            if st["trades"] < min_trades:
                continue
            st["sharpe"] = sharpe(daily_r(d[inside] - t0, r[inside], len(tr_idx)))
            val = st[key]
            if val is None or (isinstance(val, float) and math.isnan(val)):
                continue
            if val > best_val:
                best, best_val, best_st = (v, d, r, _e), val, st
        if best is None:
            out.append(FoldResult(f, None, None, is_days=len(tr_idx), oos_days=len(te_idx)))
            continue
        v, d, r, e = best
        s0, s1 = (te_idx[0], te_idx[-1]) if len(te_idx) else (1, 0)
        test = (d >= s0) & (d <= s1)
        ost = trade_stats(r[test])
        out.append(FoldResult(f, int(v["index"]), dict(v["params"]), is_trades=best_st["trades"],
                              is_total_r=best_st["total_r"], is_profit_factor=best_st["profit_factor"],
                              is_objective=float(best_val), is_days=len(tr_idx), oos_trades=ost["trades"],
                              oos_total_r=ost["total_r"], oos_profit_factor=ost["profit_factor"], oos_days=len(te_idx),
                              oos_t_r=r[test].tolist(), oos_t_entry=e[test].tolist(),
                              is_t_r=r[(d >= t0) & (d <= t1)].tolist()))
    return out


def summarise(results: list[FoldResult]) -> dict:
    """Overall figures: ``folds``, ``oos_trades``, ``oos_total_r``, ``oos_profit_factor``, ``oos_max_dd_r``,
    ``is_total_r``, ``is_profit_factor`` (the chosen variants' train trades together), ``wfe``."""
    oos = np.array([x for f in results for x in f.oos_t_r], dtype="float64")
    is_r = np.array([x for f in results for x in f.is_t_r], dtype="float64")
    o, i = trade_stats(oos), trade_stats(is_r)
    chosen = [f for f in results if f.variant is not None]
    oos_days = sum(f.oos_days for f in chosen)
    is_rate = np.mean([f.is_total_r / f.is_days for f in chosen if f.is_days]) if chosen else math.nan
    oos_rate = sum(f.oos_total_r for f in chosen) / oos_days if oos_days else math.nan
    wfe = oos_rate / is_rate if chosen and is_rate > 0 else math.nan
    return {"folds": len(results), "folds_traded": len(chosen), "oos_trades": o["trades"],
            "oos_total_r": o["total_r"], "oos_profit_factor": o["profit_factor"], "oos_max_dd_r": o["max_dd_r"],
            "oos_win_rate": o["win_rate"], "is_total_r": i["total_r"], "is_profit_factor": i["profit_factor"],
            "wfe": wfe, "oos_r_per_year": oos_rate * DAYS_PER_YEAR if oos_days else math.nan,
            "is_r_per_year": is_rate * DAYS_PER_YEAR if chosen else math.nan}


@dataclass
class WalkForwardOutcome:
    """``sweep`` the full-period search behind it (variants, DSR, PBO, artifacts), ``folds`` the fold results,
    ``row`` the stored ``walk_forwards`` row."""

    sweep: SweepOutcome
    folds: list[FoldResult]
    row: dict

    @property
    def wf_id(self) -> str:
        return self.sweep.sweep_id

    @property
    def artifacts(self) -> dict[str, Path]:
        return self.sweep.artifacts


def walk_forward(setup_id: str, symbol: str, start, end, *, version=None, grid=None, train: str = "6M",
                 test: str = "1M", anchored: bool = False, objective: str = "total_r", min_trades: int = 20,
                 spread=None, commission=None, workers: int | None = None, cluster: str | None = None,
                 charts: bool = True, confirm: bool = False, progress=None) -> WalkForwardOutcome:
    """Run a walk-forward (see the module doc) and store it (``walk_forwards``, ``walk_forward_folds`` and the
    search as a sweep of kind ``walk_forward``). Raises :class:`ItaError` for bad input — including a period
    too short for the folds — before anything runs."""
    check_objective(objective)
    folds = make_folds(start, end, train, test, anchored)
    holder: dict = {}

    def analyse(prep, variants, row):
        res = choose_and_test(variants, prep.days, folds, objective, min_trades)
        s = summarise(res)
        wf_id = row["sweep_id"]
        fold_rows = [{"wf_id": wf_id, "fold": f.fold.fold, "train_start": str(f.fold.train_start.date()),
                      "train_end": str(f.fold.train_end.date()), "test_start": str(f.fold.test_start.date()),
                      "test_end": str(f.fold.test_end.date()), "variant": f.variant, "params": f.params,
                      "is_trades": f.is_trades, "is_total_r": f.is_total_r, "is_profit_factor": f.is_profit_factor,
                      "oos_trades": f.oos_trades, "oos_total_r": f.oos_total_r,
                      "oos_profit_factor": f.oos_profit_factor, "wfe": f.wfe} for f in res]
        wf = {"wf_id": wf_id, "created_at": row["created_at"], "setup_id": row["setup_id"],
              "setup_version": row["setup_version"], "setup_hash": row["setup_hash"], "symbol": row["symbol"],
              "start": row["start"], "end": row["end"], "train": train, "test": test, "anchored": int(anchored),
              "objective": objective, "min_trades": min_trades, **s, "dsr": row["dsr"], "pbo": row["pbo"],
              "status": row["status"], "folder": row["folder"]}
        holder.update(results=res, wf=wf)

        def charts_fn(folder, warnings):
            from ita.research.figures import folds_figure, write

            oos = pd.DataFrame({"time": pd.to_datetime([t for f in res for t in f.oos_t_entry], unit="s", utc=True),
                                "r": [x for f in res for x in f.oos_t_r]})
            oos["cum_r"] = oos["r"].cumsum()
            months = lambda n: max(n, 1) / 21.0  # noqa: E731 - trading days per month
            fl = [{"fold": f.fold.fold, "test_start": str(f.fold.test_start.date()),
                   "test_end": str(f.fold.test_end.date()), "label": params_label(f.params) if f.params else "no choice",
                   "is_r_per_month": f.is_total_r / months(f.is_days), "oos_r_per_month": f.oos_total_r / months(f.oos_days)}
                  for f in res]
            title = (f"Walk-forward {row['setup_id']} v{row['setup_version']} · {row['symbol']} · train {train}, test "
                     f"{test}{' anchored' if anchored else ''} · OOS {s['oos_total_r']:+.1f} R, PF "
                     f"{s['oos_profit_factor']:.2f}")
            oos.to_csv(folder / "oos_trades.csv", index=False)
            pd.DataFrame(fold_rows).drop(columns=["wf_id"]).to_csv(folder / "folds.csv", index=False)
            arts = {"oos_trades.csv": folder / "oos_trades.csv", "folds.csv": folder / "folds.csv"}
            arts.update(write(folds_figure(oos, fl, title), folder, "folds", warnings, png=charts, height=800))
            return arts

        return {"train": train, "test": test, "anchored": int(anchored)}, wf, fold_rows, charts_fn

    out = sweep(setup_id, symbol, start, end, version=version, grid=grid, objective=objective, min_trades=min_trades,
                spread=spread, commission=commission, workers=workers, cluster=cluster, charts=charts,
                confirm=confirm, kind="walk_forward", progress=progress, analyse=analyse)
    return WalkForwardOutcome(sweep=out, folds=holder["results"], row=holder["wf"])
