"""Overfitting statistics, Monte Carlo and challenge odds (issue 13 items 2, 4, 5) against independent computations,
the papers' worked example, closed-form and deterministic cases."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from ita.errors import ItaError
from ita.research.challenge import challenge_odds, day_matrix, load_rules
from ita.research.montecarlo import monte_carlo
from ita.research.overfit import deflated_sharpe, expected_max_sharpe, pbo, plain_words, probabilistic_sharpe


# ---- deflated Sharpe ratio -------------------------------------------------------------------------------------

def test_dsr_matches_an_independent_scipy_computation():
    rng = np.random.default_rng(7)
    trials = rng.normal(0.0005, 0.01, size=(500, 40))
    best = trials[:, 3] + 0.002
    srs = trials.mean(0) / trials.std(0, ddof=1)
    d = deflated_sharpe(best, trial_srs=srs)
    # independent: scipy's moments and normal distribution, the paper's formulas written out
    sr = best.mean() / best.std(ddof=1)
    g3, g4 = sps.skew(best), sps.kurtosis(best, fisher=False)
    v = srs.var(ddof=1)
    e = 0.5772156649015329
    sr0 = math.sqrt(v) * ((1 - e) * sps.norm.ppf(1 - 1 / 40) + e * sps.norm.ppf(1 - 1 / (40 * math.e)))
    want = sps.norm.cdf((sr - sr0) * math.sqrt(len(best) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr ** 2))
    assert d.sr0 == pytest.approx(sr0, rel=1e-9)
    assert d.dsr == pytest.approx(want, rel=1e-9)
    assert d.n_trials == 40 and d.t == 500


def test_dsr_worked_example_of_the_paper():
    """Bailey & López de Prado (2014), numerical example: annualised SR 2.5 over 5 years of daily returns
    (T = 1250), skewness −3, kurtosis 10, N = 100 trials whose annualised Sharpe ratios have variance 1/2 → DSR ≈ 0.90."""
    day = 1 / math.sqrt(250)
    sr0 = expected_max_sharpe(0.5 * day ** 2, 100)
    dsr = probabilistic_sharpe(2.5 * day, sr0, 1250, -3.0, 10.0)
    assert sr0 == pytest.approx(0.1132, abs=5e-4)             # the paper's expected maximum (daily) SR of 100 trials
    assert dsr == pytest.approx(0.90, abs=0.01)


def test_one_trial_is_the_probabilistic_sharpe_ratio():
    x = np.random.default_rng(1).normal(0.001, 0.01, 300)
    assert deflated_sharpe(x, n_trials=1).sr0 == 0.0


# ---- PBO (CSCV) ------------------------------------------------------------------------------------------------

def _pbo_naive(m: np.ndarray, s: int) -> list[float]:
    """CSCV written out with loops (Bailey, Borwein, López de Prado, Zhu 2015, §2)."""
    t, n = m.shape
    edges = np.linspace(0, t, s + 1).round().astype(int)
    blocks = [m[edges[i]:edges[i + 1]] for i in range(s)]
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        train = np.vstack([blocks[i] for i in combo])
        test = np.vstack([blocks[i] for i in range(s) if i not in combo])
        r_is = train.mean(0) / train.std(0, ddof=1)
        r_os = test.mean(0) / test.std(0, ddof=1)
        best = int(np.argmax(r_is))
        rank = int((r_os < r_os[best]).sum() + ((r_os == r_os[best]) & (np.arange(n) < best)).sum()) + 1
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    return logits


def test_pbo_matches_a_loop_implementation():
    m = np.random.default_rng(3).normal(0, 1, size=(160, 12))
    p = pbo(m, n_blocks=8)
    want = _pbo_naive(m, 8)
    assert p.n_splits == math.comb(8, 4) == len(want)
    assert np.allclose(p.logits, want)
    assert p.pbo == pytest.approx(np.mean(np.array(want) <= 0))


def test_pbo_of_a_dominant_variant_is_zero_and_of_noise_is_near_a_half():
    rng = np.random.default_rng(0)
    m = rng.normal(0, 1, size=(400, 20))
    m[:, 5] += 1.0                        # better in every block
    assert pbo(m, n_blocks=10).pbo == 0.0
    noise = [pbo(rng.normal(0, 1, size=(200, 30)), n_blocks=8).pbo for _ in range(8)]
    assert 0.3 < float(np.mean(noise)) < 0.7


def test_plain_words():
    m = np.random.default_rng(2).normal(0, 1, size=(120, 10))
    text = plain_words("rr=3", 240, deflated_sharpe(m[:, 0], trial_srs=m.mean(0) / m.std(0, ddof=1)), pbo(m, 8))
    assert "The best of 240 variants (rr=3) has a" in text and "chance of being below the median out of sample" in text


# ---- Monte Carlo -----------------------------------------------------------------------------------------------

def test_montecarlo_closed_form_when_all_trades_are_equal():
    for method in ("bootstrap", "shuffle"):
        mc = monte_carlo(np.full(40, -0.5), n=500, method=method)
        assert np.all(mc.max_dd == 20.0) and np.all(mc.final_r == -20.0)
        assert np.all(mc.losing_streak == 40) and np.all(mc.underwater == 40)
        assert mc.p_dd_beyond[10.0] == 1.0 and mc.p_dd_beyond[20.0] == 0.0   # exactly 20 R is not beyond 20 R
        up = monte_carlo(np.full(40, 2.0), n=50, method=method)
        assert np.all(up.max_dd == 0) and np.all(up.final_r == 80.0) and np.all(up.underwater == 0)


def test_montecarlo_is_reproducible_with_a_seed_and_shuffle_keeps_the_total():
    r = np.random.default_rng(5).choice([-1.0, 2.0], size=200, p=[0.65, 0.35])
    a, b = monte_carlo(r, n=2000, seed=11), monte_carlo(r, n=2000, seed=11)
    assert np.array_equal(a.max_dd, b.max_dd) and np.array_equal(a.final_r, b.final_r)
    assert not np.array_equal(a.max_dd, monte_carlo(r, n=2000, seed=12).max_dd)
    s = monte_carlo(r, n=300, method="shuffle")
    assert np.allclose(s.final_r, r.sum())
    # the streak of one path checked by hand
    one = monte_carlo(np.array([-1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 3.0]), n=1, method="shuffle", seed=0)
    assert 1 <= int(one.losing_streak[0]) <= 5
    pct = a.percentiles
    assert list(pct.columns) == ["p5", "p50", "p95"] and pct.loc["Max drawdown [R]", "p5"] <= pct.loc["Max drawdown [R]", "p95"]


def test_montecarlo_bad_input():
    with pytest.raises(ItaError, match="at least one trade"):
        monte_carlo([])
    with pytest.raises(ItaError, match="bootstrap or shuffle"):
        monte_carlo([1.0], method="jackknife")


# ---- challenge odds --------------------------------------------------------------------------------------------

def test_challenge_odds_exact_on_deterministic_sequences():
    win = np.ones((30, 1))
    zero = np.zeros((30, 1))
    odds = challenge_odds(win, zero, "ftmo_2step", [1, 2, 6], n=200)
    assert (odds.table["pass"] == 1.0).all()
    # 1 %: 10 days to +10 %, then 5 days to +5 % → 15; 2 %: 5 + 4 (min 4 trading days); 6 %: 4 + 4
    assert odds.table["median_days_to_pass"].tolist() == [15.0, 9.0, 8.0]
    lose = challenge_odds(-win, -win, "ftmo_2step", [1, 6], n=200)
    assert lose.table.loc[1.0, "fail_total"] == 1.0        # −1 % a day reaches −10 % on day 10
    assert lose.table.loc[6.0, "fail_daily"] == 1.0        # −6 % in one day breaks the 5 % daily limit
    slow = challenge_odds(np.full((30, 1), 0.1), zero, "ftmo_2step_classic", [1], n=100)
    assert slow.table.loc[1.0, "timeout"] == 1.0           # +0.1 %/day cannot reach +10 % in 30 calendar days
    assert odds.best_risk == 1.0                           # ties → the lowest risk


def test_challenge_floating_loss_counts():
    # +1 R closes, but each trade first sits 6 R under water: at 1 % that is −6 % intraday → daily limit
    odds = challenge_odds(np.ones((10, 1)), np.full((10, 1), -6.0), "ftmo_2step", [1], n=50)
    assert odds.table.loc[1.0, "fail_daily"] == 1.0


def test_rules_file_is_dated_and_says_confirm():
    for rid in ("ftmo_2step", "ftmo_2step_classic", "one_step_example"):
        r = load_rules(rid)
        assert r.checked and "onfirm" in r.note
    with pytest.raises(ItaError, match="Did you mean: ftmo_2step"):
        load_rules("ftmo_2stp")


def test_day_matrix_keeps_days_without_trades():
    import pandas as pd

    days = pd.bdate_range("2025-03-03", "2025-03-07")
    tr = pd.DataFrame({"day": ["2025-03-04", "2025-03-04", "2025-03-06"], "r": [1.0, -1.0, 2.0],
                       "mae_r": [-0.5, -1.0, 0.0]})
    R, M = day_matrix(list(days), tr)
    assert R.shape == (5, 2) and np.isnan(R[0]).all() and R[1].tolist() == [1.0, -1.0] and R[3, 0] == 2.0
    assert M[1].tolist() == [-0.5, -1.0]
