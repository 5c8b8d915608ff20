"""Live outcomes: every journaled signal followed to its result with the backtest's own simulator
(:func:`ita.backtest.simulate`, the instrument's typical costs like ``ita backtest``) on the bars that arrive
after it — so the feature journal grows labelled while ITA runs.

A signal's order is rebuilt from the journal row (direction, entry type and prices, ``active_from`` =
``known_at``, ``expires_at``, ``exit_by``, the setup's time stop) and simulated on the closed bars the live run
holds. Outcome states: ``pending`` (no fill yet, the order still works), ``open`` (filled, not exited yet),
``filled`` (exited: R, exit reason, MFE/MAE, bars held — final), ``expired`` (never filled before it expired or
the flat time passed — final). Only final states are never revisited.

Example::

    >>> track(journal, "live", "EURUSD", candles, setups)          # doctest: +SKIP
    2
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger("ita.live")
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
