"""Resampling M5 → M15/H1 (UTC clock) and H4/D1 (forex day rolling at 17:00 New York), checked against
direct computations on the real sample, and the store's on-the-fly resampling."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ita.data.resample import bucket_start, complete_bars, resample
from ita.data.store import CandleStore
from ita.errors import DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EURUSD_CSV = SHARED / "EURUSD_M5_2025.csv"
NY = "America/New_York"
COLS = ["open", "high", "low", "close", "volume", "spread"]


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> CandleStore:
    if not EURUSD_CSV.is_file():
        pytest.skip(f"sample data {EURUSD_CSV} not found (the repo is expected to sit beside shared/data)")
    st = CandleStore(tmp_path_factory.mktemp("resample_store"))
    st.import_file(EURUSD_CSV, "EURUSD", "M5", "Europe/Athens")
    return st


@pytest.fixture(scope="module")
def m5(store) -> pd.DataFrame:
    return store.load("EURUSD", "M5")


def pandas_resample(m5: pd.DataFrame, rule: str) -> pd.DataFrame:
    r = m5.resample(rule, label="left", closed="left")
    out = pd.DataFrame({"open": r["open"].first(), "high": r["high"].max(), "low": r["low"].min(),
                        "close": r["close"].last(), "volume": r["volume"].sum(), "spread": r["spread"].mean()})
    return out[r["open"].count() > 0]


def direct(m5: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict:
    """OHLCV of the M5 bars opening in [start, end), computed the plain way."""
    b = m5[(m5.index >= start) & (m5.index < end)]
    return {"open": b["open"].iloc[0], "high": b["high"].max(), "low": b["low"].min(), "close": b["close"].iloc[-1],
            "volume": b["volume"].sum(), "first_bar": b.index[0], "bars": len(b)}


@pytest.mark.parametrize("tf, rule", [("M15", "15min"), ("M30", "30min"), ("H1", "1h")])
def test_intraday_resample_equals_plain_pandas_on_utc_clock(m5, tf, rule):
    ours = resample(m5, tf)
    ref = pandas_resample(m5, rule)
    assert len(ours) == len(ref) and ours.index.equals(ref.index)
    for c in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(ours[c].to_numpy(), ref[c].to_numpy()), c
    np.testing.assert_allclose(ours["spread"].to_numpy(), ref["spread"].to_numpy(), rtol=1e-12)
    assert ours["volume"].sum() == m5["volume"].sum()


def test_h1_exact_bar_values(m5):
    h1 = resample(m5, "H1")
    # 2025-03-12 12:00 UTC holds the 12:30 CPI bar: high 1.09314 at 12:30
    bar = h1.loc[ts("2025-03-12 12:00")]
    d = direct(m5, ts("2025-03-12 12:00"), ts("2025-03-12 13:00"))
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (d["open"], 1.09314, d["low"], d["close"], d["volume"])
    assert d["bars"] == 12


def test_h4_buckets_start_at_17_21_01_05_09_13_new_york(m5):
    h4 = resample(m5, "H4")
    ny = h4.index.tz_convert(NY)
    assert set(ny.hour) == {17, 21, 1, 5, 9, 13} and set(ny.minute) == {0}
    winter = h4.loc["2025-01-13":"2025-01-17"].index
    mismatch = h4.loc["2025-03-10":"2025-03-14"].index     # US on EDT, server still UTC+2
    summer = h4.loc["2025-07-07":"2025-07-11"].index
    assert set(winter.hour) == {22, 2, 6, 10, 14, 18}
    assert set(mismatch.hour) == {21, 1, 5, 9, 13, 17}
    assert set(summer.hour) == {21, 1, 5, 9, 13, 17}


def test_h4_values_equal_direct_window_aggregates_and_cover_every_bar(m5):
    h4 = resample(m5, "H4")
    t = m5.index
    lo = t.searchsorted(h4.index, side="left")
    hi = t.searchsorted(h4.index + pd.Timedelta(hours=4), side="left")
    assert (hi > lo).all()
    assert int((hi - lo).sum()) == len(m5)                   # every M5 bar in exactly one H4 bar
    assert (lo[1:] == hi[:-1]).all()                          # buckets are contiguous in the data
    o, h, low, c, v = (m5[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    assert np.array_equal(h4["open"].to_numpy(), o[lo])
    assert np.array_equal(h4["close"].to_numpy(), c[hi - 1])
    assert np.array_equal(h4["high"].to_numpy(), np.array([h[a:b].max() for a, b in zip(lo, hi)]))
    assert np.array_equal(h4["low"].to_numpy(), np.array([low[a:b].min() for a, b in zip(lo, hi)]))
    assert np.array_equal(h4["volume"].to_numpy(), np.array([v[a:b].sum() for a, b in zip(lo, hi)]))


# trading day D → UTC open of its D1 bar (17:00 New York the evening before)
D1_STARTS = {
    "2025-03-06": "2025-03-05 22:00",   # Thu, EST
    "2025-03-07": "2025-03-06 22:00",   # Fri, EST
    "2025-03-10": "2025-03-09 21:00",   # Mon: Sunday 17:00 EDT (US switched that morning)
    "2025-03-11": "2025-03-10 21:00",
    "2025-03-12": "2025-03-11 21:00",
    "2025-03-13": "2025-03-12 21:00",
    "2025-03-14": "2025-03-13 21:00",
    "2025-03-31": "2025-03-30 21:00",   # Mon after the EU switch: no change in New York
    "2025-10-27": "2025-10-26 21:00",   # Mon after the EU switch back: still EDT
    "2025-11-03": "2025-11-02 22:00",   # Mon after the US switch back: EST
}


def test_d1_index_around_the_march_switch(m5):
    d1 = resample(m5, "D1")
    got = [f"{x:%Y-%m-%d %H:%M}" for x in d1.loc["2025-03-01":"2025-04-01"].index]
    assert got == ["2025-03-02 22:00", "2025-03-03 22:00", "2025-03-04 22:00", "2025-03-05 22:00", "2025-03-06 22:00",
                   "2025-03-09 21:00", "2025-03-10 21:00", "2025-03-11 21:00", "2025-03-12 21:00", "2025-03-13 21:00",
                   "2025-03-16 21:00", "2025-03-17 21:00", "2025-03-18 21:00", "2025-03-19 21:00", "2025-03-20 21:00",
                   "2025-03-23 21:00", "2025-03-24 21:00", "2025-03-25 21:00", "2025-03-26 21:00", "2025-03-27 21:00",
                   "2025-03-30 21:00", "2025-03-31 21:00", "2025-04-01 21:00"]
    # five trading days a week: bars open Sunday–Thursday 17:00 New York, never on Friday/Saturday
    ny = d1.index.tz_convert(NY)
    assert set(ny.hour) == {17} and set(ny.day_of_week) == {6, 0, 1, 2, 3}
    assert d1["volume"].sum() == m5["volume"].sum()


@pytest.mark.parametrize("day", list(D1_STARTS))
def test_d1_bar_equals_direct_computation(m5, day):
    d1 = resample(m5, "D1")
    start = pd.Timestamp(day) - pd.Timedelta(days=1) + pd.Timedelta(hours=17)
    start_utc = start.tz_localize(NY).tz_convert("UTC")
    end_utc = (pd.Timestamp(day) + pd.Timedelta(hours=17)).tz_localize(NY).tz_convert("UTC")
    assert start_utc == ts(D1_STARTS[day])
    bar = d1.loc[start_utc]
    d = direct(m5, start_utc, end_utc)
    # open = the first M5 open at/after 17:00 New York; the bar is labelled with the bucket start
    assert bar.open == m5.loc[m5.index >= start_utc, "open"].iloc[0] == d["open"]
    assert (bar.high, bar.low, bar.close, bar.volume) == (d["high"], d["low"], d["close"], d["volume"])
    assert d["bars"] > 200


def test_d1_monday_of_the_mismatch_week_opens_with_the_first_bar_after_17_new_york(m5):
    d1 = resample(m5, "D1")
    bar = d1.loc[ts("2025-03-09 21:00")]
    first = m5.loc[ts("2025-03-09 21:00"):].iloc[0]
    # the broker follows New York: in this week the market opens at server Sunday 23:05 (UTC+2) = 17:05 EDT
    assert first.name == ts("2025-03-09 21:05")
    assert first.name.tz_convert("Europe/Athens").strftime("%a %H:%M") == "Sun 23:05"
    assert bar.open == first.open == 1.08306
    tue = d1.loc[ts("2025-03-10 21:00")]
    assert tue.open == m5.loc[ts("2025-03-10 21:00"), "open"]     # weekdays: the 17:00 New York bar itself


def test_bucket_start_single_times():
    idx = pd.DatetimeIndex([ts("2025-03-10 00:30"), ts("2025-03-07 21:59"), ts("2025-03-07 22:00"),
                            ts("2025-11-03 01:59")])
    assert list(bucket_start(idx, "H4")) == [ts("2025-03-09 21:00"), ts("2025-03-07 18:00"), ts("2025-03-07 22:00"),
                                             ts("2025-11-02 22:00")]
    assert list(bucket_start(idx, "D1")) == [ts("2025-03-09 21:00"), ts("2025-03-06 22:00"), ts("2025-03-07 22:00"),
                                             ts("2025-11-02 22:00")]
    assert list(bucket_start(idx, "M15")) == [ts("2025-03-10 00:30"), ts("2025-03-07 21:45"), ts("2025-03-07 22:00"),
                                              ts("2025-11-03 01:45")]


def test_complete_bars_drops_the_bar_still_forming(m5):
    h1 = resample(m5.loc["2025-03-10 08:00":"2025-03-10 10:25"], "H1")
    assert list(h1.index) == [ts("2025-03-10 08:00"), ts("2025-03-10 09:00"), ts("2025-03-10 10:00")]
    done = complete_bars(h1, "H1", ts("2025-03-10 10:30"))
    assert list(done.index) == [ts("2025-03-10 08:00"), ts("2025-03-10 09:00")]


# ------------------------------------------------------------------------------------------ store

def test_store_load_resamples_h1_on_the_fly(store, m5):
    h1 = store.load("EURUSD", "H1", "2025-03-10", "2025-03-12")
    assert not store.path("EURUSD", "H1").exists()          # nothing written
    assert store.stored_timeframes("EURUSD") == ["M5"]
    assert h1.index[0] == ts("2025-03-10 00:00") and h1.index[-1] == ts("2025-03-12 23:00")
    ref = pandas_resample(m5.loc["2025-03-10":"2025-03-12"], "1h")
    assert h1.index.equals(ref.index)
    for c in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(h1[c].to_numpy(), ref[c].to_numpy()), c


def test_store_load_end_bound_keeps_the_last_resampled_bar_whole(store, m5):
    full_h1, full_d1 = resample(m5, "H1"), resample(m5, "D1")
    h1 = store.load("EURUSD", "H1", "2025-03-10 08:00", "2025-03-10 10:00")
    assert list(h1.index) == [ts("2025-03-10 08:00"), ts("2025-03-10 09:00"), ts("2025-03-10 10:00")]
    pd.testing.assert_frame_equal(h1[COLS], full_h1.loc[h1.index, COLS], check_freq=False)
    d1 = store.load("EURUSD", "D1", "2025-03-10", "2025-03-12")
    # the bar opening 2025-03-12 21:00 UTC (17:00 EDT) is trading day 13 March: all of it, not 3 hours
    assert list(d1.index) == [ts("2025-03-10 21:00"), ts("2025-03-11 21:00"), ts("2025-03-12 21:00")]
    pd.testing.assert_frame_equal(d1[COLS], full_d1.loc[d1.index, COLS], check_freq=False)
    assert d1.loc[ts("2025-03-12 21:00"), "volume"] == direct(m5, ts("2025-03-12 21:00"), ts("2025-03-13 21:00"))["volume"]


def test_store_load_start_bound_drops_partial_first_bucket(store, m5):
    h4 = store.load("EURUSD", "H4", "2025-03-10 02:00", "2025-03-10 12:00")
    # buckets at 01:00, 05:00, 09:00 UTC (EDT); 01:00 opens before the start and is left out
    assert list(h4.index) == [ts("2025-03-10 05:00"), ts("2025-03-10 09:00")]
    full = resample(m5, "H4")
    pd.testing.assert_frame_equal(h4[COLS], full.loc[h4.index, COLS], check_freq=False)


def test_store_load_errors_name_what_exists(store):
    with pytest.raises(DataError, match=r"Unknown timeframe 'H2'.*Use one of: M1, M5"):
        store.load("EURUSD", "H2")
    with pytest.raises(DataError, match=r"No candles stored for GBPUSD.*Stored symbols: EURUSD"):
        store.load("GBPUSD", "H1")
    with pytest.raises(DataError, match=r"No EURUSD H1 bars between 2024-01-01 and 2024-01-31.*2025-01-01 22:05"):
        store.load("EURUSD", "H1", "2024-01-01", "2024-01-31")
