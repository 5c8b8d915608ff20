"""The detector tool ``run_detector``: one ICT/SMC detector over stored candles, the last events as a table
(New York times, prices with the instrument's digits, sizes in pips) and a PNG of the latest few.

Kinds, words, parameters (defaults and allowed values), event-table columns and chart kinds come from the
detector catalogue :mod:`ita.detectors.catalog`; nothing here lists detectors.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from ita.errors import ItaError, closest
from ita.times import NY
from ita.times import day_text as _day
from ita.tools.access import candle_store, charts_dir, instrument_of, load_bars, save_chart_png, session_window
from ita.tools.format import LAST_N, event_cell
from ita.tools.registry import SYMBOL_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Artifact, Table, ToolResult

log = logging.getLogger(__name__)


DETECTORS = ("fvg", "inverse_fvg", "swings", "structure", "order_blocks", "previous_levels", "session_range",
             "initial_balance", "opening_levels", "equal_levels", "sweeps", "atr")


_DETECTOR_ALIASES = {
    "fvgs": "fvg", "fair_value_gap": "fvg", "fair_value_gaps": "fvg", "imbalance": "fvg",
    "ifvg": "inverse_fvg", "inversion_fvg": "inverse_fvg", "inverse_fvgs": "inverse_fvg",
    "swing": "swings", "fractals": "swings", "structure_breaks": "structure", "bos": "structure",
    "choch": "structure", "mss": "structure", "order_block": "order_blocks", "ob": "order_blocks", "obs": "order_blocks",
    "previous_period_levels": "previous_levels", "pdh": "previous_levels", "pdl": "previous_levels",
    "previous_day_levels": "previous_levels", "session": "session_range", "range": "session_range",
    "asia_range": "session_range", "ib": "initial_balance", "opening_level": "opening_levels",
    "opens": "opening_levels", "equal_highs": "equal_levels", "equal_lows": "equal_levels", "eqh": "equal_levels",
    "eql": "equal_levels", "sweep": "sweeps", "liquidity_sweeps": "sweeps", "average_true_range": "atr",
}


class RunDetectorArgs(ToolArgs):
    detector: Literal[DETECTORS] = Field(  # type: ignore[valid-type]
        description="Detector: fvg, inverse_fvg, swings, structure (BOS/CHoCH), order_blocks, previous_levels, "
                    "session_range, initial_balance, opening_levels, equal_levels, sweeps, atr.",
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
        key = re.sub(r"[\s\-]+", "_", str(v).strip().lower())
        key = _DETECTOR_ALIASES.get(key, key)
        if key not in DETECTORS:
            raise ValueError(f"Unknown detector {v!r}.{closest(key, DETECTORS)} Detectors: {', '.join(DETECTORS)}.")
        return key


# detector → (its parameters with defaults, allowed values of the choice parameters)
_DETECTOR_PARAMS: dict[str, tuple[dict[str, Any], dict[str, tuple]]] = {
    "fvg": ({"min_gap_pips": 0.0, "mitigation": "touch", "join": "none"},
            {"mitigation": ("touch", "midpoint", "close_through"), "join": ("none", "consecutive")}),
    "inverse_fvg": ({"min_gap_pips": 0.0, "by": "close"}, {"by": ("close", "wick")}),
    "swings": ({"left": 2, "right": 2}, {}),
    "structure": ({"left": 2, "right": 2, "by": "close"}, {"by": ("close", "wick")}),
    "order_blocks": ({"left": 2, "right": 2, "by": "close", "zone": "wick"},
                     {"by": ("close", "wick"), "zone": ("wick", "body")}),
    "previous_levels": ({"period": "D"}, {"period": ("D", "W", "M")}),
    "session_range": ({"session": "asia"}, {}),
    "initial_balance": ({"session": None}, {}),
    "opening_levels": ({"kind": "ny_midnight"}, {"kind": ("ny_midnight", "daily", "weekly")}),
    "equal_levels": ({"tolerance_pips": None, "tolerance_atr": None, "left": 2, "right": 2, "lookback": 10}, {}),
    "sweeps": ({"of": "previous_levels", "period": "D", "session": "asia", "side": None, "max_bars": 3,
                "min_pierce_pips": 0.0},
               {"of": ("previous_levels", "session_range", "initial_balance", "equal_levels"),
                "period": ("D", "W", "M"), "side": (None, "high", "low")}),
    "atr": ({"period": 14}, {}),
}


_CHART_KIND = {"fvg": "fvg", "inverse_fvg": "fvg", "swings": "swings", "structure": "structure_breaks",
               "order_blocks": "order_blocks", "previous_levels": "previous_period_levels",
               "session_range": "session_range", "initial_balance": "initial_balance",
               "opening_levels": "opening_levels", "equal_levels": "equal_levels", "sweeps": "sweeps", "atr": "atr"}


_INT_PARAMS = {"left", "right", "lookback", "max_bars", "period_bars"}


def _detector_params(detector: str, params: dict) -> dict:
    """The detector's parameters: defaults overlaid with ``params`` (coerced, checked); ItaError on a bad one."""
    defaults, choices = _DETECTOR_PARAMS[detector]
    out = dict(defaults)
    for k, v in (params or {}).items():
        key = str(k).strip()
        if key not in defaults:
            raise ItaError(f"{detector} has no parameter {key!r}.{closest(key, list(defaults))} "
                           f"Parameters: {', '.join(defaults)}.")
        d = defaults[key]
        if isinstance(v, str) and v.strip().lower() in ("none", "null", ""):
            v = None
        try:
            if v is not None and (key in _INT_PARAMS or (detector == "atr" and key == "period")):
                v = int(float(v))
            elif v is not None and (isinstance(d, float) or key.startswith(("tolerance", "min_"))):
                v = float(v)
            elif isinstance(v, str):
                v = v.strip()
        except (TypeError, ValueError):
            raise ItaError(f"{detector} parameter {key}={v!r} must be a number.") from None
        if key in choices:
            allowed = choices[key]
            if key == "period" and isinstance(v, str):
                v = v.upper()
            elif isinstance(v, str):
                v = v.lower()
            if v not in allowed:
                shown = [str(x) for x in allowed if x is not None]
                raise ItaError(f"{detector} parameter {key}={v!r} is not allowed; use one of: {', '.join(shown)}.")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise ItaError(f"{detector} parameter {key}={v!r} must not be negative.")
        out[key] = v
    return out


