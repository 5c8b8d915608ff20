"""No look-ahead: running on data cut at time t gives exactly the full run's events knowable by t.

For each cut, the prefix holds the bars whose close is ≤ t. Every detector event and every signal
of the full run with ``confirmed_at``/``known_at`` ≤ t must appear, identical, in the prefix run, and
the prefix run must emit nothing else. Later facts (an FVG's mitigation after t) are masked in the
full run, because they were not knowable at t.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita.detectors import fvg, range_break, session_range
from ita.sessions import SessionWindow, get_session
from ita.setups import evaluate, load_setup
from tests.helpers import STEP, assert_same, knowable, prefix, random_walk



def cuts(candles: pd.DataFrame, n: int = 30, seed: int = 7) -> list[pd.Timestamp]:
    """Cut times: random bars plus bars right around signals/session ends (where bugs hide)."""
    rng = np.random.default_rng(seed)
    pos = sorted(set(rng.integers(50, len(candles) - 1, size=n).tolist()))
    return [candles.index[p] + STEP for p in pos]


@pytest.fixture(scope="module")
def year(eurusd_m5):
    return eurusd_m5


@pytest.mark.parametrize("mode", ["touch", "midpoint", "close_through"])
def test_fvg_prefix_invariant(year, mode):
    full = fvg(year, 1e-4, 1.0, mode, timeframe="M5")
    for t in cuts(year, 25):
        part = fvg(prefix(year, t), 1e-4, 1.0, mode, timeframe="M5")
        exp = knowable(full, "confirmed_at", t).copy()
        exp.loc[exp["mitigated_at"] > t, "mitigated_at"] = pd.NaT
        assert_same(part, exp)


def test_session_range_and_break_prefix_invariant(year):
    asia = get_session("asia")
    brk = SessionWindow(name="break", start="00:00", end="05:00")
    full_r = session_range(year, asia, timeframe="M5")
    full_b = range_break(year, full_r, brk, timeframe="M5")
    # cut inside and right at the end of Asia windows too
    extra = [full_r["end"].iloc[k] + d for k in (3, 40, 100) for d in (-STEP, pd.Timedelta(0), STEP)]
    for t in cuts(year, 20) + extra:
        p = prefix(year, t)
        r = session_range(p, asia, timeframe="M5")
        assert_same(r, knowable(full_r, "confirmed_at", t))
        assert_same(range_break(p, r, brk, timeframe="M5"), knowable(full_b, "confirmed_at", t))


def test_setup_signals_prefix_invariant(year):
    loaded = load_setup("asia_fvg_break")
    full = evaluate(loaded, year, "EURUSD")
    assert len(full) > 50
    ts = cuts(year, 15) + [k + d for k in full["known_at"].iloc[[0, 10, 50]] for d in (-STEP, pd.Timedelta(0))]
    for t in ts:
        part = evaluate(loaded, prefix(year, t), "EURUSD")
        exp = knowable(full, "known_at", t)
        assert part["signal_id"].tolist() == exp["signal_id"].tolist()
        assert_same(part.drop(columns=["meta"]), exp.drop(columns=["meta"]))
        assert part["meta"].tolist() == exp["meta"].tolist()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 400), cut=st.floats(0.05, 0.95),
       mode=st.sampled_from(["touch", "midpoint", "close_through"]))
def test_fvg_prefix_invariant_generated(seed, n, cut, mode):
    c = random_walk(seed, n)
    t = c.index[int(cut * (n - 1))] + STEP
    full = fvg(c, 1e-4, 0.5, mode, timeframe="M5")
    exp = knowable(full, "confirmed_at", t).copy()
    exp.loc[exp["mitigated_at"] > t, "mitigated_at"] = pd.NaT
    assert_same(fvg(prefix(c, t), 1e-4, 0.5, mode, timeframe="M5"), exp)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.floats(0.05, 0.95))
def test_session_range_prefix_invariant_generated(seed, cut):
    c = random_walk(seed, 2000)  # ~7 days of M5
    t = c.index[int(cut * (len(c) - 1))] + STEP
    asia = get_session("asia")
    full = session_range(c, asia, timeframe="M5")
    assert_same(session_range(prefix(c, t), asia, timeframe="M5"), knowable(full, "confirmed_at", t))
