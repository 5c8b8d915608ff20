"""The p(success) model: a logistic-regression baseline and gradient boosting (LightGBM), each with its
hyper-parameters chosen and its probabilities calibrated **inside the training window only**, scored by a
purged walk-forward (:mod:`ita.learn.validation`).

Inside a training window (:func:`fit_window`): the samples are split by time into a fitting part (the first
75 %) and a later validation part (purged); every candidate of the family's grid is fitted on the first and
scored by log loss on the second; the best one is calibrated on the validation part (Platt's sigmoid, or
isotonic regression with ≥ 1000 validation samples) with scikit-learn's ``CalibratedClassifierCV`` over the
frozen model. The test month is never seen by any of these choices.

:func:`walk_forward` runs that on every monthly fold and returns the out-of-sample predictions of the
boosting model, the logistic baseline and Laplace's rule per setup (group) with the scores of each — per fold
and pooled, AUC with a bootstrap CI — and the per-setup figures the live gate reads.

Example::

    >>> wf = walk_forward(df, "setup_win")                              # doctest: +SKIP
    >>> wf.pooled["model"]["auc"], wf.pooled["model"]["auc_lo"]         # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.learn.dataset import Target, get_target
from ita.learn.features import FEATURES, categorical_features
from ita.learn.validation import (EMBARGO, MIN_TRAIN, TooFewSamples, inner_split, laplace_rates, scores,
                                  walk_forward_folds)

FAMILIES = ("lgbm", "logistic")
GRIDS: dict[str, list[dict]] = {
    "lgbm": [{"num_leaves": 4, "min_child_samples": 40, "n_estimators": 150},
             {"num_leaves": 8, "min_child_samples": 20, "n_estimators": 150},
             {"num_leaves": 15, "min_child_samples": 40, "n_estimators": 300}],
    "logistic": [{"C": 0.05}, {"C": 0.5}, {"C": 5.0}],
}
MIN_VALIDATION = 25
ISOTONIC_FROM = 1000


class Design:
    """The model's input matrix: numeric features as they are (NaN kept for boosting, median-imputed and
    scaled inside the logistic pipeline), categorical features one-hot over the categories seen when
    fitted (``name=value`` columns; an unseen value is all zeros)."""

    def __init__(self, features: list[str] | None = None):
        names = list(features or FEATURES)
        cats = set(categorical_features())
        self.numeric = [f for f in names if f not in cats]
        self.categorical = [f for f in names if f in cats]
        self.categories: dict[str, list[str]] = {}

    def fit(self, df: pd.DataFrame) -> "Design":
        missing = [c for c in self.numeric + self.categorical if c not in df.columns]
        if missing:
            raise ItaError(f"the dataset lacks the feature column(s) {', '.join(missing)}; rebuild it with "
                           "`ita learn dataset`.")
        self.categories = {c: sorted(map(str, df[c].dropna().unique())) for c in self.categorical}
        return self

    @property
    def columns(self) -> list[str]:
        return self.numeric + [f"{c}={v}" for c in self.categorical for v in self.categories[c]]

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        parts = [df[self.numeric].to_numpy(dtype="float64")]
        for c in self.categorical:
            vals = df[c].astype(str).to_numpy()
            parts.append(np.stack([(vals == v).astype("float64") for v in self.categories[c]], axis=1)
                         if self.categories[c] else np.zeros((len(df), 0)))
        return np.hstack(parts)


def make_estimator(family: str, params: dict, seed: int = 0):
    """An unfitted scikit-learn classifier of ``family`` (``lgbm`` | ``logistic``) with ``params``."""
    if family == "lgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(learning_rate=0.03, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              reg_lambda=1.0, n_jobs=1, verbose=-1, random_state=seed, **params)
    if family == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                             LogisticRegression(max_iter=2000, **params))
    raise ItaError(f"Unknown model family {family!r}: one of {', '.join(FAMILIES)}.")


@dataclass
class Fitted:
    """A model fitted in one training window: ``design``, ``estimator`` (uncalibrated, for SHAP),
    ``calibrated`` (what predicts), ``family``, ``params`` (chosen), ``calibration`` (``sigmoid`` | ``isotonic``
    | ``none``), ``inner`` (validation log loss per candidate), ``n_fit``/``n_val``."""

    design: Design
    estimator: object
    calibrated: object
    family: str
    params: dict
    calibration: str
    inner: list[dict] = field(default_factory=list)
    n_fit: int = 0
    n_val: int = 0

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_shap"}   # the SHAP explainer is rebuilt

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """p(label) for each row of ``df`` (the feature columns)."""
        X = self.design.transform(df)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self.calibrated.predict_proba(X)[:, 1]

    def raw_margin(self, X: np.ndarray) -> np.ndarray:
        """The uncalibrated model's log-odds."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            p = np.clip(self.estimator.predict_proba(X)[:, 1], 1e-9, 1 - 1e-9)
        return np.log(p / (1 - p))


