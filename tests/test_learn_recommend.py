"""Recommendations: Wilson + Benjamini–Hochberg over the splits find a planted effect and nothing in the real
sample's noise; a surviving finding is checked out of sample by backtesting the changed setup on the later
months, and that check is the backtest's own arithmetic."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.backtest import backtest
from ita.backtest.runner import load_period_candles
from ita.learn.dataset import build_setup_dataset
from ita.learn.recommend import recommend, split_table, walk_forward_check
from ita.setups import load_setup

SYMS = ["EURUSD", "XAUUSD"]


@pytest.fixture(scope="module")
def ib_raid(sample_store):
    return build_setup_dataset([load_setup("ib_raid")], SYMS, "2025-01-01", "2025-11-06", store=sample_store, check=False)


def test_benjamini_hochberg_refuses_the_samples_noise(ib_raid, sample_store):
    rec = recommend(load_setup("ib_raid"), SYMS, ib_raid, store=sample_store)
    assert rec.findings.empty and len(rec.splits) >= 10
    s = rec.splits
    assert (s["q"] >= s["p"]).all() and (s["lo"] <= s["win_rate"]).all() and (s["win_rate"] <= s["hi"]).all()
    assert set(s["split"]) <= {"weekday", "session", "hour", "volatility", "direction"}


def test_a_planted_weekday_effect_is_found_and_checked_out_of_sample(ib_raid, sample_store):
    planted = ib_raid.copy()
    mon = (planted["weekday"] == 0) & planted["filled"]
    planted.loc[mon, "win"] = True                      # every Monday trade wins in the discovery data
    planted.loc[mon, "r"] = 2.0
    loaded = load_setup("ib_raid")
    rec = recommend(loaded, SYMS, planted, store=sample_store)
    f = rec.findings.set_index("change")
    assert "only on Mon" in f.index and f.loc["only on Mon", "q"] <= 0.10
    row = f.loc["only on Mon"]
    assert row["in_sample_delta_r"] > 0 and row["kind"] == "only"
    # the out-of-sample check is the real backtest of the later months, with and without Mondays
    start, end = rec.discovery_end + pd.Timedelta(days=1), rec.oos_end
    want = 0.0
    for sym in SYMS:
        for m in pd.period_range(start, end, freq="M"):
            lo, hi = max(pd.Timestamp(m.start_time), start), min(pd.Timestamp(m.end_time).normalize(), end)
            tr = backtest(loaded, load_period_candles(sample_store, loaded, sym, lo, hi), sym, start=lo, end=hi).trades
            if len(tr):
                want -= tr.loc[pd.to_datetime(tr["day"]).dt.day_of_week != 0, "r"].sum()     # all but Mondays go
    assert row["oos_delta_r"] == pytest.approx(want, abs=1e-9)
    assert row["holds"] == (want > 0) and row["oos_months"] >= 3


def test_a_direction_filter_drops_exactly_those_signals(sample_store):
    from ita.learn.recommend import feature_values

    loaded = load_setup("asia_fvg_break")
    wf = walk_forward_check(loaded, ["EURUSD"], "direction", "short", "skip", "2025-05-01", "2025-06-30",
                            store=sample_store, values_of=feature_values("direction"))
    tr = backtest(loaded, load_period_candles(sample_store, loaded, "EURUSD", "2025-05-01", "2025-06-30"), "EURUSD",
                  start="2025-05-01", end="2025-06-30").trades
    assert wf["total_r"].sum() == pytest.approx(tr["r"].sum())
    assert wf["total_r_changed"].sum() == pytest.approx(tr.loc[tr["direction"] == "long", "r"].sum())


def test_split_table_with_too_few_trades_is_empty():
    df = pd.DataFrame({"win": [True, False] * 4, "r": [2.0, -1.0] * 4, "weekday": [0.0] * 8, "session": ["asia"] * 8,
                       "ny_hour": [3.0] * 8, "atr_pct_20d": [0.5] * 8, "side": ["long"] * 8})
    assert split_table(df).empty
    assert np.isfinite(split_table(pd.concat([df] * 5).assign(weekday=[0.0, 1.0] * 20), min_n=10)["q"]).all()
