"""The chat agent's prompts. Prompts are data: the files in ``prompts/`` (repository root, or
``ITA_PROMPTS_DIR``), read by :func:`ita.config.prompt`."""
from __future__ import annotations

import json

from ita.config import prompt


def system_prompt(context: dict) -> str:
    """The LLM's system prompt with the conversation context (JSON) filled in."""
    ctx = {k: v for k, v in (context or {}).items() if k not in ("last_args",) and v not in (None, {}, "")}
    return prompt("system.md").replace("{context}", json.dumps(ctx, ensure_ascii=False, default=str) or "{}")