def _levels(c: pd.DataFrame, pip: float, tf: str, p: dict) -> pd.DataFrame:
    """Price levels for sweeps: ``level``, ``side``, ``confirmed_at``, ``until`` (like the setup language)."""
    import ita.detectors as D
    from ita.sessions import local_time_to_utc

    far = pd.Timestamp("2262-01-01", tz="UTC")
    of = p["of"]
    if of == "equal_levels":
        eq = D.equal_levels(c, tolerance_pips=1.0, pip_size=pip, timeframe=tf)
        return eq.assign(until=far)[["level", "side", "confirmed_at", "until"]]
    if of == "previous_levels":
        out = D.previous_period_levels(c, p["period"], timeframe=tf)
        until = out["confirmed_at"].shift(-1)
        until = pd.DatetimeIndex(until).fillna(far) if len(out) else until
        until = pd.Series(until, index=out.index)
    else:
        win = session_window(p["session"]) if of == "session_range" else None
        out = (D.session_range(c, win, timeframe=tf) if of == "session_range" else D.initial_balance(c, timeframe=tf))
        days = out["day"].to_numpy().astype("datetime64[D]") + np.timedelta64(1, "D")
        until = pd.Series(local_time_to_utc(days, "00:00", NY), index=out.index)
    parts = [pd.DataFrame({"level": out[side].to_numpy(), "side": side, "confirmed_at": out["confirmed_at"].to_numpy(),
                           "until": until.to_numpy(), "row": out.index}) for side in ("high", "low")]
    lv = pd.concat(parts, ignore_index=True)
    for col in ("confirmed_at", "until"):
        lv[col] = pd.to_datetime(lv[col], utc=True)
    return lv.sort_values(["confirmed_at", "row"], kind="stable").reset_index(drop=True)


