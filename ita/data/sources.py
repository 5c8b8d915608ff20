"""Candle sources behind one interface: MT5 CSV exports / generic OHLCV CSVs, the Parquet store, MetaTrader 5.

Every source returns the **canonical candle frame**:

* index ``time``: bar **open** time, tz-aware ``UTC``, strictly increasing, unique;
* columns ``open, high, low, close`` (float64, price units of the symbol),
  ``volume`` (float64, tick volume where the source has only that), ``spread`` (float64, MT5 points,
  NaN when the source has none).

Broker server time is converted to UTC at this boundary: the caller declares the server's IANA zone
(``Europe/Athens`` matches most MT5 brokers: UTC+2 winter / UTC+3 summer on EU DST dates).

Example::

    >>> from ita.data.sources import CSVFileSource
    >>> src = CSVFileSource("../shared/data/EURUSD_M5_2025.csv", server_tz="Europe/Athens")  # doctest: +SKIP
    >>> src.load("EURUSD", "M5").head(1)                                                       # doctest: +SKIP
                                 open     high      low    close  volume  spread
    time
    2025-01-01 22:05:00+00:00  1.03507  1.03512  1.03495  1.03505    51.0    51.0
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ita.data.validate import describe_lines
from ita.errors import DataError

CANDLE_COLUMNS = ["open", "high", "low", "close", "volume", "spread"]

_ALIASES = {
    "time": {"time", "datetime", "date_time", "timestamp", "date time", "gmt time", "local time"},
    "date": {"date", "day"},
    "open": {"open", "o"},
    "high": {"high", "h"},
    "low": {"low", "l"},
    "close": {"close", "c", "last"},
    "volume": {"tick_volume", "tickvol", "tick volume", "volume", "vol", "v"},
    "spread": {"spread"},
    "real_volume": {"real_volume", "real volume"},
}
_TIME_FORMATS = ["%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y.%m.%d", "%Y-%m-%d"]


class CandleSource(Protocol):
    """Anything that can return canonical candles for a symbol and timeframe."""

    def load(self, symbol: str, timeframe: str, start=None, end=None) -> pd.DataFrame: ...


def resolve_tz(name: str) -> ZoneInfo:
    """IANA zone by name; raises :class:`DataError` with a hint for a wrong ``--server-tz``."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DataError(
            f"Unknown time zone {name!r}. Use an IANA name: most MT5 brokers run on 'Europe/Athens' "
            f"(UTC+2 winter / UTC+3 summer); 'UTC' if the file is already in UTC; 'Etc/GMT-2' for a fixed UTC+2."
        ) from None


def _canonical_name(col: str) -> str | None:
    key = col.strip().strip("<>").strip().lower()
    for canon, names in _ALIASES.items():
        if key in names:
            return canon
    return None


def _parse_times(raw: pd.Series, lines: np.ndarray, where: str) -> pd.DatetimeIndex:
    text = raw.astype(str).str.strip()
    if text.str.fullmatch(r"\d{9,11}").all():  # unix seconds are UTC by definition: --server-tz does not apply
        return pd.DatetimeIndex(pd.to_datetime(text.astype("int64"), unit="s", utc=True))
    sample = text.iloc[0] if len(text) else ""
    for fmt in _TIME_FORMATS:
        try:
            pd.to_datetime(pd.Series([sample]), format=fmt)
        except (ValueError, TypeError):
            continue
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise DataError(f"{where}: unreadable time on {describe_lines(bad, lines)}; expected format like {sample!r}.")
        return pd.DatetimeIndex(parsed)
    offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).to_numpy()
    if offset.any() and not offset.all():
        raise DataError(
            f"{where}: some times carry a UTC offset and some do not; no offset on {describe_lines(~offset, lines)}. "
            "Give every time an offset, or none (then --server-tz applies)."
        )
    # explicit offsets (which change at DST) are converted to UTC here; naive times are localized by the caller
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=bool(offset.any()))
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"{where}: unreadable time on {describe_lines(bad, lines)} (first value {sample!r}). "
            "Use 'YYYY.MM.DD HH:MM:SS' (MT5) or ISO 8601."
        )
    return pd.DatetimeIndex(parsed)


