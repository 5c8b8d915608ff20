"""Live equals backtest: replaying a period through the live graph — candle by candle on a simulated clock,
each run seeing only the bars closed by then on its bounded window — journals exactly the signals the
backtest produces for that period: same identities, times, prices, directions and order types.

The period (2025-03-24 → 25) has signals of every shipped setup version on the two sample symbols.
"""
from __future__ import annotations

import pandas as pd
import pytest

from ita.backtest import backtest
from ita.backtest.runner import load_period_candles
from ita.live.journal import Journal
from ita.live.service import LiveService
from ita.setups import evaluate, list_setups, load_setup

START, END = "2025-03-24", "2025-03-25"
SETUPS = [f"{sid}@{v}" for sid, versions in list_setups().items() for v in versions]
COLS = ["signal_id", "direction", "entry_type", "entry_price", "sl_price", "tp_price", "time", "known_at",
        "expires_at", "exit_by"]


def _backtest_signals(store, symbols) -> pd.DataFrame:
    t0 = pd.Timestamp(START).tz_localize("America/New_York")
    t1 = (pd.Timestamp(END) + pd.Timedelta(days=1)).tz_localize("America/New_York")
    out = []
    for ref in SETUPS:
        sid, v = ref.split("@")
        loaded = load_setup(sid, int(v))
        for sym in symbols:
            candles = load_period_candles(store, loaded, sym, START, END)
            sig = backtest(loaded, candles, sym, start=START, end=END).signals
            out.append(sig[(sig["known_at"] > t0) & (sig["known_at"] <= t1)])
    return pd.concat(out, ignore_index=True)


@pytest.fixture(scope="module")
def replayed(sample_store, tmp_path_factory):
    home = tmp_path_factory.mktemp("live_home")
    import os

    old = os.environ.get("ITA_HOME")
    os.environ["ITA_HOME"] = str(home)
    try:
        journal = Journal(home / "ita.db")
        svc = LiveService.replay_service(SETUPS, ["EURUSD", "XAUUSD"], START, END, speed=None, charts=(),
                                         store=sample_store, journal=journal, cooldown_setup=pd.Timedelta(0))
        report = svc.replay()
        svc.close()
    finally:
        if old is None:
            os.environ.pop("ITA_HOME", None)
        else:
            os.environ["ITA_HOME"] = old
    return svc, report


@pytest.mark.slow
def test_replay_journals_exactly_the_backtest_signals(replayed, sample_store):
    svc, report = replayed
    got = svc.ctx.journal.signals(svc.ctx.run)
    ref = _backtest_signals(sample_store, ["EURUSD", "XAUUSD"])
    assert len(ref) >= 10 and ref["rule_id"].nunique() == 5 and (ref["rule_id"] + ref["rule_version"].astype(str)).nunique() == 6
    assert sorted(got["signal_id"]) == sorted(ref["signal_id"])
    got = got.set_index("signal_id").sort_index()
    ref = ref.set_index("signal_id").sort_index()
    for c in ("direction", "entry_type"):
        assert (got[c] == ref[c]).all(), c
    for c in ("entry_price", "sl_price", "tp_price"):
        assert (got[c].astype(float) == ref[c].astype(float)).all(), c
    for c in ("time", "known_at", "expires_at", "exit_by"):
        assert (pd.to_datetime(got[c], utc=True) == pd.DatetimeIndex(ref[c])).all(), c
    # every signal was alerted (threshold 0, no cool-down) and delivered to the outbox once
    assert set(got["decision"]) == {"alert"}
    assert report["deliveries"] == {"sent": len(ref)}
    folders = sorted(p.name for p in svc.ctx.channels["outbox"].dir.iterdir())
    assert folders == sorted(ref.index)


@pytest.mark.slow
def test_each_signal_was_found_at_the_close_of_its_own_candle(replayed):
    """A live run sees a signal at the first close at or after its known_at — never earlier (no look-ahead),
    and at max speed with no charts, within a second of the simulated close."""
    svc, _ = replayed
    j = svc.ctx.journal
    sig = j.signals(svc.ctx.run)
    dl = j.deliveries(svc.ctx.run)
    assert (dl["latency_s"] >= 0).all() and (dl["latency_s"] < 5).all()
    assert (sig["detected_wall"] >= sig["close_wall"] - 1e-6).all()


@pytest.mark.parametrize("ref", SETUPS)
def test_evaluate_known_after_returns_exactly_the_later_signals(ref, eurusd_m5):
    """``evaluate(known_after=t)`` (the live loop's cheap path) equals the full evaluation's rows known after t —
    at every signal's own boundary (t one bar before its known_at: included; t = known_at: excluded) and at
    random times."""
    import numpy as np

    sid, v = ref.split("@")
    loaded = load_setup(sid, int(v))
    m5 = eurusd_m5[(eurusd_m5.index >= "2025-03-01") & (eurusd_m5.index < "2025-05-01")]
    full = evaluate(loaded, m5, "EURUSD")
    step = pd.Timedelta(minutes=5)
    times = list(full["known_at"] - step) + list(full["known_at"])
    rng = np.random.default_rng(7)
    times += list(m5.index[rng.integers(0, len(m5), 25)] + step)
    for t in times:
        got = evaluate(loaded, m5, "EURUSD", known_after=t)
        want = full[full["known_at"] > t].reset_index(drop=True)
        assert list(got["signal_id"]) == list(want["signal_id"]), t
        pd.testing.assert_frame_equal(got[COLS], want[COLS], check_dtype=False)
