"""How retrieved passages are judged and scored for ``ita eval kb``.

How a passage is judged
-----------------------
A retrieved passage is **relevant** to a question when it is from the reference's file and page and contains
the reference span: :func:`span_similarity` (rapidfuzz ``partial_ratio`` of the whitespace-normalised
texts: the best alignment of the shorter text inside the longer, 0–1) is at least :data:`RELEVANT_AT`.

Metrics (per mode, over the in-library questions)
-------------------------------------------------
``hit_rate@1/3/5``            share of questions with a relevant passage in the top 1 / 3 / 5
``mrr``                       mean reciprocal rank of the first relevant passage (0 when none in the top k)
``context_precision``         ragas ``NonLLMContextPrecisionWithReference`` (reference contexts = the spans,
                              retrieved contexts = the passage texts), similarity = :func:`span_similarity`,
                              threshold :data:`RELEVANT_AT`: rank-weighted share of relevant passages
``context_recall``            ragas ``NonLLMContextRecall``, same similarity: share of the reference spans found
``context_precision_lev``     the same two metrics with ragas' defaults (normalised Levenshtein, threshold
``context_recall_lev``        0.5). They compare a ~100-character span with a ~800-character passage as whole
                              strings, so they stay near 0 even for a perfect hit; kept for comparability
                              with other ragas reports, not for decisions
``id_context_precision``      ragas ``IDBasedContextPrecision`` / ``IDBasedContextRecall`` on page ids
``id_context_recall``         (``file#page``): the citation level — are the retrieved pages the right pages?
``hit_rate@5[slice]``         hit-rate@5 for a slice: ``jargon``, ``direct``, ``paraphrase`` (the question's
                              kind), ``cross-lingual`` (question and reference in different languages),
                              ``en``/``ru`` (the question's language)
``query_ms``                  mean search latency

Out-of-library questions are scored separately (they have no relevant passage by construction):
``ool_n``, ``ool_empty_rate`` (share answered with no passage at all — the ideal), ``ool_top1_score`` and
``in_top1_score`` (mean score of the best passage for out-of-library vs in-library questions) and
``ool_auc`` (probability that an in-library question's best score beats an out-of-library one's; 1.0 means a
score threshold could reject every unanswerable question without losing an answerable one, 0.5 is chance).

"Not in your library" as a decision: a question is refused when its best passage scores below a cut-off
(no passage at all counts as -inf). The cut-off is chosen to maximise F1 of the refusals; to keep that choice
from seeing the question it judges, each question's refusal uses the cut-off chosen on all the *other*
questions (leave-one-out, :func:`loo_refusals`). ``ool_refusal_precision`` = refused unanswerable / refused,
``ool_refusal_recall`` = refused unanswerable / unanswerable, ``ool_refusal_f1``, and ``ool_cutoff`` (the cut-off
chosen on every question, what a product would use) — reported next to hit-rate@k and MRR.

:func:`score_questions` gives the per-question values of one mode, :func:`aggregate` the mode's metrics.
"""
from __future__ import annotations

import asyncio
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from ita.evals.kb.questions import LANGS, Question, Reference, normalize

RELEVANT_AT = 0.8
"""A passage is relevant when it is on the reference page and :func:`span_similarity` ≥ this. A passage that
contains the span scores ~1.0; unrelated text of the same language scores ~0.4–0.6; a span cut in half by a
passage boundary scores ~0.6–0.75 (then the neighbouring passage, which repeats the boundary sentence, holds
it whole)."""
HIT_AT = (1, 3, 5)
SLICES = ("jargon", "direct", "paraphrase", "cross-lingual", "en", "ru")


def span_similarity(span: str, passage: str) -> float:
    """0–1: how well the shorter text occurs inside the longer one (rapidfuzz ``partial_ratio`` of the
    normalised texts). ~1.0 when the passage contains the span."""
    from rapidfuzz import fuzz

    a, b = normalize(span), normalize(passage)
    if not a or not b:
        return 0.0
    return fuzz.partial_ratio(a, b) / 100.0


def _base(file: str) -> str:
    return Path(str(file)).name


def is_relevant(passage, ref: Reference, threshold: float = RELEVANT_AT) -> bool:
    """The passage is from the reference's file and page and contains its span."""
    return (_base(passage.file) == ref.file and int(passage.page) == ref.page
            and span_similarity(ref.text, passage.text) >= threshold)


def page_id(passage) -> str:
    return f"{_base(passage.file)}#p{int(passage.page)}"


