"""FVG options: inversion fair value gaps (``inverse_fvg``) and consecutive-gap joining (``fvg(join=...)``).

Hand-built bars with answers worked out by hand, dated examples on the EURUSD sample checked against a
direct pandas computation written here (independently of the detector's numpy code), and no look-ahead
(prefix invariance) on the sample and on generated candles.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita.detectors import fvg, inverse_fvg
from ita.detectors.fvg import FVG_COLUMNS, IFVG_COLUMNS, JOINED_FVG_COLUMNS
from tests.helpers import STEP, assert_same, knowable, prefix, random_walk

PIP = 1e-4


def bars(rows, start="2025-03-04 10:00"):
    idx = pd.date_range(start, periods=len(rows), freq="5min", tz="UTC", name="time")
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)
    df["volume"], df["spread"] = 1.0, np.nan
    return df


def close_of(c: pd.DataFrame, k: int) -> pd.Timestamp:
    return c.index[k] + STEP


# --------------------------------------------------------------------------------------------------
# inverse FVG on hand-built bars
# --------------------------------------------------------------------------------------------------

# bullish gap [1.1010, 1.1020] (third candle 2); bar 3 wicks below the bottom but closes exactly on it;
# bar 4 closes below it → bearish IFVG at bar 4; bar 5 stays below; bar 6's high reaches the bottom.
BULL_THEN_DOWN = [
    (1.1000, 1.1010, 1.0995, 1.1008),  # 0: high 1.1010 = gap bottom
    (1.1008, 1.1030, 1.1007, 1.1028),  # 1: displacement up
    (1.1028, 1.1035, 1.1020, 1.1030),  # 2: low 1.1020 = gap top
    (1.1030, 1.1031, 1.1005, 1.1010),  # 3: low 1.1005 < bottom, close == bottom: no close-through
    (1.1010, 1.1022, 1.0990, 1.0995),  # 4: close 1.0995 < 1.1010 → inverted (its own high is not a retest)
    (1.0995, 1.1006, 1.0985, 1.0990),  # 5: high 1.1006 < 1.1010: no retest
    (1.0990, 1.1010, 1.0988, 1.1000),  # 6: high 1.1010 >= bottom → IFVG mitigated
]

# the same bars mirrored around 1.1000 (p → 2.2 - p, high ↔ low): bearish gap [1.0980, 1.0990]
BEAR_THEN_UP = [
    (1.1000, 1.1005, 1.0990, 1.0992),  # 0: low 1.0990 = gap top
    (1.0992, 1.0993, 1.0970, 1.0972),  # 1
    (1.0972, 1.0980, 1.0965, 1.0970),  # 2: high 1.0980 = gap bottom
    (1.0970, 1.0995, 1.0969, 1.0990),  # 3: high above the top, close == top: no close-through
    (1.0990, 1.1010, 1.0978, 1.1005),  # 4: close 1.1005 > 1.0990 → bullish IFVG
    (1.1005, 1.1015, 1.0994, 1.1010),  # 5: low 1.0994 > 1.0990: no retest
    (1.1010, 1.1012, 1.0990, 1.1000),  # 6: low 1.0990 <= top → mitigated
]


@pytest.mark.parametrize("rows, source_dir, ifvg_dir, top, bottom", [
    (BULL_THEN_DOWN, "bullish", "bearish", 1.1020, 1.1010),
    (BEAR_THEN_UP, "bearish", "bullish", 1.0990, 1.0980),
])
def test_inverse_fvg_by_close_both_directions(rows, source_dir, ifvg_dir, top, bottom):
    c = bars(rows)
    gaps = fvg(c, PIP, 1.0, timeframe="M5")
    assert gaps[["direction", "top", "bottom", "bar"]].values.tolist() == [[source_dir, top, bottom, 2]]

    inv = inverse_fvg(c, PIP, 1.0, timeframe="M5")
    assert list(inv.columns) == IFVG_COLUMNS and len(inv) == 1
    r = inv.iloc[0]
    assert (r.direction, r.top, r.bottom, r.size_pips, r.bar, r.source_bar) == (ifvg_dir, top, bottom, 10.0, 4, 2)
    assert r.time == c.index[4] and r.confirmed_at == close_of(c, 4)
    assert r.source_time == c.index[1] and r.source_confirmed_at == close_of(c, 2)
    assert r.mitigated_at == close_of(c, 6)


@pytest.mark.parametrize("rows", [BULL_THEN_DOWN, BEAR_THEN_UP])
def test_inverse_fvg_close_exactly_on_the_edge_does_not_invert(rows):
    c = bars(rows)
    assert inverse_fvg(c.iloc[:4], PIP, timeframe="M5").empty      # bar 3 closes exactly on the far edge
    assert inverse_fvg(c.iloc[:5], PIP, timeframe="M5")["bar"].tolist() == [4]   # bar 4 closes beyond it
    # before the retest the IFVG is known but not mitigated
    assert inverse_fvg(c.iloc[:6], PIP, timeframe="M5")["mitigated_at"].isna().tolist() == [True]


@pytest.mark.parametrize("rows", [BULL_THEN_DOWN, BEAR_THEN_UP])
def test_inverse_fvg_by_wick(rows):
    c = bars(rows)
    inv = inverse_fvg(c, PIP, by="wick", timeframe="M5")
    assert inv["bar"].tolist() == [3]                               # bar 3's wick is beyond the far edge
    assert inv["confirmed_at"].tolist() == [close_of(c, 3)]
    assert inv["mitigated_at"].tolist() == [close_of(c, 4)]         # bar 4 trades back into the zone


def test_mitigated_but_not_closed_through_does_not_invert():
    c = bars([(1.1000, 1.1010, 1.0995, 1.1008),
              (1.1008, 1.1030, 1.1007, 1.1028),
              (1.1028, 1.1035, 1.1020, 1.1030),   # bullish gap [1.1010, 1.1020]
              (1.1030, 1.1031, 1.1012, 1.1014),   # trades into the gap (touch, midpoint)
              (1.1014, 1.1021, 1.1002, 1.1011),   # wick through the bottom, close 1.1011 above it
              (1.1011, 1.1040, 1.1010, 1.1038)])  # low exactly on the bottom, then rallies
    assert fvg(c, PIP, mitigation="touch", timeframe="M5")["mitigated_at"].tolist() == [close_of(c, 3)]
    assert fvg(c, PIP, mitigation="close_through", timeframe="M5")["mitigated_at"].isna().all()
    assert inverse_fvg(c, PIP, timeframe="M5").empty
    assert inverse_fvg(c, PIP, by="wick", timeframe="M5")["bar"].tolist() == [4]


def test_inverse_fvg_consumes_each_gap_once_and_orders_same_bar_inversions_by_source():
    c = bars([(1.1000, 1.1010, 1.0995, 1.1008),
              (1.1008, 1.1030, 1.1007, 1.1028),
              (1.1028, 1.1035, 1.1020, 1.1033),   # 2: bullish gap A [1.1010, 1.1020]
              (1.1033, 1.1050, 1.1029, 1.1048),   # 3: low 1.1029 < high[1] 1.1030 → no gap
              (1.1048, 1.1060, 1.1040, 1.1055),   # 4: bullish gap B [1.1035, 1.1040]
              (1.1055, 1.1056, 1.1000, 1.1005),   # 5: closes below both bottoms → A and B invert here
              (1.1005, 1.1041, 1.1004, 1.1028),   # 6: back above A's bottom (retest of both)
              (1.1028, 1.1029, 1.0990, 1.0995)])  # 7: closes below A again: A is consumed, no new row
    gaps = fvg(c, PIP, timeframe="M5")
    assert gaps[["top", "bottom", "bar"]].values.tolist() == [[1.1020, 1.1010, 2], [1.1040, 1.1035, 4]]
    inv = inverse_fvg(c, PIP, timeframe="M5")
    assert inv[["direction", "bar", "source_bar", "top", "bottom"]].values.tolist() == [
        ["bearish", 5, 2, 1.1020, 1.1010], ["bearish", 5, 4, 1.1040, 1.1035]]
    assert inv["mitigated_at"].tolist() == [close_of(c, 6), close_of(c, 6)]
    assert inverse_fvg(c, PIP, 6.0, timeframe="M5")["source_bar"].tolist() == [2]   # B is 5 pips, A 10


def test_bad_parameters_and_short_inputs():
    c = bars(BULL_THEN_DOWN)
    with pytest.raises(ValueError, match="by"):
        inverse_fvg(c, PIP, by="body")
    with pytest.raises(ValueError, match="pip_size"):
        inverse_fvg(c, 0.0)
    with pytest.raises(ValueError, match="join"):
        fvg(c, PIP, join="all")
    with pytest.raises(ValueError, match="pip_size"):
        fvg(c, -1e-4, join="consecutive")
    short = inverse_fvg(c.iloc[:3], PIP, timeframe="M5")
    assert short.empty and list(short.columns) == IFVG_COLUMNS
    assert str(short["confirmed_at"].dtype) == "datetime64[ns, UTC]"
    j = fvg(c.iloc[:2], PIP, join="consecutive")
    assert j.empty and list(j.columns) == JOINED_FVG_COLUMNS


# --------------------------------------------------------------------------------------------------
# consecutive-gap joining on hand-built bars
# --------------------------------------------------------------------------------------------------

RUN = [
    (1.1000, 1.1010, 1.0995, 1.1008),  # 0
    (1.1008, 1.1030, 1.1007, 1.1028),  # 1
    (1.1040, 1.1045, 1.1038, 1.1043),  # 2: bullish A [1.1010, 1.1038] 28 pips
    (1.1043, 1.1060, 1.1035, 1.1055),  # 3: bullish B [1.1030, 1.1035]  5 pips
    (1.1055, 1.1070, 1.1050, 1.1065),  # 4: bullish C [1.1045, 1.1050]  5 pips
    (1.1065, 1.1068, 1.1037, 1.1045),  # 5: no gap; low 1.1037
    (1.1045, 1.1050, 1.1015, 1.1018),  # 6: no gap (high 1.1050 == low[4]); low 1.1015
    (1.1018, 1.1020, 1.0990, 1.0995),  # 7: bearish D [1.1020, 1.1037] 17 pips
    (1.0995, 1.1000, 1.0970, 1.0975),  # 8: bearish E [1.1000, 1.1015] 15 pips
    (1.0975, 1.1005, 1.0970, 1.1000),  # 9: no gap; high 1.1005
]


def test_three_gap_run_joins_into_one_group_with_cumulative_rows():
    c = bars(RUN)
    single = fvg(c, PIP, timeframe="M5")
    assert single[["direction", "top", "bottom", "size_pips", "bar"]].values.tolist() == [
        ["bullish", 1.1038, 1.1010, 28.0, 2], ["bullish", 1.1035, 1.1030, 5.0, 3], ["bullish", 1.1050, 1.1045, 5.0, 4],
        ["bearish", 1.1037, 1.1020, 17.0, 7], ["bearish", 1.1015, 1.1000, 15.0, 8]]

    j = fvg(c, PIP, timeframe="M5", join="consecutive")
    assert list(j.columns) == JOINED_FVG_COLUMNS
    assert j[["direction", "group", "members", "top", "bottom", "size_pips", "bar"]].values.tolist() == [
        ["bullish", 2, 1, 1.1038, 1.1010, 28.0, 2],
        ["bullish", 2, 2, 1.1038, 1.1010, 28.0, 3],   # B lies inside A's span: zone unchanged
        ["bullish", 2, 3, 1.1050, 1.1010, 40.0, 4],   # full zone of the run
        ["bearish", 7, 1, 1.1037, 1.1020, 17.0, 7],
        ["bearish", 7, 2, 1.1037, 1.1000, 37.0, 8]]
    assert (j["time"] == c.index[[1, 1, 1, 6, 6]]).all()             # middle candle of the first member
    assert (j["confirmed_at"] == c.index[[2, 3, 4, 7, 8]] + STEP).all()  # each member at its own third candle
    # touch mitigation from the bar after each row's third candle, with the zone joined so far:
    # A (top 1.1038) by bar 3's low 1.1035; B joined (top 1.1038) by bar 5's low 1.1037 while B alone
    # (top 1.1035) waits for bar 6; bearish D (bottom 1.1020) never; E joined (bottom 1.1000) by bar 9.
    assert j["mitigated_at"].tolist() == [close_of(c, 3), close_of(c, 5), close_of(c, 5), pd.NaT, close_of(c, 9)]
    assert single["mitigated_at"].tolist() == [close_of(c, 3), close_of(c, 6), close_of(c, 5), pd.NaT, close_of(c, 9)]


def test_joined_rows_are_causal_on_a_cut():
    c = bars(RUN)
    part = fvg(c.iloc[:4], PIP, timeframe="M5", join="consecutive")  # the run has two members so far
    assert part[["group", "members", "top", "bottom", "size_pips"]].values.tolist() == [
        [2, 1, 1.1038, 1.1010, 28.0], [2, 2, 1.1038, 1.1010, 28.0]]
    # a gap below min_gap_pips is no member: B and C (5 pips) are dropped, so A stands alone
    big = fvg(c, PIP, 10.0, timeframe="M5", join="consecutive")
    assert big[["group", "members", "bar"]].values.tolist() == [[2, 1, 2], [7, 1, 7], [7, 2, 8]]


def test_join_none_is_the_plain_output():
    c = bars(RUN)
    assert_frame_exact(fvg(c, PIP, timeframe="M5", join="none"), fvg(c, PIP, timeframe="M5"))
    assert list(fvg(c, PIP, timeframe="M5", join="none").columns) == FVG_COLUMNS


def assert_frame_exact(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# --------------------------------------------------------------------------------------------------
# dated examples on the sample, against a direct pandas computation
# --------------------------------------------------------------------------------------------------

def direct_gaps(c: pd.DataFrame, min_gap: float) -> pd.DataFrame:
    """Gaps written with pandas shifts: one row per third candle, position ``k``."""
    up = ((c["low"] - c["high"].shift(2)) / PIP).round(6)
    dn = ((c["low"].shift(2) - c["high"]) / PIP).round(6)
    pos = pd.Series(np.arange(len(c)), index=c.index)
    bull = pd.DataFrame({"k": pos[(up >= min_gap) & (up > 0)], "bull": True})
    bull["top"], bull["bottom"] = c["low"][bull.index], c["high"].shift(2)[bull.index]
    bear = pd.DataFrame({"k": pos[(dn >= min_gap) & (dn > 0)], "bull": False})
    bear["top"], bear["bottom"] = c["low"].shift(2)[bear.index], c["high"][bear.index]
    return pd.concat([bull, bear]).sort_values("k", kind="stable").reset_index(drop=True)


def first_from(mask: np.ndarray, start: int) -> int | None:
    hits = np.flatnonzero(mask[start:])
    return int(start + hits[0]) if len(hits) else None


def test_inverse_fvg_dated_example_2025_01_03(eurusd_m5):
    """Bullish gap 2025-01-02 23:45–23:55 UTC [1.02660, 1.02670]; the 05:10 bar closes at 1.02658, below
    its bottom → bearish IFVG known at 05:15; the 05:15 bar's high 1.02660 retests the bottom."""
    c = eurusd_m5
    inv = inverse_fvg(c, PIP, 1.0, timeframe="M5")
    r = inv[inv.source_time == pd.Timestamp("2025-01-02 23:50", tz="UTC")].iloc[0]
    assert (r.direction, r.top, r.bottom, r.size_pips) == ("bearish", 1.02670, 1.02660, 1.0)
    assert r.time == pd.Timestamp("2025-01-03 05:10", tz="UTC")
    assert r.confirmed_at == pd.Timestamp("2025-01-03 05:15", tz="UTC")
    assert r.source_confirmed_at == pd.Timestamp("2025-01-03 00:00", tz="UTC")
    assert r.mitigated_at == pd.Timestamp("2025-01-03 05:20", tz="UTC")
    # straight from the bars
    assert c.loc["2025-01-02 23:45", "high"] == 1.02660 and c.loc["2025-01-02 23:55", "low"] == 1.02670
    assert c.loc["2025-01-03 00:00":"2025-01-03 05:05", "close"].min() >= 1.02660
    assert c.loc["2025-01-03 05:10", "close"] < 1.02660 <= c.loc["2025-01-03 05:15", "high"]


