"""Honest validation: purged, embargoed walk-forward splits and scores with their uncertainty.

Splits (López de Prado, *Advances in Financial Machine Learning*, ch. 7). Every sample ``k`` has an outcome
window ``[known_at_k, outcome_end_k]`` (signal → exit). For a test set with window ``[t0, t1]`` (its first
``known_at``, its last ``outcome_end``):

* **walk-forward** — the training candidates are the samples known strictly before the test month starts
  (expanding window); each month with enough samples is one test fold.
* **purge** (AFML 7.4.1) — a training sample whose outcome window overlaps ``[t0, t1]`` is removed: its label
  was decided by prices inside the test period.
* **embargo** (AFML 7.4.2) — a training sample known in ``(t1, t1 + embargo]``, just after the test window, is
  removed as well (serial correlation leaks backwards). Walk-forward training never reaches past ``t0``, so
  there the embargo bites only in :func:`purged_kfold` and the inner splits of a training window
  (:func:`inner_split`), which use the same rule.

Scores: ROC AUC (Mann–Whitney, ties counted half) with a percentile bootstrap 95 % CI; Brier score; log loss
(probabilities clipped to [1e-6, 1 − 1e-6]); the baselines 0.5 and Laplace's rule per group,
``(wins + 1) / (n + 2)`` over the training window's labels — the rule the live score uses today
(:mod:`ita.live.score`).

Example::

    >>> folds = walk_forward_folds(df, min_train=100)                        # doctest: +SKIP
    >>> auc_ci(y, p)                                                         # doctest: +SKIP
    (0.61, 0.55, 0.67)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.times import NY

MIN_TRAIN = 100
MIN_TEST = 10
EMBARGO = pd.Timedelta(days=1)
N_BOOT = 1000


class TooFewSamples(ItaError):
    """Not enough samples (or only one class) for a fold."""


@dataclass
class Fold:
    """One test fold: ``label`` (``YYYY-MM``), ``test_start``/``test_end`` (UTC, the month's bounds), ``train``
    and ``test`` (integer positions into the dataset), ``purged``/``embargoed`` (training candidates removed)."""

    label: str
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    train: np.ndarray
    test: np.ndarray
    purged: int = 0
    embargoed: int = 0
    notes: list[str] = field(default_factory=list)


def _times(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    known = pd.DatetimeIndex(df["known_at"]).as_unit("ns").asi8
    end = pd.DatetimeIndex(df["outcome_end"]).as_unit("ns").asi8
    if (end < known).any():
        k = int(np.argmax(end < known))
        raise ItaError(f"sample {k}: outcome_end {df['outcome_end'].iloc[k]} is before known_at {df['known_at'].iloc[k]}.")
    return known, end


def purge(known: np.ndarray, end: np.ndarray, train: np.ndarray, test: np.ndarray,
          embargo: pd.Timedelta = EMBARGO) -> tuple[np.ndarray, int, int]:
    """Remove from ``train`` (positions) the samples whose outcome window overlaps the test window, and those
    known within ``embargo`` after it. ``known``/``end`` are int64 ns. Returns ``(kept, purged, embargoed)``."""
    if len(test) == 0 or len(train) == 0:
        return train, 0, 0
    t0, t1 = known[test].min(), end[test].max()
    k, e = known[train], end[train]
    overlap = (k <= t1) & (e >= t0)
    emb = ~overlap & (k > t1) & (k <= t1 + pd.Timedelta(embargo).value)
    return train[~overlap & ~emb], int(overlap.sum()), int(emb.sum())


def walk_forward_folds(df: pd.DataFrame, *, min_train: int = MIN_TRAIN, min_test: int = MIN_TEST,
                       embargo: pd.Timedelta = EMBARGO, label: str | None = None) -> list[Fold]:
    """Monthly walk-forward folds over ``df`` (columns ``known_at``, ``outcome_end``; optionally the bool
    ``label`` column to require both classes in training): test = the samples known in one New York calendar
    month; train = every sample known before that month, purged (module doc). Months with fewer than
    ``min_test`` samples are skipped; so are months before the training window reaches ``min_train`` samples.

    Raises :class:`TooFewSamples` when no month qualifies, saying how many samples the best month had and how
    many it needs.
    """
    known, end = _times(df)
    month = pd.DatetimeIndex(df["known_at"]).tz_convert(NY).tz_localize(None).to_period("M")
    y = df[label].to_numpy(dtype=bool) if label else None
    folds, best = [], (0, None)
    for m in sorted(set(month)):
        test = np.flatnonzero(month == m)
        start = pd.Timestamp(m.start_time).tz_localize(NY).tz_convert("UTC")
        stop = pd.Timestamp((m + 1).start_time).tz_localize(NY).tz_convert("UTC")
        cand = np.flatnonzero(known < start.value)
        train, purged, emb = purge(known, end, cand, test, embargo)
        best = max(best, (len(train), str(m)), key=lambda x: x[0])
        if len(test) < min_test or len(train) < min_train:
            continue
        if y is not None and len(set(y[train])) < 2:
            continue
        folds.append(Fold(str(m), start, stop, train, test, purged, emb))
    if not folds:
        raise TooFewSamples(
            f"Too few samples for a walk-forward fold: {len(df)} samples in all; the largest training window "
            f"(before {best[1] or 'the first month'}) has {best[0]}, a fold needs {min_train} training samples "
            f"and {min_test} test samples in its month. Use a longer period or more setups/symbols.")
    return folds


def purged_kfold(df: pd.DataFrame, k: int = 5, embargo: pd.Timedelta = EMBARGO) -> list[Fold]:
    """AFML's purged k-fold with embargo: ``k`` contiguous test blocks in time; training = everything else,
    purged and embargoed. (Used for checks and discovery; the model's score is the walk-forward one.)"""
    known, end = _times(df)
    order = np.argsort(known, kind="stable")
    out = []
    for j, test in enumerate(np.array_split(order, k)):
        train = np.setdiff1d(order, test)
        kept, p, e = purge(known, end, train, np.sort(test), embargo)
        out.append(Fold(f"block {j + 1}", pd.Timestamp(known[test].min(), tz="UTC"),
                        pd.Timestamp(end[test].max(), tz="UTC"), kept, np.sort(test), p, e))
    return out


def inner_split(df: pd.DataFrame, positions: np.ndarray, frac: float = 0.75,
                embargo: pd.Timedelta = EMBARGO) -> tuple[np.ndarray, np.ndarray]:
    """Split a training window (``positions`` into ``df``) by time into a fitting part (the first ``frac`` of
    the samples) and a later validation part used for hyper-parameters and calibration; fitting samples whose
    outcome overlaps the validation part are purged."""
    known, end = _times(df)
    pos = positions[np.argsort(known[positions], kind="stable")]
    cut = int(round(len(pos) * frac))
    fit, val = pos[:cut], pos[cut:]
    fit, _, _ = purge(known, end, fit, val, embargo)
    return fit, val


# ---- scores ---------------------------------------------------------------------------------------------

def auc(y, p) -> float:
    """ROC AUC by the Mann–Whitney statistic (ties half); NaN when ``y`` has one class."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype="float64")
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy.stats import rankdata

    r = rankdata(p)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_ci(y, p, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(AUC, low, high): the AUC and its percentile bootstrap CI over ``n_boot`` resamples of the rows (resamples
    with one class are skipped). NaNs when ``y`` has one class."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype="float64")
    a = auc(y, p)
    if np.isnan(a):
        return a, float("nan"), float("nan")
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    n = len(y)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        yy = y[idx]
        n1 = int(yy.sum())
        if n1 == 0 or n1 == n:
            continue
        r = rankdata(p[idx])
        vals.append((r[yy].sum() - n1 * (n1 + 1) / 2) / (n1 * (n - n1)))
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2]) if vals else (np.nan, np.nan)
    return a, float(lo), float(hi)


def brier(y, p) -> float:
    y = np.asarray(y, dtype="float64")
    return float(np.mean((np.asarray(p, dtype="float64") - y) ** 2)) if len(y) else float("nan")


def log_loss(y, p) -> float:
    y = np.asarray(y, dtype="float64")
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else float("nan")


def laplace_rates(groups_train, y_train, groups_test) -> np.ndarray:
    """Laplace's rule per group: ``(wins + 1) / (n + 2)`` over the training labels of the test sample's group
    (0.5 for a group the training window never saw)."""
    tr = pd.DataFrame({"g": np.asarray(groups_train, dtype=str), "y": np.asarray(y_train, dtype=float)})
    rate = tr.groupby("g")["y"].agg(lambda s: (s.sum() + 1) / (len(s) + 2))
    return pd.Series(np.asarray(groups_test, dtype=str)).map(rate).fillna(0.5).to_numpy(dtype="float64")


def scores(y, p, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """``n``, ``positives``, ``auc``, ``auc_lo``, ``auc_hi``, ``brier``, ``log_loss`` of predictions ``p``."""
    a, lo, hi = auc_ci(y, p, n_boot, seed)
    y = np.asarray(y, dtype=bool)
    return {"n": int(len(y)), "positives": int(y.sum()), "auc": a, "auc_lo": lo, "auc_hi": hi,
            "brier": brier(y, p), "log_loss": log_loss(y, p)}


def reliability(y, p, bins: int = 10) -> pd.DataFrame:
    """Reliability table: per equal-width bin of predicted p, ``p_mean`` (mean prediction), ``observed``
    (frequency of positives), ``n``, and the Wilson 95 % interval of ``observed`` (``lo``, ``hi``)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    b = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for k in range(bins):
        sel = b == k
        if not sel.any():
            continue
        lo, hi = wilson(int(y[sel].sum()), int(sel.sum()))
        rows.append({"bin": k, "p_mean": float(p[sel].mean()), "observed": float(y[sel].mean()), "n": int(sel.sum()),
                     "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (95 % by default) for ``k`` successes in ``n`` trials; (nan, nan) when n = 0.
    Reference: E. B. Wilson (1927), *JASA* 22, 209–212."""
    if n == 0:
        return float("nan"), float("nan")
    ph = k / n
    den = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, c - h)), float(min(1.0, c + h))
