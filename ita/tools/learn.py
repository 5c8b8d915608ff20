"""Learning tools: ``build_dataset``, ``train_model``, ``learn_status``, ``list_features`` (and, below, the
signal tools ``signal_probability``, ``explain_signal``, ``similar_signals``, ``recommend_changes``,
``discover_features``). They compute with :mod:`ita.learn` and return :class:`ToolResult` s; every score is
shown with its confidence interval and its baselines."""
from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Callable, Literal

from pydantic import Field

from ita.errors import ItaError
from ita.format import DASH
from ita.tools.access import candle_store, trading_period
from ita.tools.registry import END_DESC, START_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Artifact, Table, ToolResult
from ita.tools.signals import feature_row, find_signal, live_rows, signal_dataset

log = logging.getLogger(__name__)

#: a face may set ``progress(done, total, text)`` for the long tools (dataset, train, discover)
PROGRESS: ContextVar[Callable[[int, int, str], None] | None] = ContextVar("ita_learn_progress", default=None)

TARGET_DESC = ("What to predict: setup_win (a filled setup trade ends with R > 0), fvg_respected, fvg_mitigated "
               "(every FVG), sweep_reversal (every liquidity sweep).")


def _f(v, digits: int = 3) -> str:
    import numpy as np
    try:
        v = float(v)
    except (TypeError, ValueError):
        return DASH
    return DASH if not np.isfinite(v) else f"{v:.{digits}f}"


def _ci(d: dict) -> str:
    import numpy as np
    from ita.learn.report import fmt_ci

    return fmt_ci(d.get("auc", np.nan) if d.get("auc") is not None else np.nan,
                  d.get("auc_lo") if d.get("auc_lo") is not None else np.nan,
                  d.get("auc_hi") if d.get("auc_hi") is not None else np.nan)


def verdict_code(pm: dict) -> str:
    """``better`` (the AUC CI lies above 0.5), ``worse`` (below), ``chance`` (contains it) or ``none``."""
    import numpy as np
    lo, hi = pm.get("auc_lo"), pm.get("auc_hi")
    if lo is None or hi is None or not np.isfinite(lo):
        return "none"
    return "better" if lo > 0.5 else "worse" if hi < 0.5 else "chance"


# ---- dataset --------------------------------------------------------------------------------------------

class BuildDatasetArgs(ToolArgs):
    kind: Literal["setups", "fvg", "sweep"] | None = Field(None, description="setups (default: every setup signal "
                                                           "with its trade), fvg (every FVG) or sweep (every sweep).")
    setups: list[str] | str = Field("all", description="Setup ids, comma-separated, or 'all' (the latest version "
                                    "of each shipped setup). Only for kind=setups.", examples=["all"])
    symbols: list[str] | str | None = Field(None, description="Instruments, comma-separated (default: every stored "
                                            "symbol).", examples=["EURUSD,XAUUSD"])
    start: str | None = Field(None, description=START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=END_DESC, examples=["2025-12-31"])
    path: str | None = Field(None, description="Write the Parquet file here (default: the learning store).")
    with_discovered: bool = Field(False, description="Add the discovered formulas that passed their out-of-sample "
                                  "check (ita learn discover) as features.")


def _csv(v) -> list[str]:
    if v is None:
        return []
    items = v if isinstance(v, list) else str(v).split(",")
    return [s.strip() for s in items if str(s).strip()]


def _symbols(v) -> list[str]:
    from ita.data.instruments import get_instrument

    syms = [get_instrument(s).symbol for s in _csv(v)]
    if not syms:
        syms = sorted(candle_store().symbols())
    if not syms:
        raise ItaError("No candles stored yet: import data with `ita data import`.")
    return syms


