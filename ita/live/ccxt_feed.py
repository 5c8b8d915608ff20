"""A live feed of closed candles from a crypto exchange through CCXT (``ita live start --ccxt binance:BTC/USDT``).

:class:`CCXTFeed` keeps one base-timeframe frame per symbol (the setups' timeframe, M5 by default; higher
timeframes are resampled from closed bars like every feed). Each poll asks the exchange only for the candles
after the last one it holds (the first poll: the window the live graph asks for), through
:func:`ita.data.ccxt_source.fetch_range` — paged, rate-limited, 429/5xx retried — and drops the candle still
forming at ``now``: the graph never sees a partial candle. Raises :class:`~ita.errors.DataError` for an unknown
exchange or market (at construction, via :meth:`check`) and when the exchange keeps failing (that poll is
skipped; nothing is lost).

Example::

    >>> feed = CCXTFeed({"BTCUSDT": ("binance", "BTC/USDT")}, timeframe="M5")          # doctest: +SKIP
    >>> feed.closed_bars("BTCUSDT", "M5", now=pd.Timestamp.now(tz="UTC"), since=...)    # doctest: +SKIP
"""
from __future__ import annotations

import threading

import pandas as pd

from ita.data.timeframes import normalize_tf, tf_delta
from ita.errors import DataError
from ita.live.feeds import FrameFeed
from ita.times import utc as _utc


def parse_ccxt_spec(spec: str) -> tuple[str, str, str]:
    """``"binance:BTC/USDT"`` → ``("BTCUSDT", "binance", "BTC/USDT")`` (the instrument symbol, exchange id,
    market). Raises :class:`DataError` for another shape and :class:`~ita.errors.UnknownSymbolError` (with the
    `ita instruments add` command) for a market ITA has no instrument for."""
    from ita.data.instruments import get_instrument

    ex, sep, market = str(spec).partition(":")
    if not sep or not ex.strip() or not market.strip():
        raise DataError(f"--ccxt {spec!r}: expected EXCHANGE:BASE/QUOTE, e.g. binance:BTC/USDT.")
    return get_instrument(market.strip()).symbol, ex.strip().lower(), market.strip().upper()


class CCXTFeed(FrameFeed):
    """``markets``: ``{symbol: (exchange id, market)}``; ``timeframe``: the base bar size fetched."""

    name = "ccxt"

    def __init__(self, markets: dict[str, tuple[str, str]], timeframe: str = "M5", exchanges: dict | None = None):
        from ita.data.ccxt_source import make_exchange

        self.timeframe = normalize_tf(timeframe)
        self.markets = dict(markets)
        self.exchanges = dict(exchanges or {})
        for ex_id, market in self.markets.values():
            if ex_id not in self.exchanges:
                self.exchanges[ex_id] = make_exchange(ex_id, market)
        self._frames: dict[str, pd.DataFrame] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        """Load each exchange's markets and check every configured market exists (one clear error if not)."""
        from ita.data.ccxt_source import check_market

        for sym, (ex_id, market) in self.markets.items():
            self.markets[sym] = (ex_id, check_market(self.exchanges[ex_id], market))

    def _frame(self, symbol: str) -> pd.DataFrame:
        try:
            return self._frames[symbol]
        except KeyError:
            raise DataError(f"No bars fetched yet for {symbol}.") from None

    def closed_bars(self, symbol: str, timeframe: str, now, since) -> pd.DataFrame:
        if symbol not in self.markets:
            raise DataError(f"The ccxt feed has {', '.join(self.markets)}, not {symbol}.")
        tf = normalize_tf(timeframe)
        need = _utc(since) - (tf_delta(tf) if tf != self.timeframe else pd.Timedelta(0))
        with self._lock:
            self._update(symbol, need, _utc(now))
        return super().closed_bars(symbol, timeframe, now, since)

    def _update(self, symbol: str, since: pd.Timestamp, now: pd.Timestamp) -> None:
        from ita.data.ccxt_source import fetch_range

        ex_id, market = self.markets[symbol]
        ex = self.exchanges[ex_id]
        step = tf_delta(self.timeframe)
        old = self._frames.get(symbol)
        start = since if old is None or not len(old) or since <= old.index[0] - step else old.index[-1] + step
        end = now - step                                         # the last candle that can be closed
        if start > end:
            return
        pages = list(fetch_range(ex, market, self.timeframe, start, end, int(now.value // 10**6)))
        new = [p for p in pages if len(p)]
        if not new:
            if old is None:
                self._frames[symbol] = pages[0] if pages else _empty_like()
            return
        df = pd.concat(([old] if old is not None and len(old) else []) + new)
        df = df[~df.index.duplicated(keep="last")].sort_index()
        keep = df.index >= min(since, df.index[-1]) - pd.Timedelta(days=2)   # bounded memory: the live window
        self._frames[symbol] = df[keep]


def _empty_like() -> pd.DataFrame:
    from ita.data.ccxt_source import rows_to_frame

    return rows_to_frame([], 0, 1)
