"""Run tools: ``compare_runs`` and ``compare_versions`` (headline statistics side by side with Δ),
``list_runs`` (the latest stored runs with version, hash and headline figures) and ``show_run`` (one stored
run: statistics, by month, a random sample of trades to check against ``trades.csv``, its files).
"""
from __future__ import annotations

import logging
import math

from pydantic import Field

from ita.errors import ItaError
from ita.format import as_float, fmt_num, fmt_pct, fmt_r
from ita.tools.access import candle_store, latest_runs, run_error, trading_period
from ita.tools.format import STAT_ROWS, compare_table, short_text, stats_dict, stats_line
from ita.tools.registry import END_DESC, SETUP_DESC, START_DESC, SYMBOL_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Artifact, Table, ToolResult

log = logging.getLogger(__name__)


class CompareRunsArgs(ToolArgs):
    run_a: str = Field(description="First run id (see list_runs).", examples=["bt_20250101_120000_abc123"])
    run_b: str = Field(description="Second run id.", examples=["bt_20250101_120500_def456"])


class CompareVersionsArgs(ToolArgs):
    setup_id: str = Field(description=SETUP_DESC, examples=["fvg_reversal"])
    version_a: int = Field(description="First version, e.g. 1.", examples=[1])
    version_b: int = Field(description="Second version, e.g. 2.", examples=[2])
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description=START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=END_DESC, examples=["2025-12-31"])


class ListRunsArgs(ToolArgs):
    limit: int = Field(10, ge=1, le=200, description="How many of the latest runs.", examples=[10])


class ShowRunArgs(ToolArgs):
    run_id: str | None = Field(None, description="A stored run id (see list_runs); default the latest run.",
                               examples=["bt_20250101_120000_abc123"])
    sample: int = Field(10, ge=0, le=100, description="How many trades to sample at random (seeded by the run id, "
                                                      "so the same run gives the same sample).", examples=[10])


@tool(CompareRunsArgs)
def compare_runs(a: CompareRunsArgs) -> ToolResult:
    """Compare two stored backtest runs: their statistics side by side with the differences (B − A)."""
    from ita.store import RunStore

    store = RunStore()
    try:
        ra, rb = store.get_run(a.run_a), store.get_run(a.run_b)
    except ItaError as exc:
        raise run_error(exc) from None
    sa, sb = ra.get("stats") or {}, rb.get("stats") or {}

    def label(r):
        extra = []
        ov = r.get("overrides")
        if ov and ov not in ("{}", ""):
            extra.append(str(ov))
        if r.get("session_filter"):
            extra.append(f"session={r['session_filter']}")
        return (f"{r['setup_id']} v{r['setup_version']} · {r['symbol']} · {r['start']} → {r['end']}"
                + (f" · {' '.join(extra)}" if extra else ""))

    table = compare_table(sa, sb, "A", "B", title="A vs B")
    summary = f"A {a.run_a} ({label(ra)}): {stats_line(sa)}. B {a.run_b} ({label(rb)}): {stats_line(sb)}."
    data = {"run_a": a.run_a, "run_b": a.run_b, "a": label(ra), "b": label(rb), "stats_a": sa, "stats_b": sb,
            "delta": {key: (None if as_float(sa.get(key)) is None or as_float(sb.get(key)) is None
                            else as_float(sb.get(key)) - as_float(sa.get(key)))
                      for _, key, _ in STAT_ROWS}}
    for k, v in data["delta"].items():
        if v is not None and not math.isfinite(v):
            data["delta"][k] = None
    return ToolResult(tool="compare_runs", summary=summary, data=data, tables={"compare": table},
                      context={"run_a": a.run_a, "run_b": a.run_b})


