"""Backtest tools: ``evaluate_setup`` (signals only), ``run_backtest`` (statistics, by month, trades,
charts, a stored run) and ``explain_day`` (why a trading day did or did not trade, step by step).
"""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ita.errors import ItaError
from ita.format import DASH, as_float, fmt_money, fmt_num, fmt_pct, fmt_price, fmt_r
from ita.times import day_text as _day
from ita.times import ny_text as _ny
from ita.tools.access import candle_store, instrument_of, load_setup_checked, period_warning, trading_period
from ita.tools.format import LAST_N, stats_dict, stats_line, stats_table
from ita.tools.registry import (
    END_DESC,
    PARAMS_DESC,
    SESSION_DESC,
    SETUP_DESC,
    START_DESC,
    SYMBOL_DESC,
    VERSION_DESC,
    ToolArgs,
    jsonable,
    tool,
)
from ita.tools.results import Artifact, Table, ToolResult

if TYPE_CHECKING:  # pandas/numpy are imported where used: the tool registry loads without them
    import pandas as pd

log = logging.getLogger(__name__)


class EvaluateSetupArgs(ToolArgs):
    setup_id: str = Field(description=SETUP_DESC, examples=["asia_fvg_break"])
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description=START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=END_DESC, examples=["2025-12-31"])
    version: int | None = Field(None, description=VERSION_DESC, examples=[1])
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_DESC, examples=[{"rr": 3}])
    session: str | None = Field(None, description=SESSION_DESC, examples=["london_killzone"])


class RunBacktestArgs(EvaluateSetupArgs):
    charts: bool = Field(True, description="Render the equity curve, 3 sample trades (PNG) and the HTML report.")


class ExplainDayArgs(ToolArgs):
    setup_id: str = Field(description=SETUP_DESC, examples=["asia_fvg_break"])
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    day: str = Field(description="The trading day (New York date), YYYY-MM-DD.", examples=["2025-03-14"])
    version: int | None = Field(None, description=VERSION_DESC, examples=[1])


@tool(EvaluateSetupArgs)
def evaluate_setup(a: EvaluateSetupArgs) -> ToolResult:
    """Evaluate a setup on stored candles: how many signals it gives (long/short, filled or not) and the last ones."""
    from ita.backtest.core import backtest
    from ita.backtest.runner import load_period_candles

    loaded = load_setup_checked(a.setup_id, a.version, a.params)
    inst = instrument_of(a.symbol)
    store = candle_store(a.symbol)
    lo, hi = trading_period(store, a.symbol, a.start, a.end, loaded.setup.timezone)
    candles = load_period_candles(store, loaded, a.symbol, lo, hi)
    res = backtest(loaded, candles, a.symbol, start=lo, end=hi, session=a.session)
    sig = res.signals
    d = inst.digits
    n = int(len(sig))
    longs = int((sig["direction"] == "long").sum()) if n else 0
    status = {str(k): int(v) for k, v in sig["status"].value_counts().items()} if n and "status" in sig else {}
    rows = []
    for r in sig.tail(LAST_N).to_dict("records"):
        risk = abs(float(r["entry_price"]) - float(r["sl_price"]))
        rr = abs(float(r["tp_price"]) - float(r["entry_price"])) / risk if risk else float("nan")
        rows.append([_day(r["day"]), _ny(r["known_at"], "%H:%M"), r["direction"], r["entry_type"],
                     fmt_price(r["entry_price"], d), fmt_price(r["sl_price"], d), fmt_price(r["tp_price"], d),
                     fmt_num(rr, 1), r.get("status", DASH)])
    label = loaded.label
    summary = (f"{label} on {a.symbol}, {lo} → {hi}" + (f", only {a.session}" if a.session else "") +
               f": {n} signals ({longs} long, {n - longs} short)" +
               (f"; {status.get('filled', 0)} filled" if status else "") + ".")
    data = {"setup_id": loaded.id, "version": loaded.version, "setup_hash": loaded.content_hash[:12],
            "symbol": a.symbol, "period": [lo, hi], "signals": n, "long": longs, "short": n - longs,
            "status": status, "overrides": jsonable(loaded.overrides), "session": a.session,
            "last_signal": jsonable({k: v for k, v in sig.iloc[-1].items() if k != "meta"}) if n else None,
            "warnings": [w for w in (period_warning(a.symbol, a.start, a.end, lo, hi),) if w]}
    return ToolResult(tool="evaluate_setup", summary=summary, data=data,
                      tables={"signals": Table(columns=["day", "known (NY)", "direction", "entry type", "entry", "SL",
                                                        "TP", "R:R", "order"], rows=rows,
                                               title=f"Last {len(rows)} of {n} signals")},
                      context={"setup_id": loaded.id, "version": loaded.version, "symbol": a.symbol, "start": lo,
                               "end": hi, "params": a.params, "session": a.session})


