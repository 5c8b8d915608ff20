"""Crypto candles from an exchange through CCXT: history into the candle store, and closed candles for a live feed.

:func:`fetch_to_store` pages through ``fetch_ohlcv`` (the exchange's own page size, its rate limit through
CCXT's throttle, ``enableRateLimit``), keeps **closed** candles only (the one still forming at the exchange's
clock is dropped), validates them and appends them to the same candle store as every import
(:meth:`ita.data.store.CandleStore.append`: deduplicated, atomic). It saves every ``save_every`` bars, so a run
that is interrupted — killed, network gone — resumes from the last stored bar when started again: no gap, no
duplicate. Temporary failures (429 rate limits, 5xx, timeouts: CCXT's ``OperationFailed``) are retried with
backoff (the exchange's ``Retry-After`` when it sends one); an unknown exchange or market is one clear
:class:`~ita.errors.DataError` naming close matches.

``ITA_CCXT_API_URL`` points every REST URL of the exchange at another host (a local proxy or a test server);
the path stays the exchange's. CCXT is imported on first use.

Example::

    >>> from ita.data.ccxt_source import fetch_to_store
    >>> res = fetch_to_store("binance", "BTC/USDT", "M1", "2025-01-01", "2025-01-31")     # doctest: +SKIP
    >>> res.added, res.last                                                                # doctest: +SKIP
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ita.data.timeframes import TIMEFRAMES, normalize_tf, tf_delta
from ita.errors import DataError, closest

CCXT_TIMEFRAMES = {"M1": "1m", "M5": "5m", "M15": "15m", "M30": "30m", "H1": "1h", "H4": "4h", "D1": "1d"}
PAGE = 1000


def ita_timeframe(tf: str) -> str:
    """``"1m"`` / ``"M1"`` / ``"1h"`` → ITA's name (``M1``, ``H1``). Raises :class:`DataError` for others."""
    back = {v: k for k, v in CCXT_TIMEFRAMES.items()}
    t = str(tf).strip()
    if t in back:
        return back[t]
    return normalize_tf(t)


def _swap_host(url, base: str):
    from urllib.parse import urlsplit, urlunsplit

    if isinstance(url, dict):
        return {k: _swap_host(v, base) for k, v in url.items()}
    if not isinstance(url, str):
        return url
    b, u = urlsplit(base), urlsplit(url)
    return urlunsplit((b.scheme, b.netloc, u.path, u.query, u.fragment))


def make_exchange(exchange_id: str, market: str | None = None):
    """A CCXT exchange object with the rate limit on (spot markets only unless ``market`` is a derivative,
    ``BTC/USDT:USDT``); ``ITA_CCXT_API_URL`` redirects its REST URLs. Raises :class:`DataError` for an unknown
    exchange (with close matches) or a missing ccxt package."""
    try:
        import ccxt
    except ImportError:
        raise DataError("The ccxt package is not installed: `pip install ccxt` (it is in ITA's pinned "
                        "requirements; run scripts/setup.sh).") from None
    ex_id = str(exchange_id).strip().lower()
    if ex_id not in ccxt.exchanges:
        raise DataError(f"Unknown exchange {exchange_id!r}.{closest(ex_id, ccxt.exchanges)} CCXT knows "
                        f"{len(ccxt.exchanges)} exchanges, e.g. binance, bybit, okx, kraken, coinbase.")
    opts = {} if market and ":" in market else {"fetchMarkets": {"types": ["spot"]}}
    ex = getattr(ccxt, ex_id)({"enableRateLimit": True, "timeout": 20_000, "options": opts})
    base = (os.environ.get("ITA_CCXT_API_URL") or "").strip().rstrip("/")
    if base:
        ex.urls["api"] = _swap_host(ex.urls["api"], base)
    return ex


def call_with_retry(fn: Callable, what: str, retries: int = 6, wait: float = 1.0, log=None, ex=None):
    """``fn()`` retried on CCXT's temporary failures (rate limit 429, 5xx, timeouts, network) with exponential
    backoff from ``wait`` seconds (capped at 60), or the ``Retry-After`` the exchange ``ex`` sent; a permanent
    error (bad symbol, bad request) is not retried. Raises :class:`DataError` naming ``what`` after the last
    attempt."""
    import ccxt

    for attempt in range(retries + 1):
        try:
            return fn()
        except ccxt.OperationFailed as exc:                       # temporary: 429, 5xx, timeouts, network
            if attempt == retries:
                raise DataError(f"{what}: the exchange kept failing ({type(exc).__name__}: {str(exc)[:200]}) after "
                                f"{retries} retries; nothing half-written was stored — run it again later.") from None
            pause = min(wait * 2 ** attempt, 60.0)
            retry_after = _retry_after(getattr(ex, "last_response_headers", None))
            if retry_after is not None:
                pause = max(retry_after, 0.05)
            if log:
                log(f"{what}: {type(exc).__name__}, retry {attempt + 1}/{retries} in {pause:.1f} s")
            time.sleep(pause)
        except ccxt.BaseError as exc:
            raise DataError(f"{what}: {type(exc).__name__}: {str(exc)[:300]}") from None
    raise AssertionError("unreachable")