def test_inverse_fvg_matches_direct_computation_on_sample(eurusd_m5):
    c = eurusd_m5
    close, high, low = (c[k].to_numpy() for k in ("close", "high", "low"))
    gaps = direct_gaps(c, 1.0)
    gaps = gaps[gaps.k < c.index.searchsorted(pd.Timestamp("2025-02-01", tz="UTC"))]  # January's gaps
    rows = []
    for g in gaps.itertuples():
        j = first_from(close < g.bottom, g.k + 1) if g.bull else first_from(close > g.top, g.k + 1)
        if j is None:
            continue
        m = first_from(high >= g.bottom, j + 1) if g.bull else first_from(low <= g.top, j + 1)
        rows.append({"time": c.index[j], "confirmed_at": c.index[j] + STEP,
                     "direction": "bearish" if g.bull else "bullish", "top": g.top, "bottom": g.bottom,
                     "bar": j, "source_time": c.index[g.k - 1], "source_confirmed_at": c.index[g.k] + STEP,
                     "source_bar": g.k, "mitigated_at": c.index[m] + STEP if m is not None else pd.NaT})
    exp = pd.DataFrame(rows).sort_values(["bar", "source_bar"], kind="stable").reset_index(drop=True)
    assert len(exp) > 300
    got = inverse_fvg(c, PIP, 1.0, timeframe="M5")
    got = got[got.source_bar.isin(gaps.k)].reset_index(drop=True)
    assert_same(got.drop(columns="size_pips"), exp)
    assert np.allclose(got.size_pips, (got.top - got.bottom) / PIP, atol=1e-6)


