"""Overfitting statistics of a parameter search: the deflated Sharpe ratio and the probability of backtest
overfitting, from the variants' daily-R series.

* **Deflated Sharpe ratio (DSR)** — Bailey, D. H. & López de Prado, M. (2014), "The Deflated Sharpe Ratio:
  Correcting for Selection Bias, Backtest Overfitting and Non-Normality", *Journal of Portfolio Management*
  40(5), 94–107. The probability that the best variant's true Sharpe ratio is above the Sharpe ratio the best
  of ``N`` unskilled trials would show by luck alone:

  ``SR0 = sqrt(V[SR_n]) · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`` (γ ≈ 0.5772, Euler–Mascheroni), and
  ``DSR = Φ((SR* − SR0) √(T − 1) / √(1 − γ₃ SR* + (γ₄ − 1)/4 · SR*²))`` with ``SR*`` the selected variant's
  per-period (daily, not annualised) Sharpe ratio, ``T`` the number of days, ``γ₃`` the skewness and ``γ₄``
  the (non-excess) kurtosis of its daily R, ``V[SR_n]`` the variance of the trials' Sharpe ratios.
  DSR ≥ 0.95 is the paper's bar for a discovery.

* **Probability of backtest overfitting (PBO)** by combinatorially symmetric cross-validation (CSCV) —
  Bailey, D. H., Borwein, J. M., López de Prado, M. & Zhu, Q. J. (2015/2017), "The Probability of Backtest
  Overfitting", *Journal of Computational Finance* 20(4), 39–69. The T × N matrix of daily R is cut into
  ``S`` equal blocks of consecutive days; for every way of choosing ``S/2`` blocks as in-sample (the rest
  out-of-sample), the variant with the best in-sample Sharpe ratio is located in the out-of-sample ranking:
  ``ω = rank / (N + 1)``, ``λ = ln(ω / (1 − ω))``; PBO = the share of splits with ``λ ≤ 0``, i.e. where the
  in-sample winner ranks at or below the out-of-sample median. 50 % is what pure noise gives.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = rng.normal(0, 1, size=(240, 50))                # 240 days × 50 variants of noise
    >>> 0.2 < pbo(m, n_blocks=8).pbo < 0.8
    True
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from statistics import NormalDist

_N = NormalDist()

EULER_GAMMA = 0.5772156649015329


def _sr(x: np.ndarray) -> float:
    sd = x.std(ddof=1) if len(x) > 1 else 0.0
    return float(x.mean() / sd) if sd > 1e-12 else math.nan


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """``SR0``: the expected maximum per-period Sharpe ratio of ``n_trials`` unskilled trials whose Sharpe
    ratios have variance ``sr_variance`` (Bailey & López de Prado 2014, eq. 6 / the "false strategy"
    theorem). 0 for a single trial."""
    if n_trials <= 1 or not sr_variance > 0:
        return 0.0
    z1 = _N.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sr_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def probabilistic_sharpe(sr: float, sr_benchmark: float, t: int, skew: float, kurt: float) -> float:
    """PSR: ``Φ((SR − SR_b) √(T − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 SR²))`` (Bailey & López de Prado 2012), per-period
    Sharpe ratios, ``kurt`` non-excess. NaN when undefined."""
    if not (np.isfinite(sr) and t > 1):
        return math.nan
    den = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not den > 0:
        return math.nan
    return float(_N.cdf((sr - sr_benchmark) * math.sqrt(t - 1) / math.sqrt(den)))


@dataclass
class DeflatedSharpe:
    """``dsr`` probability (0–1) that the selected variant's true Sharpe ratio exceeds ``sr0``; ``sr`` its
    daily Sharpe ratio, ``sr0`` the expected best daily Sharpe ratio of ``n_trials`` lucky trials,
    ``sr_annual``/``sr0_annual`` the same × √252; ``t`` days, ``skew``, ``kurtosis`` (non-excess)."""

    dsr: float
    sr: float
    sr0: float
    n_trials: int
    t: int
    skew: float
    kurtosis: float
    sr_variance: float

    @property
    def sr_annual(self) -> float:
        return self.sr * math.sqrt(252)

    @property
    def sr0_annual(self) -> float:
        return self.sr0 * math.sqrt(252)


def deflated_sharpe(returns: np.ndarray, trial_srs: np.ndarray | None = None, n_trials: int | None = None,
                    sr_variance: float | None = None) -> DeflatedSharpe:
    """The deflated Sharpe ratio of the selected variant's per-period ``returns`` (1-D, e.g. daily R).

    ``trial_srs`` the per-period Sharpe ratios of all trials (NaNs ignored) give ``n_trials`` and
    ``sr_variance`` unless those are given explicitly. Raises :class:`ValueError` with fewer than 3 returns.
    """
    x = np.asarray(returns, dtype="float64")
    if len(x) < 3:
        raise ValueError("the deflated Sharpe ratio needs at least 3 periods")
    sr = _sr(x)
    if trial_srs is not None:
        ts = np.asarray(trial_srs, dtype="float64")
        ts = ts[np.isfinite(ts)]
        n_trials = n_trials if n_trials is not None else max(1, len(ts))
        sr_variance = sr_variance if sr_variance is not None else (float(ts.var(ddof=1)) if len(ts) > 1 else 0.0)
    n_trials = n_trials or 1
    sr_variance = sr_variance or 0.0
    d = x - x.mean()
    m2 = float((d ** 2).mean())
    skew = float((d ** 3).mean() / m2 ** 1.5) if m2 > 0 else 0.0
    kurt = float((d ** 4).mean() / m2 ** 2) if m2 > 0 else 3.0
    sr0 = expected_max_sharpe(sr_variance, n_trials)
    return DeflatedSharpe(dsr=probabilistic_sharpe(sr, sr0, len(x), skew, kurt), sr=sr, sr0=sr0, n_trials=n_trials,
                          t=len(x), skew=skew, kurtosis=kurt, sr_variance=sr_variance)


@dataclass
class PBO:
    """``pbo`` probability (0–1) that the in-sample best variant ranks at or below the median out of sample;
    ``logits`` λ of every split; ``n_splits``; ``n_blocks`` S; ``degradation`` the mean out-of-sample minus
    in-sample Sharpe ratio of the chosen variants (per period); ``loss_prob`` the share of splits whose chosen
    variant has an out-of-sample Sharpe ratio below 0."""

    pbo: float
    n_splits: int
    n_blocks: int
    logits: np.ndarray = field(repr=False)
    degradation: float = math.nan
    loss_prob: float = math.nan


def _block_sharpes(s1: np.ndarray, s2: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Sharpe ratios (ddof 1) from sums, sums of squares and counts (broadcast); NaN where undefined."""
    mean = s1 / n
    # the same operations in the same order as (s2 − n·mean·mean) / max(n − 1, 1), in place (fewer temporaries)
    var = n * mean
    var *= mean
    np.subtract(s2, var, out=var)
    var /= np.maximum(n - 1, 1)
    sd = np.sqrt(np.maximum(var, 0.0, out=var), out=var)
    out = np.full(np.broadcast_shapes(mean.shape, sd.shape), np.nan)
    np.divide(mean, sd, out=out, where=sd > 1e-12)
    return out


