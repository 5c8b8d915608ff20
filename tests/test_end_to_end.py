"""The README's main command as a user runs it: fresh ITA_HOME, the sample data imported by itself,
statistics printed, artifacts written, the run stored; bad input leaves earlier runs untouched."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, sample_file

MAIN = ["backtest", "asia_fvg_break", "--symbol", "EURUSD", "--from", "2025-01-01", "--to", "2025-12-31"]


def ita(args, home: Path, timeout=300):
    env = {**os.environ, "ITA_HOME": str(home)}
    exe = Path(sys.executable).with_name("ita")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ita.cli"]
    return subprocess.run(cmd + args, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    sample_file("EURUSD")
    home = tmp_path_factory.mktemp("e2e_home")
    p = ita(MAIN + ["--samples", "2"], home)
    assert p.returncode == 0, p.stderr + p.stdout
    return home, p


@pytest.mark.slow
def test_main_command_prints_stats_and_writes_artifacts(first_run):
    home, p = first_run
    out = p.stdout
    assert "Importing sample data EURUSD_M5_2025.csv" in out
    for label in ("Trades", "Win Rate [%]", "Total R", "Expectancy [R]", "Avg RR [R]", "Profit Factor",
                  "Max Drawdown [R]", "Max Drawdown [%]", "Longest Losing Streak", "By month"):
        assert label in out, label
    run_dirs = [d for d in (home / "runs").iterdir() if d.is_dir()]
    assert len(run_dirs) == 1 and not run_dirs[0].name.startswith(".")
    run = run_dirs[0]
    assert run.name in out
    summary = json.loads((run / "summary.json").read_text())
    # the seed's backtest result schema …
    for k in ("run_id", "setup_id", "symbol", "period", "trades_count", "winrate", "avg_rr", "max_drawdown",
              "trades_csv", "png_sample"):
        assert k in summary, k
    assert summary["setup_id"] == "asia_fvg_break" and summary["symbol"] == "EURUSD"
    assert summary["period"] == ["2025-01-01", "2025-12-31"]
    # … plus version and hash of the exact YAML
    import hashlib

    yaml_bytes = (REPO / "setups" / "asia_fvg_break" / "v1.yaml").read_bytes()
    assert summary["setup_version"] == 1 and summary["setup_hash"] == hashlib.sha256(yaml_bytes).hexdigest()
    trades = pd.read_csv(run / "trades.csv")
    assert len(trades) == summary["trades_count"] > 50
    assert set(trades["exit_reason"]) <= {"stop", "target", "time", "end_of_data"}
    assert summary["stats"]["Wins"] == int((trades["r"] > 0).sum())
    assert abs(summary["stats"]["Total R"] - trades["r"].sum()) < 1e-9
    assert (trades["pnl"] - trades["r"] * 1000.0).abs().max() < 1e-6  # 1% of 100k per R
    # charts: equity + sample trades as real PNGs, and the interactive report
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        assert png_size(run / "equity.png")[0] >= 800
        samples = sorted(run.glob("trade_*.png"))
        assert len(samples) == 2 and summary["png_sample"] == str(samples[0])
    assert (run / "report.html").stat().st_size > 100_000
    # the run is in SQLite with its trades, tied to version and hash
    db = sqlite3.connect(home / "ita.db")
    row = db.execute("select setup_id, setup_version, setup_hash, trades_count from runs where run_id = ?",
                     [run.name]).fetchone()
    assert row == ("asia_fvg_break", 1, summary["setup_hash"], summary["trades_count"])
    assert db.execute("select count(*) from trades where run_id = ?", [run.name]).fetchone()[0] == len(trades)


@pytest.mark.slow
def test_same_rule_same_data_same_result_and_overrides_do_not_touch_yaml(first_run):
    home, _ = first_run
    yaml_path = REPO / "setups" / "asia_fvg_break" / "v1.yaml"
    before = yaml_path.read_bytes()
    p = ita(MAIN + ["--no-charts", "--no-html"], home)
    assert p.returncode == 0, p.stderr
    p3 = ita(MAIN + ["--no-charts", "--no-html", "--param", "rr=3"], home)
    assert p3.returncode == 0, p3.stderr
    assert yaml_path.read_bytes() == before
    # told apart by their overrides, not by created_at: that is whole seconds, and two runs can share one
    summaries = {d: json.loads((d / "summary.json").read_text()) for d in (home / "runs").iterdir()}
    assert len(summaries) == 3
    plain = [d for d, s in summaries.items() if not s["overrides"]]
    over = [d for d, s in summaries.items() if s["overrides"]]
    assert len(plain) == 2 and len(over) == 1
    t1, t2, t3 = (pd.read_csv(r / "trades.csv") for r in (*plain, *over))
    cols = ["entry_time", "entry_price", "exit_time", "exit_price", "exit_reason", "r"]
    pd.testing.assert_frame_equal(t1[cols], t2[cols])
    s3 = summaries[over[0]]
    assert s3["overrides"] == {"target.rr": 3} and s3["effective_hash"] != s3["setup_hash"]
    assert (t3.loc[t3.exit_reason == "target", "r"] - 3.0).abs().max() < 1e-9


@pytest.mark.slow
def test_bad_input_exits_2_and_leaves_runs_untouched(first_run):
    home, _ = first_run
    snapshot = {p: p.stat().st_mtime_ns for p in (home / "runs").rglob("*")}
    db_before = (home / "ita.db").read_bytes()
    cases = [
        (["backtest", "asia_fvg_brake", "--symbol", "EURUSD"], "Did you mean: asia_fvg_break"),
        (["backtest", "asia_fvg_break", "--symbol", "EURUSX"], "Did you mean: EURUSD"),
        (["backtest", "asia_fvg_break", "--symbol", "GBPUSD"], "No candles stored for GBPUSD"),
        (["backtest", "asia_fvg_break", "--from", "2019-01-01", "--to", "2019-12-31"], "coverage"),
        (["backtest", "asia_fvg_break", "--param", "rrr=3"], "Did you mean"),
        (["backtest", "asia_fvg_break", "--param", "rr=-1"], "target.rr"),
        (["backtest", "asia_fvg_break", "--spread", "wide"], "--spread"),
        (["backtest", "asia_fvg_break", "--from", "2025-05-01", "--to", "2025-04-01"], "before it starts"),
    ]
    for args, needle in cases:
        p = ita(args + ["--no-charts", "--no-html"], home)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert needle in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr
    assert {p: p.stat().st_mtime_ns for p in (home / "runs").rglob("*")} == snapshot
    assert (home / "ita.db").read_bytes() == db_before


def test_core_imports_nothing_from_the_llm_layer():
    code = ("import sys, ita.cli, ita.backtest.runner, ita.charts, ita.setups, ita.detectors, ita.data.store, ita.store\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langgraph', 'openai', 'chromadb', "
            "'chainlit') or m.startswith(('ita.agent', 'ita.tools', 'ita.graphs', 'ita.knowledge_base'))]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