def test_inverse_fvg_agrees_with_close_through_mitigation(eurusd_m5):
    """By close, inversion = ``fvg(..., "close_through")`` mitigation: same gaps, same bar."""
    ct = fvg(eurusd_m5, PIP, 1.0, "close_through", timeframe="M5").dropna(subset=["mitigated_at"])
    inv = inverse_fvg(eurusd_m5, PIP, 1.0, timeframe="M5").sort_values("source_bar")
    assert inv.source_bar.tolist() == ct.bar.tolist()
    assert inv.confirmed_at.tolist() == ct.mitigated_at.tolist()
    assert (inv.direction.to_numpy() != ct.direction.to_numpy()).all()


def test_joined_fvg_dated_example_2025_01_07(eurusd_m5):
    """Five bearish gaps on the 11:15…11:35 UTC third candles of 2025-01-07 join into one zone
    [1.04076, 1.04229] — the 11:05 low to the 11:35 high — complete at 11:40."""
    j = fvg(eurusd_m5, PIP, 1.0, timeframe="M5", join="consecutive")
    g = j[j.group == eurusd_m5.index.get_loc(pd.Timestamp("2025-01-07 11:15", tz="UTC"))]
    assert g.members.tolist() == [1, 2, 3, 4, 5] and (g.direction == "bearish").all()
    assert g.top.tolist() == [1.04229] * 5
    assert g.bottom.tolist() == [1.04204, 1.04174, 1.04137, 1.04102, 1.04076]
    assert g.confirmed_at.iloc[-1] == pd.Timestamp("2025-01-07 11:40", tz="UTC")
    assert (g.time == pd.Timestamp("2025-01-07 11:10", tz="UTC")).all()
    assert g.size_pips.iloc[-1] == 15.3
    assert g.mitigated_at.iloc[-1] == pd.Timestamp("2025-01-07 11:45", tz="UTC")   # 11:40 high 1.04110


