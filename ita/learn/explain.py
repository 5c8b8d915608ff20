"""Why a model scored an event what it did: SHAP values (Lundberg & Lee, 2017) in words.

For the boosting model ``shap.TreeExplainer`` gives exact per-input contributions to the model's log-odds;
for the logistic baseline the linear SHAP values ``coef · (z − mean z)`` of the scaled inputs. One-hot
columns of a label feature (``session=asia``, ``session=other`` …) are summed back into that feature. The
contributions are then scaled to probability points so they add up to ``p − p̄`` (the event's calibrated
p(success) minus the model's average p on its training data) — "ATR percentile 0.91 (+0.06), Asia range 31
pips (−0.04)".

Example::

    >>> contributions(fitted, row, base_p=0.23)[:2]                    # doctest: +SKIP
    [('atr_pct_20d', 0.91, 0.06), ('asia_range_pips', 31.0, -0.04)]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ita.learn.model import Fitted

#: how a feature reads in a sentence: (label, format of its value)
LABELS: dict[str, tuple[str, str]] = {
    "setup": ("setup", "{}"), "symbol": ("symbol", "{}"), "direction": ("direction", "{:+.0f}"),
    "session": ("session", "{}"), "weekday": ("weekday", "{:.0f}"), "ny_hour": ("NY hour", "{:.2f}"),
    "atr_m5_pips": ("M5 ATR", "{:.1f} pips"), "atr_pct_20d": ("ATR percentile", "{:.2f}"),
    "adr_pips": ("ADR", "{:.0f} pips"), "asia_range_pips": ("Asia range", "{:.0f} pips"),
    "asia_range_adr": ("Asia range", "{:.2f} ADR"), "zone_pips": ("zone", "{:.1f} pips"),
    "zone_atr": ("zone", "{:.2f} ATR"), "stop_atr": ("stop", "{:.2f} ATR"), "rr": ("RR", "{:.1f}"),
    "mom_1h_atr": ("1h momentum", "{:+.2f} ATR"), "h1_trend": ("H1 trend", "{:+.0f}"),
    "h4_trend": ("H4 trend", "{:+.0f}"), "h1_swing_room_adr": ("room to the H1 swing", "{:.2f} ADR"),
    "pd_room_adr": ("room to the previous day's extreme", "{:.2f} ADR"),
    "pd_back_adr": ("distance back to the previous day's other extreme", "{:.2f} ADR"),
    "pw_room_adr": ("room to the previous week's extreme", "{:.2f} ADR"), "spread_pips": ("spread", "{:.1f} pips"),
    "signals_today": ("signals earlier today", "{:.0f}"), "hist_n_90d": ("earlier outcomes (90 d)", "{:.0f}"),
    "hist_winrate_90d": ("recent win rate", "{:.2f}"), "hist_streak": ("streak", "{:+.0f}"),
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _explainer(fitted: Fitted):
    ex = getattr(fitted, "_shap", None)
    if ex is None:
        import shap

        ex = shap.TreeExplainer(fitted.estimator)
        fitted._shap = ex  # type: ignore[attr-defined]
    return ex


def shap_matrix(fitted: Fitted, df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """SHAP values (log-odds) of every model input for the rows of ``df``: ``(values n × inputs, input names)``."""
    X = fitted.design.transform(df)
    names = fitted.design.columns
    if fitted.family == "lgbm":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # shap's note on LightGBM's output format
            vals = _explainer(fitted).shap_values(X)
        if isinstance(vals, list):         # older shap: one array per class
            vals = vals[1]
        vals = np.asarray(vals)
        if vals.ndim == 3:
            vals = vals[:, :, 1]
        return vals, names
    pipe = fitted.estimator
    imp, scale, lr = pipe[0], pipe[1], pipe[2]
    z = scale.transform(imp.transform(X))     # mean 0 over the fitting data: linear SHAP is coef · z
    return z * lr.coef_[0], names


def grouped(values: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Sum one-hot columns (``feature=value``) back into their feature: ``(values n × features, feature names)``."""
    feats = list(dict.fromkeys(n.split("=", 1)[0] for n in names))
    out = np.zeros((values.shape[0], len(feats)))
    for j, n in enumerate(names):
        out[:, feats.index(n.split("=", 1)[0])] += values[:, j]
    return out, feats


def importance(fitted: Fitted, df: pd.DataFrame) -> pd.Series:
    """Global importance: mean |SHAP| (log-odds) per feature over the rows of ``df``, largest first."""
    vals, names = grouped(*shap_matrix(fitted, df))
    return pd.Series(np.abs(vals).mean(axis=0), index=names).sort_values(ascending=False)


def describe_value(name: str, value) -> str:
    """A feature's value as a trader reads it (``Asia range 31 pips``)."""
    label, fmt = LABELS.get(name, (name, "{}"))
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return f"{label} n/a"
    if name == "weekday":
        return f"weekday {WEEKDAYS[int(value)]}"
    try:
        return f"{label} {fmt.format(value)}"
    except (ValueError, TypeError):
        return f"{label} {value}"


def contributions(fitted: Fitted, row: pd.DataFrame, base_p: float) -> tuple[float, list[tuple[str, object, float]]]:
    """``(p, [(feature, value, contribution in probability points), …])`` for the one-row frame ``row``,
    largest |contribution| first; the contributions add up to ``p − base_p``."""
    p = float(fitted.predict(row)[0])
    vals, names = grouped(*shap_matrix(fitted, row))
    phi = vals[0]
    total = phi.sum()
    delta = p - base_p
    if abs(total) > 1e-9 and np.sign(total) == np.sign(delta) and abs(delta) > 1e-9:
        contrib = phi / total * delta
    else:                                   # p ≈ base or the calibration flipped the sign: the slope at p
        contrib = phi * p * (1 - p)
    order = np.argsort(-np.abs(contrib))
    return p, [(names[j], row.iloc[0][names[j]] if names[j] in row.columns else None, float(contrib[j]))
               for j in order]


def in_words(items: list[tuple[str, object, float]], top: int = 4) -> str:
    """``ATR percentile 0.91 (+0.06), Asia range 31 pips (−0.04)`` for the ``top`` contributions."""
    return ", ".join(f"{describe_value(n, v)} ({c:+.2f})".replace("-", "−") for n, v, c in items[:top])
