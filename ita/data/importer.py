"""Reading what a trader hands over — a file, several files, a folder, ``.gz`` / ``.zip`` archives — into one
canonical UTC candle frame, with the format and the clock named and checked.

:func:`read_candles` does, in order:

1. **Expand** the inputs: files; folders (their ``.csv`` / ``.txt`` / ``.gz`` / ``.zip`` files, by name);
   archives (a ``.gz`` holds one file; a ``.zip`` its ``.csv`` members, or ``.txt`` members that read as
   candles — HistData's status ``.txt`` beside the ``.csv`` is skipped).
2. **Detect the format** of each (:func:`ita.data.formats.sniff`; ``fmt`` forces one). All inputs must share
   one format, else one message names which file is which.
3. **The clock.** Times a file fixes itself (epoch numbers, offsets, Dukascopy GMT) are UTC. Otherwise, in
   this order: ``server_tz`` as given, checked against the data's weekly rhythm (a warning with the
   evidence and the clock that fits when it disagrees; ``Etc/GMT+5`` explained); else the clock the data's
   weekly closes/opens/pauses imply (:func:`ita.data.clock.infer_clock`); else — a file too short to tell —
   the format's documented clock (HistData: UTC−5) or ``Europe/Athens`` (crypto: UTC), with a warning.
4. **Combine**: per file the times must not go backwards; a bar repeated with the same prices is dropped
   (counted in the notes); a bar repeated with **different** prices is refused, naming both places.

Nothing is written here; :meth:`ita.data.store.CandleStore.import_file` validates and stores the result.

Example::

    >>> from ita.data.importer import read_candles
    >>> candles, rep = read_candles(["DAT_MT_EURUSD_M1_2025.zip"], symbol="EURUSD")     # doctest: +SKIP
    >>> rep.fmt.name, rep.clock_line                                                     # doctest: +SKIP
    ('histdata_mt', 'UTC−5 (fixed, all year), inferred from the data: 52 weekly closes … (HistData: EST)')
"""
from __future__ import annotations

import gzip
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ita.data.clock import Clock, check_clock, collect_evidence, etc_note, infer_clock, parse_clock
from ita.data.formats import PRICE, VALUES, Format, Parsed, parse_text, probe
from ita.data.timeframes import TIMEFRAMES, normalize_tf
from ita.data.validate import ValidationReport, describe_lines, validate_candles
from ita.errors import DataError

DEFAULT_CLOCK = "Europe/Athens"
CANDLE_SUFFIXES = (".csv", ".txt", ".gz", ".zip")
SHOWN = 5


@dataclass
class SourceFile:
    """One input that held candles: ``name`` (path, ``archive.zip:member`` inside an archive), its format,
    rows, and first/last bar (UTC)."""

    name: str
    fmt: str
    rows: int
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None


@dataclass
class ReadReport:
    """How the inputs were read: the ``files``, the ``fmt``, the ``clock`` (None when the files fix UTC
    themselves) and ``clock_source`` (``"given"``, ``"in the data"``, ``"inferred"``, ``"format"``,
    ``"default"``), ``clock_line`` (one sentence for the import report), ``timeframe`` and where it came from,
    ``symbol`` and where it came from, ``warnings`` (the trader should act) and ``notes`` (for information)."""

    files: list[SourceFile]
    fmt: Format
    clock: Clock | None
    clock_source: str
    clock_line: str
    timeframe: str
    timeframe_source: str
    symbol: str
    symbol_source: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repeated: int = 0
    validation: ValidationReport | None = None

    @property
    def server_tz(self) -> str:
        """The clock's name as stored with the series (``UTC`` when the files fixed UTC themselves)."""
        return self.clock.name if self.clock is not None else "UTC"


# ---- inputs -------------------------------------------------------------------------------------------------

def _decode(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


def expand(paths) -> list[tuple[str, str]]:
    """``[(name, text)]`` of every candle file the inputs hold (files, folders, ``.gz``, ``.zip``). Raises
    :class:`DataError` for a missing path, an empty folder, an unreadable archive or one without candles."""
    out: list[tuple[str, str]] = []
    for p in [Path(x).expanduser() for x in (paths if isinstance(paths, (list, tuple)) else [paths])]:
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                           and f.name.lower().endswith(CANDLE_SUFFIXES))
            if not files:
                raise DataError(f"{p}: the folder holds no candle files (.csv, .txt, .gz, .zip).")
            for f in files:
                out += _open(f, in_folder=True)
        elif p.is_file():
            out += _open(p)
        else:
            raise DataError(f"{p}: no such file or folder.")
    if not out:
        raise DataError(f"{', '.join(str(x) for x in paths)}: no candle files found.")
    return out


