"""``ita live …``: live signals on the wall clock, replays of stored history, the journal, latency and the outbox.

Registered on the root ``ita`` app by :mod:`ita.cli`. Errors a user can fix print one line and exit 2.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ita.cli.common import console, err_console, fail, from_option, to_option
from ita.errors import ItaError

live_app = typer.Typer(
    help="Live signals: watch the market on every closed candle, alert Telegram / Notion / the outbox within "
         "seconds. Never places orders.", no_args_is_help=True)


def _csv(values: Optional[List[str]]) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _duration(text: str, what: str):
    import pandas as pd

    t = text.strip().lower()
    if t in ("0", "off", "none"):
        return pd.Timedelta(0)
    try:
        return pd.Timedelta(t if t[-1].isalpha() else f"{t}min")
    except ValueError:
        raise ItaError(f"{what} {text!r}: use minutes (30) or a duration like 45m, 2h.") from None


def _setups(values) -> list[str]:
    from ita.setups import list_setups

    refs = _csv(values)
    return refs or sorted(list_setups())


def _promoted(values) -> tuple[list[str], tuple[str, ...], str | None]:
    """``(setups to watch, the paper ones, a note)`` for ``ita live start``: the given --setups; else the active
    versions plus the paper ones (journaled, not alerted); else every setup's latest version, with a note."""
    from ita.promotion import live_setups

    if _csv(values):
        return _setups(values), (), None
    refs, paper = live_setups()
    if refs:
        return refs, tuple(paper), None
    return _setups(None), (), ("No setup version is active or in paper yet (`ita setups promote SETUP vN`): watching "
                               "every setup's latest version.")


def _governor(max_daily_loss, max_open_risk, max_trades_per_day, day_start):
    """The governor rules of the options, or None when no limit is given."""
    from ita.backtest.governor import GovernorRules

    rules = GovernorRules.from_mapping({"max_daily_loss": max_daily_loss, "max_open_risk": max_open_risk,
                                        "max_trades_per_day": max_trades_per_day, "day_start": day_start})
    return rules if rules.active else None


GOVERNOR_HELP = {
    "loss": "Risk governor: no more alerts once the alerted trades closed today lost this much, R (3R) or % (2%).",
    "open": "Risk governor: at most this much at risk at once over the alerted orders (pending ones count), R or %.",
    "trades": "Risk governor: at most this many alerts per day across setups and symbols.",
    "day": "Risk governor: New York time the trading day starts (17:00 = the FX day; 00:00 = the calendar date).",
}


def _config_kw(min_score, cooldown, symbol_cooldown, charts, delay, wait, vision_score) -> dict:
    from ita.data.timeframes import normalize_tf

    chart_tfs = () if charts.strip().lower() in ("none", "off", "") else tuple(normalize_tf(c) for c in _csv([charts]))
    for name, v in (("--min-score", min_score), ("--vision-score", vision_score)):
        if not 0.0 <= v <= 1.0:
            raise ItaError(f"{name} {v}: a probability between 0 and 1.")
    return dict(min_score=min_score, cooldown_setup=_duration(cooldown, "--cooldown"),
                cooldown_symbol=_duration(symbol_cooldown, "--symbol-cooldown"), charts=chart_tfs,
                delay_s=float(delay), wait_s=float(wait), vision_min_score=vision_score)


VISION_HELP = ("With a vision model configured (OPENAI_API_KEY, ITA_VISION_MODEL), it comments signals scoring at "
               "least this; the others get the templated comment.")


def _logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s", datefmt="%H:%M:%S",
                        handlers=[RichHandler(console=err_console, show_path=False, markup=False)], force=True)


def _fmt_price(symbol: str, p) -> str:
    from ita.data.instruments import get_instrument

    return f"{float(p):.{get_instrument(symbol).digits}f}"


