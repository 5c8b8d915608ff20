"""ITA — Intelligent Trading Agent.

A deterministic core (``ita.data``, ``ita.detectors``, ``ita.setups``, ``ita.backtest``, ``ita.charts``,
``ita.store``) that turns a trader's ICT/SMC rules into versioned YAML setups and backtests them honestly,
plus an LLM layer (``ita.agent``, ``ita.tools``, ``ita.graphs``, ``ita.knowledge_base``) that talks to the
trader. The core never imports the LLM layer. ITA never places orders.

Quick start::

    >>> from ita import load_candles, run_backtest            # doctest: +SKIP
    >>> result = run_backtest("asia_fvg_break", "EURUSD", "2025-01-01", "2025-12-31")
    >>> result.stats["Win Rate [%]"]
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_candles", "run_backtest"]


def __getattr__(name: str):  # lazy, so `import ita` stays cheap for the CLI
    if name == "load_candles":
        from ita.data.store import load_candles

        return load_candles
    if name == "run_backtest":
        from ita.backtest.runner import run_backtest

        return run_backtest
    raise AttributeError(name)
