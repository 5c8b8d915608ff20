"""The generalised setup language: every step kind, entry/stop/target type, time filter and the
multi-timeframe rule, on hand-built candles (answers worked out by hand) and on the real sample
(answers recomputed independently from the raw bars)."""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
import talib

from ita.backtest.core import backtest
from ita.data.resample import resample
from ita.detectors import previous_period_levels, session_range, structure_breaks, swings
from ita.errors import SetupError
from ita.sessions import get_session
from ita.setups import evaluate, explain, list_setups, load_setup
from ita.setups.events import Context
from ita.data.instruments import get_instrument
from tests.helpers import STEP, assert_same, knowable, prefix

NY = "America/New_York"
PIP = 1e-4


def setup_file(tmp_path, text: str, setup_id: str = "probe"):
    p = tmp_path / "setups" / setup_id / "v1.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_setup(setup_id, path=tmp_path / "setups")


def ny_bars(day: str, rows: list[tuple[str, float, float, float, float]], fill=(1.1004, 1.1006, 1.1002, 1.1004)):
    """M5 bars from 19:00 NY the evening before ``day`` to 12:00 NY on it; ``rows`` override bars by NY
    time ``"HH:MM"`` (``"-HH:MM"`` = the evening before)."""
    d = pd.Timestamp(day)
    idx = pd.date_range(d - pd.Timedelta(hours=5), d + pd.Timedelta(hours=12), freq="5min", inclusive="left", tz=NY)
    df = pd.DataFrame([fill] * len(idx), columns=["open", "high", "low", "close"], index=idx)
    for hhmm, *ohlc in rows:
        prev = hhmm.startswith("-")
        h, m = map(int, hhmm.lstrip("-").split(":"))
        ts = (d - pd.Timedelta(days=1) if prev else d) + pd.Timedelta(hours=h, minutes=m)
        df.loc[ts.tz_localize(NY)] = ohlc
    df.index = df.index.tz_convert("UTC").rename("time")
    df["volume"], df["spread"] = 1.0, 0.0
    return df


SWEEP_SETUP = """
    id: probe
    version: 1
    name: probe
    detectors:
      asia_range: {kind: session_range, session: asia}
    sequence:
      - {step: sweep, of: asia_range, reclaim_bars: 3, session: london_killzone}
    entry: {type: market}
    stop: {type: beyond_sweep, buffer_pips: 1.0}
    target: {type: session_extreme, range: asia_range, min_rr: MINRR}
    order: {valid_until: "11:00"}
    management: {flat_at: "11:00"}
    execution: {fill_bar: stop_and_target}
"""


def sweep_day():
    # Asia (20:00-00:00 NY on Mar 4) spans 1.1000-1.1010; at 02:30 NY a wick to 1.1016 closes above the
    # high (no reclaim yet), 02:35 closes back inside at 1.1007: a buy-side sweep -> short bias.
    rows = [("-20:00", 1.1004, 1.1010, 1.1000, 1.1005),
            ("02:30", 1.1006, 1.1016, 1.1005, 1.1012), ("02:35", 1.1012, 1.1014, 1.1006, 1.1007),
            ("02:40", 1.1007, 1.1008, 1.1003, 1.1004), ("03:00", 1.1004, 1.1005, 1.1000, 1.1001)]  # touches the Asia low, no sweep
    return ny_bars("2025-03-05", rows)


def test_sweep_market_entry_stop_beyond_sweep_target_session_extreme(tmp_path):
    m5 = sweep_day()
    sig = evaluate(setup_file(tmp_path, SWEEP_SETUP.replace("MINRR", "0.5")), m5, "EURUSD")
    assert len(sig) == 1
    s = sig.iloc[0]
    assert s.direction == "short" and s.entry_type == "market"
    assert s.time == pd.Timestamp("2025-03-05 07:35", tz="UTC")          # 02:35 NY (EST), the reclaim bar
    assert s.known_at == pd.Timestamp("2025-03-05 07:40", tz="UTC")
    assert s.entry_price == pytest.approx(1.1007)                          # its close (planned price)
    assert s.sl_price == pytest.approx(1.1017)                             # sweep extreme 1.1016 + 1 pip
    assert s.tp_price == pytest.approx(1.1000)                             # the Asia low
    assert s.meta["sweep"]["extreme"] == pytest.approx(1.1016) and s.meta["range"]["low"] == pytest.approx(1.1)
    res = backtest(setup_file(tmp_path, SWEEP_SETUP.replace("MINRR", "0.5")), m5, "EURUSD", spread_pips=0)
    t = res.trades.iloc[0]
    assert t.entry_time == pd.Timestamp("2025-03-05 07:40", tz="UTC") and t.entry_price == pytest.approx(1.1007)
    assert t.exit_reason == "target" and t.exit_time == pd.Timestamp("2025-03-05 08:00", tz="UTC")


