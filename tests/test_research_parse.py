"""The parser on research requests (issue 15, written from development-style phrasings, never held-out text):
grid values, ranges, objectives, search and trials, walk-forward windows, Monte Carlo method and paths, challenge
rules and risks, promotions, follow-ups of research runs, and the requests no tool serves (answered honestly).
Each case checks the exact arguments the research tool receives (``ita.tools.research`` reads them as given)."""
from __future__ import annotations

import pytest

from ita.agent.parse import parse, resolve
from ita.agent.parse.research import count, find_research, number_list
from ita.agent.parse.text import normalise
from ita.agent.parse.vocab import vocabulary
from ita.evals.agent.replay import next_context

SETUPS = ["asia_fvg_break", "asia_sweep", "fvg_reversal", "ib_raid", "silver_bullet"]
SYMBOLS = ["EURUSD", "XAUUSD", "GBPUSD", "GER40", "GBPJPY", "NZDUSD"]
BT = {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "start": "2025-01-01", "end": "2025-12-31", "version": None,
      "params": {}, "session": None}
AFTER_BT = next_context({}, "run_backtest", BT, 0)[0]          # what a backtest leaves in the conversation
RUN = AFTER_BT["run_id"]
YEAR = {"start": "2025-01-01", "end": "2025-12-31"}


def run(text: str, ctx: dict | None = None):
    return resolve(parse(text, SETUPS, SYMBOLS), ctx or {})


def said(r) -> dict:
    """The arguments that differ from the tool's defaults (what the request said)."""
    defaults = {"objective": "total_r", "search": "grid", "anchored": False, "n": 10_000, "method": "bootstrap",
                "rules": "ftmo_2step", "train": "6M", "test": "1M", "params": {}, "grid": {}}
    return {k: v for k, v in r.args.items() if v is not None and defaults.get(k, object()) != v}


@pytest.mark.parametrize("text,args", [
    ("optimise rr from 1.5 to 3.5 step 0.5 for asia_sweep on gold 2025",
     {"setup_id": "asia_sweep", "symbol": "XAUUSD", **YEAR, "grid": {"rr": "1.5:3.5:0.5"}}),
    ("sweep rr 1.5, 2.5 and 3.5 on fvg_reversal EURUSD ranked by sharpe",
     {"setup_id": "fvg_reversal", "symbol": "EURUSD", "grid": {"rr": "1.5,2.5,3.5"}, "objective": "sharpe"}),
    ("tune min gap 0.5,1,1.5 pips and rr 1:2, 1:3 for silver_bullet on gold",
     {"setup_id": "silver_bullet", "symbol": "XAUUSD", "grid": {"min_gap_pips": "0.5,1,1.5", "rr": "2,3"}}),
    ("optimise stop buffer between 1 and 3 in steps of 0.5 for ib_raid on dax using optuna with 25 trials",
     {"setup_id": "ib_raid", "symbol": "GER40", "grid": {"buffer_pips": "1:3:0.5"}, "search": "optuna",
      "trials": 25}),
    ("grid search rr on asia_fvg_break EURUSD for max profit factor",
     {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "grid": {"rr": None}, "objective": "profit_factor"}),
    ("which rr is optimal for silver_bullet on XAUUSD, random search 40 trials",
     {"setup_id": "silver_bullet", "symbol": "XAUUSD", "grid": {"rr": None}, "search": "random", "trials": 40}),
    ("перебери rr от 1,5 до 3 с шагом 0,5 для asia_sweep по евро по матожиданию",
     {"setup_id": "asia_sweep", "symbol": "EURUSD", "grid": {"rr": "1.5:3:0.5"}, "objective": "expectancy"}),
    ("оптимизируй буфер стопа 1, 2 и 3 для ib_raid на DAX через оптуну, 60 испытаний",
     {"setup_id": "ib_raid", "symbol": "GER40", "grid": {"buffer_pips": "1,2,3"}, "search": "optuna", "trials": 60}),
])
def test_sweeps_get_their_grid_objective_and_search(text, args):
    r = run(text)
    assert (r.action, r.tool) == ("tool", "run_sweep"), r
    assert said(r) == args


@pytest.mark.parametrize("text,args", [
    ("walk-forward asia_sweep on gold, 4 months train and 2 weeks test, anchored",
     {"setup_id": "asia_sweep", "symbol": "XAUUSD", "train": "4M", "test": "2W", "anchored": True}),
    ("walk forward silver_bullet EURUSD with train 9M test 3M optimising rr 2,3 by expectancy",
     {"setup_id": "silver_bullet", "symbol": "EURUSD", "train": "9M", "test": "3M", "grid": {"rr": "2,3"},
      "objective": "expectancy"}),
    ("ib_raid on DAX, 8M/2M windows", {"setup_id": "ib_raid", "symbol": "GER40", "train": "8M", "test": "2M"}),
    ("волк-форвард fvg_reversal по золоту, окно обучения 4 месяца, тест 2 недели, якорный",
     {"setup_id": "fvg_reversal", "symbol": "XAUUSD", "train": "4M", "test": "2W", "anchored": True}),
    ("скользящая оптимизация silver_bullet по евро с rr 2,4",
     {"setup_id": "silver_bullet", "symbol": "EURUSD", "grid": {"rr": "2,4"}}),
])
def test_walk_forwards_get_their_windows(text, args):
    r = run(text)
    assert (r.action, r.tool) == ("tool", "run_walk_forward"), r
    assert said(r) == args


