"""The live scorer's higher-timeframe cache changes no value and cannot look ahead: on many real signals —
including signals right at an H1 / D1 boundary and while new bars arrive — the cached scorer gives exactly
(bit for bit) the feature vector and the probability of the uncached one and of the plain computation on the
35-day cut; a cached state never holds a bar that closed after the signal's known_at, and a revised bar is a
new key."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.backtest import backtest
from ita.backtest.runner import load_period_candles
from ita.data.store import CandleStore
from ita.learn.features import FEATURES, HTF_KEYS, compute_features
from ita.learn.scoring import SignalScorer, signal_event
from ita.learn.train import train
from ita.setups import load_setup
from tests.test_learn_model import synth

START, END = "2025-03-03", "2025-04-30"
SETUPS = ["asia_fvg_break", "ib_raid", "silver_bullet"]
M5, H1 = pd.Timedelta(minutes=5), pd.Timedelta(hours=1)
NY = "America/New_York"


def _signals(store, sym: str) -> pd.DataFrame:
    out = []
    for sid in SETUPS:
        loaded = load_setup(sid)
        res = backtest(loaded, load_period_candles(store, loaded, sym, START, END), sym, start=START, end=END)
        out.append(res.signals)
    return pd.concat(out, ignore_index=True).sort_values("known_at", ignore_index=True)


def _boundary_signals(m5: pd.DataFrame, sym: str, template: dict) -> list[dict]:
    """Signals right at H1 closes, at the D1 roll (17:00 New York), at the Asia session's end (00:00 New York),
    at the week's first bars, and one bar after each; priced at the bar's close, both directions."""
    close = m5.index + M5
    ny = close.tz_convert(NY)
    span = (close >= pd.Timestamp(START, tz="UTC")) & (close <= pd.Timestamp(END, tz="UTC"))
    picks = []
    rng = np.random.default_rng(7)
    for mask, n in (((ny.minute == 0) & span, 12), ((ny.hour == 17) & (ny.minute == 0) & span, 8),
                    ((ny.hour == 0) & (ny.minute == 0) & span, 6), ((ny.day_of_week == 6) & span, 4)):
        idx = np.flatnonzero(mask)
        for k in rng.choice(idx, min(n, len(idx)), replace=False):
            picks += [k, k + 1] if k + 1 < len(m5) else [k]
    out = []
    for j, k in enumerate(sorted(set(picks))):
        px = float(m5["close"].iloc[k])
        long_ = j % 2 == 0
        stop = px - 0.002 * px if long_ else px + 0.002 * px
        known = close[k]
        day = (known.tz_convert(NY) + pd.Timedelta(hours=7)).tz_localize(None).normalize()   # the forex day
        out.append({**template, "symbol": sym, "direction": "long" if long_ else "short", "entry_price": px,
                    "sl_price": stop, "tp_price": px + 2 * (px - stop), "known_at": known, "day": day, "meta": {"rr": 2.0}})
    return out


def _plain(ref: SignalScorer, sig: dict, loaded, same_day=(), window=None) -> pd.Series:
    """The computation before the cache: every feature on the signal's own 35-day cut (plain Bars)."""
    ev = signal_event(sig)
    events = pd.DataFrame([signal_event(s) for s in same_day] + [ev])
    c = ref.candles(sig["symbol"], ev["known_at"], window)
    return compute_features(c, events, sig["symbol"],
                            history=ref.history(loaded, sig["symbol"], ev["day"])).iloc[-1]


def _identical(a: pd.Series, b: pd.Series) -> list[str]:
    bad = []
    for k in FEATURES:
        x, y = a[k], b[k]
        if isinstance(x, str) or isinstance(y, str):
            ok = str(x) == str(y)
        else:
            ok = (np.isnan(x) and np.isnan(y)) or float(x) == float(y)
        if not ok:
            bad.append(f"{k}: {x!r} != {y!r}")
    return bad


