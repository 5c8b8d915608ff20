"""Evaluation suites: score ITA against the evaluation sets in ``evals/`` and store the scores with the date.

==========  =====================================================================================
suite       what
==========  =====================================================================================
``kb``      retrieval from the theory library (:mod:`ita.evals.kb`): hit-rate@k, MRR and ragas'
            non-LLM context precision/recall per search mode — ``ita eval kb``
==========  =====================================================================================

Every run is stored in the SQLite database (``ita.config.settings().db_path``, table ``eval_runs``: one row
per run, mode and metric) so a run can be compared with the previous one.
"""
