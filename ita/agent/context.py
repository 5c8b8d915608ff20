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
from dataclasses import dataclass, field, fields
from pathlib import Path

from ita.config import LLMSettings, settings


@dataclass(frozen=True)
class AgentConfig(LLMSettings):
    """How the chat agent runs: the language model settings (:class:`ita.config.LLMSettings`: ``api_key``
    hidden from ``repr``, ``base_url``, ``model``, ``use_llm``, ``timeout`` in seconds) plus the agent's own —
    ``max_tool_rounds`` (tool-calling rounds the model may take per turn) and ``chat_db`` (the checkpointer's
    SQLite file)."""

    max_tool_rounds: int = 4
    chat_db: Path = field(default_factory=lambda: settings().home / "chat.db")

    @classmethod
    def from_env(cls, **overrides) -> "AgentConfig":
        """The LLM settings from the environment, ``ITA_CHAT_DB``, then ``overrides``."""
        cfg = {f.name: getattr(LLMSettings.from_env(), f.name) for f in fields(LLMSettings)}
        cfg["chat_db"] = Path(os.environ["ITA_CHAT_DB"]) if os.environ.get("ITA_CHAT_DB") else settings().home / "chat.db"
        cfg.update(overrides)
        return cls(**cfg)
