"""The model's validation can both find and refuse: purging and the embargo on constructed data, a planted
feature gives AUC > 0.9 while noise gives a CI containing 0.5, calibration helps a miscalibrated model, a
stored model reloads to identical scores, a model of another feature set is refused, the gate switches."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ita.errors import ItaError
from ita.learn.features import FEATURES, categorical_features, numeric_features
from ita.learn.model import fit_window, walk_forward
from ita.learn.registry import gate_decision, load_model
from ita.learn.train import train
from ita.learn.validation import (TooFewSamples, auc, auc_ci, brier, inner_split, purge, purged_kfold,
                                  walk_forward_folds, wilson)

H = pd.Timedelta(hours=1)


def synth(n: int = 1000, planted: bool = True, seed: int = 0, rate: float = 0.3) -> pd.DataFrame:
    """A setup dataset with every feature column: noise, and (``planted``) a label decided by atr_pct_20d."""
    rng = np.random.default_rng(seed)
    known = pd.date_range("2025-01-02", periods=n, freq="7h", tz="UTC")
    df = pd.DataFrame({f: rng.normal(size=n) for f in numeric_features()})
    df["setup"] = rng.choice(["alpha", "beta"], n)
    df["symbol"] = "EURUSD"
    df["session"] = rng.choice(["asia", "london_killzone", "other"], n)
    if planted:
        y = (df["atr_pct_20d"] + rng.normal(0, 0.15, n)) > np.quantile(df["atr_pct_20d"], 1 - rate)
    else:
        y = rng.random(n) < rate
    df["event_id"] = [f"s{k}" for k in range(n)]
    df["setup_id"], df["known_at"], df["outcome_end"] = df["setup"], known, known + 3 * H
    df["filled"], df["exit_reason"], df["win"] = True, np.where(y, "target", "stop"), y
    df["day"] = known.tz_convert("America/New_York").tz_localize(None).normalize()
    return df[[c for c in df.columns if c not in FEATURES] + list(FEATURES)]


# ---- purging and the embargo -----------------------------------------------------------------------------

def test_purging_removes_exactly_the_overlapping_samples():
    t = pd.Timestamp("2025-03-01", tz="UTC")
    known = pd.DatetimeIndex([t - 10 * H, t - 5 * H, t - 2 * H, t, t + 1 * H, t + 6 * H, t + 8 * H, t + 30 * H])
    end = pd.DatetimeIndex([t - 9 * H, t - 1 * H, t + 1 * H, t + 2 * H, t + 3 * H, t + 7 * H, t + 9 * H, t + 31 * H])
    k, e = known.as_unit("ns").asi8, end.as_unit("ns").asi8
    test = np.array([3, 4])                        # test window [t, t + 3h]
    train = np.array([0, 1, 2, 5, 6, 7])
    kept, purged, emb = purge(k, e, train, test, embargo=pd.Timedelta(hours=4))
    # 2 overlaps (ends at t+1h inside the window); 0 and 1 end before it; 5 (known t+6h) is within the
    # 4 h embargo after t+3h... no: t+6h > t+3h+4h? t+7h is the limit, so 5 is embargoed; 6 (t+8h) and 7 stay
    assert purged == 1 and emb == 1
    assert kept.tolist() == [0, 1, 6, 7]


def test_walk_forward_trains_only_on_settled_earlier_samples():
    df = synth(900)
    df.loc[df.index % 50 == 0, "outcome_end"] = df.loc[df.index % 50 == 0, "known_at"] + pd.Timedelta(days=20)
    folds = walk_forward_folds(df, min_train=100)
    assert len(folds) >= 6
    for f in folds:
        t0 = pd.Timestamp(df["known_at"].iloc[f.test].min())
        assert (df["known_at"].iloc[f.train] < f.test_start).all()
        assert (df["outcome_end"].iloc[f.train] < t0).all()          # nothing whose outcome reaches the test
    assert sum(f.purged for f in folds) > 0


def test_the_embargo_holds_in_purged_kfold():
    df = synth(600)
    emb = pd.Timedelta(days=2)
    for f in purged_kfold(df, k=5, embargo=emb):
        t1 = pd.Timestamp(df["outcome_end"].iloc[f.test].max())
        kn = pd.DatetimeIndex(df["known_at"].iloc[f.train])
        assert not ((kn > t1) & (kn <= t1 + emb)).any()
        if t1 + emb < df["known_at"].max():
            assert f.embargoed > 0


def test_inner_split_keeps_the_validation_part_after_the_fitting_part():
    df = synth(400)
    fit, val = inner_split(df, np.arange(400))
    assert df["outcome_end"].iloc[fit].max() < df["known_at"].iloc[val].min()


def test_too_few_samples_and_one_class_say_how_many():
    with pytest.raises(TooFewSamples, match=r"has \d+, a fold needs 100 training samples"):
        walk_forward_folds(synth(60), min_train=100)
    one = synth(500)
    one["win"] = False
    with pytest.raises(TooFewSamples, match="one class only"):
        walk_forward(one, "setup_win")


# ---- scores -------------------------------------------------------------------------------------------

def test_auc_and_wilson_match_references():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y, p = rng.random(300) < 0.3, rng.random(300)
    p[:40] = 0.5                                     # ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p))
    a, lo, hi = auc_ci(y, p, n_boot=300)
    assert lo < a < hi
    assert wilson(0, 10)[0] == 0.0 and wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


# ---- power and null ----------------------------------------------------------------------------------------

def test_a_planted_feature_is_found_and_noise_is_refused():
    found = walk_forward(synth(1000, planted=True), "setup_win", baseline_family=None, n_boot=300)
    assert found.pooled["model"]["auc"] > 0.9 and found.pooled["model"]["auc_lo"] > 0.85
    assert found.pooled["model"]["brier"] < found.pooled["laplace"]["brier"]
    noise = walk_forward(synth(1000, planted=False, seed=5), "setup_win", baseline_family=None, n_boot=300)
    m = noise.pooled["model"]
    assert m["auc_lo"] < 0.5 < m["auc_hi"]


def test_calibration_inside_the_training_window_improves_brier():
    df = synth(1500, planted=False, seed=7, rate=0.2)
    rng = np.random.default_rng(1234)          # not synth's stream
    df["win"] = (df["stop_atr"] + rng.normal(0, 2.0, len(df))) > 1.9     # weak signal, base rate ≈ 0.2
    train_pos, test_pos = np.arange(1000), np.arange(1000, 1500)
    overfit = [{"num_leaves": 63, "min_child_samples": 3, "n_estimators": 400}]
    m = fit_window(df, train_pos, "win", "lgbm", grid=overfit)
    assert m.calibration == "sigmoid"
    test = df.iloc[test_pos]
    raw = m.estimator.predict_proba(m.design.transform(test))[:, 1]
    cal = m.predict(test)
    y = test["win"].to_numpy()
    assert brier(y, cal) < brier(y, raw) - 0.01


# ---- storage and the gate ----------------------------------------------------------------------------------

def test_stored_model_reloads_to_identical_scores_and_another_feature_set_is_refused():
    df = synth(900, planted=True, seed=3)
    res = train("setup_win", df, png=False)
    assert not res.reused and (res.path / "report.html").is_file() and (res.path / "dataset.parquet").is_file()
    again = train("setup_win", df, png=False)
    assert again.reused and again.model_id == res.model_id              # same inputs, same version
    stored = load_model("setup_win")
    assert stored.model_id == res.model_id
    x = df.tail(50)
    import joblib

    first = joblib.load(res.path / "model.joblib").predict(x)
    np.testing.assert_array_equal(stored.fitted.predict(x), first)
    man = json.loads((res.path / "manifest.json").read_text())
    assert man["pooled"]["model"]["auc"] > 0.9 and man["gate"]["alpha"]["use_model"]
    man["feature_hash"] = "0123456789abcdef"
    (res.path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ItaError, match="0123456789abcdef.*feature set [0-9a-f]{16}"):
        load_model(res.model_id)
    with pytest.raises(ItaError, match="No trained model 'nope'"):
        load_model("nope")


def test_the_gate_switches_on_and_off_as_specified():
    good = {"n": 200, "positives": 50, "auc": 0.66, "auc_lo": 0.58, "auc_hi": 0.74, "brier": 0.17, "brier_laplace": 0.19}
    assert gate_decision(good)[0]
    chance = {**good, "auc": 0.55, "auc_lo": 0.47}
    ok, why = gate_decision(chance)
    assert not ok and "includes 0.5" in why and why.endswith("Laplace")
    worse = {**good, "brier": 0.2}
    ok, why = gate_decision(worse)
    assert not ok and "does not beat Laplace" in why
    few = {**good, "n": 12}
    assert not gate_decision(few)[0]
    noise = train("setup_win", synth(900, planted=False, seed=11), png=False)
    assert not any(g["use_model"] for g in noise.manifest["gate"].values())
    assert "no better than chance" in noise.manifest["verdict"] or "worse than chance" in noise.manifest["verdict"]


def test_categorical_features_are_one_hot_with_the_training_categories():
    df = synth(500)
    m = fit_window(df, np.arange(400), "win", "logistic")
    cols = m.design.columns
    assert {f"session={v}" for v in ("asia", "london_killzone", "other")} <= set(cols)
    assert set(categorical_features()) == {"setup", "symbol", "session"}
    unseen = df.tail(3).assign(session="tokyo")
    assert np.isfinite(m.predict(unseen)).all()


def test_learning_answers_render_in_english_and_russian():
    from ita.agent.answers import render
    from ita.tools import learn_status, list_features, train_model

    assert "No setup_win model yet" in render(learn_status(), "en")
    from ita.learn.dataset import write_dataset

    path = write_dataset(synth(700, planted=False, seed=6), "setups", {})
    r = train_model(target="setup_win", dataset=str(path))
    assert r.ok, r.error
    en, ru = render(r, "en"), render(r, "ru")
    assert "out-of-sample AUC" in en and "no better than chance" in en and "Live gate per setup" in en
    assert "AUC вне выборки" in ru and "не лучше случайного" in ru
    st = render(learn_status(), "ru")
    assert "Обученных моделей: 1" in st and "Лаплас" in st
    assert "признаков" in render(list_features(), "ru").lower()
