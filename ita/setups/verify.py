"""Check a setup's detector against a trader's labelled examples ("did ITA find what I would mark?").

A **labels file** is a CSV, one row per setup the trader marked on a chart::

    symbol,timeframe,time,direction,tz,note
    EURUSD,M5,2025.10.14 07:15,long,Europe/Athens,"Asia high 1.15815 …"

=============  ========  =====================================================================================
column         required  meaning
=============  ========  =====================================================================================
``symbol``     yes       instrument, e.g. EURUSD (see ``ita/data/instruments.yaml``)
``timeframe``  yes       chart the trader read, e.g. M5 (labels match only signals of the setup's timeframe)
``time``       yes       open time of the marked candle, as read off the chart: ``2025-10-14 07:15``,
                         ``2025.10.14 07:15`` (MT5) or ISO 8601 with an offset (``2025-10-14T07:15+03:00``)
``direction``  yes       ``long``/``buy`` or ``short``/``sell`` (any case)
``tz``         no        IANA zone of ``time`` (MT5 charts show broker server time, e.g. ``Europe/Athens``);
                         default ``--tz`` (UTC). A time with an explicit offset ignores it.
``setup``      no        setup id; rows naming another setup are skipped
``screenshot`` no        image file of the trader's chart, relative to ``--screenshots`` (else to the CSV's
                         folder); without it, ``--screenshots DIR`` is searched for ``01.png``, ``row_01.png``,
                         ``1.png`` … (row number, also .jpg/.jpeg/.gif/.webp)
``note``       no        the trader's reasoning, shown in the report
=============  ========  =====================================================================================

Rows are numbered 1, 2, … in file order (the ``#`` everywhere; blank lines are not counted). A time
inside a bar means that bar (``07:17`` on M5 → the ``07:15`` candle).

**Matching.** A signal's *setup candles* run from its earliest evidence candle (the break bar, or the
fair value gap's first candle if that comes earlier) to the signal bar (the bar that completed the
signal: the FVG's third candle); see :func:`signal_span`. The **distance** of a label to a signal is 0
when the labelled candle is one of those, else the number of bars to the nearer end (wall-clock time ÷
bar length). A label is a **hit** when a signal of the same symbol, direction and timeframe lies within
``tolerance`` bars (either side); so the trader may mark the break, the displacement candle or the
candle that completes the gap. Pairs are assigned greedily, nearest first (ties: the label closer to
the signal bar, then file order): one signal matches at most one label. Other labels are **misses**,
reported with the nearest signal of any direction and the evaluator's own reason for that trading day
(:func:`ita.setups.explain`), e.g. *no bullish FVG with its third candle within 3 bars after the long
break at 00:10*, or *the rule went long that day*.

**Unlabelled detections** are the signals whose trading day lies in the checked period (first to last
label day, or ``start``/``end``) that no label matched: false positives from the trader's point of
view. Metrics: ``precision = hits / (hits + unlabelled)``, ``recall = hits / labels``.

The label's trading day (used for the evaluator's reason) is its date in the setup's time zone; a label
at or after 17:00 there belongs to the next day (the FX day rolls at 17:00 New York).

Example::

    >>> from ita.setups import load_setup
    >>> from ita.setups.verify import read_labels, verify_labels
    >>> lf = read_labels("examples/labels/eurusd_2025_asia_fvg_break.csv")     # doctest: +SKIP
    >>> res = verify_labels(load_setup("asia_fvg_break"), lf.labels, {"EURUSD": m5})   # doctest: +SKIP
    >>> res.metrics["Recall [%]"]                                               # doctest: +SKIP
    80.0

:func:`run_verify` does all of it from files and the candle store and writes a run folder
(``verify.csv``, ``report.html``, ``summary.json``, a copy of the labels) like a backtest run.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from ita.data.instruments import get_instrument
from ita.data.timeframes import TIMEFRAMES, normalize_tf, tf_delta
from ita.errors import DataError, ItaError, closest
from ita.setups.evaluate import warmup
from ita.times import NY
from ita.times import utc as _utc

REQUIRED = ("symbol", "timeframe", "time", "direction")
OPTIONAL = ("setup", "tz", "screenshot", "note")
DIRECTIONS = {"long": "long", "buy": "long", "short": "short", "sell": "short"}
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp")
DAY_ROLL_HOUR = 17  # FX trading day rolls at 17:00 New York

LABEL_COLUMNS = ["label", "line", "symbol", "timeframe", "direction", "time", "bar_time", "time_text", "tz",
                 "setup", "screenshot", "note"]
RESULT_COLUMNS = LABEL_COLUMNS + [
    "day", "result", "signal_id", "signal_time", "offset_bars", "at", "nearest_signal_id", "nearest_direction",
    "nearest_time", "nearest_bars", "nearest_label", "rule_reason", "why"]
METRIC_LABELS = ["Start", "End", "Labels", "Hits", "Misses", "Detections", "Unlabelled", "Precision [%]",
                 "Recall [%]", "Tolerance [bars]"]

_TIME_RE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
                      r"\s*(Z|[+-]\d{2}(:?\d{2})?)?$", re.IGNORECASE)


class LabelError(ItaError):
    """A labels file is malformed; the message names the file, the row and the fix."""


# ---------------------------------------------------------------------------------------------- reading

@dataclass
class LabelFile:
    """Parsed labels: ``labels`` (one row per label, :data:`LABEL_COLUMNS`; ``time`` the instant in UTC,
    ``bar_time`` the open of the bar it falls in, ``time_text``/``tz`` as written), ``skipped`` row numbers
    naming another setup, ``path`` of the file."""

    path: Path
    labels: pd.DataFrame
    skipped: list[int] = field(default_factory=list)


def _zone(name: str, where: str) -> str:
    name = name.strip()
    if name.upper() in ("UTC", "Z", "GMT"):
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise LabelError(f"{where}: unknown time zone {name!r}.{closest(name, sorted(available_timezones()))} "
                         "Use an IANA name such as Europe/Athens (MT5 server time), America/New_York or UTC.") from None
    return name


def _parse_time(text: str, tz: str, where: str) -> tuple[pd.Timestamp, str]:
    """(UTC Timestamp, zone it was read in: ``tz`` or ``UTC±hh:mm`` for an explicit offset)."""
    s = str(text).strip()
    hint = "Use 2025-10-14 07:15, 2025.10.14 07:15 (MT5) or ISO with an offset, 2025-10-14T07:15+03:00."
    if not _TIME_RE.match(s):
        raise LabelError(f"{where}: cannot read the time {s!r}. {hint}")
    norm = re.sub(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})", r"\1-\2-\3", s)
    try:
        ts = pd.Timestamp(norm)
    except (ValueError, TypeError):
        raise LabelError(f"{where}: cannot read the time {s!r}. {hint}") from None
    if ts is pd.NaT or pd.isna(ts):
        raise LabelError(f"{where}: cannot read the time {s!r}. {hint}")
    if ts.tzinfo is None:
        try:
            ts = ts.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception:  # noqa: BLE001 - pytz/zoneinfo raise different DST errors
            raise LabelError(f"{where}: {s} is skipped or repeated by a daylight-saving change in {tz}; "
                             f"write it with its UTC offset, e.g. {norm.replace(' ', 'T')}+03:00.") from None
        zone = tz
    else:
        mins = int(ts.utcoffset().total_seconds() // 60)
        zone = "UTC" if mins == 0 else f"UTC{'+' if mins > 0 else '-'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
    return ts.tz_convert("UTC").as_unit("ns"), zone


def parse_label_time(text: str, tz: str = "UTC", where: str = "time") -> pd.Timestamp:
    """``text`` read in zone ``tz`` → UTC Timestamp. Accepts ``YYYY-MM-DD HH:MM[:SS]``, the MT5 form
    ``YYYY.MM.DD HH:MM[:SS]`` and ISO 8601 with ``Z`` or an offset (which then wins over ``tz``).
    Raises :class:`LabelError` naming ``where`` for anything else, and for wall-clock times that are
    skipped or repeated by a DST change in ``tz``."""
    return _parse_time(text, tz, where)[0]


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _find_screenshot(n: int, folder: Path) -> Path | None:
    for stem in (f"{n:02d}", f"row_{n:02d}", f"{n}", f"row_{n}", f"{n:03d}", f"row_{n:03d}", f"label_{n:02d}"):
        for ext in IMAGE_EXT:
            for e in (ext, ext.upper()):
                p = folder / f"{stem}{e}"
                if p.is_file():
                    return p
    return None


def read_labels(path, *, tz: str = "UTC", screenshots=None, setup_id: str | None = None) -> LabelFile:
    """Read and validate a labels CSV (format in the module docstring).

    ``tz``: zone of times without an offset when the row has no ``tz``; ``screenshots``: folder of the
    trader's images (optional); ``setup_id``: rows whose ``setup`` column names another setup are
    skipped (their numbers in :attr:`LabelFile.skipped`).

    Raises :class:`LabelError` (an :class:`~ita.errors.ItaError`) naming the file, the row number and
    the CSV line for: a missing file or column, no rows, an unparsable time, an unknown time zone,
    symbol or timeframe, a direction other than long/short/buy/sell, a named screenshot that does not
    exist.
    """
    p = Path(path)
    if not p.is_file():
        raise LabelError(f"Labels file {p} not found.")
    default_tz = _zone(tz or "UTC", "--tz")
    shots_dir = Path(screenshots) if screenshots else None
    if shots_dir is not None and not shots_dir.is_dir():
        raise LabelError(f"--screenshots {shots_dir}: no such folder.")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="latin-1")
    except OSError as exc:
        raise LabelError(f"Cannot read labels file {p}: {exc}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise LabelError(f"{p}: empty file; expected a header with columns {', '.join(REQUIRED)}.")
    reader = csv.DictReader(io.StringIO(text), delimiter=_sniff_delimiter(lines[0]))
    header = [str(h or "").strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise LabelError(f"{p}: missing column(s) {', '.join(missing)}; found {', '.join(h for h in header if h) or 'none'}. "
                         f"Required: {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)}.")
    rows, skipped = [], []
    n = 0
    for rec in reader:
        vals = {k: ("" if v is None else str(v).strip()) for k, v in rec.items() if k}
        if not any(vals.values()):
            continue
        n += 1
        where = f"{p} row {n} (line {reader.line_num})"
        if None in rec and any(str(x).strip() for x in rec[None] or []):
            raise LabelError(f"{where}: more fields than the header has columns (quote notes that contain commas).")
        for c in REQUIRED:
            if not vals.get(c):
                raise LabelError(f"{where}: empty {c!r}.")
        row_setup = vals.get("setup") or None
        if setup_id and row_setup and row_setup != setup_id:
            skipped.append(n)
            continue
        try:
            symbol = get_instrument(vals["symbol"]).symbol
        except ItaError as exc:
            raise LabelError(f"{where}: {exc}") from None
        try:
            tf = normalize_tf(vals["timeframe"])
        except DataError:
            raise LabelError(f"{where}: unknown timeframe {vals['timeframe']!r}.{closest(vals['timeframe'].upper(), TIMEFRAMES)} "
                             f"Use one of: {', '.join(TIMEFRAMES)}.") from None
        d = DIRECTIONS.get(vals["direction"].lower())
        if d is None:
            raise LabelError(f"{where}: direction {vals['direction']!r} is not long, short, buy or sell.")
        zone = _zone(vals["tz"], f"{where}: tz") if vals.get("tz") else default_tz
        t, zone = _parse_time(vals["time"], zone, where)
        step = tf_delta(tf)
        bar = t.floor(step) if step <= pd.Timedelta(hours=1) else t
        shot = None
        if vals.get("screenshot"):
            cand = Path(vals["screenshot"]).expanduser()
            if not cand.is_absolute():
                cand = (shots_dir or p.parent) / cand
            if not cand.is_file():
                raise LabelError(f"{where}: screenshot {vals['screenshot']!r} not found (looked for {cand}).")
            shot = cand
        elif shots_dir is not None:
            shot = _find_screenshot(n, shots_dir)
        rows.append({"label": n, "line": reader.line_num, "symbol": symbol, "timeframe": tf, "direction": d,
                     "time": t, "bar_time": bar, "time_text": vals["time"], "tz": zone, "setup": row_setup,
                     "screenshot": str(shot) if shot else None, "note": vals.get("note", "")})
    if not rows:
        what = f"rows for setup {setup_id!r} (all {len(skipped)} name another setup)" if skipped else "label rows"
        raise LabelError(f"{p}: no {what}; expected a header with columns {', '.join(REQUIRED)} and one row per label.")
    df = _objects(pd.DataFrame(rows, columns=LABEL_COLUMNS), ("setup", "screenshot"))
    for c in ("time", "bar_time"):
        df[c] = pd.DatetimeIndex(df[c]).tz_convert("UTC").as_unit("ns")
    return LabelFile(path=p, labels=df, skipped=skipped)


# ---------------------------------------------------------------------------------------------- matching

def _objects(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Make ``cols`` plain object columns with ``None`` for missing values (pandas ≥ 3 infers a string
    dtype whose missing value is NaN, which is truthy)."""
    for c in cols:
        if c in df.columns:
            df[c] = pd.Series([None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else v
                               for v in df[c].tolist()], index=df.index, dtype=object)
    return df


