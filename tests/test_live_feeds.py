"""Live feeds: only closed candles ever; a CSV a terminal appends to (complete lines only, a rewritten last bar,
malformed lines named by line, a file replaced), Parquet, MetaTrader 5 (a fake ``MetaTrader5`` module that
answers ``copy_rates_from_pos`` like the terminal, forming bar included), and the replay clock."""
from __future__ import annotations

import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from ita.errors import DataError
from ita.live.feeds import FileFeed, MT5Feed, ReplayFeed, SimClock, closed

UTC = "UTC"
HEADER = "time,open,high,low,close,tick_volume,spread,real_volume\n"


def _line(t: pd.Timestamp, o=1.1000, h=1.1010, lo=1.0990, c=1.1005) -> str:
    """An MT5 export line for the bar opening at UTC ``t`` (server clock Europe/Athens = UTC+2 in winter)."""
    server = t.tz_convert("Europe/Athens").tz_localize(None)
    return f"{server:%Y.%m.%d %H:%M:%S},{o},{h},{lo},{c},10,5,0\n"


T0 = pd.Timestamp("2025-01-15 10:00", tz=UTC)  # a Wednesday in winter


def _csv_feed(tmp_path, bars: int):
    """A CSV of ``bars`` M5 bars from T0 and a file feed on it."""
    f = tmp_path / "EURUSD_M5.csv"
    f.write_text(HEADER + "".join(_line(T0 + k * pd.Timedelta(minutes=5)) for k in range(bars)))
    return f, FileFeed({"EURUSD": f}, "M5", "Europe/Athens")


def test_closed_keeps_only_bars_whose_close_has_passed(eurusd_m5):
    bar = eurusd_m5.index[5000]
    assert closed(eurusd_m5, "M5", bar + pd.Timedelta(minutes=4, seconds=59)).index[-1] < bar
    assert closed(eurusd_m5, "M5", bar + pd.Timedelta(minutes=5)).index[-1] == bar
    since = bar - pd.Timedelta(hours=1)
    win = closed(eurusd_m5, "M5", bar + pd.Timedelta(minutes=5), since)
    assert win.index[0] == since and len(win) == 13


def test_replay_feed_slices_at_the_simulated_now_and_builds_complete_higher_bars(sample_store):
    feed = ReplayFeed(["EURUSD"], "2025-03-04", "2025-03-04", store=sample_store)
    now = pd.Timestamp("2025-03-04 10:07:30", tz=UTC)
    m5 = feed.closed_bars("EURUSD", "M5", now, now - pd.Timedelta(days=2))
    assert m5.index[-1] == pd.Timestamp("2025-03-04 10:00", tz=UTC)
    h1 = feed.closed_bars("EURUSD", "H1", now, now - pd.Timedelta(days=2))
    assert h1.index[-1] == pd.Timestamp("2025-03-04 09:00", tz=UTC)  # the 10:00 hour is still forming
    full = sample_store.load("EURUSD", "H1", "2025-03-04 09:00", "2025-03-04 09:00")
    assert h1.iloc[-1][["open", "high", "low", "close"]].tolist() == full.iloc[0][["open", "high", "low", "close"]].tolist()
    assert feed.next_close(pd.Timestamp("2025-03-04 10:02", tz=UTC)) == pd.Timestamp("2025-03-04 10:05", tz=UTC)
    with pytest.raises(DataError, match="No stored EURUSD"):
        ReplayFeed(["EURUSD"], "2026-03-02", "2026-03-06", store=sample_store)


