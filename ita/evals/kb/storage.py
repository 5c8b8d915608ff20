"""Stored runs of ``ita eval kb``.

:func:`store_kb_eval` writes one row per (run, mode, metric) to the SQLite table ``eval_runs`` (``run_id``,
``created_at`` UTC ISO, ``suite`` = ``"kb"``, ``mode``, ``metric``, ``value``, ``details`` JSON with ``k``, the
evaluation-set fingerprint and the per-question values), and :func:`previous_kb_run` finds the run to
compare with (the latest earlier run with the same ``k``). The database is ``settings().db_path`` unless a
``db_path`` is given.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from ita.config import settings
from ita.evals.store import eval_db

SUITE = "kb"
TABLE = "eval_runs"


_PER_QUESTION = {"mrr": "rr", "context_precision": "context_precision", "context_recall": "context_recall",
                 "context_precision_lev": "context_precision_lev", "context_recall_lev": "context_recall_lev",
                 "id_context_precision": "id_context_precision", "id_context_recall": "id_context_recall"}


def _db(db_path):
    return eval_db(db_path)


def _clean(v) -> float | None:
    return None if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))) else float(v)


def store_kb_eval(df: pd.DataFrame, db_path: str | Path | None = None) -> str:
    """Write a :func:`run_kb_eval` result to ``eval_runs`` (one transaction); returns its ``run_id``."""
    a = df.attrs
    pq = a.get("questions")
    rows = []
    for mode, values in df.iterrows():
        mq = pq[(pq["mode"] == mode) & pq["in_library"]] if pq is not None else None
        for metric, value in values.items():
            details = {"k": a.get("k"), "fingerprint": a.get("fingerprint"), "embedding": a.get("embedding")}
            col = _PER_QUESTION.get(metric) or (metric.replace("hit_rate@", "hit@") if re.fullmatch(r"hit_rate@\d+", metric) else None)
            if mq is not None and col in mq:
                details["per_question"] = {qid: _clean(float(v)) for qid, v in zip(mq["id"], mq[col])}
            if metric == "n":
                details.update(build_s=round(a.get("build_s") or 0.0, 3), eval_s=round(a.get("eval_s") or 0.0, 3),
                               chunks=a.get("chunks"))
            rows.append({"run_id": a["run_id"], "created_at": a["created_at"], "suite": SUITE, "mode": str(mode),
                         "metric": str(metric), "value": _clean(value), "details": json.dumps(details)})
    db = _db(db_path)
    with db.conn:
        db[TABLE].insert_all(rows, replace=True)
    return a["run_id"]


def load_eval_runs(suite: str = SUITE, db_path: str | Path | None = None) -> pd.DataFrame:
    """Every stored row of ``suite``, oldest first (``details`` parsed)."""
    db = _db(db_path)
    rows = list(db.query(f"select * from {TABLE} where suite = ? order by created_at, run_id", [suite]))
    df = pd.DataFrame(rows, columns=["run_id", "created_at", "suite", "mode", "metric", "value", "details"])
    df["details"] = df["details"].map(lambda s: json.loads(s) if s else {})
    return df


def kb_run(run_id: str, db_path: str | Path | None = None) -> pd.DataFrame:
    """A stored run as a frame like :func:`run_kb_eval`'s (mode × metric; attrs ``run_id``, ``created_at``,
    ``k``, ``fingerprint``, ``per_question`` {metric: {mode: {id: value}}})."""
    rows = load_eval_runs(SUITE, db_path)
    rows = rows[rows["run_id"] == run_id]
    if rows.empty:
        raise KeyError(run_id)
    wide = rows.pivot(index="mode", columns="metric", values="value")
    wide.columns.name = None
    first = rows.iloc[0]
    per_q: dict = {}
    for _, r in rows.iterrows():
        if "per_question" in r["details"]:
            per_q.setdefault(r["metric"], {})[r["mode"]] = r["details"]["per_question"]
    wide.attrs.update(run_id=run_id, created_at=first["created_at"], k=first["details"].get("k"),
                      fingerprint=first["details"].get("fingerprint"), embedding=first["details"].get("embedding"),
                      per_question=per_q)
    return wide


def previous_kb_run(current: pd.DataFrame, db_path: str | Path | None = None) -> pd.DataFrame | None:
    """The latest stored run before ``current`` with the same ``k`` (as :func:`kb_run`), or ``None``."""
    db = _db(db_path)
    rows = list(db.query(
        f"select run_id, created_at from {TABLE} where suite = ? and run_id != ? and created_at <= ? "
        f"and json_extract(details, '$.k') = ? group by run_id order by created_at desc, run_id desc limit 1",
        [SUITE, current.attrs.get("run_id", ""), current.attrs.get("created_at", "9999"), current.attrs.get("k")]))
    return kb_run(rows[0]["run_id"], db_path) if rows else None
