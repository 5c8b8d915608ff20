"""Retrieval evaluation of the theory library (``ita eval kb``).

:func:`run_kb_eval` ingests the evaluation library (``evals/kb/``) into a fresh
:class:`ita.knowledge_base.KnowledgeBase`, asks every question in every search mode and scores the top-``k``
passages; with ``store=True`` the run is kept in ``eval_runs`` and compared with the previous one.

==============  ==============================================================================================
module          what
==============  ==============================================================================================
``questions``   the evaluation set: :class:`Question`, :class:`Reference`, loading and checking
                ``questions.yaml`` against the library PDFs, the set's fingerprint
``metrics``     judging a passage (span similarity ≥ ``RELEVANT_AT`` on the reference page), ragas' non-LLM
                context precision/recall, per-question scores, per-mode metrics (the metric list is there)
``run``         :func:`run_kb_eval` (building the knowledge base, searching, scoring)
``storage``     the ``eval_runs`` table: storing a run, loading runs, the previous comparable run
``report``      deltas against the previous run, the worst questions, the out-of-library questions
==============  ==============================================================================================

The entry points the CLI (``ita.cli.eval``) and scripts use are importable from here.

Example::

    >>> from ita.evals.kb import run_kb_eval
    >>> df = run_kb_eval(k=5, modes=("hybrid", "keyword"))      # doctest: +SKIP
    >>> df.loc["hybrid", "hit_rate@5"]                          # doctest: +SKIP
"""
from ita.evals.kb.questions import Question, Reference, check_questions, load_questions
from ita.evals.kb.report import deltas, out_of_library, worst_questions
from ita.evals.kb.run import MODES, build_kb, run_kb_eval
from ita.evals.kb.storage import SUITE, kb_run, load_eval_runs, previous_kb_run, store_kb_eval

__all__ = ["run_kb_eval", "build_kb", "MODES", "Question", "Reference", "load_questions", "check_questions",
           "store_kb_eval", "load_eval_runs", "kb_run", "previous_kb_run", "SUITE", "deltas", "worst_questions",
           "out_of_library"]
