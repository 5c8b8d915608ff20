"""Our FVG against smartmoneyconcepts' ``smc.fvg`` (0.0.27): the difference the docstring states, exactly.

smc keeps a wick gap only when the middle candle closes in the gap's direction. With
``require_displacement_close=True`` our gaps are smc's gaps (same third candle, direction, top, bottom); with
the default every smc gap is one of ours and each extra gap of ours has a middle candle that closed against the
gap or flat — nothing else differs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.detectors import fvg
from tests.test_fvg_options import bars

PIP = 1e-4


@pytest.fixture(scope="module")
def smc():
    return pytest.importorskip("smartmoneyconcepts").smc


def smc_gaps(smc, candles: pd.DataFrame) -> pd.DataFrame:
    """smc's gaps as (third candle position, direction, top, bottom); smc stamps the middle candle."""
    ohlc = candles[["open", "high", "low", "close"]].reset_index(drop=True)
    ohlc["volume"] = 1.0
    out = smc.fvg(ohlc)
    hit = out["FVG"].notna().to_numpy()
    mid = np.flatnonzero(hit)
    return pd.DataFrame({"bar": mid + 1, "direction": np.where(out["FVG"].to_numpy()[hit] > 0, "bullish", "bearish"),
                         "top": out["Top"].to_numpy()[hit], "bottom": out["Bottom"].to_numpy()[hit]})


def ours(candles, **kw) -> pd.DataFrame:
    g = fvg(candles, PIP, timeframe="M5", **kw)
    return g[["bar", "direction", "top", "bottom"]].reset_index(drop=True)


def test_require_displacement_close_gives_exactly_smcs_gaps(eurusd_m5, smc):
    candles = eurusd_m5.loc["2025-03-01":"2025-04-30"]
    theirs = smc_gaps(smc, candles).sort_values("bar").reset_index(drop=True)
    mine = ours(candles, require_displacement_close=True)
    assert len(theirs) > 500
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)


def test_default_finds_every_smc_gap_and_the_extras_are_exactly_the_middle_candle_rule(eurusd_m5, smc):
    candles = eurusd_m5.loc["2025-03-01":"2025-04-30"]
    theirs = smc_gaps(smc, candles)
    mine = ours(candles)
    keys = ["bar", "direction"]
    both = mine.merge(theirs, on=keys, how="outer", indicator=True, suffixes=("", "_smc"))
    assert (both["_merge"] != "right_only").all()                                 # 100 % of smc's gaps found
    extra = both[both["_merge"] == "left_only"]
    assert len(extra) > 0
    body = (candles["close"] - candles["open"]).to_numpy()[extra["bar"].to_numpy() - 1]
    against = np.where(extra["direction"] == "bullish", body <= 0, body >= 0)
    assert against.all()                                                          # and only for that reason
    common = both[both["_merge"] == "both"]
    assert np.allclose(common["top"], common["top_smc"]) and np.allclose(common["bottom"], common["bottom_smc"])


def test_hand_built_gap_with_a_bearish_middle_candle():
    rows = [(1.1000, 1.1010, 1.0995, 1.1008),
            (1.1030, 1.1032, 1.1012, 1.1015),   # middle candle closes DOWN although price gapped up
            (1.1028, 1.1035, 1.1020, 1.1030)]
    c = bars(rows)
    assert len(fvg(c, PIP)) == 1 and fvg(c, PIP)["direction"].iloc[0] == "bullish"
    assert fvg(c, PIP, require_displacement_close=True).empty
    up = c.copy()
    up.iloc[1, up.columns.get_loc("close")] = 1.1031   # now a bullish body: kept either way
    assert len(fvg(up, PIP, require_displacement_close=True)) == 1
