"""Live-journal tools: ``live_signals`` (the latest journaled signals), ``live_performance`` (what the alerts
did, by day / week / month, by setup and symbol with the backtest of the same period beside them, or by exit
reason) and ``live_status`` (the live loop's health, the numbers of its Prometheus metrics).

They read the live journal (:class:`ita.live.journal.Journal`, run ``live`` or a replay's run id); outcomes
come from the backtest's simulator over the stored candles (:mod:`ita.live.outcomes`). Times shown are New
York; R per trade in risk units. Telegram's ``/signals``, ``/daily``, ``/weekly``, ``/monthly``,
``/performance``, ``/stats``, ``/status`` and the weekly / monthly reports format these results.
"""
from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from ita.errors import ItaError
from ita.format import DASH, fmt_duration, fmt_num, fmt_pct, fmt_price, fmt_r
from ita.times import NY, today_ny
from ita.tools.access import candle_store
from ita.tools.registry import END_DESC, SETUP_DESC, START_DESC, SYMBOL_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Table, ToolResult

log = logging.getLogger(__name__)
RUN_DESC = "Journal run: None = the live journal, 'replay' = the latest replay, or a replay's run id."
#: the default window of each bucket before the end day, as ``pandas.DateOffset`` keywords
WINDOW = {"day": {"days": 6}, "week": {"days": 8 * 7 - 1}, "month": {"months": 6, "days": -1}}


class LiveSignalsArgs(ToolArgs):
    limit: int = Field(10, ge=1, le=100, description="How many of the latest signals.", examples=[10])
    run: str | None = Field(None, description=RUN_DESC, examples=[None])


class LivePerformanceArgs(ToolArgs):
    period: Literal["day", "week", "month", "all"] = Field(
        "week", description="Buckets: day, week (ISO, New York), month, or all.", examples=["week"])
    by: Literal["period", "setup", "exit"] = Field(
        "period", description="Rows per period bucket, per setup and symbol (with the same period's backtest), "
                              "or per exit reason.", examples=["setup"])
    start: str | None = Field(None, description=START_DESC + " Default: the last 7 days / 8 weeks / 6 months, "
                                                             "not before the journal's first signal.",
                              examples=["2025-03-03"])
    end: str | None = Field(None, description=END_DESC + " Default: today (a replay: its last signal day).",
                            examples=["2025-03-09"])
    setup_id: str | None = Field(None, description=SETUP_DESC + " Default: every setup.", examples=["asia_fvg_break"])
    symbol: str | None = Field(None, description=SYMBOL_DESC + " Default: every symbol.", examples=["EURUSD"])
    run: str | None = Field(None, description=RUN_DESC, examples=[None])


class LiveStatusArgs(ToolArgs):
    url: str | None = Field("http://127.0.0.1:9108/metrics",
                            description="Metrics endpoint of a running `ita live start --metrics-port`; None = the "
                                        "journal only.", examples=["http://127.0.0.1:9108/metrics"])
    run: str | None = Field(None, description=RUN_DESC, examples=[None])


def journal_run(run: str | None):
    """``(Journal, run id)``: None → ``live``; ``replay`` → the latest replay. Raises :class:`ItaError`."""
    from ita.live.journal import LIVE, Journal

    j = Journal()
    if run in (None, "", LIVE):
        return j, LIVE
    if run == "replay":
        runs = j.runs()
        rep = runs[runs["run"].str.startswith("replay_")] if len(runs) else runs
        if rep.empty:
            raise ItaError("No replay in the journal yet: `ita live replay EURUSD --from 2025-03-03 --to 2025-03-07`.")
        return j, str(rep.iloc[0]["run"])
    return j, run


@tool(LiveSignalsArgs)
def live_signals(a: LiveSignalsArgs) -> ToolResult:
    """The latest signals of the live journal: time (New York), setup version, direction, entry/SL/TP, score,
    decision, deliveries and the trader's feedback."""
    import pandas as pd

    from ita.data.instruments import get_instrument

    j, run = journal_run(a.run)
    df = j.signals(run, a.limit)
    rows, items = [], []
    for s in df.to_dict("records") if len(df) else []:
        fb = j.feedback_of(run, s["signal_id"])
        d = get_instrument(s["symbol"]).digits
        rows.append([pd.Timestamp(s["known_at"]).tz_convert(NY).strftime("%a %d %b %H:%M"), s["symbol"],
                     f"{s['setup_id']} v{s['version']}", s["direction"], fmt_price(s["entry_price"], d),
                     fmt_price(s["sl_price"], d), fmt_price(s["tp_price"], d), fmt_num(s["score"], 2), s["decision"],
                     " ".join(v for v in fb.values() if v) or DASH])
        items.append({k: jsonable(s.get(k)) for k in ("signal_id", "known_at", "symbol", "setup_id", "version",
                                                      "direction", "entry_price", "sl_price", "tp_price", "score",
                                                      "decision", "delivered")} | {"feedback": fb})
    summary = (f"The {len(rows)} latest signals of {run}; newest {items[0]['signal_id']}." if rows
               else f"No signals journaled for {run} yet.")
    return ToolResult(tool="live_signals", summary=summary, data={"run": run, "signals": items},
                      tables={"signals": Table(columns=["time (NY)", "symbol", "setup", "dir", "entry", "SL", "TP",
                                                        "score", "decision", "feedback"], rows=rows,
                                               title=f"Latest signals · {run}")})


