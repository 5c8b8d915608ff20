"""Research tools (issue 13): ``run_sweep`` (a parameter sweep ranked by an objective, with the deflated Sharpe
ratio and PBO in plain words), ``run_walk_forward`` (train/test folds, out-of-sample equity, walk-forward
efficiency), ``run_montecarlo`` (drawdown / final R / streak distributions of a run) and ``challenge_odds``
(prop-firm challenge pass / fail odds per risk per trade). The engines are :mod:`ita.research`.

Long runs report progress through :func:`ita.research.executor.reporting` (the CLI's rich bar); the tools
themselves take only JSON-able arguments.
"""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from ita.errors import ItaError
from ita.format import DASH, fmt_num, fmt_pct, fmt_r
from ita.tools.access import candle_store, latest_runs, run_error, trading_period
from ita.tools.registry import (END_DESC, SETUP_DESC, START_DESC, SYMBOL_DESC, VERSION_DESC, ToolArgs, jsonable,
                                tool)
from ita.tools.results import Artifact, Table, ToolResult

GRID_DESC = ("Parameters to vary {path: values}: the setup YAML's own dotted path (target.rr, "
             "detectors.fvg.min_gap_pips), a unique tail (fvg.min_gap_pips) or leaf (rr); values \"1.5,2,3\", "
             "\"0.5:2:0.5\" (inclusive range) or a list; a parameter without values = a spread around the setup's value; no "
             "parameter = the setup's R:R (target.rr, or target.min_rr of a level target).")
OBJECTIVE_DESC = "What 'best' means: total_r, expectancy, profit_factor or sharpe (of daily R)."
RUN_DESC = "Backtest run id (bt_…) or portfolio run id (pf_…, `ita backtest --portfolio`); default: the latest backtest run."
TOP_N = 10
#: what a sweep varies when the request names no parameter: the first of these the setup has
DEFAULT_AXES = ("target.rr", "target.min_rr", "stop.multiple", "stop.buffer_pips")


def _pf(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return DASH
    return "∞" if math.isinf(f) else DASH if math.isnan(f) else f"{f:.2f}"


def _sharpe(v) -> str:
    f = float(v) if v is not None else math.nan
    return DASH if math.isnan(f) else f"{f:.2f}"


def default_values(current: Any) -> list:
    """A default grid around a setup value: numbers ×0.5 … ×2 (6 values), booleans both ways.
    Raises :class:`ItaError` for text (give the values)."""
    if isinstance(current, bool):
        return [True, False]
    if isinstance(current, (int, float)) and current:
        vals = sorted({round(current * f, 4) for f in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)})
        return [int(v) if isinstance(current, int) and float(v).is_integer() else v for v in vals]
    if isinstance(current, (int, float)):
        return [0, 1, 2, 3]
    raise ItaError(f"Give the values to try for this parameter (it is {current!r}), e.g. close,wick.")


#: what ``rr`` names in a grid when the setup has no leaf called rr: its R:R (a level target's ``min_rr``)
RR_PATHS = ("target.rr", "target.min_rr")


def resolve_grid_keys(setup_id: str, version: int | None, grid: dict | None) -> dict[str, Any]:
    """``grid`` with its keys as the setup YAML's own dotted paths, values unchanged: a path, a unique tail
    (``fvg.min_gap_pips``) or leaf (``min_gap_pips``) as :func:`ita.research.grid.resolve_path` reads it, and
    ``rr`` = the setup's R:R (``target.rr``, or ``target.min_rr`` of a level target); an empty grid =
    ``{the setup's R:R (or the first of DEFAULT_AXES it has): None}``.

    Raises :class:`~ita.errors.SetupError` for an unknown setup or an unknown/ambiguous key (naming the valid
    paths), :class:`ItaError` when the grid is empty and the setup has none of :data:`DEFAULT_AXES`.

    >>> resolve_grid_keys("asia_sweep", None, {"rr": "1.5,2"})                    # doctest: +SKIP
    {'target.min_rr': '1.5,2'}
    """
    import yaml

    from ita.errors import SetupError
    from ita.research.grid import leaf_paths, resolve_path
    from ita.setups.loader import load_setup

    raw = yaml.safe_load(load_setup(setup_id, version).path.read_text(encoding="utf-8"))
    have = leaf_paths(raw)
    if not grid:  # nothing named: the setup's R:R
        first = next((p for p in DEFAULT_AXES if p in have), None)
        if first is None:
            raise ItaError("Name at least one parameter to vary, e.g. grid {\"rr\": \"1.5,2,2.5,3\"}.")
        return {first: None}
    out: dict[str, Any] = {}
    for k, v in grid.items():
        try:
            path = resolve_path(raw, str(k).strip())
        except SetupError:
            rr = next((p for p in RR_PATHS if p in have), None)
            if str(k).strip().lower() not in ("rr", "r:r") or rr is None:
                raise
            path = rr
        if path in out:
            raise SetupError(f"--grid {k}: the same parameter as another key ({path}); give it once.")
        out[path] = v
    return out


