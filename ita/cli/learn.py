"""``ita learn …``: the learning module — datasets, the walk-forward p(success) model and its live gate,
explanations, similar past signals, recommendations, feature discovery. Every command calls a tool
(:mod:`ita.tools.learn`) and prints its tables."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

import typer

from ita.cli.common import console, fail, print_tool_table

learn_app = typer.Typer(help="Learning: datasets, the p(success) model, explanations, similar signals, "
                             "recommendations, feature discovery.", no_args_is_help=True)


@contextmanager
def _progress(what: str):
    """A rich progress bar fed by the tools' progress hook."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ita.tools.learn import PROGRESS

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as prog:
        task = prog.add_task(what, total=None)

        def hook(done: int, total: int, text: str) -> None:
            prog.update(task, completed=done, total=total, description=f"{what}: {text}")

        token = PROGRESS.set(hook)
        try:
            yield
        finally:
            PROGRESS.reset(token)


def _show(res, tables: tuple[str, ...] | None = None) -> None:
    if not res.ok:
        fail(res.error)
    console.print(res.summary, highlight=False, soft_wrap=True)
    for name, tb in res.tables.items():
        if tables is None or name in tables:
            if tb.rows:
                print_tool_table(tb, title_justify="left")
    for w in res.data.get("warnings") or []:
        console.print(f"[yellow]Note:[/] {w}", highlight=False)
    files = [a for a in res.artifacts]
    if files:
        console.print("Files: " + "  ".join(a.path for a in files), highlight=False, soft_wrap=True)


@learn_app.command("dataset")
def dataset(
    kind: str = typer.Option("setups", "--kind", help="setups (every setup signal and its trade), fvg (every FVG), "
                             "sweep (every liquidity sweep)."),
    setups: str = typer.Option("all", "--setups", help="Setup ids, comma-separated, or all."),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="Instruments, comma-separated (default: all stored)."),
    start: Optional[str] = typer.Option(None, "--from", help="First trading day (default: the first stored)."),
    end: Optional[str] = typer.Option(None, "--to", help="Last trading day (default: the last stored)."),
    out: Optional[str] = typer.Option(None, "--out", help="Parquet path (default: $ITA_HOME/learn/datasets/)."),
    with_discovered: bool = typer.Option(False, "--with-discovered", help="Add the discovered formulas that passed "
                                         "their out-of-sample check as features."),
):
    """Build a dataset: every signal with its features (known at the signal) and its outcome, as Parquet.

    \b
    Examples:
      ita learn dataset --setups all --symbols EURUSD,XAUUSD --from 2025-01-01 --to 2025-12-31
      ita learn dataset --kind fvg --symbols EURUSD,XAUUSD        # every FVG: respected / mitigated
      ita learn dataset --kind sweep                              # every sweep: 1R reversal or not
    """
    from ita.tools.learn import build_dataset

    with _progress("dataset"):
        res = build_dataset(kind=kind, setups=setups, symbols=symbols, start=start, end=end, path=out,
                            with_discovered=with_discovered)
    _show(res)


@learn_app.command("train")
def train(
    target: str = typer.Option("setup_win", "--target", help="setup_win | fvg_respected | fvg_mitigated | "
                               "sweep_reversal."),
    family: str = typer.Option("lgbm", "--model", help="lgbm (gradient boosting) or logistic, the model used live."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="A dataset Parquet (default: the latest)."),
):
    """Train the p(success) model; validate it by purged, embargoed walk-forward (AFML ch. 7).

    Prints the pooled out-of-sample AUC with its bootstrap 95 % CI, Brier and log loss against 0.5 and the
    Laplace rate used live, the folds, and the live gate per setup; writes a reliability diagram, the per-month
    AUC chart, the importance chart and an HTML report.

    \b
    Examples:
      ita learn train                          # setup_win on the latest setups dataset
      ita learn train --target fvg_respected   # after `ita learn dataset --kind fvg`
    """
    from ita.tools.learn import train_model

    with _progress("walk-forward"):
        res = train_model(target=target, family=family, dataset=dataset)
    _show(res)


