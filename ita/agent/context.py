"""Configuration of the chat agent (the ``context`` of the LangGraph templates), read from the environment.

=====================  =====================================================================================
variable               meaning
=====================  =====================================================================================
``OPENAI_API_KEY``     enables the LLM path (``ChatOpenAI``); without it the deterministic parser answers
``OPENAI_BASE_URL``    any OpenAI-compatible server (Ollama ``http://localhost:11434/v1``, vLLM, llama.cpp)
``ITA_MODEL``          model name (default ``gpt-4o-mini``)
``ITA_LLM``            ``off`` forces the deterministic path even with a key
``ITA_LLM_TIMEOUT``    seconds per model call (default 30)
``ITA_CHAT_DB``        the conversation checkpoint database (default ``$ITA_HOME/chat.db``)
=====================  =====================================================================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ita.config import settings


@dataclass(frozen=True)
class AgentConfig:
    """How the chat agent runs. ``use_llm`` is true when a key is set and ``ITA_LLM`` is not ``off``."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    use_llm: bool = False
    timeout: float = 30.0
    max_tool_rounds: int = 4
    chat_db: Path = field(default_factory=lambda: settings().home / "chat.db")

    @classmethod
    def from_env(cls, **overrides) -> "AgentConfig":
        key = os.environ.get("OPENAI_API_KEY") or None
        off = os.environ.get("ITA_LLM", "").strip().lower() in ("off", "0", "false", "no")
        cfg = dict(
            api_key=key,
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            model=os.environ.get("ITA_MODEL") or "gpt-4o-mini",
            use_llm=bool(key) and not off,
            timeout=float(os.environ.get("ITA_LLM_TIMEOUT", "30")),
            chat_db=Path(os.environ["ITA_CHAT_DB"]) if os.environ.get("ITA_CHAT_DB") else settings().home / "chat.db",
        )
        cfg.update(overrides)
        return cls(**cfg)
