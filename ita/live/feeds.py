"""Live candle feeds behind one interface — closed candles only, ever — and the clocks that drive them.

A feed answers one question: *which bars of ``symbol``/``timeframe`` have closed by ``now``?*
(:meth:`Feed.closed_bars`). A bar is closed when ``open time + timeframe <= now``; the candle that is still
forming is never returned, so the live graph can never evaluate a partial candle.

=================  ============================================================================================
:class:`ReplayFeed`  stored history (the candle store) played against a simulated clock (:class:`SimClock`)
:class:`FileFeed`    a CSV (MT5 export layout or any OHLCV CSV) that a terminal keeps appending to, or a
                     Parquet file it rewrites; only the appended complete lines are parsed on each poll
:class:`MT5Feed`     a MetaTrader 5 terminal (``copy_rates_from_pos``; Windows, ``pip install "ita[mt5]"``,
                     imported lazily)
=================  ============================================================================================

Every feed returns the canonical candle frame (UTC index = bar open time; ``open, high, low, close,
volume, spread``) and raises :class:`~ita.errors.DataError` with the file, line and what is wrong for bad
input — the caller skips that poll and nothing stored is touched.

Example::

    >>> from ita.live.feeds import ReplayFeed, SimClock
    >>> feed = ReplayFeed(["EURUSD"], "2025-03-03", "2025-03-07")                      # doctest: +SKIP
    >>> feed.closed_bars("EURUSD", "M5", now=pd.Timestamp("2025-03-03 10:02", tz="UTC"),
    ...                  since=pd.Timestamp("2025-02-20", tz="UTC")).index[-1]          # doctest: +SKIP
    Timestamp('2025-03-03 09:55:00+0000', tz='UTC')
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ita.data.resample import complete_bars, resample
from ita.data.timeframes import normalize_tf, tf_delta
from ita.errors import DataError
from ita.times import NY
from ita.times import utc as _utc


def closed(candles: pd.DataFrame, timeframe: str, now, since=None) -> pd.DataFrame:
    """The bars of ``candles`` (``timeframe``) whose close is at or before ``now`` and whose open is at or
    after ``since`` — what a live trader had seen at ``now``."""
    step = tf_delta(timeframe)
    idx = candles.index.as_unit("ns").asi8
    hi = int(np.searchsorted(idx, (_utc(now) - step).value, "right"))
    lo = int(np.searchsorted(idx, _utc(since).value, "left")) if since is not None else 0
    return candles.iloc[lo:hi]


class Feed(Protocol):
    """Anything that returns the closed bars of a symbol and timeframe at a time."""

    name: str

    def closed_bars(self, symbol: str, timeframe: str, now: pd.Timestamp, since: pd.Timestamp) -> pd.DataFrame:
        """Canonical candles of ``symbol``/``timeframe`` opening at or after ``since`` and closed by ``now``
        (both UTC). Raises :class:`~ita.errors.DataError` when the source is unreadable."""
        ...


# ---- clocks -------------------------------------------------------------------------------------------------

class WallClock:
    """The real clock (UTC). ``wall_of(t)`` is ``t`` itself: a candle closes on the wall clock."""

    speed = 1.0

    def now(self) -> pd.Timestamp:
        return pd.Timestamp.now(tz="UTC")

    def sleep_until(self, t: pd.Timestamp) -> None:
        while (left := (_utc(t) - self.now()).total_seconds()) > 0:
            time.sleep(min(left, 1.0))

    def wall_of(self, t: pd.Timestamp) -> float:
        return _utc(t).timestamp()


class SimClock:
    """A simulated clock for replays: starts at ``start`` (UTC) and runs ``speed`` times faster than the
    wall clock (``speed=600``: ten minutes a second); ``speed=None`` runs as fast as the work allows — the
    clock stands still until the replay moves it on (:meth:`jump`). :meth:`wall_of` gives the wall-clock
    instant (epoch s) at which the simulated clock passed a time: the origin of a replay's latency."""

    def __init__(self, start, speed: float | None = 600.0):
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive (or None for as fast as possible), got {speed!r}")
        self.speed = speed
        self._anchors: list[tuple[int, float]] = [(_utc(start).value, time.time())]  # (sim ns, wall s)
        self._lock = threading.Lock()

    def _now_ns(self, wall: float) -> int:
        sim, w = self._anchors[-1]
        return sim if self.speed is None else sim + int((wall - w) * self.speed * 1e9)

    def now(self) -> pd.Timestamp:
        with self._lock:
            return pd.Timestamp(self._now_ns(time.time()), tz="UTC")

    def jump(self, t) -> None:
        """Move the clock forward to ``t`` at once (a weekend without bars, or an as-fast-as-possible
        replay); the times jumped over count as passed now. Never moves backwards."""
        wall = time.time()
        with self._lock:
            if _utc(t).value > self._now_ns(wall):
                self._anchors.append((_utc(t).value, wall))

    def sleep_until(self, t) -> None:
        if self.speed is None:
            self.jump(t)
            return
        while (left := (_utc(t) - self.now()).total_seconds()) > 0:
            time.sleep(min(left / self.speed, 0.5))

    def wall_of(self, t) -> float:
        ns = _utc(t).value
        with self._lock:
            sims = [a[0] for a in self._anchors]
            if self.speed is None:  # passed when the clock was moved to or beyond it
                j = int(np.searchsorted(sims, ns, "left"))
                return self._anchors[min(j, len(sims) - 1)][1]
            i = max(int(np.searchsorted(sims, ns, "right")) - 1, 0)
            sim, wall = self._anchors[i]
            lin = wall + (ns - sim) / 1e9 / self.speed
            return min(lin, self._anchors[i + 1][1]) if i + 1 < len(sims) else lin


