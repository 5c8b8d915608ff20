"""Backtest statistics as a labelled pandas Series (in the style of backtesting.py), plus by-month.

Definitions (R = the trade's result in multiples of its planned risk):

* win: ``r > 0``; loss: ``r < 0``; breakeven: ``r == 0``. Win rate = wins / trades.
* Total R = Σr. Expectancy [R] = mean r. Avg RR [R] = mean r of winners; Avg Loss [R] = mean r of losers.
* Profit factor = Σ(winning r) / |Σ(losing r)| (``inf`` with no losers, NaN with no trades).
* Max drawdown [R]: largest peak-to-trough fall of cumulative R (peak includes the 0 start).
  Max drawdown [%]: the same on the equity curve ``account + Σ pnl``, as % of the peak.
* Net profit at fixed fractional risk: pnl = r × account × risk_pct / 100 (no compounding).
* Longest losing streak: most consecutive trades with r < 0.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # imported where used: the statistics catalogue is read without them (CLI, chat)
    import numpy as np
    import pandas as pd


class Statistic(NamedTuple):
    """One statistic of :func:`compute_stats`: its key in the Series, how a trader reads it, its unit."""

    key: str            # the Series label, e.g. "Win Rate [%]"
    label: str          # the short name a trader reads, e.g. "Win rate"
    kind: str           # date | int | pct | r | pf | dd | dd_pct | money | duration | num — how it is formatted
    unit: str           # "R", "%", "account currency", "" …
    group: int          # section of the full statistics table (0 period/counts, 1 edge, 2 risk, 3 money)
    headline: bool      # one of the figures a trader reads first (chat and CLI summary, report cards)
    signed: bool        # shown with its sign and coloured green / red
    description: str


#: The statistics catalogue: every figure of :func:`compute_stats`, in display order. Every face (CLI, chat,
#: HTML report) reads names, units and formatting from here.
STATISTICS: tuple[Statistic, ...] = (
    Statistic("Start", "Start", "date", "", 0, False, False, "first day of the tested period"),
    Statistic("End", "End", "date", "", 0, False, False, "last day of the tested period"),
    Statistic("Signals", "Signals", "int", "", 0, False, False, "orders generated, filled or not"),
    Statistic("Trades", "Trades", "int", "", 0, True, False, "filled trades"),
    Statistic("Wins", "Wins", "int", "", 0, True, False, "trades with r > 0"),
    Statistic("Losses", "Losses", "int", "", 0, True, False, "trades with r < 0"),
    Statistic("Breakeven", "Breakeven", "int", "", 0, False, False, "trades with r = 0"),
    Statistic("Win Rate [%]", "Win rate", "pct", "%", 1, True, False, "wins / trades"),
    Statistic("Total R", "Total R", "r", "R", 1, True, True, "sum of the trades' R multiples"),
    Statistic("Expectancy [R]", "Expectancy", "r", "R", 1, True, True, "mean R per trade"),
    Statistic("Avg RR [R]", "Avg RR (winners)", "r", "R", 1, True, False, "mean R of the winners"),
    Statistic("Avg Loss [R]", "Avg loss", "r", "R", 1, False, False, "mean R of the losers"),
    Statistic("Profit Factor", "Profit factor", "pf", "", 1, True, False, "gross winning R / gross losing R"),
    Statistic("Max Drawdown [R]", "Max drawdown", "dd", "R", 2, True, False,
              "largest peak-to-trough fall of cumulative R"),
    Statistic("Max Drawdown [%]", "Max drawdown %", "dd_pct", "%", 2, False, False,
              "largest fall of the equity curve, % of its peak"),
    Statistic("Best Trade [R]", "Best trade", "r", "R", 2, False, False, "largest R of one trade"),
    Statistic("Worst Trade [R]", "Worst trade", "r", "R", 2, False, False, "smallest R of one trade"),
    Statistic("Longest Losing Streak", "Longest losing streak", "int", "trades", 2, False, False,
              "most consecutive losers"),
    Statistic("Net Profit", "Net profit", "money", "account currency", 3, True, True,
              "sum of pnl at fixed fractional risk"),
    Statistic("Return [%]", "Return", "pct", "%", 3, False, True, "net profit / account"),
    Statistic("Avg Trade Duration", "Avg trade duration", "duration", "", 3, False, False, "mean entry → exit"),
    Statistic("Account", "Account", "money", "account currency", 3, False, False, "account size"),
    Statistic("Risk per Trade [%]", "Risk per trade", "pct", "%", 3, False, False, "risk per trade, % of account"),
    Statistic("Intrabar on M1", "Resolved on M1", "int", "trades", 3, False, False,
              "trades whose ambiguous bar (stop and target touched, or the fill bar) was replayed on its M1 bars"),
    Statistic("Intrabar by Rule", "Resolved by rule", "int", "trades", 3, False, False,
              "trades whose bar touched stop and target and was decided by stop_first / target_first"),
)
_BY_KEY = {s.key: s for s in STATISTICS}

#: The headline figures in the order a trader reads them (chat table, comparisons).
HEADLINE: tuple[Statistic, ...] = tuple(
    _BY_KEY[k] for k in ("Trades", "Wins", "Losses", "Win Rate [%]", "Total R", "Net Profit", "Avg RR [R]",
                         "Max Drawdown [R]", "Expectancy [R]", "Profit Factor"))


def statistic(key: str) -> Statistic | None:
    """The catalogue entry of a :func:`compute_stats` key, or None for a key outside the catalogue."""
    return _BY_KEY.get(key)


def equity_curve(trades: pd.DataFrame, account: float, risk_pct: float) -> pd.DataFrame:
    """Per trade (indexed by exit time, UTC): ``r``, ``cum_r``, ``pnl``, ``equity``, ``drawdown_r``, ``drawdown_pct``."""
    import numpy as np
    import pandas as pd

    r = trades["r"].to_numpy(dtype="float64") if len(trades) else np.array([])
    risk_amount = account * risk_pct / 100.0
    cum = np.cumsum(r)
    peak_r = np.maximum.accumulate(np.r_[0.0, cum])[1:] if len(r) else cum
    pnl = r * risk_amount
    equity = account + np.cumsum(pnl)
    peak_eq = np.maximum.accumulate(np.r_[account, equity])[1:] if len(r) else equity
    idx = pd.DatetimeIndex(trades["exit_time"]) if len(trades) else pd.DatetimeIndex([], tz="UTC")
    return pd.DataFrame({"r": r, "cum_r": cum, "pnl": pnl, "equity": equity, "drawdown_r": peak_r - cum,
                         "drawdown_pct": (peak_eq - equity) / peak_eq * 100.0}, index=idx.rename("exit_time"))


def _streak(mask: np.ndarray) -> int:
    best = cur = 0
    for m in mask:
        cur = cur + 1 if m else 0
        best = max(best, cur)
    return best


def compute_stats(trades: pd.DataFrame, *, start, end, account: float = 100_000.0, risk_pct: float = 1.0,
                  signals: int | None = None) -> pd.Series:
    """Statistics of a trades table (:data:`ita.backtest.engine.TRADE_COLUMNS`) as a labelled Series.

    ``start``/``end`` the tested period (shown, and used for the duration); ``account``/``risk_pct`` for
    money figures; ``signals`` how many orders were generated (filled or not).

    Example::

        >>> s = compute_stats(trades, start="2025-01-01", end="2025-12-31")     # doctest: +SKIP
        >>> s["Win Rate [%]"], s["Profit Factor"]                               # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    r = trades["r"].to_numpy(dtype="float64") if len(trades) else np.array([])
    n = len(r)
    wins, losses = r[r > 0], r[r < 0]
    eq = equity_curve(trades, account, risk_pct)
    gross_win, gross_loss = wins.sum(), -losses.sum()
    pf = (gross_win / gross_loss) if gross_loss > 0 else (np.inf if n and gross_win > 0 else np.nan)
    dur = (pd.DatetimeIndex(trades["exit_time"]) - pd.DatetimeIndex(trades["entry_time"])) if n else None
    s = pd.Series({
        "Start": pd.Timestamp(start),
        "End": pd.Timestamp(end),
        "Signals": int(signals if signals is not None else n),
        "Trades": n,
        "Wins": int(len(wins)),
        "Losses": int(len(losses)),
        "Breakeven": int(n - len(wins) - len(losses)),
        "Win Rate [%]": (len(wins) / n * 100.0) if n else np.nan,
        "Total R": float(r.sum()),
        "Expectancy [R]": float(r.mean()) if n else np.nan,
        "Avg RR [R]": float(wins.mean()) if len(wins) else np.nan,
        "Avg Loss [R]": float(losses.mean()) if len(losses) else np.nan,
        "Profit Factor": float(pf),
        "Max Drawdown [R]": float(eq["drawdown_r"].max()) if n else 0.0,
        "Max Drawdown [%]": float(eq["drawdown_pct"].max()) if n else 0.0,
        "Best Trade [R]": float(r.max()) if n else np.nan,
        "Worst Trade [R]": float(r.min()) if n else np.nan,
        "Longest Losing Streak": _streak(r < 0),
        "Net Profit": float(eq["pnl"].sum()) if n else 0.0,
        "Return [%]": float(eq["pnl"].sum() / account * 100.0) if n else 0.0,
        "Avg Trade Duration": dur.mean() if n else pd.NaT,
        "Account": float(account),
        "Risk per Trade [%]": float(risk_pct),
        "Intrabar on M1": int((trades["intrabar"] == "M1").sum()) if n and "intrabar" in trades else 0,
        "Intrabar by Rule": int(trades["intrabar"].isin(["stop_first", "target_first"]).sum())
        if n and "intrabar" in trades else 0,
    }, dtype=object)
    s.name = "stats"
    return s


def by_month(trades: pd.DataFrame, account: float = 100_000.0, risk_pct: float = 1.0) -> pd.DataFrame:
    """Per calendar month of the entry (UTC): trades, wins, losses, win rate [%], total R, net profit."""
    import numpy as np
    import pandas as pd

    cols = ["trades", "wins", "losses", "win_rate_pct", "total_r", "net_profit"]
    if len(trades) == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="month"))
    month = pd.DatetimeIndex(trades["entry_time"]).tz_convert("UTC").tz_localize(None).to_period("M")
    g = trades.assign(month=month.astype(str)).groupby("month")["r"]
    out = pd.DataFrame({
        "trades": g.size(),
        "wins": g.apply(lambda x: int((x > 0).sum())),
        "losses": g.apply(lambda x: int((x < 0).sum())),
    })
    out["win_rate_pct"] = out["wins"] / out["trades"] * 100.0
    out["total_r"] = g.sum()
    out["net_profit"] = out["total_r"] * account * risk_pct / 100.0
    return out[cols]