def _ragas():
    """Import ragas lazily (~9 s the first time) with tracking off; returns the metric classes."""
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ragas import SingleTurnSample
        from ragas.metrics import (IDBasedContextPrecision, IDBasedContextRecall, NonLLMContextPrecisionWithReference,
                                   NonLLMContextRecall)
        from ragas.metrics._string import NonLLMStringSimilarity
    return (SingleTurnSample, NonLLMContextPrecisionWithReference, NonLLMContextRecall, IDBasedContextPrecision,
            IDBasedContextRecall, NonLLMStringSimilarity)


_METRICS = None


def ragas_metrics(threshold: float = RELEVANT_AT) -> dict:
    """The ragas metric objects used here, by our column name (see the module docstring)."""
    global _METRICS
    if _METRICS is not None and _METRICS[0] == threshold:
        return _METRICS[1]
    Sample, Precision, Recall, IdPrecision, IdRecall, StringSimilarity = _ragas()

    class SpanSimilarity(StringSimilarity):
        """ragas string similarity = :func:`span_similarity` (containment of the span in the passage)."""

        name: str = "span_similarity"

        async def _single_turn_ascore(self, sample, callbacks) -> float:
            return span_similarity(sample.reference, sample.response)

    span_precision = Precision(distance_measure=SpanSimilarity(), threshold=threshold)
    span_recall = Recall(threshold=threshold)
    span_recall._distance_measure = SpanSimilarity()  # the public setter only accepts ragas' enum distances
    metrics = {
        "context_precision": span_precision,
        "context_recall": span_recall,
        "context_precision_lev": Precision(),
        "context_recall_lev": Recall(),
        "id_context_precision": IdPrecision(),
        "id_context_recall": IdRecall(),
    }
    _METRICS = (threshold, metrics)
    return metrics