# ---- feeds --------------------------------------------------------------------------------------------------

class FrameFeed:
    """A feed holding one base-timeframe frame per symbol; higher timeframes are resampled from closed bars."""

    name = "frame"
    timeframe = "M5"

    def _frame(self, symbol: str) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def closed_bars(self, symbol: str, timeframe: str, now, since) -> pd.DataFrame:
        tf = normalize_tf(timeframe)
        base = self._frame(symbol)
        if tf == self.timeframe:
            return closed(base, tf, now, since)
        if tf_delta(tf) < tf_delta(self.timeframe):
            raise DataError(f"The {self.name} feed holds {symbol} {self.timeframe} bars; {tf} cannot be built from them.")
        src = closed(base, self.timeframe, now, _utc(since) - tf_delta(tf))
        out = complete_bars(resample(src, tf), tf, _utc(now)) if len(src) else src
        return out[out.index >= _utc(since)]


class ReplayFeed(FrameFeed):
    """Stored history for a replay: the candle store's bars of ``symbols`` from ``start − history`` to the end
    of ``end`` (dates, New York), loaded once; :meth:`closed_bars` slices them at the simulated ``now``.

    ``history`` is how much comes before ``start`` (the setups' warm-up). The sample data is imported on
    first use. Raises :class:`~ita.errors.DataError` when a symbol has no stored bars in the period.
    """

    name = "replay"

    def __init__(self, symbols, start, end, timeframe: str = "M5", history: pd.Timedelta = pd.Timedelta(days=12),
                 store=None):
        from ita.data.instruments import get_instrument
        from ita.data.store import SAMPLE_FILES, CandleStore

        self.timeframe = normalize_tf(timeframe)
        self.store = store or CandleStore()
        self.start = pd.Timestamp(start).tz_localize(NY) if pd.Timestamp(start).tz is None else pd.Timestamp(start)
        end_ts = pd.Timestamp(end)
        self.end = (end_ts.tz_localize(NY) if end_ts.tz is None else end_ts) + pd.Timedelta(days=1)
        self.frames: dict[str, pd.DataFrame] = {}
        for sym in symbols:
            sym = get_instrument(sym).symbol
            if sym in SAMPLE_FILES and "M5" not in self.store.stored_timeframes(sym):
                self.store.ensure_samples([sym])
            what = (f"No stored {sym} {self.timeframe} bars between {self.start:%Y-%m-%d} and "
                    f"{(self.end - pd.Timedelta(days=1)):%Y-%m-%d} (New York dates)")
            try:
                df = self.store.load(sym, self.timeframe, (self.start - history).tz_convert("UTC"),
                                     self.end.tz_convert("UTC"))
            except DataError as exc:
                cov = str(exc).partition("Stored coverage:")[2].strip()
                raise DataError(f"{what}." + (f" Stored coverage: {cov}" if cov else f" {exc}")) from None
            inside = df[(df.index >= self.start) & (df.index < self.end)]
            if inside.empty:
                raise DataError(f"{what}. See `ita data list`.")
            self.frames[sym] = df

    def _frame(self, symbol: str) -> pd.DataFrame:
        try:
            return self.frames[symbol]
        except KeyError:
            raise DataError(f"The replay holds {', '.join(self.frames)}, not {symbol}.") from None

    def next_close(self, after) -> pd.Timestamp | None:
        """The first bar close (any symbol) strictly after ``after``, or None past the replay's end."""
        step = tf_delta(self.timeframe)
        best = None
        for df in self.frames.values():
            closes = df.index + step
            k = int(np.searchsorted(closes.as_unit("ns").asi8, _utc(after).value, "right"))
            if k < len(closes) and closes[k] <= self.end and (best is None or closes[k] < best):
                best = closes[k]
        return best


