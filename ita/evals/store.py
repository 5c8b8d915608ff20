"""Stored evaluation runs: every suite's scores with the date, the git commit and the ITA version, so a run can
be compared with the previous one and the history charted.

Two SQLite tables in the ITA database (``settings().db_path`` unless ``db_path`` is given):

* ``eval_runs`` — one row per (run, mode, metric): ``run_id``, ``created_at`` (UTC ISO), ``suite``, ``mode``,
  ``metric``, ``value`` (REAL, NULL for "not measured"), ``details`` (JSON) — shared with ``ita eval kb``'s
  own storage (:mod:`ita.evals.kb.storage`);
* ``eval_run_info`` — one row per run: ``run_id``, ``created_at``, ``suite``, ``commit`` (``git describe
  --always --dirty`` of the repository, or NULL outside a checkout), ``version`` (``ita.__version__``),
  ``quick`` (0/1: a ``--quick`` run is compared only with quick runs), ``seconds``, ``failures`` (JSON list of
  the run's failures, at most :data:`MAX_FAILURES`).

A run is written in one transaction (nothing half-written is visible). :func:`compare` gives each metric's
previous value, the delta and whether it is a regression (worse by more than ``tol``; lower is better for
the metrics in :data:`LOWER_IS_BETTER`).

Example::

    >>> from ita.evals.store import SuiteRun, store_run, history
    >>> run = SuiteRun.new("agent", {"parser:heldout": {"tool_accuracy": 0.96}})   # doctest: +SKIP
    >>> store_run(run); history("agent").tail(1)                                    # doctest: +SKIP
"""
from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ita.config import settings

RUNS = "eval_runs"
INFO = "eval_run_info"
MAX_FAILURES = 500
# metrics where lower is better (the rest: higher is better; counts and timings are neutral)
LOWER_IS_BETTER = {"silent_wrong_tool_rate", "mismatched_trades", "unmatched_trades", "stat_mismatches", "query_ms", "false_positives"}
NEUTRAL_PREFIXES = ("n_", "n", "ool_n", "seconds", "ool_top1_score", "in_top1_score", "ool_cutoff", "trades",
                    "labels", "detections")


def eval_db(db_path: str | Path | None = None):
    """The ITA database with the two evaluation tables (created when missing)."""
    import sqlite_utils

    path = Path(db_path) if db_path else settings().db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    if RUNS not in db.table_names():
        db[RUNS].create({"run_id": str, "created_at": str, "suite": str, "mode": str, "metric": str,
                         "value": float, "details": str}, pk=("run_id", "mode", "metric"))
        db[RUNS].create_index(["suite", "created_at"], if_not_exists=True)
    if INFO not in db.table_names():
        db[INFO].create({"run_id": str, "created_at": str, "suite": str, "commit": str, "version": str,
                         "quick": int, "seconds": float, "failures": str}, pk="run_id")
        db[INFO].create_index(["suite", "created_at"], if_not_exists=True)
    return db


def git_commit(repo: str | Path | None = None) -> str | None:
    """``git describe --always --dirty`` of the repository holding ITA (None outside a git checkout)."""
    repo = Path(repo) if repo else Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=repo, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def ita_version() -> str:
    import ita

    return str(getattr(ita, "__version__", "unknown"))


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def new_run_id(suite: str) -> str:
    return f"eval_{suite}_{dt.datetime.now(dt.timezone.utc):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"


@dataclass
class SuiteRun:
    """One suite's run: ``metrics`` {mode: {metric: value}}, ``failures`` (dicts with at least ``mode``,
    ``item``, ``expected``, ``got``), ``details`` {mode: JSON-able}, ``quick``, ``seconds``; ``commit`` and
    ``version`` filled by :meth:`new`."""

    suite: str
    run_id: str
    created_at: str
    metrics: dict[str, dict[str, float]]
    failures: list[dict] = field(default_factory=list)
    details: dict[str, dict] = field(default_factory=dict)
    quick: bool = False
    seconds: float = 0.0
    commit: str | None = None
    version: str | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, suite: str, metrics: dict[str, dict[str, float]], **kw) -> "SuiteRun":
        return cls(suite=suite, run_id=kw.pop("run_id", None) or new_run_id(suite),
                   created_at=kw.pop("created_at", None) or now_utc(), metrics=metrics,
                   commit=kw.pop("commit", None) or git_commit(), version=kw.pop("version", None) or ita_version(),
                   **kw)