def _retry_after(headers) -> float | None:
    for k, v in (headers.items() if isinstance(headers, dict) else []):
        if str(k).lower() == "retry-after":
            try:
                return float(v)
            except (TypeError, ValueError):
                return None
    return None


def check_market(ex, market: str) -> str:
    """The exchange's spelling of ``market`` after loading its markets; :class:`DataError` with close matches
    when it has no such market."""
    markets = call_with_retry(ex.load_markets, f"{ex.id} markets", ex=ex)
    m = str(market).strip().upper()
    if m in markets:
        return m
    alt = m.replace("-", "/").replace("_", "/")
    if alt in markets:
        return alt
    raise DataError(f"{ex.id} has no market {market!r}.{closest(m, list(markets))} Markets are written "
                    "BASE/QUOTE, e.g. BTC/USDT (perpetuals BTC/USDT:USDT).")


def rows_to_frame(rows: list, now_ms: int, step_ms: int) -> pd.DataFrame:
    """CCXT OHLCV rows ``[ms, open, high, low, close, volume]`` → canonical frame of the **closed** candles
    (open + step ≤ ``now_ms``); spread NaN (exchanges have none per candle)."""
    if not rows:
        return _empty()
    a = np.asarray([r[:6] for r in rows], dtype="float64")
    a = a[a[:, 0] + step_ms <= now_ms]
    if not len(a):
        return _empty()
    idx = pd.DatetimeIndex(pd.to_datetime(a[:, 0].astype("int64"), unit="ms", utc=True), name="time").as_unit("ns")
    df = pd.DataFrame({"open": a[:, 1], "high": a[:, 2], "low": a[:, 3], "close": a[:, 4],
                       "volume": np.nan_to_num(a[:, 5]), "spread": np.nan}, index=idx)
    return df[~df.index.duplicated(keep="last")].sort_index()


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close", "volume", "spread")},
                        index=pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ns"))


def exchange_now_ms(ex) -> int:
    """The exchange's clock when it tells it (``fetch_time``), else this machine's."""
    try:
        if ex.has.get("fetchTime"):
            t = ex.fetch_time()
            if t:
                return int(t)
    except Exception:  # noqa: BLE001 - only a better clock; the local one is fine
        pass
    return int(time.time() * 1000)


