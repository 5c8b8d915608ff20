"""Replaying the agent evaluation set through the agent: what did it do with each request?

:func:`replay_parser` runs every turn through the deterministic path the chat graph takes without a model
(``ita.agent.parse.parse`` → ``resolve`` with the conversation's context and pending question), without
running the tools: after a turn that calls a tool, the context becomes what that tool reports
(``setup_id``, ``version``, ``symbol``, ``start``, ``end``, ``params``, ``session``, ``detector``, ``timeframe``,
``day``, ``trade``, ``time``, ``run_id`` — taken from the call's arguments; a backtest gets a made-up run id,
:func:`sim_run_id`), as :func:`ita.graphs.chat.run_tool` would. :func:`replay_llm` asks a chat model with the
tools bound instead (the LLM path). Both return one :class:`Outcome` per turn.

The outcome's ``kind`` is ``tool`` (``tool``, ``args``, ``calls``), ``ask`` (``missing``), ``refuse``,
``unsupported`` (it said what it cannot do), ``unknown`` (it said it did not understand), ``greeting``,
``help``, ``theory`` (the library answers: ``kb_search``) or ``text`` (a model's plain answer).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ita.evals.agent.cases import TODAY, Case

CONTEXT_KEYS = ("setup_id", "version", "symbol", "start", "end", "params", "session", "detector", "timeframe",
                "day", "trade", "time", "run_id", "run_a", "run_b")
RUN_MAKERS = ("run_backtest", "compare_versions")
# tools that read a stored run: they report that run's setup and symbol, so an argument left out (None) does not
# clear them from the context
RUN_READERS = ("run_montecarlo", "challenge_odds")


@dataclass
class Outcome:
    """What the agent did with one turn."""

    case_id: str
    turn: int
    kind: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    missing: str | None = None
    refused: bool = False
    message: str = ""
    last_run: str | None = None          # the conversation's last (simulated) run id before this turn


def sim_run_id(n: int) -> str:
    """The made-up id of the conversation's n-th run (the real format: ``bt_YYYYMMDD_HHMMSS_xxxxxx``)."""
    return f"bt_{TODAY.replace('-', '')}_0000{n:02d}_eval{n:02d}"


@contextmanager
def fixed_today(today: str = TODAY):
    """``ITA_TODAY`` set to ``today`` inside the block (relative periods become reproducible)."""
    old = os.environ.get("ITA_TODAY")
    os.environ["ITA_TODAY"] = today
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ITA_TODAY", None)
        else:
            os.environ["ITA_TODAY"] = old


def known_names() -> dict[str, list[str]]:
    """The setups and symbols the parser is told about (as the chat graph does)."""
    from ita.data.instruments import instruments
    from ita.setups import list_setups

    return {"setups": sorted(list_setups()), "symbols": sorted(instruments())}


def next_context(ctx: dict, tool: str, args: dict, runs: int) -> tuple[dict, int]:
    """The conversation context after a successful call of ``tool`` (a simulation of the tool's ``context``)."""
    out = dict(ctx)
    for k in CONTEXT_KEYS:
        if k in args:
            if args[k] is None:
                if tool not in RUN_READERS:
                    out.pop(k, None)
            else:
                out[k] = args[k]
    if tool in RUN_MAKERS:
        runs += 1
        out["run_id"] = sim_run_id(runs)
    out["last_tool"], out["last_args"] = tool, dict(args)
    return out, runs


def replay_parser(cases: Iterable[Case], progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Every turn of ``cases`` through the deterministic parser (no tools run; see the module doc)."""
    from ita.agent.parse import parse, resolve

    known = known_names()
    out: list[Outcome] = []
    with fixed_today():
        for n, case in enumerate(cases, 1):
            ctx: dict = {}
            pending = None
            runs = 0
            for i, turn in enumerate(case.turns):
                parsed = parse(turn.say, known_setups=known["setups"], known_symbols=known["symbols"])
                plan = resolve(parsed, ctx, pending=pending)
                last_run = sim_run_id(runs) if runs else None
                pending = None
                o = Outcome(case.id, i, plan.action, refused=bool(parsed.refused),
                            message=plan.question or plan.message or "", last_run=last_run)
                if plan.action == "tool":
                    o.tool, o.args, o.calls = plan.tool, dict(plan.args), list(plan.calls)
                    ctx, runs = next_context(ctx, plan.tool, plan.args, runs)
                elif plan.action == "ask":
                    o.missing = plan.missing
                    o.tool, o.args = plan.tool, dict(plan.args)
                    pending = plan.model_dump(include={"tool", "args", "missing", "lang"})
                elif plan.action == "theory_question":
                    o.kind, o.tool, o.args = "theory", "kb_search", {"query": turn.say}
                elif plan.action == "unknown":
                    o.kind = "refuse" if parsed.refused else "unsupported" if parsed.unsupported else "unknown"
                out.append(o)
            if progress:
                progress(n)
    return out


def replay_llm(cases: Iterable[Case], model: Any, progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Every turn of ``cases`` through a chat model with ITA's tools bound (the LLM path's first decision).

    The conversation the model sees: the system prompt (with the simulated context), the earlier turns — each
    request, the model's own tool calls with a short ``ok`` tool result (or its text answer) — and the
    request. Tools are not run. A model failure on a turn is an outcome of kind ``error``."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from ita.agent.prompts import system_prompt
    from ita.tools.lc import langchain_tools

    bound = model.bind_tools(langchain_tools())
    out: list[Outcome] = []
    with fixed_today():
        for n, case in enumerate(cases, 1):
            ctx: dict = {}
            history: list = []
            runs = 0
            for i, turn in enumerate(case.turns):
                msgs = [SystemMessage(system_prompt(ctx)), *history, HumanMessage(turn.say)]
                last_run = sim_run_id(runs) if runs else None
                try:
                    reply = bound.invoke(msgs)
                except Exception as exc:  # the eval reports it; it never stops the run
                    out.append(Outcome(case.id, i, "error", message=f"{type(exc).__name__}: {exc}"[:300],
                                       last_run=last_run))
                    history += [HumanMessage(turn.say), AIMessage(content="(no answer)")]
                    continue
                calls = [{"tool": c["name"], "args": dict(c.get("args") or {})} for c in (reply.tool_calls or [])]
                history.append(HumanMessage(turn.say))
                if calls:
                    o = Outcome(case.id, i, "theory" if calls[0]["tool"] == "kb_search" else "tool",
                                tool=calls[0]["tool"], args=calls[0]["args"], calls=calls[1:], last_run=last_run)
                    history.append(AIMessage(content="", tool_calls=[{"name": c["tool"], "args": c["args"],
                                                                      "id": f"c{i}_{j}"} for j, c in enumerate(calls)]))
                    history += [ToolMessage(content=json.dumps({"ok": True}), tool_call_id=f"c{i}_{j}")
                                for j in range(len(calls))]
                    for c in calls:
                        ctx, runs = next_context(ctx, c["tool"], c["args"], runs)
                else:
                    o = Outcome(case.id, i, "text", message=str(reply.content or "")[:500], last_run=last_run)
                    history.append(AIMessage(content=str(reply.content or "")))
                out.append(o)
            if progress:
                progress(n)
    return out