def _window(a: LivePerformanceArgs, sig: pd.DataFrame, run: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    import pandas as pd

    if a.end:
        hi = pd.Timestamp(a.end)
    elif run != "live" and len(sig):
        hi = pd.Timestamp(sig["known_at"].max()).tz_convert(NY).tz_localize(None).normalize()
    else:
        hi = pd.Timestamp(today_ny())
    first = pd.Timestamp(sig["day"].min()) if len(sig) else hi
    if a.start:
        lo = pd.Timestamp(a.start)
    elif a.period == "all":
        lo = first
    else:  # never before the journal's first signal: the backtest beside it covers what the loop watched
        lo = max(hi - pd.DateOffset(**WINDOW[a.period]), min(first, hi))
    return lo, hi


def _summary_row(g: pd.DataFrame) -> dict:
    alerts = g[g["decision"] == "alert"]
    filled = alerts[alerts["outcome"].isin(["win", "loss", "flat"])]
    taken = filled[filled["taken"] == "taken"]
    wins = int((filled["outcome"] == "win").sum())
    return {"signals": len(g), "alerts": len(alerts), "taken": int((alerts["taken"] == "taken").sum()),
            "skipped": int((alerts["taken"] == "skipped").sum()), "trades": len(filled), "wins": wins,
            "win_rate_pct": 100.0 * wins / len(filled) if len(filled) else None,
            "total_r": float(filled["r"].sum()) if len(filled) else 0.0,
            "taken_r": float(taken["r"].sum()) if len(taken) else 0.0,
            "open": int((alerts["outcome"] == "open").sum()), "not_filled": int((alerts["outcome"] == "not filled").sum())}


def _cells(s: dict) -> list:
    return [s["signals"], s["alerts"], s["taken"], s["skipped"], s["trades"], s["wins"], fmt_pct(s["win_rate_pct"]),
            fmt_r(s["total_r"]), fmt_r(s["taken_r"])]


COLS = ["signals", "alerts", "taken", "skipped", "trades", "wins", "win rate", "total R", "R taken"]


@tool(LivePerformanceArgs)
def live_performance(a: LivePerformanceArgs) -> ToolResult:
    """What the live alerts did: signals, alerts, taken / skipped, trades, wins, win rate and R — by day, week or
    month; by setup and symbol with the backtest of the same period; or by exit reason."""
    import pandas as pd

    from ita.live.outcomes import period_backtest, period_key, signal_outcomes

    j, run = journal_run(a.run)
    sig = j.signals(run)
    lo, hi = _window(a, sig, run)
    if len(sig):
        day = pd.to_datetime(sig["day"])
        sig = sig[(day >= lo) & (day <= hi)]
        if a.setup_id:
            sig = sig[sig["setup_id"] == a.setup_id]
        if a.symbol:
            sig = sig[sig["symbol"] == a.symbol]
    period = f"{lo:%Y-%m-%d} → {hi:%Y-%m-%d}"
    if sig.empty:
        return ToolResult(tool="live_performance", summary=f"No signals in {run} for {period}.",
                          data={"run": run, "period": [f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}"], "rows": []},
                          tables={"performance": Table(columns=["period"] + COLS, rows=[])})
    store = candle_store(a.symbol)
    sig = signal_outcomes(sig.reset_index(drop=True), store)
    sig["taken"] = [j.feedback_of(run, sid)["taken"] for sid in sig["signal_id"]]
    rows, items = [], []
    if a.by == "period":
        sig["bucket"] = [period_key(t, a.period) for t in sig["known_at"]]
        cols = [a.period] + COLS
        for key, g in sorted(sig.groupby("bucket"), key=lambda kv: kv[0], reverse=True):
            s = _summary_row(g)
            rows.append([key, *_cells(s)])
            items.append({"period": key, **s})
    elif a.by == "setup":
        cols = ["setup", "symbol"] + COLS + ["BT trades", "BT win rate", "BT R"]
        for (sid, ver, sym), g in sig.groupby(["setup_id", "version", "symbol"]):
            s = _summary_row(g)
            res = period_backtest(store, sid, int(ver), sym, lo, hi)
            st = res.stats if res is not None else {}
            bt = {"trades": int(st.get("Trades", 0) or 0), "win_rate_pct": st.get("Win Rate [%]"),
                  "total_r": float(st.get("Total R", 0.0) or 0.0)} if res is not None else None
            rows.append([f"{sid} v{ver}", sym, *_cells(s), *([bt["trades"], fmt_pct(bt["win_rate_pct"]),
                                                              fmt_r(bt["total_r"])] if bt else [DASH] * 3)])
            items.append({"setup_id": sid, "version": int(ver), "symbol": sym, **s, "backtest": jsonable(bt)})
    else:
        cols = ["exit", "alerts", "avg R", "total R", "avg held"]
        alerts = sig[sig["decision"] == "alert"].copy()
        alerts["exit"] = alerts["exit_reason"].fillna(alerts["outcome"])
        for key, g in alerts.groupby("exit"):
            held = (pd.to_datetime(g["exit_time"], utc=True) - pd.to_datetime(g["known_at"], utc=True)).dropna()
            rows.append([key, len(g), fmt_r(g["r"].mean()), fmt_r(g["r"].sum()),
                         DASH if held.empty else fmt_duration(held.mean())])
            items.append({"exit": key, "alerts": len(g), "avg_r": jsonable(g["r"].mean()), "total_r": jsonable(g["r"].sum())})
    total = _summary_row(sig)
    summary = (f"{run}, {period}: {total['signals']} signals, {total['alerts']} alerts ({total['taken']} taken, "
               f"{total['skipped']} skipped), {total['trades']} trades, win rate {fmt_pct(total['win_rate_pct'])}, "
               f"{fmt_r(total['total_r'])}" + (f"; {total['open']} still open" if total["open"] else "") + ".")
    title = {"period": f"Live alerts by {a.period}", "setup": "Live alerts vs the backtest of the same period",
             "exit": "Live alerts by exit"}[a.by] + f" · {run} · {period}"
    return ToolResult(tool="live_performance", summary=summary,
                      data={"run": run, "period": [f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}"], "total": total, "rows": items},
                      tables={"performance": Table(columns=cols, rows=rows, title=title)})


@tool(LiveStatusArgs)
def live_status(a: LiveStatusArgs) -> ToolResult:
    """The live loop's health — feed lag and last run per symbol, signals by decision, deliveries and latency per
    channel, the outbox — from its Prometheus metrics (or the journal when no service answers)."""
    import time

    from ita.live.metrics import read_status

    j, run = journal_run(a.run)
    st = read_status(a.url if run == "live" else None, journal=j, run=run)
    now = time.time()
    feed = [[sym, tf, _dur(st.feed_lag.get((sym, tf))), _dur(now - ts) + " ago", st.errors.get(sym, 0)]
            for (sym, tf), ts in sorted(st.last_tick.items())]
    channels = sorted({c for c, _ in st.deliveries})
    dl = [[ch, *(st.deliveries.get((ch, s), 0) for s in ("sent", "pending", "failed")),
           _sec((st.latency.get(ch) or {}).get("p50")), _sec((st.latency.get(ch) or {}).get("p95"))] for ch in channels]
    n = sum(st.decisions.values())
    state = f"running ({st.source})" if st.running else f"not answering; journal of {run}"
    summary = (f"Live loop {state}: {n} signals (" + (", ".join(f"{v} {k.replace('_', ' ')}" for k, v in
                                                                  sorted(st.decisions.items())) or "none") +
               f"), outbox {st.outbox}" + (f", worst feed lag {max(st.feed_lag.values()):.0f} s" if st.feed_lag else "")
               + ".")
    data = {"running": st.running, "source": st.source, "run": run, "decisions": st.decisions, "outbox": st.outbox,
            "deliveries": {f"{c}:{s}": n for (c, s), n in st.deliveries.items()}, "latency": jsonable(st.latency),
            "feed_lag": {f"{s}:{t}": v for (s, t), v in st.feed_lag.items()}, "feedback": st.feedback}
    tables = {"deliveries": Table(columns=["channel", "sent", "pending", "failed", "p50", "p95"], rows=dl,
                                  title="Deliveries · latency candle close → delivered")}
    if feed:
        tables = {"feed": Table(columns=["symbol", "tf", "feed lag", "last run", "errors"], rows=feed,
                                title="Feed"), **tables}
    return ToolResult(tool="live_status", summary=summary, data=data, tables=tables)


def _sec(v) -> str:
    return DASH if v is None else f"{v:.2f} s"


def _dur(s) -> str:
    if s is None:
        return DASH
    s = max(float(s), 0.0)
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"