class FileFeed(FrameFeed):
    """Candle files a terminal keeps writing: ``paths`` maps symbol → file (``.csv`` or ``.parquet``).

    CSV: MT5 export layout or any OHLCV CSV (see :func:`ita.data.sources.read_candle_csv`), times in
    ``server_tz``. The first poll reads the whole file; later polls parse only the complete lines appended
    since (a line without its newline is still being written and waits). A rewritten last bar (same time)
    replaces the earlier one; a file that shrank or was replaced is read again from the start. Parquet:
    the canonical frame (or an OHLC frame with a ``time`` column/index in ``server_tz``), read again when
    its size or modification time changes.

    Raises :class:`~ita.errors.DataError` naming the file and line for a missing file, a malformed line,
    a time that goes backwards or a broken candle; the frame read so far is kept unchanged.
    """

    name = "file"

    def __init__(self, paths: dict[str, str | Path], timeframe: str = "M5", server_tz: str = "Europe/Athens"):
        from ita.data.clock import parse_clock
        from ita.data.instruments import get_instrument

        parse_clock(server_tz)
        self.timeframe = normalize_tf(timeframe)
        self.server_tz = server_tz
        self.paths = {get_instrument(s).symbol: Path(p) for s, p in paths.items()}
        self._state: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _frame(self, symbol: str) -> pd.DataFrame:
        if symbol not in self.paths:
            raise DataError(f"No file configured for {symbol}: the file feed has {', '.join(self.paths)}.")
        with self._lock:
            return self._poll(symbol, self.paths[symbol])

    def _poll(self, symbol: str, path: Path) -> pd.DataFrame:
        try:
            st = path.stat()
        except OSError:
            raise DataError(f"{path}: no such file (the {symbol} feed).") from None
        s = self._state.get(symbol)
        ident = (st.st_dev, st.st_ino)
        if path.suffix.lower() in (".parquet", ".pq"):
            if s is None or s["ident"] != ident or s["size"] != st.st_size or s["mtime"] != st.st_mtime_ns:
                df = self._read_parquet(path, symbol)
                self._state[symbol] = {"ident": ident, "size": st.st_size, "mtime": st.st_mtime_ns, "frame": df}
            return self._state[symbol]["frame"]
        if s is None or s["ident"] != ident or st.st_size < s["offset"]:
            s = {"ident": ident, "offset": 0, "lines": 0, "header": None, "frame": None}
        if st.st_size > s["offset"]:
            s = self._read_csv_tail(path, symbol, s)
        self._state[symbol] = s
        if s["frame"] is None:
            raise DataError(f"{path}: no complete candle lines yet.")
        return s["frame"]

    def _read_csv_tail(self, path: Path, symbol: str, s: dict) -> dict:
        from ita.data.sources import parse_candle_text
        from ita.data.validate import validate_candles

        with open(path, "rb") as f:
            f.seek(s["offset"])
            chunk = f.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return s  # no complete line yet
        body = chunk[: end + 1]
        text = body.decode("utf-8-sig" if s["offset"] == 0 else "utf-8", errors="replace")
        n_lines = text.count("\n")
        if s["header"] is None:
            header, _, rest = text.partition("\n")
            line_offset = 0
        else:
            header, rest = s["header"], text
            line_offset = s["lines"] - 1
        new = s | {"offset": s["offset"] + len(body), "lines": s["lines"] + n_lines, "header": header}
        if not rest.strip():
            return new
        df = parse_candle_text(header + "\n" + rest, str(path), self.server_tz, line_offset=line_offset)
        old = s["frame"]
        if old is not None and len(old):
            last = old.index[-1]
            back = df.index < last
            if back.any():
                lines = np.asarray(df.attrs.get("lines", np.arange(len(df))))
                raise DataError(f"{path}: line {int(lines[back][0])} has time {df.index[back][0]:%Y-%m-%d %H:%M} UTC, "
                                f"before the last bar read ({last:%Y-%m-%d %H:%M} UTC). A live file may only grow.")
            old = old[old.index < df.index[0]]  # a rewritten last bar (same time) replaces the earlier one
        df, _ = validate_candles(df, symbol=symbol, timeframe=self.timeframe, where=str(path))
        new["frame"] = df if old is None or not len(old) else pd.concat([old, df])
        return new

    def _read_parquet(self, path: Path, symbol: str) -> pd.DataFrame:
        from ita.data.clock import parse_clock
        from ita.data.validate import validate_candles

        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
            raise DataError(f"{path}: not a readable Parquet file ({exc}).") from None
        if "time" in df.columns:
            df = df.set_index("time")
        idx = pd.DatetimeIndex(df.index)
        idx = parse_clock(self.server_tz).to_utc(idx)[0] if idx.tz is None else idx
        df.index = pd.DatetimeIndex(idx.tz_convert("UTC"), name="time").as_unit("ns")
        missing = [c for c in ("open", "high", "low", "close") if c not in df.columns]
        if missing:
            raise DataError(f"{path}: lacks column(s) {', '.join(missing)}.")
        for c in ("volume", "spread"):
            if c not in df.columns:
                df[c] = np.nan if c == "spread" else 0.0
        df = df[["open", "high", "low", "close", "volume", "spread"]].astype("float64")
        df, _ = validate_candles(df, symbol=symbol, timeframe=self.timeframe, where=str(path))
        return df


