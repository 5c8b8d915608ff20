"""Evaluation runs (issue 15): stored with date, commit and version and compared with the previous run;
thresholds; the kb out-of-library refusals; the backtest suite's trade comparison and statistics cross-check;
the detector suite; the HTML report in headless Chromium (screenshot kept)."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ita.errors import ItaError
from ita.evals import store as st
from ita.evals.thresholds import check, load_thresholds


def _run(suite, metrics, when, quick=False, failures=()):
    return st.SuiteRun.new(suite, metrics, created_at=when, quick=quick, failures=list(failures), commit="abc1234",
                           version="0.1.0")


def test_runs_are_stored_with_commit_and_version_and_compared():
    a = _run("agent", {"parser:heldout": {"tool_accuracy": 0.96, "silent_wrong_tool_rate": 0.01, "n_turns": 200}},
             "2026-01-01T00:00:00+00:00")
    st.store_run(a)
    q = _run("agent", {"parser:heldout": {"tool_accuracy": 0.10}}, "2026-01-02T00:00:00+00:00", quick=True)
    st.store_run(q)
    b = _run("agent", {"parser:heldout": {"tool_accuracy": 0.94, "silent_wrong_tool_rate": 0.03, "n_turns": 210}},
             "2026-01-03T00:00:00+00:00", failures=[{"mode": "parser:heldout", "item": "x#1", "what": "hi"}])
    prev_id, prev = st.previous_metrics(b)
    assert prev_id == a.run_id                      # the quick run is not compared with a full one
    cmp_ = st.compare(b, prev).set_index("metric")
    assert cmp_.loc["tool_accuracy", "regression"] and cmp_.loc["tool_accuracy", "delta"] == pytest.approx(-0.02)
    assert cmp_.loc["silent_wrong_tool_rate", "regression"]          # lower is better: up is worse
    assert not cmp_.loc["n_turns", "regression"] and not cmp_.loc["n_turns", "improved"]   # a count: neutral
    st.store_run(b)
    h = st.history("agent")
    assert set(h["run_id"]) == {a.run_id, q.run_id, b.run_id}
    assert (h["commit"] == "abc1234").all() and (h["version"] == "0.1.0").all()
    runs = st.runs("agent")
    assert runs["failures"].iloc[-1][0]["item"] == "x#1" and runs["quick"].tolist() == [0, 1, 0]
    # the first run of a kind has nothing to compare with
    assert st.previous_metrics(a) == (None, {})


def test_thresholds(tmp_path):
    run = _run("agent", {"parser:heldout": {"tool_accuracy": 0.94, "silent_wrong_tool_rate": 0.01}}, "2026-01-01T00:00:00+00:00")
    rules = {"agent": {"parser:heldout": {"tool_accuracy": ">= 0.95", "silent_wrong_tool_rate": "<= 0.02",
                                          "exact_args_accuracy": ">= 0.9"}, "parser:dev": {"tool_accuracy": ">= 0.99"}}}
    bad = check(run, rules)
    assert [(v.metric, v.value) for v in bad] == [("tool_accuracy", 0.94), ("exact_args_accuracy", None)]
    assert "must be >= 0.95" in str(bad[0]) and "missing" in str(bad[1])
    real = load_thresholds()                        # the shipped file is valid and names every suite
    assert {"agent", "kb", "backtest", "detectors"} <= set(real)
    assert real["agent"]["parser:heldout"]["tool_accuracy"] == ">= 0.95"
    p = tmp_path / "t.yaml"
    p.write_text("agent:\n  x:\n    tool_accuracy: 'about 0.9'\n", encoding="utf-8")
    with pytest.raises(ItaError, match=r"agent\.x\.tool_accuracy"):
        load_thresholds(p)


def test_out_of_library_refusals_with_a_leave_one_out_cutoff():
    from ita.evals.kb.metrics import aggregate, loo_refusals, refusal_cutoff

    # best-passage scores: answerable high, unanswerable low, one unanswerable scoring like an answerable one
    df = pd.DataFrame({"top1_score": [0.9, 0.8, 0.85, 0.7, 0.2, 0.1, float("nan"), 0.88],
                       "in_library": [True, True, True, True, False, False, False, False]})
    c = refusal_cutoff(df["top1_score"].tolist(), (~df["in_library"]).tolist())
    assert 0.2 < c < 0.7
    refused = loo_refusals(df)
    assert refused.tolist() == [False, False, False, False, True, True, True, False]
    df["refused"] = refused
    for col in ("hit@1", "hit@3", "hit@5", "rr"):
        df[col] = 1.0
    df["n_passages"] = 5
    m = aggregate(df.assign(lang="en", kind="direct", cross_lingual=False), k=5)
    assert m["ool_refusal_precision"] == 1.0 and m["ool_refusal_recall"] == pytest.approx(3 / 4)
    # a deliberately wrong score (an answerable question scoring lowest) costs precision
    worse = df.copy()
    worse.loc[0, "top1_score"] = 0.05
    worse["refused"] = loo_refusals(worse)
    assert aggregate(worse.assign(lang="en", kind="direct", cross_lingual=False), k=5)["ool_refusal_precision"] < 1.0


def _trades(rows):
    cols = ["direction", "entry_time", "exit_time", "entry_price", "exit_price", "limit_price", "sl_price",
            "tp_price", "exit_reason", "r"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("entry_time", "exit_time"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def test_trade_by_trade_comparison_shows_the_first_difference():
    from ita.evals.backtest import compare_trades, unmatched

    ours = _trades([["long", "2025-01-02 08:00", "2025-01-02 09:00", 1.1, 1.09, 1.1, 1.09, 1.12, "stop", -1.0],
                    ["short", "2025-01-03 08:00", "2025-01-03 10:00", 1.2, 1.18, 1.2, 1.21, 1.18, "target", 2.0],
                    ["long", "2025-01-06 08:00", "2025-01-06 12:00", 1.3, 1.31, 1.3, 1.29, 1.32, "time", 1.0]])
    ref = ours.rename(columns={"limit_price": "limit", "sl_price": "stop", "tp_price": "target"})
    assert compare_trades(ours, ref) == (3, None) and unmatched(ours, ref) == 0
    wrong = ref.copy()
    wrong.loc[1, "exit_price"] = 1.185                      # a deliberately different exit
    n, first = compare_trades(ours, wrong)
    assert n == 1 and first["trade"] == 2 and first["fields"] == ["exit_price"]
    assert first["ita"]["exit_price"] == 1.18 and first["reference"]["exit_price"] == 1.185
    n, first = compare_trades(ours, ref.iloc[:2])           # a trade only ITA has
    assert n == 2 and first["only_in"] == "ITA" and unmatched(ours, ref.iloc[:2]) == 1


def test_statistics_cross_check_with_backtesting_py(sample_store):
    from ita.backtest import backtest
    from ita.evals.backtest import stats_crosscheck
    from ita.setups import load_setup

    m5 = sample_store.load("EURUSD", "M5")
    res = backtest(load_setup("asia_fvg_break"), m5, "EURUSD", spread_pips=0, commission_per_lot=0)
    diffs, theirs = stats_crosscheck(res.trades, res.stats, m5)
    assert diffs == []
    assert theirs["Win Rate [%]"] == pytest.approx(float(res.stats["Win Rate [%]"]))
    assert theirs["Max Drawdown [R]"] == pytest.approx(float(res.stats["Max Drawdown [R]"]))
    assert math.isfinite(theirs["Sharpe Ratio (backtesting.py, not in ITA)"])
    bad = res.stats.copy()
    bad["Profit Factor"] = float(bad["Profit Factor"]) * 1.01           # a deliberately wrong statistic
    diffs, _ = stats_crosscheck(res.trades, bad, m5)
    assert [d["stat"] for d in diffs] == ["Profit Factor"]


def test_references_agree_with_the_engine(sample_store, monkeypatch):
    """ib_raid's reference found the min_pierce_pips boundary bug (an exact 1.0-pip raid was dropped); silver_bullet
    checks the H1 trend filter. Both now agree trade by trade."""
    from ita.evals.backtest import run_backtest_eval

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    run = run_backtest_eval(setups=["ib_raid", "silver_bullet"], symbols=("EURUSD",))
    for mode in ("ib_raid@EURUSD", "silver_bullet@EURUSD"):
        m = run.metrics[mode]
        assert m["agreement"] == 1.0 and m["unmatched_trades"] == 0 and m["stat_mismatches"] == 0, (mode, m)
    assert run.metrics["ib_raid@EURUSD"]["trades_ita"] == 129


def test_detector_suite_scores_the_labelled_set(sample_store, monkeypatch):
    from ita.evals.suites import detectors_suite

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    run = detectors_suite()
    m = run.metrics["eurusd_2025_asia_fvg_break:asia_fvg_break"]
    assert (m["labels"], m["hits"], m["false_positives"]) == (20, 16, 2)      # examples/labels/README.md
    assert m["precision"] == pytest.approx(16 / 18) and m["recall"] == pytest.approx(16 / 20)
    assert sum(f["expected"] == "hit" for f in run.failures) == 4


def test_report_opens_in_headless_chromium_with_history_charts(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian chromium not installed (scripts/setup.sh installs it as root)")
    from ita.evals.report import write_report

    for i, (acc, f1) in enumerate([(0.93, 0.80), (0.96, 0.85), (0.95, 0.86)]):
        st.store_run(_run("agent", {"parser:heldout": {"tool_accuracy": acc, "ragas_tool_call_f1": f1},
                                    "parser:dev": {"tool_accuracy": acc + 0.02, "ragas_tool_call_f1": f1}},
                          f"2026-01-0{i + 1}T00:00:00+00:00",
                          failures=[{"mode": "parser:heldout", "item": f"c{i}#1", "what": "backtest gold",
                                     "expected": "run_backtest(…)", "got": "ask for setup_id"}]))
    st.store_run(_run("backtest", {"ib_raid@EURUSD": {"agreement": 1.0, "unmatched_trades": 0}}, "2026-01-02T00:00:00+00:00"))
    path = write_report(tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert "tool_accuracy" in page and "c2#1" in page and "<tr class='reg'>" in page   # 0.96 → 0.95 is red
    out = Path(os.environ.get("ITA_TEST_ARTIFACTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    png = out / "eval_report.png"
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1800",
            "--virtual-time-budget=8000"]
    subprocess.run([*args, f"--screenshot={png}", path.as_uri()], check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*args, "--dump-dom", path.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    charts = dom.count("class=\"chart\"")
    assert charts == 4                              # agent: tool_accuracy, ragas_tool_call_f1; backtest: 2
    assert dom.count("class=\"main-svg\"") >= charts          # plotly drew each one (no network needed)
    from PIL import Image, ImageStat

    img = Image.open(png).convert("L")
    assert img.size == (1400, 1800) and ImageStat.Stat(img).stddev[0] > 5       # not a blank page


def test_held_out_failures_are_listed_without_their_text(tmp_path, monkeypatch):
    """Reading a run's failures must not tune the parser on the held-out half: its requests and labels are hidden
    (ITA_EVAL_SHOW_HELDOUT=1 shows them); development failures are shown in full."""
    from ita.evals.agent.cases import case_id, split_of
    from ita.evals.suites import agent_suite

    says = {}
    for i in range(40):                                   # one request of each half, labelled wrongly on purpose
        say = f"list setups please {i}"
        says.setdefault(split_of(case_id("t", [say])), say)
    for half, say in says.items():
        (tmp_path / half).mkdir()
        (tmp_path / half / "t.yaml").write_text(f'- {{say: "{say}", tool: list_runs, args: {{}}}}\n', encoding="utf-8")
    run = agent_suite(folder=tmp_path)
    by = {f["mode"].split(":")[1]: f for f in run.failures}
    assert by["dev"]["what"] == says["dev"] and "list_runs" in str(by["dev"]["expected"])
    assert by["heldout"]["what"] == "(held-out request: not shown)" and by["heldout"]["expected"] == "(hidden)"
    assert says["heldout"] not in str(run.failures)
    monkeypatch.setenv("ITA_EVAL_SHOW_HELDOUT", "1")
    assert says["heldout"] in str(agent_suite(folder=tmp_path).failures)
