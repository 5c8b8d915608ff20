"""The live-journal tools over a real replay: signals with feedback, outcomes from the backtest's simulator
(live equals backtest, so a replay's alerts match the backtest of the same period trade by trade when nothing
is held back), by period / setup / exit, and the loop's status from the journal."""
from __future__ import annotations

import pytest

from ita import tools


@pytest.fixture(scope="module")
def replay(sample_store, tmp_path_factory):
    import os

    from ita.live.service import LiveService

    home = tmp_path_factory.mktemp("live_tools_home")
    old = {k: os.environ.get(k) for k in ("ITA_HOME", "ITA_DATA_DIR")}
    os.environ["ITA_HOME"], os.environ["ITA_DATA_DIR"] = str(home), str(sample_store.data_dir)
    try:
        svc = LiveService.replay_service(["asia_fvg_break", "ib_raid"], ["EURUSD"], "2025-03-03", "2025-03-05",
                                         speed=None, charts=(), cooldown_setup=__import__("pandas").Timedelta(0),
                                         store=sample_store)
        svc.replay()
        svc.close()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return home, svc.ctx.run


@pytest.fixture
def env(replay, sample_store, monkeypatch):
    home, run = replay
    monkeypatch.setenv("ITA_HOME", str(home))
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return run


@pytest.mark.slow
def test_alerts_match_the_backtest_of_the_same_period_and_feedback_counts(env):
    from ita.live.journal import Journal

    run = env
    sig = tools.live_signals(run="replay", limit=50)
    assert sig.ok and sig.data["run"] == run and len(sig.data["signals"]) >= 3
    first = sig.data["signals"][0]["signal_id"]
    Journal().feedback(run, first, action="taken", channel="telegram:1", chat_id=1, user_id=1, user="T")
    again = tools.live_signals(run=run, limit=50)
    assert again.tables["signals"].rows[0][-1] == "taken"

    perf = tools.live_performance(run=run, by="setup", period="week")
    assert perf.ok, perf.error
    days_seen = sorted(Journal().signals(run)["day"])
    assert perf.data["period"] == [days_seen[0], days_seen[-1]]  # a replay: its first to its last signal day
    for row in perf.data["rows"]:  # no cool-down, no threshold: every backtest trade was alerted
        assert row["trades"] == row["backtest"]["trades"], row
        assert row["total_r"] == pytest.approx(row["backtest"]["total_r"]), row
    total = perf.data["total"]
    assert total["taken"] == 1 and total["alerts"] == len(sig.data["signals"])

    weeks = tools.live_performance(run=run, period="week")
    assert [r["period"] for r in weeks.data["rows"]] == ["2025-W10"]
    assert weeks.data["rows"][0]["total_r"] == pytest.approx(total["total_r"])
    days = tools.live_performance(run=run, period="day")
    assert sum(r["signals"] for r in days.data["rows"]) == total["signals"]
    exits = tools.live_performance(run=run, by="exit")
    assert sum(r["alerts"] for r in exits.data["rows"]) == total["alerts"]
    assert {r["exit"] for r in exits.data["rows"]} <= {"stop", "target", "time", "flat", "not filled", "open"}

    status = tools.live_status(run=run)
    assert status.ok and not status.data["running"] and sum(status.data["decisions"].values()) == total["signals"]


def test_an_unknown_or_empty_journal_is_answered_plainly(tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path))
    r = tools.live_performance(period="month")
    assert r.ok and r.summary.startswith("No signals in live for")
    assert tools.live_signals().summary == "No signals journaled for live yet."
    bad = tools.live_signals(run="replay")
    assert not bad.ok and "No replay in the journal yet" in bad.error
    assert not tools.live_performance(period="year").ok
