"""``ita backtest``: backtest a setup on stored candles, print the statistics, write the run's artifacts."""
from __future__ import annotations

import time
from typing import List, Optional

import typer
from rich.table import Table

from ita.cli.common import (
    console,
    fail,
    from_option,
    param_option,
    parse_params,
    print_stats,
    symbol_option,
    to_option,
    version_option,
)
from ita.errors import ItaError
from ita.times import NY


def _spread(value: Optional[str]):
    if value is None:
        return None
    if value.lower() == "data":
        return "data"
    try:
        f = float(value)
    except ValueError:
        raise ItaError(f"--spread {value!r}: give pips (e.g. 0.8 or 0) or 'data' for the candles' own spread.") from None
    if f < 0:
        raise ItaError("--spread must be ≥ 0 pips.")
    return f




def print_by_month(by_month) -> None:
    """Print :func:`ita.backtest.stats.by_month` (one row per entry month, UTC): trades, wins, losses, win rate,
    total R (green / red), net profit. Nothing for an empty frame."""
    if by_month.empty:
        return
    t = Table(title="By month (entry month, UTC)", title_justify="left")
    for c in ("month", "trades", "wins", "losses", "win rate %", "total R", "net profit"):
        t.add_column(c, justify="right")
    for m, r in by_month.iterrows():
        col = "green" if r.total_r > 1e-9 else "red" if r.total_r < -1e-9 else ""
        t.add_row(str(m), str(int(r.trades)), str(int(r.wins)), str(int(r.losses)), f"{r.win_rate_pct:.1f}",
                  f"[{col}]{r.total_r:+.2f}[/]" if col else f"{r.total_r:+.2f}", f"{r.net_profit:,.0f}")
    console.print(t)



def print_result(res, show_trades: int = 10) -> None:
    """Print what a trader reads first about a backtest (:class:`ita.backtest.BacktestResult`): the header
    (setup, symbol, timeframe, period, costs), the statistics table, the by-month table and the last
    ``show_trades`` trades (times New York)."""
    m = res.model
    spread_txt = "candles' own spread" if m.spread_pips is None else f"{m.spread_pips:g} pip spread"
    console.print(f"\n[bold]{res.setup.label}[/] · {res.symbol} {res.setup.setup.timeframe} · "
                  f"{res.start.date()} → {res.end.date()} · {spread_txt}, commission {m.commission_per_lot:g}/lot")
    print_stats(res.stats, "Statistics (R = multiples of the planned risk)")
    print_by_month(res.by_month)
    if show_trades and len(res.trades):
        t = Table(title=f"Last {min(show_trades, len(res.trades))} of {len(res.trades)} trades (times New York)", title_justify="left")
        for c in ("#", "day", "dir", "entry", "entry px", "SL", "TP", "exit", "exit px", "reason", "R"):
            t.add_column(c, justify="right")
        from ita.data.instruments import get_instrument

        d = get_instrument(res.symbol).digits
        for r in res.trades.tail(show_trades).itertuples():
            ny_in = r.entry_time.tz_convert(NY)
            ny_out = r.exit_time.tz_convert(NY)
            col = "green" if r.r > 0 else "red" if r.r < 0 else ""
            t.add_row(str(r.trade), str(r.day)[:10], r.direction, f"{ny_in:%H:%M}", f"{r.entry_price:.{d}f}",
                      f"{r.sl_price:.{d}f}", f"{r.tp_price:.{d}f}", f"{ny_out:%H:%M}", f"{r.exit_price:.{d}f}",
                      r.exit_reason, f"[{col}]{r.r:+.2f}[/]")
        console.print(t)