def test_level_target_below_min_rr_rejects_the_signal_with_a_reason(tmp_path):
    loaded = setup_file(tmp_path, SWEEP_SETUP.replace("MINRR", "1.0"))
    assert evaluate(loaded, sweep_day(), "EURUSD").empty
    why = explain(loaded, sweep_day(), "EURUSD").set_index("day").loc["2025-03-05"]
    assert why.failed_step == "target" and why.passed == 1 and why.direction == "short"
    assert "only 0.70R (min_rr 1)" in why.reason


def test_stop_entry_at_signal_bar_and_time_stop(tmp_path):
    text = SWEEP_SETUP.replace("MINRR", "0.4").replace("entry: {type: market}",
                                                       "entry: {type: stop, at: signal_bar, buffer_pips: 0.5}")
    text = text.replace('management: {flat_at: "11:00"}', 'management: {flat_at: "11:00", max_bars: 2}')
    loaded = setup_file(tmp_path, text)
    s = evaluate(loaded, sweep_day(), "EURUSD").iloc[0]
    assert s.entry_type == "stop" and s.entry_price == pytest.approx(1.1006 - 0.00005)  # low of 02:35 − 0.5 pip
    assert s.max_bars == 2
    t = backtest(loaded, sweep_day(), "EURUSD", spread_pips=0).trades.iloc[0]
    # the 02:40 bar trades down to 1.10055 (fill), the 02:45 bar is the second held: time stop at its close
    assert t.entry_time == pd.Timestamp("2025-03-05 07:40", tz="UTC") and t.bars_held == 2
    assert t.exit_reason == "time" and t.exit_price == pytest.approx(1.1004)


def test_first_step_window_and_weekday_filter(tmp_path):
    m5 = sweep_day()
    late = SWEEP_SETUP.replace("MINRR", "0.5").replace("session: london_killzone", 'window: {start: "03:00", end: "05:00"}')
    assert evaluate(setup_file(tmp_path, late), m5, "EURUSD").empty                     # 02:35 is outside
    why = explain(setup_file(tmp_path, late), m5, "EURUSD").set_index("day").loc["2025-03-05"]
    assert why.failed_step == "sequence[0] sweep" and "between 03:00 and 05:00" in why.reason
    no_wed = SWEEP_SETUP.replace("MINRR", "0.5").replace("    name: probe\n", "    name: probe\n    days: [Mon, Tue, Thu, Fri]\n")
    assert evaluate(setup_file(tmp_path, no_wed), m5, "EURUSD").empty


def test_window_in_its_own_time_zone(tmp_path):
    # 08:35 Berlin = 07:35 UTC = 02:35 NY on 2025-03-05: a Berlin window 08:30-09:00 contains the reclaim bar
    text = SWEEP_SETUP.replace("MINRR", "0.5").replace(
        "session: london_killzone", 'window: {start: "08:30", end: "09:00", timezone: Europe/Berlin}')
    assert len(evaluate(setup_file(tmp_path, text), sweep_day(), "EURUSD")) == 1
    text = text.replace('"08:30", end: "09:00"', '"08:40", end: "09:00"')
    assert evaluate(setup_file(tmp_path, text), sweep_day(), "EURUSD").empty


# ---- multi-timeframe: an H1 bar is visible only after it closed ----------------------------------------

