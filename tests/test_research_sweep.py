"""Research sweeps (issue 13 item 1): grids, the detector cache, equality with `ita backtest --param`, ranking,
storage tied to the setup hash and grid, bad input, and `ita setups new-version --from-sweep`."""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.errors import ItaError, SetupError
from ita.research.executor import Executor
from ita.research.grid import parse_values, resolve_path
from ita.research.store import ResearchStore
from ita.research.sweep import prepare, rank_variants, sweep
from tests.conftest import REPO

GRID = {"rr": "1.5,2,3", "fvg.min_gap_pips": "0.5:1.5:0.5"}


@pytest.fixture
def store_dir(sample_store, monkeypatch):
    """The session's imported sample candles (no re-import per test)."""
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


@pytest.fixture
def setups_dir(tmp_path, monkeypatch):
    d = tmp_path / "setups"
    shutil.copytree(REPO / "setups", d)
    monkeypatch.setenv("ITA_SETUPS_DIR", str(d))
    return d


def test_grid_values():
    assert parse_values("0.5:2:0.5") == [0.5, 1.0, 1.5, 2.0]
    assert parse_values("1:4:1") == [1, 2, 3, 4]
    assert parse_values("1.5,2,2.5,3") == [1.5, 2, 2.5, 3]
    assert parse_values("close,wick") == ["close", "wick"]
    assert parse_values("10:30,11:00") == ["10:30", "11:00"]  # times stay text
    with pytest.raises(ItaError, match="step must be > 0"):
        parse_values("2:1:0.5")


def test_paths_resolve_or_name_the_valid_ones():
    import yaml

    raw = yaml.safe_load((REPO / "setups/asia_fvg_break/v1.yaml").read_text())
    assert resolve_path(raw, "rr") == "target.rr"
    assert resolve_path(raw, "fvg.min_gap_pips") == "detectors.fvg.min_gap_pips"
    assert resolve_path(raw, "detectors.fvg.min_gap_pips") == "detectors.fvg.min_gap_pips"
    with pytest.raises(SetupError) as e:
        resolve_path(raw, "fvg.min_gap")
    assert "detectors.fvg.min_gap_pips" in str(e.value) and "target.rr" in str(e.value)


def test_wrong_type_names_path_type_and_value(store_dir):
    with pytest.raises(SetupError) as e:
        prepare("asia_fvg_break", "EURUSD", "2025-01-01", "2025-01-31", grid={"rr": "2,abc"})
    msg = str(e.value)
    assert "target.rr='abc'" in msg and "a number" in msg and "2.0" in msg
    with pytest.raises(SetupError, match="greater than 0"):
        prepare("asia_fvg_break", "EURUSD", "2025-01-01", "2025-01-31", grid={"rr": "-1,2"})


def test_huge_grid_needs_confirmation_and_stores_nothing(store_dir):
    with pytest.raises(ItaError) as e:
        sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-01-31",
              grid={"rr": "1:101:1", "fvg.min_gap_pips": "0.1:10:0.1"})
    assert "10,100 variants" in str(e.value) and "--yes" in str(e.value)
    assert ResearchStore().sweeps().empty


def test_sweep_equals_backtest_with_params_trade_by_trade(store_dir):
    from ita.backtest.runner import run_backtest

    out = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-06-30", grid=GRID, min_trades=10, charts=False)
    assert len(out.variants) == 9 and all(v["status"] == "ok" for v in out.variants)
    # the stored variants are the ones returned
    stored = ResearchStore().variants(out.sweep_id)
    assert [v["params"] for v in stored] == [v["params"] for v in out.variants]
    for v in out.variants:  # every variant: the rr variants re-price targets of a shared walk
        run = run_backtest("asia_fvg_break", "EURUSD", "2025-01-01", "2025-06-30", params=v["params"], charts=False,
                           html=False)
        tr = run.trades
        assert v["trades"] == len(tr)
        assert v["t_r"] == pytest.approx(tr["r"].tolist(), abs=1e-12)
        assert v["t_entry"] == [int(t.timestamp()) for t in tr["entry_time"]]
        days = [str(out.days[d].date()) for d in v["t_day"]]
        assert days == [str(d)[:10] for d in tr["day"]]
        assert v["total_r"] == pytest.approx(run.stats["Total R"])
        assert v["effective_hash"] == run.result.setup.effective_hash


