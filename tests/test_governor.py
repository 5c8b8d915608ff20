"""The risk governor: limits on hand-built trades, no look-ahead, prefix invariance, and an independent
brute-force implementation of the same rules on random trades."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.backtest.governor import GovernorRules, day_summary, govern, governor_day
from ita.errors import ItaError

H = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2025-03-04 13:00", tz="UTC")        # Tue 08:00 New York (EST)


def trades(rows):
    """rows: (entry offset h, exit-known offset h, r[, risk_pct])."""
    return pd.DataFrame({"entry_time": [T0 + a * H for a, *_ in rows],
                         "exit_known": [T0 + b * H for _, b, *_ in rows],
                         "r": [float(r[2]) for r in rows],
                         "risk_pct": [float(r[3]) if len(r) > 3 else 1.0 for r in rows]})


def test_daily_loss_stops_the_day_and_the_next_day_starts_fresh():
    t = trades([(0, 1, -1), (2, 3, -1), (4, 5, 2), (6, 7, 2), (24, 25, -1)])
    out = govern(t, GovernorRules(max_daily_loss_r=2))
    assert out["taken"].tolist() == [True, True, False, False, True]
    assert out["blocked_by"][2].startswith("daily loss limit reached: -2.00R")
    days = day_summary(out)
    assert days["stopped"].tolist() == ["daily loss limit reached", ""]
    assert days["blocked_r"].iloc[0] == pytest.approx(4.0)


def test_a_loss_not_yet_known_at_the_fill_does_not_block_it():
    # the second loss closes in the bar where the third order fills: not known yet at that fill
    t = trades([(0, 1, -1), (2, 4, -1), (3.9, 6, -1), (4, 7, 1)])
    out = govern(t, GovernorRules(max_daily_loss_r=2))
    assert out["taken"].tolist() == [True, True, True, False]     # the 4th fills when −2R is known


def test_max_trades_per_day_counts_fills_across_setups_and_the_day_rolls_at_17_ny():
    # 20:59 UTC = 15:59 NY; 22:00 UTC = 17:00 NY → the next governor day
    t = trades([(0, 1, 1), (1, 2, 1), (7.98, 8.5, 1), (9, 10, 1)])
    out = govern(t, GovernorRules(max_trades_per_day=2))
    assert out["taken"].tolist() == [True, True, False, True]
    assert out["gov_day"].dt.strftime("%a").tolist() == ["Tue", "Tue", "Tue", "Wed"]
    midnight = govern(t, GovernorRules(max_trades_per_day=2, day_start="00:00"))
    assert midnight["taken"].tolist() == [True, True, False, False]


def test_open_risk_blocks_only_while_positions_are_open():
    t = trades([(0, 5, 1), (1, 5, 1), (2, 6, 1), (5, 8, 1)])
    out = govern(t, GovernorRules(max_open_risk_r=2))
    assert out["taken"].tolist() == [True, True, False, True]
    assert "2R open + 1R > limit 2R" in out["blocked_by"][2]
    pct = govern(t.assign(risk_pct=0.5), GovernorRules(max_open_risk_pct=1.0))
    assert pct["taken"].tolist() == [True, True, False, True]


def test_daily_loss_in_percent_uses_each_trade_s_risk():
    t = trades([(0, 1, -1, 0.5), (2, 3, -1, 0.5), (4, 5, -1, 0.5), (6, 7, 1, 0.5)])
    assert govern(t, GovernorRules(max_daily_loss_pct=1.0))["taken"].tolist() == [True, True, False, False]
    assert govern(t, GovernorRules(max_daily_loss_pct=1.5))["taken"].tolist() == [True, True, True, False]


def test_no_rules_takes_everything():
    t = trades([(0, 1, -1), (0, 1, -1), (0, 1, -1)])
    assert govern(t, GovernorRules())["taken"].all()


def test_rules_from_what_a_trader_writes():
    r = GovernorRules.from_mapping({"max_daily_loss": "3R", "max_open_risk": "2%", "max_trades_per_day": "4"})
    assert (r.max_daily_loss_r, r.max_open_risk_pct, r.max_trades_per_day) == (3.0, 2.0, 4)
    assert GovernorRules.from_mapping({"max_daily_loss": 2.5}).max_daily_loss_r == 2.5
    assert r.describe()[:3] == ["max daily loss 3R", "max open risk 2%", "max 4 trades per day"]
    with pytest.raises(ItaError, match="max_daily_loss '3X'"):
        GovernorRules.from_mapping({"max_daily_loss": "3X"})
    with pytest.raises(ItaError, match="Unknown governor rule 'max_daily_los'.*max_daily_loss"):
        GovernorRules.from_mapping({"max_daily_los": "3R"})
    with pytest.raises(ItaError, match="day_start"):
        GovernorRules(day_start="25:00")
    with pytest.raises(ItaError, match="max_trades_per_day"):
        GovernorRules(max_trades_per_day=0)


def test_governor_day_rolls_at_day_start_new_york_across_dst():
    # 2025-03-10 is the first weekday on EDT: 17:00 NY = 21:00 UTC (was 22:00 UTC the week before)
    idx = pd.DatetimeIndex(["2025-03-07 21:59", "2025-03-07 22:00", "2025-03-10 20:59", "2025-03-10 21:00"], tz="UTC")
    assert governor_day(idx).strftime("%Y-%m-%d").tolist() == ["2025-03-07", "2025-03-08", "2025-03-10", "2025-03-11"]


# ---- an independent implementation of the same rules: state recomputed from scratch for every trade ----------

def brute_force(t: pd.DataFrame, rules: GovernorRules) -> list[bool]:
    t = t.sort_values("entry_time", kind="stable").reset_index(drop=True)
    start_min = int(rules.day_start[:2]) * 60 + int(rules.day_start[3:])

    def day(ts):
        ny = ts.tz_convert("America/New_York").tz_localize(None) - pd.Timedelta(minutes=start_min)
        return ny.normalize() + (pd.Timedelta(days=1) if start_min else pd.Timedelta(0))

    taken: list[bool] = []
    for i, row in t.iterrows():
        d = day(row.entry_time)
        prev = t.iloc[:i][np.array(taken, dtype=bool)] if i else t.iloc[:0]
        known = prev[prev.exit_known <= row.entry_time]
        today = known[np.array([day(x) == d for x in known.exit_known], dtype=bool)]
        closed_r, closed_pct = today.r.sum(), (today.r * today.risk_pct).sum()
        fills = sum(day(x) == d for x in prev.entry_time)
        open_ = prev[prev.exit_known > row.entry_time]
        ok = True
        if rules.max_daily_loss_r is not None and closed_r <= -rules.max_daily_loss_r + 1e-9:
            ok = False
        if rules.max_daily_loss_pct is not None and closed_pct <= -rules.max_daily_loss_pct + 1e-9:
            ok = False
        if rules.max_trades_per_day is not None and fills >= rules.max_trades_per_day:
            ok = False
        if rules.max_open_risk_r is not None and len(open_) + 1 > rules.max_open_risk_r + 1e-9:
            ok = False
        if rules.max_open_risk_pct is not None and open_.risk_pct.sum() + row.risk_pct > rules.max_open_risk_pct + 1e-9:
            ok = False
        taken.append(ok)
    return taken


def random_trades(seed: int, n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    entry = pd.Timestamp("2025-03-03 00:00", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 10 * 24 * 12, n)) * 5, "min")
    held = pd.to_timedelta(rng.integers(1, 60, n) * 5, "min")
    return pd.DataFrame({"entry_time": entry, "exit_known": entry + held,
                         "r": rng.choice([-1.0, -1.0, -1.0, 2.0, 0.5, -0.3], n), "risk_pct": rng.choice([0.5, 1.0], n)})


RULES = [GovernorRules(max_daily_loss_r=2), GovernorRules(max_trades_per_day=3, day_start="00:00"),
         GovernorRules(max_open_risk_r=2), GovernorRules(max_daily_loss_pct=1.5, max_open_risk_pct=1.5),
         GovernorRules(max_daily_loss_r=3, max_trades_per_day=4, max_open_risk_r=3)]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("k", range(len(RULES)))
def test_matches_an_independent_brute_force_implementation(seed, k):
    t = random_trades(seed)
    out = govern(t, RULES[k])
    assert out["taken"].tolist() == brute_force(t, RULES[k])
    assert 0 < out["taken"].sum() < len(t)          # the rules bite and leave something


@pytest.mark.parametrize("seed", [4, 5])
def test_prefix_invariance_the_decisions_before_t_ignore_trades_after_t(seed):
    t = random_trades(seed)
    rules = GovernorRules(max_daily_loss_r=2, max_trades_per_day=4, max_open_risk_r=2)
    full = govern(t, rules)
    for cut in t["entry_time"].iloc[[10, 40, 77, 85]]:
        part = govern(t[t["entry_time"] < cut], rules)
        assert part["taken"].tolist() == full.loc[full["entry_time"] < cut, "taken"].tolist()
