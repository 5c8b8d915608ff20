"""Stored history is append-only unless asked: a conflicting import is refused and changes nothing, a replace
keeps the previous series as a dated version, a restore brings back its exact bytes, and two imports of one
symbol at once end with one complete series."""
from __future__ import annotations

import hashlib
import multiprocessing as mp
from pathlib import Path

import pandas as pd
import pytest

from ita.data.store import CandleStore, HistoryConflict
from ita.errors import DataError
from tests.test_data_import import MT5_HEADER, mt5_rows, write


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def shifted(rows: list[str], pips_high: float, pips_close: float) -> list[str]:
    """The same bars with high and close raised (still valid OHLC: high stays the highest)."""
    out = []
    for r in rows:
        f = r.split(",")
        c = float(f[4]) + pips_close * 1e-4
        f[2] = f"{max(float(f[2]) + pips_high * 1e-4, c):.5f}"
        f[4] = f"{c:.5f}"
        out.append(",".join(f))
    return out


@pytest.fixture
def store(tmp_path):
    s = CandleStore(tmp_path / "data")
    s.import_file(write(tmp_path / "a.csv", [MT5_HEADER] + mt5_rows(120)), "EURUSD", "M5", "Europe/Athens")
    return s


def test_conflicting_import_is_refused_with_a_summary_and_changes_nothing(store, tmp_path):
    before = sha(store.path("EURUSD", "M5"))
    bad = write(tmp_path / "conflict.csv", [MT5_HEADER] + shifted(mt5_rows(120)[40:90], 200, 100))
    with pytest.raises(HistoryConflict) as exc:
        store.import_file(bad, "EURUSD", "M5", "Europe/Athens")
    e = exc.value
    assert e.count == 50 and e.largest_pips == pytest.approx(200, abs=0.01)
    assert isinstance(e, DataError)                       # the CLI's one-message exit 2 path
    msg = str(e)
    assert "50 bars already stored for EURUSD M5 at different prices" in msg
    assert "largest difference 200.0 pips" in msg and "Nothing was imported" in msg and "--replace" in msg
    assert "→" in msg and msg.count("UTC") >= 5           # the first few, old → new
    assert sha(store.path("EURUSD", "M5")) == before
    assert store.history("EURUSD").empty


def test_identical_reimport_and_new_bars_need_no_replace(store, tmp_path):
    before = store.load("EURUSD", "M5")
    more = write(tmp_path / "more.csv", [MT5_HEADER] + mt5_rows(150))      # 120 equal + 30 new
    res = store.import_file(more, "EURUSD", "M5", "Europe/Athens")
    assert (res.added, res.total, res.replaced) == (30, 150, 0)
    pd.testing.assert_frame_equal(store.load("EURUSD", "M5").iloc[:120], before)
    assert store.history("EURUSD").empty


def test_replace_keeps_a_dated_version_and_restore_brings_back_the_old_bytes(store, tmp_path):
    p = store.path("EURUSD", "M5")
    old_bytes = p.read_bytes()
    bad = write(tmp_path / "conflict.csv", [MT5_HEADER] + shifted(mt5_rows(120)[40:90], 200, 100))
    res = store.import_file(bad, "EURUSD", "M5", "Europe/Athens", replace=True)
    assert res.replaced == 50 and res.kept_version and "ita data restore EURUSD" in res.notes[0]
    assert p.read_bytes() != old_bytes
    hist = store.history("EURUSD")
    assert list(hist["version"]) == [res.kept_version] and hist["bars"].iloc[0] == 120
    changed = store.load("EURUSD", "M5")
    kept = store.restore("EURUSD", res.kept_version)
    assert p.read_bytes() == old_bytes                    # exactly the old series
    assert kept and kept != res.kept_version              # the replaced series is kept too
    store.restore("EURUSD", kept)
    pd.testing.assert_frame_equal(store.load("EURUSD", "M5"), changed)
    with pytest.raises(DataError, match="has no kept version '2020'.*Kept versions:"):
        store.restore("EURUSD", "2020")


def _import(data_dir: str, file: str, barrier) -> None:
    barrier.wait()
    CandleStore(data_dir).import_file(file, "EURUSD", "M5", "Europe/Athens")


