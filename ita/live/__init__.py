"""Live signals: ITA watches the market and alerts the trader. It never places orders.

The scheduler (:mod:`.service`) runs the live graph (:mod:`ita.graphs.live`) at every candle close: closed
bars from a feed (:mod:`.feeds`: MetaTrader 5, a CSV/Parquet file a terminal appends to, or a replay of
stored history on a simulated clock) → the active setups' detectors and evaluation (the backtest's own
code) → a score (:mod:`.score`) → a decision → a chart snapshot → a comment (:mod:`.comment`) → Telegram
(:mod:`.telegram`), the outbox folder and the Notion journal (:mod:`.notion`). Every signal, delivery,
latency and button press is in the journal (:mod:`.journal`, SQLite).
"""
