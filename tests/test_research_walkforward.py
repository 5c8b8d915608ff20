"""Walk-forward (issue 13 item 3): folds, no test-window data in any choice (a planted variant that is best only
inside a test window is never chosen for it), the stored result and its public API for the promotion gates."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ita.errors import ItaError
from ita.research import latest_walk_forward
from ita.research.walkforward import choose_and_test, make_folds, summarise, walk_forward


@pytest.fixture
def store_dir(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


def test_folds_rolling_and_anchored():
    f = make_folds("2025-01-01", "2025-12-31", "6M", "1M")
    assert len(f) == 6
    assert (f[0].train_start, f[0].train_end, f[0].test_start, f[0].test_end) == (
        pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-30"), pd.Timestamp("2025-07-01"), pd.Timestamp("2025-07-31"))
    assert f[-1].test_end == pd.Timestamp("2025-12-31") and f[-1].train_start == pd.Timestamp("2025-06-01")
    a = make_folds("2025-01-01", "2025-12-31", "6M", "1M", anchored=True)
    assert all(x.train_start == pd.Timestamp("2025-01-01") for x in a)
    assert all(x.train_end < x.test_start for x in a + f)


def test_period_too_short_for_the_folds():
    with pytest.raises(ItaError, match="too short for --train 6M --test 1M.*2025-07-31"):
        make_folds("2025-01-01", "2025-05-31", "6M", "1M")
    with pytest.raises(ItaError, match="not a span"):
        make_folds("2025-01-01", "2025-12-31", "six months", "1M")


def _variant(index, days, per_day):
    t_day = list(range(len(days)))
    return {"index": index, "params": {"v": index}, "status": "ok", "t_day": t_day,
            "t_r": [float(per_day(d)) for d in days], "t_entry": [int(d.timestamp()) for d in days]}


def test_a_variant_best_only_inside_a_test_window_is_never_chosen_for_it():
    days = pd.bdate_range("2025-01-01", "2025-12-31")
    folds = make_folds(days[0], days[-1], "3M", "1M")
    steady = _variant(0, days, lambda d: 0.10)
    slower = _variant(1, days, lambda d: 0.05)
    for f in folds:
        # the planted variant loses everywhere except inside this fold's test window, where it wins big
        planted = _variant(2, days, lambda d, f=f: 10.0 if f.test_start <= d <= f.test_end else -0.2)
        res = choose_and_test([steady, slower, planted], days, folds, "total_r", min_trades=5)
        mine = next(r for r in res if r.fold.fold == f.fold)
        assert mine.variant == 0, f"fold {f.fold} chose the planted variant"
        assert mine.oos_total_r == pytest.approx(0.10 * mine.oos_trades)
        # a search over the whole period would have picked it: that is the look-ahead walk-forward avoids
        whole = max([steady, slower, planted], key=lambda v: sum(v["t_r"]))
        assert whole["index"] == 2


def test_choice_ignores_variants_below_min_trades_and_summary():
    days = pd.bdate_range("2025-01-01", "2025-06-30")
    folds = make_folds(days[0], days[-1], "2M", "1M")
    rare = {"index": 0, "params": {}, "status": "ok", "t_day": [3], "t_r": [50.0], "t_entry": [0]}
    steady = _variant(1, days, lambda d: 0.1)
    res = choose_and_test([rare, steady], days, folds, "total_r", min_trades=10)
    assert all(r.variant == 1 for r in res)
    s = summarise(res)
    assert s["oos_trades"] == sum(r.oos_trades for r in res)
    assert s["oos_total_r"] == pytest.approx(0.1 * s["oos_trades"])
    assert s["wfe"] == pytest.approx(1.0)                  # same R per day in and out of sample
    assert math.isinf(s["oos_profit_factor"])


def test_walk_forward_end_to_end_stored_with_public_api(store_dir):
    wf = walk_forward("asia_fvg_break", "EURUSD", "2025-01-01", "2025-06-30", grid={"rr": "1.5,2,3"}, train="3M",
                      test="1M", min_trades=5, charts=False)
    assert len(wf.folds) == 3 and wf.row["folds"] == 3
    assert (wf.sweep.folder / "folds.html").is_file() and (wf.sweep.folder / "oos_trades.csv").is_file()
    got = latest_walk_forward("asia_fvg_break", 1, "EURUSD")
    assert got["wf_id"] == wf.wf_id and got["oos_trades"] == wf.row["oos_trades"]
    for k in ("oos_profit_factor", "is_profit_factor", "dsr", "pbo", "wfe", "setup_hash"):
        assert k in got
    assert got["setup_hash"] == wf.sweep.row["setup_hash"]
    assert latest_walk_forward("asia_fvg_break", 1, "XAUUSD") is None
    # every OOS trade lies in a test window and comes from the variant chosen on that fold's train window
    for f in wf.folds:
        v = next(x for x in wf.sweep.variants if x["index"] == f.variant)
        days = [wf.sweep.days[d] for d in v["t_day"]]
        test_r = [r for d, r in zip(days, v["t_r"]) if f.fold.test_start <= d <= f.fold.test_end]
        assert f.oos_t_r == pytest.approx(test_r)
