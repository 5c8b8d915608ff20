"""``ita backtest --portfolio …``, ``ita setups promote``, ``ita setups gates`` and ``ita setups list`` as a trader
runs them (typer's CliRunner on the real sample data): tables, exit status 2 on a refusal or bad input."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ita.cli import app


@pytest.fixture
def cli(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return lambda args: CliRunner().invoke(app, args, env={"COLUMNS": "200"})


def test_portfolio_backtest_prints_governed_and_ungoverned_statistics(cli):
    r = cli(["backtest", "--portfolio", "asia_fvg_break,asia_sweep", "--symbols", "EURUSD,XAUUSD", "--from",
             "2025-03-01", "--to", "2025-04-30", "--max-trades-per-day", "1", "--max-daily-loss", "2R", "--no-charts"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Portfolio asia_fvg_break v1 + asia_sweep v1 · EURUSD, XAUUSD · 2025-03-01 → 2025-04-30" in out
    assert "max daily loss 2R; max 1 trades per day" in out
    for part in ("every trade", "governed", "By setup × symbol", "Correlation of daily R", "What the governor blocked",
                 "max trades per day reached", "candidates.csv", "Run pf_"):
        assert part in out, part


@pytest.mark.parametrize("args,message", [
    (["backtest"], "Name a setup"),
    (["backtest", "asia_fvg_break", "--portfolio", "asia_sweep"], "either a SETUP or --portfolio"),
    (["backtest", "asia_fvg_break", "--max-daily-loss", "2R"], "go with --portfolio"),
    (["backtest", "--portfolio", "asia_fvg_break", "--max-daily-loss", "2X"], "max_daily_loss '2X'"),
    (["backtest", "--portfolio", "asia_fvg_brake", "--symbols", "EURUSD"], "Did you mean: asia_fvg_break"),
])
def test_bad_portfolio_input_is_one_clear_message(cli, args, message):
    r = cli(args)
    assert r.exit_code == 2 and message in r.stderr, r.output


def test_promote_candidate_to_paper_then_refused_for_active_with_exit_2(cli):
    r = cli(["setups", "promote", "asia_sweep", "v1", "--symbols", "EURUSD"])
    assert r.exit_code == 0, r.output
    assert "asia_sweep v1: candidate → paper" in r.stdout and "pf_in_sample" in r.stdout
    r = cli(["setups", "list"])
    assert "v1 paper" in r.stdout
    r = cli(["setups", "promote", "asia_sweep", "v1", "--to", "active", "--symbols", "EURUSD"])
    assert r.exit_code == 2
    assert "asia_sweep v1 stays paper: not promoted to active" in r.stdout
    assert "✗ pf_out_of_sample: not measured — run `ita research walk-forward asia_sweep" in r.stdout
    r = cli(["setups", "gates", "asia_sweep", "v1"])
    assert r.exit_code == 0 and "paper → active: refused, now paper" in r.stdout
    assert "candidate → paper: accepted, now paper" in r.stdout
    r = cli(["setups", "promote", "asia_sweep", "v1", "--to", "live"])
    assert r.exit_code == 2 and "input should be 'candidate', 'paper' or 'active'" in r.stderr


def test_gates_lists_the_file_and_the_metric_functions(cli):
    r = cli(["setups", "gates"])
    assert r.exit_code == 0, r.output
    for part in ("pf_in_sample", ">= 1.30", "walk_forward_pf", "max_drawdown_vs_portfolio", "Metric functions"):
        assert part in r.stdout, part