def _complete_grid(setup_id: str, version: int | None, grid: dict) -> dict:
    """The grid by the setup's own paths (:func:`resolve_grid_keys`); a parameter given without values gets
    :func:`default_values` around the setup's current value."""
    import yaml

    from ita.research.grid import value_at
    from ita.setups.loader import load_setup

    resolved = resolve_grid_keys(setup_id, version, grid)
    if all(v not in (None, "", []) for v in resolved.values()):
        return resolved
    raw = yaml.safe_load(load_setup(setup_id, version).path.read_text(encoding="utf-8"))
    return {k: v if v not in (None, "", []) else default_values(value_at(raw, k)) for k, v in resolved.items()}


def float_list(v: Any, name: str) -> Any:
    """``"0.5,1,1.5"`` / ``"1%"`` / ``1`` → a list of floats (ValueError naming ``name`` otherwise)."""
    if isinstance(v, str):
        try:
            return [float(x) for x in v.replace("%", "").split(",") if x.strip()]
        except ValueError:
            raise ValueError(f"{name} {v!r}: give numbers like 0.5,1,1.5.") from None
    if isinstance(v, (int, float)):
        return [float(v)]
    return v


class ResearchArgs(ToolArgs):
    setup_id: str = Field(description=SETUP_DESC, examples=["asia_fvg_break"])
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description=START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=END_DESC, examples=["2025-12-31"])
    version: int | None = Field(None, description=VERSION_DESC, examples=[1])
    grid: dict[str, Any] = Field(default_factory=dict, description=GRID_DESC,
                                 examples=[{"rr": "1.5,2,2.5,3", "fvg.min_gap_pips": "0.5:2:0.5"}])

    @field_validator("grid", mode="before")
    @classmethod
    def _grid(cls, v):
        if v is None:
            return {}
        if isinstance(v, str):  # "rr=1.5,2 fvg.min_gap_pips=0.5:2:0.5"
            out = {}
            for part in v.split():
                k, _, vals = part.partition("=")
                out[k] = vals
            return out
        return v


Objective = Literal["total_r", "expectancy", "profit_factor", "sharpe"]
WORKERS_DESC = "Local Dask worker processes (default: this process)."
CLUSTER_DESC = "Dask scheduler address tcp://HOST:8786 (or ITA_DASK_SCHEDULER)."
CONFIRM_DESC = "Allow more than 10,000 variants."
CHARTS_DESC = "Write the PNG chart (the HTML is always written)."


class SweepArgs(ResearchArgs):
    search: Literal["grid", "random", "optuna"] = Field("grid", description="grid = every combination; random / "
                                                        "optuna = `trials` of them.")
    trials: int | None = Field(None, ge=1, description="Variants to try with search random/optuna.")
    objective: Objective = Field("total_r", description=OBJECTIVE_DESC)
    min_trades: int = Field(30, ge=0, description="Variants with fewer trades are shown but not ranked.")
    workers: int | None = Field(None, ge=0, le=256, description=WORKERS_DESC)
    cluster: str | None = Field(None, description=CLUSTER_DESC)
    resume: str | None = Field(None, description="Continue an interrupted sweep by its id.")
    confirm: bool = Field(False, description=CONFIRM_DESC)
    charts: bool = Field(True, description=CHARTS_DESC)
    heatmap: list[str] | None = Field(None, description="The two parameters of the heatmap (default: the first two).")


