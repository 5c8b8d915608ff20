"""Trained models, versioned and stored: ``$ITA_HOME/learn/models/<model id>/``.

A model id is ``<target>-<12 hex>``, the hash of everything that made it: the dataset's hash, the feature
set's hash (:func:`ita.learn.features.feature_hash`), the learning code's hash (the source of
``ita/learn/*.py``) and the training parameters (family, grids, minimum training size, embargo). The same
inputs give the same id (training again is a no-op); anything different gives a new folder, never an
overwrite. A folder is built under a temporary name and renamed into place when complete.

Folder: ``model.joblib`` (the fitted design, estimator and calibration), ``manifest.json`` (ids, hashes,
parameters, per-fold and pooled scores, the per-setup gate), ``dataset.parquet`` (the dataset it was trained
on: explanations and similar signals read it), ``preds.parquet`` (the out-of-sample predictions),
``reliability.png``/``folds.png``/``importance.png`` and ``report.html``. ``active.json`` names the model in
use per target (the newest trained).

The gate (:func:`gate_decision`): a setup's live score comes from the model only when, on that setup's
out-of-sample predictions, the model's AUC 95 % CI lies above 0.5 **and** its Brier score beats Laplace's;
otherwise Laplace stays, and the reason says which test failed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ita.config import settings
from ita.errors import ItaError
from ita.learn.features import feature_hash

GATE_MIN_N = 30


def models_dir() -> Path:
    d = settings().home / "learn" / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def code_hash() -> str:
    """SHA-256 (16 hex) of the learning module's source files."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def model_id(target: str, dataset_hash: str, params: dict) -> str:
    """``<target>-<12 hex>`` of the dataset, feature set, code and training parameters."""
    key = json.dumps({"target": target, "dataset": dataset_hash, "features": feature_hash(), "code": code_hash(),
                      "params": params},
                     sort_keys=True, default=str)
    return f"{target}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def gate_decision(row: dict) -> tuple[bool, str]:
    """``(use the model?, why)`` for one setup's out-of-sample figures (``n``, ``positives``, ``auc``,
    ``auc_lo``, ``auc_hi``, ``brier``, ``brier_laplace``)."""
    n, pos = int(row.get("n") or 0), int(row.get("positives") or 0)
    auc = f"AUC {row['auc']:.3f} [{row['auc_lo']:.3f}, {row['auc_hi']:.3f}]" if np.isfinite(row.get("auc", np.nan)) \
        and np.isfinite(row.get("auc_lo", np.nan)) else "AUC n/a"
    where = f"on {n} out-of-sample trades"
    if n < GATE_MIN_N or pos == 0 or pos == n:
        return False, f"too few out-of-sample trades ({n}, {pos} wins; the gate needs {GATE_MIN_N} with wins and losses): Laplace"
    if not row["auc_lo"] > 0.5:
        return False, f"{auc} {where}: the CI includes 0.5 (no better than chance): Laplace"
    if not row["brier"] < row["brier_laplace"]:
        return False, f"{auc} {where}, but Brier {row['brier']:.4f} does not beat Laplace's {row['brier_laplace']:.4f}: Laplace"
    return True, f"{auc} {where} and Brier {row['brier']:.4f} < Laplace {row['brier_laplace']:.4f}: model"


@dataclass
class StoredModel:
    """A stored model: ``model_id``, ``path`` (its folder), ``manifest`` (dict), ``fitted``
    (:class:`ita.learn.model.Fitted`, loaded on first use)."""

    model_id: str
    path: Path
    manifest: dict

    @property
    def fitted(self):
        f = self.__dict__.get("_fitted")
        if f is None:
            import joblib

            f = self.__dict__["_fitted"] = joblib.load(self.path / "model.joblib")
        return f

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """p(success) of rows holding the catalogue's features; the discovered formulas the model uses are
        computed from them first."""
        forms = self.manifest.get("formulas") or []
        if forms:
            from ita.learn.discover import add_formulas

            features = add_formulas(features, forms)
        return self.fitted.predict(features)

    def dataset(self) -> pd.DataFrame:
        """The dataset the model was trained on."""
        return pd.read_parquet(self.path / "dataset.parquet")

    def preds(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "preds.parquet")

    def gate(self, setup_id: str) -> tuple[bool, str]:
        """The gate for ``setup_id`` (False with a reason when the model never saw it out of sample)."""
        g = (self.manifest.get("gate") or {}).get(setup_id)
        if g is None:
            return False, f"the model {self.model_id} has no out-of-sample trades of {setup_id}: Laplace"
        return bool(g["use_model"]), str(g["reason"])