def _meta(v) -> dict:
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str) and v.strip().startswith("{"):
        try:
            out = json.loads(v)
            return out if isinstance(out, dict) else {}
        except ValueError:
            return {}
    return {}


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
        zt = _utc(ev.get("time"))
        if zt is None:
            return
        conf = _utc(ev.get("confirmed_at"))  # close of the third candle
        add(zt - step, "FVG candle 1", zone_roles)
        add(zt, "FVG candle 2", zone_roles)
        add(conf - step if conf is not None else zt + step, "FVG candle 3", zone_roles)

    meta = _meta(signal.get("meta"))
    steps = [e for e in (meta.get("steps") or []) if isinstance(e, Mapping)]
    if steps:
        for ev in steps:
            kind = str(ev.get("step", ""))
            t, bar = _utc(ev.get("time")), _utc(ev.get("bar_time"))
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
            add(_utc(zone.get("time")), "zone", zone_roles)
        if brk:
            add(_utc(brk.get("time")), "break bar")
    add(_utc(signal.get("time")), "signal bar")
    out = {}
    for t in sorted(set(zone_roles) | set(roles)):
        names = zone_roles.get(t, []) + roles.get(t, [])
        out[t] = names[0] + (f" ({', '.join(names[1:])})" if len(names) > 1 else "")
    return out


