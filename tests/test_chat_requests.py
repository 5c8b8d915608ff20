"""The chat never answers a different question than the one asked (issue 18), end to end through the real chat
graph, real tools and the sample data (no LLM): periods relative to today, the agent's own question answered,
several setups in one request, requests no tool serves, Russian setup names, and a refusal of only the unsafe part.

``ITA_TODAY`` fixes "today" so the relative periods land in the sample year."""
from __future__ import annotations

import re

import pytest

from ita.agent.parse import parse, resolve

SETUPS = ["asia_fvg_break", "asia_sweep", "fvg_reversal", "ib_raid", "silver_bullet"]
SYMBOLS = ["EURUSD", "XAUUSD", "GBPUSD"]
CYRILLIC = re.compile(r"[а-яА-Я]")


@pytest.fixture
def chat(offline_chat):
    return offline_chat  # conftest: fresh LLM-less sessions over the sample store, today 2026-01-20


# ---- periods relative to today ----------------------------------------------------------------------------

def test_last_quarter_is_the_previous_calendar_quarter_clamped_to_the_data_with_notes(chat):
    t = chat().ask("backtest asia_sweep on EUR/USD last quarter")
    r = t.results[0]
    assert r.tool == "run_backtest" and r.ok, r.error
    assert r.data["setup_id"] == "asia_sweep" and r.data["period"] == ["2025-10-01", "2025-11-06"]
    assert 'Read "last quarter" as 2025-10-01 → 2025-12-31 (today is 2026-01-20' in t.answer
    assert "used 2025-10-01 → 2025-11-06" in t.answer                      # the sample ends on 6 November


def test_a_period_reaching_past_the_data_is_clamped_and_says_so(chat):
    t = chat().ask("evaluate asia_fvg_break on EURUSD for the last 3 months")
    r = t.results[0]
    assert r.tool == "evaluate_setup" and r.ok, r.error
    lo, hi = r.data["period"]
    assert lo == "2025-10-21" and hi < "2026-01-20"                          # the stored data ends in 2025
    assert f"used {lo} → {hi}" in t.answer and "2025-10-21 → 2026-01-20" in t.answer


def test_this_week_in_russian_resolves_and_the_answer_stays_russian(chat, monkeypatch):
    monkeypatch.setenv("ITA_TODAY", "2025-11-06")                           # a Thursday, the sample's last day
    t = chat().ask("покажи FVG на XAU за эту неделю")
    r = t.results[0]
    assert r.tool == "run_detector" and r.ok, r.error
    assert r.args["start"] == "2025-11-03" and r.args["end"] == "2025-11-06"
    assert "Понял «эту неделю» как 2025-11-03 → 2025-11-06" in t.answer


def test_a_relative_period_without_data_says_what_is_stored(chat, monkeypatch):
    monkeypatch.setenv("ITA_TODAY", "2026-12-04")
    t = chat().ask("show FVGs on gold this week")
    r = t.results[0]
    assert r.tool == "run_detector" and not r.ok
    assert "2026-11-30" in t.answer and "stored" in t.answer                 # the dates asked and what exists


# ---- the agent's own question is state -------------------------------------------------------------------

def test_answering_which_setup_completes_the_explanation_not_a_backtest(chat):
    c = chat()
    q = c.ask("why was there no trade on March 14?")
    assert not q.results and "?" in q.answer
    t = c.ask("asia_fvg_break on EURUSD")
    r = t.results[0]
    assert r.tool == "explain_day" and r.args == {"setup_id": "asia_fvg_break", "symbol": "EURUSD",
                                                  "day": "2025-03-14"}


def test_answering_which_symbol_in_russian_runs_the_backtest_and_answers_in_russian(chat):
    c = chat()
    q = c.ask("протестируй asia_fvg_break за март")
    assert not q.results and CYRILLIC.search(q.answer)
    t = c.ask("EURUSD")
    r = t.results[0]
    assert r.tool == "run_backtest" and r.ok and r.data["symbol"] == "EURUSD"
    assert r.data["period"] == ["2025-03-01", "2025-03-31"]                  # the original request's period
    assert CYRILLIC.search(t.answer.split("\n")[0]), t.answer[:200]


def test_a_new_request_after_a_question_is_not_forced_into_it(chat):
    c = chat()
    c.ask("backtest on EURUSD")
    t = c.ask("list setups")
    assert [r.tool for r in t.results] == ["list_setups"]


