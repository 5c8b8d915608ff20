"""Research runs on top of the backtester: parameter sweeps, overfitting statistics, walk-forward, Monte
Carlo and prop-firm challenge odds, on Dask (in-process by default).

Core layer: imports setups, backtest, data, charts and store — never tools, agent or cli (import-linter).

=========================  ===================================================================================
module                     what it holds
=========================  ===================================================================================
:mod:`.grid`               ``--grid PATH=VALUES`` parsing, path resolution against the setup, enumeration
:mod:`.variants`           :class:`VariantRunner` (variants on one candle frame with a shared detector cache)
:mod:`.executor`           in-process / LocalCluster / remote Dask scheduler; candles scattered once per worker
:mod:`.sweep`              :func:`sweep`: run, rank, overfitting statistics, store, artifacts
:mod:`.overfit`            deflated Sharpe ratio (Bailey & López de Prado 2014), PBO by CSCV (Bailey et al. 2015)
:mod:`.walkforward`        :func:`walk_forward`: train/test folds, OOS equity, walk-forward efficiency
:mod:`.montecarlo`         :func:`monte_carlo`: bootstrap / shuffle of a run's trades
:mod:`.challenge`          :func:`challenge_odds`: prop-firm challenge pass/fail odds (``ita/data/prop_firms.yaml``)
:mod:`.store`              the SQLite tables (``sweeps``, ``sweep_variants``, ``walk_forwards``, ``walk_forward_folds``)
:mod:`.figures`            heatmap, fold chart, fan chart, challenge odds chart
=========================  ===================================================================================

Public API for promotion gates (issue 13 item 7)::

    >>> from ita.research import latest_walk_forward, latest_sweep
    >>> wf = latest_walk_forward("asia_fvg_break", 1, "EURUSD")       # doctest: +SKIP
    >>> wf["oos_profit_factor"], wf["is_profit_factor"], wf["dsr"], wf["pbo"], wf["oos_trades"]   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any


def latest_walk_forward(setup_id: str, version: int, symbol: str | None = None) -> dict | None:
    """The newest stored walk-forward of ``setup_id`` ``v<version>`` (on ``symbol``; any symbol when None), or
    None when there is none.

    Keys (one ``walk_forwards`` row, :mod:`ita.research.store`): ``wf_id``, ``created_at`` (UTC ISO),
    ``setup_id``, ``setup_version``, ``setup_hash`` (SHA-256 of the YAML tested), ``symbol``, ``start``/``end``
    (trading days), ``train``/``test`` (e.g. ``"6M"``/``"1M"``), ``anchored`` (0/1), ``objective``, ``folds``,
    ``oos_trades``, ``oos_total_r`` (R), ``oos_profit_factor`` (out-of-sample PF of the concatenated test
    windows; inf without losers, NaN without trades), ``oos_max_dd_r`` (R), ``is_total_r``,
    ``is_profit_factor`` (in-sample PF of the chosen variants on their train windows), ``wfe`` (walk-forward
    efficiency, annualised OOS / IS R; NaN when IS ≤ 0), ``dsr`` (deflated Sharpe ratio of the best full-period
    variant, 0–1), ``pbo`` (probability of backtest overfitting, 0–1), ``folder`` (artifacts).
    """
    from ita.research.store import ResearchStore

    return ResearchStore().latest_walk_forward(setup_id, version, symbol)


def latest_sweep(setup_id: str, version: int, symbol: str | None = None) -> dict | None:
    """The newest complete sweep of ``setup_id`` ``v<version>`` (on ``symbol``), or None: the ``sweeps`` row
    with ``dsr``, ``pbo``, ``best_params``, ``grid``, ``objective``, ``n_done`` …"""
    from ita.research.store import ResearchStore

    return ResearchStore().latest_sweep(setup_id, version, symbol)


def __getattr__(name: str) -> Any:  # the engines, imported on first use (dask/optuna/plotly are heavy)
    lazy = {"sweep": "ita.research.sweep", "walk_forward": "ita.research.walkforward",
            "monte_carlo": "ita.research.montecarlo", "challenge_odds": "ita.research.challenge"}
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'ita.research' has no attribute {name!r}")


__all__ = ["challenge_odds", "latest_sweep", "latest_walk_forward", "monte_carlo", "sweep", "walk_forward"]