def test_joined_fvg_matches_direct_computation_on_sample(eurusd_m5):
    c = eurusd_m5
    high, low = c["high"].to_numpy(), c["low"].to_numpy()
    gaps = direct_gaps(c, 1.0)
    parts = []
    for _, d in gaps.groupby("bull", sort=False):
        d = d.copy()
        run = (d.k.diff() != 1).cumsum()
        d["group"] = d.groupby(run).k.transform("first")
        d["members"] = d.groupby(run).cumcount() + 1
        d["top"] = d.groupby(run).top.cummax()
        d["bottom"] = d.groupby(run).bottom.cummin()
        parts.append(d)
    exp = pd.concat(parts).sort_values("k", kind="stable")
    exp = exp[exp.k < c.index.searchsorted(pd.Timestamp("2025-03-01", tz="UTC"))].reset_index(drop=True)
    mit = [first_from(low <= r.top, r.k + 1) if r.bull else first_from(high >= r.bottom, r.k + 1)
           for r in exp.itertuples()]
    exp = pd.DataFrame({
        "time": c.index[exp.group - 1], "confirmed_at": c.index[exp.k] + STEP,
        "direction": np.where(exp.bull, "bullish", "bearish"), "top": exp.top, "bottom": exp.bottom,
        "bar": exp.k, "mitigated_at": [c.index[m] + STEP if m is not None else pd.NaT for m in mit],
        "group": exp.group, "members": exp.members})
    assert (exp.members >= 3).sum() > 30
    got = fvg(c, PIP, 1.0, timeframe="M5", join="consecutive")
    got = got[got.bar.isin(exp.bar)].reset_index(drop=True)
    assert_same(got.drop(columns="size_pips"), exp)
    assert np.allclose(got.size_pips, (got.top - got.bottom) / PIP, atol=1e-6)


