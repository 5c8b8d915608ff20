"""Similar past signals: for any signal, the k nearest **earlier** signals in standardised feature space, with
their outcomes.

Candidates are the dataset's signals whose outcome was known before the query signal's ``known_at`` (a filled
trade that exited — never one still running then), of the same setup (all setups when it has fewer than ``k``).
Each numeric feature is standardised by the candidates' mean and standard deviation (a feature a candidate
lacks counts as the mean), the label features add 1 per mismatch (session, symbol), and the distance is
Euclidean. The neighbours' win rate comes with its Wilson 95 % interval — a handful of neighbours says little,
and the interval shows it.

Example::

    >>> res = nearest(dataset, query_row, k=10)                              # doctest: +SKIP
    >>> res.win_rate, res.ci, res.neighbours[["event_id", "r", "distance"]]  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.learn.features import categorical_features, numeric_features
from ita.learn.validation import wilson

EXCLUDE = ("hist_n_90d",)        # how much history a setup had is no likeness of the market


@dataclass
class Similar:
    """``neighbours`` (rows of the dataset, nearest first, with ``distance``), ``wins``, ``n``, ``win_rate``,
    ``ci`` (Wilson 95 %), ``mean_r`` (R), ``scope`` (``same setup`` | ``all setups``), ``candidates``."""

    neighbours: pd.DataFrame
    wins: int
    n: int
    win_rate: float
    ci: tuple[float, float]
    mean_r: float
    scope: str
    candidates: int


def nearest(dataset: pd.DataFrame, query: pd.Series, k: int = 10) -> Similar:
    """The ``k`` nearest earlier signals to ``query`` (a row with the feature columns, ``known_at`` and
    ``setup_id``) among ``dataset`` (a setups dataset with outcomes). Raises :class:`~ita.errors.ItaError` when
    no earlier signal with a known outcome exists."""
    if k < 1:
        raise ItaError("k must be at least 1.")
    t = pd.Timestamp(query["known_at"])
    done = dataset["filled"].astype(bool) & (dataset["exit_reason"] != "end_of_data") \
        & (pd.DatetimeIndex(dataset["outcome_end"]) <= t)
    if "event_id" in query and "event_id" in dataset:
        done &= dataset["event_id"] != query["event_id"]
    cand = dataset[done]
    scope = "same setup"
    same = cand[cand["setup_id"] == query.get("setup_id")]
    if len(same) >= k:
        cand = same
    else:
        scope = "all setups"
    if cand.empty:
        raise ItaError(f"No earlier signal with a known outcome before {t:%Y-%m-%d %H:%M} UTC to compare with.")
    nums = [f for f in numeric_features() if f not in EXCLUDE and f in cand.columns]
    X = cand[nums].to_numpy(dtype="float64")
    q = np.array([float(query[f]) if query.get(f) is not None else np.nan for f in nums], dtype="float64")
    import warnings

    with warnings.catch_warnings():                  # a feature a setup never has (zone size) is all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(X, axis=0)
        sd = np.nanstd(X, axis=0)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    mu = np.where(np.isfinite(mu), mu, 0.0)
    Z = np.nan_to_num((X - mu) / sd)
    zq = np.nan_to_num((q - mu) / sd)
    d2 = ((Z - zq) ** 2).sum(axis=1)
    for c in categorical_features():
        if c in cand.columns and c in query and c != "setup":
            d2 += (cand[c].astype(str).to_numpy() != str(query[c])).astype(float)
    order = np.argsort(d2, kind="stable")[:k]
    nb = cand.iloc[order].copy()
    nb["distance"] = np.sqrt(d2[order])
    wins = int(nb["win"].astype(bool).sum())
    n = len(nb)
    return Similar(nb, wins, n, wins / n, wilson(wins, n), float(nb["r"].mean()), scope, len(cand))
