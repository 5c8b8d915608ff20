"""What the tools read: the candle store (the sample exports imported on first use), its coverage, setups
with chat-worded override errors, runs, the charts folder and PNG export that degrades to a warning.

Every function raises :class:`~ita.errors.ItaError` (mostly :class:`~ita.errors.DataError`) with one sentence
that names what is stored when a request falls outside it; the ``tool`` wrapper turns it into a failed result.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita.config import settings
from ita.errors import DataError, ItaError, closest
from ita.times import NY
from ita.times import day_text as _day
from ita.tools.registry import one_line

if TYPE_CHECKING:  # pandas/numpy are imported where used: the tool registry loads without them
    import pandas as pd

log = logging.getLogger(__name__)


def instrument_of(symbol: str):
    from ita.data.instruments import get_instrument

    return get_instrument(symbol)


def candle_store(symbol: str | None = None):
    """The candle store, with the sample exports imported on first use (all, or just ``symbol``'s)."""
    from ita.data.store import SAMPLE_FILES, CandleStore

    store = CandleStore()
    want = [symbol] if symbol else list(SAMPLE_FILES)
    if any(s in SAMPLE_FILES and "M5" not in store.stored_timeframes(s) for s in want):
        store.ensure_samples([s for s in want if s in SAMPLE_FILES])
    return store


def stored_coverage(store, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC open times of the first and last stored bar of ``symbol`` over every stored timeframe (M5 history
    imported and a few days of M1 kept from a live feed cover the whole period, not just the live days)."""
    tfs = store.stored_timeframes(symbol)
    if not tfs:
        have = store.symbols()
        raise DataError(f"No candles stored for {symbol}.{closest(symbol, have)} Stored symbols: "
                        f"{', '.join(have) or 'none'}. Import with `ita data import FILE --symbol {symbol} "
                        f"--timeframe M5 --server-tz Europe/Athens`.")
    spans = [c for c in (store.coverage(symbol, tf) for tf in tfs) if c is not None]
    if not spans:
        raise DataError(f"The stored {symbol} series are empty. Import with `ita data import FILE --symbol {symbol}`.")
    return min(a for a, _ in spans), max(b for _, b in spans)


def load_bars(store, symbol: str, timeframe: str, start, end) -> pd.DataFrame:
    """``store.load`` with a period outside the data explained by the stored coverage."""
    try:
        return store.load(symbol, timeframe, start, end)
    except DataError as exc:
        if not str(exc).startswith(f"No {symbol} {timeframe} bars"):
            raise
        first, last = stored_coverage(store, symbol)
        lo = _day(start) if start is not None else "the start"
        hi = _day(end) if end is not None else "the end"
        raise DataError(f"No {symbol} {timeframe} bars in {lo} → {hi}; stored {first:%Y-%m-%d} → {last:%Y-%m-%d} "
                        "(UTC).") from None


def load_setup_checked(setup_id: str, version: int | None = None, params: dict | None = None):
    """:func:`ita.setups.load_setup` with override errors phrased for the chat (no CLI flags, no full list)."""
    from ita.errors import SetupError
    from ita.setups.loader import load_setup

    try:
        return load_setup(setup_id, version, params or None)
    except SetupError as exc:
        msg = str(exc)
        if msg.startswith("--param "):
            msg = "Override " + msg.removeprefix("--param ").split(" Parameters: ")[0]
            raise SetupError(msg if msg.endswith((".", "?")) else msg + ".") from None
        raise


def run_error(exc: ItaError) -> ItaError:
    return ItaError(str(exc).replace("See `ita runs list`.", "Try `list runs`."))


def trading_period(store, symbol: str, start: str | None, end: str | None, tz: str = NY) -> tuple[str, str]:
    """``start``/``end`` (``YYYY-MM-DD``, local dates in ``tz``) clamped to the first/last stored trading day
    (``None`` means that day); :class:`DataError` naming the stored period when the requested one has no data.
    :func:`period_warning` says when the dates used differ from the dates asked."""
    first, last = stored_coverage(store, symbol)
    d0, d1 = first.tz_convert(tz).strftime("%Y-%m-%d"), last.tz_convert(tz).strftime("%Y-%m-%d")
    lo, hi = start or d0, end or d1
    if hi < lo or hi < d0 or lo > d1:
        raise DataError(f"No {symbol} data in {lo} → {hi}; stored {d0} → {d1}: ask for a period inside it.")
    return max(lo, d0), min(hi, d1)


def period_warning(symbol: str, start: str | None, end: str | None, lo: str, hi: str) -> str | None:
    """A one-line note when the period used (``lo``–``hi``) is shorter than the one asked (``start``–``end``),
    e.g. "last quarter" reaching past the stored data; ``None`` when it is the same or was open-ended."""
    if not (start and start != lo) and not (end and end != hi):
        return None
    return (f"Asked {start or '…'} → {end or '…'}; {symbol} data is stored only for part of it, so the test used "
            f"{lo} → {hi}.")


def charts_dir() -> Path:
    d = settings().home / "charts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_chart_png(fig, path: Path, width: int = 1200, height: int = 700) -> tuple[Path | None, str | None]:
    """Write a PNG; a missing/failed Chromium becomes a warning, never a failed tool."""
    from ita.charts.export import save_png

    try:
        return save_png(fig, path, width=width, height=height), None
    except ItaError as exc:
        return None, f"PNG chart skipped: {one_line(str(exc))}"


def latest_runs(store, limit: int) -> pd.DataFrame:
    """Latest runs first; runs stored within the same second keep their insertion order (newest first)."""
    import pandas as pd

    if not store.db["runs"].exists():
        return pd.DataFrame()
    return pd.DataFrame(list(store.db.query("select * from runs order by created_at desc, rowid desc limit ?",
                                            [int(limit)])))


def no_runs_error() -> ItaError:
    return ItaError("No backtest runs are stored yet; run one first, e.g. `backtest asia_fvg_break on EURUSD`.")


def setup_currency(setup_id: str, version: Any) -> str:
    """The account currency of a setup version (USD when the file is gone)."""
    from ita.setups.loader import load_setup

    try:
        return load_setup(setup_id, version).setup.risk.currency
    except ItaError:
        return "USD"
