"""Matching labels to the setup's detections (rules in :mod:`ita.verify`): :func:`verify_labels`."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ita.charts.common import meta_dict
from ita.data.timeframes import normalize_tf, tf_delta
from ita.errors import DataError, ItaError
from ita.times import NY, utc
from ita.verify.labels import LABEL_COLUMNS, object_columns
from ita.verify.metrics import label_metrics

DAY_ROLL_HOUR = 17  # FX trading day rolls at 17:00 New York

RESULT_COLUMNS = LABEL_COLUMNS + [
    "day", "result", "signal_id", "signal_time", "offset_bars", "at", "nearest_signal_id", "nearest_direction",
    "nearest_time", "nearest_bars", "nearest_label", "rule_reason", "why"]

_STRUCTURE = {"choch": "CHoCH", "bos": "BOS", "mss": "MSS"}


def signal_candles(signal: Mapping, step: pd.Timedelta) -> dict[pd.Timestamp, str]:
    """The setup candles of one signal row: ``{UTC bar open: role}``.

    Read from the signal's evidence, ``meta["steps"]`` (one dict per sequence step, with ``step``,
    ``bar_time`` and the event's ``time``): an ``fvg`` step gives ``"FVG candle 1/2/3"`` (``time`` is the
    gap's middle candle, ``confirmed_at`` the third candle's close), ``order_block`` ``"order block
    candle"``, ``break`` ``"break bar"``, ``sweep`` ``"sweep bar"`` (and ``"sweep reclaim bar"`` when the
    close back inside comes later), a structure step ``"CHoCH bar"``/``"BOS bar"``; steps without times
    (trend filters) add nothing. Without ``steps`` the chart keys ``meta.zone``/``meta.break`` are used.
    The signal's own ``time`` is the ``"signal bar"``. A candle with several roles reads ``"FVG candle 3
    (signal bar)"`` (zone roles first).
    """
    zone_roles: dict[pd.Timestamp, list[str]] = {}
    roles: dict[pd.Timestamp, list[str]] = {}

    def add(t, name, into=roles):
        if t is not None and name not in into.get(t, []):
            into.setdefault(t, []).append(name)

    def fvg(ev):
        zt = utc(ev.get("time"))
        if zt is None:
            return
        conf = utc(ev.get("confirmed_at"))  # close of the third candle
        add(zt - step, "FVG candle 1", zone_roles)
        add(zt, "FVG candle 2", zone_roles)
        add(conf - step if conf is not None else zt + step, "FVG candle 3", zone_roles)

    meta = meta_dict(signal.get("meta"))
    steps = [e for e in (meta.get("steps") or []) if isinstance(e, Mapping)]
    if steps:
        for ev in steps:
            kind = str(ev.get("step", ""))
            t, bar = utc(ev.get("time")), utc(ev.get("bar_time"))
            if kind == "fvg":
                fvg(ev)
            elif kind == "order_block":
                add(t or bar, "order block candle", zone_roles)
            elif kind == "break":
                add(t or bar, "break bar")
            elif kind == "sweep":
                add(t or bar, "sweep bar")
                if bar is not None and t is not None and bar != t:
                    add(bar, "sweep reclaim bar")
            elif t is not None or bar is not None:
                name = _STRUCTURE.get(str(ev.get("kind", "")).lower(), str(ev.get("kind") or kind))
                add(t or bar, f"{name} bar")
    else:
        zone = meta.get("zone") if isinstance(meta.get("zone"), Mapping) else None
        brk = meta.get("break") if isinstance(meta.get("break"), Mapping) else None
        if zone and str(zone.get("type", "")).lower() == "fvg":
            fvg(zone)
        elif zone:
            add(utc(zone.get("time")), "zone", zone_roles)
        if brk:
            add(utc(brk.get("time")), "break bar")
    add(utc(signal.get("time")), "signal bar")
    out = {}
    for t in sorted(set(zone_roles) | set(roles)):
        names = zone_roles.get(t, []) + roles.get(t, [])
        out[t] = names[0] + (f" ({', '.join(names[1:])})" if len(names) > 1 else "")
    return out


def signal_span(signal: Mapping, step: pd.Timedelta) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(first, last)`` UTC bar opens of a signal's setup candles (see :func:`signal_candles`); ``last``
    is never before the signal bar."""
    c = signal_candles(signal, step)
    t = utc(signal.get("time"))
    lo = min(c) if c else t
    hi = max([*c, t]) if c else t
    return lo, hi


def bars_between(a: pd.Timestamp, b: pd.Timestamp, step: pd.Timedelta) -> float:
    """Signed distance ``b - a`` in bars (wall-clock time ÷ bar length, so a weekend counts its bars)."""
    return (b - a) / step