def _by_month_table(by_month: pd.DataFrame, currency: str) -> Table:
    rows = []
    for m, r in by_month.iterrows():
        rows.append([str(m), int(r["trades"]), int(r["wins"]), int(r["losses"]), fmt_pct(r["win_rate_pct"]),
                     fmt_r(r["total_r"]), fmt_money(r["net_profit"], currency)])
    return Table(columns=["month", "trades", "wins", "losses", "win rate", "total R", "net profit"], rows=rows,
                 title="By month (entry month, UTC)")


@tool(RunBacktestArgs)
def run_backtest(a: RunBacktestArgs) -> ToolResult:
    """Backtest a setup on a symbol and period: statistics, by-month table, equity curve and sample trades (PNG),
    trades CSV and HTML report, stored as a run with the setup's version and hash."""
    from ita.backtest import runner
    from ita.tools.progress import preview, preview_listener

    loaded = load_setup_checked(a.setup_id, a.version, a.params)  # fail fast on a bad setup/override
    store = candle_store(a.symbol)
    lo, hi = trading_period(store, a.symbol, a.start, a.end, loaded.setup.timezone)
    samples = 3
    on_result = None
    if a.charts and preview_listener() is not None:
        def on_result(res) -> None:
            """The statistics exist, the charts do not yet: a face listening shows the text now."""
            picked = [int(t) for t in runner.pick_samples(res.trades, samples)]
            preview(_backtest_result(a, res, lo, hi, res.extra["run_id"], res.extra["run_dir"], {}, [],
                                     rendering={"charts": 1 + len(picked), "html": True, "samples": picked}))

    run = runner.run_backtest(a.setup_id, a.symbol, lo, hi, version=a.version, params=a.params or None,
                              charts=a.charts, html=a.charts, samples=samples, session=a.session, on_result=on_result)
    return _backtest_result(a, run.result, lo, hi, run.run_id, run.run_dir, run.artifacts, run.warnings)


def _backtest_result(a: RunBacktestArgs, res, lo: str, hi: str, run_id: str, run_dir, files: dict, warnings: list,
                     rendering: dict | None = None) -> ToolResult:
    """``run_backtest``'s result from the backtest ``res`` and its run: the complete one (``files`` the run's
    artifacts), or the early one a face shows while the charts render (no files; ``rendering`` says what is
    being drawn: ``{"charts": n, "html": True, "samples": [trade numbers]}``)."""
    ls = res.setup
    currency = ls.setup.risk.currency
    stats = stats_dict(res.stats)
    artifacts: list[Artifact] = []
    names = sorted(files)
    if "equity.png" in files:
        artifacts.append(Artifact(kind="image", path=str(files["equity.png"]), name="equity.png",
                                  caption=f"Equity in R with drawdown · {ls.label} · {a.symbol}"))
    samples = []
    for name in names:
        m = re.fullmatch(r"trade_(\d+)\.png", name)
        if m:
            samples.append(int(m.group(1)))
            artifacts.append(Artifact(kind="image", path=str(files[name]), name=name,
                                      caption=f"Trade {int(m.group(1))} · {ls.label} · {a.symbol}"))
    for name, caption in (("trades.csv", "All trades (times UTC)"), ("report.html", "Interactive report")):
        if name in files:
            artifacts.append(Artifact(kind="file", path=str(files[name]), name=name, caption=caption))
    n = int(as_float(stats.get("Trades")) or 0)
    trade_numbers = [int(t) for t in res.trades["trade"].tolist()] if n else []
    summary = (f"{ls.id} v{ls.version} ({ls.content_hash[:8]}) on {a.symbol}, {lo} → {hi}"
               + (f", only {a.session}" if a.session else "")
               + (f", overrides {ls.overrides}" if ls.overrides else "") + f": {stats_line(stats)}; run {run_id}.")
    data = {
        "run_id": run_id, "setup_id": ls.id, "version": ls.version, "setup_hash": ls.content_hash,
        "symbol": a.symbol, "period": [lo, hi], "stats": stats, "overrides": jsonable(ls.overrides),
        "params": a.params, "session": a.session, "currency": currency, "run_dir": str(run_dir),
        "sample_trades": samples, "trades": n, "first_trade": trade_numbers[0] if n else None,
        "last_trade": trade_numbers[-1] if n else None,
        "warnings": [w for w in (period_warning(a.symbol, a.start, a.end, lo, hi), *warnings) if w],
    }
    if rendering:  # the sample trades being drawn, as the complete result will list them
        data["sample_trades"] = list(rendering.get("samples") or [])
        data["rendering"] = {k: v for k, v in rendering.items() if k != "samples"}
    return ToolResult(tool="run_backtest", summary=summary, data=data,
                      tables={"stats": stats_table(stats, currency),
                              "by_month": _by_month_table(res.by_month, currency)},
                      artifacts=artifacts,
                      context={"setup_id": ls.id, "version": ls.version, "symbol": a.symbol, "start": lo, "end": hi,
                               "params": a.params, "session": a.session, "run_id": run_id})


