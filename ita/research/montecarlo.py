"""Monte Carlo of a run's trade sequence: how bad (and how good) the same edge could have looked.

``method="bootstrap"`` draws each path's trades with replacement from the run's R multiples (the number of
trades is the run's); ``"shuffle"`` permutes them (the final R is then the run's, only the order — and so
drawdowns and streaks — changes). Per path: maximum drawdown of cumulative R (from the 0 start), final R,
longest losing streak (consecutive trades with R < 0), longest time under water (consecutive trades below the
previous equity peak). Percentiles 5/50/95 of each, the probability of a drawdown beyond X R, and a fan chart
of cumulative R by trade number. Reproducible with ``seed`` (numpy ``default_rng``).

Example::

    >>> import numpy as np
    >>> mc = monte_carlo(np.full(50, -1.0), n=100)     # every trade −1 R: every path is the same
    >>> float(mc.max_dd.min()), float(mc.max_dd.max()), int(mc.losing_streak.max())
    (50.0, 50.0, 50)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ita.errors import ItaError

METHODS = ("bootstrap", "shuffle")
PERCENTILES = (5, 50, 95)
FAN_PERCENTILES = (5, 25, 50, 75, 95)
#: Paths used for the fan chart's percentiles by trade number (the statistics use all paths).
FAN_PATHS = 2000


@dataclass
class MonteCarloResult:
    """Per path (``n`` long): ``max_dd`` (R), ``final_r`` (R), ``losing_streak`` (trades), ``underwater``
    (longest stretch below the previous peak, trades). ``percentiles`` DataFrame (rows: the four metrics;
    columns p5/p50/p95); ``p_dd_beyond`` ``{X R: probability}``; ``fan`` cumulative-R percentiles by trade
    number (index 0 = start)."""

    method: str
    n: int
    seed: int
    trades: int
    max_dd: np.ndarray = field(repr=False)
    final_r: np.ndarray = field(repr=False)
    losing_streak: np.ndarray = field(repr=False)
    underwater: np.ndarray = field(repr=False)
    p_dd_beyond: dict = field(default_factory=dict)
    fan: pd.DataFrame = field(default=None, repr=False)

    @property
    def percentiles(self) -> pd.DataFrame:
        rows = {"Max drawdown [R]": self.max_dd, "Final R": self.final_r,
                "Longest losing streak [trades]": self.losing_streak, "Longest time under water [trades]": self.underwater}
        return pd.DataFrame({f"p{p}": [float(np.percentile(v, p)) for v in rows.values()] for p in PERCENTILES},
                            index=list(rows))

    def p_loss(self) -> float:
        """Probability that a path ends below 0 R."""
        return float((self.final_r < 0).mean())


def monte_carlo(r, n: int = 10_000, method: str = "bootstrap", seed: int = 0,
                dd_levels: list[float] | tuple[float, ...] | None = None) -> MonteCarloResult:
    """Monte Carlo of trade R multiples ``r`` (1-D). ``dd_levels`` the X of P(max drawdown > X R) (default 5, 10,
    15, 20 and the run's own max drawdown rounded up). Raises :class:`ItaError` for no trades, an unknown method
    or ``n`` < 1."""
    x = np.asarray(r, dtype="float64")
    x = x[np.isfinite(x)]
    if len(x) == 0:
        raise ItaError("Monte Carlo needs at least one trade; this run has none.")
    if method not in METHODS:
        raise ItaError(f"Unknown method {method!r}: use bootstrap or shuffle.")
    if int(n) < 1:
        raise ItaError("--n must be at least 1 path.")
    n, m = int(n), len(x)
    rng = np.random.default_rng(seed)
    if method == "bootstrap":
        idx = rng.integers(0, m, size=(m, n), dtype=np.int32)          # trade k of path j = x[idx[k, j]]
    else:
        idx = rng.permuted(np.broadcast_to(np.arange(m, dtype=np.int32)[:, None], (m, n)), axis=0)
    # one pass over the trades, every path at once (small arrays: fast and light on memory)
    cum = np.zeros(n)
    peak = np.zeros(n)
    max_dd = np.zeros(n)
    under = np.zeros(n, dtype=np.int32)
    under_best = np.zeros(n, dtype=np.int32)
    streak = np.zeros(n, dtype=np.int32)
    streak_best = np.zeros(n, dtype=np.int32)
    k_fan = min(n, FAN_PATHS)
    fan_cum = np.empty((m, k_fan))
    for k in range(m):
        r = x[idx[k]]
        cum += r
        np.maximum(peak, cum, out=peak)
        dd = peak - cum
        np.maximum(max_dd, dd, out=max_dd)
        uw = dd > 1e-12
        under = np.where(uw, under + 1, 0)
        np.maximum(under_best, under, out=under_best)
        streak = np.where(r < 0, streak + 1, 0)
        np.maximum(streak_best, streak, out=streak_best)
        fan_cum[k] = cum[:k_fan]
    final = cum
    fan = pd.DataFrame(np.vstack([np.zeros(len(FAN_PERCENTILES)), np.percentile(fan_cum, FAN_PERCENTILES, axis=1).T]),
                       columns=[f"p{p}" for p in FAN_PERCENTILES])
    fan.index.name = "trade"
    under, streak = under_best, streak_best
    levels = list(dd_levels) if dd_levels else [5.0, 10.0, 15.0, 20.0]
    own = float(np.ceil((np.maximum.accumulate(np.r_[0.0, np.cumsum(x)]) - np.r_[0.0, np.cumsum(x)]).max()))
    if not dd_levels and own > 0 and own not in levels:
        levels.append(own)
    p = {float(lv): float((max_dd > lv).mean()) for lv in sorted(levels)}
    return MonteCarloResult(method=method, n=n, seed=seed, trades=m, max_dd=max_dd, final_r=final, losing_streak=streak,
                            underwater=under, p_dd_beyond=p, fan=fan)