def test_two_imports_of_one_symbol_at_once_end_with_one_complete_series(tmp_path):
    rows = mt5_rows(4000)
    files = [write(tmp_path / "x.csv", [MT5_HEADER] + rows[:2000]), write(tmp_path / "y.csv", [MT5_HEADER] + rows[2000:])]
    data = tmp_path / "data"
    for attempt in range(3):                               # several rounds: a lost update would show in one
        d = data / str(attempt)
        ctx = mp.get_context("fork")
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_import, args=(str(d), str(f), barrier)) for f in files]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join(60)
            assert pr.exitcode == 0
        df = CandleStore(d).load("EURUSD", "M5")
        assert len(df) == 4000 and df.index.is_unique and df.index.is_monotonic_increasing


def test_runs_show_says_when_the_candles_of_a_run_changed(sample_store, tmp_path, monkeypatch):
    """A run records the fingerprint of its candles; after a --replace of bars in its period `data_changed` (what
    `ita runs show` prints) says so, and says nothing while the data is the same."""
    import shutil

    from ita.backtest.runner import data_changed, run_backtest
    from ita.store import RunStore

    data = tmp_path / "data"
    shutil.copytree(sample_store.data_dir, data)
    monkeypatch.setenv("ITA_DATA_DIR", str(data))
    run = run_backtest("asia_fvg_break", "EURUSD", "2025-03-03", "2025-03-14", charts=False, html=False)
    row = RunStore().get_run(run.run_id)
    assert data_changed(row) is None
    s = CandleStore(data)
    bars = s.load("EURUSD", "M5", "2025-03-10", "2025-03-10 06:00")
    rows = [MT5_HEADER] + [
        f"{(t.tz_convert('Europe/Athens')).strftime('%Y.%m.%d %H:%M:%S')},{o:.5f},{h + 0.002:.5f},{lo:.5f},{c:.5f},100,0,0"
        for t, o, h, lo, c in zip(bars.index, bars.open, bars.high, bars.low, bars.close)]
    s.import_file(write(tmp_path / "fix.csv", rows), "EURUSD", "M5", "Europe/Athens", replace=True)
    note = data_changed(row)
    assert note and "changed since this run" in note and row["data_fingerprint"] in note
    assert "ita data history EURUSD" in note
    # the CLI, the show_run tool and the chat's answer say it too (they all read the tool)
    from typer.testing import CliRunner

    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig
    from ita.cli import app
    from ita.tools import show_run

    out = CliRunner().invoke(app, ["runs", "show", run.run_id], env={"COLUMNS": "250"})
    assert out.exit_code == 0 and "changed since this run" in out.stdout and row["data_fingerprint"] in out.stdout
    r = show_run(run_id=run.run_id)
    assert r.ok and r.data["data_changed"] == note and "changed since this run" in r.summary
    for text, word in ((f"show run {run.run_id}", "⚠ Note:"), (f"покажи прогон {run.run_id}", "⚠ Внимание:")):
        turn = ChatSession(f"t-{word}", AgentConfig.from_env(use_llm=False)).ask(text)
        assert word in turn.answer and "changed since this run" in turn.answer, turn.answer


def test_runs_show_of_an_unchanged_run_says_so(sample_store, monkeypatch):
    from typer.testing import CliRunner

    from ita.backtest.runner import run_backtest
    from ita.cli import app
    from ita.tools import show_run

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    run = run_backtest("asia_fvg_break", "EURUSD", "2025-03-03", "2025-03-14", charts=False, html=False)
    out = CliRunner().invoke(app, ["runs", "show", run.run_id], env={"COLUMNS": "250"})
    assert out.exit_code == 0 and "Data: the stored candles are the ones this run used." in out.stdout
    assert f"{run.run_id} · asia_fvg_break v1 · EURUSD" in out.stdout and "Artifacts:" in out.stdout
    r = show_run(run_id=run.run_id)
    assert r.ok and r.data["data_changed"] is None and "Note:" not in r.summary
    out = CliRunner().invoke(app, ["runs", "show", "bt_20990101_000000_abcdef"])
    assert out.exit_code == 2 and "bt_20990101_000000_abcdef" in out.stderr