def test_ranking_min_trades_and_storage(store_dir):
    out = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-03-31", grid={"rr": "1.5,2,3"}, min_trades=10,
                objective="expectancy", charts=False)
    ranked = out.ranked()
    assert [v["rank"] for v in ranked] == list(range(1, len(ranked) + 1))
    vals = [v["expectancy"] for v in ranked]
    assert vals == sorted(vals, reverse=True)
    row = ResearchStore().get_sweep(out.sweep_id)
    assert row["setup_hash"] == out.row["setup_hash"] and len(row["setup_hash"]) == 64
    assert row["grid"] == {"target.rr": [1.5, 2, 3]} and row["status"] == "complete"
    assert (out.folder / "variants.csv").is_file() and (out.folder / "heatmap.html").is_file()
    two = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid={"rr": "2,3", "fvg.min_gap_pips": "1,2",
                "within_bars": "2,3"}, min_trades=1, charts=False, heatmap=("within_bars", "rr"))
    html = (two.folder / "heatmap.html").read_text()
    assert "sequence.1.within_bars" in html and not two.warnings
    bad = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid={"rr": "2,3"}, min_trades=1,
                charts=False, heatmap=("rr", "nope"))
    assert "--heatmap rr,nope" in bad.warnings[0]
    # below min_trades: shown, never ranked
    rank_variants(out.variants, "total_r", min_trades=10_000)
    assert all(v["rank"] is None for v in out.variants)


def test_a_failing_variant_is_recorded_and_the_rest_continue(store_dir):
    prep = prepare("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid={"rr": "2,3"})
    with Executor() as ex:
        res, interrupted = ex.run(prep.spec, prep.candles, [(0, {"target.rr": 2}), (1, {"target.rr": -1}),
                                                            (2, {"target.rr": 3})])
    assert not interrupted and [v["status"] for v in res] == ["ok", "failed", "ok"]
    assert "target.rr" in res[1]["error"] and "greater than 0" in res[1]["error"]


def test_new_version_from_sweep(store_dir, setups_dir):
    out = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-03-31", grid={"rr": "1.5,3"}, min_trades=5,
                charts=False)
    best = out.best
    r = CliRunner().invoke(app, ["setups", "new-version", "asia_fvg_break", "--from-sweep", out.sweep_id, "--rank", "1"])
    assert r.exit_code == 0, r.output
    v2 = (setups_dir / "asia_fvg_break" / "v2.yaml").read_text()
    assert f"rr: {float(best['params']['target.rr'])}" in v2 or f"rr: {best['params']['target.rr']}" in v2
    assert (setups_dir / "asia_fvg_break" / "v1.yaml").read_text() == (REPO / "setups/asia_fvg_break/v1.yaml").read_text()
    bad = CliRunner().invoke(app, ["setups", "new-version", "asia_fvg_break", "--from-sweep", out.sweep_id, "--rank", "99"])
    assert bad.exit_code == 2 and "no variant ranked 99" in bad.output


def test_sqlite_rows_are_whole(store_dir):
    out = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid={"rr": "2,3"}, min_trades=1, charts=False)
    con = sqlite3.connect(ResearchStore().path)
    n = con.execute("select count(*) from sweep_variants where sweep_id = ?", [out.sweep_id]).fetchone()[0]
    assert n == 2
    params = [json.loads(p) for (p,) in con.execute("select params from sweep_variants where sweep_id = ? "
                                                     "order by variant", [out.sweep_id])]
    assert params == [{"target.rr": 2}, {"target.rr": 3}]


def test_random_and_optuna_searches_are_reproducible(store_dir):
    grid = {"rr": "1:3:0.5", "fvg.min_gap_pips": "0.5,1,1.5"}
    a = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid=grid, search="random", trials=4,
              min_trades=1, charts=False)
    b = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid=grid, search="random", trials=4,
              min_trades=1, charts=False)
    assert len(a.variants) == 4 and [v["params"] for v in a.variants] == [v["params"] for v in b.variants]
    o1 = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid=grid, search="optuna", trials=6,
               min_trades=1, charts=False)
    o2 = sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid=grid, search="optuna", trials=6,
               min_trades=1, charts=False)
    assert len(o1.variants) == 6 and len({json.dumps(v["params"], sort_keys=True) for v in o1.variants}) == 6
    assert [v["params"] for v in o1.variants] == [v["params"] for v in o2.variants]
    with pytest.raises(ItaError, match="--trials"):
        sweep("asia_fvg_break", "EURUSD", "2025-01-01", "2025-02-28", grid=grid, search="random")