def _alert_line(journal, run: str, sid: str, decision: dict, delivered: dict) -> str:
    import pandas as pd

    from ita.times import NY

    s = journal.signal(run, sid)
    t = pd.Timestamp(s["known_at"]).tz_convert(NY)
    col = "green" if s["direction"] == "long" else "red"
    chans = " ".join(f"{c.split(':')[0]}:{st}" for c, st in (delivered.get(sid) or {}).items())
    if decision["decision"] != "alert":
        return (f"[dim]{t:%a %d %b %H:%M} NY  {s['symbol']} {s['setup_id']} v{s['version']} {s['direction']}  "
                f"{decision['decision']}: {decision['reason']}[/]")
    return (f"{t:%a %d %b %H:%M} NY  [bold {col}]{s['direction'].upper():5}[/] {s['symbol']} "
            f"{s['setup_id']} v{s['version']}  {s['entry_type']} {_fmt_price(s['symbol'], s['entry_price'])} "
            f"SL {_fmt_price(s['symbol'], s['sl_price'])} TP {_fmt_price(s['symbol'], s['tp_price'])}  "
            f"score {s['score']:.2f}  → {chans}")


def _latency_table(lat, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for c in ("channel", "sent", "p50 [s]", "p95 [s]", "max [s]"):
        t.add_column(c, justify="left" if c == "channel" else "right")
    for r in lat.itertuples():
        t.add_row(r.channel, str(r.n), f"{r.p50:.2f}", f"{r.p95:.2f}", f"{r.max:.2f}")
    return t


def _print_tick(service):

    def show(rep):
        for d in rep.decisions:
            console.print(_alert_line(service.ctx.journal, service.ctx.run, d["signal_id"], d, rep.delivered),
                          highlight=False)
        for e in rep.errors:
            console.print(f"[yellow]{rep.symbol} {rep.timeframe}:[/] {e}", highlight=False)
    return show


# ---------------------------------------------------------------------------------------------- start

@live_app.command("start")
def live_start(
    setups: Optional[List[str]] = typer.Option(None, "--setups", help="Setups to watch, comma-separated; id@N for a version (default: the active versions, plus the paper ones journaled without alerts — `ita setups promote`; every setup's latest when none is promoted)."),
    symbols: List[str] = typer.Option(["EURUSD"], "--symbols", "-s", help="Instruments, comma-separated, e.g. EURUSD,XAUUSD."),
    feed: str = typer.Option("auto", "--feed", help="mt5 (MetaTrader 5 terminal, Windows) | file (--file) | ccxt (--ccxt) | auto: ccxt with --ccxt, file with --file, else mt5."),
    file: Optional[List[str]] = typer.Option(None, "--file", help="SYMBOL=PATH of a CSV/Parquet a terminal keeps appending to; repeat per symbol."),
    ccxt_markets: Optional[List[str]] = typer.Option(None, "--ccxt", help="EXCHANGE:MARKET of a crypto exchange through CCXT, e.g. binance:BTC/USDT; repeatable (the symbols follow from the markets)."),
    keep_bars: bool = typer.Option(True, "--keep-bars/--no-keep-bars", help="Append the feed's closed bars to the candle store (and fill the gap since the last stored bar on start)."),
    timeframe: str = typer.Option("M5", "--file-timeframe", help="Bar size of the --file series."),
    server_tz: str = typer.Option("Europe/Athens", "--server-tz", help="The broker's server clock (MT5 and file times)."),
    min_score: float = typer.Option(0.0, "--min-score", help="Alert only signals with p(success) at least this (0 = every signal, scored)."),
    cooldown: str = typer.Option("60m", "--cooldown", help="No second alert of a setup on a symbol within this time (e.g. 30m, 2h, 0)."),
    symbol_cooldown: str = typer.Option("0", "--symbol-cooldown", help="No alert of any setup on a symbol within this time of the last (0 = off)."),
    charts: str = typer.Option("H1,M15,M5", "--charts", help="Timeframes of the chart snapshot (execution timeframe last), or none."),
    notify: Optional[List[str]] = typer.Option(None, "--notify", help="outbox,telegram,notion (default: the outbox plus every configured service)."),
    delay: float = typer.Option(2.0, "--delay", help="Seconds after each minute before the graph runs."),
    wait: float = typer.Option(20.0, "--wait", help="Seconds a run waits for a bar the feed has not delivered yet."),
    vision_score: float = typer.Option(0.0, "--vision-score", help=VISION_HELP),
    max_daily_loss: Optional[str] = typer.Option(None, "--max-daily-loss", help=GOVERNOR_HELP["loss"]),
    max_open_risk: Optional[str] = typer.Option(None, "--max-open-risk", help=GOVERNOR_HELP["open"]),
    max_trades_per_day: Optional[int] = typer.Option(None, "--max-trades-per-day", help=GOVERNOR_HELP["trades"]),
    day_start: str = typer.Option("17:00", "--day-start", help=GOVERNOR_HELP["day"]),
    verbose: bool = typer.Option(False, "--verbose", "-V", help="Log every run."),
):
    """Watch the market: the live graph runs on every closed candle and alerts within seconds. Ctrl-C stops.

    \b
    Every minute (at --delay seconds past it) the newly closed candles of each symbol are fetched, the active
    setups are evaluated with exactly the backtest's code, each new signal is scored (p(success) from the
    setup's backtest) and decided (--min-score, cool-downs), journaled once in SQLite, drawn (--charts),
    commented and sent: Telegram (photo, caption, feedback buttons), the Notion journal, and the outbox
    folder ($ITA_HOME/outbox). A failed send is retried with backoff until delivered (`ita live outbox`).
    Configure Telegram and Notion with environment variables (README: Live signals). ITA never places orders.
    Without --setups: the active setup versions (`ita setups promote`), plus the paper ones, whose signals are
    journaled but never alerted. The risk governor (--max-daily-loss, --max-open-risk, --max-trades-per-day)
    follows what was alerted with the backtest's simulator: a signal over a limit is journaled, not alerted.
    \b
    The closed bars the feed delivers are appended to the candle store (validated, deduplicated, atomic;
    --no-keep-bars to skip), and on start the gap since the last stored bar is filled from the feed, so
    backtests see live history without a re-import.
    \b
    Examples:
      ita live start --setups asia_fvg_break,asia_sweep --symbols EURUSD,XAUUSD
      ita live start --symbols EURUSD,XAUUSD --max-daily-loss 2R --max-trades-per-day 3   # the active versions
      ita live start --setups silver_bullet --symbols EURUSD --file EURUSD=/mnt/mt5/EURUSD_M5.csv
      ita live start --setups asia_fvg_break --ccxt binance:BTC/USDT --ccxt binance:ETH/USDT
      ita live start --symbols XAUUSD --min-score 0.3 --cooldown 2h --notify telegram
    """
    from ita.live.config import LiveConfig
    from ita.live.context import history, load_setups
    from ita.live.feeds import FileFeed, MT5Feed
    from ita.live.service import LiveService

    _logging(verbose)
    try:
        kw = _config_kw(min_score, cooldown, symbol_cooldown, charts, delay, wait, vision_score)
        markets = {}
        if ccxt_markets:
            from ita.live.ccxt_feed import parse_ccxt_spec

            for spec in _csv(ccxt_markets):
                sym, ex_id, market = parse_ccxt_spec(spec)
                markets[sym] = (ex_id, market)
            if symbols == ["EURUSD"]:                      # the default: the markets name the symbols
                symbols = list(markets)
        refs, paper, note = _promoted(setups)
        cfg = LiveConfig.build(refs, _csv(symbols), notify=_csv(notify) or None, paper=paper,
                               governor=_governor(max_daily_loss, max_open_risk, max_trades_per_day, day_start), **kw)
        loaded = load_setups(cfg.setups)
        files = {}
        for item in file or []:
            if "=" not in item:
                raise ItaError(f"--file {item!r}: expected SYMBOL=PATH, e.g. EURUSD=/mnt/mt5/EURUSD_M5.csv")
            sym, path = item.split("=", 1)
            files[sym.strip()] = Path(path.strip()).expanduser()
        kind = feed.lower()
        if kind == "auto":
            kind = "ccxt" if markets else "file" if files else "mt5"
        import pandas as pd

        if kind == "ccxt":
            from ita.data.timeframes import tf_delta
            from ita.live.ccxt_feed import CCXTFeed

            if not markets:
                raise ItaError("--feed ccxt needs --ccxt EXCHANGE:MARKET, e.g. --ccxt binance:BTC/USDT.")
            missing = [s for s in cfg.symbols if s not in markets]
            if missing:
                raise ItaError(f"No --ccxt market for {', '.join(missing)}.")
            base = min((s.setup.timeframe for s in loaded.values()), key=tf_delta)
            src = CCXTFeed(markets, timeframe=base)
            src.check()                                        # an unknown market fails now, with close matches
        elif kind == "file":
            if not files:
                raise ItaError("--feed file needs --file SYMBOL=PATH for each symbol.")
            src = FileFeed(files, timeframe, server_tz)
            missing = [s for s in cfg.symbols if s.upper() not in src.paths]
            if missing:
                raise ItaError(f"No --file for {', '.join(missing)}.")
            now = pd.Timestamp.now(tz="UTC")
            for sym in src.paths:  # read each file once now: a bad file is reported before anything starts
                src.closed_bars(sym, src.timeframe, now, now - pd.Timedelta(days=1))
        elif kind == "mt5":
            from ita.data.timeframes import tf_delta

            step = min(tf_delta(s.setup.timeframe) for s in loaded.values())
            src = MT5Feed(server_tz, history_bars=int((history(loaded.values()) + pd.Timedelta(days=1)) / step) + 100)
            src.source._client()  # fail now with the install hint, not at the first candle
        else:
            raise ItaError(f"--feed {feed!r}: use mt5, file, ccxt or auto.")
        with console.status("Checking the channels, filling the gap since the last stored bar, computing the "
                            "baselines …"):
            svc = LiveService.live_service(cfg, src, setups=loaded, keep_bars=keep_bars)
            gaps = svc.fill_gap()
            base = svc.warm_up()
    except ItaError as exc:
        fail(exc)
    if note:
        console.print(f"[yellow]{note}[/]")
    for g in gaps:
        if g["added"]:
            console.print(f"Stored {g['added']:,} {g['symbol']} {g['timeframe']} bars from the feed after the last "
                          f"stored one ({g['since']:%Y-%m-%d %H:%M} UTC).", highlight=False)
        for e in g["errors"]:
            console.print(f"[yellow]{e}[/]", highlight=False)
    where = (f" ({', '.join(f'{k}={v}' for k, v in files.items())})" if kind == "file" else
             f" ({', '.join(f'{e}:{m}' for e, m in markets.values())})" if kind == "ccxt" else "")
    _print_start(svc, base, f"{kind} feed{where}" + ("; closed bars kept in the candle store" if keep_bars else ""))
    svc.on_tick = _print_tick(svc)
    import signal as _signal

    _signal.signal(_signal.SIGTERM, lambda *_: svc.stop())
    try:
        svc.run_forever()
    finally:
        svc.close()
        console.print("Stopped. `ita live signals` lists what was sent; `ita live stats` the latency.")


def _minutes(td) -> str:
    m = td.total_seconds() / 60
    return "off" if m == 0 else f"{m:g} min" if m < 120 else f"{m / 60:g} h"


def _print_start(svc, base: list[dict], feed_text: str, before: str = "today") -> None:
    ctx = svc.ctx
    t = Table(title=f"Watching (score baseline = each setup's backtest before {before})", title_justify="left")
    for c in ("setup", "symbol", "backtest trades", "won", "p(success)", "period"):
        t.add_column(c, justify="right" if c in ("backtest trades", "won", "p(success)") else "left")
    for r in base:
        t.add_row(r["setup"], r["symbol"], str(r["trades"]), str(r["wins"]), f"{r['p']:.2f}", r["period"])
    console.print(t)
    cfg = ctx.config
    console.print(f"Feed: {feed_text} · charts {', '.join(cfg.charts) or 'none'} · min score {cfg.min_score:g} · "
                  f"cool-down {_minutes(cfg.cooldown_setup)} per setup, {_minutes(cfg.cooldown_symbol)} per symbol",
                  highlight=False)
    console.print(f"Alerts to: {', '.join(ctx.targets())} · outbox {ctx.channels['outbox'].dir} · journal "
                  f"{ctx.journal.path}", highlight=False)
    if cfg.paper:
        console.print(f"Paper (journaled, not alerted): {', '.join(cfg.paper)}", highlight=False)
    if cfg.governor is not None:
        console.print(f"Risk governor: {'; '.join(cfg.governor.describe())} — a signal over a limit is journaled, "
                      "not alerted", highlight=False)


# ---------------------------------------------------------------------------------------------- replay

@live_app.command("replay")
def live_replay(
    symbols: List[str] = typer.Argument(..., help="Instrument(s), e.g. EURUSD or EURUSD,XAUUSD."),
    start: str = from_option(..., help="First day (New York date), e.g. 2025-03-03."),
    end: str = to_option(..., help="Last day (New York date), inclusive."),
    setups: Optional[List[str]] = typer.Option(None, "--setups", help="Setups, comma-separated; id@N for a version (default: every setup, latest version)."),
    speed: str = typer.Option("600", "--speed", help="Simulated seconds per real second (600 = ten minutes a second), or max."),
    min_score: float = typer.Option(0.0, "--min-score", help="Alert only signals with p(success) at least this."),
    cooldown: str = typer.Option("60m", "--cooldown", help="Cool-down per setup and symbol (e.g. 30m, 0)."),
    symbol_cooldown: str = typer.Option("0", "--symbol-cooldown", help="Cool-down per symbol (0 = off)."),
    charts: str = typer.Option("H1,M15,M5", "--charts", help="Snapshot timeframes, or none (faster)."),
    notify: Optional[List[str]] = typer.Option(None, "--notify", help="Channels (default: the replay's own outbox only; telegram/notion send to the configured services)."),
    delay: float = typer.Option(2.0, "--delay", help="Simulated seconds after each candle close before the graph runs."),
    vision_score: float = typer.Option(0.0, "--vision-score", help=VISION_HELP),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue an interrupted replay (its run id): what it journaled and delivered is not done again."),
    max_daily_loss: Optional[str] = typer.Option(None, "--max-daily-loss", help=GOVERNOR_HELP["loss"]),
    max_open_risk: Optional[str] = typer.Option(None, "--max-open-risk", help=GOVERNOR_HELP["open"]),
    max_trades_per_day: Optional[int] = typer.Option(None, "--max-trades-per-day", help=GOVERNOR_HELP["trades"]),
    day_start: str = typer.Option("17:00", "--day-start", help=GOVERNOR_HELP["day"]),
    verbose: bool = typer.Option(False, "--verbose", "-V"),
):
    """Replay stored history against a simulated clock through the live graph — exactly what live would have sent.

    \b
    The stored candles are played at --speed (600 = ten minutes per second; max = as fast as the work goes);
    at every candle close the same graph as `ita live start` runs: evaluate, score, decide, chart, comment,
    notify. The replay has its own run id in the journal, and by default its own outbox
    ($ITA_HOME/replays/<run>/outbox), so it never touches the live journal or your Telegram. At the end:
    signals by decision and the latency from candle close to delivery.
    \b
    Examples:
      ita live replay EURUSD --from 2025-03-03 --to 2025-03-07 --speed 600
      ita live replay EURUSD,XAUUSD --from 2025-03-03 --to 2025-03-07 --speed max --setups asia_fvg_break,silver_bullet
      ita live replay XAUUSD --from 2025-06-02 --to 2025-06-06 --speed max --charts none
    """
    import pandas as pd
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ita.times import NY

    from ita.live.service import LiveService, vision_config

    _logging(verbose)
    try:
        sp = None if speed.strip().lower() in ("max", "0", "inf") else float(speed)
        if sp is not None and sp <= 0:
            raise ValueError
    except ValueError:
        fail(ItaError(f"--speed {speed!r}: a positive number (600 = ten minutes a second) or max."))
    try:
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError as exc:
        fail(ItaError(f"Bad period {start!r} → {end!r}: {exc}. Use dates like 2025-03-03."))
    if hi < lo:
        fail(ItaError(f"The period ends ({hi.date()}) before it starts ({lo.date()})."))
    try:
        kw = _config_kw(min_score, cooldown, symbol_cooldown, charts, delay, 0.0, vision_score)
        if resume and not resume.startswith("replay_"):
            raise ItaError(f"--resume {resume!r}: give a replay's run id (replay_…; see `ita live stats --replay`).")
        with console.status("Loading the candles and computing the baselines …"):
            svc = LiveService.replay_service(_setups(setups), _csv(symbols), lo, hi, speed=sp,
                                             notify=_csv(notify) or None, run=resume, vision=vision_config(),
                                             governor=_governor(max_daily_loss, max_open_risk, max_trades_per_day,
                                                                day_start), **kw)
            base = svc.warm_up()
    except ItaError as exc:
        fail(exc)
    ctx = svc.ctx
    _print_start(svc, base, f"replay {lo.date()} → {hi.date()} at {'max speed' if sp is None else f'{sp:g}×'}",
                 before=f"{lo.date()}")
    show = _print_tick(svc)
    t0, t1 = ctx.feed.start.tz_convert("UTC"), ctx.feed.end.tz_convert("UTC")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[sim]}"),
                  TimeElapsedColumn(), console=console, transient=True) as prog:
        task = prog.add_task("replay", total=(t1 - t0).total_seconds(), sim="")

        def on_tick(rep):
            if rep.last_close is not None:
                prog.update(task, completed=(rep.last_close - t0).total_seconds(),
                            sim=f"{rep.last_close.tz_convert(NY):%a %d %b %H:%M} NY")
            if rep.decisions or rep.errors:
                show(rep)

        svc.on_tick = on_tick
        try:
            report = svc.replay()
        except KeyboardInterrupt:
            report = svc.report()
            console.print(f"[yellow]Interrupted.[/] Continue with the same command and --resume {ctx.run}.",
                          highlight=False)
        finally:
            svc.close()
    _print_report(report, ctx)


