"""Candle file formats, detected from the content: what a trader downloads or exports, read without a conversion
script.

=====================  ====================================================================  =======================
format (``--format``)  layout (first lines)                                                  clock of the times
=====================  ====================================================================  =======================
``mt5``                MT5 Python / ``copy_rates`` CSV: ``time,open,high,low,close,          the broker's server
                       tick_volume,spread,real_volume``, ``YYYY.MM.DD HH:MM:SS``             clock (checked)
``mt5_terminal``       MT5 terminal export (tab): ``<DATE> <TIME> <OPEN> … <TICKVOL> <VOL>   server clock
                       <SPREAD>``
``histdata_mt``        HistData "MetaTrader" CSV, no header: ``2026.01.01,17:00,1.346430,…``  EST, UTC−5 all year
``histdata_ascii``     HistData "ASCII", no header: ``20260101 170000;1.346430;…``           EST, UTC−5 all year
``dukascopy``          ``Gmt time,Open,High,Low,Close,Volume`` with ``01.01.2026              GMT = UTC; "Local
                       00:00:00.000`` (or ``Local time`` … ``GMT+0200``)                    time" carries its
                                                                                             offset
``binance``            Binance kline dump: 12 columns ``open_time`` (epoch ms, or µs since   UTC (epoch)
                       2025), open, high, low, close, volume, close_time, …; header or not
``tradingview``        TradingView chart export: ``time,open,high,low,close[,Volume, …]``,    UTC (epoch s)
                       ``time`` in epoch seconds
``generic``            any CSV with a header naming time (or date + time), open, high, low,  server clock, ISO
                       close[, volume, spread]; ``,`` ``;`` or tab; decimal commas with     offsets or epoch
                       ``;``/tab; or no header and ``time, open, high, low, close[, …]``
=====================  ====================================================================  =======================

:func:`parse_text` returns the rows with their times still on the file's clock (naive) unless the file itself
fixes them to UTC (epoch numbers, explicit offsets); :mod:`ita.data.importer` puts them on a clock.
Bad input raises :class:`~ita.errors.DataError` naming the file and line: a truncated row, a missing or
non-numeric price, an unreadable time, a header without OHLC columns.

Example::

    >>> from ita.data.formats import parse_text
    >>> p = parse_text("2026.01.01,17:00,1.34643,1.34648,1.34643,1.34648,0\\n", "DAT_MT_GBPUSD_M1.csv")
    >>> p.fmt.name, str(p.times[0]), p.values["close"][0]
    ('histdata_mt', '2026-01-01 17:00:00', 1.34648)
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ita.data.validate import describe_lines
from ita.errors import DataError

PRICE = ("open", "high", "low", "close")
VALUES = PRICE + ("volume", "spread")


@dataclass(frozen=True)
class Format:
    """A file format: ``name`` (what ``--format`` takes), ``title`` (for people), ``clock`` the clock its
    times are documented to be on (``None``: the broker's server clock, to be given or inferred)."""

    name: str
    title: str
    clock: str | None = None
    note: str = ""


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("mt5", "MetaTrader 5 CSV (time,open,high,low,close,tick_volume,spread,real_volume)"),
    Format("mt5_terminal", "MetaTrader 5 terminal export (<DATE> <TIME> <OPEN> …)"),
    Format("histdata_mt", "HistData MetaTrader CSV (YYYY.MM.DD,HH:MM,…, no header)", "UTC-5",
           "HistData files are on EST without daylight saving: UTC−5 all year"),
    Format("histdata_ascii", "HistData ASCII (YYYYMMDD HHMMSS;…, no header)", "UTC-5",
           "HistData files are on EST without daylight saving: UTC−5 all year"),
    Format("dukascopy", "Dukascopy CSV (Gmt time / Local time, dd.mm.yyyy HH:MM:SS.000)", "UTC",
           "Dukascopy's 'Gmt time' is UTC"),
    Format("binance", "Binance kline dump (open_time in epoch ms/µs, 12 columns)", "UTC",
           "Binance kline times are epoch numbers: UTC by definition"),
    Format("tradingview", "TradingView chart export (time in epoch seconds)", "UTC",
           "TradingView exports epoch seconds: UTC by definition"),
    Format("generic", "OHLCV CSV"),
)}

