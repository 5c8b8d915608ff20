"""Charts for backtest artifacts and live alerts: equity curve, annotated trade charts, the live-signal
snapshot, PNG export and the HTML report.

Public API::

    equity_figure(equity, stats, title) -> go.Figure        # cumulative R + drawdown, stats in subtitle
    trade_figure(candles, trade, signal, title, pip_size)   # one trade on M5 candles, range/zone/levels
    snapshot_figure(candles, signal, *, timeframes=("H1", "M15", "M5"), title, pip_size, subtitle=None)
                                                            # a pending live signal on several timeframes,
                                                            # nothing after its known_at (1400×1000 PNG)
    save_png(fig, path, width=1400, height=800) -> Path     # kaleido + headless Chromium (ItaError if none)
    close_png_server()                                      # stop that Chromium (optional)
    report_html(candles, trades, signals, equity, stats, title, path) -> Path   # self-contained HTML

All inputs are UTC; every chart shows New York wall-clock time (``America/New_York``) on its x axis.
"""
from ita.charts.export import close_png_server, save_png
from ita.charts.figures import equity_figure, trade_figure
from ita.charts.report import report_html
from ita.charts.snapshot import snapshot_figure

__all__ = ["close_png_server", "equity_figure", "report_html", "save_png", "snapshot_figure", "trade_figure"]