def _print_report(report: dict, ctx) -> None:
    dec = report["decisions"]
    console.print(f"\n[bold]Replay {report['run']}[/]: {report.get('ticks', 0):,} candle closes in "
                  f"{report.get('seconds', 0):.1f} s · {report['signals']} signals: "
                  + (", ".join(f"{v} {k.replace('_', ' ')}" for k, v in dec.items()) or "none"), highlight=False)
    if len(report["latency"]):
        console.print(_latency_table(report["latency"], "Latency: candle close → delivered (seconds, real time)"))
    out = ctx.channels["outbox"].dir
    console.print(f"Outbox: {out}   ·   `ita live signals --run {report['run']}`   ·   "
                  f"`ita live stats --run {report['run']}`", highlight=False)
    left = report["deliveries"].get("pending", 0) + report["deliveries"].get("failed", 0)
    if left:
        console.print(f"[yellow]{left} deliveries are not sent yet:[/] `ita live outbox --run {report['run']}`.")


# ---------------------------------------------------------------------------------------------- journal

def _journal_run(run: Optional[str], replay: bool):
    """The journal and the run to show: ``run``, the latest replay (``replay``), or the live journal."""
    from ita.live.journal import LIVE, Journal

    j = Journal()
    if run:
        return j, run
    if replay:
        runs = j.runs()
        rep = runs[runs["run"].str.startswith("replay_")] if len(runs) else runs
        if rep.empty:
            fail(ItaError("No replay in the journal yet: `ita live replay EURUSD --from 2025-03-03 --to 2025-03-07`."))
        return j, str(rep.iloc[0]["run"])
    return j, LIVE