def span_distance(t: pd.Timestamp, span: tuple[pd.Timestamp, pd.Timestamp], step: pd.Timedelta) -> float:
    """0 inside ``span`` (inclusive), else bars to the nearer end."""
    lo, hi = span
    if t < lo:
        return (lo - t) / step
    if t > hi:
        return (t - hi) / step
    return 0.0


def trading_day(t: pd.Timestamp, tz: str) -> pd.Timestamp:
    """Trading day of a UTC instant in the setup's zone ``tz`` (naive midnight; ≥ 17:00 → next day)."""
    local = t.tz_convert(tz).tz_localize(None)
    d = local.normalize()
    return d + pd.Timedelta(days=1) if local.hour >= DAY_ROLL_HOUR else d


@dataclass
class VerifyResult:
    """Outcome of :func:`verify_labels`.

    ``labels``: one row per label, :data:`RESULT_COLUMNS` — the label's fields plus ``day`` (trading day),
    ``result`` hit/miss, ``signal_id``/``signal_time`` of the matched signal, ``offset_bars`` (label bar −
    signal bar, bars), ``at`` (which setup candle the label points at, e.g. "FVG candle 2 = break bar"),
    ``nearest_*`` (nearest signal of any direction, ``nearest_bars`` signed: negative = before the
    label; ``nearest_label`` the label it matched, if any), ``rule_reason`` (the evaluator's reason for
    the day), ``why`` (one sentence). ``signals``: every signal evaluated (all symbols) with ``label`` (the
    matching label number or NA) and ``in_period``; ``unlabelled``: signals in the period without a label;
    ``explain``: the evaluator's per-day trace with a ``symbol`` column; ``metrics``: see
    :data:`ita.verify.metrics.METRIC_LABELS`; ``candles``: the frames used, by symbol.
    """

    setup: object
    labels: pd.DataFrame
    signals: pd.DataFrame
    unlabelled: pd.DataFrame
    explain: pd.DataFrame
    metrics: pd.Series
    start: pd.Timestamp
    end: pd.Timestamp
    tolerance: int
    candles: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)


def trading_date(v) -> pd.Timestamp:
    """A date or instant → naive midnight of its calendar date as given (a zone is dropped, not converted)."""
    t = pd.Timestamp(v)
    if t.tzinfo is not None:
        t = t.tz_localize(None)
    return t.normalize()


