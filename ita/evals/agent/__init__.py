"""The agent evaluation (``ita eval agent``): how well does the chat agent understand a trader?

``evals/agent/`` holds ≥ 400 labelled requests (about 40 % Russian; single requests and conversations) with
the expected tool and arguments, clarifying question, refusal or honest "cannot do that yet", split into a
development half and a held-out half (:mod:`.cases`). :func:`run_agent_eval` replays them through the
deterministic parser — or through a language model with ``llm=True`` — (:mod:`.replay`) and scores the
outcomes (:mod:`.metrics`): tool accuracy, exact-argument accuracy, ragas ``ToolCallAccuracy`` /
``ToolCallF1``, clarification precision/recall, refusals, honest non-understanding.

Example::

    >>> from ita.evals.agent import run_agent_eval
    >>> res = run_agent_eval()                                       # doctest: +SKIP
    >>> res.metrics["heldout"]["tool_accuracy"]                      # doctest: +SKIP
"""
from ita.evals.agent.cases import SPLITS, TODAY, Case, Turn, heldout_texts, load_cases, split_of
from ita.evals.agent.metrics import METRICS, is_failure, score
from ita.evals.agent.run import AgentEval, run_agent_eval

__all__ = ["SPLITS", "TODAY", "Case", "Turn", "load_cases", "heldout_texts", "split_of", "METRICS", "score",
           "is_failure", "AgentEval", "run_agent_eval"]