def test_htf_rows_are_usable_from_the_execution_bar_closing_with_them(eurusd_m5):
    s = load_setup("silver_bullet").setup
    cut = eurusd_m5.loc[:"2025-03-12 14:25"]                   # ends inside the 14:00 UTC H1 bar
    ctx = Context(s, cut, get_instrument("EURUSD"))
    h1, _ = ctx.frame("H1")
    assert h1.index[-1] == pd.Timestamp("2025-03-12 13:00", tz="UTC")  # the running 14:00 bar is not there
    assert (h1 == resample(eurusd_m5, "H1").loc[h1.index]).all().all()
    kb = ctx.known_bar(pd.DatetimeIndex([pd.Timestamp("2025-03-12 14:00", tz="UTC")]))[0]
    assert cut.index[kb] == pd.Timestamp("2025-03-12 13:55", tz="UTC")  # its close is 14:00


def test_silver_bullet_trend_filter_matches_h1_structure_known_at_the_signal(eurusd_m5):
    loaded = load_setup("silver_bullet")
    sig = evaluate(loaded, eurusd_m5, "EURUSD")
    assert len(sig) > 30
    h1 = resample(eurusd_m5, "H1")
    for s in sig.iloc[::7].itertuples():
        closed = h1[h1.index + pd.Timedelta(hours=1) <= s.known_at]        # H1 bars closed by the decision
        brk = structure_breaks(closed, swings(closed, 2, 2, timeframe="H1"), by="close", timeframe="H1")
        last = brk[brk["confirmed_at"] <= s.known_at].iloc[-1]
        assert ("long" if last.direction == "bullish" else "short") == s.direction, s.signal_id
        t_ny = s.time.tz_convert(NY)
        assert 10 <= t_ny.hour < 11                                         # FVG third candle in 10:00-11:00
    why = explain(loaded, eurusd_m5, "EURUSD")
    assert (why["failed_step"] == "sequence[1] trend").sum() > 20
    assert why.loc[why.failed_step == "sequence[1] trend", "reason"].str.contains("not with bias").all()


# ---- real data: entry/stop/target types recomputed from the raw bars -----------------------------------

RICH = """
    id: probe
    version: 1
    name: probe
    detectors:
      pd: {kind: previous_levels, period: D}
      asia: {kind: session_range, session: asia}
      fvg: {kind: fvg, min_gap_pips: 1.0}
      atr: {kind: atr, period: 14}
      sw: {kind: swings, left: 2, right: 2}
    sequence:
      - {step: sweep, of: pd, reclaim_bars: 3, window: {start: "02:00", end: "11:00"}}
      - {step: fvg, detector: fvg, within_bars: 6}
    entry: ENTRY
    stop: STOP
    target: TARGET
    order: {valid_until: "12:00"}
    management: {flat_at: "16:00"}
"""


def rich(tmp_path, entry="{type: limit, at: midpoint}", stop="{type: beyond_sweep, buffer_pips: 1.0}",
         target="{type: rr, rr: 2.5}"):
    return setup_file(tmp_path, RICH.replace("ENTRY", entry).replace("STOP", stop).replace("TARGET", target))


def test_rich_setup_equals_fvg_reversal_v1(tmp_path, eurusd_m5):
    a = evaluate(rich(tmp_path), eurusd_m5, "EURUSD")
    b = evaluate(load_setup("fvg_reversal", 1), eurusd_m5, "EURUSD")
    assert len(a) > 10
    cols = ["time", "direction", "entry_price", "sl_price", "tp_price", "expires_at", "exit_by"]
    assert_same(a[cols], b[cols])


def test_stop_entry_atr_stop_on_real_data(tmp_path, eurusd_m5):
    sig = evaluate(rich(tmp_path, entry="{type: stop, at: signal_bar, buffer_pips: 0.5}",
                        stop="{type: atr, atr: atr, multiple: 1.5}"), eurusd_m5, "EURUSD")
    assert len(sig) > 10
    a = talib.ATR(*(eurusd_m5[c].to_numpy() for c in ("high", "low", "close")), timeperiod=14)
    for s in sig.itertuples():
        i = eurusd_m5.index.get_loc(s.time)
        bar = eurusd_m5.iloc[i]
        entry = bar.high + 0.5 * PIP if s.direction == "long" else bar.low - 0.5 * PIP
        assert s.entry_price == pytest.approx(entry, abs=1e-9)
        d = 1 if s.direction == "long" else -1
        assert s.sl_price == pytest.approx(entry - d * 1.5 * a[i], abs=1e-9)
        assert s.tp_price == pytest.approx(entry + d * 2.5 * abs(entry - s.sl_price), abs=1e-9)


