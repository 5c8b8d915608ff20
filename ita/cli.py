"""The ``ita`` command line. Every command prints ``--help`` with examples.

Errors a user can fix (bad file, unknown symbol or setup, YAML typo, period without data) print one
clear message and exit with status 2; nothing stored is changed.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ita.errors import ItaError

# Piped output (CI logs, `| less`) gets a readable width instead of Rich's 80-column fallback.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

HELP = """ITA — Intelligent Trading Agent for discretionary prop traders. It never places orders.

\b
Main job (imports the sample data on first use):
  ita backtest asia_fvg_break --symbol EURUSD --from 2025-01-01 --to 2025-12-31
\b
Your own data:
  ita data import EURUSD_M5.csv --symbol EURUSD --timeframe M5 --server-tz Europe/Athens
  ita data list
\b
Setups (YAML in setups/<id>/v<N>.yaml):
  ita setups list | ita setups show asia_fvg_break | ita setups validate setups/asia_fvg_break/v1.yaml
  ita setups new-version asia_fvg_break --param rr=3 | ita setups diff asia_fvg_break v1 v2
\b
Live signals (never places orders):
  ita live replay EURUSD --from 2025-03-03 --to 2025-03-07 --speed 600
  ita live start --setups asia_fvg_break,asia_sweep --symbols EURUSD,XAUUSD
  ita live signals | ita live stats | ita live outbox
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None, add_completion=False)
data_app = typer.Typer(help="Candle data: import MT5/CSV exports (server time → UTC), list coverage.", no_args_is_help=True)
setups_app = typer.Typer(help="Setups as versioned YAML: list, show, validate, new-version, diff, explain, verify, JSON Schema.", no_args_is_help=True)
runs_app = typer.Typer(help="Stored backtest runs.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(setups_app, name="setups")
app.add_typer(runs_app, name="runs")


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _fmt(v, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞"
        return f"{v:,.{digits}f}"
    if hasattr(v, "isoformat") and not isinstance(v, str):
        s = str(v)
        return s[:10] if s.endswith("00:00:00") else s
    return str(v)


# ---------------------------------------------------------------------------------------------- data

@data_app.command("import")
def data_import(
    file: Path = typer.Argument(..., help="MT5 export (time,open,high,low,close,tick_volume,spread,real_volume) or any OHLCV CSV."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Instrument, e.g. EURUSD (see ita/data/instruments.yaml)."),
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
        _fail(exc)
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


# ---------------------------------------------------------------------------------------------- setups

@setups_app.command("list")
def setups_list():
    """List setups and their versions."""
    from ita.setups import list_setups, load_setup

    t = Table(title="Setups")
    for c in ("id", "versions", "latest", "timeframe", "name", "hash"):
        t.add_column(c)
    for sid, versions in list_setups().items():
        try:
            s = load_setup(sid)
            t.add_row(sid, ", ".join(f"v{v}" for v in versions), f"v{s.version}", s.setup.timeframe, s.setup.name,
                      s.content_hash[:8])
        except ItaError as exc:
            t.add_row(sid, ", ".join(f"v{v}" for v in versions), "—", "—", f"[red]invalid: {str(exc).splitlines()[0]}[/]", "—")
    console.print(t)


@setups_app.command("show")
def setups_show(setup_id: str = typer.Argument(..., help="Setup id, e.g. asia_fvg_break."),
                version: Optional[str] = typer.Option(None, "--version", "-v", help="v1, 2, … (default latest).")):
    """Print a setup's YAML with its version and content hash."""
    from ita.setups import load_setup

    try:
        s = load_setup(setup_id, version)
    except ItaError as exc:
        _fail(exc)
    console.print(f"[bold]{s.label}[/]  {s.path}\nsha256 {s.content_hash}\n")
    console.print(s.path.read_text(encoding="utf-8"), highlight=False, markup=False)


@setups_app.command("validate")
def setups_validate(target: str = typer.Argument(..., help="A YAML path, or a setup id (all its versions).")):
    """Validate a setup file; errors name the file, line and field.

    \b
    Example:
      ita setups validate setups/asia_fvg_break/v1.yaml
    """
    from ita.setups import list_setups, load_setup, parse_setup_text

    p = Path(target)
    try:
        if p.is_file():
            s = parse_setup_text(p.read_text(encoding="utf-8"), p)
            console.print(f"[green]OK[/] {p}: {s.id} v{s.version} — {s.name}")
        elif target.endswith((".yaml", ".yml")) or "/" in target:
            raise ItaError(f"{target}: no such file.")
        else:
            versions = list_setups().get(target)
            if not versions:
                load_setup(target)  # raises with suggestions
            for v in versions:
                s = load_setup(target, v)
                console.print(f"[green]OK[/] {s.path}: {s.label}")
    except ItaError as exc:
        _fail(exc)


@setups_app.command("new-version")
def setups_new_version(
    setup_id: str = typer.Argument(..., help="Setup id, e.g. asia_fvg_break."),
    from_version: Optional[str] = typer.Option(None, "--from", help="Version to copy (default the latest)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Write key=value into the new version, e.g. rr=3."),
):
    """Create the next version vN+1 from an existing one (comments kept), optionally with edits.

    \b
    Examples:
      ita setups new-version asia_fvg_break                 # copy the latest, then edit the file
      ita setups new-version asia_fvg_break --param rr=3    # v2 = v1 with a 3R target
    """
    from ita.setups import load_setup
    from ita.setups.versions import new_version

    try:
        p = new_version(setup_id, from_version, _parse_params(param))
        s = load_setup(setup_id, p.stem)
    except ItaError as exc:
        _fail(exc)
    console.print(f"[green]Created[/] {p}: {s.label}. Every run of it is recorded with version {s.version} "
                  f"and sha256 {s.content_hash[:12]}; compare with `ita setups diff {setup_id} v{s.version - 1} v{s.version}`.")


@setups_app.command("diff")
def setups_diff(setup_id: str = typer.Argument(...), a: str = typer.Argument(..., help="e.g. v1"),
                b: str = typer.Argument(..., help="e.g. v2")):
    """Show what changed between two versions: the rule fields, then the text diff."""
    from rich.syntax import Syntax

    from ita.setups.versions import diff_versions

    try:
        d = diff_versions(setup_id, a, b)
    except ItaError as exc:
        _fail(exc)
    if not d.changes:
        console.print(f"{setup_id} v{d.a} and v{d.b} define the same rule.")
    else:
        t = Table(title=f"{setup_id}: v{d.a} → v{d.b}", title_justify="left")
        for c in ("field", f"v{d.a}", f"v{d.b}"):
            t.add_column(c)
        for k, (x, y) in d.changes.items():
            t.add_row(k, json.dumps(x), json.dumps(y))
        console.print(t)
    if d.text:
        console.print(Syntax(d.text, "diff", theme="ansi_dark", background_color="default"))


@setups_app.command("schema")
def setups_schema(out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of stdout.")):
    """Print the JSON Schema of setup YAML files (for editor completion and checks)."""
    from ita.setups.schema import Setup

    text = json.dumps(Setup.model_json_schema(), indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}")
    else:
        sys.stdout.write(text + "\n")


@setups_app.command("explain")
def setups_explain(
    setup_id: str = typer.Argument(..., help="Setup id, e.g. asia_sweep."),
    symbol: str = typer.Option("EURUSD", "--symbol", "-s", help="Symbol of stored candles."),
    start: str = typer.Option("2025-01-01", "--from", help="First trading day (setup's time zone)."),
    end: str = typer.Option("2025-12-31", "--to", help="Last trading day."),
    day: Optional[str] = typer.Option(None, "--day", "-d", help="Just this trading day (YYYY-MM-DD)."),
    failed_only: bool = typer.Option(False, "--failed", help="Only days without a signal."),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="Setup version (default latest)."),
    param: list[str] = typer.Option([], "--param", "-p", help="One-off override, e.g. -p target.rr=3 (never saved)."),
):
    """Why each trading day did or did not trade: the step that failed and the reason, in the rule's words.

    \b
    Examples:
      ita setups explain asia_sweep --symbol EURUSD --day 2025-03-14
      ita setups explain asia_fvg_break --from 2025-03-01 --to 2025-03-31 --failed
    Times are the setup's time zone (New York unless the setup says otherwise). The summary counts how
    far the days got: it shows which step of the sequence filters most.
    """
    from ita.data.store import CandleStore
    from ita.errors import ItaError
    import pandas as pd

    from ita.setups import explain, load_setup

    try:
        loaded = load_setup(setup_id, version, params=_parse_params(param))
        lo, hi = (day, day) if day else (start, end)
        lo_t, hi_t = pd.Timestamp(lo), pd.Timestamp(hi)
        store = CandleStore()
        store.ensure_samples()
        # a few days of history before the period: previous-day levels, Asia ranges of the evening before
        candles = store.load(symbol, loaded.setup.timeframe, start=str((lo_t - pd.Timedelta(days=10)).date()),
                             end=str(hi_t.date()))
        why = explain(loaded, candles, symbol)
    except (ItaError, ValueError) as exc:
        _fail(exc)
    why = why[(why["day"] >= lo_t) & (why["day"] <= hi_t)]
    if day and why.empty:
        _fail(ValueError(f"{day} is not a trading day of {setup_id} with {symbol} data "
                         f"(days: {', '.join(loaded.setup.days)})"))
    tz = loaded.setup.timezone
    from rich import box

    t = Table(title=f"{loaded.label} on {symbol}: {lo} → {hi}", box=box.SIMPLE_HEAD)
    for c in ("day", "steps", "bias", "at", "result"):
        t.add_column(c, no_wrap=c != "result", overflow="fold")
    n_steps = len(loaded.setup.sequence)
    for r in why.itertuples():
        if failed_only and r.signal_id:
            continue
        at = "" if pd.isna(r.time) else r.time.tz_convert(tz).strftime("%H:%M")
        result = f"[green]signal[/] {r.signal_id}" if r.signal_id else f"{r.failed_step}: {r.reason}"
        t.add_row(f"{r.day:%a %Y-%m-%d}", f"{r.passed}/{n_steps}", r.direction or "", at, result)
    console.print(t)
    counts = why["failed_step"].replace("", "signal").value_counts()
    console.print("Days: " + " · ".join(f"{k} {v}" for k, v in counts.items()))


@setups_app.command("verify")
def setups_verify(
    setup_id: str = typer.Argument(..., help="Setup id, e.g. asia_fvg_break."),
    labels: Path = typer.Option(..., "--labels", "-l", help="CSV: symbol,timeframe,time,direction[,tz,setup,screenshot,note]; one row per setup you marked."),
    screenshots: Optional[Path] = typer.Option(None, "--screenshots", help="Folder of your chart images: 01.png / row_01.png … by row number, or named in a screenshot column."),
    tz: str = typer.Option("UTC", "--tz", help="Zone of label times without a tz column or offset. MT5 charts show server time: usually Europe/Athens."),
    tolerance: int = typer.Option(3, "--tolerance", help="Bars either side of the signal's setup candles (break bar … FVG third candle) that still count as a hit."),
    start: Optional[str] = typer.Option(None, "--from", help="First trading day for unlabelled detections (default: first label's day)."),
    end: Optional[str] = typer.Option(None, "--to", help="Last trading day for unlabelled detections (default: last label's day)."),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="Setup version (default latest)."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write report.html: our chart of each case beside your screenshot."),
    png: bool = typer.Option(False, "--png/--no-png", help="Also write case_NN.png per label (needs Chromium, ~0.5 s each)."),
):
    """Check the detector against your labelled examples: hit / miss per label (with the nearest detection
    and the rule's reason), detections you did not label, precision and recall.

    \b
    A label is the candle you marked (open time, as on your chart). It hits a signal of the same symbol,
    direction and timeframe when it is one of the signal's setup candles (the break bar and the FVG's three
    candles, the third being the signal bar) or within --tolerance bars of them; one signal matches one
    label, nearest first. A miss shows the nearest detection and the evaluator's reason for that day.
    Unlabelled = signals between the first and last label day that no label matched.
    precision = hits / (hits + unlabelled), recall = hits / labels. Writes verify.csv, summary.json and
    report.html to a run folder under $ITA_RUNS_DIR.
    \b
    Examples:
      ita setups verify asia_fvg_break --labels examples/labels/eurusd_2025_asia_fvg_break.csv
      ita setups verify asia_fvg_break --labels my.csv --tz Europe/Athens --screenshots shots/ --tolerance 2
    """
    from rich.markup import escape

    from ita.times import NY
    from ita.verify import fmt_local, run_verify

    try:
        with console.status("Checking labels …") as status:
            run = run_verify(setup_id, labels, tz=tz, screenshots=screenshots, tolerance=tolerance, start=start,
                             end=end, version=version, html=html, png=png,
                             progress=lambda m: (status.update(m), console.log(m)))
    except ItaError as exc:
        _fail(exc)
    res, lf = run.result, run.label_file
    zones = sorted(set(res.labels["tz"]))
    one_tz = zones[0] if len(zones) == 1 else None
    t = Table(title=f"{res.setup.label} · {len(res.labels)} labels from {lf.path.name} · tolerance {res.tolerance} bars",
              title_justify="left")
    for c, j in (("#", "right"), (f"label time ({one_tz})" if one_tz else "label time", "left"), ("NY", "left"),
                 ("dir", "left"), ("result", "left"), ("matched signal, or why not and the nearest detection", "left")):
        t.add_column(c, justify=j, no_wrap=not c.startswith("matched"))
    for r in res.labels.to_dict("records"):
        lt = fmt_local(r["bar_time"], r["tz"]) + ("" if one_tz else f" {r['tz']}")
        if r["result"] == "hit":
            res_txt = "[green]hit[/]"
            detail = f"{r['direction']} signal {fmt_local(r['signal_time'], NY)[11:]} NY · label at {r['at']}"
        else:
            res_txt = "[red]miss[/]"
            detail = r["why"]
            if r["nearest_signal_id"] and "(signal bar" not in detail:  # else the day's signal is named already
                nb = r["nearest_bars"]
                detail += (f" · nearest: {r['nearest_direction']} {fmt_local(r['nearest_time'], NY)} NY, "
                           f"{abs(nb):g} bars {'before' if nb < 0 else 'after'}")
        t.add_row(str(r["label"]), lt, fmt_local(r["bar_time"], NY)[5:], r["direction"], res_txt, escape(detail))
    console.print(t, highlight=False)
    if len(res.unlabelled):
        u = Table(title=f"Detections without a label ({res.start:%Y-%m-%d} → {res.end:%Y-%m-%d})", title_justify="left")
        for c in ("signal", "dir", "signal bar (NY)", "entry", "SL", "TP"):
            u.add_column(c)
        for s in res.unlabelled.to_dict("records"):
            u.add_row(s["signal_id"], s["direction"], fmt_local(s["time"], NY), f"{s['entry_price']:.5f}",
                      f"{s['sl_price']:.5f}", f"{s['tp_price']:.5f}")
        console.print(u, highlight=False)
    m = res.metrics
    st = Table(title="Summary", show_header=False, title_justify="left")
    st.add_column("metric", style="bold")
    st.add_column("value", justify="right")
    for k, v in m.items():
        st.add_row(escape(k), _fmt(v, 1) if isinstance(v, float) else _fmt(v))
    console.print(st)
    if lf.skipped:
        console.print(f"Skipped {len(lf.skipped)} row(s) labelled for another setup: {', '.join(map(str, lf.skipped))}.")
    console.print(f"\n[bold]Run[/] {run.run_id}  ·  setup {res.setup.id} v{res.setup.version} "
                  f"sha256 {res.setup.content_hash[:12]}")
    console.print(f"Artifacts in {run.run_dir}:")
    for name, path in run.artifacts.items():
        console.print(f"  {name:<14} {path}", highlight=False)
    for w in run.warnings:
        console.print(f"[yellow]Warning:[/] {w}")


# ---------------------------------------------------------------------------------------------- backtest

def _parse_params(items: list[str]) -> dict:
    params = {}
    for it in items or []:
        if "=" not in it:
            raise ItaError(f"--param {it!r}: expected key=value, e.g. --param rr=3")
        k, v = it.split("=", 1)
        params[k.strip()] = v.strip()
    return params


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


def print_stats(stats, title: str) -> None:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("statistic", style="bold")
    t.add_column("value", justify="right")
    groups = [
        ("Start", "End", "Signals", "Trades", "Wins", "Losses", "Breakeven"),
        ("Win Rate [%]", "Total R", "Expectancy [R]", "Avg RR [R]", "Avg Loss [R]", "Profit Factor"),
        ("Max Drawdown [R]", "Max Drawdown [%]", "Best Trade [R]", "Worst Trade [R]", "Longest Losing Streak"),
        ("Net Profit", "Return [%]", "Avg Trade Duration", "Account", "Risk per Trade [%]"),
    ]
    for gi, g in enumerate(groups):
        for k in g:
            v = stats.get(k)
            if k == "Avg Trade Duration" and v is not None and str(v) != "NaT":
                v = str(v).split(".")[0].replace("0 days ", "")
            style = ""
            if k in ("Total R", "Net Profit", "Expectancy [R]", "Return [%]") and isinstance(v, float) and not math.isnan(v):
                style = "green" if v > 0 else "red" if v < 0 else ""
            val = _fmt(v)
            t.add_row(k, f"[{style}]{val}[/]" if style else val, end_section=(k == g[-1] and gi < len(groups) - 1))
    console.print(t)


def print_by_month(by_month) -> None:
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


@app.command()
def backtest(
    setup: str = typer.Argument(..., help="Setup id, e.g. asia_fvg_break (see `ita setups list`)."),
    symbol: str = typer.Option("EURUSD", "--symbol", "-s", help="Instrument, e.g. EURUSD, XAUUSD."),
    start: str = typer.Option("2025-01-01", "--from", help="First trading day (New York date), inclusive."),
    end: str = typer.Option("2025-12-31", "--to", help="Last trading day, inclusive."),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="Setup version (default latest)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="One-off override key=value, e.g. rr=3 or target.rr=3. Never changes the stored YAML."),
    spread: Optional[str] = typer.Option(None, "--spread", help="Spread in pips (default: the instrument's typical spread); 0 for none; 'data' = the candles' own spread column."),
    commission: Optional[float] = typer.Option(None, "--commission", help="Round-turn commission per 1.0 lot, account currency (default: the instrument's)."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Render equity and sample-trade PNGs (needs Chromium)."),
    samples: int = typer.Option(6, "--samples", help="How many sample trade PNGs."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write the interactive HTML report."),
    show_trades: int = typer.Option(10, "--show-trades", help="Print the last N trades (0 = none)."),
    session: Optional[str] = typer.Option(None, "--session", help="Only signals completed inside this session/killzone, e.g. london_killzone, new_york_killzone."),
):
    """Backtest a setup on stored candles; print statistics and write the run's artifacts.

    \b
    Examples:
      ita backtest asia_fvg_break --symbol EURUSD --from 2025-01-01 --to 2025-12-31
      ita backtest asia_fvg_break --symbol XAUUSD --param rr=3 --spread 0 --commission 0
      ita backtest asia_fvg_break --session london_killzone
    """
    from ita.backtest.runner import run_backtest

    try:
        params = _parse_params(param)
        sp = _spread(spread)
        with console.status("Backtesting …") as status:
            run = run_backtest(setup, symbol, start, end, version=version, params=params, spread=sp,
                               commission=commission, charts=charts, samples=samples, html=html,
                               session=session, progress=lambda m: (status.update(m), console.log(m)))
    except ItaError as exc:
        _fail(exc)
    res = run.result
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
            ny_in = r.entry_time.tz_convert("America/New_York")
            ny_out = r.exit_time.tz_convert("America/New_York")
            col = "green" if r.r > 0 else "red" if r.r < 0 else ""
            t.add_row(str(r.trade), str(r.day)[:10], r.direction, f"{ny_in:%H:%M}", f"{r.entry_price:.{d}f}",
                      f"{r.sl_price:.{d}f}", f"{r.tp_price:.{d}f}", f"{ny_out:%H:%M}", f"{r.exit_price:.{d}f}",
                      r.exit_reason, f"[{col}]{r.r:+.2f}[/]")
        console.print(t)
    console.print(f"\n[bold]Run[/] {run.run_id}  ·  setup {res.setup.id} v{res.setup.version} "
                  f"sha256 {res.setup.content_hash[:12]}" + (f"  ·  overrides {res.setup.overrides}" if res.setup.overrides else ""))
    console.print(f"Artifacts in {run.run_dir}:")
    for name, path in run.artifacts.items():
        console.print(f"  {name:<14} {path}", highlight=False)
    for w in run.warnings:
        console.print(f"[yellow]Warning:[/] {w}")


# ---------------------------------------------------------------------------------------------- runs

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
                  wr, _fmt(r.total_r), _fmt(r.profit_factor))
    console.print(t)
    console.print("`ita runs show RUN_ID` for all statistics, the setup hash and the artifact folder.")


@app.command("chat")
def chat(
    message: Optional[List[str]] = typer.Argument(None, help="A request; without one, an interactive chat starts."),
    thread: str = typer.Option("terminal", "--thread", "-t", help="Conversation id: the same id continues a conversation (also after a restart)."),
    llm: Optional[bool] = typer.Option(None, "--llm/--no-llm", help="Use the language model (needs OPENAI_API_KEY); default: when a key is set."),
):
    """Talk to ITA in the terminal: backtests, setups, detectors, charts — in English or Russian.

    \b
    Examples:
      ita chat "backtest asia_fvg_break on EURUSD for 2025"
      ita chat "same on XAUUSD"            (the conversation remembers: same --thread)
      ita chat "show trade 3"
      ita chat "бэктест asia_sweep по XAUUSD за 2025"
      ita chat                             (interactive; `exit` or Ctrl-D to leave)
    Without OPENAI_API_KEY a built-in command parser answers; with one (and optionally OPENAI_BASE_URL for
    Ollama / vLLM / llama.cpp, ITA_MODEL for the model) the model chooses the tools and explains the numbers.
    """
    from rich.markdown import Markdown

    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig

    cfg = AgentConfig.from_env()
    if llm is False or (llm and not cfg.api_key):
        if llm:
            err_console.print("No OPENAI_API_KEY set: using the built-in command parser.")
        cfg = AgentConfig.from_env(use_llm=False)
    session = ChatSession(thread, cfg)

    def one(text: str) -> None:
        with console.status("Thinking …"):
            turn = session.ask(text)
        console.print(Markdown(turn.answer))
        for a in turn.artifacts:
            console.print(f"  [dim]{a.kind}[/] {a.path}", highlight=False)
        console.print(f"[dim]{turn.seconds:.1f} s · {'LLM' if turn.used_llm else 'command parser'} · thread {thread}[/]")

    if message:
        one(" ".join(message))
        return
    try:
        import readline

        hist = cfg.chat_db.parent / "chat_history"
        hist.parent.mkdir(parents=True, exist_ok=True)
        if hist.exists():
            readline.read_history_file(str(hist))
    except Exception:  # no readline (Windows): plain input
        readline, hist = None, None
    console.print(f"ITA chat · thread {thread} · {'LLM ' + cfg.model if cfg.use_llm else 'command parser (no LLM)'} "
                  f"· type `help`, `exit` to leave")
    while True:
        try:
            text = input("you › ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if text.lower() in ("exit", "quit", "выход", ":q"):
            break
        if text:
            one(text)
            if readline is not None and hist is not None:
                try:
                    readline.write_history_file(str(hist))
                except OSError:
                    pass


@runs_app.command("by-version")
def runs_by_version(setup_id: Optional[str] = typer.Argument(None, help="Only this setup."),
                    symbol: Optional[str] = typer.Option(None, "--symbol", "-s")):
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
                  _fmt(r["Win Rate [%]"], 1) + "%", _fmt(r["Total R"]), _fmt(r["Expectancy [R]"], 3),
                  _fmt(r["Profit Factor"]))
    console.print(t)


@runs_app.command("show")
def runs_show(run_id: str):
    """Statistics and artifact folder of one stored run."""
    import pandas as pd

    from ita.store import RunStore

    try:
        row = RunStore().get_run(run_id)
    except ItaError as exc:
        _fail(exc)
    print_stats(pd.Series(row["stats"]), f"{row['run_id']} · {row['setup_id']} v{row['setup_version']} · {row['symbol']}")
    console.print(f"Setup sha256 {row['setup_hash']}  ·  overrides {row['overrides']}  ·  spread {row['spread']} pips  ·  "
                  f"data {row['data_fingerprint']}")
    console.print(f"Artifacts: {row['run_dir']}")


# ---------------------------------------------------------------------------------------------- live signals

from ita.cli_live import live_app  # noqa: E402 - the live commands live in their own module

app.add_typer(live_app, name="live")


# ---------------------------------------------------------------------------------------------- kb (theory library)

kb_app = typer.Typer(help="The theory library: your course PDFs, notes and rule books, searched with citations "
                          "(file, page). Offline embeddings + keyword search.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


def _kb_open():
    from ita.knowledge_base import KnowledgeBase

    return KnowledgeBase()


def _kb_progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=True)


@kb_app.command("add")
def kb_add(files: List[Path] = typer.Argument(..., help="PDF (.pdf), Markdown (.md) or text (.txt) files.")):
    """Add files to the theory library; a changed file replaces its old passages, the same file is skipped.

    \b
    Examples:
      ita kb add course.pdf notes.md rules.txt
      ita kb add ~/ICT/*.pdf
    Nothing is stored when a file cannot be read (missing, unsupported type, a scanned PDF without text:
    run OCR first, e.g. `ocrmypdf in.pdf out.pdf`). Library: $ITA_HOME/kb.
    """
    from ita.knowledge_base import KnowledgeBaseError

    kb = _kb_open()
    tasks: dict = {}
    try:
        with _kb_progress_bar() as bar:
            def progress(ev) -> None:
                name = getattr(ev, "file", "") or str(ev)
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=None)
                stage, done, total = getattr(ev, "stage", ""), getattr(ev, "done", 0), getattr(ev, "total", 0)
                if stage == "embed":
                    bar.update(tasks[name], description=f"{name}: embedding", total=total, completed=done)
                elif stage == "done":
                    bar.update(tasks[name], description=f"{name}: done", total=max(total, 1), completed=max(total, 1))
                else:
                    bar.update(tasks[name], description=f"{name}: {stage or 'working'}")

            reports = kb.add(files, progress=progress, strict=True)
    except KnowledgeBaseError as exc:
        _fail(exc)
    from rich import box

    colour = {"added": "green", "replaced": "cyan", "unchanged": "dim", "error": "bold red"}
    t = Table(box=box.SIMPLE_HEAD)
    for c in ("file", "status", "pages", "passages", "note"):
        t.add_column(c, justify="right" if c in ("pages", "passages") else "left", overflow="fold")
    for r in reports:
        t.add_row(r.file, f"[{colour.get(r.status, 'white')}]{r.status}[/]", str(r.pages), str(r.chunks), r.message)
    console.print(t)
    docs = kb.documents()
    console.print(f"Library {kb.path}: {len(docs)} document(s), {sum(d['chunks'] for d in docs):,} passages. "
                  'Try `ita kb search "what is an IFVG?"`.', highlight=False)
    failed = [r for r in reports if r.status == "error"]
    if failed:
        _fail("\n".join(r.message for r in failed))


@kb_app.command("list")
def kb_list():
    """The documents in the theory library: pages, passages, when added, content hash."""
    from rich import box

    kb = _kb_open()
    docs = kb.documents()
    if not docs:
        console.print(f"The theory library ({kb.path}) is empty. Add your course: `ita kb add course.pdf notes.md`.",
                      highlight=False)
        return
    t = Table(title=f"Theory library {kb.path}", box=box.SIMPLE_HEAD)
    for c in ("file", "title", "pages", "passages", "added (UTC)", "sha256"):
        t.add_column(c, justify="right" if c in ("pages", "passages") else "left", overflow="fold")
    for d in docs:
        note = f" [yellow](no text on p. {', '.join(map(str, d['empty_pages'][:5]))})[/]" if d["empty_pages"] else ""
        t.add_row(d["file"], (d["title"] or "") + note, str(d["pages"]), str(d["chunks"]),
                  str(d["added_at"]).replace("T", " ").replace("+00:00", ""), d["sha256"][:12])
    console.print(t)


@kb_app.command("remove")
def kb_remove(file: str = typer.Argument(..., help="File name as listed by `ita kb list` (or its path).")):
    """Remove a document and all its passages from the theory library. Example: `ita kb remove course.pdf`."""
    from ita.knowledge_base import KnowledgeBaseError

    try:
        n = _kb_open().remove(file)
    except KnowledgeBaseError as exc:
        _fail(exc)
    console.print(f"Removed {Path(file).name}: {n} passage(s).", highlight=False)


@kb_app.command("search")
def kb_search(
    query: List[str] = typer.Argument(..., help="What to look for, e.g. \"what is a breaker block?\"."),
    k: int = typer.Option(5, "-k", "--top", help="How many passages."),
    mode: str = typer.Option("hybrid", "--mode", "-m", help="hybrid (default: meaning + exact words) | dense (meaning) | keyword (exact words, bm25)."),
):
    """Search the theory library; passages with file · page · section and the matching words highlighted.

    \b
    Examples:
      ita kb search "what is an IFVG?"
      ita kb search "London killzone" -k 3
      ita kb search "ордерблок" --mode keyword
    """
    from rich.text import Text

    from ita.knowledge_base import KnowledgeBaseError
    from ita.knowledge_base.store import snippet

    text = " ".join(query).strip()
    kb = _kb_open()
    try:
        if not kb.documents():
            console.print("The theory library is empty. Add your course first: `ita kb add course.pdf`.")
            return
        with console.status("Searching …"):
            hits = kb.search(text, k=k, mode=mode)
    except KnowledgeBaseError as exc:
        _fail(exc)
    if not hits:
        console.print(f"No passage matches {text!r}" + (" (keyword mode needs the exact words)." if mode == "keyword" else "."),
                      highlight=False)
        return
    for i, p in enumerate(hits, start=1):
        head = Text(f"{i}. ", style="bold")
        head.append(p.file, style="bold cyan")
        head.append(f" · p. {p.page}", style="cyan")
        if p.section:
            head.append(f" · {p.section}", style="bold")
        ranks = [f"{name} #{r}" for name, r in (("dense", p.dense_rank), ("keyword", p.keyword_rank)) if r]
        head.append(f"   score {p.score:.3g}" + (f" ({', '.join(ranks)})" if ranks else ""), style="dim")
        console.print(head)
        body_text = p.text[len(p.section):].lstrip() if p.section and p.text.startswith(p.section) else p.text
        snip, spans = snippet(body_text or p.text, text)
        body = Text("   " + snip)
        for a, b in spans:
            body.stylize("bold yellow", a + 3, b + 3)
        console.print(body)
        console.print()


@kb_app.command("reindex")
def kb_reindex():
    """Re-embed every stored passage with the current embedding model (after changing ITA_EMBEDDINGS)."""
    from ita.knowledge_base import KnowledgeBaseError

    kb = _kb_open()
    try:
        with _kb_progress_bar() as bar:
            task = bar.add_task("re-embedding", total=None)
            n = kb.reindex(progress=lambda ev: bar.update(task, total=getattr(ev, "total", None) or None,
                                                          completed=getattr(ev, "done", 0)))
    except KnowledgeBaseError as exc:
        _fail(exc)
    console.print(f"Re-embedded {n:,} passages into {kb.path}.", highlight=False)


# ---------------------------------------------------------------------------------------------- eval

eval_app = typer.Typer(help="Evaluation suites (evals/): score ITA, store the scores with the date, compare with the previous run.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")

# metric → +1 higher is better, -1 lower is better, 0 neutral (colours the delta)
_EVAL_BETTER = {"n": 0, "ool_n": 0, "ool_top1_score": 0, "in_top1_score": 0, "query_ms": -1}
_EVAL_SECTIONS = (
    ("retrieval", lambda m: m.startswith("hit_rate@") and "[" not in m or m == "mrr"),
    ("ragas (span containment)", lambda m: m in ("context_precision", "context_recall")),
    ("ragas (page ids)", lambda m: m.startswith("id_context_")),
    ("ragas defaults (Levenshtein)", lambda m: m.endswith("_lev")),
    ("slices", lambda m: "[" in m),
    ("out of library", lambda m: m.startswith(("ool_", "in_top1"))),
    ("speed / size", lambda m: m in ("query_ms", "n")),
)


def _eval_num(v, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if metric in ("n", "ool_n"):
        return str(int(v))
    return f"{v:.1f}" if metric == "query_ms" else f"{v:.3f}"


def _eval_page(page_id) -> str:
    """``fair_value_gaps.pdf#p2`` → ``fair_value_gaps p2`` (table cells)."""
    if not page_id or (isinstance(page_id, float) and math.isnan(page_id)):
        return "—"
    return "; ".join(x.replace(".pdf#p", " p") for x in str(page_id).split("; "))


def _eval_delta(d, metric: str) -> str:
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return ""
    txt = f"{d:+.1f}" if metric == "query_ms" else f"{d:+.0f}" if metric in ("n", "ool_n") else f"{d:+.3f}"
    sign = _EVAL_BETTER.get(metric, 1) * (1 if d > 1e-12 else -1 if d < -1e-12 else 0)
    return f"[green]{txt}[/]" if sign > 0 else f"[red]{txt}[/]" if sign < 0 else txt


@eval_app.command("kb")
def eval_kb(
    k: int = typer.Option(5, "--k", "-k", min=1, max=50, help="Passages retrieved per question."),
    mode: Optional[List[str]] = typer.Option(None, "--mode", "-m", help="hybrid | dense | keyword; repeat for several (default: all three)."),
    worst: int = typer.Option(10, "--worst", min=0, help="How many of the worst questions to list (0: none)."),
    store: bool = typer.Option(True, "--store/--no-store", help="Store the run in the eval_runs table (default) or only print it."),
):
    """Score retrieval from the theory library: hit-rate@1/3/5, MRR, ragas context precision/recall.

    \b
    Builds a fresh knowledge base from evals/kb/library/*.pdf in a temporary folder, asks every question of
    evals/kb/questions.yaml (English and Russian, with reference passages) in each search mode, prints one
    table per mode with the change since the previous stored run (same k), stores the run with the date
    (SQLite table eval_runs in $ITA_DB) and lists the worst questions. Questions whose answer is not in the
    library are scored separately. How the scores are computed: evals/README.md.
    \b
    Examples:
      ita eval kb
      ita eval kb --mode hybrid --k 3
      ita eval kb --mode dense --mode keyword --no-store
    """
    from rich import box
    from rich.markup import escape

    from ita.evals import kb as ev

    modes = tuple(dict.fromkeys(m.strip().lower() for m in mode)) if mode else ev.MODES
    bad = [m for m in modes if m not in ev.MODES]
    if bad:
        from ita.errors import closest

        _fail(ValueError(f"unknown mode {bad[0]!r}; use hybrid, dense or keyword.{closest(bad[0], ev.MODES)}"))
    try:
        with console.status("evaluating the theory library…") as status:
            df = ev.run_kb_eval(k=k, modes=modes, store=store, progress=lambda msg: status.update(f"{msg}…"))
            # stored: the previous run was looked up before storing; --no-store still compares with the last one
            prev = df.attrs["previous"] if store else ev.previous_kb_run(df)
    except (ItaError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    a = df.attrs
    pq = a["questions"]
    n_in = int(pq[pq["in_library"]]["id"].nunique())
    n_out = int(pq[~pq["in_library"]]["id"].nunique())
    console.print(f"[bold]Theory-library retrieval[/] · run {a['run_id']} · {a['created_at']} · k={k} · "
                  f"{n_in} questions + {n_out} out of library · {len(a['reports'])} PDFs, {a['chunks']} passages · "
                  f"embeddings {a.get('embedding')} · "
                  f"ingest {a['build_s']:.1f} s, total {a['eval_s']:.1f} s", highlight=False)
    if prev is None:
        console.print(f"No previous stored run with k={k}: no deltas.", highlight=False)
    else:
        console.print(f"Δ vs run {prev.attrs['run_id']} ({prev.attrs['created_at']})", highlight=False)
        if prev.attrs.get("fingerprint") != a["fingerprint"]:
            console.print("[yellow]The evaluation set (questions or library) changed since that run: the deltas mix "
                          "a change of the set with a change of retrieval.[/]")
        if prev.attrs.get("embedding") != a.get("embedding"):
            console.print(f"[yellow]Embeddings changed: {prev.attrs.get('embedding')} → {a.get('embedding')}.[/]",
                          highlight=False)
    delta = ev.deltas(df, prev)
    for m in df.index:
        t = Table(title=f"mode: {m}", title_justify="left", box=box.SIMPLE_HEAD)
        t.add_column("metric", style="bold")
        t.add_column("value", justify="right")
        t.add_column("previous", justify="right")
        t.add_column("Δ", justify="right")
        done: set[str] = set()
        for si, (_, belongs) in enumerate(_EVAL_SECTIONS):
            metrics = [c for c in df.columns if c not in done and belongs(c)]
            for i, c in enumerate(metrics):
                done.add(c)
                pv = prev.loc[m, c] if prev is not None and m in prev.index and c in prev.columns else None
                t.add_row(escape(c), _eval_num(df.loc[m, c], c), _eval_num(pv, c) if pv is not None else "—",
                          _eval_delta(delta.loc[m, c], c), end_section=(i == len(metrics) - 1))
        console.print(t)
    console.print("hit_rate@j: a passage on the reference page containing the reference span is among the top j; "
                  "ragas (span containment) uses that same judgement; ragas defaults compare whole strings "
                  "(≈0 for ~800-character passages vs ~100-character spans); ool_auc: can the best passage's score "
                  "tell answerable from unanswerable questions (1 = perfectly, 0.5 = chance).", style="dim")
    if worst:
        bad_q = ev.worst_questions(df, worst)
        if bad_q.empty:
            console.print("Every question has its reference passage at rank 1 in every mode.")
        else:
            t = Table(title=f"Worst questions (rank of the first relevant passage, — = not in the top {k})",
                      title_justify="left", box=box.SIMPLE_HEAD)
            t.add_column("question · id", ratio=1, min_width=24)
            t.add_column("expected", no_wrap=True)
            for m in df.index:
                t.add_column(m, justify="right", no_wrap=True)
            t.add_column(f"top-1 ({df.index[0]})", no_wrap=True)
            for qid, r in bad_q.iterrows():
                ranks = [("—" if r.get(f"rank:{m}") is None or (isinstance(r.get(f"rank:{m}"), float) and math.isnan(r.get(f"rank:{m}")))
                          else str(int(r[f"rank:{m}"]))) for m in df.index]
                tag = ", cross-lingual" if r["cross_lingual"] else ""
                t.add_row(f"{escape(r['question'])}\n[dim]{qid} ({r['lang']}, {r['kind']}{tag})[/]", _eval_page(r["expected"]),
                          *ranks, _eval_page(r.get(f"top1:{df.index[0]}")))
            console.print(t)
    ool = ev.out_of_library(df)
    if not ool.empty:
        t = Table(title="Out-of-library questions (expected: no good passage) — best passage per mode",
                  title_justify="left", box=box.SIMPLE_HEAD)
        t.add_column("question · id", ratio=1, min_width=24)
        for m in df.index:
            t.add_column(f"{m} (score)", no_wrap=True)
        for qid, r in ool.iterrows():
            cells = []
            for m in df.index:
                if not r.get(f"n_passages:{m}"):
                    cells.append("[green]no passage[/]")
                else:
                    cells.append(f"{_eval_page(r[f'top1:{m}'])} ({r[f'top1_score:{m}']:.3g})")
            t.add_row(f"{escape(r['question'])}\n[dim]{qid}[/]", *cells)
        console.print(t)
    console.print(f"Stored as {a['run_id']} (eval_runs)." if store else "Not stored (--no-store).", highlight=False)


def main() -> None:
    """Entry point of the ``ita`` console script."""
    try:
        app()
    except ItaError as exc:  # anything that escaped a command
        err_console.print(f"[bold red]Error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