@tool(CompareVersionsArgs)
def compare_versions(a: CompareVersionsArgs) -> ToolResult:
    """Backtest two versions of a setup on the same symbol and period and compare them: statistics side by side
    with the differences, and what changed in the rule."""
    from ita.backtest import runner
    from ita.setups.loader import load_setup
    from ita.setups.versions import diff_versions

    la = load_setup(a.setup_id, a.version_a)
    load_setup(a.setup_id, a.version_b)
    diff = diff_versions(a.setup_id, a.version_a, a.version_b)
    store = candle_store(a.symbol)
    lo, hi = trading_period(store, a.symbol, a.start, a.end, la.setup.timezone)
    runs = [runner.run_backtest(a.setup_id, a.symbol, lo, hi, version=v, charts=False, html=False)
            for v in (a.version_a, a.version_b)]
    sa, sb = (stats_dict(r.result.stats) for r in runs)
    va, vb = f"v{diff.a}", f"v{diff.b}"
    currency = la.setup.risk.currency
    table = compare_table(sa, sb, va, vb, currency, title=f"{a.setup_id}: {va} vs {vb} on {a.symbol}, {lo} → {hi}")
    changes = [[k, short_text(x), short_text(y)] for k, (x, y) in diff.changes.items()]
    summary = (f"{a.setup_id} on {a.symbol}, {lo} → {hi}: {va} {stats_line(sa)} (run {runs[0].run_id}); "
               f"{vb} {stats_line(sb)} (run {runs[1].run_id}); {len(diff.changes)} rule fields differ.")
    data = {"setup_id": a.setup_id, "version_a": diff.a, "version_b": diff.b, "symbol": a.symbol, "period": [lo, hi],
            "run_a": runs[0].run_id, "run_b": runs[1].run_id,
            "hash_a": runs[0].result.setup.content_hash[:12], "hash_b": runs[1].result.setup.content_hash[:12],
            "stats_a": sa, "stats_b": sb, "currency": currency,
            "changes": {k: [short_text(x, 200), short_text(y, 200)] for k, (x, y) in diff.changes.items()}}
    return ToolResult(tool="compare_versions", summary=summary, data=data,
                      tables={"compare": table,
                              "changes": Table(columns=["field", va, vb], rows=changes, title="What changed")},
                      context={"setup_id": a.setup_id, "version": diff.b, "symbol": a.symbol, "start": lo, "end": hi,
                               "run_id": runs[1].run_id})


@tool(ListRunsArgs)
def list_runs(a: ListRunsArgs) -> ToolResult:
    """List the latest stored backtest runs with setup version, symbol, period and headline statistics."""
    from ita.store import RunStore

    df = latest_runs(RunStore(), a.limit)
    runs, rows = [], []
    for r in df.to_dict("records") if not df.empty else []:
        wr = as_float(r.get("winrate"))
        item = {"run_id": r["run_id"], "created_at": r["created_at"], "setup_id": r["setup_id"],
                "version": r["setup_version"], "symbol": r["symbol"], "start": r["start"], "end": r["end"],
                "trades": r["trades_count"], "win_rate_pct": None if wr is None else round(wr * 100, 2),
                "total_r": as_float(r.get("total_r")), "profit_factor": jsonable(as_float(r.get("profit_factor"))),
                "overrides": r.get("overrides") if r.get("overrides") not in (None, "{}") else None,
                "session": r.get("session_filter") or None}
        runs.append(item)
        rows.append([r["run_id"], f"{r['setup_id']} v{r['setup_version']}", r["symbol"], f"{r['start']} → {r['end']}",
                     int(r["trades_count"]), fmt_pct(None if wr is None else wr * 100), fmt_r(r.get("total_r")),
                     fmt_num(r.get("profit_factor"), 2)])
    summary = (f"{len(runs)} latest runs; newest {runs[0]['run_id']}." if runs else "No backtest runs are stored yet.")
    tables = {"runs": Table(columns=["run", "setup", "symbol", "period", "trades", "win rate", "total R", "PF"],
                            rows=rows, title="Backtest runs")}
    portfolios, prow = _portfolio_runs(a.limit)
    if portfolios:
        summary += (f" {len(portfolios)} portfolio runs (`ita backtest --portfolio`); newest {portfolios[0]['run_id']} — "
                    "Monte Carlo and challenge odds take their ids too.")
        tables["portfolio_runs"] = Table(columns=["run", "setups", "symbols", "period", "trades", "blocked", "total R",
                                                  "PF", "max DD"], rows=prow, title="Portfolio runs (under the governor)")
    return ToolResult(tool="list_runs", summary=summary, data={"runs": runs, "portfolio_runs": portfolios},
                      tables=tables)


def _portfolio_runs(limit: int) -> tuple[list[dict], list[list]]:
    """The latest portfolio runs as JSON-able dicts and table rows (none stored: two empty lists)."""
    from ita.store.portfolio import PortfolioStore

    df = PortfolioStore().runs(limit)
    items, rows = [], []
    for r in df.to_dict("records") if not df.empty else []:
        item = {"run_id": r["run_id"], "created_at": r["created_at"], "setups": r["setups"], "symbols": r["symbols"],
                "start": r["start"], "end": r["end"], "trades": int(r["trades_count"]), "blocked": int(r["blocked"]),
                "total_r": as_float(r.get("total_r")), "profit_factor": jsonable(as_float(r.get("profit_factor"))),
                "max_drawdown_r": as_float(r.get("max_drawdown_r"))}
        items.append(item)
        rows.append([r["run_id"], r["setups"], r["symbols"], f"{r['start']} → {r['end']}", item["trades"],
                     item["blocked"], fmt_r(r.get("total_r")), fmt_num(r.get("profit_factor"), 2),
                     fmt_r(r.get("max_drawdown_r"), signed=False)])
    return items, rows