def test_beyond_swing_stop_on_real_data(tmp_path, eurusd_m5):
    sig = evaluate(rich(tmp_path, stop="{type: beyond_swing, swings: sw, buffer_pips: 0.5}"), eurusd_m5, "EURUSD")
    sw = swings(eurusd_m5, 2, 2)
    assert len(sig) > 10
    for s in sig.itertuples():
        long_ = s.direction == "long"
        known = sw[(sw.confirmed_at <= s.known_at) & (sw.kind == ("low" if long_ else "high"))]
        px = known.price[known.price < s.entry_price] if long_ else known.price[known.price > s.entry_price]
        assert s.sl_price == pytest.approx(px.iloc[-1] + (-0.5 if long_ else 0.5) * PIP, abs=1e-9)


def test_liquidity_target_is_the_nearest_known_level_beyond_entry(tmp_path, eurusd_m5):
    loaded = rich(tmp_path, target="{type: liquidity, levels: [pd, asia], min_rr: 1.0}")
    sig = evaluate(loaded, eurusd_m5, "EURUSD")
    pdl = previous_period_levels(eurusd_m5, "D")
    asia = session_range(eurusd_m5, get_session("asia"))
    assert len(sig) > 5
    for s in sig.itertuples():
        lv = []
        for tab in (pdl, asia):
            known = tab[tab.confirmed_at <= s.known_at]
            lv += [known.high.iloc[-1], known.low.iloc[-1]]
        long_ = s.direction == "long"
        beyond = [p for p in lv if (p > s.entry_price if long_ else p < s.entry_price)]
        assert s.tp_price == pytest.approx(min(beyond) if long_ else max(beyond), abs=1e-9)
        assert abs(s.tp_price - s.entry_price) >= abs(s.entry_price - s.sl_price) - 1e-9
    why = explain(loaded, eurusd_m5, "EURUSD")
    assert why.loc[why.failed_step == "target", "reason"].str.contains("min_rr|no liquidity level").all()


def test_retry_and_several_trades_per_day(tmp_path, eurusd_m5):
    base = (tmp_path / "base.yaml")
    text = load_setup("asia_fvg_break").path.read_text()
    one = evaluate(load_setup("asia_fvg_break"), eurusd_m5, "EURUSD")
    retry = setup_file(tmp_path, text.replace("id: asia_fvg_break", "id: probe")
                       .replace("sequence:\n", "after_failed_sequence: retry\nsequence:\n"))
    many = setup_file(tmp_path, text.replace("id: asia_fvg_break", "id: probe")
                      .replace("max_trades_per_day: 1", "max_trades_per_day: 3"), "probe")
    r = evaluate(retry, eurusd_m5, "EURUSD")
    assert set(one["day"]) < set(r["day"])                 # retrying finds days that skip_day gave up
    assert r.groupby("day").size().max() == 1
    m = evaluate(many, eurusd_m5, "EURUSD")
    per_day = m.groupby("day").size()
    assert per_day.max() > 1 and per_day.max() <= 3
    assert set(one["time"]) <= set(m["time"])              # the first signal of each day is unchanged
    assert not base.exists()


# ---- every shipped setup -------------------------------------------------------------------------------

SHIPPED = sorted(list_setups())  # the repo's setups/ folder


@pytest.mark.parametrize("setup_id", SHIPPED)
def test_shipped_setup_is_documented_and_trades(setup_id, eurusd_m5):
    loaded = load_setup(setup_id)
    s = loaded.setup
    assert len(s.description) > 300 and "Order" in s.description
    sig = evaluate(loaded, eurusd_m5, "EURUSD")
    assert len(sig) >= 5
    assert (sig["known_at"] == sig["time"] + STEP).all() and (sig["active_from"] >= sig["known_at"]).all()
    why = explain(loaded, eurusd_m5, "EURUSD")
    assert why["day"].is_unique
    assert set(why.loc[why.reason == "signal", "day"]) == set(sig["day"])
    assert why.loc[why.reason != "signal", "reason"].str.startswith(("no ", "the ")).all()


