"""Secrets never leave the process: configured tokens are redacted from errors, tool results and logs, and API
base URLs are checked and normalised (with or without /bot) so a URL mistake cannot splice a token into text."""
from __future__ import annotations

import logging

import pytest

from ita.errors import ItaError
from ita.secrets import MASK, install_log_redaction, redact

TOKEN = "8765123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-SECRET"


@pytest.fixture
def telegram_env(monkeypatch):
    monkeypatch.setenv("ITA_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("ITA_TELEGRAM_CHAT_IDS", "42")


@pytest.mark.parametrize("url, want", [
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765/bot"),          # written without /bot: the reported case
    ("http://127.0.0.1:8765/bot", "http://127.0.0.1:8765/bot"),
    ("http://127.0.0.1:8765/bot/", "http://127.0.0.1:8765/bot"),
    ("https://api.telegram.org/bot", "https://api.telegram.org/bot"),
])
def test_telegram_api_url_with_or_without_bot(telegram_env, monkeypatch, url, want):
    from ita.live.config import TelegramSettings

    monkeypatch.setenv("ITA_TELEGRAM_API_URL", url)
    s = TelegramSettings.from_env()
    assert s.base_url == want
    assert TOKEN not in repr(s)


@pytest.mark.parametrize("url", ["127.0.0.1:8765", "ftp://host/bot", "http://:80/bot", "http://host:99999/bot",
                                 "http://host/bot?x=1"])
def test_a_bad_api_url_is_named_without_the_token(telegram_env, monkeypatch, url):
    from ita.live.config import TelegramSettings

    monkeypatch.setenv("ITA_TELEGRAM_API_URL", url)
    with pytest.raises(ItaError, match="ITA_TELEGRAM_API_URL must be an http") as exc:
        TelegramSettings.from_env()
    assert TOKEN not in str(exc.value)


def test_the_real_client_error_that_leaked_the_token_is_redacted(telegram_env):
    """What httpx says for a base URL without /bot (the token lands in the port), through the one redactor."""
    import httpx

    with pytest.raises(httpx.InvalidURL) as exc:
        httpx.URL("http://127.0.0.1:8765" + TOKEN + "/getMe")
    assert TOKEN.split(":")[1] in str(exc.value)           # the client's own text carries the secret …
    assert TOKEN.split(":")[1] not in redact(str(exc.value)) and MASK in redact(str(exc.value))


def test_tool_failures_and_logs_are_redacted(telegram_env, caplog):
    from ita.tools import ToolResult

    r = ToolResult.failure("x", f"boom {TOKEN}")
    assert TOKEN not in r.error and TOKEN not in r.summary and MASK in r.error
    install_log_redaction()
    with caplog.at_level(logging.ERROR, logger="ita.test"):
        logging.getLogger("ita.test").error("sending with %s failed", TOKEN)
        try:
            raise RuntimeError(f"token {TOKEN}")
        except RuntimeError:
            logging.getLogger("ita.test").exception("again")
    text = caplog.text
    assert TOKEN not in text and MASK in text


def test_key_shaped_text_is_redacted_even_when_not_configured():
    assert redact("key sk-abcdefghijklmnopqrstuvwx used") == f"key {MASK} used"
    assert redact("plain words, 12:30 and 1.08578") == "plain words, 12:30 and 1.08578"


def test_llm_and_notion_settings_never_show_their_keys():
    from ita.config import LLMSettings
    from ita.live.config import NotionSettings

    assert "sk-live-123456" not in repr(LLMSettings(api_key="sk-live-123456"))
    assert "secret_abc" not in repr(NotionSettings(token="secret_abcdefgh", database="db"))
