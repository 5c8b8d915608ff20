"""The chat graph's state: what one conversation (a LangGraph thread) remembers between turns.

The SQLite checkpointer stores this state per ``thread_id`` after every node, so a restarted app keeps
its conversations and follow-ups ("same on XAUUSD", "show trade 12") work across restarts.
"""
from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class ChatState(TypedDict, total=False):
    """State of one conversation.

    Fields
    ------
    messages : the conversation — the trader's messages, the assistant's answers and (LLM path) the
        model's tool calls and tool messages; appended by :func:`add_messages`.
    context : what the conversation is about, filled by tool calls and used to complete follow-ups:
        ``setup_id``, ``version``, ``symbol``, ``start``, ``end``, ``params`` (overrides), ``session``,
        ``run_id`` (the last backtest), ``last_tool`` and ``last_args`` (the last request, for "same on …").
    lang : ``"en"`` or ``"ru"`` — the language of the trader's last message; answers use it.
    plan : the deterministic understanding of this turn (:class:`ita.agent.parse.Resolution` as a dict):
        ``action`` (tool | ask | help | unknown | greeting | theory_question), ``tool``, ``args``,
        ``question``, ``message``.
    results : this turn's tool results (:class:`ita.tools.results.ToolResult` as dicts), in call order.
    answer : this turn's answer, Markdown.
    used_llm : whether a language model produced this turn's tool choice and text.
    note : a short note shown with the answer when the model failed and the deterministic path answered.
    llm_rounds : tool-calling rounds the model used this turn (bounded by the configuration).
    pending : the agent's own open question (set by an ``ask`` turn, cleared by the next turn): ``tool``,
        ``args`` (what is known), ``missing`` (the argument asked for) and ``lang``; a reply that answers it
        completes that request in the conversation's language (:func:`ita.agent.parse.resolve`).
    defaults : the interface's settings for this turn, weaker than the request and the context:
        ``symbol`` (used when neither names one) and ``params`` (overrides merged under the request's own,
        e.g. ``{"risk_pct": 0.5}`` from the Chainlit settings).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    context: dict[str, Any]
    lang: str
    plan: dict[str, Any]
    results: list[dict[str, Any]]
    answer: str
    used_llm: bool
    note: str | None
    llm_rounds: int
    pending: dict[str, Any] | None
    defaults: dict[str, Any]
