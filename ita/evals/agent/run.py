"""Running the agent evaluation: load the set, replay it (parser or model), score it."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ita.evals.agent.cases import SPLITS, load_cases
from ita.evals.agent.metrics import is_failure, score
from ita.evals.agent.replay import replay_llm, replay_parser


@dataclass
class AgentEval:
    """``metrics`` {half: {metric: value}} (halves ``dev``, ``heldout``, ``all``), ``rows`` (one per turn, see
    :func:`ita.evals.agent.metrics.judge`), ``failures`` (the rows got wrong), ``mode`` (``parser`` or
    ``llm:<model>``), ``seconds``."""

    mode: str
    metrics: dict[str, dict[str, float]]
    rows: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def run_agent_eval(folder: str | Path | None = None, splits: tuple[str, ...] = SPLITS, llm: bool = False,
                   model: Any = None, model_name: str | None = None, limit: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> AgentEval:
    """Score the agent on the evaluation set in ``folder`` (default ``evals/agent``).

    ``llm=True`` asks a chat model (``model``, default ``ChatOpenAI`` from ``OPENAI_BASE_URL`` /
    ``OPENAI_API_KEY`` / ``ITA_MODEL``) instead of the parser; ``limit`` keeps the first N cases of each half
    (a quick run). A tool is available when it is in ``ita.tools.TOOLS`` (plus ``kb_search``). Raises
    :class:`~ita.errors.ItaError` for a malformed set, and when ``llm`` is asked without a configured model."""
    from ita.tools import TOOLS

    t0 = time.perf_counter()
    cases = load_cases(folder, splits)
    if limit:
        cases = [c for h in splits for c in [c for c in cases if c.split == h][:limit]]
    tick = (lambda n: progress(n, len(cases))) if progress else None
    if llm:
        model, model_name = _model(model, model_name)
        outcomes = replay_llm(cases, model, tick)
        mode = f"llm:{model_name}"
    else:
        outcomes = replay_parser(cases, tick)
        mode = "parser"
    metrics, rows = score(cases, outcomes, frozenset(TOOLS) | {"kb_search"})
    return AgentEval(mode=mode, metrics=metrics, rows=rows, failures=[r for r in rows if is_failure(r)],
                     seconds=time.perf_counter() - t0)


def _model(model: Any, name: str | None) -> tuple[Any, str]:
    if model is not None:
        return model, name or getattr(model, "model_name", None) or type(model).__name__
    from ita.agent.context import AgentConfig
    from ita.errors import ItaError

    cfg = AgentConfig.from_env()
    if not cfg.api_key and not cfg.base_url:
        raise ItaError("ita eval agent --llm needs a model: set OPENAI_API_KEY (and OPENAI_BASE_URL, ITA_MODEL).")
    from langchain_openai import ChatOpenAI

    return (ChatOpenAI(model=cfg.model, api_key=cfg.api_key or "none", base_url=cfg.base_url, timeout=cfg.timeout,
                       max_retries=0, temperature=0), cfg.model)