def save_model(mid: str, manifest: dict, fitted, dataset: pd.DataFrame, preds: pd.DataFrame,
               write_artifacts) -> Path:
    """Store a model under its id (module doc). ``write_artifacts(folder)`` adds the charts and report.
    Returns the folder; an existing folder of the same id is left as it is."""
    import joblib

    final = models_dir() / mid
    if final.is_dir():
        _set_active(manifest["target"], mid)
        return final
    partial = models_dir() / f".{mid}.{os.getpid()}.partial"
    partial.mkdir(parents=True)
    try:
        joblib.dump(fitted, partial / "model.joblib")
        dataset.to_parquet(partial / "dataset.parquet", index=False)
        preds.to_parquet(partial / "preds.parquet", index=False)
        write_artifacts(partial)
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _set_active(manifest["target"], mid)
    return final


def _set_active(target: str, mid: str) -> None:
    p = models_dir() / "active.json"
    cur = json.loads(p.read_text()) if p.is_file() else {}
    cur[target] = mid
    tmp = p.with_name(f".active.{os.getpid()}.partial")
    tmp.write_text(json.dumps(cur, indent=1))
    os.replace(tmp, p)


def active(target: str) -> str | None:
    """The id of the model in use for ``target``, or None."""
    p = models_dir() / "active.json"
    return json.loads(p.read_text()).get(target) if p.is_file() else None


def load_model(ref: str, check_features: bool = True) -> StoredModel:
    """A stored model by id, or the active model of a target name. Raises :class:`~ita.errors.ItaError` for an
    unknown model, and — with ``check_features`` — for a model trained on another feature set than this
    code computes (both hashes in the message)."""
    mid = active(ref) or ref
    path = models_dir() / mid
    if not (path / "manifest.json").is_file():
        known = [p.name for p in models_dir().iterdir() if p.is_dir() and not p.name.startswith(".")]
        from ita.errors import closest

        raise ItaError(f"No trained model {ref!r}.{closest(ref, known)} Train one with `ita learn train`"
                       + (f"; stored: {', '.join(sorted(known))}." if known else "."))
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if check_features and manifest.get("feature_hash") != feature_hash():
        raise ItaError(f"Model {mid} was trained on feature set {manifest.get('feature_hash')}, but this ITA computes "
                       f"feature set {feature_hash()}: its inputs would be misread. Retrain with `ita learn train "
                       f"--target {manifest.get('target')}`.")
    return StoredModel(mid, path, manifest)


def list_models() -> pd.DataFrame:
    """Every stored model: ``model_id``, ``target``, ``family``, ``created_at``, ``samples``, ``auc``, ``auc_lo``,
    ``auc_hi``, ``brier``, ``brier_laplace``, ``active`` (bool), newest first."""
    rows = []
    act = set()
    p = models_dir() / "active.json"
    if p.is_file():
        act = set(json.loads(p.read_text()).values())
    for d in models_dir().iterdir():
        m = d / "manifest.json"
        if not d.is_dir() or d.name.startswith(".") or not m.is_file():
            continue
        man = json.loads(m.read_text(encoding="utf-8"))
        pm, pl = man["pooled"]["model"], man["pooled"]["laplace"]
        rows.append({"model_id": d.name, "target": man["target"], "family": man["family"],
                     "created_at": man["created_at"], "samples": pm["n"], "auc": pm["auc"], "auc_lo": pm["auc_lo"],
                     "auc_hi": pm["auc_hi"], "brier": pm["brier"], "brier_laplace": pl["brier"],
                     "feature_hash": man.get("feature_hash"), "active": d.name in act})
    df = pd.DataFrame(rows)
    return df.sort_values("created_at", ascending=False).reset_index(drop=True) if len(df) else df
