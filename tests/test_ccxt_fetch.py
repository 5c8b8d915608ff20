"""CCXT history into the candle store, with the real ccxt client against a fake Binance on 127.0.0.1: paging,
closed candles only, retries on 429/5xx, clear errors for an unknown market or exchange, and a fetch killed
mid-way (a real process, SIGKILL) that resumes with no gap and no duplicate."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.data.ccxt_source import fetch_to_store, make_exchange
from ita.data.store import CandleStore
from ita.errors import DataError
from tests.conftest import REPO
from tests.fakes.exchange import FakeBinance

NOW = "2025-01-04 00:00:30"        # the fake exchange's clock: the 00:00 candle is still forming


@pytest.fixture
def fake(monkeypatch):
    with FakeBinance(listed_from="2025-01-01", now=NOW) as f:
        monkeypatch.setenv("ITA_CCXT_API_URL", f.base_url)
        yield f
        assert f.errors == []


def ohlcv(df):
    return df[["open", "high", "low", "close", "volume"]]


def test_fetch_pages_into_the_store_closed_candles_only(fake, tmp_path):
    store = CandleStore(tmp_path / "data")
    res = fetch_to_store("binance", "BTC/USDT", "1m", "2025-01-01", None, store=store)
    want = fake.expected("BTCUSDT", "1m", "2025-01-01", NOW)
    assert (res.symbol, res.timeframe, res.market, res.added) == ("BTCUSDT", "M1", "BTC/USDT", 3 * 1440)
    assert res.last == pd.Timestamp("2025-01-03 23:59", tz="UTC")           # not the forming 00:00 candle
    got = store.load("BTCUSDT", "M1")
    pd.testing.assert_frame_equal(ohlcv(got), want, check_freq=False, check_index_type=False)
    kl = fake.klines_calls()
    assert len(kl) >= 5 and all(int(c.query["limit"]) <= 1000 for c in kl)          # paged
    starts = [int(c.query["startTime"]) for c in kl]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert set(res.derived) == {"M5", "M15", "M30", "H1", "H4", "D1"}
    assert len(store.load("BTCUSDT", "H1")) == 72
    again = fetch_to_store("binance", "BTC/USDT", "1m", "2025-01-01", None, store=store)
    assert again.added == 0 and again.total == 3 * 1440


def test_rate_limit_and_server_errors_are_retried(fake, tmp_path):
    fake.fail_next(429, times=2)
    fake.fail_next(502, times=1)
    store = CandleStore(tmp_path / "data")
    logs = []
    res = fetch_to_store("binance", "ETH/USDT", "5m", "2025-01-02", "2025-01-02", store=store, wait=0.01,
                         log=logs.append)
    assert res.added == 288
    statuses = [c.status for c in fake.klines_calls()]
    assert statuses[:4] == [429, 429, 502, 200]
    assert len(logs) == 3 and "retry 1/6" in logs[0]
    pd.testing.assert_frame_equal(ohlcv(store.load("ETHUSDT", "M5")), fake.expected("ETHUSDT", "5m", "2025-01-02",
                                                                                      "2025-01-02 23:59"),
                                  check_freq=False, check_index_type=False)


def test_an_exchange_that_keeps_failing_stops_with_a_message_and_keeps_what_was_saved(fake, tmp_path):
    store = CandleStore(tmp_path / "data")
    fake.stall_after(10**6)                       # no stall; just count
    fake.fail_next(503, times=50)
    with pytest.raises(DataError, match=r"kept failing .* after 2 retries"):
        fetch_to_store("binance", "BTC/USDT", "1m", "2025-01-01", "2025-01-01", store=store, retries=2, wait=0.01)
    assert store.coverage("BTCUSDT", "M1") is None


def test_unknown_market_and_exchange(fake, tmp_path):
    with pytest.raises(DataError, match=r"binance has no market 'BTC/USDX'. Did you mean: BTC/USDT\?"):
        fetch_to_store("binance", "BTC/USDX", "1m", "2025-01-01", symbol="BTCUSDT", store=CandleStore(tmp_path))
    with pytest.raises(DataError, match=r"Unknown exchange 'binanse'. Did you mean: binance"):
        make_exchange("binanse")
    r = CliRunner().invoke(app, ["data", "fetch", "DOGE/USDT", "--from", "2025-01-01"],
                           env={"ITA_DATA_DIR": str(tmp_path / "d")})
    assert r.exit_code == 2 and "ita instruments add DOGEUSDT" in r.output


def test_cli_fetch(fake, tmp_path):
    r = CliRunner().invoke(app, ["data", "fetch", "AVAX/USDT", "--exchange", "binance", "--timeframe", "15m",
                                 "--from", "2025-01-02", "--to", "2025-01-03"], env={"ITA_DATA_DIR": str(tmp_path / "d")})
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "Fetched binance AVAX/USDT M15 → AVAXUSDT: 2025-01-02 00:00 → 2025-01-03 23:45 UTC; +192 new" in out


def test_a_killed_fetch_resumes_without_gaps_or_duplicates(fake, tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "ITA_HOME": str(tmp_path / "home"), "ITA_DATA_DIR": str(data),
           "ITA_CCXT_API_URL": fake.base_url, "PYTHONPATH": str(REPO)}
    fake.stall_after(3, seconds=60)                # the 4th page hangs: the process is killed while waiting
    cmd = [sys.executable, "-m", "ita.cli", "data", "fetch", "BTC/USDT", "--from", "2025-01-01", "--to",
           "2025-01-03", "--save-every", "1000"]
    proc = subprocess.Popen(cmd, env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        fake.wait_for(lambda f: len(f.klines_calls()) >= 4, timeout=120)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    store = CandleStore(data)
    first, last = store.coverage("BTCUSDT", "M1")
    saved = len(store.load("BTCUSDT", "M1"))
    assert first == pd.Timestamp("2025-01-01", tz="UTC") and 1000 <= saved < 3 * 1440    # a partial, complete save
    fake.stall_after(10**6)
    n_before = len(fake.klines_calls())
    r = subprocess.run(cmd, env=env, cwd=str(REPO), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resumed after the stored bar" in " ".join(r.stdout.split())
    resumed = fake.klines_calls()[n_before]
    assert int(resumed.query["startTime"]) == int((last + pd.Timedelta(minutes=1)).value // 10**6)
    got = store.load("BTCUSDT", "M1")
    assert got.index.is_unique and got.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(ohlcv(got), fake.expected("BTCUSDT", "1m", "2025-01-01", "2025-01-03 23:59"),
                                  check_freq=False, check_index_type=False)
