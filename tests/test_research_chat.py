"""Research requests in the chat (issue 13 item 9), English and Russian, through the real chat graph, the real
tools and the sample data (no LLM): optimise → run_sweep, walk-forward → run_walk_forward, monte carlo of my
last run → run_montecarlo, would SETUP pass an FTMO challenge → challenge_odds."""
from __future__ import annotations

import pytest

from ita.agent.parse import parse, resolve

SETUPS = ["asia_fvg_break", "asia_sweep", "fvg_reversal", "ib_raid", "silver_bullet"]
SYMBOLS = ["EURUSD", "XAUUSD", "GBPUSD"]


@pytest.fixture
def chat(offline_chat):
    return offline_chat  # conftest: fresh LLM-less sessions over the sample store, today 2026-01-20


@pytest.mark.parametrize("text,tool,args", [
    ("optimise rr for asia_fvg_break on EURUSD 2025", "run_sweep",
     {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "grid": {"rr": None}, "start": "2025-01-01"}),
    ("оптимизируй rr и минимальный гэп для asia_fvg_break на евро", "run_sweep",
     {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "grid": {"rr": None, "min_gap_pips": None}}),
    ("walk-forward silver_bullet on XAUUSD", "run_walk_forward",
     {"setup_id": "silver_bullet", "symbol": "XAUUSD", "train": "6M", "test": "1M"}),
    ("волк-форвард silver_bullet по золоту", "run_walk_forward", {"setup_id": "silver_bullet", "symbol": "XAUUSD"}),
    ("monte carlo of my last run", "run_montecarlo", {"run_id": "bt_ctx", "setup_id": None}),
    ("монте-карло последнего прогона", "run_montecarlo", {"run_id": "bt_ctx"}),
    ("would asia_sweep pass an FTMO challenge at 1 % risk?", "challenge_odds",
     {"setup_id": "asia_sweep", "run_id": None, "rules": "ftmo_2step", "risk": [1.0], "symbol": "EURUSD"}),
    ("пройдёт ли asia_sweep челлендж FTMO при риске 1%?", "challenge_odds",
     {"setup_id": "asia_sweep", "rules": "ftmo_2step", "risk": [1.0]}),
])
def test_research_requests_route_to_their_tools(text, tool, args):
    r = resolve(parse(text, SETUPS, SYMBOLS), {"run_id": "bt_ctx", "symbol": "EURUSD", "setup_id": "ib_raid"})
    assert (r.action, r.tool) == ("tool", tool), r
    for k, v in args.items():
        assert r.args[k] == v, (k, r.args)
    assert r.lang == ("ru" if any("а" <= c <= "я" for c in text.lower()) else "en")


def test_optimise_without_a_symbol_asks_for_it():
    r = resolve(parse("optimise rr for asia_sweep", SETUPS, SYMBOLS), {})
    assert r.action == "ask" and r.tool == "run_sweep" and r.missing == "symbol"


def test_chat_runs_a_sweep_and_says_how_likely_it_is_curve_fitted(chat):
    t = chat().ask("optimise rr for asia_fvg_break on EURUSD for 2025")
    r = t.results[0]
    assert r.tool == "run_sweep" and r.ok, r.error
    assert r.data["grid"] == {"target.rr": [1.0, 1.5, 2.0, 2.5, 3.0, 4.0]}
    assert "**Sweep**" in t.answer and "chance of being below the median out of sample" in t.answer
    ru = chat().ask("оптимизируй rr для asia_fvg_break на EURUSD за 2025")
    assert ru.results[0].ok and "**Перебор**" in ru.answer and "ниже медианы вне выборки" in ru.answer


def test_chat_monte_carlo_and_challenge_of_the_last_run(chat):
    s = chat()
    bt = s.ask("backtest asia_fvg_break on EURUSD for 2025")
    run_id = bt.results[0].data["run_id"]
    mc = s.ask("monte carlo of my last run")
    assert mc.results[0].tool == "run_montecarlo" and mc.results[0].data["run_id"] == run_id
    assert "**Monte Carlo**" in mc.answer
    ch = s.ask("would it pass an FTMO challenge?")
    assert ch.results[0].tool == "challenge_odds" and ch.results[0].data["run_id"] == run_id
    assert "confirm them with the firm" in ch.answer
    other = chat().ask("пройдёт ли asia_sweep челлендж FTMO при риске 1% на EURUSD?")
    r = other.results[0]
    assert r.ok and r.tool == "challenge_odds" and list(r.data["odds"]) == ["1.0"], r.error
    assert "Челлендж" in other.answer and "уточните" in other.answer


def test_chat_sweeps_the_values_and_objective_it_was_given(chat):
    """Grid values, the objective and "rr" of a level-target setup (asia_sweep: target.min_rr) reach the real
    sweep through the chat graph; a follow-up changes only the objective."""
    s = chat()
    t = s.ask("optimise rr 2, 3 for asia_sweep on EURUSD from 2025-01-01 to 2025-02-28 by profit factor")
    r = t.results[0]
    assert r.tool == "run_sweep" and r.ok, r.error
    assert r.data["grid"] == {"target.min_rr": [2, 3]} and r.data["objective"] == "profit_factor"
    again = s.ask("now by expectancy").results[0]
    assert again.tool == "run_sweep" and again.ok, again.error
    assert again.data["objective"] == "expectancy" and again.data["grid"] == {"target.min_rr": [2, 3]}
    assert again.data["period"] == ["2025-01-01", "2025-02-28"]
