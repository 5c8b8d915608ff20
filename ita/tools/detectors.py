"""The detector tool ``run_detector``: one ICT/SMC detector over stored candles, the last events as a table
(New York times, prices with the instrument's digits, sizes in pips) and a PNG of the latest few.

Kinds, words, parameters (defaults and allowed values), event-table columns and chart kinds come from the
detector catalogue :mod:`ita.detectors.catalog`; nothing here lists detectors.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from ita.detectors.catalog import KINDS, catalog, detector_params, kind, run
from ita.errors import ItaError
from ita.times import day_text as _day
from ita.tools.access import candle_store, charts_dir, instrument_of, load_bars, save_chart_png
from ita.tools.format import LAST_N, event_cell
from ita.tools.registry import SYMBOL_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Artifact, Table, ToolResult

if TYPE_CHECKING:  # pandas/numpy are imported where used: the tool registry loads without them
    import pandas as pd

log = logging.getLogger(__name__)


DETECTORS = KINDS  # the detector kinds of the catalogue, in its order


def _detector_field_description() -> str:
    return "Detector: " + ", ".join(f"{k} ({e.name})" for k, e in catalog().items()) + "."


class RunDetectorArgs(ToolArgs):
    detector: Literal[DETECTORS] = Field(  # type: ignore[valid-type]
        description=_detector_field_description(),
        examples=["fvg"])
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description="First UTC day, YYYY-MM-DD (default: all stored data).",
                              examples=["2025-03-10"])
    end: str | None = Field(None, description="Last UTC day, inclusive, YYYY-MM-DD (default: all stored data).",
                            examples=["2025-03-14"])
    timeframe: str = Field("M5", description="Bar size the detector reads: M5, M15, H1, H4 …", examples=["M5"])
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "Detector parameters, e.g. fvg {\"min_gap_pips\": 1, \"mitigation\": \"midpoint\"}, swings {\"left\": 3, "
        "\"right\": 3}, session_range {\"session\": \"asia\"}, sweeps {\"of\": \"previous_levels\", \"period\": \"D\"}, "
        "atr {\"period\": 14}."), examples=[{"min_gap_pips": 1.0}])
    chart: bool = Field(True, description="Render a PNG of the last few events.")

    @field_validator("detector", mode="before")
    @classmethod
    def _detector(cls, v):
        try:
            return kind(v).kind
        except ItaError as exc:
            raise ValueError(str(exc)) from None


def _events_table(detector: str, ev: pd.DataFrame, digits: int, pip: float, n: int = LAST_N) -> Table:
    cols = kind(detector).columns
    tail = ev.tail(n).copy()
    if detector in ("session_range", "initial_balance") and len(tail):
        tail["range_pips"] = (tail["high"] - tail["low"]) / pip
    if detector == "atr" and len(tail):
        tail["value_pips"] = tail["value"] / pip
    rows = [[event_cell(r.get(col), kind, digits) for _, col, kind in cols] for r in tail.to_dict("records")]
    return Table(columns=[h for h, _, _ in cols], rows=rows, title=f"Last {len(rows)} of {len(ev):,} events")


def event_span(ev: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Start (UTC) and known time of each event, whatever the detector's columns."""
    import pandas as pd

    start_col = next((c for c in ("time", "start", "period_start", "first_time") if c in ev.columns), "confirmed_at")
    return pd.to_datetime(ev[start_col], utc=True), pd.to_datetime(ev["confirmed_at"], utc=True)


