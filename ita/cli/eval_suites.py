"""``ita eval`` (every suite), ``ita eval agent | backtest | detectors | report``: run, store, compare with the
previous run (regressions red), check ``evals/thresholds.yaml`` (exit 1 when a metric crosses its threshold)."""
from __future__ import annotations

import math
from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ita.cli.common import console, fail
from ita.errors import ItaError

# metrics shown in the combined view (``ita eval``); regressions are always shown
HEADLINE = {"agent": ("tool_accuracy", "exact_args_accuracy", "ragas_tool_call_accuracy", "ragas_tool_call_f1",
                      "routing_accuracy", "clarification_precision", "clarification_recall", "refusal_recall",
                      "honest_non_understanding", "silent_wrong_tool_rate", "n_turns", "n_pending"),
            "kb": ("hit_rate@1", "hit_rate@5", "mrr", "context_precision", "context_recall", "ool_auc",
                   "ool_refusal_precision", "ool_refusal_recall", "ool_refusal_f1"),
            "backtest": ("trades_ita", "trades_reference", "agreement", "unmatched_trades", "stat_mismatches"),
            "detectors": ("precision", "recall", "labels", "hits", "false_positives")}


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.0f}" if float(v).is_integer() and abs(v) >= 2 else f"{v:.3f}"


def run_and_report(suite: str, *, quick: bool, store: bool, all_metrics: bool, failures: int,
                   split: Optional[str] = None, check_thresholds: bool = True, **opts) -> bool:
    """Run one suite, print its table against the previous run, store it, check thresholds (unless
    ``check_thresholds`` is false: a sample of the set). Returns True when every threshold holds."""
    from ita.evals import store as st
    from ita.evals.suites import run_suite
    from ita.evals.thresholds import check

    if suite == "kb":
        opts["store"] = store             # the kb module stores its own rows (with per-question details)
    with console.status(f"evaluating {suite}…") as status:
        run = run_suite(suite, quick=quick, progress=lambda m: status.update(f"{escape(m)}…"), **opts)
    prev_id, prev = st.previous_metrics(run)
    cmp_ = st.compare(run, prev)
    if store:
        if suite == "kb":
            st.store_info(run)            # its metric rows are already stored
        else:
            st.store_run(run)
    console.print(f"[bold]{suite}[/] · run {run.run_id} · {run.created_at} UTC · commit {run.commit or '?'} · "
                  f"ITA {run.version}{' · quick' if run.quick else ''} · {run.seconds:.1f} s · "
                  + (f"Δ vs {prev_id}" if prev_id else "no earlier comparable run"), highlight=False)
    t = Table(box=box.SIMPLE_HEAD, title_justify="left")
    for col, j in (("mode", "left"), ("metric", "left"), ("value", "right"), ("previous", "right"), ("Δ", "right")):
        t.add_column(col, justify=j)
    show = HEADLINE.get(suite, ())
    last_mode = None
    for _, r in cmp_.iterrows():
        if split and not str(r["mode"]).endswith(split):
            continue
        if not all_metrics and r["metric"] not in show and not r["regression"]:
            continue
        d = r["delta"]
        dtxt = "" if d is None or (isinstance(d, float) and math.isnan(d)) else f"{d:+.3f}"
        if r["regression"]:
            dtxt = f"[bold red]{dtxt}[/]"
        elif r["improved"]:
            dtxt = f"[green]{dtxt}[/]"
        mode = str(r["mode"]) if r["mode"] != last_mode else ""
        last_mode = r["mode"]
        t.add_row(escape(mode), escape(str(r["metric"])), _num(r["value"]), _num(r["previous"]), dtxt)
    console.print(t)
    n_reg = int(cmp_["regression"].sum()) if len(cmp_) else 0
    if n_reg:
        console.print(f"[bold red]{n_reg} metric(s) worse than the previous run.[/]")
    bad = check(run) if check_thresholds else []
    if not check_thresholds:
        console.print("Thresholds not checked: a sample of the set (--limit).", style="dim")
    for v in bad:
        console.print(f"[bold red]✗ threshold: {escape(str(v))}[/]  (evals/thresholds.yaml)")
    if failures and run.failures:
        shown = [f for f in run.failures if not split or str(f.get("mode", "")).endswith(split)][:failures]
        ft = Table(title=f"Failures ({len(run.failures)}; first {len(shown)})", box=box.SIMPLE_HEAD,
                   title_justify="left")
        for col in ("mode", "item", "what", "expected", "got"):
            ft.add_column(col, overflow="fold")
        for f in shown:
            got = str(f.get("got", "")) + (" (pending tool)" if f.get("pending") else "")
            ft.add_row(*(escape(str(x)) for x in (f.get("mode", ""), f.get("item", ""), f.get("what", ""),
                                                   f.get("expected", ""), got)))
        console.print(ft)
    console.print(f"Stored as {run.run_id}." if store else "Not stored (--no-store).", highlight=False)
    return not bad


