"""Statistics grouped by setup version across stored runs (real SQLite, real runs on the sample)."""
from __future__ import annotations

import pytest

from ita.backtest.runner import run_backtest
from ita.store import RunStore


def test_by_version_groups_versions_counts_reruns_once_and_keeps_experiments_apart(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    kw = dict(start="2025-03-01", end="2025-04-30", charts=False, html=False)
    v1 = run_backtest("fvg_reversal", "EURUSD", version=1, **kw)
    run_backtest("fvg_reversal", "EURUSD", version=1, **kw)              # an identical rerun
    v2 = run_backtest("fvg_reversal", "EURUSD", version=2, **kw)
    exp = run_backtest("fvg_reversal", "EURUSD", version=2, params={"rr": 1.5}, **kw)
    run_backtest("asia_fvg_break", "EURUSD", **kw)
    table = RunStore().by_version("fvg_reversal")
    assert list(table["setup_version"]) == [1, 2, 2]
    assert list(table["runs"]) == [1, 1, 1]
    plain = table[table["overrides"] == ""].set_index("setup_version")
    for v, run in ((1, v1), (2, v2)):
        r = run.trades["r"]
        assert plain.loc[v, "Trades"] == len(r) > 0
        assert plain.loc[v, "Total R"] == pytest.approx(r.sum())
        assert plain.loc[v, "Win Rate [%]"] == pytest.approx(100 * (r > 0).mean())
        assert plain.loc[v, "setup_hash"] == run.summary["setup_hash"]
    x = table[table["overrides"] != ""].iloc[0]
    assert "1.5" in x["overrides"] and x["Total R"] == pytest.approx(exp.trades["r"].sum())
    assert set(RunStore().by_version()["setup_id"]) == {"fvg_reversal", "asia_fvg_break"}
    assert RunStore().by_version("no_such_setup").empty
