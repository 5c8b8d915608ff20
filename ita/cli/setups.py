"""``ita setups …``: versioned setup YAML — list, show, validate, new-version, diff, schema, explain, verify."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ita.cli.common import (console, fail, fmt_value, from_option, param_option, parse_params, symbol_option, to_option,
                             version_option)
from ita.errors import ItaError

setups_app = typer.Typer(help="Setups as versioned YAML: list, show, validate, new-version, diff, promote, gates, explain, verify, JSON Schema.", no_args_is_help=True)


@setups_app.command("list")
def setups_list():
    """List setups, their versions and each version's status (candidate → paper → active; `ita setups promote`)."""
    from ita.tools import list_setups

    res = list_setups()
    t = Table(title="Setups")
    for c in ("id", "versions", "latest", "timeframe", "name", "hash", "status"):
        t.add_column(c)
    colour = {"active": "green", "paper": "yellow"}
    for s in res.data["setups"]:
        vs = ", ".join(f"v{v}" for v in s["versions"])
        st = " · ".join(f"v{v} [{colour[x]}]{x}[/]" for v, x in (s.get("status") or {}).items() if x in colour) or "candidate"
        if "error" in s:
            t.add_row(s["setup_id"], vs, "—", "—", f"[red]invalid: {s['error'][:80]}[/]", "—", st)
        else:
            t.add_row(s["setup_id"], vs, f"v{s['latest']}", s["timeframe"], s["name"], s["hash"], st)
    console.print(t)
    console.print("Statuses: candidate → paper (journaled, not alerted) → active (alerted; `ita live start` without "
                  "--setups runs these). `ita setups promote ID vN` moves a version through the gates.")


@setups_app.command("show")
def setups_show(setup_id: str = typer.Argument(..., help="Setup id, e.g. asia_fvg_break."),
                version: Optional[str] = version_option("v1, 2, … (default latest).")):
    """Print a setup's YAML with its version and content hash."""
    from ita.setups import load_setup

    try:
        s = load_setup(setup_id, version)
    except ItaError as exc:
        fail(exc)
    console.print(f"[bold]{s.label}[/]  {s.path}\nsha256 {s.content_hash}\n")
    console.print(s.path.read_text(encoding="utf-8"), highlight=False, markup=False)


@setups_app.command("validate")
def setups_validate(target: str = typer.Argument(..., help="A YAML path, or a setup id (all its versions).")):
    """Validate a setup file; errors name the file, line and field.

    \b
    Example:
      ita setups validate setups/asia_fvg_break/v1.yaml
    """
    from ita.setups import parse_setup_text
    from ita.tools import validate_setup

    res = validate_setup(setup_id=target)  # the one validation: the chat's tool
    if not res.ok:
        fail(res.error)
    for f in res.data["files"]:
        if not f["ok"]:
            continue
        if "hash" in f:  # a setup id: every stored version
            console.print(f"[green]OK[/] {f['path']}: {f['setup']} ({f['hash']})")
        else:  # a file; the tool's result carries no setup name, read it from the validated file
            p = Path(f["path"])
            console.print(f"[green]OK[/] {p}: {f['setup']} — {parse_setup_text(p.read_text(encoding='utf-8'), p).name}")
    bad = [f for f in res.data["files"] if not f["ok"]]
    if bad:
        fail("Invalid setup:\n" + "\n".join(f"  {e}" for f in bad for e in f["errors"]))


@setups_app.command("new-version")
def setups_new_version(
    setup_id: str = typer.Argument(..., help="Setup id, e.g. asia_fvg_break."),
    from_version: Optional[str] = typer.Option(None, "--from", help="Version to copy (default the latest)."),
    param: Optional[List[str]] = param_option("Write key=value into the new version, e.g. rr=3."),
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
        p = new_version(setup_id, from_version, parse_params(param))
        s = load_setup(setup_id, p.stem)
    except ItaError as exc:
        fail(exc)
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
        fail(exc)
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


@setups_app.command("promote")
def setups_promote(
    setup_id: str = typer.Argument(..., help="Setup id, e.g. fvg_reversal."),
    version: str = typer.Argument(..., help="The version, e.g. v2."),
    to: Optional[str] = typer.Option(None, "--to", help="paper | active | candidate (default: the next status)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Measure the gates and say what would happen; store nothing."),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="Measure on these instruments, comma-separated (default: gates.yaml's, else the setup's own symbols with data)."),
):
    """Promote a setup version candidate → paper → active through the promotion gates (setups/gates.yaml).

    \b
    Each gate is a metric, an operator and a threshold (seed 002 §5): PF in-sample ≥ 1.3, PF out-of-sample
    (walk-forward) ≥ 1.1, max drawdown ≤ 1.3 × the active setups' mean, correlation of daily R with the active
    portfolio ≤ 0.4, ≥ 200 trades after costs, deflated Sharpe ≥ 0.95, PBO ≤ 0.2. A promotion to a status in
    the file's enforce_for (default: active) needs every gate passed — a gate that could not be measured (no
    walk-forward yet) is not passed. Every request is stored with the version's hash and the gates' values.
    Paper = the live loop journals the version's signals without alerting; active = alerted. A candidate goes
    to paper first. Exit status 2 when the promotion is refused.
    \b
    Examples:
      ita setups promote fvg_reversal v2                 # candidate → paper (gates shown and stored)
      ita setups promote fvg_reversal v2 --to active     # refused unless every gate passes
      ita setups promote fvg_reversal v2 --dry-run       # what would happen
      ita setups promote fvg_reversal v1 --to candidate  # take it back
    """
    from ita.cli.common import print_tool_table
    from ita.tools import promote_setup

    with console.status("Measuring the gates …"):
        res = promote_setup(setup_id=setup_id, version=version, to=to, dry_run=dry_run, symbols=symbols)
    if not res.ok:
        fail(res.error)
    d = res.data
    if "gates" in res.tables:
        print_tool_table(res.tables["gates"], title_justify="left")
    style = "green" if d["accepted"] else "red"
    from rich.markup import escape

    console.print(f"[bold {style}]{escape(d['headline'])}[/]", highlight=False)
    from ita.promotion.gates import GateResult

    for g in d.get("gates") or []:
        g = GateResult(**g)
        if not g.passed:
            console.print(f"  {'✗' if not d['accepted'] else '·'} {escape(g.text())}", highlight=False)
    if d.get("note"):
        console.print(f"[yellow]Note:[/] {escape(d['note'])}")
    if not d["accepted"]:
        raise typer.Exit(2)


