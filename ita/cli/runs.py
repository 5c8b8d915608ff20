"""``ita runs …``: the stored backtest runs — latest, one run's statistics, statistics by setup version."""
from __future__ import annotations

import math
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ita.cli.common import console, fail, fmt_value, print_stats, symbol_option
from ita.errors import ItaError

runs_app = typer.Typer(help="Stored backtest runs.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(limit: int = typer.Option(20, "--limit", "-n")):
    """Latest stored runs with their setup version and headline statistics."""
    from ita.store import RunStore

    df = RunStore().runs(limit)
    if df.empty:
        console.print("No runs yet. Try `ita backtest asia_fvg_break --symbol EURUSD`.")
        return
    from rich import box

    t = Table(title="Backtest runs", box=box.SIMPLE_HEAD)
    for c in ("run_id", "setup", "symbol", "period", "trades", "win rate", "total R", "PF"):
        t.add_column(c, no_wrap=True, min_width=max(len(c), 4),
                     justify="right" if c in ("trades", "win rate", "total R", "PF") else "left")
    for r in df.itertuples():
        wr = "—" if r.winrate is None or (isinstance(r.winrate, float) and math.isnan(r.winrate)) else f"{r.winrate * 100:.1f}%"
        t.add_row(r.run_id, f"{r.setup_id} v{r.setup_version}", r.symbol, f"{r.start} → {r.end}", str(r.trades_count),
                  wr, fmt_value(r.total_r), fmt_value(r.profit_factor))
    console.print(t)
    console.print("`ita runs show RUN_ID` for all statistics, the setup hash and the artifact folder.")


@runs_app.command("by-version")
def runs_by_version(setup_id: Optional[str] = typer.Argument(None, help="Only this setup."),
                    symbol: Optional[str] = symbol_option(None, help=None)):
    """Statistics of the stored runs grouped by setup version (and symbol).

    Identical reruns count once (the latest); runs with --param overrides are experiments and show apart,
    with their overrides. Example: `ita runs by-version fvg_reversal`.
    """
    from rich import box

    from ita.store import RunStore

    df = RunStore().by_version(setup_id, symbol)
    if df.empty:
        console.print("No runs stored for that yet. Try `ita backtest asia_fvg_break --symbol EURUSD`.")
        return
    t = Table(title="Statistics by setup version", box=box.SIMPLE_HEAD)
    cols = ("setup", "hash", "overrides", "symbol", "period", "runs", "trades", "win rate", "total R",
            "expectancy", "PF")
    for c in cols:
        t.add_column(c, no_wrap=True, justify="right" if c in cols[5:] else "left")
    for r in df.to_dict("records"):
        t.add_row(f"{r['setup_id']} v{r['setup_version']}", str(r["setup_hash"])[:8], r["overrides"] or "—",
                  r["symbol"], f"{r['start']} → {r['end']}", str(r["runs"]), str(r["Trades"]),
                  fmt_value(r["Win Rate [%]"], 1) + "%", fmt_value(r["Total R"]), fmt_value(r["Expectancy [R]"], 3),
                  fmt_value(r["Profit Factor"]))
    console.print(t)


@runs_app.command("show")
def runs_show(run_id: str):
    """Statistics and artifact folder of one stored run."""
    import pandas as pd

    from ita.store import RunStore

    try:
        row = RunStore().get_run(run_id)
    except ItaError as exc:
        fail(exc)
    print_stats(pd.Series(row["stats"]), f"{row['run_id']} · {row['setup_id']} v{row['setup_version']} · {row['symbol']}")
    console.print(f"Setup sha256 {row['setup_hash']}  ·  overrides {row['overrides']}  ·  spread {row['spread']} pips  ·  "
                  f"data {row['data_fingerprint']}")
    from ita.backtest.runner import data_changed

    changed = data_changed(row)
    console.print(f"[yellow]Note: {escape(changed)}[/]" if changed else "Data: the stored candles are the ones this run used.")
    console.print(f"Artifacts: {row['run_dir']}")