def backtest(
    setup: Optional[str] = typer.Argument(None, help="Setup id, e.g. asia_fvg_break (see `ita setups list`); omit with --portfolio."),
    symbol: str = symbol_option(),
    start: str = from_option(),
    end: str = to_option(),
    version: Optional[str] = version_option(),
    param: Optional[List[str]] = param_option("One-off override key=value, e.g. rr=3 or target.rr=3. Never changes the stored YAML."),
    spread: Optional[str] = typer.Option(None, "--spread", help="Spread in pips (default: the instrument's typical spread); 0 for none; 'data' = the candles' own spread column."),
    commission: Optional[float] = typer.Option(None, "--commission", help="Round-turn commission per 1.0 lot, account currency (default: the instrument's)."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Render equity and sample-trade PNGs (needs Chromium)."),
    samples: int = typer.Option(6, "--samples", help="How many sample trade PNGs."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write the interactive HTML report."),
    show_trades: int = typer.Option(10, "--show-trades", help="Print the last N trades (0 = none)."),
    session: Optional[str] = typer.Option(None, "--session", help="Only signals completed inside this session/killzone, e.g. london_killzone, new_york_killzone."),
    portfolio: Optional[str] = typer.Option(None, "--portfolio", help="Several setups traded together, comma-separated (id@N for a version), under the risk governor options below."),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="Portfolio: the instruments every setup trades, comma-separated (default: --symbol)."),
    max_daily_loss: Optional[str] = typer.Option(None, "--max-daily-loss", help="Portfolio governor: stop the day once the trades closed that day lost this much, in R (3R) or % of the account (2%)."),
    max_open_risk: Optional[str] = typer.Option(None, "--max-open-risk", help="Portfolio governor: at most this much at risk at once, R (2R: two open trades) or % (2%)."),
    max_trades_per_day: Optional[int] = typer.Option(None, "--max-trades-per-day", help="Portfolio governor: at most this many fills per day across setups and symbols."),
    day_start: str = typer.Option("17:00", "--day-start", help="Portfolio governor: New York time the trading day starts (17:00 = the FX day; 00:00 = the calendar date)."),
):
    """Backtest a setup on stored candles; print statistics and write the run's artifacts. With --portfolio,
    several setups on several symbols traded together under a risk governor.

    The statistics print the moment the simulation ends; the PNGs (equity curve + sample trades, rendered
    by headless Chromium, started in the background first thing) and the HTML report follow with a
    progress line.

    \b
    Examples:
      ita backtest asia_fvg_break --symbol EURUSD --from 2025-01-01 --to 2025-12-31
      ita backtest asia_fvg_break --symbol XAUUSD --param rr=3 --spread 0 --commission 0
      ita backtest asia_fvg_break --session london_killzone
      ita backtest --portfolio asia_fvg_break,asia_sweep --symbols EURUSD,XAUUSD --max-daily-loss 2R --max-trades-per-day 2
    \b
    Portfolio: each setup × symbol is backtested on its own, then the trades are taken in the order their
    orders fill; the governor blocks a trade only by what was known at that fill (no look-ahead): the day
    stops once the losses closed that day reach --max-daily-loss, or after --max-trades-per-day fills;
    --max-open-risk caps the risk open at once. Shown with the same statistics without the governor, per
    setup × symbol, and the correlation of the setups' daily R (95 % interval).
    """
    if portfolio is not None:
        if setup is not None or param or session:
            fail(ItaError("--portfolio takes the setups itself: give either a SETUP or --portfolio A,B (without --param "
                          "or --session)."))
        if charts:
            from ita.charts.export import use_daemon, warm_up

            use_daemon()
            warm_up(tabs=1)
        _portfolio(portfolio, symbols or symbol, start, end, spread, commission, charts or html,
                   {"max_daily_loss": max_daily_loss, "max_open_risk": max_open_risk,
                    "max_trades_per_day": max_trades_per_day, "day_start": day_start})
        return
    if setup is None:
        fail(ItaError("Name a setup (e.g. `ita backtest asia_fvg_break`) or several with --portfolio A,B; "
                      "`ita setups list` shows them."))
    if symbols or max_daily_loss or max_open_risk or max_trades_per_day:
        fail(ItaError("--symbols and the governor options (--max-daily-loss, --max-open-risk, --max-trades-per-day) "
                      "go with --portfolio; one setup takes --symbol."))
    if charts:  # the kept renderer (or a Chromium of our own) starts now, beside the data load and the simulation
        from ita.charts.export import use_daemon, warm_up

        use_daemon()
        warm_up(tabs=1)
    from ita.backtest.runner import run_backtest

    shown: list = []

    def show(res) -> None:  # the moment the simulation ends: the statistics, while the charts render
        shown.append(time.perf_counter())
        print_result(res, show_trades)

    t0 = time.perf_counter()
    try:
        params = parse_params(param)
        sp = _spread(spread)
        with console.status("Backtesting …") as status:
            run = run_backtest(setup, symbol, start, end, version=version, params=params, spread=sp,
                               commission=commission, charts=charts, samples=samples, html=html,
                               session=session, progress=lambda m: (status.update(m), console.log(m)),
                               on_result=show)
    except ItaError as exc:
        fail(exc)
    if shown and (charts or html):
        made = [n for n in run.artifacts if n.endswith((".png", ".html"))]
        console.log(f"Statistics after {shown[0] - t0:.1f} s; {len(made)} charts/reports after "
                    f"{time.perf_counter() - t0:.1f} s")
    res = run.result
    console.print(f"\n[bold]Run[/] {run.run_id}  ·  setup {res.setup.id} v{res.setup.version} "
                  f"sha256 {res.setup.content_hash[:12]}" + (f"  ·  overrides {res.setup.overrides}" if res.setup.overrides else ""))
    console.print(f"Artifacts in {run.run_dir}:")
    for name, path in run.artifacts.items():
        console.print(f"  {name:<14} {path}", highlight=False)
    for w in run.warnings:
        console.print(f"[yellow]Warning:[/] {w}")
    if charts:
        _say_renderer_kept()


def _say_renderer_kept() -> None:
    """When this command started the kept PNG renderer, say that it stays up (and how to stop it)."""
    import sys

    daemon = sys.modules.get("ita.charts.daemon")  # imported only when the kept renderer was used
    if daemon is not None and daemon.started_here():
        console.print(f"[dim]The PNG renderer stays up {daemon.idle_seconds() / 60:g} min for your next backtest "
                      "(`ita renderer stop`; ITA_RENDERER_IDLE_S=0 keeps none).[/]", highlight=False)


def _portfolio(setups: str, symbols: str, start: str, end: str, spread: Optional[str], commission: Optional[float],
               charts: bool, governor: dict) -> None:
    """``ita backtest --portfolio …``: the ``portfolio_backtest`` tool's result as tables."""
    from ita.cli.common import print_tool_table
    from ita.tools import portfolio_backtest

    try:
        sp = _spread(spread)
    except ItaError as exc:
        fail(exc)
    with console.status("Backtesting the portfolio …"):
        res = portfolio_backtest(setup_ids=setups, symbols=symbols, start=start, end=end, charts=charts,
                                 governor={k: v for k, v in governor.items() if v is not None}, spread=sp,
                                 commission=commission)
    if not res.ok:
        fail(res.error)
    d = res.data
    console.print(f"\n[bold]Portfolio[/] {' + '.join(d['setups'])} · {', '.join(d['symbols'])} · "
                  f"{d['period'][0]} → {d['period'][1]} · governor: {'; '.join(d['governor_text']) or 'no limits'}",
                  highlight=False)
    for name in ("stats", "components", "correlation", "blocked"):
        if name in res.tables:
            print_tool_table(res.tables[name], title_justify="left")
    if d["days_stopped"]:
        console.print("Days stopped by the governor: " + ", ".join(f"{v} × {k}" for k, v in d["days_stopped"].items()))
    console.print(f"\n[bold]Run[/] {d['run_id']}  ·  blocked {d['blocked']} of {d['candidates']} trades")
    console.print(f"Artifacts in {d['run_dir']}:")
    for a in res.artifacts:
        console.print(f"  {a.name:<16} {a.path}", highlight=False)
    for w in d["warnings"]:
        console.print(f"[yellow]Warning:[/] {w}")