_ALIASES = {
    "time": {"time", "datetime", "date_time", "timestamp", "date time", "gmt time", "local time", "open_time",
             "open time", "opentime", "time (utc)", "time utc", "date/time"},
    "date": {"date", "day"},
    "open": {"open", "o"},
    "high": {"high", "h"},
    "low": {"low", "l"},
    "close": {"close", "c", "last"},
    "volume": {"tick_volume", "tickvol", "tick volume", "volume", "vol", "v"},
    "spread": {"spread"},
    "real_volume": {"real_volume", "real volume"},
}
_TIME_FORMATS = ["%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d %H%M%S",
                 "%Y%m%d %H%M", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y.%m.%d", "%Y-%m-%d"]
_BINANCE = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
            "taker_buy_volume", "taker_buy_quote_volume", "ignore"]
_LAYOUTS = {  # header-less layouts: column names in file order (None = not read)
    "histdata_mt": ["date", "time", "open", "high", "low", "close", "volume"],
    "histdata_ascii": ["time", "open", "high", "low", "close", "volume"],
    "binance": ["time", "open", "high", "low", "close", "volume"] + [None] * 6,
}


@dataclass
class Parsed:
    """A parsed candle file, not yet validated: ``times`` (naive wall times on the file's clock, or tz-aware
    UTC when ``time_basis`` says the file fixes them), ``values`` (``open…spread`` float arrays; spread NaN
    when absent), ``lines`` (the file line of each row), ``fmt``, ``where`` (the file), ``decimal_comma``."""

    fmt: Format
    times: pd.DatetimeIndex
    values: dict[str, np.ndarray]
    lines: np.ndarray
    where: str
    time_basis: str | None = None
    decimal_comma: bool = False

    def __len__(self) -> int:
        return len(self.times)


def canonical_name(col: str) -> str | None:
    key = col.strip().strip("<>").strip().lower()
    for canon, names in _ALIASES.items():
        if key in names:
            return canon
    return None


def _check_text(text: str, where: str) -> None:
    if not text.strip():
        raise DataError(f"{where}: the file is empty.")
    head = text[:4096]
    odd = sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    if "\x00" in head or odd > max(8, len(head) // 50):
        raise DataError(f"{where}: this is not a text CSV (binary content in the first bytes) — perhaps another "
                        "file renamed .csv, or an archive with another extension. ITA reads .csv/.txt files, "
                        ".gz and .zip archives of them, and folders of them.")


def _sep(first: str) -> str:
    counts = {s: first.count(s) for s in ("\t", ";", ",")}
    if counts["\t"]:
        return "\t"
    if counts[";"]:
        return ";"
    return ","


def _has_header(fields: list[str]) -> bool:
    f0 = fields[0].strip().strip('"')
    return bool(re.search(r"[A-Za-z<]", f0)) and not re.fullmatch(r"[\d.\-/: T]+(?:Z|[+-]\d\d:?\d\d)?", f0)


def sniff(text: str, where: str) -> Format:
    """The format of a candle file from its first lines (table in the module doc). Raises :class:`DataError`
    for a file without a header whose rows match no header-less layout."""
    _check_text(text, where)
    lines = [ln for ln in text.splitlines()[:3] if ln.strip()]
    first = lines[0].lstrip("\ufeff")
    fields = [f.strip().strip('"') for f in first.split(_sep(first))]
    if _has_header(fields):
        names = [f.strip("<>").strip().lower() for f in fields]
        if first.startswith("<") and "date" in names:
            return FORMATS["mt5_terminal"]
        if "open_time" in names or ("close_time" in names and len(names) == 12):
            return FORMATS["binance"]
        if names[0] in ("gmt time", "local time"):
            return FORMATS["dukascopy"]
        if "tick_volume" in names or "real_volume" in names:
            return FORMATS["mt5"]
        if names[0] == "time" and len(lines) > 1:
            v0 = lines[1].split(_sep(first))[0].strip().strip('"')
            if re.fullmatch(r"\d{9,11}", v0):
                return FORMATS["tradingview"]
        return FORMATS["generic"]
    f0 = fields[0]
    if re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", f0) and len(fields) > 1 and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", fields[1]):
        return FORMATS["histdata_mt"]
    if re.fullmatch(r"\d{8} \d{6}", f0):
        return FORMATS["histdata_ascii"]
    if re.fullmatch(r"\d{12,17}", f0) and len(fields) >= 6:
        return FORMATS["binance"]
    if len(fields) >= 5 and _looks_like_time(f0):
        return FORMATS["generic"]
    raise DataError(
        f"{where}: the first line {first[:80]!r} is neither a header nor a known header-less layout (HistData "
        "'2026.01.01,17:00,…' or '20260101 170000;…', Binance klines, or time,open,high,low,close rows). Add a "
        "header line naming the columns, e.g. time,open,high,low,close,volume."
    )


