"""What became of journaled live signals, and the backtest of the same period beside them.

A journaled signal (:class:`ita.live.journal.Journal`) carries the setup version that produced it. Its
**outcome** is what the backtest's simulator (:func:`ita.backtest.backtest`: fills, same-bar stop/target,
costs) did with the same signal — the live loop evaluates exactly the backtest's code, so the signal id of
a live signal is the signal id of a backtest signal of that day:

==============  ==========================================================================================
``win``         filled, closed with R > 0
``loss``        filled, closed with R < 0
``flat``        filled, closed at R = 0
``not filled``  the order expired unfilled (or was never active)
``open``        the stored candles end before the signal's exit time: not decided yet
``no data``     no stored candles for the signal's day (import them: ``ita data import``)
==============  ==========================================================================================

R is per trade in risk units (commission included), prices in price units, times UTC. The candles are the
candle store's (``ITA_DATA_DIR``), not the live feed's: a live journal on a file/MT5 feed gets outcomes once
that period is imported.

Followed live (:func:`track`, the live graph's journal node): every journaled signal is also followed with the
same simulator on the closed bars the live run holds, and its state is stored in the journal's outcome columns
(``pending`` — the order still works, ``open`` — filled, not exited, ``filled`` — exited with R, exit reason,
MFE/MAE and bars held, ``expired``): the feature journal grows labelled while ITA runs, without waiting for an
import (``ita live signals`` shows it; the learning dataset reads it).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ita.errors import DataError, ItaError
from ita.times import NY

log = logging.getLogger("ita.live")
OUTCOMES = ("win", "loss", "flat", "not filled", "open", "no data")


def signal_outcomes(signals: pd.DataFrame, store) -> pd.DataFrame:
    """``signals`` (rows of :meth:`Journal.signals`) with ``outcome`` (:data:`OUTCOMES`), ``r`` (R of the
    trade, NaN unless filled and closed), ``exit_reason`` and ``exit_time`` (UTC) added; same row order.
    ``store``: a :class:`ita.data.store.CandleStore`."""
    out = signals.copy()
    res = {i: ("no data", float("nan"), None, pd.NaT) for i in out.index}
    if out.empty:
        return _with(out, res)
    for (setup_id, version, symbol), grp in out.groupby(["setup_id", "version", "symbol"]):
        trades, status, last_bar = _backtest_days(store, setup_id, int(version), symbol, grp["day"])
        if trades is None:
            continue
        by_id = trades.set_index("signal_id") if len(trades) else None
        for i, row in grp.iterrows():
            sid = row["signal_id"]
            exit_by = pd.Timestamp(row["exit_by"]) if row.get("exit_by") else None
            if by_id is not None and sid in by_id.index:
                t = by_id.loc[sid]
                r = float(t["r"])
                if t["exit_reason"] == "end_of_data":  # the stored candles end while the trade is on
                    res[i] = ("open", float("nan"), None, pd.NaT)
                else:
                    res[i] = ("win" if r > 0 else "loss" if r < 0 else "flat", r, t["exit_reason"],
                              pd.Timestamp(t["exit_time"]))
            elif last_bar is not None and exit_by is not None and last_bar < exit_by:
                res[i] = ("open", float("nan"), None, pd.NaT)
            else:
                res[i] = ("not filled", float("nan"), None, pd.NaT)
    return _with(out, res)


def _with(out: pd.DataFrame, res: dict) -> pd.DataFrame:
    cols = list(zip(*(res[i] for i in out.index))) if len(out) else [[], [], [], []]
    out["outcome"], out["r"], out["exit_reason"] = list(cols[0]), pd.Series(cols[1], index=out.index, dtype=float), list(cols[2])
    out["exit_time"] = pd.to_datetime(pd.Series(cols[3], index=out.index, dtype=object), utc=True)
    return out


def _backtest_days(store, setup_id: str, version: int, symbol: str, days: pd.Series):
    """``(trades, signal statuses {signal_id: status}, last stored bar close)`` of the setup version on the
    trading days spanned by ``days``; ``(None, {}, None)`` when the setup or the data is missing."""
    from ita.backtest import backtest
    from ita.backtest.runner import load_period_candles
    from ita.data.timeframes import tf_delta
    from ita.setups import load_setup

    try:
        loaded = load_setup(setup_id, version)
        lo, hi = pd.Timestamp(min(days)), pd.Timestamp(max(days))
        candles = load_period_candles(store, loaded, symbol, lo, hi + pd.Timedelta(days=3))
    except (DataError, ItaError) as exc:
        log.info("outcomes of %s v%s on %s: %s", setup_id, version, symbol, exc)
        return None, {}, None
    res = backtest(loaded, candles, symbol, start=lo, end=hi)
    status = dict(zip(res.signals["signal_id"], res.signals.get("status", pd.Series(dtype=str)))) if len(res.signals) else {}
    return res.trades, status, candles.index[-1] + tf_delta(loaded.setup.timeframe)


def period_backtest(store, setup_id: str, version: int | None, symbol: str, start, end):
    """The backtest (:class:`ita.backtest.BacktestResult`) of one setup version on ``symbol`` for trading days
    ``start``…``end`` (New York dates, inclusive), not stored as a run; None when there is no data."""
    from ita.backtest import backtest
    from ita.backtest.runner import load_period_candles
    from ita.setups import load_setup

    loaded = load_setup(setup_id, version)
    try:
        candles = load_period_candles(store, loaded, symbol, start, end)
    except DataError:
        return None
    return backtest(loaded, candles, symbol, start=start, end=end)


def period_key(known_at, period: str) -> str:
    """The bucket of a signal time for a trader: ``day`` ``2025-03-04``, ``week`` ``2025-W10`` (ISO week of the
    New York date), ``month`` ``2025-03``, ``all`` ``all``."""
    t = pd.Timestamp(known_at).tz_convert(NY)
    if period == "day":
        return f"{t:%Y-%m-%d}"
    if period == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        return f"{t:%Y-%m}"
    return "all"


# ---- followed live, in the journal ---------------------------------------------------------------------

M5 = pd.Timedelta(minutes=5)


def _loaded_for(row: dict, setups: dict):
    for s in setups.values():
        if s.id == row["setup_id"] and int(s.version) == int(row["version"]):
            return s
    from ita.setups import load_setup

    return load_setup(row["setup_id"], int(row["version"]))


def order_of(row: dict, loaded) -> dict:
    """The simulator's order row for a journaled signal."""
    ts = lambda v: pd.Timestamp(v) if v else pd.NaT  # noqa: E731
    mb = loaded.setup.management.max_bars
    return {"signal_id": row["signal_id"], "direction": row["direction"], "entry_type": row["entry_type"],
            "entry_price": float(row["entry_price"]), "sl_price": float(row["sl_price"]),
            "tp_price": float(row["tp_price"]), "day": pd.Timestamp(row["day"]), "known_at": ts(row["known_at"]),
            "active_from": ts(row["known_at"]), "expires_at": ts(row.get("expires_at")),
            "exit_by": ts(row.get("exit_by")), "max_bars": float(mb) if mb else np.nan}