@pytest.mark.parametrize("setup_id", SHIPPED)
def test_shipped_setup_prefix_invariant(setup_id, eurusd_m5):
    loaded = load_setup(setup_id)
    year = eurusd_m5.loc[:"2025-05-31"]
    full = evaluate(loaded, year, "EURUSD")
    rng = np.random.default_rng(3)
    ts = [year.index[p] + STEP for p in rng.integers(300, len(year) - 1, 6)]
    ts += [k + d for k in full["known_at"].iloc[[0, len(full) // 2]] for d in (-STEP, pd.Timedelta(0))]
    for t in ts:
        part = evaluate(loaded, prefix(year, t), "EURUSD")
        exp = knowable(full, "known_at", t)
        assert part["signal_id"].tolist() == exp["signal_id"].tolist(), t
        assert_same(part.drop(columns=["meta"]), exp.drop(columns=["meta"]))
        assert part["meta"].tolist() == exp["meta"].tolist()


# ---- validation of the new parts -----------------------------------------------------------------------

@pytest.mark.parametrize("edit, where, words", [
    ("- {step: sweep, of: asia_range, reclaim_bars: 3, session: london_killzone}",
     "sequence.0.of", None),
    ("- {step: sweep, of: asia_range, reclaim_bars: 3, session: london_killzone, direction: with_bias}",
     "(top level)", "relative to a bias"),
    ("- {step: sweep, of: nope, reclaim_bars: 3}", "sequence.0.of", "'nope' must name a session_range"),
    ("- {step: sweep, of: asia_range, reclaim_bars: 3, session: lunch}", "sequence.0.session", "unknown session"),
    ("- {step: sweep, of: asia_range, session: london_killzone, window: {start: '02:00', end: '03:00'}}",
     "sequence.0", "either `window` or `session`"),
])
def test_step_errors_point_at_the_step(tmp_path, edit, where, words):
    text = SWEEP_SETUP.replace("MINRR", "1.0")
    bad = text.replace("- {step: sweep, of: asia_range, reclaim_bars: 3, session: london_killzone}", edit)
    if words is None:  # sanity: the unedited line is valid
        assert setup_file(tmp_path, bad).setup.sequence[0].of == "asia_range"
        return
    with pytest.raises(SetupError) as e:
        setup_file(tmp_path, bad)
    assert words in str(e.value)
    if where != "(top level)":
        assert f": {where}" in str(e.value)


@pytest.mark.parametrize("old, new, words", [
    ("entry: {type: market}", "entry: {type: limit}", "needs an `fvg` or `order_block` step"),
    ("stop: {type: beyond_sweep, buffer_pips: 1.0}", "stop: {type: beyond_swing}", "stop.swings"),
    ("stop: {type: beyond_sweep, buffer_pips: 1.0}", "stop: {type: atr, atr: asia_range}", "must name a atr"),
    ("target: {type: session_extreme, range: asia_range, min_rr: 1.0}", "target: {type: liquidity}",
     "target.levels"),
    ("asia_range: {kind: session_range, session: asia}",
     "asia_range: {kind: session_range, session: asia}\n      f: {kind: fvg, timeframe: M1}", "finer than"),
])
def test_rule_errors_name_the_field(tmp_path, old, new, words):
    text = SWEEP_SETUP.replace("MINRR", "1.0").replace(old, new)
    assert text != SWEEP_SETUP.replace("MINRR", "1.0")
    with pytest.raises(SetupError) as e:
        setup_file(tmp_path, text)
    assert words in str(e.value)


def test_json_schema_covers_the_language():
    from ita.setups.schema import Setup

    sch = Setup.model_json_schema()
    text = repr(sch)
    for kind in ("session_range", "fvg", "swings", "structure", "order_block", "previous_levels",
                 "initial_balance", "equal_levels", "atr"):
        assert f"'{kind}'" in text, kind
    for step in ("break", "sweep", "structure", "order_block", "trend"):
        assert f"'{step}'" in text, step
    for word in ("beyond_swing", "session_extreme", "liquidity", "max_bars", "valid_bars", "after_failed_sequence"):
        assert word in text, word


def test_shipped_json_schema_is_current_and_validates_the_setups():
    """`setups/setup.schema.json` (for editors) equals the pydantic schema; regenerate with
    `ita setups schema -o setups/setup.schema.json`."""
    import json
    from pathlib import Path

    import yaml

    from ita.setups.schema import Setup

    path = Path(__file__).resolve().parents[1] / "setups" / "setup.schema.json"
    shipped = json.loads(path.read_text(encoding="utf-8"))
    assert shipped == Setup.model_json_schema()
    for setup_id in SHIPPED:
        raw = yaml.safe_load(load_setup(setup_id).path.read_text())
        for name, det in raw["detectors"].items():        # every kind used is a schema branch
            assert any(det["kind"] in json.dumps(v) for k, v in shipped["$defs"].items() if "Detector" in k), name


# ---- order blocks, BOS, equal levels: the remaining step kinds, and prefix invariance on generated candles

OB_SETUP = """
    id: probe
    version: 1
    name: probe
    detectors:
      eq: {kind: equal_levels, tolerance_pips: 1.0}
      st: {kind: structure, left: 2, right: 2}
      ob: {kind: order_block, left: 2, right: 2, zone: body}
    sequence:
      - {step: sweep, of: eq, reclaim_bars: 2, window: {start: "01:00", end: "12:00"}}
      - {step: structure, detector: st, kind: BOS, within_bars: 24}
      - {step: order_block, detector: ob, within_bars: 24, from_bar: same}
    entry: {type: limit, at: far_edge}
    stop: {type: beyond_zone, buffer_pips: 0.5}
    target: {type: rr, rr: 3}
    order: {valid_until: "14:00", valid_bars: 24}
    management: {flat_at: "16:00", max_trades_per_day: 2}
    after_failed_sequence: retry
"""


def test_equal_levels_sweep_bos_and_order_block_steps_on_real_data(tmp_path, eurusd_m5):
    from ita.detectors import order_blocks

    loaded = setup_file(tmp_path, OB_SETUP)
    year = eurusd_m5.loc[:"2025-06-30"]
    sig = evaluate(loaded, year, "EURUSD")
    assert len(sig) >= 5
    brk = structure_breaks(year, swings(year, 2, 2), by="close")
    obs = order_blocks(year, brk, zone="body")
    for s in sig.itertuples():
        st = s.meta["steps"]
        assert [x["step"] for x in st] == ["sweep", "structure", "order_block"]
        assert st[1]["kind"] == "BOS"
        long_ = s.direction == "long"
        assert st[1]["direction"] == ("bullish" if long_ else "bearish")
        z = obs[(obs.confirmed_at == pd.Timestamp(st[2]["confirmed_at"])) & (obs.top == st[2]["top"])]
        assert len(z) == 1 and z.confirmed_at.iloc[0] <= s.known_at          # a real, already known OB
        far = z.bottom.iloc[0] if long_ else z.top.iloc[0]
        assert s.entry_price == pytest.approx(far)
        assert s.expires_at <= s.known_at + 24 * STEP                          # valid_bars caps the order
    assert sig.groupby("day").size().max() <= 2


@pytest.mark.parametrize("text", [OB_SETUP, SWEEP_SETUP.replace("MINRR", "0.5")], ids=["ob", "sweep"])
def test_language_prefix_invariant_on_generated_candles(tmp_path, text):
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    from tests.helpers import random_walk

    loaded = setup_file(tmp_path, text)

    @settings(max_examples=8, deadline=None)
    @given(seed=hs.integers(0, 10_000), cut=hs.floats(0.1, 0.95))
    def check(seed, cut):
        m5 = random_walk(seed, 5 * 288, vol=0.0003, digits=5)
        full = evaluate(loaded, m5, "EURUSD")
        t = m5.index[int(cut * len(m5))] + STEP
        part = evaluate(loaded, prefix(m5, t), "EURUSD")
        exp = knowable(full, "known_at", t)
        assert part["signal_id"].tolist() == exp["signal_id"].tolist()
        assert_same(part.drop(columns=["meta"]), exp.drop(columns=["meta"]))

    check()
