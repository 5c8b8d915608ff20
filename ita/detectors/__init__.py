"""ICT / smart-money-concept detectors: pure functions ``candles → events DataFrame``.

Every event row carries the UTC time it became knowable (``confirmed_at``); running a detector on a
prefix of the data yields exactly the events of the full run that were knowable by the prefix's end.

==========================  ==================================================================
``fvg``                     fair value gaps with mitigation; ``join="consecutive"`` joins adjacent gaps
                            (:mod:`ita.detectors.fvg`)
``inverse_fvg``             inversion FVGs: gaps closed through, flipped polarity (:mod:`ita.detectors.fvg`)
``session_range``           high/low of a session window per day (:mod:`ita.detectors.sessions`)
``range_break``             first close beyond a session range (:mod:`ita.detectors.sessions`)
``range_crossings``         every close beyond it (the candidates of a break step)
``swings``                  fractal swing highs/lows (:mod:`ita.detectors.structure`)
``structure_breaks``        BOS / CHoCH (:mod:`ita.detectors.structure`)
``order_blocks``            order blocks with mitigation/invalidation (:mod:`ita.detectors.structure`)
``atr``                     ATR via TA-Lib (:mod:`ita.detectors.indicators`)
``previous_period_levels``  previous day/week/month high/low (:mod:`ita.detectors.levels`)
``opening_levels``          New York midnight / daily / weekly open (:mod:`ita.detectors.levels`)
``initial_balance``         first hour of a cash session (:mod:`ita.detectors.levels`)
``equal_levels``            equal highs/lows (:mod:`ita.detectors.liquidity`)
``sweeps``                  wick beyond a level, close back inside within N bars (:mod:`ita.detectors.liquidity`)
==========================  ==================================================================

The kinds a trader asks for by name (``run_detector``, the chat), with their parameters, events-table
columns, chart drawing and words, are catalogued once in :mod:`ita.detectors.catalog` (``catalog.yaml``).

Speed: ``python benchmarks/bench_detectors.py`` (all detectors on the EURUSD M5 year, ×10, and vs
``smartmoneyconcepts``).
"""
from ita.lazy import lazy_exports

__all__ = ["atr", "equal_levels", "fvg", "initial_balance", "inverse_fvg", "opening_levels", "order_blocks",
           "previous_period_levels", "range_break", "range_crossings", "session_range", "structure_breaks", "sweeps", "swings"]

# imported on first use (ita.lazy): the detector catalogue (kinds, words, parameters) is read without them
lazy_exports(__name__, {
    "fvg": "ita.detectors.fvg", "inverse_fvg": "ita.detectors.fvg", "atr": "ita.detectors.indicators",
    **dict.fromkeys(("initial_balance", "opening_levels", "previous_period_levels"), "ita.detectors.levels"),
    **dict.fromkeys(("equal_levels", "sweeps"), "ita.detectors.liquidity"),
    **dict.fromkeys(("range_break", "range_crossings", "session_range"), "ita.detectors.sessions"),
    **dict.fromkeys(("order_blocks", "structure_breaks", "swings"), "ita.detectors.structure"),
})
