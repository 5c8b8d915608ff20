"""``ita research …``: parameter sweeps, walk-forward, Monte Carlo and prop-firm challenge odds (issue 13).

Every command calls its tool (:mod:`ita.tools.research`) and prints the tool's tables; long runs show a rich
progress bar (variants done, variants/s, ETA). Ctrl-C during a sweep keeps the finished variants
(``--resume SWEEP_ID`` continues).
"""
from __future__ import annotations

import json
import os
from typing import List, Optional

import typer

from ita.cli.common import console, fail, from_option, print_tool_table, symbol_option, to_option, version_option

research_app = typer.Typer(help="Research runs: sweeps, walk-forward, Monte Carlo, prop-firm challenge odds (on Dask).",
                           no_args_is_help=True)


@research_app.callback()
def _one_shot() -> None:
    """A one-shot command: its PNGs go to the renderer kept between commands (``ita renderer status``)."""
    from ita.charts.export import use_daemon

    use_daemon()


_GRID_HELP = ("PATH=VALUES, repeatable: the YAML's own path (target.rr, detectors.fvg.min_gap_pips), a unique tail "
              "(fvg.min_gap_pips) or leaf (rr); VALUES 1.5,2,3 or START:STOP:STEP (inclusive), e.g. 0.5:2:0.5.")
_WORKERS_HELP = "Run on a local Dask cluster of N worker processes (default: in this process)."
_CLUSTER_HELP = "Run on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: $ITA_DASK_SCHEDULER)."


def _grid(items: Optional[List[str]]) -> dict:
    from ita.errors import ItaError
    from ita.research.grid import parse_grid_specs

    try:
        return parse_grid_specs(items or [])
    except ItaError as exc:
        fail(exc)


def _show(res, tables: tuple[str, ...] = ()) -> None:
    if not res.ok:
        fail(res.error)
    console.print(res.summary, highlight=False)
    for name in tables or tuple(res.tables):
        if name in res.tables and res.tables[name].rows:
            print_tool_table(res.tables[name], title_justify="left")
    if res.artifacts:
        console.print("Artifacts:")
        for a in res.artifacts:
            console.print(f"  {a.name:<16} {a.path}", highlight=False)
    for w in res.data.get("warnings") or []:
        console.print(f"[yellow]Warning:[/] {w}")