def _detector_chart(detector: str, candles: pd.DataFrame, ev: pd.DataFrame, symbol: str, tf: str, pip: float,
                    out: Path) -> tuple[Path | None, str | None, int]:
    """PNG of the last few events (at most 3, within ~2 days); returns (path, warning, events focused)."""
    import pandas as pd

    from ita.charts.detectors import detector_figure
    from ita.data.timeframes import tf_delta

    step = tf_delta(tf)
    if len(ev) == 0:
        t1 = candles.index[-1]
        t0 = candles.index[max(0, len(candles) - 120)]
        focus: list = []
    else:
        start, known = event_span(ev)
        last_known = known.iloc[-1]
        k = min(3, len(ev))
        idx = list(ev.index[-k:])
        idx = [i for i in idx if last_known - start.loc[i] <= pd.Timedelta(days=2)] or [ev.index[-1]]
        focus = idx
        t0 = min(start.loc[i] for i in idx) - 40 * step
        t1 = max(known.loc[i] for i in idx) + 30 * step
        if kind(detector).daily:
            t0 = max(t0, last_known - pd.Timedelta(hours=30))
        t0 = max(t0, candles.index[0])
        t1 = min(t1, candles.index[-1])
        if t1 <= t0:
            t1 = candles.index[-1]
    title = f"{detector} · {symbol} {tf} · last {len(focus)} event{'s' if len(focus) != 1 else ''}"
    fig = detector_figure(candles, ev, kind(detector).chart, t0, t1, title, pip, focus=focus or None)
    path, warn = save_chart_png(fig, out)
    return path, warn, len(focus)


@tool(RunDetectorArgs)
def run_detector(a: RunDetectorArgs) -> ToolResult:
    """Run one ICT detector (FVG, swings, BOS/CHoCH, order blocks, levels, sessions, sweeps, ATR) on stored candles:
    how many events, the last ones, and a chart of the latest."""
    import numpy as np
    import pandas as pd

    inst = instrument_of(a.symbol)
    store = candle_store(a.symbol)
    p = detector_params(a.detector, a.params)
    lo_load = None if a.start is None else str((pd.Timestamp(a.start) - pd.Timedelta(days=10)).date())
    candles = load_bars(store, a.symbol, a.timeframe, lo_load, a.end)
    ev = run(a.detector, candles, inst.pip_size, a.timeframe, p)
    ev = ev.reset_index(drop=True)
    if len(ev):
        known = pd.to_datetime(ev["confirmed_at"], utc=True)
        keep = np.ones(len(ev), dtype=bool)
        if a.start is not None:
            keep &= (known >= pd.Timestamp(a.start, tz="UTC")).to_numpy()
        ev = ev[keep]
        order = np.argsort(pd.to_datetime(ev["confirmed_at"], utc=True).to_numpy(), kind="stable")
        ev = ev.iloc[order]
    count = int(len(ev))
    by_dir: dict[str, int] = {}
    for col in ("direction", "kind", "side"):
        if col in ev.columns and count:
            by_dir = {str(k): int(v) for k, v in ev[col].value_counts().sort_index().items()}
            break
    table = _events_table(a.detector, ev, inst.digits, inst.pip_size)
    artifacts, warnings = [], []
    if a.chart and len(candles):
        stamp = candles.index[-1].strftime("%Y%m%d%H%M")
        out = charts_dir() / f"{a.detector}_{a.symbol}_{a.timeframe}_{stamp}.png"
        path, warn, k = _detector_chart(a.detector, candles, ev, a.symbol, a.timeframe, inst.pip_size, out)
        if path:
            artifacts.append(Artifact(kind="image", path=str(path), name=path.name,
                                      caption=f"{a.detector} on {a.symbol} {a.timeframe}: the last {k} event(s)"))
        if warn:
            warnings.append(warn)
    period = f"{a.start or _day(candles.index[0])} → {a.end or _day(candles.index[-1])}"
    parts = ", ".join(f"{v} {k}" for k, v in by_dir.items())
    summary = f"{a.detector} on {a.symbol} {a.timeframe}, {period}: {count:,} events" + (f" ({parts})" if parts else "") + "."
    last = None
    if count:
        r = ev.iloc[-1]
        last = {k: jsonable(v) for k, v in r.items() if k not in ("bar", "confirm_bar", "first_bar", "last_bar",
                                                                  "swing_bar", "break_bar", "source_bar", "level_row",
                                                                  "reclaim_bar")}
    data = {"detector": a.detector, "symbol": a.symbol, "timeframe": a.timeframe, "start": a.start, "end": a.end,
            "period": period, "params": jsonable(p), "count": count, "by": by_dir, "last_event": last,
            "warnings": warnings}
    return ToolResult(tool="run_detector", summary=summary, data=data, tables={"events": table}, artifacts=artifacts,
                      context={"symbol": a.symbol, "start": a.start, "end": a.end, "detector": a.detector,
                               "timeframe": a.timeframe})