def _detect(detector: str, c: pd.DataFrame, pip: float, tf: str, p: dict) -> pd.DataFrame:
    """Run one detector on candles ``c``; ItaError for bad parameter combinations."""
    import ita.detectors as D
    from ita.data.timeframes import tf_delta

    try:
        if detector == "fvg":
            return D.fvg(c, pip, p["min_gap_pips"], p["mitigation"], timeframe=tf, join=p["join"])
        if detector == "inverse_fvg":
            return D.inverse_fvg(c, pip, p["min_gap_pips"], by=p["by"], timeframe=tf)
        if detector in ("swings", "structure", "order_blocks"):
            sw = D.swings(c, p["left"], p["right"], timeframe=tf)
            if detector == "swings":
                return sw
            br = D.structure_breaks(c, sw, by=p["by"], timeframe=tf)
            return br if detector == "structure" else D.order_blocks(c, br, zone=p["zone"], timeframe=tf)
        if detector == "previous_levels":
            return D.previous_period_levels(c, p["period"], timeframe=tf)
        if detector == "session_range":
            return D.session_range(c, session_window(p["session"]), timeframe=tf)
        if detector == "initial_balance":
            win = session_window(p["session"])
            return D.initial_balance(c, *([win] if win is not None else []), timeframe=tf)
        if detector == "opening_levels":
            return D.opening_levels(c, kind=p["kind"], timeframe=tf)
        if detector == "equal_levels":
            tol_p, tol_a = p["tolerance_pips"], p["tolerance_atr"]
            if tol_p is None and tol_a is None:
                tol_p = 1.0
            return D.equal_levels(c, tolerance_pips=tol_p, tolerance_atr=tol_a, pip_size=pip, left=p["left"],
                                  right=p["right"], lookback=p["lookback"], timeframe=tf)
        if detector == "sweeps":
            lv = _levels(c, pip, tf, p)
            if p["side"]:
                lv = lv[lv["side"] == p["side"]].reset_index(drop=True)
            return D.sweeps(c, lv, level_col="level", name=p["of"], max_bars=p["max_bars"], until_col="until",
                            pip_size=pip, min_pierce_pips=p["min_pierce_pips"], timeframe=tf)
        if detector == "atr":
            vals = D.atr(c, p["period"]).to_numpy(dtype="float64")
            out = pd.DataFrame({"time": c.index, "confirmed_at": c.index + tf_delta(tf), "value": vals})
            return out[np.isfinite(out["value"].to_numpy())].reset_index(drop=True)
    except ValueError as exc:
        raise ItaError(f"{detector}: {exc}") from None
    raise ItaError(f"Unknown detector {detector!r}.")  # pragma: no cover - the argument model admits no other


