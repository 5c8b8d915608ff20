"""Weekly and monthly reports of the live signals (``ita report weekly|monthly``, and on schedule from
``ita live start``): per setup and symbol — signals, alerts, taken / skipped, trades, wins, win rate, R (all
alerts and the taken ones) — beside the backtest of the same period (:func:`ita.tools.live_performance`,
``by="setup"``). Out as Markdown (the terminal), CSV, a Notion page, a Telegram message.

Periods are New York calendar periods: a week is Monday–Sunday (ISO week ``2025-W10``), a month ``2025-03``.
A week's report is due on its Sunday at 17:00 New York (when the next trading week opens), a month's on the
1st of the next month at 00:05 New York.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ita.errors import ItaError
from ita.times import NY

KINDS = ("weekly", "monthly")


@dataclass
class PeriodReport:
    """One report: ``kind`` (weekly | monthly), ``key`` (``2025-W10`` | ``2025-03``), ``start``/``end``
    (New York dates, inclusive), ``result`` (the :func:`ita.tools.live_performance` result), ``run``."""

    kind: str
    key: str
    start: pd.Timestamp
    end: pd.Timestamp
    result: object
    run: str

    @property
    def title(self) -> str:
        name = "Weekly" if self.kind == "weekly" else "Monthly"
        return f"{name} report {self.key} · {self.start:%a %d %b} → {self.end:%a %d %b %Y} (New York) · {self.run}"

    def markdown(self, lang: str = "en") -> str:
        from ita.agent.answers import render

        note = ("Outcomes are what the backtest's simulator did with each alert on the stored candles; BT = the "
                "backtest of the same setup version in the same period (every trade).")
        return f"**{self.title}**\n\n{render(self.result, lang)}\n\n_{note}_"


def due_key(kind: str, now: pd.Timestamp | None = None) -> str:
    """The latest period of ``kind`` whose report is due at ``now`` (UTC; default the clock)."""
    now = (pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)).tz_convert(NY)
    if kind == "weekly":
        day = (now - pd.Timedelta(days=(now.weekday() + 1) % 7)).date()  # the latest Sunday (today if Sunday)
        sunday = pd.Timestamp(year=day.year, month=day.month, day=day.day, hour=17, tz=NY)  # wall clock, DST-safe
        if now < sunday:
            sunday -= pd.Timedelta(days=7)
        y, w, _ = sunday.isocalendar()
        return f"{y}-W{w:02d}"
    due = pd.Timestamp(year=now.year, month=now.month, day=1, minute=5, tz=NY)  # this month's report of the last
    last_month = due - pd.Timedelta(days=1)
    return f"{last_month:%Y-%m}" if now >= due else f"{last_month.replace(day=1) - pd.Timedelta(days=1):%Y-%m}"


def period_of(kind: str, key: str | None) -> tuple[str, pd.Timestamp, pd.Timestamp]:
    """``(key, first day, last day)`` of a period key (default: the one due now). Raises :class:`ItaError` for a
    key that is not ``YYYY-Www`` (weekly) / ``YYYY-MM`` (monthly)."""
    if kind not in KINDS:
        raise ItaError(f"Unknown report {kind!r}: weekly or monthly.")
    key = (key or due_key(kind)).strip()
    if kind == "weekly":
        m = re.fullmatch(r"(\d{4})-?W(\d{1,2})", key, re.I)
        if not m or not 1 <= int(m.group(2)) <= 53:
            raise ItaError(f"--period {key!r}: a week is YYYY-Www, e.g. 2025-W10.")
        start = pd.Timestamp.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        return f"{m.group(1)}-W{int(m.group(2)):02d}", start, start + pd.Timedelta(days=6)
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", key)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ItaError(f"--period {key!r}: a month is YYYY-MM, e.g. 2025-03.")
    start = pd.Timestamp(year=int(m.group(1)), month=int(m.group(2)), day=1)
    return f"{start:%Y-%m}", start, start + pd.offsets.MonthEnd(0)


def build(kind: str, key: str | None = None, setup_id: str | None = None, run: str | None = None) -> PeriodReport:
    """The report of one period. Raises :class:`ItaError` for a bad period, setup or run."""
    from ita.tools import live_performance

    key, start, end = period_of(kind, key)
    res = live_performance(period="all", by="setup", start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}",
                           setup_id=setup_id, run=run)
    if not res.ok:
        raise ItaError(res.error)
    return PeriodReport(kind, key, start, end, res, res.data["run"])


def write_csv(report: PeriodReport, path: Path | None = None) -> Path:
    """One row per setup and symbol (written to a temporary name, then renamed); default
    ``$ITA_HOME/reports/<kind>_<key>[_<run>].csv``."""
    from ita.config import settings

    if path is None:
        suffix = "" if report.run == "live" else f"_{report.run}"
        path = settings().home / "reports" / f"{report.kind}_{report.key}{suffix}.csv"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["period", "setup_id", "version", "symbol", "signals", "alerts", "taken", "skipped", "trades", "wins",
            "win_rate_pct", "total_r", "taken_r", "open", "not_filled", "backtest_trades", "backtest_win_rate_pct",
            "backtest_total_r"]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in report.result.data.get("rows") or []:
            bt = r.get("backtest") or {}
            w.writerow([report.key, r["setup_id"], r["version"], r["symbol"], r["signals"], r["alerts"], r["taken"],
                        r["skipped"], r["trades"], r["wins"], _round(r["win_rate_pct"]), _round(r["total_r"]),
                        _round(r["taken_r"]), r["open"], r["not_filled"], bt.get("trades"),
                        _round(bt.get("win_rate_pct")), _round(bt.get("total_r"))])
    tmp.replace(path)
    return path


def _round(v):
    return None if v is None else round(float(v), 4)


def to_notion(report: PeriodReport, pages) -> dict:
    """A Notion page (under the reports page) with the summary and the per-setup table."""
    from ita.reports.notion import heading, paragraph, table

    t = report.result.tables["performance"]
    blocks = [paragraph(report.result.summary), heading("Per setup and symbol, beside the backtest of the period")]
    blocks.append(table(t.columns, t.rows) if t.rows else paragraph("No signals in this period."))
    blocks.append(paragraph("Outcomes are what the backtest's simulator did with each alert on the stored candles. "
                            "ITA never places orders."))
    return pages.create(report.title, blocks)


def to_telegram(report: PeriodReport, settings, lang: str = "en") -> int:
    """Send the report to every chat of ``settings`` (:class:`ita.live.config.TelegramSettings`); returns the
    number of messages sent. Raises :class:`ItaError` when Telegram refuses."""
    import asyncio

    from telegram import Bot
    from telegram.constants import ParseMode
    from telegram.error import TelegramError

    from ita.telegram.bot import Pacer
    from ita.telegram.render import chunks, to_telegram as html_of

    text, _ = html_of(report.markdown(lang))
    parts = chunks(text)

    async def go() -> int:
        pacer, n = Pacer(1.0), 0
        async with Bot(settings.token, base_url=settings.base_url, base_file_url=settings.file_url) as bot:
            for chat in settings.chat_ids:
                for p in parts:
                    await pacer.send(chat, lambda: bot.send_message(chat, p, parse_mode=ParseMode.HTML))
                    n += 1
        return n

    try:
        return asyncio.run(go())
    except TelegramError as exc:
        raise ItaError(f"Telegram refused the report: {exc}") from None
