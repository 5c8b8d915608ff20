"""The risk governor in the live loop: the backtest's portfolio limits (:mod:`ita.backtest.governor`) as a
decision rule of the live graph's ``decide`` node — "daily loss limit reached: signal journaled, not alerted".

ITA never places orders, so what the trader holds is what ITA alerted: each alert of the run is followed on
the bars closed by the decision time with the backtest's own simulator (same fills, spread and commission),
which says whether its order is still pending, filled and open, or closed with what R. A decision is made
when a signal is known, before any fill, so an alerted order still pending counts as a trade of its day and
as open risk (it may fill). An alert the trader marked *Skipped* (Telegram button) is not counted.

Example::

    >>> state = day_state(ctx, known_at)                                  # doctest: +SKIP
    >>> blocked_reason(ctx.config.governor, state, risk_pct=1.0)          # doctest: +SKIP
    'daily loss limit reached: -2.00R closed today (limit -2R)'
"""
from __future__ import annotations

import logging

import pandas as pd

from ita.backtest.governor import DayState, GovernorRules, blocked_reason, governor_day
from ita.data.timeframes import tf_delta

log = logging.getLogger("ita.live")

LOOKBACK = pd.Timedelta(days=3)       # alerts older than this are closed by every shipped setup's flat time

__all__ = ["LOOKBACK", "blocked_reason", "day_state", "governor_reason"]


def _loaded(ctx, setup_id: str, version: int):
    ls = ctx.setups.get(f"{setup_id}@{version}")
    if ls is None:
        from ita.setups.loader import load_setup

        ls = load_setup(setup_id, version)
    return ls


def _follow(ctx, sig: dict, t: pd.Timestamp) -> tuple[str, float, pd.Timestamp | None, pd.Timestamp | None]:
    """``(state, r, fill time, exit known)`` of an alerted order on the bars closed by ``t``: state ``pending`` |
    ``open`` | ``closed`` | ``gone`` (expired without a fill)."""
    from ita.backtest.core import execution_model
    from ita.backtest.engine import simulate

    ls = _loaded(ctx, sig["setup_id"], int(sig["version"]))
    tf = sig["timeframe"]
    bar = tf_delta(tf)
    known = pd.Timestamp(sig["known_at"])
    candles = ctx.feed.closed_bars(sig["symbol"], tf, t, known - bar)
    exp = pd.Timestamp(sig["expires_at"]) if sig.get("expires_at") else pd.NaT
    exit_by = pd.Timestamp(sig["exit_by"]) if sig.get("exit_by") else pd.NaT
    mb = ls.setup.management.max_bars
    order = pd.DataFrame([{"signal_id": sig["signal_id"], "direction": sig["direction"],
                           "entry_type": sig["entry_type"], "entry_price": float(sig["entry_price"]),
                           "sl_price": float(sig["sl_price"]), "tp_price": float(sig["tp_price"]),
                           "active_from": known, "expires_at": exp, "exit_by": exit_by,
                           "max_bars": float(mb) if mb else float("nan"), "day": sig.get("day"), "known_at": known}])
    trades, _ = simulate(candles, order, execution_model(ls, sig["symbol"]))
    if not len(trades):
        still = (pd.isna(exp) or exp > t) and (pd.isna(exit_by) or exit_by > t)
        return ("pending" if still else "gone"), 0.0, None, None
    tr = trades.iloc[0]
    if tr["exit_reason"] == "end_of_data":
        return "open", 0.0, pd.Timestamp(tr["entry_time"]), None
    return "closed", float(tr["r"]), pd.Timestamp(tr["entry_time"]), pd.Timestamp(tr["exit_time"]) + bar


def day_state(ctx, t: pd.Timestamp) -> DayState:
    """What the governor knows at ``t`` (UTC) from the run's alerts of the last :data:`LOOKBACK`: the day's
    closed R and % (alerts whose exit was known by ``t`` on ``t``'s governor day), its trades (fills that day
    plus pending alerted orders known that day) and the open risk (filled and open, or pending)."""
    rules: GovernorRules = ctx.config.governor
    day = governor_day(pd.DatetimeIndex([t]), rules.day_start)[0]
    st = DayState(day=day)
    for sig in ctx.journal.alerts_between(ctx.run, t - LOOKBACK, t):
        if (ctx.journal.feedback_of(ctx.run, sig["signal_id"]) or {}).get("taken") == "skipped":
            continue
        risk_pct = float(_loaded(ctx, sig["setup_id"], int(sig["version"])).setup.risk.risk_pct)
        state, r, fill, exit_known = _follow(ctx, sig, t)
        if state == "gone":
            continue
        started = pd.Timestamp(sig["known_at"]) if fill is None else fill
        if governor_day(pd.DatetimeIndex([started]), rules.day_start)[0] == day:
            st.trades += 1
        if state in ("pending", "open"):
            st.open_r += 1.0
            st.open_pct += risk_pct
        elif governor_day(pd.DatetimeIndex([exit_known]), rules.day_start)[0] == day:
            st.closed_r += r
            st.closed_pct += r * risk_pct
    return st


def governor_reason(ctx, signal: dict, t: pd.Timestamp) -> str | None:
    """Why the governor keeps ``signal`` (a candidate of the decide node) from being alerted at ``t``, or None.
    Nothing when no limit is configured."""
    rules = ctx.config.governor
    if rules is None or not rules.active:
        return None
    risk_pct = float(ctx.setups[signal["setup_key"]].setup.risk.risk_pct)
    why = blocked_reason(rules, day_state(ctx, t), risk_pct)
    return f"{why}: signal journaled, not alerted" if why else None
