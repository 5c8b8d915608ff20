"""``ita data …``: import candle files (server time → UTC) and list the store's coverage."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ita.cli.common import console, fail, symbol_option
from ita.errors import ItaError

data_app = typer.Typer(help="Candle data: import MT5/CSV exports (server time → UTC), list coverage.", no_args_is_help=True)


@data_app.command("import")
def data_import(
    file: Path = typer.Argument(..., help="MT5 export (time,open,high,low,close,tick_volume,spread,real_volume) or any OHLCV CSV."),
    symbol: str = symbol_option(..., help="Instrument, e.g. EURUSD (see ita/data/instruments.yaml)."),
    timeframe: str = typer.Option("M5", "--timeframe", "-t", help="Bar size of the file: M1 M5 M15 M30 H1 H4 D1."),
    server_tz: str = typer.Option("Europe/Athens", "--server-tz", help="IANA zone of the file's clock. MT5 brokers: usually Europe/Athens (UTC+2/+3). UTC if already UTC."),
):
    """Import a candle file into the store (validated; server time converted to UTC).

    \b
    Example:
      ita data import ../shared/data/EURUSD_M5_2025.csv --symbol EURUSD --timeframe M5 --server-tz Europe/Athens
    """
    from ita.data.store import CandleStore

    try:
        with console.status(f"Reading and validating {file} …"):
            res = CandleStore().import_file(file, symbol, timeframe, server_tz)
    except ItaError as exc:
        fail(exc)
    r = res.report
    console.print(f"[green]Imported[/] {res.symbol} {res.timeframe}: {r.rows:,} bars "
                  f"{r.first:%Y-%m-%d %H:%M} → {r.last:%Y-%m-%d %H:%M} UTC; {res.added:+,} new, {res.total:,} stored "
                  f"→ {res.path}")
    console.print(f"Gaps: {r.weekend_gaps} weekend closes; {r.intraday_gaps} intraday gaps ({r.missing_bars:,} missing bars).")
    if r.gaps:
        t = Table(title="Largest intraday gaps (UTC)", show_lines=False)
        for c in ("after", "before", "missing bars"):
            t.add_column(c)
        for g in r.gaps[:5]:
            t.add_row(f"{g.after:%Y-%m-%d %H:%M}", f"{g.before:%Y-%m-%d %H:%M}", str(g.missing_bars))
        console.print(t)
    for w in r.warnings:
        console.print(f"[yellow]Warning:[/] {w}")


@data_app.command("list")
def data_list():
    """Show stored symbols, timeframes and coverage (UTC)."""
    from ita.data.store import CandleStore

    store = CandleStore()
    cat = store.catalog()
    if cat.empty:
        console.print(f"No candles stored in {store.data_dir}. Import with `ita data import FILE --symbol EURUSD "
                      "--timeframe M5 --server-tz Europe/Athens` (the backtest imports the samples by itself).")
        return
    t = Table(title=f"Candle store {store.data_dir}")
    for c in ("symbol", "timeframe", "first (UTC)", "last (UTC)", "bars", "server tz", "source"):
        t.add_column(c, justify="right" if c == "bars" else "left")
    for r in cat.itertuples():
        t.add_row(r.symbol, r.timeframe, f"{r.first:%Y-%m-%d %H:%M}", f"{r.last:%Y-%m-%d %H:%M}", f"{r.bars:,}",
                  r.server_tz, Path(r.source).name)
    console.print(t)
    console.print("Other timeframes (M15, H1, H4, D1) are resampled on the fly; D1/H4 roll at 17:00 New York.")

