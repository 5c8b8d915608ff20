"""Charts for backtest artifacts and live alerts: equity curve, annotated trade charts, the live-signal
snapshot, PNG export and the HTML report.

Public API::

    equity_figure(equity, stats, title) -> go.Figure        # cumulative R + drawdown, stats in subtitle
    equity_spec(equity, stats, title) -> dict               # the same as a plain figure dict (no plotly objects)
    trade_figure(candles, trade, signal, title, pip_size)   # one trade on M5 candles, range/zone/levels
    trade_spec(candles, trade, signal, title, pip_size)     # the same as a plain figure dict
    snapshot_figure(candles, signal, *, timeframes=("H1", "M15", "M5"), title, pip_size, subtitle=None)
                                                            # a pending live signal on several timeframes,
                                                            # nothing after its known_at (1400×1000 PNG)
    warm_up(tabs=None)                                      # start the PNG renderer in the background
    render_pngs(figs, paths, width=1400, height=800) -> [Path]   # several PNGs in one concurrent call
    save_png(fig, path, width=1400, height=800) -> Path     # one PNG (kaleido + headless Chromium; ItaError if none)
    close_png_server()                                      # stop that Chromium (optional)
    report_html(candles, trades, signals, equity, stats, title, path) -> Path   # self-contained HTML

All inputs are UTC; every chart shows New York wall-clock time (``America/New_York``) on its x axis.
Names are imported on first use, so ``from ita.charts import warm_up`` loads neither plotly nor pandas.
"""
from __future__ import annotations

from typing import Any

_WHERE = {
    "close_png_server": "ita.charts.export", "render_pngs": "ita.charts.export", "save_png": "ita.charts.export",
    "warm_up": "ita.charts.export", "equity_figure": "ita.charts.figures", "equity_spec": "ita.charts.figures",
    "trade_figure": "ita.charts.figures", "trade_spec": "ita.charts.figures", "report_html": "ita.charts.report",
    "snapshot_figure": "ita.charts.snapshot",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'ita.charts' has no attribute {name!r}")
