"""``ita data …``: import candle files (server time → UTC), list the store's coverage, and the kept versions of a
series (``history``, ``restore``): stored bars change only with ``--replace``, and a replaced series is kept."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ita.cli.common import console, fail, symbol_option
from ita.errors import ItaError

data_app = typer.Typer(help="Candle data: import files in any common format (clock checked, → UTC), fetch crypto "
                            "through CCXT, list coverage, kept versions (history, restore).", no_args_is_help=True)


@data_app.command("import")
def data_import(
    files: List[Path] = typer.Argument(..., help="Candle files, folders or .gz/.zip archives: MT5 exports, HistData, Dukascopy, Binance klines, TradingView, any OHLCV CSV."),
    symbol: Optional[str] = symbol_option(None, help="Instrument, e.g. EURUSD (default: from the file name; `ita instruments list`)."),
    timeframe: Optional[str] = typer.Option(None, "--timeframe", "-t", help="Bar size: M1 M5 M15 M30 H1 H4 D1 (default: from the bar spacing)."),
    server_tz: Optional[str] = typer.Option(None, "--server-tz", help="The file's clock: an IANA zone (Europe/Athens), a fixed offset (UTC-5, UTC+2, -05:00) or NY+7. Default: inferred from the data's weekly rhythm, else the format's (HistData: UTC-5) or Europe/Athens."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Force a format: mt5, mt5_terminal, histdata_mt, histdata_ascii, dukascopy, binance, tradingview, generic (default: detected)."),
    replace: bool = typer.Option(False, "--replace", help="Let the file's prices win over stored bars that differ; the stored series is kept as a dated version first (`ita data history`, `ita data restore`)."),
):
    """Import candle files into the store: format detected, clock checked, validated, converted to UTC.

    The report names the format, the clock it assumed and why (given, inferred from the weekly rhythm —
    FX closes Friday 17:00 and opens Sunday 17:00 New York — or the format's own), warns with the evidence
    when a given clock disagrees with the data, and counts weekend closes, daily pauses and missing bars.
    New bars are added and bars already stored at the same prices stay. A bar stored at other prices is a
    conflict: refused (exit 2, nothing written) unless --replace, which keeps the stored series as a dated
    version first. An M1 import also stores M5 … D1 resampled from it.

    \b
    Examples:
      ita data import ../shared/data/EURUSD_M5_2025.csv --symbol EURUSD --server-tz Europe/Athens
      ita data import DAT_MT_EURUSD_M1_2025.zip                    # HistData: EST (UTC-5), symbol from the name
      ita data import histdata/ --symbol GBPUSD                    # a folder of monthly files
      ita data import AVAXUSDT-1m-2025-*.zip --symbol AVAXUSDT     # Binance klines (epoch ms/µs, UTC)
      ita data import EURUSD_M5_fixed.csv --symbol EURUSD --replace
    """
    from ita.data.store import CandleStore, HistoryConflict

    store = CandleStore()
    try:
        with console.status(f"Reading and validating {', '.join(str(f) for f in files[:3])} …"):
            res = store.import_file(list(files), symbol, timeframe, server_tz, replace=replace, fmt=fmt)
    except HistoryConflict as exc:
        _conflict(exc, files, symbol, timeframe, server_tz)
    except ItaError as exc:
        fail(exc)
    r, read = res.report, res.read
    shown = ", ".join(Path(f.name).name if ":" not in f.name else f.name.split(":")[-1] for f in read.files[:4])
    more = f" and {len(read.files) - 4} more" if len(read.files) > 4 else ""
    console.print(f"[green]Imported[/] {res.symbol} {res.timeframe}: {r.rows:,} bars "
                  f"{r.first:%Y-%m-%d %H:%M} → {r.last:%Y-%m-%d %H:%M} UTC; {res.added:+,} new, {res.total:,} stored "
                  f"→ {res.path}", highlight=False)
    console.print(f"Format: {read.fmt.title} — {len(read.files)} file{'s' if len(read.files) != 1 else ''} "
                  f"({shown}{more})" + (f"; symbol {read.symbol} {read.symbol_source}" if read.symbol_source != "given" else "")
                  + (f"; timeframe {read.timeframe} {read.timeframe_source}" if read.timeframe_source != "given" else ""),
                  highlight=False)
    console.print(f"Clock: {read.clock_line}", highlight=False)
    if res.replaced:
        hist = store.history(res.symbol, res.timeframe)
        kept = hist[hist["version"] == res.kept_version]
        where = kept["path"].iloc[0] if len(kept) else res.kept_version
        console.print(f"[yellow]Replaced[/] {res.replaced:,} stored bars whose prices differed. The previous series "
                      f"is kept as version {res.kept_version} → {where}\n"
                      f"Undo: `ita data restore {res.symbol} {res.kept_version} --timeframe {res.timeframe}`",
                      highlight=False)
    if res.derived:
        console.print(f"Resampled from {res.timeframe} and stored: {', '.join(res.derived)}.", highlight=False)
    pauses = f"; {r.daily_pauses} daily pauses (17:00 New York)" if r.daily_pauses else ""
    console.print(f"Gaps: {r.weekend_gaps} weekend closes{pauses}; {r.intraday_gaps} other gaps ({r.missing_bars:,} "
                  "missing bars).", highlight=False)
    if r.gaps:
        t = Table(title="Largest other gaps (UTC)", show_lines=False)
        for c in ("after", "before", "missing bars"):
            t.add_column(c)
        for g in r.gaps[:5]:
            t.add_row(f"{g.after:%Y-%m-%d %H:%M}", f"{g.before:%Y-%m-%d %H:%M}", str(g.missing_bars))
        console.print(t)
    for n in list(read.notes) + list(res.notes):
        console.print(f"Note: {n}", highlight=False)
    for w in r.warnings:
        console.print(f"[yellow]Warning:[/] {w}", highlight=False)


def _conflict(exc, files, symbol, timeframe, server_tz):
    """Print a refused import (:class:`ita.data.store.HistoryConflict`) as a short summary and exit 2."""
    from rich.markup import escape

    from ita.cli.common import err_console
    from ita.data.instruments import get_instrument

    inst, tf = get_instrument(exc.symbol), exc.timeframe
    n = exc.count
    file = " ".join(str(f) for f in files)
    opts = (f" --symbol {inst.symbol}" + (f" --timeframe {timeframe}" if timeframe else "")
            + (f" --server-tz {server_tz}" if server_tz else ""))
    err_console.print(f"[bold red]Error:[/] {escape(file)}: {n:,} bar{'s' if n != 1 else ''} already stored for "
                      f"{inst.symbol} {tf} at different prices (largest difference {exc.largest_pips:,.1f} pips). "
                      "Nothing was imported; the stored data is unchanged.", highlight=False, soft_wrap=True)
    for e in exc.examples:
        err_console.print(f"  {e['time']:%Y-%m-%d %H:%M} UTC  {e['column']:<5}  {e['old']:.{inst.digits}f} → "
                          f"{e['new']:.{inst.digits}f}", highlight=False)
    if n > len(exc.examples):
        err_console.print(f"  … and {n - len(exc.examples):,} more.", highlight=False)
    err_console.print(f"If the file is right, import it again with --replace (the stored series is kept as a dated "
                      f"version first):\n  ita data import {escape(file)}{opts} --replace", highlight=False,
                      soft_wrap=True)
    raise typer.Exit(2)


@data_app.command("fetch")
def data_fetch(
    market: str = typer.Argument(..., help="The exchange's market, BASE/QUOTE: BTC/USDT, ETH/USDT (perpetuals BTC/USDT:USDT)."),
    exchange: str = typer.Option("binance", "--exchange", "-e", help="A CCXT exchange id: binance, bybit, okx, kraken, coinbase, …"),
    timeframe: str = typer.Option("1m", "--timeframe", "-t", help="1m 5m 15m 30m 1h 4h 1d (or M1 … D1). 1m also stores M5 … D1 resampled."),
    start: str = typer.Option(..., "--from", help="First bar, UTC date or time, e.g. 2025-01-01."),
    end: Optional[str] = typer.Option(None, "--to", help="Last bar, UTC (a date includes that whole day; default: now)."),
    symbol: Optional[str] = symbol_option(None, help="Store under this instrument (default: the market's, BTC/USDT → BTCUSDT)."),
    save_every: int = typer.Option(20_000, "--save-every", help="Bars fetched between saves: an interrupted fetch resumes after the last save."),
):
    """Fetch an exchange's candles through CCXT into the candle store: paged, rate-limited, resumable.

    Only closed candles are stored (the one still forming is not). Bars already stored are not fetched
    again: run the same command after an interruption (Ctrl-C, a lost connection, a killed process) and it
    goes on after the last stored bar — no gap, no duplicate. Rate limits (429) and server errors (5xx) are
    retried with backoff. Times are UTC (exchanges' clock). ITA_CCXT_API_URL points the exchange's REST
    URLs at another host (a proxy).

    \b
    Examples:
      ita data fetch BTC/USDT --exchange binance --timeframe 1m --from 2025-01-01 --to 2025-03-31
      ita data fetch ETH/USDT --from 2025-06-01                    # up to now; run it again to catch up
      ita data fetch AVAX/USDT --exchange bybit --timeframe 5m --from 2025-01-01
    """
    import pandas as pd
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ita.data.ccxt_source import fetch_to_store, ita_timeframe
    from ita.data.timeframes import tf_delta

    try:
        tf = ita_timeframe(timeframe)
        lo = pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tz is None else pd.Timestamp(start)
        hi = pd.Timestamp(end, tz="UTC") if end and pd.Timestamp(end).tz is None else (pd.Timestamp(end) if end else
                                                                                          pd.Timestamp.now(tz="UTC"))
    except (ValueError, ItaError) as exc:
        fail(exc)
    total = max(int((hi - lo) / tf_delta(tf)), 1)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} bars"),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"{exchange} {market} {tf}", total=total)

        def progress(n, last):
            bar.update(task, completed=n, description=f"{exchange} {market} {tf} → {last:%Y-%m-%d %H:%M}")

        try:
            res = fetch_to_store(exchange, market, tf, start, end, symbol=symbol, save_every=save_every,
                                 progress=progress, log=lambda m: console.print(f"[yellow]{m}[/]", highlight=False))
        except ItaError as exc:
            fail(exc)
    if res.first is None:
        console.print(f"{res.exchange} {res.market} {res.timeframe}: nothing new — {res.symbol} is stored up to date "
                      f"({res.total:,} bars in {res.path}).", highlight=False)
        return
    resumed = f" (resumed after the stored bar {res.resumed_from:%Y-%m-%d %H:%M})" if res.resumed_from is not None else ""
    console.print(f"[green]Fetched[/] {res.exchange} {res.market} {res.timeframe} → {res.symbol}: "
                  f"{res.first:%Y-%m-%d %H:%M} → {res.last:%Y-%m-%d %H:%M} UTC{resumed}; {res.added:+,} new, "
                  f"{res.total:,} stored, {res.pages} requests → {res.path}", highlight=False)
    if res.derived:
        console.print(f"Resampled from M1 and stored: {', '.join(res.derived)}.", highlight=False)
    if res.conflicts:
        console.print(f"[yellow]Warning:[/] {res.conflicts} refetched bars differ from the stored ones; the stored "
                      "bars were kept (`ita data history` to see versions).", highlight=False)


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
        src = f"resampled from {r.derived_from}" if r.derived_from else Path(r.source).name if "/" in str(r.source) else r.source
        t.add_row(r.symbol, r.timeframe, f"{r.first:%Y-%m-%d %H:%M}", f"{r.last:%Y-%m-%d %H:%M}", f"{r.bars:,}",
                  r.server_tz, src)
    console.print(t)
    console.print("Timeframes not listed are resampled on the fly from the coarsest finer one; D1/H4 roll at 17:00 "
                  "New York.")



def _series(store, symbol: str, timeframe: str):
    """(instrument symbol, timeframe) of a stored series; exit 2 naming the stored ones when it is not stored."""
    from ita.data.instruments import get_instrument
    from ita.data.timeframes import normalize_tf
    from ita.errors import closest

    try:
        inst, tf = get_instrument(symbol), normalize_tf(timeframe)
    except ItaError as exc:
        fail(exc)
    have = store.symbols()
    if inst.symbol not in have and not store.history(inst.symbol, tf).shape[0]:
        fail(f"No candles stored for {inst.symbol}.{closest(inst.symbol, have)} Stored symbols: "
             f"{', '.join(have) or 'none'}.")
    return inst.symbol, tf


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


@data_app.command("history")
def data_history(
    symbol: str = typer.Argument(..., help="Instrument, e.g. EURUSD."),
    timeframe: str = typer.Option("M5", "--timeframe", "-t", help="The stored series' bar size."),
):
    """The kept versions of a stored series: every `ita data import --replace` and `ita data restore` keeps the
    series it replaces as a dated version, so nothing is ever lost.

    \b
    Example:
      ita data history EURUSD --timeframe M5
      ita data restore EURUSD 20260301T101500123456Z      # bring a version back (undoable)
    """
    from ita.data.store import CandleStore

    store = CandleStore()
    sym, tf = _series(store, symbol, timeframe)
    hist = store.history(sym, tf)
    if hist.empty:
        console.print(f"No kept versions of {sym} {tf}: its stored bars were never replaced. A version is kept when "
                      f"`ita data import … --replace` or `ita data restore` changes the series.", highlight=False)
        return
    t = Table(title=f"Kept versions of {sym} {tf} (oldest first)")
    for c in ("version (kept at, UTC)", "bars", "first (UTC)", "last (UTC)", "size", "kept because", "source"):
        t.add_column(c, justify="right" if c in ("bars", "size") else "left")
    for r in hist.itertuples():
        p = Path(r.path)
        t.add_row(r.version, f"{r.bars:,}", "—" if r.first is None else f"{r.first:%Y-%m-%d %H:%M}",
                  "—" if r.last is None else f"{r.last:%Y-%m-%d %H:%M}", _size(p.stat().st_size),
                  r.reason or "—", Path(r.source).name if r.source else "—")
    console.print(t)
    console.print(f"Current: {store.path(sym, tf)}. Bring a version back with `ita data restore {sym} VERSION "
                  f"--timeframe {tf}` (the current series is kept first).", highlight=False)


@data_app.command("restore")
def data_restore(
    symbol: str = typer.Argument(..., help="Instrument, e.g. EURUSD."),
    version: str = typer.Argument(..., help="A version id from `ita data history SYMBOL`."),
    timeframe: str = typer.Option("M5", "--timeframe", "-t", help="The stored series' bar size."),
):
    """Make a kept version the stored series again (byte for byte). The series it replaces is kept as a version
    first, so a restore is undone by restoring that one.

    \b
    Example:
      ita data restore EURUSD 20260301T101500123456Z --timeframe M5
    """
    from ita.data.store import CandleStore

    store = CandleStore()
    sym, tf = _series(store, symbol, timeframe)
    try:
        kept = store.restore(sym, version, tf)
    except ItaError as exc:
        fail(exc)
    cur = store.catalog()
    row = cur[(cur.symbol == sym) & (cur.timeframe == tf)].iloc[0]
    console.print(f"[green]Restored[/] {sym} {tf} version {version}: {row['bars']:,} bars "
                  f"{row['first']:%Y-%m-%d %H:%M} → {row['last']:%Y-%m-%d %H:%M} UTC → {store.path(sym, tf)}",
                  highlight=False)
    if kept:
        console.print(f"The series it replaced is kept as version {kept}. Undo: `ita data restore {sym} {kept} "
                      f"--timeframe {tf}`", highlight=False)
