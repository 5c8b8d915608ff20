"""Setup version statuses and the promotion gates measured for them, in the SQLite store (``ITA_DB``).

Statuses: ``candidate`` (every version starts here) → ``paper`` (the live loop journals its signals without
alerting) → ``active`` (alerted; ``ita live start`` without ``--setups`` runs these). A status belongs to a
version *and its content hash*: a file edited after its promotion is a candidate again.

Table ``setup_promotions``: one row per promotion request (kept, never rewritten): ``id`` (pk), ``at`` (UTC
ISO), ``setup_id``, ``version``, ``setup_hash`` (SHA-256 of the YAML), ``from_status``, ``requested``,
``accepted`` (1/0), ``status`` (the version's status after the request), ``gates`` (JSON list: per gate
``name``, ``metric``, ``op``, ``threshold``, ``value``, ``result`` pass | fail | not measured | n/a,
``margin``, ``detail``), ``evaluation`` (JSON: symbols, period, costs, the active portfolio compared with)
and ``note``.

Example::

    >>> from ita.store.promotions import PromotionStore
    >>> PromotionStore().latest("fvg_reversal", 2)["status"]       # doctest: +SKIP
    'paper'

The current statuses of all versions are read by :mod:`ita.promotion.status` with ``sqlite3`` alone.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import sqlite_utils

from ita.config import settings

STATUSES = ("candidate", "paper", "active")
TABLE = "setup_promotions"
_COLS = {"id": int, "at": str, "setup_id": str, "version": int, "setup_hash": str, "from_status": str,
         "requested": str, "accepted": int, "status": str, "gates": str, "evaluation": str, "note": str}


class PromotionStore:
    """Promotion requests and the resulting statuses (``path`` default ``ITA_DB``)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db[TABLE].create(_COLS, pk="id", if_not_exists=True)
        self.db[TABLE].create_index(["setup_id", "version"], if_not_exists=True)

    def record(self, rows: list[dict]) -> list[int]:
        """Insert promotion rows (``gates``/``evaluation`` as lists/dicts) in one transaction; returns their ids."""
        ids = []
        with self.db.conn:
            for row in rows:
                r = {k: (json.dumps(v, default=str) if isinstance(v, (dict, list)) else v) for k, v in row.items()}
                r.setdefault("at", pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
                ids.append(self.db[TABLE].insert(r).last_pk)
        return ids

    def history(self, setup_id: str | None = None, version: int | None = None) -> pd.DataFrame:
        """Promotion requests, newest first (JSON columns decoded); filtered by setup id and version."""
        where, args = [], []
        if setup_id is not None:
            where.append("setup_id = ?")
            args.append(setup_id)
        if version is not None:
            where.append("version = ?")
            args.append(int(version))
        cond = f" where {' and '.join(where)}" if where else ""
        rows = [dict(r) for r in self.db.query(f"select * from {TABLE}{cond} order by id desc", args)]
        for r in rows:
            for k in ("gates", "evaluation"):
                r[k] = json.loads(r[k]) if r.get(k) else ([] if k == "gates" else {})
        return pd.DataFrame(rows, columns=list(_COLS))

    def latest(self, setup_id: str, version: int) -> dict | None:
        """The latest accepted request of a version (its current status), or None."""
        rows = list(self.db.query(f"select * from {TABLE} where setup_id = ? and version = ? and accepted = 1 "
                                  "order by id desc limit 1", [setup_id, int(version)]))
        if not rows:
            return None
        r = dict(rows[0])
        r["gates"] = json.loads(r["gates"]) if r.get("gates") else []
        r["evaluation"] = json.loads(r["evaluation"]) if r.get("evaluation") else {}
        return r
