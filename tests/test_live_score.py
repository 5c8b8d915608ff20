"""The baseline score: Laplace's rule over the setup's own backtest trades before the live period — never on the
period itself, so a replay cannot peek at its own future."""
from __future__ import annotations

import pandas as pd
import pytest

from ita.backtest import backtest
from ita.live.score import baseline
from ita.setups import load_setup


def test_baseline_is_the_backtest_before_the_period(sample_store):
    loaded = load_setup("asia_fvg_break")
    b = baseline(loaded, "EURUSD", "2025-03-03", store=sample_store)
    m5 = sample_store.load("EURUSD", "M5")
    ref = backtest(loaded, m5, "EURUSD", start="2025-01-01", end="2025-03-02").trades
    assert b.trades == len(ref) == 21 and b.wins == int((ref["r"] > 0).sum()) == 4
    assert b.p == pytest.approx(5 / 23) and b.end == "2025-02-28" and pd.Timestamp(b.end) < pd.Timestamp("2025-03-03")
    assert b.expectancy == pytest.approx(ref["r"].mean())
    assert b.expected_r(2.0) == pytest.approx(5 / 23 * 2 - 18 / 23)
    assert "4 of 21 backtest trades won" in b.basis and "Laplace" in b.basis
    later = baseline(loaded, "EURUSD", "2025-06-02", store=sample_store)
    assert later.trades > b.trades  # more history, more evidence


def test_no_history_means_no_evidence(sample_store):
    b = baseline(load_setup("asia_fvg_break"), "EURUSD", "2025-01-02", store=sample_store)
    assert (b.trades, b.p) == (0, 0.5) and "no evidence" in b.basis
