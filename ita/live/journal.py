"""The live journal: every live signal, its deliveries (the outbox), the trader's feedback — in SQLite.

One file with the backtest runs (``ITA_DB``, default ``~/.ita/ita.db``), written through sqlite-utils.

Tables
------
``live_signals``     pk (``run``, ``signal_id``). ``run`` is ``"live"`` for the real service and the replay's
                     run id (``replay_…``) for a replay, so a replay never touches the live journal. The
                     signal's identity ``signal_id`` = setup, version, symbol, timeframe, signal bar time
                     (:func:`ita.setups.evaluate`). Columns: the signal's fields (prices in price units,
                     times UTC ISO-8601), ``meta`` (JSON), ``score`` (p(success) 0–1), ``score_basis`` (one
                     sentence), ``decision`` (``alert`` | ``below_threshold`` | ``cooldown`` | ``expired`` |
                     ``paper`` (a paper version: never alerted) | ``governor`` (over a risk limit, not alerted)),
                     ``reason``, ``close_wall`` (epoch s of the candle close on the wall clock — for a replay,
                     when the simulated clock passed it), ``detected_wall``, ``chart``, ``comment``,
                     ``comment_source`` (``template`` | ``llm``), ``key`` (10 hex, for Telegram buttons).
``live_deliveries``  pk (``run``, ``signal_id``, ``channel``): one row per signal and channel (``outbox``,
                     ``telegram:<chat id>``, ``notion``): ``status`` (``pending`` → ``sending`` → ``sent`` |
                     ``failed``), ``attempts``, ``next_at`` (epoch s), ``lease_until``, ``owner`` (host:pid
                     of the process sending it), ``last_error``, ``sent_wall``, ``latency_s`` (candle close →
                     accepted, seconds), ``remote_id``, ``uncertain`` (1 when an earlier attempt may have
                     reached the service: a timeout, or the process stopped mid-send).
``live_feedback``    one row per button press: ``run``, ``signal_id``, ``channel``, ``chat_id``, ``user_id``,
                     ``user``, ``action`` (``taken`` | ``skipped`` | ``up`` | ``down``), ``at`` (UTC ISO).
``live_cursor``      pk (``run``, ``symbol``, ``timeframe``): ``last_close`` — the close (UTC ISO) of the last
                     bar evaluated; signals known after it are new.

Never twice: a signal row is inserted (``INSERT OR IGNORE`` on its identity) together with its pending
deliveries in one transaction *before* anything is sent; only the run that inserted it sends it. A delivery
is claimed (``pending`` → ``sending``, with a lease) in one UPDATE, so two processes never send the same
row. Never lost: a failed send goes back to ``pending`` with a later ``next_at`` (or ``failed`` for errors
a retry cannot fix, which ``ita live outbox --retry`` re-queues); a ``sending`` row whose process died
(:meth:`Journal.recover` at start-up, or its lease expired) is sent again, marked ``uncertain``.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import pandas as pd
import sqlite_utils

from ita.config import settings
from ita.secrets import redact
from ita.store import json_scalar

LIVE = "live"
ACTIONS = ("taken", "skipped", "up", "down")
LEASE_S = 120.0


def owner() -> str:
    """``host:pid`` of this process (recorded on the deliveries it claims)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Whether the process ``host:pid`` still runs (True when it is on another host: we cannot tell)."""
    host, _, pid = str(owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (EPERM)
        return True
    return True

_SIGNAL_COLS = {
    "run": str, "signal_id": str, "key": str, "setup_id": str, "version": int, "setup_hash": str, "symbol": str,
    "timeframe": str, "direction": str, "entry_type": str, "entry_price": float, "sl_price": float,
    "tp_price": float, "rr": float, "risk_pips": float, "day": str, "time": str, "known_at": str,
    "expires_at": str, "exit_by": str, "meta": str, "score": float, "score_basis": str, "decision": str,
    "reason": str, "close_wall": float, "detected_wall": float, "chart": str, "comment": str,
    "comment_source": str, "created_at": str,
}
_DELIVERY_COLS = {
    "run": str, "signal_id": str, "channel": str, "status": str, "attempts": int, "next_at": float,
    "lease_until": float, "last_error": str, "sent_wall": float, "latency_s": float, "remote_id": str,
    "uncertain": int, "owner": str,
}


def signal_key(signal_id: str) -> str:
    """10 hex characters identifying a signal in Telegram button data (64-byte limit)."""
    return hashlib.sha256(signal_id.encode()).hexdigest()[:10]


def _iso(v) -> str | None:
    v = json_scalar(v)
    return v if v is None or isinstance(v, str) else str(v)


class Journal:
    """The live journal in SQLite (``path`` default ``ITA_DB``). Safe to use from several threads and
    processes: each call opens its own connection with a 30 s busy timeout (the default rollback journal,
    not WAL, so the file may live on a shared drive)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db["live_signals"].create(_SIGNAL_COLS, pk=("run", "signal_id"), if_not_exists=True)
            db["live_deliveries"].create(_DELIVERY_COLS, pk=("run", "signal_id", "channel"), if_not_exists=True)
            db["live_feedback"].create({"id": int, "run": str, "signal_id": str, "channel": str, "chat_id": str,
                                        "user_id": str, "user": str, "action": str, "at": str}, pk="id",
                                       if_not_exists=True)
            db["live_cursor"].create({"run": str, "symbol": str, "timeframe": str, "last_close": str,
                                      "updated_at": str}, pk=("run", "symbol", "timeframe"), if_not_exists=True)
            db["live_signals"].create_index(["key"], if_not_exists=True)
            db["live_deliveries"].create_index(["status", "next_at"], if_not_exists=True)

    class _Conn:
        def __init__(self, path: Path):
            self.conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.db = sqlite_utils.Database(self.conn)

        def __enter__(self) -> sqlite_utils.Database:
            return self.db

        def __exit__(self, *exc) -> None:
            self.conn.close()

    def _db(self) -> "Journal._Conn":
        return Journal._Conn(self.path)

    # ---- signals ----------------------------------------------------------------------------------------
    def record(self, run: str, signal: dict, *, score: float, score_basis: str, decision: str, reason: str,
               close_wall: float, channels: list[str]) -> bool:
        """Insert a new signal with its decision and, for an alert, one pending delivery per channel — in one
        transaction. Returns False (and changes nothing) when the signal is already journaled for ``run``."""
        meta = signal.get("meta")
        row = {
            "run": run, "signal_id": signal["signal_id"], "key": signal_key(signal["signal_id"]),
            "setup_id": signal["rule_id"], "version": int(signal["rule_version"]),
            "setup_hash": signal.get("setup_hash"), "symbol": signal["symbol"], "timeframe": signal["tf"],
            "direction": signal["direction"], "entry_type": signal["entry_type"],
            "entry_price": float(signal["entry_price"]), "sl_price": float(signal["sl_price"]),
            "tp_price": float(signal["tp_price"]),
            "rr": json_scalar((meta or {}).get("rr")) if isinstance(meta, dict) else None,
            "risk_pips": json_scalar((meta or {}).get("risk_pips")) if isinstance(meta, dict) else None,
            "day": str(pd.Timestamp(signal["day"]).date()), "time": _iso(signal["time"]),
            "known_at": _iso(signal["known_at"]), "expires_at": _iso(signal.get("expires_at")),
            "exit_by": _iso(signal.get("exit_by")), "meta": json.dumps(meta, default=str),
            "score": float(score), "score_basis": score_basis, "decision": decision, "reason": reason,
            "close_wall": float(close_wall), "detected_wall": time.time(), "chart": None, "comment": None,
            "comment_source": None, "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        }
        with self._db() as db:
            conn = db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                cols = ", ".join(f"[{c}]" for c in row)
                cur = conn.execute(f"INSERT OR IGNORE INTO live_signals ({cols}) VALUES ({', '.join('?' * len(row))})",
                                   list(row.values()))
                new = cur.rowcount == 1
                if new and decision == "alert":
                    conn.executemany(
                        "INSERT OR IGNORE INTO live_deliveries (run, signal_id, channel, status, attempts, next_at, "
                        "uncertain) VALUES (?, ?, ?, 'pending', 0, 0, 0)",
                        [(run, row["signal_id"], ch) for ch in channels])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return new

    def annotate(self, run: str, signal_id: str, **fields) -> None:
        """Set ``chart``, ``comment``, ``comment_source`` (or other columns) of a journaled signal."""
        with self._db() as db:
            db["live_signals"].update((run, signal_id), fields)

    def signal(self, run: str, signal_id: str) -> dict | None:
        """One journaled signal as a dict (``meta`` decoded), or None."""
        with self._db() as db:
            rows = list(db.query("select * from live_signals where run = ? and signal_id = ?", [run, signal_id]))
        if not rows:
            return None
        out = dict(rows[0])
        out["meta"] = json.loads(out["meta"]) if out.get("meta") else {}
        return out

    def by_key(self, key: str) -> dict | None:
        """The signal whose Telegram button key is ``key`` (the newest run if several), or None."""
        with self._db() as db:
            rows = list(db.query("select run, signal_id from live_signals where key = ? order by created_at desc "
                                 "limit 1", [key]))
        return self.signal(rows[0]["run"], rows[0]["signal_id"]) if rows else None

    def signals(self, run: str = LIVE, limit: int | None = None) -> pd.DataFrame:
        """Journaled signals of ``run``, newest first, with a ``delivered`` summary per signal."""
        lim = f" limit {int(limit)}" if limit else ""
        with self._db() as db:
            rows = list(db.query(
                "select s.*, (select group_concat(d.channel || ':' || d.status, ' ') from live_deliveries d "
                "where d.run = s.run and d.signal_id = s.signal_id) as delivered from live_signals s "
                f"where s.run = ? order by s.known_at desc, s.signal_id{lim}", [run]))
        return pd.DataFrame(rows)

    def last_alert(self, run: str, symbol: str, setup_id: str | None = None) -> pd.Timestamp | None:
        """``known_at`` of the latest alert on ``symbol`` (of ``setup_id`` when given), for the cool-downs."""
        q = "select max(known_at) as t from live_signals where run = ? and symbol = ? and decision = 'alert'"
        args = [run, symbol]
        if setup_id:
            q += " and setup_id = ?"
            args.append(setup_id)
        with self._db() as db:
            t = next(db.query(q, args))["t"]
        return pd.Timestamp(t) if t else None

    def alerts_between(self, run: str, since: pd.Timestamp, until: pd.Timestamp) -> list[dict]:
        """Signals of ``run`` decided ``alert`` whose ``known_at`` is in [``since``, ``until``] (UTC), oldest
        first — what the live governor counts."""
        with self._db() as db:
            rows = list(db.query("select * from live_signals where run = ? and decision = 'alert' and known_at >= ? "
                                 "and known_at <= ? order by known_at, signal_id",
                                 [run, pd.Timestamp(since).isoformat(), pd.Timestamp(until).isoformat()]))
        return [dict(r) for r in rows]

    # ---- cursor -----------------------------------------------------------------------------------------
    def cursor(self, run: str, symbol: str, timeframe: str) -> pd.Timestamp | None:
        """Close time (UTC) of the last bar evaluated for ``symbol``/``timeframe`` in ``run``, or None."""
        with self._db() as db:
            rows = list(db.query("select last_close from live_cursor where run = ? and symbol = ? and timeframe = ?",
                                 [run, symbol, timeframe]))
        return pd.Timestamp(rows[0]["last_close"]) if rows else None

    def set_cursor(self, run: str, symbol: str, timeframe: str, last_close: pd.Timestamp) -> None:
        with self._db() as db:
            db["live_cursor"].upsert({"run": run, "symbol": symbol, "timeframe": timeframe,
                                      "last_close": pd.Timestamp(last_close).isoformat(),
                                      "updated_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")},
                                     pk=("run", "symbol", "timeframe"))

    # ---- deliveries (the outbox) ------------------------------------------------------------------------
    def due(self, run: str | None = None, now: float | None = None) -> list[dict]:
        """Deliveries to attempt now: ``pending`` with ``next_at`` passed, and ``sending`` whose lease expired
        (the process stopped mid-send). Oldest signal first."""
        now = time.time() if now is None else now
        q = ("select * from live_deliveries where ((status = 'pending' and next_at <= ?) or "
             "(status = 'sending' and lease_until < ?))")
        args: list = [now, now]
        if run is not None:
            q += " and run = ?"
            args.append(run)
        with self._db() as db:
            return [dict(r) for r in db.query(q + " order by signal_id, channel", args)]

    def claim(self, run: str, signal_id: str, channel: str, now: float | None = None) -> dict | None:
        """Take a due delivery for sending (one UPDATE, so only one process wins). Returns the row as claimed
        (``uncertain`` = 1 when a previous attempt may have reached the service), or None."""
        now = time.time() if now is None else now
        with self._db() as db:
            conn = db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "UPDATE live_deliveries SET uncertain = CASE WHEN status = 'sending' THEN 1 ELSE uncertain END, "
                    "status = 'sending', attempts = attempts + 1, lease_until = ?, owner = ? WHERE run = ? AND "
                    "signal_id = ? AND channel = ? AND ((status = 'pending' AND next_at <= ?) OR (status = 'sending' "
                    "AND lease_until < ?))", [now + LEASE_S, owner(), run, signal_id, channel, now, now])
                row = None
                if cur.rowcount == 1:
                    c = conn.execute("SELECT * FROM live_deliveries WHERE run = ? AND signal_id = ? AND channel = ?",
                                     [run, signal_id, channel])
                    names = [d[0] for d in c.description]
                    row = dict(zip(names, c.fetchone()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return row

    def recover(self, run: str | None = None) -> int:
        """Deliveries left ``sending`` by a process of this host that is gone (killed mid-send) go back to
        ``pending``, marked ``uncertain`` (the service may have received them). Returns how many."""
        q, args = "select run, signal_id, channel, owner from live_deliveries where status = 'sending'", []
        if run is not None:
            q += " and run = ?"
            args.append(run)
        with self._db() as db:
            dead = [r for r in db.query(q, args) if not _alive(r["owner"])]
            for r in dead:
                db.conn.execute("UPDATE live_deliveries SET status = 'pending', next_at = 0, uncertain = 1, "
                                "lease_until = NULL WHERE run = ? AND signal_id = ? AND channel = ? AND "
                                "status = 'sending' AND owner = ?", [r["run"], r["signal_id"], r["channel"], r["owner"]])
        return len(dead)

    def delivered(self, run: str, signal_id: str, channel: str, *, sent_wall: float, latency_s: float,
                  remote_id: str | None = None) -> None:
        with self._db() as db:
            db["live_deliveries"].update((run, signal_id, channel), {
                "status": "sent", "sent_wall": sent_wall, "latency_s": latency_s, "remote_id": remote_id,
                "last_error": None, "lease_until": None})

    def failed(self, run: str, signal_id: str, channel: str, error: str, *, retry_at: float | None,
               uncertain: bool = False) -> None:
        """Record a failed attempt: back to ``pending`` until ``retry_at``, or ``failed`` (no automatic retry)
        when ``retry_at`` is None. ``uncertain``: the attempt may have reached the service (a timeout)."""
        fields = {"status": "pending" if retry_at is not None else "failed", "next_at": retry_at or 0.0,
                  "last_error": redact(error)[:500], "lease_until": None}
        if uncertain:
            fields["uncertain"] = 1
        with self._db() as db:
            db["live_deliveries"].update((run, signal_id, channel), fields)

    def remote_id(self, run: str, signal_id: str, channel: str) -> str | None:
        """The service's id of a sent delivery (Telegram message id, Notion page id), or None."""
        with self._db() as db:
            rows = list(db.query("select remote_id from live_deliveries where run = ? and signal_id = ? and "
                                 "channel = ? and status = 'sent'", [run, signal_id, channel]))
        return rows[0]["remote_id"] if rows else None

    def outstanding(self, run: str | None = None) -> int:
        """How many deliveries are not yet sent and will be retried (``pending`` or ``sending``)."""
        q, args = "select count(*) as n from live_deliveries where status in ('pending', 'sending')", []
        if run is not None:
            q += " and run = ?"
            args.append(run)
        with self._db() as db:
            return int(next(db.query(q, args))["n"])

    def requeue(self, run: str | None = None) -> int:
        """Put ``failed`` deliveries back to ``pending`` (after the trader fixed a token, say). Returns how many."""
        with self._db() as db:
            q, args = "UPDATE live_deliveries SET status = 'pending', next_at = 0 WHERE status = 'failed'", []
            if run is not None:
                q += " AND run = ?"
                args.append(run)
            return db.conn.execute(q, args).rowcount

    def deliveries(self, run: str | None = None, undelivered: bool = False) -> pd.DataFrame:
        """Delivery rows (``run`` None = all runs), oldest first; ``undelivered`` keeps the outbox only."""
        where, args = [], []
        if run is not None:
            where.append("run = ?")
            args.append(run)
        if undelivered:
            where.append("status != 'sent'")
        cond = f" where {' and '.join(where)}" if where else ""
        with self._db() as db:
            return pd.DataFrame(list(db.query(f"select * from live_deliveries{cond} order by signal_id, channel", args)))

    # ---- feedback ---------------------------------------------------------------------------------------
    def feedback(self, run: str, signal_id: str, *, action: str, channel: str, chat_id, user_id, user: str) -> None:
        """Record one button press (``action`` in :data:`ACTIONS`)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown feedback action {action!r}; one of {', '.join(ACTIONS)}")
        with self._db() as db:
            db["live_feedback"].insert({"run": run, "signal_id": signal_id, "channel": channel,
                                        "chat_id": str(chat_id), "user_id": str(user_id), "user": user,
                                        "action": action,
                                        "at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")})

    def feedback_of(self, run: str, signal_id: str) -> dict:
        """The latest choice per pair: ``{"taken": "taken"|"skipped"|None, "vote": "up"|"down"|None}``."""
        with self._db() as db:
            rows = list(db.query("select action from live_feedback where run = ? and signal_id = ? order by id",
                                 [run, signal_id]))
        out: dict = {"taken": None, "vote": None}
        for r in rows:
            out["taken" if r["action"] in ("taken", "skipped") else "vote"] = r["action"]
        return out

    # ---- latency ----------------------------------------------------------------------------------------
    def latency(self, run: str = LIVE) -> pd.DataFrame:
        """Candle close → accepted, seconds, per channel kind (``telegram``, ``notion``, ``outbox``): ``n``,
        ``p50``, ``p95``, ``max``. Empty when nothing was delivered."""
        with self._db() as db:
            rows = list(db.query("select channel, latency_s from live_deliveries where run = ? and status = 'sent' "
                                 "and latency_s is not null", [run]))
        df = pd.DataFrame(rows, columns=["channel", "latency_s"])
        if df.empty:
            return pd.DataFrame(columns=["channel", "n", "p50", "p95", "max"])
        df["channel"] = df["channel"].str.split(":").str[0]
        g = df.groupby("channel")["latency_s"]
        return pd.DataFrame({"n": g.size(), "p50": g.quantile(0.5), "p95": g.quantile(0.95), "max": g.max()}
                            ).reset_index()

    def runs(self) -> pd.DataFrame:
        """Every run in the journal (``live`` and replays): signals, alerts, first/last signal time."""
        with self._db() as db:
            return pd.DataFrame(list(db.query(
                "select run, count(*) as signals, sum(decision = 'alert') as alerts, min(known_at) as first, "
                "max(known_at) as last, max(created_at) as updated from live_signals group by run "
                "order by updated desc")))
