"""The research engine's numbers for the promotion gates — the one place the gates read them from.

The walk-forward profit factor, the deflated Sharpe ratio and the probability of backtest overfitting come
from the research runs (``ita research walk-forward`` / ``ita research sweep``, package ``ita.research``),
which are not part of this module's package. :func:`research_metrics` is the seam: until it is wired to the
research store it reports every number as not measured, so those gates are "not measured" — and a gate not
measured is not passed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResearchMetrics:
    """Numbers of the research runs of one setup version (``None`` = no such run yet).

    ``walk_forward_pf``: profit factor of the concatenated out-of-sample trades of the latest walk-forward of
    this version (same content hash). ``deflated_sharpe``: the deflated Sharpe ratio (probability, 0–1) of the
    best variant of the latest sweep that produced this version (Bailey & López de Prado, 2014). ``pbo``: that
    sweep's probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu, 2015).
    ``source``: one line naming the runs the numbers come from (shown with the gates).
    """

    walk_forward_pf: float | None = None
    deflated_sharpe: float | None = None
    pbo: float | None = None
    source: str = ""


def research_metrics(setup_id: str, version: int, setup_hash: str, symbols: list[str], start: str,
                     end: str) -> ResearchMetrics:
    """The research numbers of ``setup_id`` v``version`` (file hash ``setup_hash``) for ``symbols`` and the
    period ``start``…``end`` (New York dates), or ``None`` for each number no research run has measured.

    To wire (after the research engine is merged): look up the latest walk-forward and sweep runs of this
    setup version (matching ``setup_hash``) on these symbols in the research store and return their
    out-of-sample PF, deflated Sharpe and PBO; never raise for a missing run (return ``None`` for it).
    """
    return ResearchMetrics()
