"""``ita runs …``: the stored backtest runs — latest, one run's statistics, statistics by setup version."""
from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ita.cli.common import console, fail, fmt_value, print_stats, print_tool_table, symbol_option
from ita.errors import ItaError

runs_app = typer.Typer(help="Stored backtest runs.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(limit: int = typer.Option(20, "--limit", "-n", help="How many of the latest runs of each kind.")):
    """Latest stored runs with their setup version and headline statistics; portfolio runs
    (`ita backtest --portfolio`) in a second table.

    \b
    Examples:
      ita runs list
      ita runs list -n 5
    """
    from ita.tools import list_runs

    r = list_runs(limit=limit)
    if not r.ok:
        fail(r.error)
    if not r.data["runs"] and not r.data["portfolio_runs"]:
        console.print("No runs yet. Try `ita backtest asia_fvg_break --symbol EURUSD`.")
        return
    for name in ("runs", "portfolio_runs"):
        if name in r.tables and r.tables[name].rows:
            print_tool_table(r.tables[name], title_justify="left", no_wrap=("run", "setup", "setups", "period"))
    console.print("`ita runs show RUN_ID` for all statistics, the setup hash and the artifact folder; "
                  "`ita research montecarlo RUN_ID` / `ita research challenge RUN_ID` take either kind of id.",
                  highlight=False)


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
    """Statistics and artifact folder of one stored run (a backtest bt_… or a portfolio pf_… run).

    \b
    Examples:
      ita runs show bt_20261206_134630_78099e
      ita runs show pf_20261206_140102_1c2d3e
    """
    import pandas as pd

    from ita.tools import show_run

    if run_id.startswith("pf_"):
        _portfolio_show(run_id)
        return
    r = show_run(run_id=run_id, sample=0)
    if not r.ok:
        fail(r.error)
    d = r.data
    console.print(f"\n[bold]{d['run_id']}[/] · {d['setup_id']} v{d['version']} · {d['symbol']} · "
                  f"{d['period'][0]} → {d['period'][1]}", highlight=False)
    print_stats(pd.Series(d["stats"]), "Statistics (R = multiples of the planned risk)")
    console.print(f"Setup sha256 {d['setup_hash']}  ·  overrides {d['overrides'] or '{}'}  ·  spread {d['spread']} pips  ·  "
                  f"data {d['data_fingerprint']}", highlight=False)
    changed = d.get("data_changed")
    console.print(f"[yellow]Note: {escape(changed)}[/]" if changed else "Data: the stored candles are the ones this run used.")
    console.print(f"Artifacts: {d['run_dir']}", highlight=False)


def _portfolio_show(run_id: str) -> None:
    """``ita runs show pf_…``: a portfolio run's statistics under the governor, without it, and its folder."""
    import pandas as pd

    from ita.backtest.governor import GovernorRules
    from ita.store.portfolio import PortfolioStore

    try:
        row = PortfolioStore().get(run_id)
    except ItaError as exc:
        fail(exc)
    gov = GovernorRules.describe_stored(row.get("governor"))
    console.print(f"\n[bold]{run_id}[/] · portfolio {row['setups']} · {row['symbols']} · {row['start']} → {row['end']}",
                  highlight=False)
    print_stats(pd.Series(row["stats"]), "Statistics under the governor (R = multiples of the planned risk)")
    sa = row.get("stats_all") or {}
    console.print(f"Governor: {gov}; it blocked {row['blocked']} trades. Without it: {sa.get('Trades', '—')} trades, "
                  f"total R {fmt_value(sa.get('Total R'))}, max drawdown {fmt_value(sa.get('Max Drawdown [R]'))} R.",
                  highlight=False)
    console.print(f"Artifacts: {row['run_dir']}  ·  `ita research montecarlo {run_id}`, "
                  f"`ita research challenge {run_id}`", highlight=False)
