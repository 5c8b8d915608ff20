"""Session and killzone windows in UTC around the 2025 DST switches (US: 9 Mar / 2 Nov, EU: 30 Mar / 26 Oct),
the trading day each real bar is assigned to, and session ranges on the real sample."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ita.data.store import CandleStore
from ita.detectors import session_range
from ita.sessions import SessionWindow, get_session

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EURUSD_CSV = SHARED / "EURUSD_M5_2025.csv"
SERVER = "Europe/Athens"


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


@pytest.fixture(scope="module")
def m5(tmp_path_factory) -> pd.DataFrame:
    if not EURUSD_CSV.is_file():
        pytest.skip(f"sample data {EURUSD_CSV} not found (the repo is expected to sit beside shared/data)")
    store = CandleStore(tmp_path_factory.mktemp("sessions_store"))
    store.import_file(EURUSD_CSV, "EURUSD", "M5", SERVER)
    return store.load("EURUSD", "M5")


# Trading day D → expected UTC windows. New York is UTC−5 (EST) before 9 Mar and from 2 Nov, UTC−4 (EDT)
# between; the killzones follow New York only, so the EU dates (30 Mar, 26 Oct) change nothing in UTC.
EXPECTED = {
    #  day           asia (D−1 20:00 → D 00:00 NY)          london KZ 02–05       NY KZ 07–10
    "2025-03-07": (("2025-03-07 01:00", "2025-03-07 05:00"), ("07:00", "10:00"), ("12:00", "15:00")),  # Fri, all winter
    "2025-03-10": (("2025-03-10 00:00", "2025-03-10 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),  # Mon after US switch
    "2025-03-12": (("2025-03-12 00:00", "2025-03-12 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),
    "2025-03-28": (("2025-03-28 00:00", "2025-03-28 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),  # last US-only week
    "2025-03-31": (("2025-03-31 00:00", "2025-03-31 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),  # Mon after EU switch
    "2025-10-24": (("2025-10-24 00:00", "2025-10-24 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),  # Fri before EU end
    "2025-10-27": (("2025-10-27 00:00", "2025-10-27 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),  # Mon after EU end
    "2025-10-31": (("2025-10-31 00:00", "2025-10-31 04:00"), ("06:00", "09:00"), ("11:00", "14:00")),
    "2025-11-03": (("2025-11-03 01:00", "2025-11-03 05:00"), ("07:00", "10:00"), ("12:00", "15:00")),  # Mon after US end
}


@pytest.mark.parametrize("day", list(EXPECTED))
def test_window_bounds_in_utc_around_dst(day):
    (a0, a1), (l0, l1), (n0, n1) = EXPECTED[day]
    assert get_session("asia").bounds(day) == (ts(a0), ts(a1))
    assert get_session("london_killzone").bounds(day) == (ts(f"{day} {l0}"), ts(f"{day} {l1}"))
    assert get_session("new_york_killzone").bounds(day) == (ts(f"{day} {n0}"), ts(f"{day} {n1}"))


def test_asia_of_the_switch_sundays_and_mondays():
    asia = get_session("asia")
    # Sunday 9 Mar: 20:00 Sat → 00:00 Sun are both EST (the jump is at 02:00 Sunday)
    assert asia.bounds("2025-03-09") == (ts("2025-03-09 01:00"), ts("2025-03-09 05:00"))
    # Sunday 2 Nov: 20:00 Sat and 00:00 Sun are both EDT (the fall back is at 02:00 Sunday)
    assert asia.bounds("2025-11-02") == (ts("2025-11-02 00:00"), ts("2025-11-02 04:00"))
    # a window starting before and ending after a switch would be 3 h / 5 h long; these are all 4 h
    for d in pd.date_range("2025-03-03", "2025-11-07", freq="B"):
        s, e = asia.bounds(d)
        assert e - s == pd.Timedelta(hours=4), d


def test_bounds_accept_dates_and_timestamps_alike():
    lkz = get_session("london_killzone")
    assert lkz.bounds(pd.Timestamp("2025-03-10")) == lkz.bounds("2025-03-10") == lkz.bounds(pd.Timestamp("2025-03-10").date())


def test_european_window_moves_on_eu_dates_not_us():
    london = get_session("london")   # 08:00–16:30 Europe/London
    assert london.bounds("2025-03-28") == (ts("2025-03-28 08:00"), ts("2025-03-28 16:30"))   # GMT
    assert london.bounds("2025-03-31") == (ts("2025-03-31 07:00"), ts("2025-03-31 15:30"))   # BST
    assert london.bounds("2025-10-24") == (ts("2025-10-24 07:00"), ts("2025-10-24 15:30"))
    assert london.bounds("2025-10-27") == (ts("2025-10-27 08:00"), ts("2025-10-27 16:30"))


@pytest.mark.parametrize("day, server_start, server_end", [
    ("2025-03-07", "09:00", "12:00"),   # both on winter time: server = NY + 7 h
    ("2025-03-10", "08:00", "11:00"),   # US on summer time, Europe not yet: server = NY + 6 h
    ("2025-03-14", "08:00", "11:00"),
    ("2025-03-31", "09:00", "12:00"),   # both on summer time: NY + 7 h again
    ("2025-10-27", "08:00", "11:00"),   # Europe back on winter time, US not yet
    ("2025-11-03", "09:00", "12:00"),
])
def test_london_killzone_on_the_server_clock(day, server_start, server_end):
    s, e = get_session("london_killzone").bounds(day)
    assert (s.tz_convert(SERVER).strftime("%H:%M"), e.tz_convert(SERVER).strftime("%H:%M")) == (server_start, server_end)


@pytest.mark.parametrize("day, ny, server", [
    ("2025-03-12", "08:30", "14:30"),   # README: 12:30 UTC release at 14:30 server in the mismatch week
    ("2025-02-12", "08:30", "15:30"),
    ("2025-07-15", "08:30", "15:30"),
    ("2025-03-19", "14:00", "20:00"),   # FOMC 18:00 UTC → 20:00 server in March
    ("2025-09-17", "14:00", "21:00"),   # … and 21:00 in September
])
def test_readme_release_times_new_york_vs_server_clock(day, ny, server):
    t = pd.Timestamp(f"{day} {ny}", tz="America/New_York")
    assert t.tz_convert(SERVER).strftime("%H:%M") == server


# ------------------------------------------------------------------------------------------ real data

@pytest.mark.parametrize("name", ["asia", "london_killzone", "new_york_killzone"])
@pytest.mark.parametrize("day", ["2025-03-07", "2025-03-10", "2025-03-12", "2025-03-31", "2025-10-27", "2025-11-03"])
def test_mask_assigns_real_bars_to_day_d(m5, name, day):
    w = get_session(name)
    inside, days = w.mask(m5.index)
    got = m5.index[inside & (days == np.datetime64(day, "D"))]
    s, e = w.bounds(day)
    want = m5.index[(m5.index >= s) & (m5.index < e)]
    assert len(want) == (48 if name == "asia" else 36), (name, day, len(want))   # 4 h / 3 h, no holes
    assert got.equals(want)
    assert got[0] == s and got[-1] == e - pd.Timedelta(minutes=5)


def test_asia_bars_on_the_server_clock_in_the_mismatch_week(m5):
    """Asia of Tue 11 Mar (20:00–00:00 EDT) = 00:00–04:00 UTC = 02:00–06:00 server (Athens still UTC+2);
    a week earlier it was 01:00–05:00 UTC = 03:00–07:00 server; after 30 Mar it is 03:00–07:00 server again."""
    inside, days = get_session("asia").mask(m5.index)
    for day, first, last in [("2025-03-04", "03:00", "06:55"), ("2025-03-11", "02:00", "05:55"),
                             ("2025-04-01", "03:00", "06:55")]:
        bars = m5.index[inside & (days == np.datetime64(day, "D"))].tz_convert(SERVER)
        assert (bars[0].strftime("%H:%M"), bars[-1].strftime("%H:%M"), len(bars)) == (first, last, 48), day


def test_every_masked_bar_lies_in_its_days_window(m5):
    """Over the whole sample: each bar the mask puts in day D is inside ``bounds(D)`` and vice versa."""
    for name in ("asia", "london_killzone", "new_york_killzone"):
        w = get_session(name)
        inside, days = w.mask(m5.index)
        t = m5.index[inside]
        d = days[inside]
        uniq = np.unique(d)
        bounds = {u: w.bounds(str(u)) for u in uniq}
        starts = pd.DatetimeIndex([bounds[u][0] for u in d])
        ends = pd.DatetimeIndex([bounds[u][1] for u in d])
        assert ((t >= starts) & (t < ends)).all(), name
        # and nothing outside the mask falls in any window of a day that has bars
        out = m5.index[~inside]
        for u in uniq[:: max(1, len(uniq) // 40)]:
            s, e = bounds[u]
            assert not ((out >= s) & (out < e)).any(), (name, u)


def test_wrapping_window_in_another_zone():
    tokyo_evening = SessionWindow(name="x", start="22:00", end="02:00", timezone="Asia/Tokyo")
    assert tokyo_evening.wraps
    assert tokyo_evening.bounds("2025-03-10") == (ts("2025-03-09 13:00"), ts("2025-03-09 17:00"))
    inside, days = tokyo_evening.mask(pd.DatetimeIndex([ts("2025-03-09 12:55"), ts("2025-03-09 13:00"),
                                                        ts("2025-03-09 16:55"), ts("2025-03-09 17:00")]))
    assert inside.tolist() == [False, True, True, False]
    assert days[1] == days[2] == np.datetime64("2025-03-10", "D")


@pytest.mark.parametrize("day", ["2025-03-07", "2025-03-10", "2025-03-31", "2025-10-27", "2025-11-03"])
def test_session_range_on_real_data_matches_direct_pandas(m5, day):
    (a0, a1), _, _ = EXPECTED[day]
    rng = session_range(m5, get_session("asia"), timeframe="M5")
    row = rng[rng["day"] == np.datetime64(day, "D")].iloc[0]
    direct = m5[(m5.index >= ts(a0)) & (m5.index < ts(a1))]
    assert (row.start, row.end, row.confirmed_at) == (ts(a0), ts(a1), ts(a1))
    assert row.high == direct["high"].max() and row.low == direct["low"].min()
    assert row.high_time == direct["high"].idxmax() and row.low_time == direct["low"].idxmin()
    assert row.bars == len(direct) == 48
    assert m5.index[row.first_bar] == direct.index[0] and m5.index[row.last_bar] == direct.index[-1]


def test_session_range_london_killzone_values_on_real_data(m5):
    rng = session_range(m5, get_session("london_killzone"), timeframe="M5")
    by_day = rng.set_index("day")
    for day, (s, e) in {"2025-03-07": ("07:00", "10:00"), "2025-03-10": ("06:00", "09:00")}.items():
        direct = m5.loc[ts(f"{day} {s}"): ts(f"{day} {e}") - pd.Timedelta(minutes=5)]
        row = by_day.loc[np.datetime64(day, "D")]
        assert (row.high, row.low, row.bars) == (direct["high"].max(), direct["low"].min(), 36)
    # the two days differ, so a fixed-offset window would have picked other bars
    assert by_day.loc[np.datetime64("2025-03-10", "D"), "start"] == ts("2025-03-10 06:00")
