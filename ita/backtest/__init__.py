"""Backtesting: the order simulator (:mod:`.engine`), statistics (:mod:`.stats`), the pure
:func:`backtest` (:mod:`.core`) and :func:`run_backtest` with artifacts and the run store (:mod:`.runner`).

The names below are imported on first use (:func:`ita.lazy.lazy_exports`): reading the statistics catalogue
(:data:`ita.backtest.stats.STATISTICS`) loads neither the simulator nor the setups."""
from ita.lazy import lazy_exports

__all__ = ["BacktestResult", "ExecutionModel", "backtest", "by_month", "compute_stats", "equity_curve",
           "execution_model", "run_backtest", "simulate"]

lazy_exports(__name__, {
    **dict.fromkeys(("BacktestResult", "backtest", "execution_model"), "ita.backtest.core"),
    **dict.fromkeys(("ExecutionModel", "simulate"), "ita.backtest.engine"),
    **dict.fromkeys(("by_month", "compute_stats", "equity_curve"), "ita.backtest.stats"),
    "run_backtest": "ita.backtest.runner",
})
