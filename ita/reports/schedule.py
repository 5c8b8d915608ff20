"""The weekly and monthly reports on schedule, each exactly once — also across restarts and processes.

``ita live start`` adds :func:`report_jobs` to its scheduler: Sunday 17:00 New York (the week that ends) and
the 1st of the month 00:05 New York (the month that ended), plus one catch-up run shortly after start for a
report that fell due while ITA was not running (sent only when that period has live signals). Every run calls :func:`send_due`, which claims the period in
the ``reports_log`` table of the ITA database (``INSERT OR IGNORE`` on (kind, period)) before producing
anything, so a second process, a restart or the catch-up never sends a report twice; a report whose sending
failed is released and tried again at the next run.

Where it goes: always a CSV (``$ITA_HOME/reports/``); the Telegram chats when the live service has Telegram; a
Notion page when ``ITA_NOTION_REPORTS_PAGE`` is set.
"""
from __future__ import annotations

import logging
import os
import socket
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlite_utils

from ita.config import settings
from ita.reports.period import KINDS, build, due_key, to_notion, to_telegram, write_csv
from ita.times import NY

log = logging.getLogger("ita.reports")


class ReportLog:
    """``reports_log`` (pk kind, period): ``status`` sending | sent, ``owner`` (host:pid), ``at`` (UTC),
    ``channels``, ``csv``."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db["reports_log"].create({"kind": str, "period": str, "status": str, "owner": str, "at": str,
                                      "channels": str, "csv": str}, pk=("kind", "period"), if_not_exists=True)

    @contextmanager
    def _db(self):
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
        try:
            yield sqlite_utils.Database(conn)
        finally:
            conn.close()

    def claim(self, kind: str, period: str) -> bool:
        """Take the period for sending; False when it was sent or is being sent already."""
        with self._db() as db:
            cur = db.conn.execute("INSERT OR IGNORE INTO reports_log (kind, period, status, owner, at) VALUES "
                                  "(?, ?, 'sending', ?, ?)", [kind, period, f"{socket.gethostname()}:{os.getpid()}",
                                                              pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")])
            return cur.rowcount == 1

    def has(self, kind: str, period: str) -> bool:
        """Whether the period was sent or is being sent."""
        with self._db() as db:
            return bool(list(db.query("select 1 from reports_log where kind = ? and period = ?", [kind, period])))

    def done(self, kind: str, period: str, channels: list[str], csv_path: str) -> None:
        with self._db() as db:
            db["reports_log"].update((kind, period), {"status": "sent", "channels": ",".join(channels),
                                                      "csv": csv_path})

    def release(self, kind: str, period: str) -> None:
        with self._db() as db:
            db.conn.execute("DELETE FROM reports_log WHERE kind = ? AND period = ? AND status = 'sending'", [kind, period])

    def entries(self) -> list[dict]:
        with self._db() as db:
            return [dict(r) for r in db.query("select * from reports_log order by at")]


def send_due(kind: str, telegram=None, now: pd.Timestamp | None = None, log_path: Path | None = None,
             only_if_signals: bool = False) -> str | None:
    """Produce the report of ``kind`` due at ``now`` unless it was produced already; returns its period key,
    or None when there was nothing to do. ``telegram``: :class:`ita.live.config.TelegramSettings` to send to.
    ``only_if_signals``: skip (without recording) a period without live signals — the catch-up at start, so a
    fresh install does not announce an empty week."""
    key = due_key(kind, now)
    book = ReportLog(log_path)
    if book.has(kind, key):
        return None
    report = build(kind, key)
    if only_if_signals and not report.result.data.get("rows"):
        return None
    if not book.claim(kind, key):
        return None
    try:
        path = write_csv(report)
        channels = ["csv"]
        if telegram is not None:
            to_telegram(report, telegram)
            channels.append("telegram")
        if os.environ.get("ITA_NOTION_REPORTS_PAGE") and os.environ.get("ITA_NOTION_TOKEN"):
            from ita.reports.notion import NotionPages

            to_notion(report, NotionPages.from_env())
            channels.append("notion")
    except BaseException:
        book.release(kind, key)
        raise
    book.done(kind, key, channels, str(path))
    log.info("%s report %s sent to %s", kind, key, ", ".join(channels))
    return key


def report_jobs(channels: dict) -> list[tuple]:
    """``(function, trigger, id)`` jobs for :attr:`ita.live.service.LiveService.jobs`: the weekly and monthly
    reports on schedule and one catch-up shortly after start."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger

    tg = channels.get("telegram")
    settings_ = getattr(tg, "settings", None)

    def run(kind: str, only_if_signals: bool = False) -> None:
        try:
            send_due(kind, settings_, only_if_signals=only_if_signals)
        except Exception:  # noqa: BLE001 - a report must never stop the live loop; the next run retries
            log.exception("the %s report failed (it is tried again at the next run)", kind)

    def catch_up() -> None:  # a report that fell due while ITA was stopped (an empty period is not announced)
        for kind in KINDS:
            run(kind, only_if_signals=True)

    soon = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=30)
    return [(lambda: run("weekly"), CronTrigger(day_of_week="sun", hour=17, minute=0, timezone=NY), "report:weekly"),
            (lambda: run("monthly"), CronTrigger(day=1, hour=0, minute=5, timezone=NY), "report:monthly"),
            (catch_up, DateTrigger(run_date=soon.to_pydatetime()), "report:catch-up")]
