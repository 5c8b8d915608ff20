"""The SQLite store (sqlite-utils): runs, their trades and signals, tied to setup id, version and hash.

Tables
------
``runs``     one row per backtest run: ``run_id`` (pk), ``created_at`` (UTC ISO), ``setup_id``,
             ``setup_version``, ``setup_hash`` (SHA-256 of the YAML), ``effective_hash``, ``overrides``
             (JSON), ``symbol``, ``timeframe``, ``start``, ``end``, ``spread``, ``commission_per_lot``,
             ``data_fingerprint``, ``run_dir``, the headline statistics, ``stats`` (JSON).
``trades``   pk (``run_id``, ``trade``): the trades table of the run plus ``setup_id``/``setup_version``/
             ``setup_hash`` so statistics can be grouped by version across runs.
``signals``  pk (``run_id``, ``signal_id``): every signal with its order ``status`` and ``meta`` (JSON).

A run is written in one transaction: it is stored whole or not at all.

Example::

    >>> from ita.store import RunStore
    >>> RunStore().runs().head()              # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import sqlite_utils

from ita.config import settings
from ita.errors import ItaError, closest


def json_scalar(v):
    """A value as JSON/SQLite can hold it: Timestamps/Timedeltas → ISO text, NaN/NaT → None, ±inf → "inf"/"-inf",
    numpy scalars → Python; anything else unchanged."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, pd.Timedelta):
        return str(v)
    if hasattr(v, "item") and not isinstance(v, (dict, list)):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _jsonable(v):
    """:func:`json_scalar`, with dicts/lists stored as JSON text (SQLite columns)."""
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return json_scalar(v)


def _records(df: pd.DataFrame, extra: dict) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        row = {k: _jsonable(v) for k, v in rec.items()}
        row.update(extra)
        out.append(row)
    return out


def new_run_folder(prefix: str, key: str) -> tuple[str, Path, Path, pd.Timestamp]:
    """A new run id ``<prefix>_<UTC yyyymmdd_HHMMSS>_<6 hex of key+time>`` and its folders under
    ``ITA_RUNS_DIR``: ``(run_id, partial, final, created)``. Write into ``partial`` (a hidden sibling), then
    ``os.replace(partial, final)`` so a run folder is complete or absent."""
    import hashlib

    created = pd.Timestamp.now(tz="UTC")
    digest = hashlib.sha256(f"{key}{created.value}".encode()).hexdigest()[:6]
    run_id = f"{prefix}_{created:%Y%m%d_%H%M%S}_{digest}"
    runs_dir = settings().runs_dir
    runs_dir.mkdir(parents=True, exist_ok=True)
    return run_id, runs_dir / f".{run_id}.partial", runs_dir / run_id, created


@contextmanager
def run_folder(partial: Path, final: Path) -> Iterator[Path]:
    """Build a run folder complete-or-absent: creates ``partial`` (from :func:`new_run_folder`), yields it, and
    on success renames it to ``final`` (``os.replace``); on any exception removes ``partial`` and re-raises.

    >>> run_id, partial, final, created = new_run_folder("bt", "key")          # doctest: +SKIP
    >>> with run_folder(partial, final) as d:                                   # doctest: +SKIP
    ...     (d / "summary.json").write_text("{}")
    """
    partial.mkdir(parents=True)
    try:
        yield partial
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


