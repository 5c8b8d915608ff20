"""A portfolio backtest: several setups on several symbols traded together under the risk governor.

Each component (one setup version on one symbol) is backtested on its own with :func:`ita.backtest.backtest`
— the same signals, fills and costs as a single backtest — then every component's trades are merged in the
order their orders fill and the governor (:mod:`ita.backtest.governor`) decides which ones the portfolio
takes. Nothing a component does depends on the others; only the governor couples them, and it only uses
what was known when each order would fill (no look-ahead).

Also measured: the correlation of the setups' **daily R** (each setup's trades summed per governor day of
their exit, every weekday of the period counted, 0 R on a day without trades), with a 95 % confidence
interval (Fisher z) and the number of days — computed on the ungoverned trades so it describes the setups,
not the governor's choices.

Example::

    >>> from ita.backtest.portfolio import portfolio_backtest
    >>> from ita.backtest.governor import GovernorRules
    >>> pf = portfolio_backtest([res_a_eurusd, res_b_eurusd], GovernorRules(max_daily_loss_r=2))  # doctest: +SKIP
    >>> pf.stats["Total R"], pf.stats_all["Total R"]          # governed vs every trade             # doctest: +SKIP
    >>> pf.correlation                                         # setups × setups, Pearson of daily R # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ita.backtest.core import BacktestResult
from ita.backtest.governor import GovernorRules, day_summary, govern, governor_day
from ita.backtest.stats import compute_stats, equity_curve
from ita.data.timeframes import tf_delta
from ita.errors import ItaError

PORTFOLIO_COLUMNS = ["component", "setup_id", "setup_version", "setup_hash", "symbol", "risk_pct"]


def component_key(res: BacktestResult) -> str:
    """``"asia_fvg_break v1 · EURUSD"`` — how a component is named in tables and files."""
    return f"{res.setup.id} v{res.setup.version} · {res.symbol}"


def setup_key(res: BacktestResult) -> str:
    """``"asia_fvg_break v1"``."""
    return f"{res.setup.id} v{res.setup.version}"


def merge_trades(results: list[BacktestResult]) -> pd.DataFrame:
    """Every component's trades in one frame, in fill order (ties: signal time, then the order of
    ``results``). Adds :data:`PORTFOLIO_COLUMNS` and ``exit_known`` (UTC close of the exit bar: when the
    trade's result was known) to the engine's trade columns; ``trade`` keeps the component's own number."""
    frames = []
    for i, res in enumerate(results):
        t = res.trades.copy()
        if not len(t):
            continue
        t.insert(0, "component", component_key(res))
        t.insert(1, "setup_id", res.setup.id)
        t.insert(2, "setup_version", res.setup.version)
        t.insert(3, "setup_hash", res.setup.content_hash)
        t.insert(4, "symbol", res.symbol)
        t.insert(5, "risk_pct", float(res.setup.setup.risk.risk_pct))
        t["exit_known"] = pd.DatetimeIndex(t["exit_time"]) + tf_delta(res.setup.setup.timeframe)
        t["_order"] = i
        frames.append(t)
    if not frames:
        cols = PORTFOLIO_COLUMNS + list(results[0].trades.columns if results else []) + ["exit_known"]
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["entry_time", "signal_time", "_order", "trade"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


def daily_r(trades: pd.DataFrame, by: str, start, end, day_start: str = "17:00") -> pd.DataFrame:
    """R per governor day of the exit (rows: every weekday ``start``…``end`` plus any other day with a trade;
    0 R without trades) and per ``by`` (a column of ``trades``, e.g. ``"setup"``). Index ``day`` (naive dates)."""
    days = pd.bdate_range(pd.Timestamp(start).normalize().tz_localize(None), pd.Timestamp(end).normalize().tz_localize(None))
    if len(trades):
        d = governor_day(trades["exit_known"], day_start)
        g = trades.assign(day=d).groupby(["day", by])["r"].sum().unstack(by, fill_value=0.0)
        days = days.union(g.index)
        out = g.reindex(days, fill_value=0.0)
    else:
        out = pd.DataFrame(index=days)
    out.index.name = "day"
    return out.astype("float64")


def correlation_ci(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a Pearson correlation ``r`` over ``n`` pairs (Fisher z; NaN when n ≤ 3)."""
    from statistics import NormalDist

    if not (n > 3 and np.isfinite(r)):
        return math.nan, math.nan
    if abs(r) >= 1.0:
        return r, r
    z, se = math.atanh(r), 1.0 / math.sqrt(n - 3)
    q = NormalDist().inv_cdf(0.5 + level / 2)
    return math.tanh(z - q * se), math.tanh(z + q * se)


def correlation_pairs(daily: pd.DataFrame) -> pd.DataFrame:
    """Every pair of ``daily``'s columns: ``a``, ``b``, ``r`` (Pearson), ``ci_low``, ``ci_high`` (95 %), ``days``.
    A column without any trade has no correlation (NaN)."""
    rows = []
    cols = list(daily.columns)
    n = len(daily)
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            x, y = daily[a].to_numpy(), daily[b].to_numpy()
            r = float(np.corrcoef(x, y)[0, 1]) if n > 1 and x.std() > 0 and y.std() > 0 else math.nan
            lo, hi = correlation_ci(r, n)
            rows.append({"a": a, "b": b, "r": r, "ci_low": lo, "ci_high": hi, "days": n})
    return pd.DataFrame(rows, columns=["a", "b", "r", "ci_low", "ci_high", "days"])


def _money(stats: pd.Series, trades: pd.DataFrame, account: float) -> pd.Series:
    """Money rows of ``stats`` from each trade's own risk (setups may risk different % per trade)."""
    s = stats.copy()
    if not len(trades):
        return s
    pnl = trades["r"].to_numpy(dtype="float64") * account * trades["risk_pct"].to_numpy(dtype="float64") / 100.0
    eq = account + np.cumsum(pnl)
    peak = np.maximum.accumulate(np.r_[account, eq])[1:]
    s["Net Profit"] = float(pnl.sum())
    s["Return [%]"] = float(pnl.sum() / account * 100.0)
    s["Max Drawdown [%]"] = float(((peak - eq) / peak * 100.0).max())
    return s


@dataclass
class PortfolioResult:
    """What :func:`portfolio_backtest` produced.

    ``components`` the single backtests; ``rules`` the governor's; ``candidates`` every component trade in
    fill order with ``taken``, ``blocked_by``, ``gov_day``, ``exit_known``; ``trades`` the taken ones (``trade``
    renumbered 1…n in fill order, ``component_trade`` the component's own number); ``stats`` / ``stats_all``
    statistics of the taken / of every trade (:func:`ita.backtest.stats.compute_stats`, in exit order; money
    from each trade's own risk %); ``equity`` / ``equity_all`` their equity curves; ``days`` the governor days
    (:func:`ita.backtest.governor.day_summary`); ``by_component`` one row per component (trades, taken,
    blocked, total R of all / of the taken, profit factor, max drawdown [R]); ``daily`` the ungoverned
    daily R per setup (per component when there is one setup), ``correlation`` its Pearson matrix and
    ``pairs`` each pair with its 95 % interval and days; ``start``/``end`` (dates), ``account``, ``currency``.
    """

    components: list[BacktestResult]
    rules: GovernorRules
    candidates: pd.DataFrame
    trades: pd.DataFrame
    stats: pd.Series
    stats_all: pd.Series
    equity: pd.DataFrame
    equity_all: pd.DataFrame
    days: pd.DataFrame
    by_component: pd.DataFrame
    daily: pd.DataFrame
    correlation: pd.DataFrame
    pairs: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    account: float
    currency: str
    notes: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> pd.DataFrame:
        """The trades the governor blocked, with the reason."""
        return self.candidates[~self.candidates["taken"]]


def _component_rows(results: list[BacktestResult], cand: pd.DataFrame) -> pd.DataFrame:
    groups = dict(tuple(cand.groupby("component", sort=False))) if len(cand) else {}
    rows = []
    for res in results:
        key = component_key(res)
        g = groups.get(key, cand.iloc[:0])
        r = g["r"].to_numpy(dtype="float64")
        taken = g["taken"].to_numpy(dtype=bool)
        rt = r[taken][np.argsort(g["exit_known"].to_numpy()[taken], kind="stable")]
        win, loss = rt[rt > 0].sum(), -rt[rt < 0].sum()
        pf = win / loss if loss > 0 else (math.inf if win > 0 else math.nan)
        cum = np.cumsum(rt)
        dd = float((np.maximum.accumulate(np.r_[0.0, cum])[1:] - cum).max()) if len(rt) else 0.0
        rows.append({"component": key, "setup": setup_key(res), "symbol": res.symbol, "trades": len(g),
                     "taken": int(taken.sum()), "blocked": int((~taken).sum()), "total_r_all": float(r.sum()),
                     "total_r": float(rt.sum()), "profit_factor": float(pf), "max_drawdown_r": dd})
    return pd.DataFrame(rows)


def portfolio_backtest(results: list[BacktestResult], rules: GovernorRules | None = None) -> PortfolioResult:
    """Trade the components ``results`` (single backtests of the same period, e.g. from
    :func:`ita.backtest.backtest`) together under ``rules`` (None = no limits).

    Raises :class:`ItaError` for no components, a component listed twice, or setups in different account
    currencies. The account is the first setup's (``risk.account``); a note says so when they differ.
    """
    rules = rules or GovernorRules()
    if not results:
        raise ItaError("A portfolio needs at least one setup and one symbol.")
    keys = [component_key(r) for r in results]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ItaError(f"{', '.join(dup)} is listed twice in the portfolio.")
    currencies = sorted({r.setup.setup.risk.currency for r in results})
    if len(currencies) > 1:
        raise ItaError(f"The setups use different account currencies ({', '.join(currencies)}); a portfolio needs one.")
    notes = []
    account = float(results[0].setup.setup.risk.account)
    accounts = {float(r.setup.setup.risk.account) for r in results}
    if len(accounts) > 1:
        notes.append(f"The setups' accounts differ; money figures use {results[0].setup.id}'s "
                     f"{account:,.0f} {currencies[0]}.")
    start = min(r.start for r in results)
    end = max(r.end for r in results)
    merged = merge_trades(results)
    cand = govern(merged, rules) if len(merged) else merged.assign(taken=pd.Series(dtype=bool),
                                                                   blocked_by=pd.Series(dtype=str),
                                                                   gov_day=pd.Series(dtype="datetime64[ns]"))
    taken = cand[cand["taken"]].copy()
    taken = taken.rename(columns={"trade": "component_trade"})
    taken.insert(0, "trade", np.arange(1, len(taken) + 1))
    taken = taken.reset_index(drop=True)
    risk_pcts = {float(r.setup.setup.risk.risk_pct) for r in results}
    base_pct = risk_pcts.pop() if len(risk_pcts) == 1 else 1.0

    def _stats(t: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
        by_exit = t.sort_values(["exit_known", "entry_time"], kind="stable") if len(t) else t
        st = compute_stats(by_exit, start=start, end=end, account=account, risk_pct=base_pct,
                           signals=int(sum(len(r.signals) for r in results)))
        return _money(st, by_exit, account), equity_curve(by_exit, account, base_pct)

    stats, equity = _stats(taken)
    stats_all, equity_all = _stats(cand)
    setups = list(dict.fromkeys(setup_key(r) for r in results))
    by = "setup" if len(setups) > 1 else "component"
    tagged = cand.assign(setup=cand["setup_id"] + " v" + cand["setup_version"].astype(str)) if len(cand) else cand
    daily = daily_r(tagged, by, start, end, rules.day_start)
    for col in (setups if by == "setup" else keys):
        if col not in daily.columns:
            daily[col] = 0.0
    daily = daily[setups if by == "setup" else keys]
    corr = daily.corr() if len(daily.columns) > 1 else pd.DataFrame(1.0, index=daily.columns, columns=daily.columns)
    return PortfolioResult(components=list(results), rules=rules, candidates=cand, trades=taken, stats=stats,
                           stats_all=stats_all, equity=equity, equity_all=equity_all, days=day_summary(cand),
                           by_component=_component_rows(results, cand), daily=daily, correlation=corr,
                           pairs=correlation_pairs(daily), start=start, end=end, account=account,
                           currency=currencies[0], notes=notes)
