"""Where live signals go, and the one delivery loop that gets them there (retries, backoff, the outbox).

A channel sends one journaled signal (a row of :meth:`ita.live.journal.Journal.signal`: the signal's
fields, ``meta``, ``score``, ``score_basis``, ``chart``, ``comment``) and returns the service's id for it, or
raises :class:`SendError` — ``permanent`` when a retry cannot help (a revoked token, a chat that blocked the
bot, a database the integration cannot see), with ``retry_after`` when the service said when to come back.

* :class:`OutboxChannel` — the embedded default: a folder per signal with ``chart.png``, ``signal.json``
  and ``message.txt``.
* :class:`ita.live.telegram.TelegramChannel` — a photo with a caption and feedback buttons.
* :class:`ita.live.notion.NotionChannel` — a journal row with the chart.

:func:`deliver` claims a pending delivery in the journal, sends it, and records the outcome: ``sent`` with
the latency (candle close → accepted), or back to ``pending`` with exponential backoff (1, 2, 4 … 300 s, or
the service's ``retry-after``), or ``failed``. Nothing is dropped: a pending delivery stays in the journal's
outbox until it is sent.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Protocol

from ita.times import ny_text

log = logging.getLogger("ita.live")
MAX_BACKOFF_S = 300.0


class SendError(Exception):
    """A failed send. ``permanent``: do not retry automatically; ``retry_after``: seconds the service asked
    to wait; ``uncertain``: the request may have reached the service (a timeout), so a retry is marked."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 uncertain: bool = False):
        super().__init__(message)
        self.permanent, self.retry_after, self.uncertain = permanent, retry_after, uncertain


class Channel(Protocol):
    name: str

    def send(self, signal: dict, target: str | None, uncertain: bool) -> str | None: ...


def backoff(attempts: int) -> float:
    """Seconds before retry number ``attempts`` (1, 2, 4, … capped at 300)."""
    return min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF_S)


def deliver(journal, run: str, signal_id: str, channel: str, channels: dict, *, deadline: float | None = None) -> str:
    """Claim the delivery (``run``, ``signal_id``, ``channel``) and send it through ``channels[kind]`` (kind =
    the part of ``channel`` before ``:``). Transient failures are retried here while the next attempt falls
    before ``deadline`` (epoch s; None = one attempt); later ones are left ``pending`` for the retry job.

    Returns ``"sent"``, ``"pending"``, ``"failed"`` or ``"busy"`` (another worker holds it, or not due).
    """
    while True:
        row = journal.claim(run, signal_id, channel)
        if row is None:
            return "busy"
        kind, _, target = channel.partition(":")
        sig = journal.signal(run, signal_id)
        ch = channels.get(kind)
        try:
            if ch is None:
                raise SendError(f"the {kind} channel is not configured in this process", retry_after=60.0)
            remote = ch.send(sig, target or None, bool(row["uncertain"]))
        except SendError as exc:
            err = exc
        except Exception as exc:  # noqa: BLE001 - a bug or an unexpected library error: keep it for retry
            err = SendError(f"{type(exc).__name__}: {exc}")
        else:
            now = time.time()
            journal.delivered(run, signal_id, channel, sent_wall=now, latency_s=now - float(sig["close_wall"]),
                              remote_id=None if remote is None else str(remote))
            return "sent"
        if err.permanent:
            journal.failed(run, signal_id, channel, str(err), retry_at=None, uncertain=err.uncertain)
            log.error("%s → %s failed and will not be retried automatically: %s (fix it, then `ita live outbox "
                      "--retry`)", signal_id, channel, err)
            return "failed"
        wait = max(float(err.retry_after or 0.0), backoff(int(row["attempts"])))
        retry_at = time.time() + wait
        journal.failed(run, signal_id, channel, str(err), retry_at=retry_at, uncertain=err.uncertain)
        log.warning("%s → %s attempt %d failed (%s); retry in %.0f s", signal_id, channel, row["attempts"], err, wait)
        if deadline is None or retry_at >= deadline:
            return "pending"
        time.sleep(wait)


# ---- message text shared by the channels ---------------------------------------------------------------------

def ny_short(t) -> str:
    """A UTC instant as short New York text for messages: ``"Mon 03 Mar 08:30"`` (``–`` when missing)."""
    return ny_text(t, "%a %d %b %H:%M", missing="–")


def price_fmt(signal: dict):
    from ita.data.instruments import get_instrument

    digits = get_instrument(signal["symbol"]).digits
    return lambda p: f"{float(p):.{digits}f}"


def headline(signal: dict) -> str:
    """``LONG EURUSD · asia_fvg_break v1 · M5`` — the first line of every message."""
    return (f"{str(signal['direction']).upper()} {signal['symbol']} · {signal['setup_id']} v{signal['version']} · "
            f"{signal['timeframe']}")


def plain_message(signal: dict) -> str:
    """The signal as plain text (the outbox's ``message.txt``; the fallback when a chart is missing)."""
    px = price_fmt(signal)
    rr = signal.get("rr")
    lines = [
        headline(signal),
        f"{str(signal['entry_type']).capitalize()} {px(signal['entry_price'])} · SL {px(signal['sl_price'])} · "
        f"TP {px(signal['tp_price'])}" + (f" · RR {float(rr):.1f}" if rr is not None else ""),
        f"Score {float(signal['score']):.2f} — {signal.get('score_basis') or ''}",
        f"Signal {ny_short(signal['known_at'])} NY · valid until {ny_short(signal.get('expires_at'))} NY",
    ]
    if signal.get("comment"):
        lines.append(str(signal["comment"]))
    lines.append(signal["signal_id"])
    return "\n".join(lines)


class OutboxChannel:
    """The outbox folder: ``<dir>/<signal_id>/`` with ``chart.png`` (when rendered), ``signal.json`` (the
    journaled signal, times UTC ISO-8601) and ``message.txt``. The folder is written under a temporary name
    and renamed into place; an existing folder means the signal was delivered already."""

    name = "outbox"

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)

    def send(self, signal: dict, target: str | None = None, uncertain: bool = False) -> str:
        final = self.dir / signal["signal_id"]
        if final.is_dir():
            return str(final)
        tmp = self.dir / f".{signal['signal_id']}.{os.getpid()}.tmp"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            chart = signal.get("chart")
            if chart and Path(chart).is_file():
                shutil.copyfile(chart, tmp / "chart.png")
            (tmp / "signal.json").write_text(json.dumps(signal, indent=2, default=str), encoding="utf-8")
            (tmp / "message.txt").write_text(plain_message(signal) + "\n", encoding="utf-8")
            os.replace(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise SendError(f"could not write {final}: {exc}") from None
        return str(final)