class WalkForwardArgs(ResearchArgs):
    train: str = Field("6M", description="Train window, e.g. 6M, 3M, 8W.")
    test: str = Field("1M", description="Test window after each train window, e.g. 1M, 2W.")
    anchored: bool = Field(False, description="Train from the start of the period each time (else rolling).")
    objective: Objective = Field("total_r", description=OBJECTIVE_DESC)
    min_trades: int = Field(20, ge=0, description="A train window's choice needs at least this many trades.")
    workers: int | None = Field(None, ge=0, le=256, description=WORKERS_DESC)
    cluster: str | None = Field(None, description=CLUSTER_DESC)
    confirm: bool = Field(False, description=CONFIRM_DESC)
    charts: bool = Field(True, description=CHARTS_DESC)


RUN_SETUP_DESC = ("Without run_id: the latest stored run of this setup (on `symbol`), or a new backtest of it on "
                  "all stored data of `symbol` when none is stored.")


class MonteCarloArgs(ToolArgs):
    run_id: str | None = Field(None, description=RUN_DESC, examples=["bt_20250101_120000_abc123"])
    setup_id: str | None = Field(None, description=RUN_SETUP_DESC, examples=["asia_sweep"])
    symbol: str | None = Field(None, description=SYMBOL_DESC, examples=["EURUSD"])
    n: int = Field(10_000, ge=1, le=1_000_000, description="Number of simulated paths.")
    method: Literal["bootstrap", "shuffle"] = Field("bootstrap", description="bootstrap = draw trades with "
                                                    "replacement; shuffle = reorder them.")
    seed: int = Field(0, description="Random seed (same seed, same result).")
    dd: list[float] | None = Field(None, description="Drawdown levels X (R) for P(max drawdown > X).")
    charts: bool = Field(True, description="Write the fan chart PNG (the HTML is always written).")

    @field_validator("dd", mode="before")
    @classmethod
    def _dd(cls, v):
        return float_list(v, "dd")


class ChallengeArgs(ToolArgs):
    run_id: str | None = Field(None, description=RUN_DESC)
    setup_id: str | None = Field(None, description=RUN_SETUP_DESC, examples=["asia_sweep"])
    symbol: str | None = Field(None, description=SYMBOL_DESC, examples=["EURUSD"])
    rules: str = Field("ftmo_2step", description="Challenge rules id in ita/data/prop_firms.yaml, e.g. ftmo_2step.")
    risk: list[float] | None = Field(None, description="Risk per trade in % of the account, e.g. [0.5, 1, 1.5, 2].")
    n: int = Field(10_000, ge=1, le=1_000_000, description="Number of simulated challenges per risk.")
    seed: int = Field(0, description="Random seed.")
    charts: bool = Field(True, description="Write the odds chart PNG.")

    @field_validator("risk", mode="before")
    @classmethod
    def _risks(cls, v):
        return float_list(v, "risk")




def _period(a) -> tuple[str, str]:
    from ita.setups.loader import load_setup

    tz = load_setup(a.setup_id, a.version).setup.timezone
    return trading_period(candle_store(a.symbol), a.symbol, a.start, a.end, tz)


def _progress():
    from ita.research.executor import current_progress

    return current_progress()


def _artifacts(arts: dict, captions: dict[str, str]) -> list[Artifact]:
    out = []
    for name, caption in captions.items():
        if name in arts:
            out.append(Artifact(kind="image" if name.endswith(".png") else "file", path=str(arts[name]), name=name,
                                caption=caption))
    return out


def ranked_table(variants: list[dict], axes: list[str], n: int = TOP_N, title: str = "") -> Table:
    from ita.research.sweep import params_label

    rows = []
    for v in sorted((v for v in variants if v.get("rank")), key=lambda v: v["rank"])[:n]:
        rows.append([v["rank"], params_label({k: v["params"].get(k) for k in axes}), v["trades"], fmt_pct(v["win_rate"]),
                     fmt_r(v["total_r"]), fmt_r(v["expectancy"]), _pf(v["profit_factor"]),
                     fmt_r(v["max_dd_r"], signed=False), _sharpe(v["sharpe"])])
    return Table(columns=["rank", "parameters", "trades", "win rate", "total R", "expectancy", "PF", "max DD",
                          "Sharpe"], rows=rows, title=title)


