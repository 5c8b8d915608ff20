"""The current status of every promoted setup version, read with the standard library's ``sqlite3`` alone — so
``ita setups list`` (and the chat's "list setups") show the statuses without loading pandas or sqlite-utils.

The statuses are written by :class:`ita.store.promotions.PromotionStore` (table ``setup_promotions``, one row per
request); a version's status is the one its latest *accepted* request left, and it holds only while the file
still has the hash it was promoted with (:func:`status_of`).

Example::

    >>> from ita.promotion.status import promoted_versions, status_of
    >>> rows = promoted_versions()                                   # doctest: +SKIP
    >>> status_of(rows, "fvg_reversal", 2, "9f…")                    # doctest: +SKIP
    ('candidate', None)
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

TABLE = "setup_promotions"

#: ``(setup_id, version, setup_hash, status)`` of each version's latest accepted request
LATEST_ACCEPTED = (f"select p.setup_id, p.version, p.setup_hash, p.status from {TABLE} p join (select setup_id, "
                   f"version, max(id) as id from {TABLE} where accepted = 1 group by setup_id, version) l "
                   "on p.id = l.id order by p.setup_id, p.version")


def promoted_versions(db_path: str | Path | None = None) -> dict[tuple[str, int], tuple[str, str]]:
    """``{(setup_id, version): (status, setup_hash)}`` of every version ever promoted (its latest accepted
    request), read-only from ``db_path`` (default ``ITA_DB``); ``{}`` when there is no database or no table yet."""
    if db_path is None:
        from ita.config import settings

        db_path = settings().db_path
    path = Path(db_path)
    if not path.exists():
        return {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(LATEST_ACCEPTED).fetchall()
    except sqlite3.OperationalError:  # no promotion was ever requested: no table
        return {}
    finally:
        con.close()
    return {(sid, int(v)): (status, h) for sid, v, h, status in rows}


def status_of(rows: dict[tuple[str, int], tuple[str, str]], setup_id: str, version: int,
              setup_hash: str) -> tuple[str, str | None]:
    """``(status, note)`` of a version whose file now hashes to ``setup_hash``, given :func:`promoted_versions`:
    ``candidate`` when never promoted, or when the file changed since its promotion (the note says so)."""
    hit = rows.get((setup_id, int(version)))
    if hit is None:
        return "candidate", None
    status, h = hit
    if h != setup_hash:
        return "candidate", (f"v{version} was {status} but its file changed since ({h[:8]} → {setup_hash[:8]}): "
                             "a candidate again")
    return status, None


def with_status(status: str, db_path: str | Path | None = None) -> list[tuple[str, int, str]]:
    """``(setup_id, version, setup_hash)`` of every version whose latest accepted request left it ``status``
    (the caller checks the hash against the file)."""
    return [(sid, v, h) for (sid, v), (st, h) in promoted_versions(db_path).items() if st == status]