def test_cli_research_commands(store_dir):
    runner = CliRunner()
    r = runner.invoke(app, ["research", "sweep", "asia_fvg_break", "--from", "2025-01-01", "--to", "2025-02-28",
                            "--grid", "rr=2,3", "--min-trades", "5", "--no-charts"])
    assert r.exit_code == 0, r.output
    assert "Sweep sw_" in r.output and "Deflated Sharpe" in r.output and "--from-sweep" in r.output
    bad = runner.invoke(app, ["research", "sweep", "asia_fvg_break", "--grid", "fvg.min_gap=1,2"])
    assert bad.exit_code == 2 and "detectors.fvg.min_gap_pips" in bad.output
    lst = runner.invoke(app, ["research", "list"])
    assert lst.exit_code == 0 and "sw_" in lst.output
    import re

    sid = re.search(r"Sweep (sw_\w+):", r.output).group(1)
    show = runner.invoke(app, ["research", "show", sid, "--top", "2"])
    assert show.exit_code == 0 and "target.rr = 2, 3" in show.output and "Top 2 of" in show.output
    assert runner.invoke(app, ["research", "show", "sw_nope"]).exit_code == 2
    none = runner.invoke(app, ["research", "montecarlo"])
    assert none.exit_code == 2 and "No backtest runs" in none.output
    bt = runner.invoke(app, ["backtest", "asia_fvg_break", "--from", "2025-01-01", "--to", "2025-03-31",
                             "--no-charts", "--no-html"])
    assert bt.exit_code == 0, bt.output
    mc = runner.invoke(app, ["research", "montecarlo", "--n", "500", "--no-charts", "--dd", "5,10"])
    assert mc.exit_code == 0, mc.output
    assert "Max drawdown" in mc.output and "> 10 R" in mc.output and "fan.html" in mc.output
    ch = runner.invoke(app, ["research", "challenge", "--rules", "ftmo_2step", "--risk", "0.5,1", "--n", "300",
                             "--no-charts"])
    assert ch.exit_code == 0, ch.output
    assert "confirm" in ch.output and "fail daily" in ch.output
    unk = runner.invoke(app, ["research", "challenge", "--rules", "ftmo"])
    assert unk.exit_code == 2 and "ftmo_2step" in unk.output
    wf = runner.invoke(app, ["research", "walk-forward", "asia_fvg_break", "--from", "2025-01-01", "--to",
                             "2025-03-31", "--train", "6M", "--grid", "rr=2,3"])
    assert wf.exit_code == 2 and "too short" in wf.output


def test_sweep_resolves_intrabar_on_stored_m1_like_backtest(eurusd_m5, tmp_path, monkeypatch):
    """With M1 stored, a variant whose execution.intrabar is lower_timeframe resolves ambiguous bars on the M1 bars,
    exactly as `ita backtest --param` does (trade by trade); the stop-first variants do not."""
    from ita.backtest.runner import run_backtest
    from ita.data.store import CandleStore
    from tests.test_intrabar import m1_consistent_with

    monkeypatch.setenv("ITA_DATA_DIR", str(tmp_path / "data"))
    m1 = m1_consistent_with(eurusd_m5.loc["2024-12-28":"2025-06-30"], seed=5)
    f = tmp_path / "EURUSD_M1.csv"
    w = m1.index.tz_convert("Europe/Athens").strftime("%Y.%m.%d %H:%M:%S")
    f.write_text("time,open,high,low,close\n" + "\n".join(
        f"{t},{r.open:.5f},{r.high:.5f},{r.low:.5f},{r.close:.5f}" for t, r in zip(w, m1.itertuples())) + "\n")
    CandleStore().import_file(f, "EURUSD")
    grid = {"rr": "2,3", "execution.intrabar": "stop_first,lower_timeframe"}
    out = sweep("asia_fvg_break", "EURUSD", "2025-01-06", "2025-06-27", grid=grid, min_trades=1, charts=False)
    on_m1 = 0
    for v in out.variants:
        run = run_backtest("asia_fvg_break", "EURUSD", "2025-01-06", "2025-06-27", params=v["params"], charts=False,
                           html=False)
        assert v["t_r"] == pytest.approx(run.trades["r"].tolist(), abs=1e-12)
        if v["params"]["execution.intrabar"] == "lower_timeframe":
            on_m1 += int((run.trades["intrabar"] == "M1").sum())
        else:
            assert not (run.trades["intrabar"] == "M1").any()
    assert on_m1 >= 1                     # some bars were ambiguous, so the comparison above could fail


def test_rr_in_a_grid_is_the_setups_rr_even_with_a_level_target(store_dir):
    """asia_sweep and ib_raid aim at a level with a minimum R:R (target.min_rr): "rr" names that, as the chat
    and `--grid rr=…` mean it (it used to fail with "no such parameter"); other keys resolve as before."""
    from ita.tools import run_sweep
    from ita.tools.research import resolve_grid_keys

    assert resolve_grid_keys("asia_sweep", None, {"rr": "1.5,2"}) == {"target.min_rr": "1.5,2"}
    assert resolve_grid_keys("ib_raid", None, {}) == {"target.min_rr": None}
    assert resolve_grid_keys("asia_fvg_break", None, {"rr": None, "min_gap_pips": "1,2"}) == {
        "target.rr": None, "detectors.fvg.min_gap_pips": "1,2"}
    assert resolve_grid_keys("fvg_reversal", None, {"min_gap_pips": "1,2"}) == {"detectors.ifvg.min_gap_pips": "1,2"}
    with pytest.raises(SetupError, match="same parameter"):
        resolve_grid_keys("asia_fvg_break", None, {"rr": "2,3", "target.rr": "4"})
    with pytest.raises(SetupError, match="no such parameter"):
        resolve_grid_keys("asia_sweep", None, {"min_gap": "1,2"})
    r = run_sweep(setup_id="asia_sweep", symbol="EURUSD", start="2025-01-01", end="2025-02-28",
                  grid={"rr": "1.5,2"}, min_trades=0, charts=False)
    assert r.ok, r.error
    assert r.data["grid"] == {"target.min_rr": [1.5, 2]}
