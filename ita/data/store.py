"""The candle store: one Parquet file per symbol and timeframe under ``ITA_DATA_DIR``.

Layout: ``<data_dir>/<SYMBOL>/<TF>.parquet`` holding the canonical frame (UTC index ``time``; columns
``open, high, low, close, volume, spread``), with import provenance in the Parquet metadata.
Writes go to a temporary file that is then renamed over the old one, so a failed import never damages
stored data, and an import holds a lock on the series, so two imports of one symbol at once end with one
complete series. **History is append-only unless asked**: an import whose bars collide with stored bars at
different prices is refused with a summary (:class:`HistoryConflict`) unless ``replace=True``; a replace
first keeps the previous file as a dated version under ``<SYMBOL>/history/`` (``<TF>.<stamp>.parquet``, and why
it was kept in ``<TF>.<stamp>.json``; :meth:`CandleStore.history`, :meth:`CandleStore.restore`). An **M1** import
also stores every higher timeframe resampled from it (``derived_from: M1`` in the metadata; a series imported
on its own is never overwritten by a resample). A timeframe that is not stored is resampled on the fly from the
coarsest finer one.

Example::

    >>> from ita.data.store import CandleStore
    >>> store = CandleStore()                                   # doctest: +SKIP
    >>> store.load("EURUSD", "H1", "2025-03-01", "2025-03-31")  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ita.config import settings
from ita.data.instruments import get_instrument
from ita.data.resample import resample
from ita.data.timeframes import TIMEFRAMES, normalize_tf, tf_delta
from ita.data.validate import ValidationReport
from ita.errors import DataError, closest

SAMPLE_FILES = {"EURUSD": "EURUSD_M5_2025.csv", "XAUUSD": "XAUUSD_M5_2025.csv"}
SAMPLE_SERVER_TZ = "Europe/Athens"
PRICE_COLUMNS = ("open", "high", "low", "close")
SHOWN_CONFLICTS = 5


class HistoryConflict(DataError):
    """An import would change stored bars (same open time, different prices). ``count`` bars differ;
    ``largest_pips`` is the largest price difference in pips; ``examples`` the first few as dicts
    ``{"time", "column", "old", "new"}``. Nothing was written."""

    def __init__(self, message: str, count: int, largest_pips: float, examples: list[dict], symbol: str = "",
                 timeframe: str = ""):
        super().__init__(message)
        self.count, self.largest_pips, self.examples = count, largest_pips, examples
        self.symbol, self.timeframe = symbol, timeframe


@dataclass
class ImportResult:
    """Outcome of :meth:`CandleStore.import_file`: where it went and what validation found."""

    symbol: str
    timeframe: str
    path: Path
    added: int
    total: int
    report: ValidationReport
    replaced: int = 0                       # stored bars whose prices the import changed (replace=True)
    kept_version: str | None = None         # the dated version the previous series was kept as
    notes: list[str] = field(default_factory=list)
    read: object | None = None              # the ita.data.importer.ReadReport: format, clock, files, warnings
    derived: list[str] = field(default_factory=list)   # timeframes (re)built from this import (M1 imports)


def _bound(value, end: bool = False) -> pd.Timestamp | None:
    """A user bound → UTC timestamp. A bare date as ``end`` means the whole of that day (UTC)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tz is None:
        ts = ts.tz_localize("UTC")
    if end and isinstance(value, str) and len(value.strip()) <= 10:
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts.tz_convert("UTC")