@tool(ExplainDayArgs)
def explain_day(a: ExplainDayArgs) -> ToolResult:
    """Why a setup did or did not trade on one day: the steps it passed, the step that failed and the reason."""
    import pandas as pd

    from ita.setups import evaluate, explain
    from ita.setups.loader import load_setup

    loaded = load_setup(a.setup_id, a.version)
    inst = instrument_of(a.symbol)
    store = candle_store(a.symbol)
    day = pd.Timestamp(a.day)
    candles = store.load(a.symbol, loaded.setup.timeframe, str((day - pd.Timedelta(days=10)).date()),
                         str((day + pd.Timedelta(days=1)).date()))
    why = explain(loaded, candles, a.symbol)
    row = why[why["day"] == day]
    if row.empty:
        raise ItaError(f"{a.day} ({day:%a}) is not a trading day of {loaded.id} with {a.symbol} data "
                       f"(days: {', '.join(loaded.setup.days)}).")
    r = row.iloc[0]
    tz = loaded.setup.timezone
    n_steps = len(loaded.setup.sequence)
    at = DASH if pd.isna(r["time"]) else r["time"].tz_convert(tz).strftime("%H:%M")
    sig = None
    if r["signal_id"]:
        sigs = evaluate(loaded, candles, a.symbol)
        hit = sigs[sigs["signal_id"] == r["signal_id"]]
        if len(hit):
            s = hit.iloc[0]
            d = inst.digits
            sig = {"signal_id": s["signal_id"], "direction": s["direction"], "entry_type": s["entry_type"],
                   "entry": fmt_price(s["entry_price"], d), "sl": fmt_price(s["sl_price"], d),
                   "tp": fmt_price(s["tp_price"], d), "known_at": _ny(s["known_at"], "%H:%M")}
    result = f"signal {r['signal_id']}" if r["signal_id"] else f"{r['failed_step']}: {r['reason']}"
    rows = [[f"{day:%a %Y-%m-%d}", f"{int(r['passed'])}/{n_steps}", r["direction"] or DASH, at, result]]
    if r["signal_id"]:
        summary = (f"{loaded.label} on {a.symbol}, {day:%a %Y-%m-%d}: signal {r['direction']}"
                   + (f" at {sig['known_at']} NY, entry {sig['entry']}, SL {sig['sl']}, TP {sig['tp']}" if sig else "") + ".")
    else:
        summary = (f"{loaded.label} on {a.symbol}, {day:%a %Y-%m-%d}: no trade; {r['passed']}/{n_steps} steps passed, "
                   f"{r['failed_step']} failed: {r['reason']}.")
    data = {"setup_id": loaded.id, "version": loaded.version, "setup_hash": loaded.content_hash[:12],
            "symbol": a.symbol, "day": a.day, "weekday": f"{day:%a}", "traded": bool(r["signal_id"]),
            "signal_id": r["signal_id"], "direction": r["direction"], "passed": int(r["passed"]), "steps": n_steps,
            "failed_step": r["failed_step"], "reason": r["reason"], "time": at, "signal": sig,
            "sequence": [st.step for st in loaded.setup.sequence]}
    return ToolResult(tool="explain_day", summary=summary, data=data,
                      tables={"day": Table(columns=["day", "steps", "bias", "at (NY)", "result"], rows=rows)},
                      context={"setup_id": loaded.id, "version": loaded.version, "symbol": a.symbol, "day": a.day})
