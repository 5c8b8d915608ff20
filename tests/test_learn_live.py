"""The learning module in the live loop, on the real samples: a replay journals every signal with the same
feature vector the dataset computes, follows it to the same outcome as the backtest's trade, and scores it with
the model only where the walk-forward gate lets it."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from ita.backtest import backtest
from ita.backtest.runner import load_period_candles
from ita.learn.dataset import build_setup_dataset
from ita.learn.features import FEATURES
from ita.learn.scoring import SignalScorer
from ita.learn.train import train
from ita.live.journal import Journal
from ita.live.service import LiveService
from ita.setups import load_setup
from tests.test_learn_model import synth

START, END = "2025-03-03", "2025-04-30"
SETUPS = ["asia_fvg_break", "ib_raid", "silver_bullet"]


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    a = np.nan if a is None else float(a)
    b = np.nan if b is None else float(b)
    return (np.isnan(a) and np.isnan(b)) or bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))


def _signals_and_trades(store, sym: str):
    out_s, out_t = [], []
    for sid in SETUPS:
        loaded = load_setup(sid)
        candles = load_period_candles(store, loaded, sym, START, END)
        res = backtest(loaded, candles, sym, start=START, end=END)
        out_s.append(res.signals.assign(setup_key=f"{loaded.id}@{loaded.version}"))
        out_t.append(res.trades)
    return pd.concat(out_s, ignore_index=True), pd.concat(out_t, ignore_index=True).set_index("signal_id"), candles


@pytest.mark.parametrize("sym", ["EURUSD", "XAUUSD"])
def test_live_outcome_tracking_equals_the_backtest_trades(sample_store, sym, tmp_path):
    from ita.live.outcomes import track

    sig, tr, candles = _signals_and_trades(sample_store, sym)
    j = Journal(tmp_path / "j.db")
    for r in sig.to_dict("records"):
        j.record("live", r, score=0.3, score_basis="b", decision="alert", reason="r", close_wall=0.0, channels=[])
    setups = {f"{s}@1": load_setup(s) for s in SETUPS}
    # the bars arrive day by day: each evening the tracker sees the closed bars of the last 12 days
    days = pd.date_range(START, pd.Timestamp(END) + pd.Timedelta(days=1), freq="D", tz="America/New_York")
    for d in days:
        now = (d + pd.Timedelta(hours=17)).tz_convert("UTC")
        window = candles[(candles.index + pd.Timedelta(minutes=5) <= now) & (candles.index >= now - pd.Timedelta(days=12))]
        track(j, "live", sym, window, setups)
    got = j.signals("live").set_index("signal_id")
    assert len(got) == len(sig) > 60
    filled = got[got["outcome"] == "filled"]
    assert set(filled.index) == set(tr.index)
    for sid, t in tr.iterrows():
        row = filled.loc[sid]
        assert row["outcome_r"] == pytest.approx(t["r"], abs=1e-12), sid
        assert row["exit_reason"] == t["exit_reason"] and pd.Timestamp(row["exit_time"]) == t["exit_time"], sid
        assert row["mfe_r"] == pytest.approx(t["mfe_r"]) and row["mae_r"] == pytest.approx(t["mae_r"])
        assert row["bars_to_exit"] == t["bars_held"]
    assert set(got.loc[~got.index.isin(tr.index), "outcome"]) == {"expired"}


def test_the_scorer_computes_the_datasets_features(sample_store):
    ds = build_setup_dataset([load_setup(s) for s in SETUPS], ["EURUSD"], START, END, store=sample_store,
                             check=False).set_index("event_id")
    sig, _, _ = _signals_and_trades(sample_store, "EURUSD")
    sc = SignalScorer(store=sample_store)
    picks = sig.sample(12, random_state=0)
    for r in picks.to_dict("records"):
        loaded = load_setup(r["rule_id"])
        same = sig[(sig["rule_id"] == r["rule_id"]) & (sig["day"] == r["day"]) & (sig["known_at"] < r["known_at"])]
        f = sc.features(r, loaded, same_day=same.to_dict("records")).iloc[0]
        d = ds.loc[r["signal_id"]]
        bad = [k for k in FEATURES if not _same(f[k], d[k])]
        assert not bad, (r["signal_id"], {k: (f[k], d[k]) for k in bad})


def test_a_replay_journals_features_the_score_kind_and_the_outcome(sample_store):
    svc = LiveService.replay_service(["asia_fvg_break"], ["EURUSD"], "2025-03-04", "2025-03-04", speed=None,
                                     notify=("outbox",), charts=(), store=sample_store)
    try:
        svc.replay()
        row = svc.ctx.journal.signals(svc.ctx.run).iloc[0]
    finally:
        svc.close()
    assert row["score_kind"] == "laplace" and "Laplace" in row["score_basis"]
    feats = json.loads(row["features"])
    assert set(feats) == set(FEATURES) and feats["setup"] == "asia_fvg_break" and feats["symbol"] == "EURUSD"
    loaded = load_setup("asia_fvg_break")
    t = backtest(loaded, load_period_candles(sample_store, loaded, "EURUSD", "2025-03-04", "2025-03-04"), "EURUSD",
                 start="2025-03-04", end="2025-03-04").trades.iloc[0]
    assert row["outcome"] == "filled" and row["outcome_r"] == pytest.approx(t["r"]) and row["exit_reason"] == t["exit_reason"]


def test_the_live_score_uses_the_model_only_where_the_gate_lets_it(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    planted = synth(900, planted=True, seed=2).assign(setup="asia_fvg_break", setup_id="asia_fvg_break")
    on = train("setup_win", planted, png=False)
    assert on.manifest["gate"]["asia_fvg_break"]["use_model"]
    svc = LiveService.replay_service(["asia_fvg_break"], ["EURUSD"], "2025-03-04", "2025-03-04", speed=None,
                                     notify=("outbox",), charts=(), store=sample_store)
    try:
        svc.replay()
        row = svc.ctx.journal.signals(svc.ctx.run).iloc[0]
    finally:
        svc.close()
    assert row["score_kind"] == "model" and on.model_id in row["score_basis"] and "Laplace would say" in row["score_basis"]
    feats = pd.DataFrame([{k: (np.nan if v is None else v) for k, v in json.loads(row["features"]).items()}])
    from ita.learn.registry import load_model

    assert row["score"] == pytest.approx(float(load_model("setup_win").fitted.predict(feats)[0]))
    msg = (svc.ctx.channels["outbox"].dir / row["signal_id"] / "signal.json")
    assert json.loads(msg.read_text())["score_kind"] == "model"
    assert "Model: " in row["comment"] and re.search(r"\([+−]\d", row["comment"]), row["comment"]  # SHAP in words

    noise = synth(900, planted=False, seed=6).assign(setup="asia_fvg_break", setup_id="asia_fvg_break")
    off = train("setup_win", noise, png=False)
    assert not off.manifest["gate"]["asia_fvg_break"]["use_model"]
    sc = SignalScorer(store=sample_store)
    use, why = sc.gate("asia_fvg_break")
    assert not use and "Laplace" in why


def test_the_dataset_grows_with_the_live_journal(sample_store, monkeypatch):
    """Live signals after the stored period's end, followed to their outcome, join the next dataset."""
    from ita.live.outcomes import track
    from ita.tools import build_dataset

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    sig, tr, candles = _signals_and_trades(sample_store, "EURUSD")
    may = sig[pd.to_datetime(sig["day"]) >= pd.Timestamp("2025-04-15")]
    j = Journal()
    sc = SignalScorer(store=sample_store)
    for r in may.to_dict("records"):
        loaded = load_setup(r["rule_id"])
        same = sig[(sig["rule_id"] == r["rule_id"]) & (sig["day"] == r["day"]) & (sig["known_at"] < r["known_at"])]
        s = sc.score(r, loaded, laplace_p=0.3, laplace_basis="b", same_day=same.to_dict("records"))
        j.record("live", r, score=s.p, score_basis=s.basis, decision="alert", reason="r", close_wall=0.0,
                 channels=[], score_kind=s.kind, features=s.features)
    track(j, "live", "EURUSD", candles, {f"{x}@1": load_setup(x) for x in SETUPS})
    res = build_dataset(kind="setups", setups="asia_fvg_break,ib_raid,silver_bullet", symbols="EURUSD",
                        start="2025-03-01", end="2025-04-14")
    assert res.ok, res.error
    df = pd.read_parquet(res.data["path"])
    live = df[df["source"] == "live"]
    final = j.signals("live")
    assert len(live) == int(final["outcome"].isin(["filled", "expired"]).sum()) > 5
    assert "from the live journal" in res.summary
    t = tr.reindex(live.loc[live["filled"], "event_id"])
    np.testing.assert_allclose(live.loc[live["filled"], "r"].to_numpy(), t["r"].to_numpy())