def read_candle_csv(path: str | Path, server_tz: str = "UTC") -> pd.DataFrame:
    """Read an MT5 export or a generic OHLCV CSV into the canonical frame (not yet validated).

    Accepts comma, semicolon or tab separators; MT5's ``<DATE>\\t<TIME>`` exports; a single
    ``time``/``datetime`` column in ``YYYY.MM.DD HH:MM[:SS]``, ISO 8601 (an explicit offset wins over
    ``server_tz``) or unix seconds (UTC by definition; ``server_tz`` does not apply). The original file line of each row is kept in ``df.attrs["lines"]``
    for error messages.

    Raises :class:`DataError` naming the file and line for: a missing file, no header, missing OHLC
    columns, rows with fewer fields than the header or with missing or non-numeric values (a truncated
    file), unreadable times, a mix of times with and without a UTC offset, or server-clock times that do
    not exist / are ambiguous in ``server_tz``. Blank lines are skipped (line numbers stay the file's).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataError(f"{where}: no such file.")
    return parse_candle_text(path.read_text(encoding="utf-8-sig", errors="replace"), where, server_tz)


def _decimal_comma_hint(raw: pd.DataFrame, bad: np.ndarray) -> str:
    """A hint naming decimal commas (``1,03507``) when they are why prices did not read as numbers."""
    cells = pd.concat([raw.loc[bad, c].astype(str).str.strip() for c in ("open", "high", "low", "close")]).head(40)
    if len(cells) and cells.str.fullmatch(r"-?\d+,\d+").mean() > 0.5:
        example = cells[cells.str.fullmatch(r"-?\d+,\d+")].iloc[0]
        return (f" The prices use a decimal comma (e.g. {example!r}); ITA reads a decimal point — export the file "
                "again with '.' as the decimal separator (or replace the commas in the price columns).")
    return ""


def parse_candle_text(text: str, where: str, server_tz: str = "UTC", line_offset: int = 0) -> pd.DataFrame:
    """:func:`read_candle_csv` on text already read: ``text`` starts with the header line; ``where`` names
    the source in messages; ``line_offset`` is added to every line number (for a chunk appended to a file,
    given with the file's header line in front). Raises :class:`DataError` as :func:`read_candle_csv`."""
    tz = resolve_tz(server_tz)
    if not text.strip():
        raise DataError(f"{where}: the file is empty.")
    head = text[:4096]
    odd = sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    if "\x00" in head or odd > max(8, len(head) // 50):
        raise DataError(f"{where}: this is not a text CSV (binary content in the first bytes) — perhaps another "
                        "file renamed .csv, or a compressed archive. Export the candles as CSV (MT5: right-click the "
                        "chart's history → Export bars, or the History Center) and import that file.")
    first = text.splitlines()[0]
    try:
        sep = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise DataError(f"{where}: malformed CSV: {exc}. Each row needs the same number of fields as the header.") from None
    ncols = len(raw.columns)
    # original file line of each row (pandas skips blank lines) and its field count, to name lines in
    # messages and to catch rows with fewer fields than the header (a file cut off mid-row)
    rec_lines, rec_fields = [], []
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    for rec in reader:
        if any(f.strip() for f in rec):
            rec_lines.append(reader.line_num)
            rec_fields.append(len(rec))
    if len(rec_lines) == len(raw) + 1:
        lines, nfields = np.asarray(rec_lines[1:]) + line_offset, np.asarray(rec_fields[1:])
    else:  # quoting or layouts the simple count cannot follow: fall back to one row per line
        lines, nfields = np.arange(2, len(raw) + 2) + line_offset, np.full(len(raw), ncols)
    names: dict[str, str] = {}
    for c in raw.columns:  # the first column of each kind wins (MT5 tab exports have <TICKVOL> and <VOL>)
        n = _canonical_name(c)
        if n and n not in names.values():
            names[c] = n
    raw = raw[[c for c in raw.columns if c in names or _canonical_name(c) is None]]
    raw = raw.rename(columns=names)
    missing = [c for c in ("open", "high", "low", "close") if c not in raw.columns]
    has_time = "time" in raw.columns or "date" in raw.columns
    if missing or not has_time:
        need = missing + ([] if has_time else ["time"])
        raise DataError(
            f"{where}: header {first!r} lacks column(s) {', '.join(need)}. "
            "Expected MT5 'time,open,high,low,close,tick_volume,spread,real_volume' or any CSV with "
            "time (or date+time), open, high, low, close."
        )
    if len(raw) == 0:
        raise DataError(f"{where}: the file has a header but no rows.")
    if "date" in raw.columns and "time" in raw.columns:
        tcol = raw["date"].astype(str).str.strip() + " " + raw["time"].astype(str).str.strip()
    else:
        tcol = raw["time"] if "time" in raw.columns else raw["date"]
    empty = (tcol.astype(str).str.strip() == "").to_numpy()
    num = {}
    for c in ("open", "high", "low", "close", "volume", "spread"):
        if c in raw.columns:
            num[c] = pd.to_numeric(raw[c].astype(str).str.strip(), errors="coerce").to_numpy(dtype="float64")
        else:
            num[c] = np.full(len(raw), np.nan if c == "spread" else 0.0)
    ohlc_nan = np.zeros(len(raw), dtype=bool)
    for c in ("open", "high", "low", "close"):
        ohlc_nan |= np.isnan(num[c])
    short = nfields < ncols
    bad = ohlc_nan | empty | short
    if bad.any():
        only_last = len(bad) > 1 and bool(bad[-1]) and not bad[:-1].any()
        hint = " The file looks truncated (the last row is incomplete); export it again." if only_last else ""
        if short.any():
            raise DataError(f"{where}: fewer fields than the header ({ncols}) on {describe_lines(short, lines)}.{hint}")
        if not hint:
            hint = _decimal_comma_hint(raw, bad)
        raise DataError(f"{where}: missing or non-numeric open/high/low/close on {describe_lines(bad, lines)}.{hint}")
    times = _parse_times(tcol, lines, where)
    if times.tz is not None:
        idx = times.tz_convert("UTC")
    else:
        local = times.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        dst = np.asarray(local.isna())
        if dst.any():
            raise DataError(
                f"{where}: times on {describe_lines(dst, lines)} (first {times[dst][0]}) do not exist or are ambiguous "
                f"in {server_tz} (a DST switch). Check --server-tz: MT5 servers normally jump their clock over "
                "the weekend, so such bars suggest the file is in another zone."
            )
        idx = local.tz_convert("UTC")
    df = pd.DataFrame({c: num[c] for c in CANDLE_COLUMNS}, index=pd.DatetimeIndex(idx, name="time").as_unit("ns"))
    df.attrs["lines"] = lines
    df.attrs["source"] = where
    return df


class CSVFileSource:
    """A CSV file (MT5 export or generic OHLCV) as a :class:`CandleSource`.

    The file is re-read on every :meth:`load`, so a file a terminal keeps appending to is picked up.
    ``symbol`` and ``timeframe`` are only checked against the instrument registry; the file holds one series.
    """

    def __init__(self, path: str | Path, server_tz: str = "UTC"):
        self.path = Path(path)
        self.server_tz = server_tz

    def load(self, symbol: str, timeframe: str, start=None, end=None) -> pd.DataFrame:
        from ita.data.validate import validate_candles

        df = read_candle_csv(self.path, self.server_tz)
        df, _ = validate_candles(df, symbol=symbol, timeframe=timeframe, where=str(self.path))
        return df.loc[_ts(start) : _ts(end)] if (start is not None or end is not None) else df


class MT5Source:
    """MetaTrader 5 terminal as a :class:`CandleSource` (Windows only; ``pip install 'ita[mt5]'``).

    ``MetaTrader5`` is imported lazily on first use; MT5 returns bar times in the broker's server clock,
    which is converted from ``server_tz`` to UTC like the CSV exports. Raises :class:`DataError` when the
    package is missing, the terminal cannot be initialised, or the symbol returns no bars.
    """

    _TF = {"M1": "TIMEFRAME_M1", "M5": "TIMEFRAME_M5", "M15": "TIMEFRAME_M15", "M30": "TIMEFRAME_M30",
           "H1": "TIMEFRAME_H1", "H4": "TIMEFRAME_H4", "D1": "TIMEFRAME_D1"}

    def __init__(self, server_tz: str = "Europe/Athens", **initialize_kwargs):
        self.server_tz = server_tz
        self.initialize_kwargs = initialize_kwargs
        self._mt5 = None

    def _client(self):
        if self._mt5 is None:
            try:
                import MetaTrader5 as mt5  # noqa: N813  (Windows-only wheel)
            except ImportError:
                raise DataError(
                    "The MetaTrader5 package is not installed. It exists for Windows only: on the Windows "
                    "machine running the terminal, `pip install \"ita[mt5]\"`. Elsewhere, export CSVs from the "
                    "terminal and load them with `ita data import FILE --symbol SYM --timeframe M5 --server-tz Europe/Athens`."
                ) from None
            if not mt5.initialize(**self.initialize_kwargs):
                raise DataError(f"MetaTrader 5 terminal could not be initialised: {mt5.last_error()}")
            self._mt5 = mt5
        return self._mt5

    def load(self, symbol: str, timeframe: str, start=None, end=None, count: int = 100_000) -> pd.DataFrame:
        from ita.data.timeframes import normalize_tf
        from ita.data.validate import validate_candles

        mt5 = self._client()
        tf_const = getattr(mt5, self._TF[normalize_tf(timeframe)])
        if start is not None:
            end_ts = _ts(end) if end is not None else pd.Timestamp.now(tz="UTC")
            rates = mt5.copy_rates_range(symbol, tf_const, _ts(start).to_pydatetime(), end_ts.to_pydatetime())
        else:
            rates = mt5.copy_rates_from_pos(symbol, tf_const, 0, count)
        if rates is None or len(rates) == 0:
            raise DataError(f"MetaTrader 5 returned no {timeframe} bars for {symbol}: {mt5.last_error()}")
        return mt5_rates_to_frame(rates, self.server_tz, symbol, timeframe, validate_candles)


def mt5_rates_to_frame(rates, server_tz: str, symbol: str, timeframe: str, validate) -> pd.DataFrame:
    """MT5 ``copy_rates_*`` structured array (``time`` = server-clock epoch seconds) → canonical frame."""
    r = pd.DataFrame(rates)
    naive = pd.to_datetime(r["time"], unit="s")
    idx = pd.DatetimeIndex(naive).tz_localize(resolve_tz(server_tz), ambiguous="raise").tz_convert("UTC")
    df = pd.DataFrame(
        {
            "open": r["open"].to_numpy(float), "high": r["high"].to_numpy(float),
            "low": r["low"].to_numpy(float), "close": r["close"].to_numpy(float),
            "volume": r["tick_volume"].to_numpy(float),
            "spread": r["spread"].to_numpy(float) if "spread" in r else np.nan,
        },
        index=pd.DatetimeIndex(idx, name="time").as_unit("ns"),
    )
    df, _ = validate(df, symbol=symbol, timeframe=timeframe, where=f"MT5 {symbol} {timeframe}")
    return df


def _ts(value) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