def test_sim_clock_runs_fast_jumps_and_knows_when_it_passed_a_time():
    start = pd.Timestamp("2025-03-03 00:00", tz=UTC)
    fast = SimClock(start, speed=600)
    w0 = time.time()
    fast.sleep_until(start + pd.Timedelta(minutes=5))  # 300 s simulated = 0.5 s real
    assert 0.4 < time.time() - w0 < 1.5
    assert abs(fast.wall_of(start + pd.Timedelta(minutes=5)) - (w0 + 0.5)) < 0.1
    fast.jump(start + pd.Timedelta(days=2))
    jumped = time.time()
    assert fast.now() >= start + pd.Timedelta(days=2)
    assert abs(fast.wall_of(start + pd.Timedelta(days=1)) - jumped) < 0.05  # passed during the jump
    stepper = SimClock(start, speed=None)
    assert stepper.now() == start
    stepper.sleep_until(start + pd.Timedelta(minutes=5))
    assert stepper.now() == start + pd.Timedelta(minutes=5)
    with pytest.raises(ValueError):
        SimClock(start, speed=0)


def test_csv_feed_reads_only_complete_appended_lines(tmp_path):
    f, feed = _csv_feed(tmp_path, 10)
    now = T0 + pd.Timedelta(hours=2)
    assert len(feed.closed_bars("EURUSD", "M5", now, T0)) == 10
    partial = _line(T0 + 11 * pd.Timedelta(minutes=5))
    with open(f, "a") as fh:  # one complete line and one still being written
        fh.write(_line(T0 + 10 * pd.Timedelta(minutes=5)) + partial[:12])
    got = feed.closed_bars("EURUSD", "M5", now, T0)
    assert len(got) == 11 and got.index[-1] == T0 + 10 * pd.Timedelta(minutes=5)
    with open(f, "a") as fh:
        fh.write(partial[12:])
    assert len(feed.closed_bars("EURUSD", "M5", now, T0)) == 12
    # the forming bar (its close is after now) is never returned
    with open(f, "a") as fh:
        fh.write(_line(T0 + 12 * pd.Timedelta(minutes=5)))
    assert feed.closed_bars("EURUSD", "M5", T0 + 12 * pd.Timedelta(minutes=5) + pd.Timedelta(minutes=4), T0).index[-1] \
        == T0 + 11 * pd.Timedelta(minutes=5)
    # a terminal that rewrites the last bar: the later line wins
    with open(f, "a") as fh:
        fh.write(_line(T0 + 12 * pd.Timedelta(minutes=5), c=1.1009))
    got = feed.closed_bars("EURUSD", "M5", now, T0)
    assert len(got) == 13 and got["close"].iloc[-1] == pytest.approx(1.1009)


def test_csv_feed_names_the_bad_line_and_keeps_what_it_read(tmp_path):
    f, feed = _csv_feed(tmp_path, 4)
    now = T0 + pd.Timedelta(hours=1)
    before = feed.closed_bars("EURUSD", "M5", now, T0).copy()
    good = _line(T0 + 4 * pd.Timedelta(minutes=5))
    bad = good.replace("1.1005", "x.1005")
    with open(f, "a") as fh:
        fh.write(bad)
    with pytest.raises(DataError) as exc:
        feed.closed_bars("EURUSD", "M5", now, T0)
    assert str(f) in str(exc.value) and "line 6" in str(exc.value)
    text = f.read_text().replace(bad, good)  # the terminal fixes it in place
    f.write_text(text)
    got = feed.closed_bars("EURUSD", "M5", now, T0)
    pd.testing.assert_frame_equal(got.iloc[:4], before)
    assert len(got) == 5
    with open(f, "a") as fh:  # time going backwards
        fh.write(_line(T0 + pd.Timedelta(minutes=5)))
    with pytest.raises(DataError, match="line 7 has time .* before the last bar read"):
        feed.closed_bars("EURUSD", "M5", now, T0)


def test_csv_feed_reads_a_replaced_file_from_the_start(tmp_path):
    f, feed = _csv_feed(tmp_path, 6)
    now = T0 + pd.Timedelta(hours=1)
    assert len(feed.closed_bars("EURUSD", "M5", now, T0)) == 6
    f.write_text(HEADER + "".join(_line(T0 + k * pd.Timedelta(minutes=5), c=1.1001) for k in range(3)))
    got = feed.closed_bars("EURUSD", "M5", now, T0)
    assert len(got) == 3 and (got["close"] == 1.1001).all()
    with pytest.raises(DataError, match="no such file"):
        FileFeed({"EURUSD": tmp_path / "missing.csv"}).closed_bars("EURUSD", "M5", now, T0)
    with pytest.raises(DataError, match="No file configured for XAUUSD"):
        feed.closed_bars("XAUUSD", "M5", now, T0)


