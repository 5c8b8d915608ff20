"""Promotion gates and statuses: candidate → paper → active; a version failing a gate cannot become active and
the report says which gate and by how much; portfolio gates against an independent computation; statuses tied
to the file's hash; one active version per setup."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ita.tools as ita_tools
from ita.errors import ItaError
from ita.promotion import evaluate_gates, load_gates, promote, version_status, versions_with_status
from ita.store.promotions import PromotionStore

REPO_SETUPS = Path(__file__).resolve().parents[1] / "setups"
PERIOD = "  start: 2025-01-01\n  end: 2025-06-30\n"


@pytest.fixture
def data(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


@pytest.fixture
def setups(tmp_path, monkeypatch, data):
    """A copy of the shipped setups whose gates.yaml a test can rewrite (``write(gates_yaml)``)."""
    root = tmp_path / "setups"
    shutil.copytree(REPO_SETUPS, root)
    monkeypatch.setenv("ITA_SETUPS_DIR", str(root))

    def write(gates: str, enforce: str = "[active]", symbols: str = "[EURUSD, XAUUSD]") -> Path:
        (root / "gates.yaml").write_text(f"enforce_for: {enforce}\nevaluation:\n  symbols: {symbols}\n{PERIOD}"
                                         f"gates:\n{gates}", encoding="utf-8")
        return root

    write.root = root
    return write


def gate(name, metric, op, threshold):
    return f"  - {{name: {name}, metric: {metric}, op: '{op}', threshold: {threshold}}}\n"


def combined(setup_id, version=None, symbols=("EURUSD", "XAUUSD"), start="2025-01-01", end="2025-06-30"):
    """The setup's trades on every symbol, independently of the gates' code: one single backtest per symbol."""
    from ita.backtest.runner import run_backtest

    frames = [run_backtest(setup_id, s, start, end, version=version, charts=False, html=False).trades for s in symbols]
    t = pd.concat(frames, ignore_index=True)
    return t.assign(exit_known=pd.DatetimeIndex(t["exit_time"]) + pd.Timedelta(minutes=5)).sort_values(
        ["exit_known", "entry_time"], kind="stable")


def max_dd(t):
    cum = np.cumsum(t["r"].to_numpy())
    return float((np.maximum.accumulate(np.r_[0.0, cum])[1:] - cum).max())


def daily(t, start="2025-01-01", end="2025-06-30"):
    # the FX day: 17:00 New York → midnight of the next date
    day = (pd.DatetimeIndex(t["exit_known"]).tz_convert("America/New_York") + pd.Timedelta(hours=7)).tz_localize(None).normalize()
    s = t.assign(day=day).groupby("day")["r"].sum()
    return s.reindex(pd.bdate_range(start, end).union(s.index), fill_value=0.0)


def test_default_gates_refuse_active_and_say_which_gates_and_by_how_much(data):
    p = promote("asia_fvg_break", 1, to="paper")
    assert p.accepted and p.status == "paper"                    # gates are enforced for active only
    assert version_status("asia_fvg_break", 1) == ("paper", None)
    p = promote("asia_fvg_break", "v1")
    assert not p.accepted and p.status == "paper" and p.requested == "active"
    by = {g.name: g for g in p.report.gates}
    t = combined("asia_fvg_break", start=p.report.evaluation["period"][0], end=p.report.evaluation["period"][1])
    pf = t.loc[t.r > 0, "r"].sum() / -t.loc[t.r < 0, "r"].sum()
    assert by["pf_in_sample"].result == "fail" and by["pf_in_sample"].value == pytest.approx(pf)
    assert by["pf_in_sample"].margin == pytest.approx(pf - 1.3)
    assert by["trades"].value == len(t) and by["trades"].margin == len(t) - 200
    for name in ("pf_out_of_sample", "deflated_sharpe", "pbo"):           # not measured is not passed
        assert by[name].result == "not measured" and not by[name].passed
    assert "run `ita research walk-forward asia_fvg_break" in by["pf_out_of_sample"].hint
    assert by["max_drawdown"].result == by["correlation"].result == "n/a"   # no active portfolio yet
    assert f"pf_in_sample: {pf:.2f} < 1.30 — fails by {1.3 - pf:.2f}" in p.message
    row = PromotionStore().history("asia_fvg_break", 1).iloc[0]             # the refusal is stored with its gates
    assert row["accepted"] == 0 and row["requested"] == "active" and row["setup_hash"] == p.setup_hash
    stored = {g["name"]: g for g in row["gates"]}
    assert stored["pf_in_sample"]["value"] == pytest.approx(pf) and stored["pf_in_sample"]["threshold"] == 1.3
    assert stored["pf_in_sample"]["result"] == "fail"


def test_a_version_failing_one_gate_cannot_become_active(setups):
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.5) + gate("trades", "trades_after_costs", ">=", 100))
    t = combined("asia_fvg_break")
    n = len(t)
    assert promote("asia_fvg_break", 1).status == "paper"
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.5) + gate("trades", "trades_after_costs", ">=", n + 3))
    r = ita_tools.promote_setup(setup_id="asia_fvg_break", version=1, to="active")
    assert r.ok and not r.data["accepted"] and r.data["status"] == "paper"
    assert r.data["failed"] == ["trades"]
    assert f"trades: {n} < {n + 3} — fails by 3" in r.summary
    assert [row[3] for row in r.tables["gates"].rows] == ["✓ pass", "✗ fail"]
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.5) + gate("trades", "trades_after_costs", ">=", n))
    r = ita_tools.promote_setup(setup_id="asia_fvg_break", version=1)
    assert r.data["accepted"] and r.data["status"] == "active" and "all 2 gates passed" in r.summary
    assert versions_with_status("active") == ["asia_fvg_break@1"]
    listed = ita_tools.list_setups()
    row = next(x for x in listed.tables["setups"].rows if x[0] == "asia_fvg_break")
    assert row[-1] == "v1 active"


def test_portfolio_gates_against_an_independent_computation(setups):
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.1))
    promote("asia_fvg_break", 1)
    promote("asia_fvg_break", 1)                                   # candidate → paper → active
    setups(gate("max_drawdown", "max_drawdown_vs_portfolio", "<=", 1.3)
           + gate("correlation", "correlation_with_portfolio", "<=", 0.4))
    from ita.setups import load_setup

    rep = evaluate_gates(load_setup("silver_bullet"), load_gates())
    assert rep.evaluation["portfolio"] == ["asia_fvg_break v1"]
    by = {g.name: g for g in rep.gates}
    mine, port = combined("silver_bullet"), combined("asia_fvg_break")
    assert by["max_drawdown"].value == pytest.approx(max_dd(mine) / max_dd(port))
    a, b = daily(mine).align(daily(port), fill_value=0.0)
    assert by["correlation"].value == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert "95 % interval" in by["correlation"].detail and f"over {len(a)} days" in by["correlation"].detail
    assert {g.result for g in rep.gates} <= {"pass", "fail"}


def test_one_active_version_per_setup_and_going_back(setups):
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.1))
    for v in (1, 2):
        promote("fvg_reversal", v, to="paper")
        promote("fvg_reversal", v, to="active")
    assert versions_with_status("active") == ["fvg_reversal@2"]
    assert version_status("fvg_reversal", 1)[0] == "candidate"
    assert PromotionStore().history("fvg_reversal", 1).iloc[0]["note"] == "superseded by v2"
    back = promote("fvg_reversal", 2, to="candidate")
    assert back.accepted and back.report is None and versions_with_status("active") == []
    with pytest.raises(ItaError, match="promote it to paper first"):
        promote("fvg_reversal", 2, to="active")
    with pytest.raises(ItaError, match="already candidate"):
        promote("fvg_reversal", 2, to="candidate")


def test_a_file_changed_after_promotion_is_a_candidate_again(setups):
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.1))
    promote("asia_sweep", 1, to="paper")
    f = setups.root / "asia_sweep" / "v1.yaml"
    f.write_text(f.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    status, note = version_status("asia_sweep", 1)
    assert status == "candidate" and "file changed since" in note
    assert versions_with_status("paper") == []


def test_dry_run_stores_nothing(setups):
    setups(gate("pf_in_sample", "profit_factor", ">=", 0.1))
    p = promote("asia_sweep", 1, dry_run=True)
    assert p.accepted and not p.stored and p.message.startswith("Dry run")
    assert PromotionStore().history("asia_sweep").empty and version_status("asia_sweep", 1)[0] == "candidate"


def test_a_bad_gates_file_is_named_with_the_field(setups):
    root = setups(gate("pf", "profit_factr", ">=", 1))
    with pytest.raises(ItaError, match=r"gates\.yaml: gates\.0\.metric: unknown metric 'profit_factr'\. Did you mean: profit_factor"):
        load_gates()
    (root / "gates.yaml").write_text("gates: [\n", encoding="utf-8")
    with pytest.raises(ItaError, match="not valid YAML"):
        load_gates()
    r = ita_tools.promote_setup(setup_id="asia_sweep", version=1)
    assert not r.ok and "gates.yaml" in r.error and PromotionStore().history().empty


def test_the_shipped_gates_file_holds_the_seed_defaults():
    cfg = load_gates(REPO_SETUPS / "gates.yaml")
    got = {g.name: (g.metric, g.op, g.threshold) for g in cfg.gates}
    assert got["pf_in_sample"] == ("profit_factor", ">=", 1.3)
    assert got["pf_out_of_sample"] == ("walk_forward_pf", ">=", 1.1)
    assert got["max_drawdown"] == ("max_drawdown_vs_portfolio", "<=", 1.3)
    assert got["correlation"] == ("correlation_with_portfolio", "<=", 0.4)
    assert got["trades"] == ("trades_after_costs", ">=", 200)
    assert {"deflated_sharpe", "pbo"} <= set(got) and cfg.enforce_for == ["active"]
