"""Sanity tests of the independent reference implementation on hand-built bars."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from .asia_fvg_break_reference import load_mt5_csv, reference_trades

PIP = 0.0001


def bars_ny(rows):
    """rows: (NY local 'YYYY-MM-DD HH:MM', o, h, l, c) -> candles with UTC index."""
    idx = pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]).tz_localize("America/New_York")
    df = pd.DataFrame(
        [r[1:] for r in rows], index=idx.tz_convert("UTC"), columns=["open", "high", "low", "close"]
    )
    df.index.name = "time"
    return df


def utc(ny_local):
    return pd.Timestamp(ny_local).tz_localize("America/New_York").tz_convert("UTC")


# D = Tuesday 2025-01-07.  Asia range [1.1000, 1.1010].
ASIA = [
    ("2025-01-06 20:00", 1.1005, 1.1010, 1.1000, 1.1005),
    ("2025-01-06 23:55", 1.1005, 1.1006, 1.1002, 1.1005),
]
# Long: bar 00:00 high 1.1008, break bar 00:05 closes 1.1028, FVG bar 00:10 low 1.1020
# -> zone [1.1008, 1.1020], limit 1.1020, stop 1.1007, risk 13 pips, target 1.1046.
LONG_SETUP = ASIA + [
    ("2025-01-07 00:00", 1.1005, 1.1008, 1.1002, 1.1006),
    ("2025-01-07 00:05", 1.1006, 1.1030, 1.1006, 1.1028),
    ("2025-01-07 00:10", 1.1028, 1.1035, 1.1020, 1.1030),
]
# Short mirror: bar 00:00 low 1.1002, break bar closes 1.0982, FVG bar high 1.0990
# -> zone [1.0990, 1.1002], limit 1.0990, stop 1.1003, risk 13 pips, target 1.0964.
SHORT_SETUP = ASIA + [
    ("2025-01-07 00:00", 1.1005, 1.1008, 1.1002, 1.1004),
    ("2025-01-07 00:05", 1.1004, 1.1004, 1.0980, 1.0982),
    ("2025-01-07 00:10", 1.0982, 1.0990, 1.0975, 1.0980),
]


def flat(t, p):
    return (t, p, p + 0.0001, p - 0.0001, p)


def one(rows):
    t = reference_trades(bars_ny(rows), pip=PIP)
    assert len(t) == 1, t
    return t.iloc[0]


def test_long_hits_target():
    tr = one(
        LONG_SETUP
        + [
            ("2025-01-07 00:15", 1.1030, 1.1032, 1.1018, 1.1025),  # fills at 1.1020
            ("2025-01-07 00:20", 1.1025, 1.1050, 1.1022, 1.1045),  # target 1.1046
        ]
    )
    assert tr.day == dt.date(2025, 1, 7)
    assert tr.direction == "long"
    assert tr.limit == pytest.approx(1.1020)
    assert tr.stop == pytest.approx(1.1007)
    assert tr.target == pytest.approx(1.1046)
    assert tr.entry_time == utc("2025-01-07 00:15")
    assert tr.entry_price == pytest.approx(1.1020)
    assert tr.exit_time == utc("2025-01-07 00:20")
    assert tr.exit_price == pytest.approx(1.1046)
    assert tr.exit_reason == "target"
    assert tr.r == pytest.approx(2.0)


def test_short_hits_stop():
    tr = one(
        SHORT_SETUP
        + [
            ("2025-01-07 00:15", 1.0980, 1.0992, 1.0978, 1.0985),  # fills at 1.0990
            ("2025-01-07 00:20", 1.0985, 1.1004, 1.0984, 1.1000),  # stop 1.1003
        ]
    )
    assert tr.direction == "short"
    assert tr.limit == pytest.approx(1.0990)
    assert tr.stop == pytest.approx(1.1003)
    assert tr.target == pytest.approx(1.0964)
    assert tr.entry_price == pytest.approx(1.0990)
    assert tr.exit_reason == "stop"
    assert tr.exit_price == pytest.approx(1.1003)
    assert tr.exit_time == utc("2025-01-07 00:20")
    assert tr.r == pytest.approx(-1.0)


def test_fill_bar_stop_checked_but_not_target():
    # Fill bar touches both limit and target but not the stop -> stays open;
    # fill bar touching the stop -> stop on the fill bar.
    tr = one(
        LONG_SETUP
        + [
            ("2025-01-07 00:15", 1.1030, 1.1060, 1.1018, 1.1025),  # fill, target ignored
            ("2025-01-07 00:20", 1.1025, 1.1030, 1.1000, 1.1005),  # stop
        ]
    )
    assert tr.exit_reason == "stop" and tr.exit_time == utc("2025-01-07 00:20")
    tr = one(LONG_SETUP + [("2025-01-07 00:15", 1.1030, 1.1032, 1.1000, 1.1005)])
    assert tr.exit_reason == "stop" and tr.exit_time == utc("2025-01-07 00:15")
    assert tr.r == pytest.approx(-1.0)


def test_gap_through_stop_exits_at_open():
    tr = one(
        LONG_SETUP
        + [
            ("2025-01-07 00:15", 1.1030, 1.1032, 1.1018, 1.1025),  # fills at 1.1020
            ("2025-01-07 00:20", 1.0995, 1.1000, 1.0990, 1.0998),  # opens below stop 1.1007
        ]
    )
    assert tr.exit_reason == "stop"
    assert tr.exit_price == pytest.approx(1.0995)
    assert tr.r == pytest.approx(-25 / 13)


def test_gap_through_limit_and_stop_on_fill_bar():
    # Fill bar opens below the stop: fill at the open, stop at the open -> R = 0.
    tr = one(LONG_SETUP + [("2025-01-07 00:15", 1.0995, 1.1000, 1.0990, 1.0998)])
    assert tr.entry_price == pytest.approx(1.0995)
    assert tr.exit_price == pytest.approx(1.0995)
    assert tr.exit_reason == "stop"
    assert tr.r == pytest.approx(0.0)


def test_gap_through_limit_fills_at_better_open_target_unchanged():
    tr = one(
        LONG_SETUP
        + [
            ("2025-01-07 00:15", 1.1015, 1.1016, 1.1012, 1.1014),  # fills at open 1.1015
            ("2025-01-07 00:20", 1.1050, 1.1055, 1.1049, 1.1052),  # opens above target 1.1046
        ]
    )
    assert tr.entry_price == pytest.approx(1.1015)
    assert tr.target == pytest.approx(1.1046)
    assert tr.exit_reason == "target" and tr.exit_price == pytest.approx(1.1050)
    assert tr.r == pytest.approx(35 / 13)


def test_same_bar_stop_and_target_is_stop():
    tr = one(
        LONG_SETUP
        + [
            ("2025-01-07 00:15", 1.1030, 1.1032, 1.1018, 1.1025),
            ("2025-01-07 00:20", 1.1025, 1.1060, 1.1000, 1.1030),  # touches both
        ]
    )
    assert tr.exit_reason == "stop"
    assert tr.exit_price == pytest.approx(1.1007)
    assert tr.r == pytest.approx(-1.0)


def test_time_exit_at_last_bar_before_1600():
    rows = LONG_SETUP + [("2025-01-07 00:15", 1.1030, 1.1032, 1.1018, 1.1025)]
    rows += [flat("2025-01-07 09:00", 1.1025), ("2025-01-07 15:55", 1.1025, 1.1030, 1.1020, 1.1029)]
    rows += [("2025-01-07 16:00", 1.1029, 1.1100, 1.1028, 1.1090)]  # would hit target: ignored
    tr = one(rows)
    assert tr.exit_reason == "time"
    assert tr.exit_time == utc("2025-01-07 15:55")
    assert tr.exit_price == pytest.approx(1.1029)
    assert tr.r == pytest.approx(9 / 13)


def test_order_never_filled_is_cancelled_at_1100():
    rows = LONG_SETUP + [flat("2025-01-07 00:15", 1.1030), flat("2025-01-07 10:55", 1.1030)]
    rows += [("2025-01-07 11:00", 1.1030, 1.1031, 1.1010, 1.1015)]  # touches limit too late
    assert reference_trades(bars_ny(rows), pip=PIP).empty


def test_fvg_bar_itself_does_not_fill():
    # Only bars after i can fill; here none reach the limit.
    rows = LONG_SETUP + [flat("2025-01-07 00:15", 1.1030), flat("2025-01-07 00:20", 1.1030)]
    assert reference_trades(bars_ny(rows), pip=PIP).empty


def test_no_asia_bars_no_trade():
    rows = [r for r in LONG_SETUP if not r[0].startswith("2025-01-06")]
    rows += [("2025-01-07 00:15", 1.1030, 1.1032, 1.1018, 1.1025)]
    assert reference_trades(bars_ny(rows), pip=PIP).empty


def test_gap_just_under_one_pip_no_fvg_and_float_noise_ok():
    # 0.9 pip gap -> no FVG.
    rows = ASIA + [
        ("2025-01-07 00:00", 1.1005, 1.1008, 1.1002, 1.1006),
        ("2025-01-07 00:05", 1.1006, 1.1030, 1.1006, 1.1028),
        ("2025-01-07 00:10", 1.1028, 1.1035, 1.10089, 1.1030),
        flat("2025-01-07 00:15", 1.1030),
        flat("2025-01-07 00:20", 1.1030),
        ("2025-01-07 00:25", 1.1030, 1.1031, 1.1000, 1.1005),
    ]
    assert reference_trades(bars_ny(rows), pip=PIP).empty
    # Exactly 1 pip with float noise (1.1009 - 1.1008 < 1e-4 in binary) -> FVG.
    rows[4] = ("2025-01-07 00:10", 1.1028, 1.1035, 1.1008999999999999, 1.1030)
    rows[5] = ("2025-01-07 00:15", 1.1030, 1.1032, 1.1008, 1.1012)
    tr = one(rows[:6])
    assert tr.limit == pytest.approx(1.1009) and tr.stop == pytest.approx(1.1007)


def test_weekend_days_are_skipped():
    # Same pattern shifted to Saturday 2025-01-11 -> no trade.
    rows = [(r[0].replace("2025-01-07", "2025-01-11").replace("2025-01-06", "2025-01-10"),) + r[1:] for r in LONG_SETUP]
    rows += [("2025-01-11 00:15", 1.1030, 1.1032, 1.1018, 1.1025)]
    assert reference_trades(bars_ny(rows), pip=PIP).empty


def test_dst_asia_window_2025_03_10(tmp_path):
    # 2025-03-10: New York already on EDT (UTC-4), Athens still on EET (UTC+2).
    # Asia window [Mar 9 20:00, Mar 10 00:00) NY = [00:00, 04:00) UTC = [02:00, 06:00) server.
    csv_text = "\n".join(
        [
            "time,open,high,low,close,tick_volume,spread,real_volume",
            "2025.03.10 01:55:00,1.1005,1.2000,1.1000,1.1005,1,1,0",  # NY 19:55 Mar 9: not Asia
            "2025.03.10 02:00:00,1.1005,1.1010,1.1000,1.1005,1,1,0",  # NY 20:00: Asia
            "2025.03.10 05:55:00,1.1005,1.1008,1.1002,1.1006,1,1,0",  # NY 23:55: Asia
            "2025.03.10 06:00:00,1.1006,1.1030,1.1006,1.1028,1,1,0",  # NY 00:00: break
            "2025.03.10 06:05:00,1.1028,1.1035,1.1020,1.1030,1,1,0",  # FVG
            "2025.03.10 06:10:00,1.1030,1.1032,1.1018,1.1025,1,1,0",  # fill 1.1020
            "2025.03.10 06:15:00,1.1025,1.1050,1.1022,1.1045,1,1,0",  # target 1.1046
        ]
    )
    p = tmp_path / "x.csv"
    p.write_text(csv_text + "\n")
    df = load_mt5_csv(p)
    assert df.index.name == "time"
    assert str(df.index.tz) == "UTC"
    assert list(df.columns) == ["open", "high", "low", "close"]
    assert df.index[1] == pd.Timestamp("2025-03-10 00:00", tz="UTC")
    tr = one_df(df)
    assert tr.day == dt.date(2025, 3, 10)
    assert tr.direction == "long"
    assert tr.entry_time == pd.Timestamp("2025-03-10 04:10", tz="UTC")
    assert tr.exit_time == pd.Timestamp("2025-03-10 04:15", tz="UTC")
    assert tr.r == pytest.approx(2.0)


def test_load_winter_and_summer_offsets(tmp_path):
    p = tmp_path / "y.csv"
    p.write_text(
        "time,open,high,low,close,tick_volume,spread,real_volume\n"
        "2025.07.01 10:00:00,1.1541299999999999,2,1,1.5,1,1,0\n"
        "2025.01.02 10:00:00,1,2,1,1.5,1,1,0\n"
    )
    df = load_mt5_csv(p)
    assert list(df.index) == [
        pd.Timestamp("2025-01-02 08:00", tz="UTC"),
        pd.Timestamp("2025-07-01 07:00", tz="UTC"),
    ]
    assert df["open"].dtype == float


def one_df(df):
    t = reference_trades(df, pip=PIP)
    assert len(t) == 1, t
    return t.iloc[0]