def test_joined_rows_align_with_plain_rows(eurusd_m5):
    plain = fvg(eurusd_m5, PIP, 1.0, "midpoint", timeframe="M5")
    j = fvg(eurusd_m5, PIP, 1.0, "midpoint", timeframe="M5", join="consecutive")
    assert_same(j[["confirmed_at", "direction", "bar"]], plain[["confirmed_at", "direction", "bar"]])
    first = (j.members == 1).to_numpy()
    assert_frame_exact(j.loc[first, FVG_COLUMNS], plain.loc[first, FVG_COLUMNS])
    assert (j.top >= plain.top).all() and (j.bottom <= plain.bottom).all()
    assert (j.top > plain.top).any() and (j.bottom < plain.bottom).any()


# --------------------------------------------------------------------------------------------------
# no look-ahead
# --------------------------------------------------------------------------------------------------

def masked(full: pd.DataFrame, t) -> pd.DataFrame:
    exp = knowable(full, "confirmed_at", t).copy()
    exp.loc[exp["mitigated_at"] > t, "mitigated_at"] = pd.NaT
    return exp


def real_cuts(candles: pd.DataFrame, events: pd.DataFrame, n: int = 12, seed: int = 11) -> list[pd.Timestamp]:
    """Random bar closes plus times right at and just before some events' confirmation."""
    rng = np.random.default_rng(seed)
    pos = sorted(set(rng.integers(50, len(candles) - 1, size=n).tolist()))
    picks = events["confirmed_at"].iloc[rng.integers(0, len(events), size=4)]
    return [candles.index[p] + STEP for p in pos] + [t + d for t in picks for d in (-STEP, pd.Timedelta(0))]


