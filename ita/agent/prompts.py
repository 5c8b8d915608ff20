"""Prompts are data: the files in ``prompts/`` (repository root, or ``ITA_PROMPTS_DIR``), read here."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(os.environ.get("ITA_PROMPTS_DIR", Path(__file__).resolve().parents[2] / "prompts"))


@lru_cache(maxsize=None)
def prompt(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``"system.md"``). Raises :class:`FileNotFoundError`."""
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def system_prompt(context: dict) -> str:
    """The LLM's system prompt with the conversation context (JSON) filled in."""
    ctx = {k: v for k, v in (context or {}).items() if k not in ("last_args",) and v not in (None, {}, "")}
    return prompt("system.md").replace("{context}", json.dumps(ctx, ensure_ascii=False, default=str) or "{}")