# (header, column, kind) of the events table per detector; kinds: t time NY, d date, p price, s text, f1 number,
# pips price distance in pips, i int
_EVENT_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "fvg": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("direction", "direction", "s"),
            ("top", "top", "p"), ("bottom", "bottom", "p"), ("size, pips", "size_pips", "f1"),
            ("mitigated (NY)", "mitigated_at", "t")],
    "swings": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("kind", "kind", "s"),
               ("price", "price", "p")],
    "structure": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("kind", "kind", "s"),
                  ("direction", "direction", "s"), ("level", "level", "p"), ("swing (NY)", "swing_time", "t")],
    "order_blocks": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("direction", "direction", "s"),
                     ("top", "top", "p"), ("bottom", "bottom", "p"), ("break", "break_kind", "s"),
                     ("mitigated (NY)", "mitigated_at", "t")],
    "previous_levels": [("period", "label", "d"), ("high", "high", "p"), ("low", "low", "p"),
                        ("known (NY)", "confirmed_at", "t")],
    "session_range": [("day", "day", "d"), ("session", "session", "s"), ("high", "high", "p"), ("low", "low", "p"),
                      ("range, pips", "range_pips", "f1"), ("known (NY)", "confirmed_at", "t")],
    "opening_levels": [("day", "label", "d"), ("kind", "kind", "s"), ("time (NY)", "time", "t"), ("open", "open", "p")],
    "equal_levels": [("kind", "kind", "s"), ("level", "level", "p"), ("touches", "count", "i"),
                     ("first (NY)", "first_time", "t"), ("second (NY)", "second_time", "t"),
                     ("known (NY)", "confirmed_at", "t")],
    "sweeps": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("direction", "direction", "s"),
               ("level", "level", "p"), ("extreme", "extreme", "p"), ("bars to reclaim", "bars_to_reclaim", "i")],
    "atr": [("time (NY)", "time", "t"), ("ATR, pips", "value_pips", "f1")],
}
_EVENT_COLUMNS["inverse_fvg"] = _EVENT_COLUMNS["fvg"]
_EVENT_COLUMNS["initial_balance"] = _EVENT_COLUMNS["session_range"]


def _events_table(detector: str, ev: pd.DataFrame, digits: int, pip: float, n: int = LAST_N) -> Table:
    cols = _EVENT_COLUMNS[detector]
    tail = ev.tail(n).copy()
    if detector in ("session_range", "initial_balance") and len(tail):
        tail["range_pips"] = (tail["high"] - tail["low"]) / pip
    if detector == "atr" and len(tail):
        tail["value_pips"] = tail["value"] / pip
    rows = [[event_cell(r.get(col), kind, digits) for _, col, kind in cols] for r in tail.to_dict("records")]
    return Table(columns=[h for h, _, _ in cols], rows=rows, title=f"Last {len(rows)} of {len(ev):,} events")


def event_span(ev: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Start (UTC) and known time of each event, whatever the detector's columns."""
    start_col = next((c for c in ("time", "start", "period_start", "first_time") if c in ev.columns), "confirmed_at")
    return pd.to_datetime(ev[start_col], utc=True), pd.to_datetime(ev["confirmed_at"], utc=True)


def _detector_chart(detector: str, candles: pd.DataFrame, ev: pd.DataFrame, symbol: str, tf: str, pip: float,
                    out: Path) -> tuple[Path | None, str | None, int]:
    """PNG of the last few events (at most 3, within ~2 days); returns (path, warning, events focused)."""
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
        if detector in ("previous_levels", "opening_levels", "session_range", "initial_balance", "atr"):
            t0 = max(t0, last_known - pd.Timedelta(hours=30))
        t0 = max(t0, candles.index[0])
        t1 = min(t1, candles.index[-1])
        if t1 <= t0:
            t1 = candles.index[-1]
    title = f"{detector} · {symbol} {tf} · last {len(focus)} event{'s' if len(focus) != 1 else ''}"
    fig = detector_figure(candles, ev, _CHART_KIND[detector], t0, t1, title, pip, focus=focus or None)
    path, warn = save_chart_png(fig, out)
    return path, warn, len(focus)


@tool(RunDetectorArgs)
def run_detector(a: RunDetectorArgs) -> ToolResult:
    """Run one ICT detector (FVG, swings, BOS/CHoCH, order blocks, levels, sessions, sweeps, ATR) on stored candles:
    how many events, the last ones, and a chart of the latest."""
    inst = instrument_of(a.symbol)
    store = candle_store(a.symbol)
    p = _detector_params(a.detector, a.params)
    lo_load = None if a.start is None else str((pd.Timestamp(a.start) - pd.Timedelta(days=10)).date())
    candles = load_bars(store, a.symbol, a.timeframe, lo_load, a.end)
    ev = _detect(a.detector, candles, inst.pip_size, a.timeframe, p)
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
