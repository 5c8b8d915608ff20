"""One conversation with the agent, as the interfaces use it (Chainlit, ``ita chat``, Telegram later).

Example::

    >>> from ita.agent import ChatSession
    >>> chat = ChatSession("demo")                                    # doctest: +SKIP
    >>> turn = chat.ask("backtest asia_fvg_break on EURUSD for 2025") # doctest: +SKIP
    >>> print(turn.answer); [a.path for a in turn.artifacts]          # doctest: +SKIP
    >>> chat.ask("same on XAUUSD")                                    # doctest: +SKIP
    >>> turn = chat.ask("with rr 3", early=lambda t: print(t.answer))  # doctest: +SKIP
    ... # the statistics print the moment they exist; ``turn`` then has the charts (``turn.artifacts``)
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from langchain_core.messages import AIMessage, HumanMessage

from ita.agent.context import AgentConfig
from ita.secrets import redact
from ita.tools.results import Artifact, ToolResult


@dataclass
class Turn:
    """The outcome of one message: ``answer`` (Markdown), ``artifacts`` (images/files to show),
    ``results`` (the tool results, in call order), ``used_llm``, ``note`` (why the model was not used),
    ``context`` (the conversation context after the turn) and ``seconds`` (wall time)."""

    answer: str
    artifacts: list[Artifact] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    used_llm: bool = False
    note: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class ChatSession:
    """A conversation (LangGraph thread ``thread_id``) persisted in the chat database.

    ``config`` defaults to the environment (:meth:`AgentConfig.from_env`); ``graph`` the compiled chat graph,
    built by the entry point with :func:`ita.graphs.chat.chat_graph` (by default it is built here for
    ``config``); ``model`` a LangChain chat model to use instead of ``ChatOpenAI`` (tests pass fake models).
    Reopening the same ``thread_id`` — also after a restart — continues the conversation with its context.
    """

    def __init__(self, thread_id: str | None = None, config: AgentConfig | None = None, model: Any = None,
                 graph: Any = None):
        self.thread_id = thread_id or uuid.uuid4().hex[:12]
        self.config = config or AgentConfig.from_env()
        if graph is None:
            from ita.graphs.chat import chat_graph

            graph = chat_graph(self.config, model)
        self.graph = graph
        self._cfg = {"configurable": {"thread_id": self.thread_id}, "recursion_limit": 40}

    def ask(self, text: str, defaults: dict[str, Any] | None = None,
            early: Callable[[Turn], None] | None = None) -> Turn:
        """Answer one message. Never raises for bad input: the answer says what is wrong.

        ``defaults`` — the interface's settings, weaker than what the request and the conversation say:
        ``{"symbol": "XAUUSD", "params": {"risk_pct": 0.5}}``.
        ``early`` — called (from the graph's worker thread) with an early :class:`Turn` the moment a tool's
        numbers exist, before its charts are written: a backtest's statistics, with a "rendering N charts…" line
        where the complete answer lists the files, and no artifacts yet. A face shows it at once, then the
        returned (complete) Turn's charts and files. Not called when no tool has anything to show early.
        """
        from ita.graphs.chat import early_answers_to

        t0 = time.perf_counter()
        text = (text or "").strip()[:4000]

        def forward(answer: str, results: list) -> None:
            rs = [ToolResult.model_validate(r) for r in results]
            early(Turn(answer=redact(answer), results=rs, seconds=time.perf_counter() - t0))

        with early_answers_to(forward if early is not None else None):
            out = self.graph.invoke({"messages": [HumanMessage(text)], "defaults": dict(defaults or {})}, self._cfg)
        results = [ToolResult.model_validate(r) for r in out.get("results") or []]
        arts = [a for r in results for a in r.artifacts]
        return Turn(answer=redact(out.get("answer", "")), artifacts=arts, results=results,
                    used_llm=bool(out.get("used_llm")), note=out.get("note"), context=dict(out.get("context") or {}),
                    seconds=time.perf_counter() - t0)

    @property
    def context(self) -> dict:
        snap = self.graph.get_state(self._cfg)
        return dict((snap.values or {}).get("context") or {})

    def history(self) -> list[tuple[str, str]]:
        """``(role, text)`` of the conversation so far: the trader's messages and the answers."""
        snap = self.graph.get_state(self._cfg)
        out = []
        for m in (snap.values or {}).get("messages") or []:
            if isinstance(m, HumanMessage):
                out.append(("user", str(m.content)))
            elif isinstance(m, AIMessage) and m.additional_kwargs.get("ita_answer"):
                out.append(("assistant", str(m.content)))
        return out