@pytest.fixture
def planted_model(sample_store, monkeypatch):
    """A model whose gate lets it score asia_fvg_break (so the probability, not Laplace's, is compared)."""
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    m = train("setup_win", synth(900, planted=True, seed=2).assign(setup="asia_fvg_break", setup_id="asia_fvg_break"),
              png=False)
    assert m.manifest["gate"]["asia_fvg_break"]["use_model"]
    return m


@pytest.mark.parametrize("sym", ["EURUSD", "XAUUSD"])
def test_cached_features_and_probability_equal_the_uncached_ones(sample_store, planted_model, sym):
    sig = _signals(sample_store, sym)
    real = sig.to_dict("records")
    edge = _boundary_signals(sample_store.load(sym, "M5"), sym, {"rule_id": "asia_fvg_break"})
    cached, ref = SignalScorer(store=sample_store), SignalScorer(store=sample_store, cache=False)
    n_model = 0
    rng = np.random.default_rng(1)
    signals = real + edge
    order = list(range(len(signals)))
    rng.shuffle(order)                          # any order: chronological in live, random from the tools
    for k in order:
        s = signals[k]
        loaded = load_setup(s["rule_id"])
        same = [r for r in real if r["rule_id"] == s["rule_id"] and r["day"] == s["day"] and r["known_at"] < s["known_at"]]
        a = cached.score(s, loaded, laplace_p=0.3, laplace_basis="b", same_day=same)
        b = ref.score(s, loaded, laplace_p=0.3, laplace_basis="b", same_day=same)
        assert a.features is not None and b.features is not None, (a.basis, b.basis)
        assert a.features.keys() == b.features.keys() and all(
            (a.features[f] is None and b.features[f] is None) or a.features[f] == b.features[f] for f in a.features), s["known_at"]
        assert (a.p, a.kind, a.basis, a.why) == (b.p, b.kind, b.basis, b.why), s["known_at"]
        n_model += a.kind == "model"
        fa = cached.features(s, loaded, same_day=same).iloc[0]
        assert not _identical(fa, _plain(ref, s, loaded, same)), (s["known_at"], _identical(fa, _plain(ref, s, loaded, same)))
    assert len(edge) >= 40 and len(real) > 40 and n_model >= 10
    assert cached.htf_stats["hits"] > 0 and ref.htf_stats == {"hits": 0, "misses": 0}


def test_new_bars_arriving_across_h1_and_d1_closes(sample_store, tmp_path):
    """The live loop: the store ends, bars arrive one by one in the window across several H1 closes and a D1
    close; after each, the loop warms the hour's state (prepare) and a signal on the newest bar scores exactly as
    uncached — the new H1 bar is in the state from its close on, never before."""
    sym = "EURUSD"
    m5 = sample_store.load(sym, "M5")
    t0 = pd.Timestamp("2025-04-09 20:05", tz=NY).tz_convert("UTC")          # 20:05 New York: D1 rolled at 17:00
    start = t0 - pd.Timedelta(hours=5)
    store = CandleStore(tmp_path / "store")
    store.write(sym, "M5", m5[m5.index + M5 <= start])
    cached, ref = SignalScorer(store=store), SignalScorer(store=store, cache=False)
    loaded = load_setup("asia_fvg_break")
    feed = m5[(m5.index + M5 > start - pd.Timedelta(days=12)) & (m5.index + M5 <= t0 + H1)]
    seen_h1 = []
    for now in pd.date_range(start + M5, t0 + H1, freq="5min"):
        window = feed[feed.index + M5 <= now]
        px = float(window["close"].iloc[-1])
        s = {"rule_id": "asia_fvg_break", "symbol": sym, "direction": "long", "entry_price": px, "sl_price": px - 0.001,
             "tp_price": px + 0.002, "known_at": now, "day": pd.Timestamp("2025-04-10"), "meta": {"rr": 2.0}}
        a = cached.features(s, loaded, window=window).iloc[0]
        b = ref.features(s, loaded, window=window).iloc[0]
        assert not _identical(a, b), (now, _identical(a, b))
        assert not _identical(a, _plain(ref, s, loaded, window=window)), now
        state = cached.htf_state(sym, now, window)
        h1 = state["_htf_H1"]
        assert h1.index[-1] + H1 <= now and h1.index[-1] + H1 == now.floor("h"), now   # the last complete H1, no later
        seen_h1.append(h1.index[-1])
        cached.prepare(sym, now, window)
    assert len(set(seen_h1)) == 7                                     # seven H1 closes crossed (one D1 close)
    assert cached.htf_stats["hits"] > cached.htf_stats["misses"] > 0


