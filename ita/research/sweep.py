"""Parameter sweeps: every variant of a grid (or a random sample of it, or Optuna's TPE trials) backtested on
one symbol and period, ranked by an objective, with the overfitting statistics of the whole search, stored in
SQLite with the setup's version hash and the grid, plus a folder of artifacts.

Folder ``$ITA_RUNS_DIR/<sweep_id>/``: ``variants.csv`` (one row per variant: parameters, statistics, rank),
``summary.json``, ``heatmap.html`` / ``heatmap.png`` (objective over two parameters). Built under a temporary
name and renamed into place; the SQLite rows are written in one transaction after that.

Objectives (higher is better): ``total_r`` (Σ R), ``expectancy`` (mean R), ``profit_factor``, ``sharpe`` (of
daily R over every trading day, annualised × √252). Variants with fewer than ``min_trades`` trades are
shown but not ranked. The overfitting statistics (:mod:`ita.research.overfit`) use the daily R of every
variant that traded.

Example::

    >>> from ita.research import sweep
    >>> out = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-12-31",
    ...             grid={"rr": "1.5,2,2.5,3", "fvg.min_gap_pips": "0.5:2:0.5"})        # doctest: +SKIP
    >>> out.best["params"], out.best["total_r"], out.pbo.pbo                           # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ita import __version__
from ita.errors import ItaError, SetupError
from ita.research.executor import Executor, Progress, RunSpec
from ita.research.grid import MAX_VARIANTS_WITHOUT_CONFIRM, Grid, describe, parse_grid_specs, resolve_grid
from ita.research.overfit import PBO, DeflatedSharpe, deflated_sharpe, pbo, plain_words
from ita.research.store import ResearchStore
from ita.research.variants import VariantRunner, daily_r

#: objective → (the variant field it reads, how a trader reads it)
OBJECTIVES: dict[str, tuple[str, str]] = {
    "total_r": ("total_r", "Total R"),
    "expectancy": ("expectancy", "Expectancy [R]"),
    "profit_factor": ("profit_factor", "Profit factor"),
    "sharpe": ("sharpe", "Sharpe (daily R, annualised)"),
}
SEARCHES = ("grid", "random", "optuna")
#: Optuna asks this many trials at a time whatever the number of workers (so results do not depend on it).
OPTUNA_BATCH = 8
#: Rough cost of one variant on one core, for the estimate printed before a huge grid.
SECONDS_PER_VARIANT = 0.01  # measured 2.7 ms on an idle core, 5–9 ms under load (benchmarks/README.md)


@dataclass
class Prepared:
    """A sweep ready to run: the base setup, the resolved grid, the planned variants, the candles, the spec."""

    base: object
    raw_text: str
    grid: Grid
    candles: pd.DataFrame
    spec: RunSpec
    days: pd.DatetimeIndex
    planned: list[dict]
    lower: pd.DataFrame | None = None       # stored M1 bars for intrabar resolution (as ``ita backtest``)

    @property
    def data(self):
        """What the executor sends to each worker once: the candles, or ``(candles, m1)``."""
        return self.candles if self.lower is None else (self.candles, self.lower)


@dataclass
class SweepOutcome:
    """A finished (or interrupted) sweep: ``row`` (the stored ``sweeps`` row), ``variants`` (every variant as a
    dict with ``rank`` / ``objective_value``), ``dsr``/``pbo`` (None when too few variants or days), ``verdict``
    (the two in plain words), ``artifacts`` (name → path), ``where`` (what ran it), ``elapsed`` seconds."""

    sweep_id: str
    row: dict
    variants: list[dict]
    grid: Grid
    days: pd.DatetimeIndex
    folder: Path
    artifacts: dict[str, Path]
    dsr: DeflatedSharpe | None
    pbo: PBO | None
    verdict: str
    interrupted: bool
    where: str
    elapsed: float
    warnings: list[str] = field(default_factory=list)

    @property
    def best(self) -> dict | None:
        return next((v for v in self.variants if v.get("rank") == 1), None)

    def ranked(self) -> list[dict]:
        return sorted((v for v in self.variants if v.get("rank") is not None), key=lambda v: v["rank"])


def check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        from ita.errors import closest

        raise ItaError(f"Unknown objective {objective!r}.{closest(objective, OBJECTIVES)} Use one of: "
                       f"{', '.join(OBJECTIVES)}.")
    return objective


def params_label(params: dict) -> str:
    """``target.rr=3, detectors.fvg.min_gap_pips=1.5`` shortened to the leaf names when they are unique."""
    leaves = [k.split(".")[-1] for k in params]
    use_leaf = len(set(leaves)) == len(leaves)
    return ", ".join(f"{k.split('.')[-1] if use_leaf else k}={v}" for k, v in params.items()) or "the setup as is"


def _validate_axes(runner_base: VariantRunner, grid: Grid) -> None:
    """Every value of every axis alone must give a valid setup: one clear message naming path, type and range."""
    for path, vals in grid.axes.items():
        cur = grid.current.get(path)
        for v in vals:
            try:
                runner_base.loaded({path: v})
            except SetupError as exc:
                msg = str(exc).split(": ", 2)[-1]
                raise SetupError(f"--grid {path}={v!r}: {msg} ({path} is {describe(cur)}; the setup has {cur!r}).") \
                    from None


def prepare(setup_id: str, symbol: str, start, end, *, version=None, grid=None, search: str = "grid",
            trials: int | None = None, seed: int = 0, spread=None, commission=None, confirm: bool = False,
            session: str | None = None) -> Prepared:
    """Resolve and check everything before any variant runs (nothing is stored). Raises
    :class:`~ita.errors.ItaError` for an unknown setup/symbol/path, a value of the wrong type, a grid over
    :data:`~ita.research.grid.MAX_VARIANTS_WITHOUT_CONFIRM` variants without ``confirm``, a missing period."""
    from ita.backtest.runner import load_period_candles
    from ita.data.instruments import get_instrument
    from ita.data.store import SAMPLE_FILES, CandleStore
    from ita.setups.evaluate import warmup
    from ita.setups.loader import load_setup

    if search not in SEARCHES:
        raise ItaError(f"Unknown search {search!r}: use grid, random or optuna.")
    base = load_setup(setup_id, version)
    inst = get_instrument(symbol)
    raw_text = base.path.read_text(encoding="utf-8")
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if hi < lo:
        raise ItaError(f"The period ends ({hi.date()}) before it starts ({lo.date()}).")
    g = resolve_grid(__import__("yaml").safe_load(raw_text), parse_grid_specs(grid) if not isinstance(grid, Grid)
                     else grid.axes)
    if search == "grid":
        n = g.size
    else:
        if not trials or trials < 1:
            raise ItaError(f"--search {search} needs --trials N (how many variants to try).")
        n = min(trials, g.size)
    if n > MAX_VARIANTS_WITHOUT_CONFIRM and not confirm:
        est = n * SECONDS_PER_VARIANT
        raise ItaError(f"The grid has {n:,} variants (≈ {est / 60:.0f} min on one core, less with --workers). "
                       f"Over {MAX_VARIANTS_WITHOUT_CONFIRM:,} needs --yes; or use --search random --trials N.")
    store = CandleStore()
    if inst.symbol in SAMPLE_FILES and "M5" not in store.stored_timeframes(inst.symbol):
        store.ensure_samples([inst.symbol])
    probe = VariantRunner(base, raw_text, inst.symbol, pd.DataFrame(
        {"open": [], "high": [], "low": [], "close": []}, index=pd.DatetimeIndex([], tz="UTC")), lo, hi)
    _validate_axes(probe, g)
    longest = base
    for path, vals in g.axes.items():  # the longest warm-up any value asks for
        for v in vals:
            ls = probe.loaded({path: v})
            if warmup(ls.setup) > warmup(longest.setup):
                longest = ls
    candles = load_period_candles(store, longest, inst.symbol, lo, hi)
    from ita.backtest.runner import lower_timeframe_candles
    from ita.research.variants import fingerprint

    # stored M1 bars resolve intrabar ambiguity exactly as in ``ita backtest`` — for every variant whose
    # execution.intrabar is lower_timeframe (the base's mode, or a swept value)
    modes = {base.setup.execution.intrabar, *map(str, g.axes.get("execution.intrabar", []))}
    lower = (lower_timeframe_candles(store, probe.loaded({"execution.intrabar": "lower_timeframe"}), inst.symbol,
                                     candles) if "lower_timeframe" in modes else None)

    spec = RunSpec(setup_id=base.id, version=base.version, path=str(base.path), content_hash=base.content_hash,
                   raw_text=raw_text, symbol=inst.symbol, start=str(lo.date()), end=str(hi.date()), spread=spread,
                   commission=commission, session=session,
                   data_key=fingerprint(candles) + ("" if lower is None else "+m1:" + fingerprint(lower)))
    days = VariantRunner(base, raw_text, inst.symbol, candles, lo, hi).days
    planned = g.points() if search == "grid" else (g.sample(n, seed) if search == "random" else [])
    return Prepared(base=base, raw_text=raw_text, grid=g, candles=candles, spec=spec, days=days, planned=planned,
                    lower=lower)


def rank_variants(variants: list[dict], objective: str, min_trades: int) -> None:
    """Set ``objective_value`` and ``rank`` (1 = best, ties by variant index; None when failed, below
    ``min_trades`` or the objective is undefined) on every variant dict, in place."""
    key = OBJECTIVES[check_objective(objective)][0]
    elig = []
    for v in variants:
        val = v.get(key) if v.get("status") == "ok" else math.nan
        val = math.nan if val is None else float(val)
        v["objective_value"] = val
        v["rank"] = None
        if v.get("status") == "ok" and v.get("trades", 0) >= min_trades and not math.isnan(val):
            elig.append(v)
    for k, v in enumerate(sorted(elig, key=lambda d: (-d["objective_value"], d["index"])), start=1):
        v["rank"] = k


def overfitting(variants: list[dict], n_days: int) -> tuple[DeflatedSharpe | None, PBO | None]:
    """DSR of the rank-1 variant against every variant that traded, and PBO (CSCV) over them."""
    traded = [v for v in variants if v.get("status") == "ok" and v.get("trades", 0) > 0]
    best = next((v for v in variants if v.get("rank") == 1), None)
    if not traded or best is None or n_days < 4:
        return None, None

    def dr(v):
        d = np.asarray(v["t_day"], dtype="int64")
        r = np.asarray(v["t_r"], dtype="float64")
        return daily_r(d[d >= 0], r[d >= 0], n_days)

    mat = np.column_stack([dr(v) for v in traded])
    srs = []
    for j in range(mat.shape[1]):
        sd = mat[:, j].std(ddof=1)
        srs.append(mat[:, j].mean() / sd if sd > 1e-12 else np.nan)
    try:
        d = deflated_sharpe(dr(best), trial_srs=np.array(srs), n_trials=len(variants))
    except ValueError:
        d = None
    try:
        p = pbo(mat) if mat.shape[1] >= 2 else None
    except ValueError:
        p = None
    return d, p


def _optuna_run(prep: Prepared, ex: Executor, objective: str, min_trades: int, trials: int, seed: int,
                done: list[dict], progress: Progress | None) -> tuple[list[dict], bool]:
    """Optuna TPE over the grid's values (categorical), in batches of :data:`OPTUNA_BATCH` asked trials;
    trials repeating a tried combination reuse its result. ``done`` are variants already run (resume)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    key = OBJECTIVES[objective][0]
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    dists = {p: optuna.distributions.CategoricalDistribution(vals) for p, vals in prep.grid.axes.items()}

    def value(v):
        x = v.get(key) if v.get("status") == "ok" and v.get("trades", 0) >= min_trades else None
        return float(x) if x is not None and math.isfinite(float(x)) else -1e9

    seen = {json.dumps(v["params"], sort_keys=True, default=str): v for v in done}
    for v in done:
        study.add_trial(optuna.trial.create_trial(params=v["params"], distributions=dists, value=value(v)))
    out = list(done)
    target = min(trials, prep.grid.size)
    stalls = 0
    while len(out) < target and stalls < 50:
        asked = [study.ask(dists) for _ in range(min(OPTUNA_BATCH, target - len(out)))]
        jobs, new_keys = [], {}
        for t in asked:
            k = json.dumps(t.params, sort_keys=True, default=str)
            if k not in seen and k not in new_keys:
                new_keys[k] = len(out) + len(jobs)
                jobs.append((len(out) + len(jobs), dict(t.params)))
        res, interrupted = ex.run(prep.spec, prep.data, jobs, progress, len(out), target) if jobs else ([], False)
        for v in res:
            seen[json.dumps(v["params"], sort_keys=True, default=str)] = v
        out.extend(res)
        stalls = 0 if jobs else stalls + 1
        for t in asked:
            v = seen.get(json.dumps(t.params, sort_keys=True, default=str))
            if v is not None:
                study.tell(t, value(v))
            else:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
        if interrupted:
            return out, True
    return out, False


