"""Retrieval evaluation of the theory library (``ita eval kb``).

The evaluation set lives in ``evals/kb/``: a small theory library the project wrote itself
(``library/*.pdf``, built from ``sources/*.md`` by ``build_library.py``) and ``questions.yaml`` — questions in
English and Russian, each with its reference passage(s): file, 1-based page and the exact text span that
answers it. A few questions have **no** answer in the library (``kind: out_of_library``).

:func:`run_kb_eval` ingests the library into a fresh :class:`ita.knowledge_base.KnowledgeBase`, asks every
question in every search mode and scores the top-``k`` passages.

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

Storage
-------
:func:`store_kb_eval` writes one row per (run, mode, metric) to the SQLite table ``eval_runs`` (``run_id``,
``created_at`` UTC ISO, ``suite`` = ``"kb"``, ``mode``, ``metric``, ``value``, ``details`` JSON with ``k``, the
evaluation-set fingerprint and the per-question values), and :func:`previous_kb_run` finds the run to
compare with (the latest earlier run with the same ``k``).

Example::

    >>> from ita.evals.kb import run_kb_eval
    >>> df = run_kb_eval(k=5, modes=("hybrid", "keyword"))      # doctest: +SKIP
    >>> df.loc["hybrid", "hit_rate@5"]                          # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import tempfile
import time
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from ita.config import REPO_ROOT, settings

SUITE = "kb"
EVALS_DIR = REPO_ROOT / "evals" / "kb"
LIBRARY_DIR = EVALS_DIR / "library"
QUESTIONS_PATH = EVALS_DIR / "questions.yaml"
MODES = ("hybrid", "dense", "keyword")
KINDS = ("direct", "jargon", "paraphrase", "out_of_library")
LANGS = ("en", "ru")
RELEVANT_AT = 0.8
"""A passage is relevant when it is on the reference page and :func:`span_similarity` ≥ this. A passage that
contains the span scores ~1.0; unrelated text of the same language scores ~0.4–0.6; a span cut in half by a
passage boundary scores ~0.6–0.75 (then the neighbouring passage, which repeats the boundary sentence, holds
it whole)."""
HIT_AT = (1, 3, 5)
SLICES = ("jargon", "direct", "paraphrase", "cross-lingual", "en", "ru")
TABLE = "eval_runs"


# ---------------------------------------------------------------------------------------------------- the set

@dataclass(frozen=True)
class Reference:
    file: str
    page: int
    text: str

    @property
    def page_id(self) -> str:
        return f"{self.file}#p{self.page}"

    @property
    def lang(self) -> str:
        return text_lang(self.text)


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    kind: str
    question: str
    references: tuple[Reference, ...]

    @property
    def in_library(self) -> bool:
        return self.kind != "out_of_library"

    @property
    def cross_lingual(self) -> bool:
        return self.in_library and any(r.lang != self.lang for r in self.references)

    def slices(self) -> list[str]:
        out = [self.kind, self.lang]
        if self.cross_lingual:
            out.append("cross-lingual")
        return out


def text_lang(text: str) -> str:
    """``"ru"`` when at least 30 % of the letters are Cyrillic, else ``"en"``."""
    letters = [c for c in text if c.isalpha()]
    cyr = sum("\u0400" <= c <= "\u04ff" for c in letters)
    return "ru" if letters and cyr / len(letters) >= 0.3 else "en"


def load_questions(path: str | Path | None = None) -> list[Question]:
    """Read ``questions.yaml``; raises :class:`ValueError` naming the question for a malformed entry."""
    path = Path(path or QUESTIONS_PATH)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[Question] = []
    seen: set[str] = set()
    for i, q in enumerate(data.get("questions") or [], start=1):
        qid = str(q.get("id") or f"#{i}")
        where = f"{path.name}: question {qid}"
        if qid in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(qid)
        kind, lang, text = q.get("kind"), q.get("lang"), str(q.get("question") or "").strip()
        if kind not in KINDS:
            raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if lang not in LANGS:
            raise ValueError(f"{where}: lang {lang!r} is not one of {', '.join(LANGS)}")
        if not text:
            raise ValueError(f"{where}: empty question")
        refs = []
        for r in q.get("references") or []:
            try:
                refs.append(Reference(file=str(r["file"]), page=int(r["page"]), text=str(r["text"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{where}: a reference needs file, page (integer) and text ({exc})") from None
        if kind == "out_of_library" and refs:
            raise ValueError(f"{where}: an out_of_library question has no references")
        if kind != "out_of_library" and not refs:
            raise ValueError(f"{where}: needs at least one reference (or kind: out_of_library)")
        out.append(Question(id=qid, lang=lang, kind=kind, question=text, references=tuple(refs)))
    return out


def normalize(text: str) -> str:
    """NFKC, soft hyphens and bullets dropped, whitespace collapsed — how spans and passages are compared."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = re.sub(r"[•▪◦●]", " ", text)
    return " ".join(text.split())