@tool(ShowRunArgs)
def show_run(a: ShowRunArgs) -> ToolResult:
    """One stored backtest run: setup version and hash, period, statistics, the by-month table, a random sample of
    trades (entry / exit time and price, R) to check against its trades.csv, and its files."""
    import random
    from pathlib import Path

    import pandas as pd

    from ita.data.instruments import get_instrument
    from ita.format import fmt_money, fmt_price
    from ita.store import RunStore
    from ita.times import ny_text
    from ita.tools.access import no_runs_error, setup_currency
    from ita.tools.format import stats_table

    store = RunStore()
    if a.run_id is None:
        latest = latest_runs(store, 1)
        if latest.empty:
            raise no_runs_error()
        run_id = str(latest.iloc[0]["run_id"])
    else:
        run_id = a.run_id
    if run_id.startswith("pf_"):
        from ita.store.portfolio import PortfolioStore

        pr = PortfolioStore().get(run_id)  # an unknown id: ItaError with the closest ids
        raise ItaError(f"{run_id} is a portfolio run ({pr['setups']} on {pr['symbols']}): its statistics are in "
                       f"`ita runs show {run_id}` and its files in {pr['run_dir']}; here I can run its Monte Carlo or "
                       "its prop-challenge odds — ask for those with its id.")
    try:
        run = store.get_run(run_id)
    except ItaError as exc:
        raise run_error(exc) from None
    folder = Path(run.get("run_dir") or "")
    if not (folder / "trades.csv").is_file():
        raise ItaError(f"Run {run_id}: its folder {folder} has no trades.csv any more (moved or deleted?).")
    stats = run.get("stats") or {}
    currency = setup_currency(run["setup_id"], run["setup_version"])
    digits = get_instrument(run["symbol"]).digits
    trades = pd.read_csv(folder / "trades.csv")
    numbers = sorted(random.Random(run_id).sample(list(trades["trade"]), min(a.sample, len(trades))))
    picked = trades.set_index("trade").loc[numbers].reset_index() if numbers else trades.iloc[0:0]
    sample_rows, sample = [], []
    for t in picked.to_dict("records"):
        sample.append({k: jsonable(t[k]) for k in ("trade", "direction", "entry_time", "entry_price", "exit_time",
                                                   "exit_price", "r", "exit_reason")})
        sample_rows.append([int(t["trade"]), t["direction"], ny_text(t["entry_time"]), fmt_price(t["entry_price"], digits),
                            ny_text(t["exit_time"]), fmt_price(t["exit_price"], digits), fmt_r(t["r"]), t["exit_reason"]])
    month_rows = []
    by_month = folder / "by_month.csv"
    if by_month.is_file():
        for r in pd.read_csv(by_month).to_dict("records"):
            month_rows.append([str(r.get("month")), int(r["trades"]), int(r["wins"]), fmt_pct(r["win_rate_pct"]),
                               fmt_r(r["total_r"]), fmt_money(r["net_profit"], currency)])
    artifacts = [Artifact(kind="image" if n.endswith(".png") else "file", path=str(folder / n), name=n, caption=c)
                 for n, c in (("equity.png", "Equity in R with drawdown"), ("trades.csv", "All trades (times UTC)"),
                              ("report.html", "Interactive report")) if (folder / n).is_file()]
    label = f"{run['setup_id']} v{run['setup_version']}"
    from ita.backtest.runner import data_changed

    changed = data_changed(run)  # were the stored candles replaced or restored since? (issue 18)
    summary = (f"Run {run_id}: {label} ({str(run.get('setup_hash') or '')[:12]}) on {run['symbol']}, {run['start']} → "
               f"{run['end']}: {stats_line(stats)}; {len(sample)} trades sampled of {len(trades)}."
               + (f" Note: {changed}." if changed else ""))
    data = {"run_id": run_id, "setup_id": run["setup_id"], "version": run["setup_version"],
            "setup_hash": run.get("setup_hash"), "symbol": run["symbol"], "period": [run["start"], run["end"]],
            "stats": stats, "currency": currency, "run_dir": str(folder), "trades": int(len(trades)),
            "digits": digits, "sample": sample, "overrides": run.get("overrides") or None,
            "spread": run.get("spread"), "data_fingerprint": run.get("data_fingerprint"), "data_changed": changed,
            "by_month": [dict(zip(["month", "trades", "wins", "win_rate", "total_r", "net_profit"], r)) for r in month_rows]}
    return ToolResult(tool="show_run", summary=summary, data=data, artifacts=artifacts,
                      tables={"stats": stats_table(stats, currency),
                              "by_month": Table(columns=["month", "trades", "wins", "win rate", "total R", "net profit"],
                                                rows=month_rows, title="By month (entry month, UTC)"),
                              "sample": Table(columns=["trade", "dir", "entry (NY)", "entry", "exit (NY)", "exit", "R",
                                                       "exit reason"], rows=sample_rows,
                                              title=f"{len(sample_rows)} random trades (seed: the run id)")},
                      context={"run_id": run_id, "setup_id": run["setup_id"], "version": run["setup_version"],
                               "symbol": run["symbol"]})