def register(eval_app: typer.Typer) -> None:
    """Add the suite commands and the all-suites callback to ``ita eval``."""

    @eval_app.callback(invoke_without_command=True)
    def eval_all(ctx: typer.Context,
                 quick: bool = typer.Option(False, "--quick", help="The fast set (≤ 2 min): kb hybrid only, backtest "
                                            "EURUSD only; what CI runs."),
                 store: bool = typer.Option(True, "--store/--no-store", help="Store the runs (default) or only print."),
                 failures: int = typer.Option(5, "--failures", min=0, help="Failures listed per suite."),
                 report: bool = typer.Option(False, "--report", help="Also write the HTML report afterwards.")):
        """Evaluate ITA: every suite (agent, kb, backtest, detectors), or one with a subcommand.

        \b
        Each run is stored (SQLite, $ITA_DB: eval_runs + eval_run_info with the date, git commit and ITA
        version), compared with the previous run of the same kind (regressions in red) and checked against
        evals/thresholds.yaml: the exit status is 1 when a metric crosses its threshold (CI runs
        `ita eval --quick`). `ita eval report` draws every metric's history.
        \b
        Examples:
          ita eval                     # everything (~2-3 min)
          ita eval --quick             # the CI set
          ita eval agent --split heldout
          ita eval report
        """
        if ctx.invoked_subcommand is not None:
            return
        from ita.evals.suites import SUITES

        ok = True
        try:
            for suite in SUITES:
                ok = run_and_report(suite, quick=quick, store=store, all_metrics=False, failures=failures) and ok
        except (ItaError, ValueError, FileNotFoundError) as exc:
            fail(exc)
        if report:
            _write_report(None)
        if not ok:
            raise typer.Exit(1)

    @eval_app.command("agent")
    def eval_agent(
        split: Optional[str] = typer.Option(None, "--split", help="Show only this half: dev | heldout (both are "
                                            "always scored and stored)."),
        llm: bool = typer.Option(False, "--llm", help="Through the LLM path (OPENAI_BASE_URL / OPENAI_API_KEY / "
                                 "ITA_MODEL) instead of the parser; stored per model."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N cases of each half (e.g. "
                                            "to try a paid model cheaply; such a run is stored as quick)."),
        failures: int = typer.Option(20, "--failures", min=0, help="How many failures to list."),
        store: bool = typer.Option(True, "--store/--no-store", help="Store the run (default) or only print."),
    ):
        """Score the chat agent on evals/agent: ≥ 400 labelled requests (EN/RU, conversations).

        \b
        Tool accuracy, exact-argument accuracy, ragas ToolCallAccuracy / ToolCallF1, clarification
        precision/recall, refusals and honest non-understanding, for the development half, the held-out half
        and all. Requests for tools not built yet are "pending": not counted, but the agent must say it
        cannot do them. Relative periods are read with today = 2025-11-20. How cases are written:
        evals/README.md.
        \b
        Examples:
          ita eval agent
          ita eval agent --split dev --failures 50
          OPENAI_BASE_URL=http://127.0.0.1:8080/v1 ITA_MODEL=qwen ita eval agent --llm --limit 20
        """
        if split and split not in ("dev", "heldout"):
            fail(ValueError(f"--split must be dev or heldout, got {split!r}"))
        try:
            ok = run_and_report("agent", quick=bool(limit), store=store, all_metrics=True, failures=failures,
                                split=split, check_thresholds=not limit, llm=llm, limit=limit)
        except (ItaError, ValueError, FileNotFoundError) as exc:
            fail(exc)
        if not ok:
            raise typer.Exit(1)

    @eval_app.command("backtest")
    def eval_backtest(
        setup: Optional[list[str]] = typer.Option(None, "--setup", "-s", help="Only this setup (repeatable)."),
        quick: bool = typer.Option(False, "--quick", help="EURUSD only."),
        failures: int = typer.Option(20, "--failures", min=0, help="How many failures to list."),
        store: bool = typer.Option(True, "--store/--no-store", help="Store the run (default) or only print."),
    ):
        """Every shipped setup vs its independent reference, trade by trade, on both sample symbols (zero cost),
        and the statistics vs backtesting.py's compute_stats on the same trades.

        \b
        The first differing trade of a setup is listed with both versions. References: evals/backtest/.
        \b
        Examples:
          ita eval backtest
          ita eval backtest --setup ib_raid --failures 5
        """
        try:
            ok = run_and_report("backtest", quick=quick, store=store, all_metrics=True, failures=failures,
                                setups=list(setup) if setup else None)
        except (ItaError, ValueError, FileNotFoundError) as exc:
            fail(exc)
        if not ok:
            raise typer.Exit(1)

    @eval_app.command("detectors")
    def eval_detectors(
        failures: int = typer.Option(20, "--failures", min=0, help="How many misses / unlabelled detections to list."),
        store: bool = typer.Option(True, "--store/--no-store", help="Store the run (default) or only print."),
    ):
        """The labelled example sets (examples/labels/*.csv, evals/detectors/*.csv) through `ita setups verify`:
        precision and recall per set, stored over time.

        \b
        Examples:
          ita eval detectors
        """
        try:
            ok = run_and_report("detectors", quick=False, store=store, all_metrics=True, failures=failures)
        except (ItaError, ValueError, FileNotFoundError) as exc:
            fail(exc)
        if not ok:
            raise typer.Exit(1)

    @eval_app.command("report")
    def eval_report(out: Optional[str] = typer.Option(None, "--out", "-o", help="HTML file (default "
                                                      "$ITA_HOME/eval_report.html).")):
        """One HTML page: every metric's history as a chart (one line per mode), the latest run of each suite
        against the run before (regressions red) and its failures.

        \b
        Examples:
          ita eval report
          ita eval report --out /tmp/evals.html
        """
        _write_report(out)


def _write_report(out) -> None:
    from ita.evals.report import write_report

    try:
        path = write_report(out)
    except (ItaError, OSError) as exc:
        fail(exc)
    console.print(f"Report: {path}", highlight=False)