def _open(p: Path, in_folder: bool = False) -> list[tuple[str, str]]:
    low = p.name.lower()
    if low.endswith(".gz"):
        try:
            return [(str(p), _decode(gzip.decompress(p.read_bytes())))]
        except (OSError, EOFError) as exc:
            raise DataError(f"{p}: not a readable .gz archive ({exc}).") from None
    if low.endswith(".zip"):
        try:
            zf = zipfile.ZipFile(p)
        except zipfile.BadZipFile:
            raise DataError(f"{p}: not a readable .zip archive.") from None
        with zf:
            members = [m for m in zf.namelist() if not m.endswith("/") and not Path(m).name.startswith((".", "__"))]
            picked = []
            for m in members:
                if m.lower().endswith(".csv"):
                    picked.append((f"{p}:{m}", _decode(zf.read(m))))
            if not picked:  # .txt members that read as candles (HistData ASCII); status reports are skipped
                for m in members:
                    if m.lower().endswith(".txt"):
                        text = _decode(zf.read(m))
                        try:
                            probe(text, m)
                        except DataError:
                            continue
                        picked.append((f"{p}:{m}", text))
        if not picked:
            raise DataError(f"{p}: the archive holds no candle file (members: {', '.join(members) or 'none'}).")
        return picked
    if in_folder and low.endswith(".txt"):
        text = _decode(p.read_bytes())
        try:
            probe(text, str(p))
        except DataError:
            return []                     # a readme or status report beside the candle files
        return [(str(p), text)]
    return [(str(p), _decode(p.read_bytes()))]


# ---- symbol and timeframe -----------------------------------------------------------------------------------

def symbol_from_names(names: list[str]) -> str | None:
    """The instrument named in a file name (``DAT_MT_EURUSD_M1_2025.csv``, ``AVAXUSDT-1m-2025-01.zip``,
    ``OANDA_XAUUSD, 5.csv``), or None."""
    from ita.data.instruments import find_instrument

    for name in names:
        stem = Path(name.split(":")[-1]).name
        for tok in re.split(r"[^A-Za-z0-9]+", stem):
            if len(tok) >= 5 and not tok.isdigit():
                inst = find_instrument(tok)
                if inst is not None:
                    return inst.symbol
    return None


def infer_timeframe(times: pd.DatetimeIndex) -> str | None:
    """The bar size of sorted bar open times: the most common step among the known timeframes."""
    if len(times) < 2:
        return None
    d = np.diff(pd.DatetimeIndex(times).as_unit("ns").asi8)
    d = d[d > 0]
    if not len(d):
        return None
    vals, counts = np.unique(d, return_counts=True)
    step = int(vals[np.argmax(counts)])
    for name, td in TIMEFRAMES.items():
        if td.value == step:
            return name
    return None


# ---- the whole read -----------------------------------------------------------------------------------------

