"""Evaluation suites (``ita eval``): score ITA against the evaluation sets in ``evals/``, store every run with
the date, the git commit and the ITA version, compare it with the previous run and chart the history.

=============  =========================================================================================
module         what
=============  =========================================================================================
``agent``      the chat agent on ≥ 400 labelled requests (EN/RU, conversations; dev and held-out halves):
               tool and exact-argument accuracy, ragas ToolCallAccuracy/F1, clarification P/R, refusals,
               honest non-understanding — through the parser or a language model (:mod:`ita.evals.agent`)
``kb``         retrieval from the theory library: hit-rate@k, MRR, ragas context P/R, out-of-library
               refusals (:mod:`ita.evals.kb`)
``backtest``   every shipped setup against an independent reference, trade by trade, and the statistics
               against backtesting.py's ``compute_stats`` (:mod:`ita.evals.backtest`)
``suites``     the four suites as :class:`~ita.evals.store.SuiteRun` s, incl. the detector suite (the
               labelled sets of ``ita setups verify``)
``store``      the ``eval_runs`` / ``eval_run_info`` tables, the previous run, deltas and regressions
``thresholds`` ``evals/thresholds.yaml``: the floors CI checks (``ita eval --quick``)
``report``     ``ita eval report``: one HTML page with every metric's history (plotly) and the failures
=============  =========================================================================================

Example::

    >>> from ita.evals.suites import run_suite
    >>> from ita.evals.store import store_run, previous_metrics, compare
    >>> run = run_suite("agent")                                   # doctest: +SKIP
    >>> compare(run, previous_metrics(run)[1]).query("regression")  # doctest: +SKIP
    >>> store_run(run)                                             # doctest: +SKIP
"""
