"""The chat agent's tools (``ita.tools``) and their LangChain wrappers (``ita.tools.lc``), on real parts:
the sample MT5 data in a real candle store, a real SQLite run store in a temporary ``ITA_HOME``, real files.

PNG rendering (headless Chromium, ~5 s to start) is kept to one test; everything else runs with
``charts=False`` / ``chart=False``.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import pandas as pd
import pytest

import ita.format as fmt
import ita.tools as ita_tools
from ita.tools.results import ToolResult

EXPECTED_ARGS = {
    "list_setups": [],
    "show_setup": ["setup_id", "version"],
    "validate_setup": ["setup_id"],
    "data_coverage": ["symbol"],
    "load_candles": ["symbol", "timeframe", "start", "end"],
    "list_instruments": ["asset_class"],
    "show_instrument": ["symbol"],
    "run_detector": ["detector", "symbol", "start", "end", "timeframe", "params", "chart"],
    "evaluate_setup": ["setup_id", "symbol", "start", "end", "version", "params", "session"],
    "run_backtest": ["setup_id", "symbol", "start", "end", "version", "params", "session", "charts"],
    "explain_day": ["setup_id", "symbol", "day", "version"],
    "show_trade": ["trade", "run_id", "chart"],
    "render_chart": ["symbol", "time", "timeframe", "setup_id", "bars_before", "bars_after"],
    "compare_runs": ["run_a", "run_b"],
    "compare_versions": ["setup_id", "version_a", "version_b", "symbol", "start", "end"],
    "list_runs": ["limit"],
    "kb_search": ["query", "k"],                   # the theory library (ita/tools/kb.py)
    "portfolio_backtest": ["setup_ids", "symbols", "start", "end", "governor", "charts", "spread", "commission"],
    "promote_setup": ["setup_id", "version", "to", "dry_run", "symbols"],
}


@pytest.fixture
def data(sample_store, monkeypatch):
    """Reuse the session's imported sample data; runs and the SQLite store stay in the test's ITA_HOME."""
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


def ok(r: ToolResult) -> ToolResult:
    assert isinstance(r, ToolResult)
    assert r.ok, r.error
    assert r.error is None and r.summary
    return r


def failed(r: ToolResult, tool: str) -> str:
    assert isinstance(r, ToolResult) and r.tool == tool
    assert not r.ok and r.error and r.summary == r.error
    assert "Traceback" not in r.error and "\n" not in r.error
    return r.error


def bt(**kw) -> ToolResult:
    args = dict(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-01-01", end="2025-06-30", charts=False)
    args.update(kw)
    return ok(ita_tools.run_backtest(**args))


# ---------------------------------------------------------------------------------------------- the catalogue

def test_every_tool_is_registered_with_the_agreed_argument_names():
    assert list(ita_tools.TOOLS) == list(EXPECTED_ARGS)
    for name, args in EXPECTED_ARGS.items():
        fn = ita_tools.TOOLS[name]
        assert getattr(ita_tools, name) is fn
        assert list(inspect.signature(fn).parameters) == args, name
        assert list(ita_tools.ARG_MODELS[name].model_fields) == args, name
        for field, info in ita_tools.ARG_MODELS[name].model_fields.items():
            assert info.description, f"{name}.{field} has no description"


def test_bad_arguments_become_one_sentence_failures(data):
    assert failed(ita_tools.run_backtest(symbol="EURUSD"), "run_backtest") == \
        "run_backtest needs `setup_id`: Setup id, e.g. asia_fvg_break (see list_setups)."
    assert failed(ita_tools.load_candles(symbol="EURUSD", colour="red"), "load_candles") == \
        "load_candles does not take `colour`. It takes: symbol, timeframe, start, end."
    assert failed(ita_tools.show_trade(trade="twelve"), "show_trade") == \
        "Invalid trade 'twelve': input should be a valid integer, unable to parse string as an integer."
    assert failed(ita_tools.show_trade(trade=0), "show_trade") == \
        "Invalid trade 0: input should be greater than or equal to 1."
    assert failed(ita_tools.show_setup(setup_id="asia_fvg_break", version="latest"), "show_setup") == \
        "version 'latest' is not a version number like 1 or v1."
    assert failed(ita_tools.evaluate_setup("asia_fvg_break", "EURUSD", params="rr"), "evaluate_setup") == \
        "params 'rr': expected name=value pairs, e.g. rr=3."


def test_arguments_are_normalised(data):
    r = ok(ita_tools.evaluate_setup(setup_id=" asia_fvg_break ", symbol="eurusd", start="2025-03", end="2025-03",
                               version="v1", params="rr=3"))
    assert r.data["symbol"] == "EURUSD" and r.data["version"] == 1
    assert r.data["period"] == ["2025-03-01", "2025-03-31"]
    assert r.data["overrides"] == {"target.rr": 3}
    assert r.context == {"setup_id": "asia_fvg_break", "version": 1, "symbol": "EURUSD", "start": "2025-03-01",
                         "end": "2025-03-31", "params": {"rr": "3"}, "session": None}


# ---------------------------------------------------------------------------------------------- setups

def test_list_and_show_setups():
    r = ok(ita_tools.list_setups())
    ids = [s["setup_id"] for s in r.data["setups"]]
    assert {"asia_fvg_break", "fvg_reversal"} <= set(ids)
    assert next(s for s in r.data["setups"] if s["setup_id"] == "fvg_reversal")["versions"] == [1, 2]
    assert r.tables["setups"].columns == ["setup", "versions", "timeframe", "name", "hash", "status"]
    assert r.tables["setups"].rows[ids.index("fvg_reversal")][5] == "candidate"      # nothing promoted in a new home
    assert r.tables["setups"].rows[ids.index("fvg_reversal")][1] == "v1, v2"

    s = ok(ita_tools.show_setup(setup_id="asia_fvg_break"))
    assert s.data["version"] == 1 and len(s.data["setup_hash"]) == 64
    assert s.data["target"] == "2R" and s.data["entry"] == "limit at near_edge"
    assert "id: asia_fvg_break" in s.data["yaml"]
    assert [row[1] for row in s.tables["sequence"].rows] == ["break", "fvg"]
    assert s.context == {"setup_id": "asia_fvg_break", "version": 1}
    assert ok(ita_tools.show_setup("fvg_reversal", 1)).data["version"] == 1


def test_unknown_setup_and_version(tmp_path):
    from ita.config import settings

    err = failed(ita_tools.show_setup(setup_id="asia_fvg_brake"), "show_setup")
    assert err == ("Unknown setup 'asia_fvg_brake'. Did you mean: asia_fvg_break? Known setups: asia_fvg_break, "
                   f"asia_sweep, fvg_reversal, ib_raid, silver_bullet (in {settings().setups_dir}).")
    assert failed(ita_tools.show_setup("fvg_reversal", 7), "show_setup") == "fvg_reversal has no version 7; versions: v1, v2."


def test_validate_setup_by_id_and_by_path(tmp_path):
    r = ok(ita_tools.validate_setup(setup_id="fvg_reversal"))
    assert r.data["valid"] and [f["setup"] for f in r.data["files"]] == ["fvg_reversal v1", "fvg_reversal v2"]
    assert r.context == {"setup_id": "fvg_reversal"}

    good = Path(ita_tools.show_setup("asia_fvg_break").data["path"])
    assert ok(ita_tools.validate_setup(str(good))).data["valid"]

    bad = tmp_path / "broken.yaml"
    bad.write_text(good.read_text(encoding="utf-8").replace("    min_gap_pips: 1.0", "    min_gap_pip: 1.0"),
                   encoding="utf-8")
    r = ok(ita_tools.validate_setup(setup_id=str(bad)))
    assert r.data["valid"] is False
    err = r.data["files"][0]["errors"][0]
    assert err.startswith(f"{bad}:") and "detectors.fvg" in err and "unknown field 'min_gap_pip'" in err
    assert "Did you mean: min_gap_pips?" in err

    assert failed(ita_tools.validate_setup(setup_id="setups/nope.yaml"), "validate_setup") == "setups/nope.yaml: no such file."
    other = tmp_path / "notes.txt"
    other.write_text("id: x", encoding="utf-8")
    assert failed(ita_tools.validate_setup(str(other)), "validate_setup") == \
        f"{other} is not a setup file; setups are YAML files (.yaml)."
    assert failed(ita_tools.validate_setup(setup_id="nope"), "validate_setup").startswith("Unknown setup 'nope'.")


# ---------------------------------------------------------------------------------------------- data

def test_data_coverage(data):
    r = ok(ita_tools.data_coverage())
    assert [(s["symbol"], s["timeframe"]) for s in r.data["series"]] == [("EURUSD", "M5"), ("XAUUSD", "M5")]
    cat = data.catalog().set_index("symbol")
    assert r.data["series"][0]["bars"] == int(cat.loc["EURUSD", "bars"])
    assert r.tables["coverage"].rows[0][:2] == ["EURUSD", "M5"]

    r = ok(ita_tools.data_coverage(symbol="xauusd"))
    assert [s["symbol"] for s in r.data["series"]] == ["XAUUSD"] and r.context == {"symbol": "XAUUSD"}

    assert failed(ita_tools.data_coverage(symbol="EURUSDX"), "data_coverage") == (
        "Unknown symbol 'EURUSDX'. Did you mean: EURUSD? 36 symbols are known (`ita instruments list`). To add it, "
        "run `ita instruments add EURUSDX --pip 1 --digits 2 --spread 2 --contract 1 --sessions 23x5 --class index "
        "--quote USD` (check the values against your broker's contract specification).")
    assert failed(ita_tools.data_coverage(symbol="GBPUSD"), "data_coverage").startswith(
        "No candles stored for GBPUSD. Did you mean: ")


def test_load_candles(data):
    r = ok(ita_tools.load_candles(symbol="EURUSD", timeframe="H1", start="2025-03-03", end="2025-03-07"))
    h1 = data.load("EURUSD", "H1", "2025-03-03", "2025-03-07")
    assert r.data["bars"] == len(h1)
    assert r.data["high"] == pytest.approx(h1["high"].max()) and r.data["low"] == pytest.approx(h1["low"].min())
    assert r.data["high_time"] == h1["high"].idxmax().isoformat()
    assert r.data["avg_range_pips"] == pytest.approx(((h1["high"] - h1["low"]) / 1e-4).mean(), abs=0.01)
    assert r.data["first"] == h1.index[0].isoformat() and r.data["last"] == h1.index[-1].isoformat()
    assert dict(r.tables["candles"].rows)["high"].startswith(f"{h1['high'].max():.5f} (")
    assert r.context["symbol"] == "EURUSD" and r.context["start"] == "2025-03-03"

    assert failed(ita_tools.load_candles("EURUSD", start="2025-02-30"), "load_candles") == \
        "start '2025-02-30' is not a date; use YYYY-MM-DD, e.g. 2025-03-14."
    assert failed(ita_tools.load_candles("EURUSD", start="2025-03-10", end="2025-03-01"), "load_candles") == \
        "The period ends (2025-03-01) before it starts (2025-03-10)."
    assert failed(ita_tools.load_candles("EURUSD", timeframe="M7"), "load_candles") == \
        "Unknown timeframe 'M7'. Did you mean: M5, M1? Use one of: M1, M5, M15, M30, H1, H4, D1."
    assert failed(ita_tools.load_candles("EURUSD", start="2026-01-01"), "load_candles") == \
        "No EURUSD M5 bars in 2026-01-01 → the end; stored 2025-01-01 → 2025-11-06 (UTC)."


# ---------------------------------------------------------------------------------------------- detectors

def test_run_detector_counts_what_the_detector_finds(data):
    from ita.detectors import fvg

    r = ok(ita_tools.run_detector(detector="fvg", symbol="EURUSD", start="2025-03-10", end="2025-03-14",
                             params={"min_gap_pips": 1}, chart=False))
    m5 = data.load("EURUSD", "M5", "2025-02-28", "2025-03-14")
    ev = fvg(m5, 1e-4, 1.0, timeframe="M5")
    ev = ev[ev["confirmed_at"] >= pd.Timestamp("2025-03-10", tz="UTC")]
    assert r.data["count"] == len(ev) > 0
    assert r.data["by"] == {"bearish": int((ev.direction == "bearish").sum()), "bullish": int((ev.direction == "bullish").sum())}
    t = r.tables["events"]
    assert t.columns[:3] == ["time (NY)", "known (NY)", "direction"] and len(t.rows) == 10
    last = ev.sort_values("confirmed_at", kind="stable").iloc[-1]
    assert t.rows[-1][3] == f"{last.top:.5f}" and t.rows[-1][4] == f"{last.bottom:.5f}"
    assert r.data["params"] == {"min_gap_pips": 1.0, "mitigation": "touch", "join": "none", "require_displacement_close": False}
    assert r.artifacts == [] and r.context["detector"] == "fvg"


@pytest.mark.parametrize("detector", ita_tools.DETECTORS)
def test_every_detector_runs(data, detector):
    r = ok(ita_tools.run_detector(detector, "XAUUSD", "2025-03-10", "2025-03-12", chart=False))
    assert r.data["count"] == len(r.tables["events"].rows) or len(r.tables["events"].rows) == 10


def test_detector_aliases_and_bad_detector_input(data):
    assert ok(ita_tools.run_detector("Order Block", "EURUSD", "2025-03-10", "2025-03-10", chart=False)).data["detector"] == "order_blocks"
    assert failed(ita_tools.run_detector("fvgg", "EURUSD"), "run_detector") == (
        "Unknown detector 'fvgg'. Did you mean: fvg? Detectors: fvg, inverse_fvg, swings, structure, order_blocks, "
        "previous_levels, session_range, initial_balance, opening_levels, equal_levels, sweeps, atr.")
    assert failed(ita_tools.run_detector("fvg", "EURUSD", params={"mitigaton": "touch"}), "run_detector") == \
        "fvg has no parameter 'mitigaton'. Did you mean: mitigation? Parameters: min_gap_pips, mitigation, join, require_displacement_close."
    assert failed(ita_tools.run_detector("fvg", "EURUSD", params={"mitigation": "half"}), "run_detector") == \
        "fvg parameter mitigation='half' is not allowed; use one of: touch, midpoint, close_through."
    assert failed(ita_tools.run_detector("session_range", "EURUSD", params={"session": "asian"}), "run_detector").startswith(
        "Unknown session 'asian'. Did you mean: asia")


# ---------------------------------------------------------------------------------------------- signals & backtests

def test_run_backtest_numbers_equal_the_runner(data):
    from ita.backtest.runner import run_backtest
    from ita.store import json_scalar

    r = bt(params={"rr": 3})
    direct = run_backtest("asia_fvg_break", "EURUSD", "2025-01-01", "2025-06-30", params={"rr": 3}, charts=False,
                          html=False)
    assert r.data["stats"] == {k: json_scalar(v) for k, v in direct.stats.items()}
    s = r.data["stats"]
    assert s["Trades"] > 0
    stats = dict(r.tables["stats"].rows)
    assert list(stats) == ["Trades", "Wins", "Losses", "Win rate", "Total R", "Net profit", "Avg RR (winners)",
                           "Max drawdown", "Expectancy", "Profit factor"]
    assert stats["Trades"] == s["Trades"] and stats["Wins"] == s["Wins"] and stats["Losses"] == s["Losses"]
    assert stats["Win rate"] == f"{s['Win Rate [%]']:.1f} %"
    assert stats["Total R"] == fmt.fmt_r(s["Total R"]) and stats["Total R"].endswith(" R")
    assert stats["Profit factor"] == f"{s['Profit Factor']:.2f}"
    assert [row[0] for row in r.tables["by_month"].rows] == [str(m) for m in direct.result.by_month.index]
    assert sum(row[1] for row in r.tables["by_month"].rows) == s["Trades"]

    d = r.data
    assert d["setup_id"] == "asia_fvg_break" and d["version"] == 1 and d["setup_hash"] == direct.summary["setup_hash"]
    assert d["period"] == ["2025-01-01", "2025-06-30"] and d["overrides"] == {"target.rr": 3}
    assert d["run_id"].startswith("bt_") and d["run_id"] != direct.run_id
    assert r.context == {"setup_id": "asia_fvg_break", "version": 1, "symbol": "EURUSD", "start": "2025-01-01",
                         "end": "2025-06-30", "params": {"rr": 3}, "session": None, "run_id": d["run_id"]}
    assert [(a.kind, a.name) for a in r.artifacts] == [("file", "trades.csv")]
    assert Path(r.artifacts[0].path).is_file()
    trades = pd.read_csv(r.artifacts[0].path)
    assert len(trades) == s["Trades"]


def test_run_backtest_session_filter_and_whole_data_period(data):
    r = bt(session="london_killzone", start=None, end=None)
    assert r.data["period"] == ["2025-01-01", "2025-11-06"]  # all stored data, as New York trading days
    assert r.data["session"] == "london_killzone" and r.context["session"] == "london_killzone"
    assert r.data["stats"]["Trades"] < bt(start=None, end=None).data["stats"]["Trades"]


def test_run_backtest_bad_input(data):
    assert failed(ita_tools.run_backtest("asia_fvg_brake", "EURUSD", charts=False), "run_backtest").startswith(
        "Unknown setup 'asia_fvg_brake'. Did you mean: asia_fvg_break?")
    assert failed(ita_tools.run_backtest("asia_fvg_break", "EURUSX", charts=False), "run_backtest").startswith(
        "Unknown symbol 'EURUSX'. Did you mean: EURUSD?")
    assert failed(ita_tools.run_backtest("asia_fvg_break", "EURUSD", params={"rrr": 3}, charts=False), "run_backtest") == \
        "Override rrr: no such parameter. Did you mean: rr?"
    assert failed(ita_tools.run_backtest("asia_fvg_break", "EURUSD", start="2024-01-01", end="2024-06-30", charts=False),
                  "run_backtest") == "No EURUSD data in 2024-01-01 → 2024-06-30; stored 2025-01-01 → 2025-11-06: ask for a period inside it."
    assert failed(ita_tools.run_backtest("asia_fvg_break", "EURUSD", session="london_kz", charts=False),
                  "run_backtest").startswith("Unknown session 'london_kz'. Did you mean: london, london_killzone?")
    assert failed(ita_tools.run_backtest("asia_fvg_break", "EURUSD", start="01/02/2025"), "run_backtest") == \
        "start '01/02/2025' is not a date; use YYYY-MM-DD, e.g. 2025-03-14."
    assert ok(ita_tools.list_runs()).data["runs"] == []  # nothing stored by failed calls


def test_evaluate_setup_matches_the_backtest_signals(data):
    r = ok(ita_tools.evaluate_setup("asia_fvg_break", "EURUSD", "2025-01-01", "2025-06-30"))
    b = bt()
    assert r.data["signals"] == b.data["stats"]["Signals"] == r.data["long"] + r.data["short"]
    assert r.data["status"]["filled"] == b.data["stats"]["Trades"]
    t = r.tables["signals"]
    assert t.columns == ["day", "known (NY)", "direction", "entry type", "entry", "SL", "TP", "R:R", "order"]
    assert len(t.rows) == 10 and t.rows[-1][0] <= "2025-06-30" and t.rows[-1][7] == "2.0"


def test_explain_day(data):
    r = ok(ita_tools.explain_day("asia_fvg_break", "EURUSD", "2025-03-14"))
    assert r.data["traded"] is False and r.data["passed"] == 1 and r.data["failed_step"] == "sequence[1] fvg"
    assert r.data["reason"] == ("no bearish FVG with its third candle within 3 bars after the short break at 03:40 "
                                "(before 11:00)")
    assert r.context == {"setup_id": "asia_fvg_break", "version": 1, "symbol": "EURUSD", "day": "2025-03-14"}

    r = ok(ita_tools.explain_day(setup_id="asia_fvg_break", symbol="EURUSD", day="2025-01-06"))
    assert r.data["traded"] and r.data["direction"] == "long"
    assert r.data["signal"]["entry"] == "1.03221" and r.data["signal"]["known_at"] == "02:40"

    assert failed(ita_tools.explain_day("asia_fvg_break", "EURUSD", "2025-03-15"), "explain_day") == \
        "2025-03-15 (Sat) is not a trading day of asia_fvg_break with EURUSD data (days: Mon, Tue, Wed, Thu, Fri)."
    assert failed(ita_tools.explain_day("asia_fvg_break", "EURUSD", "15.03.2025"), "explain_day") == \
        "day '15.03.2025' is not a date; use YYYY-MM-DD, e.g. 2025-03-14."


# ---------------------------------------------------------------------------------------------- runs & trades

def test_show_trade_without_runs_and_out_of_range(data):
    assert failed(ita_tools.show_trade(12), "show_trade") == \
        "No backtest runs are stored yet; run one first, e.g. `backtest asia_fvg_break on EURUSD`."
    run_id = bt().data["run_id"]
    n = ok(ita_tools.list_runs()).data["runs"][0]["trades"]
    assert failed(ita_tools.show_trade(n + 1, chart=False), "show_trade") == \
        f"Run {run_id} has {n} trades; there is no trade {n + 1} (choose 1–{n})."
    assert failed(ita_tools.show_trade(1, run_id="bt_nope"), "show_trade") == "Unknown run 'bt_nope'. Try `list runs`."


def test_show_trade_returns_the_stored_row(data):
    b = bt()
    r = ok(ita_tools.show_trade(trade=3, chart=False))  # the latest run
    from ita.store import RunStore

    row = RunStore().trades(b.data["run_id"]).set_index("trade").loc[3]
    assert r.data["run_id"] == b.data["run_id"] and r.data["trade"] == 3
    assert r.data["row"]["entry_price"] == row["entry_price"] and r.data["row"]["r"] == row["r"]
    fields = dict(r.tables["trade"].rows)
    assert fields["stop loss"] == f"{row['sl_price']:.5f}" and fields["result"] == fmt.fmt_r(row["r"])
    assert r.context["run_id"] == b.data["run_id"] and r.context["trade"] == 3


def test_charts_backtest_show_trade_render_chart_and_detector(data):
    """The one test that renders PNGs (Chromium): the backtest's artifacts, a trade chart on demand, a chart
    around a time with a setup's events, and a detector chart."""
    r = bt(charts=True)
    names = [(a.kind, a.name) for a in r.artifacts]
    images = [n for k, n in names if k == "image"]
    assert images[0] == "equity.png" and len(images) == 4 and all(n.startswith("trade_") for n in images[1:])
    assert [n for k, n in names if k == "file"] == ["trades.csv", "report.html"]
    for a in r.artifacts:
        p = Path(a.path)
        assert p.is_file() and p.stat().st_size > 1000, a
        if a.kind == "image":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert r.data["sample_trades"] == [int(n[6:9]) for n in images[1:]]

    samples = set(r.data["sample_trades"])
    fresh = next(n for n in range(2, 99) if n not in samples)
    t = ok(ita_tools.show_trade(fresh))
    assert t.data["trade"] == fresh and len(t.artifacts) == 1
    png = Path(t.artifacts[0].path)
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.parent != Path(r.data["run_dir"])  # the run folder is never changed afterwards
    again = ok(ita_tools.show_trade(fresh))
    assert again.artifacts[0].path == str(png)  # cached
    own = ok(ita_tools.show_trade(min(samples)))
    assert Path(own.artifacts[0].path).parent == Path(r.data["run_dir"])  # the run's own PNG is reused

    c = ok(ita_tools.render_chart(symbol="EURUSD", time="2025-03-14 03:40", setup_id="asia_fvg_break", bars_before=40,
                             bars_after=20))
    assert c.data["bar"]["time"] == "2025-03-14T07:40:00+00:00"  # 03:40 New York (EDT) = 07:40 UTC
    assert c.data["bars"] == 61 and c.data["events_in_window"]["asia_range"] >= 1
    assert Path(c.artifacts[0].path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.context == {"symbol": "EURUSD", "time": "2025-03-14 03:40", "timeframe": "M5",
                         "setup_id": "asia_fvg_break", "version": 1}

    day = ok(ita_tools.render_chart("XAUUSD", "2025-03-14", timeframe="M15"))  # a bare date: 08:00 New York
    assert day.data["time_ny"] == "2025-03-14 08:00" and day.data["bar"]["time"] == "2025-03-14T12:00:00+00:00"

    d = ok(ita_tools.run_detector("fvg", "EURUSD", "2025-03-10", "2025-03-14"))
    assert len(d.artifacts) == 1 and Path(d.artifacts[0].path).is_file()


def test_render_chart_bad_input(data):
    assert failed(ita_tools.render_chart("EURUSD", "tomorrow"), "render_chart") == \
        "time 'tomorrow' is not a time; use 'YYYY-MM-DD HH:MM' (New York), e.g. 2025-03-12 08:30."
    assert failed(ita_tools.render_chart("EURUSD", "2025-12-25 08:30"), "render_chart") == \
        "No EURUSD M5 bars around 2025-12-25 08:30 NY; stored 2025-01-01 17:05 → 2025-11-06 12:00 NY."
    assert failed(ita_tools.render_chart("EURUSD", "2025-03-12 08:30", setup_id="nope"), "render_chart").startswith(
        "Unknown setup 'nope'.")


def test_list_and_compare_runs(data):
    assert ok(ita_tools.list_runs()).summary == "No backtest runs are stored yet."
    a = bt()
    b = bt(params={"rr": 3})
    runs = ok(ita_tools.list_runs(limit=5))
    assert [x["run_id"] for x in runs.data["runs"]] == [b.data["run_id"], a.data["run_id"]]
    assert runs.tables["runs"].rows[0][1] == "asia_fvg_break v1"

    c = ok(ita_tools.compare_runs(run_a=a.data["run_id"], run_b=b.data["run_id"]))
    sa, sb = a.data["stats"], b.data["stats"]
    assert c.tables["compare"].columns == ["metric", "A", "B", "Δ"]
    rows = {row[0]: row[1:] for row in c.tables["compare"].rows}
    assert rows["Trades"][:2] == [sa["Trades"], sb["Trades"]]
    assert rows["Total R"][2] == fmt.fmt_r(sb["Total R"] - sa["Total R"])
    assert c.data["delta"]["Total R"] == pytest.approx(sb["Total R"] - sa["Total R"])
    assert "target.rr" in c.data["b"]
    assert failed(ita_tools.compare_runs(a.data["run_id"], "bt_x"), "compare_runs") == "Unknown run 'bt_x'. Try `list runs`."


def test_compare_versions(data):
    r = ok(ita_tools.compare_versions(setup_id="fvg_reversal", version_a=1, version_b=2, symbol="EURUSD",
                                 start="2025-01-01", end="2025-06-30"))
    assert r.tables["compare"].columns == ["metric", "v1", "v2", "Δ"]
    assert [x["run_id"] for x in ok(ita_tools.list_runs()).data["runs"]] == [r.data["run_b"], r.data["run_a"]]
    from ita.backtest.runner import run_backtest

    for v, key in ((1, "stats_a"), (2, "stats_b")):
        direct = run_backtest("fvg_reversal", "EURUSD", "2025-01-01", "2025-06-30", version=v, charts=False, html=False)
        assert r.data[key]["Trades"] == direct.stats["Trades"]
        assert r.data[key]["Total R"] == pytest.approx(direct.stats["Total R"])
    changes = {row[0]: row[1:] for row in r.tables["changes"].rows}
    assert changes["sequence.1.detector"] == ["fvg", "ifvg"]
    assert changes["entry.at"] == ["midpoint", "near_edge"]
    assert changes["detectors.ifvg.inverse"] == ["—", "true"]
    assert r.data["run_a"] != r.data["run_b"] and r.context["version"] == 2 and r.context["run_id"] == r.data["run_b"]
    assert failed(ita_tools.compare_versions("fvg_reversal", 1, 3, "EURUSD"), "compare_versions") == \
        "fvg_reversal has no version 3; versions: v1, v2."


# ---------------------------------------------------------------------------------------------- LangChain

def test_langchain_wrappers_return_the_tool_result_as_artifact(data):
    from langchain_core.messages import ToolMessage
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from ita.tools.lc import MAX_CONTENT, TOOLS_BY_NAME, langchain_tools

    tools = langchain_tools()
    assert [t.name for t in tools] == list(EXPECTED_ARGS) == list(TOOLS_BY_NAME)
    for t in tools:
        assert t.description and t.response_format == "content_and_artifact"
        assert list(t.args) == EXPECTED_ARGS[t.name]
        for name, spec in t.args.items():
            assert spec.get("description"), f"{t.name}.{name}"
        fn = convert_to_openai_tool(t)["function"]
        assert fn["name"] == t.name and set(fn["parameters"]["properties"]) == set(EXPECTED_ARGS[t.name])
    assert "examples" in TOOLS_BY_NAME["run_backtest"].args["symbol"]
    assert set(TOOLS_BY_NAME["run_detector"].args["detector"]["enum"]) == set(ita_tools.DETECTORS)

    msg = TOOLS_BY_NAME["run_backtest"].invoke(
        {"name": "run_backtest", "args": {"setup_id": "asia_fvg_break", "symbol": "EURUSD", "start": "2025-01-01",
                                          "end": "2025-03-31", "charts": False},
         "id": "call_1", "type": "tool_call"})
    assert isinstance(msg, ToolMessage) and msg.tool_call_id == "call_1" and msg.name == "run_backtest"
    assert isinstance(msg.artifact, ToolResult) and msg.artifact.ok
    body = json.loads(msg.content)
    assert body["ok"] and body["summary"] == msg.artifact.summary
    assert body["data"]["run_id"] == msg.artifact.data["run_id"]
    assert body["data"]["stats"]["Trades"] == msg.artifact.data["stats"]["Trades"]
    assert len(msg.content) <= MAX_CONTENT and "tables" not in body

    bad = TOOLS_BY_NAME["show_trade"].invoke({"name": "show_trade", "args": {"trade": 1, "run_id": "bt_nope"},
                                              "id": "call_2", "type": "tool_call"})
    assert isinstance(bad.artifact, ToolResult) and not bad.artifact.ok
    assert json.loads(bad.content) == {"ok": False, "error": "Unknown run 'bt_nope'. Try `list runs`."}
    invalid = TOOLS_BY_NAME["load_candles"].invoke({"name": "load_candles", "args": {"symbol": "EURUSD",
                                                                                      "start": "March"},
                                                    "id": "call_3", "type": "tool_call"})
    assert invalid.artifact.error == "start 'March' is not a date; use YYYY-MM-DD, e.g. 2025-03-14."


def test_langchain_content_stays_short(data):
    from ita.tools.lc import MAX_CONTENT, content_for_model

    r = ok(ita_tools.show_setup("asia_sweep"))
    text = content_for_model(r)
    assert len(text) <= MAX_CONTENT
    body = json.loads(text)
    assert body["data"]["setup_id"] == "asia_sweep"
