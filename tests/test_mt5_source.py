"""The MetaTrader5 source: a clear error where the Windows-only package is missing, and the conversion of
MT5's rates array (server-clock epoch seconds) into canonical UTC candles."""
from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from ita.data.sources import MT5Source, mt5_rates_to_frame
from ita.data.validate import validate_candles
from ita.errors import DataError

RATES_DTYPE = [("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
               ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8")]


@pytest.mark.skipif(importlib.util.find_spec("MetaTrader5") is not None, reason="MetaTrader5 is installed here")
def test_missing_package_gives_clear_error():
    with pytest.raises(DataError) as exc:
        MT5Source(server_tz="Europe/Athens").load("EURUSD", "M5")
    msg = str(exc.value)
    assert "MetaTrader5 package is not installed" in msg and "ita[mt5]" in msg and "ita data import" in msg


def test_rates_array_converted_from_server_time_to_utc():
    # MT5 returns server-clock times as if they were UTC epoch seconds: 2025-07-01 10:00 server (UTC+3)
    server = pd.Timestamp("2025-07-01 10:00")
    t0 = int(server.value // 10**9)
    rates = np.array([(t0 + 300 * k, 1.17 + k * 1e-5, 1.1702 + k * 1e-5, 1.1699 + k * 1e-5, 1.1701 + k * 1e-5, 10, 7, 0)
                      for k in range(4)], dtype=RATES_DTYPE)
    df = mt5_rates_to_frame(rates, "Europe/Athens", "EURUSD", "M5", validate_candles)
    assert df.index[0] == pd.Timestamp("2025-07-01 07:00", tz="UTC")
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "spread"]
    assert df["spread"].iloc[0] == 7 and df["volume"].iloc[0] == 10


def test_rates_with_broken_ohlc_are_rejected():
    t0 = int(pd.Timestamp("2025-01-06 10:00").value // 10**9)
    rates = np.array([(t0, 1.10, 1.09, 1.08, 1.095, 1, 1, 0)], dtype=RATES_DTYPE)  # high < open
    with pytest.raises(DataError, match="high below open or close"):
        mt5_rates_to_frame(rates, "Europe/Athens", "EURUSD", "M5", validate_candles)
