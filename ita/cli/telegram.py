"""``ita telegram …``: the Telegram bot — chat with the agent, commands, documents into the theory library."""
from __future__ import annotations

import logging

import typer

from ita.cli.common import console, err_console, fail
from ita.errors import ItaError

telegram_app = typer.Typer(help="Talk to ITA in Telegram: the web chat's agent, freqtrade-style commands, documents "
                                "into the theory library. Never places orders.", no_args_is_help=True)


@telegram_app.command("start")
def telegram_start(
    verbose: bool = typer.Option(False, "--verbose", "-V", help="Log every turn."),
):
    """Run the Telegram bot: chat with the agent in the configured chats. Ctrl-C stops.

    \b
    Every message is answered like in the web chat ("typing…" at once): statistics as monospaced tables, charts
    as photos, trades.csv and report.html as documents, the setup version + hash and run id, follow-ups as
    buttons ("same on XAUUSD", "show trade 2"). One conversation per chat, kept across restarts. Send a PDF,
    Markdown or text file (≤ 20 MB) to add it to the theory library. Long jobs edit one progress message.
    Commands: /backtest /signals /daily /weekly /monthly /performance /stats /setups /status /help.
    Only the chats in ITA_TELEGRAM_CHAT_IDS are served; others get one refusal. The alerts' buttons (Taken,
    Skipped, 👍, 👎) are recorded too. With `ita live start` running, use `ita live start --chat` instead (one
    bot, one poller).
    \b
    Environment: ITA_TELEGRAM_TOKEN, ITA_TELEGRAM_CHAT_IDS (required); ITA_TELEGRAM_API_URL (a local Bot API
    server), ITA_TELEGRAM_INTERVAL (seconds between messages per chat, default 1), ITA_METRICS_URL (for
    /status), OPENAI_API_KEY (optional language model, as in `ita chat`).
    \b
    Example:
      ITA_TELEGRAM_TOKEN=123456:ABC… ITA_TELEGRAM_CHAT_IDS=42 ita telegram start
    """
    import signal
    import threading

    from rich.logging import RichHandler

    from ita.live.config import TelegramSettings
    from ita.telegram import serve

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err_console, show_path=False, markup=False)], force=True)
    for noisy in ("httpx", "kaleido", "choreographer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = TelegramSettings.from_env()
        if settings is None:
            raise ItaError("Telegram is not configured: set ITA_TELEGRAM_TOKEN (from @BotFather) and "
                           "ITA_TELEGRAM_CHAT_IDS (the chats to serve).")
    except ItaError as exc:
        fail(exc)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def ready(bot):
        console.print(f"ITA Telegram bot running · chats {', '.join(map(str, sorted(bot.allowed)))} · Ctrl-C stops",
                      highlight=False)

    try:
        serve(settings, stop, ready=ready)
    except ItaError as exc:
        fail(exc)
    except KeyboardInterrupt:
        pass
    console.print("Stopped.")
