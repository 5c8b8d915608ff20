"""Secrets never leave the process: one redaction layer for every configured secret value.

The secrets are the values of :data:`SECRET_ENV` (OpenAI, Telegram, Notion) and anything registered with
:func:`register`; anything that looks like a Telegram bot token (``123456:ABC…``) or an OpenAI-style key
(``sk-…``) is treated as one too. :func:`redact` replaces each in a text with :data:`MASK`. It is applied to
error messages (the CLI's one-message exit), tool results, chat answers, the live journal's errors and — once
:func:`install_log_redaction` ran — every log record.

Example::

    >>> from ita.secrets import redact
    >>> redact("Invalid port: '8765123456:AAE-secret-token-abcdefghijklmnopqrstu'")
    "Invalid port: '«redacted»'"
"""
from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

SECRET_ENV = ("OPENAI_API_KEY", "ITA_TELEGRAM_TOKEN", "ITA_NOTION_TOKEN")
MASK = "«redacted»"
MIN_SECRET_CHARS = 6           # shorter values would mask ordinary words
_LOOKS_SECRET = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}\b"       # Telegram bot token
                           r"|\bsk-[A-Za-z0-9_-]{16,}\b"          # OpenAI-style API key
                           r"|\b(?:secret|ntn)_[A-Za-z0-9]{20,}\b")  # Notion integration secret
_registered: set[str] = set()
_lock = threading.Lock()

__all__ = ["MASK", "SECRET_ENV", "install_log_redaction", "redact", "register", "secret_values"]


def register(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (e.g. a token given on the command line)."""
    if value and len(value.strip()) >= MIN_SECRET_CHARS:
        with _lock:
            _registered.add(value.strip())


def secret_values() -> list[str]:
    """The configured secret values (environment and registered), longest first."""
    vals = {v.strip() for v in (os.environ.get(k) or "" for k in SECRET_ENV) if len(v.strip()) >= MIN_SECRET_CHARS}
    with _lock:
        vals |= _registered
    return sorted(vals, key=len, reverse=True)


def redact(text: Any) -> Any:
    """``text`` with every secret value (and anything shaped like a token or key) replaced by :data:`MASK`.
    Non-strings are returned unchanged."""
    if not isinstance(text, str) or not text:
        return text
    for v in secret_values():
        if v in text:
            text = text.replace(v, MASK)
    return _LOOKS_SECRET.sub(MASK, text)


class _RedactingFactory:
    """A log record factory whose records carry their message (and traceback text) already redacted."""

    def __init__(self, base):
        self.base = base

    def __call__(self, *args, **kwargs):
        record = self.base(*args, **kwargs)
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return record
        record.msg, record.args = redact(msg), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))
