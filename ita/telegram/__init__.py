"""Telegram chat with the agent (a face, like the CLI and the web chat): :class:`ChatBot` adds the chat's handlers
to a python-telegram-bot application; :func:`serve` runs the bot (``ita telegram start``).

Modules: :mod:`.bot` (handlers, sending, pacing, progress), :mod:`.commands` (``/backtest`` … ``/help``),
:mod:`.render` (Markdown answers → Telegram HTML and follow-up buttons).
"""
from __future__ import annotations

import asyncio
import logging
import threading

from ita.telegram.bot import ChatBot

log = logging.getLogger("ita.telegram")

__all__ = ["ChatBot", "serve"]


def serve(settings, stop: threading.Event, *, ready=None, **bot_kw) -> None:
    """Run the bot for ``settings`` (:class:`ita.live.config.TelegramSettings`) until ``stop`` is set: the chat
    (:class:`ChatBot`) plus the alerts' feedback buttons (:class:`ita.live.telegram.TelegramChannel`, whose
    presses go into the journal), on one poller. ``ready(bot)`` is called once polling runs. Raises
    :class:`~ita.errors.ItaError` when Telegram rejects the token or cannot be reached."""
    from ita.live.journal import Journal
    from ita.live.telegram import TelegramChannel

    channel = TelegramChannel(settings, Journal()).open()
    bot = ChatBot.from_env(settings, **bot_kw).install(channel.app)
    try:
        try:
            asyncio.run_coroutine_threadsafe(bot.set_commands(channel.app.bot), channel.loop).result(15)
        except Exception as exc:  # noqa: BLE001 - the menu is a courtesy
            log.warning("Telegram command menu not set: %s", exc)
        threading.Thread(target=bot.warm_up, name="ita-chat-warm-up", daemon=True).start()
        channel.start_polling()
        if ready is not None:
            ready(bot)
        stop.wait()
    finally:
        channel.close()
        bot.close()
