"""Intrabar resolution on M1 bars: hand-built M5 bars whose M1 path decides a bar touching both stop and target
(and the fill bar), the rule when the M1 bars cannot tell, real M5 data (the sample) with an M1 path consistent
with every bar: trades differ from stop-first only where a bar was ambiguous, and the run end to end through the
store (an M1 import makes the M5 series and the backtest uses the M1 bars)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.backtest.engine import ExecutionModel, simulate
from tests.test_engine_rules import PIP, T0, bars, order

M1 = pd.Timedelta(minutes=1)


def m1_path(t0: pd.Timestamp, points: list[float]) -> pd.DataFrame:
    """Five M1 bars from ``t0`` walking through ``points`` (6 prices: open, four turns, close), each bar from one
    point to the next."""
    assert len(points) == 6
    rows = [(a, max(a, b), min(a, b), b) for a, b in zip(points[:-1], points[1:])]
    idx = pd.DatetimeIndex([t0 + k * M1 for k in range(5)], name="time")
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)
    df["volume"], df["spread"] = 1.0, np.nan
    return df


def run(rows, od, lower=None, **model):
    m = ExecutionModel(pip_size=PIP, point=1e-5, **{"spread_pips": 0.0, **model})
    return simulate(bars(rows), od, m, lower=lower)[0]


# bar 0 fills the long limit 1.1000 without touching stop 1.0990 or target 1.1020; bar 1 touches both
ROWS = [(1.1003, 1.1004, 1.0999, 1.1002), (1.1002, 1.1025, 1.0985, 1.1000)]
T1 = T0 + pd.Timedelta(minutes=5)


@pytest.mark.parametrize("path, reason, r", [
    ([1.1002, 1.1025, 1.1010, 1.0985, 1.0995, 1.1000], "target", 2.0),     # up first: the target
    ([1.1002, 1.0985, 1.1000, 1.1025, 1.1010, 1.1000], "stop", -1.0),      # down first: the stop
])
def test_a_bar_touching_both_is_resolved_as_the_m1_path_says(path, reason, r):
    lower = m1_path(T1, path)
    t = run(ROWS, order(), lower=lower)
    assert (t.exit_reason.iloc[0], t.r.iloc[0], t.intrabar.iloc[0]) == (reason, pytest.approx(r), "M1")
    assert t.exit_time.iloc[0] == T1                                          # still the M5 bar's time
    # without M1: the rules decide, whatever happened inside
    assert run(ROWS, order()).exit_reason.iloc[0] == "stop"
    assert run(ROWS, order(), intrabar="target_first").exit_reason.iloc[0] == "target"
    assert run(ROWS, order()).intrabar.iloc[0] == "stop_first"


def test_m1_that_does_not_reproduce_the_bar_is_not_used():
    lower = m1_path(T1, [1.1002, 1.1021, 1.1010, 1.0991, 1.0995, 1.1000])     # misses the bar's 1.1025 / 1.0985
    t = run(ROWS, order(), lower=lower)
    assert (t.exit_reason.iloc[0], t.intrabar.iloc[0]) == ("stop", "stop_first")
    t = run(ROWS, order(), lower=m1_path(T1 + pd.Timedelta(days=1), [1.1002] * 6))   # no M1 inside the bar
    assert t.intrabar.iloc[0] == "stop_first"


def test_an_m1_bar_touching_both_falls_back_to_the_rule():
    lower = m1_path(T1, [1.1002, 1.1000, 1.1000, 1.1000, 1.1000, 1.1000])
    lower.iloc[2] = [1.1000, 1.1025, 1.0985, 1.1000, 1.0, np.nan]            # one M1 bar spans both levels
    t = run(ROWS, order(), lower=lower)
    assert (t.exit_reason.iloc[0], t.intrabar.iloc[0]) == ("stop", "stop_first")


def test_fill_bar_target_after_the_fill_on_m1():
    """The fill bar reaches the limit, then the target: stop_only cannot see the target on the fill bar; M1 can."""
    rows = [(1.1005, 1.1024, 1.0998, 1.1015), (1.1015, 1.1016, 1.1010, 1.1012)] + [(1.1012, 1.1013, 1.1011, 1.1012)] * 3
    no_m1 = run(rows, order(exit_by=5))
    assert no_m1.exit_reason.iloc[0] == "time" and no_m1.intrabar.iloc[0] == ""
    down_then_up = m1_path(T0, [1.1005, 1.1003, 1.0998, 1.1010, 1.1024, 1.1015])   # fills at M1 #2, target at #4
    t = run(rows, order(exit_by=5), lower=down_then_up)
    assert (t.exit_reason.iloc[0], t.exit_time.iloc[0], t.r.iloc[0], t.intrabar.iloc[0]) == (
        "target", T0, pytest.approx(2.0), "M1")
    up_then_down = m1_path(T0, [1.1005, 1.1024, 1.1015, 1.1003, 1.0998, 1.1015])   # target before the fill
    t = run(rows, order(exit_by=5), lower=up_then_down)
    assert t.exit_reason.iloc[0] == "time" and t.intrabar.iloc[0] == "M1"     # the target came before: no exit


def test_fill_bar_stop_only_rule_kept_on_the_m1_fill_bar():
    rows = [(1.1005, 1.1005, 1.0985, 1.0990), (1.0990, 1.0995, 1.0980, 1.0985)]
    lower = m1_path(T0, [1.1005, 1.1002, 1.0999, 1.0985, 1.0988, 1.0990])
    t = run(rows, order(), lower=lower)
    assert (t.exit_reason.iloc[0], t.r.iloc[0], t.intrabar.iloc[0]) == ("stop", pytest.approx(-1.0), "M1")


def test_short_side_uses_the_ask():
    od = order("short", entry=1.1000, sl=1.1010, tp=1.0980)
    rows = [(1.0997, 1.1001, 1.0996, 1.0998), (1.0998, 1.1012, 1.0975, 1.0990)]
    path_down_first = [1.0998, 1.0975, 1.0990, 1.1012, 1.1005, 1.0990]
    t = run(rows, od, lower=m1_path(T1, path_down_first))
    assert (t.exit_reason.iloc[0], t.intrabar.iloc[0]) == ("target", "M1")


# ---------------------------------------------------------------------------------------------- real data

def m1_consistent_with(m5: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """Five M1 bars per M5 bar, reproducing its open, high, low and close: open → first extreme → midpoint →
    second extreme → close → close, the order of the extremes drawn at random."""
    rng = np.random.default_rng(seed)
    o, h, lo, c = (m5[k].to_numpy() for k in ("open", "high", "low", "close"))
    up = rng.random(len(m5)) < 0.5
    a, b = np.where(up, h, lo), np.where(up, lo, h)
    pts = np.stack([o, a, (h + lo) / 2, b, c, c], axis=1)
    op, cl = pts[:, :-1].ravel(), pts[:, 1:].ravel()
    idx = (m5.index.as_unit("ns").asi8[:, None] + np.arange(5) * M1.value).ravel()
    out = pd.DataFrame({"open": op, "high": np.maximum(op, cl), "low": np.minimum(op, cl), "close": cl},
                       index=pd.DatetimeIndex(idx, tz="UTC", name="time"))
    out["volume"], out["spread"] = 1.0, np.nan
    return out


@pytest.mark.parametrize("setup_id", ["asia_fvg_break", "asia_sweep", "silver_bullet", "ib_raid"])
def test_on_real_data_m1_resolution_differs_from_stop_first_only_on_ambiguous_bars(eurusd_m5, setup_id):
    from ita.backtest import backtest
    from ita.setups import load_setup

    m5 = eurusd_m5.loc["2024-12-28":"2025-06-30"]
    lower = m1_consistent_with(m5)
    base = backtest(load_setup(setup_id), m5, "EURUSD", start="2025-01-01", end="2025-06-30", lower=lower)
    assert base.extra["intrabar"]["lower"] is None            # the shipped YAML says stop_first: M1 unused
    res = backtest(load_setup(setup_id, params={"execution.intrabar": "lower_timeframe"}), m5, "EURUSD",
                   start="2025-01-01", end="2025-06-30", lower=lower)
    assert res.extra["intrabar"]["lower"] == "M1"
    a, b = base.trades.set_index("signal_id"), res.trades.set_index("signal_id")
    assert list(a.index) == list(b.index)                     # the same orders fill at the same bars
    cols = ["entry_time", "entry_price", "exit_time", "exit_price", "exit_reason", "r"]
    same = (a[cols] == b[cols]).all(axis=1) | np.isclose(a["r"], b["r"]) & (a["exit_time"] == b["exit_time"])
    changed = b.index[~same]
    assert (b.loc[changed, "intrabar"] == "M1").all()          # every difference sits on an ambiguous bar
    if setup_id == "asia_fvg_break":                          # and there are some (the test can fail)
        assert len(changed) >= 1 and (b["intrabar"] == "M1").sum() >= 10
    assert (b.loc[b["intrabar"] == "", cols] == a.loc[b["intrabar"] == "", cols]).all().all()
    assert res.stats["Intrabar on M1"] == int((b["intrabar"] == "M1").sum())
    assert base.stats["Intrabar by Rule"] == int((a["intrabar"] == "stop_first").sum())
    assert res.stats["Intrabar by Rule"] == int(b["intrabar"].isin(["stop_first", "target_first"]).sum())


def test_run_backtest_uses_the_stored_m1_and_says_so(eurusd_m5, tmp_path, monkeypatch):
    """M1 imported (the store derives M5 from it): a setup with the default intrabar uses the M1 bars."""
    from ita.backtest.runner import run_backtest
    from ita.data.store import CandleStore

    monkeypatch.setenv("ITA_DATA_DIR", str(tmp_path / "data"))
    m1 = m1_consistent_with(eurusd_m5.loc["2025-02-20":"2025-03-31"])
    f = tmp_path / "EURUSD_M1.csv"
    w = m1.index.tz_convert("Europe/Athens").strftime("%Y.%m.%d %H:%M:%S")
    f.write_text("time,open,high,low,close\n" + "\n".join(
        f"{t},{r.open:.5f},{r.high:.5f},{r.low:.5f},{r.close:.5f}" for t, r in zip(w, m1.itertuples())) + "\n")
    res = CandleStore().import_file(f, "EURUSD")
    assert res.timeframe == "M1" and "M5" in res.derived
    run = run_backtest("asia_fvg_break", "EURUSD", "2025-03-01", "2025-03-31", charts=False, html=False,
                       params={"execution.intrabar": "lower_timeframe"})
    assert run.summary["intrabar"] == "lower_timeframe"
    assert run.summary["intrabar_resolution"].startswith("M1 bars")
    assert "Intrabar on M1" in run.summary["stats"]
    plain = run_backtest("asia_fvg_break", "EURUSD", "2025-03-01", "2025-03-31", charts=False, html=False)
    assert plain.summary["intrabar_resolution"] == "stop first"


# computed with the code of main before execution.intrabar got lower_timeframe as its default
OLD_HASHES = {  # setup: (content hash = SHA-256 of the YAML, effective hash)
    "asia_fvg_break": ("98b564cd11f0e71da59b1a5417271a2b0dde4378189dfc48cdf918d1ef04f565",
                       "4db312a0f80757aa61b64c22643a3c75a91e9e4d6f551fd02742ccf7c387a2f6"),
    "asia_sweep": ("8466bfc680006b800dfbab313c3d7f8526117138a857d9fe20003bb392aee3e7",
                   "f01be9d19dcacb52de40e14ba69891425efcbaaf3f8b80ce2baf3c31aceb1cde"),
    "fvg_reversal": ("f67eb542ba1f4a16578482ed765baae128b4a3bb0a42e9eac4409fc12b157443",
                     "dedd3c06f5aee8d51e0de4fb3a80b2cb4438999e9d4b07b4b6d7b2ab8c4beaac"),
    "ib_raid": ("b11fc9880a24bf024ffa18fb9e760aa36ee9e48352e14d7a1c6a97e3880947f3",
                "e1fb53b038e29b1a7d65f1ffc0c6bca0f855ef1dea5955b28fa5a1c778abdb5b"),
    "silver_bullet": ("80d7e210ad8f6391a9ece49cc075526ec1d156751cf9dd9d0b1bc3c32714b16f",
                      "20c882ca420f079ec68c45a7e812f61fe7d46170c6ab72dfb62801a5144b5114"),
}


@pytest.mark.parametrize("setup_id", list(OLD_HASHES))
def test_shipped_setup_hashes_are_unchanged(setup_id):
    from ita.setups.loader import load_setup

    loaded = load_setup(setup_id)                                   # the latest version, as computed
    assert (loaded.content_hash, loaded.effective_hash) == OLD_HASHES[setup_id]


def test_a_yaml_without_the_field_keeps_its_hash_and_gets_the_new_default(tmp_path):
    from ita.setups.loader import load_setup

    text = load_setup("asia_fvg_break").path.read_text(encoding="utf-8")
    d = tmp_path / "asia_fvg_break"
    d.mkdir()
    (d / "v1.yaml").write_text(text.split("execution:")[0] + "risk:" + text.split("risk:")[1], encoding="utf-8")
    bare = load_setup("asia_fvg_break", path=tmp_path)
    assert bare.setup.execution.intrabar == "lower_timeframe"
    assert bare.effective_hash == OLD_HASHES["asia_fvg_break"][1]       # as main hashed this very file
    (d / "v1.yaml").write_text(text.split("execution:")[0] + "execution: {intrabar: target_first}\nrisk:"
                               + text.split("risk:")[1], encoding="utf-8")
    assert load_setup("asia_fvg_break", path=tmp_path).effective_hash != bare.effective_hash
