"""Promotion of setup versions (seed ``002_*`` §5, Champion/Challenger): statuses candidate → paper → active,
through the gates of ``setups/gates.yaml`` — each measured by a registered metric function, stored with the
version on every request.

=======================  ==================================================================================
module                   what it holds
=======================  ==================================================================================
:mod:`.gates`            the gates file (:func:`load_gates`), the metric registry (:data:`METRICS`), the
                         measurements (:class:`Evaluation`) and :func:`evaluate_gates` → :class:`GateReport`
:mod:`.promote`          :func:`promote` (transitions, enforcement, one active version per setup),
                         :func:`version_status`, :func:`versions_with_status`, :func:`live_setups`
:mod:`.research`         :func:`research_metrics`: the walk-forward PF, deflated Sharpe and PBO of the
                         research runs (the seam to ``ita.research``)
:mod:`.status`           the current statuses read with ``sqlite3`` alone (``ita setups list`` loads no pandas)
=======================  ==================================================================================

The statuses and gate results live in SQLite (:mod:`ita.store.promotions`). This package sits above the core
(setups, backtest, store) and below the tools; the live loop reads the statuses through it.
"""
from ita.lazy import lazy_exports

__all__ = ["METRICS", "GateReport", "GateResult", "Promotion", "evaluate_gates", "live_setups", "load_gates", "promote",
           "version_status", "versions_with_status"]
lazy_exports(__name__, {   # imported on first use: the statuses alone (ita.promotion.status) need no pandas
    **dict.fromkeys(("METRICS", "GateReport", "GateResult", "evaluate_gates", "load_gates"), "ita.promotion.gates"),
    **dict.fromkeys(("Promotion", "live_setups", "promote", "version_status", "versions_with_status"),
                    "ita.promotion.promote"),
})