@tool(SweepArgs)
def run_sweep(a: SweepArgs) -> ToolResult:
    """Optimise a setup: backtest every variant of a parameter grid on a symbol and period, rank them by an
    objective, and say in plain words how likely the best one is curve-fitted (deflated Sharpe ratio, PBO)."""
    from ita.research.sweep import OBJECTIVES, params_label, sweep

    if a.resume:
        out = sweep(resume=a.resume, workers=a.workers, cluster=a.cluster, charts=a.charts, progress=_progress())
    else:
        lo, hi = _period(a)
        out = sweep(a.setup_id, a.symbol, lo, hi, version=a.version, grid=_complete_grid(a.setup_id, a.version, a.grid),
                    search=a.search, trials=a.trials, objective=a.objective, min_trades=a.min_trades,
                    workers=a.workers, cluster=a.cluster, confirm=a.confirm, charts=a.charts,
                    heatmap=tuple(a.heatmap[:2]) if a.heatmap and len(a.heatmap) >= 2 else None, progress=_progress())
    row = out.row
    axes = list(out.grid.axes)
    best = out.best
    n_ok = sum(1 for v in out.variants if v["status"] == "ok")
    n_ranked = sum(1 for v in out.variants if v.get("rank"))
    state = (f"INTERRUPTED after {len(out.variants)} of {row['n_variants']} variants (resume with "
             f"`ita research sweep --resume {out.sweep_id}`); " if out.interrupted else "")
    head = (f"Sweep {out.sweep_id}: {row['setup_id']} v{row['setup_version']} on {row['symbol']}, {row['start']} → "
            f"{row['end']}, {len(out.variants)} variants ({row['search']}, {out.where}, {out.elapsed:.1f} s); {state}"
            f"{n_ranked} ranked by {OBJECTIVES[row['objective']][1]} (≥ {row['min_trades']} trades).")
    if best:
        head += (f" Best: {params_label(best['params'])} — {best['trades']} trades, total {fmt_r(best['total_r'])}, "
                 f"PF {_pf(best['profit_factor'])}. ")
    summary = head + " " + out.verdict
    failed = [v for v in out.variants if v["status"] != "ok"]
    over = Table(columns=["statistic", "value", "what it means"], rows=[
        ["Variants tried", len(out.variants), f"{n_ok} ran, {len(failed)} failed, {n_ranked} ranked"],
        ["Deflated Sharpe ratio", DASH if not out.dsr else f"{out.dsr.dsr:.2f}",
         "P(true Sharpe of the best > what luck gives the best of N); ≥ 0.95 = an edge"],
        ["Expected best Sharpe from luck", DASH if not out.dsr else f"{out.dsr.sr0_annual:.2f}",
         "annualised, given the spread of the variants' Sharpe ratios"],
        ["PBO", DASH if not out.pbo else fmt_pct(out.pbo.pbo * 100),
         "P(the in-sample best ranks below the median out of sample); 50 % = luck"],
    ], title="Overfitting (Bailey & López de Prado 2014; Bailey, Borwein, López de Prado, Zhu 2015)")
    tables = {"ranked": ranked_table(out.variants, axes, title=f"Top {min(TOP_N, n_ranked)} of {n_ranked} ranked variants"),
              "overfitting": over}
    if failed:
        tables["failed"] = Table(columns=["variant", "parameters", "reason"],
                                 rows=[[v["index"], params_label(v["params"]), v["error"]] for v in failed[:10]],
                                 title=f"{len(failed)} failed variants")
    arts = _artifacts(out.artifacts, {"heatmap.png": f"{OBJECTIVES[row['objective']][1]} over two parameters",
                                      "heatmap.html": "Interactive heatmap", "variants.csv": "Every variant"})
    data = {"sweep_id": out.sweep_id, "setup_id": row["setup_id"], "version": row["setup_version"],
            "setup_hash": row["setup_hash"], "symbol": row["symbol"], "period": [row["start"], row["end"]],
            "grid": jsonable(out.grid.axes), "search": row["search"], "objective": row["objective"],
            "min_trades": row["min_trades"], "variants": len(out.variants), "ranked": n_ranked, "failed": len(failed),
            "status": row["status"], "where": out.where, "elapsed_s": round(out.elapsed, 2),
            "best": jsonable({k: best.get(k) for k in ("index", "params", "trades", "win_rate", "total_r",
                                                       "expectancy", "profit_factor", "max_dd_r", "sharpe")})
            if best else None,
            "dsr": None if not out.dsr else round(out.dsr.dsr, 4), "pbo": None if not out.pbo else round(out.pbo.pbo, 4),
            "verdict": out.verdict, "folder": str(out.folder), "warnings": out.warnings}
    return ToolResult(tool="run_sweep", summary=summary, data=data, tables=tables, artifacts=arts,
                      context={"setup_id": row["setup_id"], "version": row["setup_version"], "symbol": row["symbol"],
                               "start": row["start"], "end": row["end"], "sweep_id": out.sweep_id})


