"""Every fill and exit rule of the simulator on hand-built bar sequences (pip = 0.0001, M5 bars)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.backtest.engine import ExecutionModel, simulate

T0 = pd.Timestamp("2025-03-04 10:00", tz="UTC")
PIP = 0.0001


def bars(rows, spread=np.nan):
    """rows of (open, high, low, close) on consecutive M5 bars from T0."""
    idx = pd.DatetimeIndex([T0 + pd.Timedelta(minutes=5 * k) for k in range(len(rows))], name="time")
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)
    df["volume"] = 1.0
    df["spread"] = spread
    return df


def order(direction="long", entry=1.1000, sl=1.0990, tp=1.1020, entry_type="limit", active=0, expires=None, exit_by=None,
          n=50):
    at = lambda k: T0 + pd.Timedelta(minutes=5 * k)  # noqa: E731
    return pd.DataFrame([{
        "signal_id": "s1", "direction": direction, "entry_type": entry_type, "entry_price": entry, "sl_price": sl,
        "tp_price": tp, "day": T0.date(), "known_at": at(active), "active_from": at(active),
        "expires_at": at(expires if expires is not None else n), "exit_by": at(exit_by if exit_by is not None else n),
    }])


def run(rows, od, **model):
    m = ExecutionModel(pip_size=PIP, **{"spread_pips": 0.0, **model})
    trades, status = simulate(bars(rows, model.pop("spread_col", np.nan)), od, m)
    return trades, status


def one(trades):
    assert len(trades) == 1, trades
    return trades.iloc[0]


# ----------------------------------------------------------------------------------------------- fills

def test_long_limit_fills_at_limit_when_bar_trades_down_to_it():
    t, _ = run([(1.1010, 1.1012, 1.1005, 1.1008),   # never reaches 1.1000
                (1.1008, 1.1009, 1.0998, 1.1003),   # low 1.0998 <= limit → fill at limit
                (1.1003, 1.1025, 1.1001, 1.1022)],  # target 1.1020 touched
               order())
    tr = one(t)
    assert tr.entry_time == T0 + pd.Timedelta(minutes=5)
    assert tr.entry_price == pytest.approx(1.1000)
    assert (tr.exit_reason, tr.exit_price, tr.r) == ("target", pytest.approx(1.1020), pytest.approx(2.0))


def test_long_limit_gap_below_limit_fills_at_open():
    t, _ = run([(1.0996, 1.1001, 1.0993, 1.0999),   # opens below the limit: fill at the open 1.0996
                (1.0999, 1.1030, 1.0995, 1.1025)], order())
    tr = one(t)
    assert tr.entry_price == pytest.approx(1.0996)
    # R uses the planned risk |limit - stop| = 10 pips: (1.1020 - 1.0996) / 0.0010 = 2.4
    assert tr.r == pytest.approx(2.4)


def test_short_limit_fills_at_max_open_limit():
    od = order("short", entry=1.1000, sl=1.1010, tp=1.0980)
    t, _ = run([(1.1004, 1.1006, 1.0999, 1.1002),   # opens above the limit → fill at the open 1.1004
                (1.1002, 1.1003, 1.0975, 1.0978)], od)
    tr = one(t)
    assert tr.entry_price == pytest.approx(1.1004)
    assert tr.exit_reason == "target" and tr.r == pytest.approx((1.1004 - 1.0980) / 0.0010)


def test_order_not_filled_before_expiry_is_cancelled():
    t, st = run([(1.1010, 1.1012, 1.1005, 1.1008)] * 3 + [(1.1008, 1.1009, 1.0990, 1.0995)], order(expires=3))
    assert len(t) == 0 and st.status.tolist() == ["expired"]


def test_order_activates_only_from_active_from_bar():
    # bar 0 would fill, but the order is only active from bar 1
    t, _ = run([(1.1001, 1.1002, 1.0995, 1.0999), (1.1003, 1.1005, 1.1002, 1.1004), (1.1004, 1.1005, 1.0999, 1.1001),
                (1.1001, 1.1021, 1.1000, 1.1019)], order(active=1))
    assert one(t).entry_time == T0 + pd.Timedelta(minutes=10)


# ----------------------------------------------------------------------------------------------- fill bar

def test_fill_bar_checks_only_the_stop_not_the_target():
    # fill bar touches the target too (high 1.1025) but only the stop is checked on it
    t, _ = run([(1.1005, 1.1025, 1.0999, 1.1010), (1.1010, 1.1015, 1.1005, 1.1012)], order(exit_by=2))
    tr = one(t)
    assert tr.exit_reason == "time" and tr.exit_price == pytest.approx(1.1012)


def test_fill_bar_stop_touched_exits_at_stop():
    t, _ = run([(1.1005, 1.1006, 1.0985, 1.0990)], order())
    tr = one(t)
    assert (tr.exit_reason, tr.exit_price, tr.r, tr.bars_held) == ("stop", pytest.approx(1.0990), pytest.approx(-1.0), 1)


def test_fill_bar_opening_beyond_stop_exits_at_open():
    t, _ = run([(1.0985, 1.0995, 1.0980, 1.0990)], order())
    tr = one(t)
    assert tr.entry_price == pytest.approx(1.0985) and tr.exit_price == pytest.approx(1.0985)
    assert tr.exit_at_open and tr.r == pytest.approx(0.0)


def test_fill_bar_stop_and_target_mode_for_market_entries():
    od = order(entry_type="market", entry=1.1000, sl=1.0990, tp=1.1020)
    t, _ = run([(1.1000, 1.1022, 1.0999, 1.1015)], od, fill_bar="stop_and_target")
    assert one(t).exit_reason == "target"


# ----------------------------------------------------------------------------------------------- later bars

def test_gap_through_stop_exits_at_open():
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.0980, 1.0985, 1.0975, 1.0978)], order())
    tr = one(t)
    assert (tr.exit_reason, tr.exit_at_open) == ("stop", True)
    assert tr.exit_price == pytest.approx(1.0980) and tr.r == pytest.approx(-2.0)


def test_gap_beyond_target_exits_at_open():
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.1030, 1.1035, 1.1028, 1.1031)], order())
    tr = one(t)
    assert (tr.exit_reason, tr.exit_at_open, tr.exit_price) == ("target", True, pytest.approx(1.1030))
    assert tr.r == pytest.approx(3.0)


@pytest.mark.parametrize("intrabar, reason, r", [("stop_first", "stop", -1.0), ("target_first", "target", 2.0)])
def test_same_bar_stop_and_target(intrabar, reason, r):
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1025, 1.0985, 1.1000)], order(), intrabar=intrabar)
    tr = one(t)
    assert (tr.exit_reason, tr.r) == (reason, pytest.approx(r))


def test_stop_touched_before_target_on_later_bar():
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1010, 1.0995, 1.1000), (1.1000, 1.1003, 1.0989, 1.0992)],
               order())
    tr = one(t)
    assert tr.exit_time == T0 + pd.Timedelta(minutes=10) and tr.exit_reason == "stop"


def test_time_exit_at_close_of_last_bar_before_exit_by():
    rows = [(1.1005, 1.1006, 1.0999, 1.1002)] + [(1.1002, 1.1008, 1.0995, 1.1004)] * 4 + [(1.1004, 1.1030, 1.0980, 1.1)]
    t, _ = run(rows, order(exit_by=5))  # bar 5 opens at exit_by → not held; flat at close of bar 4
    tr = one(t)
    assert tr.exit_reason == "time" and tr.exit_time == T0 + pd.Timedelta(minutes=20)
    assert tr.exit_price == pytest.approx(1.1004) and tr.r == pytest.approx(0.4)


def test_end_of_data_when_history_stops_before_exit_by():
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1008, 1.0995, 1.1006)], order(exit_by=10))
    assert one(t).exit_reason == "end_of_data"


def test_short_mirror_rules():
    od = order("short", entry=1.1000, sl=1.1010, tp=1.0980)
    # fill on bar 0 (high >= limit), bar 1 gaps above the stop → exit at open
    t, _ = run([(1.0995, 1.1001, 1.0994, 1.0998), (1.1015, 1.1020, 1.1012, 1.1018)], od)
    tr = one(t)
    assert tr.entry_price == pytest.approx(1.1000) and tr.exit_price == pytest.approx(1.1015)
    assert tr.r == pytest.approx(-1.5)


# ----------------------------------------------------------------------------------------------- costs

def test_spread_long_fills_on_ask_and_exits_on_bid():
    # ask low = 1.0999 + 2 pips = 1.1001 > limit → no fill with 2 pips of spread; fills with 0
    rows = [(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1025, 1.1001, 1.1020)]
    t0, _ = run(rows, order(expires=2))
    t2, st = run(rows, order(expires=2), spread_pips=2.0)
    assert len(t0) == 1 and len(t2) == 0 and st.status.iloc[0] == "expired"


def test_spread_short_stop_triggers_on_ask():
    od = order("short", entry=1.1000, sl=1.1010, tp=1.0980)
    rows = [(1.0995, 1.1001, 1.0994, 1.0998), (1.0998, 1.1009, 1.0990, 1.1000)]  # bid high 1.1009 < stop
    t0, _ = run(rows, od)
    t1, _ = run(rows, od, spread_pips=1.5)  # ask high 1.10105 >= stop → stopped
    assert one(t0).exit_reason == "end_of_data"
    assert one(t1).exit_reason == "stop" and one(t1).r == pytest.approx(-1.0)


def test_spread_from_data_column_in_points():
    rows = [(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1025, 1.1001, 1.1020)]
    m = ExecutionModel(pip_size=PIP, spread_pips=None, point=0.00001)
    t, st = simulate(bars(rows, spread=20.0), order(expires=2), m)  # 20 points = 2 pips
    assert len(t) == 0 and st.status.iloc[0] == "expired"


def test_commission_in_r():
    # $7 round turn per lot; 10 pips risk on EURUSD = $100 per lot → 0.07 R
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1025, 1.1001, 1.1020)], order(),
               commission_per_lot=7.0, contract_size=100_000)
    tr = one(t)
    assert tr.commission_r == pytest.approx(0.07) and tr.r == pytest.approx(2.0 - 0.07)


def test_market_long_fills_at_ask_open():
    od = order(entry_type="market", entry=1.1000, sl=1.0990, tp=1.1020)
    t, _ = run([(1.1000, 1.1005, 1.0995, 1.1003)], od, spread_pips=1.0)
    assert one(t).entry_price == pytest.approx(1.1001)


def test_zero_risk_order_is_rejected():
    with pytest.raises(ValueError, match="zero risk"):
        run([(1.1, 1.1, 1.1, 1.1)], order(entry=1.0990, sl=1.0990))


def test_excursions_are_bounded_by_held_bars():
    t, _ = run([(1.1005, 1.1006, 1.0999, 1.1002), (1.1002, 1.1015, 1.0995, 1.1010), (1.1010, 1.1025, 1.1005, 1.1022)],
               order())
    tr = one(t)
    assert tr.mfe_r == pytest.approx(2.0) and tr.mae_r == pytest.approx(-0.5)


def test_market_fill_at_open_beyond_target_exits_at_open():
    # found by the backtesting.py cross-check: a gap past the target at the fill must exit at the open, not at tp
    od = order(entry_type="market", entry=1.1000, sl=1.0990, tp=1.1010)
    t, _ = run([(1.1030, 1.1035, 1.1025, 1.1030)], od, fill_bar="stop_and_target")
    tr = one(t)
    assert (tr.exit_reason, tr.exit_at_open, tr.exit_price) == ("target", True, pytest.approx(1.1030))
    assert tr.entry_price == pytest.approx(1.1030) and tr.r == pytest.approx(0.0)  # filled and closed at the same open


def test_limit_filled_after_an_open_beyond_target_is_not_exited_at_that_open():
    # bar opens above the target, then drops to the limit: the fill comes after the open, so the open says nothing
    t, _ = run([(1.1025, 1.1026, 1.0998, 1.1004), (1.1004, 1.1008, 1.1001, 1.1006)], order(exit_by=2))
    tr = one(t)
    assert tr.entry_price == pytest.approx(1.1000)
    assert (tr.exit_reason, tr.exit_price) == ("time", pytest.approx(1.1006))


def test_stop_entry_filled_after_an_open_beyond_its_stop_is_judged_by_touch():
    # long stop entry at 1.1010 (SL 1.1000): the bar opens at 1.0995, below the SL, then rallies through 1.1010
    od = order(entry_type="stop", entry=1.1010, sl=1.1000, tp=1.1030)
    t, _ = run([(1.0995, 1.1012, 1.0994, 1.1011), (1.1011, 1.1031, 1.1009, 1.1030)], od)
    tr = one(t)
    assert tr.entry_price == pytest.approx(1.1010)
    assert tr.exit_reason == "stop" and not tr.exit_at_open and tr.exit_price == pytest.approx(1.1000)


# ----------------------------------------------------------------------------------------------- time stop

def test_max_bars_time_stop_closes_at_the_close_of_the_nth_bar_held():
    rows = [(1.1005, 1.1006, 1.0999, 1.1002)] + [(1.1002, 1.1008, 1.0995, 1.1004)] * 3 \
        + [(1.1004, 1.1006, 1.1001, 1.1003)] + [(1.1003, 1.1030, 1.1002, 1.1025)] * 5
    od = order(entry=1.1000, sl=1.0990, tp=1.1020, active=0)
    od["max_bars"] = 3.0
    t = one(run(rows, od)[0])
    assert t.entry_time == T0 and t.bars_held == 3
    assert t.exit_reason == "time" and t.exit_time == T0 + pd.Timedelta(minutes=10)
    assert t.exit_price == pytest.approx(1.1004)          # close of the third bar held
    od["max_bars"] = np.nan                                 # no time stop: the target is reached on bar 6
    t = one(run(rows, od)[0])
    assert t.exit_reason == "target" and t.exit_time == T0 + pd.Timedelta(minutes=25)