def probe(text: str, where: str) -> Format:
    """:func:`sniff` plus the column check: the format when ``text`` reads as candles, else :class:`DataError`
    (a readme or a status report beside the candle files)."""
    f = sniff(text, where)
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    _columns(text, f, _sep(first), where)
    return f


def _looks_like_time(v: str) -> bool:
    return bool(re.fullmatch(r"\d{4}[.\-/]\d{2}[.\-/]\d{2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?", v)
                or re.fullmatch(r"\d{9,11}", v))


def _columns(text: str, fmt: Format, sep: str, where: str) -> tuple[list[str], bool]:
    """(column roles in file order, whether the first line is a header)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    fields = [f.strip().strip('"') for f in first.split(sep)]
    header = _has_header(fields)
    if fmt.name in _LAYOUTS and not header:
        roles = list(_LAYOUTS[fmt.name])
        if len(fields) < len([r for r in roles if r]):
            raise DataError(f"{where}: line 1 has {len(fields)} fields; the {fmt.title} layout has {len(roles)}.")
        return (roles + [None] * (len(fields) - len(roles)))[: len(fields)], False
    if not header:  # generic rows without a header: time, open, high, low, close[, volume[, spread]]
        base = ["time", "open", "high", "low", "close", "volume", "spread"]
        return [base[k] if k < len(base) else None for k in range(len(fields))], False
    roles: list[str | None] = []
    for f in fields:
        n = canonical_name(f)
        roles.append(n if n and n not in roles and n != "real_volume" else None)
    missing = [c for c in PRICE if c not in roles]
    if missing or ("time" not in roles and "date" not in roles):
        need = missing + ([] if ("time" in roles or "date" in roles) else ["time"])
        raise DataError(
            f"{where}: header {first!r} lacks column(s) {', '.join(need)}. Expected MT5 "
            "'time,open,high,low,close,tick_volume,spread,real_volume' or any CSV with time (or date+time), open, "
            "high, low, close — or a known header-less layout (HistData, Binance klines; `--format` lists them)."
        )
    return roles, True


def parse_text(text: str, where: str, fmt: str | Format | None = None, line_offset: int = 0) -> Parsed:
    """Parse a candle file's text (format detected by :func:`sniff` unless ``fmt`` names one). ``line_offset``
    is added to every line number (a chunk of a file). Raises :class:`DataError` naming file and line."""
    _check_text(text, where)
    if fmt is None:
        f = sniff(text, where)
    elif isinstance(fmt, Format):
        f = fmt
    else:
        key = str(fmt).strip().lower().replace("-", "_")
        if key not in FORMATS:
            from ita.errors import closest

            raise DataError(f"Unknown format {fmt!r}.{closest(key, FORMATS)} Formats: {', '.join(FORMATS)}.")
        f = FORMATS[key]
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    sep = _sep(first)
    roles, header = _columns(text, f, sep, where)
    decimal = _decimal(text, sep, header)
    raw, lines = _read_fast(text, sep, roles, header, decimal, line_offset)
    if raw is None:
        raw, lines = _read_slow(text, sep, roles, header, decimal, where, line_offset, first)
    if len(raw) == 0:
        raise DataError(f"{where}: the file has a header but no rows.")
    values = {c: raw[c].to_numpy(dtype="float64") if c in raw else np.full(len(raw), np.nan if c == "spread" else 0.0)
              for c in VALUES}
    if "date" in raw and "time" in raw:
        tcol = raw["date"].astype(str).str.strip() + " " + raw["time"].astype(str).str.strip()
    else:
        tcol = raw["time"] if "time" in raw else raw["date"]
    local = f.name == "dukascopy" and first.strip().lower().startswith("local")
    times, basis = parse_times(tcol, lines, where, f, local=local)
    if basis and f.name == "generic" and basis.startswith("epoch seconds"):
        f = FORMATS["tradingview"] if header and str(first.split(sep)[0]).strip().lower() == "time" else f
    return Parsed(f, times, values, lines, where, basis, decimal == ",")


def _decimal(text: str, sep: str, header: bool) -> str:
    if sep == ",":
        return "."
    rows = text.split("\n", 3)[1 if header else 0: 3]
    cells = [c.strip() for r in rows for c in r.split(sep)[1:]]
    commas = sum(bool(re.fullmatch(r"-?\d+,\d+", c)) for c in cells)
    return "," if commas and commas >= sum(bool(re.fullmatch(r"-?\d+\.\d+", c)) for c in cells) else "."


def _read_fast(text: str, sep: str, roles, header: bool, decimal: str, line_offset: int):
    """The C parser straight to float prices; None when anything is irregular (the slow path names the lines)."""
    if "\n\n" in text or "\r\n\r\n" in text or '"' in text[:2000]:
        return None, None
    last = text.rstrip("\r\n").rsplit("\n", 1)[-1]
    if last.count(sep) + 1 != len(roles):      # a row cut short (or too long) at the end: name it
        return None, None
    every = [r or f"_{k}" for k, r in enumerate(roles)]
    names = [r for r in roles if r]
    dtype = {r: ("float64" if r in VALUES else str) for r in names}
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, names=every, usecols=names,
                          dtype=dtype, decimal=decimal, engine="c", skipinitialspace=True, keep_default_na=False,
                          na_values={r: [""] for r in names if r in VALUES}, index_col=False)
    except (ValueError, pd.errors.ParserError):
        return None, None
    if any(raw[c].isna().any() for c in names if c in VALUES) or list(raw.columns) != names:
        return None, None
    if any((raw[c].astype(str).str.len() == 0).any() for c in ("time", "date") if c in raw):
        return None, None
    start = (2 if header else 1) + line_offset
    return raw, np.arange(start, start + len(raw))


def _read_slow(text: str, sep: str, roles, header: bool, decimal: str, where: str, line_offset: int, first: str):
    """Every cell as text with its file line: one clear message naming the lines for what the fast path refused."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    recs, lines = [], []
    for rec in reader:
        if any(f.strip() for f in rec):
            recs.append(rec)
            lines.append(reader.line_num + line_offset)
    if header:
        recs, lines = recs[1:], lines[1:]
    lines = np.asarray(lines, dtype="int64")
    ncols = len(roles)
    nfields = np.asarray([len(r) for r in recs], dtype="int64")
    long = nfields > ncols
    if long.any():
        raise DataError(f"{where}: more fields than the {'header' if header else 'first line'} ({ncols}) on "
                        f"{describe_lines(long, lines)}: malformed CSV (each row needs the same number of fields).")
    short = nfields < ncols
    only_last = len(recs) > 1 and bool(short[-1]) and not short[:-1].any()
    hint = " The file looks truncated (the last row is incomplete); export or download it again." if only_last else ""
    if short.any():
        raise DataError(f"{where}: fewer fields than the {'header' if header else 'first line'} ({ncols}) on "
                        f"{describe_lines(short, lines)}.{hint}")
    cols = {}
    for k, r in enumerate(roles):
        if r:
            cols[r] = pd.Series([rec[k].strip() for rec in recs], dtype=object)
    raw = pd.DataFrame(cols)
    bad = np.zeros(len(raw), dtype=bool)
    for c in VALUES:
        if c in raw:
            s = raw[c].str.replace(",", ".", regex=False) if decimal == "," else raw[c]
            num = pd.to_numeric(s, errors="coerce")
            if c in PRICE:
                bad |= num.isna().to_numpy()
            else:
                num = num.fillna(np.nan if c == "spread" else 0.0)
            raw[c] = num.astype("float64")
    for c in ("time", "date"):
        if c in raw:
            bad |= (raw[c].astype(str).str.len() == 0).to_numpy()
    if bad.any():
        only_last = len(bad) > 1 and bool(bad[-1]) and not bad[:-1].any()
        hint = " The file looks truncated (the last row is incomplete); export it again." if only_last else ""
        if not hint:
            hint = _decimal_comma_hint(cols, bad)
        raise DataError(f"{where}: missing or non-numeric open/high/low/close on {describe_lines(bad, lines)}.{hint}")
    return raw, lines