@setups_app.command("gates")
def setups_gates(
    setup_id: Optional[str] = typer.Argument(None, help="Show the gates stored for this setup (all its versions)."),
    version: Optional[str] = typer.Argument(None, help="Only this version, e.g. v2."),
):
    """The promotion gates (setups/gates.yaml) and the metric functions they use; with a setup, the requests stored
    for its versions with every gate's value, threshold and result.

    \b
    Examples:
      ita setups gates
      ita setups gates fvg_reversal v2
    """
    import inspect

    from ita.cli.common import print_tool_table
    from ita.promotion import METRICS, load_gates
    from ita.promotion.gates import fmt_value
    from ita.store.promotions import PromotionStore
    from ita.tools.promotion import gates_table

    try:
        cfg = load_gates()
    except ItaError as exc:
        fail(exc)
    if setup_id is None:
        t = Table(title=f"Promotion gates · {cfg.path} · enforced for: {', '.join(cfg.enforce_for)}", title_justify="left")
        for c in ("gate", "metric", "threshold", "why"):
            t.add_column(c, overflow="fold")
        for g in cfg.gates:
            t.add_row(g.name, g.metric, f"{g.op} {fmt_value(g.threshold, METRICS[g.metric].unit)}", g.why)
        console.print(t)
        m = Table(title="Metric functions (ita/promotion/gates.py METRICS)", title_justify="left")
        for c in ("metric", "unit", "definition"):
            m.add_column(c, overflow="fold")
        for k, mt in METRICS.items():
            m.add_row(k, mt.unit, " ".join(inspect.getdoc(mt.fn).split()))
        console.print(m)
        return
    v = None
    if version is not None:
        try:
            v = int(version.lower().lstrip("v"))
        except ValueError:
            fail(ItaError(f"Version {version!r} is not a number like v2."))
    hist = PromotionStore().history(setup_id, v)
    if hist.empty:
        console.print(f"No promotion of {setup_id}{f' v{v}' if v else ''} is stored: every version is a candidate. "
                      f"Try `ita setups promote {setup_id} v{v or 1} --dry-run`.")
        return
    for r in hist.to_dict("records"):
        verdict = "[green]accepted[/]" if r["accepted"] else "[red]refused[/]"
        console.print(f"\n[bold]{r['at']}[/] {setup_id} v{r['version']} ({r['setup_hash'][:8]}) {r['from_status']} → "
                      f"{r['requested']}: {verdict}, now {r['status']}", highlight=False)
        if r["gates"]:
            ev = r["evaluation"] or {}
            print_tool_table(gates_table(r["gates"], f"on {', '.join(ev.get('symbols', []))} "
                                         f"{' → '.join(ev.get('period', []))}"), title_justify="left")
        elif r["note"]:
            console.print(f"  {r['note']}", highlight=False)


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
    symbol: str = symbol_option(help="Symbol of stored candles."),
    start: str = from_option(help="First trading day (setup's time zone)."),
    end: str = to_option(help="Last trading day."),
    day: Optional[str] = typer.Option(None, "--day", "-d", help="Just this trading day (YYYY-MM-DD)."),
    failed_only: bool = typer.Option(False, "--failed", help="Only days without a signal."),
    version: Optional[str] = version_option(),
    param: Optional[List[str]] = param_option("One-off override, e.g. -p target.rr=3 (never saved)."),
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
        loaded = load_setup(setup_id, version, params=parse_params(param))
        lo, hi = (day, day) if day else (start, end)
        lo_t, hi_t = pd.Timestamp(lo), pd.Timestamp(hi)
        store = CandleStore()
        store.ensure_samples()
        # a few days of history before the period: previous-day levels, Asia ranges of the evening before
        candles = store.load(symbol, loaded.setup.timeframe, start=str((lo_t - pd.Timedelta(days=10)).date()),
                             end=str(hi_t.date()))
        why = explain(loaded, candles, symbol)
    except (ItaError, ValueError) as exc:
        fail(exc)
    why = why[(why["day"] >= lo_t) & (why["day"] <= hi_t)]
    if day and why.empty:
        fail(ValueError(f"{day} is not a trading day of {setup_id} with {symbol} data "
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
    start: Optional[str] = from_option(None, help="First trading day for unlabelled detections (default: first label's day)."),
    end: Optional[str] = to_option(None, help="Last trading day for unlabelled detections (default: last label's day)."),
    version: Optional[str] = version_option(),
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
        fail(exc)
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
        st.add_row(escape(k), fmt_value(v, 1) if isinstance(v, float) else fmt_value(v))
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

