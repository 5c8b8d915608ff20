"""What every tool returns: a structured, JSON-able :class:`ToolResult` — never prose invented by a model.

The chat graph shows ``tables`` as Markdown tables, ``artifacts`` as inline images / downloads, and hands
``data`` (plus a compact ``summary``) to an LLM when one is configured. Every number a user sees comes
from here.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Artifact(BaseModel):
    """A file a tool produced: ``image`` (PNG, shown inline) or ``file`` (CSV/HTML, offered as download)."""

    kind: Literal["image", "file"]
    path: str = Field(description="absolute path on this machine")
    name: str = Field(description="display name, e.g. 'equity.png' or 'trades.csv'")
    caption: str = ""


class Table(BaseModel):
    """A small table for display: column names and rows of JSON scalars (already rounded for reading)."""

    columns: list[str]
    rows: list[list[Any]]
    title: str = ""


class ToolResult(BaseModel):
    """The outcome of one tool call.

    ``tool`` the tool name; ``args`` the arguments it was called with (set by the caller); ``ok`` False when the input was bad (``error`` then says what and where, in
    one sentence, and nothing was stored or changed); ``summary`` one or two plain sentences of facts
    (English; used for logs and as the LLM's tool message); ``data`` the structured result (ids, numbers,
    parameters actually used — e.g. ``setup_id``, ``version``, ``setup_hash``, ``run_id``, ``stats``);
    ``tables`` named tables to show; ``artifacts`` files to show or offer; ``context`` the conversation
    context this call establishes (``symbol``, ``setup_id``, ``version``, ``start``, ``end``, ``run_id``,
    …) so follow-ups ("same on XAUUSD", "show trade 12") can fill their gaps.
    """

    tool: str
    args: dict[str, Any] = Field(default_factory=dict, description="the arguments the tool was called with")
    ok: bool = True
    summary: str = ""
    error: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    tables: dict[str, Table] = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def failure(cls, tool: str, error: str, **kw: Any) -> "ToolResult":
        """A failed result whose message (secrets redacted, :func:`ita.secrets.redact`) is the summary."""
        from ita.secrets import redact

        error = redact(error)
        return cls(tool=tool, ok=False, error=error, summary=error, **kw)