def read_candles(paths, server_tz: str | None = None, fmt: str | None = None, timeframe: str | None = None,
                 symbol: str | None = None) -> tuple[pd.DataFrame, ReadReport]:
    """Read ``paths`` (a file, folder or archive, or a list of them) into one validated canonical frame (UTC
    index, ``open … spread``, prices rounded to the symbol's digits; :func:`ita.data.validate.validate_candles`,
    each file on its own so a message names its file and line) and a :class:`ReadReport` (its ``validation``:
    gaps of the whole series). See the module doc for the steps. Raises :class:`DataError` for every bad input,
    before anything is stored."""
    from ita.data.instruments import get_instrument

    items = expand(paths)
    parsed: list[Parsed] = [parse_text(text, name, fmt) for name, text in items]
    kinds = {p.fmt.name for p in parsed}
    if len(kinds) > 1:
        by = {}
        for p in parsed:
            by.setdefault(p.fmt.title, []).append(Path(p.where.split(":")[-1]).name)
        listing = "; ".join(f"{k}: {', '.join(v[:4])}{' …' if len(v) > 4 else ''}" for k, v in by.items())
        raise DataError(f"The inputs mix formats ({listing}). One import is one series from one source: import "
                        "each format on its own (they may be on different clocks and price feeds).")
    f = parsed[0].fmt
    sym_source = "given"
    if symbol is None:
        symbol = symbol_from_names([p.where for p in parsed])
        sym_source = "from the file name"
        if symbol is None:
            raise DataError(f"{parsed[0].where}: which instrument is it? Give --symbol (e.g. --symbol EURUSD); "
                            "the file name names none ITA knows (`ita instruments list`).")
    inst = get_instrument(symbol)
    aware = {p.times.tz is not None for p in parsed}
    if len(aware) > 1:
        raise DataError("Some inputs carry UTC times (epoch numbers or offsets) and some wall-clock times: import "
                        "them separately.")
    for p in parsed:
        _check_order(p)
    naive = not aware.pop()
    allt = pd.DatetimeIndex(np.sort(np.concatenate([p.times.as_unit("ns").asi8 for p in parsed])))
    if naive:
        allt = allt.tz_localize(None)
    tf_source = "given"
    if timeframe is None:
        timeframe = infer_timeframe(allt)
        tf_source = "from the bar spacing"
        if timeframe is None:
            raise DataError(f"{parsed[0].where}: the bar spacing matches no timeframe ITA knows "
                            f"({', '.join(TIMEFRAMES)}); give --timeframe.")
    tf = normalize_tf(timeframe)
    warnings, notes = [], []
    if naive:
        clock, source, line = _choose_clock(allt, tf, inst, f, server_tz, warnings, notes)
    else:
        clock, source = None, "in the data"
        line = f"UTC — the times are {parsed[0].time_basis}"
        if server_tz:
            notes.append(f"--server-tz {server_tz} does not apply: the file's times are {parsed[0].time_basis}.")
    frames, files = [], []
    for p in parsed:
        df = _to_frame(p, clock)
        frames.append(df)
        files.append(SourceFile(p.where, p.fmt.name, len(df), df.index.min() if len(df) else None,
                                df.index.max() if len(df) else None))
    if len(frames) > 1:
        for p, df in zip(parsed, frames):
            validate_candles(df, symbol=inst.symbol, timeframe=tf, where=p.where)
    out, repeated = _combine(frames, parsed)
    where = parsed[0].where if len(parsed) == 1 else f"{len(parsed)} files ({Path(parsed[0].where).name} …)"
    out, validation = validate_candles(out, symbol=inst.symbol, timeframe=tf, where=where)
    validation.warnings = warnings + validation.warnings       # one list: the import's warnings, clock first
    warnings = validation.warnings
    if repeated:
        notes.append(f"{repeated:,} repeated bar{'s' if repeated != 1 else ''} (same time, same prices) "
                     "counted once.")
    rep = ReadReport(files, f, clock, source, line, tf, tf_source, inst.symbol, sym_source, warnings, notes, repeated,
                     validation)
    return out, rep


def _check_order(p: Parsed) -> None:
    t = p.times.as_unit("ns").asi8
    back = np.r_[False, np.diff(t) < 0]
    if back.any():
        raise DataError(f"{p.where}: bar times go backwards on {describe_lines(back, p.lines)}; the file must be "
                        "sorted by time.")


def _choose_clock(naive: pd.DatetimeIndex, tf: str, inst, f: Format, server_tz: str | None,
                  warnings: list[str], notes: list[str]) -> tuple[Clock, str, str]:
    from ita.data.timeframes import tf_delta

    ev = collect_evidence(naive, tf_delta(tf), inst.asset_class)
    if server_tz:
        clock = parse_clock(server_tz)
        note = etc_note(clock)
        if note:
            notes.append(note)
        bad = check_clock(clock, ev)
        if bad:
            warnings.append(bad)
            return clock, "given", f"{clock.describe()}, as given (--server-tz) — the data disagree (see the warning)"
        checked = f"; the data agree ({len(ev)} weekly closes/opens/pauses)" if len(ev) >= 2 else ""
        return clock, "given", f"{clock.describe()}, as given (--server-tz){checked}"
    prefer = f.clock or (None if inst.trades_weekends else DEFAULT_CLOCK)
    inf = infer_clock(ev, prefer=parse_clock(prefer).name if prefer else None)
    if inf.clock is not None:
        extra = ""
        if f.clock and parse_clock(f.clock).name != inf.clock.name:
            extra = f" ({f.note}, but this file's rhythm fits {inf.clock.name}; give --server-tz to overrule)"
            warnings.append(f"{f.title}: {f.note}, but this file's weekly rhythm fits {inf.clock.describe()}: "
                            f"used that. Give --server-tz {parse_clock(f.clock).name} to overrule.")
        elif f.clock:
            extra = f" ({f.note})"
        return inf.clock, "inferred", f"{inf.clock.describe()}, inferred from the data: {inf.text}{extra}"
    if inst.trades_weekends and not f.clock:
        clock = parse_clock("UTC")
        notes.append(f"{inst.symbol} trades through the weekend, so the file's clock cannot be checked against a "
                     "weekly close; assumed UTC (exchanges' time). Give --server-tz if the file is on another clock.")
        return clock, "default", "UTC, assumed (crypto exchanges' time; no weekly close to check it against)"
    name = f.clock or DEFAULT_CLOCK
    clock = parse_clock(name)
    why = f.note if f.clock else "most MT5 brokers' server clock"
    warnings.append(f"The file's clock could not be checked ({inf.text}): assumed {clock.describe()} — {why}. "
                    f"If the bars are on another clock, import again with --server-tz … --replace.")
    return clock, "format" if f.clock else "default", f"{clock.describe()}, assumed ({why}; too short to check)"