def signal_span(signal: Mapping, step: pd.Timedelta) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(first, last)`` UTC bar opens of a signal's setup candles (see :func:`signal_candles`); ``last``
    is never before the signal bar."""
    c = signal_candles(signal, step)
    t = _utc(signal.get("time"))
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
    :data:`METRIC_LABELS`; ``candles``: the frames used, by symbol.
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


def _day(v) -> pd.Timestamp:
    t = pd.Timestamp(v)
    if t.tzinfo is not None:
        t = t.tz_localize(None)
    return t.normalize()


def _period_bound(v, what: str) -> pd.Timestamp | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        return _day(v)
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
    lo = _period_bound(start, "--from") or labs["day"].min()
    hi = _period_bound(end, "--to") or labs["day"].max()
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
    sig["day"] = [_day(d) for d in sig["day"]] if len(sig) else pd.Series(dtype="datetime64[ns]")
    sig["time"] = pd.DatetimeIndex(sig["time"]).tz_convert("UTC") if len(sig) else sig.get("time")
    why = pd.concat(why_parts, ignore_index=True)
    why["day"] = [_day(d) for d in why["day"]] if len(why) else why["day"]
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
    _objects(res, ("setup", "screenshot", "signal_id", "nearest_signal_id", "nearest_direction"))

    sig = sig.copy()
    sig["label"] = pd.array([int(labels_num[sig_to_lab[i]]) if i in sig_to_lab else pd.NA for i in range(len(sig))],
                            dtype="Int64")
    sig["in_period"] = (sig["day"] >= lo) & (sig["day"] <= hi) if len(sig) else pd.Series(dtype=bool)
    unl = sig[sig["in_period"] & sig["label"].isna()].sort_values("time", kind="stable").reset_index(drop=True)
    hits = int((res["result"] == "hit").sum())
    n = len(res)
    metrics = pd.Series({
        "Start": lo, "End": hi, "Labels": n, "Hits": hits, "Misses": n - hits,
        "Detections": int(sig["in_period"].sum()) if len(sig) else 0,
        "Unlabelled": len(unl),
        "Precision [%]": 100.0 * hits / (hits + len(unl)) if hits + len(unl) else float("nan"),
        "Recall [%]": 100.0 * hits / n if n else float("nan"),
        "Tolerance [bars]": int(tolerance),
    }, dtype=object)
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
                    out[_day(r["day"])] = {"session": r.get("session", "session"), "high": float(r["high"]),
                                           "low": float(r["low"]), "start": _utc(r["start"]), "end": _utc(r["end"])}
        return out
    except Exception:  # noqa: BLE001 - decoration only
        return {}


# ---------------------------------------------------------------------------------------------- run folder

@dataclass
class VerifyRun:
    """A written verification run: the :class:`VerifyResult`, its folder and files (name → path)."""

    run_id: str
    run_dir: Path
    result: VerifyResult
    label_file: LabelFile
    artifacts: dict[str, Path]
    warnings: list[str] = field(default_factory=list)


def _iso(t) -> str:
    t = _utc(t)
    return "" if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_local(t, tz: str) -> str:
    t = _utc(t)
    if t is None:
        return ""
    if tz.startswith("UTC") and len(tz) > 3:
        sign = 1 if tz[3] == "+" else -1
        hh, mm = tz[4:].split(":")
        return (t + sign * pd.Timedelta(hours=int(hh), minutes=int(mm))).strftime("%Y-%m-%d %H:%M")
    return t.tz_convert(tz).strftime("%Y-%m-%d %H:%M")


def verify_table(res: VerifyResult) -> pd.DataFrame:
    """The ``verify.csv`` rows: one per label (``kind`` label) then one per unlabelled detection (``kind``
    unlabelled); times as UTC ISO-8601 plus the label's own zone and New York wall-clock."""
    rows = []
    for r in res.labels.to_dict("records"):
        rows.append({
            "kind": "label", "label": r["label"], "symbol": r["symbol"], "timeframe": r["timeframe"],
            "direction": r["direction"], "result": r["result"], "time_utc": _iso(r["bar_time"]),
            "time_label": r["time_text"], "label_tz": r["tz"], "time_ny": fmt_local(r["bar_time"], NY),
            "day": f"{r['day']:%Y-%m-%d}", "signal_id": r["signal_id"] or "", "signal_time_utc": _iso(r["signal_time"]),
            "signal_time_ny": fmt_local(r["signal_time"], NY),
            "offset_bars": "" if pd.isna(r["offset_bars"]) else round(float(r["offset_bars"]), 2), "at": r["at"],
            "nearest_signal_id": r["nearest_signal_id"] or "", "nearest_direction": r["nearest_direction"] or "",
            "nearest_time_ny": fmt_local(r["nearest_time"], NY),
            "nearest_bars": "" if pd.isna(r["nearest_bars"]) else round(float(r["nearest_bars"]), 2),
            "rule_reason": r["rule_reason"], "why": r["why"], "note": r["note"], "screenshot": r["screenshot"] or "",
        })
    for r in res.unlabelled.to_dict("records"):
        rows.append({
            "kind": "unlabelled", "label": "", "symbol": r["symbol"], "timeframe": r["tf"], "direction": r["direction"],
            "result": "unlabelled", "time_utc": _iso(r["time"]), "time_label": "", "label_tz": "",
            "time_ny": fmt_local(r["time"], NY), "day": f"{_day(r['day']):%Y-%m-%d}", "signal_id": r["signal_id"],
            "signal_time_utc": _iso(r["time"]), "signal_time_ny": fmt_local(r["time"], NY), "offset_bars": "", "at": "",
            "nearest_signal_id": "", "nearest_direction": "", "nearest_time_ny": "", "nearest_bars": "",
            "rule_reason": "signal", "why": "detection without a label in the checked period", "note": "",
            "screenshot": "",
        })
    return pd.DataFrame(rows)