@tool(WalkForwardArgs)
def run_walk_forward(a: WalkForwardArgs) -> ToolResult:
    """Walk-forward a setup: on each train window choose the best variant of a grid, trade it on the next test
    window only, and report the out-of-sample result per fold and overall with walk-forward efficiency."""
    from ita.research.sweep import params_label
    from ita.research.walkforward import walk_forward

    lo, hi = _period(a)
    wf = walk_forward(a.setup_id, a.symbol, lo, hi, version=a.version, grid=_complete_grid(a.setup_id, a.version, a.grid),
                      train=a.train, test=a.test, anchored=a.anchored, objective=a.objective, min_trades=a.min_trades,
                      workers=a.workers, cluster=a.cluster, charts=a.charts, confirm=a.confirm, progress=_progress())
    r = wf.row
    rows = []
    for f in wf.folds:
        rows.append([f.fold.fold, f"{f.fold.train_start:%Y-%m-%d} → {f.fold.train_end:%Y-%m-%d}",
                     f"{f.fold.test_start:%Y-%m-%d} → {f.fold.test_end:%Y-%m-%d}",
                     params_label(f.params) if f.params else f"none (< {a.min_trades} trades)",
                     f.is_trades, fmt_r(f.is_total_r), f.oos_trades, fmt_r(f.oos_total_r), _pf(f.oos_profit_factor),
                     DASH if math.isnan(f.wfe) else f"{f.wfe:.2f}"])
    folds = Table(columns=["fold", "train", "test", "chosen", "IS trades", "IS R", "OOS trades", "OOS R", "OOS PF",
                           "WFE"], rows=rows, title="Folds (choice on train only, traded on test only)")
    wfe = r["wfe"]
    overall = Table(columns=["", "value"], rows=[
        ["Out-of-sample trades", r["oos_trades"]], ["Out-of-sample total R", fmt_r(r["oos_total_r"])],
        ["Out-of-sample profit factor", _pf(r["oos_profit_factor"])],
        ["Out-of-sample max drawdown", fmt_r(r["oos_max_dd_r"], signed=False)],
        ["In-sample profit factor (chosen variants)", _pf(r["is_profit_factor"])],
        ["Walk-forward efficiency", DASH if wfe is None or (isinstance(wfe, float) and math.isnan(wfe)) else f"{wfe:.2f}"],
        ["Deflated Sharpe (full-period search)", DASH if r["dsr"] is None else f"{r['dsr']:.2f}"],
        ["PBO (full-period search)", DASH if r["pbo"] is None else fmt_pct(r["pbo"] * 100)],
    ], title="Overall (out of sample = the test windows joined)")
    wfe_txt = ("not meaningful (in-sample R ≤ 0)" if wfe is None or (isinstance(wfe, float) and math.isnan(wfe))
               else f"{wfe:.2f}")
    verdict = ("Out of sample it made money" if r["oos_total_r"] > 0 else "Out of sample it lost")
    summary = (f"Walk-forward {wf.wf_id}: {r['setup_id']} v{r['setup_version']} on {r['symbol']}, {r['start']} → "
               f"{r['end']}, train {a.train} / test {a.test}{' anchored' if a.anchored else ''}, {r['folds']} folds × "
               f"{len(wf.sweep.variants)} variants. {verdict}: {r['oos_trades']} trades, {fmt_r(r['oos_total_r'])}, "
               f"PF {_pf(r['oos_profit_factor'])}; walk-forward efficiency {wfe_txt}. {wf.sweep.verdict}")
    arts = _artifacts(wf.artifacts, {"folds.png": "Out-of-sample equity and folds", "folds.html": "Interactive fold chart",
                                     "oos_trades.csv": "Out-of-sample trades", "folds.csv": "Folds"})
    data = {"wf_id": wf.wf_id, **jsonable({k: v for k, v in r.items() if k != "folder"}), "folder": r["folder"],
            "verdict": wf.sweep.verdict, "warnings": wf.sweep.warnings,
            "folds_detail": [jsonable({"fold": f.fold.fold, "params": f.params, "is_total_r": f.is_total_r,
                                       "oos_total_r": f.oos_total_r, "oos_trades": f.oos_trades}) for f in wf.folds]}
    return ToolResult(tool="run_walk_forward", summary=summary, data=data, tables={"folds": folds, "overall": overall},
                      artifacts=arts, context={"setup_id": r["setup_id"], "version": r["setup_version"],
                                               "symbol": r["symbol"], "start": r["start"], "end": r["end"],
                                               "wf_id": wf.wf_id})