@pytest.mark.parametrize("text,tool,args", [
    ("reshuffle the trades of my latest run 2500 times", "run_montecarlo", {"method": "shuffle", "n": 2500}),
    ("bootstrap asia_sweep on gold with 20k paths", "run_montecarlo",
     {"setup_id": "asia_sweep", "symbol": "XAUUSD", "n": 20_000}),
    ("перемешай сделки asia_fvg_break по евро 5000 раз", "run_montecarlo",
     {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "method": "shuffle", "n": 5000}),
    ("odds to pass ftmo classic with asia_sweep at 0.25%, 0.75% and 1.5% risk", "challenge_odds",
     {"setup_id": "asia_sweep", "rules": "ftmo_2step_classic", "risk": [0.25, 0.75, 1.5]}),
    ("chance of passing a one step challenge at 2 percent risk per trade", "challenge_odds",
     {"rules": "one_step_example", "risk": [2.0]}),
    ("шансы пройти фтмо с ib_raid при риске 0,5 и 1,5%", "challenge_odds",
     {"setup_id": "ib_raid", "risk": [0.5, 1.5]}),
    ("вероятность пройти челлендж при риске 1,5% на сделку", "challenge_odds", {"risk": [1.5]}),
    ("mark fvg_reversal v2 as a candidate", "promote_setup", {"setup_id": "fvg_reversal", "version": 2,
                                                             "to": "candidate"}),
    ("put silver_bullet v1 on paper", "promote_setup", {"setup_id": "silver_bullet", "version": 1, "to": "paper"}),
    ("сделай fvg_reversal v2 кандидатом", "promote_setup", {"setup_id": "fvg_reversal", "version": 2,
                                                            "to": "candidate"}),
])
def test_monte_carlo_challenge_and_promotion_arguments(text, tool, args):
    r = run(text)
    assert (r.action, r.tool) == ("tool", tool), r
    assert said(r) == args


def test_a_decimal_comma_stays_one_value_outside_research():
    """ "rr 2,5" in a backtest is 2.5 (Russian decimal comma); in a research request it is two values; "rr 1 to 2.5"
    is one R:R, not a range (a range needs from/between or a step)."""
    r = run("бэктест asia_fvg_break по евро с rr 2,5")
    assert r.tool == "run_backtest" and r.args["params"] == {"rr": 2.5}
    r = run("backtest asia_fvg_break on EURUSD with risk reward 1 to 2.5")
    assert r.tool == "run_backtest" and r.args["params"] == {"rr": 2.5}
    r = run("walk forward asia_fvg_break on EURUSD with rr 2,5")
    assert r.tool == "run_walk_forward" and r.args["grid"] == {"rr": "2,5"}
    r = run("backtest asia_fvg_break on EURUSD with rr 2, 3 and 4")        # several values: a sweep of them
    assert r.tool == "run_sweep" and r.args["grid"] == {"rr": "2,3,4"}


def test_follow_ups_of_research_runs():
    sweep = run("now optimise rr 1.5,2.5,3.5", AFTER_BT)
    assert sweep.tool == "run_sweep" and said(sweep) == {"setup_id": "asia_fvg_break", "symbol": "EURUSD", **YEAR,
                                                         "grid": {"rr": "1.5,2.5,3.5"}}
    ctx = next_context(AFTER_BT, "run_sweep", sweep.args, 1)[0]
    pf = run("now by profit factor", ctx)
    assert pf.tool == "run_sweep" and said(pf) == {**said(sweep), "objective": "profit_factor"}
    gold = run("same on gold", ctx)
    assert gold.tool == "run_sweep" and gold.args["symbol"] == "XAUUSD" and gold.args["grid"] == {"rr": "1.5,2.5,3.5"}
    opt = run("same sweep with optuna 30 trials", ctx)          # "sweep": the word, not the liquidity-sweep detector
    assert opt.tool == "run_sweep" and (opt.args["search"], opt.args["trials"]) == ("optuna", 30)
    # after a backtest, research words alone start the matching research run of it
    assert run("by expectancy", AFTER_BT).tool == "run_sweep"
    wf = run("now with train 3M test 2W", AFTER_BT)
    assert wf.tool == "run_walk_forward" and (wf.args["train"], wf.args["test"]) == ("3M", "2W")


