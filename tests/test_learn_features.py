"""The feature journal: every feature computed from what was known at the signal's known_at (prefix
invariance on the real samples), a feature computed one bar late is caught, datasets carry the backtest's own
outcomes, detector datasets their own labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.backtest import backtest
from ita.learn.dataset import build_event_dataset, build_setup_dataset, read_dataset, write_dataset
from ita.learn.features import (FEATURE_HISTORY, FEATURES, Feature, FeatureLeakError, check_known_at,
                                compute_features, feature_hash)
from ita.learn.labels import fvg_events, sweep_events
from ita.setups import load_setup


@pytest.fixture
def data(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


@pytest.fixture(scope="module")
def setups_ds(sample_store):
    setups = [load_setup(s) for s in ("asia_fvg_break", "ib_raid")]
    return build_setup_dataset(setups, ["EURUSD"], "2025-03-01", "2025-06-30", store=sample_store, check=False)


def _events(ds: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"known_at": ds["known_at"], "direction": ds["direction"], "price": ds["entry_price"],
                         "stop": ds["sl_price"], "rr": ds["rr"], "zone_pips": ds["zone_pips"],
                         "group": ds["setup_id"], "day": ds["day"]})


def test_every_feature_is_declared_with_unit_window_and_known_at_rule():
    assert len(FEATURES) >= 25
    for f in FEATURES.values():
        assert f.unit and f.window and f.doc and f.known_at in ("signal", "bar", "history")
    for name in ("session", "weekday", "ny_hour", "asia_range_pips", "zone_pips", "stop_atr", "h1_trend", "h4_trend",
                 "h1_swing_room_adr", "pd_room_adr", "pw_room_adr", "atr_pct_20d", "spread_pips", "signals_today",
                 "hist_winrate_90d", "hist_streak"):
        assert name in FEATURES
    assert len(feature_hash()) == 16


def test_features_are_prefix_invariant_on_the_samples(sample_store, setups_ds):
    m5 = sample_store.load("EURUSD", "M5")
    ev = _events(setups_ds)
    assert check_known_at(m5, ev, "EURUSD", sample=12, seed=3) == 12
    gaps = fvg_events(m5, "EURUSD").iloc[2000:2600].reset_index(drop=True)
    assert check_known_at(m5, gaps, "EURUSD", sample=6, seed=1) == 6


def test_a_feature_computed_one_bar_late_is_caught(sample_store, setups_ds):
    m5 = sample_store.load("EURUSD", "M5")
    ev = _events(setups_ds)

    def late_close(X):            # the close of bar i + 1: one bar after known_at
        c = X.bars.close
        nxt = np.r_[c[1:], np.nan]
        return X.at_bar(nxt)

    bad = {**FEATURES, "late_close": Feature("late_close", "price", "bar i+1", "bar", "num", "late", late_close)}
    with pytest.raises(FeatureLeakError, match="late_close.*fails its known-at check"):
        check_known_at(m5, ev, "EURUSD", features=bad, sample=3)

    def too_far_back(X):          # reads further back than FEATURE_HISTORY: changes on the cut window
        return np.full(len(X.q), float(X.bars.n))

    far = {"bars_seen": Feature("bars_seen", "count", "everything", "bar", "num", "far", too_far_back)}
    with pytest.raises(FeatureLeakError, match="bars_seen"):
        check_known_at(m5, ev, "EURUSD", features=far, sample=2)


def test_history_features_count_only_trades_closed_before_the_signal(sample_store, setups_ds):
    ds = setups_ds[setups_ds["setup_id"] == "asia_fvg_break"].reset_index(drop=True)
    loaded = load_setup("asia_fvg_break")
    m5 = sample_store.load("EURUSD", "M5")
    trades = backtest(loaded, m5, "EURUSD", start="2025-01-01", end="2025-06-30").trades
    closed = pd.DatetimeIndex(trades["exit_time"]) + pd.Timedelta(minutes=5)
    for row in ds.iloc[::7].itertuples():
        d = pd.Timestamp(row.day)
        day = pd.to_datetime(trades["day"])
        sel = (day < d) & (day >= d - pd.Timedelta(days=90)) & (closed <= row.known_at)
        sel &= pd.to_datetime(trades["day"]) >= (m5.index[0] + FEATURE_HISTORY).tz_convert("America/New_York").normalize().tz_localize(None)
        assert row.hist_n_90d == sel.sum()
        wins = int((trades.loc[sel, "r"] > 0).sum())
        assert row.hist_winrate_90d == pytest.approx((wins + 1) / (sel.sum() + 2))


def test_setup_dataset_outcomes_are_the_backtest_trades(sample_store, setups_ds):
    ds = setups_ds[setups_ds["setup_id"] == "ib_raid"]
    m5 = sample_store.load("EURUSD", "M5")
    tr = backtest(load_setup("ib_raid"), m5, "EURUSD", start="2025-03-01", end="2025-06-30").trades.set_index("signal_id")
    filled = ds[ds["filled"]].set_index("event_id")
    assert len(filled) == len(tr) > 50
    pd.testing.assert_series_equal(filled["r"].sort_index(), tr["r"].sort_index(), check_names=False)
    assert (filled["win"] == (filled["r"] > 0)).all()
    assert (pd.DatetimeIndex(filled["outcome_end"]) > pd.DatetimeIndex(filled["known_at"])).all()
    assert set(ds["source"]) == {"backtest"} and ds["setup_hash"].str.len().min() == 64


def test_dataset_parquet_round_trip_and_nothing_half_written(tmp_path, setups_ds):
    p = write_dataset(setups_ds, "setups", {"note": "test"}, tmp_path / "out" / "d.parquet")
    back, meta = read_dataset(p)
    assert meta["kind"] == "setups" and meta["note"] == "test" and len(meta["hash"]) == 16
    assert len(back) == len(setups_ds) and list(back.columns) == list(setups_ds.columns)
    assert [x.name for x in (tmp_path / "out").iterdir()] == ["d.parquet"]


def test_detector_event_datasets_have_their_own_labels(sample_store):
    m5 = sample_store.load("EURUSD", "M5", "2025-03-01", "2025-04-30")
    g = fvg_events(m5, "EURUSD")
    assert len(g) > 1000
    assert (g["respected"] <= g["mitigated"]).all()           # respected needs mitigation
    h, lo, c = m5["high"].to_numpy(), m5["low"].to_numpy(), m5["close"].to_numpy()
    t = m5.index + pd.Timedelta(minutes=5)
    for r in g.sample(40, random_state=0).itertuples():       # recheck the label by hand
        k = int(np.searchsorted(t, r.known_at))
        top, bot, hgt = r.top, r.bottom, r.top - r.bottom
        win = range(k + 1, k + 37)
        touch = [j for j in win if (lo[j] <= top if r.direction > 0 else h[j] >= bot)]
        assert r.mitigated == bool(touch)
        if touch:
            m = touch[0]
            hit = [j for j in range(m, m + 36) if (h[j] >= top + hgt if r.direction > 0 else lo[j] <= bot - hgt)]
            bad = [j for j in range(m, m + 36) if (c[j] < bot if r.direction > 0 else c[j] > top)]
            assert r.respected == bool(hit and (not bad or hit[0] < bad[0]))
    s = sweep_events(m5, "EURUSD")
    assert len(s) > 20 and set(s["group"]) <= {"sweep_pd", "sweep_asia"}
    assert ((s["direction"] < 0) == (s["stop"] > s["price"])).all()


def test_bad_input_one_clear_message(data):
    with pytest.raises(Exception, match="events need the columns"):
        compute_features(data.load("EURUSD", "M5", "2025-03-01", "2025-03-05"), pd.DataFrame({"known_at": []}), "EURUSD")
    with pytest.raises(Exception, match="Unknown event kind"):
        build_event_dataset("order_blocks", ["EURUSD"], "2025-03-01", "2025-03-31")