def _ll(y, p) -> float:
    from ita.learn.validation import log_loss

    return log_loss(y, p)


def fit_window(df: pd.DataFrame, positions: np.ndarray, label: str, family: str = "lgbm",
               grid: list[dict] | None = None, features: list[str] | None = None, seed: int = 0) -> Fitted:
    """Fit ``family`` on the training window ``positions`` of ``df`` (module doc): grid search and calibration
    on the window's own later part. Raises :class:`~ita.learn.validation.TooFewSamples` when the window has
    one class or fewer than ``MIN_TRAIN`` samples."""
    y_all = df[label].to_numpy(dtype=bool)
    if len(positions) < MIN_TRAIN:
        raise TooFewSamples(f"a training window has {len(positions)} samples; it needs {MIN_TRAIN}.")
    if len(set(y_all[positions])) < 2:
        raise TooFewSamples(f"the target {label!r} has one class only in the training window "
                            f"({len(positions)} samples, all {bool(y_all[positions][0])}).")
    fit, val = inner_split(df, positions)
    grid = grid or GRIDS[family]
    ok_val = len(val) >= MIN_VALIDATION and len(set(y_all[val])) == 2 and len(set(y_all[fit])) == 2
    if not ok_val:
        fit, val = positions, np.zeros(0, dtype=int)
    design = Design(features).fit(df.iloc[fit])
    Xf, yf = design.transform(df.iloc[fit]), y_all[fit]
    Xv, yv = design.transform(df.iloc[val]), y_all[val]
    inner, best = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for params in (grid if ok_val else grid[:1]):
            est = make_estimator(family, params, seed).fit(Xf, yf)
            ll = _ll(yv, est.predict_proba(Xv)[:, 1]) if ok_val else float("nan")
            inner.append({"params": params, "val_log_loss": ll})
            if best is None or ll < best[0]:
                best = (ll, params, est)
        _, params, est = best
        calibration = "none"
        calibrated = est
        if ok_val:
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.frozen import FrozenEstimator

            calibration = "isotonic" if len(val) >= ISOTONIC_FROM else "sigmoid"
            calibrated = CalibratedClassifierCV(FrozenEstimator(est), method=calibration).fit(Xv, yv)
    return Fitted(design, est, calibrated, family, params, calibration, inner, len(fit), len(val))


@dataclass
class WalkForward:
    """Out-of-sample results: ``preds`` (one row per test sample: ``fold``, ``event_id``, ``group``, ``y``,
    ``p_model``, ``p_logistic``, ``p_laplace``), ``folds`` (per fold: sizes, purged/embargoed, chosen params,
    scores), ``pooled`` (``{"model"|"logistic"|"laplace"|"coin": scores}``), ``by_group`` (per setup/group:
    scores of the model and of Laplace, for the gate)."""

    target: str
    family: str
    preds: pd.DataFrame
    folds: pd.DataFrame
    pooled: dict
    by_group: pd.DataFrame