def _run_with_progress(label: str, call):
    """Call ``call()`` with a rich progress bar fed by :func:`ita.research.executor.reporting`."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    from ita.research.executor import reporting

    class Rate(ProgressColumn):
        def render(self, task):  # noqa: D102 - rich API
            return Text(f"{task.speed:.1f} variants/s" if task.speed else "… variants/s", style="cyan")

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                  transient=False) as prog:
        task = prog.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        with reporting(tick):
            return call()


@research_app.command("sweep")
def sweep_cmd(
    setup: Optional[str] = typer.Argument(None, help="Setup id, e.g. asia_fvg_break (not needed with --resume)."),
    symbol: str = symbol_option(),
    start: str = from_option(),
    end: str = to_option(),
    version: Optional[str] = version_option(),
    grid: Optional[List[str]] = typer.Option(None, "--grid", "-g", help=_GRID_HELP),
    search: str = typer.Option("grid", "--search", help="grid (every combination) | random | optuna (TPE)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="How many variants with --search random/optuna."),
    objective: str = typer.Option("total_r", "--objective", help="total_r | expectancy | profit_factor | sharpe."),
    min_trades: int = typer.Option(30, "--min-trades", help="Variants with fewer trades are shown but not ranked."),
    workers: Optional[int] = typer.Option(None, "--workers", help=_WORKERS_HELP),
    cluster: Optional[str] = typer.Option(None, "--cluster", help=_CLUSTER_HELP),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue an interrupted sweep (its own settings)."),
    yes: bool = typer.Option(False, "--yes", help="Allow more than 10,000 variants."),
    heatmap: Optional[str] = typer.Option(None, "--heatmap", help="Two parameters for the heatmap, e.g. rr,fvg.min_gap_pips."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Write the heatmap PNG (needs Chromium)."),
    top: int = typer.Option(10, "--top", help="Rows of the ranked table."),
):
    """Backtest every variant of a parameter grid, rank them, and say how likely the best is curve-fitted.

    \b
    Examples:
      ita research sweep asia_fvg_break --symbol EURUSD --from 2025-01-01 --to 2025-12-31 \\
          --grid rr=1.5,2,2.5,3 --grid fvg.min_gap_pips=0.5:2:0.5
      ita research sweep asia_fvg_break --grid rr=1:4:0.25 --grid order.valid_until=09:00,10:00,11:00 --workers 2
      ita research sweep asia_sweep --grid rr=1:5:0.5 --search optuna --trials 40 --objective sharpe
      ita research sweep --resume sw_20261206_101500_ab12cd
      ITA_DASK_SCHEDULER=tcp://127.0.0.1:8786 ita research sweep asia_fvg_break --grid rr=1:4:0.5
    The best variant becomes an explicit new version with
      ita setups new-version asia_fvg_break --from-sweep SWEEP_ID --rank 1
    """
    from ita.tools import run_sweep
    from ita.tools.research import ranked_table

    if not resume and not setup:
        fail("Give a setup id (e.g. asia_fvg_break) or --resume SWEEP_ID.")
    hm = [h.strip() for h in heatmap.split(",")] if heatmap else None
    args = dict(setup_id=setup or "resume", symbol=symbol, start=start, end=end, version=version, grid=_grid(grid),
                search=search, trials=trials, objective=objective, min_trades=min_trades, workers=workers,
                cluster=cluster, resume=resume, confirm=yes, charts=charts, heatmap=hm)
    res = _run_with_progress("Sweep", lambda: run_sweep(**args))
    if res.ok and top != 10:
        from ita.research.store import ResearchStore

        variants = ResearchStore().variants(res.data["sweep_id"])
        res.tables["ranked"] = ranked_table(variants, list(res.data["grid"]), n=top,
                                            title=f"Top {top} of {res.data['ranked']} ranked variants")
    _show(res, ("ranked", "overfitting", "failed"))
    if res.ok:
        console.print(f"\nTurn a variant into a version: `ita setups new-version {res.data['setup_id']} --from-sweep "
                      f"{res.data['sweep_id']} --rank 1`", highlight=False)


@research_app.command("walk-forward")
def walk_forward_cmd(
    setup: str = typer.Argument(..., help="Setup id, e.g. silver_bullet."),
    symbol: str = symbol_option(),
    start: str = from_option(),
    end: str = to_option(),
    version: Optional[str] = version_option(),
    grid: Optional[List[str]] = typer.Option(None, "--grid", "-g", help=_GRID_HELP),
    train: str = typer.Option("6M", "--train", help="Train window: 6M, 3M, 8W, 90D."),
    test: str = typer.Option("1M", "--test", help="Test window after each train window."),
    anchored: bool = typer.Option(False, "--anchored", help="Every train window starts at --from (else rolling)."),
    objective: str = typer.Option("total_r", "--objective", help="total_r | expectancy | profit_factor | sharpe."),
    min_trades: int = typer.Option(20, "--min-trades", help="A train window's choice needs this many trades."),
    workers: Optional[int] = typer.Option(None, "--workers", help=_WORKERS_HELP),
    cluster: Optional[str] = typer.Option(None, "--cluster", help=_CLUSTER_HELP),
    yes: bool = typer.Option(False, "--yes", help="Allow more than 10,000 variants."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Write the fold chart PNG (needs Chromium)."),
):
    """Walk-forward: choose the best variant on each train window, trade it on the next test window only.

    \b
    Examples:
      ita research walk-forward asia_fvg_break --symbol EURUSD --train 6M --test 1M --grid rr=1.5,2,2.5,3
      ita research walk-forward silver_bullet --symbol XAUUSD --train 3M --test 1M --anchored --grid rr=1:4:0.5
    """
    from ita.tools import run_walk_forward

    args = dict(setup_id=setup, symbol=symbol, start=start, end=end, version=version, grid=_grid(grid), train=train,
                test=test, anchored=anchored, objective=objective, min_trades=min_trades, workers=workers,
                cluster=cluster, confirm=yes, charts=charts)
    res = _run_with_progress("Walk-forward variants", lambda: run_walk_forward(**args))
    _show(res, ("folds", "overall"))


@research_app.command("montecarlo")
def montecarlo_cmd(
    run_id: Optional[str] = typer.Argument(None, help="Backtest run id (default: the latest; see `ita runs list`)."),
    n: int = typer.Option(10_000, "--n", help="Number of simulated paths."),
    method: str = typer.Option("bootstrap", "--method", help="bootstrap (with replacement) | shuffle (reorder)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same result."),
    dd: Optional[str] = typer.Option(None, "--dd", help="Drawdown levels X in R for P(DD > X), e.g. 5,10,20."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Write the fan chart PNG (needs Chromium)."),
):
    """Monte Carlo of a run's trades: max drawdown, final R, losing streak, time under water; fan chart.

    \b
    Examples:
      ita research montecarlo                         # the latest backtest run
      ita research montecarlo bt_20261121_233549_8c26a9 --n 10000 --method shuffle --dd 10,20
    """
    from ita.tools import run_montecarlo

    _show(run_montecarlo(run_id=run_id, n=n, method=method, seed=seed, dd=dd, charts=charts))


@research_app.command("challenge")
def challenge_cmd(
    run_id: Optional[str] = typer.Argument(None, help="Backtest run id (default: the latest)."),
    rules: str = typer.Option("ftmo_2step", "--rules", help="Rules id in ita/data/prop_firms.yaml."),
    risk: Optional[str] = typer.Option(None, "--risk", help="Risk per trade in %, e.g. 0.5,1,1.5,2 (the default)."),
    n: int = typer.Option(10_000, "--n", help="Simulated challenges per risk."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Write the odds chart PNG (needs Chromium)."),
):
    """Prop-firm challenge odds of a run: pass / fail daily / fail total / timeout per risk per trade.

    \b
    Examples:
      ita research challenge --rules ftmo_2step --risk 0.5,1,1.5,2
      ita research challenge bt_20261121_233549_8c26a9 --rules ftmo_2step_classic
    Rules are data (ita/data/prop_firms.yaml), each with the date it was checked: confirm them with your firm.
    """
    from ita.tools import challenge_odds

    _show(challenge_odds(run_id=run_id, rules=rules, risk=risk, n=n, seed=seed, charts=charts))


@research_app.command("list")
def list_cmd(limit: int = typer.Option(20, "--limit", help="How many, newest first.")):
    """Stored sweeps and walk-forwards: id, setup, period, variants, status, best, DSR, PBO."""
    from rich.table import Table

    from ita.research.store import ResearchStore

    df = ResearchStore().sweeps(limit)
    if df.empty:
        console.print("No sweeps stored yet: `ita research sweep asia_fvg_break --grid rr=1.5,2,2.5,3`.")
        return
    t = Table(title="Sweeps and walk-forwards (newest first)", title_justify="left")
    from ita.research.sweep import params_label

    for c in ("id", "kind", "setup", "symbol", "period", "variants", "status", "best", "DSR", "PBO"):
        t.add_column(c, no_wrap=c in ("id", "period"))
    for r in df.to_dict("records"):
        def num(x):
            return "—" if x is None or x != x else f"{float(x):.2f}"
        t.add_row(r["sweep_id"], r["kind"], f"{r['setup_id']} v{r['setup_version']}", r["symbol"],
                  f"{r['start']} → {r['end']}", f"{r['n_done']}/{r['n_variants']}", r["status"],
                  params_label(json.loads(r["best_params"])) if r.get("best_params") else "—", num(r.get("dsr")),
                  num(r.get("pbo")))
    console.print(t)
    if os.environ.get("ITA_DASK_SCHEDULER"):
        console.print(f"Dask scheduler: {os.environ['ITA_DASK_SCHEDULER']}")


@research_app.command("show")
def show_cmd(sweep_id: str = typer.Argument(..., help="Sweep or walk-forward id (see `ita research list`)."),
             top: int = typer.Option(20, "--top", help="Rows of the ranked table.")):
    """A stored sweep again: its settings, the ranked variants and the overfitting verdict (walk-forwards: folds).

    \b
    Example:
      ita research show sw_20261206_101500_ab12cd --top 30
    """
    from rich.table import Table

    from ita.errors import ItaError
    from ita.research.store import ResearchStore
    from ita.tools.research import ranked_table

    rs = ResearchStore()
    try:
        row = rs.get_sweep(sweep_id)
        variants = rs.variants(sweep_id)
    except ItaError as exc:
        fail(exc)
    console.print(f"[bold]{row['sweep_id']}[/] ({row['kind']}, {row['status']}) · {row['setup_id']} v{row['setup_version']} "
                  f"sha256 {row['setup_hash'][:12]} · {row['symbol']} {row['start']} → {row['end']} · "
                  f"{row['n_done']}/{row['n_variants']} variants, {row['search']}, objective {row['objective']}, "
                  f"min trades {row['min_trades']}", highlight=False)
    console.print("Grid: " + "; ".join(f"{k} = {', '.join(str(x) for x in v)}" for k, v in row["grid"].items()),
                  highlight=False)
    print_tool_table(ranked_table(variants, list(row["grid"]), n=top,
                                  title=f"Top {top} of {sum(1 for v in variants if v.get('rank'))} ranked variants"),
                     title_justify="left")
    console.print(row.get("verdict") or "", highlight=False)
    if row["kind"] == "walk_forward":
        wf, folds = rs.walk_forward(sweep_id)
        t = Table(title="Folds", title_justify="left")
        for c in ("fold", "train", "test", "chosen", "IS R", "OOS trades", "OOS R"):
            t.add_column(c)
        for f in folds:
            t.add_row(str(f["fold"]), f"{f['train_start']} → {f['train_end']}", f"{f['test_start']} → {f['test_end']}",
                      str(f.get("params") or "—"), f"{float(f['is_total_r'] or 0):+.2f}", str(f["oos_trades"]),
                      f"{float(f['oos_total_r'] or 0):+.2f}")
        console.print(t)
        def num(x):
            try:
                return "—" if x is None or float(x) != float(x) else f"{float(x):.2f}"
            except (TypeError, ValueError):
                return str(x)
        console.print(f"Out of sample: {wf['oos_trades']} trades, total R {float(wf['oos_total_r']):+.2f}, PF "
                      f"{num(wf['oos_profit_factor'])}; walk-forward efficiency {num(wf['wfe'])}", highlight=False)
    console.print(f"Artifacts in {row['folder']}", highlight=False)
