"""Configuration of the chat agent (the ``context`` of the LangGraph templates), read from the environment:
the language model settings of :class:`ita.config.LLMSettings` (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``ITA_MODEL``, ``ITA_LLM``, ``ITA_LLM_TIMEOUT``) plus the agent's own:

=====================  =====================================================================================
variable               meaning
=====================  =====================================================================================
``ITA_CHAT_DB``        the conversation checkpoint database (default ``$ITA_HOME/chat.db``)
=====================  =====================================================================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ita.config import DEFAULT_MODEL, LLMSettings, settings


@dataclass(frozen=True)
class AgentConfig:
    """How the chat agent runs. ``use_llm`` is true when a key is set and ``ITA_LLM`` is not ``off``."""

    api_key: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    use_llm: bool = False
    timeout: float = 30.0
    max_tool_rounds: int = 4
    chat_db: Path = field(default_factory=lambda: settings().home / "chat.db")

    @classmethod
    def from_env(cls, **overrides) -> "AgentConfig":
        llm = LLMSettings.from_env()
        cfg = dict(
            api_key=llm.api_key, base_url=llm.base_url, model=llm.model, use_llm=llm.use_llm, timeout=llm.timeout,
            chat_db=Path(os.environ["ITA_CHAT_DB"]) if os.environ.get("ITA_CHAT_DB") else settings().home / "chat.db",
        )
        cfg.update(overrides)
        return cls(**cfg)