def population(df: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The rows of ``df`` with a final label for ``target``, in time order. Raises :class:`ItaError` when the
    label column is missing or has one class."""
    if target.label not in df.columns:
        raise ItaError(f"the dataset has no {target.label!r} column: target {target.name} needs a "
                       f"{target.kind} dataset (`ita learn dataset --kind {target.kind}`).")
    pop = df[target.population(df)].sort_values("known_at", kind="stable").reset_index(drop=True)
    y = pop[target.label].astype(bool)
    if len(pop) == 0 or y.nunique() < 2:
        raise TooFewSamples(f"target {target.name}: {len(pop)} samples with "
                            f"{'one class only' if len(pop) else 'no labels'}; a model needs wins and losses.")
    return pop


def walk_forward(df: pd.DataFrame, target: str | Target, family: str = "lgbm", *, min_train: int = MIN_TRAIN,
                 embargo: pd.Timedelta = EMBARGO, features: list[str] | None = None, n_boot: int = 1000,
                 progress=None, baseline_family: str | None = "logistic", only_folds: set[str] | None = None) -> WalkForward:
    """Purged walk-forward of ``family`` (and the logistic baseline) on ``df`` for ``target`` (module doc).
    ``features``: the model inputs (default: the catalogue); ``only_folds``: test only these months
    (``YYYY-MM``). ``progress(done, total, text)`` per fold. Raises :class:`~ita.learn.validation.TooFewSamples`
    when no fold has enough samples or the label has one class."""
    tg = get_target(target) if isinstance(target, str) else target
    pop = population(df, tg)
    folds = walk_forward_folds(pop, min_train=min_train, embargo=embargo, label=tg.label)
    if only_folds is not None:
        folds = [f for f in folds if f.label in only_folds]
    y = pop[tg.label].to_numpy(dtype=bool)
    groups = pop["setup_id"].astype(str) + "|" + pop["symbol"].astype(str)
    rows, fold_rows = [], []
    for k, f in enumerate(folds):
        m = fit_window(pop, f.train, tg.label, family, features=features)
        test = pop.iloc[f.test]
        p_model = m.predict(test)
        p_base = (fit_window(pop, f.train, tg.label, baseline_family, features=features).predict(test)
                  if baseline_family else np.full(len(test), np.nan))
        p_lap = laplace_rates(groups.iloc[f.train], y[f.train], groups.iloc[f.test])
        yt = y[f.test]
        sc = scores(yt, p_model, n_boot=min(n_boot, 300))
        fold_rows.append({"fold": f.label, "train": len(f.train), "test": len(f.test), "positives": int(yt.sum()),
                          "purged": f.purged, "embargoed": f.embargoed, "params": m.params,
                          "calibration": m.calibration, "auc": sc["auc"], "auc_lo": sc["auc_lo"],
                          "auc_hi": sc["auc_hi"], "brier": sc["brier"], "brier_laplace": float(np.mean((p_lap - yt) ** 2)),
                          "auc_logistic": scores(yt, p_base, n_boot=0)["auc"] if baseline_family else np.nan})
        rows.append(pd.DataFrame({"fold": f.label, "event_id": test["event_id"].to_numpy(),
                                  "setup_id": test["setup_id"].astype(str).to_numpy(),
                                  "symbol": test["symbol"].astype(str).to_numpy(),
                                  "known_at": test["known_at"].to_numpy(), "y": yt, "p_model": p_model,
                                  "p_logistic": p_base, "p_laplace": p_lap}))
        if progress:
            progress(k + 1, len(folds), f"fold {f.label}: AUC {sc['auc']:.3f}")
    preds = pd.concat(rows, ignore_index=True)
    yy = preds["y"].to_numpy()
    pooled = {"model": scores(yy, preds["p_model"], n_boot),
              "laplace": scores(yy, preds["p_laplace"], n_boot),
              "coin": scores(yy, np.full(len(yy), 0.5), 0)}
    if baseline_family:
        pooled["logistic"] = scores(yy, preds["p_logistic"], n_boot)
    return WalkForward(tg.name, family, preds, pd.DataFrame(fold_rows), pooled, by_group(preds, n_boot))


def by_group(preds: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Per setup (all symbols together): ``n``, ``positives``, the model's ``auc`` with ``auc_lo``/``auc_hi``,
    ``brier`` and ``brier_laplace`` on the out-of-sample predictions."""
    rows = []
    for sid, g in preds.groupby("setup_id", sort=True):
        sc = scores(g["y"], g["p_model"], n_boot)
        rows.append({"setup_id": sid, **sc, "brier_laplace": float(np.mean((g["p_laplace"] - g["y"]) ** 2))})
    return pd.DataFrame(rows)


def fit_final(df: pd.DataFrame, target: str | Target, family: str = "lgbm",
              features: list[str] | None = None) -> Fitted:
    """The model to use from now on: :func:`fit_window` on every labelled sample of ``df``."""
    tg = get_target(target) if isinstance(target, str) else target
    pop = population(df, tg)
    return fit_window(pop, np.arange(len(pop)), tg.label, family, features=features)


__all__ = ["FAMILIES", "GRIDS", "Design", "Fitted", "WalkForward", "by_group", "fit_final", "fit_window",
           "make_estimator", "population", "walk_forward"]
