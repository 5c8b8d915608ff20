"""The score of a live signal: p(success) from the trained model where its walk-forward gate lets it for the
setup (:mod:`ita.learn`), else the baseline — Laplace over the setup's own backtest, transparent.

For each (setup version, symbol) the setup is backtested once on the stored history **before** the live (or
replay) period starts — never on the period itself, so a replay cannot peek at its own future. The score of
every signal of that setup on that symbol is Laplace's rule of succession over those trades::

    p = (wins + 1) / (trades + 2)          # 0.5 with no trades; → the win rate as trades accumulate

and the basis says so in one sentence ("21 of 98 backtest trades won, 2025-01-02 → 2025-03-02; Laplace").
With the signal's reward-to-risk ``rr`` the expected result is ``p·rr − (1 − p)`` in R; ``breakeven`` is
``1 / (1 + rr)``. A win is a trade with R > 0.

Example::

The gate (:func:`gated_score`, :mod:`ita.learn.registry`): the model scores a setup's signals only when, on that
setup's out-of-sample trades, the model's AUC 95 % CI lies above 0.5 and its Brier score beats Laplace's;
``ita learn status`` says for each setup which score is used and why. Every signal's feature vector is
computed either way and journaled.

    >>> b = baseline(load_setup("asia_fvg_break"), "EURUSD", until="2025-03-03")     # doctest: +SKIP
    >>> b.p, b.basis                                                                    # doctest: +SKIP
    (0.25, '…')
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ita.errors import DataError


@dataclass(frozen=True)
class Baseline:
    """A setup version's backtest on one symbol before ``until``: ``trades``, ``wins``, ``p`` (Laplace),
    ``expectancy`` (mean R per trade, NaN without trades), ``start``/``end`` (trading days covered)."""

    setup_id: str
    version: int
    symbol: str
    trades: int
    wins: int
    expectancy: float
    start: str | None
    end: str | None

    @property
    def p(self) -> float:
        return (self.wins + 1) / (self.trades + 2)

    @property
    def basis(self) -> str:
        if not self.trades:
            return f"no backtest trades of {self.setup_id} v{self.version} on {self.symbol} before the live period: p = 0.5 (no evidence)"
        return (f"{self.wins} of {self.trades} backtest trades won ({self.setup_id} v{self.version} {self.symbol}, "
                f"{self.start} → {self.end}; Laplace (wins+1)/(trades+2))")

    def expected_r(self, rr: float) -> float:
        """Expected result in R of a signal with reward-to-risk ``rr`` under this baseline."""
        return self.p * rr - (1 - self.p)


def baseline(loaded, symbol: str, until, store=None, history_days: int = 365) -> Baseline:
    """Backtest ``loaded`` on ``symbol`` over the stored trading days in the ``history_days`` before ``until``
    (a date; New York), at the instrument's typical costs, and return its :class:`Baseline`.

    No stored history before ``until`` gives a baseline of 0 trades (p = 0.5). Raises
    :class:`~ita.errors.UnknownSymbolError` for an unknown symbol.
    """
    from ita.backtest import backtest
    from ita.backtest.runner import load_period_candles
    from ita.data.store import CandleStore

    store = store or CandleStore()
    end = pd.Timestamp(until).normalize() - pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=history_days)
    s = loaded.setup
    try:
        candles = load_period_candles(store, loaded, symbol, start, end)
    except DataError:
        return Baseline(s.id, loaded.version, symbol, 0, 0, float("nan"), None, None)
    candles = candles[candles.index < pd.Timestamp(until).tz_localize(s.timezone).tz_convert("UTC")]
    res = backtest(loaded, candles, symbol, start=start, end=end)
    r = res.trades["r"] if len(res.trades) else pd.Series(dtype=float)
    days = pd.to_datetime(res.trades["day"]) if len(res.trades) else None
    first = str(days.min().date()) if days is not None else None
    last = str(days.max().date()) if days is not None else None
    return Baseline(s.id, loaded.version, symbol, int(len(r)), int((r > 0).sum()),
                    float(r.mean()) if len(r) else float("nan"), first, last)


def gated_score(scorer, signal: dict, loaded, base: Baseline, *, window=None, same_day=None):
    """The gated score of one live signal (:class:`ita.learn.scoring.Score`: ``p``, ``kind`` ``model`` |
    ``laplace``, ``basis``, ``features``) with ``base`` as Laplace's."""
    return scorer.score(signal, loaded, laplace_p=base.p, laplace_basis=base.basis, window=window, same_day=same_day)