@live_app.command("signals")
def live_signals(
    run: Optional[str] = typer.Option(None, "--run", help="A replay's run id (default: the live journal)."),
    replay: bool = typer.Option(False, "--replay", help="The latest replay."),
    limit: int = typer.Option(30, "--limit", "-n"),
):
    """The journal: signals with their decision, score, deliveries and your feedback (times New York)."""
    import pandas as pd

    from ita.times import NY

    j, r = _journal_run(run, replay)
    df = j.signals(r, limit)
    if df.empty:
        console.print(f"No signals journaled for {r}. Start with `ita live start` or try `ita live replay`.")
        return
    from rich import box

    t = Table(title=f"Signals · {r} (latest first; times New York)", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, collapse_padding=True)
    for c in ("signal", "symbol", "setup", "dir", "entry", "SL", "TP", "RR", "score", "decision", "delivered", "feedback"):
        num = c in ("entry", "SL", "TP", "RR", "score")
        t.add_column(c, justify="right" if num else "left", no_wrap=c not in ("delivered", "feedback"),
                     min_width=9 if c == "delivered" else None)
    mark = {"sent": "✓", "pending": "…", "sending": "…", "failed": "✗"}
    for s in df.to_dict("records"):
        fb = j.feedback_of(r, s["signal_id"])
        rr = "—" if s.get("rr") is None or (isinstance(s["rr"], float) and math.isnan(s["rr"])) else f"{s['rr']:.1f}"
        col = "green" if s["direction"] == "long" else "red"
        dec = s["decision"] if s["decision"] == "alert" else f"[dim]{s['decision']}[/]"
        dl = " ".join(f"{x.split(':')[0]}{mark.get(x.rsplit(':', 1)[-1], '?')}" for x in str(s.get("delivered") or "").split())
        t.add_row(f"{pd.Timestamp(s['known_at']).tz_convert(NY):%a %d %b %H:%M}", s["symbol"],
                  f"{s['setup_id']} v{s['version']}", f"[{col}]{s['direction']}[/]",
                  _fmt_price(s["symbol"], s["entry_price"]), _fmt_price(s["symbol"], s["sl_price"]),
                  _fmt_price(s["symbol"], s["tp_price"]), rr, f"{s['score']:.2f}", dec, dl or "—",
                  " ".join(v for v in fb.values() if v) or "—")
    console.print(t)


