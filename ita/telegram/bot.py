"""The Telegram face of the chat agent: the same :class:`ita.agent.ChatSession` (the LangGraph chat graph) as the
web chat, behind python-telegram-bot.

* A text message gets "typing…" at once, then the answer: statistics as monospaced tables, charts as a photo
  album, ``trades.csv`` / ``report.html`` as documents, the setup version + hash and the run id. A backtest's
  text goes out the moment its statistics exist, with a "⏳ Rendering 4 charts…" line; when the charts are
  written that message is edited (the line becomes the files line) and the album and documents follow. The answer's
  follow-ups ("same on XAUUSD", "show trade 2", "only the London killzone") as inline buttons, which ask the
  chat as if typed. One conversation thread per chat (``telegram:<chat id>``) in the chat's SQLite
  checkpointer, so follow-ups also work after a restart. Russian works as in the web chat.
* A long job (a sweep, a big PDF) gets one message that is edited with its progress (tools report through
  :mod:`ita.tools.progress`), and "✓ done in N s" at the end.
* A document (PDF, Markdown, text; ≤ 20 MB, Telegram's download limit for bots) goes into the theory library
  (:class:`ita.knowledge_base.KnowledgeBase`); the reply names the sections indexed, or why not (a scanned
  PDF without text, an unsupported type, too big).
* Commands (:mod:`ita.telegram.commands`): ``/backtest`` ``/signals`` ``/stats`` ``/daily`` ``/weekly``
  ``/monthly`` ``/performance`` ``/setups`` ``/status`` ``/help``.
* Only the configured chats are served: another chat gets one refusal (once per run of the bot) and a log line.
* Telegram's limits: at most one message per ``interval`` seconds per chat (default 1 s); a 429 is waited out
  for its ``retry_after`` and retried (3 times).

:class:`ChatBot` only adds handlers to a python-telegram-bot ``Application``: ``ita telegram start`` installs it
on the alert channel's application (:class:`ita.live.telegram.TelegramChannel`, so the alerts' buttons work
too), ``ita live start --chat`` on the running live service's — one bot, one ``getUpdates`` poller.
"""
from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ita.secrets import redact
from ita.telegram.commands import COMMANDS, help_text, parse_command
from ita.telegram.render import caption, chunks, to_telegram

log = logging.getLogger("ita.telegram")
DOC_TYPES = {".pdf": "PDF", ".md": "Markdown", ".markdown": "Markdown", ".txt": "text"}
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Telegram lets bots download files up to 20 MB
TYPING_EVERY = 4.0  # seconds: a chat action shows for 5 s
EDIT_EVERY = 2.5  # seconds between edits of the progress message
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def lang_of(text: str | None, user: Any = None) -> str:
    """``ru`` for Cyrillic text (or, without text, a Russian Telegram client), else ``en``."""
    if text and _CYRILLIC.search(text):
        return "ru"
    if not (text or "").strip("/ ") and user is not None and str(getattr(user, "language_code", "") or "").startswith("ru"):
        return "ru"
    return "en"


class Pacer:
    """Sends to a chat one at a time within Telegram's limit of about one message per second per chat: a token
    bucket of ``burst`` messages refilled at one per ``interval`` seconds (an answer's text, photo album and
    documents go out at once; a longer stream is held to the rate). A ``RetryAfter`` (429) is waited out and the
    send retried up to ``retries`` times."""

    def __init__(self, interval: float = 1.0, burst: int = 3, retries: int = 3):
        self.interval, self.burst, self.retries = float(interval), max(int(burst), 1), int(retries)
        self._tokens: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at monotonic time)
        self._locks: dict[int, asyncio.Lock] = {}

    def _take(self, chat_id: int) -> float:
        """Seconds to wait before the next send to ``chat_id`` (0 = a token is there; it is taken)."""
        now = time.monotonic()
        tokens, at = self._tokens.get(chat_id, (float(self.burst), now))
        if now >= at:
            tokens = min(float(self.burst), tokens + ((now - at) / self.interval if self.interval > 0 else self.burst))
            at = now
        if tokens >= 1.0 and now >= at:
            self._tokens[chat_id] = (tokens - 1.0, at)
            return 0.0
        wait = max(at - now, 0.0) + (1.0 - tokens) * self.interval
        return max(wait, 0.001)

    async def send(self, chat_id: int, make: Callable[[], Any]):
        from telegram.error import RetryAfter

        async with self._locks.setdefault(chat_id, asyncio.Lock()):
            for attempt in range(self.retries + 1):
                while (wait := self._take(chat_id)) > 0:
                    await asyncio.sleep(wait)
                try:
                    return await make()
                except RetryAfter as exc:
                    ra = exc.retry_after
                    secs = ra.total_seconds() if hasattr(ra, "total_seconds") else float(ra)
                    log.warning("Telegram asked to wait %.0f s before writing to chat %s (attempt %d)", secs,
                                chat_id, attempt + 1)
                    if attempt == self.retries:
                        raise
                    self._tokens[chat_id] = (1.0, time.monotonic() + secs)  # the retry, then the plain rate