def track(journal, run: str, symbol: str, candles: pd.DataFrame, setups: dict | None = None) -> int:
    """Follow the unresolved signals of ``run`` on ``symbol`` on ``candles`` (closed bars, canonical frame of
    the signals' timeframe, UTC) and record their outcomes. Returns how many rows changed state."""
    from ita.backtest.core import execution_model
    from ita.backtest.engine import simulate

    rows = journal.unresolved(run, symbol)
    if not rows or candles is None or len(candles) == 0:
        return 0
    last_close = candles.index[-1] + M5
    changed = 0
    now = pd.Timestamp.now(tz="UTC")
    for row in rows:
        try:
            loaded = _loaded_for(row, setups or {})
            od = order_of(row, loaded)
            if od["active_from"] < candles.index[0]:
                continue                          # the window no longer reaches back to it: leave as it is
            model = execution_model(loaded, symbol, None, None, float(candles["close"].iloc[-1]))
            trades, status = simulate(candles, pd.DataFrame([od]), model)
        except Exception as exc:  # noqa: BLE001 - one bad row never stops the live loop
            log.warning("outcome of %s not tracked: %s", row.get("signal_id"), exc)
            continue
        st = status["status"].iloc[0]
        fields: dict = {}
        if st == "filled" and len(trades):
            t = trades.iloc[0]
            final = t["exit_reason"] != "end_of_data"
            fields = {"outcome": "filled" if final else "open"}
            if final:
                fields.update(outcome_r=float(t["r"]), exit_reason=str(t["exit_reason"]), exit_time=t["exit_time"],
                              mfe_r=float(t["mfe_r"]), mae_r=float(t["mae_r"]), bars_to_exit=float(t["bars_held"]),
                              outcome_at=now)
        elif st == "expired":
            ends = [v for v in (od["expires_at"], od["exit_by"]) if not pd.isna(v)]
            if ends and last_close >= min(ends):
                fields = {"outcome": "expired", "exit_reason": "expired", "outcome_at": now}
        if fields and fields.get("outcome") != row.get("outcome"):
            journal.set_outcome(run, row["signal_id"], **fields)
            changed += 1
    return changed