def _run_async(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures  # called from a running loop (a notebook, Chainlit): use a worker thread

    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


def ragas_scores(reference_contexts: Sequence[Sequence[str]], retrieved_contexts: Sequence[Sequence[str]],
                 reference_ids: Sequence[Sequence[str]], retrieved_ids: Sequence[Sequence[str]],
                 threshold: float = RELEVANT_AT) -> list[dict[str, float]]:
    """ragas' non-LLM retrieval metrics for each sample (one dict per sample, keys as in the module
    docstring). A sample with no retrieved passage scores 0 on every metric (ragas cannot score it)."""
    metrics = ragas_metrics(threshold)
    Sample = _ragas()[0]

    async def one(refs, got, ref_ids, got_ids):
        if not got:
            return {name: 0.0 for name in metrics}
        text = Sample(reference_contexts=list(refs), retrieved_contexts=list(got))
        ids = Sample(reference_context_ids=list(ref_ids), retrieved_context_ids=list(got_ids))
        out = {}
        for name, m in metrics.items():
            out[name] = float(await m.single_turn_ascore(ids if name.startswith("id_") else text))
        return out

    async def all_():
        return await asyncio.gather(*(one(*row) for row in zip(reference_contexts, retrieved_contexts,
                                                                  reference_ids, retrieved_ids)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(_run_async(all_()))


# ---------------------------------------------------------------------------------------------------- scoring

def score_questions(questions: Sequence[Question], retrieved: dict[str, list], k: int,
                    threshold: float = RELEVANT_AT) -> pd.DataFrame:
    """Per-question scores of one mode. ``retrieved[question.id]`` = the passages returned (objects with
    ``text``, ``file``, ``page`` and optionally ``score``), best first; only the first ``k`` count."""
    rows = []
    for q in questions:
        got = list(retrieved.get(q.id) or [])[:k]
        rel = [any(is_relevant(p, r, threshold) for r in q.references) for p in got]
        first = next((i + 1 for i, ok in enumerate(rel) if ok), None)
        top = got[0] if got else None
        row = {
            "id": q.id, "lang": q.lang, "kind": q.kind, "in_library": q.in_library,
            "cross_lingual": q.cross_lingual, "question": q.question,
            "expected": "; ".join(dict.fromkeys(r.page_id for r in q.references)),
            "n_passages": len(got), "first_rank": first, "rr": (1.0 / first) if first else 0.0,
            "top1": page_id(top) if top else None,
            "top1_score": float(top.score) if top is not None and getattr(top, "score", None) is not None else math.nan,
            "retrieved": [page_id(p) for p in got],
        }
        for j in _hit_levels(k):
            row[f"hit@{j}"] = bool(first is not None and first <= j)
        rows.append(row)
    df = pd.DataFrame(rows)
    inlib = [(i, q) for i, q in enumerate(questions) if q.in_library]
    if inlib:
        scores = ragas_scores(
            [[r.text for r in q.references] for _, q in inlib],
            [[p.text for p in list(retrieved.get(q.id) or [])[:k]] for _, q in inlib],
            [[r.page_id for r in q.references] for _, q in inlib],
            [[page_id(p) for p in list(retrieved.get(q.id) or [])[:k]] for _, q in inlib],
            threshold)
        for (i, _), s in zip(inlib, scores):
            for name, v in s.items():
                df.loc[i, name] = v
    return df


def _hit_levels(k: int) -> list[int]:
    return sorted({j for j in HIT_AT if j <= k} | {k})


def auc(positive: Iterable[float], negative: Iterable[float]) -> float:
    """P(a positive scores above a negative), ties count half (Mann–Whitney); NaN scores count as -inf."""
    pos = [(-math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)) for v in positive]
    neg = [(-math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)) for v in negative]
    if not pos or not neg:
        return math.nan
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _score(v) -> float:
    return -math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def refusal_cutoff(scores: Sequence[float], unanswerable: Sequence[bool]) -> float:
    """The cut-off c maximising F1 of "refuse when best score < c" (ties: the lowest c); -inf when the set has no
    unanswerable question. Candidates: midpoints between consecutive distinct scores, and above the highest."""
    pts = sorted({_score(x) for x in scores})
    if not any(unanswerable) or not pts:
        return -math.inf
    finite = [p for p in pts if p != -math.inf]
    cands = [-math.inf] + [(a + b) / 2 for a, b in zip(finite, finite[1:])] + ([finite[-1] + 1e-9] if finite else [])
    if pts[0] == -math.inf and finite:
        cands.insert(1, finite[0] - 1e-9)
    best, best_f1 = -math.inf, -1.0
    for c in cands:
        ref = [_score(x) < c for x in scores]
        tp = sum(r and u for r, u in zip(ref, unanswerable))
        f1 = 2 * tp / (sum(ref) + sum(unanswerable)) if (sum(ref) + sum(unanswerable)) else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = c, f1
    return best


def loo_refusals(per_question: pd.DataFrame) -> pd.Series:
    """Per question: refused ("not in your library") by the cut-off chosen on the other questions."""
    scores = [_score(x) for x in per_question["top1_score"]]
    ool = [not bool(x) for x in per_question["in_library"]]
    out = []
    for i in range(len(scores)):
        c = refusal_cutoff(scores[:i] + scores[i + 1:], ool[:i] + ool[i + 1:])
        out.append(scores[i] < c)
    return pd.Series(out, index=per_question.index, dtype=bool)


def aggregate(per_question: pd.DataFrame, k: int) -> dict[str, float]:
    """One mode's metrics from :func:`score_questions` (see the module docstring)."""
    inl = per_question[per_question["in_library"]]
    ool = per_question[~per_question["in_library"]]
    out: dict[str, float] = {"n": float(len(inl))}
    for j in _hit_levels(k):
        out[f"hit_rate@{j}"] = float(inl[f"hit@{j}"].mean()) if len(inl) else math.nan
    out["mrr"] = float(inl["rr"].mean()) if len(inl) else math.nan
    for name in ("context_precision", "context_recall", "context_precision_lev", "context_recall_lev",
                 "id_context_precision", "id_context_recall"):
        out[name] = float(inl[name].mean()) if name in inl and len(inl) else math.nan
    j = min(5, k)
    for s in SLICES:
        if s == "cross-lingual":
            part = inl[inl["cross_lingual"]]
        elif s in LANGS:
            part = inl[inl["lang"] == s]
        else:
            part = inl[inl["kind"] == s]
        out[f"hit_rate@{j}[{s}]"] = float(part[f"hit@{j}"].mean()) if len(part) else math.nan
    out["ool_n"] = float(len(ool))
    out["ool_empty_rate"] = float((ool["n_passages"] == 0).mean()) if len(ool) else math.nan
    out["ool_top1_score"] = float(ool["top1_score"].mean()) if len(ool) else math.nan
    out["in_top1_score"] = float(inl["top1_score"].mean()) if len(inl) else math.nan
    out["ool_auc"] = auc(inl["top1_score"], ool["top1_score"])
    refused = per_question["refused"] if "refused" in per_question else loo_refusals(per_question)
    is_ool = ~per_question["in_library"].astype(bool)
    tp = int((refused & is_ool).sum())
    out["ool_refusal_precision"] = tp / int(refused.sum()) if int(refused.sum()) else math.nan
    out["ool_refusal_recall"] = tp / int(is_ool.sum()) if int(is_ool.sum()) else math.nan
    p, r = out["ool_refusal_precision"], out["ool_refusal_recall"]
    out["ool_refusal_f1"] = 2 * p * r / (p + r) if p == p and r == r and p + r else (0.0 if len(ool) else math.nan)
    out["ool_cutoff"] = refusal_cutoff(list(per_question["top1_score"]), list(is_ool))
    if "ms" in per_question:
        out["query_ms"] = float(per_question["ms"].mean())
    return out