class ChatBot:
    """Chat handlers for a python-telegram-bot ``Application`` (:meth:`install`). ``allowed``: the chat ids
    served; ``config``: the agent's :class:`ita.agent.context.AgentConfig` (default: the environment);
    ``interval``: seconds between messages to one chat; ``progress_after``: seconds before a job gets a progress
    message; ``metrics_url``: where ``/status`` reads the live loop's metrics."""

    def __init__(self, allowed, config=None, *, interval: float = 1.0, progress_after: float = 3.0, workers: int = 2,
                 metrics_url: str | None = None):
        self.allowed = {int(c) for c in allowed}
        self.config = config
        self.pacer = Pacer(interval)
        self.progress_after = float(progress_after)
        self.metrics_url = metrics_url
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ita-chat")
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._turns: dict[int, asyncio.Lock] = {}
        self._refused: set[int] = set()
        self._long_buttons: dict[str, str] = {}

    @classmethod
    def from_env(cls, settings, **kw) -> "ChatBot":
        """The bot for ``settings`` (:class:`ita.live.config.TelegramSettings`): its chats; ``ITA_TELEGRAM_INTERVAL``
        (seconds between messages per chat), ``ITA_METRICS_URL`` (for ``/status``)."""
        interval = float(os.environ.get("ITA_TELEGRAM_INTERVAL") or 1.0)
        return cls(settings.chat_ids, interval=interval, metrics_url=os.environ.get("ITA_METRICS_URL"), **kw)

    def install(self, app) -> "ChatBot":
        """Add the handlers to ``app`` (before the alert channel's own, so they take the chat's messages)."""
        from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

        app.add_handler(CommandHandler(["start", *COMMANDS], self.on_command, block=False))
        app.add_handler(CallbackQueryHandler(self.on_button, pattern=r"^ch[|#]", block=False))
        app.add_handler(MessageHandler(filters.Document.ALL, self.on_document, block=False))
        app.add_handler(MessageHandler(filters.PHOTO, self.on_photo, block=False))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text, block=False))
        app.add_handler(MessageHandler(filters.COMMAND, self.on_command, block=False))
        return self

    async def set_commands(self, bot) -> None:
        """Telegram's command menu, in English and Russian."""
        from telegram import BotCommand

        await bot.set_my_commands([BotCommand(n, d[0][:256]) for n, d in COMMANDS.items()])
        await bot.set_my_commands([BotCommand(n, d[1][:256]) for n, d in COMMANDS.items()], language_code="ru")

    def warm_up(self) -> None:
        """Load the chat graph and start the chart renderer now (best effort), so the first answer is fast."""
        try:
            import plotly.graph_objects as go

            from ita.charts import save_png

            self._session(0)
            with tempfile.TemporaryDirectory() as tmp:
                save_png(go.Figure(), Path(tmp) / "warm.png", width=64, height=64)
        except Exception as exc:  # noqa: BLE001 - the first request reports a real problem properly
            log.warning("warm-up skipped: %s", exc)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---- who is served -------------------------------------------------------------------------------------
    async def _allowed(self, update) -> bool:
        chat = update.effective_chat
        if chat is None:
            return False
        if chat.id in self.allowed:
            return True
        who = getattr(update.effective_user, "username", None) or getattr(update.effective_user, "id", "?")
        log.warning("Refused chat %s (user %s): not in ITA_TELEGRAM_CHAT_IDS", chat.id, who)
        if update.callback_query is not None:
            await update.callback_query.answer("This bot serves its configured chats only.", show_alert=True)
        elif chat.id not in self._refused:
            self._refused.add(chat.id)
            await chat.send_message(f"This bot serves its owner's chats only; chat {chat.id} is not one of them "
                                    "(ITA_TELEGRAM_CHAT_IDS). Nothing was done.")
        return False

    def _turn(self, chat_id: int) -> asyncio.Lock:
        return self._turns.setdefault(chat_id, asyncio.Lock())

    def _session(self, chat_id: int):
        from ita.agent import ChatSession
        from ita.agent.context import AgentConfig

        with self._lock:
            if chat_id not in self._sessions:
                self._sessions[chat_id] = ChatSession(f"telegram:{chat_id}", self.config or AgentConfig.from_env())
            return self._sessions[chat_id]

    # ---- handlers --------------------------------------------------------------------------------------------
    async def on_text(self, update, context) -> None:
        if await self._allowed(update):
            text = update.effective_message.text or ""
            await self.converse(context.bot, update.effective_chat.id, text)

    async def on_button(self, update, context) -> None:
        q = update.callback_query
        if not await self._allowed(update):
            return
        data = q.data or ""
        phrase = data[3:] if data.startswith("ch|") else self._long_buttons.get(data[3:])
        if not phrase:
            await q.answer("This button has expired: type the request instead.")
            return
        await q.answer(phrase[:200])
        await self.converse(context.bot, update.effective_chat.id, phrase, echo=phrase)

    async def on_command(self, update, context) -> None:
        if not await self._allowed(update):
            return
        msg = update.effective_message
        parts = (msg.text or "").split()
        name = parts[0][1:].split("@")[0] if parts else "help"
        args = parts[1:]
        lang = lang_of(" ".join(args), update.effective_user)
        chat_id = update.effective_chat.id
        try:
            action = parse_command(name, args, lang)
        except Exception as exc:  # noqa: BLE001 - a bad argument must not stay unanswered
            await self._send_html(context.bot, chat_id, html.escape(f"⚠️ /{name}: {exc}"))
            return
        if action.help:
            await self._send_html(context.bot, chat_id, help_text(lang))
        elif action.text is not None:
            await self.converse(context.bot, chat_id, action.text)
        else:
            await self._typing(context.bot, chat_id)
            async with self._turn(chat_id):
                md = await self._work(context.bot, chat_id, lambda listener: self._tool(action.tool, action.args, lang),
                                      lang)
                if md is not None:
                    await self.reply(context.bot, chat_id, md, [])

    async def on_photo(self, update, context) -> None:
        if await self._allowed(update):
            lang = lang_of(update.effective_message.caption, update.effective_user)
            await self._send_html(context.bot, update.effective_chat.id, (
                "Я не анализирую изображения. Пришлите PDF, Markdown или текст — добавлю в библиотеку теории; "
                "или опишите, что найти на графике." if lang == "ru" else
                "I do not analyse pictures. Send a PDF, Markdown or text file for your theory library, or describe "
                "what to look for on the chart (e.g. <i>find FVGs on EURUSD on 2025-03-12</i>)."))

    async def on_document(self, update, context) -> None:
        from telegram.error import BadRequest

        if not await self._allowed(update):
            return
        msg, chat_id, bot = update.effective_message, update.effective_chat.id, context.bot
        doc = msg.document
        name = Path(doc.file_name or "document").name
        lang = lang_of(msg.caption, update.effective_user)
        ru = lang == "ru"
        kind = DOC_TYPES.get(Path(name).suffix.lower())
        if kind is None:
            types = ", ".join(sorted(set(DOC_TYPES)))
            await self._send_html(bot, chat_id, html.escape(
                f"⚠️ {name}: " + (f"этот тип ({doc.mime_type or '?'}) в библиотеку не добавить; подходят {types}."
                                  if ru else f"this type ({doc.mime_type or '?'}) cannot go into the library; send "
                                             f"{types}.")))
            return
        if (doc.file_size or 0) > DOWNLOAD_LIMIT:
            mb = (doc.file_size or 0) / 1024 / 1024
            await self._send_html(bot, chat_id, html.escape(
                f"⚠️ {name}: " + (f"{mb:.0f} МБ — Telegram отдаёт ботам файлы до 20 МБ. Добавьте его на компьютере: "
                                  f"ita kb add \"{name}\"." if ru else
                                  f"{mb:.0f} MB — Telegram lets bots download files up to 20 MB. Add it on the "
                                  f"computer with: ita kb add \"{name}\".")))
            return
        await self._typing(bot, chat_id, "upload_document")
        async with self._turn(chat_id):
            try:
                data = bytes(await (await doc.get_file()).download_as_bytearray())
            except BadRequest as exc:
                await self._send_html(bot, chat_id, html.escape(f"⚠️ {name}: Telegram refused the download ({exc})."))
                return
            md = await self._work(bot, chat_id, lambda listener: self._ingest(name, data, lang, listener), lang)
            if md is not None:
                await self.reply(bot, chat_id, md, [])

    # ---- the work -----------------------------------------------------------------------------------------
    async def converse(self, bot, chat_id: int, text: str, echo: str | None = None) -> None:
        """Answer ``text`` in chat ``chat_id`` through the chat graph (typing at once, one turn at a time)."""
        lang = lang_of(text)
        await self._typing(bot, chat_id)
        async with self._turn(chat_id):
            loop = asyncio.get_running_loop()
            shown: dict = {}

            def early(first) -> None:  # the worker thread: the statistics go out now, the charts render on
                md, before = _markdown(first), shown.get("sending")

                async def show() -> tuple[list, str]:  # on the loop, after the previous early answer of the turn
                    if before is None:
                        return await self.reply(bot, chat_id, md, [], echo), md
                    messages, said = await asyncio.wrap_future(before)
                    return await self.complete(bot, chat_id, messages, said, md, [], echo), md

                shown["sending"] = asyncio.run_coroutine_threadsafe(show(), loop)

            turn = await self._work(bot, chat_id, lambda listener: self._ask(chat_id, text, listener, early), lang)
            if shown:
                try:
                    shown["messages"], shown["md"] = await asyncio.wrap_future(shown["sending"])
                except Exception:  # noqa: BLE001 - the early text did not go out: the complete answer will
                    log.exception("chat %s: the early answer failed", chat_id)
                    shown.clear()
            if turn is None:
                return
            md = _markdown(turn)
            log.info("chat %s: %.1f s, tools %s, early %s", chat_id, turn.seconds, [r.tool for r in turn.results],
                     bool(shown))
            if shown:
                await self.complete(bot, chat_id, shown["messages"], shown["md"], md, turn.artifacts, echo)
            else:
                await self.reply(bot, chat_id, md, turn.artifacts, echo)

    def _ask(self, chat_id: int, text: str, listener, early=None):
        from ita.tools.progress import progress_to

        with progress_to(listener):
            return self._session(chat_id).ask(text, early=early)

    def _tool(self, name: str, args: dict, lang: str) -> str:
        from ita.agent.answers import render
        from ita.tools import TOOLS

        if name == "live_status" and self.metrics_url and "run" not in args:
            args = {**args, "url": self.metrics_url}
        return render(TOOLS[name](**args), lang)

    def _ingest(self, name: str, data: bytes, lang: str, listener) -> str:
        from ita.knowledge_base import KnowledgeBase

        ru = lang == "ru"
        with tempfile.TemporaryDirectory(prefix="ita_tg_") as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            kb = KnowledgeBase()
            reports = kb.add([path], progress=lambda ev: listener(getattr(ev, "done", None) or None,
                                                                 getattr(ev, "total", None) or None, str(ev)))
            lines = []
            for r in reports:
                if r.status in ("added", "replaced"):
                    sections = kb.conn.execute(
                        "SELECT section, min(page), count(*) FROM chunks WHERE file = ? GROUP BY section "
                        "ORDER BY min(n) LIMIT 8", [r.file]).fetchall()
                    verb = ("добавлен" if r.status == "added" else "обновлён") if ru else r.status
                    lines.append(f"📚 `{r.file}` {verb}: {r.pages} " + ("стр., " if ru else "pages, ")
                                 + f"{r.chunks} " + ("фрагментов" if ru else "passages") + ":")
                    lines += [f"- {s or ('без раздела' if ru else 'untitled')} (p. {p}, {n})" for s, p, n in sections]
                elif r.status == "unchanged":
                    lines.append(f"📚 `{r.file}` " + ("уже в библиотеке." if ru else "is already in the library."))
                else:
                    lines.append(f"⚠️ `{r.file}`: {r.message}")
        lines.append("Спросите, например: «что такое FVG?»" if ru else "Ask, for example: “what is a breaker block?”")
        return "\n".join(lines[:1]) + ("\n" + "\n".join(lines[1:-1]) if len(lines) > 2 else "") + "\n\n" + lines[-1]

    async def _work(self, bot, chat_id: int, job: Callable[[Callable], Any], lang: str):
        """Run ``job(listener)`` in a worker thread while the chat sees "typing…" and, after ``progress_after``
        seconds or at the first progress report, one message edited with the progress. Returns the job's result,
        or None after telling the chat what went wrong."""
        from telegram.constants import ParseMode

        latest: dict = {}

        def listener(done, total, text):  # worker thread: a plain assignment
            latest["p"] = (done, total, str(text or ""))

        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        fut = loop.run_in_executor(self.pool, job, listener)
        progress = {"id": None, "text": None, "at": 0.0}
        last_typing = time.monotonic()
        first = True
        while not fut.done():
            if not first:
                await asyncio.wait([fut], timeout=1.0)
                if fut.done():
                    break
            first = False
            now = time.monotonic()
            if now - last_typing >= TYPING_EVERY:
                last_typing = now
                await self._typing(bot, chat_id)
            if now - t0 >= self.progress_after or "p" in latest:
                text = progress_text(now - t0, latest.get("p"), lang)
                try:
                    if progress["id"] is None:
                        m = await self.pacer.send(chat_id, lambda: bot.send_message(chat_id, text, parse_mode=ParseMode.HTML))
                        progress.update(id=m.message_id, text=text, at=now)
                    elif text != progress["text"] and now - progress["at"] >= EDIT_EVERY:
                        await self.pacer.send(chat_id, lambda: bot.edit_message_text(
                            text, chat_id=chat_id, message_id=progress["id"], parse_mode=ParseMode.HTML))
                        progress.update(text=text, at=now)
                except Exception as exc:  # noqa: BLE001 - progress is a courtesy
                    log.debug("progress message: %s", exc)
        try:
            result = fut.result()
        except Exception as exc:  # noqa: BLE001 - never a stack trace in the chat
            log.exception("chat %s: the job failed", chat_id)
            result = None
            from ita.agent.answers import friendly_error

            await self._send_html(bot, chat_id, html.escape(friendly_error(exc, lang)))
        if progress["id"] is not None:
            last = (latest.get("p") or (None, None, ""))[2]
            done = (("✓ готово за" if lang == "ru" else "✓ done in") + f" {time.monotonic() - t0:.0f} s"
                    + (f" · {last[:200]}" if last else ""))
            try:
                await self.pacer.send(chat_id, lambda: bot.edit_message_text(done, chat_id=chat_id,
                                                                             message_id=progress["id"]))
            except Exception as exc:  # noqa: BLE001
                log.debug("progress message: %s", exc)
        return result

    # ---- sending ------------------------------------------------------------------------------------------
    async def _typing(self, bot, chat_id: int, action: str = "typing") -> None:
        try:
            await bot.send_chat_action(chat_id, action)
        except Exception as exc:  # noqa: BLE001 - a missing "typing…" must not stop the answer
            log.debug("chat action: %s", exc)

    async def _send_html(self, bot, chat_id: int, text: str, markup=None):
        from telegram.constants import ParseMode
        from telegram.error import BadRequest

        try:
            return await self.pacer.send(chat_id, lambda: bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True))
        except BadRequest as exc:
            if "parse entities" not in str(exc):
                raise
            log.warning("HTML rejected (%s); sending plain text", exc)
            plain = html.unescape(re.sub(r"<[^>]+>", "", text))
            return await self.pacer.send(chat_id, lambda: bot.send_message(chat_id, plain, reply_markup=markup))

    def keyboard(self, hints: list[str]):
        """Inline buttons for the answer's follow-ups (two per row, at most six)."""
        import hashlib

        from telegram import InlineKeyboardButton, InlineKeyboardMarkup

        buttons = []
        for h in hints[:6]:
            data = f"ch|{h}"
            if len(data.encode("utf-8")) > 64:  # Telegram's callback_data limit: keep the phrase here
                key = hashlib.sha1(h.encode("utf-8")).hexdigest()[:12]
                self._long_buttons[key] = h
                data = f"ch#{key}"
            buttons.append(InlineKeyboardButton(h[:60], callback_data=data))
        return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)]) if buttons else None

    def _html_parts(self, markdown: str, echo: str | None) -> tuple[list[str], Any]:
        text, hints = to_telegram(redact(markdown))
        if echo:
            text = f"› <i>{html.escape(echo)}</i>\n\n{text}"
        return chunks(text), self.keyboard(hints)

    async def reply(self, bot, chat_id: int, markdown: str, artifacts: list, echo: str | None = None) -> list:
        """Send an answer: its text (HTML, in as many messages as Telegram's limit needs, the follow-up buttons
        under the last), then its charts as a photo album and its files as documents. Returns the text's
        messages."""
        parts, markup = self._html_parts(markdown, echo)
        sent = []
        for i, part in enumerate(parts):
            sent.append(await self._send_html(bot, chat_id, part, markup if i == len(parts) - 1 else None))
        await self._artifacts(bot, chat_id, artifacts)
        return sent

    async def complete(self, bot, chat_id: int, messages: list, early: str, markdown: str, artifacts: list,
                       echo: str | None = None) -> list:
        """Complete an early answer (``early``, sent by :meth:`reply` as ``messages``) with ``markdown``: the
        messages that differ are edited in place (the "rendering N charts…" line becomes the files line), text that
        grew (a request with several backtests) goes out as further messages, the follow-up buttons move under the
        last; then the charts and files follow. Returns the text's messages. Should the text shrink to fewer
        messages, it is sent anew."""
        from telegram.constants import ParseMode

        parts, markup = self._html_parts(markdown, echo)
        before, _ = self._html_parts(early, echo)
        if len(parts) < len(messages) or len(before) != len(messages) or \
                any(getattr(m, "message_id", None) is None for m in messages):
            return await self.reply(bot, chat_id, markdown, artifacts, echo)
        out = list(messages)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if i >= len(messages):
                out.append(await self._send_html(bot, chat_id, part, markup if last else None))
                continue
            if part == before[i] and last == (i == len(before) - 1):
                continue
            msg = messages[i]
            try:
                await self.pacer.send(chat_id, lambda: bot.edit_message_text(
                    part, chat_id=chat_id, message_id=msg.message_id, parse_mode=ParseMode.HTML,
                    reply_markup=markup if last else None, disable_web_page_preview=True))
            except Exception as exc:  # noqa: BLE001 - "not modified" or a rejected edit: the early text stays
                log.debug("editing the early answer: %s", exc)
        await self._artifacts(bot, chat_id, artifacts)
        return out

    async def _artifacts(self, bot, chat_id: int, artifacts: list) -> None:
        seen: set[str] = set()
        photos, files = [], []
        for a in artifacts:
            if a.path in seen or not Path(a.path).is_file():
                continue
            seen.add(a.path)
            (photos if a.kind == "image" and Path(a.path).suffix.lower() in (".png", ".jpg", ".jpeg") else files).append(a)
        await self._media(bot, chat_id, photos, "photo")
        await self._media(bot, chat_id, files, "document")

    async def _media(self, bot, chat_id: int, items: list, kind: str) -> None:
        from telegram import InputMediaDocument, InputMediaPhoto

        for i in range(0, len(items), 10):  # an album holds 2-10
            group = items[i:i + 10]
            blobs = [(a, Path(a.path).read_bytes()) for a in group]
            if len(blobs) == 1:
                a, data = blobs[0]
                if kind == "photo":
                    await self.pacer.send(chat_id, lambda: bot.send_photo(chat_id, data, caption=caption(a.caption)))
                else:
                    await self.pacer.send(chat_id, lambda: bot.send_document(chat_id, data, filename=a.name,
                                                                             caption=caption(a.caption)))
                continue
            media = [InputMediaPhoto(data, caption=caption(a.caption)) if kind == "photo"
                     else InputMediaDocument(data, filename=a.name, caption=caption(a.caption)) for a, data in blobs]
            await self.pacer.send(chat_id, lambda: bot.send_media_group(chat_id, media))


def _markdown(turn) -> str:
    """A turn's answer with the language-model fallback note on top (once)."""
    md = (turn.answer or "").strip()
    note = (turn.note or "").strip()
    if note and note not in md:
        md = f"_{note}_\n\n{md}"
    return md or "…"


def progress_text(elapsed: float, latest: tuple | None, lang: str = "en") -> str:
    """The progress message: ``⏳ working… 12 s`` and, when a tool reported, a bar and its line."""
    head = ("⏳ считаю… " if lang == "ru" else "⏳ working… ") + f"{elapsed:.0f} s"
    if not latest:
        return head
    done, total, text = latest
    bar = ""
    if done is not None and total:
        frac = max(0.0, min(1.0, float(done) / float(total)))
        bar = "▓" * round(frac * 10) + "░" * (10 - round(frac * 10)) + f" {frac * 100:.0f} %"
    return "\n".join(p for p in (head, bar, html.escape(text[:300])) if p)


