"""Setup evaluation: run only the detectors a setup declares, apply its sequence, emit signals.

Signals follow the seed's signal schema (``signal_id, symbol, tf, direction, entry_price, sl_price,
tp_price, rule_id, rule_version, meta``) plus the order's timing, so the backtester and the live loop
consume the same rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ita.data.instruments import get_instrument
from ita.data.timeframes import tf_delta
from ita.detectors import fvg, range_break, session_range
from ita.sessions import local_day_and_minute, local_time_to_utc, parse_hhmm
from ita.setups.loader import LoadedSetup
from ita.setups.schema import BreakStep, FVGDetector, FVGStep, SessionRangeDetector

SIGNAL_COLUMNS = [
    "signal_id", "symbol", "tf", "direction", "entry_type", "entry_price", "sl_price", "tp_price",
    "rule_id", "rule_version", "setup_hash", "day", "time", "known_at", "active_from", "expires_at",
    "exit_by", "meta",
]


def run_detectors(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str) -> dict[str, pd.DataFrame]:
    """Run exactly the detectors declared in the setup; ``{detector name: events}``."""
    s = loaded.setup
    inst = get_instrument(symbol)
    out: dict[str, pd.DataFrame] = {}
    for name, det in s.detectors.items():
        if isinstance(det, SessionRangeDetector):
            out[name] = session_range(candles, s.session(det.session), weekdays=s.weekdays, timeframe=s.timeframe)
        elif isinstance(det, FVGDetector):
            out[name] = fvg(candles, inst.pip_size, det.min_gap_pips, det.mitigation, timeframe=s.timeframe)
    return out


def evaluate(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Signals of ``loaded`` on ``candles`` (canonical frame of the setup's timeframe) for ``symbol``.

    Returns a DataFrame with :data:`SIGNAL_COLUMNS`, one row per signal, ascending by ``known_at``:
    ``direction`` ``"long"``/``"short"``; prices in price units; ``day`` the local trading date D;
    ``time`` the UTC open of the bar that completed the signal; ``known_at`` its close (decision time);
    ``active_from`` first bar open at which the order may fill; ``expires_at`` no fill on bars opening at
    or after it; ``exit_by`` flat at the close of the last bar opening before it; ``meta`` a dict with the
    detector evidence (range, break, zone). Uses only bars up to ``known_at`` (no look-ahead).

    Raises :class:`~ita.errors.UnknownSymbolError` for an unknown symbol.

    Example::

        >>> from ita.setups import load_setup, evaluate
        >>> sig = evaluate(load_setup("asia_fvg_break"), m5, "EURUSD")      # doctest: +SKIP
    """
    s = loaded.setup
    inst = get_instrument(symbol)
    pip = inst.pip_size
    step_td = tf_delta(s.timeframe)
    events = run_detectors(loaded, candles, symbol)
    t = candles.index.as_unit("ns")
    days_local, minute = local_day_and_minute(t, s.timezone)

    brk_step = s.sequence[0]
    assert isinstance(brk_step, BreakStep)
    ranges = events[brk_step.range]
    breaks = range_break(candles, ranges, s.window(brk_step.window, "break"), by=brk_step.by, timeframe=s.timeframe)
    rows = []
    if len(breaks):
        ranges_by_day = ranges.set_index("day").to_dict("index")
        fvg_steps = [st for st in s.sequence[1:] if isinstance(st, FVGStep)]
        # (third-candle bar, direction) -> gap row, built once per detector
        lookup = {name: {(int(b), d): k for k, (b, d) in enumerate(zip(ev["bar"], ev["direction"]))}
                  for name, ev in events.items() if name in {st.detector for st in fvg_steps}}
        for br in breaks.itertuples(index=False):
            evidence = {"break": {"time": br.time.isoformat(), "direction": br.direction, "level": float(br.level)}}
            r = ranges_by_day[br.day]
            evidence["range"] = {"session": r["session"], "high": float(r["high"]), "low": float(r["low"]),
                                 "start": r["start"].isoformat(), "end": r["end"].isoformat()}
            anchor = int(br.bar)
            direction = br.direction
            zone = None
            for st in fvg_steps:
                zone = _fvg_after(events[st.detector], lookup[st.detector], anchor, st, direction, br.day,
                                  days_local, minute, len(candles))
                if zone is None:
                    break
                anchor = int(zone["bar"])
            if zone is None:
                continue
            rows.append(_order(s, loaded, symbol, inst, pip, step_td, t, br.day, direction, zone, evidence))
    sig = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    if len(sig):
        days = np.array(sig["day"].to_numpy(), dtype="datetime64[D]")
        sig["expires_at"] = local_time_to_utc(days, s.order.valid_until, s.timezone)
        sig["exit_by"] = local_time_to_utc(days, s.management.flat_at, s.timezone)
        for c in ("time", "known_at", "active_from", "expires_at", "exit_by"):
            sig[c] = pd.DatetimeIndex(sig[c]).as_unit("ns")
    return sig.sort_values("known_at", kind="stable").reset_index(drop=True)


def _fvg_after(gaps: pd.DataFrame, lookup: dict, b: int, st: FVGStep, direction: str, day, days_local, minute,
               n: int):
    """First gap in the wanted direction whose third candle is b+1 … b+within_bars, on day D before `until`."""
    want = "bullish" if (direction == "long") == (st.direction == "with_break") else "bearish"
    until = parse_hhmm(st.until)
    for k in range(1, st.within_bars + 1):
        i = b + k
        if i >= n or days_local[i] != day or minute[i] >= until:
            return None  # stop at the end of day D or at `until`
        row = lookup.get((i, want))
        if row is not None:
            return gaps.iloc[row]
    return None


def _order(s, loaded, symbol, inst, pip, step_td, t, day, direction, zone, evidence) -> dict:
    top, bottom = float(zone["top"]), float(zone["bottom"])
    long_ = direction == "long"
    at = s.entry.at
    if at == "midpoint":
        entry = (top + bottom) / 2.0
    elif (at == "near_edge") == long_:
        entry = top
    else:
        entry = bottom
    buf = s.stop.buffer_pips * pip
    stop = bottom - buf if long_ else top + buf
    dist = abs(entry - stop)
    target = entry + s.target.rr * dist if long_ else entry - s.target.rr * dist
    i = int(zone["bar"])
    known_at = t[i] + step_td
    sid = f"{s.id}-v{loaded.version}-{symbol}-{s.timeframe}-{t[i]:%Y%m%dT%H%M}"
    meta = {
        "detectors": loaded.setup.detector_kinds,
        "candles": 3,
        **evidence,
        "zone": {"type": "fvg", "direction": zone["direction"], "top": top, "bottom": bottom,
                 "time": zone["time"].isoformat(), "confirmed_at": zone["confirmed_at"].isoformat(),
                 "size_pips": float(zone["size_pips"])},
        "risk_pips": round(dist / pip, 6),
        "rr": s.target.rr,
    }
    return {
        "signal_id": sid, "symbol": symbol, "tf": s.timeframe, "direction": direction,
        "entry_type": s.entry.type, "entry_price": round(entry, 10), "sl_price": round(stop, 10),
        "tp_price": round(target, 10), "rule_id": s.id, "rule_version": loaded.version,
        "setup_hash": loaded.content_hash, "day": day, "time": t[i], "known_at": known_at,
        "active_from": known_at, "expires_at": pd.NaT, "exit_by": pd.NaT, "meta": meta,
    }