class MT5Feed:
    """A MetaTrader 5 terminal: ``copy_rates_from_pos(symbol, timeframe, 0, count)`` — position 0 is the
    forming bar, which is dropped like every bar not yet closed at ``now``. The first call per symbol and
    timeframe fetches ``history_bars``; later calls fetch the last ``poll_bars`` and merge them.

    ``server_tz``: the broker's server clock (MT5 bar times), converted to UTC. ``MetaTrader5`` is imported
    on first use (Windows only); raises :class:`~ita.errors.DataError` when it is missing, the terminal
    cannot be initialised, or a symbol returns no bars.
    """

    name = "mt5"

    def __init__(self, server_tz: str = "Europe/Athens", history_bars: int = 5000, poll_bars: int = 20,
                 **initialize_kwargs):
        from ita.data.sources import MT5Source

        self.source = MT5Source(server_tz, **initialize_kwargs)
        self.history_bars, self.poll_bars = int(history_bars), int(poll_bars)
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}
        self._lock = threading.Lock()

    def closed_bars(self, symbol: str, timeframe: str, now, since) -> pd.DataFrame:
        from ita.data.sources import mt5_rates_to_frame
        from ita.data.validate import validate_candles

        tf = normalize_tf(timeframe)
        with self._lock:
            mt5 = self.source._client()
            old = self._cache.get((symbol, tf))
            count = self.history_bars if old is None else self.poll_bars
            rates = mt5.copy_rates_from_pos(symbol, getattr(mt5, self.source._TF[tf]), 0, count)
            if rates is None or len(rates) == 0:
                raise DataError(f"MetaTrader 5 returned no {tf} bars for {symbol}: {mt5.last_error()}")
            new = mt5_rates_to_frame(rates, self.source.server_tz, symbol, tf, validate_candles)
            df = new if old is None else pd.concat([old[old.index < new.index[0]], new])
            keep = max(self.history_bars, len(new))
            self._cache[(symbol, tf)] = df.iloc[-keep:]
            return closed(self._cache[(symbol, tf)], tf, now, since)


def file_mtime(path: str | Path) -> float | None:
    """Modification time of ``path`` (epoch s), None when missing — for status lines."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