def _json_metric(v):
    if isinstance(v, pd.Timestamp):
        return f"{v:%Y-%m-%d}"
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else round(float(v), 6)
    return v


def run_verify(setup_id: str, labels_path, *, tz: str = "UTC", screenshots=None, tolerance: int = 3, start=None,
               end=None, version=None, html: bool = True, png: bool = False,
               progress: Callable[[str], None] | None = None) -> VerifyRun:
    """Read ``labels_path``, load candles from the store (importing the sample data on first use), verify,
    and write the run folder ``$ITA_RUNS_DIR/verify_<UTC time>_<hash>/``:

    ``verify.csv`` (:func:`verify_table`), ``summary.json`` (metrics, setup version and hash, options),
    ``labels.csv`` (a copy of the input), ``report.html`` (``html``; our chart of every case beside the
    trader's screenshot, :func:`ita.charts.verify_report.verify_report_html`) and ``case_NN.png`` per label
    (``png``; needs Chromium, ~0.5 s each). The folder is built under a temporary name and renamed when
    complete. Raises :class:`~ita.errors.ItaError` subclasses for bad labels, setup, symbol or period.
    """
    from ita.data.store import SAMPLE_FILES, CandleStore
    from ita.setups import load_setup

    say = progress or (lambda _m: None)
    loaded = load_setup(setup_id, version)
    lf = read_labels(labels_path, tz=tz, screenshots=screenshots, setup_id=loaded.id)
    if tolerance < 0:
        raise ItaError(f"--tolerance must be ≥ 0 bars, got {tolerance}.")
    lo = _period_bound(start, "--from")
    hi = _period_bound(end, "--to")
    stz = loaded.setup.timezone
    days = [trading_day(t, stz) for t in lf.labels["bar_time"]]
    first = min([*days, *([lo] if lo is not None else [])])
    last = max([*days, *([hi] if hi is not None else [])])
    store = CandleStore()
    tf = loaded.setup.timeframe
    candles = {}
    for sym in sorted(lf.labels["symbol"].unique()):
        if sym in SAMPLE_FILES and "M5" not in store.stored_timeframes(sym):
            store.ensure_samples([sym], log=say)
        say(f"Loading {sym} {tf} candles {first.date()} → {last.date()}")
        candles[sym] = store.load(sym, tf, first - warmup(loaded.setup) - pd.Timedelta(days=1),
                                  last + pd.Timedelta(days=2))
    say(f"Evaluating {loaded.label} and matching {len(lf.labels)} labels (tolerance {tolerance} bars)")
    res = verify_labels(loaded, lf.labels, candles, tolerance=tolerance, start=lo, end=hi)

    from ita.store import new_run_folder

    run_id, tmp, final, created = new_run_folder("verify", f"{loaded.effective_hash}{lf.path.resolve()}{tolerance}")
    artifacts: dict[str, Path] = {}
    warnings: list[str] = []
    try:
        tmp.mkdir(parents=True)
        verify_table(res).to_csv(tmp / "verify.csv", index=False)
        artifacts["verify.csv"] = final / "verify.csv"
        shutil.copyfile(lf.path, tmp / "labels.csv")
        artifacts["labels.csv"] = final / "labels.csv"
        if html or png:
            from ita.charts.verify_report import case_pngs, verify_report_html

            title = f"{loaded.label} · labels {lf.path.name}"
            if html:
                say("Writing the HTML report (our chart of each case beside the trader's screenshot)")
                verify_report_html(res, tmp / "report.html", title=title)
                artifacts["report.html"] = final / "report.html"
            if png:
                say("Rendering case PNGs")
                try:
                    for name in case_pngs(res, tmp):
                        artifacts[name] = final / name
                except ItaError as exc:
                    warnings.append(f"PNG charts skipped: {exc}")
        summary = {
            "run_id": run_id, "kind": "verify", "setup_id": loaded.id, "setup_version": loaded.version,
            "setup_hash": loaded.content_hash, "setup_file": str(loaded.path), "labels_file": str(lf.path.resolve()),
            "tz_default": tz, "tolerance_bars": int(tolerance), "skipped_rows": lf.skipped,
            "period": [f"{res.start:%Y-%m-%d}", f"{res.end:%Y-%m-%d}"],
            "metrics": {k: _json_metric(v) for k, v in res.metrics.items()},
            "hits": [int(x) for x in res.labels.loc[res.labels["result"] == "hit", "label"]],
            "misses": [int(x) for x in res.labels.loc[res.labels["result"] == "miss", "label"]],
            "unlabelled": list(res.unlabelled["signal_id"]),
            "artifacts": {k: str(v) for k, v in artifacts.items()},
            "warnings": warnings, "created_at": created.isoformat(timespec="seconds"),
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        artifacts = {"summary.json": final / "summary.json", **artifacts}
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return VerifyRun(run_id=run_id, run_dir=final, result=res, label_file=lf, artifacts=artifacts, warnings=warnings)
