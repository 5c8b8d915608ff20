"""The tools: the one service layer. Deterministic functions over the core (setups, data, detectors, signals,
backtests, runs, charts, the theory library) that return a :class:`ToolResult`; the CLI, the chat (web,
terminal, Telegram) and the reports only format what they return. Every number a user sees comes from a tool,
never a model.

Every tool validates its arguments with a pydantic model (:data:`ARG_MODELS`; descriptions and examples are
what a language model reads), turns bad input and every :class:`~ita.errors.ItaError` into
``ToolResult.failure(...)`` with one clear message (an unknown symbol or setup comes with "Did you mean …?"),
and never raises for a user's mistake. Every number is already rounded and formatted for a trader in
``tables``; the raw numbers are in ``data``.

======================  =====================================================================================
module                  what it holds
======================  =====================================================================================
:mod:`.registry`        the ``tool`` decorator, :data:`TOOLS`, :data:`ARG_MODELS`, the shared argument model
                        ``ToolArgs`` (symbols, dates, versions, overrides) and argument parsing
:mod:`.access`          what the tools read: the candle store (samples imported on first use), setups, runs,
                        the charts folder
:mod:`.format`          statistics and event tables (``stats_table``, ``compare_table``) over :mod:`ita.format`
:mod:`.results`         the result contract (``ToolResult``, ``Table``, ``Artifact``)
:mod:`.setups`          ``list_setups``, ``show_setup``, ``validate_setup``
:mod:`.data`            ``data_coverage``, ``load_candles``
:mod:`.instruments`     ``list_instruments``, ``show_instrument`` (the registry, the user's entries merged)
:mod:`.detectors`       ``run_detector`` (the kinds, parameters and tables of :mod:`ita.detectors.catalog`)
:mod:`.backtest`        ``evaluate_setup``, ``run_backtest``, ``explain_day``
:mod:`.charts`          ``show_trade``, ``render_chart``
:mod:`.runs`            ``compare_runs``, ``compare_versions``, ``list_runs``
:mod:`.kb`              ``kb_search`` (the theory library)
:mod:`.portfolio`       ``portfolio_backtest`` (several setups × symbols under the risk governor)
:mod:`.promotion`       ``promote_setup`` (promotion gates; candidate → paper → active)
:mod:`.lc`              the same tools as LangChain ``StructuredTool`` s (``langchain_tools()``,
                        ``TOOLS_BY_NAME``); imported lazily so the plain tools need no LangChain
======================  =====================================================================================

A new tool goes into its family's module (or a new one imported below) with its argument model beside it.

=====================  ======================================================================================
tool                   arguments
=====================  ======================================================================================
``list_setups``        —
``show_setup``         ``setup_id``, ``version=None``
``validate_setup``     ``setup_id`` (an id: all its versions; or a YAML path)
``data_coverage``      ``symbol=None``
``load_candles``       ``symbol``, ``timeframe="M5"``, ``start=None``, ``end=None``
``list_instruments``   ``asset_class=None``
``show_instrument``    ``symbol``
``run_detector``       ``detector``, ``symbol``, ``start=None``, ``end=None``, ``timeframe="M5"``,
                       ``params={}``, ``chart=True``
``evaluate_setup``     ``setup_id``, ``symbol``, ``start=None``, ``end=None``, ``version=None``, ``params={}``,
                       ``session=None``
``run_backtest``       the same + ``charts=True``
``explain_day``        ``setup_id``, ``symbol``, ``day``, ``version=None``
``show_trade``         ``trade``, ``run_id=None`` (latest run), ``chart=True``
``render_chart``       ``symbol``, ``time``, ``timeframe="M5"``, ``setup_id=None``, ``bars_before=60``,
                       ``bars_after=30``
``compare_runs``       ``run_a``, ``run_b``
``compare_versions``   ``setup_id``, ``version_a``, ``version_b``, ``symbol``, ``start=None``, ``end=None``
``list_runs``          ``limit=10``
=====================  ======================================================================================

=======================  ====================================================================================
tool                     arguments
=======================  ====================================================================================
``portfolio_backtest``   ``setup_ids``, ``symbols``, ``start=None``, ``end=None``, ``governor={}``, ``charts=True``
``promote_setup``        ``setup_id``, ``version``, ``to=None`` (the next status), ``dry_run=False``
=======================  ====================================================================================

Dates are ``"YYYY-MM-DD"`` (``"2025"`` and ``"2025-03"`` are read as the whole year / month); ``start`` and
``end`` ``None`` mean all stored data. Setup periods are trading days in the setup's time zone (New York);
candle and detector periods are UTC dates. Times shown to the trader are New York wall-clock. The sample
data is imported into the candle store on first use.

Example::

    >>> from ita import tools
    >>> r = tools.run_backtest(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-01-01",
    ...                       end="2025-12-31", charts=False)                          # doctest: +SKIP
    >>> r.ok, r.data["stats"]["Trades"], r.data["run_id"]                             # doctest: +SKIP

The deterministic core (``ita.data``, ``ita.detectors``, ``ita.setups``, ``ita.backtest``, ``ita.charts``,
``ita.store``) never imports this package (an import-linter contract, ``lint-imports``).
"""
from __future__ import annotations

from typing import Any

# the families, in the order their tools are listed (to a language model and in ``TOOLS``)
from ita.tools.setups import list_setups, show_setup, validate_setup  # noqa: I001
from ita.tools.data import data_coverage, load_candles
from ita.tools.instruments import list_instruments, show_instrument
from ita.tools.detectors import DETECTORS, run_detector
from ita.tools.backtest import evaluate_setup, explain_day, run_backtest
from ita.tools.charts import render_chart, show_trade
from ita.tools.runs import compare_runs, compare_versions, list_runs
from ita.tools.kb import kb_search
from ita.tools.portfolio import portfolio_backtest
from ita.tools.promotion import promote_setup
from ita.tools.registry import ARG_MODELS, TOOLS
from ita.tools.results import Artifact, Table, ToolResult


def __getattr__(name: str) -> Any:  # lazy LangChain wrappers
    if name in ("langchain_tools", "TOOLS_BY_NAME"):
        from ita.tools import lc

        return getattr(lc, name)
    raise AttributeError(f"module 'ita.tools' has no attribute {name!r}")


__all__ = ["ARG_MODELS", "DETECTORS", "TOOLS", "TOOLS_BY_NAME", "Artifact", "Table", "ToolResult", "compare_runs",
           "compare_versions", "data_coverage", "evaluate_setup", "explain_day", "kb_search", "langchain_tools",
           "list_instruments", "list_runs", "list_setups", "load_candles", "portfolio_backtest", "promote_setup", "render_chart", "run_backtest", "run_detector", "show_instrument", "show_setup", "show_trade", "validate_setup"]