def run_search(prep: Prepared, *, search: str, trials: int | None, seed: int, objective: str, min_trades: int,
               workers: int | None, cluster: str | None, done: list[dict] | None = None,
               progress: Progress | None = None) -> tuple[list[dict], bool, str]:
    """Run the planned variants not in ``done``; ``(all variants by index, interrupted, where)``."""
    done = list(done or [])
    have = {v["index"] for v in done}
    with Executor(workers, cluster) as ex:
        if search == "optuna":
            out, interrupted = _optuna_run(prep, ex, objective, min_trades, trials or 0, seed, done, progress)
            return sorted(out, key=lambda v: v["index"]), interrupted, ex.where
        jobs = [(i, p) for i, p in enumerate(prep.planned) if i not in have]
        res, interrupted = ex.run(prep.spec, prep.data, jobs, progress, len(done), len(prep.planned))
        return sorted(done + res, key=lambda v: v["index"]), interrupted, ex.where


def _folder_swap(tmp: Path, final: Path) -> None:
    """Move a finished folder into place, replacing an older one of the same sweep (resume)."""
    old = final.with_name(f".{final.name}.old")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def write_artifacts(folder: Path, variants: list[dict], grid: Grid, objective: str, title: str, summary: dict,
                    heatmap: tuple[str, str] | None, charts: bool, warnings: list[str]) -> dict[str, Path]:
    """``variants.csv``, ``summary.json`` and the heatmap into ``folder``; name → path (in ``folder``)."""
    from ita.research.figures import heatmap_figure, write

    arts: dict[str, Path] = {}
    rows = []
    for v in variants:
        rows.append({"variant": v["index"], "rank": v.get("rank"), **{k: v["params"].get(k) for k in grid.axes},
                     **{k: v.get(k) for k in ("status", "trades", "wins", "win_rate", "total_r", "expectancy",
                                              "profit_factor", "max_dd_r", "sharpe", "objective_value", "error")}})
    df = pd.DataFrame(rows)
    df.to_csv(folder / "variants.csv", index=False)
    arts["variants.csv"] = folder / "variants.csv"
    axes = list(grid.axes)
    if heatmap is not None:  # names as the trader typed them: a full path, a tail or a leaf of a grid axis
        named = [next((a for a in axes if a == h or a.endswith("." + h)), None) for h in heatmap[:2]]
        if None in named or len(set(named)) < 2:
            warnings.append(f"--heatmap {','.join(heatmap)}: give two of the swept parameters ({', '.join(axes)}); "
                            "the first two are shown.")
            heatmap = None
        else:
            heatmap = (named[0], named[1])
    if heatmap is None and len(axes) >= 2:
        heatmap = (axes[0], axes[1])
    elif heatmap is None and len(axes) == 1:
        heatmap = (axes[0], axes[0])
    ok = df[df["status"] == "ok"] if len(df) else df
    if heatmap and len(ok):
        x, y = heatmap
        label = OBJECTIVES[objective][1]
        hm = ok.copy()
        if x == y:
            hm["_"] = "all"
            y = "_"
        hm = hm.dropna(subset=["objective_value"]) if hm["objective_value"].notna().any() else hm
        if len(hm):
            fig = heatmap_figure(hm.assign(objective_value=hm["objective_value"].astype(float)), x, y,
                                 "objective_value", label, f"{title} · {label} (best over the other parameters)",
                                 neutral=1.0 if objective == "profit_factor" else 0.0)
            arts.update(write(fig, folder, "heatmap", warnings, png=charts))
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    arts["summary.json"] = folder / "summary.json"
    return arts


