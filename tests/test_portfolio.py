"""Portfolio backtests on the real sample data: components equal single backtests, the governor's decisions
equal an independent implementation, daily-R correlation, the stored run."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ita.backtest import backtest
from ita.backtest.governor import GovernorRules
from ita.backtest.portfolio import correlation_ci, portfolio_backtest
from ita.backtest.runner import load_period_candles
from ita.errors import ItaError
from ita.setups import load_setup
from tests.test_governor import brute_force

START, END = "2025-01-01", "2025-06-30"


@pytest.fixture(scope="module")
def components(sample_store):
    out = []
    for sid in ("asia_fvg_break", "asia_sweep", "silver_bullet"):
        for sym in ("EURUSD", "XAUUSD"):
            ls = load_setup(sid)
            candles = load_period_candles(sample_store, ls, sym, START, END)
            out.append(backtest(ls, candles, sym, start=START, end=END))
    return out


def test_without_limits_the_portfolio_is_every_component_trade(components):
    pf = portfolio_backtest(components)
    assert pf.stats["Trades"] == sum(len(c.trades) for c in components)
    assert pf.stats["Total R"] == pytest.approx(sum(c.trades["r"].sum() for c in components))
    assert pf.blocked.empty
    assert pf.stats["Total R"] == pytest.approx(pf.stats_all["Total R"])
    for c in components:   # each component's trades exactly as its own backtest
        mine = pf.trades[pf.trades["component"] == f"{c.setup.id} v1 · {c.symbol}"]
        assert mine["signal_id"].tolist() == c.trades["signal_id"].tolist()
        assert np.allclose(mine["r"], c.trades["r"])
    assert pf.trades["entry_time"].is_monotonic_increasing
    assert pf.trades["trade"].tolist() == list(range(1, len(pf.trades) + 1))


def test_governed_decisions_equal_an_independent_implementation(components):
    rules = GovernorRules(max_daily_loss_r=1, max_trades_per_day=2, max_open_risk_r=1)
    pf = portfolio_backtest(components, rules)
    assert 0 < len(pf.blocked) < len(pf.candidates)
    assert pf.candidates["taken"].tolist() == brute_force(pf.candidates, rules)
    assert pf.stats["Total R"] == pytest.approx(pf.trades["r"].sum())
    assert pf.stats["Trades"] + len(pf.blocked) == pf.stats_all["Trades"]
    per_day = pf.trades.groupby("gov_day").size()
    assert per_day.max() <= 2
    assert set(pf.days["stopped"]) <= {"", "daily loss limit reached", "max trades per day reached"}
    assert int(pf.by_component["blocked"].sum()) == len(pf.blocked)


def test_daily_r_per_setup_and_correlation(components):
    pf = portfolio_backtest(components)
    assert list(pf.daily.columns) == ["asia_fvg_break v1", "asia_sweep v1", "silver_bullet v1"]
    for name, total in zip(pf.daily.columns, [sum(c.trades["r"].sum() for c in components if f"{c.setup.id} v1" == n)
                                              for n in pf.daily.columns]):
        assert pf.daily[name].sum() == pytest.approx(total)
    assert len(pf.daily) >= len(pd.bdate_range(START, END))      # every weekday, 0 R without trades
    assert pf.correlation.loc["asia_sweep v1", "silver_bullet v1"] == pytest.approx(
        np.corrcoef(pf.daily["asia_sweep v1"], pf.daily["silver_bullet v1"])[0, 1])
    assert len(pf.pairs) == 3 and (pf.pairs["ci_low"] < pf.pairs["r"]).all() and (pf.pairs["r"] < pf.pairs["ci_high"]).all()


def test_correlation_interval_is_fisher_z():
    lo, hi = correlation_ci(0.5, 103)            # z = atanh(.5) = .5493, se = 0.1
    assert (lo, hi) == (pytest.approx(math.tanh(0.5493061 - 0.1959964)), pytest.approx(math.tanh(0.5493061 + 0.1959964)))
    assert all(math.isnan(x) for x in correlation_ci(0.3, 3))


def test_one_setup_on_two_symbols_correlates_the_components(components):
    pf = portfolio_backtest(components[:2])
    assert list(pf.correlation.columns) == ["asia_fvg_break v1 · EURUSD", "asia_fvg_break v1 · XAUUSD"]


def test_a_component_twice_is_refused(components):
    with pytest.raises(ItaError, match="listed twice"):
        portfolio_backtest([components[0], components[0]])


def test_run_portfolio_writes_the_folder_and_the_store():
    from ita.backtest.portfolio_run import run_portfolio
    from ita.config import settings
    from ita.store.portfolio import PortfolioStore

    run = run_portfolio("asia_fvg_break,asia_sweep@1", "EURUSD,XAUUSD", "2025-03-01", "2025-04-30",
                        rules=GovernorRules(max_trades_per_day=1), charts=False, html=False)
    assert run.run_id.startswith("pf_") and run.run_dir.is_dir()
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["governor"]["max_trades_per_day"] == 1 and summary["period"] == ["2025-03-01", "2025-04-30"]
    cand = pd.read_csv(run.run_dir / "candidates.csv")
    assert set(cand["taken"]) == {True, False}
    row = PortfolioStore().get(run.run_id)
    assert row["trades_count"] == summary["stats"]["Trades"] == len(PortfolioStore().trades(run.run_id))
    assert [(c["setup_id"], c["symbol"]) for c in row["components"]][:2] == [("asia_fvg_break", "EURUSD"), ("asia_fvg_break", "XAUUSD")]
    with pytest.raises(ItaError, match="Unknown setup"):
        run_portfolio("asia_fvg_brake", "EURUSD", "2025-03-01", "2025-03-31", charts=False, html=False)
    assert not any(p.name.startswith(".") for p in settings().runs_dir.iterdir())     # nothing half-written