def test_follow_ups_of_a_challenge_and_a_monte_carlo_keep_the_run():
    ch = run("what are my odds to pass ftmo with it at 1% risk?", AFTER_BT)
    assert ch.tool == "challenge_odds" and said(ch) == {"run_id": RUN, "risk": [1.0]}
    ctx = next_context(AFTER_BT, "challenge_odds", ch.args, 1)[0]
    assert ctx["setup_id"] == "asia_fvg_break" and ctx["symbol"] == "EURUSD"   # the run's, as the tool reports
    more = run("and at 2.5%?", ctx)
    assert more.tool == "challenge_odds" and said(more) == {"run_id": RUN, "risk": [2.5]}
    ru = run("а при 0,5%?", ctx)
    assert ru.tool == "challenge_odds" and ru.args["risk"] == [0.5]
    classic = run("what about the classic rules?", ctx)
    assert classic.tool == "challenge_odds" and classic.args["rules"] == "ftmo_2step_classic"
    # after a backtest the same words are the backtest's risk parameter, not a challenge
    bt = run("and with 2% risk?", AFTER_BT)
    assert bt.tool == "run_backtest" and bt.args["params"] == {"risk_pct": 2.0}
    mc = run("monte carlo of it", AFTER_BT)
    ctx = next_context(AFTER_BT, "run_montecarlo", mc.args, 1)[0]
    assert run("now shuffle", ctx).args["method"] == "shuffle"
    other = run("same on gold", ctx)                 # that setup on gold: its run there, not the last run
    assert other.tool == "run_montecarlo" and said(other) == {"setup_id": "asia_fvg_break", "symbol": "XAUUSD"}


@pytest.mark.parametrize("text,what", [
    ("how much money did I make this week?", "account"),
    ("show me my trading account balance", "account"),
    ("покажи мой баланс", "account"),
    ("is today a good day to trade gold?", "advice"),
    ("дай торговую идею по евро", "advice"),
    ("create me a new strategy for the london open", "edit_setup"),
    ("change the rr of asia_sweep to 2", "edit_setup"),
    ("отредактируй сетап ib_raid", "edit_setup"),
    ("export my last backtest to a spreadsheet", "export"),
])
def test_requests_no_tool_serves_are_answered_honestly(text, what):
    p = parse(text, SETUPS, SYMBOLS)
    r = resolve(p, {})
    assert p.intent == "unsupported" and p.unsupported == what, p
    assert r.action == "unknown" and r.tool is None and r.message.startswith(("I understood", "Понял"))


@pytest.mark.parametrize("text", ["short gold here", "open a short on GBPJPY", "close all of my open positions",
                                  "set the stop loss at 2315", "зашортим золото", "войди в лонг по евро"])
def test_orders_in_other_words_are_refused(text):
    p = parse(text, SETUPS, SYMBOLS)
    assert p.refused and resolve(p, {}).action == "unknown"


@pytest.mark.parametrize("text", ["short trades only for asia_sweep on EURUSD", "open setup ib_raid",
                                  "set rr to 3", "take a look at asia_sweep on gold"])
def test_trading_words_that_are_no_orders_are_not_refused(text):
    assert not parse(text, SETUPS, SYMBOLS).refused


def test_value_helpers():
    assert number_list("1.5,2, 3 and 4") == ["1.5", "2", "3", "4"]
    assert number_list("1,5; 2; 2,5") == ["1.5", "2", "2.5"]          # ";" separates: commas are decimal
    assert number_list("0,5 и 1", "ru", percent=True) == ["0.5", "1"]
    assert number_list("1,5", "ru", percent=True) == ["1.5"]
    assert count("10,000") == count("10 000") == count("10k") == 10_000 and count("fifty") == 50
    _, r, _ = find_research(normalise("3 months train 1 month test"), "en", vocabulary())
    assert (r["train"], r["test"]) == ("3M", "1M")
    _, r, _ = find_research(normalise("train 3 months, test 1 month"), "en", vocabulary())
    assert (r["train"], r["test"]) == ("3M", "1M")


@pytest.mark.parametrize("text,tool,args", [
    ("backtest asia_sweep on the kiwi for april", "run_backtest",
     {"setup_id": "asia_sweep", "symbol": "NZDUSD", "start": "2025-04-01", "end": "2025-04-30"}),
    ("бэктест рейд иб по даксу", "run_backtest", {"setup_id": "ib_raid", "symbol": "GER40"}),
    ("show fvgs on gold in the third week of june", "run_detector",
     {"detector": "fvg", "symbol": "XAUUSD", "start": "2025-06-15", "end": "2025-06-21", "timeframe": "M5"}),
    ("найди fvg по фунт-иене за последнюю неделю апреля", "run_detector",
     {"detector": "fvg", "symbol": "GBPJPY", "start": "2025-04-24", "end": "2025-04-30", "timeframe": "M5"}),
    ("find order blocks on EURUSD in ocotber", "run_detector",
     {"detector": "order_blocks", "symbol": "EURUSD", "start": "2025-10-01", "end": "2025-10-31", "timeframe": "M5"}),
    ("lsit runs", "list_runs", {"limit": 10}),
])
def test_other_phrasings(text, tool, args):
    r = run(text)
    assert (r.action, r.tool) == ("tool", tool), r
    assert said(r) == args
