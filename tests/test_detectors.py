"""Detectors on hand-built bars and on dated examples from the sample data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.detectors import fvg, range_break, session_range
from ita.sessions import SessionWindow, get_session


def bars(rows, start="2025-03-04 10:00"):
    idx = pd.date_range(start, periods=len(rows), freq="5min", tz="UTC", name="time")
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)
    df["volume"], df["spread"] = 1.0, np.nan
    return df


def test_fvg_bullish_and_bearish_zones_and_times():
    c = bars([(1.1000, 1.1010, 1.0995, 1.1008),   # 0: high 1.1010
              (1.1008, 1.1030, 1.1007, 1.1028),   # 1: displacement up
              (1.1028, 1.1035, 1.1020, 1.1030),   # 2: low 1.1020 → bullish gap [1.1010, 1.1020] = 10 pips
              (1.1030, 1.1031, 1.1015, 1.1018),   # 3: trades back to 1.1015 → touch + midpoint, no close-through
              (1.1018, 1.1019, 1.0990, 1.0992),   # 4: high 1.1019 < low[2] 1.1020 → bearish gap of exactly 1 pip
              (1.0992, 1.0995, 1.0980, 1.0985)])  # 5: high 1.0995 < low[3] 1.1015 → bearish gap [1.0995, 1.1015]
    g = fvg(c, 1e-4, 1.0, "touch", timeframe="M5")
    bull = g[g.direction == "bullish"].iloc[0]
    assert (bull.top, bull.bottom, bull.size_pips, bull.bar) == (1.1020, 1.1010, 10.0, 2)
    assert bull.time == c.index[1] and bull.confirmed_at == c.index[2] + pd.Timedelta(minutes=5)
    assert bull.mitigated_at == c.index[3] + pd.Timedelta(minutes=5)
    bear = g[g.direction == "bearish"]
    assert bear[["top", "bottom", "size_pips", "bar"]].values.tolist() == [[1.1020, 1.1019, 1.0, 4], [1.1015, 1.0995, 20.0, 5]]
    assert len(fvg(c, 1e-4, 1.5, "touch", timeframe="M5").query("direction == 'bearish'")) == 1
    ct = fvg(c, 1e-4, 1.0, "close_through", timeframe="M5")
    assert ct[ct.direction == "bullish"].iloc[0].mitigated_at == c.index[4] + pd.Timedelta(minutes=5)


def test_fvg_min_gap_is_exact_despite_float_noise():
    # 1.03517 - 1.03507 is 0.00009999999999998899 in floats: still exactly 1.0 pip
    c = bars([(1.035, 1.03507, 1.0349, 1.035), (1.035, 1.0356, 1.0350, 1.0355), (1.0355, 1.0358, 1.03517, 1.0356)])
    assert len(fvg(c, 1e-4, 1.0, timeframe="M5")) == 1
    assert len(fvg(c, 1e-4, 1.01, timeframe="M5")) == 0


def test_fvg_rejects_bad_parameters():
    c = bars([(1, 1, 1, 1)] * 3)
    with pytest.raises(ValueError, match="mitigation"):
        fvg(c, 1e-4, mitigation="half")
    with pytest.raises(ValueError, match="pip_size"):
        fvg(c, 0)


def test_asia_range_and_break_on_a_dated_example(eurusd_m5):
    """2025-01-03: Asia 01:00–05:00 UTC (winter) high 1.02743 / low 1.02662; first close below at 05:10 UTC."""
    r = session_range(eurusd_m5, get_session("asia"), timeframe="M5")
    day = r[r.day == np.datetime64("2025-01-03")].iloc[0]
    w = eurusd_m5.loc["2025-01-03 01:00":"2025-01-03 04:55"]
    assert (day.high, day.low, day.bars) == (w.high.max(), w.low.min(), len(w))
    assert (day.high, day.low) == (1.02743, 1.02662)
    b = range_break(eurusd_m5, r, SessionWindow(start="00:00", end="05:00"), timeframe="M5")
    br = b[b.day == np.datetime64("2025-01-03")].iloc[0]
    assert br.direction == "short" and br.time == pd.Timestamp("2025-01-03 05:10", tz="UTC")
    between = eurusd_m5.loc["2025-01-03 05:00":"2025-01-03 05:05"]
    assert (between.close >= 1.02662).all() and eurusd_m5.loc["2025-01-03 05:10", "close"] < 1.02662


def test_range_break_by_wick_skips_bars_piercing_both_sides():
    c = bars([(1.1, 1.101, 1.099, 1.1), (1.1, 1.102, 1.098, 1.1), (1.1, 1.1015, 1.0995, 1.1012)], start="2025-03-04 05:00")
    ranges = pd.DataFrame({"day": [np.datetime64("2025-03-04")], "high": [1.101], "low": [1.099],
                           "confirmed_at": [pd.Timestamp("2025-03-04 05:00", tz="UTC")]})
    w = SessionWindow(start="00:00", end="05:00")
    b = range_break(c, ranges, w, by="wick", timeframe="M5")
    assert b.iloc[0].time == c.index[2] and b.iloc[0].direction == "long"
    assert range_break(c, ranges, w, by="close", timeframe="M5").iloc[0].time == c.index[2]