class RunStore:
    """Runs, trades and signals in one SQLite file (``ITA_DB``, default ``~/.ita/ita.db``)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)

    def record_run(self, run: dict, trades: pd.DataFrame, signals: pd.DataFrame) -> None:
        """Insert a run with its trades and signals atomically. Raises :class:`ItaError` on a duplicate run_id."""
        run_id = run["run_id"]
        if self.db["runs"].exists() and self.db["runs"].count_where("run_id = ?", [run_id]):
            raise ItaError(f"run {run_id} is already stored")
        tag = {"run_id": run_id, "setup_id": run["setup_id"], "setup_version": run["setup_version"],
               "setup_hash": run["setup_hash"]}
        with self.db.conn:
            self.db["runs"].insert({k: _jsonable(v) for k, v in run.items()}, pk="run_id", alter=True)
            if len(trades):
                self.db["trades"].insert_all(_records(trades, tag), pk=("run_id", "trade"), alter=True)
            if len(signals):
                self.db["signals"].insert_all(_records(signals, {"run_id": run_id}), pk=("run_id", "signal_id"), alter=True)
            for table, cols in (("runs", ["setup_id", "setup_version"]), ("trades", ["setup_id", "setup_version"])):
                if self.db[table].exists():
                    self.db[table].create_index(cols, if_not_exists=True)

    def runs(self, limit: int = 50) -> pd.DataFrame:
        """Latest runs first: run_id, created_at, setup, version, symbol, period and headline stats."""
        if not self.db["runs"].exists():
            return pd.DataFrame()
        rows = list(self.db.query(f"select * from runs order by created_at desc limit {int(limit)}"))
        return pd.DataFrame(rows)

    def get_run(self, run_id: str) -> dict:
        """The stored run row (``stats`` decoded). Raises :class:`ItaError` for an unknown run_id."""
        if self.db["runs"].exists():
            rows = list(self.db.query("select * from runs where run_id = ?", [run_id]))
            if rows:
                row = dict(rows[0])
                row["stats"] = json.loads(row["stats"]) if row.get("stats") else {}
                return row
            known = [r["run_id"] for r in self.db.query("select run_id from runs")]
        else:
            known = []
        raise ItaError(f"Unknown run {run_id!r}.{closest(run_id, known)} See `ita runs list`.")

    def trades(self, run_id: str) -> pd.DataFrame:
        """Trades of one run, in trade order."""
        self.get_run(run_id)
        if not self.db["trades"].exists():
            return pd.DataFrame()
        return pd.DataFrame(list(self.db.query("select * from trades where run_id = ? order by trade", [run_id])))

    def by_version(self, setup_id: str | None = None, symbol: str | None = None) -> pd.DataFrame:
        """Trade statistics grouped by setup version (and symbol), from the stored runs.

        Identical reruns (same setup, version, effective rule, symbol, period, spread and commission) count
        once — the latest. Runs with ``--param`` overrides are experiments: they are grouped apart, by
        their ``overrides`` (``""`` for the stored rule itself).

        Returns one row per (``setup_id``, ``setup_version``, ``setup_hash``, ``overrides``, ``symbol``):
        ``runs``, ``start``/``end`` (earliest/latest date covered), ``Trades``, ``Win Rate [%]``,
        ``Total R``, ``Expectancy [R]``, ``Profit Factor`` (inf without losses; NaN without trades).
        Empty DataFrame when nothing is stored.

        Example::

            >>> RunStore().by_version("asia_fvg_break")            # doctest: +SKIP
        """
        if not (self.db["runs"].exists() and self.db["trades"].exists()):
            return pd.DataFrame()
        where, args = [], []
        for col, val in (("setup_id", setup_id), ("symbol", symbol)):
            if val:
                where.append(f"r.{col} = ?")
                args.append(val)
        cond = f"where {' and '.join(where)}" if where else ""
        sess = ("coalesce(' session=' || nullif(r.session_filter, ''), '')"
                if "session_filter" in self.db["runs"].columns_dict else "''")  # stores from before the column
        runs = pd.DataFrame(list(self.db.query(
            f"select r.run_id, r.created_at, r.setup_id, r.setup_version, r.setup_hash, r.effective_hash, "
            f"coalesce(nullif(r.overrides, '{{}}'), '') || {sess} as overrides, r.symbol, r.start, r.end, r.spread, "
            f"r.commission_per_lot from runs r {cond}", args)))
        if runs.empty:
            return runs
        same = ["setup_id", "setup_version", "effective_hash", "overrides", "symbol", "start", "end", "spread", "commission_per_lot"]
        latest = runs.sort_values("created_at").groupby(same, dropna=False).tail(1)
        ids = latest["run_id"].tolist()
        marks = ",".join("?" * len(ids))
        tr = pd.DataFrame(list(self.db.query(f"select run_id, r from trades where run_id in ({marks})", ids)))
        keys = ["setup_id", "setup_version", "setup_hash", "overrides", "symbol"]
        rows = []
        for key, g in latest.groupby(keys, dropna=False, sort=True):
            r = tr.loc[tr["run_id"].isin(g["run_id"]), "r"].astype(float) if len(tr) else pd.Series(dtype=float)
            wins, losses = r[r > 0].sum(), -r[r < 0].sum()
            rows.append({**dict(zip(keys, key)), "runs": len(g), "start": g["start"].min(), "end": g["end"].max(),
                         "Trades": len(r), "Win Rate [%]": 100.0 * (r > 0).mean() if len(r) else math.nan,
                         "Total R": float(r.sum()), "Expectancy [R]": float(r.mean()) if len(r) else math.nan,
                         "Profit Factor": (wins / losses if losses else (math.inf if wins else math.nan))})
        return pd.DataFrame(rows)