def fetch_range(ex, market: str, timeframe: str, since: pd.Timestamp, until: pd.Timestamp, now_ms: int,
                retries: int = 6, wait: float = 1.0, log=None):
    """Yield frames of closed candles opening in ``[since, until]`` (UTC), one page at a time, oldest first."""
    tf = ita_timeframe(timeframe)
    step = int(tf_delta(tf).value // 10**6)
    cursor = int(since.value // 10**6)
    end = int(until.value // 10**6)
    limit = PAGE                                  # an exchange with smaller pages answers fewer rows: fine
    while cursor <= end:
        rows = call_with_retry(lambda c=cursor: ex.fetch_ohlcv(market, CCXT_TIMEFRAMES[tf], since=c, limit=limit),
                               f"{ex.id} {market} {CCXT_TIMEFRAMES[tf]} candles from {pd.Timestamp(cursor, unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC",
                               retries, wait, log, ex)
        rows = [r for r in rows if r and cursor <= r[0] <= end]
        if not rows:
            nxt = cursor + limit * step                          # a hole at the exchange (listing, maintenance)
            if nxt > min(end, now_ms):
                return
            cursor = nxt
            continue
        yield rows_to_frame(rows, now_ms, step)
        cursor = int(rows[-1][0]) + step


@dataclass
class FetchResult:
    """What :func:`fetch_to_store` did: the stored ``symbol``/``timeframe``, bars ``added`` (new), ``total``
    stored, ``first``/``last`` fetched (UTC), ``pages`` requested, ``resumed_from`` (the stored bar it went on
    after, or None), ``conflicts`` (refetched bars whose prices differ from the stored ones: reported, the stored
    ones kept), ``derived`` (timeframes rebuilt from an M1 series), ``path``."""

    symbol: str
    timeframe: str
    market: str
    exchange: str
    added: int
    total: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    pages: int
    resumed_from: pd.Timestamp | None
    conflicts: int
    derived: list
    path: object


def fetch_to_store(exchange_id: str, market: str, timeframe: str, start, end=None, *, symbol: str | None = None,
                   store=None, exchange=None, save_every: int = 20_000, retries: int = 6, wait: float = 1.0,
                   progress: Callable[[int, pd.Timestamp], None] | None = None, log=None) -> FetchResult:
    """Fetch ``market``'s ``timeframe`` candles opening in ``[start, end]`` (UTC; a bare date as ``end`` is that
    whole day; ``end`` None = now) into the candle store under ``symbol`` (default: the instrument ``market``
    names, e.g. BTC/USDT → BTCUSDT; :func:`ita.data.instruments.get_instrument`).

    Only what is missing is fetched: bars before the first stored one and after the last (a resumed run goes
    on after the last stored bar). Saves every ``save_every`` bars. ``progress(bars_so_far, last_time)`` is
    called per page. Raises :class:`DataError` for an unknown exchange or market, a period in the future, or an
    exchange that keeps failing — what was saved before stays, complete."""
    from ita.data.instruments import get_instrument
    from ita.data.store import CandleStore

    tf = ita_timeframe(timeframe)
    inst = get_instrument(symbol or market)
    store = store or CandleStore()
    ex = exchange or make_exchange(exchange_id, market)
    mk = check_market(ex, market)
    now_ms = exchange_now_ms(ex)
    step = tf_delta(tf)
    lo = _utc(start)
    hi = _utc(end, end=True) if end is not None else pd.Timestamp(now_ms, unit="ms", tz="UTC")
    hi = min(hi, pd.Timestamp(now_ms, unit="ms", tz="UTC") - step)         # closed candles only
    if hi < lo:
        raise DataError(f"No closed {tf} candles in {lo:%Y-%m-%d %H:%M} → {end or 'now'} UTC yet "
                        f"(the exchange's clock: {pd.Timestamp(now_ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC).")
    ranges, resumed = [(lo, hi)], None
    have = store.coverage(inst.symbol, tf)
    if have is not None:
        first, last = have
        ranges = []
        if lo < first:
            ranges.append((lo, min(hi, first - step)))
        if hi > last:
            ranges.append((max(lo, last + step), hi))
            resumed = last if lo <= last else None
    added, conflicts, pages, got_first, got_last, pending = 0, 0, 0, None, None, []
    where = f"{ex.id} {mk}"

    def flush():
        nonlocal added, conflicts, pending
        if pending:
            bars = pd.concat(pending)
            bars = bars[~bars.index.duplicated(keep="last")].sort_index()
            n, bad = store.append(inst.symbol, tf, bars, source=f"ccxt:{ex.id}:{mk}")
            added += n
            conflicts += len(bad)
            pending = []

    done = 0
    for a, b in ranges:
        for page in fetch_range(ex, mk, tf, a, b, now_ms, retries, wait, log):
            pages += 1
            if not len(page):
                continue
            pending.append(page)
            done += len(page)
            got_first = page.index[0] if got_first is None else min(got_first, page.index[0])
            got_last = page.index[-1] if got_last is None else max(got_last, page.index[-1])
            if sum(len(p) for p in pending) >= save_every:
                flush()
            if progress:
                progress(done, page.index[-1])
        flush()
    derived = store.rebuild_derived(inst.symbol, tf) if tf == "M1" and added else []
    cov = store.coverage(inst.symbol, tf)
    total = len(store.load(inst.symbol, tf)) if cov is not None else 0
    if conflicts and log:
        log(f"{where}: {conflicts} refetched bars differ from the stored ones; the stored bars were kept.")
    return FetchResult(inst.symbol, tf, mk, ex.id, added, total, got_first, got_last, pages, resumed, conflicts,
                       derived, store.path(inst.symbol, tf))


def _utc(v, end: bool = False) -> pd.Timestamp:
    ts = pd.Timestamp(v)
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    if end and isinstance(v, str) and len(v.strip()) <= 10:
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


__all__ = ["CCXT_TIMEFRAMES", "FetchResult", "TIMEFRAMES", "call_with_retry", "check_market", "fetch_range",
           "fetch_to_store", "ita_timeframe", "make_exchange", "rows_to_frame"]
