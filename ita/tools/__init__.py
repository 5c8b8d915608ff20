"""The chat agent's tools: deterministic functions over the core (setups, data, detectors, signals, backtests,
runs, charts) that return a :class:`ToolResult`. Every number a user sees comes from a tool, never a model.

* :mod:`ita.tools.results` — the result contract (``ToolResult``, ``Table``, ``Artifact``).
* :mod:`ita.tools.core` — the tools as plain functions ``name(**args) -> ToolResult`` with pydantic argument
  models (:data:`TOOLS`, :data:`ARG_MODELS`); bad input becomes a failed result with one clear sentence.
* :mod:`ita.tools.lc` — the same tools as LangChain ``StructuredTool`` s (``langchain_tools()``,
  ``TOOLS_BY_NAME``); imported lazily so the plain tools need no LangChain.

Example::

    >>> from ita.tools import TOOLS
    >>> TOOLS["list_setups"]().data["setups"][0]["setup_id"]             # doctest: +SKIP
    'asia_fvg_break'

The deterministic core (``ita.data``, ``ita.detectors``, ``ita.setups``, ``ita.backtest``, ``ita.charts``,
``ita.store``) never imports this package.
"""
from __future__ import annotations

from typing import Any

from ita.tools.core import (
    ARG_MODELS,
    DETECTORS,
    TOOLS,
    compare_runs,
    compare_versions,
    data_coverage,
    evaluate_setup,
    explain_day,
    list_runs,
    list_setups,
    load_candles,
    render_chart,
    run_backtest,
    run_detector,
    show_setup,
    show_trade,
    validate_setup,
)
from ita.tools.results import Artifact, Table, ToolResult


def __getattr__(name: str) -> Any:  # lazy LangChain wrappers
    if name in ("langchain_tools", "TOOLS_BY_NAME"):
        from ita.tools import lc

        return getattr(lc, name)
    raise AttributeError(f"module 'ita.tools' has no attribute {name!r}")


__all__ = ["ARG_MODELS", "DETECTORS", "TOOLS", "TOOLS_BY_NAME", "Artifact", "Table", "ToolResult", "compare_runs",
           "compare_versions", "data_coverage", "evaluate_setup", "explain_day", "langchain_tools", "list_runs",
           "list_setups", "load_candles", "render_chart", "run_backtest", "run_detector", "show_setup", "show_trade",
           "validate_setup"]
