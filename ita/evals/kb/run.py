"""Running ``ita eval kb``: build a fresh knowledge base from the evaluation library, ask every question in
every search mode, score the top-``k`` passages (:func:`run_kb_eval`)."""
from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ita.evals.kb.metrics import aggregate, loo_refusals, ragas_metrics, score_questions
from ita.evals.kb.questions import LIBRARY_DIR, check_questions, fingerprint, load_questions
from ita.evals.kb.storage import previous_kb_run, store_kb_eval

MODES = ("hybrid", "dense", "keyword")


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
            pq["refused"] = loo_refusals(pq)
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
        return str(kb.embedding_id())
    except Exception:  # noqa: BLE001 - informative only
        return None


def _close(kb) -> None:
    close = getattr(kb, "close", None)
    if callable(close):
        close()
