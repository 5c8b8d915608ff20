"""Configuration of live signals (the ``context`` of the live graph), from the command line and the environment.

Secrets and endpoints come from the environment; what to watch and how to decide comes from the command
line (``ita live start --help``).

============================  ===================================================================================
variable                      meaning
============================  ===================================================================================
``ITA_TELEGRAM_TOKEN``        the bot's token (from @BotFather); with ``ITA_TELEGRAM_CHAT_IDS`` enables Telegram
``ITA_TELEGRAM_CHAT_IDS``     comma-separated chat ids that receive signals; only these chats are served
``ITA_TELEGRAM_API_URL``      Bot API base URL (default ``https://api.telegram.org/bot``; a local Bot API server)
``ITA_NOTION_TOKEN``          an internal integration's secret; with ``ITA_NOTION_DATABASE`` enables Notion
``ITA_NOTION_DATABASE``       the journal database id (its first data source is used) or a data source id
``ITA_NOTION_API_URL``        Notion API base URL (default ``https://api.notion.com``)
``ITA_NOTION_TIMEOUT``        seconds per Notion request (default 20)
``ITA_OUTBOX_DIR``            the outbox folder (default ``$ITA_HOME/outbox``): PNG + JSON per signal, always
``ITA_VISION_MODEL``          the vision model for chart comments (default ``ITA_MODEL``); needs
                              ``OPENAI_API_KEY`` (and ``OPENAI_BASE_URL`` for a compatible server)
============================  ===================================================================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ita.config import settings
from ita.errors import ItaError
from ita.secrets import redact, register

DEFAULT_CHARTS = ("H1", "M15", "M5")


@dataclass(frozen=True)
class TelegramSettings:
    """Where Telegram alerts go: ``token``, ``chat_ids`` (only these are sent to and served), ``base_url``."""

    token: str = field(repr=False)                 # a secret: never in a repr or a log
    chat_ids: tuple[int, ...]
    base_url: str = "https://api.telegram.org/bot"

    @property
    def file_url(self) -> str:
        return self.base_url.rstrip("/").removesuffix("/bot") + "/file/bot"

    @classmethod
    def from_env(cls) -> "TelegramSettings | None":
        """Telegram settings from the environment, None when no token is set. Raises :class:`ItaError` for a
        token without chat ids or a chat id that is not a number."""
        token = (os.environ.get("ITA_TELEGRAM_TOKEN") or "").strip()
        if not token:
            return None
        raw = [c.strip() for c in (os.environ.get("ITA_TELEGRAM_CHAT_IDS") or "").replace(";", ",").split(",") if c.strip()]
        if not raw:
            raise ItaError("ITA_TELEGRAM_TOKEN is set but ITA_TELEGRAM_CHAT_IDS is empty: give the chat ids that "
                           "receive signals, e.g. ITA_TELEGRAM_CHAT_IDS=123456789. Your id: send /start to the bot, then "
                           "open https://api.telegram.org/bot<your token>/getUpdates and read message.chat.id (or ask "
                           "@userinfobot).")
        try:
            ids = tuple(int(c) for c in raw)
        except ValueError:
            raise ItaError(f"ITA_TELEGRAM_CHAT_IDS must be numbers separated by commas, got {os.environ['ITA_TELEGRAM_CHAT_IDS']!r}.") from None
        register(token)
        url = api_url("ITA_TELEGRAM_API_URL", os.environ.get("ITA_TELEGRAM_API_URL") or cls.base_url)
        return cls(token, ids, url if url.endswith("/bot") else url + "/bot")


def api_url(var: str, value: str) -> str:
    """An API base URL from ``var`` checked and normalised: ``http(s)://host[:port][/path]`` without a trailing
    ``/``. Raises :class:`ItaError` naming the variable (never a token) for anything else."""
    from urllib.parse import urlsplit

    v = str(value).strip().rstrip("/")
    try:
        u = urlsplit(v)
        port_ok = u.port is None or 0 < u.port < 65536
    except ValueError:
        port_ok, u = False, None
    if u is None or u.scheme not in ("http", "https") or not u.hostname or not port_ok or u.query or u.fragment:
        raise ItaError(f"{var} must be an http(s) base URL such as https://api.telegram.org/bot or "
                       f"http://127.0.0.1:8081/bot (a local Bot API server), got {redact(v)!r}.")
    return v


@dataclass(frozen=True)
class NotionSettings:
    """The Notion journal: ``token``, ``database`` (database or data source id), ``base_url``."""

    token: str = field(repr=False)                 # a secret: never in a repr or a log
    database: str
    base_url: str = "https://api.notion.com"
    timeout_s: float = 20.0

    @classmethod
    def from_env(cls) -> "NotionSettings | None":
        token = (os.environ.get("ITA_NOTION_TOKEN") or "").strip()
        if not token:
            return None
        db = (os.environ.get("ITA_NOTION_DATABASE") or "").strip()
        if not db:
            raise ItaError("ITA_NOTION_TOKEN is set but ITA_NOTION_DATABASE is empty: give the id of the journal "
                           "database (the 32 hex characters in its URL) and share the database with the integration.")
        try:
            timeout = float(os.environ.get("ITA_NOTION_TIMEOUT") or cls.timeout_s)
        except ValueError:
            raise ItaError(f"ITA_NOTION_TIMEOUT must be seconds, got {os.environ['ITA_NOTION_TIMEOUT']!r}.") from None
        register(token)
        return cls(token, db, api_url("ITA_NOTION_API_URL", os.environ.get("ITA_NOTION_API_URL") or cls.base_url),
                   timeout)


@dataclass(frozen=True)
class LiveConfig:
    """What the live graph watches and how it decides.

    ``setups``: setup ids, optionally with a version (``fvg_reversal@1``; default the latest).
    ``symbols``: instruments. ``min_score``: alert threshold on p(success) (0 = every signal of an active
    setup is sent, scored). ``cooldown_setup``: no second alert of the same setup on the same symbol within
    this time of the last one; ``cooldown_symbol``: none of any setup on a symbol within this time (0 = off).
    ``charts``: timeframes of the snapshot PNG (execution timeframe last), empty = no chart.
    ``delay_s``: seconds after a candle close before the graph runs; ``wait_s``: how long a run waits for a
    bar the feed has not delivered yet. ``vision_min_score``: the score from which a vision model (when
    configured) writes the comment. ``notify``: channels (``outbox``, ``telegram``, ``notion``).
    ``paper``: the setups (``id@N``, also in ``setups``) in paper status — evaluated and journaled with decision
    ``paper``, never alerted. ``governor``: portfolio limits (:class:`ita.backtest.governor.GovernorRules`)
    applied before an alert — a signal over a limit is journaled with decision ``governor``, not alerted.
    """

    setups: tuple[str, ...]
    symbols: tuple[str, ...]
    min_score: float = 0.0
    cooldown_setup: pd.Timedelta = pd.Timedelta(minutes=60)
    cooldown_symbol: pd.Timedelta = pd.Timedelta(0)
    charts: tuple[str, ...] = DEFAULT_CHARTS
    delay_s: float = 2.0
    wait_s: float = 20.0
    vision_min_score: float = 0.0
    notify: tuple[str, ...] = ("outbox",)
    telegram: TelegramSettings | None = None
    notion: NotionSettings | None = None
    outbox_dir: Path = field(default_factory=lambda: Path(os.environ["ITA_OUTBOX_DIR"]).expanduser()
                             if os.environ.get("ITA_OUTBOX_DIR") else settings().home / "outbox")
    send_deadline_s: float = 25.0
    paper: tuple[str, ...] = ()
    governor: object | None = None

    @classmethod
    def build(cls, setups, symbols, notify=None, **kw) -> "LiveConfig":
        """A config with Telegram/Notion from the environment. ``notify`` None = the outbox plus every
        configured service. Raises :class:`ItaError` for a channel asked for but not configured."""
        tg, no = TelegramSettings.from_env(), NotionSettings.from_env()
        if notify is None:
            notify = ("outbox",) + (("telegram",) if tg else ()) + (("notion",) if no else ())
        notify = tuple(dict.fromkeys(n.strip().lower() for n in notify if n.strip()))
        unknown = [n for n in notify if n not in ("outbox", "telegram", "notion")]
        if unknown:
            raise ItaError(f"Unknown notification channel(s) {', '.join(unknown)}: use outbox, telegram, notion.")
        if "telegram" in notify and tg is None:
            raise ItaError("Telegram is not configured: set ITA_TELEGRAM_TOKEN and ITA_TELEGRAM_CHAT_IDS.")
        if "notion" in notify and no is None:
            raise ItaError("Notion is not configured: set ITA_NOTION_TOKEN and ITA_NOTION_DATABASE.")
        return cls(setups=tuple(setups), symbols=tuple(symbols), notify=notify,
                   telegram=tg if "telegram" in notify else None, notion=no if "notion" in notify else None, **kw)
