"""Portfolio runs (``ita backtest --portfolio``) are first-class stored runs: listed by ``ita runs list`` and the
``list_runs`` tool, shown by ``ita runs show pf_…``, and their taken trades feed Monte Carlo and the prop-challenge
odds — the question a prop trader asks of the setups they trade together. Real sample data, SQLite and CLI."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from ita.cli import app


@pytest.fixture
def pf_run(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    from ita.backtest.governor import GovernorRules
    from ita.backtest.portfolio_run import run_portfolio

    return run_portfolio(["asia_fvg_break", "asia_sweep"], ["EURUSD", "XAUUSD"], "2025-03-01", "2025-05-31",
                         rules=GovernorRules(max_trades_per_day=1), charts=False, html=False)


def _cli(args):
    return CliRunner().invoke(app, args, env={"COLUMNS": "220"})


def test_runs_list_shows_portfolio_runs_beside_backtests(pf_run):
    from ita.tools import list_runs

    r = list_runs(limit=5)
    assert r.ok and r.data["portfolio_runs"][0]["run_id"] == pf_run.run_id
    assert r.data["portfolio_runs"][0]["trades"] == int(pf_run.result.stats["Trades"])
    out = _cli(["runs", "list"])
    assert out.exit_code == 0, out.output
    assert "Portfolio runs (under the governor)" in out.stdout and pf_run.run_id in out.stdout
    assert "asia_fvg_break@1,asia_sweep@1" in out.stdout


def test_runs_show_a_portfolio_run(pf_run):
    out = _cli(["runs", "show", pf_run.run_id])
    assert out.exit_code == 0, out.output
    assert "portfolio asia_fvg_break@1,asia_sweep@1 · EURUSD,XAUUSD" in out.stdout
    assert "Governor: max 1 trades per day" in out.stdout and "Without it:" in out.stdout
    out = _cli(["runs", "show", pf_run.run_id[:-1] + "0"])
    assert out.exit_code == 2 and "Unknown portfolio run" in out.stderr


def test_montecarlo_and_challenge_take_a_portfolio_run(pf_run):
    from ita.research.montecarlo import monte_carlo
    from ita.tools import challenge_odds, run_montecarlo

    mc = run_montecarlo(run_id=pf_run.run_id, n=500, seed=7, charts=False)
    assert mc.ok, mc.error
    taken = pf_run.result.trades
    assert mc.data["trades"] == len(taken) > 0
    ref = monte_carlo(taken["r"].to_numpy(dtype=float), n=500, method="bootstrap", seed=7)
    got = mc.data["percentiles"]["Max drawdown [R]"]["p50"]
    assert np.isclose(got, ref.percentiles.loc["Max drawdown [R]", "p50"])
    assert "portfolio asia_fvg_break@1,asia_sweep@1" in mc.summary and "max 1 trades per day" in mc.summary
    ch = challenge_odds(run_id=pf_run.run_id, rules="ftmo_2step", risk=[0.5, 1.0], n=200, seed=1, charts=False)
    assert ch.ok, ch.error
    assert f"{len(taken)} trades" in ch.summary and "portfolio asia_fvg_break@1" in ch.summary
    out = _cli(["research", "montecarlo", pf_run.run_id, "--n", "300", "--no-charts"])
    assert out.exit_code == 0 and pf_run.run_id in out.stdout, out.output


def test_show_run_tool_says_what_it_can_do_with_a_portfolio_id(pf_run):
    from ita.tools import show_run

    r = show_run(run_id=pf_run.run_id)
    assert not r.ok and "is a portfolio run" in r.error and f"ita runs show {pf_run.run_id}" in r.error


def test_chat_reads_a_portfolio_run_id():
    from ita.agent.parse import parse, resolve

    for text in ("monte carlo of pf_20261206_140102_1c2d3e", "would pf_20261206_140102_1c2d3e pass FTMO at 1% risk?"):
        r = resolve(parse(text, ["asia_fvg_break", "asia_sweep"], ["EURUSD", "XAUUSD"]), {})
        assert r.action == "tool" and r.tool in ("run_montecarlo", "challenge_odds"), r
        assert r.args["run_id"] == "pf_20261206_140102_1c2d3e", r.args


def test_the_chat_lists_portfolio_runs_too(pf_run):
    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig

    for text, title in (("list my runs", "Portfolio runs (under the governor)"),
                        ("покажи мои прогоны", "Портфельные прогоны (с ограничителем риска)")):
        turn = ChatSession(f"t-{title[:4]}", AgentConfig.from_env(use_llm=False)).ask(text)
        assert title in turn.answer and pf_run.run_id in turn.answer, turn.answer