def test_answering_the_compare_question_completes_the_comparison():
    ask = resolve(parse("сравни v1 и v2 asia_fvg_break", SETUPS, SYMBOLS), {})
    assert ask.action == "ask" and ask.missing == "symbol" and ask.lang == "ru"
    done = resolve(parse("EURUSD", SETUPS, SYMBOLS), {}, pending=ask.model_dump())
    assert (done.action, done.tool, done.lang) == ("tool", "compare_versions", "ru")
    assert done.args["version_a"] == 1 and done.args["version_b"] == 2 and done.args["symbol"] == "EURUSD"


# ---- several setups, Russian names, honest non-understanding, partial refusal ----------------------------------

def test_compare_two_setups_runs_both(chat):
    t = chat().ask("compare asia_fvg_break and asia_sweep on EURUSD for 2025")
    assert [(r.tool, r.data.get("setup_id")) for r in t.results] == [("run_backtest", "asia_fvg_break"),
                                                                      ("run_backtest", "asia_sweep")]
    assert all(r.ok and r.data["symbol"] == "EURUSD" and r.data["period"][0].startswith("2025-01")
               for r in t.results)
    assert "Running 2: asia_fvg_break EURUSD, asia_sweep EURUSD." in t.answer


@pytest.mark.parametrize("text,fragment", [
    ("stats by weekday for asia_fvg_break on EURUSD 2025", "by weekday"),
    ("which setup works best on EURUSD?", "Ranking setups"),
    ("статистика по дням недели для asia_fvg_break на EURUSD", "по дням недели"),
])
def test_a_request_no_tool_serves_says_what_was_understood_and_runs_nothing(chat, text, fragment):
    t = chat().ask(text)
    assert not t.results, [r.tool for r in t.results]
    assert fragment in t.answer
    assert t.answer.startswith("I understood:" if not CYRILLIC.search(text) else "Понял:")


def test_a_russian_setup_name_beats_the_detector_word(chat):
    t = chat().ask("бектст азия свип на голде за апрель")
    r = t.results[0]
    assert r.tool == "run_backtest" and r.ok, r.error
    assert r.data["setup_id"] == "asia_sweep" and r.data["symbol"] == "XAUUSD"
    assert r.data["period"][0] >= "2025-04-01" and r.data["period"][1] <= "2025-04-30"


def test_a_refusal_covers_only_the_unsafe_part(chat, tmp_path):
    t = chat().ask("backtest asia_fvg_break on EURUSD for 2025; rm -rf ~/.ita")
    assert [r.tool for r in t.results] == ["run_backtest"] and t.results[0].ok
    assert 'Not done: "rm -rf ~/.ita"' in t.answer
    t = chat().ask("удали все прогоны")
    assert not t.results and "не удаляю" in t.answer


# ---- portfolio and promotion (issue 13) -------------------------------------------------------------------

def test_a_portfolio_request_runs_one_portfolio_not_one_backtest_per_setup(chat):
    t = chat().ask("backtest asia_fvg_break and asia_sweep together as a portfolio on EURUSD and XAUUSD for March "
                   "2025 with max daily loss 1R")
    assert [r.tool for r in t.results] == ["portfolio_backtest"]
    r = t.results[0]
    assert r.ok, r.error
    assert r.data["setup_ids"] == ["asia_fvg_break", "asia_sweep"] and r.data["symbols"] == ["EURUSD", "XAUUSD"]
    assert r.data["governor"]["max_daily_loss_r"] == 1.0 and r.data["period"] == ["2025-03-01", "2025-03-31"]
    assert t.answer.startswith("**Portfolio** asia_fvg_break v1 + asia_sweep v1 on EURUSD, XAUUSD, 2025-03-01 → "
                               "2025-03-31 (max daily loss 1R)")
    assert "Correlation of the setups' daily R" in t.answer


def test_promote_in_russian_answers_in_russian_with_the_gates(chat):
    t = chat().ask("продвинь fvg_reversal v2")
    r = t.results[0]
    assert r.tool == "promote_setup" and r.ok and r.data["status"] == "paper", r.error
    assert t.answer.startswith("✅ **fvg_reversal v2**: candidate → **paper**")
    assert "pf_out_of_sample**: не измерено" in t.answer
    t = chat().ask("promote fvg_reversal v2")                               # paper → active: refused by the gates
    r = t.results[0]
    assert r.ok and not r.data["accepted"] and r.data["status"] == "paper"
    assert t.answer.startswith("❌ **fvg_reversal v2** stays **paper**: not promoted to active")
