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
    from typer.testing import CliRunner

    from ita.cli import common as cli
    from ita.cli import app

    monkeypatch.setattr(cli.console, "width", 250)  # a wide terminal: no folded cells
    out = CliRunner().invoke(app, ["runs", "by-version", "fvg_reversal"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "fvg_reversal v1" in out.output and "fvg_reversal v2" in out.output and "target.rr\": 1.5" in out.output


def test_cli_setups_explain(sample_store, monkeypatch):
    from typer.testing import CliRunner

    from ita.cli import common as cli
    from ita.cli import app

    monkeypatch.setattr(cli.console, "width", 250)
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    run = CliRunner().invoke(app, ["setups", "explain", "asia_sweep", "--from", "2025-03-10", "--to", "2025-03-14"],
                             env={"COLUMNS": "250"})
    assert run.exit_code == 0, run.output
    assert "signal asia_sweep-v1-EURUSD-M5-20250314T0710" in run.output
    assert "no bearish CHoCH within 12 bars after the short sweep at 04:40" in run.output
    assert "Days: sequence[0] sweep 3 · sequence[1] structure 1 · signal 1" in run.output
    bad = CliRunner().invoke(app, ["setups", "explain", "asia_sweep", "--day", "2025-03-15"])
    assert bad.exit_code == 2 and "not a trading day" in bad.output


def test_session_filter_keeps_only_signals_completed_in_the_killzone(sample_store, monkeypatch):
    from ita.errors import SetupError
    from ita.sessions import get_session

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    kw = dict(start="2025-01-01", end="2025-06-30", charts=False, html=False)
    full = run_backtest("asia_fvg_break", "EURUSD", **kw)
    lkz = run_backtest("asia_fvg_break", "EURUSD", session="london_killzone", **kw)
    inside, _ = get_session("london_killzone").mask(__import__("pandas").DatetimeIndex(full.result.signals["time"]))
    assert 0 < len(lkz.result.signals) == int(inside.sum()) < len(full.result.signals)
    assert lkz.summary["session_filter"] == "london_killzone"
    table = RunStore().by_version("asia_fvg_break")
    assert sorted(table["overrides"]) == ["", " session=london_killzone"]    # experiments apart
    with pytest.raises(SetupError, match="Did you mean: london_killzone"):
        run_backtest("asia_fvg_break", "EURUSD", session="london_killzon", **kw)
