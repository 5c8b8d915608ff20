"""ICT / smart-money-concept detectors: pure functions ``candles → events DataFrame``.

Every event row carries the UTC time it became knowable (``confirmed_at``); running a detector on a
prefix of the data yields exactly the events of the full run that were knowable by the prefix's end.

=====================  ====================================================
``fvg``                fair value gaps with mitigation (:mod:`ita.detectors.fvg`)
``session_range``      high/low of a session window per day (:mod:`ita.detectors.sessions`)
``range_break``        first close beyond a session range (:mod:`ita.detectors.sessions`)
=====================  ====================================================
"""
from ita.detectors.fvg import fvg
from ita.detectors.sessions import range_break, session_range

__all__ = ["fvg", "range_break", "session_range"]