def test_a_cached_state_never_holds_a_bar_closed_after_known_at(sample_store):
    sym = "EURUSD"
    m5 = sample_store.load(sym, "M5")
    sc, ref = SignalScorer(store=sample_store), SignalScorer(store=sample_store, cache=False)
    loaded = load_setup("asia_fvg_break")
    later = pd.Timestamp("2025-03-12 10:35", tz="UTC")
    sc.prepare(sym, later)                      # the cache first holds a later hour's state
    for known in (pd.Timestamp("2025-03-12 10:00", tz="UTC"), pd.Timestamp("2025-03-12 09:55", tz="UTC"),
                  pd.Timestamp("2025-03-12 10:05", tz="UTC")):
        state = sc.htf_state(sym, known)
        for k in HTF_KEYS:
            v = state[k]
            if isinstance(v, pd.DataFrame) and len(v) and isinstance(v.index, pd.DatetimeIndex) and k.startswith("_htf_"):
                tf = {"_htf_H1": H1, "_htf_H4": 4 * H1, "_htf_D1": 24 * H1}[k]
                assert v.index[-1] + tf <= known, (k, known)
        assert state["adr"][0].max() <= known.value if len(state["adr"][0]) else True
        for k in ("_lv_D", "_lv_W", "asia"):
            if len(state[k]):
                assert pd.DatetimeIndex(state[k]["confirmed_at"]).max() <= known, (k, known)
        px = float(m5.loc[m5.index + M5 == known, "close"].iloc[0])
        s = {"rule_id": "asia_fvg_break", "symbol": sym, "direction": "short", "entry_price": px, "sl_price": px + 0.001,
             "tp_price": px - 0.002, "known_at": known, "day": pd.Timestamp("2025-03-12"), "meta": {"rr": 2.0}}
        # bars after known_at in the live window (here: wild prices) change nothing, cached or not
        future = m5[(m5.index + M5 > known - pd.Timedelta(days=2)) & (m5.index + M5 <= known + 3 * H1)].copy()
        future.loc[future.index + M5 > known, ["open", "high", "low", "close"]] *= 1.5
        a = sc.features(s, loaded, window=future).iloc[0]
        assert not _identical(a, ref.features(s, loaded).iloc[0]), known
        assert not _identical(a, _plain(ref, s, loaded)), known


def test_a_revised_bar_is_a_new_key_not_a_stale_state(sample_store, tmp_path):
    sym = "EURUSD"
    m5 = sample_store.load(sym, "M5")
    now = pd.Timestamp("2025-03-20 14:35", tz="UTC")
    store = CandleStore(tmp_path / "store")
    store.write(sym, "M5", m5[m5.index + M5 <= now - pd.Timedelta(days=2)])
    sc = SignalScorer(store=store)
    window = m5[(m5.index + M5 > now - pd.Timedelta(days=3)) & (m5.index + M5 <= now)]
    first = sc.htf_state(sym, now, window)
    assert sc.htf_state(sym, now, window) is first and sc.htf_stats == {"hits": 1, "misses": 1}
    revised = window.copy()
    k = revised.index[revised.index + M5 <= now.floor("h")][-3]          # a bar of the last complete hour
    revised.loc[k, "high"] = revised.loc[k, "high"] + 0.01
    again = sc.htf_state(sym, now, revised)
    assert again is not first and sc.htf_stats["misses"] == 2
    hour = k.floor("h")
    assert again["_htf_H1"].loc[hour, "high"] == revised.loc[k, "high"] > first["_htf_H1"].loc[hour, "high"]
    fresh = SignalScorer(store=store, cache=False).htf_state(sym, now, revised)
    pd.testing.assert_frame_equal(again["_htf_H1"], fresh["_htf_H1"], check_exact=True)