def _run_trades(run_id: str | None, setup_id: str | None = None, symbol: str | None = None):
    """The stored run and its trades: ``run_id`` (a backtest ``bt_…`` or a portfolio ``pf_…`` run); else the latest
    run of ``setup_id`` (on ``symbol``), backtested now on all stored data of ``symbol`` when none is stored; else
    the latest backtest run. The run dict carries ``label`` (what the answer names) and, for a portfolio,
    ``kind`` = ``"portfolio"`` and its ``components``."""
    import pandas as pd

    from ita.store import RunStore

    if run_id is not None and run_id.startswith("pf_"):
        return _portfolio_trades(run_id)
    rs = RunStore()
    if run_id is None and setup_id:
        from ita.backtest import runner
        from ita.setups.loader import load_setup

        loaded = load_setup(setup_id)
        cond, args = "setup_id = ? and setup_version = ? and (overrides is null or overrides in ('', '{}'))", \
            [loaded.id, loaded.version]
        if symbol:
            cond += " and symbol = ?"
            args.append(symbol)
        rows = list(rs.db.query(f"select run_id from runs where {cond} order by created_at desc, rowid desc limit 1",
                                args)) if rs.db["runs"].exists() else []
        if rows:
            run_id = rows[0]["run_id"]
        elif not symbol:
            raise ItaError(f"No stored run of {setup_id} yet: name the symbol to backtest it on, e.g. "
                           f"`{setup_id} on EURUSD`.")
        else:
            lo, hi = trading_period(candle_store(symbol), symbol, None, None, loaded.setup.timezone)
            run_id = runner.run_backtest(setup_id, symbol, lo, hi, charts=False, html=False).run_id
    if run_id is None:
        latest = latest_runs(rs, 1)
        if latest.empty:
            raise ItaError("No backtest runs are stored yet; run one first, e.g. `backtest asia_fvg_break on EURUSD`.")
        run_id = str(latest.iloc[0]["run_id"])
    try:
        run = rs.get_run(run_id)
        trades = rs.trades(run_id)
    except ItaError as exc:
        raise run_error(exc) from None
    if len(trades):
        trades["r"] = pd.to_numeric(trades["r"], errors="coerce")
    run["label"] = f"{run['setup_id']} v{run['setup_version']} · {run['symbol']} · {run['start']} → {run['end']}"
    return run, trades