def _to_frame(p: Parsed, clock: Clock | None) -> pd.DataFrame:
    if p.times.tz is None:
        idx, bad = clock.to_utc(p.times)
        if bad.any():
            first = p.times[bad][0]
            raise DataError(
                f"{p.where}: times on {describe_lines(bad, p.lines)} (first {first}) do not exist or are ambiguous "
                f"on the clock {clock.name} (a DST switch). Check --server-tz: MT5 servers normally jump their clock "
                "over the weekend, so such bars suggest the file is on another clock."
            )
    else:
        idx = p.times.tz_convert("UTC")
    df = pd.DataFrame({c: p.values[c] for c in VALUES}, index=pd.DatetimeIndex(idx, name="time").as_unit("ns"))
    df.attrs["lines"] = p.lines
    df.attrs["source"] = p.where
    return df


def _combine(frames: list[pd.DataFrame], parsed: list[Parsed]) -> tuple[pd.DataFrame, int]:
    """One frame, time-ordered; identical repeats dropped (count returned); repeats at other prices refused."""
    lines = np.concatenate([np.asarray(x.attrs["lines"]) for x in frames])
    if len(frames) == 1:
        df = frames[0]
        src = np.zeros(len(df), dtype="int64")
    else:
        bare = []
        for x in frames:
            y = x.copy(deep=False)
            y.attrs = {}
            bare.append(y)
        df = pd.concat(bare)
        src = np.concatenate([np.full(len(x), k) for k, x in enumerate(frames)])
    order = np.argsort(df.index.asi8, kind="stable")
    df, src, lines = df.iloc[order], src[order], lines[order]
    t = df.index.asi8
    rep = np.r_[False, t[1:] == t[:-1]]
    if rep.any():
        prices = df[list(PRICE)].to_numpy()
        diff = rep & np.r_[False, (np.abs(prices[1:] - prices[:-1]) > 1e-9 * np.abs(prices[1:])).any(axis=1)]
        if diff.any():
            k = np.flatnonzero(diff)
            names = [Path(p.where).name if ":" not in p.where else p.where.split(":")[-1] for p in parsed]
            col = [PRICE[int(np.argmax(np.abs(prices[i] - prices[i - 1])))] for i in k[:SHOWN]]
            shown = "; ".join(
                f"{df.index[i]:%Y-%m-%d %H:%M} UTC: {names[src[i - 1]]} line {lines[i - 1]} {c} "
                f"{df[c].iloc[i - 1]:g} vs {names[src[i]]} line {lines[i]} {c} {df[c].iloc[i]:g}"
                for i, c in zip(k[:SHOWN], col))
            where = parsed[0].where if len(parsed) == 1 else f"{len(parsed)} files"
            raise DataError(f"{where}: {len(k):,} bar{'s appear' if len(k) != 1 else ' appears'} twice with different prices ({shown}"
                            f"{' …' if len(k) > SHOWN else ''}). Nothing was imported: remove the wrong rows or "
                            "import the files separately (the second with --replace if it should win).")
        keep = ~rep
        df, lines = df[keep], lines[keep]
    out = df.copy()
    out.attrs = {"lines": lines, "source": parsed[0].where if len(parsed) == 1 else f"{len(parsed)} files"}
    return out, int(rep.sum())
