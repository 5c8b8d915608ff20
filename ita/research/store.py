"""Research results in the SQLite store (``ITA_DB``, the same file as the runs; sqlite-utils).

Tables
------
``sweeps``               one row per sweep or walk-forward search: ``sweep_id`` (pk), ``kind`` (``sweep`` |
                         ``walk_forward``), ``created_at`` (UTC ISO), ``setup_id``, ``setup_version``,
                         ``setup_hash`` (SHA-256 of the YAML the variants were built from), ``symbol``,
                         ``start``/``end`` (trading days), ``grid`` (JSON ``{path: [values]}``), ``search``,
                         ``trials``, ``seed``, ``objective``, ``min_trades``, ``spread``, ``commission``,
                         ``data_fingerprint``, ``days`` (JSON list of the period's trading days), ``n_variants``
                         (planned), ``n_done``, ``n_failed``, ``status`` (``complete`` | ``interrupted``),
                         ``best_variant``, ``best_params`` (JSON), ``dsr``, ``pbo``, ``verdict`` (plain words),
                         ``folder`` (artifacts).
``sweep_variants``       pk (``sweep_id``, ``variant``): ``params`` (JSON), ``effective_hash``, ``status``
                         (``ok`` | ``failed``), ``error``, ``trades``, ``wins``, ``win_rate`` (%), ``total_r``,
                         ``expectancy``, ``profit_factor``, ``max_dd_r``, ``sharpe`` (annualised, daily R),
                         ``objective_value``, ``rank`` (1 = best; NULL below ``min_trades`` or failed),
                         ``t_day``/``t_r``/``t_entry`` (JSON: trade day index, R, entry epoch seconds).
``walk_forwards``        one row per walk-forward: ``wf_id`` (pk, = its ``sweep_id``), ``created_at``, setup id/
                         version/hash, ``symbol``, ``start``/``end``, ``train``/``test`` (e.g. ``6M``/``1M``),
                         ``anchored``, ``objective``, ``folds``, ``oos_trades``, ``oos_total_r``,
                         ``oos_profit_factor``, ``oos_max_dd_r``, ``is_total_r``, ``is_profit_factor``, ``wfe``,
                         ``dsr``, ``pbo``, ``folder``.
``walk_forward_folds``   pk (``wf_id``, ``fold``): train/test start and end, ``variant``, ``params`` (JSON),
                         in-sample and out-of-sample trades / total R / profit factor, ``wfe``.

A sweep is written in one transaction (its row and all its variants): it is stored whole or not at all. A
resumed sweep rewrites its row and all its variants (ranks change) in one transaction.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import sqlite_utils

from ita.config import settings
from ita.errors import ItaError, closest
from ita.store import json_scalar

VARIANT_FIELDS = ("params", "effective_hash", "status", "error", "trades", "wins", "win_rate", "total_r",
                  "expectancy", "profit_factor", "max_dd_r", "sharpe", "objective_value", "rank", "t_day", "t_r",
                  "t_entry")


def _cell(v):
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return json_scalar(v)


def _num(v):
    """A stored number back: ``"inf"`` → inf, None → NaN."""
    if v is None:
        return math.nan
    if isinstance(v, str):
        return float(v)
    return v


class ResearchStore:
    """Sweeps, their variants and walk-forwards in the SQLite file ``ITA_DB``."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)

    # ---- writing -----------------------------------------------------------------------------------------
    def save_sweep(self, row: dict, variants: list[dict], wf: dict | None = None, folds: list[dict] | None = None,
                   replace: bool = False) -> None:
        """Store a sweep row with its variants (and a walk-forward with its folds) in one transaction.
        ``replace``: the sweep exists (a resume) — its row and variants are replaced (pass all of them)."""
        sid = row["sweep_id"]
        with self.db.conn:
            if not replace and self.db["sweeps"].exists() and self.db["sweeps"].count_where("sweep_id = ?", [sid]):
                raise ItaError(f"sweep {sid} is already stored")
            self.db["sweeps"].insert({k: _cell(v) for k, v in row.items()}, pk="sweep_id", alter=True, replace=True)
            recs = [{"sweep_id": sid, "variant": int(v["index"]), **{k: _cell(v.get(k)) for k in VARIANT_FIELDS}}
                    for v in variants]
            if recs:
                self.db["sweep_variants"].insert_all(recs, pk=("sweep_id", "variant"), alter=True, replace=True)
            if wf is not None:
                self.db["walk_forwards"].insert({k: _cell(v) for k, v in wf.items()}, pk="wf_id", alter=True,
                                                replace=True)
                if folds:
                    self.db["walk_forward_folds"].insert_all([{k: _cell(v) for k, v in f.items()} for f in folds],
                                                             pk=("wf_id", "fold"), alter=True, replace=True)
            for table, cols in (("sweeps", ["setup_id", "setup_version"]),
                                ("walk_forwards", ["setup_id", "setup_version"])):
                if self.db[table].exists():
                    self.db[table].create_index(cols, if_not_exists=True)

    # ---- reading -----------------------------------------------------------------------------------------
    def sweeps(self, limit: int = 20, kind: str | None = None) -> pd.DataFrame:
        """Latest sweeps first (all columns but ``days``)."""
        if not self.db["sweeps"].exists():
            return pd.DataFrame()
        cond, args = ("where kind = ?", [kind]) if kind else ("", [])
        rows = list(self.db.query(f"select * from sweeps {cond} order by created_at desc, sweep_id desc "
                                  f"limit {int(limit)}", args))
        return pd.DataFrame(rows).drop(columns=["days"], errors="ignore")

    def get_sweep(self, sweep_id: str) -> dict:
        """The sweep row (JSON columns decoded). Raises :class:`ItaError` for an unknown id."""
        if self.db["sweeps"].exists():
            rows = list(self.db.query("select * from sweeps where sweep_id = ?", [sweep_id]))
            if rows:
                row = dict(rows[0])
                for k in ("grid", "days", "best_params"):
                    if isinstance(row.get(k), str):
                        row[k] = json.loads(row[k])
                return row
            known = [r["sweep_id"] for r in self.db.query("select sweep_id from sweeps")]
        else:
            known = []
        raise ItaError(f"Unknown sweep {sweep_id!r}.{closest(sweep_id, known)} See `ita research list`.")

    def variants(self, sweep_id: str) -> list[dict]:
        """The stored variants of a sweep in variant order, as :class:`~ita.research.variants.VariantResult`
        dicts (``index`` = variant) plus ``objective_value`` and ``rank``."""
        self.get_sweep(sweep_id)
        if not self.db["sweep_variants"].exists():
            return []
        out = []
        for r in self.db.query("select * from sweep_variants where sweep_id = ? order by variant", [sweep_id]):
            d = dict(r)
            d["index"] = d.pop("variant")
            for k in ("params", "t_day", "t_r", "t_entry"):
                d[k] = json.loads(d[k]) if isinstance(d.get(k), str) else (d.get(k) or ([] if k != "params" else {}))
            for k in ("win_rate", "total_r", "expectancy", "profit_factor", "max_dd_r", "sharpe", "objective_value"):
                d[k] = _num(d.get(k))
            out.append(d)
        return out

    def variant_by_rank(self, sweep_id: str, rank: int) -> dict:
        """The variant ranked ``rank`` (1 = best) of a sweep. Raises :class:`ItaError` when there is none."""
        vs = [v for v in self.variants(sweep_id) if v.get("rank") is not None]
        hit = [v for v in vs if int(v["rank"]) == int(rank)]
        if not hit:
            raise ItaError(f"Sweep {sweep_id} has no variant ranked {rank} ({len(vs)} ranked variants; "
                           "variants below --min-trades or failed are not ranked).")
        return hit[0]

    def walk_forward(self, wf_id: str) -> tuple[dict, list[dict]]:
        """A walk-forward row and its folds. Raises :class:`ItaError` for an unknown id."""
        if self.db["walk_forwards"].exists():
            rows = list(self.db.query("select * from walk_forwards where wf_id = ?", [wf_id]))
            if rows:
                folds = [dict(f) for f in self.db.query("select * from walk_forward_folds where wf_id = ? "
                                                        "order by fold", [wf_id])] \
                    if self.db["walk_forward_folds"].exists() else []
                return dict(rows[0]), folds
        raise ItaError(f"Unknown walk-forward {wf_id!r}. See `ita research list`.")

    def _newest(self, table: str, key: str, cond: str, setup_id: str, version: int,
                symbol: str | None) -> dict | None:
        """The newest complete row (``select *``) of ``table`` for a setup version (on ``symbol``), or None."""
        if not self.db[table].exists():
            return None
        where, args = f"setup_id = ? and setup_version = ? and status = 'complete'{cond}", [setup_id, int(version)]
        if symbol:
            where += " and symbol = ?"
            args.append(symbol)
        rows = list(self.db.query(f"select * from {table} where {where} order by created_at desc, {key} desc limit 1",
                                  args))
        return dict(rows[0]) if rows else None

    def latest_walk_forward(self, setup_id: str, version: int, symbol: str | None = None) -> dict | None:
        """The newest complete walk-forward row of ``setup_id`` ``vversion`` (on ``symbol``), or None."""
        row = self._newest("walk_forwards", "wf_id", "", setup_id, version, symbol)
        if row is None:
            return None
        for k in ("oos_profit_factor", "is_profit_factor", "wfe", "dsr", "pbo", "oos_total_r", "is_total_r",
                  "oos_max_dd_r"):
            row[k] = _num(row.get(k))
        return row

    def latest_sweep(self, setup_id: str, version: int, symbol: str | None = None) -> dict | None:
        """The newest complete sweep row (kind ``sweep``) of ``setup_id`` ``vversion`` (on ``symbol``), or None."""
        found = self._newest("sweeps", "sweep_id", " and kind = 'sweep'", setup_id, version, symbol)
        if found is None:
            return None
        row = self.get_sweep(found["sweep_id"])
        row["dsr"], row["pbo"] = _num(row.get("dsr")), _num(row.get("pbo"))
        return row
