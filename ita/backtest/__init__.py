"""Backtesting: the order simulator (:mod:`.engine`), statistics (:mod:`.stats`), the pure
:func:`backtest` (:mod:`.core`) and :func:`run_backtest` with artifacts and the run store (:mod:`.runner`)."""
from ita.backtest.core import BacktestResult, backtest, execution_model
from ita.backtest.engine import ExecutionModel, simulate
from ita.backtest.stats import by_month, compute_stats, equity_curve

__all__ = ["BacktestResult", "ExecutionModel", "backtest", "by_month", "compute_stats", "equity_curve",
           "execution_model", "simulate"]


def __getattr__(name):
    if name == "run_backtest":
        from ita.backtest.runner import run_backtest

        return run_backtest
    raise AttributeError(name)
