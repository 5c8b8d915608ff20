"""A fake Binance spot REST API on 127.0.0.1 for tests that drive the real ``ccxt`` client.

Reproduces: ``GET /api/v3/exchangeInfo`` (the listed markets with Binance's filters), ``GET /api/v3/klines``
(``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit`` — default 500, at most 1000; rows
``[open_time, "open", "high", "low", "close", "volume", close_time, "quote_volume", trades, "taker_base",
"taker_quote", "0"]`` in epoch milliseconds, oldest first, **including the candle still forming** at the
fake's clock ``now_ms``, as Binance does), ``GET /api/v3/time`` and ``/api/v3/ping``; Binance's error JSON
``{"code": …, "msg": …}`` for an unknown symbol (400, -1121), scripted 429 (with ``Retry-After``) and 5xx.
Prices are a deterministic function of the symbol and the minute, so two fetches of the same period get the
same candles and a test can compute the expected ones (:meth:`FakeBinance.expected`).

Not reproduced: weights/IP bans, other intervals than 1m/5m/15m/1h, private endpoints, futures.
"""
from __future__ import annotations

import math
import time

import pandas as pd

from . import Call, FakeServer, Response, _Rule

_STEP_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}
LISTED = {"BTCUSDT": ("BTC", "USDT", 60000.0, "0.01"), "ETHUSDT": ("ETH", "USDT", 3000.0, "0.01"),
          "AVAXUSDT": ("AVAX", "USDT", 30.0, "0.01")}


def _m1(symbol: str, minute: int) -> tuple[float, float, float, float, float]:
    """The 1-minute candle (open, high, low, close, volume) of ``symbol`` at epoch minute ``minute``."""
    base = LISTED[symbol][2]
    f = lambda m: base * (1 + 0.01 * math.sin(m / 97.0) + 0.003 * math.sin(m / 7.3 + len(symbol)))  # noqa: E731
    o, c = f(minute), f(minute + 1)
    wig = base * 0.0004 * (1 + (minute * 7919 % 13) / 13)
    return (round(o, 2), round(max(o, c) + wig, 2), round(min(o, c) - wig, 2), round(c, 2),
            round(1 + (minute * 104729 % 1000) / 10, 3))


class FakeBinance(FakeServer):
    """``FakeBinance(listed_from="2025-01-01")``; use as a context manager. Point ccxt at it with
    ``exchange.urls["api"] = {k: fake.url_for(v) for k, v in exchange.urls["api"].items()}`` — or set
    ``ITA_CCXT_API_URL=fake.base_url`` for ITA. ``now_ms``: the exchange's clock (default: the real one)."""

    def __init__(self, listed_from: str = "2025-01-01", now: str | None = None) -> None:
        self.listed_ms = int(pd.Timestamp(listed_from, tz="UTC").value // 10**6)
        self.now_ms: int | None = int(pd.Timestamp(now, tz="UTC").value // 10**6) if now else None
        self._stalls: list[_Rule] = []
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def clock_ms(self) -> int:
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)

    # -- scripting ---------------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1) -> None:
        """The next ``times`` klines requests answer ``status`` (429 with ``Retry-After: 0``, or a 5xx)."""
        self._script(self._failures, _Rule(lambda c: c.path.endswith("/klines"), times, status))

    def stall_after(self, pages: int, seconds: float = 60.0) -> None:
        """Klines requests after the first ``pages`` wait ``seconds`` before answering (to kill a client mid-fetch)."""
        self._stall_from = pages
        self._stall_seconds = seconds

    def klines_calls(self) -> list[Call]:
        return [c for c in self.requests if c.path.endswith("/klines")]

    # -- what the exchange holds -------------------------------------------------------------------
    def candle(self, symbol: str, interval: str, open_ms: int) -> list:
        step = _STEP_MS[interval]
        ms = [open_ms + k * 60_000 for k in range(step // 60_000)]
        bars = [_m1(symbol, m // 60_000) for m in ms]
        o, c = bars[0][0], bars[-1][3]
        h, lo = max(b[1] for b in bars), min(b[2] for b in bars)
        v = round(sum(b[4] for b in bars), 3)
        return [open_ms, f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}", f"{v:.3f}", open_ms + step - 1,
                f"{v * c:.4f}", 10, "0", "0", "0"]

    def expected(self, symbol: str, interval: str, start: str, end: str) -> pd.DataFrame:
        """The closed candles opening in ``[start, end]`` (UTC), as a canonical frame (for assertions)."""
        step = _STEP_MS[interval]
        a = max(int(pd.Timestamp(start, tz="UTC").value // 10**6), self.listed_ms)
        b = min(int(pd.Timestamp(end, tz="UTC").value // 10**6), self.clock_ms() - step)
        a = -(-a // step) * step
        rows = [self.candle(symbol, interval, t) for t in range(a, b + 1, step)]
        df = pd.DataFrame([[float(x) for x in r[1:6]] for r in rows], columns=["open", "high", "low", "close", "volume"],
                          index=pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], unit="ms", utc=True), name="time"))
        return df

    # -- the API -----------------------------------------------------------------------------------
    def _serve(self, call: Call) -> Response:
        self._record(call)
        path = call.path
        if path.endswith("/klines"):
            n = len(self.klines_calls())
            if getattr(self, "_stall_from", None) is not None and n > self._stall_from:
                self._closed.wait(self._stall_seconds)
        rule = self._take(self._failures, call)
        if rule:
            if rule.status == 429:
                return 429, {"code": -1003, "msg": "Too many requests; current limit is 6000 request weight per 1 "
                                                   "MINUTE."}, {"Retry-After": "0"}
            return rule.status, {"code": -1001, "msg": "Internal error; unable to process your request."}, {}
        if path.endswith("/ping"):
            return 200, {}, {}
        if path.endswith("/time"):
            return 200, {"serverTime": self.clock_ms()}, {}
        if path.endswith("/exchangeInfo"):
            return 200, self._exchange_info(), {}
        if path.endswith("/klines"):
            return self._klines(call.query)
        return 404, {"code": -1, "msg": f"unknown endpoint {path}"}, {}

    def _exchange_info(self) -> dict:
        symbols = []
        for sym, (base, quote, _, tick) in LISTED.items():
            symbols.append({
                "symbol": sym, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8, "quoteAsset": quote,
                "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8, "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": True,
                "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
                "cancelReplaceAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                "filters": [{"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00", "tickSize": tick},
                            {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000.0", "stepSize": "0.00001"}],
                "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]})
        return {"timezone": "UTC", "serverTime": self.clock_ms(), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [], "symbols": symbols}

    def _klines(self, q: dict) -> Response:
        sym, interval = q.get("symbol", ""), q.get("interval", "")
        if sym not in LISTED:
            return 400, {"code": -1121, "msg": "Invalid symbol."}, {}
        if interval not in _STEP_MS:
            return 400, {"code": -1120, "msg": "Invalid interval."}, {}
        step = _STEP_MS[interval]
        limit = min(int(q.get("limit", 500)), 1000)
        now = self.clock_ms()
        start = int(q.get("startTime", now - limit * step))
        start = max(-(-start // step) * step, self.listed_ms)
        end = min(int(q.get("endTime", now)), now)
        rows, t = [], start
        while t <= end and len(rows) < limit:
            rows.append(self.candle(sym, interval, t))
            t += step
        return 200, rows, {}
