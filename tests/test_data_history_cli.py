"""``ita data import --replace``, ``ita data history`` and ``ita data restore`` as a trader runs them (typer's
CliRunner on a real Parquet store): a conflicting import is refused with a readable summary and leaves the stored
file byte-identical; --replace says where the previous series went; a restore brings back the old bytes and is
itself undoable; unknown symbols and versions are named with the valid ones."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.data.store import CandleStore
from tests.test_data_history import shifted
from tests.test_data_import import MT5_HEADER, mt5_rows, write


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def data(tmp_path):
    """A store holding 120 EURUSD M5 bars, the file they came from and a file changing 50 of them."""
    d = tmp_path / "data"
    good = write(tmp_path / "good.csv", [MT5_HEADER] + mt5_rows(120))
    bad = write(tmp_path / "fixed.csv", [MT5_HEADER] + shifted(mt5_rows(120)[40:90], 200, 100))
    r = cli(["data", "import", str(good), "--symbol", "EURUSD"], d)
    assert r.exit_code == 0, r.output
    return d, good, bad


def cli(args, data_dir: Path):
    return CliRunner().invoke(app, args, env={"ITA_DATA_DIR": str(data_dir), "COLUMNS": "200"})


def test_a_conflicting_import_is_refused_with_a_summary_and_the_file_stays_byte_identical(data):
    d, _, bad = data
    p = CandleStore(d).path("EURUSD", "M5")
    before = sha(p)
    r = cli(["data", "import", str(bad), "--symbol", "EURUSD"], d)
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert "50 bars already stored for EURUSD M5 at different prices" in err
    assert "largest difference 200.0 pips" in err and "Nothing was imported" in err
    assert "2025-01-06 01:25 UTC  high   1.03553 → 1.05553" in err        # the first ones, old → new
    assert "… and 45 more." in err
    assert f"ita data import {bad} --symbol EURUSD --replace" in err
    assert "Traceback" not in err
    assert sha(p) == before
    assert not (d / "EURUSD" / "history").exists() or not list((d / "EURUSD" / "history").iterdir())


def test_replace_says_where_the_previous_version_is_and_history_lists_it(data):
    d, _, bad = data
    store = CandleStore(d)
    old = store.path("EURUSD", "M5").read_bytes()
    r = cli(["data", "import", str(bad), "--symbol", "EURUSD", "--replace"], d)
    assert r.exit_code == 0, r.output
    (version,) = store.history("EURUSD")["version"]
    kept = d / "EURUSD" / "history" / f"M5.{version}.parquet"
    out = " ".join(r.stdout.split())                                      # rich may wrap long paths
    assert "Replaced 50 stored bars" in out and f"kept as version {version} → {kept}" in out
    assert f"ita data restore EURUSD {version} --timeframe M5" in out
    assert kept.read_bytes() == old
    h = cli(["data", "history", "EURUSD"], d)
    assert h.exit_code == 0, h.output
    assert version in h.stdout and "120" in h.stdout and "2025-01-05 22:05" in h.stdout
    cells = " ".join(c.strip() for line in h.stdout.splitlines() for c in line.split("│")[6:7])  # "kept because"
    assert " ".join(cells.split()) == "replaced by an import of fixed.csv (50 bars at other prices)"


def test_restore_brings_back_the_old_bytes_and_is_undoable(data):
    d, _, bad = data
    store = CandleStore(d)
    p = store.path("EURUSD", "M5")
    old = p.read_bytes()
    assert cli(["data", "import", str(bad), "--symbol", "EURUSD", "--replace"], d).exit_code == 0
    changed_bytes, changed = p.read_bytes(), store.load("EURUSD", "M5")
    (version,) = store.history("EURUSD")["version"]
    r = cli(["data", "restore", "EURUSD", version, "--timeframe", "M5"], d)
    assert r.exit_code == 0, r.output
    assert p.read_bytes() == old
    assert store.load("EURUSD", "M5")["high"].max() < 1.04                 # the original prices again
    versions = list(store.history("EURUSD")["version"])
    assert len(versions) == 2 and versions[0] == version
    undo = versions[1]
    out = " ".join(r.stdout.split())
    assert f"Restored EURUSD M5 version {version}: 120 bars" in out and f"ita data restore EURUSD {undo}" in out
    assert cli(["data", "restore", "EURUSD", undo], d).exit_code == 0     # the restore undone
    assert p.read_bytes() == changed_bytes
    pd.testing.assert_frame_equal(store.load("EURUSD", "M5"), changed)


@pytest.mark.parametrize("args, needles", [
    (["data", "restore", "EURUSD", "2020"], ["EURUSD M5 has no kept version '2020'", "Kept versions: "]),
    (["data", "restore", "XAUUSD", "2020"], ["No candles stored for XAUUSD", "Stored symbols: EURUSD"]),
    (["data", "history", "EURUSX"], ["Unknown symbol 'EURUSX'", "Did you mean: EURUSD"]),
    (["data", "history", "EURUSD", "--timeframe", "M7"], ["M7"]),
])
def test_unknown_symbol_or_version_names_the_valid_ones(data, args, needles):
    d, _, bad = data
    assert cli(["data", "import", str(bad), "--symbol", "EURUSD", "--replace"], d).exit_code == 0
    (version,) = CandleStore(d).history("EURUSD")["version"]
    before = sha(CandleStore(d).path("EURUSD", "M5"))
    r = cli(args, d)
    assert r.exit_code == 2, r.output
    err = " ".join(r.stderr.split())
    for n in needles:
        assert n in err, err
    if args[1] == "restore" and args[2] == "EURUSD":
        assert version in err                                              # the valid version is named
    assert sha(CandleStore(d).path("EURUSD", "M5")) == before


def test_history_of_a_series_never_replaced(data):
    d, _, _ = data
    r = cli(["data", "history", "EURUSD"], d)
    assert r.exit_code == 0 and "No kept versions of EURUSD M5" in r.stdout


@pytest.mark.parametrize("cmd", [["import"], ["history"], ["restore"]])
def test_help_teaches_with_an_example(cmd):
    r = CliRunner().invoke(app, ["data", *cmd, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "Example" in r.stdout and f"ita data {cmd[0]} " in r.stdout
    if cmd == ["import"]:
        assert "--replace" in r.stdout