@live_app.command("stats")
def live_stats(
    run: Optional[str] = typer.Option(None, "--run", help="A replay's run id (default: the live journal)."),
    replay: bool = typer.Option(False, "--replay", help="The latest replay."),
):
    """Latency from candle close to delivery (p50 / p95 / max per channel), decisions and feedback.

    The requirement is 30 s from the close of the candle that completed the signal to Telegram accepting
    the message; in a replay the close is when the simulated clock passed it.
    """
    j, r = _journal_run(run, replay)
    sig = j.signals(r)
    if sig.empty:
        console.print(f"Nothing journaled for {r} yet.")
        return
    lat = j.latency(r)
    console.print(f"[bold]{r}[/]: {len(sig)} signals — " + ", ".join(
        f"{v} {k.replace('_', ' ')}" for k, v in sig["decision"].value_counts().items()), highlight=False)
    if len(lat):
        console.print(_latency_table(lat, "Latency: candle close → delivered (seconds)"))
        dl = j.deliveries(r)
        tg = dl[dl["channel"].str.startswith("telegram") & (dl["status"] == "sent")]
        if len(tg):
            late = int((tg["latency_s"] > 30.0).sum())
            console.print(("[green]" if not late else "[red]") + f"Telegram: {len(tg) - late} of {len(tg)} within "
                          f"the 30 s requirement (max {tg['latency_s'].max():.2f} s).[/]")
    else:
        console.print("No delivery yet.")
    fb = [j.feedback_of(r, sid) for sid in sig["signal_id"]]
    counts = {a: sum(1 for f in fb if a in f.values()) for a in ("taken", "skipped", "up", "down")}
    if any(counts.values()):
        console.print(f"Your feedback: taken {counts['taken']}, skipped {counts['skipped']}, 👍 {counts['up']}, "
                      f"👎 {counts['down']}", highlight=False)
    dl = j.deliveries(r, undelivered=True)
    if len(dl):
        console.print(f"[yellow]{len(dl)} deliveries not sent yet[/] — `ita live outbox{' --run ' + r if r != 'live' else ''}`.")


