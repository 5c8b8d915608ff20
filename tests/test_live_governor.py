"""The risk governor and paper versions in the live graph's decide node, on a replay of real data.

2025-03-07 on XAUUSD: asia_fvg_break signals at 00:30 New York and loses 1 R by 00:45; silver_bullet signals at
10:05. With a 1 R daily loss limit the second signal is journaled, not alerted; with asia_fvg_break in paper
status its signal is not alerted and, never alerted, does not count for the governor.
"""
from __future__ import annotations

import pandas as pd
import pytest

from ita.backtest import backtest
from ita.backtest.governor import GovernorRules
from ita.backtest.runner import load_period_candles
from ita.live.governor import day_state
from ita.live.journal import Journal
from ita.live.service import LiveService
from ita.setups import load_setup

DAY = "2025-03-07"
SETUPS = ["asia_fvg_break", "silver_bullet"]


def replay(sample_store, home, **config):
    svc = LiveService.replay_service(SETUPS, ["XAUUSD"], DAY, DAY, speed=None, charts=(), store=sample_store,
                                     journal=Journal(home / "ita.db"), cooldown_setup=pd.Timedelta(0), **config)
    svc.replay(drain_s=5)
    svc.close()
    sig = svc.ctx.journal.signals(svc.ctx.run).sort_values("known_at")
    return svc, {r["setup_id"]: (r["decision"], r["reason"]) for r in sig.to_dict("records")}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def backtested(sample_store):
    out = {}
    for sid in SETUPS:
        ls = load_setup(sid)
        out[sid] = backtest(ls, load_period_candles(sample_store, ls, "XAUUSD", DAY, DAY), "XAUUSD", start=DAY, end=DAY)
    return out


def test_daily_loss_limit_reached_signal_journaled_not_alerted(sample_store, home, backtested):
    loss = backtested["asia_fvg_break"].trades
    assert len(loss) == 1 and loss["r"].iloc[0] == pytest.approx(-1.0)                 # the premise
    assert len(backtested["silver_bullet"].signals) == 1
    svc, dec = replay(sample_store, home, governor=GovernorRules(max_daily_loss_r=1))
    assert dec["asia_fvg_break"][0] == "alert"
    assert dec["silver_bullet"] == ("governor", "daily loss limit reached: -1.00R closed today (limit -1R): signal "
                                                "journaled, not alerted")
    # what the governor saw, step by step: the alerted order pending, then closed with the backtest's own R
    sig = backtested["asia_fvg_break"].signals.iloc[0]
    tr = loss.iloc[0]
    at_signal = day_state(svc.ctx, sig["known_at"])
    assert (at_signal.trades, at_signal.open_r, at_signal.closed_r) == (1, 1.0, 0.0)
    after = day_state(svc.ctx, tr["exit_time"] + pd.Timedelta(minutes=5))
    assert (after.trades, after.open_r) == (1, 0.0) and after.closed_r == pytest.approx(tr["r"])
    assert svc.ctx.journal.outstanding(svc.ctx.run) == 0


def test_a_paper_version_is_journaled_not_alerted_and_does_not_count(sample_store, home):
    _, dec = replay(sample_store, home, paper=("asia_fvg_break@1",), governor=GovernorRules(max_daily_loss_r=1))
    assert dec["asia_fvg_break"] == ("paper", "asia_fvg_break v1 is in paper status: signal journaled, not alerted")
    assert dec["silver_bullet"][0] == "alert"


def test_live_start_watches_the_active_and_paper_versions(home):
    from ita.promotion import live_setups
    from ita.store.promotions import PromotionStore

    assert live_setups() == ([], [])
    rows = []
    for sid, v, status in (("asia_sweep", 1, "active"), ("fvg_reversal", 2, "paper"), ("fvg_reversal", 1, "active")):
        rows.append({"setup_id": sid, "version": v, "setup_hash": load_setup(sid, v).content_hash, "from_status":
                     "candidate", "requested": status, "accepted": 1, "status": status, "gates": [], "evaluation": {}})
    rows.append({"setup_id": "ib_raid", "version": 1, "setup_hash": "0" * 64, "from_status": "paper",  # file changed since
                 "requested": "active", "accepted": 1, "status": "active", "gates": [], "evaluation": {}})
    PromotionStore().record(rows)
    assert live_setups() == (["asia_sweep@1", "fvg_reversal@1", "fvg_reversal@2"], ["fvg_reversal@2"])
