"""Live bars from a crypto exchange (the real ccxt client against a fake Binance on 127.0.0.1) and live bars kept
in the candle store: closed candles only, incremental polls, the gap since the last stored bar filled on start,
bars stored at other prices reported and kept, and `ita live start --ccxt` as a real process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ita.data.ccxt_source import fetch_to_store
from ita.data.store import CandleStore
from ita.errors import DataError, UnknownSymbolError
from ita.live.ccxt_feed import CCXTFeed, parse_ccxt_spec
from tests.conftest import REPO
from tests.fakes.exchange import FakeBinance

M5 = pd.Timedelta(minutes=5)


@pytest.fixture
def fake(monkeypatch):
    listed = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    with FakeBinance(listed_from=listed) as f:                 # the exchange's clock is the real one
        monkeypatch.setenv("ITA_CCXT_API_URL", f.base_url)
        yield f
        assert f.errors == []


def test_spec_parsing():
    assert parse_ccxt_spec("binance:BTC/USDT") == ("BTCUSDT", "binance", "BTC/USDT")
    assert parse_ccxt_spec("bybit:eth/usdt") == ("ETHUSDT", "bybit", "ETH/USDT")
    with pytest.raises(DataError, match="EXCHANGE:BASE/QUOTE"):
        parse_ccxt_spec("BTC/USDT")
    with pytest.raises(UnknownSymbolError, match="ita instruments add PEPEUSDT"):
        parse_ccxt_spec("binance:PEPE/USDT")


def test_feed_returns_closed_candles_only_and_polls_incrementally(fake):
    feed = CCXTFeed({"BTCUSDT": ("binance", "BTC/USDT")}, timeframe="M5")
    feed.check()
    now = pd.Timestamp.now(tz="UTC")
    bars = feed.closed_bars("BTCUSDT", "M5", now, now - pd.Timedelta(hours=6))
    assert bars.index[-1] + M5 <= now and bars.index[-1] + 2 * M5 > now          # the last closed one, no forming
    want = fake.expected("BTCUSDT", "5m", str(bars.index[0].tz_localize(None)), str(bars.index[-1].tz_localize(None)))
    pd.testing.assert_frame_equal(bars[["open", "high", "low", "close", "volume"]], want, check_freq=False,
                                  check_index_type=False)
    n = len(fake.klines_calls())
    later = now + pd.Timedelta(minutes=11)
    fake.now_ms = int(later.value // 10**6)
    again = feed.closed_bars("BTCUSDT", "M5", later, now - pd.Timedelta(hours=6))
    closed = later.floor("5min") - now.floor("5min")                               # 2 or 3 buckets closed since
    assert len(again) == len(bars) + closed // M5 and again.index[-1] == later.floor("5min") - M5
    q = fake.klines_calls()[n].query
    assert int(q["startTime"]) == int((bars.index[-1] + M5).value // 10**6)          # only what is new
    h1 = feed.closed_bars("BTCUSDT", "H1", later, now - pd.Timedelta(hours=5))
    assert (h1.index + pd.Timedelta(hours=1) <= later).all() and len(h1) >= 4
    with pytest.raises(DataError, match="binance has no market 'DOGE/USDT'"):
        bad = CCXTFeed({"BTCUSDT": ("binance", "DOGE/USDT")})
        bad.check()


def _service(feed, store, symbols=("BTCUSDT",)):
    from ita.live.config import LiveConfig
    from ita.live.service import LiveService

    cfg = LiveConfig.build(["asia_fvg_break"], list(symbols), notify=("outbox",), charts=())
    return LiveService.live_service(cfg, feed, vision=None, store=store)


def test_gap_since_the_last_stored_bar_is_filled_on_start_and_each_run_keeps_its_bars(fake, tmp_path):
    store = CandleStore(tmp_path / "data")
    yesterday = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    fetch_to_store("binance", "BTC/USDT", "5m", yesterday, yesterday, store=store)        # stored up to yesterday
    first, last = store.coverage("BTCUSDT", "M5")
    assert last.strftime("%H:%M") == "23:55"
    svc = _service(CCXTFeed({"BTCUSDT": ("binance", "BTC/USDT")}), store)
    try:
        (row,) = svc.fill_gap()
        now = pd.Timestamp.now(tz="UTC")
        assert row["since"] == last and row["errors"] == [] and row["added"] > 0
        got = store.load("BTCUSDT", "M5")
        assert got.index.is_unique and got.index[0] == first
        assert (got.index.to_series().diff().dropna() == M5).all()                     # no hole, no duplicate
        assert got.index[-1] + M5 <= now < got.index[-1] + 3 * M5
        rep = svc.tick("BTCUSDT", "M5")                                                # a run stores what is new
        assert rep.errors == []
        assert store.coverage("BTCUSDT", "M5")[1] >= got.index[-1]
    finally:
        svc.close()


def test_a_bar_stored_at_other_prices_is_kept_and_reported(fake, tmp_path):
    store = CandleStore(tmp_path / "data")
    t = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=2)).floor("5min")
    wrong = fake.expected("BTCUSDT", "5m", str(t.tz_localize(None)), str(t.tz_localize(None)))
    wrong[["open", "high", "low", "close"]] += 100.0
    wrong["spread"] = float("nan")
    store.append("BTCUSDT", "M5", wrong, source="test")
    svc = _service(CCXTFeed({"BTCUSDT": ("binance", "BTC/USDT")}), store)
    try:
        bars = svc.ctx.feed.closed_bars("BTCUSDT", "M5", pd.Timestamp.now(tz="UTC"), t - pd.Timedelta(hours=1))
        n, errors = svc.ctx.store_bars("BTCUSDT", "M5", bars)
        assert n > 0 and errors == []                 # only bars after the last stored are appended
        n, errors = store.append("BTCUSDT", "M5", bars, source="test")
        assert n == 12 and len(errors) == 1            # the hour before: added; the wrong bar: reported
        assert store.load("BTCUSDT", "M5").loc[t, "close"] == wrong["close"].iloc[0]   # and kept as stored
    finally:
        svc.close()


@pytest.mark.slow
def test_live_start_with_ccxt_keeps_the_bars(fake, tmp_path):
    env = {**os.environ, "ITA_HOME": str(tmp_path / "home"), "ITA_DATA_DIR": str(tmp_path / "data"),
           "ITA_CCXT_API_URL": fake.base_url, "COLUMNS": "200"}
    for k in list(env):
        if k.startswith(("ITA_TELEGRAM", "ITA_NOTION", "OPENAI_")) or k == "ITA_DB":
            env.pop(k)
    exe = Path(sys.executable).with_name("ita")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ita.cli"]
    proc = subprocess.Popen(cmd + ["live", "start", "--setups", "asia_fvg_break", "--ccxt", "binance:BTC/USDT",
                                   "--charts", "none", "--delay", "1"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    parquet = tmp_path / "data" / "BTCUSDT" / "M5.parquet"
    try:
        deadline = time.time() + 120
        while not parquet.is_file() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and parquet.is_file(), out
    assert "ccxt feed (binance:BTC/USDT); closed bars kept in the candle store" in " ".join(out.split())
    kept = CandleStore(tmp_path / "data").load("BTCUSDT", "M5")
    assert kept.index[-1] + M5 <= pd.Timestamp.now(tz="UTC") and kept.index.is_unique


def test_live_start_unknown_market_is_one_message(fake, tmp_path):
    from typer.testing import CliRunner

    from ita.cli import app

    r = CliRunner().invoke(app, ["live", "start", "--setups", "asia_fvg_break", "--ccxt", "binance:ETH/USDC"],
                           env={"ITA_DATA_DIR": str(tmp_path / "d")})
    assert r.exit_code == 2 and "Unknown symbol 'ETH/USDC'" in r.output
    r = CliRunner().invoke(app, ["live", "start", "--setups", "asia_fvg_break", "--ccxt", "binance:BTC/USDT",
                                 "--ccxt", "binance:SOL/USDT"], env={"ITA_DATA_DIR": str(tmp_path / "d")})
    assert r.exit_code == 2 and "binance has no market 'SOL/USDT'" in " ".join(r.output.split())