def pdf_pages(path: Path) -> list[str]:
    """The normalised text of each page of a PDF (pypdf, as the knowledge base reads it)."""
    from pypdf import PdfReader

    return [normalize(p.extract_text() or "") for p in PdfReader(str(path)).pages]


def check_questions(questions_path: str | Path | None = None, library_dir: str | Path | None = None,
                    min_questions: int = 30) -> list[str]:
    """Problems of the evaluation set, as messages (empty = fine): every reference file must be in the
    library, its page must exist and contain the span (whitespace-insensitive); at least ``min_questions``
    in-library questions, both languages, and some out-of-library questions."""
    library_dir = Path(library_dir or LIBRARY_DIR)
    try:
        questions = load_questions(questions_path)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    pages: dict[str, list[str] | None] = {}
    for q in questions:
        for r in q.references:
            if r.file not in pages:
                f = library_dir / r.file
                pages[r.file] = pdf_pages(f) if f.is_file() else None
            doc = pages[r.file]
            if doc is None:
                problems.append(f"{q.id}: {r.file} is not in {library_dir}")
            elif not 1 <= r.page <= len(doc):
                problems.append(f"{q.id}: {r.file} has {len(doc)} pages, not page {r.page}")
            elif normalize(r.text) not in doc[r.page - 1]:
                other = [i + 1 for i, t in enumerate(doc) if normalize(r.text) in t]
                hint = f" (it is on page {other[0]})" if other else ""
                problems.append(f"{q.id}: the span {r.text[:60]!r}… is not on {r.file} page {r.page}{hint}")
    n_in = sum(q.in_library for q in questions)
    if n_in < min_questions:
        problems.append(f"only {n_in} in-library questions (at least {min_questions})")
    if {q.lang for q in questions} != set(LANGS):
        problems.append("questions in both English and Russian are expected")
    if not any(not q.in_library for q in questions):
        problems.append("no out_of_library question")
    return problems