def _portfolio_trades(run_id: str):
    """A stored portfolio run (``ita backtest --portfolio``) as a run dict, and its taken trades in fill order."""
    import pandas as pd

    from ita.store.portfolio import PortfolioStore

    ps = PortfolioStore()
    pr = ps.get(run_id)
    trades = ps.trades(run_id)
    if len(trades):
        trades["r"] = pd.to_numeric(trades["r"], errors="coerce")
    from ita.backtest.governor import GovernorRules

    gov = GovernorRules.describe_stored(pr.get("governor"))
    run = {"run_id": run_id, "kind": "portfolio", "setup_id": "portfolio", "setup_version": None,
           "symbol": pr["symbols"], "start": pr["start"], "end": pr["end"], "components": pr.get("components") or [],
           "max_drawdown_r": pr.get("max_drawdown_r"),
           "label": f"portfolio {pr['setups']} · {pr['symbols']} · {pr['start']} → {pr['end']} · {gov}"}
    return run, trades


def _weekdays(run: dict) -> list[int]:
    """The weekdays a run's setup trades (a portfolio: any of its setups'); Monday–Friday when unknown."""
    from ita.setups.loader import load_setup

    refs = [(c["setup_id"], c["setup_version"]) for c in run["components"]] if run.get("kind") == "portfolio" \
        else [(run["setup_id"], run["setup_version"])]
    days: set[int] = set()
    for sid, ver in refs:
        try:
            days.update(load_setup(sid, ver).setup.weekdays)
        except ItaError:
            return [0, 1, 2, 3, 4]
    return sorted(days) or [0, 1, 2, 3, 4]


def _out_folder(prefix: str, key: str):
    from ita.store import new_run_folder

    return new_run_folder(prefix, key)


@tool(MonteCarloArgs)
def run_montecarlo(a: MonteCarloArgs) -> ToolResult:
    """Monte Carlo of a backtest run's trades (bootstrap or shuffle): percentiles of max drawdown, final R,
    longest losing streak and time under water, P(drawdown > X R), and a fan chart."""
    from ita.research.figures import fan_figure, write
    from ita.research.montecarlo import monte_carlo
    from ita.store import run_folder

    run, trades = _run_trades(a.run_id, a.setup_id, a.symbol)
    mc = monte_carlo(trades["r"].to_numpy() if len(trades) else [], n=a.n, method=a.method, seed=a.seed,
                     dd_levels=a.dd)
    pct = mc.percentiles
    rows = [[name, *(fmt_num(v, 1) if "R" in name else fmt_num(v, 0) for v in pct.loc[name])] for name in pct.index]
    dd_rows = [[f"> {lv:g} R", fmt_pct(p * 100)] for lv, p in mc.p_dd_beyond.items()]
    label = run["label"]
    mc_id, tmp, final, _ = _out_folder("mc", f"{run['run_id']}{a.method}{a.n}{a.seed}")
    warnings: list[str] = []
    with run_folder(tmp, final) as folder:
        arts = write(fan_figure(mc.fan, f"Monte Carlo ({a.method}, {a.n:,} paths × {mc.trades} trades) · {label}"),
                     folder, "fan", warnings, png=a.charts)
        pct.to_csv(folder / "percentiles.csv")
    arts = {k: final / v.name for k, v in arts.items()}
    p50 = pct.loc["Max drawdown [R]", "p50"]
    p95 = pct.loc["Max drawdown [R]", "p95"]
    summary = (f"Monte Carlo of run {run['run_id']} ({label}): {a.n:,} {a.method} paths of {mc.trades} trades. Max "
               f"drawdown median {p50:.1f} R, 95th percentile {p95:.1f} R (the run itself: "
               f"{fmt_r(run.get('max_drawdown_r'), signed=False)}); final R 5–95 %: {pct.loc['Final R', 'p5']:+.1f} … "
               f"{pct.loc['Final R', 'p95']:+.1f} R; P(ending below 0) {mc.p_loss() * 100:.0f} %.")
    return ToolResult(tool="run_montecarlo", summary=summary,
                      data={"run_id": run["run_id"], "mc_id": mc_id, "n": a.n, "method": a.method, "seed": a.seed,
                            "trades": mc.trades, "percentiles": jsonable(pct.to_dict(orient="index")),
                            "p_dd_beyond": {f"{k:g}": round(v, 4) for k, v in mc.p_dd_beyond.items()},
                            "p_loss": round(mc.p_loss(), 4), "folder": str(final), "warnings": warnings},
                      tables={"percentiles": Table(columns=["", "5 %", "50 %", "95 %"], rows=rows,
                                                   title="Distribution over the paths"),
                              "drawdown": Table(columns=["max drawdown", "probability"], rows=dd_rows,
                                                title="P(max drawdown beyond X R)")},
                      artifacts=_artifacts(arts, {"fan.png": "Fan chart of cumulative R",
                                                  "fan.html": "Interactive fan chart"}),
                      context={"run_id": run["run_id"], "setup_id": run["setup_id"], "symbol": run["symbol"]})


