"""Reading and validating the trader's labels CSV (format: :mod:`ita.verify`)."""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pandas as pd

from ita.data.instruments import get_instrument
from ita.data.timeframes import TIMEFRAMES, normalize_tf, tf_delta
from ita.errors import DataError, ItaError, closest
from ita.times import utc

REQUIRED = ("symbol", "timeframe", "time", "direction")
OPTIONAL = ("setup", "tz", "screenshot", "note")
DIRECTIONS = {"long": "long", "buy": "long", "short": "short", "sell": "short"}
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp")

LABEL_COLUMNS = ["label", "line", "symbol", "timeframe", "direction", "time", "bar_time", "time_text", "tz",
                 "setup", "screenshot", "note"]

_TIME_RE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
                      r"\s*(Z|[+-]\d{2}(:?\d{2})?)?$", re.IGNORECASE)


def object_columns(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Make ``cols`` plain object columns with ``None`` for missing values (pandas ≥ 3 infers a string
    dtype whose missing value is NaN, which is truthy)."""
    for c in cols:
        if c in df.columns:
            df[c] = pd.Series([None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else v
                               for v in df[c].tolist()], index=df.index, dtype=object)
    return df


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
    df = object_columns(pd.DataFrame(rows, columns=LABEL_COLUMNS), ("setup", "screenshot"))
    for c in ("time", "bar_time"):
        df[c] = pd.DatetimeIndex(df[c]).tz_convert("UTC").as_unit("ns")
    return LabelFile(path=p, labels=df, skipped=skipped)



def fmt_local(t, tz: str) -> str:
    """An instant (anything :func:`ita.times.utc` takes) as ``YYYY-MM-DD HH:MM`` wall-clock in ``tz`` (an IANA
    zone or a fixed ``UTC±HH:MM``); ``""`` when missing."""
    t = utc(t)
    if t is None:
        return ""
    if tz.startswith("UTC") and len(tz) > 3:
        sign = 1 if tz[3] == "+" else -1
        hh, mm = tz[4:].split(":")
        return (t + sign * pd.Timedelta(hours=int(hh), minutes=int(mm))).strftime("%Y-%m-%d %H:%M")
    return t.tz_convert(tz).strftime("%Y-%m-%d %H:%M")
