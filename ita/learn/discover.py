"""Guided feature discovery (seed 003): genetic programming over the journal's human features — gplearn's
``SymbolicTransformer`` evolves formulas such as ``div(stop_atr, asia_range_adr)`` — with an out-of-sample
filter: a formula is kept only if it raises the purged walk-forward AUC on folds the discovery never saw.

1. The walk-forward folds of the target (:func:`ita.learn.validation.walk_forward_folds`) are split in two: the
   earlier half are *discovery* folds, the later half *evaluation* folds. The formulas are evolved on the samples
   known before the first evaluation month (gaps filled with the discovery data's medians), so no evaluation
   month is ever seen by the search.
2. Each formula becomes one extra feature; the model family is walk-forwarded on the evaluation folds only,
   with and without it. The gain is the pooled AUC difference with a paired bootstrap 95 % CI over the same
   out-of-sample predictions; a formula is **kept only when that CI lies above 0**.
3. Kept and refused formulas are stored (``$ITA_HOME/learn/discovered.json``) as readable expressions with
   their gain; kept ones can be added to a dataset as features (:func:`add_formulas`) — a model trained on it
   carries the expressions and the live score computes them.

Example::

    >>> d = discover(df, "setup_win", generations=8)          # doctest: +SKIP
    >>> d.formulas[["expression", "gain", "gain_lo", "kept"]]  # doctest: +SKIP
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ita.config import settings
from ita.errors import ItaError
from ita.learn.dataset import get_target
from ita.learn.features import FEATURES, numeric_features
from ita.learn.model import population, walk_forward
from ita.learn.validation import auc, walk_forward_folds

FUNCTIONS = ("add", "sub", "mul", "div", "sqrt", "log", "abs", "neg", "max", "min")


def _ops() -> dict:
    from gplearn import functions as F

    return {"add": F.add2, "sub": F.sub2, "mul": F.mul2, "div": F.div2, "sqrt": F.sqrt1, "log": F.log1,
            "abs": F.abs1, "neg": F.neg1, "max": F.max2, "min": F.min2, "inv": F.inv1}


def evaluate_expression(expr: str, df: pd.DataFrame, fill: dict | None = None) -> np.ndarray:
    """The value of a gplearn expression (``add(stop_atr, div(rr, 0.5))``) on the rows of ``df``: feature names
    are columns (NaN filled with ``fill``), numbers constants, functions gplearn's protected ones. Raises
    :class:`~ita.errors.ItaError` for anything else."""
    ops = _ops()
    fill = fill or {}

    def ev(node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ops:
            return ops[node.func.id](*[ev(a) for a in node.args])
        if isinstance(node, ast.Name) and node.id in df.columns:
            return pd.to_numeric(df[node.id], errors="coerce").fillna(fill.get(node.id, 0.0)).to_numpy(dtype="float64")
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return np.full(len(df), float(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return np.full(len(df), -float(node.operand.value))
        raise ItaError(f"formula {expr!r}: cannot evaluate {ast.dump(node)[:60]} (feature names, numbers and "
                       f"{', '.join(ops)} only).")

    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError as exc:
        raise ItaError(f"formula {expr!r} is not an expression: {exc}.") from None
    return np.asarray(ev(tree), dtype="float64")


def formula_name(expr: str) -> str:
    return "gp_" + hashlib.sha256(expr.encode()).hexdigest()[:8]


def add_formulas(df: pd.DataFrame, formulas: list[dict]) -> pd.DataFrame:
    """``df`` with one column per formula (``{"name", "expression", "fill"}``), computed from its features."""
    out = df.copy()
    for f in formulas:
        out[f["name"]] = evaluate_expression(f["expression"], df, f.get("fill"))
    return out


@dataclass
class Discovery:
    """``formulas`` (``name``, ``expression``, ``fitness`` (in discovery), ``auc_base``, ``auc_with``, ``gain``,
    ``gain_lo``, ``gain_hi``, ``kept``), ``discovery_end`` (the last month the search saw), ``eval_folds``."""

    target: str
    formulas: pd.DataFrame
    discovery_end: str
    eval_folds: list[str]
    base_auc: float


def _paired_gain(y, p0, p1, n_boot: int = 500, seed: int = 0) -> tuple[float, float, float]:
    y = np.asarray(y, dtype=bool)
    g = auc(y, p1) - auc(y, p0)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].all() or not y[i].any():
            continue
        vals.append(auc(y[i], p1[i]) - auc(y[i], p0[i]))
    lo, hi = np.quantile(vals, [0.025, 0.975]) if vals else (np.nan, np.nan)
    return float(g), float(lo), float(hi)


def discover(df: pd.DataFrame, target: str = "setup_win", *, family: str = "logistic", n_components: int = 5,
             generations: int = 8, population_size: int = 400, seed: int = 0, progress=None) -> Discovery:
    """Evolve formulas on the discovery folds and keep those that raise the AUC on the evaluation folds (module
    doc). ``family``: the model the gain is measured with (``logistic`` is the quick, stable default). Raises
    :class:`~ita.learn.validation.TooFewSamples` when the target has fewer than four walk-forward folds."""
    from gplearn.genetic import SymbolicTransformer

    tg = get_target(target)
    pop = population(df, tg)
    folds = walk_forward_folds(pop, label=tg.label)
    if len(folds) < 4:
        raise ItaError(f"Feature discovery needs at least 4 walk-forward months for {tg.name} (2 to discover on, 2 to "
                       f"check); the data give {len(folds)}.")
    half = len(folds) // 2
    eval_folds = [f.label for f in folds[half:]]
    first_eval = folds[half]
    disc = pop.iloc[first_eval.train]                  # everything known (and settled) before the first check month
    nums = [f for f in numeric_features() if f in pop.columns]
    fill = disc[nums].median(numeric_only=True).fillna(0.0).to_dict()
    X = disc[nums].astype(float).fillna(fill).to_numpy()
    y = disc[tg.label].astype(float).to_numpy()
    if progress:
        progress(0, n_components + 1, f"evolving formulas on {len(disc)} samples before {first_eval.label}")
    gp = SymbolicTransformer(generations=generations, population_size=population_size, hall_of_fame=max(20, 4 * n_components),
                             n_components=n_components, function_set=FUNCTIONS, metric="spearman",
                             parsimony_coefficient=0.002, feature_names=nums, random_state=seed, n_jobs=1)
    gp.fit(X, y)
    exprs = list(dict.fromkeys(str(p) for p in gp))
    base = walk_forward(pop, tg, family, only_folds=set(eval_folds), baseline_family=None, n_boot=200)
    p0 = base.preds["p_model"].to_numpy()
    yy = base.preds["y"].to_numpy()
    rows = []
    for k, (expr, prog) in enumerate(zip(exprs, list(gp))):
        name = formula_name(expr)
        with_f = add_formulas(pop, [{"name": name, "expression": expr, "fill": fill}])
        wf = walk_forward(with_f, tg, family, features=[*FEATURES, name], only_folds=set(eval_folds),
                          baseline_family=None, n_boot=200)
        p1 = wf.preds["p_model"].to_numpy()
        g, lo, hi = _paired_gain(yy, p0, p1, seed=k)
        rows.append({"name": name, "expression": expr, "fitness": float(prog.fitness_), "auc_base": auc(yy, p0),
                     "auc_with": auc(yy, p1), "gain": g, "gain_lo": lo, "gain_hi": hi, "kept": bool(lo > 0),
                     "fill": {c: fill[c] for c in nums if c in expr}})
        if progress:
            progress(k + 1, len(exprs) + 1, f"{expr[:50]}: gain {g:+.3f}")
    return Discovery(tg.name, pd.DataFrame(rows), folds[half - 1].label, eval_folds, auc(yy, p0))


def discovered_path():
    return settings().home / "learn" / "discovered.json"


def store_discovery(d: Discovery, dataset_hash: str) -> list[dict]:
    """Append the formulas of ``d`` to ``discovered.json`` (written to a temporary file and renamed); returns
    every stored formula."""
    p = discovered_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    cur = json.loads(p.read_text()) if p.is_file() else []
    now = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    for r in d.formulas.to_dict("records"):
        cur.append({**{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()},
                    "target": d.target, "dataset_hash": dataset_hash, "discovery_end": d.discovery_end,
                    "eval_folds": d.eval_folds, "created_at": now})
    tmp = p.with_name(f".discovered.{os.getpid()}.partial")
    tmp.write_text(json.dumps(cur, indent=1, default=str))
    os.replace(tmp, p)
    return cur


def kept_formulas(target: str | None = None) -> list[dict]:
    """The stored formulas that passed the out-of-sample filter (of ``target``), newest first, one per name."""
    p = discovered_path()
    rows = json.loads(p.read_text()) if p.is_file() else []
    seen, out = set(), []
    for r in reversed(rows):
        if r.get("kept") and (target is None or r["target"] == target) and r["name"] not in seen:
            seen.add(r["name"])
            out.append(r)
    return out
