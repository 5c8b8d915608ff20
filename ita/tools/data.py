"""Data tools: ``data_coverage`` (stored symbols, timeframes, first/last bar in UTC) and ``load_candles``
(a period's bars summarised: open, close, high, low, bar count).
"""
from __future__ import annotations

import logging

from pydantic import Field

from ita.format import DASH, fmt_int, fmt_num, fmt_price
from ita.times import iso as _iso
from ita.times import ny_text as _ny
from ita.tools.access import candle_store, instrument_of, load_bars, stored_coverage
from ita.tools.registry import SYMBOL_DESC, ToolArgs, tool
from ita.tools.results import Table, ToolResult

log = logging.getLogger(__name__)


class DataCoverageArgs(ToolArgs):
    symbol: str | None = Field(None, description="Only this instrument, e.g. EURUSD (default: all stored).",
                               examples=["EURUSD"])


class LoadCandlesArgs(ToolArgs):
    symbol: str = Field(description=SYMBOL_DESC, examples=["EURUSD"])
    timeframe: str = Field("M5", description="Bar size: M1 M5 M15 M30 H1 H4 D1 (larger ones are resampled).",
                           examples=["M5", "H1"])
    start: str | None = Field(None, description="First UTC day, YYYY-MM-DD (default: all stored data).",
                              examples=["2025-03-01"])
    end: str | None = Field(None, description="Last UTC day, inclusive, YYYY-MM-DD (default: all stored data).",
                            examples=["2025-03-31"])


@tool(DataCoverageArgs)
def data_coverage(a: DataCoverageArgs) -> ToolResult:
    """Which symbols and timeframes are stored and for which period (UTC); imports the sample data on first use."""
    import pandas as pd

    store = candle_store(a.symbol)
    cat = store.catalog()
    if a.symbol:
        cat = cat[cat["symbol"] == a.symbol]
        if cat.empty:
            stored_coverage(store, a.symbol)  # raises the store's message (stored symbols, how to import)
    series = [{"symbol": r.symbol, "timeframe": r.timeframe, "first": _iso(r.first), "last": _iso(r.last),
               "bars": int(r.bars), "server_tz": r.server_tz} for r in cat.itertuples()]
    rows = [[s["symbol"], s["timeframe"], f"{pd.Timestamp(s['first']):%Y-%m-%d %H:%M}",
             f"{pd.Timestamp(s['last']):%Y-%m-%d %H:%M}", fmt_int(s["bars"]), s["server_tz"] or DASH] for s in series]
    if series:
        summary = "; ".join(f"{s['symbol']} {s['timeframe']} {s['first'][:10]} → {s['last'][:10]} ({s['bars']:,} bars)"
                            for s in series) + ". Other timeframes are resampled on the fly."
    else:
        summary = f"No candles stored in {store.data_dir}."
    return ToolResult(tool="data_coverage", summary=summary,
                      data={"series": series, "data_dir": str(store.data_dir),
                            "resampled": "M15, M30, H1, H4, D1 from the finest stored (D1/H4 roll at 17:00 New York)"},
                      tables={"coverage": Table(columns=["symbol", "timeframe", "first (UTC)", "last (UTC)", "bars",
                                                         "server tz"], rows=rows, title="Stored candles")},
                      context={"symbol": a.symbol} if a.symbol else {})


@tool(LoadCandlesArgs)
def load_candles(a: LoadCandlesArgs) -> ToolResult:
    """Load candles and describe them: bar count, first/last bar, high/low with their times, average bar range."""
    inst = instrument_of(a.symbol)
    store = candle_store(a.symbol)
    df = load_bars(store, a.symbol, a.timeframe, a.start, a.end)
    d = inst.digits
    hi_t, lo_t = df["high"].idxmax(), df["low"].idxmin()
    rng = (df["high"] - df["low"]) / inst.pip_size
    first, last = df.index[0], df.index[-1]
    change = (float(df["close"].iloc[-1]) - float(df["open"].iloc[0])) / inst.pip_size
    data = {
        "symbol": a.symbol, "timeframe": a.timeframe, "start": a.start, "end": a.end, "bars": int(len(df)),
        "first": _iso(first), "last": _iso(last), "open": float(df["open"].iloc[0]), "close": float(df["close"].iloc[-1]),
        "high": float(df["high"].max()), "high_time": _iso(hi_t), "low": float(df["low"].min()), "low_time": _iso(lo_t),
        "avg_range_pips": round(float(rng.mean()), 2), "change_pips": round(change, 1), "digits": d,
        "pip_size": inst.pip_size,
    }
    rows = [
        ["bars", fmt_int(len(df))],
        ["first bar (NY)", _ny(first)],
        ["last bar (NY)", _ny(last)],
        ["open", fmt_price(data["open"], d)],
        ["high", f"{fmt_price(data['high'], d)} ({_ny(hi_t)})"],
        ["low", f"{fmt_price(data['low'], d)} ({_ny(lo_t)})"],
        ["close", fmt_price(data["close"], d)],
        ["change", f"{fmt_num(change, 1, signed=True)} pips"],
        ["avg bar range", f"{fmt_num(data['avg_range_pips'], 1)} pips"],
    ]
    summary = (f"{a.symbol} {a.timeframe}: {len(df):,} bars {_ny(first)} → {_ny(last)} NY; high {fmt_price(data['high'], d)}, "
               f"low {fmt_price(data['low'], d)}, average bar range {data['avg_range_pips']:.1f} pips.")
    return ToolResult(tool="load_candles", summary=summary, data=data,
                      tables={"candles": Table(columns=["metric", "value"], rows=rows, title=f"{a.symbol} {a.timeframe}")},
                      context={"symbol": a.symbol, "start": a.start, "end": a.end, "timeframe": a.timeframe})
