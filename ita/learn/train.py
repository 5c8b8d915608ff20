"""``train``: dataset → purged walk-forward → the final model, its report and the live gate, stored.

Example::

    >>> from ita.learn.train import train
    >>> res = train("setup_win")                       # the latest setups dataset       # doctest: +SKIP
    >>> res.model_id, res.manifest["pooled"]["model"]["auc"]                             # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.learn.dataset import dataset_hash, get_target, latest_dataset, read_dataset
from ita.learn.explain import importance
from ita.learn.features import FEATURES, feature_hash
from ita.learn.model import FAMILIES, GRIDS, fit_final, population, walk_forward
from ita.learn.registry import code_hash, gate_decision, load_model, model_id, save_model
from ita.learn.report import fmt_ci, folds_figure, importance_figure, reliability_figure, report_html
from ita.learn.validation import EMBARGO, MIN_TRAIN


@dataclass
class TrainResult:
    """``model_id``, ``path`` (the model folder), ``manifest``, ``reused`` (the same inputs were trained
    before), ``warnings`` (e.g. PNG export skipped)."""

    model_id: str
    path: Path
    manifest: dict
    reused: bool = False
    warnings: list[str] = field(default_factory=list)


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def train(target: str = "setup_win", dataset: str | Path | pd.DataFrame | None = None, family: str = "lgbm", *,
          min_train: int = MIN_TRAIN, embargo: pd.Timedelta = EMBARGO, progress=None, png: bool = True) -> TrainResult:
    """Train ``family`` (``lgbm`` | ``logistic``) for ``target`` on ``dataset`` (a Parquet path, a DataFrame, or
    None: the latest stored dataset of the target's kind), validate it by purged walk-forward, fit the final
    model on all labelled samples, decide the live gate per setup and store everything (:mod:`.registry`).

    Raises :class:`~ita.errors.ItaError` for an unknown target or family, a missing dataset, too few samples
    for a fold (how many it has and needs), a target with one class.
    """
    tg = get_target(target)
    if family not in FAMILIES:
        raise ItaError(f"Unknown model family {family!r}: one of {', '.join(FAMILIES)}.")
    meta: dict = {}
    if isinstance(dataset, pd.DataFrame):
        df = dataset
    else:
        path = Path(dataset) if dataset else latest_dataset(tg.kind)
        if path is None:
            raise ItaError(f"No {tg.kind} dataset yet: build one with `ita learn dataset"
                           f"{'' if tg.kind == 'setups' else ' --kind ' + tg.kind}`.")
        df, meta = read_dataset(path)
    dh = dataset_hash(df)
    from ita.learn.discover import kept_formulas

    formulas = [f for f in kept_formulas() if f["name"] in df.columns]     # discovered features the dataset holds
    features = [*FEATURES, *(f["name"] for f in formulas)]
    params = {"family": family, "grid": GRIDS[family], "min_train": min_train, "embargo": str(embargo),
              "formulas": [f["expression"] for f in formulas]}
    mid = model_id(tg.name, dh, params)
    try:
        stored = load_model(mid)
        return TrainResult(mid, stored.path, stored.manifest, reused=True)
    except ItaError:
        pass
    wf = walk_forward(df, tg, family, min_train=min_train, embargo=embargo, progress=progress, features=features)
    if progress:
        progress(len(wf.folds), len(wf.folds), "final model on all samples")
    final = fit_final(df, tg, family, features=features)
    pop = population(df, tg)
    imp = importance(final, pop)
    base_p = float(np.mean(final.predict(pop)))
    gate = {}
    for r in wf.by_group.to_dict("records"):
        use, why = gate_decision(r)
        gate[r["setup_id"]] = _clean({**r, "use_model": use, "reason": why})
    pm, pl, plog = wf.pooled["model"], wf.pooled["laplace"], wf.pooled.get("logistic")
    manifest = _clean({
        "model_id": mid, "target": tg.name, "label": tg.label, "kind": tg.kind, "description": tg.description,
        "family": family, "params": params, "chosen_params": final.params, "calibration": final.calibration,
        "dataset_hash": dh, "dataset_meta": meta, "feature_hash": feature_hash(), "code_hash": code_hash(),
        "features": final.design.columns, "formulas": [{k: f[k] for k in ("name", "expression", "fill")} for f in formulas],
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "samples": len(pop), "positives": int(pop[tg.label].astype(bool).sum()),
        "period": [str(pd.Timestamp(pop["known_at"].min()).date()), str(pd.Timestamp(pop["known_at"].max()).date())],
        "pooled": wf.pooled, "base_p": base_p, "importance": imp.to_dict(),
        "folds": wf.folds.assign(params=wf.folds["params"].astype(str)).to_dict("records"), "gate": gate,
        "verdict": verdict(pm),
    })
    warnings: list[str] = []
    title = f"{tg.name} · {family} · {mid}"

    def artifacts(folder: Path) -> None:
        figs = [reliability_figure(wf.preds, f"Reliability (out-of-sample, {pm['n']} samples) — {tg.name}"),
                folds_figure(wf.folds, f"Walk-forward AUC per test month — {tg.name}"),
                importance_figure(imp, f"Global importance (mean |SHAP|) — {tg.name} {family}")]
        if png:
            from ita.charts import save_png

            for fig, name in zip(figs, ("reliability.png", "folds.png", "importance.png")):
                try:
                    save_png(fig, folder / name, width=1000, height=650)
                except ItaError as exc:
                    warnings.append(f"{name} skipped: {exc}")
                    break
        lines = [f"Target: {tg.description} ({tg.name}); {pm['n']} out-of-sample predictions over "
                 f"{len(wf.folds)} walk-forward months, {manifest['positives']} positives of {len(pop)} samples.",
                 f"Model ({family}): AUC {fmt_ci(pm['auc'], pm['auc_lo'], pm['auc_hi'])}, Brier {pm['brier']:.4f}, "
                 f"log loss {pm['log_loss']:.4f}.",
                 f"Laplace per setup: AUC {fmt_ci(pl['auc'], pl['auc_lo'], pl['auc_hi'])}, Brier {pl['brier']:.4f}, "
                 f"log loss {pl['log_loss']:.4f}. Coin (0.5): Brier 0.2500, log loss 0.6931."]
        if plog:
            lines.append(f"Logistic baseline: AUC {fmt_ci(plog['auc'], plog['auc_lo'], plog['auc_hi'])}, "
                         f"Brier {plog['brier']:.4f}.")
        lines.append(f"Verdict: {manifest['verdict']}")
        gate_df = pd.DataFrame([{"setup": k, "n": v["n"], "AUC": fmt_ci(v["auc"], v["auc_lo"], v["auc_hi"]),
                                 "Brier": v["brier"], "Brier Laplace": v["brier_laplace"],
                                 "live score": "model" if v["use_model"] else "Laplace", "why": v["reason"]}
                                for k, v in gate.items()])
        report_html(folder / "report.html", title, lines, figs,
                    {"Walk-forward folds": wf.folds.drop(columns=["params"]), "Live gate per setup": gate_df})

    path = save_model(mid, manifest, final, df, wf.preds, artifacts)
    return TrainResult(mid, path, manifest, warnings=warnings)


def verdict(pm: dict) -> str:
    """One honest sentence on the pooled out-of-sample AUC."""
    a, lo, hi = pm.get("auc"), pm.get("auc_lo"), pm.get("auc_hi")
    if a is None or not np.isfinite(a) or lo is None or not np.isfinite(lo):
        return "no AUC (one class out of sample)."
    ci = fmt_ci(a, lo, hi)
    if lo > 0.5:
        good = " — meets the 0.60 target" if a >= 0.6 else " — below the 0.60 target"
        return f"better than chance: AUC {ci}, the CI lies above 0.5{good}."
    if hi < 0.5:
        return f"worse than chance out of sample: AUC {ci}; do not use it."
    return f"no better than chance: AUC {ci}, the CI contains 0.5."