@live_app.command("outbox")
def live_outbox(
    run: Optional[str] = typer.Option(None, "--run", help="Only this run (default: every run)."),
    retry: bool = typer.Option(False, "--retry", help="Re-queue failed deliveries and try every due one now."),
):
    """Deliveries not sent yet — pending (retried automatically with backoff) or failed (needs a fix, then --retry)."""
    import pandas as pd

    from ita.live.journal import Journal

    j = Journal()
    if retry:
        from ita.live.channels import OutboxChannel, deliver
        from ita.live.config import LiveConfig, NotionSettings, TelegramSettings
        from ita.live.journal import LIVE
        from ita.live.service import close_channels, open_channels, replay_outbox

        n = j.requeue(run)
        try:
            channels = open_channels(j, LiveConfig((), ()).outbox_dir, TelegramSettings.from_env(),
                                     NotionSettings.from_env())
        except ItaError as exc:
            fail(exc)
        try:
            done: dict[str, int] = {}
            for row in j.due(run):
                chans = channels if row["run"] == LIVE else {**channels, "outbox": OutboxChannel(replay_outbox(row["run"]))}
                st = deliver(j, row["run"], row["signal_id"], row["channel"], chans)
                done[st] = done.get(st, 0) + 1
        finally:
            close_channels(channels)
        console.print(f"Re-queued {n} failed; attempted now: " + (", ".join(f"{v} {k}" for k, v in done.items()) or "nothing due"))
    dl = j.deliveries(run, undelivered=True)
    if dl.empty:
        console.print("The outbox is empty: every alert was delivered.")
        return
    t = Table(title="Outbox (not yet delivered)", title_justify="left")
    for c in ("run", "signal", "channel", "status", "attempts", "next try (UTC)", "last error"):
        t.add_column(c)
    for r in dl.to_dict("records"):
        nxt = "—" if r["status"] == "failed" or not r.get("next_at") else f"{pd.Timestamp(r['next_at'], unit='s', tz='UTC'):%H:%M:%S}"
        t.add_row(r["run"], r["signal_id"], r["channel"], r["status"], str(r["attempts"]), nxt, str(r.get("last_error") or "")[:80])
    console.print(t)
    console.print("Pending deliveries are retried by `ita live start` every 10 s with backoff; failed ones need a fix "
                  "(token, chat id, database) and `ita live outbox --retry`.")