def fingerprint(questions_path: str | Path | None = None, library_dir: str | Path | None = None) -> str:
    """SHA-256 (16 hex) of questions.yaml and the library PDFs: runs with different fingerprints scored a
    different set, so their delta mixes a change of the set with a change of the retriever."""
    h = hashlib.sha256(Path(questions_path or QUESTIONS_PATH).read_bytes())
    for f in sorted(Path(library_dir or LIBRARY_DIR).glob("*.pdf")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------- judging

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
    if "ms" in per_question:
        out["query_ms"] = float(per_question["ms"].mean())
    return out


# ---------------------------------------------------------------------------------------------------- running

def build_kb(kb_dir: str | Path, library_dir: str | Path | None = None, progress: Callable | None = None):
    """A :class:`~ita.knowledge_base.KnowledgeBase` in ``kb_dir`` holding the library's PDFs, and the ingest
    reports."""
    from ita.knowledge_base import KnowledgeBase

    files = sorted(Path(library_dir or LIBRARY_DIR).glob("*.pdf"))
    if not files:
        raise FileNotFoundError(f"no PDF in {library_dir or LIBRARY_DIR}; run evals/kb/build_library.py")
    kb = KnowledgeBase(path=Path(kb_dir))
    reports = kb.add(files, progress=progress)
    return kb, reports


def run_kb_eval(k: int = 5, modes: Sequence[str] = MODES, kb_dir: str | Path | None = None, *,
                questions_path: str | Path | None = None, library_dir: str | Path | None = None,
                store: bool = False, db_path: str | Path | None = None,
                progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Score retrieval from the theory library; one row per mode, one column per metric.

    ``kb_dir``: where the knowledge base is built (default: a temporary folder, removed afterwards; an
    existing folder is reused — the library's files are added again, which the knowledge base skips when
    unchanged). With ``store=True`` the run is written to ``eval_runs`` (:func:`store_kb_eval`) after the
    previous comparable run has been looked up.

    ``df.attrs``: ``run_id``, ``created_at``, ``k``, ``fingerprint``, ``questions`` (per-question frame of
    every mode, column ``mode``), ``build_s`` (ingest seconds), ``chunks``, ``embedding`` (the model's id),
    ``reports`` (ingest reports as text), ``eval_s`` and, when stored, ``previous`` (the previous run's frame
    or ``None``).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    modes = tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"unknown mode(s) {bad}; choose from {', '.join(MODES)}")
    say = progress or (lambda msg: None)
    questions = load_questions(questions_path)
    problems = check_questions(questions_path, library_dir)
    if problems:
        raise ValueError("the evaluation set does not match the library: " + "; ".join(problems[:5]))
    created = datetime.now(timezone.utc)
    t_start = time.perf_counter()
    tmp = None
    if kb_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ita-eval-kb-")
        kb_dir = tmp.name
    try:
        say("building the knowledge base from the library")
        t0 = time.perf_counter()
        kb, reports = build_kb(kb_dir, library_dir)
        build_s = time.perf_counter() - t0
        failed = [r for r in reports if getattr(r, "status", "") == "error"]
        if failed:  # scores of a partial library would look like a retrieval regression
            _close(kb)
            raise ValueError("the library could not be ingested: " + "; ".join(str(r.message) for r in failed))
        say("loading ragas")
        ragas_metrics()
        per_mode, frames = {}, []
        for mode in modes:
            say(f"searching ({mode})")
            retrieved, ms = {}, {}
            for q in questions:
                t = time.perf_counter()
                retrieved[q.id] = list(kb.search(q.question, k=k, mode=mode))
                ms[q.id] = (time.perf_counter() - t) * 1000
            pq = score_questions(questions, retrieved, k)
            pq["ms"] = pq["id"].map(ms)
            per_mode[mode] = aggregate(pq, k)
            frames.append(pq.assign(mode=mode))
        chunks = _count_chunks(kb)
        embedding = _embedding(kb)
        _close(kb)
    finally:
        if tmp is not None:
            tmp.cleanup()
    df = pd.DataFrame.from_dict(per_mode, orient="index")
    df.index.name = "mode"
    df.attrs.update({
        "run_id": f"kb-{created:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", "created_at": created.isoformat(timespec="seconds"),
        "k": k, "fingerprint": fingerprint(questions_path, library_dir), "questions": pd.concat(frames, ignore_index=True),
        "build_s": build_s, "chunks": chunks, "embedding": embedding, "reports": [str(r) for r in reports],
        "eval_s": time.perf_counter() - t_start,
    })
    if store:
        df.attrs["previous"] = previous_kb_run(df, db_path=db_path)
        store_kb_eval(df, db_path=db_path)
    return df


def _count_chunks(kb) -> int | None:
    try:
        docs = kb.documents()
    except Exception:  # noqa: BLE001 - informative only
        return None
    total = 0
    for d in docs:
        n = d.get("chunks") if isinstance(d, dict) else getattr(d, "chunks", None)
        if not isinstance(n, int):
            return None
        total += n
    return total


def _embedding(kb) -> str | None:
    """The embedding model's id as the knowledge base records it (informative: scores depend on it)."""
    try:
        return str(kb._embedding_id())
    except Exception:  # noqa: BLE001 - informative only
        return None


def _close(kb) -> None:
    close = getattr(kb, "close", None)
    if callable(close):
        close()


# ---------------------------------------------------------------------------------------------------- storage

_PER_QUESTION = {"mrr": "rr", "context_precision": "context_precision", "context_recall": "context_recall",
                 "context_precision_lev": "context_precision_lev", "context_recall_lev": "context_recall_lev",
                 "id_context_precision": "id_context_precision", "id_context_recall": "id_context_recall"}


def _db(db_path):
    import sqlite_utils

    path = Path(db_path) if db_path else settings().db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    if TABLE not in db.table_names():
        db[TABLE].create({"run_id": str, "created_at": str, "suite": str, "mode": str, "metric": str,
                          "value": float, "details": str}, pk=("run_id", "mode", "metric"))
        db[TABLE].create_index(["suite", "created_at"], if_not_exists=True)
    return db


def _clean(v) -> float | None:
    return None if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))) else float(v)


def store_kb_eval(df: pd.DataFrame, db_path: str | Path | None = None) -> str:
    """Write a :func:`run_kb_eval` result to ``eval_runs`` (one transaction); returns its ``run_id``."""
    a = df.attrs
    pq = a.get("questions")
    rows = []
    for mode, values in df.iterrows():
        mq = pq[(pq["mode"] == mode) & pq["in_library"]] if pq is not None else None
        for metric, value in values.items():
            details = {"k": a.get("k"), "fingerprint": a.get("fingerprint"), "embedding": a.get("embedding")}
            col = _PER_QUESTION.get(metric) or (metric.replace("hit_rate@", "hit@") if re.fullmatch(r"hit_rate@\d+", metric) else None)
            if mq is not None and col in mq:
                details["per_question"] = {qid: _clean(float(v)) for qid, v in zip(mq["id"], mq[col])}
            if metric == "n":
                details.update(build_s=round(a.get("build_s") or 0.0, 3), eval_s=round(a.get("eval_s") or 0.0, 3),
                               chunks=a.get("chunks"))
            rows.append({"run_id": a["run_id"], "created_at": a["created_at"], "suite": SUITE, "mode": str(mode),
                         "metric": str(metric), "value": _clean(value), "details": json.dumps(details)})
    db = _db(db_path)
    with db.conn:
        db[TABLE].insert_all(rows, replace=True)
    return a["run_id"]


