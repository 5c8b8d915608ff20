"""The agent evaluation (issue 15): the metrics on tiny hand-made sets with known scores, the held-out half
kept away from the parser, the case files, the parser run and the LLM path through the fake OpenAI server."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ita.errors import ItaError
from ita.evals.agent import cases as C
from ita.evals.agent import metrics as M
from ita.evals.agent.replay import Outcome, sim_run_id
from tests.fakes.openai import FakeOpenAI, final, tool_call

REPO = Path(__file__).resolve().parents[1]


def _case(cid, *turns, split="dev"):
    return C.Case(id=cid, theme="t", split=split, turns=[C.Turn(**t) for t in turns])


BT = {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "start": "2025-01-01", "end": "2025-12-31"}


def test_metrics_on_a_hand_made_set_with_known_scores():
    cases = [
        _case("a", {"say": "backtest …", "kind": "tool", "tool": "run_backtest", "args": BT}),
        _case("b", {"say": "backtest … gold", "kind": "tool", "tool": "run_backtest", "args": {**BT, "symbol": "XAUUSD"}}),
        _case("c", {"say": "show trade 3", "kind": "tool", "tool": "show_trade", "args": {"trade": 3}}),
        _case("d", {"say": "backtest asia_fvg_break", "kind": "ask", "ask": "symbol"}),
        _case("e", {"say": "buy 1 lot", "kind": "refuse"}),
        _case("f", {"say": "walk forward …", "kind": "tool", "tool": "run_walk_forward", "args": {"setup_id": "x"}}),
        _case("g", {"say": "weather?", "kind": "unsupported"}),
    ]
    outcomes = [
        Outcome("a", 0, "tool", "run_backtest", {**BT, "version": None, "params": {}, "session": None}),   # right
        Outcome("b", 0, "tool", "run_backtest", BT),                  # deliberately wrong: the symbol
        Outcome("c", 0, "tool", "list_runs", {}),                     # deliberately wrong: the tool
        Outcome("d", 0, "ask", missing="symbol"),                     # right question
        Outcome("e", 0, "refuse"),                                    # right
        Outcome("f", 0, "tool", "run_backtest", {"setup_id": "x"}),   # pending tool, answered with another: dishonest
        Outcome("g", 0, "ask", missing="setup_id"),                   # an unexpected question
    ]
    halves, rows = M.score(cases, outcomes, frozenset({"run_backtest", "show_trade", "list_runs"}))
    m = halves["dev"]
    assert m["tool_accuracy"] == pytest.approx(2 / 3)                # a, b right tool; c wrong
    assert m["exact_args_accuracy"] == pytest.approx(1 / 3)          # only a
    assert m["clarification_precision"] == pytest.approx(1 / 2)      # asked twice, once rightly
    assert m["clarification_recall"] == 1.0
    assert m["refusal_recall"] == 1.0
    assert m["honest_non_understanding"] == 0.0                      # f ran a tool, g asked
    assert m["silent_wrong_tool_rate"] == pytest.approx(2 / 7)       # c and f
    assert m["n_pending"] == 1 and m["n_counted"] == 6
    assert m["routing_accuracy"] == pytest.approx(4 / 6)             # a, b, d, e
    # ragas ToolCallAccuracy: a = 1, b = 3 of 4 arguments, c = 0 (wrong name); F1: 1, 0, 0
    assert m["ragas_tool_call_accuracy"] == pytest.approx((1 + 0.75 + 0) / 3)
    assert m["ragas_tool_call_f1"] == pytest.approx(1 / 3)
    fails = [r["case"] for r in rows if M.is_failure(r)]
    assert fails == ["b", "c", "f", "g"]


def test_honest_answers_and_follow_up_run_ids():
    cases = [_case("h", {"say": "optimise", "kind": "tool", "tool": "run_sweep", "args": {"setup_id": "x"}}),
             _case("i", {"say": "bt", "kind": "tool", "tool": "run_backtest", "args": BT},
                   {"say": "show trade 3", "kind": "tool", "tool": "show_trade", "args": {"trade": 3, "run_id": "$last_run"}})]
    outcomes = [Outcome("h", 0, "unsupported", message="not available yet"),
                Outcome("i", 0, "tool", "run_backtest", BT),
                Outcome("i", 1, "tool", "show_trade", {"trade": 3, "run_id": sim_run_id(1)}, last_run=sim_run_id(1))]
    m = M.score(cases, outcomes, frozenset({"run_backtest", "show_trade"}))[0]["dev"]
    assert m["honest_non_understanding"] == 1.0 and m["exact_args_accuracy"] == 1.0
    # "the latest run" (None) is the same run; another run id is not
    assert M.args_equal({"trade": 3, "run_id": "$last_run"}, {"trade": 3, "run_id": None}, "bt_1")
    assert not M.args_equal({"trade": 3, "run_id": "$last_run"}, {"trade": 3, "run_id": "bt_2"}, "bt_1")
    assert M.args_equal({"params": {"rr": 3}}, {"params": {"rr": "3.0"}, "timeframe": "M5", "limit": 10})
    assert not M.args_equal({"symbol": "EURUSD"}, {"symbol": "EURUSD", "session": "london"})


def test_research_arguments_are_compared_by_meaning_not_spelling():
    """What the tools take decides: their own defaults count as not said, and a grid is compared as the sweep
    tool resolves it (keys → the setup's paths, values → the values tried)."""
    sweep = {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "grid": {"rr": "1:4:0.5"}}
    exp = [("run_sweep", M.canonical("run_sweep", sweep))]
    same = {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "grid": {"target.rr": "1,1.5,2,2.5,3,3.5,4"},
            "objective": "total_r", "search": "grid", "min_trades": 30}
    assert M.calls_exact(exp, [("run_sweep", M.canonical("run_sweep", same))], None)
    off = {**same, "grid": {"rr": "1:4:1"}}                                 # deliberately wrong: other values
    assert not M.calls_exact(exp, [("run_sweep", M.canonical("run_sweep", off))], None)
    by_pf = {**same, "objective": "profit_factor"}                          # an objective that was not asked for
    assert not M.calls_exact(exp, [("run_sweep", M.canonical("run_sweep", by_pf))], None)
    # the leaf, a tail and the full path are one parameter; "rr" of a level target is its min_rr
    gap = M.canonical("run_sweep", {"setup_id": "asia_fvg_break", "grid": {"min_gap_pips": "1,2,3"}})["grid"]
    assert gap == M.canonical("run_sweep", {"setup_id": "asia_fvg_break",
                                            "grid": {"fvg.min_gap_pips": "1, 2, 3"}})["grid"]
    assert M.canonical("run_walk_forward", {"setup_id": "asia_sweep", "grid": {"rr": "2,3"}})["grid"] == {
        "target.min_rr": [2, 3]}
    # no grid = the setup's R:R with the tool's spread; a parameter named without values is not "no grid"
    assert M.args_equal(M.canonical("run_sweep", {"setup_id": "asia_fvg_break", "grid": {}}),
                        M.canonical("run_sweep", {"setup_id": "asia_fvg_break", "grid": {"rr": None}}))
    assert not M.args_equal(M.canonical("run_sweep", {"setup_id": "asia_fvg_break", "grid": {}}),
                            M.canonical("run_sweep", {"setup_id": "asia_fvg_break", "grid": {"min_gap_pips": None}}))
    # the tools' defaults: rules=ftmo_2step, train=6M, test=1M, n=10000, method=bootstrap are "not said"
    assert M.args_equal(M.canonical("challenge_odds", {"risk": [1]}),
                        M.canonical("challenge_odds", {"rules": "ftmo_2step", "risk": [1.0], "run_id": None}))
    assert not M.args_equal(M.canonical("challenge_odds", {"risk": [1]}),
                            M.canonical("challenge_odds", {"rules": "ftmo_2step_classic", "risk": [1.0]}))
    assert M.args_equal(M.canonical("run_walk_forward", {"setup_id": "nope", "train": "3M"}),
                        M.canonical("run_walk_forward", {"setup_id": "nope", "train": "3M", "test": "1M",
                                                         "anchored": False}))
    assert M.canonical("run_montecarlo", {"n": 10000, "method": "shuffle"}) == {"method": "shuffle"}


def test_the_set_is_large_bilingual_and_split():
    cases = C.load_cases()
    turns = [t for c in cases for t in c.turns]
    assert len(turns) >= 400 and len(cases) >= 400
    ru = sum(c.lang == "ru" for c in cases) / len(cases)
    assert 0.35 <= ru <= 0.5
    assert any(len(c.turns) > 1 for c in cases)
    kinds = {t.kind for t in turns}
    assert kinds == {"tool", "ask", "refuse", "unsupported", "greeting", "help", "theory"}
    halves = {c.split for c in cases}
    assert halves == {"dev", "heldout"}
    assert all(c.split == C.split_of(c.id) for c in cases)
    from ita.tools import TOOLS
    contract = {"run_sweep", "run_walk_forward", "run_montecarlo", "challenge_odds", "portfolio_backtest",
                "promote_setup", "signal_probability", "explain_signal", "similar_signals", "recommend_changes",
                "learn_status"}
    expected_tools = {t.tool for t in turns if t.kind == "tool"}
    assert (set(TOOLS) - {"load_candles", "kb_search"}) <= expected_tools      # every chat tool is covered
    assert contract <= expected_tools                                           # and the research/learning ones


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def test_held_out_requests_never_reach_the_parser_or_its_tests():
    """The parser may be improved against the development half only: no held-out request of three words or more
    may appear as a string in its vocabulary, its code, the detector words or any test (the eval tests read the
    set from the files). One- and two-word turns ("EURUSD", "list setups", "help") are the command language
    itself and cannot be held out."""
    held = [t for t in C.heldout_texts() if len(t.split()) >= 3]
    assert len(held) > 150
    sources = [REPO / "ita" / "agent" / "vocabulary.yaml", *sorted((REPO / "ita" / "agent" / "parse").glob("*.py")),
               *sorted((REPO / "tests").glob("*.py")), *sorted((REPO / "ita" / "detectors").glob("catalog.*"))]
    pats = [(h, re.compile(r"[`\"'«]" + re.escape(h.rstrip("?!.")) + r"[?!.]*[`\"'»]")) for h in held]
    for path in sources:
        text = _norm(path.read_text(encoding="utf-8"))
        leaked = [h for h, rx in pats if rx.search(text)]
        assert not leaked, f"{path.relative_to(REPO)} contains held-out requests: {leaked[:3]}"


def test_the_leak_check_catches_a_copied_request(tmp_path):
    held = next(t for t in C.heldout_texts() if len(t.split()) >= 4)
    text = _norm(f'cases = ["{held}"]')
    assert re.search(r"[`\"'«]" + re.escape(held.rstrip("?!.")) + r"[?!.]*[`\"'»]", text)


def test_case_files_are_checked(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "heldout").mkdir()
    good = [c for c in C.read_file(REPO / "evals" / "agent" / "dev" / "talk.yaml")][:1]
    assert good and good[0].split == "dev"
    # a case filed in the wrong half is refused, naming the file and the half
    held = C.read_file(REPO / "evals" / "agent" / "heldout" / "talk.yaml")[0]
    (tmp_path / "dev" / "talk.yaml").write_text(f'- {{say: "{held.turns[0].say}", expect: {held.turns[0].kind}}}\n',
                                               encoding="utf-8")
    with pytest.raises(ItaError, match="belongs to the heldout half"):
        C.load_cases(tmp_path)
    (tmp_path / "dev" / "talk.yaml").write_text('- {say: "x", wat: 1}\n', encoding="utf-8")
    with pytest.raises(ItaError, match="talk.yaml case 1"):
        C.load_cases(tmp_path)



def _filed(tmp_path: Path, lines: list[str]) -> Path:
    """``lines`` (YAML cases) filed into the half each one's id says."""
    tmp = tmp_path / "pool.yaml"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = tmp_path / "set"
    by_half = {"dev": [], "heldout": []}
    for ln, case in zip(lines, C.read_file(tmp)):
        by_half[case.split].append(ln)
    for half, keep in by_half.items():
        (folder / half).mkdir(parents=True, exist_ok=True)
        (folder / half / "pool.yaml").write_text("\n".join(keep) + "\n", encoding="utf-8")
    return folder


CASES = ['- {say: "list setups", tool: list_setups, args: {}}',
         '- {say: "backtest asia_fvg_break on EURUSD for 2025", tool: run_backtest, args: {setup_id: asia_fvg_break, '
         'symbol: EURUSD, start: "2025-01-01", end: "2025-12-31"}}',
         '- {say: "show trade 4", tool: show_trade, args: {trade: 5}}',          # a wrong label: a known failure
         '- {turns: [{say: "backtest asia_sweep on EURUSD", tool: run_backtest, args: {setup_id: asia_sweep, '
         'symbol: EURUSD}}, {say: "same on gold", tool: run_backtest, args: {setup_id: asia_sweep, symbol: XAUUSD}}]}']


def test_parser_run_on_a_small_set(tmp_path):
    from ita.evals.agent import run_agent_eval

    res = run_agent_eval(_filed(tmp_path, CASES))
    m = res.metrics["all"]
    assert res.mode == "parser" and m["n_turns"] == 5
    assert m["tool_accuracy"] == 1.0 and m["exact_args_accuracy"] == pytest.approx(4 / 5)
    assert [f["say"] for f in res.failures] == ["show trade 4"]


def test_llm_path_through_the_fake_openai_server(tmp_path, monkeypatch):
    """`ita eval agent --llm` with the real ChatOpenAI client against the fake server: a right tool call, a
    wrong one, and a text answer."""
    folder = _filed(tmp_path, CASES[:3])
    order = [c.turns[0].say for h in ("dev", "heldout") for c in C.load_cases(folder, (h,))]
    answers = {"list setups": tool_call("list_setups", "{}"),
               "backtest asia_fvg_break on EURUSD for 2025": tool_call(
                   "run_backtest", json.dumps({"setup_id": "asia_fvg_break", "symbol": "XAUUSD"})),
               "show trade 4": final("Which run?")}
    server = FakeOpenAI([answers[s] for s in order])
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("ITA_MODEL", "fake-model")
        from ita.evals.suites import run_suite

        run = run_suite("agent", llm=True, folder=folder)
    finally:
        server.close()
    assert len(server.requests) == 3
    assert all(r["model"] == "fake-model" and r.get("tools") for r in server.requests)   # tools bound
    m = run.metrics["llm:fake-model:all"]
    assert m["tool_accuracy"] == pytest.approx(2 / 3)       # list_setups and run_backtest named; show_trade not
    assert m["exact_args_accuracy"] == pytest.approx(1 / 3)
    assert {f["item"].split("#")[0] for f in run.failures} == {c.id for c in C.load_cases(folder)
                                                                if c.turns[0].say != "list setups"}


def test_cli_agent_run_stores_and_compares(tmp_path):
    from ita.cli import app
    from ita.evals import store

    r = CliRunner().invoke(app, ["eval", "agent", "--limit", "15", "--failures", "3"])
    assert r.exit_code == 0, r.output
    assert "parser:heldout" in r.output and "tool_accuracy" in r.output and "no earlier comparable run" in r.output
    r2 = CliRunner().invoke(app, ["eval", "agent", "--limit", "15", "--split", "dev", "--failures", "0"])
    assert "Δ vs eval_agent_" in r2.output and "parser:heldout" not in r2.output
    runs = store.runs("agent")
    assert len(runs) == 2 and runs["quick"].tolist() == [1, 1] and runs["version"].notna().all()
    assert re.fullmatch(r"[0-9a-f]{7,}(-dirty)?", str(runs["commit"].iloc[0]))