@tool(ChallengeArgs)
def challenge_odds(a: ChallengeArgs) -> ToolResult:
    """Would a backtest run pass a prop-firm challenge? Monte Carlo pass / fail-daily / fail-total / timeout odds
    per risk per trade under a firm's rules (ita/data/prop_firms.yaml), and the risk that passes most often."""
    import pandas as pd

    from ita.research.challenge import challenge_odds as odds_of
    from ita.research.challenge import day_matrix, load_rules
    from ita.research.figures import challenge_figure, write
    from ita.store import run_folder

    load_rules(a.rules)  # an unknown rule id fails before anything else
    run, trades = _run_trades(a.run_id, a.setup_id, a.symbol)
    weekdays = _weekdays(run)
    days = [d for d in pd.date_range(run["start"], run["end"], freq="D") if d.day_of_week in weekdays]
    R, M = day_matrix(days, trades)
    odds = odds_of(R, M, a.rules, a.risk, n=a.n, seed=a.seed)
    t = odds.table
    rows = [[f"{risk:g} %", fmt_pct(r["pass"] * 100), fmt_pct(r["fail_daily"] * 100), fmt_pct(r["fail_total"] * 100),
             fmt_pct(r["timeout"] * 100), DASH if math.isnan(r["median_days_to_pass"]) else f"{r['median_days_to_pass']:.0f}"]
            for risk, r in t.iterrows()]
    label = run["label"]
    ch_id, tmp, final, _ = _out_folder("ch", f"{run['run_id']}{a.rules}{a.risk}{a.n}{a.seed}")
    warnings: list[str] = []
    with run_folder(tmp, final) as folder:
        arts = write(challenge_figure(t, f"{odds.rules.name} · {label}"), folder, "challenge", warnings,
                     png=a.charts, height=600)
        t.to_csv(folder / "odds.csv")
    arts = {k: final / v.name for k, v in arts.items()}
    best = odds.best_risk
    bp = t.loc[best, "pass"]
    summary = (f"{odds.rules.name} with run {run['run_id']} ({label}, {odds.trades} trades on {odds.days} days), "
               f"{a.n:,} simulated challenges per risk: the best risk is {best:g} % per trade with a "
               f"{bp * 100:.0f} % chance to pass" + ("" if bp > 0 else " — at no risk level does it pass") +
               f". {' '.join(odds.notes)}")
    return ToolResult(tool="challenge_odds", summary=summary,
                      data={"run_id": run["run_id"], "rules": a.rules, "firm": odds.rules.firm, "checked": odds.rules.checked,
                            "best_risk": best, "odds": jsonable(t.to_dict(orient="index")), "n": a.n, "seed": a.seed,
                            "notes": odds.notes, "folder": str(final), "warnings": warnings},
                      tables={"odds": Table(columns=["risk / trade", "pass", "fail daily", "fail total", "timeout",
                                                     "median days to pass"], rows=rows,
                                            title=f"{odds.rules.name} — confirm the rules with the firm")},
                      artifacts=_artifacts(arts, {"challenge.png": "Challenge odds per risk",
                                                  "challenge.html": "Interactive odds chart"}),
                      context={"run_id": run["run_id"], "setup_id": run["setup_id"], "symbol": run["symbol"]})
