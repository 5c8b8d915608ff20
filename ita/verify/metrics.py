"""Verification metrics: hits, misses, unlabelled detections, precision and recall."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

METRIC_LABELS = ["Start", "End", "Labels", "Hits", "Misses", "Detections", "Unlabelled", "Precision [%]",
                 "Recall [%]", "Tolerance [bars]"]
"""The keys of :attr:`ita.verify.VerifyResult.metrics`, in order."""


def json_metric(v):
    """A metric value for ``summary.json``: dates as ``YYYY-MM-DD``, numpy ints as int, floats rounded to 6
    places (NaN/inf → None)."""
    if isinstance(v, pd.Timestamp):
        return f"{v:%Y-%m-%d}"
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else round(float(v), 6)
    return v


def label_metrics(res: pd.DataFrame, sig: pd.DataFrame, unl: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp,
                  tolerance: int) -> pd.Series:
    """The :data:`METRIC_LABELS` of one verification: ``res`` the per-label results (``result`` hit/miss),
    ``sig`` every signal (``in_period`` bool), ``unl`` the unlabelled signals, ``lo``/``hi`` the period's
    trading days. ``precision = hits / (hits + unlabelled)``, ``recall = hits / labels`` (percent; NaN when
    the denominator is 0)."""
    hits = int((res["result"] == "hit").sum())
    n = len(res)
    return pd.Series({
        "Start": lo, "End": hi, "Labels": n, "Hits": hits, "Misses": n - hits,
        "Detections": int(sig["in_period"].sum()) if len(sig) else 0,
        "Unlabelled": len(unl),
        "Precision [%]": 100.0 * hits / (hits + len(unl)) if hits + len(unl) else float("nan"),
        "Recall [%]": 100.0 * hits / n if n else float("nan"),
        "Tolerance [bars]": int(tolerance),
    }, dtype=object)