def sweep(setup_id: str | None = None, symbol: str | None = None, start=None, end=None, *, version=None, grid=None,
          search: str = "grid", trials: int | None = None, seed: int = 0, objective: str = "total_r",
          min_trades: int = 30, spread=None, commission=None, workers: int | None = None, cluster: str | None = None,
          resume: str | None = None, confirm: bool = False, heatmap: tuple[str, str] | None = None,
          charts: bool = True, kind: str = "sweep", progress: Progress | None = None,
          on_prepared: Callable[[Prepared], None] | None = None, analyse=None) -> SweepOutcome:
    """Run a parameter sweep and store it (see the module doc). ``resume`` continues an interrupted sweep
    with its own settings (the other arguments are ignored). ``analyse(prep, variants) -> (extra_row, wf, folds,
    extra_artifacts_fn)`` lets the walk-forward add its tables in the same transaction.

    Raises :class:`~ita.errors.ItaError` for bad input (nothing stored), including a resumed sweep whose setup
    file changed since.
    """
    from ita.store import new_run_folder, run_folder

    t0 = time.perf_counter()
    rs = ResearchStore()
    done: list[dict] = []
    if resume:
        row0 = rs.get_sweep(resume)
        if row0.get("status") == "complete":
            raise ItaError(f"Sweep {resume} is complete ({row0.get('n_done')} variants); nothing to resume.")
        setup_id, symbol, version = row0["setup_id"], row0["symbol"], row0["setup_version"]
        start, end, grid, search = row0["start"], row0["end"], row0["grid"], row0["search"]
        trials, seed, objective, min_trades = row0.get("trials"), int(row0.get("seed") or 0), row0["objective"], \
            int(row0["min_trades"])
        spread = None if row0.get("spread") in (None, "") else (row0["spread"] if row0["spread"] == "data"
                                                                else float(row0["spread"]))
        commission = row0.get("commission")
        kind = row0.get("kind") or kind
        done = [v for v in rs.variants(resume)]
    if not setup_id or not symbol:
        raise ItaError("A sweep needs a setup and a symbol, e.g. `ita research sweep asia_fvg_break --symbol EURUSD`.")
    check_objective(objective)
    prep = prepare(setup_id, symbol, start, end, version=version, grid=grid, search=search, trials=trials, seed=seed,
                   spread=spread, commission=commission, confirm=confirm or bool(resume))
    if resume and prep.base.content_hash != row0["setup_hash"]:
        raise ItaError(f"{setup_id} v{prep.base.version} changed since sweep {resume} (hash "
                       f"{row0['setup_hash'][:12]} then, {prep.base.content_hash[:12]} now): start a new sweep.")
    if on_prepared:
        on_prepared(prep)
    variants, interrupted, where = run_search(prep, search=search, trials=trials, seed=seed, objective=objective,
                                              min_trades=min_trades, workers=workers, cluster=cluster, done=done,
                                              progress=progress)
    rank_variants(variants, objective, min_trades)
    d, p = overfitting(variants, len(prep.days))
    best = next((v for v in variants if v.get("rank") == 1), None)
    n_planned = len(prep.planned) if search != "optuna" else min(int(trials or 0), prep.grid.size)
    verdict = plain_words(params_label(best["params"]), len(variants), d, p) if best else \
        f"No variant reached {min_trades} trades: nothing ranked (lower --min-trades or widen the period)."
    title = f"{prep.base.id} v{prep.base.version} · {prep.spec.symbol} · {prep.spec.start} → {prep.spec.end}"
    if resume:
        sweep_id, created = resume, pd.Timestamp(row0["created_at"])
        from ita.config import settings

        final = settings().runs_dir / sweep_id
        tmp = final.with_name(f".{sweep_id}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        sweep_id, tmp, final, created = new_run_folder("wf" if kind == "walk_forward" else "sw",
                                                       f"{prep.spec.key}{prep.grid.to_json()}")
    row = {
        "sweep_id": sweep_id, "kind": kind, "created_at": created.isoformat(timespec="seconds"),
        "setup_id": prep.base.id, "setup_version": prep.base.version, "setup_hash": prep.base.content_hash,
        "symbol": prep.spec.symbol, "start": prep.spec.start, "end": prep.spec.end, "grid": prep.grid.axes,
        "search": search, "trials": trials, "seed": seed, "objective": objective, "min_trades": min_trades,
        "spread": "" if spread is None else str(spread), "commission": commission,
        "data_fingerprint": prep.spec.data_key, "days": [str(x.date()) for x in prep.days],
        "n_variants": n_planned, "n_done": len(variants),
        "n_failed": sum(1 for v in variants if v.get("status") != "ok"),
        "status": "interrupted" if interrupted else "complete", "best_variant": best["index"] if best else None,
        "best_params": best["params"] if best else None, "dsr": d.dsr if d else None, "pbo": p.pbo if p else None,
        "verdict": verdict, "folder": str(final), "ita_version": __version__,
        "elapsed_s": round(time.perf_counter() - t0, 2), "where": where,
    }
    extra_wf, extra_folds, more = None, None, None
    if analyse is not None:
        extra_row, extra_wf, extra_folds, more = analyse(prep, variants, row)
        row.update(extra_row)
    warnings: list[str] = []
    summary = {k: v for k, v in row.items() if k != "days"}
    summary["top"] = [{k: v.get(k) for k in ("index", "rank", "params", "trades", "win_rate", "total_r", "expectancy",
                                              "profit_factor", "max_dd_r", "sharpe")} for v in
                      sorted((v for v in variants if v.get("rank")), key=lambda v: v["rank"])[:20]]
    with run_folder(tmp, tmp.with_name(tmp.name + ".done")) as folder:
        arts = write_artifacts(folder, variants, prep.grid, objective, title, summary, heatmap, charts, warnings)
        if more is not None:
            arts.update(more(folder, warnings))
    _folder_swap(tmp.with_name(tmp.name + ".done"), final)
    arts = {k: final / Path(v).name for k, v in arts.items()}
    rs.save_sweep(row, variants, wf=extra_wf, folds=extra_folds, replace=bool(resume))
    return SweepOutcome(sweep_id=sweep_id, row=row, variants=variants, grid=prep.grid, days=prep.days, folder=final,
                        artifacts=arts, dsr=d, pbo=p, verdict=verdict, interrupted=interrupted, where=where,
                        elapsed=time.perf_counter() - t0, warnings=warnings)
