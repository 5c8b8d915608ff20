"""Portfolio runs in the SQLite store (the same file as the single runs, ``ITA_DB``).

Tables
------
``portfolio_runs``    one row per portfolio backtest: ``run_id`` (pk, ``pf_…``), ``created_at`` (UTC ISO),
                      ``components`` (JSON list of ``{setup_id, setup_version, setup_hash, symbol}``),
                      ``setups``, ``symbols`` (comma-separated), ``start``, ``end``, ``governor`` (JSON rules),
                      ``spread``, ``commission_per_lot``, ``data_fingerprints`` (JSON symbol → fingerprint),
                      ``run_dir``, headline figures of the governed portfolio (``trades_count``,
                      ``total_r``, ``profit_factor``, ``max_drawdown_r``), ``blocked``, ``stats`` (JSON),
                      ``stats_all`` (JSON: every trade, no governor) and ``correlation`` (JSON pairs).
``portfolio_trades``  pk (``run_id``, ``trade``): the taken trades with their component, setup id, version,
                      hash and symbol, in fill order.

A run is written in one transaction: it is stored whole or not at all.

Example::

    >>> from ita.store.portfolio import PortfolioStore
    >>> PortfolioStore().runs().head()              # doctest: +SKIP
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import sqlite_utils

from ita.config import settings
from ita.errors import ItaError, closest
from ita.store import json_scalar


def _row(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return json_scalar(v)


class PortfolioStore:
    """Portfolio runs and their trades (``path`` default ``ITA_DB``)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)

    def record(self, run: dict, trades: pd.DataFrame) -> None:
        """Insert a portfolio run with its taken trades atomically. Raises :class:`ItaError` on a duplicate id."""
        run_id = run["run_id"]
        if self.db["portfolio_runs"].exists() and self.db["portfolio_runs"].count_where("run_id = ?", [run_id]):
            raise ItaError(f"portfolio run {run_id} is already stored")
        with self.db.conn:
            self.db["portfolio_runs"].insert({k: _row(v) for k, v in run.items()}, pk="run_id", alter=True)
            if len(trades):
                rows = [{**{k: _row(v) for k, v in rec.items()}, "run_id": run_id} for rec in trades.to_dict("records")]
                self.db["portfolio_trades"].insert_all(rows, pk=("run_id", "trade"), alter=True)

    def runs(self, limit: int = 50) -> pd.DataFrame:
        """Latest portfolio runs first (empty frame when none)."""
        if not self.db["portfolio_runs"].exists():
            return pd.DataFrame()
        return pd.DataFrame(list(self.db.query(
            "select * from portfolio_runs order by created_at desc, rowid desc limit ?", [int(limit)])))

    def get(self, run_id: str) -> dict:
        """One stored portfolio run (JSON columns decoded). Raises :class:`ItaError` for an unknown id."""
        if self.db["portfolio_runs"].exists():
            rows = list(self.db.query("select * from portfolio_runs where run_id = ?", [run_id]))
            if rows:
                row = dict(rows[0])
                for k in ("components", "governor", "stats", "stats_all", "correlation", "data_fingerprints"):
                    if isinstance(row.get(k), str):
                        row[k] = json.loads(row[k])
                return row
            known = [r["run_id"] for r in self.db.query("select run_id from portfolio_runs")]
        else:
            known = []
        raise ItaError(f"Unknown portfolio run {run_id!r}.{closest(run_id, known)}")

    def trades(self, run_id: str) -> pd.DataFrame:
        """The taken trades of one portfolio run, in fill order."""
        self.get(run_id)
        if not self.db["portfolio_trades"].exists():
            return pd.DataFrame()
        return pd.DataFrame(list(self.db.query("select * from portfolio_trades where run_id = ? order by trade",
                                               [run_id])))
