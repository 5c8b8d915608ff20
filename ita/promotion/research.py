"""The research engine's numbers for the promotion gates — the one place the gates read them from.

The walk-forward profit factor, the deflated Sharpe ratio and the probability of backtest overfitting come
from the research runs (``ita research walk-forward`` / ``ita research sweep``, package :mod:`ita.research`,
read through :func:`ita.research.latest_walk_forward` and :func:`ita.research.latest_sweep`). Only runs of the
same file content (``setup_hash``) count; a number no such run has measured is ``None``, so its gate is
"not measured" — and a gate not measured is not passed.
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


def _worst(values: list[float], higher_is_better: bool = True) -> float | None:
    vals = [float(v) for v in values if v is not None and v == v]  # NaN (no trades) measures nothing
    if not vals:
        return None
    return min(vals) if higher_is_better else max(vals)


def research_metrics(setup_id: str, version: int, setup_hash: str, symbols: list[str], start: str,
                     end: str) -> ResearchMetrics:
    """The research numbers of ``setup_id`` v``version`` (file hash ``setup_hash``) for ``symbols``, or ``None``
    for each number no research run of that exact file has measured on every one of the symbols.

    Per symbol: the latest complete walk-forward (its out-of-sample PF; its DSR and PBO, which come from the
    full-period search behind it), else for DSR/PBO the latest complete sweep. Over several symbols the worst
    value counts (the lowest PF and DSR, the highest PBO). ``start``/``end`` (New York dates) are the period
    the other gates used; the research runs keep their own periods, named in ``source``. Never raises for a
    missing run.

    Example::

        >>> research_metrics("asia_fvg_break", 1, "98b5…", ["EURUSD"], "2025-01-01", "2025-12-31")  # doctest: +SKIP
        ResearchMetrics(walk_forward_pf=0.83, deflated_sharpe=0.12, pbo=0.61, source='walk-forward wf_… (EURUSD …)')
    """
    from ita.research import latest_sweep, latest_walk_forward

    pf: list[float | None] = []
    dsr: list[float | None] = []
    pbo: list[float | None] = []
    sources: list[str] = []
    for sym in symbols or [None]:
        wf = latest_walk_forward(setup_id, version, sym)
        wf = wf if wf and wf.get("setup_hash") == setup_hash else None
        sw = latest_sweep(setup_id, version, sym)
        sw = sw if sw and sw.get("setup_hash") == setup_hash else None
        pf.append(wf.get("oos_profit_factor") if wf else None)
        src = wf if wf and wf.get("dsr") is not None else sw
        dsr.append(src.get("dsr") if src else None)
        pbo.append(src.get("pbo") if src else None)
        if wf:
            sources.append(f"walk-forward {wf['wf_id']} ({wf.get('symbol')}, {wf.get('start')} → {wf.get('end')}, "
                           f"train {wf.get('train')} / test {wf.get('test')})")
        if sw and src is sw:
            sources.append(f"sweep {sw['sweep_id']} ({sw.get('symbol')})")
    missing = lambda xs: any(x is None or x != x for x in xs)  # noqa: E731 - a number for every symbol or none
    return ResearchMetrics(walk_forward_pf=None if missing(pf) else _worst(pf),
                           deflated_sharpe=None if missing(dsr) else _worst(dsr),
                           pbo=None if missing(pbo) else _worst(pbo, higher_is_better=False),
                           source="; ".join(sources))
