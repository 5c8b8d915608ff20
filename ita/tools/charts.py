"""Chart tools: ``show_trade`` (one trade of a run with its annotated chart) and ``render_chart`` (any moment
of any symbol, optionally with a setup's detectors drawn on it). Times are New York wall-clock.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from ita.errors import DataError, ItaError
from ita.format import as_float, fmt_int, fmt_money, fmt_num, fmt_price, fmt_r
from ita.times import day_text as _day
from ita.times import iso as _iso
from ita.times import ny_text as _ny
from ita.tools.access import (
    candle_store,
    charts_dir,
    instrument_of,
    latest_runs,
    no_runs_error,
    run_error,
    save_chart_png,
    setup_currency,
    stored_coverage,
)
from ita.tools.detectors import event_span
from ita.tools.registry import SYMBOL_DESC, ToolArgs, jsonable, one_line, parse_time, tool
from ita.tools.results import Artifact, Table, ToolResult

if TYPE_CHECKING:  # pandas/numpy are imported where used: the tool registry loads without them
    import pandas as pd

log = logging.getLogger(__name__)


class ShowTradeArgs(ToolArgs):
    trade: int = Field(ge=1, description="Trade number in the run (the # column), from 1.", examples=[12])
    run_id: str | None = Field(None, description="Run id, e.g. bt_20250101_120000_abc123 (default: the latest run).",
                               examples=["bt_20250101_120000_abc123"])
    chart: bool = Field(True, description="Show the annotated trade chart (PNG).")

    @field_validator("trade", mode="before")
    @classmethod
    def _trade(cls, v):
        return v.strip().lstrip("#").strip() if isinstance(v, str) else v


class RenderChartArgs(ToolArgs):
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    time: str = Field(description="Centre of the chart, 'YYYY-MM-DD HH:MM' New York time unless it carries an offset "
                                  "(e.g. '2025-03-12T12:30:00Z'); a bare date means 08:00 New York.",
                      examples=["2025-03-12 08:30"])
    timeframe: str = Field("M5", description="Bar size: M5, M15, H1 …", examples=["M5"])
    setup_id: str | None = Field(None, description="Draw this setup's detector events too, e.g. asia_fvg_break.",
                                 examples=["asia_fvg_break"])
    bars_before: int = Field(60, ge=1, le=1000, description="Bars before the time.")
    bars_after: int = Field(30, ge=0, le=1000, description="Bars after the time.")

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, v):
        parse_time(v)
        return str(v).strip()


@tool(ShowTradeArgs)
def show_trade(a: ShowTradeArgs) -> ToolResult:
    """Show one trade of a stored backtest run (default: the latest run): entry, stop, target, exit, result in R,
    and its annotated chart."""
    from ita.store import RunStore

    store = RunStore()
    run_id = a.run_id
    if run_id is None:
        latest = latest_runs(store, 1)
        if latest.empty:
            raise no_runs_error()
        run_id = str(latest.iloc[0]["run_id"])
    try:
        row = store.get_run(run_id)
    except ItaError as exc:
        raise run_error(exc) from None
    trades = store.trades(run_id)
    n = len(trades)
    if n == 0:
        raise ItaError(f"Run {run_id} has no trades, so there is no trade {a.trade}.")
    hit = trades[trades["trade"] == a.trade]
    if hit.empty:
        lo, hi = int(trades["trade"].min()), int(trades["trade"].max())
        raise ItaError(f"Run {run_id} has {n} trades; there is no trade {a.trade} (choose {lo}–{hi}).")
    t = hit.iloc[0].to_dict()
    inst = instrument_of(row["symbol"])
    d = inst.digits
    currency = setup_currency(row["setup_id"], row["setup_version"])
    r_val = as_float(t.get("r"))
    fields = [
        ("direction", t.get("direction")),
        ("trading day", _day(t.get("day"))),
        ("entry (NY)", f"{_ny(t.get('entry_time'))} @ {fmt_price(t.get('entry_price'), d)}"),
        ("stop loss", fmt_price(t.get("sl_price"), d)),
        ("take profit", fmt_price(t.get("tp_price"), d)),
        ("risk", f"{fmt_num(t.get('risk_pips'), 1)} pips"),
        ("exit (NY)", f"{_ny(t.get('exit_time'))} @ {fmt_price(t.get('exit_price'), d)}"),
        ("exit reason", t.get("exit_reason")),
        ("result", fmt_r(r_val)),
        ("profit", fmt_money(t.get("pnl"), currency)),
        ("bars held", fmt_int(t.get("bars_held"))),
        ("MAE / MFE", f"{fmt_r(t.get('mae_r'))} / {fmt_r(t.get('mfe_r'))}"),
    ]
    artifacts, warnings = [], []
    if a.chart:
        path, warn = _trade_png(row, t, inst)
        if path:
            artifacts.append(Artifact(kind="image", path=str(path), name=path.name,
                                      caption=f"Trade {a.trade} · {row['setup_id']} v{row['setup_version']} · {row['symbol']}"))
        if warn:
            warnings.append(warn)
    trade_data = {k: jsonable(v) for k, v in t.items() if k not in ("run_id", "setup_hash")}
    summary = (f"Trade {a.trade} of {n} in run {run_id} ({row['setup_id']} v{row['setup_version']}, {row['symbol']}): "
               f"{t.get('direction')} {_ny(t.get('entry_time'))} NY at {fmt_price(t.get('entry_price'), d)}, SL "
               f"{fmt_price(t.get('sl_price'), d)}, TP {fmt_price(t.get('tp_price'), d)}; exit {t.get('exit_reason')} "
               f"{_ny(t.get('exit_time'))} at {fmt_price(t.get('exit_price'), d)}, {fmt_r(r_val)}.")
    data = {"run_id": run_id, "trade": a.trade, "trades": n, "setup_id": row["setup_id"],
            "version": row["setup_version"], "setup_hash": row["setup_hash"], "symbol": row["symbol"],
            "period": [row["start"], row["end"]], "currency": currency, "digits": d, "row": trade_data,
            "warnings": warnings}
    return ToolResult(tool="show_trade", summary=summary, data=data,
                      tables={"trade": Table(columns=["field", "value"], rows=[[k, v] for k, v in fields],
                                             title=f"Trade {a.trade}")},
                      artifacts=artifacts,
                      context={"run_id": run_id, "trade": a.trade, "setup_id": row["setup_id"],
                               "version": row["setup_version"], "symbol": row["symbol"]})


def _trade_png(run: dict, t: dict, inst) -> tuple[Path | None, str | None]:
    """The trade's PNG: the run's own sample if written, else a cached or freshly rendered chart."""
    import pandas as pd

    from ita.charts.figures import trade_figure
    from ita.store import RunStore

    n = int(t["trade"])
    name = f"trade_{n:03d}.png"
    own = Path(run["run_dir"]) / name
    if own.is_file():
        return own, None
    cached = charts_dir() / run["run_id"] / name
    if cached.is_file():
        return cached, None
    sig = {}
    db = RunStore().db
    if db["signals"].exists():
        got = list(db.query("select * from signals where run_id = ? and signal_id = ?", [run["run_id"], t["signal_id"]]))
        sig = dict(got[0]) if got else {}
    entry = pd.Timestamp(t["entry_time"])
    exit_ = pd.Timestamp(t["exit_time"])
    try:
        candles = candle_store(run["symbol"]).load(run["symbol"], run.get("timeframe") or "M5",
                                             entry - pd.Timedelta(days=3), exit_ + pd.Timedelta(days=1))
    except ItaError as exc:
        return None, f"Trade chart skipped: {one_line(str(exc))}"
    title = f"{run['setup_id']} v{run['setup_version']} · {run['symbol']} · trade {n}"
    fig = trade_figure(candles, t, sig, title, inst.pip_size)
    return save_chart_png(fig, cached, width=1400, height=800)


@tool(RenderChartArgs)
def render_chart(a: RenderChartArgs) -> ToolResult:
    """Render a candle chart around a time (New York), optionally with a setup's detector events (sessions, FVGs,
    structure …) drawn on it."""
    import pandas as pd

    from ita.charts.detectors import detector_figure
    from ita.data.timeframes import tf_delta

    inst = instrument_of(a.symbol)
    store = candle_store(a.symbol)
    t = parse_time(a.time)
    step = tf_delta(a.timeframe)
    pad = pd.Timedelta(days=5)
    lo_load = t - a.bars_before * step - pad
    hi_load = t + (a.bars_after + 1) * step + pad
    loaded = None
    if a.setup_id:
        from ita.setups.loader import load_setup

        loaded = load_setup(a.setup_id)
        lo_load = min(lo_load, t - pd.Timedelta(days=10))
    try:
        candles = store.load(a.symbol, a.timeframe, lo_load, hi_load)
    except DataError:
        candles = pd.DataFrame()
    pos = int(candles.index.searchsorted(t, "right")) - 1 if len(candles) else -1
    if pos < 0 or len(candles) == 0 or t - candles.index[pos] > pd.Timedelta(days=4):
        first, last = stored_coverage(store, a.symbol)
        raise DataError(f"No {a.symbol} {a.timeframe} bars around {a.time} NY; stored {_ny(first)} → {_ny(last)} NY.")
    i0, i1 = max(0, pos - a.bars_before), min(len(candles) - 1, pos + a.bars_after)
    w0, w1 = candles.index[i0], candles.index[i1]
    bar = candles.iloc[pos]
    d = inst.digits
    layers: list[tuple[str, pd.DataFrame]] = []
    counts: dict[str, int] = {}
    if loaded is not None:
        from ita.setups import run_detectors

        exec_c = candles if loaded.setup.timeframe == a.timeframe else store.load(
            a.symbol, loaded.setup.timeframe, lo_load, hi_load)
        outs = run_detectors(loaded, exec_c, a.symbol)
        for name, det in loaded.setup.detectors.items():
            ev = outs[name]
            kind = _setup_chart_kind(det)
            if kind is None:
                continue
            if kind == "atr":
                continue  # a lower panel per chart: left out of the combined view
            ev = ev.drop(columns=["known_bar"], errors="ignore")
            layers.append((kind, ev, _focus_near(kind, ev, t, step)))
            known = event_span(ev)[1] if len(ev) else pd.Series(dtype="datetime64[ns, UTC]")
            since = w0 - pd.Timedelta(hours=24) if kind in _LEVEL_KINDS else w0  # levels stay in view for a day
            counts[name] = int(((known >= since) & (known <= w1 + step)).sum()) if len(ev) else 0
    title = f"{a.symbol} {a.timeframe} · {_ny(t)} NY" + (f" · {loaded.label}" if loaded is not None else "")
    fig = _combined_figure(candles, layers, w0, w1 + step, title, inst.pip_size, t, detector_figure)
    out = charts_dir() / f"chart_{a.symbol}_{a.timeframe}_{_ny(t, '%Y%m%d_%H%M')}" \
                          f"{'_' + loaded.id if loaded is not None else ''}.png"
    path, warn = save_chart_png(fig, out)
    artifacts = [Artifact(kind="image", path=str(path), name=path.name, caption=title)] if path else []
    data = {"symbol": a.symbol, "timeframe": a.timeframe, "time": _iso(t), "time_ny": _ny(t),
            "bar": {"time": _iso(candles.index[pos]), "open": float(bar["open"]), "high": float(bar["high"]),
                    "low": float(bar["low"]), "close": float(bar["close"])},
            "window": [_iso(w0), _iso(w1)], "bars": int(i1 - i0 + 1), "setup_id": loaded.id if loaded else None,
            "events_in_window": counts, "warnings": [warn] if warn else []}
    rows = [["bar (NY)", _ny(candles.index[pos])], ["open", fmt_price(bar["open"], d)], ["high", fmt_price(bar["high"], d)],
            ["low", fmt_price(bar["low"], d)], ["close", fmt_price(bar["close"], d)],
            ["window (NY)", f"{_ny(w0)} → {_ny(w1)}"]]
    rows += [[f"{name} events", c] for name, c in counts.items()]
    summary = (f"{a.symbol} {a.timeframe} chart {_ny(w0)} → {_ny(w1)} NY around {_ny(t)}"
               + (f" with {loaded.label}'s detectors ({', '.join(f'{k} {v}' for k, v in counts.items())})" if loaded else "")
               + f"; bar at {_ny(candles.index[pos], '%H:%M')}: O {fmt_price(bar['open'], d)} H {fmt_price(bar['high'], d)} "
               f"L {fmt_price(bar['low'], d)} C {fmt_price(bar['close'], d)}.")
    ctx = {"symbol": a.symbol, "time": a.time, "timeframe": a.timeframe}
    if loaded is not None:
        ctx.update(setup_id=loaded.id, version=loaded.version)
    return ToolResult(tool="render_chart", summary=summary, data=data,
                      tables={"chart": Table(columns=["field", "value"], rows=rows)}, artifacts=artifacts, context=ctx)


def _setup_chart_kind(det) -> str | None:
    from ita.setups import schema as S

    for cls, kind in (("SessionRangeDetector", "session_range"), ("InitialBalanceDetector", "initial_balance"),
                      ("FVGDetector", "fvg"), ("SwingsDetector", "swings"), ("StructureDetector", "structure_breaks"),
                      ("OrderBlockDetector", "order_blocks"), ("PreviousLevelsDetector", "previous_period_levels"),
                      ("EqualLevelsDetector", "equal_levels"), ("ATRDetector", "atr")):
        c = getattr(S, cls, None)
        if c is not None and isinstance(det, c):
            return kind
    return None


_LEVEL_KINDS = ("session_range", "initial_balance", "previous_period_levels", "opening_levels")


def _focus_near(kind: str, ev: pd.DataFrame, t: pd.Timestamp, step: pd.Timedelta, near: int = 6) -> list:
    """Events a chart around ``t`` labels: the latest level known by ``t``; other events known within ``near``
    bars of ``t`` (the closest three). Everything else in the window is drawn faint."""
    if len(ev) == 0:
        return []
    start, known = event_span(ev)
    if kind in _LEVEL_KINDS:
        before = known[known <= t + step]
        return [before.index[-1]] if len(before) else []
    dist = (known - t).abs()
    close = dist[dist <= near * step].sort_values(kind="stable")
    return list(close.index[:3])


def _combined_figure(candles, layers, t0, t1, title, pip, mark, detector_figure):
    """One chart with the events of several detectors: the first layer's figure plus the others' drawings."""
    import pandas as pd
    import plotly.graph_objects as go

    from ita.charts import style as S

    if not layers:
        fig = detector_figure(candles, pd.DataFrame(), "swings", t0, t1, title, pip)
    else:
        figs = [detector_figure(candles, ev, kind, t0, t1, title, pip, focus=focus) for kind, ev, focus in layers]
        fig = figs[0]
        y0, y1 = fig.layout.yaxis.range
        for f in figs[1:]:
            fig.add_traces([tr for tr in f.data if tr.type != "candlestick"])
            fig.layout.shapes = tuple(fig.layout.shapes) + tuple(f.layout.shapes)
            fig.layout.annotations = tuple(fig.layout.annotations) + tuple(f.layout.annotations)
            fy0, fy1 = f.layout.yaxis.range
            y0, y1 = min(y0, fy0), max(y1, fy1)
        fig.update_yaxes(range=[y0, y1])
        fig.update_layout(margin=dict(r=150))
    x = S.xstr(S.to_ny(mark))
    fig.add_shape(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                  line=dict(color=S.MUTED, width=1, dash="dash"))
    fig.add_annotation(x=x, xref="x", y=1.0, yref="paper", text=f"{S.to_ny(mark):%H:%M}", showarrow=False,
                       yanchor="bottom", font=dict(size=11, color=S.MUTED))
    return fig if isinstance(fig, go.Figure) else go.Figure(fig)