def _decimal_comma_hint(cols: dict, bad: np.ndarray) -> str:
    cells = pd.concat([cols[c][bad].astype(str) for c in PRICE if c in cols]).head(40)
    if len(cells) and cells.str.fullmatch(r"-?\d+,\d+").mean() > 0.5:
        example = cells[cells.str.fullmatch(r"-?\d+,\d+")].iloc[0]
        return (f" The prices use a decimal comma (e.g. {example!r}) in a comma-separated file, so the columns "
                "cannot be told apart: export with ';' as the separator (ITA then reads the decimal comma) or with "
                "'.' as the decimal separator.")
    return ""


def parse_times(raw: pd.Series, lines: np.ndarray, where: str, fmt: Format | None = None,
                local: bool = False) -> tuple[pd.DatetimeIndex, str | None]:
    """Time texts → (times, basis). Epoch numbers (s, ms, µs by their size) and texts with explicit offsets
    (ISO ``+02:00``, ``Z``, Dukascopy ``GMT+0200``) come back tz-aware UTC with ``basis`` saying so, and so do
    Dukascopy's ``Gmt time`` columns; wall times (and Dukascopy ``Local time`` without an offset, ``local``)
    come back naive (``basis`` None). Raises :class:`DataError` naming lines for unreadable times or a mix of
    times with and without offsets."""
    text = raw.astype(str).str.strip()
    sample = text.iloc[0] if len(text) else ""
    if re.fullmatch(r"\d{9,17}", sample) and text.str.fullmatch(r"\d{9,17}").all():
        digits = len(sample)
        unit, name = ("s", "epoch seconds") if digits <= 11 else ("ms", "epoch milliseconds") if digits <= 14 \
            else ("us", "epoch microseconds")
        n = text.astype("int64")
        if digits > 11 and unit == "ms" and (n > 10**14).any():       # Binance switched ms → µs in 2025
            n = np.where(n > 10**14, n // 1000, n)
        return pd.DatetimeIndex(pd.to_datetime(n, unit=unit, utc=True)), f"{name} (UTC by definition)"
    if fmt is not None and fmt.name == "dukascopy" or re.search(r" GMT[+-]\d{4}$", sample):
        m = text.str.extract(r"^(.*?)(?: GMT([+-])(\d\d)(\d\d))?$")
        body = m[0]
        if m[1].notna().any():
            if m[1].isna().any():
                raise DataError(f"{where}: some times carry 'GMT±hhmm' and some do not; none on "
                                f"{describe_lines(m[1].isna().to_numpy(), lines)}.")
            t = _strptime(body, lines, where, "%d.%m.%Y %H:%M:%S.%f")
            off = (m[1].map({"+": 1, "-": -1}) * (m[2].astype(int) * 60 + m[3].astype(int))).to_numpy()
            utc = (t - pd.to_timedelta(off, unit="min")).tz_localize("UTC")
            return pd.DatetimeIndex(utc), "Dukascopy 'Local time' with its GMT offset on every row"
        t = _strptime(body, lines, where, "%d.%m.%Y %H:%M:%S.%f")
        gmt = fmt is not None and fmt.name == "dukascopy" and not local
        return (pd.DatetimeIndex(t.tz_localize("UTC")), "Dukascopy 'Gmt time' (UTC)") if gmt else (t, None)
    for f in _TIME_FORMATS:
        try:
            pd.to_datetime(pd.Series([sample]), format=f)
        except (ValueError, TypeError):
            continue
        return _strptime(text, lines, where, f), None
    offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).to_numpy()
    if offset.any() and not offset.all():
        raise DataError(
            f"{where}: some times carry a UTC offset and some do not; no offset on {describe_lines(~offset, lines)}. "
            "Give every time an offset, or none (then --server-tz applies)."
        )
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=bool(offset.any()))
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"{where}: unreadable time on {describe_lines(bad, lines)} (first value {sample!r}). "
            "Use 'YYYY.MM.DD HH:MM:SS' (MT5), ISO 8601 or epoch seconds/milliseconds."
        )
    return pd.DatetimeIndex(parsed), ("UTC offsets in the times" if offset.any() else None)


def _strptime(text: pd.Series, lines: np.ndarray, where: str, f: str) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(text, format=f, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(f"{where}: unreadable time on {describe_lines(bad, lines)}; expected format like "
                        f"{text.iloc[0]!r}.")
    return pd.DatetimeIndex(parsed)