def _clean(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def store_info(run: SuiteRun, db_path: str | Path | None = None, db=None) -> None:
    """Write the run's ``eval_run_info`` row (for runs whose metric rows another module stored)."""
    db = db or eval_db(db_path)
    db[INFO].insert({"run_id": run.run_id, "created_at": run.created_at, "suite": run.suite, "commit": run.commit,
                     "version": run.version, "quick": int(bool(run.quick)), "seconds": round(run.seconds, 3),
                     "failures": json.dumps(run.failures[:MAX_FAILURES], ensure_ascii=False, default=str)},
                    replace=True)


def store_run(run: SuiteRun, db_path: str | Path | None = None) -> str:
    """Write a run (metric rows + info row) in one transaction; returns its ``run_id``."""
    rows = [{"run_id": run.run_id, "created_at": run.created_at, "suite": run.suite, "mode": mode, "metric": metric,
             "value": _clean(value), "details": json.dumps(run.details.get(mode, {}), ensure_ascii=False, default=str)
             if i == 0 else "{}"}
            for mode, values in run.metrics.items() for i, (metric, value) in enumerate(values.items())]
    db = eval_db(db_path)
    with db.conn:
        db[RUNS].insert_all(rows, replace=True)
        store_info(run, db=db)
    return run.run_id


def history(suite: str | None = None, db_path: str | Path | None = None) -> pd.DataFrame:
    """Every stored metric value, oldest first: ``run_id``, ``created_at``, ``suite``, ``mode``, ``metric``,
    ``value``, ``commit``, ``version``, ``quick`` (runs stored without an info row have NULL there)."""
    db = eval_db(db_path)
    sql = (f"select r.run_id, r.created_at, r.suite, r.mode, r.metric, r.value, i.[commit] as [commit], i.version, "
           f"coalesce(i.quick, 0) as quick from {RUNS} r left join {INFO} i on i.run_id = r.run_id"
           + (" where r.suite = ?" if suite else "") + " order by r.created_at, r.run_id")
    rows = list(db.query(sql, [suite] if suite else []))
    return pd.DataFrame(rows, columns=["run_id", "created_at", "suite", "mode", "metric", "value", "commit", "version",
                                       "quick"])


def runs(suite: str | None = None, db_path: str | Path | None = None) -> pd.DataFrame:
    """One row per stored run with its info (``failures`` parsed), oldest first."""
    db = eval_db(db_path)
    sql = f"select * from {INFO}" + (" where suite = ?" if suite else "") + " order by created_at, run_id"
    df = pd.DataFrame(list(db.query(sql, [suite] if suite else [])),
                      columns=["run_id", "created_at", "suite", "commit", "version", "quick", "seconds", "failures"])
    df["failures"] = df["failures"].map(lambda s: json.loads(s) if s else [])
    return df


def previous_metrics(run: SuiteRun, db_path: str | Path | None = None) -> tuple[str | None, dict[str, dict[str, float]]]:
    """``(run_id, {mode: {metric: value}})`` of the latest stored run of the same suite and kind (quick or
    full) before ``run``; ``(None, {})`` when there is none. Runs stored without an info row count as full."""
    h = history(run.suite, db_path)
    h = h[(h["run_id"] != run.run_id) & (h["created_at"] <= run.created_at) & (h["quick"].astype(int) == int(run.quick))]
    h = h[h["mode"].isin(list(run.metrics))]
    if h.empty:
        return None, {}
    last = h.sort_values(["created_at", "run_id"]).iloc[-1]["run_id"]
    prev = h[h["run_id"] == last]
    out: dict[str, dict[str, float]] = {}
    for _, r in prev.iterrows():
        out.setdefault(r["mode"], {})[r["metric"]] = r["value"]
    return str(last), out


def direction(metric: str) -> int:
    """+1 higher is better, -1 lower is better, 0 neutral (counts, timings of the set, cut-offs)."""
    base = metric.split("[")[0]
    if base in LOWER_IS_BETTER or base.endswith("_rate") and "wrong" in base:
        return -1
    if base in NEUTRAL_PREFIXES or base.startswith(("n_", "ool_n", "seconds")):
        return 0
    return 1


def compare(run: SuiteRun, previous: dict[str, dict[str, float]], tol: float = 1e-9) -> pd.DataFrame:
    """One row per (mode, metric): ``value``, ``previous``, ``delta``, ``regression`` (worse than before by more
    than ``tol``), ``improved``."""
    rows = []
    for mode, values in run.metrics.items():
        for metric, value in values.items():
            v, p = _clean(value), _clean(previous.get(mode, {}).get(metric))
            d = None if v is None or p is None else v - p
            sign = direction(metric)
            rows.append({"mode": mode, "metric": metric, "value": v, "previous": p, "delta": d,
                         "regression": bool(d is not None and sign != 0 and sign * d < -tol),
                         "improved": bool(d is not None and sign != 0 and sign * d > tol)})
    return pd.DataFrame(rows, columns=["mode", "metric", "value", "previous", "delta", "regression", "improved"])
