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

from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ita.data.validate import describe_lines
from ita.errors import DataError

CANDLE_COLUMNS = ["open", "high", "low", "close", "volume", "spread"]


class CandleSource(Protocol):
    """Anything that can return canonical candles for a symbol and timeframe."""

    def load(self, symbol: str, timeframe: str, start=None, end=None) -> pd.DataFrame: ...


def resolve_tz(name: str) -> ZoneInfo:
    """IANA zone by name; raises :class:`DataError` with a hint for a wrong ``--server-tz``. (A file's clock may
    also be a fixed offset or ``NY+7``: :func:`ita.data.clock.parse_clock`.)"""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DataError(
            f"Unknown time zone {name!r}. Use an IANA name: most MT5 brokers run on 'Europe/Athens' "
            f"(UTC+2 winter / UTC+3 summer); 'UTC' if the file is already in UTC; 'UTC+2' for a fixed UTC+2."
        ) from None


def read_candle_csv(path: str | Path, server_tz: str = "UTC") -> pd.DataFrame:
    """Read one candle file (any format of :mod:`ita.data.formats`) into the canonical frame (not yet validated),
    its wall-clock times on the clock ``server_tz`` (:func:`ita.data.clock.parse_clock`: IANA zone, ``UTC-5``,
    ``NY+7`` …); epoch times and explicit offsets are UTC whatever ``server_tz`` says. The original file line of
    each row is kept in ``df.attrs["lines"]`` for error messages. To import with the clock checked or inferred,
    use :func:`ita.data.importer.read_candles`.

    Raises :class:`DataError` naming the file and line for: a missing file, no header (and no known header-less
    layout), missing OHLC columns, rows with fewer fields than the header or with missing or non-numeric values
    (a truncated file), unreadable times, a mix of times with and without a UTC offset, or server-clock times
    that do not exist / are ambiguous on the clock. Blank lines are skipped (line numbers stay the file's).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataError(f"{where}: no such file.")
    return parse_candle_text(path.read_text(encoding="utf-8-sig", errors="replace"), where, server_tz)


def parse_candle_text(text: str, where: str, server_tz: str = "UTC", line_offset: int = 0) -> pd.DataFrame:
    """:func:`read_candle_csv` on text already read: ``text`` starts with the header line; ``where`` names
    the source in messages; ``line_offset`` is added to every line number (for a chunk appended to a file,
    given with the file's header line in front). Raises :class:`DataError` as :func:`read_candle_csv`."""
    from ita.data.clock import parse_clock
    from ita.data.formats import parse_text

    clock = parse_clock(server_tz)
    p = parse_text(text, where, line_offset=line_offset)
    if p.times.tz is not None:
        idx = p.times.tz_convert("UTC")
    else:
        idx, bad = clock.to_utc(p.times)
        if bad.any():
            raise DataError(
                f"{where}: times on {describe_lines(bad, p.lines)} (first {p.times[bad][0]}) do not exist or are "
                f"ambiguous in {server_tz} (a DST switch). Check --server-tz: MT5 servers normally jump their clock "
                "over the weekend, so such bars suggest the file is in another zone."
            )
    df = pd.DataFrame({c: p.values[c] for c in CANDLE_COLUMNS}, index=pd.DatetimeIndex(idx, name="time").as_unit("ns"))
    df.attrs["lines"] = p.lines
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
    from ita.data.clock import parse_clock

    idx, bad = parse_clock(server_tz).to_utc(pd.DatetimeIndex(naive))
    if bad.any():
        raise DataError(f"MT5 {symbol} {timeframe}: bar time {pd.DatetimeIndex(naive)[bad][0]} does not exist or is "
                        f"ambiguous on the server clock {server_tz}; check --server-tz.")
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