@live_app.command("check")
def live_check():
    """Check every channel signals go to, without sending anything: one line each, ✓ or ✗.

    \b
    Checked: the outbox folder (writable), the journal database (opens), Telegram (the token with getMe, the
    chats in ITA_TELEGRAM_CHAT_IDS) and Notion (the token, the journal database and its properties). A
    failing channel does not stop the others; the exit status is 2 when any configured channel failed.
    Tokens never appear in the output.
    \b
    Example:
      ITA_TELEGRAM_TOKEN=123456:ABC… ITA_TELEGRAM_CHAT_IDS=42 ita live check
    """
    from rich.markup import escape

    from ita.live.service import check_channels

    with console.status("Checking the channels …"):
        checks = check_channels()
    for c in checks:
        mark = "[green]✓[/]" if c.ok else "[dim]–[/]" if c.ok is None else "[red]✗[/]"
        console.print(f"{mark} {c.channel:<9} {escape(c.detail)}", highlight=False, soft_wrap=True)
    failed = [c.channel for c in checks if c.ok is False]
    if failed:
        err_console.print(f"[bold red]Error:[/] {len(failed)} of {len(checks)} channels failed: {', '.join(failed)} "
                          "(see the ✗ lines above).", highlight=False)
        raise typer.Exit(2)