def pbo(matrix: np.ndarray, n_blocks: int = 16, max_splits: int = 20_000) -> PBO:
    """Probability of backtest overfitting by CSCV of ``matrix`` (T periods × N variants of returns).

    ``n_blocks`` S (even; lowered to fit T, at least 2 periods per block): C(S, S/2) splits (12,870 for
    S = 16), each variant scored by its Sharpe ratio; ties broken by variant order. With more than
    ``max_splits`` combinations a fixed, evenly spread subset is used. A variant whose in-sample Sharpe
    ratio is undefined (no variance) is never chosen; out of sample it ranks lowest.
    Raises :class:`ValueError` for fewer than 2 variants or fewer than 4 periods.
    """
    m = np.asarray(matrix, dtype="float64")
    t, n = m.shape
    if n < 2:
        raise ValueError("PBO needs at least 2 variants")
    s = min(int(n_blocks) - int(n_blocks) % 2, (t // 2) - (t // 2) % 2)
    if s < 2:
        raise ValueError("PBO needs at least 4 periods")
    edges = np.linspace(0, t, s + 1).round().astype(int)
    b1 = np.array([m[edges[i]:edges[i + 1]].sum(0) for i in range(s)])              # S × N
    b2 = np.array([(m[edges[i]:edges[i + 1]] ** 2).sum(0) for i in range(s)])
    bn = np.diff(edges).astype("float64")[:, None]
    combos = list(itertools.combinations(range(s), s // 2))
    if len(combos) > max_splits:
        combos = [combos[i] for i in np.linspace(0, len(combos) - 1, max_splits).round().astype(int)]
    mask = np.zeros((len(combos), s), dtype=bool)
    for k, c in enumerate(combos):
        mask[k, list(c)] = True
    logits, deg, os_best = [], [], []
    for a in range(0, len(combos), 128):  # splits in chunks that stay in cache (bounded memory)
        fm = mask[a:a + 128].astype("float64")
        is_sr = _block_sharpes(fm @ b1, fm @ b2, fm @ bn)                               # splits × N
        os_sr = _block_sharpes((1 - fm) @ b1, (1 - fm) @ b2, (1 - fm) @ bn)
        best = np.argmax(np.where(np.isfinite(is_sr), is_sr, -np.inf), axis=1)
        rows = np.arange(len(fm))
        os_filled = np.where(np.isfinite(os_sr), os_sr, -np.inf)
        chosen = os_filled[rows, best]
        # rank of the chosen variant out of sample, 1 = worst … N = best (ties: variants before it rank lower)
        below = np.count_nonzero(os_filled < chosen[:, None], axis=1)
        ties_before = np.count_nonzero((os_filled == chosen[:, None]) & (np.arange(n)[None, :] < best[:, None]), axis=1)
        omega = (below + ties_before + 1) / (n + 1.0)
        ok = np.isfinite(is_sr[rows, best])
        logits.append(np.log(omega / (1.0 - omega))[ok])
        deg.append((os_sr[rows, best] - is_sr[rows, best])[ok])
        os_best.append(os_sr[rows, best][ok])
    logits, deg, os_best = np.concatenate(logits), np.concatenate(deg), np.concatenate(os_best)
    return PBO(pbo=float((logits <= 0).mean()) if len(logits) else math.nan, n_splits=int(len(logits)), n_blocks=s,
               logits=logits, degradation=float(np.nanmean(deg)) if len(deg) else math.nan,
               loss_prob=float((np.nan_to_num(os_best, nan=0.0) < 0).mean()) if len(os_best) else math.nan)


def plain_words(best_label: str, n_variants: int, dsr: DeflatedSharpe | None, p: PBO | None) -> str:
    """The two statistics in one or two sentences a trader reads next to the best variant."""
    parts = []
    if p is not None and np.isfinite(p.pbo):
        parts.append(f"The best of {n_variants} variants ({best_label}) has a {p.pbo * 100:.0f} % chance of being "
                     f"below the median out of sample (PBO over {p.n_splits:,} splits; 50 % is pure luck).")
    if dsr is not None and np.isfinite(dsr.dsr):
        verdict = ("a real edge at the paper's 95 % bar" if dsr.dsr >= 0.95 else
                   "no better than the best of that many random tries")
        parts.append(f"Deflated Sharpe ratio {dsr.dsr:.2f}: after {dsr.n_trials} tries its Sharpe {dsr.sr_annual:.2f} "
                     f"(annualised) vs {dsr.sr0_annual:.2f} expected from luck alone — {verdict}.")
    return " ".join(parts) if parts else "Too few variants or days for overfitting statistics."