@learn_app.command("status")
def status():
    """Trained models, their out-of-sample AUC with CI, and per setup whether the live score uses the model or
    Laplace — and why. Example: `ita learn status`."""
    from ita.tools.learn import learn_status

    _show(learn_status())


@learn_app.command("features")
def features():
    """The feature catalogue: unit, window and known-at rule of every feature. Example: `ita learn features`."""
    from ita.tools.learn import list_features

    _show(list_features())


@learn_app.command("score")
def score(signal_id: Optional[str] = typer.Argument(None, help="Signal id (default: the latest journaled signal)."),
          setup: Optional[str] = typer.Option(None, "--setup", help="The latest signal of this setup."),
          symbol: Optional[str] = typer.Option(None, "--symbol", "-s", help="With --setup: on this symbol.")):
    """The chance a signal works: the model's p where its gate lets it, else Laplace — both shown.

    \b
    Examples:
      ita learn score                                        # the latest journaled signal
      ita learn score asia_fvg_break-v1-EURUSD-M5-20250304T0750
      ita learn score --setup asia_sweep --symbol XAUUSD
    """
    from ita.tools.learn import signal_probability

    _show(signal_probability(signal_id=signal_id, setup_id=setup, symbol=symbol))


@learn_app.command("explain")
def explain(signal_id: Optional[str] = typer.Argument(None, help="Signal id (default: the latest journaled signal).")):
    """Why the model scores a signal what it does: the top SHAP contributions in words (probability points).

    Example: `ita learn explain asia_fvg_break-v1-EURUSD-M5-20250304T0750`
    """
    from ita.tools.learn import explain_signal

    _show(explain_signal(signal_id=signal_id))


@learn_app.command("similar")
def similar(signal_id: Optional[str] = typer.Argument(None, help="Signal id (default: the latest journaled signal)."),
            k: int = typer.Option(10, "-k", help="How many neighbours.")):
    """The k most similar earlier signals (standardised features), their outcomes and win rate with a Wilson CI,
    and small charts. Example: `ita learn similar asia_fvg_break-v1-EURUSD-M5-20250304T0750 -k 8`
    """
    from ita.tools.learn import similar_signals

    _show(similar_signals(signal_id=signal_id, k=k))


@learn_app.command("recommend")
def recommend(setup: str = typer.Argument(..., help="Setup id, e.g. ib_raid."),
              symbol: Optional[str] = typer.Option(None, "--symbol", "-s", help="One instrument (default: all stored).")):
    """What works and what loses for a setup: trades by session, weekday, hour, volatility and direction with
    Wilson intervals and Benjamini–Hochberg; each surviving finding checked out of sample by a walk-forward
    backtest of the changed setup (never an in-sample pattern alone).

    \b
    Examples:
      ita learn recommend ib_raid
      ita learn recommend asia_fvg_break --symbol EURUSD
    """
    from ita.tools.learn import recommend_changes

    with _progress("out-of-sample checks"):
        res = recommend_changes(setup_id=setup, symbol=symbol)
    _show(res)


@learn_app.command("discover")
def discover(target: str = typer.Option("setup_win", "--target", help="What to predict (see `ita learn train`)."),
             generations: int = typer.Option(8, "--generations", help="Generations of the genetic search."),
             formulas: int = typer.Option(5, "--formulas", help="How many formulas to check out of sample.")):
    """Guided feature discovery (gplearn's SymbolicTransformer over the human features). A formula is kept only if
    it raises the purged walk-forward AUC — with a CI above 0 — on later months the search never saw.

    \b
    Examples:
      ita learn discover                          # on the latest setups dataset
      ita learn discover --target fvg_respected --generations 10
      ita learn dataset --with-discovered && ita learn train     # use the kept formulas as features
    """
    from ita.tools.learn import discover_features

    with _progress("discovery"):
        res = discover_features(target=target, generations=generations, formulas=formulas)
    _show(res)