class CandleStore:
    """Parquet candle store (a :class:`~ita.data.sources.CandleSource`)."""

    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = Path(data_dir) if data_dir else settings().data_dir

    def path(self, symbol: str, timeframe: str) -> Path:
        return self.data_dir / symbol.upper() / f"{normalize_tf(timeframe)}.parquet"

    def stored_timeframes(self, symbol: str) -> list[str]:
        folder = self.data_dir / symbol.upper()
        return [tf for tf in TIMEFRAMES if (folder / f"{tf}.parquet").is_file()]

    def symbols(self) -> list[str]:
        if not self.data_dir.is_dir():
            return []
        return sorted(p.name for p in self.data_dir.iterdir() if p.is_dir() and self.stored_timeframes(p.name))

    def catalog(self) -> pd.DataFrame:
        """One row per stored series: symbol, timeframe, first, last (UTC), bars, source, server_tz, imported_at,
        derived_from (the timeframe it was resampled from at import, ``""`` for an imported series)."""
        rows = []
        for sym in self.symbols():
            for tf in self.stored_timeframes(sym):
                p = self.path(sym, tf)
                meta = pq.read_metadata(p)
                info = json.loads((meta.metadata or {}).get(b"ita", b"{}"))
                idx = pd.read_parquet(p, columns=[]).index
                rows.append({"symbol": sym, "timeframe": tf, "first": idx[0], "last": idx[-1], "bars": len(idx),
                             "source": info.get("source", ""), "server_tz": info.get("server_tz", ""),
                             "imported_at": info.get("imported_at", ""), "derived_from": info.get("derived_from", "")})
        return pd.DataFrame(rows, columns=["symbol", "timeframe", "first", "last", "bars", "source", "server_tz",
                                           "imported_at", "derived_from"])

    def meta(self, symbol: str, timeframe: str) -> dict:
        """The import provenance stored with a series (``source``, ``server_tz``, ``format``, ``derived_from`` …);
        ``{}`` when it is not stored."""
        p = self.path(symbol, timeframe)
        if not p.is_file():
            return {}
        return json.loads((pq.read_metadata(p).metadata or {}).get(b"ita", b"{}"))

    def write(self, symbol: str, timeframe: str, candles: pd.DataFrame, meta: dict | None = None) -> Path:
        """Replace the stored series atomically (temp file + rename)."""
        p = self.path(symbol, timeframe)
        p.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(candles[["open", "high", "low", "close", "volume", "spread"]], preserve_index=True)
        md = dict(table.schema.metadata or {})
        md[b"ita"] = json.dumps(meta or {}, default=str).encode()
        table = table.replace_schema_metadata(md)
        _replace_atomically(p, lambda tmp: pq.write_table(table, tmp))
        return p

    def import_file(self, file, symbol: str | None = None, timeframe: str | None = None, server_tz: str | None = None,
                    replace: bool = False, fmt: str | None = None) -> ImportResult:
        """Read, validate and merge candle files into the store: new open times are added; a bar already stored
        with the same prices is left as it is (also its volume and spread).

        ``file``: a path or a list of paths — files, folders, ``.gz``/``.zip`` archives, in any format of
        :mod:`ita.data.formats` (detected; ``fmt`` forces one). ``symbol``/``timeframe`` None: taken from the
        file name / the bar spacing. ``server_tz`` None: the clock the data's weekly rhythm implies (see
        :func:`ita.data.importer.read_candles`; the result's ``read`` says which clock and why).

        A bar already stored at **different** prices (open, high, low or close) is a conflict: without
        ``replace`` the import raises :class:`HistoryConflict` (how many, the first few old → new, the
        largest difference in pips) and writes nothing; with ``replace`` the new bars win and the previous
        file is kept first as a dated version (:meth:`history`). An M1 import then (re)builds the higher
        timeframes (:meth:`derive`). Raises :class:`DataError` / :class:`~ita.errors.UnknownSymbolError`
        for a bad file or symbol, before anything is written.
        """
        from ita.data.importer import read_candles

        new, read = read_candles(file, server_tz=server_tz, fmt=fmt, timeframe=timeframe, symbol=symbol)
        inst, tf, report = get_instrument(read.symbol), read.timeframe, read.validation
        name = ", ".join(Path(f.name.split(":")[0]).name for f in read.files[:3]) + (" …" if len(read.files) > 3 else "")
        p = self.path(inst.symbol, tf)
        with self._lock(inst.symbol):
            merged, before, replaced, kept = self._merge(inst, tf, new, replace, name)
            meta = {"source": str(Path(read.files[0].name.split(":")[0]).resolve()) if len(read.files) == 1
                    else f"{len(read.files)} files: {name}", "server_tz": read.server_tz, "format": read.fmt.name,
                    "clock": read.clock_line, "imported_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                    "symbol": inst.symbol, "timeframe": tf}
            self.write(inst.symbol, tf, merged, meta)
            derived, dnotes = self.derive(inst.symbol, tf, merged, meta) if tf == "M1" else ([], [])
        notes = [f"{replaced:,} stored bars replaced; the previous series is kept as version {kept} "
                 f"(`ita data restore {inst.symbol} {kept}` brings it back)."] if replaced else []
        return ImportResult(inst.symbol, tf, p, len(merged) - before, len(merged), report, replaced, kept,
                            notes + dnotes, read, derived)

    def _merge(self, inst, tf: str, new: pd.DataFrame, replace: bool, what: str):
        """(merged series, bars before, bars replaced, kept version) of ``new`` over the stored series; raises
        :class:`HistoryConflict` for bars at other prices unless ``replace``. Call under :meth:`_lock`."""
        p = self.path(inst.symbol, tf)
        if not p.is_file():
            return new, 0, 0, None
        old = pd.read_parquet(p)
        conflicts = _conflicts(old, new)
        if len(conflicts):
            if not replace:
                raise _conflict_error(conflicts, inst, tf, what)
            kept = self._keep_version(inst.symbol, tf, f"replaced by an import of {what} "
                                                       f"({len(conflicts):,} bars at other prices)")
            return pd.concat([old[~old.index.isin(new.index)], new]).sort_index(), len(old), len(conflicts), kept
        # append-only: stored bars stay as they are (equal prices; volume/spread may differ)
        return pd.concat([old, new[~new.index.isin(old.index)]]).sort_index(), len(old), 0, None

    def derive(self, symbol: str, base_tf: str, base: pd.DataFrame, meta: dict) -> tuple[list[str], list[str]]:
        """Store every timeframe above ``base_tf`` resampled from the ``base`` series (the whole stored series),
        so each loads without resampling and all agree with it. A series imported on its own (no
        ``derived_from``) is left alone (named in the notes); a derived one is rebuilt, keeping its bars outside
        the base's period (e.g. appended live bars), and kept as a dated version first if a bar's prices
        change. Returns (timeframes written, notes). Call under :meth:`_lock`."""
        done, notes = [], []
        for tf in TIMEFRAMES:
            if tf_delta(tf) <= tf_delta(base_tf):
                continue
            info = self.meta(symbol, tf)
            if info and not info.get("derived_from"):
                notes.append(f"{symbol} {tf} is stored from its own import ({Path(str(info.get('source', ''))).name}); "
                             f"not replaced by the {base_tf} resample.")
                continue
            bars = resample(base, tf)
            if len(bars) and base.index[-1] + tf_delta(base_tf) < bars.index[-1] + tf_delta(tf):
                bars = bars.iloc[:-1]                            # the last bucket is not complete yet
            p = self.path(symbol, tf)
            if p.is_file():
                old = pd.read_parquet(p)
                if len(_conflicts(old, bars)):
                    self._keep_version(symbol, tf, f"rebuilt from {base_tf}")
                bars = pd.concat([old[~old.index.isin(bars.index)], bars]).sort_index()
            self.write(symbol, tf, bars, {**meta, "derived_from": base_tf, "timeframe": tf})
            done.append(tf)
        return done, notes

    def coverage(self, symbol: str, timeframe: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(first, last) bar open (UTC) of the stored series, or None when it is not stored."""
        p = self.path(symbol, timeframe)
        if not p.is_file():
            return None
        idx = pd.read_parquet(p, columns=[]).index
        if not len(idx):
            return None
        idx = pd.DatetimeIndex(idx).tz_convert("UTC")
        return idx[0], idx[-1]

    def append(self, symbol: str, timeframe: str, bars: pd.DataFrame, source: str) -> tuple[int, pd.DataFrame]:
        """Append closed bars (a live feed, an exchange) to the stored series: validated
        (:func:`~ita.data.validate.validate_candles`), bars already stored are skipped, the write is atomic
        under the series' lock. A bar stored at **other** prices is never overwritten: it is returned in the
        conflicts frame (:func:`_conflicts` columns) for the caller to report. Returns (bars added, conflicts).
        Raises :class:`DataError` for invalid bars, before anything is written."""
        from ita.data.validate import validate_candles

        inst, tf = get_instrument(symbol), normalize_tf(timeframe)
        if not len(bars):
            return 0, pd.DataFrame()
        new, _ = validate_candles(bars, symbol=inst.symbol, timeframe=tf, where=source)
        with self._lock(inst.symbol):
            p = self.path(inst.symbol, tf)
            meta = self.meta(inst.symbol, tf)
            if p.is_file():
                old = pd.read_parquet(p)
                old.index = pd.DatetimeIndex(old.index, name="time").tz_convert("UTC").as_unit("ns")
                conflicts = _conflicts(old, new)
                fresh = new[~new.index.isin(old.index)]
                if not len(fresh):
                    return 0, conflicts
                merged = pd.concat([old, fresh]).sort_index()
            else:
                conflicts, fresh, merged = pd.DataFrame(), new, new
                meta = {"source": source, "server_tz": "UTC", "format": "live", "symbol": inst.symbol, "timeframe": tf,
                        "imported_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}
            meta["appended_at"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
            meta["appended_from"] = source
            self.write(inst.symbol, tf, merged, meta)
        return len(fresh), conflicts

    def rebuild_derived(self, symbol: str, base_tf: str = "M1") -> list[str]:
        """:meth:`derive` the higher timeframes again from the whole stored ``base_tf`` series (after bars were
        appended to it); returns the timeframes written."""
        inst = get_instrument(symbol)
        with self._lock(inst.symbol):
            p = self.path(inst.symbol, base_tf)
            if not p.is_file():
                return []
            base = pd.read_parquet(p)
            base.index = pd.DatetimeIndex(base.index, name="time").tz_convert("UTC").as_unit("ns")
            done, _ = self.derive(inst.symbol, base_tf, base, self.meta(inst.symbol, base_tf))
        return done

    # ---- versions of a series -------------------------------------------------------------------------------
    def history(self, symbol: str, timeframe: str = "M5") -> pd.DataFrame:
        """The kept versions of a series, oldest first: ``version`` (``YYYYMMDDTHHMMSSffffffZ``, when it was
        replaced, UTC), ``bars``, ``first``, ``last`` (UTC), ``source``, ``imported_at``, ``path``."""
        inst = get_instrument(symbol)
        tf = normalize_tf(timeframe)
        rows = []
        for f in sorted(self._history_dir(inst.symbol).glob(f"{tf}.*.parquet")):
            info = json.loads((pq.read_metadata(f).metadata or {}).get(b"ita", b"{}"))
            idx = pd.read_parquet(f, columns=[]).index
            note = f.with_suffix(".json")
            try:
                reason = json.loads(note.read_text(encoding="utf-8")).get("reason", "") if note.is_file() else ""
            except (OSError, ValueError):
                reason = ""
            rows.append({"version": f.name.split(".")[1], "bars": len(idx), "first": idx[0] if len(idx) else None,
                         "last": idx[-1] if len(idx) else None, "source": info.get("source", ""),
                         "imported_at": info.get("imported_at", ""), "path": str(f), "reason": reason})
        return pd.DataFrame(rows, columns=["version", "bars", "first", "last", "source", "imported_at", "path",
                                           "reason"])

    def restore(self, symbol: str, version: str, timeframe: str = "M5") -> str | None:
        """Make the kept ``version`` the stored series again (byte for byte). The series it replaces is kept
        as a new version first (returned). Raises :class:`DataError` naming the kept versions when
        ``version`` does not exist."""
        inst = get_instrument(symbol)
        tf = normalize_tf(timeframe)
        src = self._history_dir(inst.symbol) / f"{tf}.{version}.parquet"
        if not src.is_file():
            have = list(self.history(inst.symbol, tf)["version"])
            raise DataError(f"{inst.symbol} {tf} has no kept version {version!r}.{closest(str(version), have)} "
                            f"Kept versions: {', '.join(have) or 'none'} (`ita data history {inst.symbol}`).")
        with self._lock(inst.symbol):
            kept = (self._keep_version(inst.symbol, tf, f"replaced by a restore of version {version}")
                    if self.path(inst.symbol, tf).is_file() else None)
            _replace_atomically(self.path(inst.symbol, tf), lambda tmp: shutil.copyfile(src, tmp))
        return kept

    def _history_dir(self, symbol: str) -> Path:
        return self.data_dir / symbol.upper() / "history"

    def _keep_version(self, symbol: str, tf: str, reason: str = "") -> str:
        """Copy the stored series to ``history/<TF>.<UTC stamp>.parquet`` (and why, in ``<TF>.<stamp>.json``);
        returns the stamp."""
        folder = self._history_dir(symbol)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%fZ")
        shutil.copyfile(self.path(symbol, tf), folder / f"{tf}.{stamp}.parquet")
        if reason:
            (folder / f"{tf}.{stamp}.json").write_text(json.dumps({"reason": reason}), encoding="utf-8")
        return stamp

    @contextlib.contextmanager
    def _lock(self, symbol: str):
        """An exclusive lock on the symbol's series across processes (``flock`` on its folder: no lock file)."""
        folder = self.data_dir / symbol.upper()
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)                                  # closing releases the lock

    def load(self, symbol: str, timeframe: str = "M5", start=None, end=None) -> pd.DataFrame:
        """Canonical candles for ``symbol``/``timeframe`` with bar open times in [start, end] (UTC).

        ``start``/``end``: anything :class:`pandas.Timestamp` reads; naive values are UTC; a bare date as
        ``end`` includes that whole day. Raises :class:`DataError` when the symbol or timeframe is not
        stored (naming what is), or when the period holds no bars (naming the coverage).
        """
        inst = get_instrument(symbol)
        tf = normalize_tf(timeframe)
        stored = self.stored_timeframes(inst.symbol)
        if not stored:
            have = self.symbols()
            raise DataError(
                f"No candles stored for {inst.symbol}.{closest(inst.symbol, have)} "
                f"Stored symbols: {', '.join(have) or 'none'}. Import with "
                f"`ita data import FILE --symbol {inst.symbol} --timeframe M5 --server-tz Europe/Athens`."
            )
        lo, hi = _bound(start), _bound(end, end=True)
        filters = []
        if tf in stored:
            src_tf = tf
        else:
            finer = [s for s in stored if tf_delta(s) < tf_delta(tf)]
            if not finer:
                raise DataError(f"{inst.symbol} {tf} is not stored and no finer timeframe is: stored {', '.join(stored)}.")
            src_tf = finer[-1]                       # the coarsest finer series: least work, same bars
        margin = tf_delta(tf) if src_tf != tf else pd.Timedelta(0)
        if lo is not None:
            filters.append(("time", ">=", lo - margin))
        if hi is not None:
            # a resampled bar opening at or before `hi` is built from all its source bars, not cut at `hi`
            filters.append(("time", "<", hi + margin) if margin else ("time", "<=", hi))
        df = pd.read_parquet(self.path(inst.symbol, src_tf), filters=filters or None)
        df.index = pd.DatetimeIndex(df.index, name="time").tz_convert("UTC").as_unit("ns")
        if src_tf != tf:
            df = resample(df, tf)
            if lo is not None:
                df = df[df.index >= lo]
            if hi is not None:
                df = df[df.index <= hi]
        if len(df) == 0:
            cov = self.catalog()
            row = cov[(cov.symbol == inst.symbol) & (cov.timeframe == src_tf)].iloc[0]
            raise DataError(
                f"No {inst.symbol} {tf} bars between {start} and {end}. Stored coverage: "
                f"{row['first']:%Y-%m-%d %H:%M} → {row['last']:%Y-%m-%d %H:%M} UTC."
            )
        df.attrs = {}
        return df

    def ensure_samples(self, symbols=None, sample_dir: str | Path | None = None, log=None) -> list[ImportResult]:
        """Import the bundled MT5 sample exports for ``symbols`` that the store lacks (M5)."""
        sample_dir = Path(sample_dir) if sample_dir else settings().sample_data_dir
        done = []
        for sym in symbols or SAMPLE_FILES:
            sym = sym.upper()
            if sym not in SAMPLE_FILES or "M5" in self.stored_timeframes(sym):
                continue
            f = sample_dir / SAMPLE_FILES[sym]
            if not f.is_file():
                continue
            if log:
                log(f"Importing sample data {f.name} → {self.path(sym, 'M5')} (server time {SAMPLE_SERVER_TZ} → UTC)")
            done.append(self.import_file(f, sym, "M5", SAMPLE_SERVER_TZ))
        return done


def _replace_atomically(p: Path, write) -> None:
    """``write(tmp)`` a temporary file beside ``p``, then rename it over ``p`` (a failure leaves ``p`` as it was)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _conflicts(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Bars of ``new`` whose open time is stored in ``old`` with different prices: per bar the old and new
    prices (columns ``old_<c>``, ``new_<c>``) and ``diff`` (largest absolute price difference)."""
    common = new.index.intersection(old.index)
    if not len(common):
        return pd.DataFrame()
    a = old.loc[common, list(PRICE_COLUMNS)].to_numpy(dtype="float64")
    b = new.loc[common, list(PRICE_COLUMNS)].to_numpy(dtype="float64")
    d = abs(a - b)
    bad = (d > 1e-9 * np.maximum(1.0, abs(a))).any(axis=1)
    if not bad.any():
        return pd.DataFrame()
    out = pd.DataFrame(index=common[bad])
    for j, c in enumerate(PRICE_COLUMNS):
        out[f"old_{c}"], out[f"new_{c}"] = a[bad, j], b[bad, j]
    out["diff"] = d[bad].max(axis=1)
    out["column"] = [PRICE_COLUMNS[k] for k in d[bad].argmax(axis=1)]
    return out


def _conflict_error(conflicts: pd.DataFrame, inst, tf: str, file) -> HistoryConflict:
    """The :class:`HistoryConflict` for ``conflicts`` (:func:`_conflicts`) of an import of ``file``."""
    pip = inst.pip_size
    digits = inst.digits
    examples = []
    for t, r in conflicts.head(SHOWN_CONFLICTS).iterrows():
        c = r["column"]
        examples.append({"time": t, "column": c, "old": float(r[f"old_{c}"]), "new": float(r[f"new_{c}"])})
    largest = float(conflicts["diff"].max()) / pip
    shown = "; ".join(f"{e['time']:%Y-%m-%d %H:%M} UTC {e['column']} {e['old']:.{digits}f} → {e['new']:.{digits}f}"
                      for e in examples)
    n = len(conflicts)
    msg = (f"{file}: {n:,} bar{'s' if n != 1 else ''} already stored for {inst.symbol} {tf} at different prices "
           f"(largest difference {largest:,.1f} pips): {shown}{' …' if n > len(examples) else ''}. Nothing was "
           f"imported. If the file is right, import it again with --replace: the stored series is kept as a dated "
           f"version first (`ita data history {inst.symbol}`, `ita data restore {inst.symbol} VERSION`).")
    return HistoryConflict(msg, n, largest, examples, inst.symbol, tf)


def load_candles(symbol: str, timeframe: str = "M5", start=None, end=None, data_dir=None) -> pd.DataFrame:
    """Shortcut for ``CandleStore(data_dir).load(...)``; see :meth:`CandleStore.load`."""
    return CandleStore(data_dir).load(symbol, timeframe, start, end)