@tool(BuildDatasetArgs)
def build_dataset(a: BuildDatasetArgs) -> ToolResult:
    """Build a learning dataset: every setup signal (or FVG / sweep) with its feature vector, computed only from
    what was known at the signal, and its outcome; written as Parquet."""
    import pandas as pd
    from ita.learn.dataset import build_event_dataset, build_setup_dataset, write_dataset
    from ita.setups import list_setups, load_setup

    kind = a.kind or "setups"
    syms = _symbols(a.symbols)
    store = candle_store()
    lo, hi = trading_period(store, syms[0], a.start, a.end)
    if kind == "setups":
        ids = list(list_setups()) if _csv(a.setups) in ([], ["all"]) else _csv(a.setups)
        loaded = [load_setup(s) for s in ids]
        df = build_setup_dataset(loaded, syms, lo, hi, store=store, progress=PROGRESS.get())
        from ita.learn.dataset import append_live

        n_bt = len(df)
        df = append_live(df, live_rows(ids, syms))          # signals the live loop followed beyond the store
        label, pop = "win", df["filled"].astype(bool) & (df["exit_reason"] != "end_of_data")
    else:
        df = build_event_dataset(kind, syms, lo, hi, store=store)
        label = "respected" if kind == "fvg" else "reversal"
        pop = pd.Series(True, index=df.index)
        ids = sorted(df["setup_id"].unique())
    if a.with_discovered:
        from ita.learn.discover import add_formulas, kept_formulas

        forms = kept_formulas()
        df = add_formulas(df, forms) if forms else df
        ids = list(ids)
    meta = {"setups": ids, "symbols": syms, "start": lo, "end": hi,
            "built_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}
    path = write_dataset(df, kind, meta, a.path)
    rows = []
    lab = df[pop]
    for (sid, sym), g in lab.groupby(["setup_id", "symbol"], sort=True):
        n_all = int(((df["setup_id"] == sid) & (df["symbol"] == sym)).sum())
        rows.append([sid, sym, n_all, len(g), int(g[label].astype(bool).sum()),
                     f"{100 * g[label].astype(bool).mean():.1f}%"])
    first = str(pd.Timestamp(df["known_at"].min()).date()) if len(df) else DASH
    live_n = (len(df) - n_bt) if kind == "setups" else 0
    summary = (f"{kind} dataset: {len(df)} rows{f' ({live_n} from the live journal)' if live_n else ''} ({len(lab)} labelled, {int(lab[label].astype(bool).sum())} "
               f"positive) on {', '.join(syms)}, {first} → {hi}; {len(df.columns)} columns; {path}.")
    say = {"kind": kind, "rows": len(df), "labelled": int(len(lab)), "positives": int(lab[label].astype(bool).sum()),
           "symbols": ", ".join(syms), "start": first, "end": hi, "path": str(path), "columns": len(df.columns),
           "target": "setup_win" if kind == "setups" else ("fvg_respected" if kind == "fvg" else "sweep_reversal")}
    return ToolResult(tool="build_dataset", summary=summary,
                      data={"path": str(path), "kind": kind, "rows": len(df), "labelled": int(len(lab)),
                            "positives": int(lab[label].astype(bool).sum()), "symbols": syms, "setups": ids,
                            "period": [first, hi], "columns": list(df.columns), "say": say},
                      tables={"rows": Table(columns=["setup" if kind == "setups" else "group", "symbol", "rows",
                                                     "labelled", "positive", "rate"], rows=rows,
                                            title=f"Rows per {'setup' if kind == 'setups' else 'group'}")},
                      artifacts=[Artifact(kind="file", path=str(path), name=path.name, caption="dataset (Parquet)")])


# ---- train / status ----------------------------------------------------------------------------------------

class TrainModelArgs(ToolArgs):
    target: str | None = Field(None, description=TARGET_DESC + " Default setup_win.", examples=["setup_win"])
    family: Literal["lgbm", "logistic"] = Field("lgbm", description="lgbm (gradient boosting, LightGBM) or "
                                                "logistic (the baseline) as the model used live.")
    dataset: str | None = Field(None, description="A dataset Parquet path (default: the latest of the target's kind).")


def _pooled_table(man: dict) -> Table:
    rows = []
    for key, name in (("model", f"model ({man['family']})"), ("logistic", "logistic baseline"),
                      ("laplace", "Laplace per setup"), ("coin", "coin (0.5)")):
        d = man["pooled"].get(key)
        if d:
            rows.append([name, d["n"], _ci(d) if key != "coin" else "0.500", _f(d["brier"], 4), _f(d["log_loss"], 4)])
    return Table(columns=["predictor", "n", "AUC [95% CI]", "Brier", "log loss"], rows=rows,
                 title="Out-of-sample (purged walk-forward), pooled")


def _gate_table(man: dict) -> Table:
    rows = [[sid, g["n"], _ci(g), _f(g["brier"], 4), _f(g["brier_laplace"], 4),
             "model" if g["use_model"] else "Laplace", g["reason"]] for sid, g in (man.get("gate") or {}).items()]
    return Table(columns=["setup", "n", "AUC [95% CI]", "Brier", "Brier Laplace", "live score", "why"], rows=rows,
                 title="Live gate per setup")


def _model_artifacts(path) -> list[Artifact]:
    from pathlib import Path

    out = []
    for name, cap in (("reliability.png", "Reliability diagram (out-of-sample)"),
                      ("folds.png", "AUC per walk-forward month with 95% CI"),
                      ("importance.png", "Global importance (mean |SHAP|)")):
        p = Path(path) / name
        if p.is_file():
            out.append(Artifact(kind="image", path=str(p), name=name, caption=cap))
    if (Path(path) / "report.html").is_file():
        out.append(Artifact(kind="file", path=str(Path(path) / "report.html"), name="report.html",
                            caption="Model report (HTML)"))
    return out


@tool(TrainModelArgs)
def train_model(a: TrainModelArgs) -> ToolResult:
    """Train the p(success) model with a purged, embargoed walk-forward: AUC with a bootstrap CI, Brier and log loss
    against 0.5 and Laplace, a reliability diagram, the per-month AUC chart and the live gate per setup."""
    from ita.learn.train import train

    res = train(a.target or "setup_win", a.dataset, a.family, progress=PROGRESS.get())
    man = res.manifest
    pm = man["pooled"]["model"]
    folds = [[f["fold"], f["train"], f["test"], f["purged"], f["embargoed"], _ci(f), _f(f.get("auc_logistic")),
              _f(f["brier"], 4), _f(f["brier_laplace"], 4)] for f in man["folds"]]
    summary = (f"{man['target']} {man['family']} model {res.model_id}{' (already trained on this dataset)' if res.reused else ''}: "
               f"out-of-sample AUC {_ci(pm)} on {pm['n']} samples over {len(man['folds'])} months; Brier "
               f"{_f(pm['brier'], 4)} vs Laplace {_f(man['pooled']['laplace']['brier'], 4)}. {man['verdict'][:1].upper() + man['verdict'][1:]}")
    say = {"target": man["target"], "family": man["family"], "model_id": res.model_id, "auc": _ci(pm), "n": pm["n"],
           "months": len(man["folds"]), "brier": _f(pm["brier"], 4),
           "brier_laplace": _f(man["pooled"]["laplace"]["brier"], 4),
           "live": sum(bool(g["use_model"]) for g in man["gate"].values()), "setups": len(man["gate"]),
           f"verdict_{verdict_code(pm)}": ""}
    return ToolResult(tool="train_model", summary=summary,
                      data={"model_id": res.model_id, "path": str(res.path), "target": man["target"],
                            "family": man["family"], "pooled": jsonable(man["pooled"]), "verdict": man["verdict"],
                            "gate": jsonable(man["gate"]), "reused": res.reused, "warnings": res.warnings, "say": say},
                      tables={"pooled": _pooled_table(man),
                              "folds": Table(columns=["month", "train", "test", "purged", "embargoed", "AUC [95% CI]",
                                                      "AUC logistic", "Brier", "Brier Laplace"], rows=folds,
                                             title="Walk-forward folds"),
                              "gate": _gate_table(man)},
                      artifacts=_model_artifacts(res.path))


class LearnStatusArgs(ToolArgs):
    pass


@tool(LearnStatusArgs)
def learn_status(a: LearnStatusArgs) -> ToolResult:
    """The trained models (target, out-of-sample AUC with its CI, Brier vs Laplace) and, per setup, whether the
    live score uses the model or Laplace — and why."""
    from ita.learn.features import feature_hash
    from ita.learn.registry import active, list_models, load_model

    df = list_models()
    rows = [[r["model_id"], r["target"], r["family"], r["created_at"][:16].replace("T", " "), r["samples"],
             _ci(r), _f(r["brier"], 4), _f(r["brier_laplace"], 4), "✓" if r["active"] else "",
             "" if r["feature_hash"] == feature_hash() else "other feature set"] for r in df.to_dict("records")]
    tables = {"models": Table(columns=["model", "predicts", "family", "trained (UTC)", "samples", "AUC [95% CI]",
                                       "Brier", "Brier Laplace", "active", "note"], rows=rows, title="Trained models")}
    gate, note = {}, ""
    mid = active("setup_win")
    if mid:
        try:
            m = load_model("setup_win")
            tables["gate"] = _gate_table(m.manifest)
            gate = m.manifest.get("gate") or {}
            note = f" Live score: {sum(g['use_model'] for g in gate.values())} of {len(gate)} setups use the model."
        except ItaError as exc:
            note = f" The active setup_win model cannot be used live: {exc} Live scores stay Laplace."
    else:
        note = " No setup_win model yet: every live score is Laplace's rule (`ita learn train`)."
    summary = f"{len(df)} trained model(s){f'; in use for setup_win: {mid}' if mid else ''}.{note}"
    say = {"n_models": len(df), "live": sum(bool(g["use_model"]) for g in gate.values()), "setups": len(gate)}
    say["gated" if gate else ("unusable" if mid else "no_model")] = ""
    return ToolResult(tool="learn_status", summary=summary,
                      data={"models": jsonable(df.to_dict("records")), "gate": jsonable(gate), "active": mid, "say": say},
                      tables=tables)


class ListFeaturesArgs(ToolArgs):
    pass


@tool(ListFeaturesArgs)
def list_features(a: ListFeaturesArgs) -> ToolResult:
    """The feature catalogue: every feature's unit, window and known-at rule."""
    from ita.learn.features import describe, feature_hash

    d = describe()
    return ToolResult(tool="list_features", summary=f"{len(d)} features (feature set {feature_hash()}).",
                      data={"features": d.to_dict("records"), "feature_hash": feature_hash(),
                            "say": {"n": len(d), "hash": feature_hash()}},
                      tables={"features": Table(columns=["feature", "unit", "window", "known at", "what"],
                                                rows=d[["name", "unit", "window", "known_at", "doc"]].values.tolist())})


# ---- one signal: probability, explanation, similar signals --------------------------------------------------

SIGNAL_DESC = ("Signal id, e.g. asia_fvg_break-v1-EURUSD-M5-20250612T0415 (see `ita live signals`); default: the "
               "latest journaled signal.")


def _sig_context(sig: dict) -> dict:
    return {"signal_id": sig["signal_id"], "setup_id": sig["setup_id"], "symbol": sig["symbol"]}


class SignalProbabilityArgs(ToolArgs):
    signal_id: str | None = Field(None, description=SIGNAL_DESC)
    setup_id: str | None = Field(None, description="Setup id: its latest signal when no signal id is given.",
                                 examples=["asia_sweep"])
    symbol: str | None = Field(None, description="Instrument, with setup_id.", examples=["EURUSD"])


@tool(SignalProbabilityArgs)
def signal_probability(a: SignalProbabilityArgs) -> ToolResult:
    """The chance a signal works: p(success) from the model where its walk-forward gate lets it, else Laplace's
    rule over the setup's earlier trades — both shown, with the model's out-of-sample AUC and CI."""
    from ita.live.score import baseline
    from ita.setups import load_setup

    sig = find_signal(a.signal_id, a.setup_id, a.symbol)
    loaded = load_setup(sig["setup_id"], sig["version"])
    b = baseline(loaded, sig["symbol"], sig["day"], store=candle_store(sig["symbol"]))
    _, m, note = signal_dataset()
    p_model, use, why, auc = None, False, f"no usable model: {note}", None
    if m is not None:
        p_model = float(m.predict(feature_row(sig))[0])
        use, why = m.gate(sig["setup_id"])
        auc = (m.manifest.get("gate") or {}).get(sig["setup_id"])
    p = p_model if use else b.p
    kind = "model" if use else "Laplace"
    rr = abs(float(sig["tp_price"]) - float(sig["entry_price"])) / abs(float(sig["entry_price"]) - float(sig["sl_price"]))
    exp_r = p * rr - (1 - p)
    rows = [["Laplace (setup's backtest before the day)", _f(b.p, 2), b.basis]]
    if p_model is not None:
        rows.append([f"model {m.model_id}", _f(p_model, 2), f"out-of-sample AUC {_ci(auc) if auc else DASH}; {why}"])
    summary = (f"{sig['signal_id']}: p(success) {p:.2f} ({kind}); expected {exp_r:+.2f}R at RR {rr:.1f} "
               f"(breakeven {1 / (1 + rr):.2f})." + (f" The model says {p_model:.2f} but is not used: {why}."
                                                       if p_model is not None and not use else ""))
    say = {"signal_id": sig["signal_id"], "p": f"{p:.2f}", "kind": kind, "expected_r": f"{exp_r:+.2f}",
           "rr": f"{rr:.1f}", "breakeven": f"{1 / (1 + rr):.2f}", "laplace": f"{b.p:.2f}", "why": why,
           "model_p": f"{p_model:.2f}" if p_model is not None else None}
    return ToolResult(tool="signal_probability", summary=summary,
                      data={"signal_id": sig["signal_id"], "p": p, "kind": kind.lower(), "p_model": p_model,
                            "p_laplace": b.p, "gate": use, "why": why, "expected_r": exp_r, "rr": rr,
                            "source": sig["source"], "say": say},
                      tables={"scores": Table(columns=["score", "p", "basis"], rows=rows, title="Scores")},
                      context=_sig_context(sig))


class ExplainSignalArgs(ToolArgs):
    signal_id: str | None = Field(None, description=SIGNAL_DESC)


@tool(ExplainSignalArgs)
def explain_signal(a: ExplainSignalArgs) -> ToolResult:
    """Why the model scores a signal what it does: the top feature contributions (SHAP, in probability points)
    in words, and which score the live loop uses for its setup."""
    from ita.learn.explain import contributions, describe_value, in_words

    sig = find_signal(a.signal_id)
    _, m, note = signal_dataset()
    if m is None:
        raise ItaError(f"No model to explain with ({note.rstrip('.')}). The live score is then Laplace's rule, which "
                       "has nothing to explain beyond the setup's win count.")
    base = float(m.manifest.get("base_p", 0.5))
    row = feature_row(sig)
    if m.manifest.get("formulas"):
        from ita.learn.discover import add_formulas

        row = add_formulas(row, m.manifest["formulas"])
    p, items = contributions(m.fitted, row, base)
    use, why = m.gate(sig["setup_id"])
    words = in_words(items, 4)
    rows = [[describe_value(n, v), f"{c:+.3f}".replace("-", "−")] for n, v, c in items[:10]]
    summary = (f"{sig['signal_id']}: the model says {p:.2f} (average {base:.2f}): {words}. "
               f"Live score for {sig['setup_id']}: {'the model' if use else 'Laplace'} ({why}).")
    art = [x for x in _model_artifacts(m.path) if x.name == "importance.png"]
    say = {"signal_id": sig["signal_id"], "p": f"{p:.2f}", "base": f"{base:.2f}", "words": words,
           "live": "model" if use else "Laplace", "why": why, "setup_id": sig["setup_id"]}
    return ToolResult(tool="explain_signal", summary=summary,
                      data={"signal_id": sig["signal_id"], "p": p, "base_p": base, "model_id": m.model_id,
                            "contributions": jsonable([{"feature": n, "value": v, "contribution": c} for n, v, c in items]),
                            "gate": use, "why": why, "say": say},
                      tables={"contributions": Table(columns=["feature", "contribution (p)"], rows=rows,
                                                     title="Top contributions (SHAP, probability points)")},
                      artifacts=art, context=_sig_context(sig))


class SimilarSignalsArgs(ToolArgs):
    signal_id: str | None = Field(None, description=SIGNAL_DESC)
    k: int | None = Field(None, ge=1, le=50, description="How many neighbours (1–50; default 10).")


@tool(SimilarSignalsArgs)
def similar_signals(a: SimilarSignalsArgs) -> ToolResult:
    """The k most similar earlier signals (standardised features) with their outcomes, the neighbours' win rate
    with a Wilson CI, and small charts of the nearest ones."""
    import pandas as pd
    from ita.learn.similar import nearest
    from ita.tools.access import charts_dir, save_chart_png

    sig = find_signal(a.signal_id)
    ds, _, _ = signal_dataset()
    if ds is None:
        raise ItaError("No dataset of past signals yet: `ita learn dataset` builds one.")
    q = pd.Series({**sig["features"], "known_at": sig["known_at"], "setup_id": sig["setup_id"],
                   "event_id": sig["signal_id"]})
    res = nearest(ds, q, a.k or 10)
    nb = res.neighbours
    from ita.times import ny_text

    rows = [[ny_text(r["known_at"]), r["setup_id"], r["symbol"], r["side"], _f(r["distance"], 2),
             f"{r['r']:+.2f}R", r["exit_reason"], describe_session(r)] for r in nb.to_dict("records")]
    lo, hi = res.ci
    summary = (f"{res.n} signals most like {sig['signal_id']} ({res.scope}, of {res.candidates} earlier ones with "
               f"an outcome): {res.wins} won — win rate {100 * res.win_rate:.0f} % (95 % CI {100 * lo:.0f}–{100 * hi:.0f} %), "
               f"mean {res.mean_r:+.2f}R.")
    artifacts, warnings = [], []
    try:
        from ita.learn.report import similar_figure

        store = candle_store()
        panels = []
        for r in nb.head(6).to_dict("records"):
            t = pd.Timestamp(r["known_at"])
            c = store.load(r["symbol"], "M5", t - pd.Timedelta(hours=2), t + pd.Timedelta(hours=4))
            panels.append((c, r))
        fig = similar_figure(panels, f"Signals like {sig['signal_id']}")
        path, warn = save_chart_png(fig, charts_dir() / f"similar_{sig['signal_id']}.png", 1400,
                                    300 * max(1, -(-len(panels) // 3)) + 80)
        if path:
            artifacts.append(Artifact(kind="image", path=str(path), name=path.name,
                                      caption=f"The {len(panels)} nearest earlier signals (NY time)"))
        if warn:
            warnings.append(warn)
    except ItaError as exc:
        warnings.append(f"charts skipped: {exc}")
    say = {"signal_id": sig["signal_id"], "n": res.n, "wins": res.wins, "win_rate": f"{100 * res.win_rate:.0f} %",
           "lo": f"{100 * lo:.0f}", "hi": f"{100 * hi:.0f}", "mean_r": f"{res.mean_r:+.2f}R", "scope": res.scope,
           "candidates": res.candidates}
    return ToolResult(tool="similar_signals", summary=summary,
                      data={"signal_id": sig["signal_id"], "n": res.n, "wins": res.wins, "win_rate": res.win_rate,
                            "ci": list(res.ci), "mean_r": res.mean_r, "scope": res.scope,
                            "neighbours": jsonable(nb[["event_id", "known_at", "setup_id", "symbol", "side", "r",
                                                       "exit_reason", "distance"]].to_dict("records")),
                            "warnings": warnings, "say": say},
                      tables={"similar": Table(columns=["signal (NY)", "setup", "symbol", "side", "distance", "R",
                                                        "exit", "session"], rows=rows, title="Nearest earlier signals")},
                      artifacts=artifacts, context=_sig_context(sig))


def describe_session(r: dict) -> str:
    return str(r.get("session") or DASH)


# ---- recommendations ---------------------------------------------------------------------------------------

class RecommendChangesArgs(ToolArgs):
    setup_id: str = Field(description="Setup id, e.g. ib_raid (see list_setups).", examples=["ib_raid"])
    symbol: str | None = Field(None, description="Instrument (default: every stored symbol).", examples=["EURUSD"])


def _pct(v) -> str:
    import numpy as np
    return DASH if v is None or not np.isfinite(v) else f"{100 * v:.0f}%"


@tool(RecommendChangesArgs)
def recommend_changes(a: RecommendChangesArgs) -> ToolResult:
    """What works best and what loses for a setup: its trades by session, weekday, hour, volatility and direction
    (Wilson intervals, Benjamini–Hochberg across the splits); each surviving finding phrased as a setup change and
    checked out of sample by a walk-forward backtest of the changed setup."""
    import pandas as pd
    from ita.learn.dataset import build_setup_dataset
    from ita.learn.recommend import FDR, recommend
    from ita.tools.access import load_setup_checked

    loaded = load_setup_checked(a.setup_id)
    syms = [a.symbol] if a.symbol else _symbols(None)
    store = candle_store()
    lo, hi = trading_period(store, syms[0], None, None)
    ds = build_setup_dataset([loaded], syms, lo, hi, store=store)
    rec = recommend(loaded, syms, ds, store=store, progress=PROGRESS.get())
    sp = rec.splits
    split_rows = [[r["split"], r["value"], r["n"], f"{_pct(r['win_rate'])} [{_pct(r['lo'])}, {_pct(r['hi'])}]",
                   _pct(r["rest_win_rate"]), f"{r['expectancy']:+.2f}R", f"{r['total_r']:+.1f}R", _f(r["p"]), _f(r["q"])]
                  for r in sp.head(12).to_dict("records")] if len(sp) else []
    sess = sp[sp["split"] == "session"].sort_values("total_r") if len(sp) else sp
    sess_rows = [[r["value"], r["n"], f"{_pct(r['win_rate'])} [{_pct(r['lo'])}, {_pct(r['hi'])}]",
                  f"{r['expectancy']:+.2f}R", f"{r['total_r']:+.1f}R", _f(r["q"])] for r in sess.to_dict("records")]
    f_rows = [[r["change"], r["n"], f"{_pct(r['win_rate'])} vs {_pct(r['rest_win_rate'])}", _f(r["q"]),
               f"{r['in_sample_delta_r']:+.1f}R", f"{r['oos_delta_r']:+.1f}R",
               f"{r['oos_months_better']}/{r['oos_months']}", "holds" if r["holds"] else "does not hold"]
              for r in rec.findings.to_dict("records")]
    first = pd.Timestamp(ds["day"].min()).date() if len(ds) else lo
    period = f"discovery {first} → {rec.discovery_end.date()} ({rec.trades} trades), checked on {rec.discovery_end.date() + pd.Timedelta(days=1)} → {rec.oos_end.date()}"
    if f_rows:
        held = [r for r in rec.findings.to_dict("records") if r["holds"]]
        summary = (f"{loaded.id} on {', '.join(syms)}: {len(f_rows)} finding(s) survive Benjamini–Hochberg (q ≤ {FDR}); "
                   f"{len(held)} hold out of sample ({period}).")
    else:
        summary = (f"{loaded.id} on {', '.join(syms)}: no split survives Benjamini–Hochberg at q ≤ {FDR} "
                   f"({len(sp)} tested; {period}) — these data support no change; differences below are noise-level.")
    tables = {}
    if f_rows:
        tables["findings"] = Table(columns=["change", "n", "win rate vs rest", "q", "ΔR in sample", "ΔR out of sample",
                                            "months better", "verdict"], rows=f_rows,
                                   title="Findings (discovery window) and their out-of-sample check")
    tables["splits"] = Table(columns=["split", "value", "n", "win rate [95% CI]", "rest", "expectancy", "total R", "p",
                                      "q (BH)"], rows=split_rows, title="Splits in the discovery window (by q)")
    if sess_rows:
        tables["sessions"] = Table(columns=["session", "n", "win rate [95% CI]", "expectancy", "total R", "q (BH)"],
                                   rows=sess_rows, title="By session (discovery window), worst first")
    say = {"setup_id": loaded.id, "symbols": ", ".join(syms), "n_findings": len(f_rows), "tested": len(sp),
           "fdr": FDR, "period": period, "held": sum(1 for r in rec.findings.to_dict("records") if r["holds"]) if f_rows else 0}
    say["found" if f_rows else "none"] = ""
    return ToolResult(tool="recommend_changes", summary=summary,
                      data={"setup_id": loaded.id, "symbols": syms, "findings": jsonable(rec.findings.to_dict("records")),
                            "splits": jsonable(sp.to_dict("records")), "discovery_end": str(rec.discovery_end.date()),
                            "months": jsonable(rec.months.to_dict("records")), "say": say},
                      tables=tables, context={"setup_id": loaded.id, "symbol": a.symbol})



# ---- guided feature discovery ----------------------------------------------------------------------------------

class DiscoverFeaturesArgs(ToolArgs):
    target: str | None = Field(None, description=TARGET_DESC + " Default setup_win.", examples=["setup_win"])
    generations: int = Field(8, ge=1, le=50, description="Generations of the genetic search.")
    formulas: int = Field(5, ge=1, le=20, description="How many formulas to check out of sample.")


@tool(DiscoverFeaturesArgs)
def discover_features(a: DiscoverFeaturesArgs) -> ToolResult:
    """Guided feature discovery: genetic programming (gplearn) combines the human features into formulas on the
    earlier walk-forward months; a formula is kept only if it raises the purged walk-forward AUC, with a CI above
    0, on the later months the search never saw."""
    from ita.learn.dataset import dataset_hash, get_target, latest_dataset, read_dataset
    from ita.learn.discover import discover, store_discovery

    tg = get_target(a.target or "setup_win")
    path = latest_dataset(tg.kind)
    if path is None:
        raise ItaError(f"No {tg.kind} dataset yet: build one with `ita learn dataset"
                       f"{'' if tg.kind == 'setups' else ' --kind ' + tg.kind}`.")
    df, _ = read_dataset(path)
    d = discover(df, tg.name, generations=a.generations, n_components=a.formulas, progress=PROGRESS.get())
    store_discovery(d, dataset_hash(df))
    f = d.formulas
    kept = f[f["kept"]] if len(f) else f
    rows = [[r["expression"], _f(r["auc_base"]), _f(r["auc_with"]),
             f"{r['gain']:+.3f} [{r['gain_lo']:+.3f}, {r['gain_hi']:+.3f}]", "kept" if r["kept"] else "refused"]
            for r in f.to_dict("records")]
    summary = (f"{tg.name}: {len(f)} formulas evolved on the months up to {d.discovery_end}; checked on "
               f"{', '.join(d.eval_folds)} (AUC without them {d.base_auc:.3f}): {len(kept)} kept "
               f"(AUC gain CI above 0), {len(f) - len(kept)} refused.")
    say = {"target": tg.name, "n": len(f), "kept": len(kept), "discovery_end": d.discovery_end,
           "eval": ", ".join(d.eval_folds), "base_auc": f"{d.base_auc:.3f}"}
    return ToolResult(tool="discover_features", summary=summary,
                      data={"target": tg.name, "formulas": jsonable(f.to_dict("records")), "discovery_end": d.discovery_end,
                            "eval_folds": d.eval_folds, "say": say},
                      tables={"formulas": Table(columns=["formula", "AUC without", "AUC with", "gain [95% CI]", "verdict"],
                                                rows=rows, title="Discovered formulas, checked out of sample")})