def test_parquet_feed_rereads_a_rewritten_file(tmp_path, eurusd_m5):
    p = tmp_path / "EURUSD.parquet"
    part = eurusd_m5.iloc[1000:1100]
    part.to_parquet(p)
    feed = FileFeed({"EURUSD": p}, "M5", "UTC")
    now = part.index[-1] + pd.Timedelta(minutes=5)
    pd.testing.assert_frame_equal(feed.closed_bars("EURUSD", "M5", now, part.index[0]), part, check_freq=False)
    time.sleep(0.01)
    eurusd_m5.iloc[1000:1110].to_parquet(p)
    assert len(feed.closed_bars("EURUSD", "M5", now + pd.Timedelta(hours=1), part.index[0])) == 110


FAKE_MT5 = '''
"""A stand-in for the Windows-only MetaTrader5 package: answers like a terminal whose server clock is
Europe/Athens, serving bars of a CSV up to a 'now' the test sets, the forming bar included."""
import numpy as np, pandas as pd
TIMEFRAME_M5 = 5
TIMEFRAME_H1 = 16385
calls = []
now = None
bars = None
def initialize(**kw):
    return True
def last_error():
    return (1, "Success")
def copy_rates_from_pos(symbol, tf, pos, count):
    calls.append((symbol, tf, pos, count))
    b = bars[bars.index <= now]  # the bar opening before now is still forming: included, as MT5 does
    b = b.iloc[max(len(b) - count - pos, 0): len(b) - pos]
    server = b.index.tz_convert("Europe/Athens").tz_localize(None)
    out = np.zeros(len(b), dtype=[("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"),
                                  ("close", "<f8"), ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8")])
    out["time"] = server.as_unit("s").asi8
    for c in ("open", "high", "low", "close"):
        out[c] = b[c].to_numpy()
    out["tick_volume"] = 7
    out["spread"] = 3
    return out
'''


@pytest.fixture
def fake_mt5(tmp_path, monkeypatch, eurusd_m5):
    (tmp_path / "MetaTrader5.py").write_text(textwrap.dedent(FAKE_MT5))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "MetaTrader5", raising=False)
    import MetaTrader5

    MetaTrader5.bars = eurusd_m5
    yield MetaTrader5
    sys.modules.pop("MetaTrader5", None)


def test_mt5_feed_drops_the_forming_bar_and_then_polls_only_the_tail(fake_mt5, eurusd_m5):
    feed = MT5Feed("Europe/Athens", history_bars=600, poll_bars=10)
    now = pd.Timestamp("2025-03-04 10:02:10", tz=UTC)
    fake_mt5.now = now
    got = feed.closed_bars("EURUSD", "M5", now, now - pd.Timedelta(days=1))
    assert got.index[-1] == pd.Timestamp("2025-03-04 09:55", tz=UTC)  # 10:00 is forming
    want = eurusd_m5.loc[got.index[0]:got.index[-1]]
    np.testing.assert_allclose(got[["open", "high", "low", "close"]].to_numpy(), want[["open", "high", "low", "close"]].to_numpy())
    assert fake_mt5.calls[-1] == ("EURUSD", fake_mt5.TIMEFRAME_M5, 0, 600)
    later = now + pd.Timedelta(minutes=15)
    fake_mt5.now = later
    got2 = feed.closed_bars("EURUSD", "M5", later, now - pd.Timedelta(days=1))
    assert fake_mt5.calls[-1][3] == 10
    assert got2.index[-1] == pd.Timestamp("2025-03-04 10:10", tz=UTC)
    pd.testing.assert_frame_equal(got2.loc[: got.index[-1]], got)