def period_bound(v, what: str) -> pd.Timestamp | None:
    """``--from``/``--to`` value → naive midnight (:func:`trading_date`), None when empty; ``what`` names the
    option in the :class:`~ita.errors.ItaError` raised for a non-date."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        return trading_date(v)
    except (TypeError, ValueError):
        raise ItaError(f"{what} {v!r} is not a date; use e.g. 2025-09-01.") from None


def _fmt_bars(x: float) -> str:
    x = abs(x)
    s = f"{x:g}" if x == int(x) else f"{x:.1f}"
    return f"{s} bar" + ("" if x == 1 else "s")


def _when(t: pd.Timestamp, ref_day: pd.Timestamp | None = None) -> str:
    ny = t.tz_convert(NY)
    if ref_day is not None and ny.tz_localize(None).normalize() == ref_day:
        return f"{ny:%H:%M} NY"
    return f"{ny:%Y-%m-%d %H:%M} NY"


def verify_labels(loaded, labels: pd.DataFrame, candles: Mapping[str, pd.DataFrame], *, tolerance: int = 3,
                  start=None, end=None) -> VerifyResult:
    """Match ``labels`` (the frame of :func:`read_labels`) with the signals of ``loaded`` on ``candles``.

    ``candles``: ``{symbol: canonical frame of the setup's timeframe}`` for every label symbol (UTC bar-open
    index); ``tolerance``: bars either side of the setup candles (≥ 0); ``start``/``end``: trading days
    bounding the period for unlabelled detections (default: first/last label day). Rules in the module
    docstring. Calls only :func:`ita.setups.evaluate` and :func:`ita.setups.explain`.

    Raises :class:`~ita.errors.ItaError` for a negative tolerance, a period that ends before it starts
    or a label symbol without candles.
    """
    from ita.setups import evaluate, explain

    if tolerance < 0:
        raise ItaError(f"--tolerance must be ≥ 0 bars, got {tolerance}.")
    s = loaded.setup
    tf = normalize_tf(s.timeframe)
    step = tf_delta(tf)
    tz = s.timezone
    labs = labels.copy().reset_index(drop=True)
    labs["day"] = [trading_day(t, tz) for t in labs["bar_time"]]
    lo = period_bound(start, "--from") or labs["day"].min()
    hi = period_bound(end, "--to") or labs["day"].max()
    if hi < lo:
        raise ItaError(f"The period ends ({hi.date()}) before it starts ({lo.date()}).")

    sig_parts, why_parts, ranges = [], [], {}
    for sym in sorted(labs["symbol"].unique()):
        if sym not in candles or candles[sym] is None or len(candles[sym]) == 0:
            raise DataError(f"No {sym} {tf} candles to check the labels against.")
        c = candles[sym]
        sg = evaluate(loaded, c, sym)
        sg = sg.copy()
        sg["symbol"] = sym
        sig_parts.append(sg)
        ex = explain(loaded, c, sym).copy()
        ex.insert(0, "symbol", sym)
        why_parts.append(ex)
        ranges[sym] = _session_ranges(loaded, c, sym)
    sig = pd.concat(sig_parts, ignore_index=True) if sig_parts else pd.DataFrame()
    sig["day"] = [trading_date(d) for d in sig["day"]] if len(sig) else pd.Series(dtype="datetime64[ns]")
    sig["time"] = pd.DatetimeIndex(sig["time"]).tz_convert("UTC") if len(sig) else sig.get("time")
    why = pd.concat(why_parts, ignore_index=True)
    why["day"] = [trading_date(d) for d in why["day"]] if len(why) else why["day"]
    spans = [signal_span(r, step) for r in sig.to_dict("records")]
    sig_tf = [normalize_tf(x) for x in sig["tf"]] if len(sig) else []

    # ---- greedy nearest matching
    cand = []
    sig_sym = sig["symbol"].to_numpy() if len(sig) else np.array([])
    sig_dir = sig["direction"].to_numpy() if len(sig) else np.array([])
    for li, lab in labs.iterrows():
        if lab["timeframe"] != tf:
            continue
        for si in range(len(sig)):
            if sig_sym[si] != lab["symbol"] or sig_dir[si] != lab["direction"] or sig_tf[si] != tf:
                continue
            d = span_distance(lab["bar_time"], spans[si], step)
            if d <= tolerance + 1e-9:
                off = abs(bars_between(sig["time"].iloc[si], lab["bar_time"], step))
                cand.append((d, off, li, si))
    cand.sort()
    lab_to_sig: dict[int, int] = {}
    sig_to_lab: dict[int, int] = {}
    for d, off, li, si in cand:
        if li in lab_to_sig or si in sig_to_lab:
            continue
        lab_to_sig[li], sig_to_lab[si] = si, li

    labels_num = labs["label"].to_numpy()
    why_idx = {(r["symbol"], r["day"]): r for r in why.to_dict("records")}
    out = []
    for li, lab in labs.iterrows():
        rec = lab.to_dict()
        day = lab["day"]
        t = lab["bar_time"]
        rec.update({"result": "miss", "signal_id": None, "signal_time": pd.NaT, "offset_bars": np.nan, "at": "",
                    "nearest_signal_id": None, "nearest_direction": None, "nearest_time": pd.NaT,
                    "nearest_bars": np.nan, "nearest_label": pd.NA, "rule_reason": "", "why": ""})
        # nearest signal of the same symbol, any direction
        same = [si for si in range(len(sig)) if sig_sym[si] == lab["symbol"]]
        if same:
            dists = [(span_distance(t, spans[si], step), abs(bars_between(sig["time"].iloc[si], t, step)), si)
                     for si in same]
            _, _, ni = min(dists)
            nt = sig["time"].iloc[ni]
            rec.update({"nearest_signal_id": sig["signal_id"].iloc[ni], "nearest_direction": sig["direction"].iloc[ni],
                        "nearest_time": nt, "nearest_bars": bars_between(t, nt, step)})
            if ni in sig_to_lab:
                rec["nearest_label"] = int(labels_num[sig_to_lab[ni]])
        ex = why_idx.get((lab["symbol"], day))
        rule_reason = "" if ex is None else str(ex.get("reason") or "")
        rec["rule_reason"] = rule_reason
        if li in lab_to_sig:
            si = lab_to_sig[li]
            srow = sig.iloc[si]
            roles = signal_candles(srow.to_dict(), step)
            off = bars_between(srow["time"], t, step)
            lo_s, hi_s = spans[si]
            if t in roles:
                at, how = roles[t], f"at {roles[t]}"
            elif lo_s <= t <= hi_s:
                at = how = "between the setup candles"
            elif t < lo_s:
                at = how = f"{_fmt_bars(bars_between(t, lo_s, step))} before the first setup candle"
            else:
                at = how = f"{_fmt_bars(bars_between(hi_s, t, step))} after the signal bar"
            rec.update({"result": "hit", "signal_id": srow["signal_id"], "signal_time": srow["time"],
                        "offset_bars": off, "at": at})
            rec["why"] = (f"matches {srow['direction']} signal {srow['signal_id']} (signal bar "
                          f"{_when(srow['time'], day)}); the label is {how}")
        else:
            rec["why"] = _miss_reason(lab, day, ex, sig, spans, sig_to_lab, labels_num, step, tf, s, tolerance, tz)
        out.append(rec)
    res = pd.DataFrame(out, columns=RESULT_COLUMNS)
    for c in ("signal_time", "nearest_time"):
        res[c] = pd.to_datetime(res[c], utc=True).dt.as_unit("ns")
    res["nearest_label"] = res["nearest_label"].astype("Int64")
    object_columns(res, ("setup", "screenshot", "signal_id", "nearest_signal_id", "nearest_direction"))

    sig = sig.copy()
    sig["label"] = pd.array([int(labels_num[sig_to_lab[i]]) if i in sig_to_lab else pd.NA for i in range(len(sig))],
                            dtype="Int64")
    sig["in_period"] = (sig["day"] >= lo) & (sig["day"] <= hi) if len(sig) else pd.Series(dtype=bool)
    unl = sig[sig["in_period"] & sig["label"].isna()].sort_values("time", kind="stable").reset_index(drop=True)
    metrics = label_metrics(res, sig, unl, lo, hi, tolerance)
    return VerifyResult(setup=loaded, labels=res, signals=sig, unlabelled=unl, explain=why, metrics=metrics,
                        start=lo, end=hi, tolerance=int(tolerance), candles=dict(candles), ranges=ranges)


def _miss_reason(lab, day, ex, sig, spans, sig_to_lab, labels_num, step, tf, s, tolerance, tz) -> str:
    """One sentence: why no signal matched this label."""
    parts = []
    t = lab["bar_time"]
    if lab["timeframe"] != tf:
        parts.append(f"labelled on {lab['timeframe']} but {s.id} runs on {tf} (labels match only signals of the "
                     f"setup's timeframe)")
    day_sigs = [si for si in range(len(sig)) if sig["symbol"].iloc[si] == lab["symbol"] and sig["day"].iloc[si] == day]
    if day_sigs:
        same = [si for si in day_sigs if sig["direction"].iloc[si] == lab["direction"]]
        pool = same or day_sigs
        si = min(pool, key=lambda i: (span_distance(t, spans[i], step), abs(bars_between(sig["time"].iloc[i], t, step))))
        srow = sig.iloc[si]
        d = span_distance(t, spans[si], step)
        off = bars_between(t, srow["time"], step)
        rel = f"{_fmt_bars(off)} {'after' if off > 0 else 'before'} the label" if off else "at the label"
        if not same:
            parts.append(f"wrong direction: the rule went {srow['direction']} that day (signal bar "
                         f"{_when(srow['time'], day)}, {rel}), the label is {lab['direction']}")
        else:
            parts.append(f"the rule's {srow['direction']} signal that day has its setup candles "
                         f"{_fmt_bars(d)} from the label (signal bar {_when(srow['time'], day)}); tolerance "
                         f"{tolerance} bars")
        if si in sig_to_lab:
            parts.append(f"that signal matched label #{int(labels_num[sig_to_lab[si]])}")
        return "; ".join(parts)
    wd = day.day_of_week
    if ex is None:
        if wd not in tuple(s.weekdays):
            parts.append(f"{day:%Y-%m-%d} is a {day:%A}: {s.id} does not trade that day")
        else:
            parts.append(f"no {lab['symbol']} {tf} bars on trading day {day:%Y-%m-%d} (weekend, holiday or outside "
                         f"the stored data)")
        return "; ".join(parts)
    reason = str(ex.get("reason") or "no signal")
    parts.append(f"the rule found no setup that day: {reason}")
    bias = ex.get("direction")
    if isinstance(bias, str) and bias in ("long", "short") and bias != lab["direction"]:
        parts.append(f"the rule's bias that day was {bias} (set by its first step), the label is {lab['direction']}")
    return "; ".join(parts)


def _session_ranges(loaded, candles: pd.DataFrame, symbol: str) -> dict:
    """``{trading day: {session, high, low, start, end}}`` of the setup's session-range detectors, for
    drawing only (a chart decoration: any failure gives ``{}``)."""
    try:
        from ita.setups import run_detectors

        out = {}
        for ev in run_detectors(loaded, candles, symbol).values():
            if {"day", "high", "low", "start", "end"} <= set(ev.columns):
                for r in ev.to_dict("records"):
                    out[trading_date(r["day"])] = {"session": r.get("session", "session"), "high": float(r["high"]),
                                           "low": float(r["low"]), "start": utc(r["start"]), "end": utc(r["end"])}
        return out
    except Exception:  # noqa: BLE001 - decoration only
        return {}