@pytest.mark.parametrize("by", ["close", "wick"])
def test_inverse_fvg_prefix_invariant(eurusd_m5, by):
    full = inverse_fvg(eurusd_m5, PIP, 1.0, by=by, timeframe="M5")
    assert len(full) > 1000
    for t in real_cuts(eurusd_m5, full):
        part = inverse_fvg(prefix(eurusd_m5, t), PIP, 1.0, by=by, timeframe="M5")
        assert_same(part, masked(full, t))


@pytest.mark.parametrize("mode", ["touch", "close_through"])
def test_joined_fvg_prefix_invariant(eurusd_m5, mode):
    full = fvg(eurusd_m5, PIP, 1.0, mode, timeframe="M5", join="consecutive")
    runs = full[full.members >= 2]   # cut inside runs, where a non-causal join would show
    for t in real_cuts(eurusd_m5, runs):
        part = fvg(prefix(eurusd_m5, t), PIP, 1.0, mode, timeframe="M5", join="consecutive")
        assert_same(part, masked(full, t))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 400), cut=st.floats(0.05, 0.95),
       by=st.sampled_from(["close", "wick"]), digits=st.sampled_from([None, 4]))
def test_inverse_fvg_prefix_invariant_generated(seed, n, cut, by, digits):
    c = random_walk(seed, n, digits=digits)
    t = c.index[int(cut * (n - 1))] + STEP
    full = inverse_fvg(c, PIP, 0.5, by=by, timeframe="M5")
    assert_same(inverse_fvg(prefix(c, t), PIP, 0.5, by=by, timeframe="M5"), masked(full, t))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 400), cut=st.floats(0.05, 0.95),
       mode=st.sampled_from(["touch", "midpoint", "close_through"]), vol=st.sampled_from([0.0004, 0.0012]))
def test_joined_fvg_prefix_invariant_generated(seed, n, cut, mode, vol):
    c = random_walk(seed, n, vol=vol, wick=0.0002)   # strong moves → runs of consecutive gaps
    t = c.index[int(cut * (n - 1))] + STEP
    full = fvg(c, PIP, 0.5, mode, timeframe="M5", join="consecutive")
    assert_same(fvg(prefix(c, t), PIP, 0.5, mode, timeframe="M5", join="consecutive"), masked(full, t))