def load_eval_runs(suite: str = SUITE, db_path: str | Path | None = None) -> pd.DataFrame:
    """Every stored row of ``suite``, oldest first (``details`` parsed)."""
    db = _db(db_path)
    rows = list(db.query(f"select * from {TABLE} where suite = ? order by created_at, run_id", [suite]))
    df = pd.DataFrame(rows, columns=["run_id", "created_at", "suite", "mode", "metric", "value", "details"])
    df["details"] = df["details"].map(lambda s: json.loads(s) if s else {})
    return df


def kb_run(run_id: str, db_path: str | Path | None = None) -> pd.DataFrame:
    """A stored run as a frame like :func:`run_kb_eval`'s (mode × metric; attrs ``run_id``, ``created_at``,
    ``k``, ``fingerprint``, ``per_question`` {metric: {mode: {id: value}}})."""
    rows = load_eval_runs(SUITE, db_path)
    rows = rows[rows["run_id"] == run_id]
    if rows.empty:
        raise KeyError(run_id)
    wide = rows.pivot(index="mode", columns="metric", values="value")
    wide.columns.name = None
    first = rows.iloc[0]
    per_q: dict = {}
    for _, r in rows.iterrows():
        if "per_question" in r["details"]:
            per_q.setdefault(r["metric"], {})[r["mode"]] = r["details"]["per_question"]
    wide.attrs.update(run_id=run_id, created_at=first["created_at"], k=first["details"].get("k"),
                      fingerprint=first["details"].get("fingerprint"), embedding=first["details"].get("embedding"),
                      per_question=per_q)
    return wide


def previous_kb_run(current: pd.DataFrame, db_path: str | Path | None = None) -> pd.DataFrame | None:
    """The latest stored run before ``current`` with the same ``k`` (as :func:`kb_run`), or ``None``."""
    db = _db(db_path)
    rows = list(db.query(
        f"select run_id, created_at from {TABLE} where suite = ? and run_id != ? and created_at <= ? "
        f"and json_extract(details, '$.k') = ? group by run_id order by created_at desc, run_id desc limit 1",
        [SUITE, current.attrs.get("run_id", ""), current.attrs.get("created_at", "9999"), current.attrs.get("k")]))
    return kb_run(rows[0]["run_id"], db_path) if rows else None


def deltas(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """``current − previous`` for the modes and metrics both have (NaN elsewhere; all NaN without a previous)."""
    if previous is None:
        return current * math.nan
    return current.subtract(previous.reindex(index=current.index, columns=current.columns))


def worst_questions(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """In-library questions that some mode missed or ranked below 1st, worst first: one row per question,
    with the rank of the first relevant passage per mode (None = not in the top k) and the top-1 page."""
    pq = df.attrs["questions"]
    pq = pq[pq["in_library"]]
    modes = list(dict.fromkeys(pq["mode"]))
    rank = pq.pivot(index="id", columns="mode", values="first_rank")
    rr = pq.pivot(index="id", columns="mode", values="rr").reindex(columns=modes)
    top1 = pq.pivot(index="id", columns="mode", values="top1")
    meta = pq.drop_duplicates("id").set_index("id")[["question", "lang", "kind", "cross_lingual", "expected"]]
    out = meta.join(rank.add_prefix("rank:")).join(top1.add_prefix("top1:"))
    out["mean_rr"] = rr.mean(axis=1)
    missed = (rr.min(axis=1) < 1.0).reindex(out.index, fill_value=False)
    out = out[missed].sort_values(["mean_rr", "id"])
    return out.head(n)


def out_of_library(df: pd.DataFrame) -> pd.DataFrame:
    """Out-of-library questions: per mode the number of passages returned, the best score and its page."""
    pq = df.attrs["questions"]
    pq = pq[~pq["in_library"]]
    meta = pq.drop_duplicates("id").set_index("id")[["question", "lang"]]
    wide = pq.pivot(index="id", columns="mode", values=["n_passages", "top1_score", "top1"])
    wide.columns = [f"{a}:{b}" for a, b in wide.columns]
    return meta.join(wide)
