"""Telegram: live signals as a photo with a compact caption and feedback buttons (python-telegram-bot).

The message: the snapshot PNG, and a caption (HTML) with setup, version, symbol, direction, entry/SL/TP,
RR, score and the comment; buttons *Taken* / *Skipped* / 👍 / 👎 record the trader's feedback in the
journal (``live_feedback``) and mark the choice on the message. Only the configured chat ids are sent to
and served: a press from any other chat is refused and recorded nowhere.

The bot runs on its own asyncio loop in a daemon thread (one ``telegram.ext.Application``): :meth:`send`
may be called from any thread (the scheduler's workers); :meth:`start_polling` also receives button presses.

Errors: a revoked or wrong token (401/404), a chat that blocked the bot (403) and a rejected request (400)
are permanent; ``429 Too Many Requests`` carries ``retry_after``; network errors, timeouts and 5xx are
retried with backoff (a timed-out send may have arrived: its retry is marked as a possible repeat).
"""
from __future__ import annotations

import asyncio
import html
import logging
import os
import threading
from datetime import timedelta
from pathlib import Path

from ita.errors import ItaError
from ita.live.channels import SendError, headline, ny_short, plain_message, price_fmt
from ita.live.config import TelegramSettings

log = logging.getLogger("ita.live")
os.environ.setdefault("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta (PTB's future default)
CAPTION_LIMIT = 1024
BUTTONS = (("taken", "✅ Taken"), ("skipped", "⏭ Skipped"), ("up", "👍"), ("down", "👎"))
SIMILAR = "🔎 Similar"
SCORE_KIND = {"model": "model", "laplace": "Laplace"}
REPEAT_NOTE = "⟳ sent again after a restart — ignore it if you already have this signal"


def caption(signal: dict, repeat: bool = False) -> str:
    """The photo caption (Telegram HTML, ≤ 1024 characters; the comment is shortened to fit)."""
    px = price_fmt(signal)
    e = html.escape
    dot = "🟢" if str(signal["direction"]).lower() == "long" else "🔴"
    rr = signal.get("rr")
    risk = signal.get("risk_pips")
    head = [
        f"{dot} <b>{e(headline(signal))}</b>",
        f"{e(str(signal['entry_type']).capitalize())} <code>{px(signal['entry_price'])}</code> · "
        f"SL <code>{px(signal['sl_price'])}</code> · TP <code>{px(signal['tp_price'])}</code>",
        " · ".join(p for p in (f"RR {float(rr):.1f}" if rr is not None else "",
                                f"risk {float(risk):.1f} pips" if risk is not None else "",
                                f"score <b>{float(signal['score']):.2f}</b>"
                                + (f" ({SCORE_KIND.get(signal.get('score_kind'), signal.get('score_kind'))})"
                                   if signal.get("score_kind") else "")) if p),
        f"Signal {e(ny_short(signal['known_at']))} NY · valid until {e(ny_short(signal.get('expires_at')))} NY",
    ]
    if repeat:
        head.insert(0, f"<i>{e(REPEAT_NOTE)}</i>")
    tail = f"<code>{e(signal['signal_id'])}</code>"
    text = "\n".join(head)
    comment = str(signal.get("comment") or "")
    room = CAPTION_LIMIT - len(text) - len(tail) - 12
    if comment and room > 40:
        c = comment if len(e(comment)) <= room else comment[: max(room - 20, 0)].rsplit(" ", 1)[0] + " …"
        text += f"\n<i>{e(c)}</i>"
    return f"{text}\n{tail}"


def keyboard(key: str, chosen: dict | None = None):
    """The feedback buttons for the signal with button key ``key``; ``chosen`` marks the recorded choices
    (``{"taken": "taken"|"skipped"|None, "vote": "up"|"down"|None}``)."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    chosen = chosen or {}
    marks = {chosen.get("taken"), chosen.get("vote")}

    def btn(action: str, label: str):
        return InlineKeyboardButton(f"{label} ✓" if action in marks else label, callback_data=f"fb|{key}|{action}")

    return InlineKeyboardMarkup([[btn(*BUTTONS[0]), btn(*BUTTONS[1])], [btn(*BUTTONS[2]), btn(*BUTTONS[3])],
                                 [InlineKeyboardButton(SIMILAR, callback_data=f"sim|{key}")]])


class TelegramChannel:
    """The Telegram bot for alerts and feedback. ``journal`` records button presses (optional)."""

    name = "telegram"

    def __init__(self, settings: TelegramSettings, journal=None, timeout: float = 20.0, on_feedback=None,
                 on_similar=None):
        from telegram.ext import Application
        from telegram.request import HTTPXRequest

        self.settings, self.journal, self.timeout = settings, journal, timeout
        self.on_feedback = on_feedback  # called (run, signal_id, chosen) after a press is recorded
        self.on_similar = on_similar    # (signal_id) -> text: the "Similar" button's answer
        self.allowed = set(settings.chat_ids)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ita-telegram", daemon=True)
        req = HTTPXRequest(connect_timeout=5.0, read_timeout=10.0, write_timeout=15.0, pool_timeout=5.0,
                           connection_pool_size=8)
        self.app = (Application.builder().token(settings.token).base_url(settings.base_url)
                    .base_file_url(settings.file_url).request(req)
                    .get_updates_request(HTTPXRequest(read_timeout=30.0, connect_timeout=5.0)).build())
        self.polling = False
        self.me = None

    # ---- life cycle ---------------------------------------------------------------------------------------
    def _run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def open(self) -> "TelegramChannel":
        """Start the loop and check the token (``getMe``). Raises :class:`ItaError` with what to fix when
        Telegram rejects the token or cannot be reached."""
        from telegram.error import InvalidToken, NetworkError, TelegramError

        self.thread.start()
        try:
            self._run(self.app.initialize(), self.timeout)
            self.me = self.app.bot.bot
        except InvalidToken as exc:
            self.close()
            raise ItaError(f"Telegram rejected the bot token (ITA_TELEGRAM_TOKEN): {exc}. Create or copy the token "
                           "with @BotFather; nothing was sent.") from None
        except (NetworkError, TelegramError, TimeoutError, OSError) as exc:
            self.close()
            raise ItaError(f"Telegram is not reachable at {self.settings.base_url} ({type(exc).__name__}: {exc}). "
                           "Check the network or ITA_TELEGRAM_API_URL.") from None
        return self

    def start_polling(self) -> None:
        """Receive button presses (and /start) from the configured chats; other chats are refused."""
        from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

        self.app.add_handler(CallbackQueryHandler(self._on_button, pattern=r"^fb\|"))
        self.app.add_handler(CallbackQueryHandler(self._on_similar, pattern=r"^sim\|"))
        self.app.add_handler(CommandHandler(["start", "help"], self._on_start))
        self.app.add_handler(MessageHandler(filters.ALL, self._on_other))

        async def _start():
            await self.app.start()
            await self.app.updater.start_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)

        self._run(_start(), self.timeout)
        self.polling = True

    def close(self) -> None:
        async def _stop():
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()  # a no-op when it never started

        if self.thread.is_alive():
            try:
                self._run(_stop(), 30.0)
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.warning("Telegram shutdown: %s", exc)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10.0)
        self.polling = False

    # ---- sending ------------------------------------------------------------------------------------------
    def send(self, signal: dict, target: str | None, uncertain: bool = False) -> str:
        """Send ``signal`` to chat ``target`` (one of the configured ids); returns the message id."""
        from telegram.constants import ParseMode
        from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

        chat = int(target) if target is not None else self.settings.chat_ids[0]
        if chat not in self.allowed:
            raise SendError(f"chat {chat} is not in ITA_TELEGRAM_CHAT_IDS", permanent=True)
        markup = keyboard(signal["key"], None)
        chart = signal.get("chart")
        bot = self.app.bot
        if chart and Path(chart).is_file():
            coro = bot.send_photo(chat, photo=Path(chart).read_bytes(), caption=caption(signal, uncertain),
                                  parse_mode=ParseMode.HTML, reply_markup=markup)
        else:
            text = (REPEAT_NOTE + "\n" if uncertain else "") + plain_message(signal)
            coro = bot.send_message(chat, text=text[:4096], reply_markup=markup)
        try:
            msg = self._run(coro, self.timeout + 15.0)
        except RetryAfter as exc:
            ra = exc.retry_after
            raise SendError(f"Telegram 429: retry after {ra}",
                            retry_after=ra.total_seconds() if isinstance(ra, timedelta) else float(ra)) from None
        except (InvalidToken, Forbidden) as exc:
            raise SendError(f"Telegram refused ({type(exc).__name__}): {exc}", permanent=True) from None
        except BadRequest as exc:
            raise SendError(f"Telegram rejected the message: {exc}", permanent=True) from None
        except (TimedOut, TimeoutError) as exc:
            raise SendError(f"Telegram timed out: {exc}", uncertain=True) from None
        except NetworkError as exc:
            raise SendError(f"Telegram network error: {exc}") from None
        return str(msg.message_id)

    # ---- updates ------------------------------------------------------------------------------------------
    async def _on_button(self, update, context) -> None:
        q = update.callback_query
        chat_id = q.message.chat.id if q.message else None
        if chat_id not in self.allowed:
            await q.answer("This bot serves its configured chats only.", show_alert=True)
            log.warning("Refused a button press from chat %s (not in ITA_TELEGRAM_CHAT_IDS)", chat_id)
            return
        try:
            _, key, action = q.data.split("|", 2)
        except ValueError:
            await q.answer("Unknown button.")
            return
        sig = self.journal.by_key(key) if self.journal is not None else None
        if sig is None:
            await q.answer("This signal is not in the journal any more.")
            return
        user = q.from_user
        self.journal.feedback(sig["run"], sig["signal_id"], action=action, channel=f"telegram:{chat_id}",
                              chat_id=chat_id, user_id=user.id if user else "", user=(user.full_name if user else ""))
        chosen = self.journal.feedback_of(sig["run"], sig["signal_id"])
        await q.answer(f"Recorded: {dict(BUTTONS)[action]}")
        if self.on_feedback is not None:  # e.g. the Notion row's Status; blocking I/O off the bot's loop
            asyncio.get_running_loop().run_in_executor(None, self.on_feedback, sig["run"], sig["signal_id"], chosen)
        try:
            await q.edit_message_reply_markup(reply_markup=keyboard(key, chosen))
        except Exception as exc:  # noqa: BLE001 - "message is not modified" and the like are harmless
            log.debug("keyboard update: %s", exc)

    async def _on_similar(self, update, context) -> None:
        """The "Similar" button: the k nearest earlier signals and their outcomes, as a reply in the chat."""
        q = update.callback_query
        chat_id = q.message.chat.id if q.message else None
        if chat_id not in self.allowed:
            await q.answer("This bot serves its configured chats only.", show_alert=True)
            return
        sig = self.journal.by_key(q.data.split("|", 1)[1]) if self.journal is not None else None
        if sig is None or self.on_similar is None:
            await q.answer("Similar signals are not available for this signal.")
            return
        await q.answer("Looking for similar signals …")
        text = await asyncio.get_running_loop().run_in_executor(None, self.on_similar, sig["signal_id"])
        await context.bot.send_message(chat_id, text=str(text)[:4096], reply_to_message_id=q.message.message_id)

    async def _on_start(self, update, context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        if chat.id in self.allowed:
            await chat.send_message("ITA sends live signals of your active setups here, with a chart and buttons "
                                    "for your feedback. It never places orders.")
        else:
            await chat.send_message(f"This chat ({chat.id}) is not configured. Add it to ITA_TELEGRAM_CHAT_IDS to "
                                    "receive signals.")

    async def _on_other(self, update, context) -> None:
        chat = update.effective_chat
        if chat is not None and chat.id not in self.allowed:
            log.info("Ignored a message from chat %s (not in ITA_TELEGRAM_CHAT_IDS)", chat.id)
