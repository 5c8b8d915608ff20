"""``ita learn …`` as a trader runs it on the sample data: dataset → train → status → score / explain / similar /
recommend, and bad input — one clear message, exit status 2, nothing half-written."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def ita(args, env, timeout=600):
    exe = Path(sys.executable).with_name("ita")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ita.cli"]
    return subprocess.run(cmd + args, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def env(tmp_path_factory, sample_store):
    e = {**os.environ, "ITA_HOME": str(tmp_path_factory.mktemp("learn_cli") / "home"),
         "ITA_DATA_DIR": str(sample_store.data_dir), "COLUMNS": "200"}
    for k in list(e):
        if k.startswith(("ITA_TELEGRAM", "ITA_NOTION", "OPENAI_")) or k == "ITA_DB":
            e.pop(k)
    return e


def test_dataset_train_status_and_the_signal_commands(env):
    home = Path(env["ITA_HOME"])
    d = ita(["learn", "dataset", "--setups", "asia_fvg_break,ib_raid", "--symbols", "EURUSD,XAUUSD",
             "--from", "2025-01-01", "--to", "2025-11-06"], env)
    assert d.returncode == 0, d.stderr
    assert re.search(r"setups dataset: \d+ rows \(\d+ labelled, \d+ positive\) on EURUSD, XAUUSD", d.stdout)
    files = list((home / "learn" / "datasets").glob("setups-*.parquet"))
    assert len(files) == 1 and not list((home / "learn" / "datasets").glob(".*partial"))

    t = ita(["learn", "train"], env)
    assert t.returncode == 0, t.stderr
    assert re.search(r"out-of-sample AUC 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] on \d+ samples", t.stdout)
    for part in ("model (lgbm)", "logistic baseline", "Laplace per setup", "coin (0.5)", "Walk-forward folds",
                 "Live gate per setup", "report.html"):
        assert part in t.stdout, part
    (model,) = [p for p in (home / "learn" / "models").iterdir() if p.is_dir()]
    man = json.loads((model / "manifest.json").read_text())
    assert {"reliability.png", "folds.png", "importance.png"} <= {p.name for p in model.iterdir()} or \
        "skipped" in t.stdout
    assert set(man["gate"]) == {"asia_fvg_break", "ib_raid"}

    s = ita(["learn", "status"], env)
    assert s.returncode == 0 and f"in use for setup_win: {model.name}" in s.stdout and "Live gate per setup" in s.stdout

    import pandas as pd

    ds = pd.read_parquet(model / "dataset.parquet")
    sid = ds[ds["setup_id"] == "asia_fvg_break"]["event_id"].iloc[-5]
    sc = ita(["learn", "score", sid], env)
    assert sc.returncode == 0, sc.stderr
    assert sid in sc.stdout and "p(success)" in sc.stdout and "Laplace" in sc.stdout
    ex = ita(["learn", "explain", sid], env)
    assert ex.returncode == 0, ex.stderr
    assert "the model says" in ex.stdout and "Top contributions" in ex.stdout
    sm = ita(["learn", "similar", sid, "-k", "5"], env)
    assert sm.returncode == 0, sm.stderr
    assert re.search(r"5 signals most like .* win rate \d+ % \(95 % CI \d+–\d+ %\)", sm.stdout)

    rec = ita(["learn", "recommend", "ib_raid", "--symbol", "EURUSD"], env)
    assert rec.returncode == 0, rec.stderr
    assert "Benjamini–Hochberg" in rec.stdout and "By session" in rec.stdout

    f = ita(["learn", "features"], env)
    assert f.returncode == 0 and "atr_pct_20d" in f.stdout and "known at" in f.stdout


@pytest.mark.parametrize("args, needle", [
    (["learn", "train", "--target", "setup_wins"], "Unknown target 'setup_wins'"),
    (["learn", "train", "--target", "sweep_reversal"], "No sweep dataset yet"),
    (["learn", "train", "--model", "forest"], "family"),
    (["learn", "explain", "nope-v1-EURUSD-M5-20250101T0000"], "No signal 'nope-v1-EURUSD-M5-20250101T0000'"),
    (["learn", "dataset", "--symbols", "EURUSDX"], "EURUSDX"),
    (["learn", "dataset", "--kind", "orderblocks"], "kind"),
    (["learn", "recommend", "asia_fvg_brake"], "asia_fvg_break"),
])
def test_bad_input_exits_2_with_one_message(env, args, needle):
    p = ita(args, env)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert needle in p.stderr, (args, p.stderr)
    assert "Traceback" not in p.stderr
